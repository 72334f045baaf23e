#define _GNU_SOURCE /* accept4 */
#include "http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bm/addr_count.h"
#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/rate.h"
#include "bm/util.h"
#include "files.h"
#include "http_reply.h"

#define HTTP_LOG_PER_S 10u /* refusals logged per second at most */
#define log_limited(svc, ...) bm_log_limited(&(svc)->log_limit, HTTP_LOG_PER_S, "http", __VA_ARGS__)
#define HTTP_IN_FIRST 4096u /* a connection's first input buffer; grows to the limits */
#define HTTP_IN_MAX (HTTP_HEAD_MAX + HTTP_BODY_MAX)
#define HTTP_SENDFILE_CHUNK (1u << 30)
/* Under a rate (opts.rate), file bytes go in bites of at most this. */
#define HTTP_PACE_CHUNK (64u << 10)
/* After the last answer, unread request bytes are drained this long before
 * the close, so the close is a FIN the client reads the answer before, not
 * a reset that can destroy it (nginx's lingering close). */
#define HTTP_LINGER_S 2.0

enum conn_state { C_IDLE, C_HEAD, C_WRITE, C_LINGER };

struct conn {
	struct http_server *srv;
	struct conn *prev, *next;
	int fd;
	ev_io rw, ww;
	ev_timer t;
	ev_timer pace; /* the rate's bucket is empty: write again then */
	bool paced;
	struct http_peer peer;
	enum conn_state state;
	double deadline; /* of the state: idle, head or write progress */
	char *in;
	size_t in_len, in_cap, consumed;
	/* The answer being written: head, then body or the file range. */
	char head[1024];
	size_t head_len, head_off;
	char *body;
	size_t body_len, body_off;
	struct served_file *file;
	uint64_t file_off, file_end;
	bool close_after;
};

struct listener {
	struct http_server *srv;
	int fd;
	ev_io aw;
};

struct http_server {
	struct ev_loop *loop;
	struct http_server_opts o;
	struct listener l[HTTP_LISTENERS_MAX];
	unsigned nl;
	uint16_t port;
	struct conn *conns;
	struct bm_addr_count per_client; /* connections each address holds */
	struct http_stats st;
	struct bm_log_limit log_limit;
	time_t date_sec;
	char date[40];
};

static void conn_process(struct conn *c);

/* ----------------------------------------------------------- lifecycle */

static void
conn_close(struct conn *c)
{
	struct http_server *s = c->srv;

	ev_io_stop(s->loop, &c->rw);
	ev_io_stop(s->loop, &c->ww);
	ev_timer_stop(s->loop, &c->t);
	ev_timer_stop(s->loop, &c->pace);
	close(c->fd);
	free(c->body);
	if (c->file)
		file_put(s->o.files, c->file);
	free(c->in);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->st.open--;
	bm_addr_count_sub(&s->per_client, c->peer.ip);
	free(c);
}

/* Enter a state with its deadline (the timer fires at the earliest). */
static void
conn_state(struct conn *c, enum conn_state st)
{
	struct http_server *s = c->srv;
	double after = st == C_HEAD     ? s->o.header_timeout
	               : st == C_LINGER ? HTTP_LINGER_S
	                                : s->o.idle_timeout;

	c->state = st;
	c->deadline = ev_now(s->loop) + after;
	c->t.repeat = after;
	ev_timer_again(s->loop, &c->t);
}

/* ------------------------------------------------------------- writing */

/* Send what is left of the answer. Returns 1 when all is sent, 0 when the
 * socket is full, -1 when the connection failed. */
static int
send_some(struct conn *c)
{
	while (c->head_off < c->head_len || c->body_off < c->body_len) {
		struct iovec iov[2] = {
			{ c->head + c->head_off, c->head_len - c->head_off },
			{ c->body + c->body_off, c->body_len - c->body_off },
		};
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t n = sendmsg(c->fd, &m, MSG_NOSIGNAL | (c->file ? MSG_MORE : 0));
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		size_t h = (size_t)n < iov[0].iov_len ? (size_t)n : iov[0].iov_len;
		c->head_off += h;
		c->body_off += (size_t)n - h;
		c->srv->st.bytes += (uint64_t)n;
	}
	while (c->file && c->file_off < c->file_end) {
		struct bm_rate *rate = c->srv->o.rate;
		off_t off = (off_t)c->file_off;
		uint64_t left = c->file_end - c->file_off,
		         max = rate ? HTTP_PACE_CHUNK : HTTP_SENDFILE_CHUNK;
		uint64_t want = left > max ? max : left, may = want;
		if (rate && !(may = bm_rate_take_upto(rate, want, bm_mono_ms()))) {
			c->paced = true;
			return 0;
		}
		ssize_t n = sendfile(c->fd, c->file->fd, &off, (size_t)may);
		if (rate)
			bm_rate_give(rate, may - (n > 0 ? (uint64_t)n : 0));
		if (n <= 0)
			return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
		c->file_off += (uint64_t)n;
		c->srv->st.bytes += (uint64_t)n;
	}
	return 1;
}

/* No more answers: send the FIN, drain what the client still sends. */
static void
conn_linger(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
	ev_io_stop(c->srv->loop, &c->ww);
	ev_io_start(c->srv->loop, &c->rw);
	conn_state(c, C_LINGER);
}

/* The answer is out: drop its request from the input. Returns false when
 * the connection is closed. */
static bool
answer_done(struct conn *c)
{
	struct http_server *s = c->srv;

	free(c->body);
	c->body = NULL;
	c->body_len = c->body_off = c->head_len = c->head_off = 0;
	if (c->file)
		file_put(s->o.files, c->file);
	c->file = NULL;
	if (c->close_after) {
		conn_linger(c);
		return false;
	}
	memmove(c->in, c->in + c->consumed, c->in_len - c->consumed);
	c->in_len -= c->consumed;
	c->consumed = 0;
	ev_io_stop(s->loop, &c->ww);
	ev_io_start(s->loop, &c->rw);
	conn_state(c, c->in_len ? C_HEAD : C_IDLE);
	return true;
}

/* Send the answer set up. Returns false when the connection is closed or
 * waits for the client to read. */
static bool
conn_flush(struct conn *c)
{
	int r = send_some(c);

	if (r < 0) {
		conn_close(c);
		return false;
	}
	if (r == 0) {
		/* The client reads slowly, or the rate holds it back: wait, the
		 * deadline counts from now. */
		struct http_server *s = c->srv;
		conn_state(c, C_WRITE);
		ev_io_stop(s->loop, &c->rw);
		if (c->paced) {
			c->paced = false;
			ev_io_stop(s->loop, &c->ww);
			ev_timer_set(
			    &c->pace,
			    (double)bm_rate_wait_ms(s->o.rate, HTTP_PACE_CHUNK, bm_mono_ms()) / 1e3,
			    0.);
			ev_timer_start(s->loop, &c->pace);
		} else {
			ev_io_start(s->loop, &c->ww);
		}
		return false;
	}
	return answer_done(c);
}

static void
write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;

	(void)loop;
	(void)revents;
	if (conn_flush(c))
		conn_process(c);
}

static void
pace_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;

	(void)loop;
	(void)revents;
	if (conn_flush(c))
		conn_process(c);
}

/* ------------------------------------------------------------ answering */

static size_t
format_head(struct conn *c, const struct http_request *req, const struct http_reply *rep,
            uint64_t len, uint64_t first, uint64_t last, uint64_t size)
{
	struct http_server *s = c->srv;
	time_t now = (time_t)ev_now(s->loop);

	if (now != s->date_sec) {
		s->date_sec = now;
		http_date(now, s->date, sizeof(s->date));
	}
	return http_format_head(c->head, sizeof(c->head), s->date, req, rep, c->close_after, len,
	                        first, last, size);
}

/* Frame the handler's answer for sending. */
static void
answer(struct conn *c, const struct http_request *req, struct http_reply *rep)
{
	uint64_t size, first = 0, last, len;

	if (rep->status < 100 || rep->status > 599)
		http_reply_text(rep, 500, NULL); /* a handler bug; the client learns of it */
	size = rep->file ? rep->file->size : rep->body_len;
	last = size - 1;
	if (rep->status == 200)
		http_conditional(req, rep, &first, &last, size);
	len = rep->status == 206                         ? last - first + 1
	      : rep->status == 416 || rep->status == 304 ? 0
	                                                 : size;
	c->close_after |= rep->close || !req->keep_alive;
	c->head_len = format_head(c, req, rep, len, first, last, size);
	c->srv->st.requests++;
	c->srv->st.by_class[rep->status / 100 < 6 ? rep->status / 100 : 0]++;
	if (req->method == HTTP_HEAD || len == 0) {
		free(rep->body);
		rep->body = NULL;
		rep->body_len = 0;
		if (rep->file)
			file_put(c->srv->o.files, rep->file);
		rep->file = NULL;
	}
	c->body = rep->body;
	c->body_len = rep->file ? 0 : rep->body_len;
	c->file = rep->file;
	c->file_off = first;
	c->file_end = rep->file ? first + len : 0;
}

/* Set up the answer to a request the server refuses by itself; the
 * connection closes after it. */
static void
refuse(struct conn *c, int status, const char *why)
{
	struct http_request req = { .minor = 1 };
	struct http_reply rep = { 0 };
	char ip[BM_IP4_STR];

	c->srv->st.refused++;
	log_limited(c->srv, "refused peer=%s:%u status=%d reason=\"%s\"",
	            bm_ip4_format(c->peer.ip, ip), c->peer.port, status, why);
	http_reply_text(&rep, status, NULL);
	rep.close = true;
	c->consumed = c->in_len;
	answer(c, &req, &rep);
}

/* Set up the answer to the next request of the input. Returns true when
 * there is one to send, false when the request is not whole yet. */
static bool
take_request(struct conn *c)
{
	struct http_request req;
	struct http_reply rep = { 0 };
	char body[HTTP_BODY_MAX + 1];
	int status = 0;
	long n;

	if ((n = http_parse(c->in, c->in_len, &req, &status)) < 0) {
		refuse(c, status, "malformed or oversized request head");
		return true;
	}
	if (n == 0)
		return false;
	if (req.has_length && req.length > HTTP_BODY_MAX) {
		refuse(c, 413, "request body too large");
		return true;
	}
	if (c->in_len < (size_t)n + req.length)
		return false; /* the body is on its way */
	c->consumed = (size_t)n + req.length;
	memcpy(body, c->in + n, req.length);
	body[req.length] = '\0';
	c->srv->o.handler(c->srv->o.arg, &c->peer, &req, body, &rep);
	answer(c, &req, &rep);
	return true;
}

/* Answer the whole requests of the input in order, while the client keeps
 * up with the answers. */
static void
conn_process(struct conn *c)
{
	while ((c->state == C_IDLE || c->state == C_HEAD) && c->in_len && take_request(c) &&
	       conn_flush(c))
		;
}

/* ------------------------------------------------------------- reading */

static int
grow_input(struct conn *c)
{
	size_t cap = c->in_cap * 2;
	char *p;

	if (c->in_cap >= HTTP_IN_MAX)
		return -ENOBUFS;
	if (cap > HTTP_IN_MAX)
		cap = HTTP_IN_MAX;
	if (!(p = realloc(c->in, cap + 1)))
		return -ENOMEM;
	c->in = p;
	c->in_cap = cap;
	return 0;
}

static void
read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct conn *c = w->data;
	ssize_t n;

	(void)loop;
	(void)revents;
	if (c->state == C_LINGER) {
		n = recv(c->fd, c->in, c->in_cap, 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	if (c->in_len == c->in_cap && grow_input(c) < 0) {
		refuse(c, 431, "request too large");
		conn_flush(c);
		return;
	}
	n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	if (c->state == C_IDLE)
		conn_state(c, C_HEAD);
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	conn_process(c);
}

static void
timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct conn *c = w->data;
	char ip[BM_IP4_STR];

	(void)revents;
	if (ev_now(loop) < c->deadline - 0.001) {
		w->repeat = c->deadline - ev_now(loop);
		ev_timer_again(loop, w);
		return;
	}
	c->srv->st.timeouts++;
	if (c->state == C_HEAD && c->in_len) {
		/* A slow or stuck request: tell the client, once, without
		 * waiting on it to read, and close. */
		refuse(c, 408, "request not received in time");
		if (send_some(c) < 0)
			conn_close(c);
		else
			conn_linger(c);
		return;
	}
	if (c->state == C_WRITE)
		log_limited(c->srv, "closed peer=%s:%u reason=\"client stopped reading\"",
		            bm_ip4_format(c->peer.ip, ip), c->peer.port);
	conn_close(c);
}

/* ------------------------------------------------------------ accepting */

static int
conn_new(struct http_server *s, int fd, const struct sockaddr_in *peer)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct sockaddr_in local;
	socklen_t ll = sizeof(local);
	int one = 1;

	if (!c || !(c->in = malloc(HTTP_IN_FIRST + 1))) {
		free(c);
		return -ENOMEM;
	}
	c->srv = s;
	c->fd = fd;
	c->in_cap = HTTP_IN_FIRST;
	c->peer.ip = ntohl(peer->sin_addr.s_addr);
	c->peer.port = ntohs(peer->sin_port);
	if (getsockname(fd, (struct sockaddr *)&local, &ll) == 0) {
		c->peer.local_ip = ntohl(local.sin_addr.s_addr);
		c->peer.local_port = ntohs(local.sin_port);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev_io_init(&c->rw, read_cb, fd, EV_READ);
	ev_io_init(&c->ww, write_cb, fd, EV_WRITE);
	ev_init(&c->t, timer_cb);
	ev_init(&c->pace, pace_cb);
	c->rw.data = c->ww.data = c->t.data = c->pace.data = c;
	if ((c->next = s->conns))
		c->next->prev = c;
	s->conns = c;
	s->st.open++;
	bm_addr_count_add(&s->per_client, c->peer.ip, 0);
	ev_io_start(s->loop, &c->rw);
	/* A new connection has header_timeout to send its first request. */
	conn_state(c, C_HEAD);
	return 0;
}

static void
accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct listener *l = w->data;
	struct http_server *s = l->srv;
	char ip[BM_IP4_STR];

	(void)loop;
	(void)revents;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		int fd =
		    accept4(l->fd, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_limited(s, "accept failed err=\"%s\"", strerror(errno));
			return;
		}
		unsigned held = bm_addr_count_get(&s->per_client, ntohl(peer.sin_addr.s_addr));
		if (held >= s->o.max_per_client) {
			s->st.rejected_per_client++;
			log_limited(s,
			            "connection refused peer=%s:%u reason=\"%u connections open "
			            "from this address\"",
			            bm_ip4_format(ntohl(peer.sin_addr.s_addr), ip),
			            ntohs(peer.sin_port), held);
			close(fd);
			continue;
		}
		if (s->st.open >= s->o.max_conns || conn_new(s, fd, &peer) < 0) {
			s->st.rejected++;
			log_limited(
			    s, "connection refused peer=%s:%u reason=\"%llu connections open\"",
			    bm_ip4_format(ntohl(peer.sin_addr.s_addr), ip), ntohs(peer.sin_port),
			    (unsigned long long)s->st.open);
			close(fd);
			continue;
		}
		s->st.accepted++;
	}
}

/* A listening socket on addr (host order), on interface ifname when one
 * is given (then only connections arriving over it are accepted). */
static int
listen_on(struct http_server *s, uint32_t addr, const char *ifname)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
		                 .sin_port = htons(s->port),
		                 .sin_addr.s_addr = htonl(addr) };
	socklen_t al = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct listener *l = &s->l[s->nl];

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((ifname && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
	                          (socklen_t)strlen(ifname) + 1) < 0) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	s->port = ntohs(a.sin_port); /* when asked for 0, the others take the same */
	l->srv = s;
	l->fd = fd;
	ev_io_init(&l->aw, accept_cb, fd, EV_READ);
	l->aw.data = l;
	ev_io_start(s->loop, &l->aw);
	s->nl++;
	return 0;
}

static int
listen_all(struct http_server *s, const struct http_server_opts *o)
{
	char ip[BM_IP4_STR];
	int r = 0;

	if (o->n_ifaces + o->n_addrs == 0 || o->n_ifaces + o->n_addrs > HTTP_LISTENERS_MAX)
		return -EINVAL;
	for (unsigned i = 0; i < o->n_ifaces && r == 0; i++)
		if ((r = listen_on(s, 0, o->ifaces[i])) < 0)
			BM_ERROR("http", "cannot listen iface=%s port=%u err=\"%s\"", o->ifaces[i],
			         o->port, strerror(-r));
	for (unsigned i = 0; i < o->n_addrs && r == 0; i++)
		if ((r = listen_on(s, o->addrs[i], NULL)) < 0)
			BM_ERROR("http", "cannot listen address=%s port=%u err=\"%s\"",
			         bm_ip4_format(o->addrs[i], ip), o->port, strerror(-r));
	return r;
}

int
http_server_start(struct ev_loop *loop, const struct http_server_opts *o, struct http_server **ret)
{
	struct http_server *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->o = *o;
	s->port = o->port;
	if (!s->o.max_per_client)
		s->o.max_per_client = HTTP_PER_CLIENT_MAX;
	if ((r = bm_addr_count_init(&s->per_client, o->max_conns)) < 0 ||
	    (r = listen_all(s, o)) < 0) {
		http_server_stop(s);
		return r;
	}
	BM_INFO("http", "listening %s port=%u listeners=%u max_connections=%u per_client=%u",
	        o->name ? o->name : "", s->port, s->nl, o->max_conns, s->o.max_per_client);
	*ret = s;
	return 0;
}

void
http_server_stats(const struct http_server *s, struct http_stats *ret)
{
	*ret = s->st;
}

uint16_t
http_server_port(const struct http_server *s)
{
	return s->port;
}

void
http_server_stop(struct http_server *s)
{
	if (!s)
		return;
	while (s->conns)
		conn_close(s->conns);
	for (unsigned i = 0; i < s->nl; i++) {
		ev_io_stop(s->loop, &s->l[i].aw);
		close(s->l[i].fd);
	}
	bm_addr_count_fini(&s->per_client);
	free(s);
}
