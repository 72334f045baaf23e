/* The agent's outbox: sequence numbers, reading from a point, trimming what
 * the coordinator applied, and the bound: the oldest progress event goes
 * first (counted), a callback that says done or failed never does; the
 * view kept from sync (BMC passwords sealed in it), and the agent's
 * identity across reopening. */
#define _GNU_SOURCE /* memmem */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "rackdb.h"
#include "test_tmp.h"

struct fx {
	char dir[PATH_MAX];
	struct rackdb *db;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	th_tmpdir(f->dir, "outbox");
	assert_int_equal(rackdb_open(f->dir, &f->db), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	rackdb_close(f->db);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

static void
add(struct rackdb *db, Bm__EventKind kind, const char *detail)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 1 };
	struct rackdb_batch *b;
	assert_int_equal(rackdb_batch_begin(db, &b), 0);
	assert_int_equal(rackdb_event_add(b, kind, mac, 0, 1000, "rack12", detail), 0);
	assert_int_equal(rackdb_batch_commit(b), 0);
}

struct seen {
	char details[16][32];
	uint64_t seqs[16];
	size_t n;
};

static void
collect(void *arg, const Bm__Event *e)
{
	struct seen *s = arg;
	if (s->n < 16) {
		snprintf(s->details[s->n], sizeof(s->details[0]), "%s", e->detail);
		s->seqs[s->n++] = e->seq;
	}
}

static struct seen
outbox(struct rackdb *db)
{
	struct seen s = { 0 };
	assert_int_equal(rackdb_events_read(db, 0, collect, &s), 0);
	return s;
}

static void
test_bound(void **state)
{
	struct fx *f = *state;
	struct rackdb_stats st;
	struct seen s;

	rackdb_set_outbox_max(f->db, 3);
	add(f->db, BM__EVENT_KIND__EVENT_HTTP, "p1");
	add(f->db, BM__EVENT_KIND__EVENT_CALLBACK, "state=done");
	add(f->db, BM__EVENT_KIND__EVENT_HTTP, "p2");
	add(f->db, BM__EVENT_KIND__EVENT_HTTP, "p3"); /* full: p1 goes */
	s = outbox(f->db);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.details[0], "state=done");
	assert_string_equal(s.details[1], "p2");
	assert_string_equal(s.details[2], "p3");
	add(f->db, BM__EVENT_KIND__EVENT_CALLBACK, "state=failed reason=x"); /* p2 goes */
	s = outbox(f->db);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.details[0], "state=done");
	assert_string_equal(s.details[1], "p3");
	assert_string_equal(s.details[2], "state=failed reason=x");
	add(f->db, BM__EVENT_KIND__EVENT_CALLBACK, "state=done"); /* p3 goes */
	/* Only terminal callbacks left: none is dropped, the bound gives. */
	add(f->db, BM__EVENT_KIND__EVENT_CALLBACK, "state=done");
	s = outbox(f->db);
	assert_int_equal(s.n, 4);
	for (size_t i = 0; i < s.n; i++)
		assert_non_null(strstr(s.details[i], "state="));
	assert_int_equal(rackdb_stats_get(f->db, &st), 0);
	assert_int_equal(st.dropped, 3);
	/* Sequence numbers never repeat, whatever was dropped. */
	for (size_t i = 1; i < s.n; i++)
		assert_true(s.seqs[i] > s.seqs[i - 1]);
}

static void
test_trim_and_reopen(void **state)
{
	struct fx *f = *state;
	char id1[RACKDB_AGENT_ID_LEN + 1], id2[RACKDB_AGENT_ID_LEN + 1];
	struct seen s;

	for (int i = 0; i < 5; i++)
		add(f->db, BM__EVENT_KIND__EVENT_HTTP, "p");
	assert_int_equal(rackdb_events_trim(f->db, 3), 0);
	s = outbox(f->db);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seqs[0], 4);
	assert_int_equal(rackdb_agent_id(f->db, id1), 0);
	assert_int_equal(strlen(id1), RACKDB_AGENT_ID_LEN);
	rackdb_close(f->db);
	assert_int_equal(rackdb_open(f->dir, &f->db), 0);
	/* After reopening: the same identity, the next sequence after 5. */
	assert_int_equal(rackdb_agent_id(f->db, id2), 0);
	assert_string_equal(id1, id2);
	add(f->db, BM__EVENT_KIND__EVENT_HTTP, "q");
	s = outbox(f->db);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seqs[2], 6);
}

/* Everything acknowledged and trimmed, then a restart: the sequence goes
 * on past what the coordinator applied (restarting at 1 would make it drop
 * the new events as duplicates; found by raft_agents.sh). */
static void
test_empty_outbox_reopen(void **state)
{
	struct fx *f = *state;
	struct seen s;

	for (int i = 0; i < 4; i++)
		add(f->db, BM__EVENT_KIND__EVENT_HTTP, "p");
	assert_int_equal(rackdb_events_trim(f->db, 4), 0);
	assert_int_equal(outbox(f->db).n, 0);
	rackdb_close(f->db);
	assert_int_equal(rackdb_open(f->dir, &f->db), 0);
	add(f->db, BM__EVENT_KIND__EVENT_HTTP, "after");
	s = outbox(f->db);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seqs[0], 5);
}

static void
test_view(void **state)
{
	struct fx *f = *state;
	Bm__WatchResult w = BM__WATCH_RESULT__INIT;
	Bm__Object o1 = BM__OBJECT__INIT, o2 = BM__OBJECT__INIT, *puts[2] = { &o1, &o2 };
	Bm__ObjectRef del = BM__OBJECT_REF__INIT, *dels[1] = { &del };
	Bm__Rack rk = BM__RACK__INIT;
	Bm__Machine m = BM__MACHINE__INIT;
	Bm__Fleet *fl;
	uint64_t rev;

	rk.name = "rack12";
	m.name = "m1";
	m.rack = "rack12";
	o1.obj_case = BM__OBJECT__OBJ_RACK;
	o1.rack = &rk;
	o2.obj_case = BM__OBJECT__OBJ_MACHINE;
	o2.machine = &m;
	w.snapshot = 1;
	w.revision = 7;
	w.puts = puts;
	w.n_puts = 2;
	assert_int_equal(rackdb_view_apply(f->db, &w), 0);
	assert_int_equal(rackdb_view_revision(f->db, &rev), 0);
	assert_int_equal(rev, 7);
	/* Incremental: the machine deleted. */
	memset(&w, 0, sizeof(w));
	bm__watch_result__init(&w);
	del.kind = BM__KIND__KIND_MACHINE;
	del.name = "m1";
	w.revision = 9;
	w.deletes = dels;
	w.n_deletes = 1;
	assert_int_equal(rackdb_view_apply(f->db, &w), 0);
	assert_int_equal(rackdb_view_load(f->db, &fl), 0);
	assert_int_equal(fl->n_racks, 1);
	assert_int_equal(fl->n_machines, 0);
	bm__fleet__free_unpacked(fl, NULL);
	assert_int_equal(rackdb_view_revision(f->db, &rev), 0);
	assert_int_equal(rev, 9);
}

/* Does the file hold the bytes? */
static int
file_has(const char *path, const char *needle)
{
	FILE *fp = fopen(path, "rb");
	static char buf[1 << 20];
	size_t n;
	int found = 0;

	assert_non_null(fp);
	while ((n = fread(buf, 1, sizeof(buf), fp)) > 0 && !found)
		found = memmem(buf, n, needle, strlen(needle)) != NULL;
	fclose(fp);
	return found;
}

/* A machine's BMC password from the coordinator is kept sealed under the
 * agent's key: opened for the power driver, never in the data file. */
static void
test_view_password(void **state)
{
	struct fx *f = *state;
	Bm__WatchResult w = BM__WATCH_RESULT__INIT;
	Bm__Object o = BM__OBJECT__INIT, *puts[] = { &o };
	Bm__Machine m = BM__MACHINE__INIT;
	char path[PATH_MAX + 16], pw[BM_SECRET_MAX + 1];
	Bm__Fleet *fl;

	m.name = "m1";
	m.rack = "rack12";
	m.bmc = "ipmi://admin@10.12.1.1";
	m.bmc_password = "Zq8-not-in-the-file";
	m.bmc_password_set = 1;
	o.obj_case = BM__OBJECT__OBJ_MACHINE;
	o.machine = &m;
	w.snapshot = 1;
	w.revision = 3;
	w.puts = puts;
	w.n_puts = 1;
	assert_int_equal(rackdb_view_apply(f->db, &w), 0);
	assert_int_equal(rackdb_view_load(f->db, &fl), 0);
	assert_int_equal(fl->n_machines, 1);
	assert_string_equal(fl->machines[0]->bmc_password, "");
	assert_true(fl->machines[0]->bmc_sealed.len > 0);
	assert_int_equal(rackdb_bmc_password(f->db, fl->machines[0], pw), 19);
	assert_string_equal(pw, "Zq8-not-in-the-file");
	bm__fleet__free_unpacked(fl, NULL);
	snprintf(path, sizeof(path), "%s/rackdb/data.mdb", f->dir);
	assert_false(file_has(path, "Zq8-not-in-the-file"));
	assert_true(file_has(path, "ipmi://admin@10.12.1.1")); /* the search finds what is there */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_trim_and_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_outbox_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_password, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
