/* The API envelope over nng req/rep: Request/Response protobufs carrying a
 * protocol version, a request id, a status and a message. This is the only
 * module that sees NNG_E* codes; they leave it as negative errno. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/proto.h"

/* Largest message either side accepts: a 100k-machine Apply is ~10 MiB. */
#define BM_RPC_MSG_MAX (64u << 20)
/* Server contexts: requests in flight at once per coordinator. Every
 * agent's long-poll holds one while it waits, and one its agent gave up on
 * (a timeout in a storm) holds it until the wait ends: 1,000 agents
 * watching one coordinator exhausted 1,024 and every other request
 * waited. ~1 KiB each (RSS 10.7 MB at 1,024, 26.8 MB at 16,384). */
#define BM_RPC_CONTEXTS_DEFAULT 4096u
#define BM_RPC_CONTEXTS_MAX 16384u

/* ------------------------------------------------------------------ TLS */

/* The TLS of a program: the fleet CA, its certificate and key (PEM files);
 * for a server, the CRL too (optional). */
struct bm_rpc_tls {
	const char *ca, *cert, *key, *crl;
};
/* Loaded credentials, shared by a program's clients (or its server). A
 * client's also make the token each request carries (bm/auth.h). */
struct bm_rpc_creds;
int bm_rpc_creds_new(const struct bm_rpc_tls *t, bool server, struct bm_rpc_creds **ret, char *err,
                     size_t errlen);
void bm_rpc_creds_free(struct bm_rpc_creds *cr);
/* Read the files again (a renewed certificate, a new CRL): connections
 * made after it present the new certificate, and a client's requests carry
 * tokens of it at once. On failure the old stay. Returns 0, -EINVAL with
 * why, -ENOMEM. */
int bm_rpc_creds_reload(struct bm_rpc_creds *cr, char *err, size_t errlen);
/* A tls+tcp:// URL. */
bool bm_rpc_url_tls(const char *url);

/* ---------------------------------------------------------------- client */

struct bm_rpc_client;

/* Dial `url` (tcp://host:port, ipc://path, tls+tcp://host:port) in the
 * background: a call waits for the connection up to its timeout. With
 * creds (borrowed, must outlive the client), calls carry the token, and a
 * tls+tcp:// URL is reached over TLS (the coordinator's certificate must
 * name the URL's host); a tls+tcp:// URL without creds is -EINVAL. Returns
 * 0 or -errno (-EINVAL for a malformed URL). */
int bm_rpc_client_open(const char *url, struct bm_rpc_creds *creds,
                       struct bm_rpc_client **ret_client);
/* The same, but connected now, within timeout_ms (0: no limit):
 * -ECONNREFUSED (or another -errno) at once when nobody listens there, so a
 * caller with other URLs moves on; -EACCES when the TLS handshake fails (a
 * certificate refused either way); -ETIMEDOUT when the connection is not up
 * in time (a listener that took it but never speaks). */
int bm_rpc_client_connect(const char *url, struct bm_rpc_creds *creds, int timeout_ms,
                          struct bm_rpc_client **ret_client);
void bm_rpc_client_free(struct bm_rpc_client *c);
/* The client has a connection up (its TLS handshake done): a call that
 * timed out on it met a slow server, not a missing one. */
bool bm_rpc_client_up(struct bm_rpc_client *c);
/* Its credentials were reloaded since it dialed: its socket dials again
 * with the old certificate (nng keeps a dialer's TLS configuration), so a
 * caller wanting the new one opens a new client. */
bool bm_rpc_client_stale(struct bm_rpc_client *c);
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

/* The listener's watchdog (nng 1.5.2's listener can stop accepting for
 * good: lib/rpc_listen.c). After BM_RPC_LISTEN_CHECK_MS in which no
 * connection was accepted, the server pings itself over a connection of
 * its own; when that connection has been up BM_RPC_LISTEN_PROBE_MS and no
 * connection at all was accepted meanwhile, it listens again (its
 * connections are closed: clients reconnect). */
#define BM_RPC_LISTEN_CHECK_MS 5000u
/* The accept of a negotiated connection is nng's, not the server loop's:
 * a listener that took none, its watchdog's included, for 5 s after that
 * connection came up is deaf (at 30 s, 1,000 agents starting spent 35 s a
 * time waiting on a deaf follower). */
#define BM_RPC_LISTEN_PROBE_MS 5000u

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
	uint64_t listen_restarts; /* by the listener's watchdog */
};

/* Listen on url with `nctx` concurrent contexts; a tls+tcp:// URL needs
 * server creds (borrowed until stop or the next bm_rpc_server_set_tls),
 * and every client must present a certificate of the CA, not revoked.
 * Returns 0 or -errno (-EADDRINUSE, -EINVAL). */
int bm_rpc_server_start(const char *url, unsigned nctx, bm_rpc_handler_fn fn, void *arg,
                        struct bm_rpc_creds *creds, struct bm_rpc_server **ret_server);
/* Listen again with new creds (a renewed certificate, a new CRL): the
 * connections open are closed, clients reconnect. Returns 0 or -errno
 * (the old listener then goes on). */
int bm_rpc_server_set_tls(struct bm_rpc_server *s, struct bm_rpc_creds *creds);
/* The address the call's request came from ("10.0.0.5:41234", "ipc"),
 * into buf. */
const char *bm_rpc_call_peer(const struct bm_rpc_call *call, char *buf, size_t len);
/* Who sent the call's request, as the handler established it ("operator
 * alice (admin)"): set once authorized, read by whatever answers later. */
#define BM_RPC_WHO_MAX 160u
void bm_rpc_call_set_who(struct bm_rpc_call *call, const char *who);
const char *bm_rpc_call_who(const struct bm_rpc_call *call);
/* The connection the request came on has closed: its answer would go
 * nowhere (a handler holding the call may answer it at once, cheaply). */
bool bm_rpc_call_gone(const struct bm_rpc_call *call);
/* Answer a call. `resp` is borrowed; version and id are filled in here. */
void bm_rpc_reply(struct bm_rpc_call *call, Bm__Response *resp);
/* Answer with a Response packed once for many calls (bm__response__pack):
 * the call's id and version are added to a copy of those bytes. */
void bm_rpc_reply_packed(struct bm_rpc_call *call, const uint8_t *packed, size_t len);
/* Reply with only a status and message. */
void bm_rpc_reply_status(struct bm_rpc_call *call, Bm__Status status, const char *message);
void bm_rpc_server_stats(struct bm_rpc_server *s, struct bm_rpc_stats *ret_stats);
/* Close the socket and wait for running callbacks. Every call handed to the
 * handler must have been replied to before this. Accepts NULL. */
void bm_rpc_server_stop(struct bm_rpc_server *s);

/* Map an nng error to -errno (exposed for tests). */
int bm_rpc_errno(int nng_err);
