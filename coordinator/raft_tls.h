/* Raft between coordinators over TLS with the fleet CA: a raft_uv_transport
 * of our own. libraft's raft_uv reads and writes the uv_stream_t a
 * transport hands it, and libuv has no stream type of ours to hand, and
 * this kernel has no kTLS (no "tls" TCP ULP), so each connection is
 * bridged: raft_uv gets one end of a socketpair, and the loop moves bytes
 * between the other end and the peer's TCP socket through OpenSSL (memory
 * BIOs, TLS 1.3). Both sides present a certificate of the CA (not revoked)
 * and must be a coordinator's; the dialer checks that the peer's
 * certificate names the address it dialed. After the handshake the dialer
 * sends its Raft id and address (the preamble raft_uv_tcp sends in the
 * clear), then raft's messages flow.
 *
 * Loop thread only. */
#pragma once
#include <raft/uv.h>
#include <stddef.h>

#include "bm/auth.h"
#include "bm/rpc.h"

#define RAFT_TLS_HANDSHAKE_MS 10000u /* a connection not through its handshake by then is closed   \
	                              */
#define RAFT_TLS_PENDING_MAX (64u << 20) /* bytes queued to one peer before it is dropped */

/* Make t a TLS transport with the CA, certificate and key of files (and
 * its CRL); v says who a peer is. Returns 0, or -errno with why. */
int raft_tls_init(struct raft_uv_transport *t, uv_loop_t *loop, const struct bm_rpc_tls *files,
                  struct bm_auth_verifier *v, char *err, size_t errlen);
/* Read the files again for the connections to come. Returns 0 or -errno. */
int raft_tls_reload(struct raft_uv_transport *t, const struct bm_rpc_tls *files, char *err,
                    size_t errlen);
/* Release, once the transport's close callback ran (raft_uv_close). */
void raft_tls_free(struct raft_uv_transport *t);
