/* The deploy program's disk choice: the first non-removable, writable disk
 * big enough by default; hints by by-path, serial and size range; largest
 * and smallest, with a tie refused by name; every refusal's reason. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "disk_choice.h"

#define GB 1000000000ull

static const struct disk disks[] = {
	{ "sda", "pci-0000:00:1f.2-ata-1", "S1", 480 * GB, false, false },
	{ "sdb", "usb-0:1:1.0-scsi-0:0:0:0", "U1", 64 * GB, true, false }, /* removable */
	{ "sdc", "pci-0000:00:1f.2-ata-2", "S2", 480 * GB, false, false },
	{ "sr0", "pci-0000:00:1f.2-ata-3", "", 4 * GB, false, true }, /* read-only */
	{ "vda", "pci-0000:00:05.0", "V1", 10 * GB, false, false },
};
#define N (sizeof(disks) / sizeof(disks[0]))

static int
choose(const struct disk_hints *h, uint64_t need, char *why)
{
	return disk_choose(disks, N, h, need, why, 512);
}

static void
test_default_and_hints(void **state)
{
	struct disk_hints h = { 0 };
	char why[512];

	(void)state;
	assert_int_equal(choose(&h, 1 * GB, why), 0); /* the first */
	assert_int_equal(choose(&h, 500 * GB, why), -ENOSPC);
	assert_non_null(
	    strstr(why, "disk too small: the image needs 500000000000 bytes, the largest is sda"));
	h.pick = DISK_PICK_SMALLEST;
	assert_int_equal(choose(&h, 1 * GB, why), 4); /* vda; not the removable sdb */
	h.pick = DISK_PICK_FIRST;
	strcpy(h.serial, "S2");
	assert_int_equal(choose(&h, 1 * GB, why), 2);
	memset(&h, 0, sizeof(h));
	strcpy(h.by_path, "pci-0000:00:05.0");
	assert_int_equal(choose(&h, 1 * GB, why), 4);
	assert_int_equal(choose(&h, 20 * GB, why), -ENOSPC); /* it matches, it is too small */
	assert_non_null(strstr(why, "the largest is vda"));
	strcpy(h.by_path, "pci-9999");
	assert_int_equal(choose(&h, 1 * GB, why), -ENOENT);
	assert_non_null(strstr(why, "no disk matches root_device by_path=pci-9999: sda"));
	memset(&h, 0, sizeof(h));
	h.min_size = 100 * GB;
	h.max_size = 500 * GB;
	h.pick = DISK_PICK_SMALLEST;
	assert_int_equal(choose(&h, 1 * GB, why), -EEXIST); /* sda and sdc, both 480 GB */
	h.min_size = 0;
	h.max_size = 0;
	strcpy(h.serial, "U1"); /* removable: never */
	assert_int_equal(choose(&h, 1 * GB, why), -ENOENT);
}

static void
test_tie_and_none(void **state)
{
	struct disk_hints h = { .pick = DISK_PICK_LARGEST };
	struct disk only_removable[] = { { "sdb", "", "", 64 * GB, true, false } };
	char why[512];

	(void)state;
	assert_int_equal(choose(&h, 1 * GB, why), -EEXIST);
	assert_non_null(strstr(why, "root_device largest is ambiguous: sda (480000000000 bytes), "
	                            "sdc (480000000000 bytes)"));
	assert_int_equal(disk_choose(disks, 0, &h, 1, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "no disk: the kernel lists none"));
	assert_int_equal(disk_choose(only_removable, 1, &h, 1, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "sdb (64000000000 bytes, removable or read-only)"));
	/* Without the tie, the largest wins. */
	assert_int_equal(disk_choose(disks, 2, &h, 1, why, sizeof(why)), 0);
}

/* The hints as the command line carries them ({{root_device}}). */
static void
test_hints_parse(void **state)
{
	struct disk_hints h;
	char why[256];

	(void)state;
	assert_int_equal(disk_hints_parse("", &h, why, sizeof(why)), 0);
	assert_int_equal(h.pick, DISK_PICK_FIRST);
	assert_int_equal(
	    disk_hints_parse("pick=largest,size=100G-2T,serial=S1,by_path=pci-0000:00:05.0", &h,
	                     why, sizeof(why)),
	    0);
	assert_int_equal(h.pick, DISK_PICK_LARGEST);
	assert_true(h.min_size == 100 * GB && h.max_size == 2000 * GB);
	assert_string_equal(h.serial, "S1");
	assert_string_equal(h.by_path, "pci-0000:00:05.0");
	assert_int_equal(disk_hints_parse("pick=first", &h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "pick=first"));
	assert_int_equal(disk_hints_parse("size=big", &h, why, sizeof(why)), -EINVAL);
	assert_int_equal(disk_hints_parse("serial", &h, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not key=value"));
	assert_int_equal(disk_hints_parse("wwn=x", &h, why, sizeof(why)), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_and_hints),
		cmocka_unit_test(test_tie_and_none),
		cmocka_unit_test(test_hints_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
