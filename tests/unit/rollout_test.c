/* Safe rollouts in the state machine: a canary that fails halts the
 * operation before the rest start, --max-failures (a count or a %) halts
 * it, resume goes on and forgives, cancel ends a halted one; and each
 * rack's max_booting bounds the machines between power-on and installing
 * across operations; and a large operation is advanced only when it can
 * change. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ops_helpers.h"

static int
setup_rollout(void **state)
{
	int r = th_setup_with(state, ops_rack11_fleet);
	if (r == 0)
		agent_holds_k(*state, true);
	return r;
}

/* Reimage rack11 with a canary and a failure limit (count or %). */
static Bm__Status
rollout(struct th_fx *f, uint32_t canary, uint32_t max_failures, uint32_t pct, uint64_t now,
        char *op)
{
	Bm__ReimageRequest q = BM__REIMAGE_REQUEST__INIT;
	char *target = "rack11";

	q.targets = &target;
	q.n_targets = 1;
	q.canary = canary;
	q.max_failures = max_failures;
	q.max_failures_pct = pct;
	return reimage_q(f, &q, now, NULL, op);
}

static unsigned
n_started(struct th_fx *f, int from, int to)
{
	unsigned n = 0;
	char name[8];
	for (int i = from; i <= to; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		n += started(f, name) != 0;
	}
	return n;
}

/* A canary fails: the operation halts with its reason, the rest never
 * start (a bad image takes down no more than the canary), the machine in
 * flight finishes; resume goes on within max_booting and completes. */
static void
test_canary_halts_resume(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;
	char op[32], msg[256];
	Bm__Operation *o;

	assert_int_equal(rollout(f, 2, 0, 0, t, op), OK);
	assert_int_equal(n_started(f, 1, 2), 2);
	assert_int_equal(n_started(f, 3, 6), 0);
	assert_reason(f, "m3", "held: waiting for the canary (2 machines) to deploy");
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_RESUME, op, t, msg),
	                 BM__STATUS__STATUS_PRECONDITION);
	assert_non_null(strstr(msg, "not halted"));
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=failed reason=bad image", t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_HALTED);
	o = operation(f, op);
	assert_string_equal(o->halt_reason, "canary m1 failed: bad image");
	bm__operation__free_unpacked(o, NULL);
	tick(f, t += 1000);
	assert_int_equal(n_started(f, 3, 6), 0);
	assert_reason(f, "m4", "held: the operation halted (canary m1 failed: bad image)");
	/* The other canary was in flight: it finishes; the op stays halted. */
	event(f, 2, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", t += 1000);
	assert_int_equal(mstate(f, "m2"), S(DEPLOYED));
	tick(f, t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_HALTED);
	/* Resume: three start (max_booting 3), the fourth waits for the rack. */
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_RESUME, op, t += 1000, NULL), OK);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_RUNNING);
	assert_int_equal(n_started(f, 3, 5), 3);
	assert_int_equal(started(f, "m6"), 0);
	assert_reason(f, "m6", "queued: rack rack11 has 3 machines booting (max_booting 3)");
	/* Past DHCP is still booting; at installing, the slot frees. */
	event(f, 3, BM__EVENT_KIND__EVENT_DHCP, "DISCOVER -> OFFER", t += 1000);
	tick(f, t += 1000);
	assert_int_equal(started(f, "m6"), 0);
	event(f, 3, BM__EVENT_KIND__EVENT_CALLBACK, "state=started", t += 1000);
	tick(f, t += 1000);
	assert_int_not_equal(started(f, "m6"), 0);
	for (uint8_t i = 3; i <= 6; i++)
		event(f, i, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", t += 1000);
	/* Completed: failed, for the canary that failed. */
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_FAILED);
	assert_int_equal(mstate(f, "m6"), S(DEPLOYED));
}

/* --max-failures: the second failure halts it; resume forgives those two;
 * a cancel of a halted operation ends it. A % is of the machines, rounded
 * up. */
static void
test_max_failures(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;
	char op[32];
	Bm__Operation *o;

	assert_int_equal(rollout(f, 0, 2, 0, t, op), OK);
	assert_int_equal(n_started(f, 1, 6), 3);
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=failed reason=disk", t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_RUNNING);
	assert_int_equal(n_started(f, 1, 6), 4); /* m4 took m1's place */
	event(f, 2, BM__EVENT_KIND__EVENT_CALLBACK, "state=failed reason=disk", t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_HALTED);
	o = operation(f, op);
	assert_string_equal(o->halt_reason, "2 machines failed (max-failures 2)");
	bm__operation__free_unpacked(o, NULL);
	assert_int_equal(n_started(f, 1, 6), 4);
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_RESUME, op, t += 1000, NULL), OK);
	o = operation(f, op);
	assert_int_equal(o->failures_forgiven, 2);
	bm__operation__free_unpacked(o, NULL);
	assert_int_equal(n_started(f, 1, 6), 5);
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_CANCEL, op, t += 1000, NULL), OK);
	assert_int_equal(mstate(f, "m6"), S(READY));
	for (uint8_t i = 3; i <= 5; i++)
		event(f, i, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_CANCELLED);
	/* 50% of 6: 3. */
	assert_int_equal(rollout(f, 0, 0, 50, t += 1000, op), OK);
	o = operation(f, op);
	assert_int_equal(o->max_failures, 3);
	assert_int_equal(o->max_failures_pct, 50);
	bm__operation__free_unpacked(o, NULL);
}

/* max_booting bounds the rack, not each operation. */
static void
test_max_booting_across_ops(void **state)
{
	struct th_fx *f = *state;
	char op1[32], op2[32];

	assert_int_equal(reimage(f, "", 0, 0, T0, NULL, op1, "m1", "m2"), OK);
	assert_int_equal(reimage(f, "", 0, 0, T0, NULL, op2, "m3", "m4"), OK);
	assert_int_equal(n_started(f, 1, 3), 3);
	assert_int_equal(started(f, "m4"), 0);
	assert_reason(f, "m4", "max_booting 3");
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", T0 + 1000);
	tick(f, T0 + 2000);
	assert_int_not_equal(started(f, "m4"), 0);
}

/* A fleet of LARGE_N machines in rack11 (max_booting 3), names long enough
 * that their operation's record is a large one (store_ops.c: above 32 KiB):
 * machine i is named large-machine-0000i, MAC 52:54:00:11:HI(i):LO(i). */
#define LARGE_N 2000
static int
setup_large(void **state)
{
	size_t len = 4096 + LARGE_N * 128, n;
	char *y = malloc(len);
	int r;

	assert_non_null(y);
	n = (size_t)snprintf(y, len, "%s", ops_rack11_fleet);
	n -= strlen(strstr(ops_rack11_fleet, "  - {name: m1"));
	for (int i = 1; i <= LARGE_N; i++)
		n += (size_t)snprintf(y + n, len - n,
		                      "  - {name: large-machine-%05d, rack: rack11, "
		                      "mac: '52:54:00:11:%02x:%02x', profile: tiny}\n",
		                      i, i >> 8, i & 0xff);
	r = th_setup_with(state, y);
	free(y);
	return r;
}

/* A large operation is advanced when one of its machines ends (at the next
 * tick), when one of its machines could time out, and at most 30 s after
 * the last advance: not at every tick. */
static void
test_large_op_advanced_when_due(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;
	char op[32];

	assert_int_equal(reimage(f, "", 0, 60000, t, NULL, op, "rack11", NULL), OK);
	assert_int_equal(started(f, "large-machine-00001"), 0); /* no agent holds k */
	agent_holds_k(f, true);
	/* A small operation would start its first machines now; this one
	 * waits for its advance, at most 30 s after the last. */
	tick(f, t += 1000);
	assert_int_equal(started(f, "large-machine-00001"), 0);
	tick(f, t = T0 + 29999);
	assert_int_equal(started(f, "large-machine-00001"), 0);
	tick(f, t = T0 + 30000);
	uint64_t t1 = t;
	assert_int_equal(started(f, "large-machine-00001"), t1);
	assert_int_equal(started(f, "large-machine-00003"), t1);
	assert_int_equal(started(f, "large-machine-00004"), 0); /* max_booting 3 */
	/* One of them ends: the next tick starts the next machine. */
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", t += 500);
	assert_int_equal(mstate(f, "large-machine-00001"), S(DEPLOYED));
	assert_int_equal(started(f, "large-machine-00004"), 0);
	tick(f, t += 500);
	assert_int_equal(started(f, "large-machine-00004"), t);
	/* The others' timeout, to the millisecond: not before. */
	tick(f, t = t1 + 60000);
	assert_int_equal(mstate(f, "large-machine-00002"), S(REIMAGING));
	tick(f, t = t1 + 60001);
	assert_int_equal(mstate(f, "large-machine-00002"), S(FAILED));
	assert_int_equal(mstate(f, "large-machine-00003"), S(FAILED));
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_RUNNING);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_canary_halts_resume, setup_rollout,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_max_failures, setup_rollout, th_teardown),
		cmocka_unit_test_setup_teardown(test_max_booting_across_ops, setup_rollout,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_large_op_advanced_when_due, setup_large,
		                                th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
