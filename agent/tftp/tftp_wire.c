#include "tftp_wire.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bm/rd.h"
#include "bm/wr.h"

/* The next NUL-terminated string of the packet, at most max bytes long.
 * Returns its length, or -EBADMSG when it is not terminated in the packet. */
static long
rd_string(struct bm_rd *rd, const char **ret, size_t max)
{
	const uint8_t *nul = memchr(rd->p, 0, rd->left);
	size_t len;

	if (!nul)
		return -EBADMSG;
	len = (size_t)(nul - rd->p);
	if (len > max)
		return -EBADMSG;
	*ret = (const char *)rd->p;
	bm_rd_skip(rd, len + 1);
	return (long)len;
}

/* A decimal option value in [lo, hi]; -1 when not one. */
static long long
opt_number(const char *s, long long lo, long long hi)
{
	long long v = 0;

	if (!*s || strlen(s) > 19)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		int d = *s - '0';
		/* Past hi is refused before it can overflow (19 nines did:
		 * found by fuzz_tftp). */
		if (v > (hi - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	return v >= lo && v <= hi ? v : -1;
}

static void
option(struct tftp_request *r, const char *name, const char *val)
{
	long long v;

	if (!strcasecmp(name, "blksize") &&
	    (v = opt_number(val, TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX)) >= 0) {
		r->has_blksize = true;
		r->blksize = (uint16_t)v;
	} else if (!strcasecmp(name, "tsize") && (v = opt_number(val, 0, 1ll << 62)) >= 0) {
		r->has_tsize = true;
		r->tsize = (uint64_t)v;
	} else if (!strcasecmp(name, "timeout") && (v = opt_number(val, 1, 255)) >= 0) {
		r->has_timeout = true;
		r->timeout = (uint8_t)v;
	} else if (!strcasecmp(name, "windowsize") && (v = opt_number(val, 1, 65535)) >= 0) {
		r->has_windowsize = true;
		r->windowsize = (uint16_t)v;
	}
	/* Anything else, or a value out of range: ignored (RFC 2347). */
}

int
tftp_request_parse(const uint8_t *p, size_t n, struct tftp_request *r)
{
	struct bm_rd rd;
	uint16_t op;
	const char *file, *mode, *name, *val;
	long flen;

	memset(r, 0, sizeof(*r));
	bm_rd_init(&rd, p, n);
	if (bm_rd_be16(&rd, &op) < 0)
		return -EBADMSG;
	if (op != TFTP_RRQ && op != TFTP_WRQ)
		return -EPROTO;
	r->op = op;
	if ((flen = rd_string(&rd, &file, TFTP_NAME_MAX)) <= 0 || rd_string(&rd, &mode, 32) < 0)
		return -EBADMSG;
	memcpy(r->file, file, (size_t)flen);
	r->file[flen] = '\0';
	if (!strcasecmp(mode, "octet"))
		r->mode = TFTP_MODE_OCTET;
	else if (!strcasecmp(mode, "netascii"))
		r->mode = TFTP_MODE_NETASCII;
	else
		return -EPROTO; /* "mail" and anything else */
	/* Options: name/value pairs; a trailing half pair is ignored. */
	while (rd.left && rd_string(&rd, &name, 64) >= 0 && rd_string(&rd, &val, 32) >= 0)
		option(r, name, val);
	return 0;
}

int
tftp_ack_parse(const uint8_t *p, size_t n, uint16_t *ret_block, uint16_t *ret_op)
{
	struct bm_rd rd;
	uint16_t op, block;

	*ret_block = 0; /* set on every path: the caller reads op after a failure */
	*ret_op = 0;
	bm_rd_init(&rd, p, n);
	if (bm_rd_be16(&rd, &op) < 0)
		return -EBADMSG;
	*ret_op = op;
	if (op != TFTP_ACK)
		return -EPROTO;
	if (bm_rd_be16(&rd, &block) < 0)
		return -EBADMSG;
	*ret_block = block;
	return 0;
}

long
tftp_build_data_header(uint8_t out[TFTP_HDR], uint16_t block)
{
	struct bm_wr w;

	bm_wr_init(&w, out, TFTP_HDR);
	bm_wr_be16(&w, TFTP_DATA);
	bm_wr_be16(&w, block);
	return TFTP_HDR;
}

long
tftp_build_error(uint8_t *out, size_t cap, enum tftp_err code, const char *msg)
{
	size_t len = strlen(msg);
	struct bm_wr w;

	bm_wr_init(&w, out, cap);
	if (bm_wr_be16(&w, TFTP_ERROR) < 0 || bm_wr_be16(&w, code) < 0 ||
	    bm_wr_bytes(&w, msg, len + 1) < 0)
		return -ENOSPC;
	return (long)(5 + len);
}

/* Append "name\0value\0". */
static int
put_opt(uint8_t *out, size_t cap, size_t *o, const char *name, unsigned long long v)
{
	char val[24];
	size_t nl = strlen(name), vl = (size_t)snprintf(val, sizeof(val), "%llu", v);

	if (*o + nl + vl + 2 > cap)
		return -ENOSPC;
	memcpy(out + *o, name, nl + 1);
	memcpy(out + *o + nl + 1, val, vl + 1);
	*o += nl + vl + 2;
	return 0;
}

long
tftp_build_oack(uint8_t *out, size_t cap, const struct tftp_request *g)
{
	size_t o = 2;
	int r = 0;

	if (cap < 2)
		return -ENOSPC;
	out[0] = 0;
	out[1] = TFTP_OACK;
	if (g->has_blksize)
		r |= put_opt(out, cap, &o, "blksize", g->blksize);
	if (g->has_tsize)
		r |= put_opt(out, cap, &o, "tsize", g->tsize);
	if (g->has_timeout)
		r |= put_opt(out, cap, &o, "timeout", g->timeout);
	if (g->has_windowsize)
		r |= put_opt(out, cap, &o, "windowsize", g->windowsize);
	return r ? -ENOSPC : (long)o;
}
