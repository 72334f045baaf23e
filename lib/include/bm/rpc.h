/* The API envelope over nng req/rep: Request/Response protobufs carrying a
 * protocol version, a request id, a status and a message. This is the only
 * module that sees NNG_E* codes; they leave it as negative errno. */
#pragma once
#include <stdint.h>

#include "bm/proto.h"

/* Largest message either side accepts: a 100k-machine Apply is ~10 MiB. */
#define BM_RPC_MSG_MAX (64u << 20)
/* Server contexts: requests in flight at once per coordinator. Every
 * agent's long-poll holds one while it waits. */
#define BM_RPC_CONTEXTS_DEFAULT 1024u
#define BM_RPC_CONTEXTS_MAX 16384u

/* ---------------------------------------------------------------- client */

struct bm_rpc_client;

/* Dial `url` (tcp://host:port, ipc://path) in the background: a call waits
 * for the connection up to its timeout. Returns 0 or -errno (-EINVAL for a
 * malformed URL). */
int bm_rpc_client_open(const char *url, struct bm_rpc_client **ret_client);
/* The same, but connected now: -ECONNREFUSED (or another -errno) at once
 * when nobody listens there, so a caller with other URLs moves on. */
int bm_rpc_client_connect(const char *url, struct bm_rpc_client **ret_client);
void bm_rpc_client_free(struct bm_rpc_client *c);
/* Fail every call in progress and every later one (-ECANCELED or
 * -ESHUTDOWN), from any thread; the client must still be freed. */
void bm_rpc_client_shutdown(struct bm_rpc_client *c);

/* Send `req` (borrowed; its version and id are set here) and wait up to
 * timeout_ms for the answer. Safe from several threads at once on one client.
 * Returns 0 with *ret_resp (free with bm__response__free_unpacked(r, NULL)),
 * or -ETIMEDOUT, -ECONNREFUSED, -EBADMSG (an answer that does not parse or
 * belongs to another request), -ENOMEM, -EIO. */
int bm_rpc_call(struct bm_rpc_client *c, Bm__Request *req, int timeout_ms, Bm__Response **ret_resp);

/* ---------------------------------------------------------------- server */

struct bm_rpc_server;
struct bm_rpc_call;

/* Called on an nng thread for each well-formed request of the right
 * version. `req` belongs to the call and lives until bm_rpc_reply. The
 * handler must arrange for exactly one bm_rpc_reply, now or later, from any
 * thread. */
typedef void (*bm_rpc_handler_fn)(void *arg, struct bm_rpc_call *call, const Bm__Request *req);

struct bm_rpc_stats {
	uint64_t requests;  /* well-formed requests handed to the handler */
	uint64_t malformed; /* undecodable or wrong version: answered, not handled */
	uint64_t send_errors;
};

/* Listen on url with `nctx` concurrent contexts. Returns 0 or -errno
 * (-EADDRINUSE, -EINVAL). */
int bm_rpc_server_start(const char *url, unsigned nctx, bm_rpc_handler_fn fn, void *arg,
                        struct bm_rpc_server **ret_server);
/* Answer a call. `resp` is borrowed; version and id are filled in here. */
void bm_rpc_reply(struct bm_rpc_call *call, Bm__Response *resp);
/* Reply with only a status and message. */
void bm_rpc_reply_status(struct bm_rpc_call *call, Bm__Status status, const char *message);
void bm_rpc_server_stats(struct bm_rpc_server *s, struct bm_rpc_stats *ret_stats);
/* Close the socket and wait for running callbacks. Every call handed to the
 * handler must have been replied to before this. Accepts NULL. */
void bm_rpc_server_stop(struct bm_rpc_server *s);

/* Map an nng error to -errno (exposed for tests). */
int bm_rpc_errno(int nng_err);
