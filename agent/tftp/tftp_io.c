#define _GNU_SOURCE /* sendmmsg */
#include "tftp_io.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bm/addr_count.h"
#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/rate.h"
#include "bm/util.h"
#include "config.h"
#include "files.h"
#include "tftp_wire.h"
#include "tftp_xfer.h"

/* Without a timeout option: 250 ms, doubling per retry up to 8 s (a LAN
 * answers in well under a millisecond; emulated firmware can be slow).
 * The last wait, 8 s of silence before the transfer is abandoned, is longer
 * than a client's own timeout (atftp and tftp-hpa: 5 s) on purpose: atftp
 * 0.8 answers a window with a gap with one extra ACK, then ignores every
 * retransmitted block until it has heard nothing for 5 s. Its lost extra
 * ACK left it silent while a 4 s backoff kept it from timing out, until the
 * server gave up (a third of atftp's 1 MiB, windowsize 16 runs at 5 % loss
 * each way). The silence lets it re-ACK, and the transfer goes on.
 * A negotiated timeout (RFC 2349) is used as given, without backoff; one
 * above the service's timeout_max is not granted (RFC 2349 lets a server
 * only echo the value or leave the option out of its OACK), so a client
 * asking for 255 s cannot hold a transfer slot for 255 s x retries. */
#define TFTP_TIMER_FIRST_S 0.25
#define TFTP_TIMER_MAX_S 8.0
#define TFTP_LOG_PER_S 10u /* refusals logged per second at most */
#define log_limited(svc, ...) bm_log_limited(&(svc)->log_limit, TFTP_LOG_PER_S, "tftp", __VA_ARGS__)

struct listener {
	struct tftp_service *svc;
	int fd;
	ev_io w;
	char ifname[IF_NAMESIZE];
};

/* netascii: where the conversion stands (RFC 1350: LF -> CR LF, CR -> CR NUL). */
struct na_cursor {
	uint64_t off;
	bool has_pend;
	uint8_t pend;
};

struct session {
	struct tftp_service *svc;
	struct session *prev, *next;
	int fd;
	ev_io w;
	ev_timer t;
	ev_timer pace;          /* blocks wait for the rate's bytes */
	struct tftp_send paced; /* what waits */
	struct sockaddr_in peer;
	struct served_file *f;
	struct tftp_xfer x;
	struct tftp_request grant; /* options granted: the OACK */
	enum tftp_mode mode;
	double timer;          /* the retransmission timer's first value */
	bool fixed_timer;      /* negotiated: no backoff */
	struct na_cursor base; /* netascii: cursor at block base_block */
	uint64_t base_block;
	uint8_t *na_buf;
	char name[80]; /* escaped, for logs */
};

struct tftp_service {
	struct ev_loop *loop;
	void (*on_done)(void *arg, uint32_t peer_ip, const char *file, uint64_t bytes,
	                const char *why);
	void *on_done_arg;
	long (*make)(void *arg, const char *name, uint32_t peer_ip, uint32_t local_ip, char **ret);
	void *make_arg;
	char make_prefix[32];
	struct bm_rate *rate; /* NULL: no limit */
	struct file_table *files;
	struct listener l[AGENT_IFACES_MAX];
	unsigned nl;
	struct session *sessions;
	unsigned nsessions;
	unsigned max_sessions, max_per_client, timeout_max;
	struct bm_addr_count per_client; /* transfers each client address holds */
	struct tftp_stats st;
	struct bm_log_limit log_limit;
};

/* ------------------------------------------------------------- netascii */

static size_t
na_fill(const struct served_file *f, struct na_cursor *c, uint8_t *out, size_t n)
{
	size_t o = 0;

	if (c->has_pend && o < n) {
		out[o++] = c->pend;
		c->has_pend = false;
	}
	while (o < n && c->off < f->size) {
		uint8_t ch = f->data[c->off++];
		if (ch != '\n' && ch != '\r') {
			out[o++] = ch;
			continue;
		}
		out[o++] = '\r';
		uint8_t second = ch == '\n' ? '\n' : '\0';
		if (o < n) {
			out[o++] = second;
		} else {
			c->pend = second;
			c->has_pend = true;
		}
	}
	return o;
}

static uint64_t
na_size(const struct served_file *f)
{
	uint64_t n = f->size;
	for (uint64_t i = 0; i < f->size; i++)
		n += f->data[i] == '\n' || f->data[i] == '\r';
	return n;
}

/* Move the base cursor to block b (only forward: sends start at acked+1). */
static void
na_seek(struct session *s, uint64_t b)
{
	uint8_t scratch[TFTP_BLKSIZE_MAX];

	while (s->base_block < b) {
		na_fill(s->f, &s->base, scratch, s->x.blksize);
		s->base_block++;
	}
}

/* -------------------------------------------------------------- sending */

static int
send_oack(struct session *s)
{
	uint8_t buf[256];
	long n = tftp_build_oack(buf, sizeof(buf), &s->grant);
	return n > 0 && send(s->fd, buf, (size_t)n, 0) == n ? 0 : -errno;
}

/* Send blocks first..last in one sendmmsg: a 4-byte header and the data,
 * straight from the mapped file for octet transfers. */
static int
send_blocks(struct session *s, uint64_t first, uint64_t last)
{
	struct mmsghdr m[TFTP_WINDOW_MAX];
	struct iovec iov[TFTP_WINDOW_MAX][2];
	uint8_t hdr[TFTP_WINDOW_MAX][TFTP_HDR];
	struct na_cursor c = { 0 };
	unsigned n = 0;

	if (s->mode == TFTP_MODE_NETASCII) {
		na_seek(s, first);
		c = s->base;
	}
	for (uint64_t b = first; b <= last && n < TFTP_WINDOW_MAX; b++, n++) {
		uint32_t len = tftp_xfer_block_len(&s->x, b);
		const uint8_t *data = s->f->data ? s->f->data + (b - 1) * s->x.blksize : hdr[n];
		if (s->mode == TFTP_MODE_NETASCII) {
			data = s->na_buf + (size_t)n * s->x.blksize;
			na_fill(s->f, &c, (uint8_t *)data, len);
		}
		tftp_build_data_header(hdr[n], tftp_wire_block(b));
		iov[n][0] = (struct iovec){ hdr[n], TFTP_HDR };
		iov[n][1] = (struct iovec){ (void *)data, len };
		m[n] = (struct mmsghdr){ .msg_hdr = { .msg_iov = iov[n], .msg_iovlen = 2 } };
		s->svc->st.bytes += len;
	}
	for (unsigned done = 0; done < n;) {
		int r = sendmmsg(s->fd, m + done, n - done, 0);
		if (r < 0)
			return -errno;
		done += (unsigned)r;
	}
	return 0;
}

/* Send; a failure is loss (the timer retransmits: a firewall drop gives
 * EPERM, a burst ENOBUFS), except a client that is gone: -ECONNREFUSED. */
static int
send_what(struct session *s, const struct tftp_send *what)
{
	int r = what->oack ? send_oack(s) : send_blocks(s, what->first, what->last);
	return r == -ECONNREFUSED ? r : 0;
}

/* Bytes of blocks first..last. */
static uint64_t
blocks_bytes(const struct session *s, uint64_t first, uint64_t last)
{
	uint64_t n = 0;
	for (uint64_t b = first; b <= last; b++)
		n += tftp_xfer_block_len(&s->x, b);
	return n;
}

/* Take the bytes of what's blocks from the rate, all or none; 0 when they
 * may go now, else the milliseconds to wait. */
static uint64_t
rate_wait(struct session *s, const struct tftp_send *what)
{
	uint64_t want, got, now = bm_mono_ms();

	if (!s->svc->rate || what->oack)
		return 0;
	want = blocks_bytes(s, what->first, what->last);
	if ((got = bm_rate_take_upto(s->svc->rate, want, now)) == want)
		return 0;
	bm_rate_give(s->svc->rate, got);
	return bm_rate_wait_ms(s->svc->rate, want, now);
}

/* Send new blocks within the rack's rate: when the bucket lacks their
 * bytes they wait on the pace timer (the retransmission timer stopped
 * meanwhile). Retransmissions go at once. */
static int
send_paced(struct session *s, const struct tftp_send *what)
{
	uint64_t wait = rate_wait(s, what);

	if (!wait)
		return send_what(s, what);
	s->paced = *what;
	ev_timer_stop(s->svc->loop, &s->t);
	ev_timer_set(&s->pace, (double)wait / 1e3, 0.);
	ev_timer_start(s->svc->loop, &s->pace);
	return 0;
}

static void session_end(struct session *s, bool ok, const char *why);

static void
session_pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = bm_container_of(w, struct session, pace);
	uint64_t wait = rate_wait(s, &s->paced);

	(void)revents;
	if (wait) {
		ev_timer_set(w, (double)wait / 1e3, 0.);
		ev_timer_start(loop, w);
		return;
	}
	if (send_what(s, &s->paced) < 0) {
		session_end(s, false, "client port unreachable");
		return;
	}
	s->t.repeat = s->timer;
	ev_timer_again(loop, &s->t);
}

/* ------------------------------------------------------------- sessions */

static void
session_end(struct session *s, bool ok, const char *why)
{
	struct tftp_service *svc = s->svc;
	char ip[BM_IP4_STR];

	if (ok)
		svc->st.completed++;
	else {
		svc->st.failed++;
		log_limited(svc, "transfer ended peer=%s:%u file=%s reason=\"%s\"",
		            bm_ip4_format(ntohl(s->peer.sin_addr.s_addr), ip),
		            ntohs(s->peer.sin_port), s->name, why);
	}
	if (svc->on_done)
		svc->on_done(svc->on_done_arg, ntohl(s->peer.sin_addr.s_addr), s->name,
		             ok ? s->f->size : 0, ok ? NULL : why);
	ev_io_stop(svc->loop, &s->w);
	ev_timer_stop(svc->loop, &s->t);
	ev_timer_stop(svc->loop, &s->pace);
	close(s->fd);
	file_put(svc->files, s->f);
	if (s->prev)
		s->prev->next = s->next;
	else
		svc->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	svc->nsessions--;
	bm_addr_count_sub(&svc->per_client, ntohl(s->peer.sin_addr.s_addr));
	free(s->na_buf);
	free(s);
}

/* One packet per wake-up: in lock-step there is only ever one, and epoll is
 * level-triggered, so a second read would only return EAGAIN (a syscall per
 * block saved). */
static void
session_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct session *s = bm_container_of(w, struct session, w);
	uint8_t buf[512];
	struct tftp_send what;
	uint16_t block, op;
	ssize_t n;
	int r;

	(void)revents;
	if ((n = recv(s->fd, buf, sizeof(buf), 0)) < 0) {
		if (errno == ECONNREFUSED) /* the client went away (ICMP port unreachable) */
			session_end(s, false, "client port unreachable");
		return;
	}
	if ((r = tftp_ack_parse(buf, (size_t)n, &block, &op)) < 0) {
		if (op == TFTP_ERROR)
			session_end(s, false, "the client sent an error");
		return; /* not an ACK: ignored */
	}
	r = tftp_xfer_ack(&s->x, block, &what);
	if (r == 2) {
		session_end(s, true, NULL);
		return;
	}
	if (r == 1) {
		if (ev_is_active(&s->pace)) {
			s->paced = what; /* blocks wait for the rate: these now */
			return;
		}
		s->t.repeat = s->timer; /* progress: back to the first value */
		ev_timer_again(loop, &s->t);
		if (send_paced(s, &what) < 0)
			session_end(s, false, "client port unreachable");
	}
}

static void
session_timeout_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct session *s = bm_container_of(w, struct session, t);
	struct tftp_send what;

	(void)revents;
	if (tftp_xfer_timeout(&s->x, TFTP_RETRIES_MAX, &what) < 0) {
		session_end(s, false, "no acknowledgement: abandoned");
		return;
	}
	s->svc->st.retransmits++;
	if (send_what(s, &what) < 0) {
		session_end(s, false, "client port unreachable");
		return;
	}
	if (!s->fixed_timer && w->repeat * 2 <= TFTP_TIMER_MAX_S)
		w->repeat *= 2;
	ev_timer_again(loop, w);
}

/* A socket of its own for the transfer (RFC 1350: the server's TID),
 * connected to the client, on the interface the request came in on. */
static int
session_socket(const struct listener *l, const struct sockaddr_in *peer)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in any = { .sin_family = AF_INET };
	int buf = 4 << 20;

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, l->ifname,
	               (socklen_t)strlen(l->ifname) + 1) < 0 ||
	    bind(fd, (struct sockaddr *)&any, sizeof(any)) < 0 ||
	    connect(fd, (const struct sockaddr *)peer, sizeof(*peer)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	return fd;
}

/* What we grant of what was asked. */
static void
negotiate(struct session *s, const struct tftp_request *rq, uint64_t size)
{
	struct tftp_request *g = &s->grant;
	uint32_t blksize = TFTP_DEFAULT_BLKSIZE;
	uint16_t window = 1;

	memset(g, 0, sizeof(*g));
	if (rq->has_blksize) {
		g->has_blksize = true;
		g->blksize = blksize = rq->blksize;
	}
	if (rq->has_tsize) {
		g->has_tsize = true;
		g->tsize = size;
	}
	if (rq->has_timeout && rq->timeout <= s->svc->timeout_max) {
		g->has_timeout = true;
		g->timeout = rq->timeout;
	} else if (rq->has_timeout) {
		s->svc->st.timeouts_declined++;
	}
	if (rq->has_windowsize) {
		g->has_windowsize = true;
		g->windowsize = window =
		    rq->windowsize > TFTP_WINDOW_MAX ? TFTP_WINDOW_MAX : rq->windowsize;
	}
	tftp_xfer_init(&s->x, size, blksize, window,
	               g->has_blksize || g->has_tsize || g->has_timeout || g->has_windowsize);
}

static void
refuse(struct listener *l, const struct sockaddr_in *peer, enum tftp_err code, const char *msg,
       const char *name, const char *why)
{
	uint8_t buf[128];
	long n = tftp_build_error(buf, sizeof(buf), code, msg);
	char ip[BM_IP4_STR];

	l->svc->st.refused++;
	if (n > 0)
		sendto(l->fd, buf, (size_t)n, 0, (const struct sockaddr *)peer, sizeof(*peer));
	log_limited(l->svc, "refused peer=%s:%u file=%s reason=\"%s\"",
	            bm_ip4_format(ntohl(peer->sin_addr.s_addr), ip), ntohs(peer->sin_port), name,
	            why);
}

static int
session_start(struct listener *l, const struct tftp_request *rq, const struct sockaddr_in *peer,
              struct served_file *f, const char *esc)
{
	struct tftp_service *svc = l->svc;
	struct session *s = calloc(1, sizeof(*s));
	struct tftp_send what;
	int fd;

	if (!s)
		return -ENOMEM;
	if ((fd = session_socket(l, peer)) < 0) {
		free(s);
		return fd;
	}
	s->svc = svc;
	s->fd = fd;
	s->f = f;
	s->peer = *peer;
	s->mode = rq->mode;
	snprintf(s->name, sizeof(s->name), "%s", esc);
	negotiate(s, rq, rq->mode == TFTP_MODE_NETASCII ? na_size(f) : f->size);
	if (s->mode == TFTP_MODE_NETASCII) {
		s->base_block = 1;
		if (!(s->na_buf = malloc((size_t)s->x.window * s->x.blksize))) {
			close(fd);
			free(s);
			return -ENOMEM;
		}
	}
	if ((s->next = svc->sessions))
		s->next->prev = s;
	svc->sessions = s;
	svc->nsessions++;
	bm_addr_count_add(&svc->per_client, ntohl(peer->sin_addr.s_addr), 0);
	svc->st.started++;
	ev_io_init(&s->w, session_read_cb, fd, EV_READ);
	ev_io_start(svc->loop, &s->w);
	s->fixed_timer = s->grant.has_timeout;
	s->timer = s->grant.has_timeout ? s->grant.timeout : TFTP_TIMER_FIRST_S;
	ev_timer_init(&s->t, session_timeout_cb, 0., s->timer);
	ev_timer_again(svc->loop, &s->t);
	ev_init(&s->pace, session_pace_cb);
	tftp_xfer_start(&s->x, &what);
	if (send_paced(s, &what) < 0)
		session_end(s, false, "client port unreachable");
	return 0;
}

/* The local address a reply to peer leaves from, on l's interface. */
static uint32_t
local_ip_for(const struct listener *l, const struct sockaddr_in *peer)
{
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	int fd = session_socket(l, peer);
	uint32_t ip = 0;

	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&me, &len) == 0)
		ip = ntohl(me.sin_addr.s_addr);
	if (fd >= 0)
		close(fd);
	return ip;
}

/* A file the service's maker makes for this asker. Returns 0 with *ret,
 * -ENOENT (look in the roots), -EACCES, -ENOMEM. */
static int
made_file(const struct listener *l, const struct tftp_request *rq, const struct sockaddr_in *peer,
          struct served_file **ret)
{
	const struct tftp_service *svc = l->svc;
	char *text = NULL;
	long n;

	/* Only its names: finding the local address costs a socket. */
	if (!svc->make || strncmp(rq->file, svc->make_prefix, strlen(svc->make_prefix)))
		return -ENOENT;
	n = svc->make(svc->make_arg, rq->file, ntohl(peer->sin_addr.s_addr), local_ip_for(l, peer),
	              &text);
	if (n < 0)
		return (int)n;
	return file_from_text(text, (size_t)n, ret);
}

static void
handle_request(struct listener *l, const uint8_t *buf, size_t n, const struct sockaddr_in *peer)
{
	struct tftp_service *svc = l->svc;
	struct tftp_request rq;
	struct served_file *f;
	char esc[80];
	int r;

	/* DATA, ACK, ERROR, OACK on the request port (a client answering the
	 * ERROR we sent from here, a stray): never answered, or two peers
	 * could bounce errors forever. */
	if (n >= 2 && buf[0] == 0 && buf[1] >= TFTP_DATA && buf[1] <= TFTP_OACK)
		return;
	svc->st.requests++;
	if ((r = tftp_request_parse(buf, n, &rq)) < 0) {
		refuse(l, peer, r == -EPROTO ? TFTP_EBADOP : TFTP_EUNDEF, "malformed request", "-",
		       "malformed request");
		return;
	}
	bm_log_escape(rq.file, esc, sizeof(esc));
	if (rq.op == TFTP_WRQ) {
		refuse(l, peer, TFTP_EACCESS, "read-only server", esc, "write request");
		return;
	}
	if (svc->nsessions >= svc->max_sessions) {
		refuse(l, peer, TFTP_EUNDEF, "busy", esc, "too many transfers");
		return;
	}
	if (bm_addr_count_get(&svc->per_client, ntohl(peer->sin_addr.s_addr)) >=
	    svc->max_per_client) {
		svc->st.refused_per_client++;
		refuse(l, peer, TFTP_EUNDEF, "busy", esc, "too many transfers from this address");
		return;
	}
	/* GRUB's TFTP asks for absolute names ("/grub/grub.cfg", from its
	 * prefix); tftpd-hpa -s serves them from its root, and so do we: the
	 * name stays beneath the root either way. */
	size_t lead = strspn(rq.file, "/");
	memmove(rq.file, rq.file + lead, strlen(rq.file + lead) + 1);
	if ((r = made_file(l, &rq, peer, &f)) == -ENOENT)
		r = file_get(svc->files, rq.file, &f);
	if (r < 0) {
		refuse(l, peer, r == -ENOENT ? TFTP_ENOTFOUND : TFTP_EACCESS,
		       r == -ENOENT ? "file not found" : "access violation", esc,
		       r == -ENOENT ? "not found" : "outside the served roots or not a file");
		return;
	}
	if ((r = session_start(l, &rq, peer, f, esc)) < 0) {
		file_put(svc->files, f);
		refuse(l, peer, TFTP_EUNDEF, "server error", esc, strerror(-r));
	}
}

static void
listener_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = bm_container_of(w, struct listener, w);
	uint8_t buf[TFTP_REQUEST_MAX];

	(void)loop;
	(void)revents;
	for (unsigned i = 0; i < 64; i++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		ssize_t n = recvfrom(l->fd, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &pl);
		if (n < 0)
			return;
		handle_request(l, buf, (size_t)n, &peer);
	}
}

/* ------------------------------------------------------------ lifecycle */

static int
listen_on(struct listener *l, const char *ifname, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) <
	        0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	l->fd = fd;
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	return 0;
}

int
tftp_service_start(struct ev_loop *loop, const struct tftp_service_opts *o,
                   struct tftp_service **ret)
{
	struct tftp_service *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->files = o->files;
	s->max_sessions = o->max_sessions ? o->max_sessions : TFTP_SESSIONS_MAX;
	s->max_per_client = o->max_per_client ? o->max_per_client : TFTP_PER_CLIENT_MAX;
	s->timeout_max = o->timeout_max ? o->timeout_max : TFTP_TIMEOUT_MAX_S;
	if (bm_addr_count_init(&s->per_client, s->max_sessions) < 0) {
		free(s);
		return -ENOMEM;
	}
	s->on_done = o->on_done;
	s->on_done_arg = o->arg;
	s->make = o->make;
	s->rate = o->rate;
	s->make_arg = o->make_arg;
	snprintf(s->make_prefix, sizeof(s->make_prefix), "%s",
	         o->make_prefix ? o->make_prefix : "");
	for (unsigned i = 0; i < o->n_ifaces && i < AGENT_IFACES_MAX; i++) {
		struct listener *l = &s->l[i];
		l->svc = s;
		if ((r = listen_on(l, o->ifaces[i], o->port ? o->port : 69)) < 0) {
			BM_ERROR("tftp", "cannot listen iface=%s err=\"%s\"", o->ifaces[i],
			         strerror(-r));
			tftp_service_stop(s);
			return r;
		}
		ev_io_init(&l->w, listener_cb, l->fd, EV_READ);
		ev_io_start(loop, &l->w);
		s->nl++;
	}
	BM_INFO("tftp", "serving interfaces=%u", s->nl);
	*ret = s;
	return 0;
}

void
tftp_service_stats(const struct tftp_service *s, struct tftp_stats *ret)
{
	*ret = s->st;
	ret->sessions = s->nsessions;
}

void
tftp_service_stop(struct tftp_service *s)
{
	if (!s)
		return;
	while (s->sessions)
		session_end(s->sessions, false, "agent stopping");
	for (unsigned i = 0; i < s->nl; i++) {
		ev_io_stop(s->loop, &s->l[i].w);
		close(s->l[i].fd);
	}
	bm_addr_count_fini(&s->per_client);
	free(s);
}
