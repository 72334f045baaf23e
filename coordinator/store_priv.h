/* Private to the store module (store*.c). */
#pragma once
#include <lmdb.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "bm/mdb.h"
#include "bm/wr.h"
#include "store.h"

enum store_db {
	DB_META,
	DB_SITES,
	DB_RACKS,
	DB_MACHINES,
	DB_PROFILES,
	DB_IMAGES,
	DB_MAC_INDEX,     /* mac (6 bytes) -> machine name */
	DB_IP_INDEX,      /* rack '\0' ip (4 bytes BE) -> machine name */
	DB_RACK_MACHINES, /* rack -> machine names (dupsort) */
	DB_OPS,
	DB_CHANGES,      /* revision (8 bytes BE) -> ChangeSet */
	DB_AGENTS,       /* agent id -> AgentRecord */
	DB_EVENTS,       /* mac (6) time_ms (8 BE) revision (8 BE) index (4 BE) -> Event */
	DB_AUDIT,        /* seq (8 BE) -> AuditEntry (store_audit.c) */
	DB_OP_WAKE,      /* op name -> when the tick next advances it (8 BE, store_ops.c) */
	DB_OP_INDEX,     /* op '\0' tag -> its machines by state (dupsort, store_op_index.c) */
	DB_RACK_BOOTING, /* rack -> machines booting (dupsort, store_op_index.c) */
	DB_COUNT
};

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	uint64_t retain;                   /* revisions of change history kept */
	uint64_t audit_keep;               /* audit entries kept */
	uint64_t ops_keep, ops_keep_bytes; /* finished operations kept (store_op_keep.c) */
	char dir[4096];
	uint64_t map_size;
	bool unsynced; /* MDB_NOSYNC: a replica of a durable log */
	/* Held for reading by every read and batch; for writing by a snapshot
	 * restore, which swaps the environment. */
	pthread_rwlock_t swap;
};

/* Open the environment and tables of s (s->dir, s->map_size). */
int st_env_open(struct store *s);

struct store_batch {
	struct store *s;
	MDB_txn *txn;
	uint64_t revision;
	uint64_t compact_revision;
	uint64_t applied_index;
	/* The latest command time applied: the state machine's clock, which
	 * never goes back (a new leader's clock behind the old one's, or an
	 * NTP step, would otherwise wrap every "time since"). */
	uint64_t applied_time;
	bool dirty_meta;
};

struct store_read {
	struct store *s;
	MDB_txn *txn;
};

/* Table of an object kind, and the descriptor of its records. */
int st_kind_db(Bm__Kind kind, enum store_db *ret_db, const ProtobufCMessageDescriptor **ret_desc);

/* ip_index key: rack name, NUL, address big-endian. Returns its length. */
size_t st_ip_key(char *buf, const char *rack, uint32_t ip);

void st_free(void *msg); /* protobuf_c_message_free_unpacked, NULL-safe */
/* Replace a string field of an unpacked record (whose empty strings are
 * protobuf-c's shared one, never to be freed). Returns 0 or -ENOMEM. */
int st_set_str(char **field, const char *v);

/* One command being applied: its nested transaction, tentative revision and
 * the changes it makes. */
struct apply_ctx {
	struct store *s;
	MDB_txn *txn;
	uint64_t rev;
	uint64_t now;    /* the command's time (fixed by the proposer), never before
	                    any applied earlier */
	Bm__Change *chg; /* changes made, in order */
	size_t nchg, capchg;
	bool keep; /* commit though nothing versioned changed (meta records) */
	struct store_result *res;
};

/* Record one changed key in the command's change set (strings are
 * copied). Returns 0 or -ENOMEM. */
int st_change(struct apply_ctx *c, Bm__Kind kind, const char *name, const char *rack, bool deleted);
/* After a command that carries an audit record (accepted or refused):
 * its entry, in the batch's transaction. Returns 0 or -errno. */
int st_audit_record(struct store_batch *b, const Bm__Command *cmd, const struct store_result *res,
                    uint64_t now);
/* Refuse the command: status and message. Returns ST_REFUSED, positive:
 * callers pass it up as they pass an error (`if (r != 0) return r`), and
 * store_apply ends the command there, keeping none of its changes. Every
 * st_apply_* returns 0, ST_REFUSED or -errno. */
#define ST_REFUSED 1
int st_refuse(struct apply_ctx *c, Bm__Status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Put a record of `kind` under `name`, unless its content equals what is
 * stored. `msg` is shallow-copied; its revisions (and for a machine, its
 * state) are filled in from the stored record. *ret_outcome tells
 * what happened. Returns 0 or -errno. */
int st_upsert(struct apply_ctx *c, Bm__Kind kind, const ProtobufCMessage *msg,
              const ProtobufCMessage *old, int *ret_outcome);
enum { UPSERT_UNCHANGED, UPSERT_CREATED, UPSERT_UPDATED };

/* Remove a stored machine's MAC, IP and rack index entries. */
int st_machine_unindex(struct apply_ctx *c, const Bm__Machine *m);
/* Count an upsert's outcome in the result. */
void st_count(struct apply_ctx *c, int outcome);

int st_apply_fleet(struct apply_ctx *c, const Bm__Fleet *f, bool create_only);
/* store_agents.c */
int st_apply_agent_register(struct apply_ctx *c, const Bm__AgentInfo *info);
int st_apply_agent_events(struct apply_ctx *c, const Bm__AgentEvents *ev);
int st_apply_agents_seen(struct apply_ctx *c, const Bm__AgentsSeen *seen);
/* Write a machine record and its change; a new state goes into the
 * machine's timeline too (EVENT_STATE). */
int st_put_machine(struct apply_ctx *c, Bm__Machine *m, Bm__MachineState was);
/* Read machine `name`: 0 with *ret, -ENOENT, -errno. */
int st_get_machine(struct apply_ctx *c, const char *name, Bm__Machine **ret);
/* `bmctl machine power` (who: the audit's sender, for the timeline). */
int st_apply_power(struct apply_ctx *c, const Bm__PowerRequest *q, const char *who);
/* store_ops.c */
/* Machines an operation's command checks, takes or writes at most (a
 * larger reimage takes its machines a slice per tick; an advance that
 * would write more goes on at the next tick, at once). */
#define OP_SLICE 10000u
#define OP_MACHINES_MAX 100000u /* in one operation */
int st_apply_reimage(struct apply_ctx *c, const Bm__ReimageRequest *q);
int st_op_get(struct apply_ctx *c, const char *name, Bm__Operation **ret);
/* When the tick next advances operation `name` (0: at the next). */
int st_op_wake(struct apply_ctx *c, const char *name, uint64_t ms);
int st_apply_op_cancel(struct apply_ctx *c, const char *name);
int st_apply_op_resume(struct apply_ctx *c, const char *name);
/* Running or halted: it owns its machines and is ticked. */
bool st_op_live(const Bm__Operation *op);
/* Its record is small enough to advance at every tick (store_ops.c). */
bool st_op_small(const Bm__Operation *op);
/* After an advance: when the tick next advances op (next_due_ms: the first
 * moment one of its machines could time out). */
int st_op_woken(struct apply_ctx *c, const Bm__Operation *op, uint64_t next_due_ms);
int st_op_put(struct apply_ctx *c, Bm__Operation *op);
#define OP_WAKE_DONE UINT64_MAX /* DB_OP_WAKE: finished, never again */
/* store_op_keep.c: forget the operation `name` (its record and wake
 * entry); forget the finished operations beyond what is kept,
 * oldest first, never `except` (one that just finished). 0 or -errno. */
int st_op_forget(struct apply_ctx *c, const char *name);
int st_op_keep(struct apply_ctx *c, const char *except);
/* Advance op to the command's time (store_op_step.c). */
int st_op_advance(struct apply_ctx *c, Bm__Operation *op);
/* An operation that just took its machines: ms (the caller's, aligned
 * with op->machines) are changed in memory and not stored yet, was their
 * stored states; what may start starts (st_op_start_slice), each is put
 * once, and the tick advances it from then on. */
int st_op_advance_taken(struct apply_ctx *c, Bm__Operation *op, Bm__Machine **ms,
                        const Bm__MachineState *was);
int st_apply_op_tick(struct apply_ctx *c);
/* store_op_index.c: m's index entries move from what `old` had to what
 * `now` has (either NULL: none). 0 or -errno. */
int st_op_index_update(struct apply_ctx *c, const Bm__Machine *old, const Bm__Machine *now);
int st_op_index_rebuild(MDB_txn *txn, const MDB_dbi *dbi);
/* The key op '\0' tag into key (BM_NAME_MAX + 3 bytes); its length. */
size_t st_op_ix_key(char *key, const char *op, char tag);
/* How many machines of op have tag; of rack are booting. 0 or -errno. */
int st_op_ix_count(struct apply_ctx *c, const char *op, char tag, size_t *ret);
int st_rack_booting(struct apply_ctx *c, const char *rack, size_t *ret);
/* Has op's tag the value `name` ('d', 'f')? 1, 0 or -errno. */
int st_op_ix_has(struct apply_ctx *c, const char *op, char tag, const char *name);
/* Values of op's tag in order from the first >= from (flen 0: the first),
 * at most max, while keep(value) says so (NULL: all); copies, each
 * NUL-terminated. 0 or -errno. */
struct op_ix_list {
	char **v;
	size_t *len;
	size_t n;
};
int st_op_ix_list(struct apply_ctx *c, const char *op, char tag, const void *from, size_t flen,
                  size_t max, bool (*keep)(const MDB_val *v, void *arg), void *arg,
                  struct op_ix_list *out);
void st_op_ix_list_free(struct op_ix_list *l);
/* store_op_intake.c. The machines of q among names[nn], read and checked:
 * 0 with *ret (*ret_n records, the caller's), ST_REFUSED, -errno. */
int st_op_check_all(struct apply_ctx *c, const Bm__ReimageRequest *q, char *const *names, size_t nn,
                    Bm__Machine ***ret, size_t *ret_n);
/* m (in memory) into op: reimaging, owned by op. 0 or -ENOMEM. */
int st_op_take(struct apply_ctx *c, const Bm__Operation *op, Bm__Machine *m);
/* --max-failures P% as a count of op's machines. */
void st_op_failures_limit(Bm__Operation *op);
/* One slice of a taking operation's intake (checks, else takes), stored;
 * sets the result's `more` while it takes, else its name. 0 or -errno. */
int st_op_intake(struct apply_ctx *c, Bm__Operation *op);
/* End op's intake (cancelled): it keeps the machines taken so far. */
void st_op_intake_end(Bm__Operation *op);
/* store_op_step.c: start what may start of ms[k] (machines[lo..lo+k) of
 * op, just taken, not stored: was their stored states), and put each; a
 * taking op counts its batch across slices (intake_started). 0 or -errno. */
int st_op_start_slice(struct apply_ctx *c, Bm__Operation *op, Bm__Machine **ms,
                      const Bm__MachineState *was, size_t lo, size_t k);
/* A machine of a started operation made progress: its progress time. */
void st_op_progress(struct apply_ctx *c, Bm__Machine *m);
int st_op_settle(struct apply_ctx *c, const char *op_name);
