/* Snapshots of the store for Raft: a compacting copy of the LMDB
 * environment, and its installation on a node that fell behind. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_priv.h"

int
store_snapshot(struct store *s, uint8_t **ret, size_t *ret_len)
{
	char path[4200];
	struct stat st;
	uint8_t *buf = NULL;
	int fd, rc, r = 0;

	snprintf(path, sizeof(path), "%s/snapshot.tmp", s->dir);
	unlink(path);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	if ((rc = mdb_env_copyfd2(s->env, fd, MDB_CP_COMPACT)) != MDB_SUCCESS)
		r = bm_mdb_errno(rc);
	if (r == 0 && fstat(fd, &st) < 0)
		r = -errno;
	if (r == 0 && !(buf = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	for (size_t done = 0; r == 0 && done < (size_t)st.st_size;) {
		ssize_t n = pread(fd, buf + done, (size_t)st.st_size - done, (off_t)done);
		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	close(fd);
	unlink(path);
	if (r < 0) {
		free(buf);
		return r;
	}
	*ret = buf;
	*ret_len = (size_t)st.st_size;
	return 0;
}

int
store_restore(struct store *s, const uint8_t *data, size_t len)
{
	char tmp[4200], live[4200];
	int fd, r = 0;

	snprintf(tmp, sizeof(tmp), "%s/restore.tmp", s->dir);
	snprintf(live, sizeof(live), "%s/data.mdb", s->dir);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return -errno;
	for (size_t done = 0; done < len && r == 0;) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0)
			r = -errno;
		else
			done += (size_t)n;
	}
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* No reader may hold the old environment while it is swapped. */
	pthread_rwlock_wrlock(&s->swap);
	mdb_env_close(s->env);
	s->env = NULL;
	if (rename(tmp, live) < 0)
		r = -errno;
	int e = st_env_open(s); /* the old file if the rename failed */
	pthread_rwlock_unlock(&s->swap);
	return r < 0 ? r : e;
}
