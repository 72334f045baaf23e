/* Private to the API handlers (api*.c). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "authz.h"
#include "bm/rpc.h"
#include "bm/util.h"

struct bm_rpc_call;

/* A command's audit record and the text it points to. */
struct audit_text {
	Bm__AuditEntry e;
	char who[BM_RPC_WHO_MAX], peer[80], what[32], targets[256], outcome[320];
};

/* A write in flight: the proposal, its call, and the command. */
struct write_call {
	struct proposal prop; /* prop.cb NULL: answered with an ApplyResult */
	struct bm_rpc_call *call;
	Bm__Command cmd;
	Bm__Image image; /* for image_stored: points into the request */
	struct api *api;
	char agent_id[64];      /* agent writes: whose record to answer from */
	uint64_t view_revision; /* agent reports: the agent's view then */
	struct audit_text audit;
};

uint64_t api_now_ms(void);
/* A follower: the leader's API URL into buf (false: no leader known, or
 * it never announced one). Any thread. */
bool api_leader_url(struct api *a, char *buf, size_t len);
/* This node leads (as of its last status refresh), or runs without Raft. */
bool api_is_leader(struct api *a);
/* Answer UNAVAILABLE with msg, naming the leader when known. */
void api_reply_unavailable(struct api *a, struct bm_rpc_call *call, const char *msg);
/* A zeroed write_call, or NULL after answering "out of memory". */
struct write_call *api_write_call_new(struct bm_rpc_call *call);
/* Submit w->cmd (time set here); on refusal answers and frees w. */
void api_propose(struct api *a, struct bm_rpc_call *call, struct write_call *w);

/* api_agents.c: Register, Watch, ReportEvents, BlobGet, Trace. */
/* `id`: the sender (kind BM_KIND_NONE without TLS). */
void api_handle_agent(struct api *a, struct bm_rpc_call *call, const Bm__Request *req,
                      const struct bm_identity *id);
/* The leader proposes the sightings due for replication (AgentsSeen), one
 * command in flight at a time. Loop thread, from the ticker. */
void api_agents_flush(struct api *a);
/* Why each of racks[] that is not reporting is not (store_rack_silence,
 * with what this node saw itself): *ret_n notes into *ret_notes (free each
 * and the array). Returns 0 or -errno. */
int api_racks_silence(struct api *a, struct store_read *rd, const char *const *racks, size_t n,
                      char ***ret_notes, size_t *ret_n);
/* Live fields of agents and cache counts of images in a list answer. */
void api_list_decorate(struct api *a, struct store_read *rd, Bm__ListResult *l, Bm__Kind kind);
/* The newer of the stored sighting and this node's own, the lag behind
 * revision cur, and whether the agent is silent at now, into r. */
void api_agent_overlay(struct api *a, Bm__AgentRecord *r, uint64_t cur, uint64_t now);

/* api_images.c: image bytes for agents (BlobGet), where an agent fetches
 * an image from (ImageSource: site-local fill, image_fill.h), and each
 * image's holders in a list answer (count, and per site). */
void api_blob_get(struct api *a, struct bm_rpc_call *call, const Bm__BlobGetRequest *q, bool agent);
void api_image_source(struct api *a, struct bm_rpc_call *call, const Bm__ImageSourceRequest *q,
                      const struct bm_identity *id);
void api_images_holders(struct api *a, struct store_read *rd, Bm__ListResult *l);

/* api_audit.c. Before a write is proposed: who sent it (the call's
 * bm_rpc_call_who), from where, what and naming what, into w->cmd.audit
 * (commands the log does not keep are left alone). */
void api_audit_fill(struct write_call *w, struct bm_rpc_call *call);
/* A write the store never sees (refused before, or a cluster change): an
 * audit-only command, proposed by the leader (a follower keeps it in its
 * log only). Any thread. */
void api_audit_note(struct api *a, const char *who, const char *peer, const char *what,
                    const char *targets, const char *outcome);
/* A write refused by authorization, noted with its targets. */
void api_audit_denied(struct api *a, struct bm_rpc_call *call, const Bm__Request *req,
                      const char *who, const char *why);
void api_handle_audit(struct api *a, struct bm_rpc_call *call, const Bm__AuditRequest *q);

/* api_ops.c: Reimage and Op. */
void api_handle_ops(struct api *a, struct bm_rpc_call *call, const Bm__Request *req);
/* api_cluster.c */
void api_handle_cluster(struct api *a, struct bm_rpc_call *call, const Bm__Request *req);
/* The command an op cancel or resume asks for (borrowing q's name). */
void api_op_command(const Bm__OpRequest *q, Bm__Command *cmd);
