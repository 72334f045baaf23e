/* Private to the RPC module (rpc_*.c). */
#pragma once
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "bm/auth.h"
#include "bm/rpc.h"
#include "bm/worker.h"

/* Make nng's TLS use OpenSSL (rpc_tls_engine.c), once per process, before
 * its first TLS configuration. Returns 0 or an NNG error. */
int rpc_tls_engine_init(void);
/* A TLS configuration of creds for a dialer to `url` (the server's name
 * to check is its host) or for a listener. Returns 0 or an NNG error. */
int rpc_tls_config(struct bm_rpc_creds *cr, const char *url, nng_tls_config **ret);
/* Dial url from s, over TLS with cfg (NULL: plain; the dialer takes its
 * own reference). Returns 0 or an NNG error. */
int rpc_dial(nng_socket s, const char *url, nng_tls_config *cfg, int flags);
/* A client's configuration of a server's creds, for its listener's
 * watchdog: its own certificate (also a client certificate of the fleet
 * CA), the server's not checked. */
int rpc_tls_probe_config(struct bm_rpc_creds *cr, nng_tls_config **ret);
/* How many times cr was reloaded. */
unsigned rpc_tls_gen(struct bm_rpc_creds *cr);
/* Put the client's token into req (tok holds its bytes; cr may be NULL). */
void rpc_tls_stamp(struct bm_rpc_creds *cr, Bm__Request *req, struct bm_auth_token *tok);

/* A server's listener and the watchdog that keeps it accepting
 * (rpc_listen.c). */
struct rpc_listen {
	nng_socket sock;
	char url[256], probe_url[256];
	struct bm_worker watch; /* its mutex guards l and creds */
	nng_listener l;
	struct bm_rpc_creds *creds;
	atomic_uint_fast64_t accepted, restarts;
	atomic_bool probe_up; /* the watchdog's connection is up */
	bool unsure_said;
	/* The watchdog's ping in flight (its thread's alone but the flags). */
	bool pinging, ping_recv;
	nng_socket ping_sock;
	nng_aio *ping_aio;
	atomic_bool ping_done;
	uint64_t ping_started_ms, ping_up_steps, ping_seen;
};
/* Listen on url (creds for a tls+tcp:// one) and start the watchdog.
 * Returns 0 or an NNG error. */
int rpc_listen_start(struct rpc_listen *ls, nng_socket sock, const char *url,
                     struct bm_rpc_creds *creds);
/* Close the listener and listen again with creds (NULL: the same); if that
 * fails, with the old ones. Returns 0 or an NNG error. */
int rpc_listen_again(struct rpc_listen *ls, struct bm_rpc_creds *creds);
/* Stop the watchdog (before the socket closes). */
void rpc_listen_stop(struct rpc_listen *ls);
