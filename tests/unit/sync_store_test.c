/* The coordinator's side of agent sync, on the store: registration, outbox
 * batches applied exactly once, discovered machines, the lifecycle moves of
 * boot progress, the event history, and the Watch answers per rack
 * (incremental, moves between racks, snapshots after compaction). */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store_helpers.h"
#include "watch.h"
#include "watch_index.h"

#define KM BM__KIND__KIND_MACHINE
#define OK BM__STATUS__STATUS_OK

static Bm__Status
reg(struct store *s, const char *id, const char *rack)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__AgentInfo info = BM__AGENT_INFO__INIT;
	struct store_result res;
	Bm__Status st;

	info.id = (char *)id;
	info.rack = (char *)rack;
	info.version = "test";
	cmd.op_case = BM__COMMAND__OP_AGENT_REGISTER;
	cmd.agent_register = &info;
	cmd.time_ms = 1000;
	assert_int_equal(th_apply(s, &cmd, &res), 0);
	st = res.status;
	store_result_fini(&res);
	return st;
}

struct ev {
	uint64_t seq;
	Bm__EventKind kind;
	uint8_t mac_last;
	const char *detail;
};

/* Report events of MACs 52:54:00:11:00:xx from agent `id`. */
static Bm__Status
report(struct store *s, const char *id, const struct ev *evs, size_t n)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__AgentEvents batch = BM__AGENT_EVENTS__INIT;
	Bm__Event e[16], *ep[16];
	uint8_t macs[16][6];
	struct store_result res;
	Bm__Status st;

	for (size_t i = 0; i < n; i++) {
		bm__event__init(&e[i]);
		memcpy(macs[i], (uint8_t[]){ 0x52, 0x54, 0, 0x11, 0, evs[i].mac_last }, 6);
		e[i].seq = evs[i].seq;
		e[i].time_ms = 5000 + evs[i].seq;
		e[i].kind = evs[i].kind;
		e[i].mac.data = macs[i];
		e[i].mac.len = 6;
		e[i].detail = (char *)evs[i].detail;
		ep[i] = &e[i];
	}
	batch.agent_id = (char *)id;
	batch.rack = "rack11";
	batch.events = ep;
	batch.n_events = n;
	cmd.op_case = BM__COMMAND__OP_AGENT_EVENTS;
	cmd.agent_events = &batch;
	assert_int_equal(th_apply(s, &cmd, &res), 0);
	st = res.status;
	store_result_fini(&res);
	return st;
}

static size_t
trace_len(struct store *s, uint8_t last)
{
	struct store_read *rd;
	Bm__Event **ev;
	size_t n;

	assert_int_equal(store_read_begin(s, &rd), 0);
	assert_int_equal(store_trace(rd, (uint8_t[]){ 0x52, 0x54, 0, 0x11, 0, last }, 0, &ev, &n),
	                 0);
	store_read_end(rd);
	store_events_free(ev, n);
	return n;
}

static uint64_t
applied(struct store *s, const char *id)
{
	Bm__Object *o = th_get(s, BM__KIND__KIND_AGENT, id);
	uint64_t v;
	assert_non_null(o);
	v = o->agent->events_applied;
	bm__object__free_unpacked(o, NULL);
	return v;
}

static Bm__MachineState
state_of(struct store *s, const char *name)
{
	Bm__Object *o = th_get(s, KM, name);
	Bm__MachineState st;
	assert_non_null(o);
	st = o->machine->state;
	bm__object__free_unpacked(o, NULL);
	return st;
}

static void
test_events_once(void **state)
{
	struct th_fx *f = *state;
	const struct ev b1[] = { { 1, BM__EVENT_KIND__EVENT_DHCP, 1, "DISCOVER -> OFFER" },
		                 { 2, BM__EVENT_KIND__EVENT_CALLBACK, 1, "state=done" } };
	const struct ev b2[] = { { 2, BM__EVENT_KIND__EVENT_CALLBACK, 1, "state=done" },
		                 { 3, BM__EVENT_KIND__EVENT_HTTP, 1, "GET /boot" } };

	assert_int_equal(report(f->s, "a1", b1, 2), BM__STATUS__STATUS_NOT_FOUND);
	assert_int_equal(trace_len(f->s, 1), 0);
	assert_int_equal(reg(f->s, "a1", "rack11"), OK);
	assert_int_equal(report(f->s, "a1", b1, 2), OK);
	assert_int_equal(applied(f->s, "a1"), 2);
	assert_int_equal(trace_len(f->s, 1), 2);
	/* The same batch again (a lost answer), then one overlapping it. */
	assert_int_equal(report(f->s, "a1", b1, 2), OK);
	assert_int_equal(trace_len(f->s, 1), 2);
	assert_int_equal(report(f->s, "a1", b2, 2), OK);
	assert_int_equal(trace_len(f->s, 1), 3);
	assert_int_equal(applied(f->s, "a1"), 3);
	/* Registering again keeps what was applied. */
	assert_int_equal(reg(f->s, "a1", "rack11"), OK);
	assert_int_equal(applied(f->s, "a1"), 3);
	/* A machine not in an operation does not move on a callback. */
	assert_int_equal(state_of(f->s, "r11n01"), BM__MACHINE_STATE__STATE_READY);
}

static void
test_discovered(void **state)
{
	struct th_fx *f = *state;
	const struct ev d[] = { { 1, BM__EVENT_KIND__EVENT_DISCOVERED, 0x99, "dhcp" },
		                { 2, BM__EVENT_KIND__EVENT_DISCOVERED, 0x01, "dhcp" } };
	Bm__Object *o;

	assert_int_equal(reg(f->s, "a1", "rack11"), OK);
	assert_int_equal(report(f->s, "a1", d, 2), OK);
	o = th_get(f->s, KM, "rack11-525400110099");
	assert_non_null(o);
	assert_string_equal(o->machine->rack, "rack11");
	assert_int_equal(o->machine->state, BM__MACHINE_STATE__STATE_NEW);
	bm__object__free_unpacked(o, NULL);
	/* A known MAC is not discovered twice. */
	assert_null(th_get(f->s, KM, "rack11-525400110001"));
	/* Declaring it in the fleet makes it ready. */
	th_apply_yaml_ok(f->s, "machines: [{name: rack11-525400110099, rack: rack11, "
	                       "mac: '52:54:00:11:00:99', profile: tiny}]\n");
	assert_int_equal(state_of(f->s, "rack11-525400110099"), BM__MACHINE_STATE__STATE_READY);
}

/* ------------------------------------------------------------- watch */

/* An index of every kept change up to rd's revision, as the fan-out
 * thread keeps it. */
static struct watch_index *
index_all(struct store_read *rd)
{
	uint64_t cur = store_read_revision(rd);
	Bm__ChangeSet **sets = calloc(cur ? cur : 1, sizeof(*sets));
	struct watch_index *x;

	assert_non_null(sets);
	for (uint64_t i = 0; i < cur; i++)
		if (store_changes_get(rd, i + 1, &sets[i]) < 0)
			sets[i] = NULL;
	assert_int_equal(watch_index_new(WATCH_INDEX_KEYS, WATCH_INDEX_ENTRIES, &x), 0);
	assert_int_equal(watch_index_add(x, 0, cur, sets, cur), 0);
	for (uint64_t i = 0; i < cur; i++)
		if (sets[i])
			bm__change_set__free_unpacked(sets[i], NULL);
	free(sets);
	return x;
}

/* The answer, built from the change log and from the index: the same
 * bytes. */
static Bm__WatchResult *
watch(struct store *s, const char *rack, uint64_t since)
{
	struct store_read *rd;
	struct watch_index *x;
	Bm__WatchResult *w, *wx;

	assert_int_equal(store_read_begin(s, &rd), 0);
	assert_int_equal(watch_build(rd, NULL, rack, since, &w), 0);
	x = index_all(rd);
	assert_int_equal(watch_build(rd, x, rack, since, &wx), 0);
	watch_index_free(x);
	store_read_end(rd);
	size_t len = bm__watch_result__get_packed_size(w);
	assert_int_equal(bm__watch_result__get_packed_size(wx), len);
	uint8_t *a = malloc(len + 1), *b = malloc(len + 1);
	assert_non_null(a);
	assert_non_null(b);
	bm__watch_result__pack(w, a);
	bm__watch_result__pack(wx, b);
	assert_memory_equal(a, b, len);
	free(a);
	free(b);
	watch_result_free(wx);
	return w;
}

static bool
has_put(const Bm__WatchResult *w, const char *machine)
{
	for (size_t i = 0; i < w->n_puts; i++)
		if (w->puts[i]->obj_case == BM__OBJECT__OBJ_MACHINE &&
		    !strcmp(w->puts[i]->machine->name, machine))
			return true;
	return false;
}

static bool
has_delete(const Bm__WatchResult *w, const char *machine)
{
	for (size_t i = 0; i < w->n_deletes; i++)
		if (w->deletes[i]->kind == KM && !strcmp(w->deletes[i]->name, machine))
			return true;
	return false;
}

static void
test_watch(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	Bm__WatchResult *w;
	uint64_t rev = th_revision(f->s);

	/* since 0: the rack's snapshot, its machines only. */
	w = watch(f->s, "rack11", 0);
	assert_true(w->snapshot);
	assert_int_equal(w->revision, rev);
	assert_true(has_put(w, "r11n01") && has_put(w, "r11n02"));
	assert_false(has_put(w, "r12n01"));
	watch_result_free(w);
	/* Nothing after the current revision: empty. */
	w = watch(f->s, "rack11", rev);
	assert_true(watch_result_empty(w));
	watch_result_free(w);
	/* A change in rack12 is nothing to rack11, a put to rack12. */
	assert_int_equal(th_apply_yaml(f->s,
	                               "machines: [{name: r12n02, rack: rack12, mac: "
	                               "'52:54:00:12:00:02'}]\n",
	                               &res),
	                 0);
	store_result_fini(&res);
	w = watch(f->s, "rack11", rev);
	assert_true(watch_result_empty(w));
	assert_int_equal(w->revision, rev + 1);
	watch_result_free(w);
	w = watch(f->s, "rack12", rev);
	assert_false(w->snapshot);
	assert_true(has_put(w, "r12n02"));
	assert_int_equal(w->n_puts, 1);
	watch_result_free(w);
	/* A machine moved from rack11 to rack12: a delete there, a put here. */
	assert_int_equal(th_apply_yaml(f->s,
	                               "machines: [{name: r11n02, rack: rack12, mac: "
	                               "'52:54:00:11:00:02', ip: 10.12.0.12}]\n",
	                               &res),
	                 0);
	assert_int_equal(res.status, OK);
	store_result_fini(&res);
	w = watch(f->s, "rack11", rev + 1);
	assert_true(has_delete(w, "r11n02"));
	assert_false(has_put(w, "r11n02"));
	watch_result_free(w);
	w = watch(f->s, "rack12", rev + 1);
	assert_true(has_put(w, "r11n02"));
	watch_result_free(w);
	/* A deleted machine: a delete. */
	assert_int_equal(th_delete(f->s, KM, "r11n01", &res), 0);
	store_result_fini(&res);
	w = watch(f->s, "rack11", rev + 2);
	assert_true(has_delete(w, "r11n01"));
	watch_result_free(w);
}

static void
test_watch_compacted(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	Bm__WatchResult *w;
	char yaml[160];
	uint64_t rev = th_revision(f->s);

	store_set_changes_retain(f->s, 3);
	for (int i = 0; i < 5; i++) {
		snprintf(yaml, sizeof(yaml),
		         "machines: [{name: x%d, rack: rack12, mac: '52:54:00:12:01:%02x'}]\n", i,
		         i);
		assert_int_equal(th_apply_yaml(f->s, yaml, &res), 0);
		store_result_fini(&res);
	}
	/* rev is older than the kept history: a snapshot. */
	w = watch(f->s, "rack11", rev);
	assert_true(w->snapshot);
	assert_true(has_put(w, "r11n01"));
	watch_result_free(w);
	/* An agent ahead of the coordinator (restored from a backup): too. */
	w = watch(f->s, "rack11", th_revision(f->s) + 10);
	assert_true(w->snapshot);
	watch_result_free(w);
	/* An unknown rack: an empty snapshot. */
	w = watch(f->s, "nosuch", 0);
	assert_true(w->snapshot);
	assert_int_equal(w->n_puts, 0);
	watch_result_free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_events_once, th_setup_base, th_teardown),
		cmocka_unit_test_setup_teardown(test_discovered, th_setup_base, th_teardown),
		cmocka_unit_test_setup_teardown(test_watch, th_setup_base, th_teardown),
		cmocka_unit_test_setup_teardown(test_watch_compacted, th_setup_base, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
