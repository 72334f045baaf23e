/* When this coordinator last saw each agent, and at which view revision: a
 * bounded hash table of registered agents (an id the caller has not
 * checked as registered never enters it), shared by the nng threads that
 * see agents (Watch, ReportEvents, Register) and the loop that replicates
 * the sightings coarsely (api_agents.c: AgentsSeen). */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "bm/proto.h"

/* Agents tracked; beyond, the one seen longest ago is forgotten (it is
 * found again, through the store, at its next sighting). */
#define AGENTS_LIVE_MAX 16384u
/* A sighting is replicated at most this often per agent. */
#define AGENTS_SEEN_WRITE_MS 5000u
/* Sightings per AgentsSeen command. */
#define AGENTS_SEEN_BATCH_MAX 1024u

struct agents_live;

/* A table for up to `max` agents (1..AGENTS_LIVE_MAX). Returns 0 or
 * -EINVAL, -ENOMEM. */
int agents_live_new(unsigned max, struct agents_live **ret_table);
void agents_live_free(struct agents_live *t);
/* Agent `id` was seen at now_ms with its view at revision `rev` (0: not
 * told; now_ms 0: not seen, only its view known to be current at rev).
 * Returns 0, or -ENOENT when `id` is not in the table: the caller checks
 * that it is registered, then calls agents_live_add. Any thread. */
int agents_live_seen(struct agents_live *t, const char *id, uint64_t rev, uint64_t now_ms);
/* Enter a registered agent, seen at now_ms. Returns 0, -EINVAL (not a
 * valid id). */
int agents_live_add(struct agents_live *t, const char *id, uint64_t rev, uint64_t now_ms);
/* Last sighting of `id`: 0, or -ENOENT. */
int agents_live_get(struct agents_live *t, const char *id, uint64_t *ret_seen_ms,
                    uint64_t *ret_revision);
/* Sightings not yet replicated and at least AGENTS_SEEN_WRITE_MS newer than
 * the last one that was (or never replicated): up to `max` of them into
 * out[] (ids point into out_ids[i], 64 bytes each), marked as replicated.
 * Returns how many. */
size_t agents_live_due(struct agents_live *t, Bm__AgentSeen *out, char (*out_ids)[64], size_t max);
/* Agents in the table. */
size_t agents_live_count(struct agents_live *t);
