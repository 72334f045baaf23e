#include "sync.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "bm/log.h"
#include "bm/util.h"
#include "bm/rpc.h"
#include "bm/worker.h"

#define CALL_TIMEOUT_MS 10000

/* A connection to one coordinator URL, shared by the watch and report
 * links when they are on the same: a TLS handshake costs a coordinator
 * milliseconds of CPU, and 1,000 agents starting at once with a connection
 * per link kept the coordinators of a small box busy with handshakes of
 * clients that had given up. The blob link keeps its own: a change must
 * not wait behind an image's chunk on a slow WAN. */
struct conn {
	char url[256];
	struct bm_rpc_client *client;
	unsigned refs; /* links on it; 0: the slot is free */
	bool shared;
};
#define SYNC_CONNS 3u /* one per link at most */

/* One thread's calls: the URL it is on, its connection, its backoff. */
struct link {
	struct sync *s;
	const char *name;
	unsigned idx;
	struct conn *conn; /* under the worker's mutex */
	bool shares;       /* its connection with the other link that shares */
	unsigned backoff_ms;
	unsigned slow;      /* calls in a row that timed out on a connection up */
	char redirect[256]; /* the leader a follower named: used until it fails */
};

struct sync {
	struct sync_opts o;
	char **urls; /* owned copies: o.urls points here */
	/* Two threads (watch, report); the mutex guards the links' connections,
	 * the flags and the stats. A kick asks the report thread to send. */
	struct bm_worker w;
	bool reregister;
	struct link watch, report, blob;
	struct conn conns[SYNC_CONNS];
	ev_async view_w;
	struct sync_stats st;
};

/* Sleep up to ms, or until stopped (or kicked, with wake_on_kick).
 * Returns false once stopping. */
static bool
pause_ms(struct sync *s, unsigned ms, bool wake_on_kick)
{
	return wake_on_kick ? bm_worker_wait(&s->w, ms) : bm_worker_sleep(&s->w, ms);
}

static void
note(struct sync *s, bool ok)
{
	bm_worker_lock(&s->w);
	s->st.connected = ok;
	if (!ok)
		s->st.errors++;
	bm_worker_unlock(&s->w);
}

static const char *
link_url(const struct link *l)
{
	return l->redirect[0] ? l->redirect : l->s->o.urls[l->idx];
}

/* Mutex held: a connection to the link's URL, the one the other sharing
 * link is on if any. */
static int
link_join_locked(struct link *l)
{
	struct sync *s = l->s;
	const char *url = link_url(l);
	struct conn *slot = NULL;
	int r;

	for (unsigned i = 0; i < SYNC_CONNS; i++) {
		struct conn *c = &s->conns[i];
		if (c->refs && l->shares && c->shared && !strcmp(c->url, url)) {
			c->refs++;
			l->conn = c;
			return 0;
		}
		if (!c->refs && !slot)
			slot = c;
	}
	if (!slot)
		return -EBUSY; /* a link holds one at most: not reached */
	if ((r = bm_rpc_client_open(url, s->o.creds, &slot->client)) < 0)
		return r;
	snprintf(slot->url, sizeof(slot->url), "%s", url);
	slot->refs = 1;
	slot->shared = l->shares;
	l->conn = slot;
	return 0;
}

/* Mutex held: the link leaves its connection, closed when the last
 * leaves. After a failure nobody joins it again: a link still on it leaves
 * at its own failure, and the next connection is a new one (with the
 * certificate as it is now: a connection reconnects with its own). */
static void
link_leave_locked(struct link *l, bool failed)
{
	struct conn *c = l->conn;

	if (!c)
		return;
	l->conn = NULL;
	if (failed)
		c->shared = false;
	if (--c->refs == 0) {
		bm_rpc_client_free(c->client);
		c->client = NULL;
	}
}

/* A follower refused a write and named the leader: go there at once. */
static bool
link_redirect(struct link *l, const Bm__Response *resp)
{
	struct sync *s = l->s;

	if (resp->status != BM__STATUS__STATUS_UNAVAILABLE || !*resp->leader ||
	    strlen(resp->leader) >= sizeof(l->redirect) || !strcmp(resp->leader, link_url(l)))
		return false;
	BM_INFO("sync", "%s: redirected url=%s leader=%s", l->name, link_url(l), resp->leader);
	bm_worker_lock(&s->w);
	link_leave_locked(l, false);
	snprintf(l->redirect, sizeof(l->redirect), "%s", resp->leader);
	bm_worker_unlock(&s->w);
	return true;
}

/* The wait before the link's next try: half to all of its current step
 * (jitter), the step doubling up to SYNC_BACKOFF_MAX_MS. */
static unsigned
link_backoff(struct link *l)
{
	unsigned jitter = 0, ms;

	getrandom(&jitter, sizeof(jitter), 0);
	ms = l->backoff_ms / 2 + jitter % (l->backoff_ms / 2 + 1);
	l->backoff_ms =
	    l->backoff_ms * 2 > SYNC_BACKOFF_MAX_MS ? SYNC_BACKOFF_MAX_MS : l->backoff_ms * 2;
	return ms;
}

/* A failed call: leave the connection, move to the next URL and wait its
 * backoff. */
static bool
link_fail(struct link *l, const char *what, const char *why)
{
	struct sync *s = l->s;
	unsigned ms;
	bool stop;

	bm_worker_lock(&s->w);
	link_leave_locked(l, true);
	stop = s->w.stop;
	bm_worker_unlock(&s->w);
	if (stop)
		return false;
	note(s, false);
	ms = link_backoff(l);
	BM_WARN("sync", "%s failed url=%s err=\"%s\" retry_ms=%u", what, link_url(l), why, ms);
	if (l->redirect[0])
		l->redirect[0] = '\0'; /* back to the list, where it stood */
	else
		l->idx = (l->idx + 1) % s->o.n_urls;
	return pause_ms(s, ms, false);
}

/* After a reset: whether the socket is up again within SYNC_REDIAL_MS (a
 * coordinator that restarted its listener takes it back; one that died
 * refuses, and the link must not wait a whole call for it). */
static bool
link_redialed(struct link *l, struct bm_rpc_client *cl)
{
	for (unsigned waited = 0; !bm_rpc_client_up(cl); waited += 20)
		if (waited >= SYNC_REDIAL_MS || !pause_ms(l->s, 20, false))
			return false;
	return true;
}

/* A call timed out on a connection that is up: the coordinator is slow,
 * not gone. Another connection (elsewhere) would cost both sides a TLS
 * handshake and leave this request to be served for nobody. Or the
 * coordinator reset the connection (a restart of its listener or of
 * itself): the socket is already dialing again, and closing it now would
 * cut that negotiation short, which is what deafens nng 1.5's listener
 * (lib/rpc_listen.c): 1,000 agents doing so after every listener restart
 * deafened it again each time (not done when the agent's certificate was
 * renewed since: the socket would present the old one). Either way the
 * link stays on cl, waits its backoff and asks again, SYNC_SLOW_RETRIES
 * times before it fails over (a host that died without closing its
 * connections); after a reset, only if the socket is up again in
 * SYNC_REDIAL_MS (one that died refuses). Returns false once stopping. */
static bool
link_slow(struct link *l, const char *what, int err, struct bm_rpc_client *cl)
{
	struct sync *s = l->s;
	unsigned ms = link_backoff(l);
	char why[160];

	note(s, false);
	BM_WARN("sync", "%s %s url=%s slow=%u retry_ms=%u (same connection)", what,
	        err == -ETIMEDOUT ? "timed out" : "connection reset", link_url(l), l->slow, ms);
	if (!pause_ms(s, ms, false))
		return false;
	if (err != -ECONNRESET || link_redialed(l, cl))
		return true;
	snprintf(why, sizeof(why), "the connection it reset is not back in %u ms", SYNC_REDIAL_MS);
	return link_fail(l, what, why);
}

/* One call on the link. Returns 0 with an OK response, or -errno (the
 * link has then failed over and waited); -ESHUTDOWN when stopping. */
static int
link_call(struct link *l, const char *what, Bm__Request *req, int timeout_ms, Bm__Response **ret)
{
	struct sync *s = l->s;
	struct bm_rpc_client *cl;
	Bm__Response *resp;
	char why[160];
	int r;

	for (unsigned hop = 0;; hop++) {
		resp = NULL;
		bm_worker_lock(&s->w);
		if (s->w.stop) {
			bm_worker_unlock(&s->w);
			return -ESHUTDOWN;
		}
		if (!l->conn && (r = link_join_locked(l)) < 0) {
			bm_worker_unlock(&s->w);
			snprintf(why, sizeof(why), "%s", strerror(-r));
			return link_fail(l, what, why) ? r : -ESHUTDOWN;
		}
		cl = l->conn->client; /* this link's reference keeps it */
		bm_worker_unlock(&s->w);
		r = bm_rpc_call(cl, req, timeout_ms, &resp);
		if (((r == -ETIMEDOUT && bm_rpc_client_up(cl)) ||
		     (r == -ECONNRESET && !bm_rpc_client_stale(cl))) &&
		    l->slow < SYNC_SLOW_RETRIES) {
			l->slow++;
			return link_slow(l, what, r, cl) ? r : -ESHUTDOWN;
		}
		l->slow = 0;
		if (r == 0 && resp->status == BM__STATUS__STATUS_OK) {
			l->backoff_ms = SYNC_BACKOFF_MIN_MS;
			note(s, true);
			*ret = resp;
			return 0;
		}
		if (r != 0 || hop >= 2 || !link_redirect(l, resp))
			break;
		bm__response__free_unpacked(resp, NULL);
	}
	if (r == 0) {
		snprintf(why, sizeof(why), "%s", resp->message);
		r = resp->status == BM__STATUS__STATUS_NOT_FOUND ? -ENOENT : -EPROTO;
		bm__response__free_unpacked(resp, NULL);
	} else {
		snprintf(why, sizeof(why), "%s", strerror(-r));
	}
	return link_fail(l, what, why) ? r : -ESHUTDOWN;
}

static bool
stopping(struct sync *s)
{
	return bm_worker_stopping(&s->w);
}

/* ---------------------------------------------------------------- watch */

static void
watch_main(void *arg, unsigned index)
{
	struct sync *s = arg;
	unsigned wait = s->o.wait_ms ? s->o.wait_ms : SYNC_WAIT_MS;

	(void)index;
	uint64_t since = 0;

	rackdb_view_revision(s->o.db, &since);
	while (!stopping(s)) {
		Bm__Request req = BM__REQUEST__INIT;
		Bm__WatchRequest w = BM__WATCH_REQUEST__INIT;
		Bm__Response *resp;
		int r;

		w.agent_id = (char *)s->o.agent_id;
		w.rack = (char *)s->o.rack;
		w.since = since;
		w.wait_ms = wait;
		req.body_case = BM__REQUEST__BODY_WATCH;
		req.watch = &w;
		if (link_call(&s->watch, "watch", &req, (int)wait + CALL_TIMEOUT_MS, &resp) < 0)
			continue;
		if (!resp->watch) {
			bm__response__free_unpacked(resp, NULL);
			continue;
		}
		const Bm__WatchResult *wr = resp->watch;
		bool changed = wr->snapshot || wr->n_puts || wr->n_deletes;
		if (changed)
			BM_DEBUG("sync", "view received revision=%llu",
			         (unsigned long long)wr->revision);
		if (changed || wr->revision != since) {
			if ((r = rackdb_view_apply(s->o.db, wr)) < 0) {
				BM_ERROR("sync", "cannot store the rack view err=\"%s\"",
				         strerror(-r));
				bm__response__free_unpacked(resp, NULL);
				pause_ms(s, 1000, false);
				continue;
			}
			since = wr->revision;
		}
		bm_worker_lock(&s->w);
		s->st.revision = since;
		s->st.watch_answers += changed;
		bm_worker_unlock(&s->w);
		if (changed) {
			BM_DEBUG(
			    "sync", "view updated revision=%llu snapshot=%d puts=%zu deletes=%zu",
			    (unsigned long long)since, wr->snapshot, wr->n_puts, wr->n_deletes);
			ev_async_send(s->o.loop, &s->view_w);
		}
		bm__response__free_unpacked(resp, NULL);
	}
}

/* --------------------------------------------------------------- report */

static int
do_register(struct sync *s, uint64_t *ret_applied)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__RegisterRequest rr = BM__REGISTER_REQUEST__INIT;
	Bm__AgentInfo info = BM__AGENT_INFO__INIT;
	Bm__Response *resp;
	int r;

	info.id = (char *)s->o.agent_id;
	info.rack = (char *)s->o.rack;
	info.version = (char *)s->o.version;
	if (s->o.describe)
		s->o.describe(s->o.arg, &info);
	rr.agent = &info;
	req.body_case = BM__REQUEST__BODY_REGISTER;
	req.register_ = &rr;
	r = link_call(&s->report, "register", &req, CALL_TIMEOUT_MS, &resp);
	for (size_t i = 0; i < info.n_interfaces; i++)
		free(info.interfaces[i]);
	free(info.interfaces);
	free(info.cached);
	if (r < 0)
		return r;
	*ret_applied = resp->register_ ? resp->register_->events_applied : 0;
	bm__response__free_unpacked(resp, NULL);
	BM_INFO("sync", "registered url=%s agent=%s rack=%s", link_url(&s->report), s->o.agent_id,
	        s->o.rack);
	return 0;
}

struct collect {
	Bm__Event **v;
	size_t n;
};

static void
collect_cb(void *arg, const Bm__Event *e)
{
	struct collect *c = arg;
	Bm__Event *copy;
	size_t len;
	uint8_t *buf;

	if (c->n >= SYNC_BATCH_EVENTS)
		return;
	len = bm__event__get_packed_size(e);
	if (!(buf = malloc(len + 1)))
		return;
	bm__event__pack(e, buf);
	if ((copy = bm__event__unpack(NULL, len, buf)))
		c->v[c->n++] = copy;
	free(buf);
}

/* Send one batch from `from`, or with none waiting and `beat`, an empty
 * one (a heartbeat). Returns the events sent (0: none waiting), or -errno;
 * *applied is updated. */
static int
report_batch(struct sync *s, uint64_t *applied, bool beat)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ReportEventsRequest rq = BM__REPORT_EVENTS_REQUEST__INIT;
	Bm__AgentEvents batch = BM__AGENT_EVENTS__INIT;
	Bm__Event *v[SYNC_BATCH_EVENTS];
	struct collect c = { v, 0 };
	Bm__Response *resp;
	int r;

	if ((r = rackdb_events_read_max(s->o.db, *applied + 1, SYNC_BATCH_EVENTS, collect_cb, &c)) <
	        0 ||
	    (c.n == 0 && !beat))
		return r;
	bm_worker_lock(&s->w);
	rq.view_revision = s->st.revision;
	bm_worker_unlock(&s->w);
	batch.agent_id = (char *)s->o.agent_id;
	batch.rack = (char *)s->o.rack;
	batch.events = v;
	batch.n_events = c.n;
	rq.batch = &batch;
	req.body_case = BM__REQUEST__BODY_REPORT_EVENTS;
	req.report_events = &rq;
	r = link_call(&s->report, "report", &req, CALL_TIMEOUT_MS, &resp);
	for (size_t i = 0; i < c.n; i++)
		bm__event__free_unpacked(v[i], NULL);
	if (r < 0)
		return r;
	*applied = resp->report_events ? resp->report_events->events_applied : *applied;
	bm__response__free_unpacked(resp, NULL);
	return (int)c.n;
}

static void
set_acked(struct sync *s, uint64_t applied)
{
	int r = rackdb_events_trim(s->o.db, applied);
	if (r < 0)
		BM_WARN("sync", "cannot trim the outbox err=\"%s\"", strerror(-r));
	bm_worker_lock(&s->w);
	s->st.events_acked = applied;
	bm_worker_unlock(&s->w);
}

static void
report_main(void *arg, unsigned index)
{
	struct sync *s = arg;
	uint64_t applied = 0, last = 0;
	bool registered = false;

	(void)index;

	while (!stopping(s)) {
		int r;
		bm_worker_lock(&s->w);
		if (s->reregister)
			registered = s->reregister = false;
		bm_worker_unlock(&s->w);
		if (!registered) {
			if (do_register(s, &applied) < 0)
				continue;
			registered = true;
			last = bm_mono_ms();
			set_acked(s, applied);
		}
		bool beat = bm_mono_ms() - last >= SYNC_HEARTBEAT_MS;
		r = report_batch(s, &applied, beat);
		if (r > 0 || (r == 0 && beat))
			last = bm_mono_ms();
		if (r == -ENOENT)
			registered = false; /* the coordinator forgot us: register again */
		if (r > 0)
			set_acked(s, applied);
		/* Nothing to send: until the next heartbeat, or a kick (an event
		 * stored, a re-registration asked, a stop). */
		uint64_t quiet = bm_mono_ms() - last;
		unsigned wait = quiet < SYNC_HEARTBEAT_MS ? SYNC_HEARTBEAT_MS - (unsigned)quiet : 1;
		if (r == 0 && !pause_ms(s, wait, true))
			break;
	}
}

/* ----------------------------------------------------------------- blobs */

int
sync_blob_get(struct sync *s, const uint8_t sha[32], uint64_t off, void *buf, size_t len,
              size_t *ret_n, uint64_t *ret_size)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__BlobGetRequest q = BM__BLOB_GET_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	q.sha256.data = (uint8_t *)sha;
	q.sha256.len = 32;
	q.offset = off;
	q.length = (uint32_t)len;
	q.agent_id = (char *)s->o.agent_id;
	req.body_case = BM__REQUEST__BODY_BLOB_GET;
	req.blob_get = &q;
	if ((r = link_call(&s->blob, "blob", &req, CALL_TIMEOUT_MS, &resp)) < 0)
		return r;
	if (!resp->blob_get || resp->blob_get->data.len > len) {
		bm__response__free_unpacked(resp, NULL);
		return -EBADMSG;
	}
	memcpy(buf, resp->blob_get->data.data, resp->blob_get->data.len);
	*ret_n = resp->blob_get->data.len;
	*ret_size = resp->blob_get->size;
	bm__response__free_unpacked(resp, NULL);
	return 0;
}

int
sync_image_source(struct sync *s, const uint8_t sha[32], char (*peers)[SYNC_PEER_URL_MAX],
                  size_t max, size_t *ret_n, uint32_t *ret_wait_ms)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ImageSourceRequest q = BM__IMAGE_SOURCE_REQUEST__INIT;
	Bm__Response *resp;
	const Bm__ImageSourceResult *res;
	int r;

	q.sha256.data = (uint8_t *)sha;
	q.sha256.len = 32;
	q.agent_id = (char *)s->o.agent_id;
	req.body_case = BM__REQUEST__BODY_IMAGE_SOURCE;
	req.image_source = &q;
	*ret_n = 0;
	*ret_wait_ms = 0;
	if ((r = link_call(&s->blob, "image source", &req, CALL_TIMEOUT_MS, &resp)) < 0)
		return r;
	if (!(res = resp->image_source)) {
		bm__response__free_unpacked(resp, NULL);
		return -EBADMSG;
	}
	for (size_t i = 0; i < res->n_peers && *ret_n < max; i++)
		if (strlen(res->peers[i]) < SYNC_PEER_URL_MAX &&
		    !strncmp(res->peers[i], "http://", 7))
			snprintf(peers[(*ret_n)++], SYNC_PEER_URL_MAX, "%s", res->peers[i]);
	*ret_wait_ms = res->wait_ms;
	bm__response__free_unpacked(resp, NULL);
	return 0;
}

/* ----------------------------------------------------------------- life */

static void
view_cb(struct ev_loop *loop, ev_async *w, int revents)
{
	struct sync *s = w->data;
	(void)loop;
	(void)revents;
	s->o.view_changed(s->o.arg);
}

int
sync_start(const struct sync_opts *o, struct sync **ret)
{
	struct sync *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (!o->n_urls) {
		free(s);
		return -EINVAL;
	}
	s->o = *o;
	if (!(s->urls = calloc(o->n_urls, sizeof(char *)))) {
		free(s);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < o->n_urls; i++)
		if (!(s->urls[i] = strdup(o->urls[i]))) {
			for (unsigned j = 0; j < i; j++)
				free(s->urls[j]);
			free(s->urls);
			free(s);
			return -ENOMEM;
		}
	s->o.urls = (const char *const *)s->urls;
	bm_worker_init(&s->w);
	bm_worker_name(&s->w, "sync"); /* sync/0 watches, sync/1 reports */
	s->watch = (struct link){
		.s = s, .name = "watch", .shares = true, .backoff_ms = SYNC_BACKOFF_MIN_MS
	};
	s->report = (struct link){
		.s = s, .name = "report", .shares = true, .backoff_ms = SYNC_BACKOFF_MIN_MS
	};
	s->blob = (struct link){ .s = s, .name = "blob", .backoff_ms = SYNC_BACKOFF_MIN_MS };
	ev_async_init(&s->view_w, view_cb);
	s->view_w.data = s;
	ev_async_start(o->loop, &s->view_w);
	if (bm_worker_start(&s->w, 1, watch_main, s) < 0 ||
	    bm_worker_start(&s->w, 1, report_main, s) < 0) {
		sync_stop(s);
		return -EAGAIN;
	}
	*ret = s;
	return 0;
}

void
sync_kick(struct sync *s)
{
	if (!s)
		return;
	bm_worker_kick(&s->w);
}

void
sync_reregister(struct sync *s)
{
	bm_worker_lock(&s->w);
	s->reregister = true;
	bm_worker_kick_locked(&s->w);
	bm_worker_unlock(&s->w);
}

void
sync_stats_get(struct sync *s, struct sync_stats *ret)
{
	bm_worker_lock(&s->w);
	*ret = s->st;
	bm_worker_unlock(&s->w);
}

void
sync_cut(struct sync *s)
{
	if (!s)
		return;
	bm_worker_lock(&s->w);
	bm_worker_cut_locked(&s->w);
	for (unsigned i = 0; i < SYNC_CONNS; i++)
		if (s->conns[i].refs)
			bm_rpc_client_shutdown(s->conns[i].client);
	bm_worker_unlock(&s->w);
}

void
sync_stop(struct sync *s)
{
	uint64_t t0 = bm_mono_ms();

	if (!s)
		return;
	sync_cut(s);
	bm_worker_stop(&s->w);
	for (unsigned i = 0; i < SYNC_CONNS; i++)
		bm_rpc_client_free(s->conns[i].client);
	ev_async_stop(s->o.loop, &s->view_w);
	bm_worker_fini(&s->w);
	BM_DEBUG("sync", "stopped ms=%llu", (unsigned long long)(bm_mono_ms() - t0));
	for (unsigned i = 0; i < s->o.n_urls; i++)
		free(s->urls[i]);
	free(s->urls);
	free(s);
}
