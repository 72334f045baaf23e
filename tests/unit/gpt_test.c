/* The deploy program's table edits, checked by util-linux: an image's GPT
 * made by sfdisk for 64 MiB, planned for a 256 MiB disk, written as the
 * deploy program writes it, then read back by `sfdisk --verify` and
 * `sfdisk --json`: the backup at the disk's end, the CIDATA partition
 * added, the last partition grown up to it; the FAT seed read back by
 * fsck.fat and mtools. And every refusal: no GPT, a broken checksum, no
 * room for the seed, nothing to grow, a disk smaller than the image. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fat.h"
#include "gpt.h"
#include "test_tmp.h"

#define MIB (1u << 20)

static char tmp[4096], img[4200], disk[4200];
static uint8_t head[GPT_HEAD_MAX];

__attribute__((format(printf, 1, 2))) static void
sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	assert_int_equal(system(cmd), 0);
}

/* A 64 MiB image: BIOS boot, ESP, root (as the lab's images are). */
static int
setup(void **state)
{
	(void)state;
	th_tmpdir(tmp, "gpt");
	snprintf(img, sizeof(img), "%s/img", tmp);
	snprintf(disk, sizeof(disk), "%s/disk", tmp);
	sh("truncate -s 64M %s && printf 'label: gpt\\n,1M,21686148-6449-6E6F-744E-656564454649\\n"
	   ",16M,U\\n,,L\\n' | sfdisk -q %s",
	   img, img);
	int fd = open(img, O_RDONLY);
	assert_int_equal(pread(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	th_rmtree(tmp);
	return 0;
}

static void
put(int fd, const void *p, size_t n, uint64_t off)
{
	assert_int_equal(pwrite(fd, p, n, (off_t)off), (ssize_t)n);
}

/* The image onto a disk of `size`, and the plan's edits. */
static void
apply(const struct gpt_plan *p, uint64_t size)
{
	sh("cp --sparse=always %s %s && truncate -s %llu %s", img, disk, (unsigned long long)size,
	   disk);
	int fd = open(disk, O_WRONLY);
	static const uint8_t zero[GPT_LBA];
	assert_true(fd >= 0);
	put(fd, p->head, p->head_len, 0);
	put(fd, p->tail, p->tail_len, p->tail_off);
	if (p->old_backup_off)
		put(fd, zero, sizeof(zero), p->old_backup_off);
	close(fd);
}

static void
test_grow_and_seed(void **state)
{
	static struct gpt_plan p;
	static uint8_t fs[FAT_BYTES];
	const char *md = "instance-id: r12n01\nlocal-hostname: r12n01\n";
	struct fat_file f[] = { { "meta-data", md, strlen(md) },
		                { "user-data", "#cloud-config\n", 14 },
		                { "network-config", "", 0 } };
	char why[256] = "";
	(void)state;

	p.disk_bytes = 256ull * MIB;
	p.seed = p.grow = true;
	memset(p.seed_guid, 0x5a, 16);
	assert_int_equal(gpt_plan(head, sizeof(head), &p, why, sizeof(why)), 0);
	assert_int_equal(p.grown, 3);
	assert_int_equal(p.seed_part, 4);
	assert_int_equal(p.seed_off + GPT_SEED_BYTES, 255ull * MIB); /* aligned, below the backup */
	assert_int_equal(p.grown_bytes, 255ull * MIB - GPT_SEED_BYTES - 18ull * MIB);
	apply(&p, p.disk_bytes);
	assert_int_equal(fat_make(fs, f, 3, 0x12345678), 0);
	int fd = open(disk, O_WRONLY);
	put(fd, fs, sizeof(fs), p.seed_off);
	close(fd);
	sh("sfdisk -q --verify %s >/dev/null", disk);
	sh("sfdisk --json %s | python3 -c 'import json,sys; "
	   "t=json.load(sys.stdin)[\"partitiontable\"];"
	   "p=t[\"partitions\"]; assert t[\"lastlba\"]==%llu, t; assert len(p)==4, p;"
	   "assert p[2][\"start\"]+p[2][\"size\"]==p[3][\"start\"], p;"
	   "assert p[3][\"name\"]==\"CIDATA\" and p[3][\"size\"]==%u, p'",
	   disk, (unsigned long long)(256ull * MIB / 512 - 34), GPT_SEED_BYTES / 512);
	sh("dd if=%s of=%s/seed bs=1M skip=%llu count=4 status=none", disk, tmp,
	   (unsigned long long)(p.seed_off / MIB));
	sh("fsck.fat -n %s/seed >/dev/null", tmp);
	sh("test \"$(mtype -i %s/seed ::meta-data)\" = \"$(printf '%%s' '%s')\"", tmp,
	   "instance-id: r12n01\nlocal-hostname: r12n01");
	sh("mdir -i %s/seed -b :: | sort | tr '\\n' ' ' | grep -qx "
	   "'::/meta-data ::/network-config ::/user-data '",
	   tmp);
	sh("blkid -p -s LABEL -o value %s/seed | grep -qx CIDATA", tmp);
}

static void
test_seed_only_and_same_size(void **state)
{
	static struct gpt_plan p;
	char why[256] = "";
	(void)state;

	p.disk_bytes = 64ull * MIB; /* the image's own size: no room after the root */
	p.seed = true;
	p.grow = false;
	assert_int_equal(gpt_plan(head, sizeof(head), &p, why, sizeof(why)), -ENOSPC);
	assert_non_null(strstr(why, "no room for the 4 MiB seed"));
	p.seed = false;
	p.grow = true;
	assert_int_equal(gpt_plan(head, sizeof(head), &p, why, sizeof(why)), -ENOSPC);
	assert_non_null(strstr(why, "already reaches the end"));
	p.grow = false; /* nothing asked: the table is rewritten unchanged, and valid */
	assert_int_equal(gpt_plan(head, sizeof(head), &p, why, sizeof(why)), 0);
	assert_int_equal(p.old_backup_off, 0);
	p.disk_bytes = 100ull * MIB;
	p.seed = true;
	assert_int_equal(gpt_plan(head, sizeof(head), &p, why, sizeof(why)), 0);
	assert_int_equal(p.grown, 0);
	assert_int_equal(p.seed_part, 4);
	apply(&p, p.disk_bytes);
	sh("sfdisk -q --verify %s >/dev/null", disk);
	sh("sfdisk --json %s | grep -c '\"node\"' | grep -qx 4", disk);
}

static void
test_refusals(void **state)
{
	static struct gpt_plan p;
	static uint8_t bad[GPT_HEAD_MAX];
	char why[256] = "";
	(void)state;

	p.disk_bytes = 256ull * MIB;
	p.seed = p.grow = true;
	memset(bad, 0, sizeof(bad));
	assert_int_equal(gpt_plan(bad, sizeof(bad), &p, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "no GPT"));
	memcpy(bad, head, sizeof(bad));
	bad[2 * 512 + 40] ^= 1; /* an entry's first LBA */
	assert_int_equal(gpt_plan(bad, sizeof(bad), &p, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "checksum"));
	assert_int_equal(gpt_plan(head, 700, &p, why, sizeof(why)), -EINVAL);
	p.disk_bytes = 32ull * MIB; /* smaller than the image's partitions */
	assert_int_equal(gpt_plan(head, sizeof(head), &p, why, sizeof(why)), -ENOSPC);
	assert_non_null(strstr(why, "end past the disk"));
}

static void
test_fat_refusals(void **state)
{
	static uint8_t fs[FAT_BYTES];
	static char big[FAT_FILE_MAX + 1];
	struct fat_file f[] = { { "a/b", "", 0 } };
	(void)state;

	assert_int_equal(fat_make(fs, f, 1, 1), -EINVAL);
	f[0].name = "this-name-is-longer-than-26c";
	assert_int_equal(fat_make(fs, f, 1, 1), -EINVAL);
	f[0].name = "user-data";
	f[0].data = big;
	f[0].len = sizeof(big);
	assert_int_equal(fat_make(fs, f, 1, 1), -EFBIG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grow_and_seed),
		cmocka_unit_test(test_seed_only_and_same_size),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_fat_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
