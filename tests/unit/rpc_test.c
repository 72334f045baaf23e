/* The RPC envelope over nng: answers now or later from another thread,
 * many callers at once, garbage and wrong versions answered without
 * reaching the handler, timeouts, a connection up, a caller gone. */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bm/rpc.h"

/* Calls parked by the handler, answered by the responder thread. */
#define PARK_MAX 256
static struct bm_rpc_call *parked[PARK_MAX];
static int nparked;
static int handled;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int stop_responder;
static int delay_ms = 5;
static int hold; /* while set, parked calls stay parked */

static void
handler(void *arg, struct bm_rpc_call *call, const Bm__Request *req)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	handled++;
	pthread_mutex_unlock(&mu);
	if (req->body_case == BM__REQUEST__BODY_STATUS) {
		Bm__Response resp = BM__RESPONSE__INIT;
		resp.revision = 42;
		bm_rpc_reply(call, &resp);
		return;
	}
	pthread_mutex_lock(&mu);
	parked[nparked++] = call;
	pthread_mutex_unlock(&mu);
}

static void *
responder(void *arg)
{
	unsigned answered = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_responder, __ATOMIC_SEQ_CST)) {
		struct bm_rpc_call *c = NULL;
		usleep((useconds_t)delay_ms * 1000);
		pthread_mutex_lock(&mu);
		if (nparked && !hold)
			c = parked[--nparked];
		pthread_mutex_unlock(&mu);
		if (c) {
			Bm__Response resp = BM__RESPONSE__INIT;
			resp.revision = 7;
			resp.message = "later";
			if (answered++ % 2) {
				bm_rpc_reply(c, &resp);
				continue;
			}
			/* Every other one packed once, as for many calls: with
			 * an id of its own that the call's must replace. */
			uint8_t buf[64];
			resp.id = 999999;
			assert_true(bm__response__get_packed_size(&resp) <= sizeof(buf));
			bm_rpc_reply_packed(c, buf, bm__response__pack(&resp, buf));
		}
	}
	return NULL;
}

static char url[128];
static struct bm_rpc_server *srv;
static pthread_t resp_thread;

static int
setup(void **state)
{
	(void)state;
	snprintf(url, sizeof(url), "ipc:///tmp/bm-rpc-test-%d.sock", (int)getpid());
	assert_int_equal(bm_rpc_server_start(url, 16, handler, NULL, NULL, &srv), 0);
	stop_responder = 0;
	pthread_create(&resp_thread, NULL, responder, NULL);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	/* Every parked call must be answered before the server stops. */
	while (1) {
		pthread_mutex_lock(&mu);
		int n = nparked;
		pthread_mutex_unlock(&mu);
		if (!n)
			break;
		usleep(1000);
	}
	__atomic_store_n(&stop_responder, 1, __ATOMIC_SEQ_CST);
	pthread_join(resp_thread, NULL);
	bm_rpc_server_stop(srv);
	return 0;
}

static int
call(struct bm_rpc_client *c, Bm__Request__BodyCase kind, int timeout, Bm__Response **resp)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__StatusRequest st = BM__STATUS_REQUEST__INIT;
	Bm__GetRequest g = BM__GET_REQUEST__INIT;

	req.body_case = kind;
	if (kind == BM__REQUEST__BODY_STATUS)
		req.status = &st;
	else
		req.get = &g;
	return bm_rpc_call(c, &req, timeout, resp);
}

static void
test_now_and_later(void **state)
{
	struct bm_rpc_client *c;
	Bm__Response *resp;

	(void)state;
	assert_int_equal(bm_rpc_client_open(url, NULL, &c), 0);
	assert_int_equal(call(c, BM__REQUEST__BODY_STATUS, 5000, &resp), 0);
	assert_int_equal(resp->revision, 42);
	assert_int_equal(resp->version, BM_PROTO_VERSION);
	bm__response__free_unpacked(resp, NULL);
	assert_int_equal(call(c, BM__REQUEST__BODY_GET, 5000, &resp), 0);
	assert_int_equal(resp->revision, 7);
	assert_string_equal(resp->message, "later");
	bm__response__free_unpacked(resp, NULL);
	bm_rpc_client_free(c);
}

static void *
slow_call(void *arg)
{
	Bm__Response *resp = NULL;
	int *ok = arg;
	struct bm_rpc_client *c;

	assert_int_equal(bm_rpc_client_open(url, NULL, &c), 0);
	*ok = call(c, BM__REQUEST__BODY_GET, 10000, &resp) == 0 && resp->revision == 7;
	if (resp)
		bm__response__free_unpacked(resp, NULL);
	bm_rpc_client_free(c);
	return NULL;
}

/* A request the handler holds does not hold up the others: a fast one is
 * answered while the slow one is still parked. */
static void
test_slow_does_not_block_fast(void **state)
{
	struct bm_rpc_client *c;
	Bm__Response *resp;
	pthread_t t;
	int slow_ok = 0, parked_now;

	(void)state;
	pthread_mutex_lock(&mu);
	hold = 1;
	pthread_mutex_unlock(&mu);
	pthread_create(&t, NULL, slow_call, &slow_ok);
	do {
		usleep(1000);
		pthread_mutex_lock(&mu);
		parked_now = nparked;
		pthread_mutex_unlock(&mu);
	} while (parked_now == 0);
	assert_int_equal(bm_rpc_client_open(url, NULL, &c), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(call(c, BM__REQUEST__BODY_STATUS, 5000, &resp), 0);
		assert_int_equal(resp->revision, 42);
		bm__response__free_unpacked(resp, NULL);
	}
	pthread_mutex_lock(&mu);
	assert_int_equal(nparked, 1); /* the slow one is still waiting */
	hold = 0;
	pthread_mutex_unlock(&mu);
	pthread_join(t, NULL);
	assert_true(slow_ok);
	bm_rpc_client_free(c);
}

struct caller {
	struct bm_rpc_client *c;
	int ok;
};

static void *
many_calls(void *arg)
{
	struct caller *k = arg;
	for (int i = 0; i < 40; i++) {
		Bm__Response *resp;
		Bm__Request__BodyCase kind =
		    i % 2 ? BM__REQUEST__BODY_GET : BM__REQUEST__BODY_STATUS;
		if (call(k->c, kind, 10000, &resp) == 0) {
			k->ok += resp->revision == (kind == BM__REQUEST__BODY_GET ? 7u : 42u);
			bm__response__free_unpacked(resp, NULL);
		}
	}
	return NULL;
}

static void
test_concurrent_callers(void **state)
{
	struct bm_rpc_client *c;
	pthread_t t[8];
	struct caller k[8];

	(void)state;
	delay_ms = 1;
	assert_int_equal(bm_rpc_client_open(url, NULL, &c), 0);
	for (int i = 0; i < 8; i++) {
		k[i] = (struct caller){ c, 0 };
		pthread_create(&t[i], NULL, many_calls, &k[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(k[i].ok, 40); /* each got its own answer */
	}
	bm_rpc_client_free(c);
	delay_ms = 5;
}

/* Send raw bytes on a REQ socket; return the decoded answer. */
static Bm__Response *
raw_exchange(const void *buf, size_t len)
{
	nng_socket s;
	void *answer = NULL;
	size_t alen = 0;
	Bm__Response *resp;

	assert_int_equal(nng_req0_open(&s), 0);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 5000);
	assert_int_equal(nng_dial(s, url, NULL, 0), 0);
	assert_int_equal(nng_send(s, (void *)buf, len, 0), 0);
	assert_int_equal(nng_recv(s, &answer, &alen, NNG_FLAG_ALLOC), 0);
	resp = bm__response__unpack(NULL, alen, answer);
	nng_free(answer, alen);
	nng_close(s);
	assert_non_null(resp);
	return resp;
}

static void
test_garbage_and_version(void **state)
{
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99 };
	Bm__Request req = BM__REQUEST__INIT;
	Bm__StatusRequest st = BM__STATUS_REQUEST__INIT;
	Bm__Response *resp;
	uint8_t buf[64];
	struct bm_rpc_stats stats;
	int before;

	(void)state;
	pthread_mutex_lock(&mu);
	before = handled;
	pthread_mutex_unlock(&mu);
	resp = raw_exchange(garbage, sizeof(garbage));
	assert_int_equal(resp->status, BM__STATUS__STATUS_INVALID);
	assert_string_equal(resp->message, "malformed request");
	bm__response__free_unpacked(resp, NULL);

	req.version = 99;
	req.id = 5;
	req.body_case = BM__REQUEST__BODY_STATUS;
	req.status = &st;
	resp = raw_exchange(buf, bm__request__pack(&req, buf));
	assert_int_equal(resp->status, BM__STATUS__STATUS_BAD_VERSION);
	assert_int_equal(resp->id, 5);
	bm__response__free_unpacked(resp, NULL);
	pthread_mutex_lock(&mu);
	assert_int_equal(handled, before); /* neither reached the handler */
	pthread_mutex_unlock(&mu);
	bm_rpc_server_stats(srv, &stats);
	assert_int_equal(stats.malformed, 2);
}

static void
test_timeouts(void **state)
{
	struct bm_rpc_client *c;
	Bm__Response *resp;

	(void)state;
	/* Held, not delayed: a sleeping responder could still answer in time. */
	pthread_mutex_lock(&mu);
	hold = 1;
	pthread_mutex_unlock(&mu);
	assert_int_equal(bm_rpc_client_open(url, NULL, &c), 0);
	assert_int_equal(call(c, BM__REQUEST__BODY_GET, 100, &resp), -ETIMEDOUT);
	bm_rpc_client_free(c);
	pthread_mutex_lock(&mu);
	hold = 0; /* the late answer goes nowhere, harmlessly */
	pthread_mutex_unlock(&mu);
	assert_int_equal(bm_rpc_client_open("ipc:///tmp/bm-rpc-test-nobody.sock", NULL, &c), 0);
	assert_int_equal(call(c, BM__REQUEST__BODY_STATUS, 200, &resp), -ETIMEDOUT);
	bm_rpc_client_free(c);
	assert_int_equal(bm_rpc_client_open("nonsense://x", NULL, &c), -EINVAL);
}

/* A client knows when its connection is up; the server knows when the
 * connection of a call it holds has closed. */
static void
test_up_and_gone(void **state)
{
	struct bm_rpc_client *c;
	struct bm_rpc_call *held;
	Bm__Response *resp;
	int i;

	(void)state;
	pthread_mutex_lock(&mu);
	hold = 1;
	pthread_mutex_unlock(&mu);
	assert_int_equal(bm_rpc_client_open("ipc:///tmp/bm-rpc-test-nobody.sock", NULL, &c), 0);
	assert_false(bm_rpc_client_up(c));
	bm_rpc_client_free(c);
	assert_int_equal(bm_rpc_client_open(url, NULL, &c), 0);
	assert_int_equal(call(c, BM__REQUEST__BODY_STATUS, 5000, &resp), 0);
	bm__response__free_unpacked(resp, NULL);
	assert_true(bm_rpc_client_up(c));
	assert_int_equal(call(c, BM__REQUEST__BODY_GET, 100, &resp), -ETIMEDOUT);
	assert_true(bm_rpc_client_up(c)); /* timed out on a connection that is up */
	pthread_mutex_lock(&mu);
	assert_int_equal(nparked, 1);
	held = parked[0];
	pthread_mutex_unlock(&mu);
	assert_false(bm_rpc_call_gone(held));
	bm_rpc_client_free(c);
	for (i = 0; i < 500 && !bm_rpc_call_gone(held); i++)
		usleep(10 * 1000);
	assert_true(bm_rpc_call_gone(held));
	pthread_mutex_lock(&mu);
	hold = 0; /* answered into the void */
	pthread_mutex_unlock(&mu);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_now_and_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_callers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_does_not_block_fast, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_and_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_up_and_gone, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
