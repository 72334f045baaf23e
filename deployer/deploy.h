/* The deploy program's one job, in order: choose the disk, stream the
 * image onto it (digest checked; one fresh retry after a mismatch), wipe
 * old signatures past the image, make the partition table the disk's
 * (backup at its end, the last partition grown when asked, the CIDATA
 * seed partition with the machine's NoCloud files), grow an ext2/3/4
 * filesystem in the grown partition, and flush. Callbacks and the reboot
 * are main.c's. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "args.h"
#include "disk_choice.h"

#define DEPLOY_WIPE_BYTES (1u << 20) /* zeroed after the image and at the disk's end */

struct deploy {
	struct deploy_args a;
	const char *sysroot; /* "/sys" */
	const char *devdir;  /* "/dev" */
	/* Out: */
	char disk[DISK_NAME_MAX];
	uint64_t disk_bytes, raw_total, raw;
	char why[512];
};

/* Returns 0, or a negative errno with why: -ENODEV, -ENOSPC, -ENOENT and
 * -EEXIST (the disk choice), -EBADMSG (digest or image), -EIO (the agent
 * unreachable, a write failed), -EINVAL (the image's table), -ECHILD (the
 * filesystem grow failed). */
int deploy_run(struct deploy *d);
