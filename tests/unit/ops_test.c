/* Operations in the state machine: target resolution and refusals, the
 * image gate, batches, the lifecycle driven by agents' events, power
 * failures, timeouts by the proposer's clock, cancel, and completion; the
 * list of every operation; how many finished ones are kept, and deleting
 * one. Safe rollouts and max_booting: rollout_test.c. */
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

#include "ops_helpers.h"

static const char fleet[] =
    "sites: [{name: fra1}]\n"
    "racks:\n"
    "  - {name: rack11, site: fra1, subnet: 10.11.0.0/24, gateway: 10.11.0.1}\n"
    "images:\n"
    "  - {name: k, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}\n"
    "profiles: [{name: tiny, kernel: k}]\n"
    "machines:\n"
    "  - {name: a, rack: rack11, mac: '52:54:00:11:00:01', profile: tiny}\n"
    "  - {name: b, rack: rack11, mac: '52:54:00:11:00:02', profile: tiny, labels: {role: gpu}}\n"
    "  - {name: c, rack: rack11, mac: '52:54:00:11:00:03'}\n";

static int
setup(void **state)
{
	return th_setup_with(state, fleet);
}

static void
test_refusals(void **state)
{
	struct th_fx *f = *state;
	char msg[256], op[32];

	assert_int_equal(reimage(f, "", 0, 0, T0, msg, NULL, "rack11", NULL),
	                 BM__STATUS__STATUS_INVALID);
	assert_non_null(strstr(msg, "machine c has no profile"));
	assert_int_equal(reimage(f, "", 0, 0, T0, msg, NULL, "nosuch", NULL),
	                 BM__STATUS__STATUS_NOT_FOUND);
	assert_int_equal(reimage(f, "nope", 0, 0, T0, msg, NULL, "a", NULL),
	                 BM__STATUS__STATUS_NOT_FOUND);
	/* Nothing changed by a refusal. */
	assert_int_equal(mstate(f, "a"), S(READY));
	assert_int_equal(reimage(f, "", 0, 0, T0, msg, op, "machine/a", NULL), OK);
	assert_int_equal(mstate(f, "a"), S(REIMAGING));
	/* A second reimage of a machine in a running operation names it. */
	assert_int_equal(reimage(f, "", 0, 0, T0, msg, NULL, "a", "b"),
	                 BM__STATUS__STATUS_PRECONDITION);
	assert_non_null(strstr(msg, op));
	assert_int_equal(mstate(f, "b"), S(READY));
}

static void
test_lifecycle(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;
	char op[32];
	Bm__Machine *m;

	/* --profile covers c; batch 1. No agent holds k yet: all wait. */
	assert_int_equal(reimage(f, "tiny", 1, 0, t, NULL, op, "rack/rack11", NULL), OK);
	assert_reason(f, "a", "waiting for rack rack11's agent to cache image k");
	assert_int_equal(started(f, "a"), 0);
	/* The agent reports k cached: one machine starts (batch 1). */
	agent_holds_k(f, true);
	tick(f, t += 1000);
	m = machine(f, "a");
	assert_int_equal(m->power_seq, 1);
	assert_int_equal(m->started_ms, t);
	assert_string_equal(m->boot_profile, "tiny");
	bm__machine__free_unpacked(m, NULL);
	assert_int_equal(started(f, "b"), 0);
	assert_reason(f, "b", "queued");
	/* a boots: power, DHCP, started, done. */
	event(f, 1, BM__EVENT_KIND__EVENT_POWER, "ok seq=1: manual", t += 1000);
	assert_int_equal(mstate(f, "a"), S(REIMAGING));
	event(f, 1, BM__EVENT_KIND__EVENT_DHCP, "DISCOVER -> OFFER", t += 1000);
	assert_int_equal(mstate(f, "a"), S(NETBOOTING));
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=started", t += 1000);
	assert_int_equal(mstate(f, "a"), S(INSTALLING));
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", t += 1000);
	assert_int_equal(mstate(f, "a"), S(DEPLOYED));
	/* The batch frees with that event, not at the next tick: b starts. */
	assert_int_equal(started(f, "b"), t);
	/* A waiting machine's own DHCP moves nothing. */
	event(f, 3, BM__EVENT_KIND__EVENT_DHCP, "DISCOVER -> OFFER", t);
	assert_int_equal(mstate(f, "c"), S(REIMAGING));
	/* b's BMC fails. */
	tick(f, t += 1000);
	assert_int_not_equal(started(f, "b"), 0);
	event(f, 2, BM__EVENT_KIND__EVENT_POWER,
	      "failed seq=1: ipmitool chassis bootdev pxe: Unable to establish IPMI v2 session",
	      t += 1000);
	assert_int_equal(mstate(f, "b"), S(FAILED));
	m = machine(f, "b");
	assert_string_equal(m->reason,
	                    "ipmitool chassis bootdev pxe: Unable to establish IPMI v2 session");
	bm__machine__free_unpacked(m, NULL);
	/* c starts at once and never calls back: failed by the proposer's clock. */
	assert_int_equal(started(f, "c"), t);
	tick(f, t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_RUNNING);
	tick(f, t += 30 * 60 * 1000 + 1);
	assert_int_equal(mstate(f, "c"), S(FAILED));
	assert_reason(f, "c", "no progress for 1800s");
	/* Every machine finished: the operation failed (one deployed). */
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_FAILED);
	assert_int_equal(mstate(f, "a"), S(DEPLOYED));
	/* Finished: its machines can be reimaged again. */
	assert_int_equal(reimage(f, "", 0, 0, t, NULL, NULL, "a", NULL), OK);
}

/* A disk image: installed, then the OS it installed boots from the disk
 * and calls back booted with its name; an installed machine whose OS never
 * calls back fails with that reason, its DHCP renewals being no progress. */
static void
test_installed_then_booted(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;
	Bm__Machine *m;

	agent_holds_k(f, true);
	assert_int_equal(reimage(f, "tiny", 0, 60000, t, NULL, NULL, "a", "b"), OK);
	tick(f, t += 1000);
	for (uint8_t mac = 1; mac <= 2; mac++) {
		event(f, mac, BM__EVENT_KIND__EVENT_DHCP, "DISCOVER -> OFFER", t += 1000);
		event(f, mac, BM__EVENT_KIND__EVENT_CALLBACK, "state=installing written=1 total=9",
		      t += 1000);
		event(f, mac, BM__EVENT_KIND__EVENT_CALLBACK, "state=installed disk=vda written=9",
		      t += 1000);
	}
	assert_int_equal(mstate(f, "a"), S(INSTALLED));
	assert_reason(f, "a", "waiting for its OS to boot from disk");
	/* A booted callback from a machine not installed moves nothing. */
	event(f, 3, BM__EVENT_KIND__EVENT_CALLBACK, "state=booted os=debian 12", t);
	assert_int_equal(mstate(f, "c"), S(READY));
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK,
	      "state=booted kernel=6.1.0-28-amd64 secureboot=0 os=debian 12", t += 1000);
	m = machine(f, "a");
	assert_int_equal(m->state, S(DEPLOYED));
	assert_string_equal(m->os, "debian 12");
	assert_string_equal(m->kernel, "6.1.0-28-amd64");
	bm__machine__free_unpacked(m, NULL);
	/* b's OS renews its lease every 20 s but never calls back. */
	for (int i = 0; i < 4; i++) {
		event(f, 2, BM__EVENT_KIND__EVENT_DHCP, "REQUEST -> ACK", t += 20000);
		tick(f, t);
	}
	assert_int_equal(mstate(f, "b"), S(FAILED));
	assert_reason(f, "b", "installed but never booted from disk");
}

static Bm__Status
power(struct th_fx *f, const char *name, const char *action, uint64_t now, char *msg)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__PowerRequest q = BM__POWER_REQUEST__INIT;

	q.machine = (char *)name;
	q.action = (char *)action;
	cmd.op_case = BM__COMMAND__OP_POWER;
	cmd.power = &q;
	return run(f->s, &cmd, now, msg, NULL);
}

/* `bmctl machine power`: recorded on the machine (kept across applies),
 * refused for an unknown action or machine and while an operation owns
 * the machine; its outcome never fails an operation's machine. */
static void
test_machine_power(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	uint64_t t = T0;
	char msg[256];
	Bm__Machine *m;

	assert_int_equal(power(f, "a", "off", t, msg), OK);
	uint64_t rev = th_revision(f->s);
	m = machine(f, "a");
	assert_string_equal(m->power_req, "off");
	assert_int_equal(m->power_req_seq, rev);
	assert_int_equal(m->power_req_ms, t);
	bm__machine__free_unpacked(m, NULL);
	assert_int_equal(power(f, "a", "reboot", t, msg), BM__STATUS__STATUS_INVALID);
	assert_non_null(strstr(msg, "on, off, cycle or status, not reboot"));
	assert_int_equal(power(f, "zz", "on", t, msg), BM__STATUS__STATUS_NOT_FOUND);
	assert_int_equal(th_apply_yaml(f->s, fleet, &res), 0);
	store_result_fini(&res);
	m = machine(f, "a");
	assert_int_equal(m->power_req_seq, rev); /* the fleet does not own it */
	bm__machine__free_unpacked(m, NULL);

	agent_holds_k(f, true);
	assert_int_equal(reimage(f, "tiny", 0, 60000, t, NULL, NULL, "a", NULL), OK);
	tick(f, t += 1000);
	assert_int_equal(power(f, "a", "off", t, msg), BM__STATUS__STATUS_PRECONDITION);
	assert_non_null(strstr(msg, "cancel it first"));
	/* The outcome of the earlier request arrives late: a is not failed. */
	event(f, 1, BM__EVENT_KIND__EVENT_POWER, "failed req=5: BMC unreachable", t += 1000);
	assert_int_equal(mstate(f, "a"), S(REIMAGING));
	event(f, 1, BM__EVENT_KIND__EVENT_POWER, "failed seq=1: BMC unreachable", t += 1000);
	assert_int_equal(mstate(f, "a"), S(FAILED));
}

/* The firmware is learned from the firmware's own DHCP, not iPXE's. */
static void
test_firmware_seen(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	uint64_t t = T0;
	Bm__Machine *m;

	agent_holds_k(f, true);
	event(f, 1, BM__EVENT_KIND__EVENT_DHCP,
	      "DISCOVER arch=16 vendor=HTTPClient:Arch:00016:UNDI:003001 -> OFFER file=x", t += 10);
	event(f, 1, BM__EVENT_KIND__EVENT_DHCP,
	      "DISCOVER arch=7 vendor=PXEClient:Arch:00007:UNDI:003010 user=iPXE -> OFFER file=y",
	      t += 10);
	event(f, 2, BM__EVENT_KIND__EVENT_DHCP,
	      "DISCOVER arch=0 vendor=PXEClient:Arch:00000:UNDI:002001 -> OFFER file=undionly.kpxe",
	      t += 10);
	/* Sent on to its disk, a UEFI firmware tries its HTTP boot option too. */
	event(f, 2, BM__EVENT_KIND__EVENT_DHCP,
	      "DISCOVER arch=16 vendor=HTTPClient:Arch:00016:UNDI:003001 -> OFFER "
	      "file=http://10.11.0.1:8080/boot/local-disk",
	      t += 10);
	event(f, 3, BM__EVENT_KIND__EVENT_DHCP, "DISCOVER arch=7 -> OFFER file=ipxe.efi", t += 10);
	assert_int_equal(th_apply_yaml(f->s, fleet, &res), 0); /* kept across an apply */
	store_result_fini(&res);
	m = machine(f, "a");
	assert_string_equal(m->firmware_seen, "uefi-http");
	bm__machine__free_unpacked(m, NULL);
	m = machine(f, "b");
	assert_string_equal(m->firmware_seen, "bios");
	bm__machine__free_unpacked(m, NULL);
	m = machine(f, "c"); /* no vendor class: not a firmware's PXE request */
	assert_string_equal(m->firmware_seen, "");
	bm__machine__free_unpacked(m, NULL);
}

/* What the ticker asks before each tick. */
static bool
ops_live(struct th_fx *f)
{
	struct store_read *rd;
	bool live;

	assert_int_equal(store_read_begin(f->s, &rd), 0);
	live = store_ops_live(rd);
	store_read_end(rd);
	return live;
}

static void
test_cancel(void **state)
{
	struct th_fx *f = *state;
	Bm__Command cmd = BM__COMMAND__INIT;
	uint64_t t = T0;
	char op[32];

	agent_holds_k(f, true);
	assert_false(ops_live(f));
	assert_int_equal(reimage(f, "tiny", 1, 0, t, NULL, op, "rack11", NULL), OK);
	assert_true(ops_live(f));
	assert_int_not_equal(started(f, "a"), 0);
	cmd.op_case = BM__COMMAND__OP_OP_CANCEL;
	cmd.op_cancel = op;
	assert_int_equal(run(f->s, &cmd, t += 1000, NULL, NULL), OK);
	/* Not started: back to ready. Started: runs on. */
	assert_int_equal(mstate(f, "b"), S(READY));
	assert_int_equal(mstate(f, "c"), S(READY));
	assert_int_equal(mstate(f, "a"), S(REIMAGING));
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_RUNNING);
	event(f, 1, BM__EVENT_KIND__EVENT_CALLBACK, "state=done", t += 1000);
	tick(f, t += 1000);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_CANCELLED);
	assert_false(ops_live(f));
	assert_int_equal(mstate(f, "a"), S(DEPLOYED));
	/* A finished operation cannot be cancelled. */
	assert_int_equal(run(f->s, &cmd, t, NULL, NULL), BM__STATUS__STATUS_PRECONDITION);
}

static void
test_no_images_times_out(void **state)
{
	struct th_fx *f = *state;
	char op[32];

	assert_int_equal(reimage(f, "", 0, 5000, T0, NULL, op, "a", NULL), OK);
	tick(f, T0 + 6000);
	assert_int_equal(mstate(f, "a"), S(FAILED));
	assert_reason(f, "a", "waiting for rack rack11's agent to cache image k");
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_FAILED);
}

/* A new leader whose clock is behind the last one's (or an NTP step back)
 * ticks with an earlier time: the state machine's clock stays where it
 * was, so no "time since" wraps and nothing times out early. */
static void
test_clock_steps_back(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0 + 600000;
	char op[32];

	agent_holds_k(f, true);
	assert_int_equal(reimage(f, "", 0, 60000, t, NULL, op, "a", NULL), OK);
	assert_int_equal(started(f, "a"), t);
	tick(f, t + 1000);
	tick(f, T0); /* ten minutes back */
	assert_int_equal(mstate(f, "a"), S(REIMAGING));
	tick(f, T0 + 1000);
	assert_int_equal(mstate(f, "a"), S(REIMAGING));
	/* Events stamped by the earlier clock keep the machine going. */
	event(f, 1, BM__EVENT_KIND__EVENT_DHCP, "DISCOVER -> OFFER", T0 + 2000);
	assert_int_equal(mstate(f, "a"), S(NETBOOTING));
	/* Time runs on from the latest applied: the timeout counts from there. */
	tick(f, t + 1000 + 60000);
	assert_int_equal(mstate(f, "a"), S(NETBOOTING));
	tick(f, t + 1000 + 60000 + 2);
	assert_int_equal(mstate(f, "a"), S(FAILED));
	assert_reason(f, "a", "no progress for 60s");
}

static void
agents_seen(struct th_fx *f, uint64_t seen_ms)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__AgentsSeen q = BM__AGENTS_SEEN__INIT;
	Bm__AgentSeen e = BM__AGENT_SEEN__INIT, *ep = &e;
	uint64_t rev = th_revision(f->s);

	e.id = "a1";
	e.last_seen_ms = seen_ms;
	e.revision = 7;
	q.seen = &ep;
	q.n_seen = 1;
	cmd.op_case = BM__COMMAND__OP_AGENTS_SEEN;
	cmd.agents_seen = &q;
	assert_int_equal(run(f->s, &cmd, seen_ms, NULL, NULL), OK);
	/* Kept, but not versioned: no revision, so no watch wakes for it. */
	assert_int_equal(th_revision(f->s), rev);
	Bm__Object *o = th_get(f->s, BM__KIND__KIND_AGENT, "a1");
	assert_non_null(o);
	assert_int_equal(o->agent->last_seen_ms, seen_ms);
	assert_int_equal(o->agent->revision, 7);
	bm__object__free_unpacked(o, NULL);
}

/* A machine that times out in a rack whose agent stopped reporting says
 * so; one whose agent is seen does not blame it. */
static void
test_silent_agent_named(void **state)
{
	struct th_fx *f = *state;
	uint64_t t = T0;

	agent_holds_k(f, true); /* registered, so seen, at T0 */
	assert_int_equal(reimage(f, "", 0, 60000, t, NULL, NULL, "a", NULL), OK);
	tick(f, t += 60001);
	assert_int_equal(mstate(f, "a"), S(FAILED));
	assert_reason(f, "a",
	              "no progress for 60s (last: reimaging, power cycle requested); "
	              "rack11's agent last seen 60s ago");
	assert_int_equal(reimage(f, "", 0, 60000, t, NULL, NULL, "b", NULL), OK);
	agents_seen(f, t + 50000);
	tick(f, t += 60001);
	assert_int_equal(mstate(f, "b"), S(FAILED));
	Bm__Machine *m = machine(f, "b");
	assert_null(strstr(m->reason, "agent"));
	bm__machine__free_unpacked(m, NULL);
}

/* The list (bmctl op get) holds every operation, past one page of
 * records, each with its machines counted and no names. */
static void
test_list_every_page(void **state)
{
	struct th_fx *f = *state;
	const size_t n = STORE_OP_LIST_PAGE + 2;
	char op[32], first[32] = "";
	struct store_read *rd;
	Bm__ListResult *l;
	uint64_t t = T0;

	for (size_t i = 0; i < n; i++) {
		const char *two = i == n - 1 ? "b" : NULL; /* the last has two machines */
		assert_int_equal(reimage(f, "tiny", 0, 0, t += 1000, NULL, op, "a", two), OK);
		if (!*first)
			snprintf(first, sizeof(first), "%s", op);
		assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_CANCEL, op, t += 1000, NULL), OK);
	}
	assert_int_equal(store_read_begin(f->s, &rd), 0);
	assert_int_equal(store_op_list(rd, &l), 0);
	store_read_end(rd);
	assert_int_equal(l->n_items, n);
	assert_true(!l->next || !*l->next);
	/* In the order they were made (op-99 before op-100), the last with
	 * its two machines counted. */
	assert_string_equal(l->items[0]->operation->name, first);
	assert_string_equal(l->items[n - 1]->operation->name, op);
	for (size_t i = 0; i < n; i++) {
		const Bm__Operation *o = l->items[i]->operation;
		assert_int_equal(o->n_machines, 0);
		assert_null(o->machines);
		assert_int_equal(o->listed_machines, i == n - 1 ? 2 : 1);
		if (i)
			assert_true(l->items[i - 1]->operation->create_rev < o->create_rev);
	}
	bm__list_result__free_unpacked(l, NULL);
}

static bool
op_exists(struct th_fx *f, const char *op)
{
	Bm__Object *o = th_get(f->s, BM__KIND__KIND_OPERATION, op);

	bm__object__free_unpacked(o, NULL);
	return o != NULL;
}

/* Reimage machine a and cancel it before it starts: a finished operation
 * (its name into op). */
static void
finished_op(struct th_fx *f, uint64_t *t, char *op)
{
	assert_int_equal(reimage(f, "tiny", 0, 0, *t += 1000, NULL, op, "a", NULL), OK);
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_CANCEL, op, *t += 1000, NULL), OK);
	assert_int_equal(op_state(f, op), BM__OP_STATE__OP_CANCELLED);
}

/* Finished operations beyond what is kept are forgotten, oldest first,
 * when another finishes; a live one stays however old. */
static void
test_finished_kept(void **state)
{
	struct th_fx *f = *state;
	char live[32], op[5][32];
	uint64_t t = T0;

	store_set_ops_keep(f->s, 3, STORE_OPS_KEEP_BYTES);
	assert_int_equal(reimage(f, "tiny", 0, 0, t, NULL, live, "b", NULL), OK);
	for (int i = 0; i < 5; i++)
		finished_op(f, &t, op[i]);
	assert_true(op_exists(f, live));
	assert_int_equal(op_state(f, live), BM__OP_STATE__OP_RUNNING);
	assert_false(op_exists(f, op[0]));
	assert_false(op_exists(f, op[1]));
	for (int i = 2; i < 5; i++)
		assert_true(op_exists(f, op[i]));
	/* The machine still names what last reimaged it. */
	Bm__Machine *m = machine(f, "a");
	assert_string_equal(m->operation, op[4]);
	bm__machine__free_unpacked(m, NULL);
	/* By bytes: none but the one that just finished fits. */
	store_set_ops_keep(f->s, 100, 1);
	finished_op(f, &t, op[0]);
	assert_true(op_exists(f, op[0]));
	for (int i = 2; i < 5; i++)
		assert_false(op_exists(f, op[i]));
	assert_true(op_exists(f, live));
	/* The live one's machine still moves on. */
	assert_int_equal(mstate(f, "b"), S(REIMAGING));
	tick(f, t += 1000);
	assert_true(ops_live(f));
}

static size_t
ops_listed(struct th_fx *f)
{
	struct store_read *rd;
	Bm__ListResult *l;
	size_t n;

	assert_int_equal(store_read_begin(f->s, &rd), 0);
	assert_int_equal(store_op_list(rd, &l), 0);
	store_read_end(rd);
	n = l->n_items;
	bm__list_result__free_unpacked(l, NULL);
	return n;
}

/* A store with more finished operations than it keeps (from before the
 * limits) forgets at most STORE_OPS_FORGET_MAX at each finish. */
static void
test_forget_bounded(void **state)
{
	struct th_fx *f = *state;
	const size_t n = STORE_OPS_FORGET_MAX + 3;
	uint64_t t = T0;
	char op[32];

	store_set_ops_keep(f->s, 1000000, UINT64_MAX);
	for (size_t i = 0; i < n; i++)
		finished_op(f, &t, op);
	assert_int_equal(ops_listed(f), n);
	store_set_ops_keep(f->s, 1, UINT64_MAX);
	finished_op(f, &t, op);
	assert_int_equal(ops_listed(f), n + 1 - STORE_OPS_FORGET_MAX);
	finished_op(f, &t, op);
	assert_int_equal(ops_listed(f), 1);
	assert_true(op_exists(f, op));
}

/* bmctl delete operation: refused while it is live (nothing changes),
 * forgotten once finished. */
static void
test_delete_op(void **state)
{
	struct th_fx *f = *state;
	Bm__ObjectRef ref = BM__OBJECT_REF__INIT;
	Bm__Command cmd = BM__COMMAND__INIT;
	uint64_t t = T0;
	char op[32], msg[256];

	assert_int_equal(reimage(f, "tiny", 0, 0, t, NULL, op, "a", NULL), OK);
	ref.kind = BM__KIND__KIND_OPERATION;
	ref.name = op;
	cmd.op_case = BM__COMMAND__OP_DELETE;
	cmd.delete_ = &ref;
	assert_int_equal(run(f->s, &cmd, t += 1000, msg, NULL), BM__STATUS__STATUS_PRECONDITION);
	assert_non_null(strstr(msg, "is live: cancel it first"));
	assert_true(op_exists(f, op));
	assert_true(ops_live(f));
	assert_int_equal(mstate(f, "a"), S(REIMAGING));
	assert_int_equal(op_verb(f, BM__COMMAND__OP_OP_CANCEL, op, t += 1000, NULL), OK);
	assert_int_equal(run(f->s, &cmd, t += 1000, msg, NULL), OK);
	assert_false(op_exists(f, op));
	assert_false(ops_live(f));
	assert_int_equal(run(f->s, &cmd, t += 1000, msg, NULL), BM__STATUS__STATUS_NOT_FOUND);
	/* The machine is free for the next. */
	assert_int_equal(reimage(f, "tiny", 0, 0, t += 1000, NULL, op, "a", NULL), OK);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_refusals, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_lifecycle, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_installed_then_booted, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_machine_power, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_firmware_seen, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_no_images_times_out, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_clock_steps_back, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_silent_agent_named, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_list_every_page, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_finished_kept, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_delete_op, setup, th_teardown),
		cmocka_unit_test_setup_teardown(test_forget_bounded, setup, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
