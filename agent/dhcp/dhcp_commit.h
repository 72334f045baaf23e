/* Durable lease changes off the loop: while a thread makes batch N durable
 * (one LMDB transaction, one fsync), the loop goes on reading and deciding
 * batch N+1. The replies of a batch are handed back to the loop, to be
 * sent, only once its changes are on disk. The committer is the only writer
 * of the agent's LMDB while it runs. */
#pragma once
#include <ev.h>
#include <stddef.h>

#include "dhcp_server.h"

struct rackdb;
struct dhcp_committer;

/* A decision waiting for its commit, and where its reply goes. */
struct dhcp_pending {
	void *ifc;
	struct dhcp_decision d;
};

/* Called on the loop thread when a batch is durable (result 0) or failed
 * (-errno: nothing of it was saved). The entries are valid during the call. */
typedef void (*dhcp_committed_fn)(void *arg, struct dhcp_pending *v, size_t n, int result);

int dhcp_committer_new(struct ev_loop *loop, struct rackdb *db, const char *rack, size_t batch_max,
                       dhcp_committed_fn fn, void *arg, struct dhcp_committer **ret);
/* The next free entry of the batch being collected, or NULL when it is full
 * and the previous batch is still being committed (stop reading until the
 * callback). The entry counts only after dhcp_committer_keep. */
struct dhcp_pending *dhcp_committer_slot(struct dhcp_committer *c);
/* Keep the entry last returned by dhcp_committer_slot; the batch is handed
 * to the thread before the loop next blocks. */
void dhcp_committer_keep(struct dhcp_committer *c);
/* Commit everything, waiting (for shutdown), then stop the thread and free.
 * Accepts NULL. */
void dhcp_committer_free(struct dhcp_committer *c);
