/* Private to the rackdb module (rackdb*.c). */
#pragma once
#include <lmdb.h>
#include <stdint.h>

#include "rackdb.h"

#define RACKDB_MAP (4ull << 30)

enum { T_META, T_LEASES, T_OUTBOX, T_DISCOVERED, T_VIEW, T_COUNT };

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
};

struct rackdb_batch {
	struct rackdb *db;
	MDB_txn *txn;
	uint64_t next_seq;
	uint64_t added, dropped;
};

/* MDB_* codes to -errno. */
int rackdb_err(int rc);
void rackdb_be32(uint8_t out[4], uint32_t v);
void rackdb_be64(uint8_t out[8], uint64_t v);
uint64_t rackdb_get_be64(const uint8_t *p);
/* Pack a record straight into LMDB's page. */
int rackdb_put_msg(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                   const ProtobufCMessage *m);

/* A u64 of the meta table (0 when absent). Returns 0 or -errno. */
int rackdb_meta_get_u64(MDB_txn *txn, struct rackdb *db, const char *key, uint64_t *ret);
