#include "cache.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bm/log.h"
#include "bm/sha256.h"
#include "bm/util.h"
#include "bm/worker.h"
#include "rackdb.h"

struct want {
	uint8_t sha[BM_SHA256_LEN];
	uint64_t size;
	char name[64];
	char url[512];
	bool stored;
	bool skip_peers;   /* peers' bytes failed verification: the coordinators' */
	uint64_t retry_at; /* monotonic ms: not before, after a failure */
	uint64_t retry_ms; /* the next wait after a failure */
};

struct held {
	uint8_t sha[BM_SHA256_LEN];
	uint64_t size;
	time_t mtime;
};

struct cache {
	struct cache_opts o;
	char dir[4096];
	int blobs_fd, partial_fd;
	struct bm_worker w; /* one thread; its mutex guards what follows */
	struct want *want;  /* under w's mutex */
	size_t n_want;
	struct held *held; /* under the mutex: the verified files */
	size_t n_held;
	struct cache_stats st; /* under the mutex */
	struct {
		uint8_t sha[BM_SHA256_LEN];
		uint64_t at;
	} touched[64];    /* under the mutex */
	uint32_t wait_ms; /* the thread's: a peer fetches what download waits for */
};

static bool
stopping(struct cache *c)
{
	return bm_worker_stopping(&c->w);
}

/* --------------------------------------------------------------- events */

/* "ok NAME" when why is NULL, else "failed NAME: why". */
static void
event(struct cache *c, const char *name, const char *why)
{
	static const uint8_t none[6];
	struct rackdb_batch *b;
	char detail[400];

	if (why)
		snprintf(detail, sizeof(detail), "failed %s: %s", name, why);
	else
		snprintf(detail, sizeof(detail), "ok %s", name);
	if (!c->o.db || rackdb_batch_begin(c->o.db, &b) < 0)
		return;
	/* The agent's own event, not a machine's: no MAC (all zero). */
	if (rackdb_event_add(b, BM__EVENT_KIND__EVENT_CACHE, none, 0, bm_wall_ms(), c->o.rack,
	                     detail) == 0)
		rackdb_batch_commit(b);
	else
		rackdb_batch_abort(b);
}

/* ------------------------------------------------------------ the index */

static int
held_cmp(const void *a, const void *b)
{
	const struct held *x = a, *y = b;
	return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Read sha256/ into c->held, oldest first. */
static int
scan(struct cache *c)
{
	int fd = dup(c->blobs_fd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct held *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;
	uint64_t bytes = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	rewinddir(d);
	while ((e = readdir(d))) {
		struct stat st;
		uint8_t sha[BM_SHA256_LEN];
		if (bm_sha256_parse(e->d_name, sha) < 0 ||
		    fstatat(c->blobs_fd, e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			struct held *nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));
			if (!nv)
				break;
			v = nv;
		}
		memcpy(v[n].sha, sha, BM_SHA256_LEN);
		v[n].size = (uint64_t)st.st_size;
		v[n].mtime = st.st_mtime;
		bytes += v[n].size;
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), held_cmp);
	bm_worker_lock(&c->w);
	free(c->held);
	c->held = v;
	c->n_held = n;
	c->st.held = n;
	c->st.held_bytes = bytes;
	bm_worker_unlock(&c->w);
	return 0;
}

static bool
is_held(struct cache *c, const uint8_t sha[BM_SHA256_LEN])
{
	bool h = false;
	bm_worker_lock(&c->w);
	for (size_t i = 0; i < c->n_held && !h; i++)
		h = !memcmp(c->held[i].sha, sha, BM_SHA256_LEN);
	bm_worker_unlock(&c->w);
	return h;
}

static bool
is_wanted_locked(struct cache *c, const uint8_t sha[BM_SHA256_LEN])
{
	for (size_t i = 0; i < c->n_want; i++)
		if (!memcmp(c->want[i].sha, sha, BM_SHA256_LEN))
			return true;
	return false;
}

/* Make room for `need` more bytes: evict the least recently used images
 * that no profile of the rack names. Returns 0, or -ENOSPC when even that
 * is not enough. */
static int
make_room(struct cache *c, uint64_t need)
{
	char hex[BM_SHA256_HEX];
	int r = 0;

	if (!c->o.budget)
		return 0;
	scan(c);
	bm_worker_lock(&c->w);
	uint64_t used = c->st.held_bytes;
	for (size_t i = 0; i < c->n_held && used + need > c->o.budget; i++) {
		if (is_wanted_locked(c, c->held[i].sha))
			continue; /* never: the rack boots from it */
		if (unlinkat(c->blobs_fd, bm_sha256_hex(c->held[i].sha, hex), 0) == 0) {
			used -= c->held[i].size;
			c->st.evicted++;
			BM_INFO("cache", "evicted sha256=%s bytes=%llu", hex,
			        (unsigned long long)c->held[i].size);
		}
	}
	if (used + need > c->o.budget)
		r = -ENOSPC;
	bm_worker_unlock(&c->w);
	scan(c);
	return r;
}

/* ------------------------------------------------------------- fetching */

struct sink {
	struct cache *c;
	int fd;
	uint64_t off;   /* bytes in the partial file */
	uint64_t limit; /* the declared size (0: unknown) */
	int err;
	bool from_peer; /* some bytes came from a peer agent */
};

static int
sink_write(struct sink *k, const void *p, size_t n)
{
	if (k->limit && k->off + n > k->limit) {
		k->err = -EFBIG; /* more than declared: not these bytes */
		return k->err;
	}
	for (size_t done = 0; done < n;) {
		ssize_t w = write(k->fd, (const char *)p + done, n - done);
		if (w < 0) {
			k->err = -errno;
			return k->err;
		}
		done += (size_t)w;
	}
	k->off += n;
	return 0;
}

static int
fetch_blob(struct cache *c, const struct want *w, struct sink *k)
{
	uint8_t *buf = malloc(CACHE_CHUNK);
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (!stopping(c)) {
		size_t n = 0;
		uint64_t size = 0;
		if ((r = c->o.blob_get(c->o.blob_arg, w->sha, k->off, buf, CACHE_CHUNK, &n,
		                       &size)) < 0)
			break;
		if (w->size && size != w->size) {
			r = -EMSGSIZE;
			break;
		}
		if (n == 0 || (r = sink_write(k, buf, n)) < 0 || k->off >= size)
			break;
	}
	free(buf);
	return stopping(c) ? -ECANCELED : r;
}

static size_t
curl_write_cb(char *p, size_t sz, size_t nmemb, void *arg)
{
	struct sink *k = arg;
	return sink_write(k, p, sz * nmemb) == 0 ? sz * nmemb : 0;
}

static int
curl_progress_cb(void *arg, curl_off_t a, curl_off_t b, curl_off_t x, curl_off_t y)
{
	(void)a, (void)b, (void)x, (void)y;
	return stopping(((struct sink *)arg)->c) ? 1 : 0;
}

static int
fetch_url(struct cache *c, const char *url, struct sink *k, char *why, size_t wlen)
{
	CURL *h = curl_easy_init();
	long status = 0;
	CURLcode cc;

	if (!h)
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, curl_progress_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, k);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	/* http and https only, redirects included: a source (or whoever answers
	 * for it) must not make the agent read file:// or speak other protocols. */
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, CACHE_REDIRECTS_MAX);
	if (k->limit) /* the declared size bounds the body (sink_write checks too) */
		curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)(k->limit - k->off));
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L); /* < 1 KiB/s for 30 s: stalled */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (k->off)
		curl_easy_setopt(h, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)k->off);
	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (cc == CURLE_OK)
		return 0;
	snprintf(why, wlen, "%s (HTTP %ld)", curl_easy_strerror(cc), status);
	return k->err ? k->err : stopping(c) ? -ECANCELED : -EIO;
}

/* From peers of the site that hold it (site-local fill), each in turn,
 * resuming where the last stopped. Returns 0, -EAGAIN (a peer is fetching
 * it: c->wait_ms), -ENOENT (the coordinators': no peer, or none served). */
static int
fetch_peers(struct cache *c, const struct want *w, struct sink *k)
{
	char peers[CACHE_PEERS_MAX][CACHE_PEER_URL_MAX], url[CACHE_PEER_URL_MAX + 80];
	char hex[BM_SHA256_HEX], why[320];
	size_t n = 0;

	c->wait_ms = 0;
	if (!c->o.source || w->skip_peers ||
	    c->o.source(c->o.source_arg, w->sha, peers, CACHE_PEERS_MAX, &n, &c->wait_ms) < 0)
		return -ENOENT;
	if (!n)
		return c->wait_ms ? -EAGAIN : -ENOENT;
	for (size_t i = 0; i < n && !stopping(c); i++) {
		snprintf(url, sizeof(url), "%s/images/%s", peers[i], bm_sha256_hex(w->sha, hex));
		k->from_peer = true;
		*why = '\0';
		if (fetch_url(c, url, k, why, sizeof(why)) == 0) {
			BM_INFO("cache", "fetched from a peer image=%s peer=%s", w->name, peers[i]);
			return 0;
		}
		BM_WARN("cache", "peer failed image=%s peer=%s err=\"%s\"", w->name, peers[i], why);
	}
	return stopping(c) ? -ECANCELED : -ENOENT;
}

/* From a peer, else the coordinators (a pushed image), else its url. */
static int
fetch_any(struct cache *c, const struct want *w, struct sink *k, char *why, size_t wlen)
{
	int r;

	if (w->stored && c->o.blob_get) {
		if ((r = fetch_peers(c, w, k)) != -ENOENT)
			return r;
		return fetch_blob(c, w, k);
	}
	return *w->url ? fetch_url(c, w->url, k, why, wlen) : -ENOENT;
}

/* The partial file verified: into sha256/, durably. */
static int
verify_and_keep(struct cache *c, const struct want *w, int fd, char *why, size_t wlen)
{
	uint8_t got[BM_SHA256_LEN];
	char hex[BM_SHA256_HEX], ghex[BM_SHA256_HEX];
	uint64_t size;
	int r;

	bm_sha256_hex(w->sha, hex);
	if (fsync(fd) < 0 || (r = bm_sha256_fd(fd, got, &size)) < 0)
		return -errno;
	if (memcmp(got, w->sha, BM_SHA256_LEN) || (w->size && size != w->size)) {
		snprintf(why, wlen, "digest mismatch: got sha256 %s, %llu bytes",
		         bm_sha256_hex(got, ghex), (unsigned long long)size);
		unlinkat(c->partial_fd, hex, 0); /* never served, and not resumed */
		return -EBADMSG;
	}
	if (renameat(c->partial_fd, hex, c->blobs_fd, hex) < 0 || fsync(c->blobs_fd) < 0)
		return -errno;
	return 0;
}

/* A peer's bytes failed verification: the next try is the coordinators'. */
static void
skip_peers(struct cache *c, const uint8_t sha[BM_SHA256_LEN])
{
	bm_worker_lock(&c->w);
	for (size_t i = 0; i < c->n_want; i++)
		if (!memcmp(c->want[i].sha, sha, BM_SHA256_LEN))
			c->want[i].skip_peers = true;
	bm_worker_unlock(&c->w);
}

static int
download(struct cache *c, const struct want *w, char *why, size_t wlen)
{
	char hex[BM_SHA256_HEX];
	struct sink k = { c, -1, 0, w->size, 0, false };
	struct stat st;
	int r;

	bm_sha256_hex(w->sha, hex);
	k.fd = openat(c->partial_fd, hex, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (k.fd < 0 || fstat(k.fd, &st) < 0) {
		snprintf(why, wlen, "partial file: %s", strerror(errno));
		if (k.fd >= 0)
			close(k.fd);
		return -errno;
	}
	k.off = (uint64_t)st.st_size;
	if (w->size && k.off > w->size) {
		if (ftruncate(k.fd, 0) < 0) {
			close(k.fd);
			return -errno;
		}
		k.off = 0;
	}
	if (k.off)
		BM_INFO("cache", "resuming image=%s offset=%llu", w->name,
		        (unsigned long long)k.off);
	if (!w->size || k.off < w->size) {
		if ((r = fetch_any(c, w, &k, why, wlen)) == -EAGAIN) {
			close(k.fd);
			return r;
		}
		if (r < 0 && !*why)
			snprintf(why, wlen, "%s",
			         r == -ENOENT     ? "no source: not pushed and no url"
			         : r == -EFBIG    ? "the source sent more bytes than declared"
			         : r == -EMSGSIZE ? "the source holds a blob of another size"
			                          : strerror(-r));
		if (r < 0) {
			close(k.fd);
			return r;
		}
	}
	bm_worker_lock(&c->w);
	c->st.bytes_fetched += k.off - (uint64_t)st.st_size;
	bm_worker_unlock(&c->w);
	r = verify_and_keep(c, w, k.fd, why, wlen);
	close(k.fd);
	if (r == -EBADMSG && k.from_peer)
		skip_peers(c, w->sha);
	return r;
}

/* ---------------------------------------------------------------- thread */

/* The next wanted image to fetch (copied), or false with *ret_wait_ms
 * until the first retry comes due (at most CACHE_IDLE_WAKE_MS). */
static bool
next_job(struct cache *c, struct want *out, unsigned *ret_wait_ms)
{
	uint64_t now = bm_mono_ms(), due = now + CACHE_IDLE_WAKE_MS;
	bool found = false;

	bm_worker_lock(&c->w);
	for (size_t i = 0; i < c->n_want && !found; i++) {
		bool held = false;
		for (size_t j = 0; j < c->n_held && !held; j++)
			held = !memcmp(c->held[j].sha, c->want[i].sha, BM_SHA256_LEN);
		if (!held && c->want[i].retry_at <= now) {
			*out = c->want[i];
			found = true;
		} else if (!held && c->want[i].retry_at < due) {
			due = c->want[i].retry_at;
		}
	}
	bm_worker_unlock(&c->w);
	*ret_wait_ms = due > now ? (unsigned)(due - now) : 1;
	return found;
}

/* After a failure (backoff, wait_ms 0) or while a peer fetches it. */
static void
retry_later(struct cache *c, const uint8_t sha[BM_SHA256_LEN], uint32_t wait_ms)
{
	bm_worker_lock(&c->w);
	for (size_t i = 0; i < c->n_want; i++) {
		struct want *w = &c->want[i];
		if (memcmp(w->sha, sha, BM_SHA256_LEN))
			continue;
		if (wait_ms) {
			w->retry_at = bm_mono_ms() + wait_ms;
			continue;
		}
		w->retry_ms = w->retry_ms ? w->retry_ms * 2 : CACHE_RETRY_MIN_MS;
		if (w->retry_ms > CACHE_RETRY_MAX_MS)
			w->retry_ms = CACHE_RETRY_MAX_MS;
		w->retry_at = bm_mono_ms() + w->retry_ms;
	}
	c->st.failed += !wait_ms;
	bm_worker_unlock(&c->w);
}

static void
run_job(struct cache *c, const struct want *w)
{
	char why[320] = "";
	int r;

	if (is_held(c, w->sha))
		return;
	if (make_room(c, w->size) < 0) {
		event(c, w->name, "larger than the room the cache budget leaves");
		retry_later(c, w->sha, 0);
		return;
	}
	bm_worker_lock(&c->w);
	c->st.busy = true;
	bm_worker_unlock(&c->w);
	r = download(c, w, why, sizeof(why));
	bm_worker_lock(&c->w);
	c->st.busy = false;
	bm_worker_unlock(&c->w);
	if (r == -ECANCELED || r == -ESHUTDOWN)
		return;
	if (r == -EAGAIN) { /* a peer of the site is fetching it */
		BM_DEBUG("cache", "waiting for a peer image=%s ms=%u", w->name, c->wait_ms);
		retry_later(c, w->sha, c->wait_ms);
		return;
	}
	if (r < 0) {
		BM_WARN("cache", "download failed image=%s err=\"%s\"", w->name, why);
		event(c, w->name, why);
		retry_later(c, w->sha, 0);
		return;
	}
	scan(c);
	bm_worker_lock(&c->w);
	c->st.fetched++;
	bm_worker_unlock(&c->w);
	BM_INFO("cache", "verified image=%s bytes=%llu", w->name, (unsigned long long)w->size);
	event(c, w->name, NULL);
	if (c->o.changed)
		c->o.changed(c->o.changed_arg);
}

static void
cache_main(void *arg, unsigned index)
{
	struct cache *c = arg;
	struct want w;
	unsigned wait_ms;

	(void)index;
	while (!stopping(c)) {
		if (next_job(c, &w, &wait_ms))
			run_job(c, &w);
		else /* woken sooner by a change of the images wanted */
			bm_worker_wait(&c->w, wait_ms);
	}
}

/* ------------------------------------------------------------------ api */

/* The same images, in the same order, each as fetchable as before? */
static bool
wants_same(const struct want *a, size_t na, const struct want *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (memcmp(a[i].sha, b[i].sha, BM_SHA256_LEN) || a[i].size != b[i].size ||
		    a[i].stored != b[i].stored || strcmp(a[i].name, b[i].name) ||
		    strcmp(a[i].url, b[i].url))
			return false;
	return true;
}

void
cache_want(struct cache *c, Bm__Image *const *images, size_t n)
{
	struct want *v = calloc(n + 1, sizeof(*v));
	size_t k = 0;

	if (!c || !v) {
		free(v);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const Bm__Image *im = images[i];
		if (im->sha256.len != BM_SHA256_LEN)
			continue;
		memcpy(v[k].sha, im->sha256.data, BM_SHA256_LEN);
		v[k].size = im->size;
		v[k].stored = im->stored;
		snprintf(v[k].name, sizeof(v[k].name), "%s", im->name);
		snprintf(v[k].url, sizeof(v[k].url), "%s", im->url ? im->url : "");
		k++;
	}
	bm_worker_lock(&c->w);
	for (size_t i = 0; i < k; i++) /* a failing image keeps its backoff */
		for (size_t j = 0; j < c->n_want; j++)
			if (!memcmp(v[i].sha, c->want[j].sha, BM_SHA256_LEN)) {
				v[i].retry_at = c->want[j].retry_at;
				v[i].retry_ms = c->want[j].retry_ms;
				v[i].skip_peers = c->want[j].skip_peers;
			}
	/* Every view change comes here (a machine's state, a profile): the
	 * worker is woken only when its images did change. */
	if (!wants_same(v, k, c->want, c->n_want))
		bm_worker_kick_locked(&c->w);
	free(c->want);
	c->want = v;
	c->n_want = k;
	bm_worker_unlock(&c->w);
}

void
cache_touch(struct cache *c, const uint8_t sha[BM_SHA256_LEN])
{
	uint64_t now = bm_mono_ms();
	size_t slot = sha[0] % BM_ARRAY_SIZE(c->touched);
	char hex[BM_SHA256_HEX];

	if (!c)
		return;
	bm_worker_lock(&c->w);
	bool due = memcmp(c->touched[slot].sha, sha, BM_SHA256_LEN) ||
	           now - c->touched[slot].at >= CACHE_TOUCH_EVERY_MS;
	if (due) {
		memcpy(c->touched[slot].sha, sha, BM_SHA256_LEN);
		c->touched[slot].at = now;
	}
	bm_worker_unlock(&c->w);
	if (due) /* the file's mtime is its last use: eviction goes by it */
		utimensat(c->blobs_fd, bm_sha256_hex(sha, hex), NULL, 0);
}

void
cache_describe(struct cache *c, Bm__AgentInfo *info)
{
	bm_worker_lock(&c->w);
	size_t n = c->n_held;
	ProtobufCBinaryData *v = malloc((n + 1) * (sizeof(*v) + BM_SHA256_LEN));
	if (v) {
		uint8_t *d = (uint8_t *)(v + n + 1);
		for (size_t i = 0; i < n; i++) {
			memcpy(d + i * BM_SHA256_LEN, c->held[i].sha, BM_SHA256_LEN);
			v[i].data = d + i * BM_SHA256_LEN;
			v[i].len = BM_SHA256_LEN;
		}
		info->cached = v;
		info->n_cached = n;
	}
	info->cache_bytes = c->st.held_bytes;
	info->cache_budget = c->o.budget;
	bm_worker_unlock(&c->w);
}

void
cache_stats_get(struct cache *c, struct cache_stats *ret)
{
	bm_worker_lock(&c->w);
	*ret = c->st;
	bm_worker_unlock(&c->w);
}

static int
open_sub(const char *dir, const char *name)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return -errno;
	int fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int
cache_start(const struct cache_opts *o, struct cache **ret)
{
	struct cache *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->o = *o;
	snprintf(c->dir, sizeof(c->dir), "%s", o->dir);
	c->o.dir = c->dir;
	c->blobs_fd = c->partial_fd = -1;
	bm_worker_init(&c->w);
	bm_worker_name(&c->w, "cache");
	if (mkdir(c->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	if ((r = c->blobs_fd = open_sub(c->dir, "sha256")) < 0 ||
	    (r = c->partial_fd = open_sub(c->dir, "partial")) < 0 || (r = scan(c)) < 0)
		goto fail;
	if ((r = bm_worker_start(&c->w, 1, cache_main, c)) < 0)
		goto fail;
	*ret = c;
	return 0;
fail:
	cache_stop(c);
	return r;
}

void
cache_stop(struct cache *c)
{
	if (!c)
		return;
	bm_worker_stop(&c->w);
	if (c->blobs_fd >= 0)
		close(c->blobs_fd);
	if (c->partial_fd >= 0)
		close(c->partial_fd);
	bm_worker_fini(&c->w);
	free(c->want);
	free(c->held);
	free(c);
}
