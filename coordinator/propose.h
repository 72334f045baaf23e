/* The one write path: propose(command) -> applied. Commands from any thread
 * are queued and applied on the loop thread in batches that share one LMDB
 * transaction and one fsync (group commit). The Raft issue puts libraft
 * under this interface; callers do not change. */
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
/* Commands per LMDB transaction. */
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

/* With raft, every batch becomes one Raft entry, applied on every node and
 * answered once applied here; without (unit tests), batches are applied
 * directly. Returns 0 or -errno. Must be called on the loop thread. */
int proposer_new(uv_loop_t *loop, struct store *store, struct raftnode *raft,
                 struct proposer **ret_proposer);
/* Queue a proposal. Thread-safe. Returns 0, -EBUSY (queue full) or
 * -ESHUTDOWN (closing); on error cb is never called. */
int proposer_submit(struct proposer *pr, struct proposal *p);
void proposer_stats_get(struct proposer *pr, struct proposer_stats *ret_stats);
/* Refuse new proposals (-ESHUTDOWN from then on), apply what is queued,
 * and close the loop handle. Loop thread. */
void proposer_close(struct proposer *pr);
/* Once the loop has run its closed handles and no thread can submit any
 * more (the API has stopped: its threads may submit until then). */
void proposer_free(struct proposer *pr);
