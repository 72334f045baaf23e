/* Which machines a reimage takes, and how (store_ops.c's st_apply_reimage
 * resolves its targets to names first).
 *
 * A reimage of at most OP_SLICE machines, while no other operation is
 * taking its own, checks and takes them all in its one command
 * (st_op_check_all, st_op_take). A larger one, or one that comes while
 * another operation is taking, is stored `taking` with every name its
 * targets gave, and ticks take it one slice a tick, one operation at a
 * time, oldest first (st_op_intake): every machine is first checked,
 * OP_SLICE a tick (a machine that fails a check ends the operation
 * refused, nothing taken: the answer a single command would have given),
 * then taken, OP_SLICE a tick, each slice starting at once what may
 * start. So no command holds a node for longer than a slice takes (the
 * reimage of 100,000 machines in one command held each node ~1.3 s on a
 * loaded box, past an election timeout), and no reimage checks its
 * machines against an operation that has not taken all of its own yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/proto.h"
#include "store_priv.h"

#define S(x) BM__MACHINE_STATE__STATE_##x

/* ------------------------------------------------------------- checks */

/* What check_machine read last: in a reimage of thousands of machines,
 * most share their last operation and their profile. */
struct check_memo {
	char op[64];
	bool op_live;
	char profile[64]; /* usable */
};

/* Whether operation `name` still owns its machines (memoized). */
static int
op_live_memo(struct apply_ctx *c, const char *name, struct check_memo *mo, bool *ret)
{
	Bm__Operation *op = NULL;
	int r;

	if (strcmp(mo->op, name)) {
		if ((r = st_op_get(c, name, &op)) < 0 && r != -ENOENT)
			return r;
		mo->op_live = op && st_op_live(op);
		st_free(op);
		snprintf(mo->op, sizeof(mo->op), "%s", name);
	}
	*ret = mo->op_live;
	return 0;
}

/* Can profile p be installed (a yes memoized: a no ends the reimage)? 0,
 * ST_REFUSED, -errno. */
static int
profile_usable(struct apply_ctx *c, const char *p, struct check_memo *mo)
{
	Bm__Profile *pr = NULL;
	int r;

	if (!strcmp(mo->profile, p))
		return 0;
	r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_PROFILES], p, strlen(p), &bm__profile__descriptor,
	                   (ProtobufCMessage **)&pr);
	if (r == -ENOENT)
		r = st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "profile %s does not exist", p);
	else if (r == 0 && !*pr->kernel)
		r = st_refuse(c, BM__STATUS__STATUS_INVALID, "profile %s has no kernel", p);
	st_free(pr);
	if (r == 0)
		snprintf(mo->profile, sizeof(mo->profile), "%s", p);
	return r;
}

/* Can m join an operation installing `profile` (empty: its own)? 0, or
 * ST_REFUSED with the reason, or -errno. */
static int
check_machine(struct apply_ctx *c, const Bm__Machine *m, const char *profile, struct check_memo *mo)
{
	const char *p = *profile ? profile : m->profile;
	bool live = false;
	int r;

	if (*m->operation && (r = op_live_memo(c, m->operation, mo, &live)) < 0)
		return r;
	if (live)
		return st_refuse(c, BM__STATUS__STATUS_PRECONDITION,
		                 "machine %s is already in operation %s", m->name, m->operation);
	if (!*p)
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "machine %s has no profile: give --profile", m->name);
	return profile_usable(c, p, mo);
}

/* After the checks: none, or too many. 0, ST_REFUSED. */
static int
check_count(struct apply_ctx *c, size_t n)
{
	if (!n)
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no machines match");
	if (n > OP_MACHINES_MAX)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "more than %u machines",
		                 OP_MACHINES_MAX);
	return 0;
}

int
st_op_check_all(struct apply_ctx *c, const Bm__ReimageRequest *q, char *const *names, size_t nn,
                Bm__Machine ***ret, size_t *ret_n)
{
	Bm__Machine **ms = calloc(nn + 1, sizeof(*ms));
	struct check_memo mo = { 0 };
	size_t n = 0;
	int r = 0;

	if (!ms)
		return -ENOMEM;
	for (size_t i = 0; i < nn && r == 0; i++) {
		Bm__Machine *m = NULL;
		if ((r = st_get_machine(c, names[i], &m)) < 0)
			break;
		if (!bm_map_contains(m->n_labels, (void **)m->labels, q->n_labels,
		                     (void **)q->labels)) {
			st_free(m);
			continue;
		}
		ms[n++] = m;
		r = check_machine(c, m, q->profile, &mo);
	}
	if (r == 0)
		r = check_count(c, n);
	if (r != 0) {
		for (size_t i = 0; i < n; i++)
			st_free(ms[i]);
		free(ms);
		return r;
	}
	*ret = ms;
	*ret_n = n;
	return 0;
}

void
st_op_failures_limit(Bm__Operation *op)
{
	/* P% of the machines, rounded up: at least one failure is allowed to
	 * halt it, never zero (which would mean no limit). */
	if (op->max_failures_pct)
		op->max_failures = (uint32_t)((op->n_machines * op->max_failures_pct + 99) / 100);
}

int
st_op_take(struct apply_ctx *c, const Bm__Operation *op, Bm__Machine *m)
{
	int r;

	m->state = S(REIMAGING);
	m->started_ms = 0;
	m->progress_ms = c->now;
	if ((r = st_set_str(&m->operation, op->name)) < 0 ||
	    (r = st_set_str(&m->boot_profile, op->profile)) < 0)
		return r;
	return st_set_str(&m->reason, op->name);
}

/* ------------------------------------------------------------- slices */

/* The end of the slice of op's names that starts at lo. */
static size_t
slice_end(const Bm__Operation *op, size_t lo)
{
	return lo + OP_SLICE < op->n_machines ? lo + OP_SLICE : op->n_machines;
}

/* Keep name i of op: it goes to w, the name there to i. */
static void
name_keep(Bm__Operation *op, size_t i, size_t w)
{
	char *keep = op->machines[i];

	op->machines[i] = op->machines[w];
	op->machines[w] = keep;
}

/* Drop machines[w..i) of op (names freed): the slice kept those before w. */
static void
names_close(Bm__Operation *op, size_t w, size_t i)
{
	for (size_t k = w; k < i; k++)
		free(op->machines[k]);
	memmove(&op->machines[w], &op->machines[i], (op->n_machines - i) * sizeof(char *));
	op->n_machines -= i - w;
}

/* The operation ends refused, nothing taken: why from the checks' result. */
static void
refused(struct apply_ctx *c, Bm__Operation *op, const struct store_result *why)
{
	names_close(op, 0, op->n_machines);
	op->refused = why->status;
	st_set_str(&op->halt_reason, why->message);
	op->state = BM__OP_STATE__OP_FAILED;
	op->finished_ms = c->now;
	op->taking = 0;
}

/* Check the next slice: a machine gone or whose labels do not match
 * leaves the list; one that fails a check ends the operation refused. */
static int
check_slice(struct apply_ctx *c, Bm__Operation *op)
{
	size_t lo = op->checked, hi = slice_end(op, lo), w = lo, i;
	struct store_result *res = c->res, why;
	struct check_memo mo = { 0 };
	int r = 0;

	store_result_init(&why);
	c->res = &why; /* a refusal is the operation's, not the tick's */
	for (i = lo; i < hi && r == 0; i++) {
		Bm__Machine *m = NULL;
		if ((r = st_get_machine(c, op->machines[i], &m)) == -ENOENT) {
			r = 0;
			continue;
		}
		if (r == 0 &&
		    bm_map_contains(m->n_labels, (void **)m->labels, op->n_labels,
		                    (void **)op->labels) &&
		    (r = check_machine(c, m, op->profile, &mo)) == 0)
			name_keep(op, i, w++);
		st_free(m);
	}
	if (r == 0) {
		names_close(op, w, hi);
		op->checked = (uint32_t)w;
		if (op->checked == op->n_machines && (r = check_count(c, w)) == 0)
			st_op_failures_limit(op);
	}
	c->res = res;
	if (r == ST_REFUSED)
		refused(c, op, &why);
	store_result_fini(&why);
	return r == ST_REFUSED ? 0 : r;
}

/* Take the next slice (a machine deleted since its check, or whose labels
 * changed, leaves the list) and start what may start. */
static int
take_slice(struct apply_ctx *c, Bm__Operation *op)
{
	size_t lo = op->taken, hi = slice_end(op, lo), w = lo;
	Bm__Machine **ms = calloc(hi - lo + 1, sizeof(*ms));
	Bm__MachineState *was = calloc(hi - lo + 1, sizeof(*was));
	int r = ms && was ? 0 : -ENOMEM;

	for (size_t i = lo; i < hi && r == 0; i++) {
		Bm__Machine *m = NULL;
		if ((r = st_get_machine(c, op->machines[i], &m)) == -ENOENT) {
			r = 0;
			continue;
		}
		if (r == 0 && !bm_map_contains(m->n_labels, (void **)m->labels, op->n_labels,
		                               (void **)op->labels)) {
			st_free(m);
			continue;
		}
		if (r == 0) {
			name_keep(op, i, w);
			was[w - lo] = m->state;
			ms[w++ - lo] = m;
			r = st_op_take(c, op, m);
		}
	}
	if (r == 0) {
		names_close(op, w, hi);
		op->taken = (uint32_t)w;
		r = st_op_start_slice(c, op, ms, was, lo, w - lo);
	}
	for (size_t k = 0; ms && k < hi - lo; k++)
		st_free(ms[k]);
	free(ms);
	free(was);
	return r;
}

void
st_op_intake_end(Bm__Operation *op)
{
	if (op->taken < op->n_machines)
		names_close(op, op->taken, op->n_machines);
	op->taking = 0;
	op->checked = op->taken = op->intake_started = 0;
	for (size_t i = 0; i < op->n_labels; i++)
		st_free(op->labels[i]);
	free(op->labels);
	op->labels = NULL;
	op->n_labels = 0;
}

int
st_op_intake(struct apply_ctx *c, Bm__Operation *op)
{
	int r = op->checked < op->n_machines ? check_slice(c, op) : take_slice(c, op);

	if (r != 0)
		return r;
	if (op->taking && op->checked == op->n_machines && op->taken == op->n_machines)
		st_op_intake_end(op);
	if ((r = st_op_put(c, op)) < 0)
		return r;
	if (op->taking) {
		c->res->more = true;
		return st_op_wake(c, op->name, 0);
	}
	snprintf(c->res->name, sizeof(c->res->name), "%s", op->name);
	/* Its machines first time out a timeout after the first slice, at
	 * the earliest. */
	return st_op_woken(c, op, op->created_ms + op->timeout_ms + 1);
}
