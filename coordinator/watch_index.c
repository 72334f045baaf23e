#include "watch_index.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One key of an entry while it is built: strings still in the sets. */
struct raw_key {
	const char *rack;
	Bm__Kind kind;
	const char *name;
	uint64_t first, last; /* the revisions it changed at, first and last */
};

struct ix_key {
	Bm__Kind kind;
	const char *name; /* in the entry's arena */
	uint64_t first, last;
};

/* The keys of one rack: keys[at, at + n), changed from first to last. */
struct ix_rack {
	const char *rack;
	size_t at, n;
	uint64_t first, last;
};

struct ix_entry {
	uint64_t from, to;
	char *arena;
	struct ix_key *keys;
	size_t n_keys;
	struct ix_rack *racks; /* by name; "" (every rack's) sorts first */
	size_t n_racks;
};

struct watch_index {
	struct ix_entry *ring;
	size_t max_entries, head, count;
	size_t max_keys, n_keys;
	uint64_t first, last;
};

static void
entry_fini(struct ix_entry *e)
{
	free(e->arena);
	free(e->keys);
	free(e->racks);
	memset(e, 0, sizeof(*e));
}

static int
raw_cmp(const void *a, const void *b)
{
	const struct raw_key *x = a, *y = b;
	int c = strcmp(x->rack, y->rack);
	if (c)
		return c;
	return x->kind != y->kind ? (int)x->kind - (int)y->kind : strcmp(x->name, y->name);
}

static void
merge_revs(uint64_t *first, uint64_t *last, uint64_t f, uint64_t l)
{
	if (f < *first)
		*first = f;
	if (l > *last)
		*last = l;
}

static bool
in_views(const Bm__Change *c)
{
	return c->kind != BM__KIND__KIND_AGENT && c->kind != BM__KIND__KIND_OPERATION;
}

/* The sets' keys (sets[i] made revision from + 1 + i), sorted, unique. */
static int
raw_keys(uint64_t from, Bm__ChangeSet *const *sets, size_t n_sets, struct raw_key **ret,
         size_t *ret_n)
{
	size_t n = 0, u = 0;
	struct raw_key *v;

	for (size_t i = 0; i < n_sets; i++)
		for (size_t j = 0; sets[i] && j < sets[i]->n_changes; j++)
			n += in_views(sets[i]->changes[j]);
	if (!(v = malloc((n ? n : 1) * sizeof(*v))))
		return -ENOMEM;
	n = 0;
	for (size_t i = 0; i < n_sets; i++)
		for (size_t j = 0; sets[i] && j < sets[i]->n_changes; j++) {
			const Bm__Change *c = sets[i]->changes[j];
			uint64_t rev = from + 1 + i;
			if (in_views(c))
				v[n++] = (struct raw_key){ c->rack, c->kind, c->name, rev, rev };
		}
	qsort(v, n, sizeof(*v), raw_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!u || raw_cmp(&v[u - 1], &v[i]))
			v[u++] = v[i];
		else /* the same key again: widen its revisions */
			merge_revs(&v[u - 1].first, &v[u - 1].last, v[i].first, v[i].last);
	}
	*ret = v;
	*ret_n = u;
	return 0;
}

static char *
arena_put(char **at, const char *s)
{
	size_t len = strlen(s) + 1;
	char *p = memcpy(*at, s, len);
	*at += len;
	return p;
}

/* The entry for sorted unique raw keys: one arena of strings, the keys and
 * the racks' ranges over them. */
static int
entry_build(struct ix_entry *e, const struct raw_key *raw, size_t n)
{
	size_t bytes = 0, n_racks = 0;
	char *at;

	for (size_t i = 0; i < n; i++) {
		bytes += strlen(raw[i].name) + 1;
		if (!i || strcmp(raw[i - 1].rack, raw[i].rack)) {
			bytes += strlen(raw[i].rack) + 1;
			n_racks++;
		}
	}
	e->arena = malloc(bytes ? bytes : 1);
	e->keys = malloc((n ? n : 1) * sizeof(*e->keys));
	e->racks = malloc((n_racks ? n_racks : 1) * sizeof(*e->racks));
	if (!e->arena || !e->keys || !e->racks) {
		entry_fini(e);
		return -ENOMEM;
	}
	at = e->arena;
	for (size_t i = 0; i < n; i++) {
		if (!i || strcmp(raw[i - 1].rack, raw[i].rack))
			e->racks[e->n_racks++] = (struct ix_rack){ arena_put(&at, raw[i].rack), i,
				                                   0, raw[i].first, raw[i].last };
		struct ix_rack *rk = &e->racks[e->n_racks - 1];
		rk->n++;
		merge_revs(&rk->first, &rk->last, raw[i].first, raw[i].last);
		e->keys[i] = (struct ix_key){ raw[i].kind, arena_put(&at, raw[i].name),
			                      raw[i].first, raw[i].last };
	}
	e->n_keys = n;
	return 0;
}

static struct ix_entry *
entry_at(const struct watch_index *x, size_t i)
{
	return &x->ring[(x->head + i) % x->max_entries];
}

static void
drop_oldest(struct watch_index *x)
{
	struct ix_entry *e = entry_at(x, 0);
	x->n_keys -= e->n_keys;
	x->first = e->to;
	entry_fini(e);
	x->head = (x->head + 1) % x->max_entries;
	x->count--;
}

static void
clear(struct watch_index *x, uint64_t at)
{
	while (x->count)
		drop_oldest(x);
	x->first = x->last = at;
}

int
watch_index_new(size_t max_keys, size_t max_entries, struct watch_index **ret)
{
	struct watch_index *x = calloc(1, sizeof(*x));

	if (!x || !(x->ring = calloc(max_entries ? max_entries : 1, sizeof(*x->ring)))) {
		free(x);
		return -ENOMEM;
	}
	x->max_entries = max_entries ? max_entries : 1;
	x->max_keys = max_keys;
	*ret = x;
	return 0;
}

void
watch_index_free(struct watch_index *x)
{
	if (!x)
		return;
	clear(x, 0);
	free(x->ring);
	free(x);
}

int
watch_index_add(struct watch_index *x, uint64_t from, uint64_t to, Bm__ChangeSet *const *sets,
                size_t n_sets)
{
	struct ix_entry e = { .from = from, .to = to };
	struct raw_key *raw = NULL;
	size_t n = 0;

	if (from != x->last || to < from)
		clear(x, from);
	if (to == from)
		return 0;
	if (raw_keys(from, sets, n_sets, &raw, &n) < 0 || entry_build(&e, raw, n) < 0) {
		free(raw);
		clear(x, to);
		return -ENOMEM;
	}
	free(raw);
	while (x->count && (x->count == x->max_entries || x->n_keys + n > x->max_keys))
		drop_oldest(x);
	*entry_at(x, x->count) = e;
	x->count++;
	x->n_keys += n;
	x->last = to;
	return 0;
}

uint64_t
watch_index_first(const struct watch_index *x)
{
	return x->first;
}

uint64_t
watch_index_last(const struct watch_index *x)
{
	return x->last;
}

static const struct ix_rack *
rack_find(const struct ix_entry *e, const char *rack)
{
	size_t lo = 0, hi = e->n_racks;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(e->racks[mid].rack, rack);
		if (!c)
			return &e->racks[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Entries meeting (since, until], newest first, through cb; stops when cb
 * returns nonzero and returns that. */
static int
each_entry(const struct watch_index *x, uint64_t since, uint64_t until,
           int (*cb)(const struct ix_entry *e, void *arg), void *arg)
{
	for (size_t i = x->count; i-- > 0;) {
		const struct ix_entry *e = entry_at(x, i);
		int r;
		if (e->to <= since)
			break;
		if (e->from < until && (r = cb(e, arg)))
			return r;
	}
	return 0;
}

/* Changes from first to last meet (since, until]. */
static bool
meets(uint64_t first, uint64_t last, uint64_t since, uint64_t until)
{
	return last > since && first <= until;
}

struct touch {
	const char *rack;
	bool every; /* every rack's keys count */
	uint64_t since, until;
};

static bool
rack_meets(const struct ix_rack *rk, const struct touch *t)
{
	return rk && meets(rk->first, rk->last, t->since, t->until);
}

static int
touched_cb(const struct ix_entry *e, void *arg)
{
	const struct touch *t = arg;
	return rack_meets(rack_find(e, t->rack), t) ||
	       (t->every && rack_meets(rack_find(e, ""), t));
}

bool
watch_index_touches(const struct watch_index *x, const char *rack, uint64_t since, uint64_t until)
{
	struct touch t = { rack, true, since, until };
	return since < x->first || each_entry(x, since, until, touched_cb, &t);
}

bool
watch_index_rack_touched(const struct watch_index *x, const char *rack, uint64_t since,
                         uint64_t until)
{
	struct touch t = { rack, false, since, until };
	return since < x->first || each_entry(x, since, until, touched_cb, &t);
}

int
watch_keys_push(struct watch_key **keys, size_t *n, size_t *cap, Bm__Kind kind, const char *name)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct watch_key *v = realloc(*keys, c * sizeof(*v));
		if (!v)
			return -ENOMEM;
		*keys = v;
		*cap = c;
	}
	if (!((*keys)[*n].name = strdup(name)))
		return -ENOMEM;
	(*keys)[(*n)++].kind = kind;
	return 0;
}

struct collect {
	const char *rack;
	uint64_t since, until;
	struct watch_key **keys;
	size_t *n, *cap;
};

static int
push_range(struct collect *c, const struct ix_entry *e, const struct ix_rack *rk)
{
	for (size_t i = 0; rk && i < rk->n; i++) {
		const struct ix_key *k = &e->keys[rk->at + i];
		if (!meets(k->first, k->last, c->since, c->until))
			continue;
		if (watch_keys_push(c->keys, c->n, c->cap, k->kind, k->name) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int
collect_cb(const struct ix_entry *e, void *arg)
{
	struct collect *c = arg;
	int r = push_range(c, e, rack_find(e, c->rack));
	return r ? r : push_range(c, e, rack_find(e, ""));
}

int
watch_index_keys(const struct watch_index *x, const char *rack, uint64_t since, uint64_t until,
                 struct watch_key **keys, size_t *n, size_t *cap)
{
	struct collect c = { rack, since, until, keys, n, cap };

	if (since < x->first || until > x->last)
		return -ERANGE;
	return each_entry(x, since, until, collect_cb, &c);
}

static int
key_cmp(const void *a, const void *b)
{
	const struct watch_key *x = a, *y = b;
	return x->kind != y->kind ? (int)x->kind - (int)y->kind : strcmp(x->name, y->name);
}

size_t
watch_keys_sort_unique(struct watch_key *keys, size_t n)
{
	size_t u = 0;

	if (n)
		qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 0; i < n; i++) {
		if (u && !key_cmp(&keys[u - 1], &keys[i]))
			free(keys[i].name);
		else
			keys[u++] = keys[i];
	}
	return u;
}

void
watch_keys_free(struct watch_key *keys, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(keys[i].name);
	free(keys);
}
