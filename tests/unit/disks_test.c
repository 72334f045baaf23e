/* The deploy program's disk scan against a sysfs tree made here: virtio,
 * NVMe, libata and virtio-scsi disks with their by-path names as udev's
 * path_id makes them, serials (trimmed), removable and read-only flags,
 * sizes from 512-byte sectors; loop devices and empty disks left out; the
 * order by name. Then the choice over what the scan found. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "disks.h"
#include "test_tmp.h"

static char root[PATH_MAX];

static void
mkdirs(const char *rel)
{
	char p[PATH_MAX * 2];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	mkdir(p, 0755);
}

static void
put(const char *rel, const char *text)
{
	char p[PATH_MAX * 2];
	FILE *f;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_non_null(f = fopen(p, "w"));
	fputs(text, f);
	fclose(f);
}

/* A block device at devices/DEVPATH/block/NAME, linked from block/NAME. */
static void
blockdev(const char *devpath, const char *name, const char *sectors, const char *removable,
         const char *ro)
{
	char d[PATH_MAX], f[PATH_MAX + 16], link[PATH_MAX * 2], target[PATH_MAX + 8];

	snprintf(d, sizeof(d), "devices/%s/block/%s", devpath, name);
	mkdirs(d);
	snprintf(f, sizeof(f), "%s/size", d);
	put(f, sectors);
	snprintf(f, sizeof(f), "%s/removable", d);
	put(f, removable);
	snprintf(f, sizeof(f), "%s/ro", d);
	put(f, ro);
	mkdirs("block");
	snprintf(link, sizeof(link), "%s/block/%s", root, name);
	snprintf(target, sizeof(target), "../%s", d);
	assert_int_equal(symlink(target, link), 0);
}

static void
test_scan(void **state)
{
	struct disk d[DISKS_MAX];
	struct disk_hints h = { .pick = DISK_PICK_LARGEST };
	char why[512];
	int n;

	(void)state;
	th_tmpdir(root, "disks");
	blockdev("pci0000:00/0000:00:05.0/virtio2", "vda", "20971520\n", "0\n", "0\n");
	put("devices/pci0000:00/0000:00:05.0/virtio2/block/vda/serial", "V1\n");
	blockdev("pci0000:00/0000:00:06.0/nvme/nvme0", "nvme0n1", "1953525168\n", "0\n", "0\n");
	put("devices/pci0000:00/0000:00:06.0/nvme/nvme0/block/nvme0n1/nsid", "1\n");
	put("devices/pci0000:00/0000:00:06.0/nvme/nvme0/serial", "  S4EVNX0N123  \n");
	char dev[PATH_MAX * 2]; /* .../nvme0n1/device -> nvme0 */
	snprintf(dev, sizeof(dev),
	         "%s/devices/pci0000:00/0000:00:06.0/nvme/nvme0/block/nvme0n1/device", root);
	assert_int_equal(symlink("../..", dev), 0);
	blockdev("pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0", "sda", "976773168\n",
	         "0\n", "0\n");
	blockdev("pci0000:00/0000:00:04.0/virtio1/host2/target2:0:0/2:0:0:0", "sdc", "209715200\n",
	         "0\n", "1\n");
	blockdev("pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.0/host6/target6:0:0/6:0:0:0", "sdb",
	         "125829120\n", "1\n", "0\n");
	blockdev("virtual", "loop0", "2048\n", "0\n", "0\n");
	blockdev("pci0000:00/0000:00:1f.2/ata2/host1/target1:0:0/1:0:0:0", "sr0", "0\n", "1\n",
	         "0\n");

	n = disks_scan(root, d, DISKS_MAX);
	assert_int_equal(n, 5); /* not loop0, not the empty sr0 */
	assert_string_equal(d[0].name, "nvme0n1");
	assert_string_equal(d[0].by_path, "pci-0000:00:06.0-nvme-1");
	assert_string_equal(d[0].serial, "S4EVNX0N123");
	assert_true(d[0].size == 1953525168ull * 512);
	assert_string_equal(d[1].name, "sda");
	assert_string_equal(d[1].by_path, "pci-0000:00:1f.2-ata-1");
	assert_string_equal(d[2].name, "sdb");
	assert_true(d[2].removable);
	assert_string_equal(d[3].name, "sdc");
	assert_string_equal(d[3].by_path, "pci-0000:00:04.0-scsi-2:0:0:0");
	assert_true(d[3].readonly);
	assert_string_equal(d[4].name, "vda");
	assert_string_equal(d[4].by_path, "pci-0000:00:05.0");
	assert_string_equal(d[4].serial, "V1");
	/* The largest usable: the NVMe (sdc is read-only, sdb removable). */
	assert_int_equal(disk_choose(d, (size_t)n, &h, 1, why, sizeof(why)), 0);
	h.pick = DISK_PICK_FIRST;
	strcpy(h.by_path, "pci-0000:00:05.0");
	assert_int_equal(disk_choose(d, (size_t)n, &h, 1, why, sizeof(why)), 4);
	assert_int_equal(disks_scan("/nonexistent", d, DISKS_MAX), -ENOENT);
	th_rmtree(root);
}

/* The SecureBoot variable as efivarfs shows it: attributes, then 0 or 1. */
static void
test_secure_boot(void **state)
{
	static const char var[] =
	    "firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c";
	char p[PATH_MAX * 2];
	FILE *f;
	(void)state;

	th_tmpdir(root, "efivars");
	assert_int_equal(efi_secure_boot(root), -ENOENT); /* BIOS: no efivars */
	mkdirs("firmware/efi/efivars");
	snprintf(p, sizeof(p), "%s/%s", root, var);
	for (int on = 0; on <= 2; on++) {
		assert_non_null(f = fopen(p, "w"));
		fwrite("\x06\x00\x00\x00", 1, 4, f);
		fputc(on, f);
		fclose(f);
		assert_int_equal(efi_secure_boot(root), on <= 1 ? on : -EINVAL);
	}
	th_rmtree(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_secure_boot),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
