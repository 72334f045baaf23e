/* Private to the RPC module (rpc_*.c). */
#pragma once
#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdbool.h>

#include "bm/auth.h"
#include "bm/rpc.h"

/* A TLS configuration of creds for a dialer to `url` (the server's name
 * to check is its host) or for a listener. Returns 0 or an NNG error. */
int rpc_tls_config(struct bm_rpc_creds *cr, const char *url, nng_tls_config **ret);
/* Put the client's token into req (tok holds its bytes; cr may be NULL). */
void rpc_tls_stamp(struct bm_rpc_creds *cr, Bm__Request *req, struct bm_auth_token *tok);
