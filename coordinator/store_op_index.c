/* The operations' machine index: what an advance needs to know without
 * reading every machine of its operation. Kept by every write and delete
 * of a machine record (st_op_index_update), rebuilt from the machines when
 * a store without it is opened. Two dupsort tables:
 *   DB_OP_INDEX  op '\0' tag -> value, per machine whose `operation` is op:
 *     'a' started, not finished: progress_ms (8 BE) name (the due order)
 *     'w' taken, not started, not finished: rack '\0' name
 *     'd' deployed: name       'f' failed: name
 *     (a machine set ready, cancelled before it started: none)
 *   DB_RACK_BOOTING  rack -> name, each machine between power-on and
 *     installing, of any operation: what max_booting bounds. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/wr.h"
#include "store_priv.h"

#define S(x) BM__MACHINE_STATE__STATE_##x

/* One index entry of a machine: its table, key and value. */
struct ix_entry {
	enum store_db db;
	char key[BM_NAME_MAX + 3];
	size_t klen;
	uint8_t val[2 * BM_NAME_MAX + 10];
	size_t vlen;
};

size_t
st_op_ix_key(char *key, const char *op, char tag)
{
	size_t n = strlen(op);

	memcpy(key, op, n + 1);
	key[n + 1] = tag;
	return n + 2;
}

static bool
booting(const Bm__Machine *m)
{
	return *m->operation && m->started_ms &&
	       (m->state == S(REIMAGING) || m->state == S(NETBOOTING));
}

static char
tag_of(const Bm__Machine *m)
{
	if (m->state == S(DEPLOYED))
		return 'd';
	if (m->state == S(FAILED))
		return 'f';
	if (m->state == S(READY))
		return 0;
	return m->started_ms ? 'a' : 'w';
}

/* m's entries (m may be NULL: none). Names longer than the index holds
 * are not indexed (the API refuses them: BM_NAME_MAX). */
static size_t
entries_of(const Bm__Machine *m, struct ix_entry e[2])
{
	size_t n = 0, nl, rl;
	char tag;

	if (!m || !*m->operation || (nl = strlen(m->name)) > BM_NAME_MAX ||
	    (rl = strlen(m->rack)) > BM_NAME_MAX || strlen(m->operation) > BM_NAME_MAX)
		return 0;
	if ((tag = tag_of(m))) {
		struct ix_entry *x = &e[n++];
		x->db = DB_OP_INDEX;
		x->klen = st_op_ix_key(x->key, m->operation, tag);
		x->vlen = 0;
		if (tag == 'a') {
			bm_put_be64(x->val, m->progress_ms);
			x->vlen = 8;
		} else if (tag == 'w') {
			memcpy(x->val, m->rack, rl + 1);
			x->vlen = rl + 1;
		}
		memcpy(x->val + x->vlen, m->name, nl);
		x->vlen += nl;
	}
	if (booting(m)) {
		struct ix_entry *x = &e[n++];
		x->db = DB_RACK_BOOTING;
		memcpy(x->key, m->rack, rl);
		x->klen = rl;
		memcpy(x->val, m->name, nl);
		x->vlen = nl;
	}
	return n;
}

static bool
entry_eq(const struct ix_entry *a, const struct ix_entry *b)
{
	return a->db == b->db && a->klen == b->klen && a->vlen == b->vlen &&
	       !memcmp(a->key, b->key, a->klen) && !memcmp(a->val, b->val, a->vlen);
}

static bool
entry_in(const struct ix_entry *x, const struct ix_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (entry_eq(x, &v[i]))
			return true;
	return false;
}

static int
entries_write(MDB_txn *txn, const MDB_dbi *dbi, const struct ix_entry *old, size_t no,
              const struct ix_entry *now, size_t nn)
{
	int r = 0;

	for (size_t i = 0; i < no && r == 0; i++)
		if (!entry_in(&old[i], now, nn))
			r = bm_mdb_del(txn, dbi[old[i].db], old[i].key, old[i].klen, old[i].val,
			               old[i].vlen);
	for (size_t i = 0; i < nn && r == 0; i++) {
		MDB_val k = { now[i].klen, (void *)now[i].key },
		        v = { now[i].vlen, (void *)now[i].val };
		int rc;
		if (entry_in(&now[i], old, no))
			continue;
		rc = mdb_put(txn, dbi[now[i].db], &k, &v, MDB_NODUPDATA);
		r = rc == MDB_KEYEXIST ? 0 : bm_mdb_errno(rc);
	}
	return r;
}

int
st_op_index_update(struct apply_ctx *c, const Bm__Machine *old, const Bm__Machine *now)
{
	struct ix_entry o[2], n[2];
	size_t no = entries_of(old, o), nn = entries_of(now, n);

	return entries_write(c->txn, c->s->dbi, o, no, n, nn);
}

/* Rebuild both tables from the machines (a store written before them). */
int
st_op_index_rebuild(MDB_txn *txn, const MDB_dbi *dbi)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, r = 0;

	if ((rc = mdb_drop(txn, dbi[DB_OP_INDEX], 0)) != MDB_SUCCESS ||
	    (rc = mdb_drop(txn, dbi[DB_RACK_BOOTING], 0)) != MDB_SUCCESS ||
	    (rc = mdb_cursor_open(txn, dbi[DB_MACHINES], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__Machine *m = bm__machine__unpack(NULL, v.mv_size, v.mv_data);
		struct ix_entry e[2];
		if (m)
			r = entries_write(txn, dbi, NULL, 0, e, entries_of(m, e));
		st_free(m);
	}
	mdb_cursor_close(cur);
	return r;
}

/* ------------------------------------------------------------- queries */

/* The key op '\0' tag in k (over buf, BM_NAME_MAX + 3), or false for a
 * name too long to have been indexed (then it has nothing). */
static bool
op_key(MDB_val *k, char *buf, const char *op, char tag)
{
	if (strlen(op) > BM_NAME_MAX)
		return false;
	k->mv_size = st_op_ix_key(buf, op, tag);
	k->mv_data = buf;
	return true;
}

static int
dup_count(struct apply_ctx *c, enum store_db db, const void *key, size_t klen, size_t *ret)
{
	MDB_cursor *cur;
	MDB_val k = { klen, (void *)key }, v;
	size_t n = 0;
	int rc;

	*ret = 0;
	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[db], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	if (rc == MDB_SUCCESS)
		rc = mdb_cursor_count(cur, &n);
	mdb_cursor_close(cur);
	*ret = n;
	return rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

int
st_op_ix_count(struct apply_ctx *c, const char *op, char tag, size_t *ret)
{
	char key[BM_NAME_MAX + 3];
	MDB_val k;

	*ret = 0;
	return op_key(&k, key, op, tag) ? dup_count(c, DB_OP_INDEX, k.mv_data, k.mv_size, ret) : 0;
}

int
st_rack_booting(struct apply_ctx *c, const char *rack, size_t *ret)
{
	return dup_count(c, DB_RACK_BOOTING, rack, strlen(rack), ret);
}

int
st_op_ix_has(struct apply_ctx *c, const char *op, char tag, const char *name)
{
	char key[BM_NAME_MAX + 3];
	MDB_val k, v = { strlen(name), (void *)name };
	MDB_cursor *cur;
	int rc;

	if (!op_key(&k, key, op, tag))
		return 0;
	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_OP_INDEX], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
	mdb_cursor_close(cur);
	return rc == MDB_SUCCESS ? 1 : rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

void
st_op_ix_list_free(struct op_ix_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	free(l->len);
	*l = (struct op_ix_list){ 0 };
}

static int
list_add(struct op_ix_list *l, const MDB_val *v)
{
	char **nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	size_t *nl = nv ? realloc(l->len, (l->n + 1) * sizeof(*nl)) : NULL;
	char *s = nl ? malloc(v->mv_size + 1) : NULL;

	if (nv)
		l->v = nv;
	if (nl)
		l->len = nl;
	if (!s)
		return -ENOMEM;
	memcpy(s, v->mv_data, v->mv_size);
	s[v->mv_size] = '\0';
	l->v[l->n] = s;
	l->len[l->n++] = v->mv_size;
	return 0;
}

int
st_op_ix_list(struct apply_ctx *c, const char *op, char tag, const void *from, size_t flen,
              size_t max, bool (*keep)(const MDB_val *v, void *arg), void *arg,
              struct op_ix_list *out)
{
	char key[BM_NAME_MAX + 3];
	MDB_cursor *cur;
	MDB_val k, v = { flen, (void *)from };
	int rc, r = 0;

	*out = (struct op_ix_list){ 0 };
	if (!op_key(&k, key, op, tag))
		return 0;
	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_OP_INDEX], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = flen ? mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE)
	          : mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
	for (; rc == MDB_SUCCESS && r == 0 && out->n < max && (!keep || keep(&v, arg));
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP))
		r = list_add(out, &v);
	mdb_cursor_close(cur);
	if (r == 0 && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		r = bm_mdb_errno(rc);
	if (r < 0)
		st_op_ix_list_free(out);
	return r;
}
