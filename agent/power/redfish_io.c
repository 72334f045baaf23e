/* The Redfish driver's HTTP side (libcurl): a session, the system, the boot
 * override and the reset. What the answers mean is redfish.c's. */
#include <curl/curl.h>
#include <errno.h>
#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bm/sha256.h"
#include "bm/util.h"
#include "redfish.h"

struct rf_resp {
	long status;
	char *body;
	size_t len;
	bool too_big;
	char etag[128], location[256], token[256];
};

struct rf {
	CURL *c;
	struct redfish_target t;
	const struct redfish_opts *o;
	uint8_t pin[BM_SHA256_LEN];
	bool pinned;
	char base[300];
	char token[256];   /* X-Auth-Token of our session ("": Basic) */
	char session[256]; /* its path, deleted at the end */
	char err[CURL_ERROR_SIZE];
};

static void
resp_free(struct rf_resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static size_t
on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct rf_resp *r = arg;
	size_t len = sz * n;
	char *b;

	if (r->len + len > REDFISH_BODY_MAX) {
		r->too_big = true;
		return 0;
	}
	if (!(b = realloc(r->body, r->len + len + 1)))
		return 0;
	memcpy(b + r->len, p, len);
	r->body = b;
	r->len += len;
	b[r->len] = '\0';
	return len;
}

/* A header's value into out when its name is name (case-insensitive). */
static void
header_value(const char *line, size_t len, const char *name, char *out, size_t olen)
{
	size_t n = strlen(name);
	if (len <= n + 1 || strncasecmp(line, name, n) || line[n] != ':')
		return;
	const char *v = line + n + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if ((size_t)(end - v) < olen)
		snprintf(out, olen, "%.*s", (int)(end - v), v);
}

static size_t
on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct rf_resp *r = arg;
	header_value(p, sz * n, "ETag", r->etag, sizeof(r->etag));
	header_value(p, sz * n, "Location", r->location, sizeof(r->location));
	header_value(p, sz * n, "X-Auth-Token", r->token, sizeof(r->token));
	return sz * n;
}

/* The BMC's certificate must be the one pinned (its SHA-256), whatever
 * signed it: BMCs ship self-signed certificates. */
static int
pin_check(X509_STORE_CTX *x, void *arg)
{
	const struct rf *rf = arg;
	X509 *cert = X509_STORE_CTX_get0_cert(x);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	if (!cert || !X509_digest(cert, EVP_sha256(), md, &len) || len != BM_SHA256_LEN ||
	    CRYPTO_memcmp(md, rf->pin, BM_SHA256_LEN)) {
		X509_STORE_CTX_set_error(x, X509_V_ERR_CERT_REJECTED);
		return 0;
	}
	return 1;
}

static CURLcode
on_ssl_ctx(CURL *c, void *ssl_ctx, void *arg)
{
	(void)c;
	SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ssl_ctx, pin_check, arg);
	return CURLE_OK;
}

static void
setup_tls(struct rf *rf)
{
	if (!rf->t.https)
		return;
	if (rf->pinned) {
		/* Our callback decides; curl's own checks would refuse a
		 * self-signed certificate before it is compared. */
		curl_easy_setopt(rf->c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(rf->c, CURLOPT_SSL_VERIFYHOST, 0L);
		curl_easy_setopt(rf->c, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
		curl_easy_setopt(rf->c, CURLOPT_SSL_CTX_DATA, rf);
		return;
	}
	curl_easy_setopt(rf->c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(rf->c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (rf->o->ca_file && *rf->o->ca_file)
		curl_easy_setopt(rf->c, CURLOPT_CAINFO, rf->o->ca_file);
}

/* One call. body NULL: GET (or DELETE when method says so). Returns 0 with
 * the answer, or -1 with why in rf->err (no answer at all). */
static int
call(struct rf *rf, const char *method, const char *path, const char *body, const char *if_match,
     struct rf_resp *r)
{
	char url[600], h_tok[300], h_match[200];
	struct curl_slist *hs = NULL;
	CURLcode cc;

	memset(r, 0, sizeof(*r));
	snprintf(url, sizeof(url), "%s%s", rf->base, path);
	curl_easy_reset(rf->c);
	curl_easy_setopt(rf->c, CURLOPT_URL, url);
	curl_easy_setopt(rf->c, CURLOPT_PROTOCOLS_STR, rf->t.https ? "https" : "http");
	curl_easy_setopt(rf->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(
	    rf->c, CURLOPT_TIMEOUT,
	    (long)(rf->o->call_timeout_s ? rf->o->call_timeout_s : REDFISH_CALL_TIMEOUT_S));
	curl_easy_setopt(rf->c, CURLOPT_ERRORBUFFER, rf->err);
	curl_easy_setopt(rf->c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(rf->c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(rf->c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(rf->c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(rf->c, CURLOPT_CUSTOMREQUEST, method);
	setup_tls(rf);
	hs = curl_slist_append(hs, "Accept: application/json");
	if (body) {
		hs = curl_slist_append(hs, "Content-Type: application/json");
		curl_easy_setopt(rf->c, CURLOPT_POSTFIELDS, body);
	}
	if (if_match && *if_match) {
		snprintf(h_match, sizeof(h_match), "If-Match: %s", if_match);
		hs = curl_slist_append(hs, h_match);
	}
	if (*rf->token) {
		snprintf(h_tok, sizeof(h_tok), "X-Auth-Token: %s", rf->token);
		hs = curl_slist_append(hs, h_tok);
	} else if (strcmp(path, "/redfish/v1") && strcmp(path, "/redfish/v1/")) {
		curl_easy_setopt(rf->c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(rf->c, CURLOPT_USERNAME, rf->t.user);
		curl_easy_setopt(rf->c, CURLOPT_PASSWORD, rf->t.pass);
	}
	curl_easy_setopt(rf->c, CURLOPT_HTTPHEADER, hs);
	rf->err[0] = '\0';
	cc = curl_easy_perform(rf->c);
	curl_easy_getinfo(rf->c, CURLINFO_RESPONSE_CODE, &r->status);
	OPENSSL_cleanse(h_tok, sizeof(h_tok));
	curl_slist_free_all(hs);
	curl_easy_setopt(rf->c, CURLOPT_PASSWORD, "");
	if (cc != CURLE_OK) {
		if (r->too_big)
			snprintf(rf->err, sizeof(rf->err), "answer larger than %u bytes",
			         REDFISH_BODY_MAX);
		else if (!rf->err[0])
			snprintf(rf->err, sizeof(rf->err), "%s", curl_easy_strerror(cc));
		resp_free(r);
		return -1;
	}
	return 0;
}

/* Why a call failed, as one line: no answer (curl's reason; TLS hints the
 * settings), or the BMC's message. */
static int
fail(struct rf *rf, const char *what, const struct rf_resp *r, char *msg, size_t mlen)
{
	char m[300];
	if (!r || !r->status) {
		bool tls = strstr(rf->err, "SSL") || strstr(rf->err, "certificate");
		snprintf(msg, mlen, "redfish %s: %s%s", what, rf->err,
		         tls ? " (the BMC's certificate is checked against the agent's bmc_ca or "
		               "the machine's bmc_fingerprint)"
		             : "");
		return -1;
	}
	redfish_error(r->body, r->len, r->status, m, sizeof(m));
	snprintf(msg, mlen, "redfish %s: HTTP %ld: %s", what, r->status, m);
	return -1;
}

/* Open a session (POST to the root's Sessions with UserName/Password);
 * Basic stays when the BMC has no SessionService. 401 is an answer. */
static int
session_open(struct rf *rf, char *msg, size_t mlen)
{
	struct rf_resp r;
	char path[256] = "";

	if (call(rf, "GET", "/redfish/v1", NULL, NULL, &r) < 0)
		return fail(rf, "service root", NULL, msg, mlen);
	if (r.status == 200)
		redfish_sessions_path(r.body, r.len, path, sizeof(path));
	resp_free(&r);
	if (!*path)
		return 0; /* Basic */
	json_object *o = json_object_new_object();
	json_object_object_add(o, "UserName", json_object_new_string(rf->t.user));
	json_object_object_add(o, "Password", json_object_new_string(rf->t.pass));
	const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	int c = call(rf, "POST", path, body, NULL, &r);
	OPENSSL_cleanse((void *)body, strlen(body));
	json_object_put(o);
	if (c < 0)
		return fail(rf, "session", NULL, msg, mlen);
	if (r.status == 401 || r.status == 403) {
		fail(rf, "session (the BMC refused the user and password)", &r, msg, mlen);
		resp_free(&r);
		return -1;
	}
	if ((r.status == 200 || r.status == 201) && *r.token) {
		snprintf(rf->token, sizeof(rf->token), "%s", r.token);
		/* Location may be absolute: keep its path. */
		const char *loc = strstr(r.location, "/redfish/");
		snprintf(rf->session, sizeof(rf->session), "%s", loc ? loc : "");
	}
	OPENSSL_cleanse(&r.token, sizeof(r.token));
	resp_free(&r);
	return 0;
}

static void
session_close(struct rf *rf)
{
	struct rf_resp r;
	if (*rf->token && *rf->session && call(rf, "DELETE", rf->session, NULL, NULL, &r) == 0)
		resp_free(&r);
	OPENSSL_cleanse(rf->token, sizeof(rf->token));
}

/* GET the system into s (its ETag header wins over @odata.etag). */
static int
get_system(struct rf *rf, struct redfish_system *s, char *msg, size_t mlen)
{
	struct rf_resp r;
	char why[200];

	if (call(rf, "GET", rf->t.system, NULL, NULL, &r) < 0)
		return fail(rf, "GET system", NULL, msg, mlen);
	if (r.status != 200) {
		fail(rf, "GET system", &r, msg, mlen);
		resp_free(&r);
		return -1;
	}
	int ok = redfish_parse_system(r.body, r.len, s, why, sizeof(why));
	if (ok == 0 && *r.etag)
		snprintf(s->etag, sizeof(s->etag), "%s", r.etag);
	resp_free(&r);
	if (ok < 0)
		snprintf(msg, mlen, "redfish %s: %s", rf->t.system, why);
	return ok < 0 ? -1 : 0;
}

static int
find_system(struct rf *rf, char *msg, size_t mlen)
{
	struct rf_resp r;
	char why[400];

	if (*rf->t.system)
		return 0;
	if (call(rf, "GET", "/redfish/v1/Systems", NULL, NULL, &r) < 0)
		return fail(rf, "GET Systems", NULL, msg, mlen);
	int ok = r.status == 200 ? redfish_pick_system(r.body, r.len, rf->t.system,
	                                               sizeof(rf->t.system), why, sizeof(why))
	                         : fail(rf, "GET Systems", &r, msg, mlen);
	if (ok < 0 && r.status == 200)
		snprintf(msg, mlen, "redfish: %s", why);
	resp_free(&r);
	return ok < 0 ? -1 : 0;
}

/* PATCH the boot override (If-Match with the ETag when the BMC sent one;
 * one more try with a fresh ETag on 412), then read it back. */
static int
boot_once(struct rf *rf, struct redfish_system *s, char *done, size_t dlen, char *msg, size_t mlen)
{
	struct redfish_boot want;
	struct rf_resp r;
	char body[256], why[300];

	if (redfish_boot_body(s, rf->o->firmware, &want, body, sizeof(body)) < 0)
		return -1;
	for (int tries = 0;; tries++) {
		if (call(rf, "PATCH", rf->t.system, body, s->etag, &r) < 0)
			return fail(rf, "boot override", NULL, msg, mlen);
		long st = r.status;
		if (st == 412 && tries == 0 && (resp_free(&r), get_system(rf, s, msg, mlen) == 0))
			continue;
		if (st < 200 || st > 299) {
			fail(rf, "boot override", &r, msg, mlen);
			resp_free(&r);
			return -1;
		}
		resp_free(&r);
		break;
	}
	if (get_system(rf, s, msg, mlen) < 0)
		return -1;
	if (redfish_boot_check(s, &want, why, sizeof(why)) < 0) {
		snprintf(msg, mlen, "redfish: %s", why);
		return -1;
	}
	snprintf(done, dlen, "boot %s once%s%s%s", want.target, *want.mode ? " (" : "", want.mode,
	         *want.mode ? ")" : "");
	return 0;
}

/* Follow a 202's task monitor until it stops answering 202 with a task
 * still running. */
static int
follow_task(struct rf *rf, const char *monitor, const char *what, char *msg, size_t mlen)
{
	unsigned wait_s = rf->o->task_wait_s ? rf->o->task_wait_s : REDFISH_TASK_WAIT_S;
	uint64_t deadline = bm_mono_ms() + wait_s * 1000ull;
	const char *path = strstr(monitor, "/redfish/");
	struct rf_resp r;
	char why[300];

	if (!path)
		return 0; /* no monitor to follow: accepted is all we learn */
	for (;;) {
		if (call(rf, "GET", path, NULL, NULL, &r) < 0)
			return fail(rf, what, NULL, msg, mlen);
		int t = redfish_task(r.body, r.len, why, sizeof(why));
		if (r.status == 204 || (r.status == 200 && t == -2))
			t = 1; /* the action's own answer: done */
		else if (r.status == 202 && t == -2)
			t = 0;
		else if (r.status != 200 && r.status != 202)
			t = -2;
		if (t == -2)
			fail(rf, what, &r, msg, mlen);
		resp_free(&r);
		if (t == 1)
			return 0;
		if (t == -1)
			snprintf(msg, mlen, "redfish %s: %s", what, why);
		if (t < 0)
			return -1;
		if (bm_mono_ms() >= deadline) {
			snprintf(msg, mlen, "redfish %s: the task did not finish within %us", what,
			         wait_s);
			return -1;
		}
		usleep(REDFISH_POLL_MS * 1000u);
	}
}

static int
reset(struct rf *rf, const char *target, const char *type, char *msg, size_t mlen)
{
	struct rf_resp r;
	char body[64], what[64], loc[256];

	snprintf(body, sizeof(body), "{\"ResetType\":\"%s\"}", type);
	snprintf(what, sizeof(what), "reset %s", type);
	if (call(rf, "POST", target, body, NULL, &r) < 0)
		return fail(rf, what, NULL, msg, mlen);
	long st = r.status;
	snprintf(loc, sizeof(loc), "%s", r.location);
	if (st != 200 && st != 202 && st != 204)
		fail(rf, what, &r, msg, mlen);
	resp_free(&r);
	if (st == 202)
		return follow_task(rf, loc, what, msg, mlen);
	return st == 200 || st == 204 ? 0 : -1;
}

/* After ForceOff, On only once the BMC says Off. */
static int
wait_off(struct rf *rf, char *msg, size_t mlen)
{
	unsigned wait_s = rf->o->task_wait_s ? rf->o->task_wait_s : REDFISH_TASK_WAIT_S;
	uint64_t deadline = bm_mono_ms() + wait_s * 1000ull;
	struct redfish_system s;

	for (;;) {
		if (get_system(rf, &s, msg, mlen) < 0)
			return -1;
		if (!strcmp(s.power, "Off"))
			return 0;
		if (bm_mono_ms() >= deadline) {
			snprintf(msg, mlen, "redfish: the system was still %s %us after ForceOff",
			         s.power, wait_s);
			return -1;
		}
		usleep(REDFISH_POLL_MS * 1000u);
	}
}

static int
drive(struct rf *rf, enum redfish_verb v, char *msg, size_t mlen)
{
	struct redfish_system s;
	const char *steps[3];
	char boot[96] = "", why[300];
	size_t used;
	int n;

	if (session_open(rf, msg, mlen) < 0 || find_system(rf, msg, mlen) < 0 ||
	    get_system(rf, &s, msg, mlen) < 0)
		return -1;
	if (v == RF_NETBOOT && boot_once(rf, &s, boot, sizeof(boot), msg, mlen) < 0)
		return -1;
	if ((n = redfish_reset_plan(&s, v, steps, why, sizeof(why))) < 0) {
		snprintf(msg, mlen, "redfish: %s", why);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (i > 0 && !strcmp(steps[i - 1], "ForceOff") && wait_off(rf, msg, mlen) < 0)
			return -1;
		if (reset(rf, s.reset_target, steps[i], msg, mlen) < 0)
			return -1;
	}
	used = (size_t)snprintf(msg, mlen, "redfish: %s%s", boot, *boot ? ", " : "");
	for (int i = 0; i < n && used < mlen; i++)
		used += (size_t)snprintf(msg + used, mlen - used, "%s%s", i ? " + " : "", steps[i]);
	if (used < mlen)
		snprintf(msg + used, mlen - used, "%spower was %s", n ? "; " : "",
		         *s.power ? s.power : "unknown");
	return 0;
}

int
redfish_power(const char *url, const char *pass, enum redfish_verb v, const struct redfish_opts *o,
              char *msg, size_t mlen)
{
	struct rf *rf = calloc(1, sizeof(*rf));
	char why[200];
	int r = -1;

	if (!rf) {
		snprintf(msg, mlen, "redfish: out of memory");
		return -1;
	}
	rf->o = o;
	if (redfish_parse_url(url, &rf->t, why, sizeof(why)) < 0) {
		snprintf(msg, mlen, "%s", why);
		goto out;
	}
	if (!*rf->t.pass)
		snprintf(rf->t.pass, sizeof(rf->t.pass), "%s", pass ? pass : "");
	if (!*rf->t.pass) {
		snprintf(msg, mlen,
		         "no BMC password for this machine (the coordinator gives them to its "
		         "rack's agent only over mTLS, and only when it has --secrets-key)");
		goto out;
	}
	if (o->fingerprint && *o->fingerprint) {
		if (bm_sha256_parse_fingerprint(o->fingerprint, rf->pin) < 0) {
			snprintf(msg, mlen, "bmc_fingerprint is not a SHA-256 fingerprint");
			goto out;
		}
		rf->pinned = true;
	}
	snprintf(rf->base, sizeof(rf->base), "%s://%s:%u", rf->t.https ? "https" : "http",
	         rf->t.host, rf->t.port);
	if (!(rf->c = curl_easy_init())) {
		snprintf(msg, mlen, "redfish: curl_easy_init failed");
		goto out;
	}
	r = drive(rf, v, msg, mlen);
	session_close(rf);
	curl_easy_cleanup(rf->c);
out:
	OPENSSL_cleanse(rf, sizeof(*rf));
	free(rf);
	return r;
}
