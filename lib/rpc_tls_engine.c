/* nng's TLS engine on OpenSSL, in place of the mbedtls engine Debian's
 * libnng is built with.
 *
 * Why: between two nng 1.5 peers the mbedtls 2.28 engine negotiates TLS 1.2
 * with ECDHE on secp521r1 (mbedtls offers its curves largest first, and
 * nng has no setting for them), and its ECDSA is slow: a release-built
 * coordinator spent 26 ms of CPU per connection, and 1,000 agents starting
 * at once kept a small cluster busy with handshakes for minutes. OpenSSL 3
 * (which the project already uses for its tokens, its PKI and the Raft
 * transport) negotiates TLS 1.3 with X25519 and does the same handshake in
 * a fraction of that (bench/tls.sh).
 *
 * nng's framework (tls_common.c) owns the TCP stream and its buffers; an
 * engine reads and writes ciphertext through nng_tls_engine_recv/send and
 * returns NNG_EAGAIN when they would block. Here a BIO of our own makes
 * those two OpenSSL's transport. nng calls a connection's operations under
 * that connection's lock, and changes a configuration only before its
 * first use. */
#include <nng/nng.h>
#include <nng/supplemental/tls/engine.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc_priv.h"

struct nng_tls_engine_config {
	SSL_CTX *ctx;
	bool server;
	char *server_name; /* a client's: the name (or address) the server's
	                      certificate must carry */
};

struct nng_tls_engine_conn {
	void *tls; /* nng's connection: the argument of nng_tls_engine_recv/send */
	SSL *ssl;
};

/* ---------------------------------------------------------- the BIO */

static BIO_METHOD *bio_method;

static int
bio_write(BIO *b, const char *buf, int len)
{
	size_t n = (size_t)len;
	int e = nng_tls_engine_send(BIO_get_data(b), (const uint8_t *)buf, &n);

	BIO_clear_retry_flags(b);
	if (e == 0)
		return (int)n;
	if (e == NNG_EAGAIN)
		BIO_set_retry_write(b);
	return -1;
}

static int
bio_read(BIO *b, char *buf, int len)
{
	size_t n = (size_t)len;
	int e = nng_tls_engine_recv(BIO_get_data(b), (uint8_t *)buf, &n);

	BIO_clear_retry_flags(b);
	if (e == 0)
		return (int)n;
	if (e == NNG_EAGAIN)
		BIO_set_retry_read(b);
	return -1;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH; /* nng sends what it is given */
}

static int
bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* ---------------------------------------------------------- errors */

/* The NNG error for an OpenSSL failure of `r` on ssl: a refused
 * certificate (ours or the peer's) is EPEERAUTH, which bmctl names. With
 * TLS 1.3 a client learns that the server refused its certificate only at
 * its first read after the handshake, as an alert: the same error. */
static int
ssl_error(SSL *ssl, int r)
{
	int e = SSL_get_error(ssl, r);
	unsigned long err = ERR_peek_error();
	int reason = ERR_GET_REASON(err);

	ERR_clear_error(); /* the queue is the thread's: nng's threads run our handlers */
	switch (e) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE: return NNG_EAGAIN;
	/* The peer closed (or nng did): never NNG_ECLOSED, which nng 1.5's
	 * listener takes for its own closing and stops accepting for good
	 * (issue #1518, rpc_listen.c) when it ends a connection's
	 * negotiation; a reset is the peer's, and the listener goes on. */
	case SSL_ERROR_ZERO_RETURN:
	case SSL_ERROR_SYSCALL: return NNG_ECONNRESET;
	default: break;
	}
	if (SSL_get_verify_result(ssl) != X509_V_OK)
		return NNG_EPEERAUTH;
	switch (reason) {
	case SSL_R_CERTIFICATE_VERIFY_FAILED:
	case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
	case SSL_R_NO_SHARED_CIPHER:
	case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
	case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
	case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
	case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
	case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
	case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
	case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED: return NNG_EPEERAUTH;
	default: return NNG_ECRYPTO;
	}
}

/* ---------------------------------------------------- connections */

static int
conn_init(nng_tls_engine_conn *ec, void *tls, nng_tls_engine_config *cfg)
{
	BIO *b;

	ec->tls = tls;
	if (!(ec->ssl = SSL_new(cfg->ctx)) || !(b = BIO_new(bio_method))) {
		ERR_clear_error();
		return NNG_ENOMEM;
	}
	BIO_set_data(b, tls);
	SSL_set_bio(ec->ssl, b, b); /* the SSL owns it */
	if (cfg->server) {
		SSL_set_accept_state(ec->ssl);
		return 0;
	}
	SSL_set_connect_state(ec->ssl);
	if (!cfg->server_name)
		return 0;
	/* An address is checked against the certificate's IP names, a name
	 * against its DNS names (and sent as SNI, which an address may not
	 * be). set1_ip_asc refuses what is not an address. */
	if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ec->ssl), cfg->server_name) == 1)
		return 0;
	ERR_clear_error();
	if (SSL_set1_host(ec->ssl, cfg->server_name) != 1 ||
	    SSL_set_tlsext_host_name(ec->ssl, cfg->server_name) != 1) {
		ERR_clear_error();
		return NNG_ENOMEM;
	}
	return 0;
}

static void
conn_fini(nng_tls_engine_conn *ec)
{
	SSL_free(ec->ssl);
}

/* A close-notify, when the handshake is done; the TCP stream is nng's. */
static void
conn_close(nng_tls_engine_conn *ec)
{
	if (ec->ssl && SSL_is_init_finished(ec->ssl))
		(void)SSL_shutdown(ec->ssl);
	ERR_clear_error();
}

static int
conn_handshake(nng_tls_engine_conn *ec)
{
	int r = SSL_do_handshake(ec->ssl);

	return r == 1 ? 0 : ssl_error(ec->ssl, r);
}

static int
conn_recv(nng_tls_engine_conn *ec, uint8_t *buf, size_t *szp)
{
	size_t n = 0;
	int r = SSL_read_ex(ec->ssl, buf, *szp, &n);

	if (r != 1)
		return ssl_error(ec->ssl, r);
	*szp = n;
	return 0;
}

static int
conn_send(nng_tls_engine_conn *ec, const uint8_t *buf, size_t *szp)
{
	size_t n = 0;
	int r = SSL_write_ex(ec->ssl, buf, *szp, &n);

	if (r != 1)
		return ssl_error(ec->ssl, r);
	*szp = n;
	return 0;
}

static bool
conn_verified(nng_tls_engine_conn *ec)
{
	return SSL_get0_peer_certificate(ec->ssl) && SSL_get_verify_result(ec->ssl) == X509_V_OK;
}

/* ------------------------------------------------- configurations */

static void
config_fini(nng_tls_engine_config *cfg)
{
	SSL_CTX_free(cfg->ctx);
	free(cfg->server_name);
}

static int
config_init(nng_tls_engine_config *cfg, nng_tls_mode mode)
{
	cfg->server = mode == NNG_TLS_MODE_SERVER;
	if (!(cfg->ctx = SSL_CTX_new(cfg->server ? TLS_server_method() : TLS_client_method()))) {
		ERR_clear_error();
		return NNG_ENOMEM;
	}
	SSL_CTX_set_min_proto_version(cfg->ctx, TLS1_2_VERSION);
	/* nng hands a buffer again after EAGAIN, maybe moved, and takes a
	 * partial write; an idle connection keeps no record buffers. */
	SSL_CTX_set_mode(cfg->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                               SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	                               SSL_MODE_RELEASE_BUFFERS);
	/* No resumption: every connection shows a certificate checked against
	 * the CRL as it is now (a server issues no tickets, keeps no cache). */
	SSL_CTX_set_options(cfg->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_num_tickets(cfg->ctx, 0);
	SSL_CTX_set_session_cache_mode(cfg->ctx, SSL_SESS_CACHE_OFF);
	/* nng's defaults: a server asks for nothing, a client checks. */
	SSL_CTX_set_verify(cfg->ctx, cfg->server ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	return 0;
}

static int
config_server(nng_tls_engine_config *cfg, const char *name)
{
	char *dup = strdup(name);

	if (!dup)
		return NNG_ENOMEM;
	free(cfg->server_name);
	cfg->server_name = dup;
	return 0;
}

static int
config_auth(nng_tls_engine_config *cfg, nng_tls_auth_mode mode)
{
	switch (mode) {
	case NNG_TLS_AUTH_MODE_NONE: SSL_CTX_set_verify(cfg->ctx, SSL_VERIFY_NONE, NULL); return 0;
	case NNG_TLS_AUTH_MODE_OPTIONAL:
		SSL_CTX_set_verify(cfg->ctx, SSL_VERIFY_PEER, NULL);
		return 0;
	case NNG_TLS_AUTH_MODE_REQUIRED:
		SSL_CTX_set_verify(cfg->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
		                   NULL);
		return 0;
	}
	return NNG_EINVAL;
}

/* The certificates and CRLs of PEM text into the context's store; with
 * a CRL, certificates are checked against it. */
static int
config_ca_chain(nng_tls_engine_config *cfg, const char *certs, const char *crl)
{
	X509_STORE *st = SSL_CTX_get_cert_store(cfg->ctx);
	const char *pems[2] = { certs, crl };
	int e = 0;

	for (int i = 0; i < 2 && pems[i] && e == 0; i++) {
		BIO *b = BIO_new_mem_buf(pems[i], -1);
		STACK_OF(X509_INFO) *v = b ? PEM_X509_INFO_read_bio(b, NULL, NULL, NULL) : NULL;
		int n = 0;

		for (int j = 0; v && j < sk_X509_INFO_num(v); j++) {
			X509_INFO *xi = sk_X509_INFO_value(v, j);
			if (xi->x509 && X509_STORE_add_cert(st, xi->x509) == 1)
				n++;
			if (xi->crl && X509_STORE_add_crl(st, xi->crl) == 1)
				n++;
		}
		if (n == 0)
			e = NNG_ECRYPTO; /* none of what the text should hold */
		sk_X509_INFO_pop_free(v, X509_INFO_free);
		BIO_free(b);
	}
	if (e == 0 && crl)
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	ERR_clear_error();
	return e;
}

/* Our certificate (a chain: the first is ours) and its key. */
static int
config_own_cert(nng_tls_engine_config *cfg, const char *cert, const char *key, const char *pass)
{
	BIO *cb = BIO_new_mem_buf(cert, -1), *kb = BIO_new_mem_buf(key, -1);
	X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *pk = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, (void *)pass) : NULL;
	int e = NNG_ECRYPTO;

	if (x && pk && SSL_CTX_use_certificate(cfg->ctx, x) == 1 &&
	    SSL_CTX_use_PrivateKey(cfg->ctx, pk) == 1 && SSL_CTX_check_private_key(cfg->ctx) == 1) {
		X509 *more;
		e = 0;
		while (e == 0 && (more = PEM_read_bio_X509(cb, NULL, NULL, NULL)))
			if (SSL_CTX_add0_chain_cert(cfg->ctx, more) != 1) {
				X509_free(more);
				e = NNG_ECRYPTO;
			}
	}
	X509_free(x);
	EVP_PKEY_free(pk);
	BIO_free(cb);
	BIO_free(kb);
	ERR_clear_error(); /* the chain's read ends with "no start line" */
	return e;
}

static int
tls_version(nng_tls_version v)
{
	switch (v) {
	case NNG_TLS_1_0: return TLS1_VERSION;
	case NNG_TLS_1_1: return TLS1_1_VERSION;
	case NNG_TLS_1_2: return TLS1_2_VERSION;
	case NNG_TLS_1_3: return TLS1_3_VERSION;
	}
	return 0;
}

static int
config_version(nng_tls_engine_config *cfg, nng_tls_version min, nng_tls_version max)
{
	int lo = tls_version(min), hi = tls_version(max);

	if (!lo || !hi || lo > hi)
		return NNG_ENOTSUP;
	if (lo < TLS1_2_VERSION) /* older ones are not worth their risk */
		lo = TLS1_2_VERSION;
	if (hi < lo || SSL_CTX_set_min_proto_version(cfg->ctx, lo) != 1 ||
	    SSL_CTX_set_max_proto_version(cfg->ctx, hi) != 1) {
		ERR_clear_error();
		return NNG_ENOTSUP;
	}
	return 0;
}

/* ---------------------------------------------------- registration */

static nng_tls_engine_config_ops config_ops = {
	.size = sizeof(struct nng_tls_engine_config),
	.init = config_init,
	.fini = config_fini,
	.server = config_server,
	.auth = config_auth,
	.ca_chain = config_ca_chain,
	.own_cert = config_own_cert,
	.version = config_version,
};

static nng_tls_engine_conn_ops conn_ops = {
	.size = sizeof(struct nng_tls_engine_conn),
	.init = conn_init,
	.fini = conn_fini,
	.close = conn_close,
	.handshake = conn_handshake,
	.recv = conn_recv,
	.send = conn_send,
	.verified = conn_verified,
};

static nng_tls_engine engine = {
	.version = NNG_TLS_ENGINE_VERSION,
	.config_ops = &config_ops,
	.conn_ops = &conn_ops,
	.name = "openssl",
	.description = "OpenSSL (bm)",
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_err;

static void
engine_register(void)
{
	if (!(bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "nng")) ||
	    !BIO_meth_set_write(bio_method, bio_write) ||
	    !BIO_meth_set_read(bio_method, bio_read) || !BIO_meth_set_ctrl(bio_method, bio_ctrl) ||
	    !BIO_meth_set_create(bio_method, bio_create)) {
		once_err = NNG_ENOMEM;
		return;
	}
	/* nng registers its own engine when it initializes (at its first
	 * call): initialize it first, or ours would be replaced. */
	(void)nng_tls_engine_name();
	once_err = nng_tls_engine_register(&engine);
}

int
rpc_tls_engine_init(void)
{
	pthread_once(&once, engine_register);
	return once_err;
}
