#include "rackdb.h"
#include "rackdb_priv.h"

#include <errno.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const table_names[T_COUNT] = { "meta",       "leases", "outbox",
	                                          "discovered", "view",   "tokens" };

/* The outbox's next sequence: one past its last key, or past the last one
 * the coordinator acknowledged when the outbox is empty (trimmed). Starting
 * again at 1 would reuse sequences the coordinator has applied: it would
 * take the new events for duplicates and drop them. */
static int
load_seq(struct rackdb *db, MDB_txn *txn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t acked = 0;
	int rc = mdb_cursor_open(txn, db->dbi[T_OUTBOX], &cur), r;

	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	db->next_seq = rc == MDB_SUCCESS && k.mv_size == 8 ? bm_get_be64(k.mv_data) + 1 : 1;
	mdb_cursor_close(cur);
	if (rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		return bm_mdb_errno(rc);
	if ((r = bm_mdb_get_u64(txn, db->dbi[T_META], "events_acked", &acked)) < 0)
		return r;
	if (acked + 1 > db->next_seq)
		db->next_seq = acked + 1;
	return 0;
}

int
rackdb_commit_durable(struct rackdb *db, MDB_txn *txn)
{
	int r = bm_mdb_errno(mdb_txn_commit(txn));

	return r < 0 ? r : bm_mdb_errno(mdb_env_sync(db->env, 1));
}

int
rackdb_open(const char *dir, struct rackdb **ret)
{
	struct rackdb *db = calloc(1, sizeof(*db));
	char path[4096];
	MDB_txn *txn = NULL;
	int rc, r = 0;

	if (!db)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/rackdb", dir);
	if ((mkdir(dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(path, 0700) < 0 && errno != EEXIST)) {
		r = -errno;
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/secrets.key", dir);
	if ((r = bm_seal_key_make(path, db->seal_key)) < 0)
		goto fail;
	snprintf(path, sizeof(path), "%s/rackdb", dir);
	if ((rc = mdb_env_create(&db->env)) != MDB_SUCCESS) {
		r = bm_mdb_errno(rc);
		goto fail;
	}
	mdb_env_set_maxdbs(db->env, T_COUNT);
	mdb_env_set_mapsize(db->env, RACKDB_MAP);
	if ((rc = mdb_env_open(db->env, path, MDB_NOTLS | MDB_NOMETASYNC, 0600)) != MDB_SUCCESS ||
	    (rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != MDB_SUCCESS) {
		r = bm_mdb_errno(rc);
		goto fail;
	}
	for (int i = 0; i < T_COUNT && r == 0; i++)
		r = bm_mdb_errno(mdb_dbi_open(txn, table_names[i], MDB_CREATE, &db->dbi[i]));
	if (r == 0)
		r = load_seq(db, txn);
	if (r == 0) {
		MDB_stat st;
		if (mdb_stat(txn, db->dbi[T_OUTBOX], &st) == MDB_SUCCESS)
			db->outbox_n = st.ms_entries;
	}
	if (r == 0) {
		r = rackdb_commit_durable(db, txn);
		txn = NULL;
	}
	if (r < 0)
		goto fail;
	*ret = db;
	return 0;
fail:
	if (txn)
		mdb_txn_abort(txn);
	if (db->env)
		mdb_env_close(db->env);
	OPENSSL_cleanse(db->seal_key, sizeof(db->seal_key));
	free(db);
	return r;
}

void
rackdb_close(struct rackdb *db)
{
	if (!db)
		return;
	mdb_env_close(db->env);
	OPENSSL_cleanse(db->seal_key, sizeof(db->seal_key));
	free(db);
}

struct leases_load {
	void (*fn)(void *arg, const struct lease *l);
	void *arg;
};

static void
lease_record(void *arg, const MDB_val *k, const MDB_val *v)
{
	struct leases_load *ll = arg;
	Bm__Lease *p = bm__lease__unpack(NULL, v->mv_size, v->mv_data);
	struct lease l = { 0 };

	(void)k;
	if (!p)
		return; /* unreadable: skipped; the address is simply free */
	if (p->client_key.len <= DHCP_CLIENT_KEY_MAX && p->mac.len == 6) {
		l.key.len = (uint8_t)p->client_key.len;
		memcpy(l.key.b, p->client_key.data, p->client_key.len);
		memcpy(l.mac, p->mac.data, 6);
		l.ip = p->ip;
		l.expires_ms = p->expires_ms;
		l.state = (enum lease_state)p->state;
		ll->fn(ll->arg, &l);
	}
	bm__lease__free_unpacked(p, NULL);
}

int
rackdb_leases_load(struct rackdb *db, void (*fn)(void *, const struct lease *), void *arg)
{
	struct leases_load ll = { fn, arg };

	return bm_mdb_each(db->env, db->dbi[T_LEASES], lease_record, &ll);
}

int
rackdb_batch_begin(struct rackdb *db, struct rackdb_batch **ret)
{
	struct rackdb_batch *b = calloc(1, sizeof(*b));
	int rc;

	if (!b)
		return -ENOMEM;
	if (db->fail_begins) {
		db->fail_begins--;
		free(b);
		return db->fail_err;
	}
	if ((rc = mdb_txn_begin(db->env, NULL, 0, &b->txn)) != MDB_SUCCESS) {
		free(b);
		return bm_mdb_errno(rc);
	}
	b->db = db;
	b->next_seq = db->next_seq;
	*ret = b;
	return 0;
}

void
rackdb_fail_begins(struct rackdb *db, unsigned n, int err)
{
	db->fail_err = err;
	db->fail_begins = n;
}

int
rackdb_lease_put(struct rackdb_batch *b, const struct lease *l)
{
	Bm__Lease p = BM__LEASE__INIT;
	uint8_t key[4];

	p.client_key.data = (uint8_t *)l->key.b;
	p.client_key.len = l->key.len;
	p.mac.data = (uint8_t *)l->mac;
	p.mac.len = 6;
	p.ip = l->ip;
	p.expires_ms = l->expires_ms;
	p.state = l->state;
	bm_put_be32(key, l->ip);
	return bm_mdb_put_msg(b->txn, b->db->dbi[T_LEASES], key, 4, &p.base);
}

int
rackdb_lease_del(struct rackdb_batch *b, uint32_t ip)
{
	uint8_t key[4];
	MDB_val k = { 4, key };
	int rc;

	bm_put_be32(key, ip);
	rc = mdb_del(b->txn, b->db->dbi[T_LEASES], &k, NULL);
	return rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

/* A callback that moves a machine on for good (installed, booted, done,
 * failed) is never dropped: the coordinator must learn how every install
 * ended. */
static bool
terminal(const MDB_val *v)
{
	Bm__Event *e = bm__event__unpack(NULL, v->mv_size, v->mv_data);
	bool t =
	    e && e->kind == BM__EVENT_KIND__EVENT_CALLBACK &&
	    (!strncmp(e->detail, "state=done", 10) || !strncmp(e->detail, "state=failed", 12) ||
	     !strncmp(e->detail, "state=installed", 15) || !strncmp(e->detail, "state=booted", 12));
	if (e)
		bm__event__free_unpacked(e, NULL);
	return t;
}

/* The outbox is full: drop its oldest progress event. */
static int
drop_oldest_progress(struct rackdb_batch *b)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	if ((rc = mdb_cursor_open(b->txn, b->db->dbi[T_OUTBOX], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (!terminal(&v)) {
			if ((rc = mdb_cursor_del(cur, 0)) == MDB_SUCCESS)
				b->dropped++;
			break;
		}
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

int
rackdb_event_add(struct rackdb_batch *b, Bm__EventKind kind, const uint8_t mac[6], uint32_t ip,
                 uint64_t time_ms, const char *rack, const char *detail)
{
	Bm__Event e = BM__EVENT__INIT;
	uint8_t key[8];
	int rc;

	if (kind == BM__EVENT_KIND__EVENT_DISCOVERED) {
		uint8_t t[8];
		MDB_val k = { 6, (void *)mac }, v = { 8, t };
		bm_put_be64(t, time_ms);
		rc = mdb_put(b->txn, b->db->dbi[T_DISCOVERED], &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			return 0; /* reported before */
		if (rc != MDB_SUCCESS)
			return bm_mdb_errno(rc);
	}
	if (b->db->outbox_max && b->db->outbox_n + b->added - b->dropped >= b->db->outbox_max &&
	    (rc = drop_oldest_progress(b)) < 0)
		return rc;
	e.seq = b->next_seq;
	e.time_ms = time_ms;
	e.rack = (char *)rack;
	e.mac.data = (uint8_t *)mac;
	e.mac.len = 6;
	e.kind = kind;
	e.ip = ip;
	e.detail = (char *)(detail ? detail : "");
	bm_put_be64(key, e.seq);
	if ((rc = bm_mdb_put_msg(b->txn, b->db->dbi[T_OUTBOX], key, 8, &e.base)) == 0) {
		b->next_seq++;
		b->added++;
	}
	return rc;
}

void
rackdb_set_outbox_max(struct rackdb *db, uint64_t max)
{
	db->outbox_max = max;
}

void
rackdb_on_events(struct rackdb *db, void (*fn)(void *arg), void *arg)
{
	db->on_events = fn;
	db->on_events_arg = arg;
}

int
rackdb_batch_commit(struct rackdb_batch *b)
{
	struct rackdb *db = b->db;
	uint64_t before = db->next_seq;
	int r;

	/* Set while this thread still holds LMDB's writer lock: a batch begun
	 * on another thread (the sync or cache thread) the moment it is
	 * released must see the sequence this one used up. */
	db->next_seq = b->next_seq;
	if ((r = rackdb_commit_durable(db, b->txn)) < 0) {
		db->next_seq = before;
		free(b);
		return r;
	}
	db->outbox_n += b->added - b->dropped;
	db->dropped += b->dropped;
	if (b->next_seq != before && db->on_events)
		db->on_events(db->on_events_arg);
	free(b);
	return 0;
}

void
rackdb_batch_abort(struct rackdb_batch *b)
{
	if (!b)
		return;
	mdb_txn_abort(b->txn);
	free(b);
}

int
rackdb_stats_get(struct rackdb *db, struct rackdb_stats *ret)
{
	MDB_txn *txn;
	MDB_stat st;
	int rc;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	memset(ret, 0, sizeof(*ret));
	if (mdb_stat(txn, db->dbi[T_LEASES], &st) == MDB_SUCCESS)
		ret->leases = st.ms_entries;
	if (mdb_stat(txn, db->dbi[T_OUTBOX], &st) == MDB_SUCCESS)
		ret->events = st.ms_entries;
	ret->next_seq = db->next_seq;
	ret->dropped = db->dropped;
	mdb_txn_abort(txn);
	return 0;
}

int
rackdb_events_read(struct rackdb *db, uint64_t from, void (*fn)(void *, const Bm__Event *),
                   void *arg)
{
	return rackdb_events_read_max(db, from, SIZE_MAX, fn, arg);
}

int
rackdb_events_read_max(struct rackdb *db, uint64_t from, size_t max,
                       void (*fn)(void *, const Bm__Event *), void *arg)
{
	size_t n = 0;
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t key[8];
	MDB_val k = { 8, key }, v;
	int rc;

	bm_put_be64(key, from);
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if ((rc = mdb_cursor_open(txn, db->dbi[T_OUTBOX], &cur)) != MDB_SUCCESS) {
		mdb_txn_abort(txn);
		return bm_mdb_errno(rc);
	}
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == MDB_SUCCESS && n < max;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__Event *e = bm__event__unpack(NULL, v.mv_size, v.mv_data);
		if (e) {
			n++;
			fn(arg, e);
			bm__event__free_unpacked(e, NULL);
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}
