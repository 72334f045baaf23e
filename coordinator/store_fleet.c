/* Apply of a fleet: upsert every entry, all or nothing. Entries are written
 * in dependency order (sites, racks, images, profiles, machines) inside the
 * command's nested transaction, so references resolve against the store as
 * it will be after the command, whether the target is new in this fleet or
 * already stored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bm/bmc_secret.h"
#include "bm/fleet.h"
#include "bm/netaddr.h"
#include "bm/seal.h"
#include "store_priv.h"

#define KSITE BM__KIND__KIND_SITE
#define KRACK BM__KIND__KIND_RACK
#define KIMAGE BM__KIND__KIND_IMAGE
#define KPROF BM__KIND__KIND_PROFILE
#define KMACH BM__KIND__KIND_MACHINE

struct fleet_ctx {
	struct apply_ctx *c;
	const Bm__Fleet *f;
	struct bm_problems *p;
	const char **mnames; /* machine names of the fleet, sorted */
	Bm__Rack *rack;      /* last rack looked up, a cache for machines */
};

static int
exists(struct apply_ctx *c, enum store_db db, const char *name)
{
	MDB_val k = { strlen(name), (void *)name }, v;
	int rc = mdb_get(c->txn, c->s->dbi[db], &k, &v);
	return rc == MDB_SUCCESS ? 1 : rc == MDB_NOTFOUND ? 0 : bm_mdb_errno(rc);
}

/* Get, upsert, count and record the change of one record. */
static int
put_one(struct apply_ctx *c, Bm__Kind kind, const ProtobufCMessage *msg, const char *name,
        const char *rack, ProtobufCMessage **ret_old, int *ret_outcome)
{
	const ProtobufCMessageDescriptor *d;
	enum store_db db;
	ProtobufCMessage *old = NULL;
	int r, outcome;

	st_kind_db(kind, &db, &d);
	r = bm_mdb_get_msg(c->txn, c->s->dbi[db], name, strlen(name), d, &old);
	if (r < 0 && r != -ENOENT)
		return r;
	if ((r = st_upsert(c, kind, msg, old, &outcome)) < 0)
		goto fail;
	st_count(c, outcome);
	if (outcome != UPSERT_UNCHANGED && (r = st_change(c, kind, name, rack, false)) < 0)
		goto fail;
	if (ret_outcome)
		*ret_outcome = outcome;
	if (ret_old)
		*ret_old = old;
	else
		st_free(old);
	return 0;
fail:
	st_free(old);
	return r;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
in_fleet(struct fleet_ctx *x, const char *machine)
{
	return bsearch(&machine, x->mnames, x->f->n_machines, sizeof(char *), name_cmp) != NULL;
}

/* A rack whose addressing changed: its stored machines that this fleet does
 * not also update must still fit it. */
static int
recheck_rack_machines(struct fleet_ctx *x, const Bm__Rack *r)
{
	struct apply_ctx *c = x->c;
	MDB_cursor *cur;
	MDB_val k = { strlen(r->name), r->name }, v;
	int rc, e = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[DB_RACK_MACHINES], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY); rc == MDB_SUCCESS && e == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
		char name[64];
		Bm__Machine *m = NULL;
		snprintf(name, sizeof(name), "%.*s", (int)v.mv_size, (char *)v.mv_data);
		if (in_fleet(x, name))
			continue;
		e = bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], name, strlen(name),
		                   &bm__machine__descriptor, (ProtobufCMessage **)&m);
		if (e == 0)
			bm_fleet_check_machine_rack(m, 0, r, x->p);
		st_free(m);
	}
	mdb_cursor_close(cur);
	return e < 0 ? e : (rc == MDB_NOTFOUND || rc == MDB_SUCCESS) ? 0 : bm_mdb_errno(rc);
}

static int
apply_racks(struct fleet_ctx *x)
{
	for (size_t i = 0; i < x->f->n_racks; i++) {
		const Bm__Rack *rk = x->f->racks[i];
		Bm__Rack *old = NULL;
		int r, outcome;

		if ((r = exists(x->c, DB_SITES, rk->site)) < 0)
			return r;
		if (r == 0)
			bm_problems_add(x->p, KRACK, rk->name, (uint32_t)i, "site",
			                "site %s does not exist", rk->site);
		r = put_one(x->c, KRACK, &rk->base, rk->name, rk->name, (ProtobufCMessage **)&old,
		            &outcome);
		if (r == 0 && old && outcome == UPSERT_UPDATED &&
		    (old->network != rk->network || old->prefix_len != rk->prefix_len ||
		     old->gateway != rk->gateway || old->pool_start != rk->pool_start ||
		     old->pool_end != rk->pool_end))
			r = recheck_rack_machines(x, rk);
		st_free(old);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
need(struct fleet_ctx *x, enum store_db db, const char *ref, Bm__Kind kind, const char *name,
     uint32_t i, const char *field)
{
	int r;
	if (!*ref)
		return 0;
	if ((r = exists(x->c, db, ref)) == 0)
		bm_problems_add(x->p, kind, name, i, field, "%s %s does not exist",
		                db == DB_IMAGES     ? "image"
		                : db == DB_PROFILES ? "profile"
		                                    : "rack",
		                ref);
	return r < 0 ? r : 0;
}

static int
apply_simple(struct fleet_ctx *x)
{
	const Bm__Fleet *f = x->f;
	int r;

	for (size_t i = 0; i < f->n_sites; i++)
		if ((r = put_one(x->c, KSITE, &f->sites[i]->base, f->sites[i]->name, "", NULL,
		                 NULL)) < 0)
			return r;
	if ((r = apply_racks(x)) < 0)
		return r;
	for (size_t i = 0; i < f->n_images; i++)
		if ((r = put_one(x->c, KIMAGE, &f->images[i]->base, f->images[i]->name, "", NULL,
		                 NULL)) < 0)
			return r;
	for (size_t i = 0; i < f->n_profiles; i++) {
		const Bm__Profile *p = f->profiles[i];
		if ((r = need(x, DB_IMAGES, p->kernel, KPROF, p->name, (uint32_t)i, "kernel")) <
		        0 ||
		    (r = need(x, DB_IMAGES, p->initrd, KPROF, p->name, (uint32_t)i, "initrd")) <
		        0 ||
		    (r = need(x, DB_IMAGES, p->disk_image, KPROF, p->name, (uint32_t)i,
		              "disk_image")) < 0 ||
		    (r = put_one(x->c, KPROF, &p->base, p->name, "", NULL, NULL)) < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------- machines */

static int
rack_of(struct fleet_ctx *x, const char *name, Bm__Rack **ret)
{
	int r;

	if (x->rack && !strcmp(x->rack->name, name)) {
		*ret = x->rack;
		return 0;
	}
	st_free(x->rack);
	x->rack = NULL;
	r = bm_mdb_get_msg(x->c->txn, x->c->s->dbi[DB_RACKS], name, strlen(name),
	                   &bm__rack__descriptor, (ProtobufCMessage **)&x->rack);
	*ret = x->rack;
	return r;
}

static bool
index_moved(const Bm__Machine *old, const Bm__Machine *m)
{
	return !old || old->ip != m->ip || strcmp(old->rack, m->rack) ||
	       old->mac.len != m->mac.len || memcmp(old->mac.data, m->mac.data, m->mac.len);
}

/* Put key -> machine name unless another machine holds the key (then a
 * problem is listed: the fleet is refused at the end). Returns 0 or
 * -errno. */
static int
claim(struct fleet_ctx *x, enum store_db db, const void *key, size_t klen, const Bm__Machine *m,
      uint32_t i, const char *field)
{
	MDB_val k = { klen, (void *)key }, v = { strlen(m->name), m->name };
	char a[BM_MAC_STR > BM_IP4_STR ? BM_MAC_STR : BM_IP4_STR];
	int rc = mdb_put(x->c->txn, x->c->s->dbi[db], &k, &v, MDB_NOOVERWRITE);

	if (rc != MDB_KEYEXIST)
		return bm_mdb_errno(rc);
	if (v.mv_size == strlen(m->name) && !memcmp(v.mv_data, m->name, v.mv_size))
		return 0;
	if (db == DB_MAC_INDEX)
		bm_problems_add(x->p, KMACH, m->name, i, field,
		                "%s is already the MAC of machine %.*s",
		                bm_mac_format(m->mac.data, a), (int)v.mv_size, (char *)v.mv_data);
	else
		bm_problems_add(x->p, KMACH, m->name, i, field,
		                "%s is already reserved for machine %.*s in rack %s",
		                bm_ip4_format(m->ip, a), (int)v.mv_size, (char *)v.mv_data,
		                m->rack);
	return 0;
}

static int
add_index(struct fleet_ctx *x, const Bm__Machine *m, uint32_t i)
{
	struct apply_ctx *c = x->c;
	MDB_val k = { strlen(m->rack), m->rack }, v = { strlen(m->name), m->name };
	char ipk[80];
	int r, rc;

	if ((r = claim(x, DB_MAC_INDEX, m->mac.data, 6, m, i, "mac")) < 0)
		return r;
	if (m->ip &&
	    (r = claim(x, DB_IP_INDEX, ipk, st_ip_key(ipk, m->rack, m->ip), m, i, "ip")) < 0)
		return r;
	rc = mdb_put(c->txn, c->s->dbi[DB_RACK_MACHINES], &k, &v, MDB_NODUPDATA);
	return rc == MDB_KEYEXIST ? 0 : bm_mdb_errno(rc);
}

/* Check one machine's references; returns -errno or 0. */
static int
check_refs(struct fleet_ctx *x, const Bm__Machine *m, uint32_t i)
{
	Bm__Rack *rk;
	int r = rack_of(x, m->rack, &rk);

	if (r == -ENOENT)
		bm_problems_add(x->p, KMACH, m->name, i, "rack", "rack %s does not exist", m->rack);
	else if (r < 0)
		return r;
	else
		bm_fleet_check_machine_rack(m, i, rk, x->p);
	return need(x, DB_PROFILES, m->profile, KMACH, m->name, i, "profile");
}

static int
apply_machines(struct fleet_ctx *x, bool create_only)
{
	const Bm__Fleet *f = x->f;
	Bm__Machine **olds = calloc(f->n_machines + 1, sizeof(*olds));
	struct apply_ctx *c = x->c;
	int r = 0;

	if (!olds)
		return -ENOMEM;
	/* Phase 1: look up, check references, and release the index entries of
	 * machines that move, so that swaps within one fleet are not conflicts. */
	for (size_t i = 0; i < f->n_machines && r == 0; i++) {
		const Bm__Machine *m = f->machines[i];
		r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_MACHINES], m->name, strlen(m->name),
		                   &bm__machine__descriptor, (ProtobufCMessage **)&olds[i]);
		if (r == -ENOENT)
			r = 0;
		if (r == 0 && olds[i] && create_only) {
			r = st_refuse(c, BM__STATUS__STATUS_EXISTS, "machine %s already exists",
			              m->name);
			break;
		}
		if (r == 0)
			r = check_refs(x, m, (uint32_t)i);
		if (r == 0 && olds[i] && index_moved(olds[i], m))
			r = st_machine_unindex(c, olds[i]);
	}
	/* Phase 2: claim the new index entries and write the records. */
	for (size_t i = 0; i < f->n_machines && r == 0; i++) {
		const Bm__Machine *m = f->machines[i];
		const Bm__Machine *old = olds[i];
		int outcome;
		if (index_moved(old, m) && (r = add_index(x, m, (uint32_t)i)) < 0)
			break;
		if ((r = st_upsert(c, KMACH, &m->base, old ? &old->base : NULL, &outcome)) < 0)
			break;
		st_count(c, outcome);
		if (outcome != UPSERT_UNCHANGED)
			r = st_change(c, KMACH, m->name, m->rack, false);
		if (r == 0 && old && strcmp(old->rack, m->rack))
			r = st_change(c, KMACH, m->name, old->rack, true);
		if (r == 0 && old && strcmp(old->rack, m->rack)) {
			/* Its state is kept (st_upsert): only its rack moved. */
			Bm__Machine moved = *old;
			moved.rack = m->rack;
			r = st_op_index_update(c, old, &moved);
		}
	}
	for (size_t i = 0; i < f->n_machines; i++)
		st_free(olds[i]);
	free(olds);
	return r;
}

/* The store keeps BMC passwords sealed only (the API seals them): one in
 * the clear is refused, whatever sent it. */
static void
check_sealed(const Bm__Fleet *f, struct bm_problems *p)
{
	for (size_t i = 0; i < f->n_machines; i++) {
		const Bm__Machine *m = f->machines[i];
		char url[BM_TEXT_MAX + 1], pass[BM_SECRET_MAX + 1];
		if (*m->bmc_password || *m->bmc_password_file ||
		    (strlen(m->bmc) <= BM_TEXT_MAX &&
		     bm_bmc_split(m->bmc, url, sizeof(url), pass, sizeof(pass)) != 0))
			bm_problems_add(p, KMACH, m->name, (uint32_t)i, "bmc",
			                "a BMC password in the clear: the store keeps them sealed");
		else if (m->bmc_sealed.len > BM_SECRET_MAX + BM_SEAL_OVERHEAD)
			bm_problems_add(p, KMACH, m->name, (uint32_t)i, "bmc",
			                "sealed password too long");
		OPENSSL_cleanse(pass, sizeof(pass));
	}
}

int
st_apply_fleet(struct apply_ctx *c, const Bm__Fleet *f, bool create_only)
{
	struct fleet_ctx x = { .c = c, .f = f, .p = &c->res->problems };
	int r;

	check_sealed(f, x.p);
	if (bm_fleet_check(f, x.p) > 0 || x.p->total)
		goto refused;
	if (!(x.mnames = malloc((f->n_machines + 1) * sizeof(char *))))
		return -ENOMEM;
	for (size_t i = 0; i < f->n_machines; i++)
		x.mnames[i] = f->machines[i]->name;
	qsort(x.mnames, f->n_machines, sizeof(char *), name_cmp);
	r = apply_simple(&x);
	if (r == 0)
		r = apply_machines(&x, create_only);
	st_free(x.rack);
	free(x.mnames);
	if (r != 0)
		return r;
	if (x.p->total == 0)
		return 0;
refused:
	return st_refuse(c, BM__STATUS__STATUS_INVALID, "refused: %zu problem%s, nothing changed",
	                 x.p->total, x.p->total == 1 ? "" : "s");
}
