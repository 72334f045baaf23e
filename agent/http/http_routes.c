#include "http_routes.h"
#include "http_routes_priv.h"
#include "cache.h"
#include "grub.h"
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
http_routes_set_cache(struct http_routes *r, struct cache *c)
{
	r->o.cache = c;
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

void
routes_agent_url(const struct http_peer *p, char *out, size_t n)
{
	char ip[BM_IP4_STR];
	snprintf(out, n, "http://%s:%u", bm_ip4_format(p->local_ip, ip), p->local_port);
}

void
routes_body(struct http_reply *rep, int status, const char *type, char *body, size_t len)
{
	rep->status = status;
	rep->type = type;
	rep->body = body;
	rep->body_len = len;
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
		if (r->o.cache)
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

/* -------------------------------------------------------------- routing */

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
		route_script(r, mac, peer, rep);
	} else if (prefix(path, "/boot/", &rest) && !strncmp(rest, GRUB_CFG, strlen(GRUB_CFG))) {
		route_grub(r, rest, peer, rep);
	} else if (prefix(path, "/boot/", &rest)) {
		boot_file(r, rest, rep);
	} else if (prefix(path, "/seed/", &rest)) {
		route_seed(r, rest, peer, rep);
	} else if (prefix(path, "/images/by-name/", &rest)) {
		image_by_name(r, rest, peer, rep);
	} else if (prefix(path, "/images/", &rest)) {
		image_by_digest(r, rest, peer, rep);
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
		route_callback(r, strcmp(req->path, "/callback") ? rest : "", req, body, peer, rep);
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

long
http_routes_tftp_file(struct http_routes *r, const char *name, uint32_t peer_ip, uint32_t local_ip,
                      char **ret)
{
	struct http_peer peer = {
		.ip = peer_ip, .local_ip = local_ip, .port = 0, .local_port = r->o.http_port
	};
	struct http_reply rep = { 0 };

	if (strncmp(name, GRUB_CFG, strlen(GRUB_CFG)))
		return -ENOENT;
	route_grub(r, name, &peer, &rep);
	if (rep.status != 200) {
		free(rep.body);
		return rep.status == 403 ? -EACCES : -ENOENT;
	}
	*ret = rep.body;
	return (long)rep.body_len;
}
