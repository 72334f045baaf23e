/* Lease table: a slab of leases and two open-addressing indexes (client key
 * and address), linear probing with backward-shift deletion. */
#include "lease.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct index {
	uint32_t *slot; /* lease number + 1; 0 is empty */
	size_t mask;
};

struct lease_table {
	struct lease *v;
	uint32_t *free_list;
	size_t cap, nfree, used;
	struct index by_key, by_ip;
	uint32_t cursor; /* pool allocation resumes here */
};

bool
lease_key_eq(const struct lease_key *a, const struct lease_key *b)
{
	return a->len == b->len && memcmp(a->b, b->b, a->len) == 0;
}

static size_t
hash_key(const struct lease_key *k)
{
	uint64_t h = 1469598103934665603ull;
	for (unsigned i = 0; i < k->len; i++)
		h = (h ^ k->b[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static size_t
hash_ip(uint32_t ip)
{
	uint64_t h = (uint64_t)ip * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20);
}

static int
index_init(struct index *x, size_t cap)
{
	size_t n = 16;
	while (n < cap * 2)
		n *= 2;
	x->slot = calloc(n, sizeof(*x->slot));
	x->mask = n - 1;
	return x->slot ? 0 : -ENOMEM;
}

struct lease_table *
lease_table_new(size_t cap)
{
	struct lease_table *t = calloc(1, sizeof(*t));

	if (!t || cap == 0 || cap > DHCP_LEASES_MAX)
		goto fail;
	t->cap = cap;
	if (!(t->v = calloc(cap, sizeof(*t->v))) ||
	    !(t->free_list = calloc(cap, sizeof(uint32_t))) || index_init(&t->by_key, cap) < 0 ||
	    index_init(&t->by_ip, cap) < 0)
		goto fail;
	for (size_t i = 0; i < cap; i++)
		t->free_list[i] = (uint32_t)(cap - 1 - i);
	t->nfree = cap;
	return t;
fail:
	lease_table_free(t);
	return NULL;
}

void
lease_table_free(struct lease_table *t)
{
	if (!t)
		return;
	free(t->v);
	free(t->free_list);
	free(t->by_key.slot);
	free(t->by_ip.slot);
	free(t);
}

size_t
lease_table_count(const struct lease_table *t)
{
	return t->used;
}

size_t
lease_table_capacity(const struct lease_table *t)
{
	return t->cap;
}

int
lease_table_grow(struct lease_table **tp, size_t cap)
{
	struct lease_table *t = *tp, *n;

	if (cap <= t->cap)
		return 0;
	if (!(n = lease_table_new(cap > DHCP_LEASES_MAX ? DHCP_LEASES_MAX : cap)))
		return -ENOMEM;
	for (size_t i = 0; i <= t->by_ip.mask; i++)
		if (t->by_ip.slot[i] && lease_put(n, &t->v[t->by_ip.slot[i] - 1]) < 0) {
			lease_table_free(n);
			return -ENOSPC;
		}
	n->cursor = t->cursor;
	lease_table_free(t);
	*tp = n;
	return 0;
}

/* ------------------------------------------------------------- indexes */

static size_t
key_home(const struct lease_table *t, uint32_t n)
{
	return hash_key(&t->v[n].key) & t->by_key.mask;
}

static size_t
ip_home(const struct lease_table *t, uint32_t n)
{
	return hash_ip(t->v[n].ip) & t->by_ip.mask;
}

/* Slot holding lease n in index x, whose home function is home. */
static size_t
index_find_n(const struct lease_table *t, const struct index *x,
             size_t (*home)(const struct lease_table *, uint32_t), uint32_t n)
{
	size_t i = home(t, n);
	while (x->slot[i] != n + 1)
		i = (i + 1) & x->mask;
	return i;
}

static void
index_insert(struct lease_table *t, struct index *x,
             size_t (*home)(const struct lease_table *, uint32_t), uint32_t n)
{
	size_t i = home(t, n);
	while (x->slot[i])
		i = (i + 1) & x->mask;
	x->slot[i] = n + 1;
}

/* Backward-shift deletion keeps every probe chain unbroken. */
static void
index_remove(struct lease_table *t, struct index *x,
             size_t (*home)(const struct lease_table *, uint32_t), uint32_t n)
{
	size_t i = index_find_n(t, x, home, n), j = i;

	x->slot[i] = 0;
	for (;;) {
		j = (j + 1) & x->mask;
		if (!x->slot[j])
			return;
		size_t h = home(t, x->slot[j] - 1);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if ((j > i && (h <= i || h > j)) || (j < i && (h <= i && h > j))) {
			x->slot[i] = x->slot[j];
			x->slot[j] = 0;
			i = j;
		}
	}
}

static bool
live(const struct lease *l, uint64_t now)
{
	return l->expires_ms > now;
}

static long
find_key(const struct lease_table *t, const struct lease_key *k)
{
	size_t i = hash_key(k) & t->by_key.mask;
	for (; t->by_key.slot[i]; i = (i + 1) & t->by_key.mask) {
		uint32_t n = t->by_key.slot[i] - 1;
		if (lease_key_eq(&t->v[n].key, k))
			return n;
	}
	return -1;
}

static long
find_ip(const struct lease_table *t, uint32_t ip)
{
	size_t i = hash_ip(ip) & t->by_ip.mask;
	for (; t->by_ip.slot[i]; i = (i + 1) & t->by_ip.mask) {
		uint32_t n = t->by_ip.slot[i] - 1;
		if (t->v[n].ip == ip)
			return n;
	}
	return -1;
}

const struct lease *
lease_by_key(const struct lease_table *t, const struct lease_key *k, uint64_t now)
{
	long n = k->len ? find_key(t, k) : -1;
	return n >= 0 && live(&t->v[n], now) ? &t->v[n] : NULL;
}

const struct lease *
lease_by_ip(const struct lease_table *t, uint32_t ip, uint64_t now)
{
	long n = find_ip(t, ip);
	return n >= 0 && live(&t->v[n], now) ? &t->v[n] : NULL;
}

/* ------------------------------------------------------------- changes */

static void
remove_n(struct lease_table *t, uint32_t n)
{
	if (t->v[n].key.len)
		index_remove(t, &t->by_key, key_home, n);
	index_remove(t, &t->by_ip, ip_home, n);
	memset(&t->v[n], 0, sizeof(t->v[n])); /* state 0: a free slot */
	t->free_list[t->nfree++] = n;
	t->used--;
}

int
lease_drop_key(struct lease_table *t, const struct lease_key *k)
{
	long n = k->len ? find_key(t, k) : -1;
	if (n < 0)
		return -ENOENT;
	remove_n(t, (uint32_t)n);
	return 0;
}

int
lease_drop_ip(struct lease_table *t, uint32_t ip)
{
	long n = find_ip(t, ip);
	if (n < 0)
		return -ENOENT;
	remove_n(t, (uint32_t)n);
	return 0;
}

int
lease_put(struct lease_table *t, const struct lease *l)
{
	long mine = l->key.len ? find_key(t, &l->key) : -1;
	long other = find_ip(t, l->ip);
	uint32_t n;

	if (other >= 0 && other != mine)
		remove_n(t, (uint32_t)other); /* the address changes hands */
	if (mine >= 0) {
		n = (uint32_t)mine;
		if (t->v[n].ip != l->ip) {
			index_remove(t, &t->by_ip, ip_home, n);
			t->v[n].ip = l->ip;
			index_insert(t, &t->by_ip, ip_home, n);
		}
		t->v[n] = *l;
		return 0;
	}
	if (t->nfree == 0)
		return -ENOSPC;
	n = t->free_list[--t->nfree];
	t->v[n] = *l;
	t->used++;
	if (l->key.len)
		index_insert(t, &t->by_key, key_home, n);
	index_insert(t, &t->by_ip, ip_home, n);
	return 0;
}

int
lease_pool_alloc(struct lease_table *t, uint32_t start, uint32_t end, uint64_t now,
                 bool (*taken)(void *arg, uint32_t ip), void *arg, uint32_t *ret_ip)
{
	uint64_t span = (uint64_t)end - start + 1;

	if (end < start)
		return -ENOSPC;
	for (uint64_t i = 0; i < span; i++) {
		uint32_t ip = start + (uint32_t)((t->cursor + i) % span);
		if (lease_by_ip(t, ip, now) || (taken && taken(arg, ip)))
			continue;
		t->cursor = (uint32_t)((t->cursor + i + 1) % span);
		*ret_ip = ip;
		return 0;
	}
	return -ENOSPC;
}

size_t
lease_expire(struct lease_table *t, uint64_t now, void (*fn)(void *arg, const struct lease *l),
             void *arg)
{
	size_t removed = 0;

	for (uint32_t n = 0; n < t->cap; n++) {
		if (!t->v[n].state || live(&t->v[n], now))
			continue;
		/* Free slots are zeroed (state 0); only used ones reach here. */
		if (fn)
			fn(arg, &t->v[n]);
		remove_n(t, n);
		removed++;
	}
	return removed;
}
