/* The audit log from the API's side (the store keeps it, store_audit.c):
 * who sent each write and from where, what and naming what, put into its
 * command so that the store records it with the outcome, accepted or
 * refused; notes for writes refused before they reach the store (by
 * authorization) and for cluster changes, which are no commands; and the
 * Audit read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_priv.h"
#include "bm/buf.h"
#include "bm/rpc.h"

#define NAMES_SHOWN 3u /* names of one kind in an apply's targets */

/* What a command does, for the log; NULL: not audited (agents' reports,
 * the ticker, barriers and the leader's own records). */
static const char *
command_what(const Bm__Command *cmd)
{
	switch (cmd->op_case) {
	case BM__COMMAND__OP_APPLY: return "apply";
	case BM__COMMAND__OP_DELETE:
		return cmd->delete_->kind == BM__KIND__KIND_MACHINE ? "delete machine" : "delete";
	case BM__COMMAND__OP_CREATE_MACHINE: return "machine add";
	case BM__COMMAND__OP_IMAGE_STORED: return "image push";
	case BM__COMMAND__OP_AGENT_REGISTER: return "register";
	case BM__COMMAND__OP_REIMAGE: return "reimage";
	case BM__COMMAND__OP_OP_CANCEL: return "op cancel";
	case BM__COMMAND__OP_OP_RESUME: return "op resume";
	case BM__COMMAND__OP_POWER: return "machine power";
	case BM__COMMAND__OP_IMAGE_STAGE:
		return cmd->image_stage->remove ? "image unstage" : "image stage";
	default: return NULL;
	}
}

/* "machines r11n01 r11n02 r11n03 (+9)": the names of n records. */
static void
put_names(struct bm_buf *b, const char *kind, size_t n, void **records)
{
	if (!n)
		return;
	bm_buf_printf(b, "%s%s", b->n ? ", " : "", kind);
	for (size_t i = 0; i < n && i < NAMES_SHOWN; i++)
		bm_buf_printf(b, " %s", *(char **)((char *)records[i] + sizeof(ProtobufCMessage)));
	if (n > NAMES_SHOWN)
		bm_buf_printf(b, " (+%zu)", n - NAMES_SHOWN);
}

static void
put_targets(struct bm_buf *b, const Bm__Command *cmd)
{
	const Bm__Fleet *f = cmd->apply;

	switch (cmd->op_case) {
	case BM__COMMAND__OP_APPLY:
		put_names(b, "sites", f->n_sites, (void **)f->sites);
		put_names(b, "racks", f->n_racks, (void **)f->racks);
		put_names(b, "images", f->n_images, (void **)f->images);
		put_names(b, "profiles", f->n_profiles, (void **)f->profiles);
		put_names(b, "machines", f->n_machines, (void **)f->machines);
		break;
	case BM__COMMAND__OP_DELETE:
		bm_buf_printf(b, "%s %s", bm_kind_name(cmd->delete_->kind), cmd->delete_->name);
		break;
	case BM__COMMAND__OP_CREATE_MACHINE:
		bm_buf_printf(b, "machine %s (rack %s)", cmd->create_machine->name,
		              cmd->create_machine->rack);
		break;
	case BM__COMMAND__OP_IMAGE_STORED:
		bm_buf_printf(b, "image %s", cmd->image_stored->name);
		break;
	case BM__COMMAND__OP_AGENT_REGISTER:
		bm_buf_printf(b, "agent %s (rack %s)", cmd->agent_register->id,
		              cmd->agent_register->rack);
		break;
	case BM__COMMAND__OP_REIMAGE:
		for (size_t i = 0; i < cmd->reimage->n_targets; i++)
			bm_buf_printf(b, "%s%s", i ? " " : "", cmd->reimage->targets[i]);
		if (cmd->reimage->n_labels)
			bm_buf_printf(b, "%s(%zu labels)", b->n ? " " : "", cmd->reimage->n_labels);
		break;
	case BM__COMMAND__OP_OP_CANCEL: bm_buf_printf(b, "%s", cmd->op_cancel); break;
	case BM__COMMAND__OP_OP_RESUME: bm_buf_printf(b, "%s", cmd->op_resume); break;
	case BM__COMMAND__OP_POWER:
		bm_buf_printf(b, "machine %s %s", cmd->power->machine, cmd->power->action);
		break;
	case BM__COMMAND__OP_IMAGE_STAGE:
		bm_buf_printf(b, "image %s on %s", cmd->image_stage->image,
		              cmd->image_stage->target);
		break;
	default: break;
	}
}

/* What the command names, cut to len. */
static void
command_targets(const Bm__Command *cmd, char *buf, size_t len)
{
	struct bm_buf b = { 0 };

	put_targets(&b, cmd);
	snprintf(buf, len, "%s", b.p ? b.p : "");
	bm_buf_free(&b);
}

static void
fill(struct audit_text *t, const char *who, const char *peer, const char *what)
{
	bm__audit_entry__init(&t->e);
	snprintf(t->who, sizeof(t->who), "%s", *who ? who : "anyone (no TLS)");
	snprintf(t->peer, sizeof(t->peer), "%s", peer);
	snprintf(t->what, sizeof(t->what), "%s", what);
	t->e.who = t->who;
	t->e.peer = t->peer;
	t->e.what = t->what;
	t->e.targets = t->targets;
	t->e.outcome = t->outcome;
}

void
api_audit_fill(struct write_call *w, struct bm_rpc_call *call)
{
	const char *what = command_what(&w->cmd);
	char peer[80];

	if (!call || !what || w->cmd.audit)
		return;
	fill(&w->audit, bm_rpc_call_who(call), bm_rpc_call_peer(call, peer, sizeof(peer)), what);
	command_targets(&w->cmd, w->audit.targets, sizeof(w->audit.targets));
	w->cmd.audit = &w->audit.e;
}

static void
note_done(struct proposal *p, const struct store_result *res)
{
	(void)res;
	free(bm_container_of(p, struct write_call, prop));
}

void
api_audit_note(struct api *a, const char *who, const char *peer, const char *what,
               const char *targets, const char *outcome)
{
	struct write_call *w;

	if (!a->proposer || !api_is_leader(a) || !(w = calloc(1, sizeof(*w))))
		return; /* a follower's refusals are in its log only */
	bm__command__init(&w->cmd);
	fill(&w->audit, who, peer, what);
	snprintf(w->audit.targets, sizeof(w->audit.targets), "%s", targets);
	snprintf(w->audit.outcome, sizeof(w->audit.outcome), "%s", outcome);
	w->cmd.op_case = BM__COMMAND__OP_AUDIT_ONLY;
	w->cmd.audit_only = 1;
	w->cmd.audit = &w->audit.e;
	w->api = a;
	w->cmd.time_ms = api_now_ms();
	w->prop.cmd = &w->cmd;
	w->prop.cb = note_done;
	if (proposer_submit(a->proposer, &w->prop) < 0)
		free(w);
}

void
api_audit_denied(struct api *a, struct bm_rpc_call *call, const Bm__Request *req, const char *who,
                 const char *why)
{
	Bm__Command c = BM__COMMAND__INIT;
	char targets[sizeof(((struct audit_text *)0)->targets)] = "", outcome[320], peer[80];

	switch (req->body_case) { /* the request as the command it would be */
	case BM__REQUEST__BODY_APPLY:
		c.op_case = BM__COMMAND__OP_APPLY;
		c.apply = req->apply->fleet;
		break;
	case BM__REQUEST__BODY_DELETE:
		c.op_case = req->delete_->ref ? BM__COMMAND__OP_DELETE : 0;
		c.delete_ = req->delete_->ref;
		break;
	case BM__REQUEST__BODY_MACHINE_ADD:
		c.op_case = req->machine_add->machine ? BM__COMMAND__OP_CREATE_MACHINE : 0;
		c.create_machine = req->machine_add->machine;
		break;
	case BM__REQUEST__BODY_REIMAGE:
		c.op_case = BM__COMMAND__OP_REIMAGE;
		c.reimage = req->reimage;
		break;
	case BM__REQUEST__BODY_OP: api_op_command(req->op, &c); break;
	case BM__REQUEST__BODY_POWER:
		c.op_case = BM__COMMAND__OP_POWER;
		c.power = req->power;
		break;
	case BM__REQUEST__BODY_IMAGE_STAGE:
		c.op_case = BM__COMMAND__OP_IMAGE_STAGE;
		c.image_stage = req->image_stage;
		break;
	default: break;
	}
	if (c.op_case && (c.op_case != BM__COMMAND__OP_APPLY || c.apply))
		command_targets(&c, targets, sizeof(targets));
	snprintf(outcome, sizeof(outcome), "denied: %s", why);
	api_audit_note(a, who, bm_rpc_call_peer(call, peer, sizeof(peer)), authz_request_name(req),
	               targets, outcome);
}

void
api_handle_audit(struct api *a, struct bm_rpc_call *call, const Bm__AuditRequest *q)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__AuditResult *res = NULL;
	struct store_read *rd;
	uint32_t limit = q->limit && q->limit < STORE_AUDIT_PAGE ? q->limit : STORE_AUDIT_PAGE;
	int r;

	if ((r = store_read_begin(a->store, &rd)) == 0) {
		r = store_audit_list(rd, q->since_ms, q->after_seq, limit, &res);
		resp.revision = store_read_revision(rd);
		store_read_end(rd);
	}
	if (r < 0) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL,
		                    "reading the audit log failed");
		return;
	}
	resp.body_case = BM__RESPONSE__BODY_AUDIT;
	resp.audit = res;
	bm_rpc_reply(call, &resp);
	bm__audit_result__free_unpacked(res, NULL);
}
