#include "blob_sync.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/log.h"
#include "bm/rpc.h"
#include "bm/sha256.h"
#include "bm/worker.h"

#define FETCH_CHUNK (1u << 20)
#define FETCH_TIMEOUT_MS 10000
#define MISSING_MAX 64u

struct blob_sync {
	struct store *store;
	struct blobstore *bs;
	uint64_t self;
	struct bm_rpc_creds *creds;
	struct bm_worker w; /* one thread; a poke is a kick */
};

struct missing {
	uint8_t sha[32];
	uint64_t size;
};

/* Stored images whose bytes are not here (at most MISSING_MAX a pass). */
static size_t
find_missing(struct blob_sync *b, struct missing *out)
{
	Bm__ListRequest q = BM__LIST_REQUEST__INIT;
	struct store_read *rd;
	char after[128] = "";
	size_t n = 0;

	q.kind = BM__KIND__KIND_IMAGE;
	do {
		Bm__ListResult *l = NULL;
		q.after = after;
		if (store_read_begin(b->store, &rd) < 0)
			return n;
		int r = store_list(rd, &q, &l);
		store_read_end(rd);
		if (r < 0)
			return n;
		for (size_t i = 0; i < l->n_items && n < MISSING_MAX; i++) {
			const Bm__Image *im = l->items[i]->image;
			if (im && im->stored && im->sha256.len == 32 &&
			    !blob_has(b->bs, im->sha256.data)) {
				memcpy(out[n].sha, im->sha256.data, 32);
				out[n++].size = im->size;
			}
		}
		snprintf(after, sizeof(after), "%s", l->next);
		bm__list_result__free_unpacked(l, NULL);
	} while (after[0] && n < MISSING_MAX);
	return n;
}

/* Fetch one blob from the coordinator at url. Returns 0 or -errno. */
static int
fetch(struct blob_sync *b, const char *url, const struct missing *m)
{
	struct bm_rpc_client *cl;
	uint64_t off = 0;
	int r;

	if ((r = bm_rpc_client_open(url, b->creds, &cl)) < 0)
		return r;
	if ((r = blob_begin(b->bs, m->sha, m->size, &off)) < 0)
		goto out;
	while (off < m->size && !bm_worker_stopping(&b->w)) {
		Bm__Request req = BM__REQUEST__INIT;
		Bm__BlobGetRequest q = BM__BLOB_GET_REQUEST__INIT;
		Bm__Response *resp;
		q.sha256.data = (uint8_t *)m->sha;
		q.sha256.len = 32;
		q.offset = off;
		q.length = FETCH_CHUNK;
		req.body_case = BM__REQUEST__BODY_BLOB_GET;
		req.blob_get = &q;
		if ((r = bm_rpc_call(cl, &req, FETCH_TIMEOUT_MS, &resp)) < 0)
			break;
		if (resp->status != BM__STATUS__STATUS_OK || !resp->blob_get ||
		    !resp->blob_get->data.len) {
			bm__response__free_unpacked(resp, NULL);
			r = -ENOENT;
			break;
		}
		r = blob_write(b->bs, m->sha, off, resp->blob_get->data.data,
		               resp->blob_get->data.len);
		off += resp->blob_get->data.len;
		bm__response__free_unpacked(resp, NULL);
		if (r < 0)
			break;
	}
	if (r == 0 && off == m->size)
		r = blob_commit(b->bs, m->sha, m->size);
	else if (r == 0)
		r = -ECANCELED;
out:
	bm_rpc_client_free(cl);
	return r;
}

struct fetch_ctx {
	struct blob_sync *b;
	const struct missing *m;
	bool done;
};

static void
try_url(void *arg, uint64_t id, const char *url)
{
	struct fetch_ctx *f = arg;
	char hex[BM_SHA256_HEX];
	int r;

	if (f->done || id == f->b->self || bm_worker_stopping(&f->b->w))
		return;
	if ((r = fetch(f->b, url, f->m)) == 0) {
		f->done = true;
		BM_INFO("blobs", "replicated sha256=%s bytes=%llu from=%s",
		        bm_sha256_hex(f->m->sha, hex), (unsigned long long)f->m->size, url);
	} else {
		BM_DEBUG("blobs", "fetch failed sha256=%s from=%s err=\"%s\"",
		         bm_sha256_hex(f->m->sha, hex), url, strerror(-r));
	}
}

static void
pass(struct blob_sync *b)
{
	struct missing m[MISSING_MAX];
	size_t n = find_missing(b, m);

	for (size_t i = 0; i < n && !bm_worker_stopping(&b->w); i++) {
		struct fetch_ctx f = { b, &m[i], false };
		store_coordinator_urls(b->store, try_url, &f);
	}
}

static void
sync_main(void *arg, unsigned index)
{
	struct blob_sync *b = arg;

	(void)index;
	/* A pass every BLOB_SYNC_PERIOD_MS or when poked, and at most one a
	 * second, however busy the log. */
	while (bm_worker_wait(&b->w, BLOB_SYNC_PERIOD_MS)) {
		pass(b);
		if (!bm_worker_sleep(&b->w, 1000))
			break;
	}
}

int
blob_sync_start(struct store *s, struct blobstore *bs, uint64_t self_id, struct bm_rpc_creds *creds,
                struct blob_sync **ret)
{
	struct blob_sync *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	*b = (struct blob_sync){ .store = s, .bs = bs, .self = self_id, .creds = creds };
	bm_worker_init(&b->w);
	bm_worker_name(&b->w, "blob-sync");
	if (bm_worker_start(&b->w, 1, sync_main, b) < 0) {
		bm_worker_fini(&b->w);
		free(b);
		return -EAGAIN;
	}
	*ret = b;
	return 0;
}

void
blob_sync_poke(struct blob_sync *b)
{
	if (b)
		bm_worker_kick(&b->w);
}

void
blob_sync_stop(struct blob_sync *b)
{
	if (!b)
		return;
	bm_worker_stop(&b->w);
	bm_worker_fini(&b->w);
	free(b);
}
