/* Boot progress for the outbox: a known machine's TFTP and HTTP fetches.
 * At most one event per (MAC, kind, what) a second, queued in memory and
 * committed in one transaction every PROGRESS_FLUSH_MS, so a busy HTTP
 * route never costs an fsync a request. A crash may lose the last moments
 * of progress; callbacks never take this path (they are durable before
 * their answer). Loop thread only. */
#pragma once
#include <ev.h>
#include <stdint.h>

#include "bm/proto.h"

#define PROGRESS_FLUSH_MS 50u
#define PROGRESS_QUEUE_MAX 4096u /* beyond, new events are dropped and counted */
#define PROGRESS_DETAIL_MAX 160u

struct rackdb;
struct progress;

int progress_new(struct ev_loop *loop, struct rackdb *db, const char *rack, struct progress **ret);
void progress_add(struct progress *p, Bm__EventKind kind, const uint8_t mac[6], uint32_t ip,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
uint64_t progress_dropped(const struct progress *p);
/* Commit what is queued, stop the timer and free; accepts NULL. */
void progress_free(struct progress *p);
