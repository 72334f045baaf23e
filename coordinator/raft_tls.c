#include "raft_tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/util.h"
#include "raft_tls_priv.h"

/* ----------------------------------------------------------- contexts */

static SSL_CTX *
make_ctx(bool server, const struct bm_rpc_tls *f, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	X509_STORE *st;

	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    SSL_CTX_load_verify_locations(ctx, f->ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_file(ctx, f->cert, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, f->key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "Raft TLS: cannot load the CA %s, certificate %s or key %s",
		         f->ca, f->cert, f->key);
		goto fail;
	}
	st = SSL_CTX_get_cert_store(ctx);
	if (f->crl && *f->crl) {
		X509_LOOKUP *lu = X509_STORE_add_lookup(st, X509_LOOKUP_file());
		if (!lu || X509_load_crl_file(lu, f->crl, X509_FILETYPE_PEM) <= 0) {
			snprintf(err, errlen, "Raft TLS: cannot read the CRL %s", f->crl);
			goto fail;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return ctx;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return NULL;
}

/* "10.0.0.1:7500" -> sockaddr. */
static int
parse_address(const char *address, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(address, ':');
	long port;

	if (!colon || colon == address || (size_t)(colon - address) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - address), address);
	port = strtol(colon + 1, NULL, 10);
	if (port < 0 || port > 65535 || uv_ip4_addr(host, (int)port, sa) < 0)
		return -EINVAL;
	return 0;
}

/* ---------------------------------------------------- the transport */

static void
timer_cb(uv_timer_t *h)
{
	struct tls_transport *tt = h->data;
	uint64_t now = bm_mono_ms();
	struct conn *c = tt->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (!c->up && now > c->deadline_ms)
			conn_kill(c, "no TLS handshake and preamble in time");
	}
}

static int
t_init(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct tls_transport *tt = t->impl;

	tt->id = id;
	snprintf(tt->address, sizeof(tt->address), "%s", address);
	return 0;
}

static int
t_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct tls_transport *tt = t->impl;
	struct sockaddr_in sa;

	if (parse_address(tt->address, &sa) < 0)
		return RAFT_INVALID;
	tt->accept_cb = cb;
	uv_tcp_init(tt->loop, &tt->listener);
	tt->listener.data = tt;
	tt->listening = true;
	tt->users++;
	if (uv_tcp_bind(&tt->listener, (struct sockaddr *)&sa, 0) < 0 ||
	    uv_listen((uv_stream_t *)&tt->listener, 128, raft_tls_on_connection) < 0) {
		snprintf(t->errmsg, sizeof(t->errmsg), "cannot listen on %.200s", tt->address);
		return RAFT_IOERR;
	}
	return 0;
}

static int
t_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id, const char *address,
          raft_uv_connect_cb cb)
{
	struct tls_transport *tt = t->impl;
	struct sockaddr_in sa;
	struct conn *c;

	(void)id;
	if (parse_address(address, &sa) < 0)
		return RAFT_NOCONNECTION;
	if (!(c = conn_new(tt, true)))
		return RAFT_NOMEM;
	c->req = req;
	c->connect_cb = cb;
	snprintf(c->peer, sizeof(c->peer), "%s", address);
	c->creq.data = c;
	if (uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&sa, raft_tls_on_connected) < 0) {
		c->connect_cb = NULL; /* refused now: no callback */
		conn_kill(c, NULL);
		return RAFT_NOCONNECTION;
	}
	return 0;
}

static void
t_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct tls_transport *tt = t->impl;

	tt->closing = true;
	tt->close_cb = cb;
	while (tt->conns)
		conn_kill(tt->conns, NULL);
	if (tt->listening)
		uv_close((uv_handle_t *)&tt->listener, raft_tls_handle_closed);
	uv_close((uv_handle_t *)&tt->timer, raft_tls_handle_closed);
}

int
raft_tls_init(struct raft_uv_transport *t, uv_loop_t *loop, const struct bm_rpc_tls *files,
              struct bm_auth_verifier *v, char *err, size_t errlen)
{
	struct tls_transport *tt = calloc(1, sizeof(*tt));

	if (!tt)
		return -ENOMEM;
	tt->t = t;
	tt->loop = loop;
	tt->v = v;
	if (!(tt->srv = make_ctx(true, files, err, errlen)) ||
	    !(tt->cli = make_ctx(false, files, err, errlen))) {
		SSL_CTX_free(tt->srv);
		free(tt);
		return -EINVAL;
	}
	uv_timer_init(loop, &tt->timer);
	tt->timer.data = tt;
	tt->users = 1;
	uv_timer_start(&tt->timer, timer_cb, 1000, 1000);
	memset(t, 0, sizeof(*t));
	t->impl = tt;
	t->init = t_init;
	t->listen = t_listen;
	t->connect = t_connect;
	t->close = t_close;
	return 0;
}

int
raft_tls_reload(struct raft_uv_transport *t, const struct bm_rpc_tls *files, char *err,
                size_t errlen)
{
	struct tls_transport *tt = t->impl;
	SSL_CTX *srv, *cli;

	if (!(srv = make_ctx(true, files, err, errlen)))
		return -EINVAL;
	if (!(cli = make_ctx(false, files, err, errlen))) {
		SSL_CTX_free(srv);
		return -EINVAL;
	}
	SSL_CTX_free(tt->srv); /* connections keep theirs: SSL holds a reference */
	SSL_CTX_free(tt->cli);
	tt->srv = srv;
	tt->cli = cli;
	return 0;
}

void
raft_tls_free(struct raft_uv_transport *t)
{
	struct tls_transport *tt = t->impl;

	if (!tt)
		return;
	SSL_CTX_free(tt->srv);
	SSL_CTX_free(tt->cli);
	free(tt);
	t->impl = NULL;
}
