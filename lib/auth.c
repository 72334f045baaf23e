/* Tokens made and verified with OpenSSL 3. */
#include "bm/auth.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "bm/wr.h"

#define NONCE_LEN 16u
#define SIG_MAX 160u

const char *
bm_identity_text(const struct bm_identity *id, char *buf, size_t len)
{
	switch (id->kind) {
	case BM_KIND_OPERATOR:
		snprintf(buf, len, "operator %s (%s)", id->name, bm_role_name(id->role));
		break;
	case BM_KIND_AGENT: snprintf(buf, len, "agent %s (rack %s)", id->name, id->rack); break;
	case BM_KIND_COORDINATOR: snprintf(buf, len, "coordinator %s", id->name); break;
	default: snprintf(buf, len, "nobody"); break;
	}
	return buf;
}

/* The payload a token signs. */
static size_t
payload(uint8_t out[11 + 8 + NONCE_LEN], uint64_t issued_ms, const uint8_t *nonce)
{
	memcpy(out, "bm-auth-v1", 11); /* with its NUL */
	bm_put_be64(out + 11, issued_ms);
	memcpy(out + 19, nonce, NONCE_LEN);
	return 19 + NONCE_LEN;
}

/* ------------------------------------------------------------ identity */

/* Who a certificate names: its CN and its bm: URIs. Returns 0 or -EACCES. */
static int
identity_of(X509 *x, struct bm_identity *id, char *why, size_t whylen)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	X509_NAME *subj = X509_get_subject_name(x);

	memset(id, 0, sizeof(*id));
	if (X509_NAME_get_text_by_NID(subj, NID_commonName, id->name, sizeof(id->name)) <= 0 ||
	    !bm_name_valid(id->name)) {
		GENERAL_NAMES_free(names);
		snprintf(why, whylen, "the certificate's CN is not a valid name");
		return -EACCES;
	}
	for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *u;
		int n;
		if (g->type != GEN_URI ||
		    (n = ASN1_STRING_length(g->d.uniformResourceIdentifier)) <= 0 || n > 80)
			continue;
		u = ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		char s[81];
		memcpy(s, u, (size_t)n);
		s[n] = '\0';
		if (strlen(s) != (size_t)n) /* a NUL inside: not ours */
			continue;
		if (!strcmp(s, "bm:kind/coordinator"))
			id->kind = BM_KIND_COORDINATOR;
		else if (!strcmp(s, "bm:kind/agent"))
			id->kind = BM_KIND_AGENT;
		else if (!strcmp(s, "bm:kind/operator"))
			id->kind = BM_KIND_OPERATOR;
		else if (!strncmp(s, "bm:rack/", 8) && bm_name_valid(s + 8))
			snprintf(id->rack, sizeof(id->rack), "%.63s", s + 8);
		else if (!strncmp(s, "bm:role/", 8))
			bm_role_parse(s + 8, &id->role);
	}
	GENERAL_NAMES_free(names);
	if (id->kind == BM_KIND_COORDINATOR)
		id->role = BM_ROLE_ADMIN;
	if (id->kind == BM_KIND_AGENT)
		id->role = BM_ROLE_NONE;
	if (id->kind == BM_KIND_NONE || (id->kind == BM_KIND_AGENT && !*id->rack) ||
	    (id->kind == BM_KIND_OPERATOR && id->role == BM_ROLE_NONE)) {
		snprintf(why, whylen, "the certificate names no bm kind, rack or role");
		return -EACCES;
	}
	return 0;
}

/* ------------------------------------------------------------- clients */

struct bm_auth_client {
	pthread_mutex_t mu;
	EVP_PKEY *key;
	uint8_t *der;
	size_t der_len;
	struct bm_identity id;
	Bm__Auth tok; /* the current token */
	uint8_t nonce[NONCE_LEN], sig[SIG_MAX];
};
_Static_assert(sizeof(((struct bm_auth_token *)0)->sig) >= SIG_MAX, "token buffers");

int
bm_auth_client_load(const char *cert_file, const char *key_file, struct bm_auth_client **ret,
                    char *err, size_t errlen)
{
	struct bm_auth_client *c = calloc(1, sizeof(*c));
	FILE *f = NULL;
	X509 *x = NULL;
	int n, r = -EINVAL;

	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->mu, NULL);
	if (!(f = fopen(cert_file, "r")) || !(x = PEM_read_X509(f, NULL, NULL, NULL))) {
		snprintf(err, errlen, "cannot read the certificate %s", cert_file);
		goto fail;
	}
	fclose(f);
	if (!(f = fopen(key_file, "r")) || !(c->key = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		snprintf(err, errlen, "cannot read the key %s", key_file);
		goto fail;
	}
	fclose(f);
	f = NULL;
	if (X509_check_private_key(x, c->key) != 1) {
		snprintf(err, errlen, "the key %s is not the certificate's", key_file);
		goto fail;
	}
	if ((r = identity_of(x, &c->id, err, errlen)) < 0)
		goto fail;
	if ((n = i2d_X509(x, &c->der)) <= 0) {
		r = -EIO;
		goto fail;
	}
	c->der_len = (size_t)n;
	X509_free(x);
	*ret = c;
	return 0;
fail:
	ERR_clear_error();
	if (f)
		fclose(f);
	X509_free(x);
	bm_auth_client_free(c);
	return r;
}

void
bm_auth_client_free(struct bm_auth_client *c)
{
	if (!c)
		return;
	EVP_PKEY_free(c->key);
	OPENSSL_free(c->der);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

const struct bm_identity *
bm_auth_client_identity(struct bm_auth_client *c)
{
	return &c->id;
}

static int
sign(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t *sig, size_t *sig_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	         EVP_DigestSign(md, sig, sig_len, msg, len) == 1;

	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return ok ? 0 : -EIO;
}

int
bm_auth_client_token(struct bm_auth_client *c, uint64_t now_ms, struct bm_auth_token *out)
{
	uint8_t msg[64];
	size_t sl = sizeof(c->sig);
	int r = 0;

	pthread_mutex_lock(&c->mu);
	if (!c->tok.issued_ms || now_ms >= c->tok.issued_ms + BM_AUTH_TOKEN_RENEW_MS ||
	    now_ms < c->tok.issued_ms) {
		bm__auth__init(&c->tok);
		if (RAND_bytes(c->nonce, NONCE_LEN) != 1 ||
		    sign(c->key, msg, payload(msg, now_ms, c->nonce), c->sig, &sl) < 0) {
			r = -EIO;
		} else {
			c->tok.cert = (ProtobufCBinaryData){ c->der_len, c->der };
			c->tok.issued_ms = now_ms;
			c->tok.nonce = (ProtobufCBinaryData){ NONCE_LEN, c->nonce };
			c->tok.signature = (ProtobufCBinaryData){ sl, c->sig };
		}
	}
	if (r == 0) {
		out->a = c->tok;
		memcpy(out->nonce, c->nonce, NONCE_LEN);
		memcpy(out->sig, c->sig, c->tok.signature.len);
		out->a.nonce.data = out->nonce;
		out->a.signature.data = out->sig;
	}
	pthread_mutex_unlock(&c->mu);
	return r;
}

/* ----------------------------------------------------------- verifiers */

struct cached {
	uint8_t key[BM_SHA256_LEN]; /* the token's digest; all zero: free */
	uint64_t until_ms;
	struct bm_identity id;
};

struct bm_auth_verifier {
	pthread_rwlock_t lock; /* write: reload */
	char ca_file[4096], crl_file[4096];
	X509_STORE *store;
	pthread_mutex_t mu; /* the cache */
	struct cached *cache;
	size_t n_cached;
};

static int
load_store(struct bm_auth_verifier *v, X509_STORE **ret, char *err, size_t errlen)
{
	X509_STORE *st = X509_STORE_new();
	X509_LOOKUP *lu;

	if (!st || !(lu = X509_STORE_add_lookup(st, X509_LOOKUP_file())) ||
	    X509_load_cert_file(lu, v->ca_file, X509_FILETYPE_PEM) <= 0) {
		snprintf(err, errlen, "cannot read the CA %s", v->ca_file);
		goto fail;
	}
	if (*v->crl_file) {
		if (X509_load_crl_file(lu, v->crl_file, X509_FILETYPE_PEM) <= 0) {
			snprintf(err, errlen, "cannot read the CRL %s", v->crl_file);
			goto fail;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	*ret = st;
	return 0;
fail:
	ERR_clear_error();
	X509_STORE_free(st);
	return -EINVAL;
}

int
bm_auth_verifier_new(const char *ca_file, const char *crl_file, struct bm_auth_verifier **ret,
                     char *err, size_t errlen)
{
	struct bm_auth_verifier *v = calloc(1, sizeof(*v));
	int r;

	if (!v || !(v->cache = calloc(BM_AUTH_CACHE_MAX, sizeof(*v->cache)))) {
		free(v);
		return -ENOMEM;
	}
	snprintf(v->ca_file, sizeof(v->ca_file), "%s", ca_file);
	snprintf(v->crl_file, sizeof(v->crl_file), "%s", crl_file ? crl_file : "");
	if ((r = load_store(v, &v->store, err, errlen)) < 0) {
		free(v->cache);
		free(v);
		return r;
	}
	pthread_rwlock_init(&v->lock, NULL);
	pthread_mutex_init(&v->mu, NULL);
	*ret = v;
	return 0;
}

void
bm_auth_verifier_free(struct bm_auth_verifier *v)
{
	if (!v)
		return;
	X509_STORE_free(v->store);
	pthread_rwlock_destroy(&v->lock);
	pthread_mutex_destroy(&v->mu);
	free(v->cache);
	free(v);
}

static void
forget_all(struct bm_auth_verifier *v)
{
	pthread_mutex_lock(&v->mu);
	memset(v->cache, 0, BM_AUTH_CACHE_MAX * sizeof(*v->cache));
	v->n_cached = 0;
	pthread_mutex_unlock(&v->mu);
}

int
bm_auth_verifier_reload(struct bm_auth_verifier *v, char *err, size_t errlen)
{
	X509_STORE *st;
	int r;

	if ((r = load_store(v, &st, err, errlen)) < 0)
		return r;
	pthread_rwlock_wrlock(&v->lock);
	X509_STORE_free(v->store);
	v->store = st;
	pthread_rwlock_unlock(&v->lock);
	forget_all(v);
	return 0;
}

/* The cache slot of key: where it is, or the free slot it would take. */
static struct cached *
slot(struct bm_auth_verifier *v, const uint8_t key[BM_SHA256_LEN])
{
	size_t i = (size_t)bm_get_be64(key) % BM_AUTH_CACHE_MAX;
	static const uint8_t zero[BM_SHA256_LEN];

	while (memcmp(v->cache[i].key, zero, BM_SHA256_LEN) &&
	       memcmp(v->cache[i].key, key, BM_SHA256_LEN))
		i = (i + 1) % BM_AUTH_CACHE_MAX;
	return &v->cache[i];
}

static bool
cache_get(struct bm_auth_verifier *v, const uint8_t key[BM_SHA256_LEN], uint64_t now,
          struct bm_identity *ret)
{
	bool hit;

	pthread_mutex_lock(&v->mu);
	struct cached *c = slot(v, key);
	hit = !memcmp(c->key, key, BM_SHA256_LEN) && now < c->until_ms;
	if (hit)
		*ret = c->id;
	pthread_mutex_unlock(&v->mu);
	return hit;
}

static void
cache_put(struct bm_auth_verifier *v, const uint8_t key[BM_SHA256_LEN], uint64_t until,
          const struct bm_identity *id)
{
	pthread_mutex_lock(&v->mu);
	if (v->n_cached >= BM_AUTH_CACHE_MAX / 2) { /* half full: start again */
		memset(v->cache, 0, BM_AUTH_CACHE_MAX * sizeof(*v->cache));
		v->n_cached = 0;
	}
	struct cached *c = slot(v, key);
	if (memcmp(c->key, key, BM_SHA256_LEN))
		v->n_cached++;
	memcpy(c->key, key, BM_SHA256_LEN);
	c->until_ms = until;
	c->id = *id;
	pthread_mutex_unlock(&v->mu);
}

/* Verify x against the CA and the CRL. Returns 0 or -EACCES with why. */
static int
verify_chain(struct bm_auth_verifier *v, X509 *x, char *why, size_t whylen)
{
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = 0, e = X509_V_ERR_UNSPECIFIED;

	pthread_rwlock_rdlock(&v->lock);
	if (ctx && X509_STORE_CTX_init(ctx, v->store, x, NULL) == 1) {
		ok = X509_verify_cert(ctx) == 1;
		e = X509_STORE_CTX_get_error(ctx);
	}
	pthread_rwlock_unlock(&v->lock);
	X509_STORE_CTX_free(ctx);
	ERR_clear_error();
	if (ok)
		return 0;
	snprintf(why, whylen, "certificate refused: %s",
	         e == X509_V_ERR_CERT_REVOKED         ? "revoked"
	         : e == X509_V_ERR_CERT_HAS_EXPIRED   ? "expired"
	         : e == X509_V_ERR_CERT_NOT_YET_VALID ? "not yet valid"
	         : e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
	                 e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
	             ? "not signed by the fleet CA"
	             : X509_verify_cert_error_string(e));
	return -EACCES;
}

int
bm_auth_verify_cert(struct bm_auth_verifier *v, const uint8_t *der, size_t len,
                    struct bm_identity *ret, char *why, size_t whylen)
{
	const unsigned char *p = der;
	X509 *x = len ? d2i_X509(NULL, &p, (long)len) : NULL;
	int r;

	if (!x || p != der + len) {
		X509_free(x);
		ERR_clear_error();
		snprintf(why, whylen, "no certificate, or an unreadable one");
		return -EACCES;
	}
	if ((r = verify_chain(v, x, why, whylen)) == 0)
		r = identity_of(x, ret, why, whylen);
	X509_free(x);
	return r;
}

static int
check_signature(const Bm__Auth *a, char *why, size_t whylen)
{
	const unsigned char *p = a->cert.data;
	X509 *x = d2i_X509(NULL, &p, (long)a->cert.len);
	EVP_PKEY *k = x ? X509_get0_pubkey(x) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t msg[64];
	size_t n = payload(msg, a->issued_ms, a->nonce.data);
	int ok = k && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
	         EVP_DigestVerify(md, a->signature.data, a->signature.len, msg, n) == 1;

	EVP_MD_CTX_free(md);
	X509_free(x);
	ERR_clear_error();
	if (!ok)
		snprintf(why, whylen, "the token's signature is not the certificate's key's");
	return ok ? 0 : -EACCES;
}

/* The cache's key: the digest of the whole token. */
static void
token_key(const Bm__Auth *a, uint8_t key[BM_SHA256_LEN])
{
	struct bm_sha256 h;
	uint8_t t[8];

	bm_put_be64(t, a->issued_ms);
	bm_sha256_init(&h);
	bm_sha256_update(&h, a->cert.data, a->cert.len);
	bm_sha256_update(&h, t, sizeof(t));
	bm_sha256_update(&h, a->nonce.data, a->nonce.len);
	bm_sha256_update(&h, a->signature.data, a->signature.len);
	bm_sha256_final(&h, key);
}

int
bm_auth_verify(struct bm_auth_verifier *v, const Bm__Auth *a, uint64_t now_ms,
               struct bm_identity *ret, char *why, size_t whylen)
{
	uint8_t key[BM_SHA256_LEN];
	int r;

	if (!a || !a->cert.len) {
		snprintf(why, whylen,
		         "no client certificate in the request (give --cert and --key)");
		return -EACCES;
	}
	if (a->nonce.len != NONCE_LEN || !a->signature.len || a->signature.len > SIG_MAX) {
		snprintf(why, whylen, "a malformed token");
		return -EACCES;
	}
	if (a->issued_ms + BM_AUTH_TOKEN_TTL_MS <= now_ms ||
	    a->issued_ms > now_ms + BM_AUTH_CLOCK_SKEW_MS) {
		snprintf(why, whylen, "the token is out of date (clocks %s apart?)",
		         a->issued_ms > now_ms ? "more than 5 min" : "10 min or more");
		return -EACCES;
	}
	token_key(a, key);
	if (cache_get(v, key, now_ms, ret))
		return 0;
	if ((r = check_signature(a, why, whylen)) < 0 ||
	    (r = bm_auth_verify_cert(v, a->cert.data, a->cert.len, ret, why, whylen)) < 0)
		return r;
	cache_put(v, key, a->issued_ms + BM_AUTH_TOKEN_TTL_MS, ret);
	return 0;
}
