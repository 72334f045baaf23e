/* What lets an operation's machine start (store_op_step.c): the rack's
 * agent holds its images, and its rack's max_booting has room. */
#pragma once
#include "store_priv.h"

/* The agents' caches, read once per advance. */
struct caches {
	Bm__AgentRecord **a;
	size_t n;
};

/* A rack's machines booting now (the index) and its max_booting. */
struct rack_load {
	char *rack;
	unsigned booting, max;
	struct rack_load *next;
};

#define LOAD_BUCKETS 256u
struct admission {
	struct rack_load *b[LOAD_BUCKETS];
};

/* The profile a machine boots: the operation's override, else its own. */
static inline const char *
st_boot_profile(const Bm__Machine *m)
{
	return *m->boot_profile ? m->boot_profile : m->profile;
}

/* Every agent's record (its cached images), read once per advance. */
int st_caches_load(struct apply_ctx *c, struct caches *cs);
void st_caches_free(struct caches *cs);
/* Does an agent of m's rack hold every image of m's profile? 1, or 0 with
 * why. */
int st_images_ready(struct apply_ctx *c, const struct caches *cs, const Bm__Machine *m, char *why,
                    size_t wlen);
/* The rack's load, counted at its first use (then kept up by the caller
 * as machines start). 0 or -errno. */
int st_admission_get(struct apply_ctx *c, struct admission *a, const char *rack,
                     struct rack_load **ret);
void st_admission_free(struct admission *a);
