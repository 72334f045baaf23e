#include "authz.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *
authz_request_name(const Bm__Request *req)
{
	switch (req->body_case) {
	case BM__REQUEST__BODY_APPLY: return "apply";
	case BM__REQUEST__BODY_GET: return "get";
	case BM__REQUEST__BODY_LIST: return "list";
	case BM__REQUEST__BODY_DELETE:
		return req->delete_->ref && req->delete_->ref->kind == BM__KIND__KIND_MACHINE
		           ? "delete machine"
		           : "delete";
	case BM__REQUEST__BODY_MACHINE_ADD: return "machine add";
	case BM__REQUEST__BODY_BLOB_BEGIN:
	case BM__REQUEST__BODY_BLOB_CHUNK:
	case BM__REQUEST__BODY_IMAGE_COMMIT: return "image push";
	case BM__REQUEST__BODY_STATUS: return "status";
	case BM__REQUEST__BODY_REGISTER: return "register";
	case BM__REQUEST__BODY_WATCH: return "watch";
	case BM__REQUEST__BODY_REPORT_EVENTS: return "report events";
	case BM__REQUEST__BODY_BLOB_GET: return "blob get";
	case BM__REQUEST__BODY_TRACE: return "trace";
	case BM__REQUEST__BODY_AUDIT: return "audit";
	case BM__REQUEST__BODY_REIMAGE: return "reimage";
	case BM__REQUEST__BODY_POWER: return "machine power";
	case BM__REQUEST__BODY_IMAGE_SOURCE: return "image source";
	case BM__REQUEST__BODY_IMAGE_STAGE:
		return req->image_stage->remove ? "image unstage" : "image stage";
	case BM__REQUEST__BODY_OP:
		switch (req->op->action) {
		case BM__OP_REQUEST__ACTION__CANCEL: return "op cancel";
		case BM__OP_REQUEST__ACTION__RESUME: return "op resume";
		default: return "op get";
		}
	case BM__REQUEST__BODY_CLUSTER:
		switch (req->cluster->action) {
		case BM__CLUSTER_REQUEST__ACTION__ADD: return "cluster add";
		case BM__CLUSTER_REQUEST__ACTION__REMOVE: return "cluster remove";
		case BM__CLUSTER_REQUEST__ACTION__TRANSFER: return "cluster transfer";
		default: return "cluster status";
		}
	default: return "this request";
	}
}

/* The role an operator (or a peer) needs; NONE: agents only. */
static enum bm_role
role_needed(const Bm__Request *req)
{
	switch (req->body_case) {
	case BM__REQUEST__BODY_GET:
	case BM__REQUEST__BODY_LIST:
	case BM__REQUEST__BODY_STATUS:
	case BM__REQUEST__BODY_AUDIT:
	case BM__REQUEST__BODY_TRACE: return BM_ROLE_VIEWER;
	case BM__REQUEST__BODY_OP:
		return req->op->action == BM__OP_REQUEST__ACTION__CANCEL ||
		               req->op->action == BM__OP_REQUEST__ACTION__RESUME
		           ? BM_ROLE_OPERATOR
		           : BM_ROLE_VIEWER;
	case BM__REQUEST__BODY_CLUSTER:
		return req->cluster->action == BM__CLUSTER_REQUEST__ACTION__STATUS ? BM_ROLE_VIEWER
		                                                                   : BM_ROLE_ADMIN;
	case BM__REQUEST__BODY_REIMAGE:
	case BM__REQUEST__BODY_POWER:
	case BM__REQUEST__BODY_IMAGE_STAGE:
	case BM__REQUEST__BODY_MACHINE_ADD: return BM_ROLE_OPERATOR;
	case BM__REQUEST__BODY_DELETE:
		return req->delete_->ref && req->delete_->ref->kind == BM__KIND__KIND_MACHINE
		           ? BM_ROLE_OPERATOR
		           : BM_ROLE_ADMIN;
	case BM__REQUEST__BODY_APPLY:
	case BM__REQUEST__BODY_BLOB_BEGIN:
	case BM__REQUEST__BODY_BLOB_CHUNK:
	case BM__REQUEST__BODY_IMAGE_COMMIT: return BM_ROLE_ADMIN;
	default: return BM_ROLE_NONE; /* the agents' requests */
	}
}

/* The rack an agent's request is for ("" when it names none). */
static const char *
request_rack(const Bm__Request *req)
{
	switch (req->body_case) {
	case BM__REQUEST__BODY_REGISTER:
		return req->register_->agent ? req->register_->agent->rack : "";
	case BM__REQUEST__BODY_WATCH: return req->watch->rack;
	case BM__REQUEST__BODY_REPORT_EVENTS:
		return req->report_events->batch ? req->report_events->batch->rack : "";
	default: return "";
	}
}

static int
check_agent(const struct bm_identity *id, const Bm__Request *req, char *why, size_t len)
{
	const char *what = authz_request_name(req), *rack;

	if (req->body_case == BM__REQUEST__BODY_BLOB_GET ||
	    req->body_case == BM__REQUEST__BODY_IMAGE_SOURCE)
		return 0; /* which blobs: api_agents.c gives only bytes an image declares */
	if (role_needed(req) != BM_ROLE_NONE) {
		snprintf(why, len, "%s needs an operator's certificate, not an agent's", what);
		return -EACCES;
	}
	rack = request_rack(req);
	if (strcmp(rack, id->rack)) {
		snprintf(why, len, "agent %s is for rack %s, not %s", id->name, id->rack,
		         *rack ? rack : "(none)");
		return -EACCES;
	}
	return 0;
}

bool
authz_is_write(const Bm__Request *req)
{
	return role_needed(req) >= BM_ROLE_OPERATOR ||
	       req->body_case == BM__REQUEST__BODY_REGISTER ||
	       req->body_case == BM__REQUEST__BODY_REPORT_EVENTS;
}

int
authz_check(const struct bm_identity *id, const Bm__Request *req, char *why, size_t len)
{
	enum bm_role need = role_needed(req);

	switch (id->kind) {
	case BM_KIND_AGENT: return check_agent(id, req, why, len);
	case BM_KIND_COORDINATOR:
		/* A peer fetches blobs and joins; it is no agent. */
		if (need == BM_ROLE_NONE && req->body_case != BM__REQUEST__BODY_BLOB_GET)
			break;
		return 0;
	case BM_KIND_OPERATOR:
		if (need != BM_ROLE_NONE && id->role >= need)
			return 0;
		break;
	default: break;
	}
	if (need == BM_ROLE_NONE)
		snprintf(why, len, "%s is for agents, with an agent's certificate",
		         authz_request_name(req));
	else
		snprintf(why, len, "%s needs role %s, you are %s", authz_request_name(req),
		         bm_role_name(need),
		         id->kind == BM_KIND_OPERATOR ? bm_role_name(id->role)
		                                      : bm_cert_kind_name(id->kind));
	return -EACCES;
}
