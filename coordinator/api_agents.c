/* The API agents use: Register, Watch (long-poll, see watch.c),
 * ReportEvents (applied once by agent and sequence; empty, a heartbeat),
 * (BlobGet and ImageSource: api_images.c); when each agent was last seen,
 * and its coarse replication by the leader (AgentsSeen); and what operators
 * read about agents: Trace, the agents list with live fields, notes on
 * silent racks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_priv.h"
#include "image_fill.h"
#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/rpc.h"
#include "bm/sha256.h"
#include "bm/util.h"

#define TRACE_LIMIT_DEFAULT 200u

/* After an agent's write: its record's events_applied, read back. */
static uint64_t
events_applied(struct api *a, const char *id, uint64_t *ret_compact)
{
	struct store_read *rd;
	Bm__Object *o = NULL;
	uint64_t v = 0;

	*ret_compact = 0;
	if (store_read_begin(a->store, &rd) < 0)
		return 0;
	*ret_compact = store_read_compact_revision(rd);
	if (store_get(rd, BM__KIND__KIND_AGENT, id, &o) == 0) {
		v = o->agent->events_applied;
		bm__object__free_unpacked(o, NULL);
	}
	store_read_end(rd);
	return v;
}

static void
agent_write_done(struct proposal *p, const struct store_result *res)
{
	struct write_call *w = bm_container_of(p, struct write_call, prop);
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__RegisterResult rr = BM__REGISTER_RESULT__INIT;
	Bm__ReportEventsResult er = BM__REPORT_EVENTS_RESULT__INIT;
	char leader[STORE_URL_MAX];

	resp.status = res->status;
	resp.message = (char *)res->message;
	if (res->status == BM__STATUS__STATUS_UNAVAILABLE &&
	    api_leader_url(w->api, leader, sizeof(leader)))
		resp.leader = leader;
	resp.revision = res->revision;
	if (res->status == BM__STATUS__STATUS_OK) {
		uint64_t applied = events_applied(w->api, w->agent_id, &rr.compact_revision);
		agents_live_add(w->api->live, w->agent_id, w->view_revision, bm_wall_ms());
		if (w->cmd.op_case == BM__COMMAND__OP_AGENT_REGISTER) {
			rr.revision = res->revision;
			rr.events_applied = applied;
			resp.body_case = BM__RESPONSE__BODY_REGISTER;
			resp.register_ = &rr;
		} else {
			er.events_applied = applied;
			resp.body_case = BM__RESPONSE__BODY_REPORT_EVENTS;
			resp.report_events = &er;
		}
	}
	bm_rpc_reply(w->call, &resp);
	free(w);
}

/* Is agent `id` registered (in this node's store)? */
static bool
registered(struct api *a, const char *id)
{
	struct store_read *rd;
	Bm__Object *o = NULL;
	bool yes = false;

	if (store_read_begin(a->store, &rd) < 0)
		return false;
	if (store_get(rd, BM__KIND__KIND_AGENT, id, &o) == 0) {
		yes = true;
		bm__object__free_unpacked(o, NULL);
	}
	store_read_end(rd);
	return yes;
}

void
api_agent_seen(struct api *a, const char *id, uint64_t rev)
{
	uint64_t now = bm_wall_ms();

	if (!a->live || !*id || agents_live_seen(a->live, id, rev, now) == 0)
		return;
	if (bm_name_valid(id) && registered(a, id))
		agents_live_add(a->live, id, rev, now);
}

void
api_agent_current(struct api *a, const char *id, uint64_t rev)
{
	if (a->live && *id)
		agents_live_seen(a->live, id, rev, 0);
}

/* A report without events: the agent is alive. Answered by the leader,
 * which replicates sightings, without a write; a follower sends the agent
 * to the leader as for any report. */
static void
heartbeat(struct api *a, struct bm_rpc_call *call, const char *id, uint64_t view_revision)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__ReportEventsResult er = BM__REPORT_EVENTS_RESULT__INIT;
	uint64_t compact;
	char msg[128];

	if (!api_is_leader(a)) {
		api_reply_unavailable(a, call, "not the leader");
		return;
	}
	if (!registered(a, id)) {
		snprintf(msg, sizeof(msg), "agent %s is not registered; register first", id);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_NOT_FOUND, msg);
		return;
	}
	api_agent_seen(a, id, view_revision);
	er.events_applied = events_applied(a, id, &compact);
	resp.body_case = BM__RESPONSE__BODY_REPORT_EVENTS;
	resp.report_events = &er;
	bm_rpc_reply(call, &resp);
}

static void
agent_write(struct api *a, struct bm_rpc_call *call, const Bm__Request *req)
{
	bool reg = req->body_case == BM__REQUEST__BODY_REGISTER;
	const char *id =
	    reg ? (req->register_->agent ? req->register_->agent->id : NULL)
	        : (req->report_events->batch ? req->report_events->batch->agent_id : NULL);
	struct write_call *w;

	if (!id || !bm_name_valid(id)) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "an agent id is needed");
		return;
	}
	if (!reg && !req->report_events->batch->n_events) {
		heartbeat(a, call, id, req->report_events->view_revision);
		return;
	}
	if (!(w = api_write_call_new(call)))
		return;
	w->api = a;
	w->view_revision = reg ? 0 : req->report_events->view_revision;
	snprintf(w->agent_id, sizeof(w->agent_id), "%s", id);
	w->prop.cb = agent_write_done;
	if (reg) {
		w->cmd.op_case = BM__COMMAND__OP_AGENT_REGISTER;
		w->cmd.agent_register = req->register_->agent;
	} else {
		w->cmd.op_case = BM__COMMAND__OP_AGENT_EVENTS;
		w->cmd.agent_events = req->report_events->batch;
	}
	api_propose(a, call, w);
}

/* The MAC a trace asks for: given, or the named machine's. */
static int
trace_mac(struct store_read *rd, const Bm__TraceRequest *q, uint8_t mac[6], char *name, size_t nlen)
{
	Bm__Object *o = NULL;
	int r;

	if (q->mac.len == 6) {
		Bm__Machine *m = NULL;
		memcpy(mac, q->mac.data, 6);
		if (store_machine_by_mac(rd, mac, &m) == 0) {
			snprintf(name, nlen, "%s", m->name);
			bm__machine__free_unpacked(m, NULL);
		}
		return 0;
	}
	if ((r = store_get(rd, BM__KIND__KIND_MACHINE, q->machine, &o)) < 0)
		return r;
	if (o->machine->mac.len == 6)
		memcpy(mac, o->machine->mac.data, 6);
	snprintf(name, nlen, "%s", o->machine->name);
	bm__object__free_unpacked(o, NULL);
	return 0;
}

static void
trace(struct api *a, struct bm_rpc_call *call, const Bm__TraceRequest *q)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__TraceResult tr = BM__TRACE_RESULT__INIT;
	struct store_read *rd;
	uint8_t mac[6] = { 0 };
	char name[96] = "";
	int r;

	if (q->mac.len != 6 && !*q->machine) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID,
		                    "trace needs a machine or a MAC");
		return;
	}
	if ((r = store_read_begin(a->store, &rd)) < 0) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
		return;
	}
	if ((r = trace_mac(rd, q, mac, name, sizeof(name))) == 0)
		r = store_trace(rd, mac, q->limit ? q->limit : TRACE_LIMIT_DEFAULT, &tr.events,
		                &tr.n_events);
	resp.revision = store_read_revision(rd);
	store_read_end(rd);
	if (r == -ENOENT) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_NOT_FOUND, "no such machine");
		return;
	}
	if (r < 0) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
		return;
	}
	tr.machine = name;
	resp.body_case = BM__RESPONSE__BODY_TRACE;
	resp.trace = &tr;
	bm_rpc_reply(call, &resp);
	store_events_free(tr.events, tr.n_events);
}

void
api_handle_agent(struct api *a, struct bm_rpc_call *call, const Bm__Request *req,
                 const struct bm_identity *id)
{
	switch (req->body_case) {
	case BM__REQUEST__BODY_REGISTER:
	case BM__REQUEST__BODY_REPORT_EVENTS: agent_write(a, call, req); return;
	case BM__REQUEST__BODY_WATCH:
		api_agent_seen(a, req->watch->agent_id, req->watch->since);
		/* With TLS, authz let only the rack's own agent this far. */
		watch_handle(a->hub, call, req->watch, a->verifier != NULL);
		return;
	case BM__REQUEST__BODY_BLOB_GET:
		api_blob_get(a, call, req->blob_get, id->kind == BM_KIND_AGENT);
		return;
	case BM__REQUEST__BODY_IMAGE_SOURCE:
		api_image_source(a, call, req->image_source, id);
		return;
	default: trace(a, call, req->trace); return;
	}
}

/* ------------------------------------------------------------- listings */

/* The newer of the stored sighting and this node's own, and whether the
 * agent is silent, into an agent's record. */
void
api_agent_overlay(struct api *a, Bm__AgentRecord *r, uint64_t cur, uint64_t now)
{
	uint64_t seen, rev;

	if (a->live && agents_live_get(a->live, r->id, &seen, &rev) == 0) {
		if (seen > r->last_seen_ms)
			r->last_seen_ms = seen;
		if (rev > r->revision)
			r->revision = rev;
	}
	if (r->revision)
		r->lag = cur > r->revision ? cur - r->revision : 0;
	r->silent = r->last_seen_ms && now > r->last_seen_ms &&
	            now - r->last_seen_ms > STORE_AGENT_SILENT_MS;
}

void
api_list_decorate(struct api *a, struct store_read *rd, Bm__ListResult *l, Bm__Kind kind)
{
	if (kind == BM__KIND__KIND_IMAGE) {
		api_images_holders(a, rd, l);
		return;
	}
	if (kind != BM__KIND__KIND_AGENT)
		return;
	uint64_t cur = store_read_revision(rd), now = bm_wall_ms();
	for (size_t i = 0; i < l->n_items; i++)
		api_agent_overlay(a, l->items[i]->agent, cur, now);
}

int
api_racks_silence(struct api *a, struct store_read *rd, const char *const *racks, size_t n,
                  char ***ret_notes, size_t *ret_n)
{
	Bm__ListRequest q = BM__LIST_REQUEST__INIT;
	Bm__ListResult *l = NULL;
	Bm__AgentRecord **v = NULL;
	char **notes = NULL, buf[160];
	size_t k = 0;
	int r;

	q.kind = BM__KIND__KIND_AGENT;
	q.limit = STORE_LIST_LIMIT_MAX;
	if ((r = store_list(rd, &q, &l)) < 0)
		return r;
	api_list_decorate(a, rd, l, BM__KIND__KIND_AGENT);
	if (!(v = calloc(l->n_items + 1, sizeof(*v))) || !(notes = calloc(n + 1, sizeof(*notes))))
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < l->n_items; i++)
		v[i] = l->items[i]->agent;
	for (size_t i = 0; r == 0 && i < n; i++) {
		store_rack_silence(racks[i], v, l->n_items, bm_wall_ms(), buf, sizeof(buf));
		if (*buf && !(notes[k++] = strdup(buf)))
			r = -ENOMEM;
	}
	free(v);
	bm__list_result__free_unpacked(l, NULL);
	if (r < 0) {
		for (size_t i = 0; notes && i < k; i++)
			free(notes[i]);
		free(notes);
		return r;
	}
	*ret_notes = notes;
	*ret_n = k;
	return 0;
}

/* ------------------------------------------------------ replication */

struct seen_flush {
	struct api *a;
	struct proposal prop;
	Bm__Command cmd;
	Bm__AgentsSeen q;
	Bm__AgentSeen e[AGENTS_SEEN_BATCH_MAX], *ep[AGENTS_SEEN_BATCH_MAX];
	char ids[AGENTS_SEEN_BATCH_MAX][64];
	bool in_flight;
};

static void
flush_done(struct proposal *p, const struct store_result *res)
{
	struct seen_flush *f = bm_container_of(p, struct seen_flush, prop);
	if (res->status != BM__STATUS__STATUS_OK && res->status != BM__STATUS__STATUS_UNAVAILABLE)
		BM_WARN("agents", "sightings refused status=%d msg=\"%s\"", res->status,
		        res->message);
	f->in_flight = false;
}

void
api_agents_flush(struct api *a)
{
	struct seen_flush *f = a->seen;
	size_t n;

	if (!f || f->in_flight || !api_is_leader(a) ||
	    !(n = agents_live_due(a->live, f->e, f->ids, AGENTS_SEEN_BATCH_MAX)))
		return;
	bm__command__init(&f->cmd);
	bm__agents_seen__init(&f->q);
	for (size_t i = 0; i < n; i++)
		f->ep[i] = &f->e[i];
	f->q.seen = f->ep;
	f->q.n_seen = n;
	f->cmd.op_case = BM__COMMAND__OP_AGENTS_SEEN;
	f->cmd.agents_seen = &f->q;
	f->cmd.time_ms = api_now_ms();
	f->prop.cmd = &f->cmd;
	f->prop.cb = flush_done;
	f->in_flight = proposer_submit(a->proposer, &f->prop) == 0;
}

int
api_agents_init(struct api *a)
{
	int r;

	if (!(a->seen = calloc(1, sizeof(*a->seen))))
		return -ENOMEM;
	a->seen->a = a;
	if ((r = agents_live_new(AGENTS_LIVE_MAX, &a->live)) < 0 ||
	    (r = image_fill_new(&a->fill)) < 0)
		api_agents_free(a);
	return r;
}

void
api_agents_free(struct api *a)
{
	agents_live_free(a->live);
	a->live = NULL;
	image_fill_free(a->fill);
	a->fill = NULL;
	free(a->seen);
	a->seen = NULL;
}
