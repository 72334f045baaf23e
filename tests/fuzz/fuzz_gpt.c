/* The partition table of a disk image as the deploy program edits it: any
 * bytes are refused with a reason or give a plan whose writes stay on the
 * disk, whose grown partition fits it and whose seed partition lies
 * below the backup table; never a crash or an overread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gpt_plan p;
	char why[256];
	uint8_t flags = size ? data[0] : 0;

	if (size)
		data++, size--;
	memset(&p, 0, sizeof(p));
	p.disk_bytes = (uint64_t)(1 + (flags >> 2)) << 24; /* 16 MiB .. 1 GiB */
	p.seed = flags & 1;
	p.grow = flags & 2;
	why[0] = '\0';
	if (gpt_plan(data, size, &p, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
		return 0;
	}
	if (p.tail_off + p.tail_len != p.disk_bytes || p.head_len > p.tail_off ||
	    (p.seed_part && p.seed_off + GPT_SEED_BYTES > p.tail_off) ||
	    (p.grown && p.grown_bytes > p.disk_bytes) || p.old_backup_off >= p.disk_bytes)
		abort();
	return 0;
}
