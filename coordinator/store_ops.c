/* Operations (reimage) in the state machine. A reimage resolves its
 * targets against the store, takes every machine into state reimaging
 * (owned by the operation), and starts the first batch: in its own command
 * when it has at most OP_SLICE machines, else a slice per tick
 * (store_op_intake.c). Ticks
 * (commands carrying the proposer's time) then time out stalled machines,
 * start the next ones as the batch allows, and finish the operation. A
 * machine starts only once an agent of its rack holds every image its
 * profile needs; until then it waits in reimaging with the reason set.
 *
 * An advance reads what can change (store_op_step.c, from the operations'
 * index, store_op_index.c) and the operation's record, which lists every
 * machine's name. A small one (its record at most OP_SMALL_BYTES, some
 * 2,000 machines) is advanced at every tick and at once when one of its
 * machines ends. A large one only when it can change: DB_OP_WAKE holds,
 * per operation, when the tick next advances it: after one of its
 * machines ended, as soon as its record's share of OP_ADVANCE_BYTES_PER_S
 * allows (st_op_settle), else at the first moment one of its machines
 * could time out, and at most OP_IDLE_ADVANCE_MS later (for what no event
 * announces: an agent now holding the images, a rack's max_booting
 * raised). So a 100,000-machine operation whose machines are installing
 * costs a tick nothing, and one whose machines keep ending is advanced
 * about twice a second (~24 ms each here). */
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
#define OP_SMALL_BYTES (32u << 10)
#define OP_IDLE_ADVANCE_MS (30u * 1000)
/* Bytes of a large operation's record (~11 a machine: its names, read
 * whole) its advances after a machine ended may read a second
 * (settle_large). */
#define OP_ADVANCE_BYTES_PER_S (2u << 20)

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

/* ------------------------------------------------------------- commands */

int
st_op_get(struct apply_ctx *c, const char *name, Bm__Operation **ret)
{
	return bm_mdb_get_msg(c->txn, c->s->dbi[DB_OPS], name, strlen(name),
	                      &bm__operation__descriptor, (ProtobufCMessage **)ret);
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

/* Is a live operation still taking its machines? (Live ones only: those
 * the wake table does not mark finished.) 0 or -errno. */
static int
any_taking(struct apply_ctx *c, bool *ret)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, r = 0;

	*ret = false;
	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_OP_WAKE], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0 && !*ret;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__Operation *op = NULL;
		if (v.mv_size == 8 && bm_get_be64(v.mv_data) == OP_WAKE_DONE)
			continue;
		if ((r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_OPS], k.mv_data, k.mv_size,
		                        &bm__operation__descriptor, (ProtobufCMessage **)&op)) ==
		    -ENOENT)
			r = 0;
		*ret = op && st_op_live(op) && op->taking;
		st_free(op);
	}
	mdb_cursor_close(cur);
	return r;
}

static void
op_init(struct apply_ctx *c, const Bm__ReimageRequest *q, Bm__Operation *op, char *name, char *sel)
{
	op->name = name;
	op->selector = sel;
	op->profile = q->profile;
	op->batch = q->batch;
	op->timeout_ms = q->timeout_ms ? q->timeout_ms : OP_TIMEOUT_DEFAULT_MS;
	op->canary = q->canary;
	op->max_failures_pct = q->max_failures_pct;
	op->max_failures = q->max_failures; /* a count for P%: st_op_failures_limit */
	op->state = BM__OP_STATE__OP_RUNNING;
	op->created_ms = c->now;
	op->create_rev = c->rev;
}

/* Check and take the named machines in this command; what may start
 * starts, and each is stored once (st_op_advance_taken). */
static int
reimage_now(struct apply_ctx *c, const Bm__ReimageRequest *q, Bm__Operation *op,
            const struct names *ns)
{
	Bm__Machine **ms = NULL;
	Bm__MachineState *was = NULL;
	size_t n = 0;
	int r;

	if ((r = st_op_check_all(c, q, ns->v, ns->n, &ms, &n)) != 0)
		return r;
	op->machines = calloc(n + 1, sizeof(char *));
	was = calloc(n + 1, sizeof(*was));
	r = op->machines && was ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		was[i] = ms[i]->state;
		op->machines[op->n_machines++] = ms[i]->name;
		r = st_op_take(c, op, ms[i]);
	}
	st_op_failures_limit(op);
	if (r == 0 && (r = st_op_put(c, op)) == 0)
		r = st_op_advance_taken(c, op, ms, was);
	free(was);
	free(op->machines);
	for (size_t i = 0; i < n; i++)
		st_free(ms[i]);
	free(ms);
	return r;
}

/* Store it taking, with every name and its labels: the ticks check and
 * take its machines (store_op_intake.c). */
static int
reimage_later(struct apply_ctx *c, const Bm__ReimageRequest *q, Bm__Operation *op,
              const struct names *ns)
{
	Bm__Operation__LabelsEntry *lv = calloc(q->n_labels + 1, sizeof(*lv));
	Bm__Operation__LabelsEntry **lp = calloc(q->n_labels + 1, sizeof(*lp));
	int r = lv && lp ? 0 : -ENOMEM;

	if (r == 0 && !ns->n)
		r = st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no machines match");
	else if (r == 0 && !q->n_labels && ns->n > OP_MACHINES_MAX)
		r = st_refuse(c, BM__STATUS__STATUS_INVALID, "more than %u machines",
		              OP_MACHINES_MAX);
	for (size_t i = 0; r == 0 && i < q->n_labels; i++) {
		bm__operation__labels_entry__init(&lv[i]);
		lv[i].key = q->labels[i]->key;
		lv[i].value = q->labels[i]->value;
		lp[i] = &lv[i];
	}
	op->taking = 1;
	op->machines = ns->v;
	op->n_machines = ns->n;
	op->labels = lp;
	op->n_labels = q->n_labels;
	if (r == 0 && (r = st_op_put(c, op)) == 0)
		r = st_op_wake(c, op->name, 0);
	c->res->more = r == 0;
	free(lv);
	free(lp);
	return r;
}

int
st_apply_reimage(struct apply_ctx *c, const Bm__ReimageRequest *q)
{
	Bm__Operation op = BM__OPERATION__INIT;
	struct names ns = { 0 };
	char name[32], sel[512];
	bool later = false;
	int r;

	if (!q)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "no reimage request");
	if (*q->profile && !exists(c, DB_PROFILES, q->profile))
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "profile %s does not exist",
		                 q->profile);
	if ((r = resolve(c, q, &ns)) == 0 && (r = any_taking(c, &later)) == 0) {
		snprintf(name, sizeof(name), "op-%llu", (unsigned long long)c->rev);
		snprintf(c->res->name, sizeof(c->res->name), "%s", name);
		selector_text(q, sel, sizeof(sel));
		op_init(c, q, &op, name, sel);
		r = later || ns.n > OP_SLICE ? reimage_later(c, q, &op, &ns)
		                             : reimage_now(c, q, &op, &ns);
	}
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
	if ((r = st_op_get(c, name, ret)) == -ENOENT)
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
		if (op->taking)
			st_op_intake_end(op); /* what it took is cancelled */
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
	size_t failed = 0;
	int r;

	if ((r = find_op(c, name, "resume", &op)) != 0)
		return r;
	if (op->state != BM__OP_STATE__OP_HALTED) {
		r = st_refuse(c, BM__STATUS__STATUS_PRECONDITION, "operation %s is %s, not halted",
		              name, op->state == BM__OP_STATE__OP_RUNNING ? "running" : "finished");
		st_free(op);
		return r;
	}
	r = st_op_ix_count(c, name, 'f', &failed);
	op->state = BM__OP_STATE__OP_RUNNING;
	op->failures_forgiven = (uint32_t)failed;
	op->noting = 1; /* its waiting machines are told, a slice at a time */
	op->noting_from.len = 0;
	op->canary_passed = 1;
	if (r == 0 && (r = st_op_put(c, op)) == 0)
		r = st_op_advance(c, op);
	st_free(op);
	return r;
}

int
st_op_wake(struct apply_ctx *c, const char *name, uint64_t ms)
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

	*ret = 0;
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
	int r;

	if (!st_op_live(op))
		return (r = st_op_wake(c, op->name, OP_WAKE_DONE)) < 0 ? r
		                                                       : st_op_keep(c, op->name);
	if (st_op_small(op))
		return st_op_wake(c, op->name, 0);
	return st_op_wake(c, op->name, next_due_ms < idle ? next_due_ms : idle);
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
	r = st_op_wake(c, op->name, *ret);
	st_free(op);
	return r;
}

bool
store_ops_live(struct store_read *rd)
{
	MDB_stat ops, wakes;
	MDB_cursor *cur;
	MDB_val k, v;
	bool live = false;
	int rc;

	/* An operation of a store from before the wake table has no entry in
	 * it until a tick gives it one: it may be live. */
	if (mdb_stat(rd->txn, rd->s->dbi[DB_OPS], &ops) != MDB_SUCCESS ||
	    mdb_stat(rd->txn, rd->s->dbi[DB_OP_WAKE], &wakes) != MDB_SUCCESS ||
	    wakes.ms_entries < ops.ms_entries)
		return true;
	if (mdb_cursor_open(rd->txn, rd->s->dbi[DB_OP_WAKE], &cur) != MDB_SUCCESS)
		return true;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && !live;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT))
		live = v.mv_size != 8 || bm_get_be64(v.mv_data) != OP_WAKE_DONE;
	mdb_cursor_close(cur);
	return live;
}

/* The operations due (live ones), read. 0 or -errno. */
static int
ops_due(struct apply_ctx *c, Bm__Operation ***ret, size_t *ret_n)
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
	*ret = calloc(due.n + 1, sizeof(**ret));
	*ret_n = 0;
	for (size_t i = 0; *ret && i < due.n && r == 0; i++) {
		Bm__Operation *op = NULL;
		if ((r = st_op_get(c, due.v[i], &op)) == 0 && st_op_live(op))
			(*ret)[(*ret_n)++] = op;
		else
			st_free(op);
	}
	names_free(&due);
	return *ret ? r : -ENOMEM;
}

/* Advance the operations due; give the oldest of those taking their
 * machines one slice (the others wait their turn: store_op_intake.c). */
int
st_apply_op_tick(struct apply_ctx *c)
{
	Bm__Operation **ops = NULL, *oldest = NULL;
	size_t n = 0, taking = 0;
	int r = ops_due(c, &ops, &n);

	for (size_t i = 0; i < n && r == 0; i++) {
		if (!ops[i]->taking) {
			r = st_op_advance(c, ops[i]);
			continue;
		}
		taking++;
		if (!oldest || ops[i]->create_rev < oldest->create_rev)
			oldest = ops[i];
	}
	if (r == 0 && oldest)
		r = st_op_intake(c, oldest);
	if (taking > 1)
		c->res->more = true;
	for (size_t i = 0; i < n; i++)
		st_free(ops[i]);
	free(ops);
	return r;
}

/* A large operation, one of whose machines ended: advanced once its
 * record's share of OP_ADVANCE_BYTES_PER_S allows, unless it is due
 * sooner. However many of its machines end meanwhile, an operation costs
 * each node at most ~200,000 machines' names read a second (a
 * 100,000-machine one is advanced ~0.5 s after a machine ended, a
 * 10,000-machine one at the next tick). */
static int
settle_large(struct apply_ctx *c, const char *name, const MDB_val *k, size_t bytes)
{
	uint64_t due = c->now + (uint64_t)bytes * 1000 / OP_ADVANCE_BYTES_PER_S, wake;
	int r = wake_get(c, k, &wake);

	if (r == -ENOENT)
		wake = UINT64_MAX - 1; /* a store from before the table: due */
	else if (r < 0)
		return r;
	if (wake == OP_WAKE_DONE || wake <= due)
		return 0;
	return st_op_wake(c, name, due);
}

/* A machine of operation `name` just ended (deployed or failed): advance
 * a small operation now rather than at its next tick, so that the next
 * batch starts and the last machine completes it at once; a large one
 * later (settle_large: an advance reads the operation's record, every
 * machine's name; per machine ending that would grow as its square). */
int
st_op_settle(struct apply_ctx *c, const char *name)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	Bm__Operation *op = NULL;
	int r;

	if (!*name || mdb_get(c->txn, c->s->dbi[DB_OPS], &k, &v) != MDB_SUCCESS)
		return 0;
	if (v.mv_size > OP_SMALL_BYTES)
		return settle_large(c, name, &k, v.mv_size);
	if ((r = st_op_get(c, name, &op)) == -ENOENT)
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
