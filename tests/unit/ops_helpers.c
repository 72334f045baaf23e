/* What the operation tests share: commands at a time, agents' events, and
 * reading machines and operations back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ops_helpers.h"

const uint8_t ksha[32] = { 0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65, 0x9a, 0x2f, 0xea,
	                   0xa0, 0xc5, 0x5a, 0xd0, 0x15, 0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b,
	                   0x82, 0x2c, 0xd1, 0x5d, 0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08 };

Bm__Status
run(struct store *s, Bm__Command *cmd, uint64_t now, char *msg, char *name)
{
	struct store_result res;
	Bm__Status st;

	cmd->time_ms = now;
	assert_int_equal(th_apply(s, cmd, &res), 0);
	st = res.status;
	if (msg)
		snprintf(msg, 256, "%s", res.message);
	if (name) /* the operation the command started or named */
		snprintf(name, 32, "%.31s", res.name);
	store_result_fini(&res);
	return st;
}

Bm__Status
reimage_q(struct th_fx *f, Bm__ReimageRequest *q, uint64_t now, char *msg, char *op)
{
	Bm__Command cmd = BM__COMMAND__INIT;

	cmd.op_case = BM__COMMAND__OP_REIMAGE;
	cmd.reimage = q;
	return run(f->s, &cmd, now, msg, op);
}

/* Reimage TARGETS (NULL-terminated) with batch and timeout. */
Bm__Status
reimage(struct th_fx *f, const char *profile, uint32_t batch, uint64_t timeout, uint64_t now,
        char *msg, char *op, const char *t0, const char *t1)
{
	Bm__ReimageRequest q = BM__REIMAGE_REQUEST__INIT;
	char *targets[2] = { (char *)t0, (char *)t1 };

	q.targets = targets;
	q.n_targets = t1 ? 2 : 1;
	q.profile = (char *)profile;
	q.batch = batch;
	q.timeout_ms = timeout;
	return reimage_q(f, &q, now, msg, op);
}

void
tick(struct th_fx *f, uint64_t now)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	cmd.op_case = BM__COMMAND__OP_OP_TICK;
	cmd.op_tick = 1;
	assert_int_equal(run(f->s, &cmd, now, NULL, NULL), OK);
}

void
agent_holds_k(struct th_fx *f, bool holds)
{
	rack_agent_holds_k(f, "a1", "rack11", holds);
}

void
rack_agent_holds_k(struct th_fx *f, const char *id, const char *rack, bool holds)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__AgentInfo info = BM__AGENT_INFO__INIT;
	ProtobufCBinaryData d = { 32, (uint8_t *)ksha };

	info.id = (char *)id;
	info.rack = (char *)rack;
	info.cached = &d;
	info.n_cached = holds;
	cmd.op_case = BM__COMMAND__OP_AGENT_REGISTER;
	cmd.agent_register = &info;
	assert_int_equal(run(f->s, &cmd, T0, NULL, NULL), OK);
}

void
event(struct th_fx *f, uint8_t mac_last, Bm__EventKind kind, const char *detail, uint64_t now)
{
	const uint8_t mac[6] = { 0x52, 0x54, 0, 0x11, 0, mac_last };

	agent_event(f, "a1", mac, kind, detail, now);
}

void
agent_event(struct th_fx *f, const char *agent, const uint8_t mac[6], Bm__EventKind kind,
            const char *detail, uint64_t now)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__AgentEvents batch = BM__AGENT_EVENTS__INIT;
	Bm__Event e = BM__EVENT__INIT, *ep = &e;

	e.seq = ++f->seq;
	e.time_ms = now;
	e.kind = kind;
	e.mac.data = (uint8_t *)mac;
	e.mac.len = 6;
	e.detail = (char *)detail;
	batch.agent_id = (char *)agent;
	batch.events = &ep;
	batch.n_events = 1;
	cmd.op_case = BM__COMMAND__OP_AGENT_EVENTS;
	cmd.agent_events = &batch;
	assert_int_equal(run(f->s, &cmd, now, NULL, NULL), OK);
}

/* The record o holds in *rec (taken out of it), o freed. */
static void *
unwrap(Bm__Object *o, void *rec)
{
	void *v;

	assert_non_null(o);
	v = *(void **)rec;
	*(void **)rec = NULL;
	o->obj_case = BM__OBJECT__OBJ__NOT_SET;
	bm__object__free_unpacked(o, NULL);
	return v;
}

Bm__Machine *
machine(struct th_fx *f, const char *name)
{
	Bm__Object *o = th_get(f->s, KM, name);
	return unwrap(o, o ? (void *)&o->machine : NULL);
}

Bm__Operation *
operation(struct th_fx *f, const char *op)
{
	Bm__Object *o = th_get(f->s, BM__KIND__KIND_OPERATION, op);
	return unwrap(o, o ? (void *)&o->operation : NULL);
}

Bm__MachineState
mstate(struct th_fx *f, const char *name)
{
	Bm__Machine *m = machine(f, name);
	Bm__MachineState st = m->state;
	bm__machine__free_unpacked(m, NULL);
	return st;
}

Bm__OpState
op_state(struct th_fx *f, const char *op)
{
	Bm__Object *o = th_get(f->s, BM__KIND__KIND_OPERATION, op);
	Bm__OpState st;
	assert_non_null(o);
	st = o->operation->state;
	bm__object__free_unpacked(o, NULL);
	return st;
}

void
assert_reason(struct th_fx *f, const char *name, const char *part)
{
	Bm__Machine *m = machine(f, name);
	if (!strstr(m->reason, part))
		fail_msg("%s: reason \"%s\" lacks \"%s\"", name, m->reason, part);
	bm__machine__free_unpacked(m, NULL);
}

uint64_t
started(struct th_fx *f, const char *name)
{
	Bm__Machine *m = machine(f, name);
	uint64_t v = m->started_ms;
	bm__machine__free_unpacked(m, NULL);
	return v;
}

Bm__Status
op_verb(struct th_fx *f, Bm__Command__OpCase verb, char *op, uint64_t now, char *msg)
{
	Bm__Command cmd = BM__COMMAND__INIT;

	cmd.op_case = verb;
	if (verb == BM__COMMAND__OP_OP_RESUME)
		cmd.op_resume = op;
	else
		cmd.op_cancel = op;
	return run(f->s, &cmd, now, msg, NULL);
}

const char ops_rack11_fleet[] =
    "sites: [{name: fra1}]\n"
    "racks:\n"
    "  - {name: rack11, site: fra1, subnet: 10.11.0.0/24, gateway: 10.11.0.1, max_booting: 3}\n"
    "images:\n"
    "  - {name: k, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}\n"
    "profiles: [{name: tiny, kernel: k}]\n"
    "machines:\n"
    "  - {name: m1, rack: rack11, mac: '52:54:00:11:00:01', profile: tiny}\n"
    "  - {name: m2, rack: rack11, mac: '52:54:00:11:00:02', profile: tiny}\n"
    "  - {name: m3, rack: rack11, mac: '52:54:00:11:00:03', profile: tiny}\n"
    "  - {name: m4, rack: rack11, mac: '52:54:00:11:00:04', profile: tiny}\n"
    "  - {name: m5, rack: rack11, mac: '52:54:00:11:00:05', profile: tiny}\n"
    "  - {name: m6, rack: rack11, mac: '52:54:00:11:00:06', profile: tiny}\n";
