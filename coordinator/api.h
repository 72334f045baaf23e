/* The coordinator's nng API: request handlers. Reads run on nng's threads
 * against an LMDB read snapshot; writes become Commands for the proposer
 * and are answered once applied and durable. */
#pragma once
#include "agents_live.h"
#include "bm/auth.h"
#include "bm/worker.h"
#include "blob.h"
#include "propose.h"
#include "secrets.h"
#include "store.h"
#include "watch.h"

struct bm_rpc_server;

struct api {
	struct store *store;
	struct proposer *proposer;
	struct blobstore *blobs;
	const char *data_dir;
	struct bm_rpc_server *rpc;
	struct watch_hub *hub; /* agents' long-polls */
	struct ticker *ticker; /* advances operations, replicates sightings */
	struct raftnode *raft;
	struct cluster_q *cluster; /* cluster changes handed to the loop */
	struct agents_live *live;  /* when this node last saw each agent */
	struct seen_flush *seen;   /* the leader's replication of sightings */
	struct image_fill *fill;   /* site-local image fill: who fetches what */
	/* Answers that read the store at length (a reimage's lists its
	 * machines: 43 ms for 10,000; a linearizable read), built here rather
	 * than on the loop, which would hold Raft's heartbeats meanwhile. */
	struct bm_jobq defer;
	/* TLS: tokens are verified and requests authorized (authz.h); NULL
	 * only on loopback or with --insecure, where everyone may do all. */
	struct bm_auth_verifier *verifier;
	struct bm_rpc_creds *server_creds;         /* the listener's TLS */
	struct secrets secrets;                    /* --secrets-key */
	_Atomic uint64_t denied, denied_logged_ms; /* refusals, and the last one logged */
};

/* Listen on url with nctx contexts (TLS with a->server_creds for a
 * tls+tcp:// URL). Returns 0 or -errno. */
int api_start(struct api *a, const char *url, unsigned nctx);
/* Stop serving. The proposer must have been closed first, so that no
 * write is still waiting for its answer. */
void api_stop(struct api *a);
/* Once a second (loop thread): tick running operations, and on the leader
 * replicate agents' sightings; stop after the proposer has closed. */
int api_ticker_start(struct api *a, uv_loop_t *loop);
void api_ticker_stop(struct api *a);
/* Agents' liveness: the table of sightings (before api_start), replicated
 * coarsely by the leader from the ticker (AgentsSeen). Free once the API
 * has stopped. Returns 0 or -ENOMEM. */
int api_agents_init(struct api *a);
void api_agents_free(struct api *a);
/* An agent was seen (a watch, a report), its view at `rev` (0: not told):
 * noted when it is registered. Any thread. */
void api_agent_seen(struct api *a, const char *id, uint64_t rev);
/* An agent's parked watch had nothing in a commit: its view is current at
 * rev. Not a sighting (a dead agent's watch stays parked until it times
 * out). Any thread. */
void api_agent_current(struct api *a, const char *id, uint64_t rev);
/* Cluster changes: start (loop thread), stop before the Raft node closes,
 * free once the API has stopped. */
int api_cluster_start(struct api *a, uv_loop_t *loop);
void api_cluster_stop(struct api *a);
void api_cluster_free(struct api *a);
