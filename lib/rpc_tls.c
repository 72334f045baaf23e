/* TLS for the RPC envelope: nng's tls+tcp transport (on our OpenSSL
 * engine, rpc_tls_engine.c) with the fleet CA on both sides, a certificate on both sides, and the
 * client's token (bm/auth.h) in every request. */
#include "rpc_priv.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/util.h"

#define PEM_MAX (1u << 20)

/* What a set of files holds; a client's also its token maker. */
struct creds_set {
	char *ca, *cert, *key, *crl; /* PEM text */
	struct bm_auth_client *auth;
};

/* A client's configurations, one per server name: building one parses the
 * CA, the CRL, the certificate and the key (about a millisecond with
 * OpenSSL 3), and an agent dials again and again. A reload empties it. */
#define CFG_CACHE 4u
struct cfg_cached {
	char host[256];
	nng_tls_config *cfg; /* one reference is the cache's */
};

struct bm_rpc_creds {
	bool server;
	char *files[4];     /* ca, cert, key, crl (NULL: none): read again by reload */
	pthread_mutex_t mu; /* cur */
	struct creds_set cur;
	struct cfg_cached cache[CFG_CACHE]; /* under mu */
	unsigned cache_next, gen;           /* gen: reloads, so a stale one is not kept */
	/* Token makers replaced by a reload: a client may be stamping with
	 * one; freed with the credentials (renewals are rare). */
	struct bm_auth_client **retired;
	size_t n_retired;
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

static void
set_free(struct creds_set *s)
{
	free(s->ca);
	free(s->cert);
	free(s->key);
	free(s->crl);
	bm_auth_client_free(s->auth);
	memset(s, 0, sizeof(*s));
}

/* Mutex held: forget the cached configurations (their connections keep
 * their own references). */
static void
cache_clear_locked(struct bm_rpc_creds *cr)
{
	for (unsigned i = 0; i < CFG_CACHE; i++) {
		if (cr->cache[i].cfg)
			nng_tls_config_free(cr->cache[i].cfg);
		cr->cache[i].cfg = NULL;
		cr->cache[i].host[0] = '\0';
	}
}

/* Read the files of cr into s. Returns 0 or -EINVAL with why. */
static int
set_load(const struct bm_rpc_creds *cr, struct creds_set *s, char *err, size_t errlen)
{
	char *const *f = cr->files;

	memset(s, 0, sizeof(*s));
	if (!(s->ca = slurp(f[0], err, errlen, "CA")) ||
	    !(s->cert = slurp(f[1], err, errlen, "certificate")) ||
	    !(s->key = slurp(f[2], err, errlen, "key")) ||
	    (f[3] && !(s->crl = slurp(f[3], err, errlen, "CRL"))) ||
	    (!cr->server && bm_auth_client_load(f[1], f[2], &s->auth, err, errlen) < 0)) {
		set_free(s);
		return -EINVAL;
	}
	return 0;
}

int
bm_rpc_creds_new(const struct bm_rpc_tls *t, bool server, struct bm_rpc_creds **ret, char *err,
                 size_t errlen)
{
	struct bm_rpc_creds *cr = calloc(1, sizeof(*cr));
	const char *paths[4] = { t->ca, t->cert, t->key, t->crl && *t->crl ? t->crl : NULL };
	int r = -EINVAL;

	if (!cr)
		return -ENOMEM;
	cr->server = server;
	pthread_mutex_init(&cr->mu, NULL);
	if (!t->ca || !t->cert || !t->key) {
		snprintf(err, errlen, "TLS needs a CA, a certificate and its key");
		goto fail;
	}
	for (int i = 0; i < 4; i++)
		if (paths[i] && !(cr->files[i] = strdup(paths[i]))) {
			r = -ENOMEM;
			goto fail;
		}
	if ((r = set_load(cr, &cr->cur, err, errlen)) < 0)
		goto fail;
	*ret = cr;
	return 0;
fail:
	bm_rpc_creds_free(cr);
	return r;
}

int
bm_rpc_creds_reload(struct bm_rpc_creds *cr, char *err, size_t errlen)
{
	struct creds_set s, old;
	struct bm_auth_client **v;

	if (set_load(cr, &s, err, errlen) < 0)
		return -EINVAL;
	if (!(v = realloc(cr->retired, (cr->n_retired + 1) * sizeof(*v)))) {
		set_free(&s);
		return -ENOMEM;
	}
	cr->retired = v;
	pthread_mutex_lock(&cr->mu);
	old = cr->cur;
	cr->cur = s;
	cache_clear_locked(cr);
	cr->gen++;
	if (old.auth)
		cr->retired[cr->n_retired++] = old.auth;
	pthread_mutex_unlock(&cr->mu);
	old.auth = NULL;
	set_free(&old);
	return 0;
}

unsigned
rpc_tls_gen(struct bm_rpc_creds *cr)
{
	unsigned gen;

	pthread_mutex_lock(&cr->mu);
	gen = cr->gen;
	pthread_mutex_unlock(&cr->mu);
	return gen;
}

void
bm_rpc_creds_free(struct bm_rpc_creds *cr)
{
	if (!cr)
		return;
	cache_clear_locked(cr);
	set_free(&cr->cur);
	for (size_t i = 0; i < cr->n_retired; i++)
		bm_auth_client_free(cr->retired[i]);
	free(cr->retired);
	for (int i = 0; i < 4; i++)
		free(cr->files[i]);
	pthread_mutex_destroy(&cr->mu);
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

/* A configuration in `mode` presenting cr's certificate, checking the
 * other side's against the fleet CA when `auth` is REQUIRED (nng copies the
 * PEM text), and naming `host` for a client's check of the server. */
static int
config_new(struct bm_rpc_creds *cr, nng_tls_mode mode, nng_tls_auth_mode auth, const char *host,
           nng_tls_config **ret)
{
	nng_tls_config *cfg;
	int e;

	if ((e = rpc_tls_engine_init()) != 0 || (e = nng_tls_config_alloc(&cfg, mode)) != 0)
		return e;
	pthread_mutex_lock(&cr->mu);
	if ((e = nng_tls_config_ca_chain(cfg, cr->cur.ca, cr->cur.crl)) == 0)
		e = nng_tls_config_own_cert(cfg, cr->cur.cert, cr->cur.key, NULL);
	pthread_mutex_unlock(&cr->mu);
	if (e == 0 && (e = nng_tls_config_auth_mode(cfg, auth)) == 0 &&
	    (e = nng_tls_config_version(cfg, NNG_TLS_1_2, NNG_TLS_1_3)) == 0 && host)
		e = nng_tls_config_server_name(cfg, host);
	if (e != 0) {
		nng_tls_config_free(cfg);
		return e;
	}
	*ret = cfg;
	return 0;
}

/* A client's configuration for `host`, from the cache or made (and kept).
 * The caller gets a reference of its own. */
static int
client_config(struct bm_rpc_creds *cr, const char *host, nng_tls_config **ret)
{
	nng_tls_config *cfg;
	struct cfg_cached *slot;
	unsigned gen;
	int e;

	pthread_mutex_lock(&cr->mu);
	gen = cr->gen;
	for (unsigned i = 0; i < CFG_CACHE; i++)
		if (cr->cache[i].cfg && !strcmp(cr->cache[i].host, host)) {
			nng_tls_config_hold(cr->cache[i].cfg);
			*ret = cr->cache[i].cfg;
			pthread_mutex_unlock(&cr->mu);
			return 0;
		}
	pthread_mutex_unlock(&cr->mu);
	if ((e = config_new(cr, NNG_TLS_MODE_CLIENT, NNG_TLS_AUTH_MODE_REQUIRED, host, &cfg)) != 0)
		return e;
	pthread_mutex_lock(&cr->mu);
	if (gen == cr->gen) { /* no reload meanwhile */
		slot = &cr->cache[cr->cache_next++ % CFG_CACHE];
		if (slot->cfg)
			nng_tls_config_free(slot->cfg);
		snprintf(slot->host, sizeof(slot->host), "%s", host);
		nng_tls_config_hold(cfg);
		slot->cfg = cfg;
	}
	pthread_mutex_unlock(&cr->mu);
	*ret = cfg;
	return 0;
}

int
rpc_tls_config(struct bm_rpc_creds *cr, const char *url, nng_tls_config **ret)
{
	char host[256];

	/* Both sides present a certificate of the fleet CA and require one. */
	if (cr->server)
		return config_new(cr, NNG_TLS_MODE_SERVER, NNG_TLS_AUTH_MODE_REQUIRED, NULL, ret);
	url_host(url, host, sizeof(host));
	return client_config(cr, host, ret);
}

int
rpc_dial(nng_socket s, const char *url, nng_tls_config *cfg, int flags)
{
	nng_dialer d;
	int e;

	if (!cfg)
		return nng_dial(s, url, NULL, flags);
	if ((e = nng_dialer_create(&d, s, url)) != 0)
		return e;
	if ((e = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) == 0)
		e = nng_dialer_start(d, flags);
	if (e != 0)
		nng_dialer_close(d);
	return e;
}

int
rpc_tls_probe_config(struct bm_rpc_creds *cr, nng_tls_config **ret)
{
	return config_new(cr, NNG_TLS_MODE_CLIENT, NNG_TLS_AUTH_MODE_NONE, NULL, ret);
}

void
rpc_tls_stamp(struct bm_rpc_creds *cr, Bm__Request *req, struct bm_auth_token *tok)
{
	struct bm_auth_client *auth;

	if (!cr)
		return;
	pthread_mutex_lock(&cr->mu);
	auth = cr->cur.auth; /* a reload retires it, never frees it under us */
	pthread_mutex_unlock(&cr->mu);
	if (auth && bm_auth_client_token(auth, bm_wall_ms(), tok) == 0)
		req->auth = &tok->a;
}
