/* A burst's DHCP decisions made durable together: the lease changes and
 * trace events of every packet read in one loop turn go into one rackdb
 * batch (one fsync) before any of their replies may leave. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "dhcp_server.h"
#include "lease.h"

struct rackdb;

/* A decision waiting for its commit, and the interface its reply leaves
 * by (opaque here). */
struct dhcp_pending {
	void *ifc;
	struct dhcp_decision d;
};

/* Save the lease changes and events of p[0..n) in one batch. Returns 0
 * when all is durable (the replies may leave), or -errno when nothing was
 * saved: the bindings the burst made are dropped from `leases` (their
 * clients retry) and no reply may leave. A batch that could not begin is
 * not aborted (there is none). */
int dhcp_commit(struct rackdb *db, struct lease_table *leases, const char *rack,
                const struct dhcp_pending *p, size_t n, uint64_t now_ms);
