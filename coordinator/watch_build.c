/* The answer to an agent's Watch: the rack's changes after its revision,
 * or a snapshot of its view (watch.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "watch.h"
#include "watch_index.h"

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

/* Append the keys changed in (since, cur] that concern the rack, read
 * from the change log: for what the index does not hold. */
static int
log_keys(struct store_read *rd, const char *rack, uint64_t since, uint64_t cur,
         struct watch_key **keys, size_t *n, size_t *cap)
{
	int r = 0;

	for (uint64_t rev = since + 1; rev <= cur && r == 0; rev++) {
		Bm__ChangeSet *cs;
		if ((r = store_changes_get(rd, rev, &cs)) == -ENOENT) {
			r = 0;
			continue;
		}
		for (size_t i = 0; i < (r == 0 ? cs->n_changes : 0) && r == 0; i++) {
			const Bm__Change *c = cs->changes[i];
			if (c->kind == BM__KIND__KIND_AGENT ||
			    c->kind == BM__KIND__KIND_OPERATION ||
			    (*c->rack && strcmp(c->rack, rack)))
				continue;
			r = watch_keys_push(keys, n, cap, c->kind, c->name);
		}
		if (cs)
			bm__change_set__free_unpacked(cs, NULL);
	}
	return r;
}

/* The keys changed in (since, cur] that concern the rack, sorted, unique:
 * from the index where it holds them, from the log for the rest. */
static int
changed_keys(struct store_read *rd, const struct watch_index *x, const char *rack, uint64_t since,
             uint64_t cur, struct watch_key **ret, size_t *ret_n)
{
	struct watch_key *k = NULL;
	size_t n = 0, cap = 0;
	uint64_t from = since;
	int r = 0;

	if (x && since >= watch_index_first(x) && watch_index_last(x) > since) {
		uint64_t upto = watch_index_last(x) < cur ? watch_index_last(x) : cur;
		r = watch_index_keys(x, rack, since, upto, &k, &n, &cap);
		from = upto;
	}
	if (r == 0 && from < cur)
		r = log_keys(rd, rack, from, cur, &k, &n, &cap);
	if (r < 0) {
		watch_keys_free(k, n);
		return r;
	}
	*ret = k;
	*ret_n = watch_keys_sort_unique(k, n);
	return 0;
}

/* One changed key: its current record when it is part of the rack's view,
 * else a delete. */
static int
add_key(struct builder *b, struct store_read *rd, const char *rack, const struct watch_key *k)
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

bool
watch_needs_snapshot(struct store_read *rd, uint64_t since)
{
	uint64_t cur = store_read_revision(rd);

	return since == 0 || since < store_read_compact_revision(rd) || since > cur ||
	       cur - since > WATCH_SNAPSHOT_AFTER;
}

int
watch_build(struct store_read *rd, const struct watch_index *x, const char *rack, uint64_t since,
            Bm__WatchResult **ret)
{
	struct builder b = { 0 };
	uint64_t cur = store_read_revision(rd);
	struct watch_key *keys = NULL;
	size_t n = 0;
	int r;

	if (!(b.w = malloc(sizeof(*b.w))))
		return -ENOMEM;
	bm__watch_result__init(b.w);
	b.w->revision = cur;
	if (watch_needs_snapshot(rd, since)) {
		r = snapshot(&b, rd, rack);
	} else if ((r = changed_keys(rd, x, rack, since, cur, &keys, &n)) == 0) {
		for (size_t i = 0; i < n && r == 0; i++)
			r = add_key(&b, rd, rack, &keys[i]);
		watch_keys_free(keys, n);
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
