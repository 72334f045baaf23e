/* The one bounds-checked reader for bytes from outside. Every getter checks
 * the bound before it reads and fails with -EBADMSG without moving. */
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct bm_rd {
	const uint8_t *p;
	size_t left;
};

static inline void
bm_rd_init(struct bm_rd *r, const void *p, size_t len)
{
	r->p = p;
	r->left = len;
}

static inline int
bm_rd_u8(struct bm_rd *r, uint8_t *ret)
{
	if (r->left < 1)
		return -EBADMSG;
	*ret = r->p[0];
	r->p++;
	r->left--;
	return 0;
}

static inline int
bm_rd_be16(struct bm_rd *r, uint16_t *ret)
{
	if (r->left < 2)
		return -EBADMSG;
	*ret = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	r->left -= 2;
	return 0;
}

static inline int
bm_rd_be32(struct bm_rd *r, uint32_t *ret)
{
	if (r->left < 4)
		return -EBADMSG;
	*ret = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->left -= 4;
	return 0;
}

/* A view of the next n bytes (not copied). */
static inline int
bm_rd_bytes(struct bm_rd *r, size_t n, const uint8_t **ret)
{
	if (r->left < n)
		return -EBADMSG;
	*ret = r->p;
	r->p += n;
	r->left -= n;
	return 0;
}

static inline int
bm_rd_skip(struct bm_rd *r, size_t n)
{
	const uint8_t *ignored;
	return bm_rd_bytes(r, n, &ignored);
}
