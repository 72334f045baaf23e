#include "image_fill.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fill {
	char site[64];
	uint8_t sha[32];
	char agent[64]; /* "" : a free slot */
	uint64_t alive_ms;
};

struct image_fill {
	pthread_mutex_t mu;
	struct fill v[IMAGE_FILL_MAX];
};

int
image_fill_new(struct image_fill **ret)
{
	struct image_fill *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	*ret = f;
	return 0;
}

void
image_fill_free(struct image_fill *f)
{
	if (!f)
		return;
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static struct fill *
find(struct image_fill *f, const char *site, const uint8_t sha[32])
{
	for (size_t i = 0; i < IMAGE_FILL_MAX; i++)
		if (*f->v[i].agent && !memcmp(f->v[i].sha, sha, 32) && !strcmp(f->v[i].site, site))
			return &f->v[i];
	return NULL;
}

/* A free slot, else the one silent longest. */
static struct fill *
slot(struct image_fill *f)
{
	struct fill *old = &f->v[0];

	for (size_t i = 0; i < IMAGE_FILL_MAX; i++) {
		if (!*f->v[i].agent)
			return &f->v[i];
		if (f->v[i].alive_ms < old->alive_ms)
			old = &f->v[i];
	}
	return old;
}

bool
image_fill_claim(struct image_fill *f, const char *site, const uint8_t sha[32], const char *agent,
                 uint64_t now_ms, char *filler, size_t len)
{
	struct fill *e;
	bool mine = true;

	pthread_mutex_lock(&f->mu);
	e = find(f, site, sha);
	if (e && strcmp(e->agent, agent) && now_ms < e->alive_ms + IMAGE_FILL_STALL_MS) {
		snprintf(filler, len, "%s", e->agent);
		mine = false;
	} else {
		if (!e)
			e = slot(f);
		snprintf(e->site, sizeof(e->site), "%s", site);
		memcpy(e->sha, sha, 32);
		snprintf(e->agent, sizeof(e->agent), "%s", agent);
		e->alive_ms = now_ms;
	}
	pthread_mutex_unlock(&f->mu);
	return mine;
}

void
image_fill_progress(struct image_fill *f, const uint8_t sha[32], const char *agent, uint64_t now_ms)
{
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < IMAGE_FILL_MAX; i++)
		if (*f->v[i].agent && !memcmp(f->v[i].sha, sha, 32) &&
		    !strcmp(f->v[i].agent, agent))
			f->v[i].alive_ms = now_ms;
	pthread_mutex_unlock(&f->mu);
}

void
image_fill_done(struct image_fill *f, const char *site, const uint8_t sha[32])
{
	struct fill *e;

	pthread_mutex_lock(&f->mu);
	if ((e = find(f, site, sha)))
		memset(e, 0, sizeof(*e));
	pthread_mutex_unlock(&f->mu);
}

/* FNV-1a of asker, a separator, holder. */
static uint64_t
score(const char *asker, const char *holder)
{
	uint64_t h = 14695981039346656037ull;
	for (const char *p = asker; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ 0xff) * 1099511628211ull;
	for (const char *p = holder; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h ^= h >> 33; /* spread the low bits FNV leaves alike */
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

void
image_fill_order(const char *asker, const char **ids, size_t n)
{
	uint64_t *sc = calloc(n + 1, sizeof(*sc));

	if (!sc)
		return; /* the order is a spread, not a rule */
	for (size_t i = 0; i < n; i++)
		sc[i] = score(asker, ids[i]);
	for (size_t i = 1; i < n; i++) /* insertion sort: n is a site's holders */
		for (size_t j = i; j > 0 && sc[j] > sc[j - 1]; j--) {
			const char *t = ids[j];
			uint64_t u = sc[j];
			ids[j] = ids[j - 1], sc[j] = sc[j - 1];
			ids[j - 1] = t, sc[j - 1] = u;
		}
	free(sc);
}
