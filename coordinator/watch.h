/* Agents' long-polls: Watch(rack, since) answered with the rack's changes
 * after `since`, or parked until a commit brings one, or answered empty at
 * its deadline (a heartbeat).
 *
 * Threads: watch_handle runs on nng's threads; watch_hub_committed (which
 * only wakes the fan-out thread, watch_fan.c) and the deadline timer on
 * the coordinator's loop. A parked watch holds its nng
 * context, so the hub parks at most `max_parked`; beyond, it answers
 * "unavailable" and the agent backs off. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "secrets.h"
#include "store.h"

struct bm_rpc_call;
struct watch_hub;

/* Waits longer than this are cut to it. */
#define WATCH_WAIT_MAX_MS 60000u
/* An agent this far behind gets a snapshot rather than the changes. */
#define WATCH_SNAPSHOT_AFTER 10000u

int watch_hub_new(uv_loop_t *loop, struct store *store, unsigned max_parked,
                  struct watch_hub **ret_hub);
/* Answer or park a Watch request; `secrets`: the caller is the rack's
 * agent, authenticated over mTLS, and gets its machines' BMC passwords.
 * Any thread. */
void watch_handle(struct watch_hub *h, struct bm_rpc_call *call, const Bm__WatchRequest *q,
                  bool secrets);
/* The key watch answers open BMC passwords with (before serving). */
void watch_hub_set_secrets(struct watch_hub *h, const struct secrets *s);
/* The store reached revision rev: wake the fan-out thread, which answers
 * the parked watches it concerns. Returns at once. Loop thread. */
void watch_hub_committed(struct watch_hub *h, uint64_t rev);
/* Stop the fan-out thread, answer every parked watch (empty), refuse new
 * ones, stop the timer. Loop thread. */
void watch_hub_close(struct watch_hub *h);
/* Free, once no request can reach the hub any more (after the API
 * stopped) and the loop has closed the timer. */
void watch_hub_free(struct watch_hub *h);

/* Whether this node's store may answer an agent that is ahead of it with
 * a fresh snapshot (the leader, or no Raft: its store was reset). Without
 * authority, such a watch waits for the store to catch up. Before serving. */
void watch_hub_set_authority(struct watch_hub *h, bool (*authoritative)(void *arg), void *arg);
/* Called, for each parked agent a commit did not concern, with the
 * revision its view is now current at: its recorded revision (bmctl
 * agents' LAG) advances with every commit, not only when its wait ends.
 * The fan-out thread. Before serving. */
void watch_hub_set_seen(struct watch_hub *h,
                        void (*seen)(void *arg, const char *agent, uint64_t rev), void *arg);
/* The answer to Watch(rack, since) at the read's snapshot: the changes
 * after since (empty when none concern the rack), or a snapshot. The keys
 * come from the index `x` (may be NULL; the caller keeps it still) where
 * it holds them, else from the change log. Returns 0 with *ret (free with
 * watch_result_free), or -errno. */
struct watch_index;
int watch_build(struct store_read *rd, const struct watch_index *x, const char *rack,
                uint64_t since, Bm__WatchResult **ret);
/* Whether the answer for since is a snapshot: from nothing, from before
 * the kept changes, from the future, or too far behind. */
bool watch_needs_snapshot(struct store_read *rd, uint64_t since);
void watch_result_free(Bm__WatchResult *w);
/* Nothing in it: no puts, no deletes, no snapshot. */
int watch_result_empty(const Bm__WatchResult *w);
