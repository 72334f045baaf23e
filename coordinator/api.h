/* The coordinator's nng API: request handlers. Reads run on nng's threads
 * against an LMDB read snapshot; writes become Commands for the proposer
 * and are answered once applied and durable. */
#pragma once
#include "blob.h"
#include "propose.h"
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
	struct ticker *ticker; /* advances running operations */
	struct raftnode *raft;
	struct cluster_q *cluster; /* cluster changes handed to the loop */
};

/* Listen on url with nctx contexts. Returns 0 or -errno. */
int api_start(struct api *a, const char *url, unsigned nctx);
/* Stop serving. The proposer must have been closed first, so that no
 * write is still waiting for its answer. */
void api_stop(struct api *a);
/* Tick running operations once a second (loop thread); stop after the
 * proposer has closed. */
int api_ticker_start(struct api *a, uv_loop_t *loop);
void api_ticker_stop(struct api *a);
/* Cluster changes: start (loop thread), stop before the Raft node closes,
 * free once the API has stopped. */
int api_cluster_start(struct api *a, uv_loop_t *loop);
void api_cluster_stop(struct api *a);
void api_cluster_free(struct api *a);
