/* A small DHCP packet builder for tests: header fields, options in order,
 * end option. */
#pragma once
#include <stdint.h>
#include <string.h>

#include "dhcp_wire.h"

struct pkt {
	uint8_t b[2048];
	size_t len;
};

static inline void
pkt_init_mac(struct pkt *p, uint8_t op, const uint8_t mac[6], uint32_t xid)
{
	memset(p, 0, sizeof(*p));
	p->b[0] = op;
	p->b[1] = 1;
	p->b[2] = 6;
	p->b[4] = (uint8_t)(xid >> 24), p->b[5] = (uint8_t)(xid >> 16);
	p->b[6] = (uint8_t)(xid >> 8), p->b[7] = (uint8_t)xid;
	memcpy(p->b + 28, mac, 6);
	p->b[236] = 0x63, p->b[237] = 0x82, p->b[238] = 0x53, p->b[239] = 0x63;
	p->len = 240;
}

static inline void
pkt_set_be32(struct pkt *p, size_t off, uint32_t v)
{
	p->b[off] = (uint8_t)(v >> 24), p->b[off + 1] = (uint8_t)(v >> 16);
	p->b[off + 2] = (uint8_t)(v >> 8), p->b[off + 3] = (uint8_t)v;
}

static inline void
pkt_ciaddr(struct pkt *p, uint32_t ip)
{
	pkt_set_be32(p, 12, ip);
}
static inline void
pkt_giaddr(struct pkt *p, uint32_t ip)
{
	pkt_set_be32(p, 24, ip);
}
static inline void
pkt_broadcast(struct pkt *p)
{
	p->b[10] = 0x80;
}

static inline void
pkt_opt(struct pkt *p, uint8_t code, const void *v, uint8_t len)
{
	p->b[p->len++] = code;
	p->b[p->len++] = len;
	memcpy(p->b + p->len, v, len);
	p->len += len;
}

static inline void
pkt_opt_be32(struct pkt *p, uint8_t code, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	pkt_opt(p, code, b, 4);
}

static inline void
pkt_opt_str(struct pkt *p, uint8_t code, const char *s)
{
	pkt_opt(p, code, s, (uint8_t)strlen(s));
}

static inline void
pkt_end(struct pkt *p)
{
	p->b[p->len++] = DHCP_OPT_END;
}
