/* Store: environment, tables, meta, batches and the record codec. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/stat.h>

#include "store_priv.h"

#define STORE_MAP_DEFAULT (16ull << 30)
#define STORE_READERS_MAX 512u /* concurrent read transactions (nng threads) */
#define STORE_SCHEMA 1u
#define STORE_OP_INDEX 1u /* the operations' index's version (store_op_index.c) */

const char *const store_table_names[] = {
	[DB_META] = "meta",
	[DB_SITES] = "sites",
	[DB_RACKS] = "racks",
	[DB_MACHINES] = "machines",
	[DB_PROFILES] = "profiles",
	[DB_IMAGES] = "images",
	[DB_MAC_INDEX] = "mac_index",
	[DB_IP_INDEX] = "ip_index",
	[DB_RACK_MACHINES] = "rack_machines",
	[DB_OPS] = "ops",
	[DB_CHANGES] = "changes",
	[DB_AGENTS] = "agents",
	[DB_EVENTS] = "events",
	[DB_AUDIT] = "audit",
	[DB_OP_WAKE] = "op_wake",
	[DB_OP_INDEX] = "op_index",
	[DB_RACK_BOOTING] = "rack_booting",
	[DB_COUNT] = NULL,
};

_Static_assert(DB_COUNT <= 24, "store_info.entries too small");
_Static_assert(STORE_TABLE_MACHINES == DB_MACHINES && STORE_TABLE_CHANGES == DB_CHANGES,
               "store.h table indexes out of date");

void
st_free(void *msg)
{
	if (msg)
		protobuf_c_message_free_unpacked(msg, NULL);
}

int
st_set_str(char **field, const char *v)
{
	char *n = strdup(v);
	if (!n)
		return -ENOMEM;
	if (*field && *field != protobuf_c_empty_string)
		free(*field);
	*field = n;
	return 0;
}

size_t
st_ip_key(char *buf, const char *rack, uint32_t ip)
{
	size_t n = strlen(rack);
	memcpy(buf, rack, n);
	buf[n] = '\0';
	bm_put_be32((uint8_t *)buf + n + 1, ip);
	return n + 5;
}

int
st_kind_db(Bm__Kind kind, enum store_db *ret_db, const ProtobufCMessageDescriptor **ret_desc)
{
	switch (kind) {
	case BM__KIND__KIND_SITE:
		*ret_db = DB_SITES;
		*ret_desc = &bm__site__descriptor;
		return 0;
	case BM__KIND__KIND_RACK:
		*ret_db = DB_RACKS;
		*ret_desc = &bm__rack__descriptor;
		return 0;
	case BM__KIND__KIND_MACHINE:
		*ret_db = DB_MACHINES;
		*ret_desc = &bm__machine__descriptor;
		return 0;
	case BM__KIND__KIND_PROFILE:
		*ret_db = DB_PROFILES;
		*ret_desc = &bm__profile__descriptor;
		return 0;
	case BM__KIND__KIND_IMAGE:
		*ret_db = DB_IMAGES;
		*ret_desc = &bm__image__descriptor;
		return 0;
	case BM__KIND__KIND_OPERATION:
		*ret_db = DB_OPS;
		*ret_desc = &bm__operation__descriptor;
		return 0;
	case BM__KIND__KIND_AGENT:
		*ret_db = DB_AGENTS;
		*ret_desc = &bm__agent_record__descriptor;
		return 0;
	default: return -EINVAL;
	}
}

/* ------------------------------------------------------------------ meta */

/* --------------------------------------------------------- open / close */

static int
open_tables(struct store *s)
{
	MDB_txn *txn;
	uint64_t schema, ix;
	int rc, r;

	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (int i = 0; i < DB_COUNT; i++) {
		bool dup = i == DB_RACK_MACHINES || i == DB_OP_INDEX || i == DB_RACK_BOOTING;
		unsigned flags = MDB_CREATE | (dup ? MDB_DUPSORT : 0);
		if ((rc = mdb_dbi_open(txn, store_table_names[i], flags, &s->dbi[i])) !=
		    MDB_SUCCESS) {
			mdb_txn_abort(txn);
			return bm_mdb_errno(rc);
		}
	}
	r = bm_mdb_get_u64(txn, s->dbi[DB_META], "schema", &schema);
	if (r == 0 && schema == 0)
		r = bm_mdb_put_u64(txn, s->dbi[DB_META], "schema", STORE_SCHEMA);
	else if (r == 0 && schema != STORE_SCHEMA)
		r = -EPROTO; /* written by another version of the schema */
	/* A store written before the operations' index: built here once. */
	if (r == 0 && (r = bm_mdb_get_u64(txn, s->dbi[DB_META], "op_index", &ix)) == 0 &&
	    ix != STORE_OP_INDEX && (r = st_op_index_rebuild(txn, s->dbi)) == 0)
		r = bm_mdb_put_u64(txn, s->dbi[DB_META], "op_index", STORE_OP_INDEX);
	if (r < 0) {
		mdb_txn_abort(txn);
		return r;
	}
	return bm_mdb_errno(mdb_txn_commit(txn));
}

int
st_env_open(struct store *s)
{
	int rc, r;

	if ((rc = mdb_env_create(&s->env)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	mdb_env_set_maxdbs(s->env, DB_COUNT);
	mdb_env_set_maxreaders(s->env, STORE_READERS_MAX);
	mdb_env_set_mapsize(s->env, s->map_size);
	/* NOTLS: read transactions are opened on nng's threads, not bound to one.
	 * NOMETASYNC: one fsync per commit, not two. A system crash may undo the
	 * last commits (never the store's integrity); the Raft log still holds
	 * those entries and replays them, as the applied index says.
	 * NOSYNC (store_open_unsynced): no fsync at all; after a system crash
	 * the store is rebuilt from the log (the coordinator's start-up). */
	unsigned flags = MDB_NOTLS | MDB_NOMETASYNC | (s->unsynced ? MDB_NOSYNC : 0);
	if ((rc = mdb_env_open(s->env, s->dir, flags, 0600)) != MDB_SUCCESS)
		r = bm_mdb_errno(rc);
	else
		r = open_tables(s);
	if (r < 0) {
		mdb_env_close(s->env);
		s->env = NULL;
	}
	return r;
}

static int
open_store(const char *dir, uint64_t map_size, bool unsynced, struct store **ret_store)
{
	struct store *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return -ENOMEM;
	s->unsynced = unsynced;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(s);
		return -errno;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->map_size = map_size ? map_size : STORE_MAP_DEFAULT;
	if ((r = st_env_open(s)) < 0) {
		free(s);
		return r;
	}
	pthread_rwlock_init(&s->swap, NULL);
	s->retain = STORE_CHANGES_RETAIN;
	s->audit_keep = STORE_AUDIT_KEEP;
	s->ops_keep = STORE_OPS_KEEP;
	s->ops_keep_bytes = STORE_OPS_KEEP_BYTES;
	*ret_store = s;
	return 0;
}

int
store_open(const char *dir, uint64_t map_size, struct store **ret_store)
{
	return open_store(dir, map_size, false, ret_store);
}

int
store_open_unsynced(const char *dir, uint64_t map_size, struct store **ret_store)
{
	return open_store(dir, map_size, true, ret_store);
}

void
store_set_changes_retain(struct store *s, uint64_t revisions)
{
	s->retain = revisions ? revisions : 1;
}

void
store_set_audit_keep(struct store *s, uint64_t entries)
{
	s->audit_keep = entries ? entries : 1;
}

void
store_set_ops_keep(struct store *s, uint64_t ops, uint64_t bytes)
{
	s->ops_keep = ops ? ops : 1;
	s->ops_keep_bytes = bytes;
}

void
store_close(struct store *s)
{
	if (!s)
		return;
	if (s->unsynced)
		mdb_env_sync(s->env, 1);
	mdb_env_close(s->env);
	pthread_rwlock_destroy(&s->swap);
	free(s);
}

/* --------------------------------------------------------------- batches */

int
store_batch_begin(struct store *s, struct store_batch **ret_batch)
{
	struct store_batch *b = calloc(1, sizeof(*b));
	MDB_dbi meta = s->dbi[DB_META];
	int rc, r;

	if (!b)
		return -ENOMEM;
	b->s = s;
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &b->txn)) != MDB_SUCCESS) {
		free(b);
		return bm_mdb_errno(rc);
	}
	if ((r = bm_mdb_get_u64(b->txn, meta, "revision", &b->revision)) < 0 ||
	    (r = bm_mdb_get_u64(b->txn, meta, "compact_revision", &b->compact_revision)) < 0 ||
	    (r = bm_mdb_get_u64(b->txn, meta, "applied_index", &b->applied_index)) < 0 ||
	    (r = bm_mdb_get_u64(b->txn, meta, "applied_time", &b->applied_time)) < 0) {
		store_batch_abort(b);
		return r;
	}
	*ret_batch = b;
	return 0;
}

int
store_batch_commit(struct store_batch *b)
{
	MDB_dbi meta = b->s->dbi[DB_META];
	int r = 0;

	if (b->dirty_meta &&
	    ((r = bm_mdb_put_u64(b->txn, meta, "revision", b->revision)) < 0 ||
	     (r = bm_mdb_put_u64(b->txn, meta, "compact_revision", b->compact_revision)) < 0 ||
	     (r = bm_mdb_put_u64(b->txn, meta, "applied_index", b->applied_index)) < 0 ||
	     (r = bm_mdb_put_u64(b->txn, meta, "applied_time", b->applied_time)) < 0)) {
		store_batch_abort(b);
		return r;
	}
	r = bm_mdb_errno(mdb_txn_commit(b->txn));
	free(b);
	return r;
}

void
store_batch_abort(struct store_batch *b)
{
	if (!b)
		return;
	mdb_txn_abort(b->txn);
	free(b);
}

void
store_result_init(struct store_result *res)
{
	memset(res, 0, sizeof(*res));
	bm_problems_init(&res->problems);
}

void
store_result_fini(struct store_result *res)
{
	bm_problems_fini(&res->problems);
}

/* ------------------------------------------------------------------ info */

int
store_info_get(struct store *s, struct store_info *ret)
{
	MDB_txn *txn;
	MDB_envinfo ei;
	MDB_stat st;
	struct store_info info = { 0 };
	int rc, r;

	pthread_rwlock_rdlock(&s->swap);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS) {
		pthread_rwlock_unlock(&s->swap);
		return bm_mdb_errno(rc);
	}
	MDB_dbi meta = s->dbi[DB_META];
	if ((r = bm_mdb_get_u64(txn, meta, "revision", &info.revision)) < 0 ||
	    (r = bm_mdb_get_u64(txn, meta, "compact_revision", &info.compact_revision)) < 0 ||
	    (r = bm_mdb_get_u64(txn, meta, "applied_index", &info.applied_index)) < 0)
		goto out;
	for (int i = 0; i < DB_COUNT; i++)
		if (mdb_stat(txn, s->dbi[i], &st) == MDB_SUCCESS)
			info.entries[i] = st.ms_entries;
	mdb_env_info(s->env, &ei);
	mdb_env_stat(s->env, &st);
	info.bytes = (uint64_t)(ei.me_last_pgno + 1) * st.ms_psize;
	*ret = info;
out:
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&s->swap);
	return r;
}
