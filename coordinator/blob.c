#include "blob.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bm/sha256.h"

struct blobstore {
	pthread_mutex_t mu; /* serialises uploads: appends must not interleave */
	int partial_fd;     /* DIR/partial */
	int blobs_fd;       /* DIR/sha256 */
};

static int
open_dir(int parent, const char *name)
{
	int fd;
	if (mkdirat(parent, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
blob_open(const char *dir, struct blobstore **ret_bs)
{
	struct blobstore *bs = calloc(1, sizeof(*bs));
	int top, r = 0;

	if (!bs)
		return -ENOMEM;
	bs->partial_fd = bs->blobs_fd = -1;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		r = -errno;
	top = r < 0 ? -1 : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r == 0 && top < 0)
		r = -errno;
	if (r == 0 && (r = bs->partial_fd = open_dir(top, "partial")) >= 0)
		r = bs->blobs_fd = open_dir(top, "sha256");
	if (top >= 0)
		close(top);
	if (r < 0) {
		blob_close(bs);
		return r;
	}
	pthread_mutex_init(&bs->mu, NULL);
	*ret_bs = bs;
	return 0;
}

void
blob_close(struct blobstore *bs)
{
	if (!bs)
		return;
	if (bs->partial_fd >= 0)
		close(bs->partial_fd);
	if (bs->blobs_fd >= 0) {
		close(bs->blobs_fd);
		pthread_mutex_destroy(&bs->mu);
	}
	free(bs);
}

static int
blob_exists(struct blobstore *bs, const char *hex)
{
	struct stat st;
	if (fstatat(bs->blobs_fd, hex, &st, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int
blob_has(struct blobstore *bs, const uint8_t sha[32])
{
	char hex[BM_SHA256_HEX];
	return blob_exists(bs, bm_sha256_hex(sha, hex)) == 1;
}

int
blob_begin(struct blobstore *bs, const uint8_t sha[32], uint64_t size, uint64_t *ret_offset)
{
	char hex[BM_SHA256_HEX];
	struct statvfs vfs;
	struct stat st;
	int fd, r;

	if (size > BLOB_SIZE_MAX)
		return -EFBIG;
	bm_sha256_hex(sha, hex);
	pthread_mutex_lock(&bs->mu);
	if ((r = blob_exists(bs, hex)) != 0) {
		if (r == 1)
			*ret_offset = size;
		goto out;
	}
	fd = openat(bs->partial_fd, hex, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st) < 0 || fstatvfs(fd, &vfs) < 0) {
		r = -errno;
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	if ((uint64_t)st.st_size > size) {
		/* Left by an upload of other bytes under the same digest claim. */
		unlinkat(bs->partial_fd, hex, 0);
		st.st_size = 0;
	}
	if ((uint64_t)vfs.f_bavail * vfs.f_frsize < size - (uint64_t)st.st_size)
		r = -ENOSPC;
	else
		*ret_offset = (uint64_t)st.st_size;
out:
	pthread_mutex_unlock(&bs->mu);
	return r;
}

int
blob_write(struct blobstore *bs, const uint8_t sha[32], uint64_t offset, const void *data,
           size_t len)
{
	char hex[BM_SHA256_HEX];
	struct stat st;
	int fd, r = 0;

	if (len > BLOB_CHUNK_MAX || offset > BLOB_SIZE_MAX || len > BLOB_SIZE_MAX - offset)
		return -EFBIG;
	bm_sha256_hex(sha, hex);
	pthread_mutex_lock(&bs->mu);
	fd = openat(bs->partial_fd, hex, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if ((uint64_t)st.st_size != offset)
		r = -ERANGE;
	for (size_t done = 0; r == 0 && done < len;) {
		ssize_t n =
		    pwrite(fd, (const char *)data + done, len - done, (off_t)(offset + done));
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			done += (size_t)n;
	}
	if (r < 0 && r != -ERANGE && ftruncate(fd, (off_t)offset) < 0)
		r = -errno; /* never leave a torn chunk behind */
	close(fd);
out:
	pthread_mutex_unlock(&bs->mu);
	return r;
}

/* Hash the partial file; on a match make it durable and move it in. */
static int
verify_and_move(struct blobstore *bs, const char *hex, const uint8_t sha[32], uint64_t size)
{
	uint8_t got[BM_SHA256_LEN];
	uint64_t have;
	int fd, r;

	fd = openat(bs->partial_fd, hex, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = bm_sha256_fd(fd, got, &have);
	if (r == 0 && have != size)
		r = -EMSGSIZE;
	else if (r == 0 && memcmp(got, sha, BM_SHA256_LEN))
		r = -EBADMSG;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == -EMSGSIZE && have < size)
		return r; /* incomplete: keep it, the push can resume */
	if (r < 0) {
		unlinkat(bs->partial_fd, hex, 0);
		return r;
	}
	if (renameat(bs->partial_fd, hex, bs->blobs_fd, hex) < 0 || fsync(bs->blobs_fd) < 0)
		return -errno;
	return 0;
}

int
blob_commit(struct blobstore *bs, const uint8_t sha[32], uint64_t size)
{
	char hex[BM_SHA256_HEX];
	int r;

	bm_sha256_hex(sha, hex);
	pthread_mutex_lock(&bs->mu);
	struct stat st;
	r = blob_exists(bs, hex);
	if (r == 0)
		r = verify_and_move(bs, hex, sha, size);
	else if (r == 1) /* already stored, verified when it was */
		r = fstatat(bs->blobs_fd, hex, &st, 0) < 0 ? -errno
		    : (uint64_t)st.st_size != size         ? -EMSGSIZE
		                                           : 0;
	pthread_mutex_unlock(&bs->mu);
	return r;
}

int
blob_read(struct blobstore *bs, const uint8_t sha[32], uint64_t offset, void *buf, size_t len,
          size_t *ret_n, uint64_t *ret_size)
{
	char hex[BM_SHA256_HEX];
	struct stat st;
	ssize_t n = 0;
	int fd = openat(bs->blobs_fd, bm_sha256_hex(sha, hex), O_RDONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (offset > (uint64_t)st.st_size)
		r = -ERANGE;
	else if (len && (n = pread(fd, buf, len, (off_t)offset)) < 0)
		r = -errno;
	close(fd);
	if (r == 0) {
		*ret_n = (size_t)n;
		*ret_size = (uint64_t)st.st_size;
	}
	return r;
}
