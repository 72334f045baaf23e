#include "dhcp_wire.h"

#include <errno.h>
#include <string.h>

#include "bm/rd.h"
#include "bm/wr.h"

/* Where a region of options lies: the options field, then (with overload)
 * the file field, then the sname field, in that order (RFC 3396 5). */
struct region {
	const uint8_t *p;
	size_t len;
	bool need_end; /* the options field must end with option 255 */
};

/* Walk one region. For each option, call visit(code, value, len). Returns 0,
 * or -EBADMSG for an option running past the region or a missing end. */
static int
walk(const struct region *g, void (*visit)(void *, uint8_t, const uint8_t *, uint8_t), void *arg)
{
	struct bm_rd rd;
	uint8_t code, len;
	const uint8_t *val;

	bm_rd_init(&rd, g->p, g->len);
	while (bm_rd_u8(&rd, &code) == 0) {
		if (code == DHCP_OPT_PAD)
			continue;
		if (code == DHCP_OPT_END)
			return 0;
		if (bm_rd_u8(&rd, &len) < 0 || bm_rd_bytes(&rd, len, &val) < 0)
			return -EBADMSG;
		visit(arg, code, val, len);
	}
	return g->need_end ? -EBADMSG : 0;
}

/* Pass 1: total length and number of parts per code. */
struct tally {
	uint16_t total[256];
	uint8_t parts[256];
	const uint8_t *first[256];
};

static void
tally_cb(void *arg, uint8_t code, const uint8_t *val, uint8_t len)
{
	struct tally *t = arg;
	if (t->parts[code]++ == 0)
		t->first[code] = val;
	t->total[code] = (uint16_t)(t->total[code] + len);
}

/* Pass 2: parts of repeated codes are appended in order into scratch. */
struct gather {
	struct dhcp_msg *m;
	const struct tally *t;
};

static void
gather_cb(void *arg, uint8_t code, const uint8_t *val, uint8_t len)
{
	struct gather *g = arg;
	struct dhcp_opt *o = &g->m->opt[code];

	if (g->t->parts[code] < 2)
		return;
	memcpy((uint8_t *)o->p + o->len, val, len);
	o->len = (uint16_t)(o->len + len);
}

/* Lay out the option table from the tally: a single part is a view into
 * the packet, several parts get room in scratch for their concatenation. */
static void
layout(struct dhcp_msg *m, const struct tally *t)
{
	size_t used = 0;

	for (unsigned c = 1; c < 255; c++) {
		if (!t->parts[c])
			continue;
		m->opt[c].present = true;
		if (t->parts[c] == 1) {
			m->opt[c].p = t->first[c];
			m->opt[c].len = t->total[c];
		} else {
			/* Fits: all parts together are shorter than the packet. */
			m->opt[c].p = m->scratch + used;
			m->opt[c].len = 0;
			used += t->total[c];
		}
	}
}

static int
parse_header(struct bm_rd *rd, uint8_t op, struct dhcp_msg *m)
{
	const uint8_t *chaddr, *skip;
	uint32_t magic;

	if (bm_rd_u8(rd, &m->op) < 0 || bm_rd_u8(rd, &m->htype) < 0 || bm_rd_u8(rd, &m->hlen) < 0 ||
	    bm_rd_u8(rd, &m->hops) < 0 || bm_rd_be32(rd, &m->xid) < 0 ||
	    bm_rd_be16(rd, &m->secs) < 0 || bm_rd_be16(rd, &m->flags) < 0 ||
	    bm_rd_be32(rd, &m->ciaddr) < 0 || bm_rd_be32(rd, &m->yiaddr) < 0 ||
	    bm_rd_be32(rd, &m->siaddr) < 0 || bm_rd_be32(rd, &m->giaddr) < 0 ||
	    bm_rd_bytes(rd, 16, &chaddr) < 0 || bm_rd_bytes(rd, 64 + 128, &skip) < 0 ||
	    bm_rd_be32(rd, &magic) < 0)
		return -EMSGSIZE;
	memcpy(m->chaddr, chaddr, 16);
	if (m->op != op || magic != DHCP_MAGIC)
		return -EPROTO;
	if (m->hlen > 16)
		return -EBADMSG;
	if (m->htype != 1 || m->hlen != 6)
		return -EPROTONOSUPPORT;
	return 0;
}

int
dhcp_msg_parse(const uint8_t *pkt, size_t len, struct dhcp_msg *m)
{
	return dhcp_msg_parse_as(pkt, len, DHCP_BOOTREQUEST, m);
}

int
dhcp_msg_parse_as(const uint8_t *pkt, size_t len, uint8_t op, struct dhcp_msg *m)
{
	struct region g[3];
	struct tally t;
	struct gather ga = { m, &t };
	struct bm_rd rd;
	unsigned ng = 1;
	int r;

	memset(m, 0, offsetof(struct dhcp_msg, scratch)); /* set on every path */
	if (len < DHCP_MIN_LEN || len > DHCP_PKT_MAX)
		return -EMSGSIZE;
	bm_rd_init(&rd, pkt, len);
	if ((r = parse_header(&rd, op, m)) < 0)
		return r;
	memset(&t, 0, sizeof(t));
	g[0] = (struct region){ pkt + DHCP_MIN_LEN, len - DHCP_MIN_LEN, true };
	if ((r = walk(&g[0], tally_cb, &t)) < 0)
		return r;
	/* Option 52 lives only in the options field (RFC 2131 4.1). */
	if (t.parts[DHCP_OPT_OVERLOAD] == 1 && t.total[DHCP_OPT_OVERLOAD] == 1)
		m->overload = t.first[DHCP_OPT_OVERLOAD][0] & 3;
	if (m->overload & 1)
		g[ng++] = (struct region){ pkt + 108, 128, false };
	if (m->overload & 2)
		g[ng++] = (struct region){ pkt + 44, 64, false };
	for (unsigned i = 1; i < ng; i++)
		if ((r = walk(&g[i], tally_cb, &t)) < 0)
			return r;
	layout(m, &t);
	for (unsigned i = 0; i < ng; i++)
		walk(&g[i], gather_cb, &ga);
	if (!m->opt[DHCP_OPT_MSG_TYPE].present)
		return -EPROTO; /* BOOTP: not served */
	if (m->opt[DHCP_OPT_MSG_TYPE].len != 1 || m->opt[DHCP_OPT_MSG_TYPE].p[0] < DHCP_DISCOVER ||
	    m->opt[DHCP_OPT_MSG_TYPE].p[0] > DHCP_INFORM)
		return -EBADMSG;
	m->type = m->opt[DHCP_OPT_MSG_TYPE].p[0];
	return 0;
}

int
dhcp_opt_u8(const struct dhcp_msg *m, uint8_t code, uint8_t *ret)
{
	const struct dhcp_opt *o = &m->opt[code];
	if (!o->present)
		return -ENOENT;
	if (o->len != 1)
		return -EBADMSG;
	*ret = o->p[0];
	return 0;
}

int
dhcp_opt_be16(const struct dhcp_msg *m, uint8_t code, uint16_t *ret)
{
	const struct dhcp_opt *o = &m->opt[code];
	if (!o->present)
		return -ENOENT;
	if (o->len != 2)
		return -EBADMSG;
	*ret = (uint16_t)(o->p[0] << 8 | o->p[1]);
	return 0;
}

int
dhcp_opt_be32(const struct dhcp_msg *m, uint8_t code, uint32_t *ret)
{
	const struct dhcp_opt *o = &m->opt[code];
	if (!o->present)
		return -ENOENT;
	if (o->len != 4)
		return -EBADMSG;
	*ret = (uint32_t)o->p[0] << 24 | (uint32_t)o->p[1] << 16 | (uint32_t)o->p[2] << 8 | o->p[3];
	return 0;
}

bool
dhcp_opt_equals(const struct dhcp_msg *m, uint8_t code, const void *s, size_t n)
{
	const struct dhcp_opt *o = &m->opt[code];
	return o->present && o->len == n && memcmp(o->p, s, n) == 0;
}

bool
dhcp_opt_has_prefix(const struct dhcp_msg *m, uint8_t code, const void *s, size_t n)
{
	const struct dhcp_opt *o = &m->opt[code];
	return o->present && o->len >= n && memcmp(o->p, s, n) == 0;
}

bool
dhcp_msg_requests(const struct dhcp_msg *m, uint8_t code)
{
	const struct dhcp_opt *o = &m->opt[DHCP_OPT_PARAM_LIST];
	return o->present && memchr(o->p, code, o->len) != NULL;
}

size_t
dhcp_msg_max_reply(const struct dhcp_msg *m)
{
	uint16_t v;
	size_t max = DHCP_DEFAULT_MAX;

	/* RFC 2132 9.10: at least 576; a smaller value is ignored. */
	if (dhcp_opt_be16(m, DHCP_OPT_MAX_SIZE, &v) == 0 && v > DHCP_DEFAULT_MAX)
		max = v;
	max -= DHCP_IP_UDP_HDR;
	return max > DHCP_PKT_MAX ? DHCP_PKT_MAX : max;
}

/* ------------------------------------------------------------- replies */

void
dhcp_reply_init(struct dhcp_reply *r, const struct dhcp_msg *req, uint8_t type)
{
	memset(r, 0, offsetof(struct dhcp_reply, data));
	r->op = DHCP_BOOTREPLY;
	r->htype = req->htype;
	r->hlen = req->hlen;
	r->xid = req->xid;
	r->flags = req->flags;
	r->giaddr = req->giaddr;
	memcpy(r->chaddr, req->chaddr, sizeof(r->chaddr));
	dhcp_reply_set_u8(r, DHCP_OPT_MSG_TYPE, type, true);
}

int
dhcp_reply_set(struct dhcp_reply *r, uint8_t code, const void *data, size_t len, bool required)
{
	if (code == DHCP_OPT_PAD || code == DHCP_OPT_END || len > sizeof(r->data) - r->used)
		return -ENOSPC;
	memcpy(r->data + r->used, data, len);
	r->off[code] = (uint16_t)r->used;
	r->len[code] = (uint16_t)len;
	r->set[code] = true;
	r->required[code] = required;
	r->used += len;
	return 0;
}

int
dhcp_reply_set_u8(struct dhcp_reply *r, uint8_t code, uint8_t v, bool required)
{
	return dhcp_reply_set(r, code, &v, 1, required);
}

int
dhcp_reply_set_be32(struct dhcp_reply *r, uint8_t code, uint32_t v, bool required)
{
	uint8_t b[4];
	bm_put_be32(b, v);
	return dhcp_reply_set(r, code, b, 4, required);
}

/* Bytes option `code` takes on the wire: split in 255-byte parts. */
static size_t
opt_wire_len(const struct dhcp_reply *r, unsigned code)
{
	size_t n = r->len[code], parts = n == 0 ? 1 : (n + 254) / 255;
	return n + 2 * parts;
}

static size_t
put_opt(const struct dhcp_reply *r, unsigned code, uint8_t *out)
{
	const uint8_t *v = r->data + r->off[code];
	size_t left = r->len[code], o = 0;

	do {
		size_t part = left > 255 ? 255 : left;
		out[o++] = (uint8_t)code;
		out[o++] = (uint8_t)part;
		memcpy(out + o, v, part);
		o += part;
		v += part;
		left -= part;
	} while (left > 0);
	return o;
}

/* The fixed header (RFC 2131 2), 240 bytes with the magic cookie. */
static void
put_header(const struct dhcp_reply *r, uint8_t *out)
{
	struct bm_wr w;

	bm_wr_init(&w, out, DHCP_MIN_LEN);
	bm_wr_u8(&w, r->op);
	bm_wr_u8(&w, r->htype);
	bm_wr_u8(&w, r->hlen);
	bm_wr_u8(&w, r->hops);
	bm_wr_be32(&w, r->xid);
	bm_wr_be16(&w, r->secs);
	bm_wr_be16(&w, r->flags);
	bm_wr_be32(&w, r->ciaddr);
	bm_wr_be32(&w, r->yiaddr);
	bm_wr_be32(&w, r->siaddr);
	bm_wr_be32(&w, r->giaddr);
	bm_wr_bytes(&w, r->chaddr, 16);
	bm_wr_bytes(&w, NULL, 64 + 128); /* sname and file, zeroed, then filled */
	memcpy(out + 44, r->sname, strnlen(r->sname, sizeof(r->sname)));
	memcpy(out + 108, r->file, strnlen(r->file, sizeof(r->file)));
	bm_wr_be32(&w, DHCP_MAGIC);
}

long
dhcp_reply_build(const struct dhcp_reply *r, size_t max, uint8_t *out, size_t cap)
{
	bool emit[256] = { false };
	size_t size = DHCP_MIN_LEN + 1, o; /* header, cookie, end */

	if (max > cap)
		max = cap;
	for (unsigned c = 1; c < 255; c++)
		if (r->set[c] && r->required[c]) {
			size += opt_wire_len(r, c);
			emit[c] = true;
		}
	if (size > max)
		return -EMSGSIZE;
	for (unsigned c = 1; c < 255; c++)
		if (r->set[c] && !r->required[c] && size + opt_wire_len(r, c) <= max) {
			size += opt_wire_len(r, c);
			emit[c] = true;
		}
	put_header(r, out);
	o = DHCP_MIN_LEN;
	for (unsigned c = 1; c < 255; c++)
		if (emit[c])
			o += put_opt(r, c, out + o);
	out[o++] = DHCP_OPT_END;
	if (o < DHCP_MIN_REPLY && cap >= DHCP_MIN_REPLY) {
		memset(out + o, 0, DHCP_MIN_REPLY - o);
		o = DHCP_MIN_REPLY;
	}
	return (long)o;
}
