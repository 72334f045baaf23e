/* The GPT edits the deploy program makes after an image is written, pure
 * over bytes: an image's partition table is made for the image's size, and
 * the disk is larger. gpt_plan reads the image's primary table (protective
 * MBR, header, entries: the first GPT_HEAD_MAX bytes of the disk) and
 * makes the table for the whole disk:
 *   - the backup header and entries move to the disk's end, the last
 *     usable LBA with them, and the protective MBR covers the disk;
 *   - with a seed, a CIDATA partition (basic data, GPT_SEED_BYTES, aligned
 *     to 1 MiB) is added at the end of the usable space;
 *   - with grow, the partition that ends last grows up to the seed
 *     partition or the end of the usable space (1 MiB aligned).
 * Checksums are checked on the way in and made on the way out; a table
 * that is not a valid GPT of 512-byte sectors is refused with why. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GPT_LBA 512u
#define GPT_ENTRIES_MAX 128u /* entries a table may hold */
#define GPT_ENTRY_SIZE 128u
#define GPT_ENTRIES_BYTES (GPT_ENTRIES_MAX * GPT_ENTRY_SIZE)
#define GPT_HEAD_MAX (2 * GPT_LBA + GPT_ENTRIES_BYTES) /* MBR + header + entries */
#define GPT_SEED_BYTES (4u << 20)                      /* the CIDATA partition */
#define GPT_ALIGN_LBA 2048u                            /* 1 MiB */

struct gpt_plan {
	/* In: */
	uint64_t disk_bytes;
	bool seed, grow;
	uint8_t seed_guid[16]; /* the CIDATA partition's unique GUID (random) */
	/* Out: write head at offset 0 and tail at tail_off; zero the old
	 * backup header's sector at old_backup_off (0: none to clear). */
	uint8_t head[GPT_HEAD_MAX];
	size_t head_len;
	uint8_t tail[GPT_ENTRIES_BYTES + GPT_LBA];
	size_t tail_len;
	uint64_t tail_off, old_backup_off;
	int grown;            /* the partition grown (1-based), or 0 */
	uint64_t grown_bytes; /* its size after */
	int seed_part;        /* the CIDATA partition (1-based), or 0 */
	uint64_t seed_off;    /* where its filesystem goes */
};

/* `in` holds the disk's first n bytes (at least GPT_HEAD_MAX, or the whole
 * image when it is smaller). Returns 0, or -EINVAL (no valid GPT), -ENOSPC
 * (no room for the seed, or nothing left to grow into), -EMFILE (no free
 * entry for the seed), with why. */
int gpt_plan(const uint8_t *in, size_t n, struct gpt_plan *p, char *why, size_t wlen);
