/* Images from the agents' side: their bytes (BlobGet), where to fetch them
 * from (ImageSource: a peer of the agent's site, wait for one, or the
 * coordinators; image_fill.h), and in an images list, the agents holding
 * each image, in all and per site. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_priv.h"
#include "bm/rpc.h"
#include "bm/sha256.h"
#include "bm/util.h"
#include "image_fill.h"

#define BLOB_GET_MAX (1u << 20)

/* Is sha the digest of an image the store declares? */
static bool
image_declared(struct api *a, const uint8_t *sha)
{
	struct store_read *rd;
	bool yes = false;

	if (store_read_begin(a->store, &rd) == 0) {
		yes = store_image_by_sha(rd, sha) == 0;
		store_read_end(rd);
	}
	return yes;
}

/* Image bytes. An agent gets only an image's that the store declares; a
 * peer coordinator any blob. An agent's read keeps its site's fill alive. */
void
api_blob_get(struct api *a, struct bm_rpc_call *call, const Bm__BlobGetRequest *q, bool agent)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__BlobGetResult br = BM__BLOB_GET_RESULT__INIT;
	size_t len = q->length && q->length < BLOB_GET_MAX ? q->length : BLOB_GET_MAX, n = 0;
	uint8_t *buf;
	int r;

	if (q->sha256.len != BM_SHA256_LEN) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "sha256 must be 32 bytes");
		return;
	}
	if (agent && !image_declared(a, q->sha256.data)) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_DENIED,
		                    "no image declares these bytes: agents fetch images only");
		return;
	}
	if (*q->agent_id && a->fill)
		image_fill_progress(a->fill, q->sha256.data, q->agent_id, bm_mono_ms());
	if (!(buf = malloc(len))) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_UNAVAILABLE, "out of memory");
		return;
	}
	r = blob_read(a->blobs, q->sha256.data, q->offset, buf, len, &n, &br.size);
	/* A follower that has not fetched this image's bytes yet (blob_sync
	 * copies them from the coordinators that hold them) sends the agent
	 * to the leader, which took the upload. */
	if (r == -ENOENT && !api_is_leader(a))
		api_reply_unavailable(a, call, "not the leader, and no copy of this image here");
	else if (r == -ENOENT)
		bm_rpc_reply_status(call, BM__STATUS__STATUS_NOT_FOUND,
		                    "the coordinator does not hold this image's bytes");
	else if (r == -ERANGE)
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "offset past the end");
	else if (r < 0)
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, strerror(-r));
	else {
		br.data.data = buf;
		br.data.len = n;
		resp.body_case = BM__RESPONSE__BODY_BLOB_GET;
		resp.blob_get = &br;
		bm_rpc_reply(call, &resp);
	}
	free(buf);
}

/* ---------------------------------------------------------------- holders */

static bool
holds(const Bm__AgentRecord *r, const ProtobufCBinaryData *sha)
{
	if (!r->info || sha->len != BM_SHA256_LEN)
		return false;
	for (size_t i = 0; i < r->info->n_cached; i++)
		if (r->info->cached[i].len == BM_SHA256_LEN &&
		    !memcmp(r->info->cached[i].data, sha->data, BM_SHA256_LEN))
			return true;
	return false;
}

/* Every agent record, with each one's site (NULL: its rack is gone). */
struct sited {
	Bm__ListResult *agents;
	struct rack_names rn;
	const char **site;
	const char **sites; /* each site once, in the racks' order */
	size_t n_sites;
};

static void
sited_free(struct sited *s)
{
	if (s->agents)
		bm__list_result__free_unpacked(s->agents, NULL);
	store_rack_sites_free(&s->rn);
	free(s->site);
	free(s->sites);
}

static int
sited_load(struct store_read *rd, struct sited *s)
{
	Bm__ListRequest q = BM__LIST_REQUEST__INIT;
	int r;

	q.kind = BM__KIND__KIND_AGENT;
	q.limit = STORE_LIST_LIMIT_MAX;
	if ((r = store_list(rd, &q, &s->agents)) < 0 || (r = store_rack_sites_load(rd, &s->rn)) < 0)
		return r;
	if (!(s->site = calloc(s->agents->n_items + 1, sizeof(*s->site))) ||
	    !(s->sites = calloc(s->rn.n + 1, sizeof(*s->sites))))
		return -ENOMEM;
	for (size_t i = 0; i < s->rn.n; i++) {
		size_t j = 0;
		while (j < s->n_sites && strcmp(s->sites[j], s->rn.site[i]))
			j++;
		if (j == s->n_sites)
			s->sites[s->n_sites++] = s->rn.site[i];
	}
	for (size_t i = 0; i < s->agents->n_items; i++) {
		const Bm__AgentInfo *in = s->agents->items[i]->agent->info;
		s->site[i] = in ? store_rack_site(&s->rn, in->rack) : NULL;
	}
	return 0;
}

/* "SITE HELD/AGENTS" for each site with agents, into it->holders. */
static void
holders_per_site(const struct sited *s, Bm__Object *it)
{
	char line[320];

	if (!(it->holders = calloc(s->n_sites + 1, sizeof(char *))))
		return;
	for (size_t i = 0; i < s->n_sites; i++) {
		unsigned held = 0, all = 0;
		for (size_t j = 0; j < s->agents->n_items; j++)
			if (s->site[j] && !strcmp(s->site[j], s->sites[i])) {
				all++;
				held += holds(s->agents->items[j]->agent, &it->image->sha256);
			}
		snprintf(line, sizeof(line), "%s %u/%u", *s->sites[i] ? s->sites[i] : "-", held,
		         all);
		if (all && (it->holders[it->n_holders] = strdup(line)))
			it->n_holders++;
	}
}

void
api_images_holders(struct api *a, struct store_read *rd, Bm__ListResult *l)
{
	struct sited s = { 0 };

	(void)a;
	if (sited_load(rd, &s) == 0)
		for (size_t i = 0; i < l->n_items; i++) {
			for (size_t j = 0; j < s.agents->n_items; j++)
				l->items[i]->count +=
				    holds(s.agents->items[j]->agent, &l->items[i]->image->sha256);
			holders_per_site(&s, l->items[i]);
		}
	sited_free(&s);
}

/* ----------------------------------------------------------------- source */

/* The asker's record and site; the holders of sha in that site (live,
 * serving peers, not the asker), in the asker's order. */
struct source {
	const Bm__AgentRecord *me;
	const char *site;
	const char *peer[IMAGE_PEERS_MAX + 1];
	size_t n;
};

static int
source_find(struct api *a, const struct sited *s, const Bm__ImageSourceRequest *q,
            struct source *out)
{
	ProtobufCBinaryData sha = q->sha256;
	const char **ids = calloc(s->agents->n_items + 1, sizeof(*ids));
	uint64_t now = bm_wall_ms();
	size_t n = 0;

	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < s->agents->n_items && !out->me; i++)
		if (!strcmp(s->agents->items[i]->agent->id, q->agent_id)) {
			out->me = s->agents->items[i]->agent;
			out->site = s->site[i];
		}
	for (size_t i = 0; out->me && out->site && *out->site && i < s->agents->n_items; i++) {
		Bm__AgentRecord *r = s->agents->items[i]->agent;
		if (r == out->me || !s->site[i] || strcmp(s->site[i], out->site) || !r->info ||
		    !*r->info->peer_url || !holds(r, &sha))
			continue;
		api_agent_overlay(a, r, 0, now);
		if (!r->silent)
			ids[n++] = r->id;
	}
	image_fill_order(q->agent_id, ids, n);
	for (size_t i = 0; i < n && out->n < IMAGE_PEERS_MAX; i++)
		for (size_t j = 0; j < s->agents->n_items; j++)
			if (s->agents->items[j]->agent->id == ids[i])
				out->peer[out->n++] = s->agents->items[j]->agent->info->peer_url;
	free(ids);
	return 0;
}

/* Where the agent fetches sha from: holders of its site; else wait while
 * another agent of its site fetches it; else (no site, no peer_url of its
 * own, or it is the filler) the coordinators: an empty answer. */
void
api_image_source(struct api *a, struct bm_rpc_call *call, const Bm__ImageSourceRequest *q,
                 const struct bm_identity *id)
{
	Bm__Response resp = BM__RESPONSE__INIT;
	Bm__ImageSourceResult res = BM__IMAGE_SOURCE_RESULT__INIT;
	struct store_read *rd;
	struct source src = { 0 };
	struct sited s = { 0 };
	char filler[64], why[160];
	int r;

	if (q->sha256.len != BM_SHA256_LEN || !*q->agent_id) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID,
		                    "image source needs a sha256 and the agent's id");
		return;
	}
	/* One table decides (the fill is in memory): the leader's. The agent's
	 * blob link follows it there, and so do the filler's reads. */
	if (!api_is_leader(a)) {
		api_reply_unavailable(a, call,
		                      "not the leader, which decides where images come from");
		return;
	}
	if ((r = store_read_begin(a->store, &rd)) < 0) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
		return;
	}
	if (store_image_by_sha(rd, q->sha256.data) < 0)
		r = -EPERM;
	else if ((r = sited_load(rd, &s)) == 0)
		r = source_find(a, &s, q, &src);
	resp.revision = store_read_revision(rd);
	store_read_end(rd);
	if (r == -EPERM) {
		bm_rpc_reply_status(call, BM__STATUS__STATUS_DENIED,
		                    "no image declares these bytes: agents fetch images only");
		return;
	}
	/* With TLS only the rack's own agent may speak for it. */
	if (r == 0 && id->kind == BM_KIND_AGENT && src.me && src.me->info &&
	    strcmp(src.me->info->rack, id->rack))
		r = -EACCES;
	if (r == 0 && src.n) {
		image_fill_done(a->fill, src.site, q->sha256.data);
		res.peers = (char **)src.peer;
		res.n_peers = src.n;
	} else if (r == 0 && src.me && src.me->info && src.site && *src.site &&
	           *src.me->info->peer_url &&
	           !image_fill_claim(a->fill, src.site, q->sha256.data, q->agent_id, bm_mono_ms(),
	                             filler, sizeof(filler))) {
		res.wait_ms = IMAGE_FILL_WAIT_MS;
		res.filler = filler;
	}
	if (r == -EACCES) {
		snprintf(why, sizeof(why), "agent %s is not rack %s's", q->agent_id, id->rack);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_DENIED, why);
	} else if (r < 0)
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INTERNAL, "reading the store failed");
	else {
		resp.body_case = BM__RESPONSE__BODY_IMAGE_SOURCE;
		resp.image_source = &res;
		bm_rpc_reply(call, &resp);
	}
	sited_free(&s);
}
