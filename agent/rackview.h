/* The rack as the agent's services see it: its segment, its machines by
 * MAC, and the profiles and images they boot, in memory, rebuilt whole on
 * every change of the rack view (a standalone fleet file read at start and
 * on SIGHUP, or each revision the sync thread stores). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "bm/fleet.h"
#include "dhcp_server.h"

struct rack_host {
	uint8_t mac[6];
	char name[DHCP_HOSTNAME_MAX];
	uint32_t ip;
	bool netboot;
	const Bm__Machine *m; /* in the view's fleet */
};

struct rack_view {
	char rack[64];
	char site[64];
	uint32_t network;
	unsigned prefix_len;
	uint32_t gateway;
	uint32_t dns[4];
	unsigned n_dns;
	uint32_t pool_start, pool_end;
	struct rack_host *hosts;
	size_t n_hosts;
	uint32_t *slot; /* MAC hash: host index + 1 */
	size_t mask;
	uint32_t *ips; /* reservations, sorted */
	size_t n_ips;
	/* This rack's part of the fleet, owned: its rack and site, its
	 * machines, the profiles they name and the images those name or that
	 * `bmctl image stage` staged on the rack (Image.staged). */
	Bm__Fleet *fleet;
};

/* The view of rack `rack` in fleet f (which must have passed
 * bm_fleet_check). Returns 0, -ENOENT (no such rack, a problem is added),
 * -ENOMEM. */
int rack_view_from_fleet(const Bm__Fleet *f, const char *rack, struct rack_view **ret,
                         struct bm_problems *probs);
/* The same from f, which the view takes (freed on failure too): f must
 * have been unpacked message by message (rackdb_view_load); cheaper than
 * a copy. */
int rack_view_take(Bm__Fleet *f, const char *rack, struct rack_view **ret);
/* Read, check (file rules and references) and select a standalone fleet
 * file. Returns 0, -EINVAL with problems, -errno. */
int rack_view_load_file(const char *path, const char *rack, struct rack_view **ret,
                        struct bm_problems *probs);
/* A rack with nothing known yet (a managed agent before its first sync):
 * no segment, no machines. */
int rack_view_empty(const char *rack, struct rack_view **ret);
void rack_view_free(struct rack_view *v);

/* The profile a machine boots: its operation's, else its own. */
const char *rack_host_profile_name(const Bm__Machine *m);
/* Lookups; NULL when absent. */
const struct rack_host *rack_view_host(const struct rack_view *v, const uint8_t mac[6]);
/* The machine whose reservation is ip (a linear scan: for progress
 * events, not per packet). */
const struct rack_host *rack_view_host_by_ip(const struct rack_view *v, uint32_t ip);
const Bm__Profile *rack_view_profile(const struct rack_view *v, const char *name);
const Bm__Image *rack_view_image(const struct rack_view *v, const char *name);

/* For struct dhcp_view: arg is the struct rack_view. */
int rack_view_host_cb(void *arg, const uint8_t mac[6], struct dhcp_host *ret);
bool rack_view_reserved_cb(void *arg, uint32_t ip);
