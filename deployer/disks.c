#define _GNU_SOURCE /* realpath */
#include "disks.h"

#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first line of DIR/NAME, trimmed; "" when absent. */
static void
attr(const char *dir, const char *name, char *out, size_t n)
{
	char path[PATH_MAX];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "re")))
		return;
	if (fgets(out, (int)n, f)) {
		size_t l = strcspn(out, "\n");
		while (l && out[l - 1] == ' ')
			l--;
		out[l] = '\0';
		size_t s = strspn(out, " ");
		memmove(out, out + s, strlen(out + s) + 1);
	}
	fclose(f);
}

static bool
skipped(const char *name)
{
	static const char *const prefixes[] = { "loop", "ram", "zram", "dm-", "md", "nbd", NULL };

	for (unsigned i = 0; prefixes[i]; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return true;
	return name[0] == '.';
}

/* "0000:00:05.0" style: the last PCI function in the device path. */
static const char *
last_pci(const char *path, char *out, size_t n)
{
	const char *p = path, *best = NULL;

	while ((p = strchr(p, '/'))) {
		p++;
		unsigned d, b, s, f;
		char tail;
		if (sscanf(p, "%4x:%2x:%2x.%1x%c", &d, &b, &s, &f, &tail) == 5 && tail == '/')
			best = p;
	}
	if (!best)
		return NULL;
	snprintf(out, n, "%.12s", best);
	return out;
}

/* udev path_id's name for the bus after the PCI function. */
static void
by_path(const char *real, const char *blockdir, char *out, size_t n)
{
	char pci[16], nsid[16];
	const char *p;
	unsigned a, b, c, d;

	out[0] = '\0';
	if (!last_pci(real, pci, sizeof(pci)))
		return;
	if (strstr(real, "/nvme/")) {
		attr(blockdir, "nsid", nsid, sizeof(nsid));
		snprintf(out, n, "pci-%s-nvme-%s", pci, *nsid ? nsid : "1");
	} else if ((p = strstr(real, "/ata")) && sscanf(p, "/ata%u/", &a) == 1) {
		snprintf(out, n, "pci-%s-ata-%u", pci, a);
	} else if ((p = strstr(real, "/target")) && (p = strchr(p + 1, '/')) &&
	           sscanf(p, "/%u:%u:%u:%u/", &a, &b, &c, &d) == 4) {
		snprintf(out, n, "pci-%s-scsi-%u:%u:%u:%u", pci, a, b, c, d);
	} else {
		snprintf(out, n, "pci-%s", pci);
	}
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const struct disk *)a)->name, ((const struct disk *)b)->name);
}

static bool
read_one(const char *sysroot, const char *name, struct disk *d)
{
	char dir[PATH_MAX], real[PATH_MAX], v[64];

	memset(d, 0, sizeof(*d));
	if (strlen(name) >= sizeof(d->name))
		return false; /* no disk of ours has such a name */
	memcpy(d->name, name, strlen(name) + 1);
	snprintf(dir, sizeof(dir), "%s/block/%s", sysroot, name);
	attr(dir, "size", v, sizeof(v));
	d->size = strtoull(v, NULL, 10) * 512;
	if (!d->size)
		return false;
	attr(dir, "removable", v, sizeof(v));
	d->removable = v[0] == '1';
	attr(dir, "ro", v, sizeof(v));
	d->readonly = v[0] == '1';
	attr(dir, "serial", d->serial, sizeof(d->serial));
	if (!*d->serial)
		attr(dir, "device/serial", d->serial, sizeof(d->serial));
	if (realpath(dir, real))
		by_path(real, dir, d->by_path, sizeof(d->by_path));
	return true;
}

int
disks_scan(const char *sysroot, struct disk *out, size_t max)
{
	char path[PATH_MAX];
	struct dirent *e;
	size_t n = 0;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/block", sysroot);
	if (!(dir = opendir(path)))
		return -errno;
	while ((e = readdir(dir)) && n < max)
		if (!skipped(e->d_name) && read_one(sysroot, e->d_name, &out[n]))
			n++;
	closedir(dir);
	qsort(out, n, sizeof(*out), by_name);
	return (int)n;
}

int
efi_secure_boot(const char *sysroot)
{
	char path[PATH_MAX];
	unsigned char v[8];
	ssize_t n;
	int fd;

	/* 4 bytes of attributes, then the value: one byte, 0 or 1. */
	snprintf(path, sizeof(path),
	         "%s/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
	         sysroot);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ENOENT;
	n = read(fd, v, sizeof(v));
	close(fd);
	if (n != 5 || v[4] > 1)
		return -EINVAL;
	return v[4];
}
