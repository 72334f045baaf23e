/* bmcoord: wires the store, the Raft node, the proposer, the watch hub,
 * the blob store (and its replication thread) and the API together on one
 * libuv loop (docs/architecture.md). */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api.h"
#include "blob_sync.h"
#include "options.h"
#include "raft_node.h"
#include "store_guard.h"
#include <raft.h>
#include "bm/fsutil.h"
#include "bm/log.h"
#include "bm/rpc.h"
#include "bm/util.h"
#include "bm/version.h"

/* Malformed requests are answered and counted by the RPC layer; this says
 * so in the log at most once a period, never once per packet. */
#define COORD_GARBAGE_LOG_MS 60000

struct coord {
	uv_loop_t *loop;
	uv_signal_t sigterm, sigint, sighup;
	const struct options *o;
	uv_timer_t stats;
	uint64_t malformed_logged;
	struct api api;
	struct store *store;
	struct blobstore *blobs;
	struct raftnode *raft;
	struct raftnode *node;           /* raft's memory: kept until the loop has run out */
	struct watch_hub *hub_ready;     /* set once the hub exists */
	struct blob_sync *blob_sync;     /* fetches the image bytes this node lacks */
	struct bm_rpc_creds *peer_creds; /* TLS: this node as a client of its peers */
	struct announce {                /* this node's API URL, proposed when it leads */
		struct proposal prop;
		Bm__Command cmd;
		Bm__Coordinator co;
		bool busy;
		char url[STORE_URL_MAX];
	} ann;
	int lock_fd;
	int stopping;
	bool guarded; /* store.state says open (store_guard.h) */
};

static void
raft_closed(void *arg)
{
	struct coord *c = arg;
	api_stop(&c->api); /* before the node's memory goes: handlers read its status */
	c->raft = NULL;
	c->api.raft = NULL;
	c->hub_ready = NULL;
	uv_close((uv_handle_t *)&c->sigterm, NULL);
	uv_close((uv_handle_t *)&c->sigint, NULL);
	uv_close((uv_handle_t *)&c->sighup, NULL);
	uv_close((uv_handle_t *)&c->stats, NULL);
}

static void
coord_stop(struct coord *c, const char *why)
{
	if (c->stopping)
		return;
	c->stopping = 1;
	BM_INFO("coord", "stopping signal=%s", why);
	/* Answer every queued write, then stop serving: no write is left
	 * waiting on a closed socket, and none is acknowledged undone. */
	/* Queued writes go to Raft; closing Raft answers whatever it still
	 * holds (as not confirmed); only then does the API stop. */
	proposer_close(c->api.proposer);
	api_ticker_stop(&c->api);
	watch_hub_close(c->api.hub);
	api_cluster_stop(&c->api);
	raftnode_close(c->raft, raft_closed, c);
}

static void
coord_stats_cb(uv_timer_t *t)
{
	struct coord *c = t->data;
	struct bm_rpc_stats st;

	if (!c->api.rpc)
		return;
	bm_rpc_server_stats(c->api.rpc, &st);
	if (st.malformed > c->malformed_logged)
		BM_WARN("api", "malformed requests answered and dropped count=%llu total=%llu",
		        (unsigned long long)(st.malformed - c->malformed_logged),
		        (unsigned long long)st.malformed);
	c->malformed_logged = st.malformed;
}

static void coord_reload_tls(struct coord *c, const struct options *o);

static void
coord_signal_cb(uv_signal_t *h, int signum)
{
	struct coord *c = h->data;

	if (signum == SIGHUP)
		coord_reload_tls(c, c->o);
	else
		coord_stop(c, signum == SIGTERM ? "TERM" : "INT");
}

static int
coord_open(struct coord *c, const struct options *o)
{
	char path[PATH_MAX + 16];
	int r;

	if ((r = bm_mkdir_p(o->data_dir)) < 0) {
		BM_ERROR("coord", "cannot create data dir path=%s err=\"%s\"", o->data_dir,
		         strerror(-r));
		return r;
	}
	if ((c->lock_fd = bm_lock_dir(o->data_dir)) < 0) {
		r = c->lock_fd;
		BM_ERROR("coord", "data dir is in use by another bmcoord path=%s err=\"%s\"",
		         o->data_dir, strerror(-r));
		return r;
	}
	if ((r = store_guard_begin(o->data_dir)) < 0)
		return r;
	c->guarded = true;
	snprintf(path, sizeof(path), "%s/store", o->data_dir);
	/* Unsynced: the Raft log is what is durable (store_guard.h). */
	if ((r = store_open_unsynced(path, o->map_size, &c->store)) < 0) {
		BM_ERROR("coord", "cannot open store path=%s err=\"%s\"", path, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "%s/blobs", o->data_dir);
	if ((r = blob_open(path, &c->blobs)) < 0) {
		BM_ERROR("coord", "cannot open blob store path=%s err=\"%s\"", path, strerror(-r));
		return r;
	}
	return 0;
}

/* Every applied batch, on every node: wake the watches it concerns. */
static void
on_applied(void *arg, uint64_t revision)
{
	struct coord *c = arg;
	if (c->hub_ready)
		watch_hub_committed(c->hub_ready, revision);
	blob_sync_poke(c->blob_sync);
}

/* A parked agent's view is current at rev (watch_hub_set_seen). */
static void
coord_agent_seen(void *arg, const char *agent, uint64_t rev)
{
	api_agent_current(arg, agent, rev);
}

static bool
coord_leads(void *arg)
{
	struct coord *c = arg;
	struct raftnode_status st;

	if (!c->raft)
		return true;
	raftnode_status_get(c->raft, &st);
	return st.state == RAFT_LEADER;
}

static void
announce_done(struct proposal *p, const struct store_result *res)
{
	struct announce *an = bm_container_of(p, struct announce, prop);
	an->busy = false;
	if (res->status == BM__STATUS__STATUS_OK)
		BM_INFO("coord", "announced url=%s", an->url);
	else
		BM_WARN("coord", "cannot announce url=%s err=\"%s\"", an->url, res->message);
}

/* This node leads: record its API URL (once; again if it changed), so that
 * followers can redirect clients here. */
static void
on_leading(void *arg)
{
	struct coord *c = arg;
	struct announce *an = &c->ann;
	char stored[STORE_URL_MAX] = "";

	if (an->busy || !c->api.proposer)
		return;
	if (store_coordinator_url(c->store, an->co.id, stored, sizeof(stored)) == 0 &&
	    !strcmp(stored, an->url))
		return;
	bm__command__init(&an->cmd);
	an->cmd.op_case = BM__COMMAND__OP_COORDINATOR;
	an->cmd.coordinator = &an->co;
	an->prop.cmd = &an->cmd;
	an->prop.cb = announce_done;
	an->busy = proposer_submit(c->api.proposer, &an->prop) == 0;
}

struct joiner {
	char urls[1024];
	uint64_t id;
	char address[64];
	struct bm_rpc_creds *creds; /* its own: the thread may outlive the node's */
};

/* Ask the cluster at the join URLs to add this node, until one agrees (or
 * says it is a member already). */
static void *
join_main(void *arg)
{
	struct joiner *j = arg;

	for (unsigned attempt = 0;; attempt++) {
		char *save = NULL, buf[1024];
		snprintf(buf, sizeof(buf), "%s", j->urls);
		for (char *u = strtok_r(buf, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
			Bm__Request req = BM__REQUEST__INIT;
			Bm__ClusterRequest q = BM__CLUSTER_REQUEST__INIT;
			struct bm_rpc_client *cl;
			Bm__Response *resp;
			q.action = BM__CLUSTER_REQUEST__ACTION__ADD;
			q.id = j->id;
			q.address = j->address;
			req.body_case = BM__REQUEST__BODY_CLUSTER;
			req.cluster = &q;
			if (bm_rpc_client_open(u, j->creds, &cl) < 0)
				continue;
			int r = bm_rpc_call(cl, &req, 5000, &resp);
			bm_rpc_client_free(cl);
			if (r < 0)
				continue;
			bool done = resp->status == BM__STATUS__STATUS_OK ||
			            strstr(resp->message, "already a member");
			if (done || attempt % 10 == 0)
				BM_INFO("raft", "join url=%s answer=\"%s\"", u,
				        done ? "added" : resp->message);
			bm__response__free_unpacked(resp, NULL);
			if (done) {
				bm_rpc_creds_free(j->creds);
				free(j);
				return NULL;
			}
		}
		usleep(500 * 1000);
	}
}

static void
start_join(const struct options *o)
{
	struct joiner *j = calloc(1, sizeof(*j));
	pthread_t th;

	if (!j)
		return;
	snprintf(j->urls, sizeof(j->urls), "%s", o->join);
	snprintf(j->address, sizeof(j->address), "%s", o->raft_address);
	j->id = o->id;
	char err[256];
	if (o->tls.ca && bm_rpc_creds_new(&o->tls, false, &j->creds, err, sizeof(err)) < 0) {
		BM_ERROR("raft", "cannot join err=\"%s\"", err);
		free(j);
		return;
	}
	if (pthread_create(&th, NULL, join_main, j) == 0) {
		pthread_detach(th);
	} else {
		bm_rpc_creds_free(j->creds);
		free(j);
	}
}

static int
start_raft(struct coord *c, const struct options *o)
{
	char dir[PATH_MAX + 8];
	struct raftnode_opts ro = { 0 };

	snprintf(dir, sizeof(dir), "%s/raft", o->data_dir);
	ro.id = o->id;
	ro.address = o->raft_address;
	ro.dir = dir;
	ro.bootstrap = o->bootstrap;
	ro.join = o->join != NULL;
	ro.snapshot_threshold = o->snapshot_threshold;
	ro.election_ms = o->election_ms;
	ro.heartbeat_ms = o->heartbeat_ms;
	ro.applied = on_applied;
	ro.leading = on_leading;
	ro.arg = c;
	if (o->tls.ca) {
		ro.tls = &o->tls;
		ro.verifier = c->api.verifier;
	}
	bm__coordinator__init(&c->ann.co);
	snprintf(c->ann.url, sizeof(c->ann.url), "%s", o->advertise ? o->advertise : o->listen);
	c->ann.co.id = o->id;
	c->ann.co.url = c->ann.url;
	int r = raftnode_start(c->loop, c->store, &ro, &c->raft);
	c->node = c->raft;
	if (r == 0 && o->join)
		start_join(o);
	return r;
}

/* Serving could not start after the Raft node did: close what was opened,
 * Raft last, as coord_stop does; main() runs the loop until all is shut. */
static void
raft_aborted(void *arg)
{
	struct coord *c = arg;
	c->raft = NULL;
	c->api.raft = NULL;
	c->hub_ready = NULL;
}

static void
coord_abort(struct coord *c)
{
	if (c->api.proposer)
		proposer_close(c->api.proposer);
	if (c->api.hub)
		watch_hub_close(c->api.hub);
	api_cluster_stop(&c->api);
	raftnode_close(c->raft, raft_aborted, c);
}

/* TLS: the verifier of tokens (the CA, the CRL), the listener's
 * credentials and this node's as a client of its peers. Without TLS, say
 * what that means at every start. */
static int
coord_tls(struct coord *c, const struct options *o)
{
	char err[256];
	int r;

	if (!o->tls.ca) {
		if (o->insecure)
			BM_WARN("coord",
			        "INSECURE: no TLS on listen=%s raft=%s: anyone who reaches "
			        "them may do anything (--insecure)",
			        o->listen, o->raft_address);
		return 0;
	}
	if ((r = bm_auth_verifier_new(o->tls.ca, o->tls.crl, &c->api.verifier, err, sizeof(err))) <
	        0 ||
	    (r = bm_rpc_creds_new(&o->tls, true, &c->api.server_creds, err, sizeof(err))) < 0 ||
	    (r = bm_rpc_creds_new(&o->tls, false, &c->peer_creds, err, sizeof(err))) < 0) {
		BM_ERROR("coord", "TLS: %s", err);
		return r;
	}
	return 0;
}

static int
coord_secrets(struct coord *c, const struct options *o)
{
	char why[256];
	int r = secrets_load(&c->api.secrets, o->secrets_key, why, sizeof(why));

	if (r < 0)
		BM_ERROR("coord", "%s", why);
	else if (!o->secrets_key)
		BM_INFO("coord", "no --secrets-key: BMC passwords are refused");
	return r;
}

/* SIGHUP: the CA, the CRL, the certificate and key read again. New
 * handshakes use them; tokens are verified anew. */
static void
coord_reload_tls(struct coord *c, const struct options *o)
{
	struct bm_rpc_creds *cr = NULL;
	char err[256];
	int r;

	if (!c->api.verifier)
		return;
	if ((r = bm_auth_verifier_reload(c->api.verifier, err, sizeof(err))) < 0 ||
	    (r = bm_rpc_creds_new(&o->tls, true, &cr, err, sizeof(err))) < 0) {
		BM_ERROR("coord", "TLS reload failed, keeping the old err=\"%s\"", err);
		return;
	}
	if ((r = raftnode_reload_tls(c->raft, err, sizeof(err))) < 0)
		BM_ERROR("coord", "Raft TLS reload failed, keeping the old err=\"%s\"", err);
	if (bm_rpc_creds_reload(c->peer_creds, err, sizeof(err)) < 0)
		BM_ERROR("coord", "peer TLS reload failed, keeping the old err=\"%s\"", err);
	if ((r = bm_rpc_server_set_tls(c->api.rpc, cr)) < 0) {
		BM_ERROR("coord", "TLS reload: cannot listen again err=\"%s\"", strerror(-r));
		bm_rpc_creds_free(cr);
		return;
	}
	bm_rpc_creds_free(c->api.server_creds);
	c->api.server_creds = cr;
	BM_INFO("coord", "TLS reloaded ca=%s cert=%s crl=%s", o->tls.ca, o->tls.cert,
	        o->tls.crl ? o->tls.crl : "-");
}

static int
coord_serve(struct coord *c, const struct options *o)
{
	struct store_info info;
	int r;

	c->o = o;
	c->api.store = c->store;
	c->api.blobs = c->blobs;
	c->api.data_dir = o->data_dir;
	if ((r = coord_tls(c, o)) < 0 || (r = coord_secrets(c, o)) < 0 ||
	    (r = start_raft(c, o)) < 0)
		return r;
	c->api.raft = c->raft;
	/* Long-polls hold a context each: keep some for everything else. */
	if ((r = api_agents_init(&c->api)) < 0 || (r = api_cluster_start(&c->api, c->loop)) < 0 ||
	    (r = proposer_new(c->loop, c->raft, &c->api.proposer)) < 0 ||
	    (r = watch_hub_new(c->loop, c->store,
	                       o->contexts > 32 ? o->contexts - 16 : o->contexts / 2,
	                       &c->api.hub)) < 0) {
		coord_abort(c);
		return r;
	}
	c->hub_ready = c->api.hub;
	watch_hub_set_authority(c->api.hub, coord_leads, c);
	watch_hub_set_seen(c->api.hub, coord_agent_seen, &c->api);
	watch_hub_set_secrets(c->api.hub, &c->api.secrets);
	if ((r = api_start(&c->api, o->listen, o->contexts)) < 0) {
		BM_ERROR("coord", "cannot listen url=%s err=\"%s\"", o->listen, strerror(-r));
		coord_abort(c);
		return r;
	}
	api_ticker_start(&c->api, c->loop);
	if ((r = blob_sync_start(c->store, c->blobs, o->id, c->peer_creds, &c->blob_sync)) < 0)
		BM_WARN("coord", "no blob replication err=\"%s\"", strerror(-r));
	uv_signal_init(c->loop, &c->sigterm);
	uv_signal_init(c->loop, &c->sigint);
	uv_signal_init(c->loop, &c->sighup);
	c->sigterm.data = c->sigint.data = c->sighup.data = c;
	uv_signal_start(&c->sigterm, coord_signal_cb, SIGTERM);
	uv_signal_start(&c->sigint, coord_signal_cb, SIGINT);
	uv_signal_start(&c->sighup, coord_signal_cb, SIGHUP);
	uv_timer_init(c->loop, &c->stats);
	c->stats.data = c;
	uv_timer_start(&c->stats, coord_stats_cb, COORD_GARBAGE_LOG_MS, COORD_GARBAGE_LOG_MS);
	store_info_get(c->store, &info);
	BM_INFO("coord", "serving listen=%s data_dir=%s revision=%llu", o->listen, o->data_dir,
	        (unsigned long long)info.revision);
	return 0;
}

int
main(int argc, char **argv)
{
	struct options o = { 0 };
	struct coord c = { .lock_fd = -1 };
	int r;

	if ((r = options_parse(argc, argv, &o)) != 0)
		return r;
	signal(SIGPIPE, SIG_IGN);
	c.loop = uv_default_loop();
	r = coord_open(&c, &o);
	if (r == 0)
		r = coord_serve(&c, &o);
	/* After a failure too: what was opened is closing; let it finish. */
	uv_run(c.loop, r == 0 || c.raft ? UV_RUN_DEFAULT : UV_RUN_NOWAIT);
	blob_sync_stop(c.blob_sync);
	bm_rpc_creds_free(c.peer_creds);
	bm_rpc_creds_free(c.api.server_creds);
	bm_auth_verifier_free(c.api.verifier);
	watch_hub_free(c.api.hub);
	api_cluster_free(&c.api);
	api_agents_free(&c.api);
	proposer_free(c.api.proposer); /* after the API stopped: its threads submit */
	raftnode_free(c.node);
	uv_loop_close(c.loop);
	OPENSSL_cleanse(&c.api.secrets, sizeof(c.api.secrets));
	blob_close(c.blobs);
	store_close(c.store);
	if (c.guarded && c.store)
		store_guard_end(o.data_dir);
	if (c.lock_fd >= 0)
		close(c.lock_fd);
	if (r == 0)
		BM_INFO("coord", "stopped");
	return r == 0 ? 0 : 1;
}
