/* The agent's local LMDB: leases, the outbox of events not yet applied by
 * the coordinator, the rack view the sync thread keeps, the agent's
 * identity, the power actions done and the per-boot tokens (sealed). The only agent module
 * that calls LMDB (through lib's bm/mdb.h glue).
 *
 * Writes are batched: the DHCP loop collects the lease changes and events
 * of all the packets it read in one turn into one transaction, commits it
 * (one fsync), and only then lets the ACKs leave, so an acknowledged lease
 * survives kill -9 and a crash never hands one address to two clients. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/proto.h"
#include "bm/seal.h"
#include "lease.h"
#include "token.h"

struct rackdb;
struct rackdb_batch;

/* Open or create DIR/rackdb, and DIR/secrets.key (the key BMC passwords
 * are sealed under in the view). Returns 0 or -errno. */
int rackdb_open(const char *dir, struct rackdb **ret_db);
void rackdb_close(struct rackdb *db);

/* Call fn for every stored lease (expired ones included: the caller
 * decides). Returns 0 or -errno. */
int rackdb_leases_load(struct rackdb *db, void (*fn)(void *arg, const struct lease *l), void *arg);

/* Begin a write batch. Returns 0 with *ret_batch, or -errno (nothing to
 * commit or abort then). */
int rackdb_batch_begin(struct rackdb *db, struct rackdb_batch **ret_batch);
/* For tests: the next `n` begins fail with `err` (a negative errno), as a
 * broken environment or memory exhaustion makes them fail. */
void rackdb_fail_begins(struct rackdb *db, unsigned n, int err);
int rackdb_lease_put(struct rackdb_batch *b, const struct lease *l);
int rackdb_lease_del(struct rackdb_batch *b, uint32_t ip);
/* Append an event to the outbox (its sequence number is assigned here).
 * For EVENT_DISCOVERED, only the first for a MAC is kept. */
int rackdb_event_add(struct rackdb_batch *b, Bm__EventKind kind, const uint8_t mac[6], uint32_t ip,
                     uint64_t time_ms, const char *rack, const char *detail);
/* Durable on return (fsync). Returns 0 or -errno; the batch is released
 * either way. */
int rackdb_batch_commit(struct rackdb_batch *b);
void rackdb_batch_abort(struct rackdb_batch *b);
/* Keep at most `max` events in the outbox (0: no bound): beyond, the
 * oldest progress event is dropped (and counted); a callback that says
 * done or failed never is. */
void rackdb_set_outbox_max(struct rackdb *db, uint64_t max);
/* Call fn after each commit that added events to the outbox (on the
 * committing thread). */
void rackdb_on_events(struct rackdb *db, void (*fn)(void *arg), void *arg);

struct rackdb_stats {
	uint64_t leases, events, next_seq;
	uint64_t dropped; /* progress events dropped since start (outbox full) */
};
int rackdb_stats_get(struct rackdb *db, struct rackdb_stats *ret);
/* The outbox from sequence `from` (the report thread, tests): fn gets
 * each event. Returns 0 or -errno. */
int rackdb_events_read(struct rackdb *db, uint64_t from, void (*fn)(void *arg, const Bm__Event *e),
                       void *arg);
/* The same, at most `max` events. */
int rackdb_events_read_max(struct rackdb *db, uint64_t from, size_t max,
                           void (*fn)(void *arg, const Bm__Event *e), void *arg);

/* ------------------------------------------------- managed by a coordinator */

#define RACKDB_AGENT_ID_LEN 16u
/* This agent's identity: made at random on first use and kept. */
int rackdb_agent_id(struct rackdb *db, char out[RACKDB_AGENT_ID_LEN + 1]);
/* Apply one Watch answer in one transaction: a snapshot replaces the view;
 * puts and deletes; the view's revision. A machine's BMC password is kept
 * sealed (bmc_sealed, under the agent's key), never in the clear. Returns
 * 0 or -errno. */
int rackdb_view_apply(struct rackdb *db, const Bm__WatchResult *w);
/* A machine's BMC password into out (BM_SECRET_MAX + 1 bytes): opened
 * from the view's sealed one, or as a standalone fleet gave it. Returns its
 * length (0: none), or -EBADMSG (sealed under another key). */
int rackdb_bmc_password(struct rackdb *db, const Bm__Machine *m, char *out);
/* The revision of the kept view (0: none yet). */
int rackdb_view_revision(struct rackdb *db, uint64_t *ret_revision);
/* The kept view as a fleet (free with bm__fleet__free_unpacked(f, NULL)).
 * Unreadable records are skipped. Returns 0 or -errno. */
int rackdb_view_load(struct rackdb *db, Bm__Fleet **ret_fleet);
/* The coordinator applied the outbox up to `upto`: drop those events
 * (durable with the next event, not at once). Returns 0 or -errno. */
int rackdb_events_trim(struct rackdb *db, uint64_t upto);
/* Power actions: the last sequence done for a MAC (0: none), and recording
 * one done inside a batch (with its outcome's event); req: the sequences of
 * `bmctl machine power` requests (power_req_seq), apart from operations'
 * (power_seq). */
int rackdb_power_done(struct rackdb *db, const uint8_t mac[6], bool req, uint64_t *ret_seq);
int rackdb_power_record(struct rackdb_batch *b, const uint8_t mac[6], bool req, uint64_t seq);

/* ------------------------------------------------------- per-boot tokens */

/* The token record of a MAC. Returns 0, -ENOENT (none, or unreadable),
 * -errno. */
int rackdb_token_get(struct rackdb *db, const uint8_t mac[6], struct boot_token *ret);
int rackdb_token_put(struct rackdb_batch *b, const uint8_t mac[6], const struct boot_token *t);
/* Returns 0 (also when there was none) or -errno. */
int rackdb_token_del(struct rackdb_batch *b, const uint8_t mac[6]);
/* fn for every readable record (in a read transaction: fn must not write). */
int rackdb_tokens_each(struct rackdb *db,
                       void (*fn)(void *arg, const uint8_t mac[6], const struct boot_token *t),
                       void *arg);
/* Make the tokens follow view v: a new operation boot (power sequence) gets
 * its token before its power action; a token whose boot ended (the machine
 * left the view, stopped netbooting: done, failed, cancel, timeout) or was
 * replaced is deleted. One commit when anything changed (*ret_changed);
 * nothing read when no host's boot changed since the last follow. Returns
 * 0 or -errno. */
int rackdb_tokens_follow(struct rackdb *db, const struct rack_view *v, unsigned *ret_changed);
