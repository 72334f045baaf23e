/* The operations' machine index (store_op_index.c) is what every advance
 * reads instead of every machine of its operation. After each kind of
 * write (a reimage, events, a timeout, a cancel, a delete, a machine moved
 * to another rack, an operation forgotten, a resume) the index equals the
 * one rebuilt from the machines, and holds what the step should: a store
 * opened without it (written before it existed) gets it rebuilt. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bm/mdb.h"
#include "bm/netaddr.h"
#include "ops_helpers.h"
#include "store_priv.h"

/* rack11 (m1..m6, max_booting 3) and rack12 (n1..n3, max_booting 2). */
static const char rack12[] =
    "racks:\n"
    "  - {name: rack12, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1, max_booting: 2}\n"
    "machines:\n"
    "  - {name: n1, rack: rack12, mac: '52:54:00:12:00:01', profile: tiny}\n"
    "  - {name: n2, rack: rack12, mac: '52:54:00:12:00:02', profile: tiny}\n"
    "  - {name: n3, rack: rack12, mac: '52:54:00:12:00:03', profile: tiny}\n";

static int
setup(void **state)
{
	int r = th_setup_with(state, ops_rack11_fleet);
	if (r == 0) {
		th_apply_yaml_ok(((struct th_fx *)*state)->s, rack12);
		agent_holds_k(*state, true);
		rack_agent_holds_k(*state, "a2", "rack12", true);
	}
	return r;
}

/* Both index tables as bytes: every (key, value) in order. */
struct dump {
	uint8_t *b;
	size_t n;
};

static void
dump_add(struct dump *d, const MDB_val *v)
{
	uint32_t len = (uint32_t)v->mv_size;
	d->b = realloc(d->b, d->n + 4 + v->mv_size);
	assert_non_null(d->b);
	memcpy(d->b + d->n, &len, 4);
	memcpy(d->b + d->n + 4, v->mv_data, v->mv_size);
	d->n += 4 + v->mv_size;
}

static size_t
dump_tables(MDB_txn *txn, const MDB_dbi *dbi, struct dump *d)
{
	enum store_db dbs[] = { DB_OP_INDEX, DB_RACK_BOOTING };
	size_t entries = 0;

	for (size_t i = 0; i < 2; i++) {
		MDB_cursor *cur;
		MDB_val k, v;
		assert_int_equal(mdb_cursor_open(txn, dbi[dbs[i]], &cur), MDB_SUCCESS);
		for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
		     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT), entries++) {
			dump_add(d, &k);
			dump_add(d, &v);
		}
		mdb_cursor_close(cur);
	}
	return entries;
}

/* The index as kept equals the index rebuilt from the machines (in a
 * transaction that is then dropped). Returns its entries. */
static size_t
assert_index_consistent(struct th_fx *f)
{
	struct dump kept = { 0 }, built = { 0 };
	MDB_txn *txn;
	size_t n;

	assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), MDB_SUCCESS);
	n = dump_tables(txn, f->s->dbi, &kept);
	assert_int_equal(st_op_index_rebuild(txn, f->s->dbi), 0);
	assert_int_equal(dump_tables(txn, f->s->dbi, &built), n);
	mdb_txn_abort(txn);
	assert_int_equal(kept.n, built.n);
	assert_memory_equal(kept.b, built.b, kept.n);
	free(kept.b);
	free(built.b);
	return n;
}

/* Entries under key of table db. */
static size_t
dups(struct th_fx *f, enum store_db db, const char *op, char tag)
{
	char key[BM_NAME_MAX + 3];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, v;
	size_t n = 0;

	k.mv_data = key;
	k.mv_size = tag ? st_op_ix_key(key, op, tag) : strlen(op);
	if (!tag)
		memcpy(key, op, k.mv_size);
	assert_int_equal(mdb_txn_begin(f->s->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
	assert_int_equal(mdb_cursor_open(txn, f->s->dbi[db], &cur), MDB_SUCCESS);
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == MDB_SUCCESS)
		assert_int_equal(mdb_cursor_count(cur, &n), MDB_SUCCESS);
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}

#define OPIX(op, tag) dups(f, DB_OP_INDEX, op, tag)
#define BOOTING(rack) dups(f, DB_RACK_BOOTING, rack, 0)

static const uint8_t n1_mac[6] = { 0x52, 0x54, 0, 0x12, 0, 1 };

/* Reimage rack11 (m1..m4) with a canary of one; m1 fails: halted, the
 * others told. */
static void
canary_fails(struct th_fx *f, uint64_t *t, char *op)
{
	Bm__ReimageRequest q = BM__REIMAGE_REQUEST__INIT;
	char *target = "rack11";

	q.targets = &target;
	q.n_targets = 1;
	q.canary = 1;
	assert_int_equal(reimage_q(f, &q, *t += 1000, NULL, op), OK);
	assert_int_equal(OPIX(op, 'a'), 1);
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=failed reason=bad", *t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_HALTED);
	assert_reason(f, "m4", "held: the operation halted (canary m1 failed: bad)");
	assert_index_consistent(f);
}

static void
test_kept_through_every_write(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	uint64_t t = T0;
	char op[32], op2[32];

	/* Taken: three of rack11 and two of rack12 start (max_booting). */
	assert_int_equal(reimage(f, "", 0, 60000, t, NULL, op, "rack/rack11", "rack/rack12"), OK);
	assert_int_equal(OPIX(op, 'a'), 5);
	assert_int_equal(OPIX(op, 'w'), 4);
	assert_int_equal(BOOTING("rack11"), 3);
	assert_int_equal(BOOTING("rack12"), 2);
	assert_int_equal(assert_index_consistent(f), 5 + 4 + 5);
	/* m1 installs (its slot frees: m4 starts), n1 fails (n3 starts). */
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=started", t += 1000);
	agent_event(f, "a2", n1_mac, BM__EVENT_KIND__EVENT_CALLBACK, "state=failed reason=disk",
	            t += 1000);
	assert_int_not_equal(started(f, "m4"), 0);
	assert_int_not_equal(started(f, "n3"), 0);
	assert_int_equal(OPIX(op, 'f'), 1);
	assert_int_equal(BOOTING("rack11"), 3);
	assert_int_equal(BOOTING("rack12"), 2);
	assert_index_consistent(f);
	/* m6 deleted while it waits; m5 moved to rack12, where it waits. */
	assert_int_equal(th_delete(f->s, KM, "m6", &res), 0);
	assert_int_equal(res.status, OK);
	store_result_fini(&res);
	assert_int_equal(OPIX(op, 'w'), 1);
	th_apply_yaml_ok(f->s, "machines: [{name: m5, rack: rack12, mac: '52:54:00:11:00:05', "
	                       "profile: tiny}]\n");
	assert_index_consistent(f);
	/* m1 deploys; the rest time out; the operation ends failed. */
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", t += 1000);
	assert_int_equal(OPIX(op, 'd'), 1);
	tick(f, t += 61000);
	tick(f, t += 61000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_FAILED);
	assert_int_equal(OPIX(op, 'a') + OPIX(op, 'w'), 0);
	assert_int_equal(BOOTING("rack11") + BOOTING("rack12"), 0);
	assert_index_consistent(f);
	/* Forgotten (bmctl delete operation): its machines keep its name, and
	 * so their entries, until the next operation takes them. */
	assert_int_equal(th_delete(f->s, BM__KIND__KIND_OPERATION, op, &res), 0);
	assert_int_equal(res.status, OK);
	store_result_fini(&res);
	assert_int_equal(OPIX(op, 'd'), 1);
	assert_index_consistent(f);
	/* A canary that fails halts the next; a cancel readies the waiting
	 * machines; again, and a resume starts them. */
	canary_fails(f, &t, op2);
	assert_int_equal(OPIX(op, 'd'), 0); /* m1 is op2's now */
	assert_int_equal(OPIX(op2, 'w'), 3);
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_CANCEL, op2, t += 1000, NULL), OK);
	assert_int_equal(OPIX(op2, 'w'), 0);
	assert_int_equal(mstate(f, "m2"), S(READY));
	assert_int_equal(op_state(f, op2), BM__OP_STATE__OP_CANCELLED);
	assert_index_consistent(f);
	canary_fails(f, &t, op2);
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_RESUME, op2, t += 1000, NULL), OK);
	assert_int_equal(OPIX(op2, 'a'), 3);
	assert_int_equal(OPIX(op2, 'w'), 0);
	assert_int_equal(BOOTING("rack11"), 3);
	assert_index_consistent(f);
}

/* A store written before the index: opened, it is rebuilt. */
static void
test_rebuilt_on_open(void **state)
{
	struct th_fx *f = *state;
	struct dump before = { 0 }, after = { 0 };
	MDB_txn *txn;
	char op[32];
	size_t n;

	assert_int_equal(reimage(f, "", 0, 0, T0, NULL, op, "rack/rack11", "rack/rack12"), OK);
	assert_int_equal(mdb_txn_begin(f->s->env, NULL, 0, &txn), MDB_SUCCESS);
	n = dump_tables(txn, f->s->dbi, &before);
	assert_int_equal(n, 5 + 4 + 5);
	assert_int_equal(mdb_drop(txn, f->s->dbi[DB_OP_INDEX], 0), MDB_SUCCESS);
	assert_int_equal(mdb_drop(txn, f->s->dbi[DB_RACK_BOOTING], 0), MDB_SUCCESS);
	assert_int_equal(bm_mdb_del(txn, f->s->dbi[DB_META], "op_index", 8, NULL, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), MDB_SUCCESS);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, 0, &f->s), 0);
	assert_int_equal(mdb_txn_begin(f->s->env, NULL, MDB_RDONLY, &txn), MDB_SUCCESS);
	assert_int_equal(dump_tables(txn, f->s->dbi, &after), n);
	mdb_txn_abort(txn);
	assert_memory_equal(before.b, after.b, before.n);
	free(before.b);
	free(after.b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_kept_through_every_write, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_rebuilt_on_open, setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
