/* Admission of an operation's machines: the images their rack's agents
 * hold, and each rack's machines booting (store_op_index.c's count)
 * against its max_booting. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/fleet.h"
#include "store_op_admit.h"

int
st_caches_load(struct apply_ctx *c, struct caches *cs)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, r = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_AGENTS], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && r == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__AgentRecord *a = bm__agent_record__unpack(NULL, v.mv_size, v.mv_data);
		Bm__AgentRecord **nv = a ? realloc(cs->a, (cs->n + 1) * sizeof(*nv)) : NULL;
		if (!nv) {
			st_free(a);
			continue;
		}
		cs->a = nv;
		cs->a[cs->n++] = a;
	}
	mdb_cursor_close(cur);
	return r;
}

void
st_caches_free(struct caches *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		st_free(cs->a[i]);
	free(cs->a);
}

static bool
agent_holds(const Bm__AgentRecord *a, const ProtobufCBinaryData *sha)
{
	for (size_t i = 0; a->info && i < a->info->n_cached; i++)
		if (a->info->cached[i].len == sha->len &&
		    !memcmp(a->info->cached[i].data, sha->data, sha->len))
			return true;
	return false;
}

/* Does an agent of m's rack hold every image of m's profile (kernel,
 * initrd, disk image)? If not, why (written to why). */
int
st_images_ready(struct apply_ctx *c, const struct caches *cs, const Bm__Machine *m, char *why,
                size_t wlen)
{
	const char *p = st_boot_profile(m);
	Bm__Profile *pr = NULL;
	const char *need[3];
	int r = 1;

	if (bm_mdb_get_msg(c->txn, c->s->dbi[DB_PROFILES], p, strlen(p), &bm__profile__descriptor,
	                   (ProtobufCMessage **)&pr) < 0) {
		snprintf(why, wlen, "profile %s is gone", p);
		return 0;
	}
	need[0] = pr->kernel;
	need[1] = pr->initrd;
	need[2] = pr->disk_image; /* the deploy ramdisk writes it from this agent */
	for (int i = 0; i < 3 && r; i++) {
		Bm__Image *im = NULL;
		bool held = false;
		if (!*need[i])
			continue;
		if (bm_mdb_get_msg(c->txn, c->s->dbi[DB_IMAGES], need[i], strlen(need[i]),
		                   &bm__image__descriptor, (ProtobufCMessage **)&im) < 0) {
			snprintf(why, wlen, "image %s is not declared", need[i]);
			r = 0;
			break;
		}
		for (size_t j = 0; j < cs->n && !held; j++)
			held = cs->a[j]->info && !strcmp(cs->a[j]->info->rack, m->rack) &&
			       agent_holds(cs->a[j], &im->sha256);
		if (!held) {
			snprintf(why, wlen, "waiting for rack %s's agent to cache image %s",
			         m->rack, need[i]);
			r = 0;
		}
		st_free(im);
	}
	st_free(pr);
	return r;
}

/* ------------------------------------------------------------ admission */

static int
rack_count(struct apply_ctx *c, struct rack_load *l)
{
	Bm__Rack *rk = NULL;
	size_t n = 0;
	int r;

	if (bm_mdb_get_msg(c->txn, c->s->dbi[DB_RACKS], l->rack, strlen(l->rack),
	                   &bm__rack__descriptor, (ProtobufCMessage **)&rk) == 0)
		l->max = rk->max_booting;
	st_free(rk);
	if (!l->max)
		l->max = BM_MAX_BOOTING_DEFAULT;
	r = st_rack_booting(c, l->rack, &n);
	l->booting = (unsigned)n;
	return r;
}

/* The rack's load, counted at its first use in this advance (its machines
 * started here are added as they start). */
int
st_admission_get(struct apply_ctx *c, struct admission *a, const char *rack, struct rack_load **ret)
{
	unsigned h = 2166136261u;
	struct rack_load *l;
	int r;

	for (const char *p = rack; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (l = a->b[h % LOAD_BUCKETS]; l; l = l->next)
		if (!strcmp(l->rack, rack)) {
			*ret = l;
			return 0;
		}
	if (!(l = calloc(1, sizeof(*l))) || !(l->rack = strdup(rack))) {
		free(l);
		return -ENOMEM;
	}
	l->next = a->b[h % LOAD_BUCKETS];
	a->b[h % LOAD_BUCKETS] = l;
	if ((r = rack_count(c, l)) < 0)
		return r;
	*ret = l;
	return 0;
}

void
st_admission_free(struct admission *a)
{
	for (unsigned i = 0; i < LOAD_BUCKETS; i++)
		while (a->b[i]) {
			struct rack_load *l = a->b[i];
			a->b[i] = l->next;
			free(l->rack);
			free(l);
		}
}
