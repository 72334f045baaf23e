/* Private to the rackdb module (rackdb*.c). */
#pragma once
#include <lmdb.h>
#include <stdint.h>

#include "bm/mdb.h"
#include "bm/seal.h"
#include "bm/wr.h"
#include "rackdb.h"

#define RACKDB_MAP (4ull << 30)

enum { T_META, T_LEASES, T_OUTBOX, T_DISCOVERED, T_VIEW, T_TOKENS, T_COUNT };

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
};

struct rackdb_batch {
	struct rackdb *db;
	MDB_txn *txn;
	uint64_t next_seq;
	uint64_t added, dropped;
};
