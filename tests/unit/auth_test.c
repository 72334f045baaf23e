/* The fleet CA and the request tokens: a token of a certificate of the CA
 * verifies and names its holder; one of another CA, out of date, with a
 * signature of another key, or of a revoked certificate (after a reload)
 * does not; refusals say why. And the authorization table: what each
 * role, an agent (of its rack only) and a peer coordinator may send. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "authz.h"
#include "bm/auth.h"
#include "bm/pki.h"
#include "bm/util.h"
#include "test_tmp.h"

#define NOW 1800000000000ull

struct fx {
	char dir[PATH_MAX], other[PATH_MAX], path[PATH_MAX + 32], path2[PATH_MAX + 32];
	struct bm_auth_verifier *v;
};

static const char *
file(const struct fx *f, const char *dir, const char *name, char *out)
{
	(void)f;
	snprintf(out, PATH_MAX + 32, "%s/%s", dir, name);
	return out;
}

static void
issue(const char *dir, enum bm_cert_kind kind, const char *name, enum bm_role role)
{
	struct bm_pki_request q = {
		.kind = kind, .name = name, .role = role, .rack = "rack12", .addresses = "127.0.0.1"
	};
	char err[256];
	if (bm_pki_issue(dir, &q, err, sizeof(err)) < 0)
		fail_msg("issue %s: %s", name, err);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char err[256], crl[PATH_MAX + 32];

	th_tmpdir(f->dir, "pki");
	th_tmpdir(f->other, "pki-other");
	/* Into a sub-folder: init makes its folder itself. */
	strcat(f->dir, "/ca");
	strcat(f->other, "/ca");
	assert_int_equal(bm_pki_init(f->dir, err, sizeof(err)), 0);
	assert_int_equal(bm_pki_init(f->other, err, sizeof(err)), 0);
	assert_int_equal(bm_pki_init(f->dir, err, sizeof(err)), -EEXIST);
	issue(f->dir, BM_KIND_OPERATOR, "alice", BM_ROLE_OPERATOR);
	issue(f->dir, BM_KIND_AGENT, "r12a", BM_ROLE_NONE);
	issue(f->dir, BM_KIND_COORDINATOR, "c1", BM_ROLE_NONE);
	issue(f->other, BM_KIND_OPERATOR, "mallory", BM_ROLE_ADMIN);
	assert_int_equal(bm_auth_verifier_new(file(f, f->dir, "ca.crt", f->path),
	                                      file(f, f->dir, "crl.pem", crl), &f->v, err,
	                                      sizeof(err)),
	                 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	bm_auth_verifier_free(f->v);
	f->dir[strlen(f->dir) - 3] = '\0';
	f->other[strlen(f->other) - 3] = '\0';
	th_rmtree(f->dir);
	th_rmtree(f->other);
	free(f);
	return 0;
}

/* A token of DIR/NAME at `at`, verified at NOW. */
static int
verify_as(struct fx *f, const char *dir, const char *name, uint64_t at, struct bm_identity *id,
          char *why)
{
	struct bm_auth_client *c;
	struct bm_auth_token tok;
	char n[80], err[256];
	int r;

	snprintf(n, sizeof(n), "%s.crt", name);
	file(f, dir, n, f->path);
	snprintf(n, sizeof(n), "%s.key", name);
	file(f, dir, n, f->path2);
	assert_int_equal(bm_auth_client_load(f->path, f->path2, &c, err, sizeof(err)), 0);
	assert_int_equal(bm_auth_client_token(c, at, &tok), 0);
	r = bm_auth_verify(f->v, &tok.a, NOW, id, why, 256);
	bm_auth_client_free(c);
	return r;
}

static void
test_tokens(void **state)
{
	struct fx *f = *state;
	struct bm_identity id;
	char why[256];

	assert_int_equal(verify_as(f, f->dir, "alice", NOW, &id, why), 0);
	assert_int_equal(id.kind, BM_KIND_OPERATOR);
	assert_int_equal(id.role, BM_ROLE_OPERATOR);
	assert_string_equal(id.name, "alice");
	assert_int_equal(verify_as(f, f->dir, "r12a", NOW, &id, why), 0);
	assert_int_equal(id.kind, BM_KIND_AGENT);
	assert_string_equal(id.rack, "rack12");
	assert_int_equal(verify_as(f, f->dir, "c1", NOW, &id, why), 0);
	assert_int_equal(id.role, BM_ROLE_ADMIN);
	/* Another CA. */
	assert_int_equal(verify_as(f, f->other, "mallory", NOW, &id, why), -EACCES);
	assert_non_null(strstr(why, "not signed by the fleet CA"));
	/* Out of date, either way. */
	assert_int_equal(verify_as(f, f->dir, "alice", NOW - BM_AUTH_TOKEN_TTL_MS, &id, why),
	                 -EACCES);
	assert_non_null(strstr(why, "out of date"));
	assert_int_equal(verify_as(f, f->dir, "alice", NOW + BM_AUTH_CLOCK_SKEW_MS + 1, &id, why),
	                 -EACCES);
	/* No token at all. */
	assert_int_equal(bm_auth_verify(f->v, NULL, NOW, &id, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "no client certificate"));
}

static void
test_forged_signature(void **state)
{
	struct fx *f = *state;
	struct bm_auth_client *a, *b;
	struct bm_auth_token ta, tb;
	struct bm_identity id;
	char err[256], why[256], k[PATH_MAX + 32];

	assert_int_equal(bm_auth_client_load(file(f, f->dir, "alice.crt", f->path),
	                                     file(f, f->dir, "alice.key", k), &a, err, sizeof(err)),
	                 0);
	assert_int_equal(bm_auth_client_load(file(f, f->dir, "r12a.crt", f->path),
	                                     file(f, f->dir, "r12a.key", k), &b, err, sizeof(err)),
	                 0);
	assert_int_equal(bm_auth_client_token(a, NOW, &ta), 0);
	assert_int_equal(bm_auth_client_token(b, NOW, &tb), 0);
	/* The agent presents alice's certificate with its own signature. */
	tb.a.cert = ta.a.cert;
	assert_int_equal(bm_auth_verify(f->v, &tb.a, NOW, &id, why, sizeof(why)), -EACCES);
	assert_non_null(strstr(why, "signature"));
	bm_auth_client_free(b);
	/* A key that is not the certificate's is refused at load. */
	assert_int_equal(
	    bm_auth_client_load(f->path, file(f, f->dir, "alice.key", k), &b, err, sizeof(err)),
	    -EINVAL);
	bm_auth_client_free(a);
}

static void
test_revoked_after_reload(void **state)
{
	struct fx *f = *state;
	struct bm_identity id;
	char why[256], err[256];

	assert_int_equal(verify_as(f, f->dir, "alice", NOW, &id, why), 0);
	assert_int_equal(bm_pki_revoke(f->dir, "alice", err, sizeof(err)), 0);
	assert_int_equal(bm_auth_verifier_reload(f->v, err, sizeof(err)), 0);
	assert_int_equal(verify_as(f, f->dir, "alice", NOW, &id, why), -EACCES);
	assert_non_null(strstr(why, "revoked"));
	assert_int_equal(verify_as(f, f->dir, "r12a", NOW, &id, why), 0);
}

/* ------------------------------------------------------------- authz */

static int
check(enum bm_cert_kind kind, enum bm_role role, const char *rack, Bm__Request *req, char *why)
{
	struct bm_identity id = { .kind = kind, .role = role };
	snprintf(id.name, sizeof(id.name), "x");
	snprintf(id.rack, sizeof(id.rack), "%s", rack);
	return authz_check(&id, req, why, 256);
}

static void
test_authz_table(void **state)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ApplyRequest ap = BM__APPLY_REQUEST__INIT;
	Bm__ReimageRequest ri = BM__REIMAGE_REQUEST__INIT;
	Bm__ClusterRequest cl = BM__CLUSTER_REQUEST__INIT;
	Bm__WatchRequest w = BM__WATCH_REQUEST__INIT;
	Bm__BlobGetRequest bg = BM__BLOB_GET_REQUEST__INIT;
	char why[256];

	(void)state;
	req.body_case = BM__REQUEST__BODY_APPLY;
	req.apply = &ap;
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_ADMIN, "", &req, why), 0);
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_OPERATOR, "", &req, why), -EACCES);
	assert_string_equal(why, "apply needs role admin, you are operator");
	assert_int_equal(check(BM_KIND_AGENT, BM_ROLE_NONE, "rack12", &req, why), -EACCES);
	assert_int_equal(check(BM_KIND_COORDINATOR, BM_ROLE_ADMIN, "", &req, why), 0);
	req.body_case = BM__REQUEST__BODY_REIMAGE;
	req.reimage = &ri;
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_OPERATOR, "", &req, why), 0);
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_VIEWER, "", &req, why), -EACCES);
	req.body_case = BM__REQUEST__BODY_CLUSTER;
	req.cluster = &cl;
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_VIEWER, "", &req, why), 0); /* status */
	cl.action = BM__CLUSTER_REQUEST__ACTION__ADD;
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_OPERATOR, "", &req, why), -EACCES);
	assert_string_equal(why, "cluster add needs role admin, you are operator");
	req.body_case = BM__REQUEST__BODY_WATCH;
	req.watch = &w;
	w.rack = "rack12";
	assert_int_equal(check(BM_KIND_AGENT, BM_ROLE_NONE, "rack12", &req, why), 0);
	assert_int_equal(check(BM_KIND_AGENT, BM_ROLE_NONE, "rack11", &req, why), -EACCES);
	assert_string_equal(why, "agent x is for rack rack11, not rack12");
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_ADMIN, "", &req, why), -EACCES);
	assert_int_equal(check(BM_KIND_COORDINATOR, BM_ROLE_ADMIN, "", &req, why), -EACCES);
	req.body_case = BM__REQUEST__BODY_BLOB_GET;
	req.blob_get = &bg;
	assert_int_equal(check(BM_KIND_COORDINATOR, BM_ROLE_ADMIN, "", &req, why), 0);
	assert_int_equal(check(BM_KIND_AGENT, BM_ROLE_NONE, "rack12", &req, why), 0);
	assert_int_equal(check(BM_KIND_OPERATOR, BM_ROLE_ADMIN, "", &req, why), -EACCES);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_signature, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoked_after_reload, setup, teardown),
		cmocka_unit_test(test_authz_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
