/* Blob replication: every coordinator keeps the bytes of every image the
 * store marks stored, so an image outlives the node that took its upload.
 * A thread wakes after each applied batch (blob_sync_poke) and every
 * BLOB_SYNC_PERIOD_MS, finds stored images whose bytes are missing here,
 * and fetches them by digest (BlobGet, resumable, verified by blob_commit)
 * from the coordinators that recorded their API URL. */
#pragma once
#include <stdint.h>

#include "blob.h"
#include "bm/rpc.h"
#include "store.h"

#define BLOB_SYNC_PERIOD_MS 5000u

struct blob_sync;

/* creds: this node's TLS as a client of its peers (NULL: plaintext);
 * borrowed until blob_sync_stop. */
int blob_sync_start(struct store *s, struct blobstore *bs, uint64_t self_id,
                    struct bm_rpc_creds *creds, struct blob_sync **ret);
/* Any thread; cheap. */
void blob_sync_poke(struct blob_sync *b);
/* Joins the thread (a fetch in progress ends after its current chunk). */
void blob_sync_stop(struct blob_sync *b);
