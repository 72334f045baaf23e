#include "api.h"
#include "api_priv.h"
#include "authz.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/fleet.h"
#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/rpc.h"
#include "bm/sha256.h"
#include "bm/util.h"
#include "bm/version.h"
#include <raft.h>

#include "raft_node.h"

/* ---------------------------------------------------------------- writes */

/* Problems into the response; arrays are freed by the caller. */
static int
problems_out(const struct bm_problems *in, Bm__Response *resp, Bm__Problem **store)
{
	Bm__Problem *v = calloc(in->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	resp->problems = calloc(in->n + 1, sizeof(*resp->problems));
	if (!resp->problems) {
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < in->n; i++) {
		bm__problem__init(&v[i]);
		v[i].kind = in->v[i].kind;
		v[i].name = in->v[i].name;
		v[i].index = in->v[i].index;
		v[i].field = in->v[i].field;
		v[i].why = in->v[i].why;
		resp->problems[i] = &v[i];
	}
	resp->n_problems = in->n;
	*store = v;
	return 0;
}

bool
api_leader_url(struct api *a, char *buf, size_t len)
{
	struct raftnode_status st;

	if (!a->raft)
		return false;
	raftnode_status_get(a->raft, &st);
	return st.leader_id && st.leader_id != st.id &&
	       store_coordinator_url(a->store, st.leader_id, buf, len) == 0;
}

bool
api_is_leader(struct api *a)
{
	struct raftnode_status st;

	if (!a->raft)
		return true;
	raftnode_status_get(a->raft, &st);
	return st.state == RAFT_LEADER;
}

void
api_reply_unavailable(struct api *a, struct bm_rpc_call *call, const char *msg)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	char leader[STORE_URL_MAX];

	resp.status = BM__STATUS__STATUS_UNAVAILABLE;
	resp.message = (char *)msg;
	if (api_leader_url(a, leader, sizeof(leader)))
		resp.leader = leader;
	bm_rpc_reply(call, &resp);
}

static void
write_done_cb(struct proposal *p, const struct store_result *res)
{
	struct write_call *w = bm_container_of(p, struct write_call, prop);
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__ApplyResult ar = BM__APPLY_RESULT__INIT;
	Bm__Problem *probs = NULL;
	char msg[sizeof(res->message) + 96], leader[STORE_URL_MAX];

	resp.status = res->status;
	if (res->status == BM__STATUS__STATUS_UNAVAILABLE && w->api &&
	    api_leader_url(w->api, leader, sizeof(leader)))
		resp.leader = leader;
	resp.revision = res->revision;
	snprintf(msg, sizeof(msg), "%s", res->message);
	if (res->problems.total > res->problems.n)
		snprintf(msg, sizeof(msg), "%s (first %zu of %zu problems listed)", res->message,
		         res->problems.n, res->problems.total);
	resp.message = msg;
	if (res->problems.n && problems_out(&res->problems, &resp, &probs) < 0)
		resp.n_problems = 0;
	ar.created = res->created;
	ar.updated = res->updated;
	ar.unchanged = res->unchanged;
	resp.body_case = BM__RESPONSE__BODY_APPLY;
	resp.apply = &ar;
	if (res->status != BM__STATUS__STATUS_OK)
		BM_DEBUG("api", "write refused status=%d problems=%zu", res->status,
		         res->problems.total);
	bm_rpc_reply(w->call, &resp);
	free(resp.problems);
	free(probs);
	free(w);
}

/* Why the proposer refused a submission. */
static const char *
submit_refusal(int r)
{
	return r == -EBUSY ? "busy: too many writes queued, retry" : "shutting down";
}

void
api_propose(struct api *a, struct bm_rpc_call *call, struct write_call *w)
{
	int r;

	w->call = call;
	w->api = a;
	w->cmd.time_ms = api_now_ms();
	api_audit_fill(w, call);
	w->prop.cmd = &w->cmd;
	if (!w->prop.cb)
		w->prop.cb = write_done_cb;
	if ((r = proposer_submit(a->proposer, &w->prop)) < 0) {
		free(w);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, submit_refusal(r));
	}
}

struct write_call *
api_write_call_new(struct bm_rpc_call *call)
{
	struct write_call *w = calloc(1, sizeof(*w));
	if (!w) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, "out of memory");
		return NULL;
	}
	bm__command__init(&w->cmd);
	bm__image__init(&w->image);
	return w;
}

/* BMC passwords in an Apply or MachineAdd sealed in the request before it
 * is proposed. Returns false after answering a refusal. */
static bool
seal_passwords(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	char why[256];
	int r;

	if (req->body_case == BM__REQUEST__BODY_APPLY)
		r = secrets_seal(&a->secrets, a->store, req->apply->fleet->machines,
		                 req->apply->fleet->n_machines, why, sizeof(why));
	else if (req->body_case == BM__REQUEST__BODY_MACHINE_ADD)
		r = secrets_seal(&a->secrets, a->store, &req->machine_add->machine, 1, why,
		                 sizeof(why));
	else
		return true;
	if (r == 0)
		return true;
	bm_rpc_reply_status(call,
	                    r == -EPERM    ? BM__STATUS__STATUS_PRECONDITION
	                    : r == -ENOMEM ? BM__STATUS__STATUS_UNAVAILABLE
	                                   : BM__STATUS__STATUS_INVALID,
	                    why);
	return false;
}

static void
handle_write(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	struct write_call *w;

	if ((req->body_case == BM__REQUEST__BODY_APPLY && (!req->apply || !req->apply->fleet)) ||
	    (req->body_case == BM__REQUEST__BODY_DELETE && (!req->delete_ || !req->delete_->ref)) ||
	    (req->body_case == BM__REQUEST__BODY_MACHINE_ADD &&
	     (!req->machine_add || !req->machine_add->machine)) ||
	    (req->body_case == BM__REQUEST__BODY_POWER && !req->power) ||
	    (req->body_case == BM__REQUEST__BODY_IMAGE_STAGE && !req->image_stage)) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "request has no body");
		return;
	}
	if (req->body_case == BM__REQUEST__BODY_APPLY &&
	    req->apply->fleet->n_machines > BM_APPLY_MACHINES_MAX) {
		char why[160];
		snprintf(why, sizeof(why),
		         "an apply of %zu machines: at most %u in one (bmctl apply sends a larger "
		         "file in parts)",
		         req->apply->fleet->n_machines, BM_APPLY_MACHINES_MAX);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, why);
		return;
	}
	if (!seal_passwords(a, call, req) || !(w = api_write_call_new(call)))
		return;
	switch (req->body_case) {
	case BM__REQUEST__BODY_APPLY:
		w->cmd.op_case = BM__COMMAND__OP_APPLY;
		w->cmd.apply = req->apply->fleet;
		break;
	case BM__REQUEST__BODY_DELETE:
		w->cmd.op_case = BM__COMMAND__OP_DELETE;
		w->cmd.delete_ = req->delete_->ref;
		break;
	case BM__REQUEST__BODY_POWER:
		w->cmd.op_case = BM__COMMAND__OP_POWER;
		w->cmd.power = req->power;
		break;
	case BM__REQUEST__BODY_IMAGE_STAGE:
		w->cmd.op_case = BM__COMMAND__OP_IMAGE_STAGE;
		w->cmd.image_stage = req->image_stage;
		break;
	default:
		w->cmd.op_case = BM__COMMAND__OP_CREATE_MACHINE;
		w->cmd.create_machine = req->machine_add->machine;
		break;
	}
	api_propose(a, call, w);
}

/* ---------------------------------------------------------------- blobs */

static Bm__Status
blob_status(int r, char *msg, size_t len)
{
	switch (r) {
	case -EFBIG:
		snprintf(msg, len, "image larger than %llu bytes or chunk too large",
		         (unsigned long long)BLOB_SIZE_MAX);
		return BM__STATUS__STATUS_INVALID;
	case -ENOSPC:
		snprintf(msg, len, "not enough disk space on the coordinator");
		return BM__STATUS__STATUS_UNAVAILABLE;
	case -ERANGE:
		snprintf(msg, len, "chunk offset is not where the upload stands; begin again");
		return BM__STATUS__STATUS_PRECONDITION;
	case -ENOENT:
		snprintf(msg, len, "no upload in progress for this digest");
		return BM__STATUS__STATUS_NOT_FOUND;
	case -EBADMSG:
		snprintf(msg, len,
		         "the pushed bytes do not match the sha256 given; upload discarded");
		return BM__STATUS__STATUS_INVALID;
	case -EMSGSIZE:
		snprintf(msg, len, "the pushed bytes do not add up to the size given");
		return BM__STATUS__STATUS_INVALID;
	default:
		snprintf(msg, len, "blob store: %s", strerror(-r));
		return BM__STATUS__STATUS_INTERNAL;
	}
}

/* Before an upload: does the image already declare other bytes? Advisory
 * (store_apply checks again when the image is recorded), but it spares
 * sending gigabytes that would be refused. Returns 1 with msg set. */
static int
image_conflict(struct api *a, const char *name, const ProtobufCBinaryData *sha, uint64_t size,
               char *msg, size_t len)
{
	struct store_read *rd;
	Bm__Object *o = NULL;
	char want[BM_SHA256_HEX];
	int conflict = 0;

	if (!*name || store_read_begin(a->store, &rd) < 0)
		return 0;
	if (store_get(rd, BM__KIND__KIND_IMAGE, name, &o) == 0) {
		const Bm__Image *im = o->image;
		if (im->sha256.len == BM_SHA256_LEN &&
		    memcmp(im->sha256.data, sha->data, BM_SHA256_LEN)) {
			snprintf(
			    msg, len,
			    "image %.63s declares sha256 %s; these bytes differ, nothing uploaded",
			    name, bm_sha256_hex(im->sha256.data, want));
			conflict = 1;
		} else if (im->size && im->size != size) {
			snprintf(msg, len,
			         "image %.63s declares %llu bytes, not %llu; nothing uploaded",
			         name, (unsigned long long)im->size, (unsigned long long)size);
			conflict = 1;
		}
		bm__object__free_unpacked(o, NULL);
	}
	store_read_end(rd);
	return conflict;
}

static void
handle_blob(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__BlobBeginResult br = BM__BLOB_BEGIN_RESULT__INIT;
	char msg[256] = "";
	int r;

	if (req->body_case == BM__REQUEST__BODY_BLOB_BEGIN) {
		const Bm__BlobBeginRequest *b = req->blob_begin;
		/* Uploads go to the leader, which records the image; the other
		 * coordinators copy the bytes from it (blob_sync). */
		if (!api_is_leader(a)) {
			api_reply_unavailable(a, call, "not the leader: uploads go to the leader");
			return;
		}
		if (b->sha256.len != BM_SHA256_LEN) {
			bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID,
			                    "sha256 must be 32 bytes");
			return;
		}
		if (image_conflict(a, b->image, &b->sha256, b->size, msg, sizeof(msg))) {
			bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, msg);
			return;
		}
		r = blob_begin(a->blobs, b->sha256.data, b->size, &br.offset);
		resp.body_case = BM__RESPONSE__BODY_BLOB;
		resp.blob = &br;
	} else {
		const Bm__BlobChunkRequest *c = req->blob_chunk;
		if (c->sha256.len != BM_SHA256_LEN) {
			bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID,
			                    "sha256 must be 32 bytes");
			return;
		}
		r = blob_write(a->blobs, c->sha256.data, c->offset, c->data.data, c->data.len);
	}
	if (r < 0)
		resp.status = blob_status(r, msg, sizeof(msg));
	resp.message = msg;
	bm_rpc_reply(call, &resp);
}

static void
handle_image_commit(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	const Bm__ImageCommitRequest *ic = req->image_commit;
	struct write_call *w;
	char msg[160];
	int r;

	if (!bm_name_valid(ic->name) || ic->sha256.len != BM_SHA256_LEN) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID,
		                    "image needs a valid name and a sha256");
		return;
	}
	if ((r = blob_commit(a->blobs, ic->sha256.data, ic->size)) < 0) {
		Bm__Status st = blob_status(r, msg, sizeof(msg));
		bm_rpc_reply_status(call, st, msg);
		return;
	}
	if (!(w = api_write_call_new(call)))
		return;
	w->image.name = ic->name;
	w->image.sha256 = ic->sha256;
	w->image.size = ic->size;
	w->cmd.op_case = BM__COMMAND__OP_IMAGE_STORED;
	w->cmd.image_stored = &w->image;
	api_propose(a, call, w);
}

/* ---------------------------------------------------------------- reads */

static void
reply_read_error(struct bm_rpc_call *call, int r, const char *what)
{
	char msg[160];
	if (r == -ENOENT) {
		snprintf(msg, sizeof(msg), "%s not found", what);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_NOT_FOUND, msg);
	} else {
		snprintf(msg, sizeof(msg), "reading the store: %s", strerror(-r));
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, msg);
	}
}

static const char *
list_filter_error(const Bm__ListRequest *q)
{
	bool machines = q->kind == BM__KIND__KIND_MACHINE, racks = q->kind == BM__KIND__KIND_RACK;

	if (q->kind < BM__KIND__KIND_SITE || q->kind > BM__KIND__KIND_OPERATION)
		return "unknown kind";
	if (*q->rack && !machines && q->kind != BM__KIND__KIND_AGENT)
		return "--rack applies to machines and agents only";
	if (*q->site && !machines && !racks)
		return "--site applies to racks and machines only";
	if (q->state && !machines)
		return "--state applies to machines only";
	if (q->n_labels && q->kind != BM__KIND__KIND_SITE && !racks && !machines)
		return "labels apply to sites, racks and machines only";
	return NULL;
}

/* Get, List or Status at the store's applied revision. */
static void
serve_read(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__StatusResult sr = BM__STATUS_RESULT__INIT;
	struct store_read *rd;
	Bm__Object *obj = NULL;
	Bm__ListResult *list = NULL;
	char what[96];
	int r;

	if ((r = store_read_begin(a->store, &rd)) < 0) {
		reply_read_error(call, r, "store");
		return;
	}
	resp.revision = store_read_revision(rd);
	switch (req->body_case) {
	case BM__REQUEST__BODY_GET:
		snprintf(what, sizeof(what), "%s %.63s", bm_kind_name(req->get->ref->kind),
		         req->get->ref->name);
		r = store_get(rd, req->get->ref->kind, req->get->ref->name, &obj);
		resp.body_case = BM__RESPONSE__BODY_OBJECT;
		resp.object = obj;
		break;
	case BM__REQUEST__BODY_LIST:
		snprintf(what, sizeof(what), "list");
		r = store_list(rd, req->list, &list);
		if (r == 0)
			api_list_decorate(a, rd, list, req->list->kind);
		resp.body_case = BM__RESPONSE__BODY_LIST;
		resp.list = list;
		break;
	default: {
		struct store_info info;
		snprintf(what, sizeof(what), "status");
		if ((r = store_info_get(a->store, &info)) == 0) {
			sr.revision = info.revision;
			sr.compact_revision = info.compact_revision;
			sr.applied_index = STORE_INDEX_ENTRY(info.applied_index);
			sr.data_dir = (char *)a->data_dir;
			sr.store_bytes = info.bytes;
			sr.machines = info.entries[STORE_TABLE_MACHINES];
			sr.changes_kept = info.entries[STORE_TABLE_CHANGES];
			sr.version = BM_VERSION;
			resp.body_case = BM__RESPONSE__BODY_STATUS_RESULT;
			resp.status_result = &sr;
		}
		break;
	}
	}
	store_read_end(rd);
	if (r < 0)
		reply_read_error(call, r, what);
	else
		bm_rpc_reply(call, &resp);
	if (obj)
		bm__object__free_unpacked(obj, NULL);
	if (list)
		bm__list_result__free_unpacked(list, NULL);
}

/* A linearizable read: a barrier entry through the proposer (batched with
 * the writes in flight); once it is applied here, on the leader, every
 * write acknowledged before the request arrived is in the store. */
struct read_call {
	struct proposal prop;
	struct bm_job job; /* the read, off the loop */
	Bm__Command cmd;
	struct api *a;
	struct bm_rpc_call *call;
	const Bm__Request *req; /* the call's: lives until the reply */
};

static void
read_job(struct bm_job *j)
{
	struct read_call *rc = bm_container_of(j, struct read_call, job);

	serve_read(rc->a, rc->call, rc->req);
	free(rc);
}

static void
barrier_done(struct proposal *p, const struct store_result *res)
{
	struct read_call *rc = bm_container_of(p, struct read_call, prop);

	if (res->status == BM__STATUS__STATUS_OK) {
		bm_jobq_push(&rc->a->defer, &rc->job, read_job); /* a list may be long */
		return;
	}
	if (res->status == BM__STATUS__STATUS_UNAVAILABLE)
		api_reply_unavailable(rc->a, rc->call, res->message);
	else
		bm_rpc_reply_status(rc->call, res->status, res->message);
	free(rc);
}

static void
linearizable_read(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	struct read_call *rc;
	int r;

	if (a->raft && !api_is_leader(a)) {
		api_reply_unavailable(a, call, "not the leader: ask another coordinator");
		return;
	}
	if (!(rc = calloc(1, sizeof(*rc)))) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, "out of memory");
		return;
	}
	*rc = (struct read_call){ .a = a, .call = call, .req = req };
	bm__command__init(&rc->cmd);
	rc->cmd.op_case = BM__COMMAND__OP_BARRIER;
	rc->cmd.barrier = true;
	rc->prop.cmd = &rc->cmd;
	rc->prop.cb = barrier_done;
	if ((r = proposer_submit(a->proposer, &rc->prop)) < 0) {
		free(rc);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, submit_refusal(r));
	}
}

static void
handle_read(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	const char *bad;

	if (req->body_case == BM__REQUEST__BODY_LIST && (bad = list_filter_error(req->list))) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, bad);
		return;
	}
	if (req->body_case == BM__REQUEST__BODY_GET && !req->get->ref) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID,
		                    "get needs a kind and a name");
		return;
	}
	if (req->linearizable)
		linearizable_read(a, call, req);
	else
		serve_read(a, call, req);
}

/* Refuse a request its sender may not make: answered DENIED, logged at
 * most once a second (with how many were not). Returns false when refused. */
static bool
authorized(struct api *a, struct bm_rpc_call *call, const Bm__Request *req,
           struct bm_identity *ret_id)
{
	struct bm_identity id = { 0 };
	char why[256], who[160], peer[80];
	uint64_t now = bm_wall_ms(), last;
	int vr;

	if (!a->verifier)
		return true;
	vr = bm_auth_verify(a->verifier, req->auth, now, &id, why, sizeof(why));
	snprintf(who, sizeof(who), "unverified");
	if (vr == 0)
		bm_rpc_call_set_who(call, bm_identity_text(&id, who, sizeof(who)));
	*ret_id = id;
	if (vr == 0 && authz_check(&id, req, why, sizeof(why)) == 0)
		return true;
	/* Logged (and a write noted in the audit log) at most once a second,
	 * before answering: the answer frees the request. */
	uint64_t n = atomic_fetch_add(&a->denied, 1) + 1;
	last = atomic_load(&a->denied_logged_ms);
	if (now - last >= 1000 &&
	    atomic_compare_exchange_strong(&a->denied_logged_ms, &last, now)) {
		BM_WARN("api",
		        "refused request=\"%s\" from=%s who=\"%s\" why=\"%s\" refused_total=%llu",
		        authz_request_name(req), bm_rpc_call_peer(call, peer, sizeof(peer)), who,
		        why, (unsigned long long)n);
		if (authz_is_write(req))
			api_audit_denied(a, call, req, who, why);
	}
	bm_rpc_reply_status(call, BM__STATUS__STATUS_DENIED, why);
	return false;
}

static void
api_handle(void *arg, struct bm_rpc_call *call, const Bm__Request *req)
{
	struct api *a = arg;

	/* The body is a oneof: its members share one pointer, NULL when absent. */
	if (req->body_case != BM__REQUEST__BODY__NOT_SET && !req->apply) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "request has no body");
		return;
	}
	struct bm_identity id = { 0 }; /* kind NONE: no TLS */

	if (!authorized(a, call, req, &id))
		return;
	switch (req->body_case) {
	case BM__REQUEST__BODY_APPLY:
	case BM__REQUEST__BODY_DELETE:
	case BM__REQUEST__BODY_MACHINE_ADD:
	case BM__REQUEST__BODY_POWER:
	case BM__REQUEST__BODY_IMAGE_STAGE: handle_write(a, call, req); return;
	case BM__REQUEST__BODY_GET:
	case BM__REQUEST__BODY_LIST:
	case BM__REQUEST__BODY_STATUS: handle_read(a, call, req); return;
	case BM__REQUEST__BODY_BLOB_BEGIN:
	case BM__REQUEST__BODY_BLOB_CHUNK: handle_blob(a, call, req); return;
	case BM__REQUEST__BODY_IMAGE_COMMIT: handle_image_commit(a, call, req); return;
	case BM__REQUEST__BODY_REGISTER:
	case BM__REQUEST__BODY_WATCH:
	case BM__REQUEST__BODY_REPORT_EVENTS:
	case BM__REQUEST__BODY_BLOB_GET:
	case BM__REQUEST__BODY_IMAGE_SOURCE:
	case BM__REQUEST__BODY_TRACE: api_handle_agent(a, call, req, &id); return;
	case BM__REQUEST__BODY_REIMAGE:
	case BM__REQUEST__BODY_OP: api_handle_ops(a, call, req); return;
	case BM__REQUEST__BODY_CLUSTER: api_handle_cluster(a, call, req); return;
	case BM__REQUEST__BODY_AUDIT: api_handle_audit(a, call, req->audit); return;
	default: bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "unknown request"); return;
	}
}

int
api_start(struct api *a, const char *url, unsigned nctx)
{
	int r;

	if ((r = bm_jobq_start(&a->defer, "api-defer")) < 0)
		return r;
	if ((r = bm_rpc_server_start(url, nctx, api_handle, a, a->server_creds, &a->rpc)) < 0)
		bm_jobq_stop(&a->defer);
	return r;
}

void
api_stop(struct api *a)
{
	bm_jobq_stop(&a->defer); /* its answers go out through the server */
	bm_rpc_server_stop(a->rpc);
	a->rpc = NULL;
}

uint64_t
api_now_ms(void)
{
	return bm_wall_ms();
}
