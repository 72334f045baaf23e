/* The fleet CA on OpenSSL 3: EC keys, X.509 v3 certificates with their
 * extensions written by OpenSSL's own encoders, and the CRL. */
#include "bm/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bm/netaddr.h"
#include "bm/seal.h"

static const char *const kind_names[] = { "", "coordinator", "agent", "operator" };
static const char *const role_names[] = { "", "viewer", "operator", "admin" };

const char *
bm_cert_kind_name(enum bm_cert_kind k)
{
	return (unsigned)k < 4 ? kind_names[k] : "";
}

const char *
bm_role_name(enum bm_role r)
{
	return (unsigned)r < 4 ? role_names[r] : "";
}

int
bm_role_parse(const char *s, enum bm_role *ret)
{
	for (unsigned i = 1; i < 4; i++)
		if (!strcmp(s, role_names[i])) {
			*ret = (enum bm_role)i;
			return 0;
		}
	return -EINVAL;
}

/* ------------------------------------------------------------- errors */

static int
fail(char *err, size_t len, int r, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[160] = "";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, len, "%s%s%s", what, *buf ? ": " : "", buf);
	return r;
}

/* ------------------------------------------------------------- files */

static void
path_of(char *out, const char *dir, const char *name, const char *ext)
{
	snprintf(out, PATH_MAX, "%s/%s%s", dir, name, ext);
}

/* Write with `mode`, refusing to replace (O_EXCL). */
static FILE *
create(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

	if (fd >= 0 && !f)
		close(fd);
	return f;
}

static int
write_key(const char *path, EVP_PKEY *k)
{
	FILE *f = create(path, 0600);
	int ok;

	if (!f)
		return -errno;
	ok = PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

static int
write_cert(const char *path, X509 *x)
{
	FILE *f = create(path, 0644);
	int ok;

	if (!f)
		return -errno;
	ok = PEM_write_X509(f, x);
	return fclose(f) == 0 && ok ? 0 : -EIO;
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return x;
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	return k;
}

/* ------------------------------------------------------------ building */

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if (!(e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)))
		return -EINVAL;
	ok = X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	return ok ? 0 : -EINVAL;
}

/* A new certificate for key `k` named CN=cn, valid `secs` from now, with a
 * random 128-bit serial; issuer set, not signed. */
static X509 *
new_cert(EVP_PKEY *k, const char *cn, long secs, X509 *issuer)
{
	X509 *x = X509_new();
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	X509_NAME *nm;

	if (!x || RAND_bytes(serial, sizeof(serial)) != 1)
		goto fail;
	serial[0] &= 0x7f; /* positive */
	if (!(bn = BN_bin2bn(serial, sizeof(serial), NULL)) ||
	    !(ai = BN_to_ASN1_INTEGER(bn, NULL)) || !X509_set_version(x, 2) ||
	    !X509_set_serialNumber(x, ai) || !X509_set_pubkey(x, k) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), secs))
		goto fail;
	nm = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC, (const unsigned char *)"bm", -1, -1,
	                                0) ||
	    !X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1,
	                                0) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : nm))
		goto fail;
	BN_free(bn);
	ASN1_INTEGER_free(ai);
	return x;
fail:
	BN_free(bn);
	ASN1_INTEGER_free(ai);
	X509_free(x);
	return NULL;
}

/* subjectAltName of a request: kind, rack or role, and addresses. */
static int
san_of(const struct bm_pki_request *q, char *out, size_t len, char *err, size_t errlen)
{
	size_t o = (size_t)snprintf(out, len, "URI:bm:kind/%s", bm_cert_kind_name(q->kind));

	if (q->kind == BM_KIND_AGENT)
		o += (size_t)snprintf(out + o, len - o, ",URI:bm:rack/%s", q->rack);
	if (q->kind == BM_KIND_OPERATOR)
		o += (size_t)snprintf(out + o, len - o, ",URI:bm:role/%s", bm_role_name(q->role));
	if (q->kind != BM_KIND_COORDINATOR)
		return 0;
	o += (size_t)snprintf(out + o, len - o, ",DNS:%s", q->name);
	char list[512];
	unsigned n = 0;
	snprintf(list, sizeof(list), "%s", q->addresses ? q->addresses : "");
	for (char *save, *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		uint32_t ip;
		if (++n > BM_PKI_ADDRESSES_MAX || strlen(a) > 253 || strpbrk(a, " :/,"))
			return fail(err, errlen, -EINVAL, "--address takes up to 8 IPs or names");
		/* DNS too for an IP: clients of releases before our OpenSSL
		 * engine (nng's mbedtls 2.28, still in a fleet being upgraded)
		 * match server names against DNS names only; ours checks the IP. */
		if (bm_ip4_parse(a, &ip) == 0)
			o += (size_t)snprintf(out + o, len - o, ",IP:%s,DNS:%s", a, a);
		else
			o += (size_t)snprintf(out + o, len - o, ",DNS:%s", a);
	}
	if (!n)
		return fail(err, errlen, -EINVAL, "a coordinator needs --address IP[,IP...]");
	return o < len ? 0 : fail(err, errlen, -EINVAL, "too many addresses");
}

static int
check_request(const struct bm_pki_request *q, char *err, size_t errlen)
{
	if (!q->name || !bm_name_valid(q->name))
		return fail(err, errlen, -EINVAL, "NAME must be a valid name (a-z, 0-9, -)");
	if (!strcmp(q->name, "ca") || !strcmp(q->name, "crl") || !strcmp(q->name, "secrets"))
		return fail(err, errlen, -EINVAL, "NAME may not be ca, crl or secrets");
	if (q->kind == BM_KIND_AGENT && (!q->rack || !bm_name_valid(q->rack)))
		return fail(err, errlen, -EINVAL, "an agent needs --rack RACK");
	if (q->kind == BM_KIND_OPERATOR && q->role == BM_ROLE_NONE)
		return fail(err, errlen, -EINVAL, "an operator needs --role viewer|operator|admin");
	if (q->kind < BM_KIND_COORDINATOR || q->kind > BM_KIND_OPERATOR)
		return fail(err, errlen, -EINVAL, "the kind is coordinator, agent or operator");
	return 0;
}

/* ---------------------------------------------------------------- CRL */

/* Sign DIR/crl.pem anew: the entries of `old` (may be NULL) plus `add`
 * (may be NULL), valid as long as the CA. */
static int
write_crl(const char *dir, X509 *ca, EVP_PKEY *cakey, X509_CRL *old, ASN1_INTEGER *add)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = ASN1_TIME_new();
	int r = -EIO;
	FILE *f;

	if (!crl || !now || !X509_gmtime_adj(now, 0) || !X509_CRL_set_version(crl, 1) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
	    !X509_CRL_set1_lastUpdate(crl, now) ||
	    !X509_CRL_set1_nextUpdate(crl, X509_get0_notAfter(ca)))
		goto out;
	STACK_OF(X509_REVOKED) *prev = old ? X509_CRL_get_REVOKED(old) : NULL;
	for (int i = 0; prev && i < sk_X509_REVOKED_num(prev); i++) {
		X509_REVOKED *rv = X509_REVOKED_dup(sk_X509_REVOKED_value(prev, i));
		if (!rv || !X509_CRL_add0_revoked(crl, rv))
			goto out;
	}
	if (add) {
		X509_REVOKED *rv = X509_REVOKED_new();
		if (!rv || !X509_REVOKED_set_serialNumber(rv, add) ||
		    !X509_REVOKED_set_revocationDate(rv, now) || !X509_CRL_add0_revoked(crl, rv)) {
			X509_REVOKED_free(rv);
			goto out;
		}
	}
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, cakey, EVP_sha256()))
		goto out;
	path_of(path, dir, "crl", ".pem");
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	unlink(tmp);
	if (!(f = create(tmp, 0644)))
		goto out;
	r = PEM_write_X509_CRL(f, crl) && fclose(f) == 0 ? 0 : -EIO;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
out:
	ASN1_TIME_free(now);
	X509_CRL_free(crl);
	return r;
}

static X509_CRL *
read_crl(const char *dir)
{
	char path[PATH_MAX];
	FILE *f;
	X509_CRL *c;

	path_of(path, dir, "crl", ".pem");
	if (!(f = fopen(path, "r")))
		return NULL;
	c = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	return c;
}

/* ---------------------------------------------------------------- API */

/* The coordinators' key for secrets at rest (bm/seal.h); one already there
 * is kept. */
static int
write_secrets_key(const char *dir)
{
	char path[PATH_MAX];
	uint8_t key[BM_SEAL_KEY_LEN];
	int r;

	path_of(path, dir, "secrets", ".key");
	r = bm_seal_key_make(path, key);
	OPENSSL_cleanse(key, sizeof(key));
	return r;
}

int
bm_pki_init(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int r;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, -errno, "cannot make the folder");
	path_of(path, dir, "ca", ".key");
	if (access(path, F_OK) == 0)
		return fail(err, errlen, -EEXIST, "a CA is already there (ca.key)");
	if (!(k = EVP_EC_gen("P-256")) ||
	    !(x = new_cert(k, "bm-fleet-ca", (long)BM_PKI_CA_DAYS * 86400, NULL)) ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    !X509_sign(x, k, EVP_sha256())) {
		r = fail(err, errlen, -EIO, "cannot make the CA");
		goto out;
	}
	if ((r = write_key(path, k)) < 0) {
		r = fail(err, errlen, r, "cannot write ca.key");
		goto out;
	}
	path_of(path, dir, "ca", ".crt");
	if ((r = write_cert(path, x)) < 0 || (r = write_crl(dir, x, k, NULL, NULL)) < 0 ||
	    (r = write_secrets_key(dir)) < 0)
		r = fail(err, errlen, r, "cannot write ca.crt, crl.pem or secrets.key");
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return r;
}

/* The CA of DIR, or NULL with err set. */
static int
load_ca(const char *dir, X509 **ret_ca, EVP_PKEY **ret_key, char *err, size_t errlen)
{
	char path[PATH_MAX];

	path_of(path, dir, "ca", ".crt");
	*ret_ca = read_cert(path);
	path_of(path, dir, "ca", ".key");
	*ret_key = read_key(path);
	if (*ret_ca && *ret_key)
		return 0;
	X509_free(*ret_ca);
	EVP_PKEY_free(*ret_key);
	return fail(err, errlen, -ENOENT, "no CA there (ca.crt and ca.key): run bmctl pki init");
}

int
bm_pki_issue(const char *dir, const struct bm_pki_request *q, char *err, size_t errlen)
{
	char path[PATH_MAX], san[2048];
	EVP_PKEY *cakey = NULL, *k = NULL;
	X509 *ca = NULL, *x = NULL;
	bool server = q->kind == BM_KIND_COORDINATOR;
	int r;

	if ((r = check_request(q, err, errlen)) < 0 ||
	    (r = san_of(q, san, sizeof(san), err, errlen)) < 0)
		return r;
	path_of(path, dir, q->name, ".crt");
	if (access(path, F_OK) == 0)
		return fail(err, errlen, -EEXIST,
		            "a certificate of that name exists: revoke, then issue another name");
	if ((r = load_ca(dir, &ca, &cakey, err, errlen)) < 0)
		return r;
	if (!(k = EVP_EC_gen("P-256")) ||
	    !(x = new_cert(k, q->name,
	                   q->seconds ? (long)q->seconds
	                              : (long)(q->days ? q->days : BM_PKI_CERT_DAYS) * 86400,
	                   ca)) ||
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature,keyAgreement") < 0 ||
	    add_ext(x, ca, NID_ext_key_usage, server ? "serverAuth,clientAuth" : "clientAuth") <
	        0 ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid") < 0 ||
	    add_ext(x, ca, NID_subject_alt_name, san) < 0 || !X509_sign(x, cakey, EVP_sha256())) {
		r = fail(err, errlen, -EIO, "cannot make the certificate");
		goto out;
	}
	path_of(path, dir, q->name, ".key");
	if ((r = write_key(path, k)) < 0) {
		r = fail(err, errlen, r, "cannot write NAME.key");
		goto out;
	}
	path_of(path, dir, q->name, ".crt");
	if ((r = write_cert(path, x)) < 0)
		r = fail(err, errlen, r, "cannot write NAME.crt");
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(k);
	EVP_PKEY_free(cakey);
	return r;
}

int
bm_pki_revoke(const char *dir, const char *name, char *err, size_t errlen)
{
	char path[PATH_MAX];
	EVP_PKEY *cakey = NULL;
	X509 *ca = NULL, *x;
	X509_CRL *old;
	int r;

	if (!bm_name_valid(name))
		return fail(err, errlen, -EINVAL, "NAME must be a valid name");
	path_of(path, dir, name, ".crt");
	if (!(x = read_cert(path)))
		return fail(err, errlen, -ENOENT, "no such certificate (NAME.crt)");
	if ((r = load_ca(dir, &ca, &cakey, err, errlen)) == 0) {
		old = read_crl(dir);
		if ((r = write_crl(dir, ca, cakey, old, X509_get_serialNumber(x))) < 0)
			r = fail(err, errlen, r, "cannot write crl.pem");
		X509_CRL_free(old);
	}
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return r;
}
