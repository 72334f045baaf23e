/* The coordinator's Raft node: Canonical's libraft with its libuv I/O
 * (raft_uv: durable log segments, TCP between coordinators) under the
 * store. Every write is a CommandBatch entry; the FSM's apply is
 * store_apply over the batch, in one store transaction, on every node.
 * Snapshots are compacting copies of the LMDB environment. A one-node
 * install is a cluster of one: the same path.
 * Loop thread only, except where noted. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bm/auth.h"
#include "bm/rpc.h"
#include "store.h"

/* One command holds every node's loop while it applies, the followers'
 * after the leader's (they learn the commit from its next message).
 * libraft's leader steps down, and a follower stands, when an election
 * timeout passes without word from the others, so the timeout must be
 * about twice the longest apply. No command writes more than OP_SLICE
 * (10,000) machines: a larger reimage is taken a slice per tick, an Apply
 * carries at most BM_APPLY_MACHINES_MAX machines; the longest command is
 * then the advance of a 100,000-machine operation, which reads all of its
 * machines (~0.26 s idle here, at most every ~4 s). When the reimage of
 * 100,000 machines was one command it held each node ~1.3 s on this 2-core
 * box and leadership moved at 500 ms and at 1 s (bench/fleet.sh, and a
 * 3-node cluster with no agents); with the slices it held at 1 s through
 * three rounds of bench/fleet.sh at 1,000 agents. A dead leader is
 * replaced in 1-2 s. */
#define RAFT_ELECTION_MS_DEFAULT 1000u
#define RAFT_HEARTBEAT_MS_DEFAULT 50u
#define RAFT_SNAPSHOT_THRESHOLD 8192u /* entries between snapshots */
#define RAFT_SNAPSHOT_TRAILING 2048u  /* entries kept behind a snapshot */

struct raftnode;

struct raftnode_opts {
	uint64_t id;
	const char *address;   /* host:port of the Raft transport */
	const char *dir;       /* DATA_DIR/raft */
	const char *bootstrap; /* "1=host:port,2=host:port": a new cluster (NULL: none) */
	bool join;             /* no bootstrap: wait to be added to a running cluster */
	unsigned election_ms, heartbeat_ms;
	unsigned snapshot_threshold; /* entries between snapshots (0: default) */
	/* After every applied batch, on every node: the store's revision. */
	void (*applied)(void *arg, uint64_t revision);
	/* Soon (within 100 ms) after this node became the leader. */
	void (*leading)(void *arg);
	void *arg;
	/* TLS between the nodes (raft_tls.h), borrowed for the node's life;
	 * NULL: plain TCP. */
	const struct bm_rpc_tls *tls;
	struct bm_auth_verifier *verifier;
};

/* The results of one applied batch, for the proposer that sent it. */
typedef void (*raftnode_apply_cb)(void *arg, int status, const struct store_result *res, size_t n);

int raftnode_start(uv_loop_t *loop, struct store *store, const struct raftnode_opts *o,
                   struct raftnode **ret);
/* Append a CommandBatch (packed; copied). cb runs once it is applied (status
 * 0, a result per command) or failed (status: -ENOTCONN not the leader,
 * -ECONNABORTED leadership lost, -errno). Returns 0 or the failure at once. */
int raftnode_apply(struct raftnode *n, const void *buf, size_t len, raftnode_apply_cb cb,
                   void *arg);
bool raftnode_is_leader(struct raftnode *n);
/* Read the TLS files again for the connections to come (SIGHUP). */
int raftnode_reload_tls(struct raftnode *n, char *err, size_t errlen);

struct raftnode_member {
	uint64_t id;
	char address[64];
	int role; /* RAFT_VOTER, RAFT_STANDBY, RAFT_SPARE */
};
struct raftnode_status {
	uint64_t id, leader_id;
	char leader_address[64];
	int state; /* RAFT_FOLLOWER, RAFT_CANDIDATE, RAFT_LEADER */
	uint64_t last_index, last_applied, term;
	struct raftnode_member members[16];
	unsigned n_members;
};
/* Any thread (a copy refreshed on the loop). */
void raftnode_status_get(struct raftnode *n, struct raftnode_status *ret);

/* Membership and leadership (leader only); cb(arg, status) when done. */
int raftnode_add(struct raftnode *n, uint64_t id, const char *address,
                 void (*cb)(void *arg, int status), void *arg);
int raftnode_remove(struct raftnode *n, uint64_t id, void (*cb)(void *arg, int status), void *arg);
int raftnode_transfer(struct raftnode *n, uint64_t id, void (*cb)(void *arg, int status),
                      void *arg);

/* Close (deferred to a later loop turn, never inside a raft callback);
 * done() runs once raft and the node's handles have closed. */
void raftnode_close(struct raftnode *n, void (*done)(void *arg), void *arg);
/* Release a closed node, once its loop has run out (uv_run returned):
 * libraft may touch its io until then (raft_closed, raft_node.c). */
void raftnode_free(struct raftnode *n);
