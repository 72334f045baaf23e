/* The writer twin of bm_rd: bytes for the wire or for sortable keys. Every
 * putter checks the room before it writes and fails with -ENOSPC without
 * moving. Plus the fixed-place big-endian helpers for keys and headers. */
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bm_wr {
	uint8_t *p;
	size_t left;
};

static inline void
bm_wr_init(struct bm_wr *w, void *p, size_t cap)
{
	w->p = p;
	w->left = cap;
}

/* Write n bytes (or, with p NULL, n zero bytes). */
static inline int
bm_wr_bytes(struct bm_wr *w, const void *p, size_t n)
{
	if (w->left < n)
		return -ENOSPC;
	if (p)
		memcpy(w->p, p, n);
	else
		memset(w->p, 0, n);
	w->p += n;
	w->left -= n;
	return 0;
}

static inline int
bm_wr_u8(struct bm_wr *w, uint8_t v)
{
	return bm_wr_bytes(w, &v, 1);
}

static inline int
bm_wr_be16(struct bm_wr *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	return bm_wr_bytes(w, b, 2);
}

static inline int
bm_wr_be32(struct bm_wr *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	return bm_wr_bytes(w, b, 4);
}

static inline int
bm_wr_be64(struct bm_wr *w, uint64_t v)
{
	uint8_t b[8];
	for (int i = 7; i >= 0; i--, v >>= 8)
		b[i] = (uint8_t)v;
	return bm_wr_bytes(w, b, 8);
}

/* Fixed places (the caller sized the buffer). */
static inline void
bm_put_be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24), out[1] = (uint8_t)(v >> 16), out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static inline void
bm_put_be64(uint8_t out[8], uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		out[i] = (uint8_t)v;
}

static inline uint16_t
bm_get_be16(const uint8_t in[2])
{
	return (uint16_t)(in[0] << 8 | in[1]);
}

static inline uint32_t
bm_get_be32(const uint8_t in[4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

static inline uint64_t
bm_get_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | in[i];
	return v;
}

/* Little-endian fixed places (on-disk formats: GPT, FAT). */
static inline void
bm_put_le(uint8_t *out, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++, v >>= 8)
		out[i] = (uint8_t)v;
}

static inline uint64_t
bm_get_le(const uint8_t *in, unsigned n)
{
	uint64_t v = 0;
	for (unsigned i = n; i-- > 0;)
		v = v << 8 | in[i];
	return v;
}
