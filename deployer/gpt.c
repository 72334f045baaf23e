#include "gpt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "bm/wr.h"

/* Header fields (UEFI 2.10, 5.3.2) and entry fields (5.3.3). */
enum {
	H_CRC = 16,
	H_MY = 24,
	H_ALT = 32,
	H_FIRST = 40,
	H_LAST = 48,
	H_ENTRIES = 72,
	H_COUNT = 80,
	H_ESIZE = 84,
	H_ECRC = 88,
	H_SIZE = 92,
	E_TYPE = 0,
	E_GUID = 16,
	E_FIRST = 32,
	E_LAST = 40,
	E_NAME = 56,
};
#define MBR_PART 446u

/* Microsoft basic data: a FAT filesystem's partition type (mixed-endian
 * as GPT stores GUIDs). */
static const uint8_t basic_data[16] = { 0xa2, 0xa0, 0xd0, 0xeb, 0xe5, 0xb9, 0x33, 0x44,
	                                0x87, 0xc0, 0x68, 0xb6, 0xb7, 0x26, 0x99, 0xc7 };

static uint32_t
crc(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static void
seal_header(uint8_t *h)
{
	bm_put_le(h + H_CRC, 0, 4);
	bm_put_le(h + H_CRC, crc(h, H_SIZE), 4);
}

static bool
entry_used(const uint8_t *e)
{
	static const uint8_t zero[16];
	return memcmp(e + E_TYPE, zero, 16) != 0;
}

/* Check the primary header and entries in p->head. */
static int
check(const struct gpt_plan *p, char *why, size_t wlen)
{
	const uint8_t *h = p->head + GPT_LBA;
	uint8_t copy[H_SIZE];

	if (memcmp(h, "EFI PART", 8)) {
		snprintf(why, wlen, "the image has no GPT partition table (512-byte sectors)");
		return -EINVAL;
	}
	memcpy(copy, h, H_SIZE);
	bm_put_le(copy + H_CRC, 0, 4);
	if (bm_get_le(h + 12, 4) != H_SIZE || crc(copy, H_SIZE) != bm_get_le(h + H_CRC, 4) ||
	    bm_get_le(h + H_MY, 8) != 1 || bm_get_le(h + H_ENTRIES, 8) != 2 ||
	    bm_get_le(h + H_ESIZE, 4) != GPT_ENTRY_SIZE || bm_get_le(h + H_COUNT, 4) == 0 ||
	    bm_get_le(h + H_COUNT, 4) > GPT_ENTRIES_MAX) {
		snprintf(why, wlen,
		         "the image's GPT header is not one this deployer edits (checksum, entries "
		         "at LBA 2, at most %u entries of %u bytes)",
		         GPT_ENTRIES_MAX, GPT_ENTRY_SIZE);
		return -EINVAL;
	}
	if (crc(p->head + 2 * GPT_LBA, bm_get_le(h + H_COUNT, 4) * GPT_ENTRY_SIZE) !=
	    bm_get_le(h + H_ECRC, 4)) {
		snprintf(why, wlen, "the image's GPT entries fail their checksum");
		return -EINVAL;
	}
	return 0;
}

/* The entry that ends last (1-based), or 0. */
static int
last_entry(const uint8_t *ents, unsigned count)
{
	int best = 0;
	uint64_t end = 0;

	for (unsigned i = 0; i < count; i++) {
		const uint8_t *e = ents + i * GPT_ENTRY_SIZE;
		if (entry_used(e) && bm_get_le(e + E_LAST, 8) >= end) {
			end = bm_get_le(e + E_LAST, 8);
			best = (int)i + 1;
		}
	}
	return best;
}

static int
add_seed(struct gpt_plan *p, uint8_t *ents, unsigned count, uint64_t *limit, char *why, size_t wlen)
{
	uint64_t sectors = GPT_SEED_BYTES / GPT_LBA, first, end_used = 0;
	int last = last_entry(ents, count);
	unsigned i;

	if (last)
		end_used = bm_get_le(ents + (size_t)(last - 1) * GPT_ENTRY_SIZE + E_LAST, 8);
	first = (*limit + 1 - sectors) / GPT_ALIGN_LBA * GPT_ALIGN_LBA;
	if (*limit + 1 < sectors || first <= end_used) {
		snprintf(why, wlen, "no room for the %u MiB seed partition after the image",
		         GPT_SEED_BYTES >> 20);
		return -ENOSPC;
	}
	for (i = 0; i < count && entry_used(ents + i * GPT_ENTRY_SIZE); i++)
		;
	if (i == count) {
		snprintf(why, wlen, "no free GPT entry for the seed partition (all %u used)",
		         count);
		return -EMFILE;
	}
	uint8_t *e = ents + i * GPT_ENTRY_SIZE;
	memcpy(e + E_TYPE, basic_data, 16);
	memcpy(e + E_GUID, p->seed_guid, 16);
	bm_put_le(e + E_FIRST, first, 8);
	bm_put_le(e + E_LAST, first + sectors - 1, 8);
	for (unsigned c = 0; c < 6; c++) /* "CIDATA" in UTF-16LE */
		bm_put_le(e + E_NAME + 2 * c, (uint8_t) "CIDATA"[c], 2);
	p->seed_part = (int)i + 1;
	p->seed_off = first * GPT_LBA;
	*limit = first - 1;
	return 0;
}

static int
grow(struct gpt_plan *p, uint8_t *ents, int last, uint64_t limit, char *why, size_t wlen)
{
	uint8_t *e;
	uint64_t first, end;

	if (!last) {
		snprintf(why, wlen, "the image has no partition to grow");
		return -ENOSPC;
	}
	e = ents + (size_t)(last - 1) * GPT_ENTRY_SIZE;
	first = bm_get_le(e + E_FIRST, 8);
	end = (limit + 1) / GPT_ALIGN_LBA * GPT_ALIGN_LBA - 1;
	if (end <= bm_get_le(e + E_LAST, 8)) {
		snprintf(why, wlen, "partition %d already reaches the end of the disk", last);
		return -ENOSPC;
	}
	bm_put_le(e + E_LAST, end, 8);
	p->grown = last;
	p->grown_bytes = (end - first + 1) * GPT_LBA;
	return 0;
}

/* The protective MBR covers the disk (a hybrid MBR's other entries stay). */
static void
protective_mbr(uint8_t *mbr, uint64_t sectors)
{
	for (unsigned i = 0; i < 4; i++) {
		uint8_t *pe = mbr + MBR_PART + 16 * i;
		if (pe[4] == 0xee)
			bm_put_le(pe + 12, sectors - 1 > 0xffffffffu ? 0xffffffffu : sectors - 1,
			          4);
	}
}

int
gpt_plan(const uint8_t *in, size_t n, struct gpt_plan *p, char *why, size_t wlen)
{
	uint64_t sectors = p->disk_bytes / GPT_LBA, es, limit;
	uint8_t *h = p->head + GPT_LBA, *ents = p->head + 2 * GPT_LBA;
	unsigned count;
	int r, last;

	p->grown = p->seed_part = 0;
	p->head_len = p->tail_len = 0;
	memset(p->head, 0, sizeof(p->head));
	memcpy(p->head, in, n < GPT_HEAD_MAX ? n : GPT_HEAD_MAX);
	if (n < 2 * GPT_LBA + GPT_ENTRY_SIZE || (r = check(p, why, wlen)) < 0) {
		if (n < 2 * GPT_LBA + GPT_ENTRY_SIZE)
			snprintf(why, wlen, "the image is too small to hold a GPT");
		return -EINVAL;
	}
	count = (unsigned)bm_get_le(h + H_COUNT, 4);
	es = ((uint64_t)count * GPT_ENTRY_SIZE + GPT_LBA - 1) / GPT_LBA;
	if (n < (2 + es) * GPT_LBA) {
		snprintf(why, wlen, "the image ends inside its GPT entries");
		return -EINVAL;
	}
	last = last_entry(ents, count); /* before the seed is added after it */
	if (sectors < 2 * es + 3 + GPT_ALIGN_LBA) {
		snprintf(why, wlen, "the disk is too small for a GPT");
		return -ENOSPC;
	}
	limit = sectors - 2 - es; /* the last usable LBA */
	if (limit < bm_get_le(h + H_LAST, 8)) {
		snprintf(why, wlen, "the image's partitions end past the disk");
		return -ENOSPC;
	}
	if (p->seed && (r = add_seed(p, ents, count, &limit, why, wlen)) < 0)
		return r;
	if (p->grow && (r = grow(p, ents, last, limit, why, wlen)) < 0)
		return r;
	/* Both headers describe the whole disk; the entries hold every slot. */
	p->old_backup_off = bm_get_le(h + H_ALT, 8) * GPT_LBA;
	if (p->old_backup_off == (sectors - 1) * GPT_LBA)
		p->old_backup_off = 0;
	bm_put_le(h + H_ALT, sectors - 1, 8);
	bm_put_le(h + H_LAST, sectors - 2 - es, 8);
	bm_put_le(h + H_ECRC, crc(ents, (size_t)count * GPT_ENTRY_SIZE), 4);
	seal_header(h);
	protective_mbr(p->head, sectors);
	p->head_len = (size_t)(2 + es) * GPT_LBA;
	/* The backup: entries, then the header in the disk's last sector. */
	memset(p->tail, 0, sizeof(p->tail));
	memcpy(p->tail, ents, (size_t)count * GPT_ENTRY_SIZE);
	uint8_t *b = p->tail + es * GPT_LBA;
	memcpy(b, h, GPT_LBA);
	bm_put_le(b + H_MY, sectors - 1, 8);
	bm_put_le(b + H_ALT, 1, 8);
	bm_put_le(b + H_ENTRIES, sectors - 1 - es, 8);
	seal_header(b);
	p->tail_len = (size_t)(es + 1) * GPT_LBA;
	p->tail_off = (sectors - 1 - es) * GPT_LBA;
	return 0;
}
