#include "store_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bm/log.h"

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

static void
boot_id(char *buf, size_t len)
{
	FILE *f = fopen(BOOT_ID_PATH, "r");

	snprintf(buf, len, "unknown");
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

/* Write DATA_DIR/store.state durably: a temporary file, fsync, rename,
 * fsync of the folder. */
static int
write_state(const char *data_dir, const char *state)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8], boot[64], line[96];
	int fd, r = 0, n;

	boot_id(boot, sizeof(boot));
	n = snprintf(line, sizeof(line), "%s %s\n", boot, state);
	snprintf(path, sizeof(path), "%s/store.state", data_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	errno = 0;
	if (write(fd, line, (size_t)n) != n)
		r = errno ? -errno : -EIO;
	else if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r == 0 && (fd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	return r;
}

int
store_guard_begin(const char *data_dir)
{
	char path[PATH_MAX], store[PATH_MAX], aside[PATH_MAX + 32], boot[64], was[64] = "",
	                                                                      state[16] = "";
	int moved = 0, r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/store.state", data_dir);
	if ((f = fopen(path, "r"))) {
		if (fscanf(f, "%63s %15s", was, state) != 2)
			was[0] = state[0] = '\0';
		fclose(f);
	}
	boot_id(boot, sizeof(boot));
	snprintf(store, sizeof(store), "%s/store", data_dir);
	if (!strcmp(state, "open") && strcmp(was, boot) && access(store, F_OK) == 0) {
		snprintf(aside, sizeof(aside), "%s.crashed-%lld", store, (long long)time(NULL));
		if (rename(store, aside) < 0) {
			r = -errno;
			BM_ERROR("coord", "cannot move aside the store path=%s err=\"%s\"", store,
			         strerror(-r));
			return r;
		}
		BM_WARN("coord",
		        "the system went down with the store open (boot %s, now %s): it is "
		        "rebuilt from the Raft snapshot and log; the old one is at %s",
		        was, boot, aside);
		moved = 1;
	}
	if ((r = write_state(data_dir, "open")) < 0) {
		BM_ERROR("coord", "cannot write path=%s err=\"%s\"", path, strerror(-r));
		return r;
	}
	return moved;
}

void
store_guard_end(const char *data_dir)
{
	int r = write_state(data_dir, "clean");
	if (r < 0)
		BM_WARN("coord", "cannot mark the store closed err=\"%s\"", strerror(-r));
}
