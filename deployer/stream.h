/* The deploy program's write path. The image's stored bytes (zstd-compressed
 * raw, or raw) go in, in pieces of any size as the HTTP body arrives. Each
 * piece is hashed (the sha256 of the stored bytes names the image),
 * decompressed, and written at its offset on the disk in STREAM_CHUNK
 * writes from a buffer aligned for O_DIRECT. A connection cut in the middle
 * resumes by feeding the rest: the decoder's state is kept, so the caller
 * asks for Range: bytes=stored- and goes on. Nothing here reads a clock or
 * the network. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/sha256.h"

#define STREAM_CHUNK (4u << 20) /* bytes per write */
#define STREAM_ALIGN 4096u      /* O_DIRECT: buffer, offsets and lengths */

struct stream {
	int fd;
	bool zstd;
	void *z; /* ZSTD_DStream */
	struct bm_sha256 h;
	uint8_t *buf; /* STREAM_CHUNK, aligned to STREAM_ALIGN */
	size_t fill;
	uint64_t stored;  /* stored bytes fed */
	uint64_t written; /* raw bytes written */
	uint64_t limit;   /* the disk's size: an image past it is refused */
	bool frame_done;  /* zstd: the frame ended (more input is an error) */
};

/* Write to fd (O_DIRECT or not) at most `limit` bytes. Returns 0 or
 * -ENOMEM. */
int stream_open(struct stream *s, int fd, bool zstd, uint64_t limit);
/* Feed stored bytes. Returns 0, -EBADMSG (not zstd, corrupt, or bytes after
 * the frame), -ENOSPC (the image is larger than the disk), -errno (a write
 * failed; the disk's error). */
int stream_feed(struct stream *s, const void *p, size_t n);
/* Write what is left, sync, and check the stored bytes against `want`.
 * Returns 0 with the raw bytes written, -EBADMSG (digest mismatch, or a
 * zstd frame cut short), -errno. */
int stream_finish(struct stream *s, const uint8_t want[BM_SHA256_LEN], uint64_t *ret_raw);
void stream_close(struct stream *s);
