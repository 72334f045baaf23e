/* The image from the agent into the write path (libcurl): one GET, and
 * after a cut connection a GET of the rest (Range: bytes=N-, where N is
 * the stored bytes the stream has taken; the decoder's state is kept), as
 * long as each try makes progress. */
#pragma once
#include <stdint.h>

#include "stream.h"

#define FETCH_TRIES 8    /* tries in a row that move no byte */
#define FETCH_STALL_S 30 /* under 1 KiB/s this long: the connection is dead */
#define FETCH_CONNECT_S 10

/* Called as raw bytes are written, at most once a second. */
typedef void (*fetch_progress_fn)(void *arg, uint64_t raw);

/* Returns 0 when every stored byte went in, the stream's refusal
 * (-EBADMSG, -ENOSPC, -errno of a write), -EPROTO (the agent answered a
 * Range with another range or the whole body), or -EIO (the agent did not
 * answer FETCH_TRIES times in a row); why says which. */
int fetch_image(const char *url, struct stream *s, fetch_progress_fn fn, void *arg, char *why,
                size_t wlen);

/* The image's raw (decompressed) size, from the zstd frame header (its
 * first bytes, by Range) or a raw image's length. Returns 0 with *ret (0:
 * the frame does not say), or -EIO. */
int fetch_raw_size(const char *url, bool zstd, uint64_t *ret);
