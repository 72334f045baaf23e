#define _GNU_SOURCE /* O_DIRECT */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

int
stream_open(struct stream *s, int fd, bool zstd, uint64_t limit)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->zstd = zstd;
	s->limit = limit;
	bm_sha256_init(&s->h);
	if (posix_memalign((void **)&s->buf, STREAM_ALIGN, STREAM_CHUNK) != 0)
		return -ENOMEM;
	if (zstd && (!(s->z = ZSTD_createDStream()) || ZSTD_isError(ZSTD_initDStream(s->z)))) {
		stream_close(s);
		return -ENOMEM;
	}
	return 0;
}

/* Write the buffer's first n bytes at the written offset. */
static int
put(struct stream *s, size_t n)
{
	for (size_t done = 0; done < n;) {
		ssize_t w = pwrite(s->fd, s->buf + done, n - done, (off_t)(s->written + done));
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		done += (size_t)w;
	}
	s->written += n;
	memmove(s->buf, s->buf + n, s->fill - n);
	s->fill -= n;
	return 0;
}

/* Raw bytes into the buffer, written whenever it is full. */
static int
take(struct stream *s, const uint8_t *p, size_t n)
{
	int r;

	if (s->written + s->fill + n > s->limit)
		return -ENOSPC;
	while (n) {
		size_t k = STREAM_CHUNK - s->fill < n ? STREAM_CHUNK - s->fill : n;
		memcpy(s->buf + s->fill, p, k);
		s->fill += k;
		p += k;
		n -= k;
		if (s->fill == STREAM_CHUNK && (r = put(s, STREAM_CHUNK)) < 0)
			return r;
	}
	return 0;
}

/* zstd: decompress straight into the buffer's free room. */
static int
inflate(struct stream *s, const void *p, size_t n)
{
	ZSTD_inBuffer in = { p, n, 0 };
	int r;

	while (in.pos < in.size) {
		if (s->frame_done)
			return -EBADMSG; /* bytes after the image's frame */
		ZSTD_outBuffer out = { s->buf + s->fill, STREAM_CHUNK - s->fill, 0 };
		size_t z = ZSTD_decompressStream(s->z, &out, &in);
		if (ZSTD_isError(z))
			return -EBADMSG;
		s->frame_done = z == 0;
		if (s->written + s->fill + out.pos > s->limit)
			return -ENOSPC;
		s->fill += out.pos;
		if (s->fill == STREAM_CHUNK && (r = put(s, STREAM_CHUNK)) < 0)
			return r;
	}
	return 0;
}

int
stream_feed(struct stream *s, const void *p, size_t n)
{
	bm_sha256_update(&s->h, p, n);
	s->stored += n;
	return s->zstd ? inflate(s, p, n) : take(s, p, n);
}

int
stream_finish(struct stream *s, const uint8_t want[BM_SHA256_LEN], uint64_t *ret_raw)
{
	uint8_t got[BM_SHA256_LEN];
	size_t whole = s->fill / STREAM_ALIGN * STREAM_ALIGN;
	int r, fl;

	if (s->zstd && !s->frame_done)
		return -EBADMSG; /* cut short */
	bm_sha256_final(&s->h, got);
	if (memcmp(got, want, BM_SHA256_LEN))
		return -EBADMSG;
	if (whole && (r = put(s, whole)) < 0)
		return r;
	/* The tail is not a whole block: written without O_DIRECT. */
	if (s->fill && (fl = fcntl(s->fd, F_GETFL)) >= 0 && (fl & O_DIRECT))
		fcntl(s->fd, F_SETFL, fl & ~O_DIRECT);
	if (s->fill && (r = put(s, s->fill)) < 0)
		return r;
	if (fdatasync(s->fd) < 0)
		return -errno;
	*ret_raw = s->written;
	return 0;
}

void
stream_close(struct stream *s)
{
	if (s->z)
		ZSTD_freeDStream(s->z);
	free(s->buf);
	s->z = NULL;
	s->buf = NULL;
}
