/* Private to the HTTP routes (http_routes.c: routing, files, images;
 * http_machine.c: a machine's script, seeds and callbacks). */
#pragma once
#include "bm/log.h"
#include "http_routes.h"
#include "rackview.h"

#define QUIET_SLOTS 256u

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

/* "http://10.12.0.1:8080": the agent as the peer reached it. */
void routes_agent_url(const struct http_peer *p, char *out, size_t n);
void routes_body(struct http_reply *rep, int status, const char *type, char *body, size_t len);

/* GET /boot/MAC.ipxe, GET /seed/MAC/NAME, GET or POST /callback[/MAC]. */
void route_script(struct http_routes *r, const char *mac_text, const struct http_peer *peer,
                  struct http_reply *rep);
void route_seed(struct http_routes *r, const char *rest, const struct http_peer *peer,
                struct http_reply *rep);
/* GET /boot/grub/grub.cfg (the bootstrap) and /boot/grub/grub.cfg-01-MAC
 * (the machine's own, grub.h); name without "/boot/". Also what TFTP
 * serves under those names (http_routes_tftp_file). */
void route_grub(struct http_routes *r, const char *name, const struct http_peer *peer,
                struct http_reply *rep);
void route_callback(struct http_routes *r, const char *path_mac, const struct http_request *req,
                    const char *body, const struct http_peer *peer, struct http_reply *rep);
