/* A reimage larger than OP_SLICE takes its machines a slice per tick
 * (store_op_intake.c), and an advance writes at most OP_SLICE machines a
 * command: the slices' counts and the writes of every command, the
 * admission bound across slices, a refusal found in the last slice of the
 * checks (nothing taken), a reimage queued behind one taking, a cancel in
 * the middle, 20,160 timeouts spread over three ticks, and the advance
 * after a machine ended deferred by the operation's size. Fleet: 205 racks
 * of 100 machines, racks r0..r199 max_booting 100, the rest the default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ops_helpers.h"

#define RACKS 205u
#define PER_RACK 100u
#define N (RACKS * PER_RACK)
#define SLICE 10000u /* OP_SLICE (store_priv.h) */
#define KO BM__KIND__KIND_OPERATION

static char *
fleet_yaml(void)
{
	size_t len = 1024 + RACKS * 160 + N * 110, k;
	char *y = malloc(len);

	assert_non_null(y);
	k = (size_t)snprintf(y, len,
	                     "sites: [{name: s}]\nimages: [{name: k, sha256: "
	                     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]\n"
	                     "profiles: [{name: p, kernel: k}]\nracks:\n");
	for (unsigned r = 0; r < RACKS; r++)
		k += (size_t)snprintf(y + k, len - k,
		                      "  - {name: r%u, site: s, subnet: 10.%u.%u.0/24, "
		                      "gateway: 10.%u.%u.1%s}\n",
		                      r, 100 + r / 200, r % 200, 100 + r / 200, r % 200,
		                      r < 200 ? ", max_booting: 100" : "");
	k += (size_t)snprintf(y + k, len - k, "machines:\n");
	for (unsigned i = 0; i < N; i++)
		k += (size_t)snprintf(
		    y + k, len - k,
		    "  - {name: r%u-m%u, rack: r%u, mac: \"52:54:00:%02x:%02x:%02x\", "
		    "profile: p}\n",
		    i / PER_RACK, i % PER_RACK, i / PER_RACK, (i >> 16) & 0xff, (i >> 8) & 0xff,
		    i & 0xff);
	return y;
}

/* The fleet, and every rack's agent holding k. */
static int
setup(void **state)
{
	char *y = fleet_yaml();
	struct th_fx *f;

	th_setup_with(state, y);
	free(y);
	f = *state;
	for (unsigned r = 0; r < RACKS; r++) {
		char id[16], rack[16];
		snprintf(id, sizeof(id), "a%u", r);
		snprintf(rack, sizeof(rack), "r%u", r);
		rack_agent_holds_k(f, id, rack, true);
	}
	return 0;
}

/* What a tick did: more to do at once, the operation whose intake it
 * ended, and how many machines it wrote. */
struct tick_out {
	bool more;
	char name[64];
	size_t machines;
};

static struct tick_out
tick_out(struct th_fx *f, uint64_t now)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	struct store_result res;
	struct tick_out o = { 0 };
	Bm__ChangeSet *cs;

	cmd.op_case = BM__COMMAND__OP_OP_TICK;
	cmd.op_tick = 1;
	cmd.time_ms = now;
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, OK);
	o.more = res.more;
	snprintf(o.name, sizeof(o.name), "%s", res.name);
	if ((cs = th_changes(f->s, res.revision))) {
		for (size_t i = 0; i < cs->n_changes; i++)
			o.machines += cs->changes[i]->kind == KM;
		bm__change_set__free_unpacked(cs, NULL);
	}
	store_result_fini(&res);
	return o;
}

/* Reimage one target; the operation's name into op; whether it takes its
 * machines later (taking). */
static bool
reimage_taking(struct th_fx *f, const char *target, uint64_t timeout, uint64_t now, char *op)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__ReimageRequest q = BM__REIMAGE_REQUEST__INIT;
	struct store_result res;
	char *t = (char *)target;
	bool more;

	q.targets = &t;
	q.n_targets = 1;
	q.timeout_ms = timeout;
	cmd.op_case = BM__COMMAND__OP_REIMAGE;
	cmd.reimage = &q;
	cmd.time_ms = now;
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	if (res.status != OK)
		fail_msg("reimage %s refused: %s", target, res.message);
	snprintf(op, 32, "%.31s", res.name);
	more = res.more;
	store_result_fini(&res);
	return more;
}

/* Tick until no intake goes on; the ticks it took. Each writes at most a
 * slice of machines; the one that ends an intake names its operation
 * (the last such name into ended). */
static unsigned
tick_intake(struct th_fx *f, uint64_t *t, char *ended)
{
	struct tick_out o;
	unsigned n = 0;

	do {
		o = tick_out(f, *t += 10);
		assert_true(o.machines <= SLICE);
		if (*o.name)
			snprintf(ended, 32, "%.31s", o.name);
		n++;
	} while (o.more && n < 100);
	return n;
}

/* Machines of operation op, and of those started, into the counts; per
 * rack, started at most its max_booting. */
static void
count_op(struct th_fx *f, const char *op, unsigned *mine, unsigned *started_n)
{
	*mine = *started_n = 0;
	for (unsigned r = 0; r < RACKS; r++) {
		unsigned rack_started = 0;
		for (unsigned i = 0; i < PER_RACK; i++) {
			char name[32];
			snprintf(name, sizeof(name), "r%u-m%u", r, i);
			Bm__Machine *m = machine(f, name);
			bool in = !strcmp(m->operation, op);
			*mine += in;
			rack_started += in && m->started_ms;
			bm__machine__free_unpacked(m, NULL);
		}
		assert_true(rack_started <= (r < 200 ? 100u : BM_MAX_BOOTING_DEFAULT));
		*started_n += rack_started;
	}
}

static void
test_slices(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;
	char op[32], ended[32] = "";
	unsigned mine, n_started;

	assert_true(reimage_taking(f, "site/s", 60000, t, op));
	Bm__Operation *o = operation(f, op);
	assert_true(o->taking);
	assert_int_equal(o->n_machines, N);
	bm__operation__free_unpacked(o, NULL);
	/* Three slices of checks, three of taking: six ticks. */
	assert_int_equal(tick_intake(f, &t, ended), 6);
	assert_string_equal(ended, op);
	o = operation(f, op);
	assert_false(o->taking);
	assert_int_equal(o->n_machines, N);
	assert_int_equal(o->state, BM__OP_STATE__OP_RUNNING);
	bm__operation__free_unpacked(o, NULL);
	count_op(f, op, &mine, &n_started);
	assert_int_equal(mine, N);
	/* Every rack as many as its max_booting, over slices. */
	assert_int_equal(n_started, 200 * 100 + 5 * BM_MAX_BOOTING_DEFAULT);
	/* All started ones time out at once: 20,160 failures over three
	 * ticks of at most a slice, then the last 160 start. */
	assert_int_equal(tick_intake(f, &t, ended), 1); /* nothing due yet */
	t += 60000;
	assert_int_equal(tick_intake(f, &t, ended), 3);
	assert_int_equal(mstate(f, "r0-m0"), S(FAILED));
	assert_int_equal(mstate(f, "r199-m99"), S(FAILED));
	assert_int_equal(mstate(f, "r204-m0"), S(FAILED));
	/* r204's next 32 in name order (m38, m39, m4, m40...) started. */
	assert_int_equal(mstate(f, "r204-m38"), S(REIMAGING));
	assert_int_not_equal(started(f, "r204-m38"), 0);
}

static void
test_refused_in_checks(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;
	char small[32], op[32], ended[32] = "";
	unsigned mine, n_started;

	/* r99-m99 sorts into the last slice of the checks. */
	assert_false(reimage_taking(f, "machine/r99-m99", 0, t, small));
	assert_true(reimage_taking(f, "site/s", 0, t, op));
	assert_int_equal(tick_intake(f, &t, ended), 3);
	assert_string_equal(ended, op);
	Bm__Operation *o = operation(f, op);
	assert_int_equal(o->state, BM__OP_STATE__OP_FAILED);
	assert_int_equal(o->refused, BM__STATUS__STATUS_PRECONDITION);
	assert_non_null(strstr(o->halt_reason, "machine r99-m99 is already in operation"));
	assert_non_null(strstr(o->halt_reason, small));
	assert_int_equal(o->n_machines, 0);
	bm__operation__free_unpacked(o, NULL);
	count_op(f, op, &mine, &n_started);
	assert_int_equal(mine, 0);
	assert_int_equal(mstate(f, "r0-m0"), S(READY));
}

/* A small reimage while a large one takes waits its turn, then checks
 * against every machine the large one took; a cancel in the middle of the
 * taking keeps what was taken. */
static void
test_queued_and_cancelled(void **state)
{
	struct th_fx *f = *state;
	Bm__Command cmd = BM__COMMAND__INIT;
	uint64_t t = T0;
	char big[32], small[32], ended[32] = "", msg[256];
	unsigned mine, n_started;

	assert_true(reimage_taking(f, "site/s", 0, t, big));
	assert_true(reimage_taking(f, "machine/r99-m99", 0, t, small));
	for (int i = 0; i < 4; i++) /* three checks, one slice taken */
		assert_true(tick_out(f, t += 10).more);
	cmd.op_case = BM__COMMAND__OP_OP_CANCEL;
	cmd.op_cancel = big;
	assert_int_equal(run(f->s, &cmd, t += 10, msg, NULL), OK);
	Bm__Operation *o = operation(f, big);
	assert_false(o->taking);
	assert_int_equal(o->n_machines, SLICE);
	bm__operation__free_unpacked(o, NULL);
	/* The first slice's racks (r0, r1, r10, r100...) boot 100 each: all
	 * started, and go on; none after it was taken. */
	count_op(f, big, &mine, &n_started);
	assert_int_equal(mine, SLICE);
	assert_int_equal(n_started, SLICE);
	Bm__Machine *m = machine(f, "r204-m99");
	assert_int_equal(m->state, S(READY));
	assert_string_equal(m->operation, "");
	bm__machine__free_unpacked(m, NULL);
	/* The small one's turn: its machine, never taken by the big one, is free. */
	assert_int_equal(tick_intake(f, &t, ended), 2);
	assert_string_equal(ended, small);
	assert_int_equal(op_state(f, small), BM__OP_STATE__OP_RUNNING);
	assert_int_equal(mstate(f, "r99-m99"), S(REIMAGING));
}

/* A machine of a large operation ends: the operation is advanced (the
 * next machine of the rack starts) not at the next tick but once its
 * record's share of OP_ADVANCE_BYTES_PER_S allows (~0.1 s for these
 * 20,500 machines); more endings meanwhile do not bring it sooner. */
static void
test_settle_deferred(void **state)
{
	struct th_fx *f = *state;
	const uint8_t m0[6] = { 0x52, 0x54, 0, 0, 0x4f, 0xb0 }; /* r204-m0: 20,400 */
	const uint8_t m1[6] = { 0x52, 0x54, 0, 0, 0x4f, 0xb1 }; /* r204-m1 */
	uint64_t t = T0, t_end;
	char op[32], ended[32] = "";

	assert_true(reimage_taking(f, "site/s", 0, t, op));
	tick_intake(f, &t, ended);
	assert_string_equal(ended, op);
	/* r204 boots 32 (m0, m1, m10..m19, m2, ... m37): m38 waits. */
	assert_int_not_equal(started(f, "r204-m0"), 0);
	assert_int_equal(started(f, "r204-m38"), 0);
	agent_event(f, "a204", m0, BM__EVENT_KIND__EVENT_POWER, "failed seq=1: no BMC", t += 10);
	assert_int_equal(mstate(f, "r204-m0"), S(FAILED));
	t_end = t;
	agent_event(f, "a204", m1, BM__EVENT_KIND__EVENT_POWER, "failed seq=1: no BMC", t += 10);
	tick_out(f, t += 10);
	assert_int_equal(started(f, "r204-m38"), 0); /* not yet */
	tick_out(f, t_end + 500);
	assert_int_not_equal(started(f, "r204-m38"), 0);
	assert_int_not_equal(started(f, "r204-m39"), 0);
	/* The rack's other 30 still boot: the next one waits, told why. */
	assert_int_equal(started(f, "r204-m4"), 0);
	assert_reason(f, "r204-m4", "queued: rack r204 has 32 machines booting");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slices, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_refused_in_checks, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_queued_and_cancelled, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_settle_deferred, setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
