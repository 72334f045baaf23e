#include "watch.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/rpc.h"
#include "bm/util.h"

/* --------------------------------------------------------------- answers */

struct builder {
	Bm__WatchResult *w;
	size_t cap_puts, cap_dels;
};

static int
add_put(struct builder *b, Bm__Object *o)
{
	Bm__WatchResult *w = b->w;
	if (w->n_puts == b->cap_puts) {
		size_t cap = b->cap_puts ? b->cap_puts * 2 : 16;
		Bm__Object **v = realloc(w->puts, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		w->puts = v;
		b->cap_puts = cap;
	}
	w->puts[w->n_puts++] = o;
	return 0;
}

static int
add_delete(struct builder *b, Bm__Kind kind, const char *name)
{
	Bm__WatchResult *w = b->w;
	Bm__ObjectRef *ref = malloc(sizeof(*ref));

	if (!ref)
		return -ENOMEM;
	bm__object_ref__init(ref);
	ref->kind = kind;
	if (!(ref->name = strdup(name))) {
		free(ref);
		return -ENOMEM;
	}
	if (w->n_deletes == b->cap_dels) {
		size_t cap = b->cap_dels ? b->cap_dels * 2 : 16;
		Bm__ObjectRef **v = realloc(w->deletes, cap * sizeof(*v));
		if (!v) {
			bm__object_ref__free_unpacked(ref, NULL);
			return -ENOMEM;
		}
		w->deletes = v;
		b->cap_dels = cap;
	}
	w->deletes[w->n_deletes++] = ref;
	return 0;
}

/* Every object of a list, page after page, into the answer. */
static int
add_list(struct builder *b, struct store_read *rd, Bm__Kind kind, const char *rack)
{
	Bm__ListRequest q = BM__LIST_REQUEST__INIT;
	char after[128] = "";
	int r;

	q.kind = kind;
	q.rack = (char *)rack;
	q.after = after;
	for (;;) {
		Bm__ListResult *l;
		if ((r = store_list(rd, &q, &l)) < 0)
			return r;
		for (size_t i = 0; i < l->n_items && r == 0; i++) {
			if ((r = add_put(b, l->items[i])) == 0)
				l->items[i] = NULL;
		}
		bool more = r == 0 && l->next && *l->next;
		if (more)
			snprintf(after, sizeof(after), "%s", l->next);
		/* Items moved out are NULL: free the rest and the page. */
		size_t n = l->n_items;
		Bm__Object **items = l->items;
		l->n_items = 0;
		for (size_t i = 0; i < n; i++)
			if (items[i])
				bm__object__free_unpacked(items[i], NULL);
		bm__list_result__free_unpacked(l, NULL);
		if (r < 0 || !more)
			return r;
	}
}

static int
snapshot(struct builder *b, struct store_read *rd, const char *rack)
{
	Bm__Object *o = NULL;
	int r;

	b->w->snapshot = 1;
	r = store_get(rd, BM__KIND__KIND_RACK, rack, &o);
	if (r == -ENOENT)
		return 0; /* no such rack: an empty view */
	if (r < 0)
		return r;
	char site[128];
	snprintf(site, sizeof(site), "%s", o->rack->site);
	if ((r = add_put(b, o)) < 0) {
		bm__object__free_unpacked(o, NULL);
		return r;
	}
	if ((r = store_get(rd, BM__KIND__KIND_SITE, site, &o)) == 0 && (r = add_put(b, o)) < 0)
		bm__object__free_unpacked(o, NULL);
	if (r < 0 && r != -ENOENT)
		return r;
	if ((r = add_list(b, rd, BM__KIND__KIND_MACHINE, rack)) < 0 ||
	    (r = add_list(b, rd, BM__KIND__KIND_PROFILE, "")) < 0)
		return r;
	return add_list(b, rd, BM__KIND__KIND_IMAGE, "");
}

struct key {
	Bm__Kind kind;
	char *name;
};

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	return x->kind != y->kind ? (int)x->kind - (int)y->kind : strcmp(x->name, y->name);
}

/* The keys changed in (since, cur] that concern the rack, sorted, unique. */
static int
changed_keys(struct store_read *rd, const char *rack, uint64_t since, uint64_t cur,
             struct key **ret, size_t *ret_n)
{
	struct key *k = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	for (uint64_t rev = since + 1; rev <= cur && r == 0; rev++) {
		Bm__ChangeSet *cs;
		if ((r = store_changes_get(rd, rev, &cs)) == -ENOENT) {
			r = 0;
			continue;
		}
		for (size_t i = 0; i < (r == 0 ? cs->n_changes : 0); i++) {
			const Bm__Change *c = cs->changes[i];
			if (c->kind == BM__KIND__KIND_AGENT ||
			    c->kind == BM__KIND__KIND_OPERATION ||
			    (*c->rack && strcmp(c->rack, rack)))
				continue;
			if (n == cap) {
				struct key *v = realloc(k, (cap = cap ? 2 * cap : 16) * sizeof(*k));
				if (!v) {
					r = -ENOMEM;
					break;
				}
				k = v;
			}
			if (!(k[n].name = strdup(c->name))) {
				r = -ENOMEM;
				break;
			}
			k[n++].kind = c->kind;
		}
		if (cs)
			bm__change_set__free_unpacked(cs, NULL);
	}
	if (n)
		qsort(k, n, sizeof(*k), key_cmp);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u && !key_cmp(&k[u - 1], &k[i]))
			free(k[i].name);
		else
			k[u++] = k[i];
	}
	*ret = k;
	*ret_n = u;
	return r;
}

/* One changed key: its current record when it is part of the rack's view,
 * else a delete. */
static int
add_key(struct builder *b, struct store_read *rd, const char *rack, const struct key *k)
{
	Bm__Object *o = NULL;
	int r = store_get(rd, k->kind, k->name, &o);

	if (r == -ENOENT)
		return add_delete(b, k->kind, k->name);
	if (r < 0)
		return r;
	if ((k->kind == BM__KIND__KIND_MACHINE && strcmp(o->machine->rack, rack)) ||
	    (k->kind == BM__KIND__KIND_RACK && strcmp(k->name, rack))) {
		bm__object__free_unpacked(o, NULL);
		return add_delete(b, k->kind, k->name);
	}
	if ((r = add_put(b, o)) < 0)
		bm__object__free_unpacked(o, NULL);
	return r;
}

int
watch_build(struct store_read *rd, const char *rack, uint64_t since, Bm__WatchResult **ret)
{
	struct builder b = { 0 };
	uint64_t cur = store_read_revision(rd), compact = store_read_compact_revision(rd);
	struct key *keys = NULL;
	size_t n = 0;
	int r;

	if (!(b.w = malloc(sizeof(*b.w))))
		return -ENOMEM;
	bm__watch_result__init(b.w);
	b.w->revision = cur;
	if (since == 0 || since < compact || since > cur || cur - since > WATCH_SNAPSHOT_AFTER) {
		r = snapshot(&b, rd, rack);
	} else {
		r = changed_keys(rd, rack, since, cur, &keys, &n);
		for (size_t i = 0; i < n && r == 0; i++)
			r = add_key(&b, rd, rack, &keys[i]);
		for (size_t i = 0; i < n; i++)
			free(keys[i].name);
		free(keys);
	}
	if (r < 0) {
		watch_result_free(b.w);
		return r;
	}
	*ret = b.w;
	return 0;
}

void
watch_result_free(Bm__WatchResult *w)
{
	if (w)
		bm__watch_result__free_unpacked(w, NULL);
}

int
watch_result_empty(const Bm__WatchResult *w)
{
	return !w->snapshot && !w->n_puts && !w->n_deletes;
}

/* ------------------------------------------------------------------ hub */

struct parked {
	struct bm_rpc_call *call;
	char rack[64];
	char agent[64];
	uint64_t since; /* nothing concerned the rack up to here */
	bool secrets;   /* the rack's agent over mTLS: BMC passwords opened */
	uint64_t deadline_ms;
	struct parked *next;
};

struct watch_hub {
	struct store *store;
	uv_timer_t timer;
	pthread_mutex_t mu;
	struct parked *parked; /* under mu */
	unsigned n_parked, max_parked;
	uint64_t latest;                  /* revision last announced by a commit */
	bool (*authoritative)(void *arg); /* NULL: always */
	void *auth_arg;
	void (*seen)(void *arg, const char *agent, uint64_t rev); /* NULL: none */
	void *seen_arg;
	const struct secrets *secrets; /* NULL: passwords given to no one */
	bool closing;
};

static void
reply_result(struct bm_rpc_call *call, Bm__WatchResult *w)
{
	Bm__Response resp = BM__RESPONSE__INIT;

	resp.revision = w->revision;
	resp.body_case = BM__RESPONSE__BODY_WATCH;
	resp.watch = w;
	bm_rpc_reply(call, &resp);
}

static void
reply_empty(struct bm_rpc_call *call, uint64_t revision)
{
	Bm__WatchResult w = BM__WATCH_RESULT__INIT;

	w.revision = revision;
	reply_result(call, &w);
}

/* Build the answer for (rack, since). Returns 1 and answers when there is
 * something to send, 0 with *ret_cur set when nothing concerns the rack. */
static int
try_answer(struct watch_hub *h, struct bm_rpc_call *call, const char *rack, uint64_t since,
           bool secrets, uint64_t *ret_cur)
{
	struct store_read *rd;
	Bm__WatchResult *w = NULL;
	int r;

	if ((r = store_read_begin(h->store, &rd)) == 0 && since > store_read_revision(rd) &&
	    h->authoritative && !h->authoritative(h->auth_arg)) {
		/* The agent has seen more than this node has applied: a follower
		 * behind. Wait for it to catch up rather than send an older
		 * snapshot that would take machines out of the agent's view. */
		store_read_end(rd);
		*ret_cur = since;
		return 0;
	}
	if (r < 0 || (r = watch_build(rd, rack, since, &w)) < 0 ||
	    (secrets && h->secrets && (r = secrets_open_watch(h->secrets, rd, w)) < 0)) {
		if (r < 0 && w)
			watch_result_free(w);
		store_read_end(rd);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
		return 1;
	}
	store_read_end(rd);
	*ret_cur = w->revision;
	if (watch_result_empty(w) && w->revision >= since) {
		watch_result_free(w);
		return 0;
	}
	reply_result(call, w);
	watch_result_free(w);
	return 1;
}

void
watch_hub_set_authority(struct watch_hub *h, bool (*authoritative)(void *arg), void *arg)
{
	h->authoritative = authoritative;
	h->auth_arg = arg;
}

void
watch_hub_set_seen(struct watch_hub *h, void (*seen)(void *arg, const char *agent, uint64_t rev),
                   void *arg)
{
	h->seen = seen;
	h->seen_arg = arg;
}

void
watch_hub_set_secrets(struct watch_hub *h, const struct secrets *s)
{
	h->secrets = s;
}

void
watch_handle(struct watch_hub *h, struct bm_rpc_call *call, const Bm__WatchRequest *q, bool secrets)
{
	uint64_t cur, since = q->since;
	struct parked *p;

	if (!bm_name_valid(q->rack)) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "watch needs a valid rack");
		return;
	}
	for (;;) {
		if (try_answer(h, call, q->rack, since, secrets, &cur))
			return;
		since = cur;
		if (!q->wait_ms) {
			reply_empty(call, cur);
			return;
		}
		pthread_mutex_lock(&h->mu);
		if (h->latest > since) { /* a commit came meanwhile: look again */
			pthread_mutex_unlock(&h->mu);
			continue;
		}
		if (h->closing || h->n_parked >= h->max_parked || !(p = calloc(1, sizeof(*p)))) {
			bool closing = h->closing;
			pthread_mutex_unlock(&h->mu);
			bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE,
			                    closing ? "shutting down"
			                            : "too many agents watching; retry later");
			return;
		}
		p->call = call;
		snprintf(p->rack, sizeof(p->rack), "%s", q->rack);
		snprintf(p->agent, sizeof(p->agent), "%s", q->agent_id);
		p->since = since;
		p->secrets = secrets;
		p->deadline_ms = bm_mono_ms() +
		                 (q->wait_ms > WATCH_WAIT_MAX_MS ? WATCH_WAIT_MAX_MS : q->wait_ms);
		p->next = h->parked;
		h->parked = p;
		h->n_parked++;
		pthread_mutex_unlock(&h->mu);
		return;
	}
}

/* Take the parked watches matching `pick` off the list. */
static struct parked *
unpark(struct watch_hub *h, bool (*pick)(const struct parked *p, uint64_t arg), uint64_t arg)
{
	struct parked *out = NULL, **pp;

	pthread_mutex_lock(&h->mu);
	for (pp = &h->parked; *pp;) {
		struct parked *p = *pp;
		if (pick(p, arg)) {
			*pp = p->next;
			p->next = out;
			out = p;
			h->n_parked--;
		} else {
			pp = &p->next;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return out;
}

static void
repark(struct watch_hub *h, struct parked *p)
{
	pthread_mutex_lock(&h->mu);
	p->next = h->parked;
	h->parked = p;
	h->n_parked++;
	pthread_mutex_unlock(&h->mu);
}

static bool
older_than(const struct parked *p, uint64_t rev)
{
	return p->since < rev;
}

void
watch_hub_committed(struct watch_hub *h, uint64_t rev)
{
	struct parked *p, *next;
	uint64_t cur;

	pthread_mutex_lock(&h->mu);
	if (rev > h->latest)
		h->latest = rev;
	pthread_mutex_unlock(&h->mu);
	for (p = unpark(h, older_than, rev); p; p = next) {
		next = p->next;
		if (try_answer(h, p->call, p->rack, p->since, p->secrets, &cur)) {
			free(p);
			continue;
		}
		p->since = cur;
		if (h->seen && *p->agent) /* nothing for it: its view is current at cur */
			h->seen(h->seen_arg, p->agent, cur);
		repark(h, p);
	}
}

static bool
expired(const struct parked *p, uint64_t now)
{
	return p->deadline_ms <= now;
}

static bool
any(const struct parked *p, uint64_t arg)
{
	(void)p;
	(void)arg;
	return true;
}

static void
answer_all(struct parked *p)
{
	while (p) {
		struct parked *next = p->next;
		reply_empty(p->call, p->since);
		free(p);
		p = next;
	}
}

static void
timer_cb(uv_timer_t *t)
{
	struct watch_hub *h = bm_container_of(t, struct watch_hub, timer);
	answer_all(unpark(h, expired, bm_mono_ms()));
}

int
watch_hub_new(uv_loop_t *loop, struct store *store, unsigned max_parked, struct watch_hub **ret)
{
	struct watch_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	h->store = store;
	h->max_parked = max_parked;
	pthread_mutex_init(&h->mu, NULL);
	uv_timer_init(loop, &h->timer);
	uv_timer_start(&h->timer, timer_cb, 250, 250);
	*ret = h;
	return 0;
}

void
watch_hub_free(struct watch_hub *h)
{
	if (!h)
		return;
	answer_all(unpark(h, any, 0)); /* parked after close: none, but be sure */
	pthread_mutex_destroy(&h->mu);
	free(h);
}

void
watch_hub_close(struct watch_hub *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->closing = true;
	pthread_mutex_unlock(&h->mu);
	answer_all(unpark(h, any, 0));
	uv_timer_stop(&h->timer);
	uv_close((uv_handle_t *)&h->timer, NULL); /* freed by watch_hub_free */
}
