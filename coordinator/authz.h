/* Who may do what, from the sender's certificate (bm/auth.h). Pure: the
 * request and the identity in, a decision out.
 *   viewer    reads everything but secrets (Get, List, Status, Trace, Op
 *             get/list, cluster status, audit);
 *   operator  also reimage, cancel, machine add, delete machine;
 *   admin     also apply fleets, push images, delete anything, change
 *             cluster membership;
 *   agent     Register, Watch, ReportEvents and BlobGet, for the rack of its
 *             certificate only;
 *   coordinator (a peer) acts as admin, and fetches blobs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "bm/auth.h"
#include "bm/proto.h"

/* The request's name in refusals ("apply", "cluster add", ...). */
const char *authz_request_name(const Bm__Request *req);
/* A request that changes state (an operator's or admin's, an agent's
 * registration or report): a refusal of one goes to the audit log. */
bool authz_is_write(const Bm__Request *req);
/* 0 when `id` may send `req`, or -EACCES with why ("apply needs role admin,
 * you are operator"; "agent r11a is for rack rack11, not rack12"). */
int authz_check(const struct bm_identity *id, const Bm__Request *req, char *why, size_t len);
