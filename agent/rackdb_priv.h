/* Private to the rackdb module (rackdb*.c). */
#pragma once
#include <lmdb.h>
#include <stdint.h>

#include "bm/mdb.h"
#include "bm/seal.h"
#include "bm/sha256.h"
#include "bm/wr.h"
#include "rackdb.h"

#define RACKDB_MAP (4ull << 30)

enum { T_META, T_LEASES, T_OUTBOX, T_DISCOVERED, T_VIEW, T_TOKENS, T_COUNT };

/* The environment is opened MDB_NOMETASYNC: a commit syncs its data but
 * not the page that makes it current, so an OS crash (not a crash of the
 * agent) may take back the last commit, never leave a torn one. The view
 * is committed so (one fdatasync instead of two, on every revision of
 * every agent): it is a copy of the coordinator's, and a view taken back
 * is fetched again from its stored revision. What must outlive an OS
 * crash once others rely on it (the outbox, leases, tokens, the agent's
 * identity) is committed with rackdb_commit_durable, which syncs whole. */
int rackdb_commit_durable(struct rackdb *db, MDB_txn *txn);

struct rackdb {
	MDB_env *env;
	MDB_dbi dbi[T_COUNT];
	/* Of the outbox: read and set only inside a write transaction, whose
	 * lock serialises the threads that add events (loop, cache). */
	_Atomic uint64_t next_seq;
	uint64_t outbox_max;       /* 0: unbounded */
	_Atomic uint64_t outbox_n; /* events in the outbox (loop and sync thread) */
	_Atomic uint64_t dropped;  /* progress events dropped to stay within outbox_max */
	void (*on_events)(void *arg);
	void *on_events_arg;
	_Atomic unsigned fail_begins; /* rackdb_fail_begins */
	int fail_err;
	uint8_t seal_key[BM_SEAL_KEY_LEN]; /* DIR/secrets.key: BMC passwords at rest */
	/* The hosts' boots the tokens last followed (rackdb_tokens_follow,
	 * the loop's only): SHA-256 of each host's MAC and boot key. */
	uint8_t followed[BM_SHA256_LEN];
	bool have_followed;
};

struct rackdb_batch {
	struct rackdb *db;
	MDB_txn *txn;
	uint64_t next_seq;
	uint64_t added, dropped;
};
