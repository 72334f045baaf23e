/* The rack's image cache: DATA_DIR/cache/sha256/HEX holds verified images
 * only (what HTTP and TFTP serve); DATA_DIR/cache/partial/HEX the bytes of a
 * download so far. One thread of its own fetches every image the rack's
 * view names that is not held yet:
 *   - a pushed image from a peer agent of the site that holds it (over its
 *     HTTP /images/SHA256; the coordinator names them, or says wait while
 *     one of them fetches it), else from the coordinators' blob store; an
 *     image not pushed from its
 *     `url` with libcurl: http and https only, redirects too (at most
 *     CACHE_REDIRECTS_MAX, never to file:// or another protocol), and no
 *     more bytes than the image declares;
 *   - resumed from the partial file's length after a restart or an error;
 *   - verified against its sha256, fsync'd, then renamed into sha256/: a
 *     file there is never anything but the declared bytes;
 *   - within a size budget: the least recently used images that the view
 *     does not name are evicted to make room; one it names never is.
 * Each outcome becomes an EVENT_CACHE in the outbox ("ok NAME", "failed
 * NAME: why"), and `changed` is called so the agent re-registers with its
 * new cache state. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "bm/proto.h"

#define CACHE_CHUNK (1u << 20)   /* bytes per blob request */
#define CACHE_RETRY_MIN_MS 2000u /* after a failed download, doubling */
#define CACHE_IDLE_WAKE_MS 5000u /* nothing due: look again at most this late */
#define CACHE_RETRY_MAX_MS 300000u
#define CACHE_TOUCH_EVERY_MS 60000u /* a served image's mtime, at most this often */
#define CACHE_REDIRECTS_MAX 5L      /* redirects followed for an image url */
#define CACHE_PEERS_MAX 4u          /* peers tried per download */
#define CACHE_PEER_URL_MAX 128u

struct cache;
struct rackdb;

struct cache_opts {
	const char *dir; /* DATA_DIR/cache */
	uint64_t budget; /* bytes; 0: no limit */
	struct rackdb *db;
	const char *rack;
	/* Bytes from the coordinators (NULL: standalone, URLs only). */
	int (*blob_get)(void *arg, const uint8_t sha[32], uint64_t off, void *buf, size_t len,
	                size_t *ret_n, uint64_t *ret_size);
	void *blob_arg;
	/* Where a pushed image comes from (NULL: the coordinators): up to max
	 * peer URLs, or *wait_ms (ask again then), or neither. Returns 0 or
	 * -errno (then the coordinators). */
	int (*source)(void *arg, const uint8_t sha[32], char (*peers)[CACHE_PEER_URL_MAX],
	              size_t max, size_t *n, uint32_t *wait_ms);
	void *source_arg;
	/* The set of verified images changed (cache thread). */
	void (*changed)(void *arg);
	void *changed_arg;
};

int cache_start(const struct cache_opts *o, struct cache **ret);
/* The images the rack's view names: fetch those missing, keep them all.
 * Copied; any thread. */
void cache_want(struct cache *c, Bm__Image *const *images, size_t n);
/* An image was served: it was used now (for eviction order). */
void cache_touch(struct cache *c, const uint8_t sha[32]);
/* Fill info->cached (one allocation: free(info->cached)), cache_bytes and
 * cache_budget. Any thread. */
void cache_describe(struct cache *c, Bm__AgentInfo *info);
struct cache_stats {
	uint64_t fetched, failed, evicted, bytes_fetched, held, held_bytes;
	bool busy; /* a download in progress */
};
void cache_stats_get(struct cache *c, struct cache_stats *ret);
/* Stop the thread (a download in progress is cut, its partial file kept). */
void cache_stop(struct cache *c);
