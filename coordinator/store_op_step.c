/* Advancing an operation at the command's time (store_ops.c's commands
 * call st_op_advance): time out stalled machines, hold back the rest when
 * a canary failed or too many machines did (the operation halts), and
 * start the next machines as the batch, the canary and each rack's
 * max_booting allow, once the rack's agent holds their images. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/fleet.h"
#include "bm/proto.h"
#include "store_priv.h"

#define S(x) BM__MACHINE_STATE__STATE_##x

static const char *
profile_of(const Bm__Machine *m)
{
	return *m->boot_profile ? m->boot_profile : m->profile;
}

/* The agents' caches, read once per advance. */
struct caches {
	Bm__AgentRecord **a;
	size_t n;
};

static int
caches_load(struct apply_ctx *c, struct caches *cs)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_AGENTS], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__AgentRecord *a = bm__agent_record__unpack(NULL, v.mv_size, v.mv_data);
		Bm__AgentRecord **nv = a ? realloc(cs->a, (cs->n + 1) * sizeof(*nv)) : NULL;
		if (!nv) {
			st_free(a);
			continue;
		}
		cs->a = nv;
		cs->a[cs->n++] = a;
	}
	mdb_cursor_close(cur);
	return r;
}

static void
caches_free(struct caches *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		st_free(cs->a[i]);
	free(cs->a);
}

static bool
agent_holds(const Bm__AgentRecord *a, const ProtobufCBinaryData *sha)
{
	for (size_t i = 0; a->info && i < a->info->n_cached; i++)
		if (a->info->cached[i].len == sha->len &&
		    !memcmp(a->info->cached[i].data, sha->data, sha->len))
			return true;
	return false;
}

/* Does an agent of m's rack hold every image of m's profile (kernel,
 * initrd, disk image)? If not, why (written to why). */
static int
images_ready(struct apply_ctx *c, const struct caches *cs, const Bm__Machine *m, char *why,
             size_t wlen)
{
	const char *p = profile_of(m);
	Bm__Profile *pr = NULL;
	const char *need[3];
	int r = 1;

	if (bm_mdb_get_msg(c->txn, c->s->dbi[DB_PROFILES], p, strlen(p), &bm__profile__descriptor,
	                   (ProtobufCMessage **)&pr) < 0) {
		snprintf(why, wlen, "profile %s is gone", p);
		return 0;
	}
	need[0] = pr->kernel;
	need[1] = pr->initrd;
	need[2] = pr->disk_image; /* the deploy ramdisk writes it from this agent */
	for (int i = 0; i < 3 && r; i++) {
		Bm__Image *im = NULL;
		bool held = false;
		if (!*need[i])
			continue;
		if (bm_mdb_get_msg(c->txn, c->s->dbi[DB_IMAGES], need[i], strlen(need[i]),
		                   &bm__image__descriptor, (ProtobufCMessage **)&im) < 0) {
			snprintf(why, wlen, "image %s is not declared", need[i]);
			r = 0;
			break;
		}
		for (size_t j = 0; j < cs->n && !held; j++)
			held = cs->a[j]->info && !strcmp(cs->a[j]->info->rack, m->rack) &&
			       agent_holds(cs->a[j], &im->sha256);
		if (!held) {
			snprintf(why, wlen, "waiting for rack %s's agent to cache image %s",
			         m->rack, need[i]);
			r = 0;
		}
		st_free(im);
	}
	st_free(pr);
	return r;
}

static bool
active(const Bm__Machine *m)
{
	return m->started_ms && (m->state == S(REIMAGING) || m->state == S(NETBOOTING) ||
	                         m->state == S(INSTALLING) || m->state == S(INSTALLED));
}

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

/* ------------------------------------------------------------ admission */

/* Between power-on and installing: what max_booting bounds. */
static bool
booting(const Bm__Machine *m)
{
	return *m->operation && m->started_ms &&
	       (m->state == S(REIMAGING) || m->state == S(NETBOOTING));
}

/* A rack's machines booting now and its max_booting. */
struct rack_load {
	char *rack;
	unsigned booting, max;
	struct rack_load *next;
};

#define LOAD_BUCKETS 256u
struct admission {
	struct rack_load *b[LOAD_BUCKETS];
	/* The advancing operation's machines, read (NULL: none): counted from
	 * here, not read again (names in order: `sorted`). */
	const Bm__Operation *op;
	Bm__Machine *const *ms;
	bool sorted;
};

static int
name_cmp(const void *key, const void *elem)
{
	return strcmp(key, *(char *const *)elem);
}

/* Machine `name` as the advance holds it, or NULL. (A rack's count is
 * taken at its first start of the advance, before any of its machines
 * started in it: what the advance holds is then what is stored.) */
static const Bm__Machine *
held_machine(const struct admission *a, const char *name)
{
	char *const *hit;

	if (!a->ms || !a->sorted)
		return NULL;
	hit = bsearch(name, a->op->machines, a->op->n_machines, sizeof(char *), name_cmp);
	return hit ? a->ms[hit - a->op->machines] : NULL;
}

/* Its names in order, as reimages store them (each name once). */
static bool
names_sorted(const Bm__Operation *op)
{
	for (size_t i = 1; i < op->n_machines; i++)
		if (strcmp(op->machines[i - 1], op->machines[i]) >= 0)
			return false;
	return true;
}

static int
rack_count(struct apply_ctx *c, const struct admission *a, struct rack_load *l)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(l->rack), l->rack }, v;
	Bm__Rack *rk = NULL;
	int rc, r = 0;

	if (bm_mdb_get_msg(c->txn, c->s->dbi[DB_RACKS], l->rack, strlen(l->rack),
	                   &bm__rack__descriptor, (ProtobufCMessage **)&rk) == 0)
		l->max = rk->max_booting;
	st_free(rk);
	if (!l->max)
		l->max = BM_MAX_BOOTING_DEFAULT;
	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_RACK_MACHINES], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		char name[256];
		Bm__Machine *m = NULL;
		const Bm__Machine *held;
		snprintf(name, sizeof(name), "%.*s", (int)v.mv_size, (char *)v.mv_data);
		if ((held = held_machine(a, name))) {
			l->booting += booting(held);
			continue;
		}
		if ((r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], v.mv_data, v.mv_size,
		                        &bm__machine__descriptor, (ProtobufCMessage **)&m)) ==
		    -ENOENT)
			r = 0;
		l->booting += m && booting(m);
		st_free(m);
	}
	mdb_cursor_close(cur);
	return r;
}

/* The rack's load, counted at its first use in this advance. */
static int
admission_get(struct apply_ctx *c, struct admission *a, const char *rack, struct rack_load **ret)
{
	unsigned h = 2166136261u;
	struct rack_load *l;
	int r;

	for (const char *p = rack; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (l = a->b[h % LOAD_BUCKETS]; l; l = l->next)
		if (!strcmp(l->rack, rack)) {
			*ret = l;
			return 0;
		}
	if (!(l = calloc(1, sizeof(*l))) || !(l->rack = strdup(rack))) {
		free(l);
		return -ENOMEM;
	}
	l->next = a->b[h % LOAD_BUCKETS];
	a->b[h % LOAD_BUCKETS] = l;
	if ((r = rack_count(c, a, l)) < 0)
		return r;
	*ret = l;
	return 0;
}

static void
admission_free(struct admission *a)
{
	for (unsigned i = 0; i < LOAD_BUCKETS; i++)
		while (a->b[i]) {
			struct rack_load *l = a->b[i];
			a->b[i] = l->next;
			free(l->rack);
			free(l);
		}
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

/* A machine of the operation at time now: cancelled before it started, or
 * started and timed out. (One not started waits for the batch, its rack,
 * the canary or a resume without a limit; for its images, within the
 * timeout: start_machine.) */
static void
settle_machine(struct apply_ctx *c, const Bm__Operation *op, const struct caches *cs,
               Bm__Machine *m, bool *changed)
{
	if (finished(m, op->name))
		return;
	if (!m->started_ms && op->cancel) {
		m->state = S(READY);
		set_reason(m, "cancelled before it started", changed);
		*changed = true;
		return;
	}
	if (m->started_ms && timed_out(c, op, m))
		fail_timeout(c, op, cs, m, changed);
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
	bool cut;
};

/* images_ready, memoized by (rack, profile) for this advance. */
static int
images_ready_memo(struct apply_ctx *c, struct step *st, const Bm__Machine *m, char *why,
                  size_t wlen)
{
	const char *p = profile_of(m);

	if (st->memo_ready < 0 || strcmp(st->memo_rack, m->rack) || strcmp(st->memo_profile, p)) {
		st->memo_ready = images_ready(c, st->cs, m, st->memo_why, sizeof(st->memo_why));
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
	if ((r = admission_get(c, &st->adm, m->rack, &l)) < 0)
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
	*op_changed = true;
}

/* The canary and --max-failures, after the timeouts: halt, or let the
 * canary pass. */
static void
check_gates(Bm__Operation *op, Bm__Machine **ms, bool *op_changed)
{
	unsigned failed = 0, canary_done = 0,
	         n_canary = op->canary < op->n_machines ? op->canary : (unsigned)op->n_machines;
	const Bm__Machine *canary_failed = NULL;
	char why[400];

	for (size_t i = 0; i < op->n_machines; i++) {
		const Bm__Machine *m = ms[i];
		bool mine = m && !strcmp(m->operation, op->name);
		failed += mine && m->state == S(FAILED);
		if (i < n_canary && mine && m->state == S(FAILED) && !canary_failed)
			canary_failed = m;
		canary_done += i < n_canary && mine && m->state == S(DEPLOYED);
	}
	if (op->state != BM__OP_STATE__OP_RUNNING || op->cancel)
		return;
	if (n_canary && !op->canary_passed && canary_failed) {
		snprintf(why, sizeof(why), "canary %s failed: %s", canary_failed->name,
		         canary_failed->reason);
		halt(op, why, op_changed);
	} else if (n_canary && !op->canary_passed && canary_done == n_canary) {
		op->canary_passed = 1;
		*op_changed = true;
	}
	if (op->state == BM__OP_STATE__OP_RUNNING && op->max_failures &&
	    failed >= op->failures_forgiven + op->max_failures) {
		snprintf(why, sizeof(why), "%u machines failed (max-failures %u)",
		         failed - op->failures_forgiven, op->max_failures);
		halt(op, why, op_changed);
	}
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

static int
load_machines(struct apply_ctx *c, const Bm__Operation *op, Bm__Machine **ms)
{
	int r = 0;

	for (size_t i = 0; i < op->n_machines && r == 0; i++)
		if ((r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], op->machines[i],
		                        strlen(op->machines[i]), &bm__machine__descriptor,
		                        (ProtobufCMessage **)&ms[i])) == -ENOENT)
			r = 0; /* deleted meanwhile: it will not deploy */
	return r;
}

/* Time out and cancel (pass 1: stored at once, as the racks' counts read
 * the store); check the gates; start (pass 2); then put each machine pass 2
 * changed (or `dirty` already) once, against its stored state `was`. Once
 * OP_SLICE machines are written the rest waits for the next tick
 * (st->cut), which the proposer sends at once. */
static int
step_all(struct apply_ctx *c, Bm__Operation *op, struct step *st, Bm__Machine **ms,
         Bm__MachineState *was, bool *dirty, bool *op_changed)
{
	char why[512];
	int r = 0;

	for (size_t i = 0; i < op->n_machines && r == 0; i++) {
		bool changed = false;
		if (!ms[i])
			continue;
		if (st->writes >= OP_SLICE)
			st->cut = true; /* the rest at the next tick */
		else
			settle_machine(c, op, st->cs, ms[i], &changed);
		if (changed && (r = st_put_machine(c, ms[i], was[i])) == 0) {
			was[i] = ms[i]->state;
			dirty[i] = false;
			st->writes++;
		}
		st->active += active(ms[i]) && !strcmp(ms[i]->operation, op->name);
	}
	check_gates(op, ms, op_changed);
	for (size_t i = 0; i < op->n_machines && r == 0 && !st->cut; i++) {
		Bm__Machine *m = ms[i];
		const char *held;
		if (!m || m->started_ms || finished(m, op->name) || op->cancel)
			continue;
		if ((st->cut = st->writes >= OP_SLICE))
			break;
		if ((held = held_why(op, i, why, sizeof(why))))
			set_reason(m, held, &dirty[i]);
		else
			r = start_machine(c, st, m, &dirty[i]);
		st->writes += dirty[i];
	}
	for (size_t i = 0; i < op->n_machines && r == 0; i++)
		if (ms[i] && dirty[i])
			r = st_put_machine(c, ms[i], was[i]);
	return r;
}

/* Advance op: with `have`, its machines as the caller holds them (changed
 * in memory, not yet stored: each is put; `have_was` their stored
 * states), else read here. */
static int
advance(struct apply_ctx *c, Bm__Operation *op, Bm__Machine **have,
        const Bm__MachineState *have_was)
{
	size_t n = op->n_machines;
	Bm__Machine **ms = have ? have : calloc(n + 1, sizeof(*ms));
	Bm__MachineState *was = calloc(n + 1, sizeof(*was));
	bool *dirty = calloc(n + 1, sizeof(*dirty));
	struct caches cs = { 0 };
	struct step st = { .op = op,
		           .cs = &cs,
		           .memo_ready = -1,
		           .adm = { .op = op, .ms = ms, .sorted = names_sorted(op) } };
	uint64_t next_due = UINT64_MAX; /* the first moment one could time out */
	unsigned n_done = 0;
	bool all_finished = true, op_changed = false;
	int r = ms && was && dirty ? 0 : -ENOMEM;

	if (r == 0 && !have)
		r = load_machines(c, op, ms);
	for (size_t i = 0; r == 0 && i < n; i++) {
		was[i] = have ? have_was[i] : ms[i] ? ms[i]->state : 0;
		dirty[i] = have != NULL;
	}
	if (r == 0 && (r = caches_load(c, &cs)) == 0)
		r = step_all(c, op, &st, ms, was, dirty, &op_changed);
	if (st.cut) {
		all_finished = false;
		next_due = c->now;
		c->res->more = true;
	}
	for (size_t i = 0; i < n && r == 0 && !st.cut; i++) {
		if (!ms[i])
			continue;
		n_done += !strcmp(ms[i]->operation, op->name) && ms[i]->state == S(DEPLOYED);
		all_finished &= finished(ms[i], op->name);
		/* (Past due and not failed: held by the batch, its rack or
		 * the canary, which time nothing out.) */
		uint64_t due = ms[i]->progress_ms + op->timeout_ms + 1;
		if (!finished(ms[i], op->name) && due > c->now && due < next_due)
			next_due = due;
	}
	if (r == 0 && all_finished) {
		op->state = op->cancel                 ? BM__OP_STATE__OP_CANCELLED
		            : n_done == op->n_machines ? BM__OP_STATE__OP_DONE
		                                       : BM__OP_STATE__OP_FAILED;
		op->finished_ms = c->now;
		op_changed = true;
	}
	if (r == 0 && op_changed)
		r = st_op_put(c, op);
	if (r == 0)
		r = st_op_woken(c, op, next_due);
	admission_free(&st.adm);
	caches_free(&cs);
	for (size_t i = 0; !have && ms && i < n; i++)
		st_free(ms[i]);
	if (!have)
		free(ms);
	free(was);
	free(dirty);
	return r;
}

int
st_op_advance(struct apply_ctx *c, Bm__Operation *op)
{
	if (op->taking) /* its slices start its machines (store_op_intake.c) */
		return st_op_wake(c, op->name, 0);
	return advance(c, op, NULL, NULL);
}

int
st_op_start_slice(struct apply_ctx *c, Bm__Operation *op, Bm__Machine **ms,
                  const Bm__MachineState *was, size_t lo, size_t k)
{
	struct caches cs = { 0 };
	struct step st = { .op = op, .cs = &cs, .memo_ready = -1, .active = op->intake_started };
	char why[512];
	int r = caches_load(c, &cs);

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
	op->intake_started = st.active;
	admission_free(&st.adm);
	caches_free(&cs);
	return r;
}

int
st_op_advance_taken(struct apply_ctx *c, Bm__Operation *op, Bm__Machine **ms,
                    const Bm__MachineState *was)
{
	return advance(c, op, ms, was);
}
