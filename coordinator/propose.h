/* The one write path: propose(command) -> applied. Commands from any thread
 * are queued and sent from the loop thread as Raft entries of up to
 * PROPOSE_BATCH_MAX commands (group commit): each entry is one log append
 * and, on every node, one store transaction. */
#pragma once
#include <stdint.h>
#include <uv.h>

#include "store.h"

/* Commands queued and not yet applied; beyond this a submit is refused with
 * -EBUSY (the client sees "unavailable: busy" and retries). */
#define PROPOSE_PENDING_MAX 16384u
/* Raft entries in flight at once; proposals arriving meanwhile wait and
 * form the next entry. */
#define PROPOSE_RAFT_DEPTH 2u
/* Commands per Raft entry (one store transaction on each node). */
#define PROPOSE_BATCH_MAX 1024u

struct proposer;
struct proposal;

/* Called on the loop thread once the command is applied and durable, or
 * refused. `res` is valid only during the call. */
typedef void (*propose_cb)(struct proposal *p, const struct store_result *res);

/* Filled by the caller, which owns its memory until cb. `cmd` is borrowed
 * until cb too. */
struct proposal {
	const Bm__Command *cmd;
	propose_cb cb;
	struct proposal *next; /* private */
};

struct proposer_stats {
	uint64_t commands, batches, refused_busy, max_batch;
};

struct raftnode;

/* Every batch becomes one entry of `raft`, applied on every node by
 * store_apply and answered once applied here. Returns 0, -EINVAL (no Raft
 * node: there is no other write path), -ENOMEM or -errno. Must be called
 * on the loop thread. */
int proposer_new(uv_loop_t *loop, struct raftnode *raft, struct proposer **ret_proposer);
/* Queue a proposal. Thread-safe. Returns 0, -EBUSY (queue full) or
 * -ESHUTDOWN (closing); on error cb is never called. */
int proposer_submit(struct proposer *pr, struct proposal *p);
void proposer_stats_get(struct proposer *pr, struct proposer_stats *ret_stats);
/* Refuse new proposals (-ESHUTDOWN from then on), send what is queued as
 * entries (each answered once applied, or refused when the node closes),
 * and close the loop handle. Loop thread. */
void proposer_close(struct proposer *pr);
/* Once the loop has run its closed handles and no thread can submit any
 * more (the API has stopped: its threads may submit until then). */
void proposer_free(struct proposer *pr);
