/* Open addressing with linear probing over twice as many slots as agents,
 * so a probe is short; a forgotten entry is removed by shifting back the
 * run after it (no tombstones). One mutex: every operation is O(1) but
 * forgetting, which scans once when the table is full. */
#include "agents_live.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"

struct slot {
	char id[64]; /* "" : free */
	uint64_t seen_ms, rev;
	uint64_t written_ms; /* the sighting last handed out for replication */
};

struct agents_live {
	pthread_mutex_t mu;
	struct slot *s;
	size_t mask, n, max;
};

static size_t
hash(const char *id)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (; *id; id++)
		h = (h ^ (uint8_t)*id) * 1099511628211ull;
	return (size_t)h;
}

/* The slot holding id, or the free slot where it would go. */
static struct slot *
find(struct agents_live *t, const char *id)
{
	size_t i = hash(id) & t->mask;
	while (t->s[i].id[0] && strcmp(t->s[i].id, id))
		i = (i + 1) & t->mask;
	return &t->s[i];
}

/* Remove slot i and shift back the entries after it that probed past it. */
static void
remove_at(struct agents_live *t, size_t i)
{
	size_t j = i;

	t->s[i].id[0] = '\0';
	for (;;) {
		j = (j + 1) & t->mask;
		if (!t->s[j].id[0])
			break;
		size_t home = hash(t->s[j].id) & t->mask;
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->s[i] = t->s[j];
		t->s[j].id[0] = '\0';
		i = j;
	}
	t->n--;
}

static void
forget_stalest(struct agents_live *t)
{
	size_t old = 0;
	bool any = false;

	for (size_t i = 0; i <= t->mask; i++)
		if (t->s[i].id[0] && (!any || t->s[i].seen_ms < t->s[old].seen_ms)) {
			old = i;
			any = true;
		}
	if (any)
		remove_at(t, old);
}

int
agents_live_new(unsigned max, struct agents_live **ret)
{
	struct agents_live *t;
	size_t slots = 2;

	if (max == 0 || max > AGENTS_LIVE_MAX)
		return -EINVAL;
	while (slots < 2 * (size_t)max)
		slots *= 2;
	if (!(t = calloc(1, sizeof(*t))) || !(t->s = calloc(slots, sizeof(*t->s)))) {
		free(t);
		return -ENOMEM;
	}
	pthread_mutex_init(&t->mu, NULL);
	t->mask = slots - 1;
	t->max = max;
	*ret = t;
	return 0;
}

void
agents_live_free(struct agents_live *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->mu);
	free(t->s);
	free(t);
}

static void
note(struct slot *sl, uint64_t rev, uint64_t now_ms)
{
	if (now_ms > sl->seen_ms)
		sl->seen_ms = now_ms;
	if (rev > sl->rev || (rev && now_ms))
		sl->rev = rev;
}

int
agents_live_seen(struct agents_live *t, const char *id, uint64_t rev, uint64_t now_ms)
{
	int r = -ENOENT;

	pthread_mutex_lock(&t->mu);
	struct slot *sl = find(t, id);
	if (sl->id[0]) {
		note(sl, rev, now_ms);
		r = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}

int
agents_live_add(struct agents_live *t, const char *id, uint64_t rev, uint64_t now_ms)
{
	if (!bm_name_valid(id))
		return -EINVAL;
	pthread_mutex_lock(&t->mu);
	struct slot *sl = find(t, id);
	if (!sl->id[0]) {
		if (t->n == t->max) {
			forget_stalest(t);
			sl = find(t, id);
		}
		memset(sl, 0, sizeof(*sl));
		snprintf(sl->id, sizeof(sl->id), "%s", id);
		t->n++;
	}
	note(sl, rev, now_ms);
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int
agents_live_get(struct agents_live *t, const char *id, uint64_t *ret_seen, uint64_t *ret_rev)
{
	int r = -ENOENT;

	pthread_mutex_lock(&t->mu);
	struct slot *sl = find(t, id);
	if (sl->id[0]) {
		*ret_seen = sl->seen_ms;
		*ret_rev = sl->rev;
		r = 0;
	}
	pthread_mutex_unlock(&t->mu);
	return r;
}

size_t
agents_live_due(struct agents_live *t, Bm__AgentSeen *out, char (*ids)[64], size_t max)
{
	size_t n = 0;

	pthread_mutex_lock(&t->mu);
	for (size_t i = 0; i <= t->mask && n < max; i++) {
		struct slot *sl = &t->s[i];
		if (!sl->id[0] || sl->seen_ms < sl->written_ms + AGENTS_SEEN_WRITE_MS)
			continue;
		bm__agent_seen__init(&out[n]);
		memcpy(ids[n], sl->id, sizeof(ids[n]));
		out[n].id = ids[n];
		out[n].last_seen_ms = sl->seen_ms;
		out[n].revision = sl->rev;
		sl->written_ms = sl->seen_ms;
		n++;
	}
	pthread_mutex_unlock(&t->mu);
	return n;
}

size_t
agents_live_count(struct agents_live *t)
{
	pthread_mutex_lock(&t->mu);
	size_t n = t->n;
	pthread_mutex_unlock(&t->mu);
	return n;
}
