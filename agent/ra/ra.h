/* Router advertisements on the agent's libev loop (agent config
 * `ipv6_ra: true`): one at start, one every RA_INTERVAL_S, and one in
 * answer to each router solicitation (at most every RA_MIN_GAP_MS per
 * interface), to ff02::1 from the interface's link-local address. Meant for
 * segments without an IPv6 router (see ra_wire.h for what it says). */
#pragma once
#include <ev.h>
#include <stdint.h>

#define RA_INTERVAL_S 30.0
#define RA_MIN_GAP_MS 200u

struct ra_service;

struct ra_stats {
	uint64_t solicitations, sent, send_errors;
};

int ra_service_start(struct ev_loop *loop, const char *const *ifaces, unsigned n_ifaces,
                     struct ra_service **ret);
void ra_service_stats(const struct ra_service *s, struct ra_stats *ret);
/* Accepts NULL. */
void ra_service_stop(struct ra_service *s);
