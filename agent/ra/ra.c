#include "ra.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bm/log.h"
#include "bm/netaddr.h"
#include "config.h"
#include "ra_wire.h"

struct ra_iface {
	struct ra_service *s;
	ev_io io;
	int fd;
	unsigned ifindex;
	uint8_t mac[6];
	char name[IF_NAMESIZE];
	ev_tstamp last;
	bool answered; /* logged the first answer */
};

struct ra_service {
	struct ev_loop *loop;
	ev_timer tick;
	struct ra_iface v[AGENT_IFACES_MAX];
	unsigned n;
	struct ra_stats st;
};

static void
ra_send(struct ra_service *s, struct ra_iface *f)
{
	uint8_t buf[RA_LEN];
	struct sockaddr_in6 to = { .sin6_family = AF_INET6, .sin6_scope_id = f->ifindex };
	size_t len = ra_build(buf, sizeof(buf), f->mac);

	inet_pton(AF_INET6, "ff02::1", &to.sin6_addr);
	f->last = ev_now(s->loop);
	if (sendto(f->fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0) {
		if (s->st.send_errors++ == 0)
			BM_WARN("ra", "cannot send a router advertisement if=%s err=\"%s\"",
			        f->name, strerror(errno));
		return;
	}
	s->st.sent++;
}

static void
ra_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ra_iface *f = w->data;
	uint8_t buf[1500];
	ssize_t n;

	(void)loop;
	(void)revents;
	while ((n = recv(f->fd, buf, sizeof(buf), 0)) >= 0) {
		if (!ra_is_solicitation(buf, (size_t)n))
			continue;
		f->s->st.solicitations++;
		if ((ev_now(f->s->loop) - f->last) * 1000 < RA_MIN_GAP_MS)
			continue;
		ra_send(f->s, f);
		if (!f->answered) {
			f->answered = true;
			BM_INFO("ra", "answering router solicitations if=%s", f->name);
		}
	}
}

static void
ra_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ra_service *s = w->data;

	(void)loop;
	(void)revents;
	for (unsigned i = 0; i < s->n; i++)
		ra_send(s, &s->v[i]);
}

static int
iface_open(struct ra_iface *f)
{
	struct icmp6_filter filt;
	struct ipv6_mreq mr = { .ipv6mr_interface = f->ifindex };
	int hops = 255, off = 0;

	if ((f->fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6)) < 0)
		return -errno;
	ICMP6_FILTER_SETBLOCKALL(&filt);
	ICMP6_FILTER_SETPASS(ND_ROUTER_SOLICIT, &filt);
	inet_pton(AF_INET6, "ff02::2", &mr.ipv6mr_multiaddr); /* all routers: where RS go */
	if (setsockopt(f->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filt, sizeof(filt)) < 0 ||
	    setsockopt(f->fd, SOL_SOCKET, SO_BINDTODEVICE, f->name, (socklen_t)strlen(f->name)) <
	        0 ||
	    setsockopt(f->fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &f->ifindex, sizeof(f->ifindex)) <
	        0 ||
	    setsockopt(f->fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(f->fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof(hops)) < 0 ||
	    setsockopt(f->fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof(off)) < 0 ||
	    setsockopt(f->fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0 ||
	    bm_iface_mac(f->fd, f->name, f->mac) < 0)
		return -errno;
	return 0;
}

int
ra_service_start(struct ev_loop *loop, const char *const *ifaces, unsigned n_ifaces,
                 struct ra_service **ret)
{
	struct ra_service *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	for (unsigned i = 0; i < n_ifaces && i < AGENT_IFACES_MAX && r == 0; i++) {
		struct ra_iface *f = &s->v[s->n++];
		f->s = s;
		f->fd = -1;
		snprintf(f->name, sizeof(f->name), "%s", ifaces[i]);
		if (!(f->ifindex = if_nametoindex(f->name)))
			r = -ENODEV;
		else
			r = iface_open(f);
		if (r < 0) {
			BM_ERROR("ra", "cannot serve router advertisements if=%s err=\"%s\"",
			         f->name, strerror(-r));
			break;
		}
		ev_io_init(&f->io, ra_read_cb, f->fd, EV_READ);
		f->io.data = f;
		ev_io_start(loop, &f->io);
	}
	if (r < 0) {
		ra_service_stop(s);
		return r;
	}
	ev_timer_init(&s->tick, ra_tick_cb, 0.0, RA_INTERVAL_S);
	s->tick.data = s;
	ev_timer_start(loop, &s->tick);
	BM_INFO("ra", "serving interfaces=%u interval_s=%.0f", s->n, RA_INTERVAL_S);
	*ret = s;
	return 0;
}

void
ra_service_stats(const struct ra_service *s, struct ra_stats *ret)
{
	*ret = s ? s->st : (struct ra_stats){ 0 };
}

void
ra_service_stop(struct ra_service *s)
{
	if (!s)
		return;
	ev_timer_stop(s->loop, &s->tick);
	for (unsigned i = 0; i < s->n; i++) {
		if (s->v[i].fd < 0)
			continue;
		ev_io_stop(s->loop, &s->v[i].io);
		close(s->v[i].fd);
	}
	free(s);
}
