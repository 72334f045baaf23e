#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include "dhcp_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bm/log.h"
#include "bm/rate.h"
#include "bm/netaddr.h"
#include "bm/util.h"
#include "config.h"
#include "dhcp_commit.h"
#include "loader_watch.h"
#include "rackdb.h"
#include "rackview.h"

/* Packets read per socket wake-up before the loop moves on: a flood on one
 * interface cannot starve the others, and a burst shares one commit. */
#define DHCP_READ_BURST 64u
/* Replies held for the commit of their leases (a burst of every socket). */
#define DHCP_PENDING_MAX (DHCP_READ_BURST * 2 * 8)
/* Group commit: a lease change waits up to this long for others to share
 * its fsync (its ACK leaves at most this much later); a batch this large is
 * committed at once. At 8,000 DORA/s, one commit per REQUEST (pwrite +
 * fdatasync) was 44 % of the agent's CPU. */
#define DHCP_COMMIT_DELAY_S 0.0005
#define DHCP_COMMIT_NOW 32u
#define DHCP_RCVBUF (4u << 20)
#define DHCP_EXPIRE_EVERY_S 30.0
#define LOG_QUIET_MS 60000u /* per MAC, for "unknown MAC, no pool" */
#define LOG_SLOTS 1024u

struct dhcp_iface {
	struct dhcp_service *svc;
	char name[IF_NAMESIZE];
	uint8_t mac[6]; /* its own: the agent's rogue-DHCP probes come from it */
	int fd67, fd4011;
	ev_io w67, w4011;
	struct dhcp_segment seg;
};

struct dhcp_service {
	struct ev_loop *loop;
	struct dhcp_server srv;
	struct dhcp_config cfg;
	struct rackdb *db;
	char rack[64];
	struct dhcp_iface ifc[AGENT_IFACES_MAX];
	unsigned n_ifc;
	struct dhcp_pending *pend;
	struct loader_watch loaders; /* UEFI programs fetched, to see them refused */
	size_t npend;
	ev_prepare commit_w; /* a full batch: commit before the loop blocks again */
	ev_timer delay_w;    /* a small batch: commit after DHCP_COMMIT_DELAY_S */
	ev_timer expire_w;
	struct dhcp_stats st;
	struct txq *txq;
	struct rxq *rxq;
	struct {
		uint8_t mac[6];
		uint64_t at;
	} quiet[LOG_SLOTS];
	uint64_t malformed_logged_at, malformed_unlogged;
	struct bm_rate discovery; /* discovery_rate, discovery_burst */
	struct bm_log_limit log_limit;
};

/* ------------------------------------------------------------- sockets */

static int
open_socket(const char *ifname, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, rcv = DHCP_RCVBUF;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* One socket per interface on 0.0.0.0:67: bound to its device, so that
	 * broadcasts go out (and come in) on the right segment. No
	 * SO_REUSEADDR: sockets bound to different devices do not conflict,
	 * and a second DHCP server on the same one must fail (EADDRINUSE),
	 * not share its packets. */
	if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) <
	        0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	return fd;
}

/* Our address on ifname inside the rack's subnet. */
static int
iface_address(const char *ifname, uint32_t net, unsigned plen, uint32_t *ret)
{
	struct ifaddrs *all, *i;
	int r = -EADDRNOTAVAIL;

	if (getifaddrs(&all) < 0)
		return -errno;
	for (i = all; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, ifname))
			continue;
		uint32_t ip = ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
		if (bm_ip4_in_subnet(ip, net, plen)) {
			*ret = ip;
			r = 0;
			break;
		}
	}
	freeifaddrs(all);
	return r;
}

/* RFC 2131 4.1: a client with no address yet gets a unicast to yiaddr at
 * its hardware address. Like dnsmasq, teach the kernel that neighbour
 * first, so no ARP request is needed (the client could not answer it). */
static void
arp_inject(struct dhcp_iface *ifc, uint32_t ip, const uint8_t mac[6])
{
	struct arpreq req;
	struct sockaddr_in *pa = (struct sockaddr_in *)(void *)&req.arp_pa;

	memset(&req, 0, sizeof(req));
	pa->sin_family = AF_INET;
	pa->sin_addr.s_addr = htonl(ip);
	req.arp_ha.sa_family = ARPHRD_ETHER;
	memcpy(req.arp_ha.sa_data, mac, 6);
	req.arp_flags = ATF_COM;
	snprintf(req.arp_dev, sizeof(req.arp_dev), "%s", ifc->name);
	ioctl(ifc->fd67, SIOCSARP, &req); /* on failure: the unicast is tried anyway */
}

/* Replies queued for one sendmmsg (a burst's OFFERs, a commit's ACKs). The
 * bytes are copied: the decision they come from is reused at once. */
struct txq {
	int fd;
	unsigned n;
	struct mmsghdr m[DHCP_READ_BURST];
	struct iovec iov[DHCP_READ_BURST];
	struct sockaddr_in to[DHCP_READ_BURST];
	uint8_t data[DHCP_READ_BURST][DHCP_PKT_MAX];
};

static void
txq_flush(struct dhcp_service *s, struct txq *q)
{
	unsigned done = 0;

	while (done < q->n) {
		int r = sendmmsg(q->fd, q->m + done, q->n - done, 0);
		if (r <= 0) {
			BM_WARN("dhcp", "send failed replies=%u err=\"%s\", ignoring", q->n - done,
			        strerror(errno));
			break;
		}
		done += (unsigned)r;
	}
	s->st.tx += done;
	q->n = 0;
}

/* Queue the reply of d for its destination (RFC 2131 4.1, decided by the
 * core); a full queue, or one for another socket, is sent first. */
static void
txq_add(struct dhcp_service *s, struct dhcp_iface *ifc, const struct dhcp_decision *d)
{
	struct txq *q = s->txq;
	int fd = d->dest == DHCP_DEST_UNICAST && d->dest_port == 4011 && ifc->fd4011 >= 0
	             ? ifc->fd4011
	             : ifc->fd67;
	uint32_t ip = d->dest_ip;
	unsigned i;

	switch (d->dest) {
	case DHCP_DEST_BROADCAST: ip = INADDR_BROADCAST; break;
	case DHCP_DEST_HW: arp_inject(ifc, d->dest_ip, d->mac); break;
	case DHCP_DEST_UNICAST:
	case DHCP_DEST_RELAY: break;
	default: return;
	}
	if (q->n && (q->fd != fd || q->n == DHCP_READ_BURST))
		txq_flush(s, q);
	q->fd = fd;
	i = q->n++;
	memcpy(q->data[i], d->reply, d->len);
	q->to[i] = (struct sockaddr_in){ .sin_family = AF_INET,
		                         .sin_port = htons(d->dest_port),
		                         .sin_addr.s_addr = htonl(ip) };
	q->iov[i] = (struct iovec){ q->data[i], d->len };
	q->m[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &q->to[i],
		                                 .msg_namelen = sizeof(q->to[i]),
		                                 .msg_iov = &q->iov[i],
		                                 .msg_iovlen = 1 } };
	s->st.by_type_out[d->out_type < 9 ? d->out_type : 0]++;
}

/* ------------------------------------------------------------ logging */

static void
log_drop(struct dhcp_service *s, const struct dhcp_decision *d, uint64_t now)
{
	char m[BM_MAC_STR];
	size_t slot = ((size_t)d->mac[3] << 16 | (size_t)d->mac[4] << 8 | d->mac[5]) % LOG_SLOTS;

	/* One line per MAC per minute at most. */
	if (!memcmp(s->quiet[slot].mac, d->mac, 6) && now - s->quiet[slot].at < LOG_QUIET_MS)
		return;
	memcpy(s->quiet[slot].mac, d->mac, 6);
	s->quiet[slot].at = now;
	BM_INFO("dhcp", "no reply mac=%s type=%u reason=\"%s\"", bm_mac_format(d->mac, m),
	        d->in_type, d->why ? d->why : "-");
}

static void
log_malformed(struct dhcp_service *s, int err, const struct sockaddr_in *from, uint64_t now)
{
	char ip[BM_IP4_STR];

	s->st.malformed++;
	if (now - s->malformed_logged_at < 1000) {
		s->malformed_unlogged++;
		return;
	}
	BM_WARN("dhcp",
	        "dropped malformed packet from=%s err=\"%s\" unlogged_since_last=%llu, ignoring",
	        bm_ip4_format(ntohl(from->sin_addr.s_addr), ip), strerror(-err),
	        (unsigned long long)s->malformed_unlogged);
	s->malformed_logged_at = now;
	s->malformed_unlogged = 0;
}

/* --------------------------------------------------------- the commit */

/* Known machines' firmware asking again right after fetching a UEFI
 * program it then did not run (loader_watch.h): the decision says so. */
static void
watch_loaders(struct dhcp_service *s)
{
	uint64_t now = bm_mono_ms();

	for (size_t i = 0; i < s->npend; i++) {
		struct dhcp_decision *d = &s->pend[i].d;
		if (!d->known)
			continue;
		if (!d->firmware)
			loader_forget(&s->loaders, d->mac);
		else if (d->discover)
			loader_refused(&s->loaders, d->mac, now, d->refused, sizeof(d->refused));
	}
}

void
dhcp_service_loader_fetched(struct dhcp_service *s, const uint8_t mac[6], const char *file)
{
	loader_fetched(&s->loaders, mac, file, bm_mono_ms());
}

/* Make the burst's lease changes durable, then let its replies go. */
static void
commit_pending(struct dhcp_service *s)
{
	int r;

	if (!s->npend)
		return;
	watch_loaders(s);
	r = dhcp_commit(s->db, s->srv.leases, s->rack, s->pend, s->npend, bm_wall_ms());
	s->st.commits++;
	if (r < 0) {
		/* Nothing was saved: the bindings are forgotten, no ACK is sent;
		 * the clients retry. */
		s->st.commit_errors++;
		BM_ERROR("dhcp", "cannot save leases err=\"%s\" replies_held=%zu", strerror(-r),
		         s->npend);
	} else {
		for (size_t i = 0; i < s->npend; i++) {
			s->st.leases_saved += s->pend[i].d.lease_op != DHCP_LEASE_KEEP;
			txq_add(s, s->pend[i].ifc, &s->pend[i].d);
		}
		txq_flush(s, s->txq);
	}
	s->npend = 0;
}

static void
commit_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	struct dhcp_service *s = bm_container_of(w, struct dhcp_service, commit_w);
	(void)revents;
	commit_pending(s);
	ev_prepare_stop(loop, w);
	ev_timer_stop(loop, &s->delay_w);
}

static void
delay_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dhcp_service *s = bm_container_of(w, struct dhcp_service, delay_w);
	(void)revents;
	commit_pending(s);
	ev_prepare_stop(loop, &s->commit_w);
}

/* ------------------------------------------------------------ receive */

/* An unknown MAC's first lease becomes a discovery event within the
 * discovery rate; beyond it the event is dropped (the lease stands). */
static void
discovery_admit(struct dhcp_service *s, struct dhcp_decision *d)
{
	char m[BM_MAC_STR];

	if (!s->cfg.discovery_rate || bm_rate_take(&s->discovery, bm_mono_ms())) {
		s->st.discoveries++;
		return;
	}
	d->discovered = false;
	s->st.discoveries_dropped++;
	bm_log_limited(&s->log_limit, 1, "dhcp",
	               "discovery dropped mac=%s reason=\"more than %u a second\" dropped=%llu",
	               bm_mac_format(d->mac, m), s->cfg.discovery_rate,
	               (unsigned long long)s->st.discoveries_dropped);
}

static void
handle_packet(struct dhcp_service *s, struct dhcp_iface *ifc, const uint8_t *buf, size_t n,
              const struct sockaddr_in *from, bool port4011, uint64_t now)
{
	struct dhcp_rx rx = { &ifc->seg, ntohl(from->sin_addr.s_addr), ntohs(from->sin_port),
		              port4011 };
	struct dhcp_decision *d;
	int r;

	s->st.rx++;
	if (s->npend == DHCP_PENDING_MAX)
		commit_pending(s); /* full: commit now, then carry on */
	d = &s->pend[s->npend].d;  /* decided in place: kept if it must wait */
	if (n >= 34 && !memcmp(buf + 28, ifc->mac, 6)) {
		s->st.ignored++; /* our own probe for rogue servers (rogue.h) */
		return;
	}
	r = dhcp_server_handle(&s->srv, &rx, buf, n, now, d);
	if (r < 0) {
		log_malformed(s, r, from, now);
		return;
	}
	s->st.by_type_in[d->in_type < 9 ? d->in_type : 0]++;
	if (d->discovered)
		discovery_admit(s, d);
	if (d->dest == DHCP_DEST_NONE && d->lease_op == DHCP_LEASE_KEEP) {
		s->st.ignored++;
		if (d->why && strcmp(d->why, "client chose another server"))
			log_drop(s, d, now);
		if (!d->known)
			return; /* a known machine's is still traced */
	}
	if (d->lease_op == DHCP_LEASE_KEEP && !d->discovered && !d->known) {
		txq_add(s, ifc, d); /* nothing to make durable: sent after the burst */
		return;
	}
	s->pend[s->npend++].ifc = ifc;
	if (s->npend >= DHCP_COMMIT_NOW)
		ev_prepare_start(s->loop, &s->commit_w);
	else if (!ev_is_active(&s->delay_w))
		ev_timer_start(s->loop, &s->delay_w);
}

/* A burst read with one recvmmsg. */
struct rxq {
	struct mmsghdr m[DHCP_READ_BURST];
	struct iovec iov[DHCP_READ_BURST];
	struct sockaddr_in from[DHCP_READ_BURST];
	uint8_t data[DHCP_READ_BURST][DHCP_PKT_MAX + 1]; /* +1: a larger datagram shows as such */
};

static void
read_burst(struct dhcp_iface *ifc, int fd, bool port4011)
{
	struct dhcp_service *s = ifc->svc;
	struct rxq *q = s->rxq;
	uint64_t now = bm_wall_ms();
	int n;

	for (unsigned i = 0; i < DHCP_READ_BURST; i++) {
		q->iov[i] = (struct iovec){ q->data[i], sizeof(q->data[i]) };
		q->m[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &q->from[i],
			                                 .msg_namelen = sizeof(q->from[i]),
			                                 .msg_iov = &q->iov[i],
			                                 .msg_iovlen = 1 } };
	}
	if ((n = recvmmsg(fd, q->m, DHCP_READ_BURST, MSG_DONTWAIT, NULL)) <= 0)
		return; /* EAGAIN: drained */
	for (int i = 0; i < n; i++)
		handle_packet(s, ifc, q->data[i], q->m[i].msg_len, &q->from[i], port4011, now);
	txq_flush(s, s->txq); /* the burst's immediate replies */
}

static void
read67_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	read_burst(bm_container_of(w, struct dhcp_iface, w67), w->fd, false);
}

static void
read4011_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	read_burst(bm_container_of(w, struct dhcp_iface, w4011), w->fd, true);
}

/* -------------------------------------------------------------- leases */

static void
load_cb(void *arg, const struct lease *l)
{
	struct dhcp_service *s = arg;
	lease_put(s->srv.leases, l);
}

struct expired {
	uint32_t ip[256];
	size_t n;
};

static void
expired_cb(void *arg, const struct lease *l)
{
	struct expired *e = arg;
	if (e->n < 256)
		e->ip[e->n++] = l->ip;
}

/* Drop expired leases from memory and disk (the next sweep gets the rest
 * if more than 256 expired at once). */
static void
expire_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct dhcp_service *s = bm_container_of(w, struct dhcp_service, expire_w);
	struct expired e = { .n = 0 };
	struct rackdb_batch *b;
	int r = 0;

	(void)loop;
	(void)revents;
	lease_expire(s->srv.leases, bm_wall_ms(), expired_cb, &e);
	if (!e.n || rackdb_batch_begin(s->db, &b) < 0)
		return;
	for (size_t i = 0; i < e.n && r == 0; i++)
		r = rackdb_lease_del(b, e.ip[i]);
	if (r == 0)
		rackdb_batch_commit(b);
	else
		rackdb_batch_abort(b);
}

/* ---------------------------------------------------------- lifecycle */

static size_t
table_capacity(const struct rack_view *v)
{
	size_t pool = v->pool_start ? (size_t)(v->pool_end - v->pool_start) + 1 : 0;
	size_t n = pool + v->n_hosts + 1024;
	return n > DHCP_LEASES_MAX ? DHCP_LEASES_MAX : n;
}

static int
open_iface(struct dhcp_service *s, struct dhcp_iface *ifc, const char *name,
           const struct rack_view *v)
{
	char net[BM_IP4_STR];
	int r;

	ifc->svc = s;
	ifc->fd67 = ifc->fd4011 = -1;
	snprintf(ifc->name, sizeof(ifc->name), "%s", name);
	if ((r = iface_address(name, v->network, v->prefix_len, &ifc->seg.server_ip)) < 0) {
		BM_ERROR("dhcp",
		         "interface has no address in the rack subnet iface=%s subnet=%s/%u", name,
		         bm_ip4_format(v->network, net), v->prefix_len);
		return r;
	}
	if ((r = open_socket(name, 67)) < 0)
		goto fail;
	ifc->fd67 = r;
	bm_iface_mac(ifc->fd67, name, ifc->mac); /* on failure: no probe is taken for ours */
	ev_io_init(&ifc->w67, read67_cb, ifc->fd67, EV_READ);
	ev_io_start(s->loop, &ifc->w67);
	if (!s->cfg.proxy)
		return 0;
	/* The PXE boot server port (PXE 2.1 2.2.5). */
	if ((r = open_socket(name, 4011)) < 0)
		goto fail;
	ifc->fd4011 = r;
	ev_io_init(&ifc->w4011, read4011_cb, ifc->fd4011, EV_READ);
	ev_io_start(s->loop, &ifc->w4011);
	return 0;
fail:
	BM_ERROR("dhcp", "cannot listen iface=%s err=\"%s\"", name, strerror(-r));
	return r;
}

static void
set_segments(struct dhcp_service *s, const struct rack_view *v)
{
	for (unsigned i = 0; i < s->n_ifc; i++) {
		struct dhcp_segment *g = &s->ifc[i].seg;
		g->network = v->network;
		g->prefix_len = v->prefix_len;
		g->gateway = v->gateway;
		memcpy(g->dns, v->dns, sizeof(g->dns));
		g->n_dns = v->n_dns;
		g->pool_start = v->pool_start;
		g->pool_end = v->pool_end;
	}
}

void
dhcp_service_set_view(struct dhcp_service *s, const struct rack_view *v)
{
	int r;

	s->srv.view = (struct dhcp_view){ rack_view_host_cb, rack_view_reserved_cb, (void *)v };
	set_segments(s, v);
	/* A managed agent starts on an empty view: its pool and machines
	 * arrive with the first sync. */
	if ((r = lease_table_grow(&s->srv.leases, table_capacity(v))) < 0)
		BM_ERROR("dhcp", "cannot grow the lease table leases=%zu want=%zu err=\"%s\"",
		         lease_table_capacity(s->srv.leases), table_capacity(v), strerror(-r));
}

int
dhcp_service_start(struct ev_loop *loop, const struct dhcp_service_opts *o,
                   struct dhcp_service **ret)
{
	struct dhcp_service *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s || !(s->pend = calloc(DHCP_PENDING_MAX, sizeof(*s->pend))) ||
	    !(s->txq = calloc(1, sizeof(*s->txq))) || !(s->rxq = calloc(1, sizeof(*s->rxq)))) {
		if (s) {
			free(s->pend);
			free(s->txq);
		}
		free(s);
		return -ENOMEM;
	}
	s->loop = loop;
	s->cfg = *o->cfg;
	s->db = o->db;
	snprintf(s->rack, sizeof(s->rack), "%s", o->rack);
	s->srv.cfg = &s->cfg;
	bm_rate_init(&s->discovery, s->cfg.discovery_rate, s->cfg.discovery_burst, bm_mono_ms());
	if (!(s->srv.leases = lease_table_new(table_capacity(o->view)))) {
		dhcp_service_stop(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < o->n_ifaces && i < AGENT_IFACES_MAX && r == 0; i++, s->n_ifc++)
		r = open_iface(s, &s->ifc[i], o->ifaces[i], o->view);
	if (r == 0 && (r = rackdb_leases_load(s->db, load_cb, s)) < 0)
		BM_ERROR("dhcp", "cannot load leases err=\"%s\"", strerror(-r));
	if (r < 0) {
		dhcp_service_stop(s);
		return r;
	}
	dhcp_service_set_view(s, o->view);
	ev_prepare_init(&s->commit_w, commit_cb);
	ev_timer_init(&s->delay_w, delay_cb, DHCP_COMMIT_DELAY_S, 0.);
	ev_timer_init(&s->expire_w, expire_cb, DHCP_EXPIRE_EVERY_S, DHCP_EXPIRE_EVERY_S);
	ev_timer_start(loop, &s->expire_w);
	BM_INFO("dhcp", "serving mode=%s interfaces=%u leases=%zu",
	        s->cfg.proxy ? "proxy" : "authoritative", s->n_ifc,
	        lease_table_count(s->srv.leases));
	*ret = s;
	return 0;
}

bool
dhcp_service_leased(const struct dhcp_service *s, uint32_t ip, const uint8_t mac[6])
{
	const struct lease *l = lease_by_ip(s->srv.leases, ip, bm_wall_ms());

	return l && l->state == LEASE_BOUND && !memcmp(l->mac, mac, 6);
}

void
dhcp_service_stats(const struct dhcp_service *s, struct dhcp_stats *ret)
{
	*ret = s->st;
}

void
dhcp_service_stop(struct dhcp_service *s)
{
	if (!s)
		return;
	commit_pending(s);
	for (unsigned i = 0; i < s->n_ifc; i++) {
		if (s->ifc[i].fd67 >= 0) {
			ev_io_stop(s->loop, &s->ifc[i].w67);
			close(s->ifc[i].fd67);
		}
		if (s->ifc[i].fd4011 >= 0) {
			ev_io_stop(s->loop, &s->ifc[i].w4011);
			close(s->ifc[i].fd4011);
		}
	}
	ev_prepare_stop(s->loop, &s->commit_w);
	ev_timer_stop(s->loop, &s->delay_w);
	ev_timer_stop(s->loop, &s->expire_w);
	lease_table_free(s->srv.leases);
	free(s->pend);
	free(s->txq);
	free(s->rxq);
	free(s);
}
