#include "bm/addr_count.h"

#include <errno.h>
#include <stdlib.h>

static size_t
hash(uint32_t ip)
{
	uint64_t h = (uint64_t)ip * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32);
}

int
bm_addr_count_init(struct bm_addr_count *t, size_t max)
{
	size_t n = 16;

	while (n < 2 * max + 1)
		n *= 2;
	t->mask = n - 1;
	t->used = 0;
	return (t->slot = calloc(n, sizeof(*t->slot))) ? 0 : -ENOMEM;
}

void
bm_addr_count_fini(struct bm_addr_count *t)
{
	free(t->slot);
	t->slot = NULL;
}

/* The slot of ip, or the empty slot where it would go. */
static size_t
find(const struct bm_addr_count *t, uint32_t ip)
{
	size_t i = hash(ip) & t->mask;

	while (t->slot[i].n && t->slot[i].ip != ip)
		i = (i + 1) & t->mask;
	return i;
}

unsigned
bm_addr_count_get(const struct bm_addr_count *t, uint32_t ip)
{
	return t->slot[find(t, ip)].n;
}

int
bm_addr_count_add(struct bm_addr_count *t, uint32_t ip, unsigned cap)
{
	size_t i = find(t, ip);

	if (cap && t->slot[i].n >= cap)
		return -EBUSY;
	if (!t->slot[i].n) {
		/* Keep half the table empty so probes stay short and end. */
		if (2 * (t->used + 1) > t->mask + 1)
			return -ENOSPC;
		t->slot[i].ip = ip;
		t->used++;
	}
	return (int)++t->slot[i].n;
}

/* Backward-shift deletion: later members of the probe run move up so a
 * lookup never stops early at the hole. */
static void
delete_at(struct bm_addr_count *t, size_t i)
{
	size_t j = i;

	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->slot[j].n)
			break;
		size_t home = hash(t->slot[j].ip) & t->mask;
		/* Move j to i when its home is not in (i, j] cyclically. */
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i].n = 0;
	t->slot[i].ip = 0;
	t->used--;
}

void
bm_addr_count_sub(struct bm_addr_count *t, uint32_t ip)
{
	size_t i = find(t, ip);

	if (t->slot[i].n && --t->slot[i].n == 0)
		delete_at(t, i);
}
