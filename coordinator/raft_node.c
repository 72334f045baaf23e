#include "raft_node.h"

#include <errno.h>
#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bm/log.h"
#include "bm/proto.h"
#include "bm/util.h"
#include "raft_node_priv.h"
#include "raft_tls.h"

struct pending {
	struct raft_apply req;
	raftnode_apply_cb cb;
	void *arg;
	struct raftnode *n;
};

int
raftnode_map_status(int rv)
{
	switch (rv) {
	case 0: return 0;
	case RAFT_NOTLEADER: return -ENOTCONN;
	case RAFT_LEADERSHIPLOST: return -ECONNABORTED;
	case RAFT_SHUTDOWN: return -ESHUTDOWN;
	case RAFT_NOMEM: return -ENOMEM;
	default: return -EIO;
	}
}

/* ------------------------------------------------------------------ FSM */

static void
results_reset(struct raftnode *n, size_t want)
{
	for (size_t i = 0; i < n->n_res; i++)
		store_result_fini(&n->res[i]);
	n->n_res = 0;
	if (want > n->cap_res) {
		struct store_result *v = realloc(n->res, want * sizeof(*v));
		if (!v) {
			BM_ERROR("raft", "out of memory applying an entry: stopping");
			exit(1);
		}
		n->res = v;
		n->cap_res = want;
	}
}

static int
fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct raftnode *n = fsm->data;
	uint64_t index = ++n->entries;
	const uint8_t *p = buf->base;
	uint64_t plen = 0;
	for (int i = 0; i < 8 && buf->len >= 8; i++)
		plen |= (uint64_t)p[i] << (8 * i);
	Bm__CommandBatch *cb = buf->len >= 8 && plen <= buf->len - 8
	                           ? bm__command_batch__unpack(NULL, plen, p + 8)
	                           : NULL;
	struct store_batch *b;
	size_t k = cb ? cb->n_commands : 0;
	uint64_t revision = 0;
	int r;

	results_reset(n, k + 1);
	*result = n;
	if (!k) { /* undecodable or empty: nothing, on every node alike */
		if (cb)
			bm__command_batch__free_unpacked(cb, NULL);
		return 0;
	}
	for (size_t i = 0; i < k; i++)
		store_result_init(&n->res[i]);
	n->n_res = k;
	if ((r = store_batch_begin(n->store, &b)) == 0) {
		for (size_t i = 0; i < k && r == 0; i++)
			r = store_apply(b, ((uint64_t)index << STORE_INDEX_SHIFT) | i,
			                cb->commands[i], &n->res[i]);
		r = r == 0 ? store_batch_commit(b) : (store_batch_abort(b), r);
	}
	bm__command_batch__free_unpacked(cb, NULL);
	if (r < 0) {
		/* The log holds it; the store cannot take it. Stopping is the only
		 * way not to diverge: a restart replays it. */
		BM_ERROR("raft", "store failed applying index=%llu err=\"%s\": stopping",
		         (unsigned long long)index, strerror(-r));
		exit(1);
	}
	revision = n->res[k - 1].revision;
	BM_DEBUG("propose", "committed revision=%llu commands=%zu entry=%llu",
	         (unsigned long long)revision, k, (unsigned long long)index);
	if (n->o.applied)
		n->o.applied(n->o.arg, revision);
	return 0;
}

/* The snapshot: the command entries applied so far (8 bytes, big-endian),
 * then a compacting copy of the store's environment. */
static int
fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	struct raftnode *n = fsm->data;
	struct store_info info;
	uint8_t *copy, *buf;
	size_t len;
	int r;

	if ((r = store_info_get(n->store, &info)) < 0 ||
	    (r = store_snapshot(n->store, &copy, &len)) < 0) {
		BM_ERROR("raft", "snapshot failed err=\"%s\"", strerror(-r));
		return RAFT_IOERR;
	}
	if (!(buf = raft_malloc(len + 8)) || !(*bufs = raft_malloc(sizeof(**bufs)))) {
		raft_free(buf);
		free(copy);
		return RAFT_NOMEM;
	}
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(n->entries >> (56 - 8 * i));
	memcpy(buf + 8, copy, len);
	free(copy);
	(*bufs)[0].base = buf;
	(*bufs)[0].len = len + 8;
	*n_bufs = 1;
	BM_INFO("raft", "snapshot taken bytes=%zu applied=%llu", len,
	        (unsigned long long)info.applied_index);
	return 0;
}

static int
fsm_snapshot_finalize(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n_bufs)
{
	(void)fsm;
	for (unsigned i = 0; i < *n_bufs; i++)
		raft_free((*bufs)[i].base);
	raft_free(*bufs);
	*bufs = NULL;
	*n_bufs = 0;
	return 0;
}

static int
fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct raftnode *n = fsm->data;
	const uint8_t *p = buf->base;
	struct store_info info;
	uint64_t snap = 0;
	int r = 0;

	if (buf->len < 8) {
		raft_free(buf->base);
		return RAFT_MALFORMED;
	}
	for (int i = 0; i < 8; i++)
		snap = snap << 8 | p[i];
	n->entries = snap; /* the entries after it are counted from here */
	/* The store is durable on its own: at or past the snapshot, it keeps
	 * what it has and the entries after it are skipped as applied. */
	if (store_info_get(n->store, &info) == 0 && STORE_INDEX_ENTRY(info.applied_index) >= snap) {
		raft_free(buf->base);
		return 0;
	}
	BM_INFO("raft", "installing snapshot bytes=%zu applied=%llu", buf->len - 8,
	        (unsigned long long)snap);
	r = store_restore(n->store, p + 8, buf->len - 8);
	raft_free(buf->base);
	if (r < 0) {
		BM_ERROR("raft", "snapshot install failed err=\"%s\"", strerror(-r));
		return RAFT_IOERR;
	}
	return 0;
}

/* --------------------------------------------------------------- writes */

static void
nudge_done(struct raft_barrier *req, int status)
{
	struct raftnode *n = bm_container_of(req, struct raftnode, nudge);
	(void)status;
	n->nudging = false;
}

/* The leader applied the last of its entries in flight: followers learn
 * that it committed from the next AppendEntries, which with nothing more
 * to send is the next heartbeat (up to heartbeat_ms later: 25 ms on
 * average at the default, before an agent watching a follower hears of a
 * change). A barrier entry goes out now instead and carries the commit
 * index. Once per quiet spell: the barrier's own commit nudges nothing.
 * From a loop turn of its own, never inside libraft's callback. */
static void
nudge_cb(uv_timer_t *t)
{
	struct raftnode *n = bm_container_of(t, struct raftnode, nudge_timer);

	if (n->closing || n->nudging || n->in_flight || n->raft.state != RAFT_LEADER ||
	    n->raft.configuration.n < 2)
		return;
	n->nudging = raft_barrier(&n->raft, &n->nudge, nudge_done) == 0;
}

static void
apply_cb(struct raft_apply *req, int status, void *result)
{
	struct pending *p = req->data;
	struct raftnode *n = result;

	/* libraft runs this right after the FSM applied the entry: its results
	 * are the last ones. */
	if (status == 0 && n)
		p->cb(p->arg, 0, n->res, n->n_res);
	else
		p->cb(p->arg, status == 0 ? 0 : raftnode_map_status(status), NULL, 0);
	if (p->n->in_flight && !--p->n->in_flight && status == 0 && !p->n->closing)
		uv_timer_start(&p->n->nudge_timer, nudge_cb, 0, 0);
	free(p);
}

int
raftnode_apply(struct raftnode *n, const void *buf, size_t len, raftnode_apply_cb cb, void *arg)
{
	/* libraft's log wants entries of whole 8-byte words: the length first
	 * (little-endian), then the batch, then zeros. */
	size_t padded = 8 + (len + 7) / 8 * 8;
	struct pending *p = calloc(1, sizeof(*p));
	struct raft_buffer rb = { raft_malloc(padded), padded };
	int rv;

	if (!p || !rb.base) {
		free(p);
		raft_free(rb.base);
		return -ENOMEM;
	}
	memset(rb.base, 0, padded);
	for (int i = 0; i < 8; i++)
		((uint8_t *)rb.base)[i] = (uint8_t)((uint64_t)len >> (8 * i));
	memcpy((uint8_t *)rb.base + 8, buf, len);
	p->cb = cb;
	p->arg = arg;
	p->n = n;
	p->req.data = p;
	if ((rv = raft_apply(&n->raft, &p->req, &rb, 1, apply_cb)) != 0) {
		raft_free(rb.base);
		free(p);
		return raftnode_map_status(rv);
	}
	n->in_flight++;
	return 0;
}

bool
raftnode_is_leader(struct raftnode *n)
{
	return raft_state(&n->raft) == RAFT_LEADER;
}

/* --------------------------------------------------------------- status */

static void
status_refresh(struct raftnode *n)
{
	struct raftnode_status st = { 0 };
	const char *addr = NULL;
	raft_id leader = 0;

	st.id = n->o.id;
	st.state = raft_state(&n->raft);
	raft_leader(&n->raft, &leader, &addr);
	st.leader_id = leader;
	snprintf(st.leader_address, sizeof(st.leader_address), "%s", addr ? addr : "");
	st.last_index = raft_last_index(&n->raft);
	st.last_applied = raft_last_applied(&n->raft);
	st.term = n->raft.current_term;
	for (unsigned i = 0; i < n->raft.configuration.n && st.n_members < 16; i++) {
		struct raft_server *s = &n->raft.configuration.servers[i];
		st.members[st.n_members].id = s->id;
		snprintf(st.members[st.n_members].address, sizeof(st.members[0].address), "%s",
		         s->address);
		st.members[st.n_members++].role = s->role;
	}
	pthread_mutex_lock(&n->mu);
	n->status = st;
	pthread_mutex_unlock(&n->mu);
	if (st.state == RAFT_LEADER && !n->leading) {
		BM_INFO("raft", "leading id=%llu term=%llu", (unsigned long long)st.id,
		        (unsigned long long)st.term);
		if (n->o.leading)
			n->o.leading(n->o.arg);
	}
	n->leading = st.state == RAFT_LEADER;
}

static void
status_timer_cb(uv_timer_t *t)
{
	status_refresh(bm_container_of(t, struct raftnode, status_timer));
}

void
raftnode_status_get(struct raftnode *n, struct raftnode_status *ret)
{
	pthread_mutex_lock(&n->mu);
	*ret = n->status;
	pthread_mutex_unlock(&n->mu);
}

/* ------------------------------------------------------------ transport */

/* raft_uv_tcp leaves Nagle on. An AppendEntries written while the previous
 * one is unacknowledged then waits for the peer's delayed ACK (40 ms on
 * Linux): with writes in flight, p99 sat at ~50 ms. Every Raft connection,
 * both ways, gets TCP_NODELAY. */
static raft_uv_connect_cb tcp_connect_cb; /* libraft's (one function) */

static void
nodelay(struct uv_stream_s *stream)
{
	if (stream && stream->type == UV_TCP)
		uv_tcp_nodelay((uv_tcp_t *)stream, 1);
}

static void
nodelay_accept_cb(struct raft_uv_transport *t, raft_id id, const char *address,
                  struct uv_stream_s *stream)
{
	struct raftnode *n = bm_container_of(t, struct raftnode, transport);
	nodelay(stream);
	n->accept_cb(t, id, address, stream);
}

static int
nodelay_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct raftnode *n = bm_container_of(t, struct raftnode, transport);
	n->accept_cb = cb;
	return n->tcp_listen(t, nodelay_accept_cb);
}

static void
nodelay_connect_cb(struct raft_uv_connect *req, struct uv_stream_s *stream, int status)
{
	if (status == 0)
		nodelay(stream);
	tcp_connect_cb(req, stream, status);
}

static int
nodelay_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
                const char *address, raft_uv_connect_cb cb)
{
	struct raftnode *n = bm_container_of(t, struct raftnode, transport);
	tcp_connect_cb = cb;
	return n->tcp_connect(t, req, id, address, nodelay_connect_cb);
}

static void
transport_wrap(struct raftnode *n)
{
	n->tcp_listen = n->transport.listen;
	n->tcp_connect = n->transport.connect;
	n->transport.listen = nodelay_listen;
	n->transport.connect = nodelay_connect;
}

/* TLS with the fleet CA when given (raft_tls.h), else raft_uv's TCP with
 * TCP_NODELAY. Returns 0 or -errno. */
static int
transport_init(struct raftnode *n, uv_loop_t *loop)
{
	char err[256];
	int rv;

	if (n->o.tls) {
		if ((rv = raft_tls_init(&n->transport, loop, n->o.tls, n->o.verifier, err,
		                        sizeof(err))) < 0) {
			BM_ERROR("raft", "%s", err);
			return rv;
		}
		n->tls = n->tcp_inited = true;
		return 0;
	}
	if ((rv = raft_uv_tcp_init(&n->transport, loop)) != 0)
		return -ENOMEM;
	n->tcp_inited = true;
	transport_wrap(n);
	return 0;
}

static void
transport_free(struct raftnode *n)
{
	if (n->tls)
		raft_tls_free(&n->transport);
	else
		raft_uv_tcp_close(&n->transport);
}

int
raftnode_reload_tls(struct raftnode *n, char *err, size_t errlen)
{
	return n->tls ? raft_tls_reload(&n->transport, n->o.tls, err, errlen) : 0;
}

/* ---------------------------------------------------------------- start */

/* "1=host:port,2=host:port" into a configuration. */
static int
parse_bootstrap(const char *spec, struct raft_configuration *conf)
{
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long long id = strtoull(tok, &end, 10);
		if (!eq || end != eq || id == 0 || !eq[1])
			return -EINVAL;
		if (raft_configuration_add(conf, id, eq + 1, RAFT_VOTER) != 0)
			return -EINVAL;
	}
	return conf->n ? 0 : -EINVAL;
}

static int
bootstrap(struct raftnode *n)
{
	struct raft_configuration conf;
	int r = 0, rv;

	raft_configuration_init(&conf);
	if (n->o.bootstrap)
		r = parse_bootstrap(n->o.bootstrap, &conf);
	else /* a cluster of one, until others are added */
		r = raft_configuration_add(&conf, n->o.id, n->address, RAFT_VOTER) ? -EINVAL : 0;
	if (r == 0 && (rv = raft_bootstrap(&n->raft, &conf)) != 0 && rv != RAFT_CANTBOOTSTRAP) {
		BM_ERROR("raft", "bootstrap failed dir=%s err=\"%s\" detail=\"%s\"", n->dir,
		         raft_strerror(rv),
		         *raft_errmsg(&n->raft) ? raft_errmsg(&n->raft) : n->io.errmsg);
		r = -EIO;
	}
	raft_configuration_close(&conf);
	return r;
}

static void
start_failed_closed(struct raft *r)
{
	bm_container_of(r, struct raftnode, raft)->closing = false;
}

int
raftnode_start(uv_loop_t *loop, struct store *store, const struct raftnode_opts *o,
               struct raftnode **ret)
{
	struct raftnode *n = calloc(1, sizeof(*n));
	int rv, r = 0;

	if (!n)
		return -ENOMEM;
	n->loop = loop;
	n->store = store;
	n->o = *o;
	snprintf(n->address, sizeof(n->address), "%s", o->address);
	snprintf(n->dir, sizeof(n->dir), "%s", o->dir);
	n->o.address = n->address;
	n->o.dir = n->dir;
	n->o.bootstrap = NULL;
	pthread_mutex_init(&n->mu, NULL);
	if (mkdir(n->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
		goto fail;
	}
	n->fsm = (struct raft_fsm){ .version = 2,
		                    .data = n,
		                    .apply = fsm_apply,
		                    .snapshot = fsm_snapshot,
		                    .restore = fsm_restore,
		                    .snapshot_finalize = fsm_snapshot_finalize };
	if ((r = transport_init(n, loop)) < 0)
		goto fail;
	if ((rv = raft_uv_init(&n->io, loop, n->dir, &n->transport)) != 0 ||
	    !(n->io_inited = true) ||
	    (rv = raft_init(&n->raft, &n->io, &n->fsm, o->id, n->address)) != 0) {
		BM_ERROR("raft", "cannot initialise dir=%s err=\"%s\"", n->dir, raft_strerror(rv));
		r = -EIO;
		goto fail;
	}
	n->raft_inited = true;
	n->o.bootstrap = o->bootstrap;
	if (!o->join && (r = bootstrap(n)) < 0) {
		BM_ERROR("raft", "cannot bootstrap spec=\"%s\"",
		         o->bootstrap ? o->bootstrap : "self");
		goto fail;
	}
	n->o.bootstrap = NULL;
	raft_set_election_timeout(&n->raft,
	                          o->election_ms ? o->election_ms : RAFT_ELECTION_MS_DEFAULT);
	raft_set_heartbeat_timeout(&n->raft,
	                           o->heartbeat_ms ? o->heartbeat_ms : RAFT_HEARTBEAT_MS_DEFAULT);
	unsigned thr = o->snapshot_threshold ? o->snapshot_threshold : RAFT_SNAPSHOT_THRESHOLD;
	raft_set_snapshot_threshold(&n->raft, thr);
	raft_set_snapshot_trailing(&n->raft, thr < RAFT_SNAPSHOT_TRAILING ? thr / 2 + 1
	                                                                  : RAFT_SNAPSHOT_TRAILING);
	raft_set_pre_vote(&n->raft, true);
	if ((rv = raft_start(&n->raft)) != 0) {
		BM_ERROR("raft", "cannot start err=\"%s\" (%s)", raft_strerror(rv),
		         raft_errmsg(&n->raft));
		r = -EIO;
		goto fail;
	}
	uv_timer_init(loop, &n->status_timer);
	uv_timer_start(&n->status_timer, status_timer_cb, 0, 100);
	uv_timer_init(loop, &n->close_timer);
	uv_timer_init(loop, &n->nudge_timer);
	BM_INFO("raft", "started id=%llu address=%s dir=%s", (unsigned long long)o->id, n->address,
	        n->dir);
	*ret = n;
	return 0;
fail:
	/* Not started (or it refused to): release what was made. raft's close
	 * is asynchronous (its io closes its transport and timer), so the loop
	 * runs until it has ended; nothing was appended, so no segment writer
	 * checks the close again (raft_closed). */
	if (n->raft_inited) {
		n->closing = true;
		raft_close(&n->raft, start_failed_closed);
		while (n->closing)
			uv_run(loop, UV_RUN_ONCE);
	}
	if (n->io_inited)
		raft_uv_close(&n->io);
	if (n->tcp_inited)
		transport_free(n);
	uv_run(loop, UV_RUN_NOWAIT);
	pthread_mutex_destroy(&n->mu);
	free(n);
	return r;
}

/* ---------------------------------------------------------------- close */

static void
node_closed(uv_handle_t *h)
{
	struct raftnode *n = h->data;

	/* done() first: it stops the API, whose threads may still ask for the
	 * status copy (kept under mu) until then. */
	if (n->done)
		n->done(n->done_arg);
}

static void
nudge_closed(uv_handle_t *h)
{
	struct raftnode *n = h->data;
	n->close_timer.data = n;
	uv_close((uv_handle_t *)&n->close_timer, node_closed);
}

static void
status_closed(uv_handle_t *h)
{
	struct raftnode *n = h->data;
	n->nudge_timer.data = n;
	uv_close((uv_handle_t *)&n->nudge_timer, nudge_closed);
}

/* libraft 0.15 can run its io's close check once more after the io's close
 * callback ran: an open segment's writer, closed alongside the segment's
 * finalize, checks again as it closes (canonical/raft#341; cowsql/raft#45
 * dropped that check). That second check calls ioCloseCb again, on the
 * io's memory. So the io, and the transport it reads, stay allocated
 * until the loop has run out (raftnode_free), and the io now points at a
 * raft with nothing to release, whose close callback only says so. */
static void
raft_closed_again(struct raft *r)
{
	(void)r;
	BM_INFO("raft", "libraft closed its io a second time (canonical/raft#341): ignored");
}

static void
raft_closed(struct raft *r)
{
	struct raftnode *n = bm_container_of(r, struct raftnode, raft);

	memset(&n->closed_raft, 0, sizeof(n->closed_raft));
	n->closed_raft.close_cb = raft_closed_again;
	n->io.data = &n->closed_raft;
	transport_free(n);
	n->status_timer.data = n;
	uv_close((uv_handle_t *)&n->status_timer, status_closed);
}

/* A later loop turn: never close raft from inside one of its callbacks. */
static void
close_later(uv_timer_t *t)
{
	struct raftnode *n = bm_container_of(t, struct raftnode, close_timer);
	uv_timer_stop(&n->status_timer);
	uv_timer_stop(&n->nudge_timer);
	n->closing = true;
	raft_close(&n->raft, raft_closed);
}

void
raftnode_close(struct raftnode *n, void (*done)(void *arg), void *arg)
{
	if (!n) {
		if (done)
			done(arg);
		return;
	}
	n->done = done;
	n->done_arg = arg;
	uv_timer_start(&n->close_timer, close_later, 0, 0);
}

void
raftnode_free(struct raftnode *n)
{
	if (!n)
		return;
	raft_uv_close(&n->io);
	for (size_t i = 0; i < n->n_res; i++)
		store_result_fini(&n->res[i]);
	free(n->res);
	pthread_mutex_destroy(&n->mu);
	free(n);
}
