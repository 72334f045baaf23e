/* Sends one agent request as a given certificate, for the trust tests:
 *   rpc_probe URL CA CERT KEY register|watch|report|blob|apply RACK [MAC|SHA256|PEER_URL SHA256|N]
 * register: as agent "probe" of RACK (with PEER_URL SHA256: serving its
 * site's agents at PEER_URL, and holding the image SHA256); watch: RACK's view from revision 0;
 * report: a "state=done" callback for MAC, as agent "probe" of RACK;
 * blob: the first bytes of the blob SHA256 (hex); apply: one Apply request
 * of N machines probe-0..probe-N-1 in RACK (apply RACK N); ops: bmctl op
 * get's list (RACK ignored), then "op NAME listed=N names=M" for each.
 * Prints "STATUS message" (the answer's status name and message, and for a
 * watch the number of objects received, then "machine NAME password=PASS"
 * for each machine whose BMC password came with it) and exits 0 when the
 * call was answered at all, 1 otherwise. CA "" calls in plaintext. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/proto.h"
#include "bm/rpc.h"
#include "bm/sha256.h"
#include "bm/util.h"

/* n machines probe-I of rack (fleet_free frees them). */
static int
fleet_of(const char *rack, size_t n, Bm__Fleet *f)
{
	Bm__Machine *ms = calloc(n + 1, sizeof(*ms));

	if (!ms || !(f->machines = calloc(n + 1, sizeof(*f->machines)))) {
		free(ms);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char name[32];
		bm__machine__init(&ms[i]);
		snprintf(name, sizeof(name), "probe-%zu", i);
		if (!(ms[i].name = strdup(name)))
			return -1;
		ms[i].rack = (char *)rack;
		f->machines[f->n_machines++] = &ms[i];
	}
	return 0;
}

static void
fleet_free(Bm__Fleet *f)
{
	for (size_t i = 0; i < f->n_machines; i++)
		free(f->machines[i]->name);
	free(f->n_machines ? f->machines[0] : NULL);
	free(f->machines);
}

int
main(int argc, char **argv)
{
	struct bm_rpc_tls t;
	struct bm_rpc_creds *cr = NULL;
	struct bm_rpc_client *c;
	Bm__Request req = BM__REQUEST__INIT;
	Bm__RegisterRequest rr = BM__REGISTER_REQUEST__INIT;
	Bm__AgentInfo info = BM__AGENT_INFO__INIT;
	Bm__WatchRequest w = BM__WATCH_REQUEST__INIT;
	Bm__ReportEventsRequest rq = BM__REPORT_EVENTS_REQUEST__INIT;
	Bm__AgentEvents batch = BM__AGENT_EVENTS__INIT;
	Bm__Event e = BM__EVENT__INIT, *ep = &e;
	Bm__Response *resp;
	uint8_t mac[6] = { 0 }, sha[BM_SHA256_LEN];
	Bm__BlobGetRequest bg = BM__BLOB_GET_REQUEST__INIT;
	Bm__ApplyRequest ar = BM__APPLY_REQUEST__INIT;
	Bm__Fleet fleet = BM__FLEET__INIT;
	Bm__OpRequest oq = BM__OP_REQUEST__INIT;
	ProtobufCBinaryData held = { sizeof(sha), sha };
	char err[256];
	int r;

	if (argc < 7) {
		fprintf(
		    stderr,
		    "usage: rpc_probe URL CA CERT KEY register|watch|report|blob|apply|ops RACK "
		    "[MAC|SHA256|PEER_URL SHA256|N]\n");
		return 2;
	}
	t = (struct bm_rpc_tls){ argv[2], argv[3], argv[4], NULL };
	if (*argv[2] && bm_rpc_creds_new(&t, false, &cr, err, sizeof(err)) < 0) {
		fprintf(stderr, "rpc_probe: %s\n", err);
		return 1;
	}
	if (!strcmp(argv[5], "register")) {
		info.id = "probe";
		info.rack = argv[6];
		if (argc >= 9 && bm_sha256_parse(argv[8], sha) == 0) {
			info.peer_url = argv[7];
			info.cached = &held;
			info.n_cached = 1;
		}
		rr.agent = &info;
		req.body_case = BM__REQUEST__BODY_REGISTER;
		req.register_ = &rr;
	} else if (!strcmp(argv[5], "watch")) {
		w.agent_id = "probe";
		w.rack = argv[6];
		req.body_case = BM__REQUEST__BODY_WATCH;
		req.watch = &w;
	} else if (!strcmp(argv[5], "apply")) {
		if (argc < 8 || fleet_of(argv[6], (size_t)atol(argv[7]), &fleet) < 0)
			return 2;
		ar.fleet = &fleet;
		req.body_case = BM__REQUEST__BODY_APPLY;
		req.apply = &ar;
	} else if (!strcmp(argv[5], "ops")) {
		oq.action = BM__OP_REQUEST__ACTION__LIST;
		oq.name = "";
		req.body_case = BM__REQUEST__BODY_OP;
		req.op = &oq;
	} else if (!strcmp(argv[5], "blob")) {
		if (argc < 8 || bm_sha256_parse(argv[7], sha) < 0)
			return 2;
		bg.sha256 = (ProtobufCBinaryData){ sizeof(sha), sha };
		req.body_case = BM__REQUEST__BODY_BLOB_GET;
		req.blob_get = &bg;
	} else {
		if (argc < 8 || bm_mac_parse(argv[7], mac) < 0)
			return 2;
		e.seq = 1;
		e.time_ms = bm_wall_ms();
		e.kind = BM__EVENT_KIND__EVENT_CALLBACK;
		e.mac = (ProtobufCBinaryData){ 6, mac };
		e.detail = "state=done";
		batch.agent_id = "probe";
		batch.rack = argv[6];
		batch.events = &ep;
		batch.n_events = 1;
		rq.batch = &batch;
		req.body_case = BM__REQUEST__BODY_REPORT_EVENTS;
		req.report_events = &rq;
	}
	if ((r = bm_rpc_client_connect(argv[1], cr, 5000, &c)) < 0 ||
	    (r = bm_rpc_call(c, &req, 5000, &resp)) < 0) {
		printf("FAILED %s\n", strerror(-r));
		bm_rpc_creds_free(cr);
		fleet_free(&fleet);
		return 1;
	}
	printf("%s %s", bm_status_name(resp->status), resp->message);
	if (resp->body_case == BM__RESPONSE__BODY_WATCH)
		printf(" (%zu objects)", resp->watch->n_puts);
	printf("\n");
	for (size_t i = 0; resp->body_case == BM__RESPONSE__BODY_OP && i < resp->op->n_operations;
	     i++)
		printf("op %s listed=%u names=%zu\n", resp->op->operations[i]->name,
		       resp->op->operations[i]->listed_machines,
		       resp->op->operations[i]->n_machines);
	for (size_t i = 0; resp->body_case == BM__RESPONSE__BODY_WATCH && i < resp->watch->n_puts;
	     i++) {
		const Bm__Object *o = resp->watch->puts[i];
		if (o->obj_case == BM__OBJECT__OBJ_MACHINE && *o->machine->bmc_password)
			printf("machine %s password=%s\n", o->machine->name,
			       o->machine->bmc_password);
	}
	bm__response__free_unpacked(resp, NULL);
	bm_rpc_client_free(c);
	bm_rpc_creds_free(cr);
	fleet_free(&fleet);
	return 0;
}
