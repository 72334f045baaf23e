/* nng rep server with a fixed set of contexts. Each context cycles
 * RECV -> (handler) WAIT -> SEND -> RECV; the handler may answer at once or
 * from another thread later, so a slow request never holds up a fast one. */
#include <arpa/inet.h>
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/util.h"
#include "bm/worker.h"
#include "rpc_priv.h"

/* RECV: waiting for a request. WAIT: with the handler. DEFER: answered from
 * another thread, queued for the sender thread. SEND: sending. */
enum call_state { CALL_RECV, CALL_WAIT, CALL_DEFER, CALL_SEND };

struct bm_rpc_call {
	struct bm_rpc_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
	enum call_state state;
	Bm__Request *req;         /* owned while WAIT */
	uint64_t id;              /* of the request being answered */
	char peer[80];            /* where the request came from */
	char who[BM_RPC_WHO_MAX]; /* who sent it (bm_rpc_call_set_who) */
	nng_msg *answer;          /* packed while DEFER */
	struct bm_job send_job;   /* DEFER: its send, on the sender thread */
	/* The handler is running on this call's callback. Only a hint for how
	 * to send: either way is correct, so a stale value costs nothing. */
	atomic_bool in_handler;
	atomic_uint pipe; /* the connection of the request being answered */
	atomic_bool gone; /* which has closed: nobody waits for the answer */
};

struct bm_rpc_server {
	nng_socket sock;
	struct rpc_listen listen;
	bm_rpc_handler_fn fn;
	void *arg;
	unsigned ncalls; /* contexts opened */
	unsigned cap;    /* entries of calls[] */
	struct bm_rpc_call *calls;
	atomic_uint_fast64_t requests, malformed, send_errors;
	/* Answers given from other threads are sent by this thread: nng sends
	 * in the caller's thread, and the coordinator's loop must not spend
	 * its time in TCP. */
	struct bm_jobq sender;
};

static void
call_recv(struct bm_rpc_call *call)
{
	call->state = CALL_RECV;
	nng_ctx_recv(call->ctx, call->aio);
}

static void
send_deferred(struct bm_job *j)
{
	struct bm_rpc_call *c = bm_container_of(j, struct bm_rpc_call, send_job);
	nng_msg *msg = c->answer;

	c->answer = NULL;
	c->state = CALL_SEND;
	nng_aio_set_msg(c->aio, msg);
	nng_ctx_send(c->ctx, c->aio);
}

/* Send a packed answer: at once from the handler, else through the
 * sender thread. */
static void
send_msg(struct bm_rpc_call *call, nng_msg *msg)
{
	if (!atomic_load_explicit(&call->in_handler, memory_order_relaxed)) {
		/* From another thread (the coordinator's loop, after a commit):
		 * sending writes to the socket in the caller's thread, so hand
		 * it to the sender and return at once. */
		call->answer = msg;
		call->state = CALL_DEFER;
		bm_jobq_push(&call->srv->sender, &call->send_job, send_deferred);
		return;
	}
	call->state = CALL_SEND;
	nng_aio_set_msg(call->aio, msg);
	nng_ctx_send(call->ctx, call->aio);
}

/* A message of len bytes for the call's answer, or NULL (counted: REQ
 * will time out, and the call serves on). */
static nng_msg *
answer_alloc(struct bm_rpc_call *call, size_t len)
{
	nng_msg *msg;

	if (call->req) {
		bm__request__free_unpacked(call->req, NULL);
		call->req = NULL;
	}
	if (len > BM_RPC_MSG_MAX || nng_msg_alloc(&msg, len) != 0) {
		atomic_fetch_add(&call->srv->send_errors, 1);
		call_recv(call);
		return NULL;
	}
	return msg;
}

void
bm_rpc_reply(struct bm_rpc_call *call, Bm__Response *resp)
{
	nng_msg *msg;

	resp->version = BM_PROTO_VERSION;
	resp->id = call->id;
	if ((msg = answer_alloc(call, bm__response__get_packed_size(resp)))) {
		bm__response__pack(resp, nng_msg_body(msg));
		send_msg(call, msg);
	}
}

void
bm_rpc_reply_packed(struct bm_rpc_call *call, const uint8_t *packed, size_t len)
{
	Bm__Response tail = BM__RESPONSE__INIT;
	nng_msg *msg;

	/* A protobuf message may come in parts, a field given again winning:
	 * the shared bytes, then this call's id and version. */
	tail.version = BM_PROTO_VERSION;
	tail.id = call->id;
	if ((msg = answer_alloc(call, len + bm__response__get_packed_size(&tail)))) {
		memcpy(nng_msg_body(msg), packed, len);
		bm__response__pack(&tail, (uint8_t *)nng_msg_body(msg) + len);
		send_msg(call, msg);
	}
}

void
bm_rpc_reply_status(struct bm_rpc_call *call, Bm__Status status, const char *message)
{
	Bm__Response resp = BM__RESPONSE__INIT;

	resp.status = status;
	resp.message = (char *)message;
	bm_rpc_reply(call, &resp);
}

/* The peer's address, for the audit and the logs. */
static void
note_peer(struct bm_rpc_call *call, nng_pipe p)
{
	nng_sockaddr sa;
	char ip[INET6_ADDRSTRLEN];

	snprintf(call->peer, sizeof(call->peer), "local");
	call->who[0] = '\0';
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET && inet_ntop(AF_INET, &sa.s_in.sa_addr, ip, sizeof(ip)))
		snprintf(call->peer, sizeof(call->peer), "%s:%u", ip, ntohs(sa.s_in.sa_port));
	else if (sa.s_family == NNG_AF_INET6 &&
	         inet_ntop(AF_INET6, sa.s_in6.sa_addr, ip, sizeof(ip)))
		snprintf(call->peer, sizeof(call->peer), "[%s]:%u", ip, ntohs(sa.s_in6.sa_port));
}

const char *
bm_rpc_call_peer(const struct bm_rpc_call *call, char *buf, size_t len)
{
	snprintf(buf, len, "%s", call->peer);
	return buf;
}

void
bm_rpc_call_set_who(struct bm_rpc_call *call, const char *who)
{
	snprintf(call->who, sizeof(call->who), "%s", who);
}

const char *
bm_rpc_call_who(const struct bm_rpc_call *call)
{
	return call->who;
}

bool
bm_rpc_call_gone(const struct bm_rpc_call *call)
{
	return atomic_load(&call->gone);
}

/* A connection closed: its calls being answered are marked gone, so that a
 * handler holding one (a parked watch) lets it go at once instead of
 * holding a context for an answer nobody reads. A scan of the contexts:
 * closes are rare next to requests. */
static void
pipe_closed(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct bm_rpc_server *srv = arg;
	unsigned id = (unsigned)nng_pipe_id(p);

	(void)ev;
	for (unsigned i = 0; i < srv->ncalls; i++)
		if (atomic_load(&srv->calls[i].pipe) == id)
			atomic_store(&srv->calls[i].gone, true);
}

static void
call_received(struct bm_rpc_call *call)
{
	struct bm_rpc_server *srv = call->srv;
	nng_msg *msg = nng_aio_get_msg(call->aio);
	Bm__Request *req;

	if (nng_msg_len(msg) == 0) { /* the listener watchdog's ping (rpc_listen.c) */
		call->state = CALL_SEND;
		nng_aio_set_msg(call->aio, msg);
		nng_ctx_send(call->ctx, call->aio);
		return;
	}
	req = bm__request__unpack(NULL, nng_msg_len(msg), nng_msg_body(msg));
	note_peer(call, nng_msg_get_pipe(msg));
	atomic_store(&call->gone, false);
	atomic_store(&call->pipe, nng_pipe_id(nng_msg_get_pipe(msg)));
	nng_msg_free(msg);
	call->state = CALL_WAIT;
	call->id = req ? req->id : 0;
	if (!req) {
		atomic_fetch_add(&srv->malformed, 1);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_INVALID, "malformed request");
		return;
	}
	if (req->version != BM_PROTO_VERSION) {
		bm__request__free_unpacked(req, NULL);
		atomic_fetch_add(&srv->malformed, 1);
		bm_rpc_reply_status(call, BM__STATUS__STATUS_BAD_VERSION,
		                    "unsupported protocol version (this coordinator speaks 1)");
		return;
	}
	call->req = req;
	atomic_fetch_add(&srv->requests, 1);
	atomic_store_explicit(&call->in_handler, true, memory_order_relaxed);
	srv->fn(srv->arg, call, req);
	atomic_store_explicit(&call->in_handler, false, memory_order_relaxed);
}

static void
call_aio_cb(void *arg)
{
	struct bm_rpc_call *call = arg;
	int e = nng_aio_result(call->aio);

	switch (call->state) {
	case CALL_RECV:
		if (e == NNG_ECLOSED || e == NNG_ECANCELED)
			return; /* server stopping */
		if (e != 0) {
			call_recv(call);
			return;
		}
		call_received(call);
		return;
	case CALL_SEND:
		if (e != 0) {
			nng_msg_free(nng_aio_get_msg(call->aio));
			atomic_fetch_add(&call->srv->send_errors, 1);
			if (e == NNG_ECLOSED || e == NNG_ECANCELED)
				return;
		}
		call_recv(call);
		return;
	case CALL_WAIT:
	case CALL_DEFER: return; /* no operation is outstanding */
	}
}

static void
server_free(struct bm_rpc_server *s)
{
	for (unsigned i = 0; i < s->cap; i++) {
		nng_aio_free(s->calls[i].aio); /* waits for its callback */
		if (s->calls[i].req)
			bm__request__free_unpacked(s->calls[i].req, NULL);
	}
	free(s->calls);
	free(s);
}

int
bm_rpc_server_set_tls(struct bm_rpc_server *s, struct bm_rpc_creds *creds)
{
	int e;

	if (!bm_rpc_url_tls(s->listen.url))
		return -EINVAL;
	if ((e = rpc_listen_again(&s->listen, creds)) != 0)
		return bm_rpc_errno(e);
	return 0;
}

int
bm_rpc_server_start(const char *url, unsigned nctx, bm_rpc_handler_fn fn, void *arg,
                    struct bm_rpc_creds *creds, struct bm_rpc_server **ret_server)
{
	struct bm_rpc_server *s;
	int e;

	if (nctx == 0 || nctx > BM_RPC_CONTEXTS_MAX)
		return -EINVAL;
	if (!(s = calloc(1, sizeof(*s))) || !(s->calls = calloc(nctx, sizeof(*s->calls)))) {
		free(s);
		return -ENOMEM;
	}
	s->cap = nctx;
	s->fn = fn;
	s->arg = arg;
	if ((e = nng_rep0_open(&s->sock)) != 0) {
		free(s->calls);
		free(s);
		return bm_rpc_errno(e);
	}
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, BM_RPC_MSG_MAX);
	for (unsigned i = 0; i < nctx && e == 0; i++) {
		struct bm_rpc_call *c = &s->calls[i];
		c->srv = s;
		if ((e = nng_aio_alloc(&c->aio, call_aio_cb, c)) == 0 &&
		    (e = nng_ctx_open(&c->ctx, s->sock)) == 0)
			s->ncalls = i + 1;
	}
	if (e == 0)
		e = nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_closed, s);
	if (e == 0)
		e = rpc_listen_start(&s->listen, s->sock, url, creds);
	if (e == 0 && bm_jobq_start(&s->sender, "rpc-send") < 0)
		e = NNG_ENOMEM;
	if (e != 0) {
		bm_jobq_stop(&s->sender);
		rpc_listen_stop(&s->listen);
		nng_close(s->sock);
		server_free(s);
		return bm_rpc_errno(e);
	}
	for (unsigned i = 0; i < s->ncalls; i++)
		call_recv(&s->calls[i]);
	*ret_server = s;
	return 0;
}

void
bm_rpc_server_stats(struct bm_rpc_server *s, struct bm_rpc_stats *ret)
{
	ret->requests = atomic_load(&s->requests);
	ret->malformed = atomic_load(&s->malformed);
	ret->send_errors = atomic_load(&s->send_errors);
	ret->listen_restarts = atomic_load(&s->listen.restarts);
}

void
bm_rpc_server_stop(struct bm_rpc_server *s)
{
	if (!s)
		return;
	/* Send what is queued, then stop the sender. */
	bm_jobq_stop(&s->sender);
	rpc_listen_stop(&s->listen);
	nng_close(s->sock);
	for (unsigned i = 0; i < s->ncalls; i++)
		nng_aio_stop(s->calls[i].aio);
	server_free(s);
}
