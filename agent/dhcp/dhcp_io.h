/* The DHCP service on the agent's libev loop: sockets on the rack's
 * interfaces, the server core, and durable leases (lease changes of a burst
 * of packets are committed in one LMDB transaction before their ACKs
 * leave). */
#pragma once
#include <ev.h>
#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "dhcp_server.h"

struct rackdb;
struct rack_view;
struct dhcp_service;

struct dhcp_service_opts {
	const char *const *ifaces;
	unsigned n_ifaces;
	const struct dhcp_config *cfg;
	struct rackdb *db;
	const struct rack_view *view;
	const char *rack;
};

struct dhcp_stats {
	uint64_t rx, tx, malformed, ignored;
	uint64_t discoveries, discoveries_dropped; /* events recorded; dropped at the rate */
	uint64_t by_type_in[9], by_type_out[9];
	uint64_t commits, commit_errors, leases_saved;
};

/* Open the sockets, load the leases, start watching. Returns 0 or -errno,
 * with the reason logged. */
int dhcp_service_start(struct ev_loop *loop, const struct dhcp_service_opts *o,
                       struct dhcp_service **ret);
/* Serve a new rack view from now on (the caller frees the old one after). */
void dhcp_service_set_view(struct dhcp_service *s, const struct rack_view *view);
/* A known machine's firmware fetched `file`, a UEFI boot program that is
 * not signed (iPXE): if its firmware asks DHCP again at once, the machine
 * fails with the reason (loader_watch.h). */
void dhcp_service_loader_fetched(struct dhcp_service *s, const uint8_t mac[6], const char *file);
/* ip is bound (ACKed, not expired) to a client with this MAC. */
bool dhcp_service_leased(const struct dhcp_service *s, uint32_t ip, const uint8_t mac[6]);
void dhcp_service_stats(const struct dhcp_service *s, struct dhcp_stats *ret);
/* Commit what is pending, close the sockets, free. Accepts NULL. */
void dhcp_service_stop(struct dhcp_service *s);
