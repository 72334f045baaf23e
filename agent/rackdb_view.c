/* The rack view kept from the coordinator (table view: kind byte + name ->
 * record), its revision and the agent's identity (table meta), and the
 * outbox as the sync thread reads and trims it. */
#include <errno.h>
#include <lmdb.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "rackdb_priv.h"

#define VIEW_KEY_MAX 128u

int
rackdb_agent_id(struct rackdb *db, char out[RACKDB_AGENT_ID_LEN + 1])
{
	MDB_txn *txn;
	MDB_val k = { 8, "agent_id" }, v;
	uint8_t rnd[RACKDB_AGENT_ID_LEN / 2];
	int rc, r = 0;

	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = mdb_get(txn, db->dbi[T_META], &k, &v);
	if (rc == MDB_SUCCESS && v.mv_size == RACKDB_AGENT_ID_LEN) {
		memcpy(out, v.mv_data, RACKDB_AGENT_ID_LEN);
		out[RACKDB_AGENT_ID_LEN] = '\0';
		mdb_txn_abort(txn);
		return 0;
	}
	/* First start (or a wiped data dir): a new identity, so that the
	 * coordinator never takes this outbox's sequence numbers for a resend
	 * of another's. */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		r = -EIO;
	for (size_t i = 0; r == 0 && i < sizeof(rnd); i++)
		snprintf(out + 2 * i, 3, "%02x", rnd[i]);
	v = (MDB_val){ RACKDB_AGENT_ID_LEN, out };
	if (r == 0 && (r = bm_mdb_errno(mdb_put(txn, db->dbi[T_META], &k, &v, 0))) == 0)
		return rackdb_commit_durable(db, txn);
	mdb_txn_abort(txn);
	return r;
}

int
rackdb_view_revision(struct rackdb *db, uint64_t *ret)
{
	MDB_txn *txn;
	int rc, r;

	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	r = bm_mdb_get_u64(txn, db->dbi[T_META], "view_revision", ret);
	mdb_txn_abort(txn);
	return r;
}

static size_t
view_key(uint8_t *k, Bm__Kind kind, const char *name)
{
	size_t n = strnlen(name, VIEW_KEY_MAX - 1);
	k[0] = (uint8_t)kind;
	memcpy(k + 1, name, n);
	return n + 1;
}

/* The record inside an Object, and its kind and name. */
static const ProtobufCMessage *
object_record(const Bm__Object *o, Bm__Kind *kind, const char **name)
{
	switch (o->obj_case) {
	case BM__OBJECT__OBJ_SITE:
		*kind = BM__KIND__KIND_SITE, *name = o->site->name;
		return &o->site->base;
	case BM__OBJECT__OBJ_RACK:
		*kind = BM__KIND__KIND_RACK, *name = o->rack->name;
		return &o->rack->base;
	case BM__OBJECT__OBJ_MACHINE:
		*kind = BM__KIND__KIND_MACHINE, *name = o->machine->name;
		return &o->machine->base;
	case BM__OBJECT__OBJ_PROFILE:
		*kind = BM__KIND__KIND_PROFILE, *name = o->profile->name;
		return &o->profile->base;
	case BM__OBJECT__OBJ_IMAGE:
		*kind = BM__KIND__KIND_IMAGE, *name = o->image->name;
		return &o->image->base;
	default: return NULL;
	}
}

static int
view_clear(MDB_txn *txn, struct rackdb *db)
{
	return bm_mdb_errno(mdb_drop(txn, db->dbi[T_VIEW], 0));
}

/* Put a machine with its password sealed under the agent's key. */
static int
put_machine(struct rackdb *db, MDB_txn *txn, uint8_t *key, size_t klen, const Bm__Machine *m)
{
	uint8_t sealed[BM_SECRET_MAX + BM_SEAL_OVERHEAD];
	size_t n = strlen(m->bmc_password);
	Bm__Machine c = *m;
	int r;

	if (!n)
		return bm_mdb_put_msg(txn, db->dbi[T_VIEW], key, klen, &m->base);
	if (n > BM_SECRET_MAX || bm_seal(db->seal_key, m->name, m->bmc_password, n, sealed) < 0)
		return -EINVAL;
	c.bmc_password = (char *)protobuf_c_empty_string;
	c.bmc_sealed = (ProtobufCBinaryData){ n + BM_SEAL_OVERHEAD, sealed };
	r = bm_mdb_put_msg(txn, db->dbi[T_VIEW], key, klen, &c.base);
	OPENSSL_cleanse(sealed, sizeof(sealed));
	return r;
}

int
rackdb_bmc_password(struct rackdb *db, const Bm__Machine *m, char *out)
{
	out[0] = '\0';
	if (m->bmc_sealed.len)
		return bm_unseal(db->seal_key, m->name, m->bmc_sealed.data, m->bmc_sealed.len, out);
	if (strlen(m->bmc_password) > BM_SECRET_MAX)
		return -EBADMSG;
	snprintf(out, BM_SECRET_MAX + 1, "%s", m->bmc_password);
	return (int)strlen(out);
}

int
rackdb_view_apply(struct rackdb *db, const Bm__WatchResult *w)
{
	MDB_txn *txn;
	uint8_t key[VIEW_KEY_MAX];
	int rc, r = 0;

	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if (w->snapshot)
		r = view_clear(txn, db);
	for (size_t i = 0; i < w->n_deletes && r == 0; i++) {
		MDB_val k = { view_key(key, w->deletes[i]->kind, w->deletes[i]->name), key };
		rc = mdb_del(txn, db->dbi[T_VIEW], &k, NULL);
		r = rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
	}
	for (size_t i = 0; i < w->n_puts && r == 0; i++) {
		Bm__Kind kind;
		const char *name;
		const ProtobufCMessage *rec = object_record(w->puts[i], &kind, &name);
		if (rec && kind == BM__KIND__KIND_MACHINE)
			r = put_machine(db, txn, key, view_key(key, kind, name),
			                w->puts[i]->machine);
		else if (rec)
			r = bm_mdb_put_msg(txn, db->dbi[T_VIEW], key, view_key(key, kind, name),
			                   rec);
	}
	if (r == 0)
		r = bm_mdb_put_u64(txn, db->dbi[T_META], "view_revision", w->revision);
	if (r < 0) {
		mdb_txn_abort(txn);
		return r;
	}
	/* Not synced whole: a cache of the coordinator's (see rackdb_priv.h). */
	return bm_mdb_errno(mdb_txn_commit(txn));
}

/* Append a record to the fleet's array of its kind. */
static int
fleet_add(Bm__Fleet *f, Bm__Kind kind, const MDB_val *v)
{
	static const struct {
		const ProtobufCMessageDescriptor *d;
		size_t n_off, arr_off;
	} t[] = {
		[BM__KIND__KIND_SITE] = { &bm__site__descriptor, offsetof(Bm__Fleet, n_sites),
		                          offsetof(Bm__Fleet, sites) },
		[BM__KIND__KIND_RACK] = { &bm__rack__descriptor, offsetof(Bm__Fleet, n_racks),
		                          offsetof(Bm__Fleet, racks) },
		[BM__KIND__KIND_IMAGE] = { &bm__image__descriptor, offsetof(Bm__Fleet, n_images),
		                           offsetof(Bm__Fleet, images) },
		[BM__KIND__KIND_PROFILE] = { &bm__profile__descriptor,
		                             offsetof(Bm__Fleet, n_profiles),
		                             offsetof(Bm__Fleet, profiles) },
		[BM__KIND__KIND_MACHINE] = { &bm__machine__descriptor,
		                             offsetof(Bm__Fleet, n_machines),
		                             offsetof(Bm__Fleet, machines) },
	};
	size_t *n;
	void ***arr, **nv;
	ProtobufCMessage *m;

	if ((unsigned)kind >= sizeof(t) / sizeof(t[0]) || !t[kind].d)
		return 0; /* a kind this agent does not know: ignored */
	if (!(m = protobuf_c_message_unpack(t[kind].d, NULL, v->mv_size, v->mv_data)))
		return 0; /* unreadable: skipped */
	n = (size_t *)((char *)f + t[kind].n_off);
	arr = (void ***)((char *)f + t[kind].arr_off);
	if (!(nv = realloc(*arr, (*n + 1) * sizeof(void *)))) {
		protobuf_c_message_free_unpacked(m, NULL);
		return -ENOMEM;
	}
	*arr = nv;
	nv[(*n)++] = m;
	return 0;
}

int
rackdb_view_load(struct rackdb *db, Bm__Fleet **ret)
{
	Bm__Fleet *f = malloc(sizeof(*f));
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	int rc, r = 0;

	if (!f)
		return -ENOMEM;
	bm__fleet__init(f);
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS ||
	    (rc = mdb_cursor_open(txn, db->dbi[T_VIEW], &cur)) != MDB_SUCCESS)
		r = bm_mdb_errno(rc);
	for (rc = r ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	     rc == MDB_SUCCESS && r == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if (k.mv_size > 1)
			r = fleet_add(f, (Bm__Kind)((uint8_t *)k.mv_data)[0], &v);
	if (cur)
		mdb_cursor_close(cur);
	if (txn)
		mdb_txn_abort(txn);
	if (r < 0) {
		bm__fleet__free_unpacked(f, NULL);
		return r;
	}
	*ret = f;
	return 0;
}

int
rackdb_events_trim(struct rackdb *db, uint64_t upto)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, r;

	if ((rc = mdb_txn_begin(db->env, NULL, 0, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if ((rc = mdb_cursor_open(txn, db->dbi[T_OUTBOX], &cur)) != MDB_SUCCESS) {
		mdb_txn_abort(txn);
		return bm_mdb_errno(rc);
	}
	uint64_t n = 0;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
	     rc == MDB_SUCCESS && k.mv_size == 8 && bm_get_be64(k.mv_data) <= upto;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = mdb_cursor_del(cur, 0)) != MDB_SUCCESS)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	r = rc == MDB_SUCCESS || rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
	if (r == 0)
		r = bm_mdb_put_u64(txn, db->dbi[T_META], "events_acked", upto);
	if (r < 0) {
		mdb_txn_abort(txn);
		return r;
	}
	/* Not made durable on its own (one sync, not two): a trim a crash
	 * undoes only sends those events again, which the coordinator drops
	 * by sequence; the next durable commit (an event) keeps it too. */
	if ((r = bm_mdb_errno(mdb_txn_commit(txn))) == 0)
		db->outbox_n -= n;
	return r;
}

static void
power_key(char out[16], const uint8_t mac[6], bool req)
{
	memcpy(out, req ? "powrq/" : "power/", 6);
	memcpy(out + 6, mac, 6);
	out[12] = '\0';
}

int
rackdb_power_done(struct rackdb *db, const uint8_t mac[6], bool req, uint64_t *ret_seq)
{
	MDB_txn *txn;
	char key[16];
	MDB_val k = { 12, key }, v;
	int rc;

	power_key(key, mac, req);
	*ret_seq = 0;
	if ((rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if (mdb_get(txn, db->dbi[T_META], &k, &v) == MDB_SUCCESS && v.mv_size == 8)
		*ret_seq = bm_get_be64(v.mv_data);
	mdb_txn_abort(txn);
	return 0;
}

int
rackdb_power_record(struct rackdb_batch *b, const uint8_t mac[6], bool req, uint64_t seq)
{
	char key[16];
	uint8_t val[8];
	MDB_val k = { 12, key }, v = { 8, val };

	power_key(key, mac, req);
	bm_put_be64(val, seq);
	return bm_mdb_errno(mdb_put(b->txn, b->db->dbi[T_META], &k, &v, 0));
}
