/* The fleet's certificate authority, on OpenSSL: a CA made by `bmctl pki
 * init`, and the certificates it issues to coordinators, agents and
 * operators. What a certificate allows is in it, as URIs of its
 * subjectAltName, so a coordinator needs no user database:
 *   bm:kind/coordinator|agent|operator, bm:rack/RACK (agents),
 *   bm:role/viewer|operator|admin (operators).
 * A coordinator's certificate also names its addresses (IP and, for TLS
 * stacks that match names only, the same text as DNS), and is both a
 * server and a client certificate (Raft peers). Keys are ECDSA P-256.
 *
 * Files in DIR: ca.crt, ca.key, crl.pem (the revoked), secrets.key (the
 * coordinators' key for BMC credentials at rest), NAME.crt and NAME.key.
 * Keys are written 0600. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BM_PKI_CA_DAYS 3650u  /* the CA, ten years */
#define BM_PKI_CERT_DAYS 825u /* a certificate it issues */
#define BM_PKI_ADDRESSES_MAX 8u

enum bm_cert_kind { BM_KIND_NONE, BM_KIND_COORDINATOR, BM_KIND_AGENT, BM_KIND_OPERATOR };
/* Ordered: each role may do what the ones below it may. */
enum bm_role { BM_ROLE_NONE, BM_ROLE_VIEWER, BM_ROLE_OPERATOR, BM_ROLE_ADMIN };

const char *bm_cert_kind_name(enum bm_cert_kind k);
const char *bm_role_name(enum bm_role r);
/* "viewer" -> BM_ROLE_VIEWER ... Returns 0 or -EINVAL. */
int bm_role_parse(const char *s, enum bm_role *ret_role);

struct bm_pki_request {
	enum bm_cert_kind kind;
	const char *name;      /* a valid name: the file names and the CN */
	const char *addresses; /* coordinator: "IP[,IP...]" (or host names) */
	const char *rack;      /* agent */
	enum bm_role role;     /* operator */
	unsigned days;         /* 0: BM_PKI_CERT_DAYS */
	unsigned seconds;      /* instead of days, when set: a short-lived certificate */
};

/* Make DIR (0700) with a new CA, an empty CRL and a secrets key. Refuses
 * (-EEXIST) when DIR/ca.key exists. Returns 0 or -errno; why into err. */
int bm_pki_init(const char *dir, char *err, size_t errlen);
/* Issue DIR/NAME.crt and DIR/NAME.key. Refuses (-EEXIST) a name already
 * issued. Returns 0 or -errno; why into err. */
int bm_pki_issue(const char *dir, const struct bm_pki_request *q, char *err, size_t errlen);
/* Add DIR/NAME.crt's serial to DIR/crl.pem (signed anew). */
int bm_pki_revoke(const char *dir, const char *name, char *err, size_t errlen);
