/* The DHCP server core (RFC 2131 4.3, with what real firmware needs; see
 * docs/firmware.md sections 1 and 2). */
#include "dhcp_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/wr.h"

struct ctx {
	struct dhcp_server *s;
	const struct dhcp_rx *rx;
	const struct dhcp_segment *seg;
	const struct dhcp_msg *m;
	uint64_t now;
	struct dhcp_decision *d;
	struct lease_key key;
	bool known;
	struct dhcp_host host;
	struct pxe_client pxe;
	struct dhcp_reply r;
};

void
dhcp_client_key(const struct dhcp_msg *m, struct lease_key *k)
{
	const struct dhcp_opt *o = &m->opt[DHCP_OPT_CLIENT_ID];

	if (o->present && o->len >= 2 && o->len <= DHCP_CLIENT_KEY_MAX) {
		k->len = (uint8_t)o->len;
		memcpy(k->b, o->p, o->len);
		return;
	}
	k->len = 7;
	k->b[0] = 1;
	memcpy(k->b + 1, m->chaddr, 6);
}

static bool
in_subnet(const struct dhcp_segment *g, uint32_t ip)
{
	return bm_ip4_is_host(ip, g->network, g->prefix_len);
}

static bool
in_pool(const struct dhcp_segment *g, uint32_t ip)
{
	return g->pool_start && ip >= g->pool_start && ip <= g->pool_end;
}

static bool
reserved(struct ctx *c, uint32_t ip)
{
	return c->s->view.reserved && c->s->view.reserved(c->s->view.arg, ip);
}

static bool
pool_taken_cb(void *arg, uint32_t ip)
{
	struct ctx *c = arg;
	return reserved(c, ip) || ip == c->seg->server_ip || ip == c->seg->gateway;
}

/* ------------------------------------------------------------- replies */

/* Optional options go only when asked for (55), or when no list is sent. */
static bool
wanted(struct ctx *c, uint8_t code)
{
	return !c->m->opt[DHCP_OPT_PARAM_LIST].present || dhcp_msg_requests(c->m, code);
}

/* An unknown MAC's lease is short, so a host making up MACs cannot hold
 * the discovery pool for long. */
static uint32_t
lease_secs(const struct ctx *c)
{
	const struct dhcp_config *cfg = c->s->cfg;

	return !c->known && cfg->unknown_lease_secs && cfg->unknown_lease_secs < cfg->lease_secs
	           ? cfg->unknown_lease_secs
	           : cfg->lease_secs;
}

static void
network_opts(struct ctx *c, bool lease)
{
	const struct dhcp_segment *g = c->seg;
	struct dhcp_reply *r = &c->r;
	uint32_t mask = bm_ip4_mask(g->prefix_len), secs = lease_secs(c);
	uint8_t dns[16];

	if (lease) {
		dhcp_reply_set_be32(r, DHCP_OPT_LEASE_TIME, secs, true);
		dhcp_reply_set_be32(r, DHCP_OPT_RENEWAL, secs / 2, false);
		dhcp_reply_set_be32(r, DHCP_OPT_REBINDING, secs / 8 * 7, false);
	}
	if (wanted(c, DHCP_OPT_SUBNET_MASK))
		dhcp_reply_set_be32(r, DHCP_OPT_SUBNET_MASK, mask, false);
	if (g->gateway && wanted(c, DHCP_OPT_ROUTER))
		dhcp_reply_set_be32(r, DHCP_OPT_ROUTER, g->gateway, false);
	if (wanted(c, DHCP_OPT_BROADCAST))
		dhcp_reply_set_be32(r, DHCP_OPT_BROADCAST, g->network | ~mask, false);
	for (unsigned i = 0; i < g->n_dns && i < 4; i++)
		bm_put_be32(dns + 4 * i, g->dns[i]);
	if (g->n_dns && wanted(c, DHCP_OPT_DNS))
		dhcp_reply_set(r, DHCP_OPT_DNS, dns, 4 * (g->n_dns > 4 ? 4 : g->n_dns), false);
	if (c->known && *c->host.name && wanted(c, DHCP_OPT_HOSTNAME))
		dhcp_reply_set(r, DHCP_OPT_HOSTNAME, c->host.name, strlen(c->host.name), false);
}

/* Boot information for PXE and iPXE clients. */
static void
boot_opts(struct ctx *c)
{
	const struct dhcp_config *cfg = c->s->cfg;
	struct pxe_policy pol = { &cfg->boot, c->seg->server_ip, cfg->http_port, cfg->chain_ipxe,
		                  cfg->proxy };
	struct pxe_boot b;
	struct dhcp_reply *r = &c->r;
	char ip[BM_IP4_STR];

	struct pxe_machine pm = { c->known && c->host.netboot, c->known && c->host.local_boot,
		                  c->known && c->host.grub };

	pxe_decide(&pol, &c->pxe, &pm, c->m->chaddr, &b);
	if (b.vendor_class)
		dhcp_reply_set(r, DHCP_OPT_VENDOR_CLASS, b.vendor_class, strlen(b.vendor_class),
		               true);
	/* 43 steers PXE firmware; HTTP boot and iPXE have no use for it. */
	if (c->pxe.pxe && !c->pxe.http && !c->pxe.ipxe && (b.boot || cfg->proxy))
		dhcp_reply_set(r, DHCP_OPT_VENDOR, pxe_vendor_opts, sizeof(pxe_vendor_opts), true);
	if (c->m->opt[DHCP_OPT_CLIENT_UUID].present && c->pxe.pxe)
		dhcp_reply_set(r, DHCP_OPT_CLIENT_UUID, c->m->opt[DHCP_OPT_CLIENT_UUID].p,
		               c->m->opt[DHCP_OPT_CLIENT_UUID].len, true);
	if (!b.boot) {
		if (b.why && !c->d->why)
			c->d->why = b.why;
		return;
	}
	c->d->booted = true;
	snprintf(r->file, sizeof(r->file), "%s", b.file);
	dhcp_reply_set(r, DHCP_OPT_BOOTFILE, b.file, strlen(b.file), true);
	/* next-server with every boot file, an http:// one too: iPXE takes a
	 * reply with 60 "PXEClient" for a ProxyDHCP offer as well, and unless
	 * that offer has PXE options (siaddr and a file, or a boot menu) it
	 * sends a ProxyDHCPREQUEST to port 4011 and waits ~2.5 s for an answer
	 * that never comes (seen with QEMU's iPXE ROM, 2019 build). */
	r->siaddr = c->seg->server_ip;
	if (b.tftp) {
		bm_ip4_format(c->seg->server_ip, ip);
		dhcp_reply_set(r, DHCP_OPT_TFTP_SERVER, ip, strlen(ip), true);
	}
	if (b.send_marker)
		dhcp_reply_set(r, DHCP_OPT_USER_CLASS, cfg->marker, strlen(cfg->marker), true);
}

/* RFC 2131 4.1: relay, then ciaddr, then broadcast flag, then the
 * client's new address at its hardware address. */
static void
route(struct ctx *c)
{
	struct dhcp_decision *d = c->d;
	const struct dhcp_msg *m = c->m;

	if (m->giaddr) {
		d->dest = DHCP_DEST_RELAY;
		d->dest_ip = m->giaddr;
		d->dest_port = 67;
	} else if (c->rx->port_4011) {
		d->dest = DHCP_DEST_UNICAST;
		d->dest_ip = c->rx->src_ip;
		d->dest_port = c->rx->src_port;
	} else if (m->ciaddr && d->out_type != DHCP_NAK) {
		d->dest = DHCP_DEST_UNICAST;
		d->dest_ip = m->ciaddr;
		d->dest_port = 68;
	} else if ((m->flags & DHCP_FLAG_BROADCAST) || d->out_type == DHCP_NAK || !c->r.yiaddr) {
		d->dest = DHCP_DEST_BROADCAST;
		d->dest_port = 68;
	} else {
		d->dest = DHCP_DEST_HW;
		d->dest_ip = c->r.yiaddr;
		d->dest_port = 68;
	}
}

static int
finish(struct ctx *c)
{
	long n;

	dhcp_reply_set_be32(&c->r, DHCP_OPT_SERVER_ID, c->seg->server_ip, true);
	n = dhcp_reply_build(&c->r, dhcp_msg_max_reply(c->m), c->d->reply, sizeof(c->d->reply));
	if (n < 0) {
		c->d->dest = DHCP_DEST_NONE;
		c->d->why = "reply does not fit the client's maximum message size";
		return 0;
	}
	c->d->len = (size_t)n;
	c->d->out_type = c->r.data[c->r.off[DHCP_OPT_MSG_TYPE]];
	route(c);
	return 0;
}

static int
nak(struct ctx *c, const char *why)
{
	dhcp_reply_init(&c->r, c->m, DHCP_NAK);
	c->r.flags |= c->m->giaddr ? DHCP_FLAG_BROADCAST : 0; /* the relay broadcasts it */
	dhcp_reply_set(&c->r, DHCP_OPT_MESSAGE, why, strlen(why), false);
	c->d->why = why;
	c->d->out_type = DHCP_NAK;
	return finish(c);
}

/* OFFER or ACK of `ip` to the client. */
static int
answer(struct ctx *c, uint8_t type, uint32_t ip)
{
	dhcp_reply_init(&c->r, c->m, type);
	c->r.yiaddr = ip;
	if (type == DHCP_ACK && c->m->type == DHCP_INFORM)
		c->r.ciaddr = c->m->ciaddr;
	network_opts(c, ip != 0);
	boot_opts(c);
	return finish(c);
}

/* ------------------------------------------------------------- leases */

static int
hold(struct ctx *c, uint32_t ip, enum lease_state st, uint64_t until)
{
	struct lease l = { .key = c->key, .ip = ip, .expires_ms = until, .state = st };

	memcpy(l.mac, c->m->chaddr, 6);
	if (lease_put(c->s->leases, &l) < 0) {
		c->d->why = "lease table full";
		return -ENOSPC;
	}
	if (st != LEASE_OFFERED) {
		c->d->lease_op = DHCP_LEASE_SAVE;
		c->d->lease = l;
	}
	return 0;
}

static int
bind(struct ctx *c, uint32_t ip)
{
	const struct lease *before = lease_by_key(c->s->leases, &c->key, c->now);
	/* A discovery is an unknown MAC's first binding, not its renewals. */
	bool fresh = !before || before->state == LEASE_OFFERED;

	if (hold(c, ip, LEASE_BOUND, c->now + (uint64_t)lease_secs(c) * 1000) < 0)
		return 0;
	c->d->discovered = !c->known && fresh;
	return answer(c, DHCP_ACK, ip);
}

/* The address for a DISCOVER: the client's live lease, its reservation,
 * the address it asks for if free, or one from the pool. 0: none. */
static uint32_t
choose(struct ctx *c)
{
	const struct lease *l = lease_by_key(c->s->leases, &c->key, c->now);
	uint32_t want = 0, ip;

	if (c->known && c->host.ip)
		return c->host.ip;
	if (l && in_pool(c->seg, l->ip))
		return l->ip;
	if (!c->seg->pool_start)
		return 0;
	dhcp_opt_be32(c->m, DHCP_OPT_REQUESTED_IP, &want);
	if (want && in_pool(c->seg, want) && !lease_by_ip(c->s->leases, want, c->now) &&
	    !pool_taken_cb(c, want))
		return want;
	return lease_pool_alloc(c->s->leases, c->seg->pool_start, c->seg->pool_end, c->now,
	                        pool_taken_cb, c, &ip) == 0
	           ? ip
	           : 0;
}

static int
discover(struct ctx *c)
{
	const struct lease *l;
	uint32_t ip = choose(c);

	if (!ip) {
		c->d->why = !c->known && !c->seg->pool_start  ? "unknown MAC and no discovery pool"
		            : c->known && !c->seg->pool_start ? "no reservation and no pool"
		                                              : "pool exhausted";
		return 0;
	}
	/* Hold the address for this client: simultaneous new clients must never
	 * be offered the same one (docs/firmware.md 2.1). A bound
	 * lease stays bound. */
	l = lease_by_key(c->s->leases, &c->key, c->now);
	if (!(l && l->ip == ip && l->state == LEASE_BOUND) &&
	    hold(c, ip, LEASE_OFFERED, c->now + DHCP_OFFER_HOLD_MS) < 0)
		return 0;
	return answer(c, DHCP_OFFER, ip);
}

/* May this client have `ip` now (INIT-REBOOT, RENEWING, REBINDING)? */
static bool
may_have(struct ctx *c, uint32_t ip)
{
	const struct lease *mine = lease_by_key(c->s->leases, &c->key, c->now);
	const struct lease *holder = lease_by_ip(c->s->leases, ip, c->now);

	if (c->known && c->host.ip)
		return ip == c->host.ip;
	if (mine && mine->ip == ip && mine->state != LEASE_DECLINED)
		return true;
	/* No record (e.g. it expired): a free pool address may be confirmed. */
	return !holder && in_pool(c->seg, ip) && !pool_taken_cb(c, ip);
}

static int
request(struct ctx *c)
{
	const struct dhcp_msg *m = c->m;
	uint32_t server = 0, want = 0;
	const struct lease *l;

	dhcp_opt_be32(m, DHCP_OPT_SERVER_ID, &server);
	dhcp_opt_be32(m, DHCP_OPT_REQUESTED_IP, &want);
	if (server) { /* SELECTING */
		l = lease_by_key(c->s->leases, &c->key, c->now);
		if (server != c->seg->server_ip) {
			if (l && l->state == LEASE_OFFERED)
				lease_drop_key(c->s->leases, &c->key);
			c->d->why = "client chose another server";
			return 0;
		}
		if (want && l && l->ip == want)
			return bind(c, want);
		return nak(c, "offer expired or not made to this client");
	}
	if (want) { /* INIT-REBOOT */
		if (!in_subnet(c->seg, want))
			return nak(c, "address not on this network");
		return may_have(c, want) ? bind(c, want) : nak(c, "address not yours");
	}
	if (m->ciaddr) { /* RENEWING or REBINDING */
		if (!in_subnet(c->seg, m->ciaddr))
			return nak(c, "address not on this network");
		return may_have(c, m->ciaddr) ? bind(c, m->ciaddr) : nak(c, "address not yours");
	}
	c->d->why = "REQUEST without server id, requested address or ciaddr";
	return 0;
}

static int
decline(struct ctx *c)
{
	const struct lease *l = lease_by_key(c->s->leases, &c->key, c->now);
	uint32_t want = 0;

	dhcp_opt_be32(c->m, DHCP_OPT_REQUESTED_IP, &want);
	if (!l || !want || l->ip != want) {
		c->d->why = "DECLINE of an address not leased to this client";
		return 0;
	}
	/* Someone else answers ARP for it: keep it out of use for a while. */
	struct lease q = { .ip = want,
		           .expires_ms = c->now + DHCP_DECLINE_HOLD_MS,
		           .state = LEASE_DECLINED };
	lease_drop_key(c->s->leases, &c->key);
	if (lease_put(c->s->leases, &q) == 0) {
		c->d->lease_op = DHCP_LEASE_SAVE;
		c->d->lease = q;
	}
	c->d->why = "address declined: quarantined";
	return 0;
}

static int
release(struct ctx *c)
{
	const struct lease *l = lease_by_key(c->s->leases, &c->key, c->now);

	if (!l || l->ip != c->m->ciaddr) {
		c->d->why = "RELEASE of an address not leased to this client";
		return 0;
	}
	c->d->lease = *l;
	c->d->lease_op = DHCP_LEASE_DELETE;
	lease_drop_key(c->s->leases, &c->key);
	c->d->why = "released";
	return 0;
}

/* ------------------------------------------------------------ proxyDHCP */

/* proxyDHCP (and any request on port 4011): boot information for PXE
 * clients, no address. DISCOVER on 67 gets an OFFER, REQUEST on 4011 an
 * ACK (PXE 2.1 2.2.5). */
static int
proxy(struct ctx *c)
{
	uint8_t type;

	if (!c->pxe.pxe) {
		c->d->why = "proxyDHCP answers PXE clients only";
		return 0;
	}
	if (c->rx->port_4011)
		type = c->m->type == DHCP_REQUEST || c->m->type == DHCP_INFORM ? DHCP_ACK : 0;
	else
		type = c->m->type == DHCP_DISCOVER ? DHCP_OFFER : 0;
	if (!type) {
		c->d->why = "left to the DHCP server of this segment";
		return 0;
	}
	dhcp_reply_init(&c->r, c->m, type);
	boot_opts(c);
	return finish(c);
}

static const char *const type_names[] = { "?",   "DISCOVER", "OFFER",   "REQUEST", "DECLINE",
	                                  "ACK", "NAK",      "RELEASE", "INFORM" };

/* An option's bytes as printable text (others as '.'), at most n-1. */
static const char *
opt_text(const struct dhcp_opt *o, char *buf, size_t n)
{
	size_t len = o->present ? (o->len < n - 1 ? o->len : n - 1) : 0;
	for (size_t i = 0; i < len; i++)
		buf[i] = o->p[i] >= 0x20 && o->p[i] < 0x7f && o->p[i] != '"' ? (char)o->p[i] : '.';
	buf[len] = '\0';
	return buf;
}

/* For the machine's boot trace: "DISCOVER arch=7 vendor=... user=iPXE ->
 * OFFER file=ipxe.efi", or "-> none (why)". */
static void
note_exchange(struct ctx *c)
{
	struct dhcp_decision *d = c->d;
	char vendor[48], user[24];
	int n;

	n = snprintf(d->note, sizeof(d->note), "%s", type_names[d->in_type < 9 ? d->in_type : 0]);
	if (c->pxe.arch >= 0)
		n += snprintf(d->note + n, sizeof(d->note) - (size_t)n, " arch=%d", c->pxe.arch);
	if (c->m->opt[DHCP_OPT_VENDOR_CLASS].present)
		n += snprintf(d->note + n, sizeof(d->note) - (size_t)n, " vendor=%s",
		              opt_text(&c->m->opt[DHCP_OPT_VENDOR_CLASS], vendor, sizeof(vendor)));
	if (c->m->opt[DHCP_OPT_USER_CLASS].present)
		n += snprintf(d->note + n, sizeof(d->note) - (size_t)n, " user=%s",
		              opt_text(&c->m->opt[DHCP_OPT_USER_CLASS], user, sizeof(user)));
	if (d->dest == DHCP_DEST_NONE)
		snprintf(d->note + n, sizeof(d->note) - (size_t)n, " -> none (%s)",
		         d->why ? d->why : "-");
	else
		snprintf(d->note + n, sizeof(d->note) - (size_t)n, " -> %s%s%s",
		         type_names[d->out_type < 9 ? d->out_type : 0], d->booted ? " file=" : "",
		         d->booted ? c->r.file : "");
	d->known = true;
	d->firmware = c->pxe.pxe && !c->pxe.ipxe;
	d->discover = d->in_type == DHCP_DISCOVER;
}

int
dhcp_server_handle(struct dhcp_server *s, const struct dhcp_rx *rx, const uint8_t *pkt, size_t len,
                   uint64_t now, struct dhcp_decision *d)
{
	struct dhcp_msg *m = &s->msg;
	struct ctx c = { .s = s, .rx = rx, .seg = rx->seg, .m = m, .now = now, .d = d };
	int r;

	memset(d, 0, offsetof(struct dhcp_decision, reply));
	if ((r = dhcp_msg_parse(pkt, len, m)) < 0)
		return r;
	d->in_type = m->type;
	memcpy(d->mac, m->chaddr, 6);
	dhcp_client_key(m, &c.key);
	c.known = s->view.host(s->view.arg, m->chaddr, &c.host) == 0;
	pxe_classify(m, s->cfg->marker, &c.pxe);
	if (s->cfg->proxy || rx->port_4011)
		r = proxy(&c);
	else if (!rx->seg->prefix_len) {
		/* A managed agent before its first sync: no segment to hand out. */
		d->why = "no rack view yet";
		r = 0;
	} else {
		switch (m->type) {
		case DHCP_DISCOVER: r = discover(&c); break;
		case DHCP_REQUEST: r = request(&c); break;
		case DHCP_DECLINE: r = decline(&c); break;
		case DHCP_RELEASE: r = release(&c); break;
		case DHCP_INFORM: r = answer(&c, DHCP_ACK, 0); break;
		default:
			d->why = "not a client message";
			r = 0;
			break;
		}
	}
	if (r == 0 && c.known)
		note_exchange(&c);
	return r;
}
