/* The coordinator's blob store: image bytes, content-addressed by sha256.
 * Uploads arrive in chunks into a partial file (so an interrupted push
 * resumes), and become a blob only once their digest is verified. Safe to
 * call from several threads. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BLOB_SIZE_MAX (64ull << 30) /* largest image accepted */
#define BLOB_CHUNK_MAX (4u << 20)   /* largest chunk per request */

struct blobstore;

/* Open (creating) DIR/partial and DIR/sha256. Returns 0 or -errno. */
int blob_open(const char *dir, struct blobstore **ret_bs);
void blob_close(struct blobstore *bs);

/* Start or resume an upload of `size` bytes with digest `sha`. Sets
 * *ret_offset to the bytes already held (size when the blob is complete).
 * Returns 0, -EFBIG (over BLOB_SIZE_MAX), -ENOSPC (not enough disk), -errno. */
int blob_begin(struct blobstore *bs, const uint8_t sha[32], uint64_t size, uint64_t *ret_offset);
/* Append a chunk at `offset`, which must be the partial file's size.
 * Returns 0, -ERANGE (wrong offset: the answer carries none; the client
 * calls blob_begin again), -EFBIG, -ENOENT (no upload begun), -errno. */
int blob_write(struct blobstore *bs, const uint8_t sha[32], uint64_t offset, const void *data,
               size_t len);
/* Verify the upload: size and sha256 of the bytes received. On a match the
 * file is made durable and becomes the blob; on a mismatch the partial
 * file is removed. Returns 0, -EBADMSG (digest mismatch), -EMSGSIZE (size
 * mismatch), -ENOENT, -errno. */
int blob_commit(struct blobstore *bs, const uint8_t sha[32], uint64_t size);
/* Read up to len bytes of a stored blob from offset (fewer at its end).
 * Returns 0 with *ret_n and the blob's *ret_size, -ENOENT (no such blob),
 * -ERANGE (offset past the end), -errno. */
int blob_read(struct blobstore *bs, const uint8_t sha[32], uint64_t offset, void *buf, size_t len,
              size_t *ret_n, uint64_t *ret_size);
/* 1 when the blob is stored, 0 when not. */
int blob_has(struct blobstore *bs, const uint8_t sha[32]);
