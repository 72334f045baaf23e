/* Store reads: get, list with filters and pages, MAC lookup, change log. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "store_priv.h"

int
store_read_begin(struct store *s, struct store_read **ret_read)
{
	struct store_read *r = calloc(1, sizeof(*r));
	int rc;

	if (!r)
		return -ENOMEM;
	r->s = s;
	pthread_rwlock_rdlock(&s->swap);
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &r->txn)) != MDB_SUCCESS) {
		pthread_rwlock_unlock(&s->swap);
		free(r);
		return bm_mdb_errno(rc);
	}
	*ret_read = r;
	return 0;
}

void
store_read_end(struct store_read *r)
{
	if (!r)
		return;
	mdb_txn_abort(r->txn);
	pthread_rwlock_unlock(&r->s->swap);
	free(r);
}

static uint64_t
meta_u64(struct store_read *r, const char *key)
{
	MDB_val k = { strlen(key), (void *)key }, v;

	if (mdb_get(r->txn, r->s->dbi[DB_META], &k, &v) != MDB_SUCCESS || v.mv_size != 8)
		return 0;
	return bm_get_be64(v.mv_data);
}

int
store_coordinator_url(struct store *s, uint64_t id, char *buf, size_t len)
{
	struct store_read *r = NULL;
	char key[48];
	MDB_val k, v;
	int rc;

	if (!len || store_read_begin(s, &r) < 0)
		return -EIO;
	snprintf(key, sizeof(key), "coordinator/%llu", (unsigned long long)id);
	k = (MDB_val){ strlen(key), key };
	if ((rc = mdb_get(r->txn, s->dbi[DB_META], &k, &v)) == MDB_SUCCESS)
		snprintf(buf, len, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
	store_read_end(r);
	return rc == MDB_SUCCESS ? 0 : rc == MDB_NOTFOUND ? -ENOENT : bm_mdb_errno(rc);
}

int
store_coordinator_urls(struct store *s, void (*cb)(void *arg, uint64_t id, const char *url),
                       void *arg)
{
	static const char prefix[] = "coordinator/";
	struct {
		uint64_t id;
		char url[STORE_URL_MAX];
	} *v = calloc(16, sizeof(*v));
	struct store_read *r = NULL;
	MDB_cursor *cur;
	MDB_val k = { sizeof(prefix) - 1, (void *)prefix }, d;
	size_t n = 0;
	int rc;

	if (!v)
		return -ENOMEM;
	if (store_read_begin(s, &r) < 0) {
		free(v);
		return -EIO;
	}
	if ((rc = mdb_cursor_open(r->txn, s->dbi[DB_META], &cur)) == MDB_SUCCESS) {
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
		     rc == MDB_SUCCESS && n < 16 && k.mv_size > sizeof(prefix) - 1 &&
		     !memcmp(k.mv_data, prefix, sizeof(prefix) - 1);
		     rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			char id[24];
			size_t il = k.mv_size - (sizeof(prefix) - 1);
			snprintf(id, sizeof(id), "%.*s",
			         (int)(il < sizeof(id) ? il : sizeof(id) - 1),
			         (const char *)k.mv_data + sizeof(prefix) - 1);
			v[n].id = strtoull(id, NULL, 10);
			snprintf(v[n].url, sizeof(v[n].url), "%.*s", (int)d.mv_size,
			         (const char *)d.mv_data);
			n++;
		}
		mdb_cursor_close(cur);
	}
	store_read_end(r);
	for (size_t i = 0; i < n; i++) /* outside the read: callers may take long */
		cb(arg, v[i].id, v[i].url);
	free(v);
	return (int)n;
}

uint64_t
store_read_revision(struct store_read *r)
{
	return meta_u64(r, "revision");
}

uint64_t
store_read_compact_revision(struct store_read *r)
{
	return meta_u64(r, "compact_revision");
}

static size_t
dup_count(struct store_read *r, const char *rack)
{
	MDB_cursor *cur;
	MDB_val k = { strlen(rack), (void *)rack }, v;
	size_t n = 0;

	if (mdb_cursor_open(r->txn, r->s->dbi[DB_RACK_MACHINES], &cur) != MDB_SUCCESS)
		return 0;
	if (mdb_cursor_get(cur, &k, &v, MDB_SET_KEY) == MDB_SUCCESS)
		mdb_cursor_count(cur, &n);
	mdb_cursor_close(cur);
	return n;
}

void
store_rack_sites_free(struct rack_names *rn)
{
	for (size_t i = 0; i < rn->n; i++) {
		free(rn->name[i]);
		free(rn->site[i]);
	}
	free(rn->name);
	free(rn->site);
}

int
store_rack_sites_load(struct store_read *r, struct rack_names *rn)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, e = 0;

	memset(rn, 0, sizeof(*rn));
	if ((rc = mdb_cursor_open(r->txn, r->s->dbi[DB_RACKS], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && !e;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__Rack *rk = bm__rack__unpack(NULL, v.mv_size, v.mv_data);
		if (!rk)
			continue;
		if (rn->n % 32 == 0) {
			char **a = realloc(rn->name, (rn->n + 32) * sizeof(char *));
			char **b = a ? realloc(rn->site, (rn->n + 32) * sizeof(char *)) : NULL;
			if (a)
				rn->name = a;
			if (b)
				rn->site = b;
			e = !a || !b;
		}
		if (!e) {
			rn->name[rn->n] = strdup(rk->name);
			rn->site[rn->n] = strdup(rk->site);
			e = !rn->name[rn->n] || !rn->site[rn->n];
			if (!e)
				rn->n++;
		}
		st_free(rk);
	}
	mdb_cursor_close(cur);
	return e ? -ENOMEM : 0; /* keys come sorted, so the arrays are too */
}

const char *
store_rack_site(const struct rack_names *rn, const char *rack)
{
	size_t lo = 0, hi = rn->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(rn->name[mid], rack);
		if (c == 0)
			return rn->site[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static size_t
racks_in_site(const struct rack_names *rn, const char *site)
{
	size_t n = 0;
	for (size_t i = 0; i < rn->n; i++)
		n += !strcmp(rn->site[i], site);
	return n;
}

/* A machine as every read answers it: whether a BMC password is set, not
 * the sealed password (store_machine_sealed gives that, to the watch). */
static void
machine_strip(Bm__Machine *m)
{
	m->bmc_password_set = m->bmc_sealed.len > 0;
	free(m->bmc_sealed.data);
	m->bmc_sealed.data = NULL;
	m->bmc_sealed.len = 0;
}

static Bm__Object *
object_wrap(Bm__Kind kind, ProtobufCMessage *rec)
{
	Bm__Object *o = malloc(sizeof(*o));

	if (!o)
		return NULL;
	bm__object__init(o);
	switch (kind) {
	case BM__KIND__KIND_SITE:
		o->obj_case = BM__OBJECT__OBJ_SITE;
		o->site = (Bm__Site *)rec;
		break;
	case BM__KIND__KIND_RACK:
		o->obj_case = BM__OBJECT__OBJ_RACK;
		o->rack = (Bm__Rack *)rec;
		break;
	case BM__KIND__KIND_MACHINE:
		o->obj_case = BM__OBJECT__OBJ_MACHINE;
		o->machine = (Bm__Machine *)rec;
		machine_strip(o->machine);
		break;
	case BM__KIND__KIND_PROFILE:
		o->obj_case = BM__OBJECT__OBJ_PROFILE;
		o->profile = (Bm__Profile *)rec;
		break;
	case BM__KIND__KIND_OPERATION:
		o->obj_case = BM__OBJECT__OBJ_OPERATION;
		o->operation = (Bm__Operation *)rec;
		break;
	case BM__KIND__KIND_AGENT:
		o->obj_case = BM__OBJECT__OBJ_AGENT;
		o->agent = (Bm__AgentRecord *)rec;
		break;
	default:
		o->obj_case = BM__OBJECT__OBJ_IMAGE;
		o->image = (Bm__Image *)rec;
		break;
	}
	return o;
}

/* Fill an object's count: machines of a rack (and the MACs its discovery
 * cap refused), racks of a site. */
static void
object_count(struct store_read *r, Bm__Object *o, const struct rack_names *rn)
{
	char key[80];

	if (o->obj_case == BM__OBJECT__OBJ_RACK) {
		o->count = (uint32_t)dup_count(r, o->rack->name);
		snprintf(key, sizeof(key), "discoveries_refused/%s", o->rack->name);
		o->rack->discoveries_refused = meta_u64(r, key);
	} else if (o->obj_case == BM__OBJECT__OBJ_SITE && rn)
		o->count = (uint32_t)racks_in_site(rn, o->site->name);
}

int
store_get(struct store_read *r, Bm__Kind kind, const char *name, Bm__Object **ret_obj)
{
	const ProtobufCMessageDescriptor *d;
	enum store_db db;
	ProtobufCMessage *rec;
	struct rack_names rn = { 0 };
	Bm__Object *o;
	int e;

	if ((e = st_kind_db(kind, &db, &d)) < 0)
		return e;
	if ((e = bm_mdb_get_msg(r->txn, r->s->dbi[db], name, strlen(name), d, &rec)) < 0)
		return e;
	if (!(o = object_wrap(kind, rec))) {
		st_free(rec);
		return -ENOMEM;
	}
	if (kind == BM__KIND__KIND_SITE && store_rack_sites_load(r, &rn) < 0) {
		store_rack_sites_free(&rn);
		st_free(o);
		return -ENOMEM;
	}
	object_count(r, o, &rn);
	store_rack_sites_free(&rn);
	*ret_obj = o;
	return 0;
}

/* ------------------------------------------------------------------ list */

static bool
matches(const Bm__ListRequest *q, const ProtobufCMessage *rec, const struct rack_names *rn)
{
	if (rec->descriptor == &bm__machine__descriptor) {
		const Bm__Machine *m = (const Bm__Machine *)rec;
		const char *site = *q->site ? store_rack_site(rn, m->rack) : NULL;
		return (!*q->rack || !strcmp(q->rack, m->rack)) &&
		       (!*q->site || (site && !strcmp(site, q->site))) &&
		       (!q->state || q->state == m->state) &&
		       bm_map_contains(m->n_labels, (void **)m->labels, q->n_labels,
		                       (void **)q->labels);
	}
	if (rec->descriptor == &bm__rack__descriptor) {
		const Bm__Rack *rk = (const Bm__Rack *)rec;
		return (!*q->site || !strcmp(q->site, rk->site)) &&
		       bm_map_contains(rk->n_labels, (void **)rk->labels, q->n_labels,
		                       (void **)q->labels);
	}
	if (rec->descriptor == &bm__agent_record__descriptor) {
		const Bm__AgentRecord *a = (const Bm__AgentRecord *)rec;
		return !*q->rack || (a->info && !strcmp(q->rack, a->info->rack));
	}
	if (rec->descriptor == &bm__site__descriptor) {
		const Bm__Site *s = (const Bm__Site *)rec;
		return bm_map_contains(s->n_labels, (void **)s->labels, q->n_labels,
		                       (void **)q->labels);
	}
	return true;
}

struct lister {
	struct store_read *r;
	const Bm__ListRequest *q;
	const ProtobufCMessageDescriptor *d;
	Bm__Kind kind;
	struct rack_names rn;
	Bm__ListResult *out;
	size_t cap, limit, bytes;
	const char *last; /* name of the last item added (owned by out) */
};

/* Consider one stored record. Returns 1 when the page is full, 0 to go on,
 * -errno. */
static int
lister_add(struct lister *l, const MDB_val *v)
{
	ProtobufCMessage *rec = protobuf_c_message_unpack(l->d, NULL, v->mv_size, v->mv_data);
	Bm__Object *o;

	if (!rec)
		return -EIO;
	if (!matches(l->q, rec, &l->rn)) {
		st_free(rec);
		return 0;
	}
	if (l->out->n_items == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		Bm__Object **items = realloc(l->out->items, cap * sizeof(*items));
		if (!items) {
			st_free(rec);
			return -ENOMEM;
		}
		l->out->items = items;
		l->cap = cap;
	}
	if (!(o = object_wrap(l->kind, rec))) {
		st_free(rec);
		return -ENOMEM;
	}
	object_count(l->r, o, &l->rn);
	l->out->items[l->out->n_items++] = o;
	/* Every record's name is its first member. */
	l->last = *(char **)((char *)rec + sizeof(ProtobufCMessage));
	l->bytes += v->mv_size;
	return l->out->n_items >= l->limit || l->bytes >= STORE_LIST_BYTES_MAX;
}

/* Walk the table from after q->after, or for machines of one rack, walk its
 * index (a rack's machines without reading the others). */
static int
lister_walk(struct lister *l, enum store_db db)
{
	bool by_rack = l->kind == BM__KIND__KIND_MACHINE && *l->q->rack;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, e = 0;
	MDB_cursor_op first = by_rack ? MDB_GET_BOTH_RANGE : MDB_SET_RANGE;
	MDB_cursor_op next = by_rack ? MDB_NEXT_DUP : MDB_NEXT;
	enum store_db walk = by_rack ? DB_RACK_MACHINES : db;

	if ((rc = mdb_cursor_open(l->r->txn, l->r->s->dbi[walk], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	k = by_rack ? (MDB_val){ strlen(l->q->rack), l->q->rack }
	            : (MDB_val){ strlen(l->q->after), l->q->after };
	v = (MDB_val){ strlen(l->q->after), l->q->after };
	if (!by_rack && !*l->q->after)
		first = MDB_FIRST;
	if (by_rack && !*l->q->after)
		first = MDB_SET_KEY;
	for (rc = mdb_cursor_get(cur, &k, &v, first); rc == MDB_SUCCESS && e == 0;
	     rc = mdb_cursor_get(cur, &k, &v, next)) {
		const MDB_val *name = by_rack ? &v : &k;
		MDB_val rec;
		if (*l->q->after && name->mv_size == strlen(l->q->after) &&
		    !memcmp(name->mv_data, l->q->after, name->mv_size))
			continue; /* the page starts strictly after */
		if (!by_rack) {
			e = lister_add(l, &v);
		} else if ((rc = mdb_get(l->r->txn, l->r->s->dbi[db], (MDB_val *)name, &rec)) ==
		           MDB_SUCCESS) {
			e = lister_add(l, &rec);
		}
	}
	mdb_cursor_close(cur);
	if (e == 0 && rc != MDB_NOTFOUND && rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	return e;
}

int
store_list(struct store_read *r, const Bm__ListRequest *q, Bm__ListResult **ret_list)
{
	struct lister l = { .r = r, .q = q, .kind = q->kind };
	enum store_db db;
	int e;

	if ((e = st_kind_db(q->kind, &db, &l.d)) < 0)
		return e;
	l.limit = q->limit && q->limit < STORE_LIST_LIMIT_MAX ? q->limit : STORE_LIST_LIMIT_MAX;
	if (!(l.out = malloc(sizeof(*l.out))))
		return -ENOMEM;
	bm__list_result__init(l.out);
	if ((e = store_rack_sites_load(r, &l.rn)) < 0)
		goto out;
	e = lister_walk(&l, db);
	if (e == 1 && l.last && !(l.out->next = strdup(l.last)))
		e = -ENOMEM;
out:
	store_rack_sites_free(&l.rn);
	if (e < 0) {
		st_free(l.out);
		return e;
	}
	*ret_list = l.out;
	return 0;
}

static void
names_left_out(Bm__Operation *op)
{
	for (size_t i = 0; i < op->n_machines; i++)
		free(op->machines[i]);
	free(op->machines);
	op->machines = NULL;
	op->listed_machines = (uint32_t)op->n_machines;
	op->n_machines = 0;
}

/* Move page's items to the end of all's, their names left out. */
static int
op_page_take(Bm__ListResult *all, Bm__ListResult *page)
{
	Bm__Object **v = realloc(all->items, (all->n_items + page->n_items) * sizeof(*v));

	if (!v && page->n_items)
		return -ENOMEM;
	all->items = v;
	for (size_t i = 0; i < page->n_items; i++) {
		names_left_out(page->items[i]->operation);
		all->items[all->n_items++] = page->items[i];
	}
	page->n_items = 0;
	return 0;
}

/* Made first, first (op-9 before op-10: names sort as bytes). */
static int
op_made_cmp(const void *a, const void *b)
{
	uint64_t x = (*(Bm__Object *const *)a)->operation->create_rev;
	uint64_t y = (*(Bm__Object *const *)b)->operation->create_rev;

	return x < y ? -1 : x > y;
}

int
store_op_list(struct store_read *r, Bm__ListResult **ret_list)
{
	Bm__ListRequest q = BM__LIST_REQUEST__INIT;
	Bm__ListResult *all = malloc(sizeof(*all)), *page;
	char after[BM_NAME_MAX + 1] = ""; /* operations' names: op-REVISION */
	int e;

	if (!all)
		return -ENOMEM;
	bm__list_result__init(all);
	q.kind = BM__KIND__KIND_OPERATION;
	q.limit = STORE_OP_LIST_PAGE;
	q.after = after;
	do {
		if ((e = store_list(r, &q, &page)) < 0)
			break;
		e = op_page_take(all, page);
		snprintf(after, sizeof(after), "%s", page->next ? page->next : "");
		bm__list_result__free_unpacked(page, NULL);
	} while (e == 0 && *after);
	if (e < 0) {
		bm__list_result__free_unpacked(all, NULL);
		return e;
	}
	if (all->n_items > 1)
		qsort(all->items, all->n_items, sizeof(*all->items), op_made_cmp);
	*ret_list = all;
	return 0;
}

int
store_machine_by_mac(struct store_read *r, const uint8_t mac[6], Bm__Machine **ret_machine)
{
	MDB_val k = { 6, (void *)mac }, v;
	int rc = mdb_get(r->txn, r->s->dbi[DB_MAC_INDEX], &k, &v);

	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	rc = bm_mdb_get_msg(r->txn, r->s->dbi[DB_MACHINES], v.mv_data, v.mv_size,
	                    &bm__machine__descriptor, (ProtobufCMessage **)ret_machine);
	if (rc == 0)
		machine_strip(*ret_machine);
	return rc;
}

int
store_machine_sealed(struct store_read *r, const char *name, uint8_t *out, size_t cap,
                     size_t *ret_len)
{
	Bm__Machine *m = NULL;
	int e = bm_mdb_get_msg(r->txn, r->s->dbi[DB_MACHINES], name, strlen(name),
	                       &bm__machine__descriptor, (ProtobufCMessage **)&m);

	if (e < 0)
		return e;
	*ret_len = m->bmc_sealed.len;
	if (m->bmc_sealed.len > cap)
		e = -EMSGSIZE;
	else if (m->bmc_sealed.len)
		memcpy(out, m->bmc_sealed.data, m->bmc_sealed.len);
	st_free(m);
	return e;
}

int
store_changes_get(struct store_read *r, uint64_t rev, Bm__ChangeSet **ret_changes)
{
	uint8_t key[8];

	bm_put_be64(key, rev);
	return bm_mdb_get_msg(r->txn, r->s->dbi[DB_CHANGES], key, 8, &bm__change_set__descriptor,
	                      (ProtobufCMessage **)ret_changes);
}

int
store_trace(struct store_read *r, const uint8_t mac[6], size_t limit, Bm__Event ***ret_events,
            size_t *ret_n)
{
	MDB_cursor *cur;
	MDB_val k = { 6, (void *)mac }, v;
	Bm__Event **ev = NULL;
	size_t n = 0, cap = 0;
	int rc, e = 0;

	if ((rc = mdb_cursor_open(r->txn, r->s->dbi[DB_EVENTS], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
	     rc == MDB_SUCCESS && k.mv_size >= 6 && !memcmp(k.mv_data, mac, 6) && e == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__Event *x = bm__event__unpack(NULL, v.mv_size, v.mv_data);
		if (!x)
			continue;
		if (n == cap) {
			Bm__Event **nv = realloc(ev, (cap = cap ? cap * 2 : 32) * sizeof(*ev));
			if (!nv) {
				st_free(x);
				e = -ENOMEM;
				break;
			}
			ev = nv;
		}
		ev[n++] = x;
	}
	mdb_cursor_close(cur);
	if (e == 0 && rc != MDB_SUCCESS && rc != MDB_NOTFOUND)
		e = bm_mdb_errno(rc);
	if (e == 0 && limit && n > limit) {
		for (size_t i = 0; i < n - limit; i++)
			st_free(ev[i]);
		memmove(ev, ev + (n - limit), limit * sizeof(*ev));
		n = limit;
	}
	if (e < 0) {
		store_events_free(ev, n);
		return e;
	}
	*ret_events = ev;
	*ret_n = n;
	return 0;
}

void
store_events_free(Bm__Event **ev, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_free(ev[i]);
	free(ev);
}

int
store_image_by_sha(struct store_read *r, const uint8_t sha[BM_SHA256_LEN])
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, found = 0;

	if ((rc = mdb_cursor_open(r->txn, r->s->dbi[DB_IMAGES], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && !found;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		Bm__Image *im = bm__image__unpack(NULL, v.mv_size, v.mv_data);
		found = im && im->sha256.len == BM_SHA256_LEN &&
		        !memcmp(im->sha256.data, sha, BM_SHA256_LEN);
		st_free(im);
	}
	mdb_cursor_close(cur);
	return found ? 0 : -ENOENT;
}
