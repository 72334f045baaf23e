/* What the agent answers over HTTP:
 *   /boot/MAC.ipxe          the machine's iPXE script (unknown MAC: 404 and
 *                           a discovery event)
 *   /boot/FILE              boot programs from the TFTP root (UEFI HTTP boot)
 *   /seed/MAC/NAME          installer seeds of the machine's profile
 *   /images/SHA256          the image cache by content address
 *   /images/by-name/NAME    an image of the rack's view by name
 *   /callback[/MAC]         boot progress: mac, token, state, reason (GET or
 *                           POST form), in the outbox before the answer
 *   /metrics                Prometheus text
 * An http_handler_fn; the server frames and limits. */
#pragma once
#include <stdint.h>

#include "bm/buf.h"
#include "http_server.h"
#include "token.h"

struct file_table;
struct rackdb;
struct rack_view;
struct http_routes;
struct progress;
struct cache;

struct http_route_stats {
	uint64_t scripts, seeds, images, boot_files, callbacks, callbacks_refused, unknown_macs;
};

struct http_routes_opts {
	struct file_table *files; /* borrowed */
	struct rackdb *db;        /* borrowed: the outbox */
	const uint8_t *secret;    /* TOKEN_SECRET_LEN bytes, borrowed */
	const char *rack;
	/* Appends the agent's metrics in Prometheus text to out. */
	void (*metrics)(void *arg, struct bm_buf *out);
	void *metrics_arg;
	struct progress *progress; /* borrowed, may be NULL: fetches traced */
	struct cache *cache;       /* borrowed, may be NULL: images served are touched */
};

int http_routes_new(const struct http_routes_opts *o, struct http_routes **ret);
/* Serve a new rack view from now on (the caller frees the old one after). */
void http_routes_set_view(struct http_routes *r, const struct rack_view *v);
void http_routes_stats(const struct http_routes *r, struct http_route_stats *ret);
void http_routes_free(struct http_routes *r);

/* The http_handler_fn; arg is the struct http_routes. */
void http_routes_handle(void *arg, const struct http_peer *peer, const struct http_request *req,
                        const char *body, struct http_reply *rep);
