#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "rpc_priv.h"

/* A context and its aio, kept between calls: opening them costs as much as
 * a small request. A client used from one thread always finds its pair
 * free; concurrent callers open their own for the call. */
struct exch {
	nng_ctx ctx;
	nng_aio *aio;
};

struct bm_rpc_client {
	nng_socket sock;
	struct bm_rpc_creds *creds; /* borrowed: TLS and the token */
	atomic_uint_fast64_t next_id;
	pthread_mutex_t spare_mu;
	struct exch spare;
	bool have_spare;
	atomic_int pipes;   /* connections up (nng's pipe events) */
	unsigned creds_gen; /* of creds when it dialed (its dialer keeps them) */
};

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct bm_rpc_client *c = arg;

	(void)p;
	atomic_fetch_add(&c->pipes, ev == NNG_PIPE_EV_ADD_PRE ? 1 : -1);
}

bool
bm_rpc_client_up(struct bm_rpc_client *c)
{
	return atomic_load(&c->pipes) > 0;
}

bool
bm_rpc_client_stale(struct bm_rpc_client *c)
{
	return c->creds && rpc_tls_gen(c->creds) != c->creds_gen;
}

static int client_open(const char *url, struct bm_rpc_creds *cr, int flags, int timeout_ms,
                       struct bm_rpc_client **ret_client);

int
bm_rpc_client_open(const char *url, struct bm_rpc_creds *cr, struct bm_rpc_client **ret_client)
{
	return client_open(url, cr, NNG_FLAG_NONBLOCK, 0, ret_client);
}

int
bm_rpc_client_connect(const char *url, struct bm_rpc_creds *cr, int timeout_ms,
                      struct bm_rpc_client **ret_client)
{
	return client_open(url, cr, 0, timeout_ms, ret_client);
}

/* Dial url, over TLS for a tls+tcp:// URL. Returns an NNG error. */
static int
dial(struct bm_rpc_client *c, const char *url, int flags)
{
	nng_tls_config *cfg;
	int e;

	if (!bm_rpc_url_tls(url))
		return rpc_dial(c->sock, url, NULL, flags);
	if (!c->creds)
		return NNG_EINVAL;
	if ((e = rpc_tls_config(c->creds, url, &cfg)) != 0)
		return e;
	e = rpc_dial(c->sock, url, cfg, flags);
	nng_tls_config_free(cfg); /* the dialer holds it */
	return e;
}

/* A synchronous dial, on a thread of its own so that the caller's wait is
 * bounded: nng 1.5's dial waits for the TLS handshake without a limit (its
 * negotiation timeout cannot abort a handshake waiting for the server's
 * first bytes), and a listener whose kernel queue took the connection but
 * whose process never reads it would hold it forever. */
struct dial_job {
	struct bm_rpc_client *c;
	const char *url;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* on CLOCK_MONOTONIC */
	bool done;
	int e;
};

static void *
dial_main(void *arg)
{
	struct dial_job *j = arg;
	int e = dial(j->c, j->url, 0);

	pthread_mutex_lock(&j->mu);
	j->e = e;
	j->done = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* Dial now, within timeout_ms: NNG_ETIMEDOUT past it (the socket is then
 * closed, which ends the dial). */
static int
dial_within(struct bm_rpc_client *c, const char *url, int timeout_ms)
{
	struct dial_job j = { .c = c, .url = url };
	pthread_condattr_t ca;
	struct timespec until;
	pthread_t th;
	bool late;
	int e = 0;

	pthread_mutex_init(&j.mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j.cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&th, NULL, dial_main, &j) != 0) {
		e = dial(c, url, 0); /* no thread: unbounded, as before */
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L)
		until.tv_sec++, until.tv_nsec -= 1000000000L;
	pthread_mutex_lock(&j.mu);
	while (!j.done && e != ETIMEDOUT)
		e = pthread_cond_timedwait(&j.cv, &j.mu, &until);
	late = !j.done;
	pthread_mutex_unlock(&j.mu);
	if (late)
		nng_close(c->sock); /* fails the dial in progress */
	pthread_join(th, NULL);
	e = late ? NNG_ETIMEDOUT : j.e;
out:
	pthread_cond_destroy(&j.cv);
	pthread_mutex_destroy(&j.mu);
	return e;
}

static int
client_open(const char *url, struct bm_rpc_creds *cr, int flags, int timeout_ms,
            struct bm_rpc_client **ret_client)
{
	struct bm_rpc_client *c = calloc(1, sizeof(*c));
	struct timespec ts;
	int e;

	if (!c)
		return -ENOMEM;
	c->creds = cr;
	c->creds_gen = cr ? rpc_tls_gen(cr) : 0;
	if ((e = nng_req0_open(&c->sock)) != 0) {
		free(c);
		return bm_rpc_errno(e);
	}
	/* Never resend on a timer: a write is not repeated behind the caller's
	 * back. (A request whose connection drops is still resent by REQ on the
	 * next connection; every write of the API is safe to apply twice or
	 * answers "exists".) */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, BM_RPC_MSG_MAX);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, c); /* each has a REM_POST */
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, pipe_cb, c);
	e = flags || timeout_ms <= 0 ? dial(c, url, flags) : dial_within(c, url, timeout_ms);
	if (e != 0) {
		nng_close(c->sock); /* again after a timeout: harmless */
		free(c);
		return bm_rpc_errno(e);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	atomic_init(&c->next_id, ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec);
	pthread_mutex_init(&c->spare_mu, NULL);
	*ret_client = c;
	return 0;
}

void
bm_rpc_client_free(struct bm_rpc_client *c)
{
	if (!c)
		return;
	if (c->have_spare) {
		nng_aio_free(c->spare.aio);
		nng_ctx_close(c->spare.ctx);
	}
	nng_close(c->sock);
	pthread_mutex_destroy(&c->spare_mu);
	free(c);
}

void
bm_rpc_client_shutdown(struct bm_rpc_client *c)
{
	if (c)
		nng_close(c->sock);
}

static int
exch_get(struct bm_rpc_client *c, struct exch *x)
{
	int e;

	pthread_mutex_lock(&c->spare_mu);
	if (c->have_spare) {
		*x = c->spare;
		c->have_spare = false;
		pthread_mutex_unlock(&c->spare_mu);
		return 0;
	}
	pthread_mutex_unlock(&c->spare_mu);
	if ((e = nng_ctx_open(&x->ctx, c->sock)) != 0)
		return e;
	if ((e = nng_aio_alloc(&x->aio, NULL, NULL)) != 0)
		nng_ctx_close(x->ctx);
	return e;
}

static void
exch_put(struct bm_rpc_client *c, struct exch *x)
{
	pthread_mutex_lock(&c->spare_mu);
	if (!c->have_spare) {
		c->spare = *x;
		c->have_spare = true;
		x = NULL;
	}
	pthread_mutex_unlock(&c->spare_mu);
	if (x) {
		nng_aio_free(x->aio);
		nng_ctx_close(x->ctx);
	}
}

static int
pack_request(Bm__Request *req, nng_msg **ret_msg)
{
	size_t len = bm__request__get_packed_size(req);
	nng_msg *msg;
	int e;

	if (len > BM_RPC_MSG_MAX)
		return -EMSGSIZE;
	if ((e = nng_msg_alloc(&msg, len)) != 0)
		return bm_rpc_errno(e);
	bm__request__pack(req, nng_msg_body(msg));
	*ret_msg = msg;
	return 0;
}

/* One send and one receive on a context of our own, so calls from several
 * threads never see each other's answers. */
static int
exchange(struct bm_rpc_client *c, nng_msg *msg, int timeout_ms, nng_msg **ret_msg)
{
	struct exch x;
	int e;

	if ((e = exch_get(c, &x)) != 0) {
		nng_msg_free(msg);
		return bm_rpc_errno(e);
	}
	nng_aio_set_timeout(x.aio, timeout_ms);
	nng_aio_set_msg(x.aio, msg);
	nng_ctx_send(x.ctx, x.aio);
	nng_aio_wait(x.aio);
	if ((e = nng_aio_result(x.aio)) != 0) {
		nng_msg_free(msg);
		goto out;
	}
	/* REQ's send completes once queued; the timeout covers the answer. */
	nng_ctx_recv(x.ctx, x.aio);
	nng_aio_wait(x.aio);
	if ((e = nng_aio_result(x.aio)) == 0)
		*ret_msg = nng_aio_get_msg(x.aio);
out:
	exch_put(c, &x);
	return bm_rpc_errno(e);
}

int
bm_rpc_call(struct bm_rpc_client *c, Bm__Request *req, int timeout_ms, Bm__Response **ret_resp)
{
	Bm__Response *resp;
	nng_msg *msg = NULL, *answer = NULL;
	struct bm_auth_token tok;
	Bm__Auth *had = req->auth;
	int r;

	req->version = BM_PROTO_VERSION;
	req->id = atomic_fetch_add(&c->next_id, 1);
	rpc_tls_stamp(c->creds, req, &tok);
	r = pack_request(req, &msg);
	req->auth = had; /* tok lives on this stack only */
	if (r < 0)
		return r;
	if ((r = exchange(c, msg, timeout_ms, &answer)) < 0)
		return r;
	resp = bm__response__unpack(NULL, nng_msg_len(answer), nng_msg_body(answer));
	nng_msg_free(answer);
	if (!resp)
		return -EBADMSG;
	if (resp->id != req->id && resp->id != 0) {
		bm__response__free_unpacked(resp, NULL);
		return -EBADMSG;
	}
	*ret_resp = resp;
	return 0;
}
