/* TLS for the RPC envelope: nng's tls+tcp transport (its mbedtls engine)
 * with the fleet CA on both sides, a certificate on both sides, and the
 * client's token (bm/auth.h) in every request. */
#include "rpc_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/util.h"

#define PEM_MAX (1u << 20)

struct bm_rpc_creds {
	bool server;
	char *ca, *cert, *key, *crl; /* PEM text */
	struct bm_auth_client *auth; /* clients: the token maker */
};

/* The whole of a small text file, NUL-terminated (free it). */
static char *
slurp(const char *path, char *err, size_t errlen, const char *what)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;

	if (f && (buf = malloc(PEM_MAX + 1)))
		n = fread(buf, 1, PEM_MAX, f);
	if (f)
		fclose(f);
	if (!buf || n == 0 || n == PEM_MAX) {
		free(buf);
		snprintf(err, errlen, "cannot read the %s %s", what, path);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

int
bm_rpc_creds_new(const struct bm_rpc_tls *t, bool server, struct bm_rpc_creds **ret, char *err,
                 size_t errlen)
{
	struct bm_rpc_creds *cr = calloc(1, sizeof(*cr));
	int r = -EINVAL;

	if (!cr)
		return -ENOMEM;
	cr->server = server;
	if (!t->ca || !t->cert || !t->key) {
		snprintf(err, errlen, "TLS needs a CA, a certificate and its key");
		goto fail;
	}
	if (!(cr->ca = slurp(t->ca, err, errlen, "CA")) ||
	    !(cr->cert = slurp(t->cert, err, errlen, "certificate")) ||
	    !(cr->key = slurp(t->key, err, errlen, "key")) ||
	    (t->crl && *t->crl && !(cr->crl = slurp(t->crl, err, errlen, "CRL"))))
		goto fail;
	if (!server && (r = bm_auth_client_load(t->cert, t->key, &cr->auth, err, errlen)) < 0)
		goto fail;
	*ret = cr;
	return 0;
fail:
	bm_rpc_creds_free(cr);
	return r;
}

void
bm_rpc_creds_free(struct bm_rpc_creds *cr)
{
	if (!cr)
		return;
	free(cr->ca);
	free(cr->cert);
	free(cr->key);
	free(cr->crl);
	bm_auth_client_free(cr->auth);
	free(cr);
}

bool
bm_rpc_url_tls(const char *url)
{
	return !strncmp(url, "tls+tcp://", 10);
}

/* The host of a tls+tcp:// URL, which the coordinator's certificate must
 * name. */
static void
url_host(const char *url, char *out, size_t len)
{
	const char *h = url + 10, *end = h[0] == '[' ? strchr(h, ']') : strrchr(h, ':');
	size_t n = end ? (size_t)(end - h) : strlen(h);

	if (h[0] == '[' && end)
		h++, n--;
	snprintf(out, len, "%.*s", (int)n, h);
}

int
rpc_tls_config(const struct bm_rpc_creds *cr, const char *url, nng_tls_config **ret)
{
	nng_tls_config *cfg;
	char host[256];
	int e;

	if ((e = nng_tls_config_alloc(&cfg,
	                              cr->server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT)) != 0)
		return e;
	/* Both sides present a certificate of the fleet CA and require one. */
	if ((e = nng_tls_config_ca_chain(cfg, cr->ca, cr->crl)) == 0 &&
	    (e = nng_tls_config_own_cert(cfg, cr->cert, cr->key, NULL)) == 0 &&
	    (e = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) == 0 &&
	    (e = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3)) == 0 && !cr->server) {
		url_host(url, host, sizeof(host));
		e = nng_tls_config_server_name(cfg, host);
	}
	if (e != 0) {
		nng_tls_config_free(cfg);
		return e;
	}
	*ret = cfg;
	return 0;
}

void
rpc_tls_stamp(const struct bm_rpc_creds *cr, Bm__Request *req, struct bm_auth_token *tok)
{
	if (cr && cr->auth && bm_auth_client_token(cr->auth, bm_wall_ms(), tok) == 0)
		req->auth = &tok->a;
}
