/* The coordinator's state machine on LMDB. The only coordinator module
 * that calls LMDB (through lib's bm/mdb.h glue).
 *
 * Every mutation is a Bm__Command applied by store_apply, deterministically:
 * no clock, no randomness, no I/O outside the transaction. Commands are
 * applied inside a batch (one LMDB write transaction shared by several
 * commands: group commit), each in its own nested transaction, so a refused
 * command changes nothing while its neighbours in the batch still commit. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "bm/problems.h"
#include "bm/proto.h"
#include "bm/sha256.h"

/* Revisions of change history kept for incremental agent sync; older
 * revisions are compacted and such agents get a snapshot. */
#define STORE_CHANGES_RETAIN 100000u
/* List pages: items and encoded bytes per answer. */
#define STORE_LIST_LIMIT_MAX 10000u
#define STORE_LIST_BYTES_MAX (8u << 20)
/* store_op_list reads the operations' records this many at a time (each
 * lists its machines: up to ~1 MB for 100,000). */
#define STORE_OP_LIST_PAGE 256u

struct store;
struct store_batch;
struct store_read;

/* A command's store index (what store_apply is given, and the store's
 * applied_index) is (Raft entry number << STORE_INDEX_SHIFT) | its place
 * in the entry's batch: PROPOSE_BATCH_MAX commands fit below the shift.
 * The entry number counts the command entries applied since the log began
 * (carried in snapshots). */
#define STORE_INDEX_SHIFT 12u
#define STORE_INDEX_ENTRY(index) ((index) >> STORE_INDEX_SHIFT)

struct store_result {
	Bm__Status status;
	char message[256];
	struct bm_problems problems;
	uint64_t revision; /* the store's revision after this command */
	uint32_t created, updated, unchanged;
	/* The operation a reimage started, a cancel named, or whose intake a
	 * tick ended (store_op_intake.c). */
	char name[64];
	/* An operation has more to do at once (taking its machines, or an
	 * advance cut at OP_SLICE writes): the proposer ticks again now. */
	bool more;
};
#define STORE_RESULT_MORE 1 /* (for benchmarks built against older stores too) */

struct store_info {
	uint64_t revision;
	uint64_t compact_revision; /* changes at or below this are gone */
	uint64_t applied_index;
	uint64_t bytes;       /* pages in use * page size */
	uint64_t entries[24]; /* per table, in store_table_names order */
};

/* Indexes into store_info.entries of the tables callers ask about. */
#define STORE_TABLE_MACHINES 3
#define STORE_TABLE_CHANGES 10
/* Table names, in the order of store_info.entries; NULL-terminated. */
extern const char *const store_table_names[];

/* Open or create the store in `dir` (created if missing). map_size: the
 * largest the file may grow (0: default 16 GiB). Returns 0 or -errno. */
int store_open(const char *dir, uint64_t map_size, struct store **ret_store);
/* The same, with commits not synced to disk (MDB_NOSYNC): for a store that
 * is a replica of a durable log, which the caller replays into a fresh
 * store after a system crash (a process crash loses nothing: the page
 * cache holds every commit). Closing syncs it. */
int store_open_unsynced(const char *dir, uint64_t map_size, struct store **ret_store);
void store_close(struct store *s);
/* Change history kept, in revisions (default STORE_CHANGES_RETAIN). Part
 * of the state machine's definition: every replica must use one value. */
void store_set_changes_retain(struct store *s, uint64_t revisions);
/* Audit entries kept (default STORE_AUDIT_KEEP); the same on every replica. */
void store_set_audit_keep(struct store *s, uint64_t entries);
/* Finished operations kept (default STORE_OPS_KEEP, STORE_OPS_KEEP_BYTES;
 * 0: one, none); the same on every replica. */
void store_set_ops_keep(struct store *s, uint64_t ops, uint64_t bytes);

/* Begin a batch: one write transaction. Only one batch at a time, from one
 * thread. Returns 0 or -errno. */
int store_batch_begin(struct store *s, struct store_batch **ret_batch);
/* Apply one command in the batch. `index` is its position in the command
 * log (raft index); a command at or below the applied index is skipped as
 * already applied. Returns 0 with `res` telling applied or refused (and
 * why), or -errno when the store failed (the batch must then be aborted).
 * `res` must be initialised with store_result_init and finished with
 * store_result_fini by the caller. */
int store_apply(struct store_batch *b, uint64_t index, const Bm__Command *cmd,
                struct store_result *res);
/* Make the batch durable (fsync) and release it. Returns 0 or -errno; on
 * failure nothing of the batch is applied. */
int store_batch_commit(struct store_batch *b);
void store_batch_abort(struct store_batch *b);

void store_result_init(struct store_result *res);
void store_result_fini(struct store_result *res);

/* Reads: a consistent snapshot, usable from any one thread at a time. */
int store_read_begin(struct store *s, struct store_read **ret_read);
void store_read_end(struct store_read *r);
uint64_t store_read_revision(struct store_read *r);
/* Changes at or below this revision are no longer kept. */
uint64_t store_read_compact_revision(struct store_read *r);
/* Is an operation live (running or halted: ticks advance it)? Reads the
 * operations' wake times, not their records. */
bool store_ops_live(struct store_read *r);
/* One object (with its count: machines of a rack, racks of a site).
 * Returns 0 with *ret_obj (free with bm__object__free_unpacked(o, NULL)),
 * -ENOENT, -EINVAL (bad kind), -EIO. */
int store_get(struct store_read *r, Bm__Kind kind, const char *name, Bm__Object **ret_obj);
/* A page of objects matching q, in name order. Returns 0 with *ret_list
 * (free with bm__list_result__free_unpacked(l, NULL)), or -errno. */
int store_list(struct store_read *r, const Bm__ListRequest *q, Bm__ListResult **ret_list);
/* Every operation, in the order they were made, its machines counted (listed_machines)
 * and their names left out: a list of large reimages would otherwise
 * carry megabytes to print a line each. Read STORE_OP_LIST_PAGE records
 * at a time. Returns 0 with *ret_list (no next; free with
 * bm__list_result__free_unpacked(l, NULL)), or -errno. */
int store_op_list(struct store_read *r, Bm__ListResult **ret_list);
/* The machine holding a MAC. Returns 0, -ENOENT, -errno. */
int store_machine_by_mac(struct store_read *r, const uint8_t mac[6], Bm__Machine **ret_machine);
/* Machines read by store_get, store_list and store_machine_by_mac carry
 * bmc_password_set, never the sealed password: that is read only here,
 * for the watch of the machine's agent and for sealing anew (secrets.h).
 * Returns 0 with *ret_len (0: none), -ENOENT, -EMSGSIZE (cap too small),
 * -errno. */
int store_machine_sealed(struct store_read *r, const char *name, uint8_t *out, size_t cap,
                         size_t *ret_len);
/* Does an image declare these bytes (its sha256)? A walk of the images
 * (hundreds, not millions). Returns 0, -ENOENT or -errno. */
int store_image_by_sha(struct store_read *r, const uint8_t sha[BM_SHA256_LEN]);
/* Every rack's site: names sorted, with their sites (load: 0 or -errno;
 * free even after a failed load). */
struct rack_names {
	char **name;
	char **site;
	size_t n;
};
int store_rack_sites_load(struct store_read *r, struct rack_names *rn);
void store_rack_sites_free(struct rack_names *rn);
/* The site of a rack ("" for none), NULL when there is no such rack. */
const char *store_rack_site(const struct rack_names *rn, const char *rack);
/* The changes made at revision rev: 0, -ENOENT (none, or compacted). */
int store_changes_get(struct store_read *r, uint64_t rev, Bm__ChangeSet **ret_changes);
int store_info_get(struct store *s, struct store_info *ret_info);
#define STORE_URL_MAX 256u
/* The API URL coordinator `id` announced (a Coordinator command) into buf.
 * Returns 0, -ENOENT or -errno. Any thread. */
int store_coordinator_url(struct store *s, uint64_t id, char *buf, size_t len);
/* cb(arg, id, url) for each coordinator that recorded its URL (at most 16),
 * called after the read ends. Returns how many, or -errno. */
int store_coordinator_urls(struct store *s, void (*cb)(void *arg, uint64_t id, const char *url),
                           void *arg);
/* The kept events of a MAC, oldest first; with limit, only the last
 * `limit`. Returns 0 with an array to free with store_events_free. */
int store_trace(struct store_read *r, const uint8_t mac[6], size_t limit, Bm__Event ***ret_events,
                size_t *ret_n);
void store_events_free(Bm__Event **ev, size_t n);

/* The audit log: entries kept (the oldest go first), and entries per
 * answer at most. */
#define STORE_AUDIT_KEEP 100000u
/* Finished operations kept: the newest STORE_OPS_KEEP, and no more than
 * STORE_OPS_KEEP_BYTES of their records (a 100,000-machine operation's is
 * ~1.1 MB); the oldest go first when another finishes. Live ones always
 * stay. The same on every replica (store_op_keep.c). */
#define STORE_OPS_KEEP 1000u
#define STORE_OPS_KEEP_BYTES (256ull << 20)
/* Forgotten when one finishes, at most: no command grows long, and a store
 * from before the limits (every operation ever) catches up over several. */
#define STORE_OPS_FORGET_MAX 1000u

#define STORE_AUDIT_PAGE 1000u
/* Entries after after_seq not older than since_ms, oldest first, at most
 * limit (>= 1); next_seq set when more follow. Returns 0 with *ret (free
 * with bm__audit_result__free_unpacked(r, NULL)), or -errno. */
int store_audit_list(struct store_read *r, uint64_t since_ms, uint64_t after_seq, uint32_t limit,
                     Bm__AuditResult **ret);

/* An agent not seen for this long is silent: `bmctl agents` says so, and a
 * machine that times out in its rack and `bmctl op get` say so. Several
 * times the agents' heartbeat (SYNC_HEARTBEAT_MS) and the replication of
 * sightings (AGENTS_SEEN_WRITE_MS). */
#define STORE_AGENT_SILENT_MS 30000u
/* An agent's peer_url (site-local fill), with its NUL, at most. */
#define STORE_PEER_URL_MAX 128u

/* Why rack `rack` is not reporting at now_ms, from the records of all
 * agents (last_seen_ms): "rack21's agent last seen 4m ago", "rack21 has no
 * agent", or "" when an agent of the rack was seen within
 * STORE_AGENT_SILENT_MS. */
void store_rack_silence(const char *rack, Bm__AgentRecord *const *agents, size_t n, uint64_t now_ms,
                        char *buf, size_t len);

/* A compacting copy of the whole store (a Raft snapshot): *ret (free it)
 * of *ret_len bytes. Loop thread, no batch open. Returns 0 or -errno. */
int store_snapshot(struct store *s, uint8_t **ret, size_t *ret_len);
/* Replace the store with a snapshot's bytes; readers wait meanwhile.
 * Loop thread, no batch open. Returns 0 or -errno. */
int store_restore(struct store *s, const uint8_t *data, size_t len);
