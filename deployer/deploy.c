#define _GNU_SOURCE /* O_DIRECT */
#include "deploy.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bm/log.h"
#include "bm/wr.h"
#include "disks.h"
#include "fat.h"
#include "fetch.h"
#include "gpt.h"
#include "report.h"

/* The reason, cut to fit (an operator reads it in the trace). */
__attribute__((format(printf, 2, 3))) static void
WHY(struct deploy *d, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(d->why, sizeof(d->why), fmt, ap);
	va_end(ap);
}

static int
choose(struct deploy *d, char *dev, size_t len)
{
	static struct disk disks[DISKS_MAX];
	struct disk_hints h;
	int n, i;

	if (disk_hints_parse(d->a.root, &h, d->why, sizeof(d->why)) < 0)
		return -EINVAL;
	if (fetch_raw_size(d->a.image, d->a.zstd, &d->raw_total) < 0) {
		WHY(d, "the agent is unreachable: cannot read the image's size from %s",
		    d->a.image);
		return -EIO;
	}
	if ((n = disks_scan(d->sysroot, disks, DISKS_MAX)) < 0) {
		WHY(d, "cannot list disks in %s/block: %s", d->sysroot, strerror(-n));
		return -ENODEV;
	}
	if ((i = disk_choose(disks, (size_t)n, &h, d->raw_total, d->why, sizeof(d->why))) < 0)
		return i;
	snprintf(d->disk, sizeof(d->disk), "%s", disks[i].name);
	snprintf(dev, len, "%s/%s", d->devdir, d->disk);
	d->disk_bytes = disks[i].size;
	BM_INFO("deploy", "disk chosen disk=%s bytes=%" PRIu64 " image_raw=%" PRIu64, d->disk,
	        d->disk_bytes, d->raw_total);
	return 0;
}

static void
progress(void *arg, uint64_t raw)
{
	const struct deploy *d = arg;
	char w[24], t[24];

	snprintf(w, sizeof(w), "%" PRIu64, raw);
	snprintf(t, sizeof(t), "%" PRIu64, d->raw_total);
	report(&d->a, "installing", NULL, 0, "written", w, "total", t, (char *)NULL);
}

/* One pass from byte 0. */
static int
write_pass(struct deploy *d, int fd)
{
	struct stream s;
	int r;

	if (stream_open(&s, fd, d->a.zstd, d->disk_bytes) < 0) {
		WHY(d, "out of memory");
		return -ENOMEM;
	}
	if ((r = fetch_image(d->a.image, &s, progress, d, d->why, sizeof(d->why))) == -EBADMSG)
		WHY(d, "digest mismatch: the image's zstd frame is damaged");
	else if (r == 0 && (r = stream_finish(&s, d->a.sha256, &d->raw)) < 0)
		WHY(d, "%s", r == -EBADMSG ? "digest mismatch" : strerror(-r));
	if (r == -ENOSPC)
		WHY(d, "disk too small: %s holds %" PRIu64 " bytes and the image is larger",
		    d->disk, d->disk_bytes);
	else if (r < 0 && r != -EIO && r != -EPROTO && r != -EBADMSG)
		WHY(d, "write error on %s: %s", d->disk, strerror(-r));
	stream_close(&s);
	return r;
}

/* The image, with one fresh retry when its bytes fail the digest. */
static int
write_image(struct deploy *d, const char *dev)
{
	int fd = open(dev, O_WRONLY | O_DIRECT | O_EXCL | O_CLOEXEC), r;

	if (fd < 0) {
		WHY(d, "cannot open %s: %s", dev, strerror(errno));
		return -EIO;
	}
	for (int pass = 0; pass < 2; pass++) {
		if ((r = write_pass(d, fd)) != -EBADMSG)
			break;
		BM_WARN("deploy", "image refused pass=%d reason=\"%s\"", pass + 1, d->why);
	}
	if (r == -EBADMSG) {
		char hex[BM_SHA256_HEX], was[sizeof(d->why)];
		snprintf(was, sizeof(was), "%s", d->why);
		WHY(d, "%.200s: the image served is not sha256 %s (after one fresh retry)", was,
		    bm_sha256_hex(d->a.sha256, hex));
	}
	close(fd);
	return r;
}

static int
put(struct deploy *d, int fd, const void *p, size_t n, uint64_t off)
{
	if (pwrite(fd, p, n, (off_t)off) != (ssize_t)n) {
		WHY(d, "write error on %s at %" PRIu64 ": %s", d->disk, off, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* Zero the 1 MiB after the image and the disk's last 1 MiB: an old
 * install's backup GPT, md or LVM labels there must not come back. */
static int
wipe(struct deploy *d, int fd)
{
	static uint8_t zero[DEPLOY_WIPE_BYTES];
	uint64_t a = d->raw,
	         b = d->disk_bytes > DEPLOY_WIPE_BYTES ? d->disk_bytes - DEPLOY_WIPE_BYTES : 0;
	int r = 0;

	if (a < d->disk_bytes)
		r = put(
		    d, fd, zero,
		    (size_t)(d->disk_bytes - a < sizeof(zero) ? d->disk_bytes - a : sizeof(zero)),
		    a);
	if (!r && b > a)
		r = put(d, fd, zero, (size_t)(d->disk_bytes - b), b);
	return r;
}

/* The machine's NoCloud files, from the agent, as a FAT filesystem. */
static int
seed_fs(struct deploy *d, uint8_t *fs)
{
	static const char *const names[] = { "meta-data", "user-data", "vendor-data",
		                             "network-config" };
	static char data[4][SEED_FILE_MAX];
	struct fat_file f[4];
	size_t n = 0;
	uint32_t serial = 0;

	for (unsigned i = 0; i < 4; i++) {
		char url[ARGS_URL_MAX + 32];
		snprintf(url, sizeof(url), "%s%s", d->a.seed, names[i]);
		long len = http_get(url, data[i], sizeof(data[i]));
		if (len == -ENOENT)
			continue;
		if (len < 0) {
			WHY(d, "%s: %s",
			    len == -EFBIG ? "seed file too large"
			                  : "the agent is unreachable: cannot fetch seed",
			    url);
			return -EIO;
		}
		f[n++] = (struct fat_file){ names[i], data[i], (size_t)len };
	}
	if (getrandom(&serial, sizeof(serial), 0) < 0)
		serial = (uint32_t)d->raw;
	if (fat_make(fs, f, n, serial) < 0) {
		WHY(d, "the seed files do not fit the %u MiB seed partition", FAT_BYTES >> 20);
		return -EFBIG;
	}
	return 0;
}

/* The table made for the disk, and the seed written. */
static int
table(struct deploy *d, int fd, struct gpt_plan *p)
{
	static uint8_t head[GPT_HEAD_MAX], fs[FAT_BYTES];
	static const uint8_t zero[GPT_LBA];
	size_t n = d->raw < sizeof(head) ? (size_t)d->raw : sizeof(head);
	int r;

	p->disk_bytes = d->disk_bytes;
	p->seed = *d->a.seed;
	p->grow = d->a.grow;
	if (pread(fd, head, n, 0) != (ssize_t)n || getrandom(p->seed_guid, 16, 0) != 16) {
		WHY(d, "cannot read back %s: %s", d->disk, strerror(errno));
		return -EIO;
	}
	if ((r = gpt_plan(head, n, p, d->why, sizeof(d->why))) < 0)
		return r == -EINVAL && !p->seed && !p->grow ? 0 : r; /* not GPT, nothing asked */
	if (p->seed && (r = seed_fs(d, fs)) < 0)
		return r;
	if ((r = put(d, fd, p->head, p->head_len, 0)) < 0 ||
	    (r = put(d, fd, p->tail, p->tail_len, p->tail_off)) < 0 ||
	    (p->old_backup_off && (r = put(d, fd, zero, sizeof(zero), p->old_backup_off)) < 0) ||
	    (p->seed && (r = put(d, fd, fs, sizeof(fs), p->seed_off)) < 0))
		return r;
	BM_INFO("deploy", "table written disk=%s grown=%d seed_part=%d", d->disk, p->grown,
	        p->seed_part);
	return 0;
}

static int
run(const char *const argv[])
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* A loop device over bytes [off, off + size) of dev, detached when the
 * returned descriptor closes: the grown partition as a device of its own,
 * whether or not the kernel reads partition tables (a kernel without GPT
 * support, as CI's is, never shows vda3). Returns the fd or -errno. */
static int
loop_over(const char *dev, uint64_t off, uint64_t size, char *name, size_t len)
{
	struct loop_config cfg;
	int ctl, n = -1, back, fd = -1, e = 0;

	if ((ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC)) < 0)
		return -errno;
	if ((back = open(dev, O_RDWR | O_CLOEXEC)) < 0 || (n = ioctl(ctl, LOOP_CTL_GET_FREE)) < 0)
		e = -errno;
	if (!e) {
		snprintf(name, len, "/dev/loop%d", n);
		if ((fd = open(name, O_RDWR | O_CLOEXEC)) < 0)
			e = -errno;
	}
	if (!e) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)back;
		cfg.info.lo_offset = off;
		cfg.info.lo_sizelimit = size;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		if (ioctl(fd, LOOP_CONFIGURE, &cfg) < 0)
			e = -errno;
	}
	if (back >= 0)
		close(back);
	close(ctl);
	if (e && fd >= 0)
		close(fd);
	return e ? e : fd;
}

/* An ext2/3/4 filesystem in the grown partition grows with it: checked
 * first (resize2fs asks for it), then resized. Another filesystem is left
 * to the installed OS (cloud-init's resizefs). */
static int
grow_fs(struct deploy *d, const struct gpt_plan *p, const char *dev)
{
	const uint8_t *e = p->head + 2 * GPT_LBA + (size_t)(p->grown - 1) * GPT_ENTRY_SIZE;
	uint64_t off = bm_get_le(e + 32, 8) * GPT_LBA;
	uint8_t magic[2] = { 0, 0 };
	char part[64];
	int rc, fd;

	if ((fd = loop_over(dev, off, p->grown_bytes, part, sizeof(part))) < 0) {
		WHY(d, "cannot reach partition %d of %s as a loop device: %s", p->grown, d->disk,
		    strerror(-fd));
		return -ECHILD;
	}
	rc = (int)pread(fd, magic, 2, 1080); /* the ext superblock's magic */
	if (rc != 2 || magic[0] != 0x53 || magic[1] != 0xef) {
		BM_INFO("deploy", "filesystem not ext2/3/4 part=%d: left to the OS to grow",
		        p->grown);
		close(fd);
		return 0;
	}
	const char *fsck[] = { "e2fsck", "-f", "-y", part, NULL };
	const char *resize[] = { "resize2fs", part, NULL };
	if ((rc = run(fsck)) >= 4 || (rc = run(resize)) != 0) {
		WHY(d, "growing the filesystem of partition %d failed (exit %d)", p->grown, rc);
		close(fd);
		return -ECHILD;
	}
	close(fd);
	BM_INFO("deploy", "filesystem grown part=%d bytes=%" PRIu64, p->grown, p->grown_bytes);
	return 0;
}

int
deploy_run(struct deploy *d)
{
	static struct gpt_plan plan;
	char dev[PATH_MAX];
	int fd, r;

	if ((r = choose(d, dev, sizeof(dev))) < 0 || (r = write_image(d, dev)) < 0)
		return r;
	BM_INFO("deploy", "image written disk=%s bytes=%" PRIu64, d->disk, d->raw);
	if ((fd = open(dev, O_RDWR | O_EXCL | O_CLOEXEC)) < 0) {
		WHY(d, "cannot open %s: %s", dev, strerror(errno));
		return -EIO;
	}
	if ((r = wipe(d, fd)) == 0 && (r = table(d, fd, &plan)) == 0 && fsync(fd) < 0) {
		WHY(d, "write error on %s: %s", d->disk, strerror(errno));
		r = -EIO;
	}
	close(fd);
	return r == 0 && plan.grown ? grow_fs(d, &plan, dev) : r;
}
