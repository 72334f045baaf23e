/* A coordinator that answers every request with status OK and a body of
 * the wrong shape, for bmctl's tests: a client must refuse such answers
 * with an error, never crash on them.
 *   odd_coord URL MODE
 * MODE: nobody (no body at all), other (a body of another kind), hollow
 * (the right kind, empty inside: no operation, an object of no kind),
 * twoops (an operation answer naming two operations). Runs until killed. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bm/rpc.h"

static const char *mode;

static void
hollow(Bm__Response *r, const Bm__Request *q, void *bodies[])
{
	switch (q->body_case) {
	case BM__REQUEST__BODY_GET:
		r->body_case = BM__RESPONSE__BODY_OBJECT;
		r->object = bodies[0];
		break;
	case BM__REQUEST__BODY_LIST:
		r->body_case = BM__RESPONSE__BODY_LIST;
		r->list = bodies[1];
		break;
	case BM__REQUEST__BODY_STATUS:
		r->body_case = BM__RESPONSE__BODY_STATUS_RESULT;
		r->status_result = bodies[2];
		break;
	case BM__REQUEST__BODY_TRACE:
		r->body_case = BM__RESPONSE__BODY_TRACE;
		r->trace = bodies[3];
		break;
	case BM__REQUEST__BODY_CLUSTER:
		r->body_case = BM__RESPONSE__BODY_CLUSTER;
		r->cluster = bodies[4];
		break;
	default:
		r->body_case = BM__RESPONSE__BODY_OP;
		r->op = bodies[5];
		break;
	}
}

static void
handle(void *arg, struct bm_rpc_call *call, const Bm__Request *q)
{
	Bm__Response r = BM__RESPONSE__INIT;
	Bm__Object obj = BM__OBJECT__INIT, item = BM__OBJECT__INIT, *items[1] = { &item };
	Bm__ListResult list = BM__LIST_RESULT__INIT;
	Bm__StatusResult st = BM__STATUS_RESULT__INIT;
	Bm__TraceResult tr = BM__TRACE_RESULT__INIT;
	Bm__Event ev = BM__EVENT__INIT, *evs[1] = { &ev };
	Bm__ClusterResult cl = BM__CLUSTER_RESULT__INIT;
	Bm__OpResult op = BM__OP_RESULT__INIT;
	Bm__Operation o1 = BM__OPERATION__INIT, o2 = BM__OPERATION__INIT, *ops[2] = { &o1, &o2 };
	Bm__Machine m = BM__MACHINE__INIT, *ms[1] = { &m };
	Bm__WatchResult w = BM__WATCH_RESULT__INIT;
	void *bodies[] = { &obj, &list, &st, &tr, &cl, &op };

	(void)arg;
	list.items = items;
	list.n_items = 1;
	tr.events = evs;
	tr.n_events = 1;
	op.machines = ms;
	op.n_machines = 1;
	o1.name = "op-1";
	o2.name = "op-2";
	r.status = BM__STATUS__STATUS_OK;
	if (!strcmp(mode, "other")) {
		r.body_case = BM__RESPONSE__BODY_WATCH;
		r.watch = &w;
	} else if (!strcmp(mode, "hollow")) {
		hollow(&r, q, bodies);
	} else if (!strcmp(mode, "twoops")) {
		op.operations = ops;
		op.n_operations = 2;
		hollow(&r, q, bodies);
	}
	bm_rpc_reply(call, &r);
}

int
main(int argc, char **argv)
{
	struct bm_rpc_server *s;
	sigset_t set;
	int sig;

	if (argc != 3) {
		fprintf(stderr, "usage: odd_coord URL nobody|other|hollow|twoops\n");
		return 2;
	}
	mode = argv[2];
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (bm_rpc_server_start(argv[1], 4, handle, NULL, NULL, &s) < 0) {
		fprintf(stderr, "odd_coord: cannot listen on %s\n", argv[1]);
		return 1;
	}
	sigwait(&set, &sig);
	bm_rpc_server_stop(s);
	return 0;
}
