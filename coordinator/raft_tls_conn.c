/* Raft TLS connections: the bridge between a peer's TCP socket and the
 * socketpair end raft_uv reads and writes, through OpenSSL. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bm/log.h"
#include "bm/rd.h"
#include "bm/util.h"
#include "bm/wr.h"
#include "raft_tls_priv.h"

#define CHUNK 16384u
#define REFUSAL_LOG_MS 5000u

/* ---------------------------------------------------------- lifecycle */

static void
user_done(struct tls_transport *tt)
{
	if (--tt->users == 0 && tt->closing && tt->close_cb)
		tt->close_cb(tt->t);
}

void
raft_tls_handle_closed(uv_handle_t *h)
{
	user_done(h->data);
}

static void
conn_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct tls_transport *tt = c->tt;

	if (--c->open)
		return;
	SSL_free(c->ssl);
	free(c);
	user_done(tt);
}

static void
unlink_conn(struct conn *c)
{
	for (struct conn **pp = &c->tt->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			return;
		}
}

/* Refusals (a rogue peer, a bad certificate) are logged at most every few
 * seconds: a peer retries at once. */
static void
log_refusal(struct conn *c, const char *why)
{
	struct tls_transport *tt = c->tt;
	uint64_t now = bm_mono_ms();

	tt->refused++;
	if (now - tt->logged_ms < REFUSAL_LOG_MS)
		return;
	tt->logged_ms = now;
	BM_WARN("raft", "TLS connection refused peer=%s dir=%s why=\"%s\" refused_total=%llu",
	        c->peer[0] ? c->peer : "?", c->outgoing ? "out" : "in", why,
	        (unsigned long long)tt->refused);
}

void
conn_kill(struct conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = true;
	unlink_conn(c);
	if (why)
		log_refusal(c, why);
	if (c->raft && !c->raft_given)
		uv_close((uv_handle_t *)c->raft, (uv_close_cb)raft_free);
	if (c->outgoing && c->connect_cb) {
		raft_uv_connect_cb cb = c->connect_cb;
		c->connect_cb = NULL;
		cb(c->req, NULL, c->tt->closing ? RAFT_CANCELED : RAFT_NOCONNECTION);
	}
	uv_close((uv_handle_t *)&c->tcp, conn_handle_closed);
	if (c->mine_open)
		uv_close((uv_handle_t *)&c->mine, conn_handle_closed);
}

/* ------------------------------------------------------------ writing */

static void
write_done(uv_write_t *w, int status)
{
	struct wreq *r = bm_container_of(w, struct wreq, w);

	if (r->c)
		r->c->pending -= r->len;
	if (status < 0 && r->c)
		conn_kill(r->c, NULL);
	free(r);
}

static int
write_to(uv_stream_t *s, struct conn *counted, const void *p, size_t n)
{
	struct wreq *r = malloc(sizeof(*r) + n);
	uv_buf_t b;

	if (!r)
		return -ENOMEM;
	r->c = counted;
	r->len = n;
	memcpy(r->data, p, n);
	b = uv_buf_init(r->data, (unsigned)n);
	if (uv_write(&r->w, s, &b, 1, write_done) < 0) {
		free(r);
		return -EIO;
	}
	if (counted)
		counted->pending += n;
	return 0;
}

/* Send what OpenSSL has for the peer. Returns 0 or -1 (the connection is
 * killed: a peer that reads nothing while we queue megabytes). */
static int
flush_out(struct conn *c)
{
	char buf[CHUNK];
	int n;

	while ((n = BIO_read(c->out, buf, sizeof(buf))) > 0)
		if (write_to((uv_stream_t *)&c->tcp, c, buf, (size_t)n) < 0) {
			conn_kill(c, NULL);
			return -1;
		}
	if (c->pending > RAFT_TLS_PENDING_MAX) {
		conn_kill(c, "the peer reads too slowly");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------- the bridge */

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	buf->base = malloc(CHUNK);
	buf->len = buf->base ? CHUNK : 0;
}

/* raft_uv wrote on its end: encrypt it for the peer. */
static void
mine_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (n > 0 && !c->dead) {
		if (SSL_write(c->ssl, buf->base, (int)n) != (int)n)
			conn_kill(c, NULL);
		else
			flush_out(c);
	} else if (n < 0) {
		conn_kill(c, NULL); /* raft_uv closed its end */
	}
	free(buf->base);
}

/* A socketpair: our end read by us, the other one raft_uv's. */
static int
bridge(struct conn *c)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return -errno;
	if (!(c->raft = raft_malloc(sizeof(*c->raft)))) {
		close(sv[0]);
		close(sv[1]);
		return -ENOMEM;
	}
	uv_pipe_init(c->tt->loop, &c->mine, 0);
	c->mine.data = c;
	c->mine_open = true;
	c->open++;
	uv_pipe_init(c->tt->loop, c->raft, 0);
	if (uv_pipe_open(&c->mine, sv[0]) < 0 || uv_pipe_open(c->raft, sv[1]) < 0 ||
	    uv_read_start((uv_stream_t *)&c->mine, alloc_cb, mine_read_cb) < 0)
		return -EIO;
	return 0;
}

/* Is the peer's certificate a coordinator's of the fleet CA? */
static int
check_peer(struct conn *c, char *why, size_t len)
{
	X509 *x = SSL_get0_peer_certificate(c->ssl);
	struct bm_identity id;
	unsigned char *der = NULL;
	int n, r = -EACCES;

	if (!x || (n = i2d_X509(x, &der)) <= 0) {
		snprintf(why, len, "no peer certificate");
		return -EACCES;
	}
	if ((r = bm_auth_verify_cert(c->tt->v, der, (size_t)n, &id, why, len)) == 0 &&
	    id.kind != BM_KIND_COORDINATOR) {
		snprintf(why, len, "the peer's certificate is an %s's, not a coordinator's",
		         bm_cert_kind_name(id.kind));
		r = -EACCES;
	}
	OPENSSL_free(der);
	return r;
}

static void
send_preamble(struct conn *c)
{
	uint8_t p[PREAMBLE_MAX];
	struct bm_wr w;
	size_t alen = strlen(c->tt->address);

	bm_wr_init(&w, p, sizeof(p));
	bm_wr_bytes(&w, MAGIC, MAGIC_LEN);
	bm_wr_be64(&w, c->tt->id);
	bm_wr_u8(&w, (uint8_t)alen);
	bm_wr_bytes(&w, c->tt->address, alen);
	SSL_write(c->ssl, p, (int)(sizeof(p) - w.left));
}

/* The dialer's preamble, when complete: 1 (and the peer's id and address
 * set), 0 (more to come), -1 (malformed). */
static int
parse_preamble(struct conn *c)
{
	struct bm_rd rd;
	const uint8_t *magic, *addr;
	uint64_t id;
	uint32_t hi, lo;
	uint8_t alen;

	bm_rd_init(&rd, c->pre, c->npre);
	if (bm_rd_bytes(&rd, MAGIC_LEN, &magic) < 0 || bm_rd_be32(&rd, &hi) < 0 ||
	    bm_rd_be32(&rd, &lo) < 0 || bm_rd_u8(&rd, &alen) < 0)
		return c->npre >= MAGIC_LEN && memcmp(c->pre, MAGIC, MAGIC_LEN) ? -1 : 0;
	if (memcmp(magic, MAGIC, MAGIC_LEN) || !alen)
		return -1;
	if (bm_rd_bytes(&rd, alen, &addr) < 0)
		return 0;
	id = (uint64_t)hi << 32 | lo;
	if (!id)
		return -1;
	c->peer_id = id;
	memcpy(c->peer, addr, alen);
	c->peer[alen] = '\0';
	return 1;
}

/* Plain bytes from the peer: an acceptor's first ones are the preamble;
 * the rest go to raft_uv. */
static void
deliver(struct conn *c, const uint8_t *p, size_t n)
{
	if (!c->up && !c->outgoing) {
		size_t take = n < sizeof(c->pre) - c->npre ? n : sizeof(c->pre) - c->npre;
		memcpy(c->pre + c->npre, p, take);
		c->npre += take;
		int r = parse_preamble(c);
		if (r < 0 || (r == 0 && c->npre == sizeof(c->pre))) {
			conn_kill(c, "a malformed Raft preamble");
			return;
		}
		if (r == 0)
			return;
		size_t used = MAGIC_LEN + 8 + 1 + strlen(c->peer);
		if (bridge(c) < 0) {
			conn_kill(c, NULL);
			return;
		}
		c->up = c->raft_given = true;
		c->tt->accept_cb(c->tt->t, c->peer_id, c->peer, (uv_stream_t *)c->raft);
		/* What came after the preamble: in pre, then in p. */
		if (c->npre > used)
			write_to((uv_stream_t *)&c->mine, NULL, c->pre + used, c->npre - used);
		p += take, n -= take;
		if (!n)
			return;
	}
	if (c->up && write_to((uv_stream_t *)&c->mine, NULL, p, n) < 0)
		conn_kill(c, NULL);
}

/* The handshake just finished: check the peer; a dialer sends its preamble
 * and hands its end to raft_uv. */
static void
handshaken(struct conn *c)
{
	char why[256];

	if (check_peer(c, why, sizeof(why)) < 0) {
		conn_kill(c, why);
		return;
	}
	if (!c->outgoing)
		return; /* the preamble comes next */
	send_preamble(c);
	if (flush_out(c) < 0)
		return;
	if (bridge(c) < 0) {
		conn_kill(c, NULL);
		return;
	}
	c->up = c->raft_given = true;
	raft_uv_connect_cb cb = c->connect_cb;
	c->connect_cb = NULL;
	cb(c->req, (uv_stream_t *)c->raft, 0);
}

/* Run OpenSSL over what arrived. */
static void
pump(struct conn *c)
{
	uint8_t buf[CHUNK];
	int n;

	if (!SSL_is_init_finished(c->ssl)) {
		n = SSL_do_handshake(c->ssl);
		if (flush_out(c) < 0)
			return;
		if (n != 1) {
			int e = SSL_get_error(c->ssl, n);
			if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
				char why[200];
				long vr = SSL_get_verify_result(c->ssl);
				snprintf(why, sizeof(why), "TLS handshake failed: %s",
				         vr != X509_V_OK ? X509_verify_cert_error_string(vr)
				         : ERR_reason_error_string(ERR_peek_error())
				             ? ERR_reason_error_string(ERR_peek_error())
				             : "the peer closed it");
				ERR_clear_error();
				conn_kill(c, why);
			}
			return;
		}
		handshaken(c);
		if (c->dead)
			return;
	}
	while (!c->dead && (n = SSL_read(c->ssl, buf, sizeof(buf))) > 0)
		deliver(c, buf, (size_t)n);
	if (!c->dead) {
		int e = SSL_get_error(c->ssl, n);
		ERR_clear_error();
		if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
			conn_kill(c, NULL);
		else
			flush_out(c); /* a key update's answer */
	}
}

static void
tcp_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (n > 0 && !c->dead && BIO_write(c->in, buf->base, (int)n) == (int)n)
		pump(c);
	else if (n < 0)
		conn_kill(c, c->up ? NULL : "the peer closed during the handshake");
	free(buf->base);
}

/* ------------------------------------------------------- connections */

struct conn *
conn_new(struct tls_transport *tt, bool outgoing)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->tt = tt;
	c->outgoing = outgoing;
	c->deadline_ms = bm_mono_ms() + RAFT_TLS_HANDSHAKE_MS;
	uv_tcp_init(tt->loop, &c->tcp);
	c->tcp.data = c;
	c->open = 1;
	c->next = tt->conns;
	tt->conns = c;
	tt->users++;
	return c;
}

/* TLS over the connected TCP socket; the handshake starts. */
void
conn_start(struct conn *c)
{
	SSL_CTX *ctx = c->outgoing ? c->tt->cli : c->tt->srv;

	uv_tcp_nodelay(&c->tcp, 1);
	if (!(c->ssl = SSL_new(ctx)) || !(c->in = BIO_new(BIO_s_mem())) ||
	    !(c->out = BIO_new(BIO_s_mem()))) {
		BIO_free(c->in);
		BIO_free(c->out);
		c->in = c->out = NULL;
		conn_kill(c, NULL);
		return;
	}
	SSL_set_bio(c->ssl, c->in, c->out);
	if (c->outgoing) {
		/* The peer's certificate must name the host dialed. */
		char host[256];
		const char *colon = strrchr(c->peer, ':');
		snprintf(host, sizeof(host), "%.*s", colon ? (int)(colon - c->peer) : 0, c->peer);
		SSL_set_connect_state(c->ssl);
		SSL_set1_host(c->ssl, host);
	} else {
		SSL_set_accept_state(c->ssl);
	}
	if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, tcp_read_cb) < 0) {
		conn_kill(c, NULL);
		return;
	}
	pump(c);
}

void
raft_tls_on_connection(uv_stream_t *l, int status)
{
	struct tls_transport *tt = l->data;
	struct sockaddr_storage sa;
	int salen = sizeof(sa);
	struct conn *c;

	if (status < 0 || tt->closing || !(c = conn_new(tt, false)))
		return;
	if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
		conn_kill(c, NULL);
		return;
	}
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&sa, &salen) == 0 &&
	    sa.ss_family == AF_INET) {
		char ip[INET_ADDRSTRLEN];
		struct sockaddr_in *in = (struct sockaddr_in *)&sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, ntohs(in->sin_port));
	}
	conn_start(c);
}

void
raft_tls_on_connected(uv_connect_t *req, int status)
{
	struct conn *c = req->data;

	if (c->dead)
		return;
	if (status < 0) {
		conn_kill(c, NULL);
		return;
	}
	conn_start(c);
}
