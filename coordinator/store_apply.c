/* store_apply: one command, one nested transaction, one revision. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "bm/stage.h"
#include "store_priv.h"

#define FIELD_CREATE_REV 14u
#define FIELD_MOD_REV 15u

int
st_refuse(struct apply_ctx *c, Bm__Status status, const char *fmt, ...)
{
	va_list ap;

	c->res->status = status;
	va_start(ap, fmt);
	vsnprintf(c->res->message, sizeof(c->res->message), fmt, ap);
	va_end(ap);
	return ST_REFUSED;
}

int
st_change(struct apply_ctx *c, Bm__Kind kind, const char *name, const char *rack, bool deleted)
{
	if (c->nchg == c->capchg) {
		size_t cap = c->capchg ? c->capchg * 2 : 8;
		Bm__Change *v = realloc(c->chg, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		c->chg = v;
		c->capchg = cap;
	}
	Bm__Change *ch = &c->chg[c->nchg];
	bm__change__init(ch);
	ch->kind = kind;
	ch->deleted = deleted;
	ch->name = strdup(name);
	ch->rack = strdup(rack ? rack : "");
	if (!ch->name || !ch->rack) {
		free(ch->name);
		free(ch->rack);
		return -ENOMEM;
	}
	c->nchg++;
	return 0;
}

static uint64_t *
rev_field(void *msg, const ProtobufCMessageDescriptor *d, unsigned number)
{
	return (uint64_t *)((char *)msg +
	                    protobuf_c_message_descriptor_get_field(d, number)->offset);
}

static int
entry_cmp(const void *a, const void *b)
{
	/* Map entries: { base; char *key; char *value; } */
	const char *ka =
	    *(char *const *)((const char *)*(void *const *)a + sizeof(ProtobufCMessage));
	const char *kb =
	    *(char *const *)((const char *)*(void *const *)b + sizeof(ProtobufCMessage));
	return strcmp(ka, kb);
}

/* Point every map field of the shallow copy `msg` at a key-sorted copy of
 * its entries, so equal content always encodes to equal bytes. Returns the
 * number of arrays allocated into `owned` (to be freed), or -ENOMEM. */
static int
sort_maps(void *msg, const ProtobufCMessageDescriptor *d, void **owned, int nowned)
{
	int n = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->label != PROTOBUF_C_LABEL_REPEATED)
			continue;
		size_t cnt = *(size_t *)((char *)msg + f->quantifier_offset);
		void ***arr = (void ***)((char *)msg + f->offset);
		if (cnt < 2)
			continue;
		void **sorted = malloc(cnt * sizeof(void *));
		if (!sorted || n == nowned) {
			free(sorted);
			return -ENOMEM;
		}
		memcpy(sorted, *arr, cnt * sizeof(void *));
		qsort(sorted, cnt, sizeof(void *), entry_cmp);
		*arr = sorted;
		owned[n++] = sorted;
	}
	return n;
}

union any_record {
	ProtobufCMessage base;
	Bm__Operation operation;
	Bm__Site site;
	Bm__Rack rack;
	Bm__Machine machine;
	Bm__Profile profile;
	Bm__Image image;
};

/* Fields owned by the lifecycle, not by the fleet: carried over from the
 * stored record. */
static void
keep_owned_fields(Bm__Kind kind, union any_record *u, const ProtobufCMessage *old, uint64_t rev)
{
	/* A discovered machine (new) becomes ready once the fleet declares it. */
	if (kind == BM__KIND__KIND_MACHINE) {
		const Bm__Machine *om = (const Bm__Machine *)old;
		u->machine.state = om && om->state != BM__MACHINE_STATE__STATE_NEW
		                       ? om->state
		                       : BM__MACHINE_STATE__STATE_READY;
		/* Owned by operations. */
		u->machine.operation = om ? om->operation : "";
		u->machine.boot_profile = om ? om->boot_profile : "";
		u->machine.power_seq = om ? om->power_seq : 0;
		u->machine.reason = om ? om->reason : "";
		u->machine.progress_ms = om ? om->progress_ms : 0;
		u->machine.started_ms = om ? om->started_ms : 0;
		u->machine.os = om ? om->os : "";
		u->machine.kernel = om ? om->kernel : "";
		/* Owned by events: what its agent saw it boot with. */
		u->machine.firmware_seen = om ? om->firmware_seen : "";
		/* Owned by `bmctl machine power`. */
		u->machine.power_req = om ? om->power_req : "";
		u->machine.power_req_seq = om ? om->power_req_seq : 0;
		u->machine.power_req_ms = om ? om->power_req_ms : 0;
		/* A request without a password keeps the stored one while the
		 * BMC URL stays; what a read answers is never kept. */
		if (!u->machine.bmc_sealed.len && om && om->bmc_sealed.len &&
		    !strcmp(om->bmc, u->machine.bmc))
			u->machine.bmc_sealed = om->bmc_sealed;
		u->machine.bmc_password_set = 0;
	}
	if (kind == BM__KIND__KIND_IMAGE && old) {
		const Bm__Image *oi = (const Bm__Image *)old;
		bool same = oi->sha256.len == u->image.sha256.len &&
		            !memcmp(oi->sha256.data, u->image.sha256.data, oi->sha256.len);
		u->image.stored = u->image.stored || (same && oi->stored);
		if (same && !u->image.size)
			u->image.size = oi->size;
		/* Owned by `bmctl image stage`. */
		u->image.n_staged = oi->n_staged;
		u->image.staged = oi->staged;
	}
	(void)rev;
}

static int
same_bytes(const ProtobufCMessage *a, const ProtobufCMessage *b, int *ret_same)
{
	size_t la = protobuf_c_message_get_packed_size(a),
	       lb = protobuf_c_message_get_packed_size(b);
	uint8_t *pa, *pb;

	if (la != lb) {
		*ret_same = 0;
		return 0;
	}
	pa = malloc(la + 1);
	pb = malloc(lb + 1);
	if (!pa || !pb) {
		free(pa);
		free(pb);
		return -ENOMEM;
	}
	protobuf_c_message_pack(a, pa);
	protobuf_c_message_pack(b, pb);
	*ret_same = !memcmp(pa, pb, la);
	free(pa);
	free(pb);
	return 0;
}

int
st_upsert(struct apply_ctx *c, Bm__Kind kind, const ProtobufCMessage *msg,
          const ProtobufCMessage *old, int *ret_outcome)
{
	const ProtobufCMessageDescriptor *d;
	enum store_db db;
	union any_record u;
	void *owned[4];
	int nowned = 0, same = 0, r;

	if ((r = st_kind_db(kind, &db, &d)) < 0)
		return r;
	memcpy(&u, msg, d->sizeof_message);
	if ((r = sort_maps(&u, d, owned, 4)) < 0)
		return r;
	nowned = r;
	keep_owned_fields(kind, &u, old, c->rev);
	*rev_field(&u, d, FIELD_CREATE_REV) =
	    old ? *rev_field((void *)old, d, FIELD_CREATE_REV) : c->rev;
	*rev_field(&u, d, FIELD_MOD_REV) = old ? *rev_field((void *)old, d, FIELD_MOD_REV) : c->rev;
	if (old && (r = same_bytes(&u.base, old, &same)) < 0)
		goto out;
	if (same) {
		*ret_outcome = UPSERT_UNCHANGED;
		goto out;
	}
	*rev_field(&u, d, FIELD_MOD_REV) = c->rev;
	const char *name = *(char **)((char *)&u + sizeof(ProtobufCMessage));
	r = bm_mdb_put_msg(c->txn, c->s->dbi[db], name, strlen(name), &u.base);
	*ret_outcome = old ? UPSERT_UPDATED : UPSERT_CREATED;
out:
	for (int i = 0; i < nowned; i++)
		free(owned[i]);
	return r;
}

/* ---------------------------------------------------------------- delete */

/* Is any record of table db pointing at `name` through its string field
 * number `field` (or field2, if non-zero)? Sets *ret_user to its name. */
static int
find_user(struct apply_ctx *c, enum store_db db, const ProtobufCMessageDescriptor *d,
          unsigned field, unsigned field2, const char *name, char *ret_user, size_t ulen)
{
	size_t off = protobuf_c_message_descriptor_get_field(d, field)->offset;
	size_t off2 = field2 ? protobuf_c_message_descriptor_get_field(d, field2)->offset : off;
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, found = 0;

	if ((rc = mdb_cursor_open(c->txn, c->s->dbi[db], &cur)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == MDB_SUCCESS && !found;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, v.mv_size, v.mv_data);
		if (!m)
			continue;
		if (!strcmp(*(char **)((char *)m + off), name) ||
		    !strcmp(*(char **)((char *)m + off2), name)) {
			snprintf(ret_user, ulen, "%.*s", (int)k.mv_size, (char *)k.mv_data);
			found = 1;
		}
		st_free(m);
	}
	mdb_cursor_close(cur);
	return found ? 1 : (rc == MDB_NOTFOUND || rc == MDB_SUCCESS) ? 0 : bm_mdb_errno(rc);
}

int
st_machine_unindex(struct apply_ctx *c, const Bm__Machine *m)
{
	char ipk[80];
	int r;

	if (m->mac.len == 6 &&
	    (r = bm_mdb_del(c->txn, c->s->dbi[DB_MAC_INDEX], m->mac.data, 6, NULL, 0)) < 0)
		return r;
	if (m->ip && (r = bm_mdb_del(c->txn, c->s->dbi[DB_IP_INDEX], ipk,
	                             st_ip_key(ipk, m->rack, m->ip), NULL, 0)) < 0)
		return r;
	return bm_mdb_del(c->txn, c->s->dbi[DB_RACK_MACHINES], m->rack, strlen(m->rack), m->name,
	                  strlen(m->name));
}

void
st_count(struct apply_ctx *c, int outcome)
{
	if (outcome == UPSERT_CREATED)
		c->res->created++;
	else if (outcome == UPSERT_UPDATED)
		c->res->updated++;
	else
		c->res->unchanged++;
}

/* Refuse deleting what others still use (old: its stored record): 0,
 * ST_REFUSED, or -errno. */
static int
delete_blocked(struct apply_ctx *c, Bm__Kind kind, const char *name, const ProtobufCMessage *old)
{
	char user[80];
	int r = 0;

	switch (kind) {
	case BM__KIND__KIND_SITE:
		r = find_user(c, DB_RACKS, &bm__rack__descriptor, 2, 0, name, user, sizeof(user));
		if (r > 0)
			return st_refuse(c, BM__STATUS__STATUS_PRECONDITION,
			                 "site %s still holds racks (%s)", name, user);
		return r;
	case BM__KIND__KIND_RACK: {
		MDB_val k = { strlen(name), (void *)name }, v;
		r = mdb_get(c->txn, c->s->dbi[DB_RACK_MACHINES], &k, &v);
		if (r == MDB_SUCCESS)
			return st_refuse(c, BM__STATUS__STATUS_PRECONDITION,
			                 "rack %s still holds machines (%.*s, ...): delete or move "
			                 "them first",
			                 name, (int)v.mv_size, (char *)v.mv_data);
		return r == MDB_NOTFOUND ? 0 : bm_mdb_errno(r);
	}
	case BM__KIND__KIND_PROFILE:
		r = find_user(c, DB_MACHINES, &bm__machine__descriptor, 5, 0, name, user,
		              sizeof(user));
		if (r > 0)
			return st_refuse(c, BM__STATUS__STATUS_PRECONDITION,
			                 "profile %s is used by machine %s", name, user);
		return r;
	case BM__KIND__KIND_IMAGE:
		r = find_user(c, DB_PROFILES, &bm__profile__descriptor, 2, 3, name, user,
		              sizeof(user));
		if (r > 0)
			return st_refuse(c, BM__STATUS__STATUS_PRECONDITION,
			                 "image %s is used by profile %s", name, user);
		return r;
	case BM__KIND__KIND_OPERATION:
		if (st_op_live((const Bm__Operation *)old))
			return st_refuse(
			    c, BM__STATUS__STATUS_PRECONDITION,
			    "operation %s is live: cancel it first (bmctl op cancel %s)", name,
			    name);
		return 0;
	default: return 0;
	}
}

static int
apply_delete(struct apply_ctx *c, const Bm__ObjectRef *ref)
{
	const ProtobufCMessageDescriptor *d;
	enum store_db db;
	ProtobufCMessage *old = NULL;
	const char *rack = "";
	int r;

	if (!ref || st_kind_db(ref->kind, &db, &d) < 0 || !bm_name_valid(ref->name))
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "delete needs a kind and a valid name");
	r = bm_mdb_get_msg(c->txn, c->s->dbi[db], ref->name, strlen(ref->name), d, &old);
	if (r == -ENOENT)
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "%s %s not found",
		                 bm_kind_name(ref->kind), ref->name);
	if (r < 0)
		return r;
	if ((r = delete_blocked(c, ref->kind, ref->name, old)) != 0)
		goto out;
	if (ref->kind == BM__KIND__KIND_MACHINE) {
		if ((r = st_machine_unindex(c, (Bm__Machine *)old)) < 0 ||
		    (r = st_op_index_update(c, (Bm__Machine *)old, NULL)) < 0)
			goto out;
	}
	if (ref->kind == BM__KIND__KIND_OPERATION) {
		r = st_op_forget(c, ref->name);
		goto out;
	}
	if (ref->kind == BM__KIND__KIND_RACK)
		rack = ref->name;
	if ((r = bm_mdb_del(c->txn, c->s->dbi[db], ref->name, strlen(ref->name), NULL, 0)) < 0)
		goto out;
	if (ref->kind == BM__KIND__KIND_MACHINE)
		rack = ((Bm__Machine *)old)->rack;
	r = st_change(c, ref->kind, ref->name, rack, true);
out:
	st_free(old);
	return r;
}

/* ----------------------------------------------------------- image stored */

/* A verified blob was stored: record it on the image, creating the image
 * if the fleet has not declared it. A declared digest must match. */
static int
apply_image_stored(struct apply_ctx *c, const Bm__Image *in)
{
	Bm__Image *old = NULL, im;
	char want[BM_SHA256_HEX], got[BM_SHA256_HEX];
	int r, outcome;

	if (!in || !bm_name_valid(in->name) || in->sha256.len != BM_SHA256_LEN)
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "image needs a valid name and a sha256");
	r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_IMAGES], in->name, strlen(in->name),
	                   &bm__image__descriptor, (ProtobufCMessage **)&old);
	if (r < 0 && r != -ENOENT)
		return r;
	if (old &&
	    (old->sha256.len != BM_SHA256_LEN || memcmp(old->sha256.data, in->sha256.data, 32))) {
		r = st_refuse(c, BM__STATUS__STATUS_INVALID,
		              "image %s declares sha256 %s, the pushed bytes have %s", in->name,
		              old->sha256.len == 32 ? bm_sha256_hex(old->sha256.data, want)
		                                    : "(none)",
		              bm_sha256_hex(in->sha256.data, got));
		goto out;
	}
	if (old && old->size && old->size != in->size) {
		r = st_refuse(c, BM__STATUS__STATUS_INVALID,
		              "image %s declares %llu bytes, %llu were pushed", in->name,
		              (unsigned long long)old->size, (unsigned long long)in->size);
		goto out;
	}
	im = old ? *old : *in;
	im.size = in->size;
	im.stored = 1;
	if ((r = st_upsert(c, BM__KIND__KIND_IMAGE, &im.base, old ? &old->base : NULL, &outcome)) <
	    0)
		goto out;
	if (outcome != UPSERT_UNCHANGED)
		r = st_change(c, BM__KIND__KIND_IMAGE, in->name, "", false);
	st_count(c, outcome);
out:
	st_free(old);
	return r;
}

/* ------------------------------------------------------------ image stage */

/* A typed target in its stored form: a bare NAME is a rack, else a site;
 * a rack or site must exist. */
static int
stage_target(struct apply_ctx *c, const char *text, char *out, size_t len)
{
	struct bm_stage_target t;
	char why[300];
	bool bare;

	if (bm_stage_parse(text, &t, &bare, why, sizeof(why)) < 0)
		return st_refuse(c, BM__STATUS__STATUS_INVALID, "%s", why);
	if (t.kind != BM_STAGE_LABEL) {
		MDB_val k = { strlen(t.name), t.name }, v;
		bool rack = mdb_get(c->txn, c->s->dbi[DB_RACKS], &k, &v) == MDB_SUCCESS;
		bool site = mdb_get(c->txn, c->s->dbi[DB_SITES], &k, &v) == MDB_SUCCESS;
		if (bare)
			t.kind = rack ? BM_STAGE_RACK : BM_STAGE_SITE;
		if ((t.kind == BM_STAGE_RACK && !rack) || (t.kind == BM_STAGE_SITE && !site))
			return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no %s %s",
			                 bare                      ? "rack or site"
			                 : t.kind == BM_STAGE_RACK ? "rack"
			                                           : "site",
			                 t.name);
	}
	bm_stage_format(&t, out, len);
	return 0;
}

/* Add target to the image's staged list, or take it off. */
static int
apply_image_stage(struct apply_ctx *c, const Bm__ImageStage *q)
{
	Bm__Image *old = NULL, im;
	char target[600], *list[BM_STAGED_MAX + 1];
	size_t n = 0;
	int r, outcome;

	if (!q || (r = stage_target(c, q->target, target, sizeof(target))) != 0)
		return q ? r : st_refuse(c, BM__STATUS__STATUS_INVALID, "no image or target");
	r = bm_mdb_get_msg(c->txn, c->s->dbi[DB_IMAGES], q->image, strlen(q->image),
	                   &bm__image__descriptor, (ProtobufCMessage **)&old);
	if (r == -ENOENT)
		return st_refuse(c, BM__STATUS__STATUS_NOT_FOUND, "no image %s", q->image);
	if (r < 0)
		return r;
	for (size_t i = 0; i < old->n_staged; i++)
		if (strcmp(old->staged[i], target))
			list[n++] = old->staged[i];
	if (!q->remove && n >= BM_STAGED_MAX) {
		r = st_refuse(c, BM__STATUS__STATUS_INVALID,
		              "image %s is staged on %u targets already", q->image, BM_STAGED_MAX);
		goto out;
	}
	/* Not st_upsert: it keeps the stored staging, the field this sets. */
	outcome = q->remove ? n < old->n_staged : n == old->n_staged;
	im = *old;
	im.staged = list;
	im.n_staged = n + !q->remove;
	list[n] = target;
	im.mod_rev = c->rev;
	if (outcome && (r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_IMAGES], q->image, strlen(q->image),
	                                   &im.base)) == 0)
		r = st_change(c, BM__KIND__KIND_IMAGE, q->image, "", false);
	st_count(c, outcome ? UPSERT_UPDATED : UPSERT_UNCHANGED);
out:
	st_free(old);
	return r;
}

/* --------------------------------------------------------------- commit */

static int
write_changes(struct apply_ctx *c, struct store_batch *b)
{
	Bm__ChangeSet cs = BM__CHANGE_SET__INIT;
	Bm__Change **ptrs = malloc(c->nchg * sizeof(*ptrs));
	uint8_t key[8];
	int r;

	if (!ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < c->nchg; i++)
		ptrs[i] = &c->chg[i];
	cs.n_changes = c->nchg;
	cs.changes = ptrs;
	bm_put_be64(key, c->rev);
	r = bm_mdb_put_msg(c->txn, c->s->dbi[DB_CHANGES], key, 8, &cs.base);
	free(ptrs);
	if (r < 0 || c->rev <= c->s->retain)
		return r;
	/* Keep the last `retain` revisions: one entry per revision, so dropping
	 * one per command keeps the table bounded. */
	bm_put_be64(key, c->rev - c->s->retain);
	if ((r = bm_mdb_del(c->txn, c->s->dbi[DB_CHANGES], key, 8, NULL, 0)) < 0)
		return r;
	b->compact_revision = c->rev - c->s->retain;
	return 0;
}

/* A coordinator's API URL, under "coordinator/ID" in the meta table: not a
 * versioned object (agents never see it), so no change and no revision. */
static int
apply_coordinator(struct apply_ctx *c, const Bm__Coordinator *co)
{
	char key[48];
	size_t len;

	if (!co || !co->id || !(len = strlen(co->url)) || len >= STORE_URL_MAX)
		return st_refuse(c, BM__STATUS__STATUS_INVALID,
		                 "a coordinator needs an id and a URL of under %u bytes",
		                 STORE_URL_MAX);
	snprintf(key, sizeof(key), "coordinator/%llu", (unsigned long long)co->id);
	MDB_val k = { strlen(key), key }, v = { len, co->url };
	int rc = mdb_put(c->txn, c->s->dbi[DB_META], &k, &v, 0);
	if (rc != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	c->keep = true;
	return 0;
}

static int
dispatch(struct apply_ctx *c, const Bm__Command *cmd)
{
	switch (cmd->op_case) {
	case BM__COMMAND__OP_APPLY: return st_apply_fleet(c, cmd->apply, false);
	case BM__COMMAND__OP_DELETE: return apply_delete(c, cmd->delete_);
	case BM__COMMAND__OP_CREATE_MACHINE: {
		Bm__Fleet one = BM__FLEET__INIT;
		Bm__Machine *m = cmd->create_machine;
		if (!m)
			return st_refuse(c, BM__STATUS__STATUS_INVALID, "no machine");
		one.n_machines = 1;
		one.machines = &m;
		return st_apply_fleet(c, &one, true);
	}
	case BM__COMMAND__OP_IMAGE_STORED: return apply_image_stored(c, cmd->image_stored);
	case BM__COMMAND__OP_IMAGE_STAGE: return apply_image_stage(c, cmd->image_stage);
	case BM__COMMAND__OP_AGENT_REGISTER: return st_apply_agent_register(c, cmd->agent_register);
	case BM__COMMAND__OP_AGENT_EVENTS: return st_apply_agent_events(c, cmd->agent_events);
	case BM__COMMAND__OP_REIMAGE: return st_apply_reimage(c, cmd->reimage);
	case BM__COMMAND__OP_OP_CANCEL: return st_apply_op_cancel(c, cmd->op_cancel);
	case BM__COMMAND__OP_OP_RESUME: return st_apply_op_resume(c, cmd->op_resume);
	case BM__COMMAND__OP_POWER:
		return st_apply_power(c, cmd->power, cmd->audit ? cmd->audit->who : "");
	case BM__COMMAND__OP_OP_TICK: return st_apply_op_tick(c);
	case BM__COMMAND__OP_BARRIER: return 0;
	case BM__COMMAND__OP_COORDINATOR: return apply_coordinator(c, cmd->coordinator);
	case BM__COMMAND__OP_AGENTS_SEEN: return st_apply_agents_seen(c, cmd->agents_seen);
	case BM__COMMAND__OP_AUDIT_ONLY: return 0; /* its entry is all it writes */
	default: return st_refuse(c, BM__STATUS__STATUS_INVALID, "unknown command");
	}
}

int
store_apply(struct store_batch *b, uint64_t index, const Bm__Command *cmd, struct store_result *res)
{
	uint64_t now = cmd->time_ms > b->applied_time ? cmd->time_ms : b->applied_time;
	struct apply_ctx c = { .s = b->s, .rev = b->revision + 1, .now = now, .res = res };
	int rc, r;

	res->status = BM__STATUS__STATUS_OK;
	if (index && index <= b->applied_index) {
		res->revision = b->revision;
		snprintf(res->message, sizeof(res->message), "already applied");
		return 0;
	}
	if ((rc = mdb_txn_begin(b->s->env, b->txn, 0, &c.txn)) != MDB_SUCCESS)
		return bm_mdb_errno(rc);
	if ((r = dispatch(&c, cmd)) == ST_REFUSED)
		r = 0; /* refused: res->status says so, and nothing is kept */
	if (r == 0 && res->status == BM__STATUS__STATUS_OK && c.nchg > 0)
		r = write_changes(&c, b);
	if (r < 0 || res->status != BM__STATUS__STATUS_OK || (c.nchg == 0 && !c.keep)) {
		mdb_txn_abort(c.txn);
	} else if ((rc = mdb_txn_commit(c.txn)) != MDB_SUCCESS) {
		r = bm_mdb_errno(rc);
	} else if (c.nchg > 0) {
		b->revision = c.rev;
	}
	if (r == 0 && cmd->audit)
		r = st_audit_record(b, cmd, res, now);
	if (r == 0) {
		if (index)
			b->applied_index = index;
		b->applied_time = now;
		b->dirty_meta = true;
		res->revision = b->revision;
	}
	for (size_t i = 0; i < c.nchg; i++) {
		free(c.chg[i].name);
		free(c.chg[i].rack);
	}
	free(c.chg);
	return r;
}
