#include "rogue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/util.h"
#include "config.h"
#include "rogue_wire.h"

#define ROGUE_OWN_MAX 64u /* this host's IPv4 addresses remembered */

struct rogue_if {
	struct rogue *r;
	char name[IF_NAMESIZE];
	uint8_t mac[6];
	int pfd, ufd; /* packet socket (67 -> 68 only); UDP :68 for the probes */
	ev_io pw, uw;
};

struct rogue {
	struct ev_loop *loop;
	struct rogue_if f[AGENT_IFACES_MAX];
	unsigned nf;
	ev_timer probe;
	uint32_t own[ROGUE_OWN_MAX]; /* this host's addresses (own_addresses) */
	unsigned n_own;
	void (*changed)(void *arg);
	void *arg;
	pthread_mutex_t mu; /* guards what follows */
	struct rogue_seen seen[ROGUE_KEEP];
	uint64_t reported_ms[ROGUE_KEEP];
	size_t nseen;
	uint64_t offers;
};

/* This host's IPv4 addresses, read again before each probe (loop thread):
 * its own answers are no rogue's, and a received answer costs no
 * getifaddrs. */
static void
own_addresses(struct rogue *r)
{
	struct ifaddrs *all, *i;

	r->n_own = 0;
	if (getifaddrs(&all) < 0)
		return;
	for (i = all; i && r->n_own < ROGUE_OWN_MAX; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			r->own[r->n_own++] =
			    ntohl(((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr);
	freeifaddrs(all);
}

static bool
ours(const struct rogue *r, uint32_t ip)
{
	for (unsigned i = 0; i < r->n_own; i++)
		if (r->own[i] == ip)
			return true;
	return false;
}

/* Note a server (under the lock). Returns true when upstream should hear. */
static bool
note(struct rogue *r, const struct rogue_if *f, uint32_t ip, const uint8_t mac[6], uint64_t now)
{
	size_t i;

	for (i = 0; i < r->nseen && r->seen[i].ip != ip; i++)
		;
	if (i == r->nseen) { /* new: the oldest goes when full */
		if (r->nseen < ROGUE_KEEP)
			r->nseen++;
		memmove(&r->seen[1], &r->seen[0], (r->nseen - 1) * sizeof(r->seen[0]));
		memmove(&r->reported_ms[1], &r->reported_ms[0], (r->nseen - 1) * sizeof(uint64_t));
		memset(&r->seen[0], 0, sizeof(r->seen[0]));
		r->seen[0].ip = ip;
		r->seen[0].first_ms = now;
		r->reported_ms[0] = 0;
		i = 0;
	}
	memcpy(r->seen[i].mac, mac, 6);
	snprintf(r->seen[i].iface, sizeof(r->seen[i].iface), "%s", f->name);
	r->seen[i].last_ms = now;
	r->seen[i].offers++;
	r->offers++;
	if (now - r->reported_ms[i] < ROGUE_REPORT_MS)
		return false;
	r->reported_ms[i] = now;
	return true;
}

static void
packet_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rogue_if *f = w->data;
	struct rogue *r = f->r;
	uint8_t buf[2048];
	char ip[BM_IP4_STR], mac[BM_MAC_STR];

	(void)loop;
	(void)revents;
	for (int k = 0; k < 64; k++) {
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		struct rogue_offer o;
		ssize_t n = recvfrom(f->pfd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
		if (n < 0)
			return;
		if (from.sll_pkttype == PACKET_OUTGOING || from.sll_halen != 6 ||
		    rogue_parse(buf, (size_t)n, &o) < 0 || ours(r, o.server_id))
			continue;
		pthread_mutex_lock(&r->mu);
		bool tell = note(r, f, o.server_id, from.sll_addr, bm_wall_ms());
		pthread_mutex_unlock(&r->mu);
		if (!tell)
			continue;
		BM_WARN("dhcp", "rogue DHCP server iface=%s server=%s mac=%s offered=%s", f->name,
		        bm_ip4_format(o.server_id, ip), bm_mac_format(from.sll_addr, mac),
		        bm_ip4_format(o.yiaddr, ip));
		if (r->changed)
			r->changed(r->arg);
	}
}

/* Answers to our probes arrive on :68 too: read and dropped (the packet
 * socket has seen them). */
static void
drain_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct rogue_if *f = w->data;
	uint8_t buf[2048];

	(void)loop;
	(void)revents;
	while (recv(f->ufd, buf, sizeof(buf), 0) >= 0)
		;
}

static void
probe_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct rogue *r = w->data;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(67),
		                  .sin_addr.s_addr = htonl(0xffffffffu) };
	uint8_t pkt[ROGUE_PROBE_LEN];
	uint32_t xid;

	(void)loop;
	(void)revents;
	own_addresses(r);
	for (unsigned i = 0; i < r->nf; i++) {
		if (getrandom(&xid, sizeof(xid), 0) != sizeof(xid))
			xid = (uint32_t)bm_mono_ms();
		size_t n = rogue_probe_build(pkt, r->f[i].mac, xid);
		sendto(r->f[i].ufd, pkt, n, 0, (struct sockaddr *)&to, sizeof(to));
	}
}

static int
open_if(struct rogue_if *f, const char *name)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP) };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(68) };
	int one = 1;

	snprintf(f->name, sizeof(f->name), "%s", name);
	f->pfd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_IP));
	f->ufd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (f->pfd < 0 || f->ufd < 0 || bm_iface_mac(f->ufd, name, f->mac) < 0)
		return -errno;
	if ((ll.sll_ifindex = (int)if_nametoindex(name)) == 0 ||
	    setsockopt(f->pfd, SOL_SOCKET, SO_ATTACH_FILTER, &rogue_bpf, sizeof(rogue_bpf)) < 0 ||
	    bind(f->pfd, (struct sockaddr *)&ll, sizeof(ll)) < 0)
		return -errno;
	if (setsockopt(f->ufd, SOL_SOCKET, SO_BINDTODEVICE, name, (socklen_t)strlen(name) + 1) < 0 ||
	    setsockopt(f->ufd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one)) < 0 ||
	    setsockopt(f->ufd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(f->ufd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -errno;
	return 0;
}

int
rogue_start(struct ev_loop *loop, const char *const *ifaces, unsigned n, unsigned interval_s,
            void (*changed)(void *arg), void *arg, struct rogue **ret)
{
	struct rogue *r = calloc(1, sizeof(*r));
	int e = 0;

	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->changed = changed;
	r->arg = arg;
	pthread_mutex_init(&r->mu, NULL);
	for (unsigned i = 0; i < n && i < AGENT_IFACES_MAX && e == 0; i++, r->nf++) {
		struct rogue_if *f = &r->f[i];
		f->r = r;
		f->pfd = f->ufd = -1;
		if ((e = open_if(f, ifaces[i])) < 0) {
			BM_ERROR("dhcp", "cannot watch for rogue DHCP iface=%s err=\"%s\"", ifaces[i],
			         strerror(-e));
			break;
		}
		ev_io_init(&f->pw, packet_cb, f->pfd, EV_READ);
		ev_io_init(&f->uw, drain_cb, f->ufd, EV_READ);
		f->pw.data = f->uw.data = f;
		ev_io_start(loop, &f->pw);
		ev_io_start(loop, &f->uw);
	}
	if (e < 0) {
		r->nf++; /* the one that failed: its sockets closed too */
		rogue_stop(r);
		return e;
	}
	own_addresses(r);
	ev_timer_init(&r->probe, probe_cb, 1.0, interval_s);
	r->probe.data = r;
	ev_timer_start(loop, &r->probe);
	BM_INFO("dhcp", "watching for rogue DHCP interfaces=%u probe_every=%us", r->nf, interval_s);
	*ret = r;
	return 0;
}

size_t
rogue_list(struct rogue *r, struct rogue_seen *out, size_t max)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->nseen < max ? r->nseen : max;
	memcpy(out, r->seen, n * sizeof(*out));
	pthread_mutex_unlock(&r->mu);
	return n;
}

uint64_t
rogue_offers(struct rogue *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->mu);
	n = r->offers;
	pthread_mutex_unlock(&r->mu);
	return n;
}

void
rogue_stop(struct rogue *r)
{
	if (!r)
		return;
	ev_timer_stop(r->loop, &r->probe);
	for (unsigned i = 0; i < r->nf; i++) {
		ev_io_stop(r->loop, &r->f[i].pw);
		ev_io_stop(r->loop, &r->f[i].uw);
		if (r->f[i].pfd >= 0)
			close(r->f[i].pfd);
		if (r->f[i].ufd >= 0)
			close(r->f[i].ufd);
	}
	pthread_mutex_destroy(&r->mu);
	free(r);
}
