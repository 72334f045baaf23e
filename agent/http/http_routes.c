#include "http_routes.h"
#include "cache.h"
#include "progress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/log.h"
#include "bm/util.h"
#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "files.h"
#include "ipxe.h"
#include "rackdb.h"
#include "rackview.h"

#define QUIET_SLOTS 256u
#define QUIET_MS 60000u /* an unknown MAC is logged and reported once a minute at most */
#define REASON_MAX 200u

struct http_routes {
	struct http_routes_opts o;
	const struct rack_view *view;
	struct http_route_stats st;
	struct bm_log_limit log_limit;
	struct {
		uint8_t mac[6];
		uint64_t at;
	} quiet[QUIET_SLOTS];
};

int
http_routes_new(const struct http_routes_opts *o, struct http_routes **ret)
{
	struct http_routes *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->o = *o;
	*ret = r;
	return 0;
}

void
http_routes_set_view(struct http_routes *r, const struct rack_view *v)
{
	r->view = v;
}

void
http_routes_stats(const struct http_routes *r, struct http_route_stats *ret)
{
	*ret = r->st;
}

void
http_routes_free(struct http_routes *r)
{
	free(r);
}

static void
agent_url(const struct http_peer *p, char *out, size_t n)
{
	char ip[BM_IP4_STR];
	snprintf(out, n, "http://%s:%u", bm_ip4_format(p->local_ip, ip), p->local_port);
}

static void
set_body(struct http_reply *rep, int status, const char *type, char *body, size_t len)
{
	rep->status = status;
	rep->type = type;
	rep->body = body;
	rep->body_len = len;
}

/* ------------------------------------------------------ scripts, seeds */

/* An unknown MAC asked for its script: log and report it, once a minute. */
static void
unknown_mac(struct http_routes *r, const uint8_t mac[6], const struct http_peer *peer)
{
	size_t slot = ((size_t)mac[3] << 16 | (size_t)mac[4] << 8 | mac[5]) % QUIET_SLOTS;
	uint64_t now = bm_wall_ms();
	struct rackdb_batch *b;
	char m[BM_MAC_STR], ip[BM_IP4_STR];

	r->st.unknown_macs++;
	if (!memcmp(r->quiet[slot].mac, mac, 6) && now - r->quiet[slot].at < QUIET_MS)
		return;
	memcpy(r->quiet[slot].mac, mac, 6);
	r->quiet[slot].at = now;
	BM_INFO("http", "unknown machine mac=%s peer=%s", bm_mac_format(mac, m),
	        bm_ip4_format(peer->ip, ip));
	if (rackdb_batch_begin(r->o.db, &b) < 0)
		return;
	if (rackdb_event_add(b, BM__EVENT_KIND__EVENT_DISCOVERED, mac, peer->ip, now, r->o.rack,
	                     "http") == 0)
		rackdb_batch_commit(b);
	else
		rackdb_batch_abort(b);
}

/* The machine a MAC in a path names; answers 400 or 404 itself. */
static const struct rack_host *
machine(struct http_routes *r, const char *mac_text, const struct http_peer *peer,
        struct http_reply *rep)
{
	const struct rack_host *h;
	uint8_t mac[6];

	if (bm_mac_parse(mac_text, mac) < 0) {
		http_reply_text(rep, 400, "not a MAC address");
		return NULL;
	}
	if (!(h = rack_view_host(r->view, mac))) {
		unknown_mac(r, mac, peer);
		http_reply_text(rep, 404, "unknown machine");
	}
	return h;
}

static void
script(struct http_routes *r, const char *mac_text, const struct http_peer *peer,
       struct http_reply *rep)
{
	const struct rack_host *h = machine(r, mac_text, peer, rep);
	struct boot_ctx c;
	char url[BOOT_URL_MAX], *text, ip[BM_IP4_STR];
	long n;

	if (!h)
		return;
	agent_url(peer, url, sizeof(url));
	boot_ctx_init(&c, r->view, h, url, peer->ip, r->o.secret);
	if ((n = boot_ipxe_script(&c, &text)) < 0) {
		BM_WARN("http", "nothing to boot machine=%s mac=%s reason=\"%s\"", h->name, c.mac,
		        n == -ENOENT ? "no profile or kernel image" : strerror((int)-n));
		http_reply_text(rep, n == -ENOENT ? 404 : 500, "no profile or kernel to boot");
		return;
	}
	r->st.scripts++;
	BM_INFO("http", "script machine=%s mac=%s netboot=%s peer=%s", h->name, c.mac,
	        h->netboot ? "yes" : "no", bm_ip4_format(peer->ip, ip));
	progress_add(r->o.progress, BM__EVENT_KIND__EVENT_HTTP, h->mac, peer->ip, "script (%s)",
	             h->netboot ? "install" : "local disk");
	set_body(rep, 200, "text/plain; charset=utf-8", text, (size_t)n);
}

static void
seed(struct http_routes *r, const char *rest, const struct http_peer *peer, struct http_reply *rep)
{
	const char *slash = strchr(rest, '/');
	const struct rack_host *h;
	char mac_text[BM_MAC_STR], url[BOOT_URL_MAX], *text, ip[BM_IP4_STR];
	struct boot_ctx c;
	long n;

	if (!slash || (size_t)(slash - rest) >= sizeof(mac_text) || !slash[1] ||
	    strchr(slash + 1, '/')) {
		http_reply_text(rep, 404, NULL);
		return;
	}
	memcpy(mac_text, rest, (size_t)(slash - rest));
	mac_text[slash - rest] = '\0';
	if (!(h = machine(r, mac_text, peer, rep)))
		return;
	agent_url(peer, url, sizeof(url));
	boot_ctx_init(&c, r->view, h, url, peer->ip, r->o.secret);
	if ((n = boot_seed(&c, slash + 1, &text)) < 0) {
		http_reply_text(rep, n == -ENOENT ? 404 : 500,
		                n == -ENOENT ? "no such seed" : NULL);
		return;
	}
	r->st.seeds++;
	BM_INFO("http", "seed machine=%s mac=%s file=%s peer=%s", h->name, c.mac, slash + 1,
	        bm_ip4_format(peer->ip, ip));
	progress_add(r->o.progress, BM__EVENT_KIND__EVENT_HTTP, h->mac, peer->ip, "seed %s",
	             slash + 1);
	set_body(rep, 200, "text/plain; charset=utf-8", text, (size_t)n);
}

/* ---------------------------------------------------------------- files */

/* A served file, or 404/403/500 answered. */
static void
file(struct http_routes *r, const char *name, struct http_reply *rep)
{
	int e = file_get(r->o.files, name, &rep->file);

	if (e < 0) {
		rep->file = NULL;
		http_reply_text(rep, e == -ENOENT ? 404 : e == -EACCES ? 403 : 500, NULL);
		return;
	}
	rep->status = 200;
	rep->type = "application/octet-stream";
	rep->mtime = rep->file->mtime;
}

/* A known machine fetching an image: "kernel NAME", "initrd NAME". */
static void
trace_image(struct http_routes *r, const uint8_t d[BM_SHA256_LEN], const struct http_peer *peer)
{
	const struct rack_host *h = rack_view_host_by_ip(r->view, peer->ip);
	const Bm__Profile *p;
	const char *what = "image", *name = "";

	if (!h || !r->o.progress)
		return;
	for (size_t i = 0; i < r->view->fleet->n_images; i++) {
		const Bm__Image *im = r->view->fleet->images[i];
		if (im->sha256.len == BM_SHA256_LEN && !memcmp(im->sha256.data, d, BM_SHA256_LEN))
			name = im->name;
	}
	if (*name && (p = rack_view_profile(r->view, rack_host_profile_name(h->m))))
		what = !strcmp(p->kernel, name)   ? "kernel"
		       : !strcmp(p->initrd, name) ? "initrd"
		                                  : what;
	progress_add(r->o.progress, BM__EVENT_KIND__EVENT_HTTP, h->mac, peer->ip, "%s %s", what,
	             *name ? name : "(not in the view)");
}

static void
image_by_digest(struct http_routes *r, const char *text, const struct http_peer *peer,
                struct http_reply *rep)
{
	uint8_t d[BM_SHA256_LEN];
	char hex[BM_SHA256_HEX], name[16 + BM_SHA256_HEX];

	if (bm_sha256_parse(text, d) < 0) {
		http_reply_text(rep, 404, "not a sha256 digest");
		return;
	}
	snprintf(name, sizeof(name), "images/%s", bm_sha256_hex(d, hex));
	file(r, name, rep);
	if (rep->status == 200) {
		r->st.images++;
		memcpy(rep->etag, hex, BM_SHA256_HEX);
		trace_image(r, d, peer);
		cache_touch(r->o.cache, d);
	}
}

static void
image_by_name(struct http_routes *r, const char *name, const struct http_peer *peer,
              struct http_reply *rep)
{
	const Bm__Image *im = rack_view_image(r->view, name);
	char hex[BM_SHA256_HEX];

	if (!im || im->sha256.len != BM_SHA256_LEN) {
		http_reply_text(rep, 404, "no such image in this rack's view");
		return;
	}
	image_by_digest(r, bm_sha256_hex(im->sha256.data, hex), peer, rep);
}

static void
boot_file(struct http_routes *r, const char *name, struct http_reply *rep)
{
	if (!strncmp(name, "images/", 7)) { /* the cache has its own route */
		http_reply_text(rep, 404, NULL);
		return;
	}
	file(r, name, rep);
	if (rep->status == 200) {
		r->st.boot_files++;
		snprintf(rep->etag, sizeof(rep->etag), "%llx-%llx",
		         (unsigned long long)rep->file->mtime, (unsigned long long)rep->file->size);
	}
}

/* ------------------------------------------------------------ callbacks */

static const char *const states[] = { "started", "installing", "done", "failed", NULL };

struct callback {
	char mac[BM_MAC_STR + 8], token[TOKEN_HEX + 8], state[16], reason[REASON_MAX + 1];
};

/* A parameter from the query, else from the form body. */
static bool
param(const char *query, const char *body, const char *key, char *out, size_t n)
{
	return http_query_get(query, key, out, n) >= 0 || http_query_get(body, key, out, n) >= 0;
}

/* Returns 0 or the status refusing it. */
static int
callback_parse(const char *path_mac, const char *query, const char *body, struct callback *cb)
{
	bool known = false;

	memset(cb, 0, sizeof(*cb));
	if (*path_mac && strlen(path_mac) < sizeof(cb->mac))
		strcpy(cb->mac, path_mac);
	else if (*path_mac || !param(query, body, "mac", cb->mac, sizeof(cb->mac)))
		return 400;
	if (!param(query, body, "state", cb->state, sizeof(cb->state)))
		return 400;
	for (unsigned i = 0; states[i]; i++)
		known |= !strcmp(cb->state, states[i]);
	if (!known)
		return 400;
	param(query, body, "token", cb->token, sizeof(cb->token));
	if (param(query, body, "reason", cb->reason, sizeof(cb->reason)))
		for (char *p = cb->reason; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = ' ';
	return 0;
}

static int
callback_record(struct http_routes *r, const struct rack_host *h, const struct callback *cb,
                const struct http_peer *peer)
{
	struct rackdb_batch *b;
	char detail[REASON_MAX + 48];
	int e;

	snprintf(detail, sizeof(detail), "state=%s%s%s", cb->state, *cb->reason ? " reason=" : "",
	         cb->reason);
	if ((e = rackdb_batch_begin(r->o.db, &b)) < 0)
		return e;
	if ((e = rackdb_event_add(b, BM__EVENT_KIND__EVENT_CALLBACK, h->mac, peer->ip, bm_wall_ms(),
	                          r->o.rack, detail)) < 0) {
		rackdb_batch_abort(b);
		return e;
	}
	return rackdb_batch_commit(b);
}

static void
callback(struct http_routes *r, const char *path_mac, const struct http_request *req,
         const char *body, const struct http_peer *peer, struct http_reply *rep)
{
	const struct rack_host *h;
	struct callback cb;
	char ip[BM_IP4_STR], esc[64];
	int e;

	if ((e = callback_parse(path_mac, req->query, req->method == HTTP_POST ? body : "", &cb))) {
		r->st.callbacks_refused++;
		http_reply_text(rep, e,
		                "a callback needs mac, token and state "
		                "(started, installing, done, failed)");
		return;
	}
	if (!(h = machine(r, cb.mac, peer, rep))) {
		r->st.callbacks_refused++;
		return;
	}
	if (!token_ok(r->o.secret, h->mac, cb.token)) {
		r->st.callbacks_refused++;
		if (bm_log_allow(&r->log_limit, 10))
			BM_WARN("http",
			        "callback refused machine=%s peer=%s reason=\"wrong token\"",
			        h->name, bm_ip4_format(peer->ip, ip));
		http_reply_text(rep, 403, "wrong token");
		return;
	}
	if ((e = callback_record(r, h, &cb, peer)) < 0) {
		BM_ERROR("http", "cannot record callback machine=%s err=\"%s\"", h->name,
		         strerror(-e));
		http_reply_text(rep, 503, "cannot record the callback now; retry");
		return;
	}
	r->st.callbacks++;
	BM_INFO("http", "callback machine=%s state=%s reason=\"%s\" peer=%s", h->name, cb.state,
	        bm_log_escape(cb.reason, esc, sizeof(esc)), bm_ip4_format(peer->ip, ip));
	http_reply_text(rep, 200, "ok");
}

/* -------------------------------------------------------------- routing */

static void
metrics(struct http_routes *r, struct http_reply *rep)
{
	struct bm_buf b = { 0 };
	size_t n;

	r->o.metrics(r->o.metrics_arg, &b);
	rep->body = bm_buf_take(&b, &n);
	set_body(rep, rep->body ? 200 : 500, "text/plain; version=0.0.4", rep->body,
	         rep->body ? n : 0);
}

static bool
prefix(const char *path, const char *p, const char **rest)
{
	size_t n = strlen(p);
	if (strncmp(path, p, n))
		return false;
	*rest = path + n;
	return true;
}

static bool
suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n > m && !strcmp(s + n - m, suf);
}

static void
route_get(struct http_routes *r, const struct http_peer *peer, const char *path,
          struct http_reply *rep)
{
	char mac[BM_MAC_STR + 8];
	const char *rest;

	if (prefix(path, "/boot/", &rest) && suffix(rest, ".ipxe") && strlen(rest) < sizeof(mac)) {
		memcpy(mac, rest, strlen(rest) - 5);
		mac[strlen(rest) - 5] = '\0';
		script(r, mac, peer, rep);
	} else if (prefix(path, "/boot/", &rest)) {
		boot_file(r, rest, rep);
	} else if (prefix(path, "/seed/", &rest)) {
		seed(r, rest, peer, rep);
	} else if (prefix(path, "/images/by-name/", &rest)) {
		image_by_name(r, rest, peer, rep);
	} else if (prefix(path, "/images/", &rest)) {
		image_by_digest(r, rest, peer, rep);
	} else if (!strcmp(path, "/metrics")) {
		metrics(r, rep);
	} else {
		http_reply_text(rep, 404, NULL);
	}
}

void
http_routes_handle(void *arg, const struct http_peer *peer, const struct http_request *req,
                   const char *body, struct http_reply *rep)
{
	struct http_routes *r = arg;
	const char *rest = "";
	bool cb = !strcmp(req->path, "/callback") || prefix(req->path, "/callback/", &rest);

	if (cb && (req->method == HTTP_GET || req->method == HTTP_POST)) {
		callback(r, strcmp(req->path, "/callback") ? rest : "", req, body, peer, rep);
	} else if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
		http_reply_text(rep, 405, NULL);
		rep->allow = cb ? "GET, POST" : "GET, HEAD";
	} else if (cb) {
		http_reply_text(rep, 405, NULL);
		rep->allow = "GET, POST";
	} else {
		route_get(r, peer, req->path, rep);
	}
}
