#include "fat.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bm/wr.h"

/* The layout (Microsoft's FAT specification, 1.03): 512-byte sectors,
 * 4-sector clusters, one reserved sector, two FATs, 512 root entries. */
enum {
	SECTOR = 512,
	SPC = 4,
	CLUSTER = SECTOR * SPC,
	RESERVED = 1,
	NFATS = 2,
	ROOT_ENTRIES = 512,
	ROOT_SECTORS = ROOT_ENTRIES * 32 / SECTOR,
	TOTAL = FAT_BYTES / SECTOR,
	FAT_SECTORS = 6, /* 2038 entries of 12 bits */
	DATA = RESERVED + NFATS * FAT_SECTORS + ROOT_SECTORS,
	CLUSTERS = (TOTAL - DATA) / SPC,
	LFN_CHARS = 13,
	NAME_MAX_CHARS = 2 * LFN_CHARS,
};

static void
boot_sector(uint8_t *b, uint32_t serial)
{
	memcpy(b,
	       "\xeb\x3c\x90"
	       "BMDEPLOY",
	       11);
	bm_put_le(b + 11, SECTOR, 2);
	b[13] = SPC;
	bm_put_le(b + 14, RESERVED, 2);
	b[16] = NFATS;
	bm_put_le(b + 17, ROOT_ENTRIES, 2);
	bm_put_le(b + 19, TOTAL, 2);
	b[21] = 0xf8; /* fixed disk */
	bm_put_le(b + 22, FAT_SECTORS, 2);
	bm_put_le(b + 24, 32, 2); /* sectors per track, heads: unused */
	bm_put_le(b + 26, 64, 2);
	b[36] = 0x80;
	b[38] = 0x29; /* the extended boot signature: serial, label, type follow */
	bm_put_le(b + 39, serial, 4);
	memcpy(b + 43, "CIDATA     FAT12   ", 19);
	b[510] = 0x55;
	b[511] = 0xaa;
}

static void
fat_set(uint8_t *fat, unsigned cluster, unsigned v)
{
	uint8_t *p = fat + cluster * 3 / 2;
	if (cluster & 1) {
		p[0] = (uint8_t)((p[0] & 0x0f) | (v << 4 & 0xf0));
		p[1] = (uint8_t)(v >> 4);
	} else {
		p[0] = (uint8_t)v;
		p[1] = (uint8_t)((p[1] & 0xf0) | (v >> 8 & 0x0f));
	}
}

static bool
name_ok(const char *s)
{
	size_t n = strlen(s);
	if (!n || n > NAME_MAX_CHARS)
		return false;
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e || strchr("\"*/:<>?\\|", *s))
			return false;
	return true;
}

static uint8_t
short_sum(const uint8_t name[11])
{
	uint8_t sum = 0;
	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + name[i]);
	return sum;
}

/* The long-name entries of name, last piece first, then the short entry
 * "SEED~n". Returns the next free entry. */
static uint8_t *
dir_entries(uint8_t *d, const char *name, unsigned n, unsigned cluster, size_t len)
{
	static const uint8_t places[LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	size_t nl = strlen(name);
	unsigned pieces = (unsigned)((nl + LFN_CHARS - 1) / LFN_CHARS);
	uint8_t shortname[11];
	char tmp[12];

	snprintf(tmp, sizeof(tmp), "SEED~%-3u   ", n + 1);
	memcpy(shortname, tmp, 11);
	for (unsigned k = pieces; k >= 1; k--, d += 32) {
		memset(d, 0, 32);
		d[0] = (uint8_t)(k | (k == pieces ? 0x40 : 0));
		d[11] = 0x0f; /* a long-name entry */
		d[13] = short_sum(shortname);
		for (unsigned c = 0; c < LFN_CHARS; c++) {
			size_t at = (k - 1) * LFN_CHARS + c;
			unsigned v = at < nl ? (uint8_t)name[at] : at == nl ? 0 : 0xffff;
			bm_put_le(d + places[c], v, 2);
		}
	}
	memset(d, 0, 32);
	memcpy(d, shortname, 11);
	d[11] = 0x20; /* archive */
	bm_put_le(d + 26, len ? cluster : 0, 2);
	bm_put_le(d + 28, len, 4);
	return d + 32;
}

int
fat_make(uint8_t *out, const struct fat_file *f, size_t n, uint32_t serial)
{
	uint8_t *fat = out + RESERVED * SECTOR,
	        *root = out + (RESERVED + NFATS * FAT_SECTORS) * SECTOR;
	uint8_t *d = root + 32;
	unsigned cluster = 2, need = 0;

	if (n > FAT_FILES_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!name_ok(f[i].name))
			return -EINVAL;
		if (f[i].len > FAT_FILE_MAX)
			return -EFBIG;
		need += (unsigned)((f[i].len + CLUSTER - 1) / CLUSTER);
	}
	if (need > CLUSTERS)
		return -EFBIG;
	memset(out, 0, FAT_BYTES);
	boot_sector(out, serial);
	fat_set(fat, 0, 0xff8);
	fat_set(fat, 1, 0xfff);
	memcpy(root, "CIDATA     ", 11);
	root[11] = 0x08; /* the volume label */
	for (size_t i = 0; i < n; i++) {
		unsigned k = (unsigned)((f[i].len + CLUSTER - 1) / CLUSTER);
		d = dir_entries(d, f[i].name, (unsigned)i, cluster, f[i].len);
		if (f[i].len)
			memcpy(out + (DATA + (size_t)(cluster - 2) * SPC) * SECTOR, f[i].data,
			       f[i].len);
		for (unsigned c = 0; c < k; c++, cluster++)
			fat_set(fat, cluster, c + 1 == k ? 0xfff : cluster + 1);
	}
	memcpy(fat + FAT_SECTORS * SECTOR, fat, FAT_SECTORS * SECTOR); /* the second FAT */
	return 0;
}
