/* What the agent answers over HTTP:
 *   /boot/MAC.ipxe          the machine's iPXE script (unknown MAC: 404)
 *   /boot/FILE              boot programs from the TFTP root (UEFI HTTP boot)
 *   /seed/MAC/NAME          installer seeds of the machine's profile
 *   /images/SHA256          the image cache by content address
 *   /images/by-name/NAME    an image of the rack's view by name
 *   /callback[/MAC]         boot progress: mac, token, state, reason (GET or
 *                           POST form), in the outbox before the answer
 * A machine's script, seeds and callbacks answer only the machine's own
 * address, with its boot's token (http_machine.c); boot programs and
 * images stay public on the rack LAN: firmware fetches them anonymously,
 * and an image is named by its digest.
 * An http_handler_fn; the server frames and limits. /metrics is served
 * apart, on metrics_listen (metrics.h). */
#pragma once
#include <stdint.h>

#include "bm/buf.h"
#include "http_server.h"

struct file_table;
struct rackdb;
struct rack_view;
struct http_routes;
struct progress;
struct cache;

struct http_route_stats {
	uint64_t scripts, seeds, images, boot_files, callbacks, callbacks_refused, unknown_macs;
	uint64_t refused; /* 403: not the machine's address, not netbooting, wrong token */
};

struct http_routes_opts {
	struct file_table *files; /* borrowed */
	struct rackdb *db;        /* borrowed: the outbox */
	const char *rack;
	/* ip holds a bound lease of this MAC (the DHCP service's leases). */
	bool (*leased)(void *arg, uint32_t ip, const uint8_t mac[6]);
	void *leased_arg;
	struct progress *progress; /* borrowed, may be NULL: fetches traced */
	struct cache *cache;       /* borrowed, may be NULL: images served are touched */
	uint16_t http_port;        /* the agent's HTTP port, for what TFTP serves */
};

int http_routes_new(const struct http_routes_opts *o, struct http_routes **ret);
/* Serve a new rack view from now on (the caller frees the old one after). */
void http_routes_set_view(struct http_routes *r, const struct rack_view *v);
/* The image cache whose entries served are touched (set once it runs). */
void http_routes_set_cache(struct http_routes *r, struct cache *c);
void http_routes_stats(const struct http_routes *r, struct http_route_stats *ret);
void http_routes_free(struct http_routes *r);
/* What TFTP serves that is made for the asker, not read from a root: the
 * GRUB configs (grub.h) by the same rules as over HTTP (the machine's own
 * address only, traced). Returns the length with *ret (free it), -ENOENT
 * (not such a name, or no such machine), -EACCES (refused). Loop thread. */
long http_routes_tftp_file(struct http_routes *r, const char *name, uint32_t peer_ip,
                           uint32_t local_ip, char **ret);

/* The http_handler_fn; arg is the struct http_routes. */
void http_routes_handle(void *arg, const struct http_peer *peer, const struct http_request *req,
                        const char *body, struct http_reply *rep);
