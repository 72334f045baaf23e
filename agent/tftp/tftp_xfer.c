#include "tftp_xfer.h"

#include <errno.h>
#include <string.h>

void
tftp_xfer_init(struct tftp_xfer *x, uint64_t size, uint32_t blksize, uint16_t window, bool oack)
{
	memset(x, 0, sizeof(*x));
	x->size = size;
	x->blksize = blksize;
	x->window = window ? window : 1;
	/* A size that is a multiple of blksize ends with an empty block. */
	x->nblocks = size / blksize + 1;
	x->oack = oack;
}

static void
window_from(struct tftp_xfer *x, uint64_t first, struct tftp_send *s)
{
	uint64_t last = first + x->window - 1;

	s->oack = false;
	s->first = first;
	s->last = last > x->nblocks ? x->nblocks : last;
	if (s->last > x->sent)
		x->sent = s->last;
}

void
tftp_xfer_start(struct tftp_xfer *x, struct tftp_send *s)
{
	if (x->oack) {
		memset(s, 0, sizeof(*s));
		s->oack = true;
		s->first = 1; /* first > last: no blocks */
		return;
	}
	window_from(x, 1, s);
}

int
tftp_xfer_ack(struct tftp_xfer *x, uint16_t block, struct tftp_send *s)
{
	uint64_t b;

	if (x->done)
		return 0;
	if (x->oack) {
		if (block != 0)
			return 0;
		x->oack = false; /* RFC 2347: ACK 0 confirms the options */
		x->tries = 0;
		window_from(x, 1, s);
		return 1;
	}
	/* The 64-bit block this 16-bit number stands for: the one after acked
	 * with the same low bits. Beyond what was sent, or not beyond acked:
	 * a stale or duplicate ACK. */
	b = x->acked + (uint16_t)(block - (uint16_t)x->acked);
	if (b <= x->acked || b > x->sent)
		return 0;
	x->acked = b;
	x->tries = 0;
	if (b == x->nblocks) {
		x->done = true;
		return 2;
	}
	/* The whole window, or a gap the client saw: go on from b + 1. */
	window_from(x, b + 1, s);
	return 1;
}

int
tftp_xfer_timeout(struct tftp_xfer *x, unsigned max_tries, struct tftp_send *s)
{
	if (++x->tries > max_tries)
		return -ETIMEDOUT;
	if (x->oack) {
		tftp_xfer_start(x, s);
		return 1;
	}
	window_from(x, x->acked + 1, s);
	return 1;
}

uint32_t
tftp_xfer_block_len(const struct tftp_xfer *x, uint64_t b)
{
	uint64_t off = (b - 1) * x->blksize;

	if (b < 1 || off >= x->size)
		return 0;
	return x->size - off < x->blksize ? (uint32_t)(x->size - off) : x->blksize;
}
