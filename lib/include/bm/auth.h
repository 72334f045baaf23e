/* Who sends a request. nng 1.5's TLS (mbedtls) verifies the client's
 * certificate against the fleet CA but does not tell the server which
 * certificate it was, so every request carries a token (Bm__Auth): the
 * sender's certificate and its signature over a time and a nonce, made with
 * the certificate's key. The coordinator verifies the certificate (the CA,
 * the CRL, its dates) and the signature once per token, and then knows the
 * sender's kind, role and rack from the certificate (bm/pki.h). A token
 * travels only inside TLS to coordinators; it is good for
 * BM_AUTH_TOKEN_TTL_MS and made anew before then. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "bm/pki.h"
#include "bm/proto.h"

#define BM_AUTH_TOKEN_TTL_MS (10u * 60 * 1000)  /* a token is good this long */
#define BM_AUTH_TOKEN_RENEW_MS (5u * 60 * 1000) /* a client makes a new one after */
#define BM_AUTH_CLOCK_SKEW_MS (5u * 60 * 1000)  /* issued this far ahead still counts */
#define BM_AUTH_CACHE_MAX 4096u                 /* verified tokens remembered */

struct bm_identity {
	enum bm_cert_kind kind;
	enum bm_role role; /* an operator's; coordinators act as admin */
	char name[64];     /* the certificate's CN */
	char rack[64];     /* an agent's */
};

/* "operator alice (admin)", "agent r12a (rack rack12)", "coordinator c1". */
const char *bm_identity_text(const struct bm_identity *id, char *buf, size_t len);

/* ------------------------------------------------------------- clients */

struct bm_auth_client;

/* Load a certificate and its key (PEM files). Returns 0, or -errno with
 * why in err. */
int bm_auth_client_load(const char *cert_file, const char *key_file, struct bm_auth_client **ret,
                        char *err, size_t errlen);
void bm_auth_client_free(struct bm_auth_client *c);
/* A token to send, copied out (its certificate bytes stay the client's). */
struct bm_auth_token {
	Bm__Auth a;
	uint8_t nonce[16], sig[160];
};
/* The token to send at now_ms (made anew after BM_AUTH_TOKEN_RENEW_MS),
 * into *out. Thread-safe. Returns 0 or -errno. */
int bm_auth_client_token(struct bm_auth_client *c, uint64_t now_ms, struct bm_auth_token *out);
/* Who the loaded certificate names. */
const struct bm_identity *bm_auth_client_identity(struct bm_auth_client *c);

/* ----------------------------------------------------------- verifiers */

struct bm_auth_verifier;

/* Trust the CA in ca_file, refusing what crl_file (optional) revokes.
 * Returns 0, or -errno with why in err. */
int bm_auth_verifier_new(const char *ca_file, const char *crl_file, struct bm_auth_verifier **ret,
                         char *err, size_t errlen);
void bm_auth_verifier_free(struct bm_auth_verifier *v);
/* Read the files again (SIGHUP); what was verified is forgotten. On
 * failure the old ones stay. Returns 0 or -errno with why. */
int bm_auth_verifier_reload(struct bm_auth_verifier *v, char *err, size_t errlen);
/* Verify a token at now_ms. Returns 0 with *ret, or -EACCES with why
 * ("certificate revoked", "token expired", ...). Thread-safe. */
int bm_auth_verify(struct bm_auth_verifier *v, const Bm__Auth *a, uint64_t now_ms,
                   struct bm_identity *ret, char *why, size_t whylen);
/* Verify a certificate alone (DER), as a Raft peer's. Same returns. */
int bm_auth_verify_cert(struct bm_auth_verifier *v, const uint8_t *der, size_t len,
                        struct bm_identity *ret, char *why, size_t whylen);
