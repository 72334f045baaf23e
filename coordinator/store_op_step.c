/* Advancing an operation at the command's time (store_ops.c's commands
 * call st_op_advance): time out stalled machines, hold back the rest when
 * a canary failed or too many machines did (the operation halts), and
 * start the next machines as the batch, the canary and each rack's
 * max_booting allow, once the rack's agent holds their images.
 * An advance reads the operations' index (store_op_index.c), not every
 * machine of its operation: the started machines past their timeout, the
 * counts the gates and the end need, and per rack with room its next
 * waiting machines. A waiting machine's reason is written when it is
 * taken and again whenever it is next in its rack's queue (or the
 * operation halts), not at every advance. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/fleet.h"
#include "bm/netaddr.h"
#include "bm/wr.h"
#include "bm/proto.h"
#include "store_op_admit.h"

#define S(x) BM__MACHINE_STATE__STATE_##x

static bool
finished(const Bm__Machine *m, const char *op)
{
	return strcmp(m->operation, op) || m->state == S(DEPLOYED) || m->state == S(FAILED) ||
	       m->state == S(READY);
}

static void
set_reason(Bm__Machine *m, const char *why, bool *changed)
{
	if (strcmp(m->reason, why) && st_set_str(&m->reason, why) == 0)
		*changed = true;
}

/* ------------------------------------------------------------- machines */

static bool
timed_out(const struct apply_ctx *c, const Bm__Operation *op, const Bm__Machine *m)
{
	return c->now > m->progress_ms && c->now - m->progress_ms > op->timeout_ms;
}

/* No progress within the operation's timeout: failed, saying where it
 * stopped and whether its rack's agent is silent. */
static void
fail_timeout(struct apply_ctx *c, const Bm__Operation *op, const struct caches *cs, Bm__Machine *m,
             bool *changed)
{
	char why[400], silence[160];

	store_rack_silence(m->rack, cs->a, cs->n, c->now, silence, sizeof(silence));
	if (m->state == S(INSTALLED))
		snprintf(why, sizeof(why),
		         "installed but never booted from disk (no booted callback in %llus)%s%s",
		         (unsigned long long)(op->timeout_ms / 1000), *silence ? "; " : "",
		         silence);
	else
		snprintf(why, sizeof(why), "no progress for %llus (last: %s%s%s)%s%s",
		         (unsigned long long)(op->timeout_ms / 1000), bm_state_name(m->state),
		         *m->reason ? ", " : "", m->reason, *silence ? "; " : "", silence);
	m->state = S(FAILED);
	set_reason(m, why, changed);
	*changed = true;
}

struct step {
	const Bm__Operation *op;
	const struct caches *cs;
	struct admission adm;
	unsigned active; /* started, not finished */
	/* images_ready's last answer: machines in name order come rack by
	 * rack, mostly of one profile. */
	char memo_rack[64], memo_profile[64];
	int memo_ready; /* -1: none yet */
	char memo_why[400];
	unsigned writes; /* machines put (OP_SLICE at most, then cut) */
	bool cut;        /* more to write: the next tick, at once */
	uint64_t due;    /* the first moment a waiting machine could time out */
};

/* images_ready, memoized by (rack, profile) for this advance. */
static int
images_ready_memo(struct apply_ctx *c, struct step *st, const Bm__Machine *m, char *why,
                  size_t wlen)
{
	const char *p = st_boot_profile(m);

	if (st->memo_ready < 0 || strcmp(st->memo_rack, m->rack) || strcmp(st->memo_profile, p)) {
		st->memo_ready = st_images_ready(c, st->cs, m, st->memo_why, sizeof(st->memo_why));
		snprintf(st->memo_rack, sizeof(st->memo_rack), "%s", m->rack);
		snprintf(st->memo_profile, sizeof(st->memo_profile), "%s", p);
	}
	snprintf(why, wlen, "%s", st->memo_why);
	return st->memo_ready;
}

/* Start m if the batch, its rack's max_booting and its images allow; else
 * say why it waits. */
static int
start_machine(struct apply_ctx *c, struct step *st, Bm__Machine *m, bool *changed)
{
	const Bm__Operation *op = st->op;
	struct rack_load *l;
	char why[400];
	int r;

	if (op->batch && st->active >= op->batch) {
		snprintf(why, sizeof(why), "queued: %u of the batch of %u running", st->active,
		         op->batch);
		set_reason(m, why, changed);
		return 0;
	}
	if ((r = st_admission_get(c, &st->adm, m->rack, &l)) < 0)
		return r;
	if (l->booting >= l->max) {
		snprintf(why, sizeof(why),
		         "queued: rack %s has %u machines booting (max_booting %u)", m->rack,
		         l->booting, l->max);
		set_reason(m, why, changed);
		return 0;
	}
	if (!images_ready_memo(c, st, m, why, sizeof(why))) {
		set_reason(m, why, changed);
		if (timed_out(c, op, m))
			fail_timeout(c, op, st->cs, m, changed);
		else if (m->progress_ms + op->timeout_ms + 1 < st->due)
			st->due = m->progress_ms + op->timeout_ms + 1;
		return 0;
	}
	m->started_ms = c->now;
	m->progress_ms = c->now;
	m->power_seq++;
	/* What the disk ran is unknown from here until its OS says. */
	if (*m->os || *m->kernel) {
		st_set_str(&m->os, "");
		st_set_str(&m->kernel, "");
	}
	set_reason(m, "power cycle requested", changed);
	*changed = true;
	st->active++;
	l->booting++;
	return 0;
}

/* ---------------------------------------------------------------- gates */

static void
halt(Bm__Operation *op, const char *why, bool *op_changed)
{
	op->state = BM__OP_STATE__OP_HALTED;
	st_set_str(&op->halt_reason, why);
	op->noting = 1; /* its waiting machines are told, a slice at a time */
	op->noting_from.len = 0;
	*op_changed = true;
}

static size_t
n_canary(const Bm__Operation *op)
{
	return op->canary < op->n_machines ? op->canary : op->n_machines;
}

/* The canary and --max-failures, after the timeouts: halt, or let the
 * canary pass. Counts from the index; the canary's own names looked up. */
static int
check_gates(struct apply_ctx *c, Bm__Operation *op, bool *op_changed)
{
	size_t failed = 0, canary_done = 0, nc = n_canary(op);
	const char *canary_failed = NULL;
	char why[400];
	int r = st_op_ix_count(c, op->name, 'f', &failed), h;

	if (r < 0 || op->state != BM__OP_STATE__OP_RUNNING || op->cancel)
		return r;
	for (size_t i = 0; !op->canary_passed && i < nc && r == 0; i++) {
		if ((h = st_op_ix_has(c, op->name, 'f', op->machines[i])) > 0 && !canary_failed)
			canary_failed = op->machines[i];
		if (h >= 0 && (h = st_op_ix_has(c, op->name, 'd', op->machines[i])) > 0)
			canary_done++;
		r = h < 0 ? h : 0;
	}
	if (r == 0 && canary_failed) {
		Bm__Machine *m = NULL;
		if ((r = st_get_machine(c, canary_failed, &m)) == 0 || r == -ENOENT) {
			r = 0;
			snprintf(why, sizeof(why), "canary %s failed: %s", canary_failed,
			         m ? m->reason : "deleted");
			halt(op, why, op_changed);
		}
		st_free(m);
	} else if (r == 0 && nc && !op->canary_passed && canary_done == nc) {
		op->canary_passed = 1;
		*op_changed = true;
	}
	if (r == 0 && op->state == BM__OP_STATE__OP_RUNNING && op->max_failures &&
	    failed >= op->failures_forgiven + op->max_failures) {
		snprintf(why, sizeof(why), "%u machines failed (max-failures %u)",
		         (unsigned)failed - op->failures_forgiven, op->max_failures);
		halt(op, why, op_changed);
	}
	return r;
}

/* What holds an unstarted machine back when it may not start at all. */
static const char *
held_why(const Bm__Operation *op, size_t i, char *buf, size_t len)
{
	if (op->state == BM__OP_STATE__OP_HALTED) {
		snprintf(buf, len, "held: the operation halted (%s)", op->halt_reason);
		return buf;
	}
	if (op->canary && !op->canary_passed && i >= op->canary) {
		snprintf(buf, len, "held: waiting for the canary (%u machines) to deploy",
		         op->canary);
		return buf;
	}
	return NULL;
}

/* ------------------------------------------------------------- advance */

/* Machine `name` of op as the index names it, unless gone or no longer
 * waiting/active there (*ret NULL). */
static int
read_mine(struct apply_ctx *c, const Bm__Operation *op, const char *name, Bm__Machine **ret)
{
	int r = st_get_machine(c, name, ret);

	if (r == -ENOENT) {
		*ret = NULL;
		return 0;
	}
	if (r == 0 && finished(*ret, op->name)) {
		st_free(*ret);
		*ret = NULL;
	}
	return r;
}

static int
put(struct apply_ctx *c, struct step *st, Bm__Machine *m, Bm__MachineState was)
{
	st->writes++;
	return st_put_machine(c, m, was);
}

/* An index value's name: after the 8-byte time ('a') or the rack ('w'). */
static const char *
value_name(const struct op_ix_list *l, size_t i, char tag)
{
	return tag == 'a' ? l->v[i] + 8 : l->v[i] + strlen(l->v[i]) + 1;
}

static bool
keep_due(const MDB_val *v, void *arg)
{
	return v->mv_size > 8 && bm_get_be64(v->mv_data) < *(const uint64_t *)arg;
}

/* Cancelled: its waiting machines back to ready ('w'). Timed out: its
 * started machines whose progress is older than the timeout, oldest first
 * ('a'). At most what the slice has left (st->cut: the rest at the next
 * tick). */
static int
settle(struct apply_ctx *c, Bm__Operation *op, struct step *st, char tag)
{
	uint64_t before = c->now > op->timeout_ms ? c->now - op->timeout_ms : 0;
	size_t room = OP_SLICE - st->writes;
	struct op_ix_list l;
	int r = st_op_ix_list(c, op->name, tag, NULL, 0, room, tag == 'w' ? NULL : keep_due,
	                      &before, &l);

	for (size_t i = 0; i < l.n && r == 0; i++) {
		Bm__Machine *m = NULL;
		bool changed = false;
		if ((r = read_mine(c, op, value_name(&l, i, tag), &m)) < 0 || !m)
			continue;
		Bm__MachineState was = m->state;
		if (tag == 'w' && !m->started_ms) {
			m->state = S(READY);
			set_reason(m, "cancelled before it started", &changed);
			changed = true;
		} else if (tag == 'a' && m->started_ms && timed_out(c, op, m)) {
			fail_timeout(c, op, st->cs, m, &changed);
		}
		if (changed)
			r = put(c, st, m, was);
		st_free(m);
	}
	st->cut |= room == 0 || l.n == room;
	st_op_ix_list_free(&l);
	return r;
}

/* Halted or resumed: tell its waiting machines, a slice at a time from
 * noting_from (once running, the next of each rack with room is then told
 * what it waits for: start_rack). */
static int
note_waiting(struct apply_ctx *c, Bm__Operation *op, struct step *st, bool *op_changed)
{
	size_t room = OP_SLICE - st->writes;
	struct op_ix_list l;
	char why[512];
	int r = st_op_ix_list(c, op->name, 'w', op->noting_from.data, op->noting_from.len, room,
	                      NULL, NULL, &l);

	if (!held_why(op, 0, why, sizeof(why)))
		snprintf(why, sizeof(why),
		         "queued: the operation resumed; waiting for room in its rack "
		         "(max_booting)%s",
		         op->batch ? " or the batch" : "");
	for (size_t i = 0; i < l.n && r == 0; i++) {
		Bm__Machine *m = NULL;
		bool changed = false;
		if ((r = read_mine(c, op, value_name(&l, i, 'w'), &m)) < 0 || !m)
			continue;
		set_reason(m, why, &changed);
		if (changed)
			r = put(c, st, m, m->state);
		st_free(m);
	}
	if (r == 0 && l.n == room && room) { /* on from the next value */
		uint8_t *from = realloc(op->noting_from.data, l.len[l.n - 1] + 1);
		if (!from) {
			r = -ENOMEM;
		} else {
			memcpy(from, l.v[l.n - 1], l.len[l.n - 1]);
			from[l.len[l.n - 1]] = 0;
			op->noting_from = (ProtobufCBinaryData){ l.len[l.n - 1] + 1, from };
		}
		st->cut = true;
	} else if (r == 0 && room) {
		op->noting = 0;
	}
	st->cut |= room == 0;
	*op_changed = true;
	st_op_ix_list_free(&l);
	return r;
}

/* Machine `name` of the operation, if it still waits: started, or told
 * why not (start_machine), and put when that changed it. */
static int
try_start(struct apply_ctx *c, struct step *st, const char *name)
{
	Bm__Machine *m = NULL;
	bool changed = false;
	int r = read_mine(c, st->op, name, &m);

	if (r == 0 && m && !m->started_ms) {
		Bm__MachineState was = m->state;
		if ((r = start_machine(c, st, m, &changed)) == 0 && changed)
			r = put(c, st, m, was);
	}
	st_free(m);
	return r;
}

static bool
keep_rack(const MDB_val *v, void *arg)
{
	size_t n = strlen(arg) + 1;
	return v->mv_size > n && !memcmp(v->mv_data, arg, n);
}

/* Room for rack's machines to start: its max_booting, and the batch. */
static size_t
rack_room(const struct step *st, const struct rack_load *l)
{
	size_t room = l->booting < l->max ? l->max - l->booting : 0,
	       batch = st->active < st->op->batch ? st->op->batch - st->active : 0;

	return st->op->batch && batch < room ? batch : room;
}

/* Start what may start among rack's waiting machines, in name order: as
 * many as there is room for, then the next one is told why it waits. A
 * rack without room is passed over (its next machine was told when it
 * filled). All of them are visited only when the rack's images are
 * missing and one could time out. *stop: the batch is full. */
static int
start_rack(struct apply_ctx *c, struct step *st, const char *rack, bool *stop)
{
	const Bm__Operation *op = st->op;
	struct rack_load *l;
	int r = st_admission_get(c, &st->adm, rack, &l);
	size_t room = r == 0 ? rack_room(st, l) : 0;

	for (int pass = 0; room && pass < 2 && r == 0; pass++) {
		size_t max = pass ? OP_SLICE - st->writes : room + 1;
		struct op_ix_list x;
		if ((r = st_op_ix_list(c, op->name, 'w', rack, strlen(rack) + 1, max, keep_rack,
		                       (void *)rack, &x)) < 0)
			break;
		for (size_t i = 0; i < x.n && r == 0; i++)
			r = try_start(c, st, value_name(&x, i, 'w'));
		st->cut |= pass && x.n == max;
		st_op_ix_list_free(&x);
		/* Missing images, and the oldest could time out: visit all. */
		if (st->memo_ready != 0 || strcmp(st->memo_rack, rack) ||
		    c->now <= op->created_ms + op->timeout_ms)
			break;
	}
	*stop = op->batch && st->active >= op->batch;
	return r;
}

/* The next rack with a waiting machine of op after `after` (NULL: the
 * first): its name in rack (BM_NAME_MAX + 1). 1, 0 (none) or -errno. */
static int
next_rack(struct apply_ctx *c, const Bm__Operation *op, const char *after, char *rack)
{
	char from[BM_NAME_MAX + 2];
	size_t n = after ? strlen(after) : 0;
	struct op_ix_list l;
	int r;

	if (after) { /* past every "after\0name": "after\1" */
		memcpy(from, after, n);
		from[n++] = 1;
	}
	if ((r = st_op_ix_list(c, op->name, 'w', from, n, 1, NULL, NULL, &l)) < 0)
		return r;
	if (l.n)
		snprintf(rack, BM_NAME_MAX + 1, "%s", l.v[0]);
	r = l.n ? 1 : 0;
	st_op_ix_list_free(&l);
	return r;
}

/* Running: start what may start. While the canary has not passed, only
 * its machines; then rack by rack. */
static int
start_waiting(struct apply_ctx *c, Bm__Operation *op, struct step *st)
{
	char rack[BM_NAME_MAX + 1];
	bool stop = false;
	size_t active = 0;
	int r = st_op_ix_count(c, op->name, 'a', &active), more;

	st->active = (unsigned)active;
	if (r == 0 && op->canary && !op->canary_passed) {
		for (size_t i = 0; i < n_canary(op) && r == 0; i++)
			r = try_start(c, st, op->machines[i]);
		return r;
	}
	for (more = r == 0 ? next_rack(c, op, NULL, rack) : r; more > 0 && !stop && !st->cut;
	     more = next_rack(c, op, rack, rack)) {
		if ((r = start_rack(c, st, rack, &stop)) < 0)
			return r;
		st->cut |= st->writes >= OP_SLICE;
	}
	return more < 0 ? more : 0;
}

/* When the tick next advances op: the first moment a started machine or
 * one waiting for its images could time out (UINT64_MAX: none). */
static int
next_due(struct apply_ctx *c, const Bm__Operation *op, const struct step *st, uint64_t *ret)
{
	struct op_ix_list l;
	int r = st_op_ix_list(c, op->name, 'a', NULL, 0, 1, NULL, NULL, &l);

	*ret = st->due;
	if (r == 0 && l.n && l.len[0] > 8) {
		uint64_t due = bm_get_be64((const uint8_t *)l.v[0]) + op->timeout_ms + 1;
		if (due < *ret)
			*ret = due > c->now ? due : c->now + 1;
	}
	if (st->cut)
		*ret = c->now;
	st_op_ix_list_free(&l);
	return r;
}

/* Finished once no machine of it waits or runs. */
static int
finish(struct apply_ctx *c, Bm__Operation *op, bool *op_changed)
{
	size_t active = 0, waiting = 0, done = 0;
	int r = st_op_ix_count(c, op->name, 'a', &active);

	if (r == 0)
		r = st_op_ix_count(c, op->name, 'w', &waiting);
	if (r == 0)
		r = st_op_ix_count(c, op->name, 'd', &done);
	if (r < 0 || active || waiting)
		return r;
	op->state = op->cancel               ? BM__OP_STATE__OP_CANCELLED
	            : done == op->n_machines ? BM__OP_STATE__OP_DONE
	                                     : BM__OP_STATE__OP_FAILED;
	op->finished_ms = c->now;
	*op_changed = true;
	return 0;
}

/* Advance op from the index: what can change now, not every machine. */
static int
advance(struct apply_ctx *c, Bm__Operation *op)
{
	struct caches cs = { 0 };
	struct step st = { .op = op, .cs = &cs, .memo_ready = -1, .due = UINT64_MAX };
	uint64_t due = UINT64_MAX;
	bool op_changed = false;
	int r = st_caches_load(c, &cs);

	if (r == 0 && op->cancel)
		r = settle(c, op, &st, 'w');
	if (r == 0 && !st.cut)
		r = settle(c, op, &st, 'a');
	if (r == 0)
		r = check_gates(c, op, &op_changed);
	if (r == 0 && !st.cut && op->noting && !op->cancel)
		r = note_waiting(c, op, &st, &op_changed);
	if (r == 0 && !st.cut && op->state == BM__OP_STATE__OP_RUNNING && !op->cancel)
		r = start_waiting(c, op, &st);
	if (r == 0 && !st.cut)
		r = finish(c, op, &op_changed);
	if (r == 0)
		r = next_due(c, op, &st, &due);
	c->res->more |= st.cut;
	if (r == 0 && op_changed)
		r = st_op_put(c, op);
	if (r == 0)
		r = st_op_woken(c, op, due);
	st_admission_free(&st.adm);
	st_caches_free(&cs);
	return r;
}

int
st_op_advance(struct apply_ctx *c, Bm__Operation *op)
{
	if (op->taking) /* its slices start its machines (store_op_intake.c) */
		return st_op_wake(c, op->name, 0);
	return advance(c, op);
}

int
st_op_start_slice(struct apply_ctx *c, Bm__Operation *op, Bm__Machine **ms,
                  const Bm__MachineState *was, size_t lo, size_t k)
{
	struct caches cs = { 0 };
	struct step st = { .op = op,
		           .cs = &cs,
		           .memo_ready = -1,
		           .active = op->intake_started,
		           .due = UINT64_MAX };
	char why[512];
	int r = st_caches_load(c, &cs);

	for (size_t i = 0; i < k && r == 0; i++) {
		const char *held = held_why(op, lo + i, why, sizeof(why));
		bool changed = false;
		if (held)
			set_reason(ms[i], held, &changed);
		else
			r = start_machine(c, &st, ms[i], &changed);
		if (r == 0)
			r = st_put_machine(c, ms[i], was[i]);
	}
	if (op->taking) /* the batch, counted across its slices */
		op->intake_started = st.active;
	st_admission_free(&st.adm);
	st_caches_free(&cs);
	return r;
}

int
st_op_advance_taken(struct apply_ctx *c, Bm__Operation *op, Bm__Machine **ms,
                    const Bm__MachineState *was)
{
	int r = st_op_start_slice(c, op, ms, was, 0, op->n_machines);

	return r ? r : st_op_woken(c, op, c->now + op->timeout_ms + 1);
}
