/* The NoCloud seed as cloud-init finds it on a disk: a FAT12 filesystem
 * labelled CIDATA holding user-data, meta-data and network-config in its
 * root directory (VFAT long names: the names are not 8.3). Pure: the whole
 * filesystem is made in memory, FAT_BYTES long, for the deploy program to
 * write into the seed partition. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define FAT_BYTES (4u << 20) /* the filesystem: 8192 sectors */
#define FAT_FILES_MAX 4u
#define FAT_FILE_MAX (1u << 20) /* each file */

struct fat_file {
	const char *name; /* up to 26 characters of ASCII */
	const void *data;
	size_t len;
};

/* Make the filesystem in out (FAT_BYTES). serial is its volume id.
 * Returns 0, or -EINVAL (a name too long or not printable ASCII, too many
 * files), -EFBIG (a file larger than FAT_FILE_MAX, or all of them more
 * than the filesystem holds). */
int fat_make(uint8_t *out, const struct fat_file *f, size_t n, uint32_t serial);
