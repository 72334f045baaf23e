/* The recent changes, grouped by rack once per commit, so that a commit's
 * fan-out and an agent that is behind never re-read and unpack the change
 * log once per agent.
 *
 * Each entry holds the keys changed in revisions (from, to] that a rack
 * agent may see (agents and operations are in no rack's view), sorted by
 * (rack, kind, name) and unique; rack "" is every rack's (profiles,
 * images, sites). The index holds a contiguous run of entries; the oldest
 * go when it holds more than max_keys keys or max_entries entries.
 *
 * Pure: no locking, no store, no clock. The caller (watch.c) locks. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/proto.h"

/* Keys and commits kept (watch_index_new's defaults): a 100,000-machine
 * change is one commit of 100,000 keys; an agent behind further than what
 * is kept is answered from the log (watch_build). */
#define WATCH_INDEX_KEYS 1000000u
#define WATCH_INDEX_ENTRIES 4096u

struct watch_key {
	Bm__Kind kind;
	char *name;
};

struct watch_index;

int watch_index_new(size_t max_keys, size_t max_entries, struct watch_index **ret_index);
void watch_index_free(struct watch_index *x);
/* Add the changes of revisions (from, to], sets[i] being revision
 * from + 1 + i's (NULL: none). When from is not the last revision held
 * (a gap, a store reset), what was held is dropped first. Returns 0 or
 * -ENOMEM (the index is then empty). */
int watch_index_add(struct watch_index *x, uint64_t from, uint64_t to, Bm__ChangeSet *const *sets,
                    size_t n_sets);
/* Revisions held: every change in (first, last]. first == last: none. */
uint64_t watch_index_first(const struct watch_index *x);
uint64_t watch_index_last(const struct watch_index *x);
/* Whether a key in (since, until] concerns the rack: its own or every
 * rack's. since below first counts as concerned (not known). */
bool watch_index_touches(const struct watch_index *x, const char *rack, uint64_t since,
                         uint64_t until);
/* Whether the rack has keys of its own in (since, until]: without, its
 * answer is the same as every other such rack's. */
bool watch_index_rack_touched(const struct watch_index *x, const char *rack, uint64_t since,
                              uint64_t until);
/* Append the keys concerning the rack in (since, until] (copies) to the
 * array *keys of *n (capacity *cap), unsorted, maybe repeated: the caller
 * sorts (watch_keys_sort_unique). -ERANGE when since < first or until >
 * last: the caller reads the log. */
int watch_index_keys(const struct watch_index *x, const char *rack, uint64_t since, uint64_t until,
                     struct watch_key **keys, size_t *n, size_t *cap);
/* Append one key (a copy of name). 0 or -ENOMEM. */
int watch_keys_push(struct watch_key **keys, size_t *n, size_t *cap, Bm__Kind kind,
                    const char *name);
/* Sort by (kind, name) and drop repeats; returns the new count. */
size_t watch_keys_sort_unique(struct watch_key *keys, size_t n);
void watch_keys_free(struct watch_key *keys, size_t n);
