/* A managed agent's link to its coordinators, on two threads of its own so
 * that nothing the loop serves waits on the network:
 *   - the watch thread long-polls Watch(rack, since) and applies each answer
 *     to the rack view in the local store (one transaction), then tells the
 *     loop, which rebuilds its in-memory view;
 *   - the report thread registers the agent, then sends the outbox in
 *     batches and trims what the coordinator applied; with nothing to send
 *     for SYNC_HEARTBEAT_MS, it sends an empty report (a heartbeat with
 *     its view's revision), so the leader knows the agent is alive.
 * Each tries the coordinator URLs in turn, with exponential backoff and
 * jitter; a call that timed out on a connection that is up, or whose
 * connection the coordinator reset, is asked again on the same socket
 * (SYNC_SLOW_RETRIES) before moving on; a restart resumes from the stored
 * revision and the stored outbox. */
#pragma once
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "bm/rpc.h"
#include "rackdb.h"

#define SYNC_WAIT_MS 25000u     /* long-poll length asked of the coordinator */
#define SYNC_BATCH_EVENTS 512u  /* outbox events per report */
#define SYNC_HEARTBEAT_MS 5000u /* an empty report after this long without one */
#define SYNC_BACKOFF_MIN_MS 100u
#define SYNC_BACKOFF_MAX_MS 10000u
/* Calls in a row that may time out on a connection that is up (a slow
 * coordinator), or find it reset (the socket dials again), before the link
 * fails over to the next URL. */
#define SYNC_SLOW_RETRIES 2u
/* After a reset, how long the socket may take to be up again before the
 * link fails over: a listener restarted by its watchdog takes 1,000
 * agents back within seconds; a coordinator that died refuses for good. */
#define SYNC_REDIAL_MS 10000u

struct sync;

struct sync_opts {
	const char *const *urls;
	unsigned n_urls;
	const char *rack;
	const char *agent_id;
	const char *version;
	struct rackdb *db;
	struct ev_loop *loop;
	/* Called on the loop thread after the stored view changed. */
	void (*view_changed)(void *arg);
	void *arg;
	/* Filled on the report thread before each registration: interfaces and
	 * cache state (may be NULL). */
	void (*describe)(void *arg, Bm__AgentInfo *info);
	unsigned wait_ms;           /* 0: SYNC_WAIT_MS */
	struct bm_rpc_creds *creds; /* TLS and the agent's token (NULL: plaintext); borrowed */
};

struct sync_stats {
	uint64_t revision;      /* of the stored view */
	uint64_t watch_answers; /* non-empty answers applied */
	uint64_t events_acked;  /* highest outbox sequence the coordinator applied */
	uint64_t errors;        /* failed calls */
	bool connected;         /* the last call succeeded */
};

/* Start both threads. Returns 0 or -errno. */
int sync_start(const struct sync_opts *o, struct sync **ret_sync);
/* The outbox grew: send soon. Any thread. */
void sync_kick(struct sync *s);
/* Register again (e.g. the cache changed). Any thread. */
void sync_reregister(struct sync *s);
/* Image bytes from the coordinators, for the cache's thread (only one
 * caller at a time). Returns 0 with *ret_n (0 at the end) and the blob's
 * *ret_size, -ENOENT (not held there), -ESHUTDOWN, -errno; a failure has
 * already waited its backoff. */
int sync_blob_get(struct sync *s, const uint8_t sha[32], uint64_t off, void *buf, size_t len,
                  size_t *ret_n, uint64_t *ret_size);
/* Where to fetch an image from (site-local fill, the cache's thread):
 * up to max peer URLs of its site holding it (*ret_n), or ask again after
 * *ret_wait_ms (a peer is fetching it), or neither: the coordinators.
 * Returns 0 or -errno like sync_blob_get. */
#define SYNC_PEER_URL_MAX 128u
int sync_image_source(struct sync *s, const uint8_t sha[32], char (*peers)[SYNC_PEER_URL_MAX],
                      size_t max, size_t *ret_n, uint32_t *ret_wait_ms);
void sync_stats_get(struct sync *s, struct sync_stats *ret_stats);
/* Cut every call in flight and refuse new ones (threads still run until
 * sync_stop). Any thread. */
void sync_cut(struct sync *s);
/* Stop and join both threads (calls in flight are cut). Loop thread.
 * Accepts NULL. */
void sync_stop(struct sync *s);
