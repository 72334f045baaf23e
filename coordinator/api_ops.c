/* The API of operations: Reimage (one command), Op get/list/cancel, and
 * the ticker that advances running operations once a second (a command
 * carrying the proposer's time, so timeouts are part of the replicated
 * state, not of one coordinator's clock). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_priv.h"
#include "bm/log.h"
#include "bm/rpc.h"
#include "bm/util.h"

#define TICK_MS 1000u

/* The racks of an operation's machines still to finish. */
static size_t
busy_racks(const Bm__OpResult *out, const char **racks)
{
	size_t n = 0;

	for (size_t i = 0; i < out->n_machines; i++) {
		const Bm__Machine *m = out->machines[i];
		size_t j = n;
		if (m->state != BM__MACHINE_STATE__STATE_REIMAGING &&
		    m->state != BM__MACHINE_STATE__STATE_NETBOOTING &&
		    m->state != BM__MACHINE_STATE__STATE_INSTALLING &&
		    m->state != BM__MACHINE_STATE__STATE_INSTALLED)
			continue;
		/* Machines come rack by rack: the last rack first. */
		while (j > 0 && strcmp(racks[j - 1], m->rack))
			j--;
		if (j == 0)
			racks[n++] = m->rack;
	}
	return n;
}

/* Notes on racks that hold the operation back (their agent is silent). */
static void
op_notes(struct api *a, struct store_read *rd, Bm__OpResult *out)
{
	const char **racks = calloc(out->n_machines + 1, sizeof(*racks));
	size_t n = racks ? busy_racks(out, racks) : 0;

	if (n && api_racks_silence(a, rd, racks, n, &out->notes, &out->n_notes) < 0)
		out->n_notes = 0;
	free(racks);
}

/* An operation, the records of its machines (those taken so far) and the
 * notes on its racks. */
static int
read_op(struct api *a, const char *name, Bm__OpResult *out, Bm__Object **ret_obj,
        Bm__Object ***ret_ms)
{
	struct store_read *rd;
	Bm__Object *o = NULL, **ms = NULL;
	int r;

	if ((r = store_read_begin(a->store, &rd)) < 0)
		return r;
	if ((r = store_get(rd, BM__KIND__KIND_OPERATION, name, &o)) == 0) {
		const Bm__Operation *op = o->operation;
		size_t n = op->taking ? op->taken : op->n_machines; /* its own so far */
		ms = calloc(op->n_machines + 1, sizeof(*ms));
		out->machines = calloc(n + 1, sizeof(*out->machines));
		for (size_t i = 0; ms && out->machines && i < n; i++)
			if (store_get(rd, BM__KIND__KIND_MACHINE, op->machines[i], &ms[i]) == 0)
				out->machines[out->n_machines++] = ms[i]->machine;
		if (op->state != BM__OP_STATE__OP_DONE && op->state != BM__OP_STATE__OP_FAILED &&
		    op->state != BM__OP_STATE__OP_CANCELLED && out->machines)
			op_notes(a, rd, out);
	}
	store_read_end(rd);
	if (r < 0)
		return r;
	out->operations = calloc(1, sizeof(*out->operations));
	if (out->operations) {
		out->operations[0] = o->operation;
		out->n_operations = 1;
	}
	*ret_obj = o;
	*ret_ms = ms;
	return 0;
}

/* Operation `name` with its machines; as the answer to a reimage (after
 * its intake), the refusal when its checks refused it. */
static void
reply_op(struct api *a, struct bm_rpc_call *call, const char *name, uint64_t revision, bool reimage)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__OpResult res = BM__OP_RESULT__INIT;
	Bm__Object *o = NULL, **ms = NULL;
	int r = read_op(a, name, &res, &o, &ms);

	if (r == -ENOENT) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_NOT_FOUND, "no such operation");
		return;
	}
	if (r < 0) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
		return;
	}
	resp.revision = revision;
	resp.body_case = BM__RESPONSE__BODY_OP;
	resp.op = &res;
	if (reimage && o->operation->refused)
		bm_rpc_reply_status(call, o->operation->refused, o->operation->halt_reason);
	else
		bm_rpc_reply(call, &resp);
	for (size_t i = 0; ms && o && i < o->operation->n_machines; i++)
		if (ms[i])
			bm__object__free_unpacked(ms[i], NULL);
	free(ms);
	free(res.machines);
	free(res.operations);
	for (size_t i = 0; i < res.n_notes; i++)
		free(res.notes[i]);
	free(res.notes);
	bm__object__free_unpacked(o, NULL);
}

/* An operation's answer, built off the loop: it lists its machines. */
struct op_reply {
	struct bm_job job;
	struct api *a;
	struct bm_rpc_call *call;
	uint64_t revision;
	bool reimage; /* the answer to a reimage */
	char name[sizeof(((struct store_result *)0)->name)];
};

static void
op_reply_job(struct bm_job *j)
{
	struct op_reply *o = bm_container_of(j, struct op_reply, job);

	reply_op(o->a, o->call, o->name, o->revision, o->reimage);
	free(o);
}

/* The operation's answer, built off the loop (reply_op). */
static void
op_answer(struct api *a, struct bm_rpc_call *call, const char *name, uint64_t revision,
          bool reimage)
{
	struct op_reply *o = calloc(1, sizeof(*o));

	if (!o) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, "out of memory");
		return;
	}
	*o = (struct op_reply){ .a = a, .call = call, .revision = revision, .reimage = reimage };
	snprintf(o->name, sizeof(o->name), "%s", name);
	bm_jobq_push(&a->defer, &o->job, op_reply_job);
}

static void op_wait_add(struct api *a, struct bm_rpc_call *call, const char *name);
static void op_waits_answer(struct api *a, const char *name, uint64_t revision, const char *why);

static void
op_write_done(struct proposal *p, const struct store_result *res)
{
	struct write_call *w = bm_container_of(p, struct write_call, prop);

	if (res->status == BM__STATUS__STATUS_UNAVAILABLE) {
		api_reply_unavailable(w->api, w->call, res->message);
	} else if (res->status != BM__STATUS__STATUS_OK) {
		bm_rpc_reply_status(w->call, res->status, res->message);
	} else if (w->cmd.op_case == BM__COMMAND__OP_REIMAGE && res->more) {
		op_wait_add(w->api, w->call, res->name); /* taking: answered at its end */
	} else {
		if (w->cmd.op_case == BM__COMMAND__OP_OP_CANCEL)
			op_waits_answer(w->api, res->name, res->revision, NULL);
		op_answer(w->api, w->call, res->name, res->revision,
		          w->cmd.op_case == BM__COMMAND__OP_REIMAGE);
	}
	free(w);
}

void
api_op_command(const Bm__OpRequest *q, Bm__Command *cmd)
{
	if (q->action == BM__OP_REQUEST__ACTION__RESUME) {
		cmd->op_case = BM__COMMAND__OP_OP_RESUME;
		cmd->op_resume = q->name;
	} else {
		cmd->op_case = BM__COMMAND__OP_OP_CANCEL;
		cmd->op_cancel = q->name;
	}
}

static void
op_write(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	struct write_call *w = api_write_call_new(call);

	if (!w)
		return;
	w->api = a;
	w->prop.cb = op_write_done;
	if (req->body_case == BM__REQUEST__BODY_REIMAGE) {
		w->cmd.op_case = BM__COMMAND__OP_REIMAGE;
		w->cmd.reimage = req->reimage;
	} else {
		api_op_command(req->op, &w->cmd); /* the request lives until the answer */
	}
	api_propose(a, call, w);
}

static void
op_list(struct api *a, struct bm_rpc_call *call)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__OpResult res = BM__OP_RESULT__INIT;
	Bm__ListResult *l = NULL;
	struct store_read *rd;
	int r;

	if ((r = store_read_begin(a->store, &rd)) == 0) {
		r = store_op_list(rd, &l);
		resp.revision = store_read_revision(rd);
		store_read_end(rd);
	}
	if (r < 0) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
		return;
	}
	res.operations = calloc(l->n_items + 1, sizeof(*res.operations));
	for (size_t i = 0; res.operations && i < l->n_items; i++)
		res.operations[res.n_operations++] = l->items[i]->operation;
	resp.body_case = BM__RESPONSE__BODY_OP;
	resp.op = &res;
	bm_rpc_reply(call, &resp);
	free(res.operations);
	bm__list_result__free_unpacked(l, NULL);
}

void
api_handle_ops(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	if (req->body_case == BM__REQUEST__BODY_REIMAGE) {
		op_write(a, call, req);
		return;
	}
	switch (req->op->action) {
	case BM__OP_REQUEST__ACTION__CANCEL:
	case BM__OP_REQUEST__ACTION__RESUME: op_write(a, call, req); return;
	case BM__OP_REQUEST__ACTION__LIST: op_list(a, call); return;
	default: reply_op(a, call, req->op->name, 0, false); return;
	}
}

/* --------------------------------------------------------------- ticker */

/* A reimage whose operation takes its machines a slice per tick
 * (store_op_intake.c): answered once a tick (or a cancel) ends its
 * intake, as a reimage taken in one command is. */
struct op_wait {
	struct bm_rpc_call *call;
	char name[sizeof(((struct store_result *)0)->name)];
	uint64_t t0;
	struct op_wait *next;
};

struct ticker {
	struct api *a;
	uv_timer_t t;
	struct proposal prop;
	Bm__Command cmd;
	bool in_flight;
	/* Stopped: its timer closed (`closed`), freed once no tick is in
	 * flight either (a tick's proposal is answered as libraft closes,
	 * after the API has stopped). */
	bool stopped, closed;
	struct op_wait *waits;
};

static void tick_cb(uv_timer_t *h);

static void
op_wait_add(struct api *a, struct bm_rpc_call *call, const char *name)
{
	struct op_wait *w = a->ticker ? calloc(1, sizeof(*w)) : NULL;

	if (!w) { /* stopping, or out of memory */
		char msg[256];
		snprintf(msg, sizeof(msg), "%s takes its machines; see bmctl op get %s", name,
		         name);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, msg);
		return;
	}
	w->call = call;
	w->t0 = bm_mono_ms();
	snprintf(w->name, sizeof(w->name), "%s", name);
	w->next = a->ticker->waits;
	a->ticker->waits = w;
	uv_timer_start(&a->ticker->t, tick_cb, 0, TICK_MS); /* tick now */
}

/* Answer the waits for operation `name` (its intake ended), or with
 * name NULL every one, as unavailable for `why`. */
static void
op_waits_answer(struct api *a, const char *name, uint64_t revision, const char *why)
{
	for (struct op_wait **pw = a->ticker ? &a->ticker->waits : NULL; pw && *pw;) {
		struct op_wait *w = *pw;
		if (name && strcmp(w->name, name)) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		if (name) {
			BM_INFO("ops", "intake done op=%s ms=%llu", w->name,
			        (unsigned long long)(bm_mono_ms() - w->t0));
			op_answer(a, w->call, w->name, revision, true);
		} else {
			char msg[256];
			snprintf(msg, sizeof(msg),
			         "%s while %s took its machines; it goes on: see "
			         "bmctl op get %s",
			         why, w->name, w->name);
			bm_rpc_reply_status(w->call, BM__STATUS__STATUS_UNAVAILABLE, msg);
		}
		free(w);
	}
}

static void
tick_done(struct proposal *p, const struct store_result *res)
{
	struct ticker *t = bm_container_of(p, struct ticker, prop);

	t->in_flight = false;
	if (t->stopped) { /* the API is gone: nothing to tell */
		if (t->closed)
			free(t);
		return;
	}
	if (res->status != BM__STATUS__STATUS_OK)
		BM_WARN("ops", "tick refused status=%d msg=\"%s\"", res->status, res->message);
	if (*res->name)
		op_waits_answer(t->a, res->name, res->revision, NULL);
	if (res->more) /* an operation goes on at once: the next tick now */
		uv_timer_start(&t->t, tick_cb, 0, TICK_MS);
}

/* Any operation to tick (from the wake table: unpacking every operation,
 * each listing up to 100,000 machines, every second would cost more than
 * the tick). */
static bool
any_running(struct api *a)
{
	struct store_read *rd;
	bool running;

	if (store_read_begin(a->store, &rd) < 0)
		return false;
	running = store_ops_live(rd);
	store_read_end(rd);
	return running;
}

static void
tick_cb(uv_timer_t *h)
{
	struct ticker *t = bm_container_of(h, struct ticker, t);

	if (!api_is_leader(t->a)) { /* the leader's clock drives operations */
		op_waits_answer(t->a, NULL, 0, "leadership moved");
		return;
	}
	api_agents_flush(t->a);
	if (t->in_flight || !any_running(t->a))
		return;
	bm__command__init(&t->cmd);
	t->cmd.op_case = BM__COMMAND__OP_OP_TICK;
	t->cmd.op_tick = 1;
	t->cmd.time_ms = api_now_ms();
	t->prop.cmd = &t->cmd;
	t->prop.cb = tick_done;
	t->in_flight = proposer_submit(t->a->proposer, &t->prop) == 0;
}

int
api_ticker_start(struct api *a, uv_loop_t *loop)
{
	struct ticker *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->a = a;
	uv_timer_init(loop, &t->t);
	uv_timer_start(&t->t, tick_cb, TICK_MS, TICK_MS);
	a->ticker = t;
	return 0;
}

static void
ticker_closed(uv_handle_t *h)
{
	struct ticker *t = bm_container_of((uv_timer_t *)h, struct ticker, t);

	t->closed = true;
	if (!t->in_flight)
		free(t);
}

void
api_ticker_stop(struct api *a)
{
	struct ticker *t = a->ticker;

	if (!t)
		return;
	op_waits_answer(a, NULL, 0, "this coordinator stopped");
	uv_timer_stop(&t->t);
	t->stopped = true;
	uv_close((uv_handle_t *)&t->t, ticker_closed);
	a->ticker = NULL;
}
