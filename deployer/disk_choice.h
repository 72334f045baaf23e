/* Which disk the deploy program writes: pure, from the disks the kernel
 * lists (in its order) and the profile's root_device hints.
 *   - a candidate is not removable, not read-only, at least `need` bytes,
 *     and matches every hint given (by_path, serial, a size range);
 *   - pick: the first candidate (none given), or the largest or smallest,
 *     where a tie between several candidates of that size is refused with
 *     their names rather than guessed.
 * A refusal says why in words an operator acts on: no disk at all, none big
 * enough (naming the largest), none matching the hints (listing the disks),
 * or the tie. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_NAME_MAX 32u
#define DISK_ID_MAX 128u

struct disk {
	char name[DISK_NAME_MAX];  /* "sda", "vda", "nvme0n1" */
	char by_path[DISK_ID_MAX]; /* its /dev/disk/by-path name, or "" */
	char serial[DISK_ID_MAX];  /* or "" */
	uint64_t size;             /* bytes */
	bool removable, readonly;
};

enum disk_pick { DISK_PICK_FIRST, DISK_PICK_LARGEST, DISK_PICK_SMALLEST };

struct disk_hints {
	char by_path[DISK_ID_MAX];   /* "": any */
	char serial[DISK_ID_MAX];    /* "": any */
	uint64_t min_size, max_size; /* 0: no bound */
	enum disk_pick pick;
};

/* The hints as the deploy ramdisk's command line carries them
 * ({{root_device}}: "pick=largest,size=100G-,serial=S1", "" for none).
 * Returns 0, or -EINVAL with why. */
int disk_hints_parse(const char *text, struct disk_hints *ret, char *why, size_t wlen);

/* The index of the disk to write, or -ENODEV (no disk), -ENOSPC (none big
 * enough), -ENOENT (none matches the hints), -EEXIST (a tie), with why. */
int disk_choose(const struct disk *d, size_t n, const struct disk_hints *h, uint64_t need,
                char *why, size_t wlen);
