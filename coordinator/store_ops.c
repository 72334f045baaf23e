/* Operations (reimage) in the state machine. A reimage is one command: it
 * resolves its targets against the store, takes every machine into state
 * reimaging (owned by the operation), and starts the first batch. Ticks
 * (commands carrying the proposer's time) then time out stalled machines,
 * start the next ones as the batch allows, and finish the operation. A
 * machine starts only once an agent of its rack holds every image its
 * profile needs; until then it waits in reimaging with the reason set.
 *
 * An advance reads every machine of the operation. A small one (its record
 * at most OP_SMALL_BYTES, some 2,000 machines) is advanced at every tick
 * and at once when one of its machines ends. A large one only when it can
 * change: DB_OP_WAKE holds, per operation, when the tick next advances it:
 * at once after one of its machines ended (st_op_settle), else at the
 * first moment one of its machines could time out, and at most
 * OP_IDLE_ADVANCE_MS later (for what no event announces: an agent now
 * holding the images, a rack's max_booting raised). So a 100,000-machine
 * operation whose machines are installing costs a tick nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/proto.h"
#include "bm/sha256.h"
#include "store_priv.h"

#define S(x) BM__MACHINE_STATE__STATE_##x
#define OP_TIMEOUT_DEFAULT_MS (30ull * 60 * 1000)
#define OP_MACHINES_MAX 100000u
#define OP_SMALL_BYTES (32u << 10)
#define OP_IDLE_ADVANCE_MS (30u * 1000)
#define OP_WAKE_DONE UINT64_MAX /* finished: never again */

struct names {
	char **v;
	size_t n, cap;
};

static int
names_add(struct names *ns, const char *s, size_t len)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 64;
		char **v = realloc(ns->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		ns->v = v;
		ns->cap = cap;
	}
	if (!(ns->v[ns->n] = strndup(s, len)))
		return -ENOMEM;
	ns->n++;
	return 0;
}

static void
names_free(struct names *ns)
{
	for (size_t i = 0; i < ns->n; i++)
		free(ns->v[i]);
	free(ns->v);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
names_sort_unique(struct names *ns)
{
	size_t u = 0;
	if (ns->n)
		qsort(ns->v, ns->n, sizeof(char *), str_cmp);
	for (size_t i = 0; i < ns->n; i++) {
		if (u && !strcmp(ns->v[u - 1], ns->v[i]))
			free(ns->v[i]);
		else
			ns->v[u++] = ns->v[i];
	}
	ns->n = u;
}

static bool
exists(struct apply_ctx *c, enum store_db db, const char *name)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	return mdb_get(c->txn, c->s->dbi[db], &k, &v) == MDB_SUCCESS;
}

static int
get_machine(struct apply_ctx *c, const char *name, Bm__Machine **ret)
{
	return bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], name, strlen(name),
	                      &bm__machine__descriptor, (ProtobufCMessage **)ret);
}

int
st_op_put(struct apply_ctx *c, Bm__Operation *op)
{
	int r;
	op->mod_rev = c->rev;
	if ((r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_OPS], op->name, strlen(op->name), &op->base)) <
	    0)
		return r;
	return st_change(c, BM__KIND__KIND_OPERATION, op->name, "", false);
}

/* ------------------------------------------------------------- targets */

static int
rack_machines(struct apply_ctx *c, const char *rack, struct names *out)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(rack), (void *)rack }, v;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_RACK_MACHINES], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP))
		r = names_add(out, v.mv_data, v.mv_size);
	mdb_cursor_close(cur);
	return r;
}

static int
site_machines(struct apply_ctx *c, const char *site, struct names *out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_RACKS], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__Rack *rk = bm__rack__unpack(NULL, v.mv_size, v.mv_data);
		if (rk && !strcmp(rk->site, site))
			r = rack_machines(c, rk->name, out);
		st_free(rk);
	}
	mdb_cursor_close(cur);
	return r;
}

/* One target: "rack/NAME", "site/NAME", "machine/NAME" or a bare name that
 * must name exactly one of them. Returns 0, ST_REFUSED or -errno. */
static int
resolve_target(struct apply_ctx *c, const char *t, struct names *out)
{
	const char *slash = strchr(t, '/'), *name = slash ? slash + 1 : t;
	bool m = (!slash || !strncmp(t, "machine/", 8)) && exists(c, DB_MACHINES, name);
	bool r = (!slash || !strncmp(t, "rack/", 5)) && exists(c, DB_RACKS, name);
	bool s = (!slash || !strncmp(t, "site/", 5)) && exists(c, DB_SITES, name);

	if (m + r + s > 1)
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "%s names more than one of machine, rack and site: say "
		                 "machine/%s, rack/%s or site/%s",
		                 t, name, name, name);
	if (!m && !r && !s)
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no machine, rack or site %s", t);
	if (m)
		return names_add(out, name, strlen(name));
	return r ? rack_machines(c, name, out) : site_machines(c, name, out);
}

static int
all_machines(struct apply_ctx *c, struct names *out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_MACHINES], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		r = names_add(out, k.mv_data, k.mv_size);
	mdb_cursor_close(cur);
	return r;
}

static bool
labels_match(const Bm__ReimageRequest *q, const Bm__Machine *m)
{
	for (size_t i = 0; i < q->n_labels; i++) {
		const char *v = bm_map_get(m->n_labels, (void **)m->labels, q->labels[i]->key);
		if (!v || strcmp(v, q->labels[i]->value))
			return false;
	}
	return true;
}

/* ------------------------------------------------------------- checks */

static int
get_op(struct apply_ctx *c, const char *name, Bm__Operation **ret)
{
	return bm_mdb_get_msg(c->txn, c->s->dbi[DB_OPS], name, strlen(name),
	                      &bm__operation__descriptor, (ProtobufCMessage **)ret);
}

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
		if ((r = get_op(c, name, &op)) < 0 && r != -ENOENT)
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

static void
selector_text(const Bm__ReimageRequest *q, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < q->n_targets && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? " " : "", q->targets[i]);
	for (size_t i = 0; i < q->n_labels && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s-l %s=%s", o ? " " : "",
		                      q->labels[i]->key, q->labels[i]->value);
}

/* ------------------------------------------------------------- commands */

static int
resolve(struct apply_ctx *c, const Bm__ReimageRequest *q, struct names *out)
{
	int r = 0;

	for (size_t i = 0; i < q->n_targets && r == 0; i++)
		r = resolve_target(c, q->targets[i], out);
	if (r == 0 && !q->n_targets)
		r = q->n_labels ? all_machines(c, out)
		                : st_refuse(c, BM__STATUS__STATUS_INVALID,
		                            "reimage needs targets or labels");
	if (r == 0)
		names_sort_unique(out);
	return r;
}

/* The machines to take, filtered by labels and checked. Returns 0 with
 * their records, ST_REFUSED or -errno. */
static int
take_machines(struct apply_ctx *c, const Bm__ReimageRequest *q, struct names *ns,
              Bm__Machine ***ret, size_t *ret_n)
{
	Bm__Machine **ms = calloc(ns->n + 1, sizeof(*ms));
	struct check_memo mo = { 0 };
	size_t n = 0;
	int r = 0;

	if (!ms)
		return -ENOMEM;
	for (size_t i = 0; i < ns->n && r == 0; i++) {
		Bm__Machine *m = NULL;
		if ((r = get_machine(c, ns->v[i], &m)) < 0)
			break;
		if (!labels_match(q, m)) {
			st_free(m);
			continue;
		}
		ms[n++] = m;
		r = check_machine(c, m, q->profile, &mo);
	}
	if (r == 0 && !n)
		r = st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no machines match");
	if (r == 0 && n > OP_MACHINES_MAX)
		r = st_refuse(c, BM__STATUS__STATUS_INVALID, "more than %u machines",
		              OP_MACHINES_MAX);
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

int
st_apply_reimage(struct apply_ctx *c, const Bm__ReimageRequest *q)
{
	Bm__Operation op = BM__OPERATION__INIT;
	struct names ns = { 0 };
	Bm__Machine **ms = NULL;
	char name[32], sel[512];
	size_t n = 0;
	int r;

	if (!q)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "no reimage request");
	if (*q->profile && !exists(c, DB_PROFILES, q->profile))
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "profile %s does not exist",
		                 q->profile);
	if ((r = resolve(c, q, &ns)) != 0 || (r = take_machines(c, q, &ns, &ms, &n)) != 0) {
		names_free(&ns);
		return r;
	}
	snprintf(name, sizeof(name), "op-%llu", (unsigned long long)c->rev);
	snprintf(c->res->name, sizeof(c->res->name), "%s", name);
	selector_text(q, sel, sizeof(sel));
	op.name = name;
	op.selector = sel;
	op.profile = q->profile;
	op.batch = q->batch;
	op.timeout_ms = q->timeout_ms ? q->timeout_ms : OP_TIMEOUT_DEFAULT_MS;
	op.canary = q->canary;
	op.max_failures_pct = q->max_failures_pct;
	/* P% of the machines, rounded up: at least one failure is allowed to
	 * halt it, never zero (which would mean no limit). */
	op.max_failures = q->max_failures_pct ? (uint32_t)((n * q->max_failures_pct + 99) / 100)
	                                      : q->max_failures;
	op.state = BM__OP_STATE__OP_RUNNING;
	op.created_ms = c->now;
	op.create_rev = c->rev;
	/* The machines taken in memory; the first advance starts what may
	 * start and stores each once. */
	op.machines = calloc(n + 1, sizeof(char *));
	Bm__MachineState *was = calloc(n + 1, sizeof(*was));
	for (size_t i = 0; op.machines && was && i < n && r == 0; i++) {
		Bm__Machine *m = ms[i];
		was[i] = m->state;
		op.machines[op.n_machines++] = m->name;
		m->state = S(REIMAGING);
		m->started_ms = 0;
		m->progress_ms = c->now;
		if ((r = st_set_str(&m->operation, name)) < 0 ||
		    (r = st_set_str(&m->boot_profile, q->profile)) < 0 ||
		    (r = st_set_str(&m->reason, name)) < 0)
			break;
	}
	if (!op.machines || !was)
		r = -ENOMEM;
	if (r == 0)
		r = st_op_put(c, &op);
	if (r == 0)
		r = st_op_advance_taken(c, &op, ms, was);
	free(was);
	free(op.machines);
	for (size_t i = 0; i < n; i++)
		st_free(ms[i]);
	free(ms);
	names_free(&ns);
	return r;
}

bool
st_op_live(const Bm__Operation *op)
{
	return op->state == BM__OP_STATE__OP_RUNNING || op->state == BM__OP_STATE__OP_HALTED;
}

/* The operation a cancel or resume names. 0, ST_REFUSED or -errno. */
static int
find_op(struct apply_ctx *c, const char *name, const char *verb, Bm__Operation **ret)
{
	int r;

	if (!name || !*name || strlen(name) > 63)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "%s needs an operation name", verb);
	if ((r = get_op(c, name, ret)) == -ENOENT)
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no operation %s", name);
	if (r == 0)
		snprintf(c->res->name, sizeof(c->res->name), "%s", name);
	return r;
}

int
st_apply_op_cancel(struct apply_ctx *c, const char *name)
{
	Bm__Operation *op = NULL;
	int r;

	if ((r = find_op(c, name, "cancel", &op)) != 0)
		return r;
	if (!st_op_live(op)) {
		r = st_refuse(c, BM__STATUS__STATUS_PRECONDITION, "operation %s has finished",
		              name);
	} else if (!op->cancel) {
		op->cancel = 1;
		if (op->state == BM__OP_STATE__OP_HALTED)
			op->state = BM__OP_STATE__OP_RUNNING; /* to finish as cancelled */
		if ((r = st_op_put(c, op)) == 0)
			r = st_op_advance(c, op);
	}
	st_free(op);
	return r;
}

/* A halted operation starts machines again: past its canary, and with the
 * failures so far forgiven (--max-failures counts those after). */
int
st_apply_op_resume(struct apply_ctx *c, const char *name)
{
	Bm__Operation *op = NULL;
	Bm__Machine *m = NULL;
	unsigned failed = 0;
	int r;

	if ((r = find_op(c, name, "resume", &op)) != 0)
		return r;
	if (op->state != BM__OP_STATE__OP_HALTED) {
		r = st_refuse(c, BM__STATUS__STATUS_PRECONDITION, "operation %s is %s, not halted",
		              name, op->state == BM__OP_STATE__OP_RUNNING ? "running" : "finished");
		st_free(op);
		return r;
	}
	for (size_t i = 0; i < op->n_machines && r == 0; i++) {
		if ((r = get_machine(c, op->machines[i], &m)) == -ENOENT) {
			r = 0;
			continue;
		}
		failed += r == 0 && !strcmp(m->operation, name) && m->state == S(FAILED);
		st_free(m);
	}
	op->state = BM__OP_STATE__OP_RUNNING;
	op->failures_forgiven = failed;
	op->canary_passed = 1;
	if (r == 0 && (r = st_op_put(c, op)) == 0)
		r = st_op_advance(c, op);
	st_free(op);
	return r;
}

static int
wake_put(struct apply_ctx *c, const char *name, uint64_t ms)
{
	return bm_mdb_put_u64(c->txn, c->s->dbi[DB_OP_WAKE], name, ms);
}

/* When the tick next advances the operation named by k: 0, or -ENOENT for
 * an operation of a store from before the table. */
static int
wake_get(struct apply_ctx *c, const MDB_val *k, uint64_t *ret)
{
	MDB_val v;
	int rc = mdb_get(c->txn, c->s->dbi[DB_OP_WAKE], (MDB_val *)k, &v);

	if (rc == MDB_NOTFOUND)
		return -ENOENT;
	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	*ret = v.mv_size == 8 ? bm_get_be64(v.mv_data) : 0;
	return 0;
}

bool
st_op_small(const Bm__Operation *op)
{
	return bm__operation__get_packed_size(op) <= OP_SMALL_BYTES;
}

int
st_op_woken(struct apply_ctx *c, const Bm__Operation *op, uint64_t next_due_ms)
{
	uint64_t idle = c->now + OP_IDLE_ADVANCE_MS;

	if (!st_op_live(op))
		return wake_put(c, op->name, OP_WAKE_DONE);
	if (st_op_small(op))
		return wake_put(c, op->name, 0);
	return wake_put(c, op->name, next_due_ms < idle ? next_due_ms : idle);
}

/* The wake time of the operation k, v (its record): from the table, or
 * for an operation from before it, from its record (and written). */
static int
op_wake(struct apply_ctx *c, const MDB_val *k, const MDB_val *v, uint64_t *ret)
{
	Bm__Operation *op;
	int r;

	if ((r = wake_get(c, k, ret)) != -ENOENT)
		return r;
	if (!(op = bm__operation__unpack(NULL, v->mv_size, v->mv_data)))
		return -EIO;
	*ret = st_op_live(op) ? 0 : OP_WAKE_DONE;
	r = wake_put(c, op->name, *ret);
	st_free(op);
	return r;
}

int
st_apply_op_tick(struct apply_ctx *c)
{
	MDB_cursor *cur;
	MDB_val k, v;
	struct names due = { 0 };
	uint64_t wake = 0;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_OPS], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		if ((r = op_wake(c, &k, &v, &wake)) == 0 && wake <= c->now)
			r = names_add(&due, k.mv_data, k.mv_size);
	mdb_cursor_close(cur);
	for (size_t i = 0; i < due.n && r == 0; i++) {
		Bm__Operation *op = NULL;
		if ((r = get_op(c, due.v[i], &op)) == 0 && st_op_live(op))
			r = st_op_advance(c, op);
		st_free(op);
	}
	names_free(&due);
	return r;
}

/* A machine of operation `name` just ended (deployed or failed): advance
 * a small operation now rather than at its next tick, so that the next
 * batch starts and the last machine completes it at once; a large one at
 * the next tick (an advance reads every machine of the operation: per
 * machine ending that would grow as its square). */
int
st_op_settle(struct apply_ctx *c, const char *name)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	Bm__Operation *op = NULL;
	int r;

	if (!*name || mdb_get(c->txn, c->s->dbi[DB_OPS], &k, &v) != MDB_SUCCESS)
		return 0;
	if (v.mv_size > OP_SMALL_BYTES)
		return wake_put(c, name, 0);
	if ((r = get_op(c, name, &op)) == -ENOENT)
		return 0;
	if (r == 0 && st_op_live(op))
		r = st_op_advance(c, op);
	st_free(op);
	return r;
}

/* An event moved machine m (already written by the caller): keep its
 * progress time (st_op_settle advances the operation when m ends). */
void
st_op_progress(struct apply_ctx *c, Bm__Machine *m)
{
	if (*m->operation && m->started_ms)
		m->progress_ms = c->now;
}
