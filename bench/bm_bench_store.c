/* Load generator for bench/store.sh: N machines applied through the real
 * API (one Apply request per machine, as `bmctl apply` of a one-machine
 * fleet would send) by C concurrent clients, each with its own connection.
 * With -r, status reads instead: the RPC ceiling on this machine. With
 * -C CA -E CERT -K KEY, on TLS as that certificate (tls+tcp:// URL). With
 * -H, each status read on a connection of its own (dialed, TLS handshake,
 * one call, closed: bench/tls.sh). Prints one line of key=value figures,
 * ending with this process's CPU time. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench_util.h"
#include "bm/proto.h"
#include "bm/rpc.h"

#define PER_RACK 250u

struct opts {
	const char *url;
	unsigned machines, clients, racks;
	int reads;      /* -r: status requests instead of writes */
	int handshakes; /* -H: a connection per status request */
	struct bm_rpc_tls tls;
	struct bm_rpc_creds *creds; /* shared by the clients */
};

static uint32_t
rack_net(unsigned r)
{
	return 0x0a000000u | (r << 8); /* 10.R_hi.R_lo.0/24 */
}

/* One Apply of a fleet holding the given records. */
static int
apply(struct bm_rpc_client *c, Bm__Fleet *f)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ApplyRequest ar = BM__APPLY_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	ar.fleet = f;
	req.body_case = BM__REQUEST__BODY_APPLY;
	req.apply = &ar;
	if ((r = bm_rpc_call(c, &req, 60000, &resp)) < 0)
		return r;
	r = resp->status == BM__STATUS__STATUS_OK ? 0 : -EINVAL;
	if (r < 0)
		fprintf(stderr, "refused: %s %s\n", resp->message,
		        resp->n_problems ? resp->problems[0]->why : "");
	bm__response__free_unpacked(resp, NULL);
	return r;
}

static int
setup_racks(const struct opts *o)
{
	struct bm_rpc_client *c;
	Bm__Fleet f = BM__FLEET__INIT;
	Bm__Site site = BM__SITE__INIT, *sites[1] = { &site };
	Bm__Rack *racks = calloc(o->racks, sizeof(*racks));
	Bm__Rack **rp = calloc(o->racks, sizeof(*rp));
	char(*names)[16] = calloc(o->racks, 16);
	int r;

	site.name = "bench";
	for (unsigned i = 0; i < o->racks; i++) {
		bm__rack__init(&racks[i]);
		snprintf(names[i], 16, "rack%u", i);
		racks[i].name = names[i];
		racks[i].site = "bench";
		racks[i].network = rack_net(i);
		racks[i].prefix_len = 24;
		racks[i].gateway = rack_net(i) | 1;
		rp[i] = &racks[i];
	}
	f.n_sites = 1;
	f.sites = sites;
	f.n_racks = o->racks;
	f.racks = rp;
	if ((r = bm_rpc_client_open(o->url, o->creds, &c)) == 0) {
		r = apply(c, &f);
		bm_rpc_client_free(c);
	}
	free(racks);
	free(rp);
	free(names);
	return r;
}

static void *
client_new(void *arg)
{
	const struct opts *o = arg;
	struct bm_rpc_client *c;

	if (o->handshakes)
		return (void *)o; /* each operation connects */
	/* Connected (TLS handshake done) before the clock starts. */
	return bm_rpc_client_connect(o->url, o->creds, 30000, &c) < 0 ? NULL : c;
}

static void
client_free(void *c)
{
	bm_rpc_client_free(c);
}

static void
opts_free(void *o)
{
	(void)o;
}

static int
status_op(void *client, unsigned i)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__StatusRequest st = BM__STATUS_REQUEST__INIT;
	Bm__Response *resp;

	(void)i;
	req.body_case = BM__REQUEST__BODY_STATUS;
	req.status = &st;
	if (bm_rpc_call(client, &req, 60000, &resp) < 0)
		return -1;
	bm__response__free_unpacked(resp, NULL);
	return 0;
}

/* A connection of its own for one status read. */
static int
handshake_op(void *arg, unsigned i)
{
	const struct opts *o = arg;
	struct bm_rpc_client *c;
	int r;

	if (bm_rpc_client_connect(o->url, o->creds, 30000, &c) < 0)
		return -1;
	r = status_op(c, i);
	bm_rpc_client_free(c);
	return r;
}

/* Apply machine i (etcd_bench_put writes the same record into etcd). */
static int
machine_op(void *client, unsigned i)
{
	Bm__Machine m = BM__MACHINE__INIT, *mp[1] = { &m };
	Bm__Machine__LabelsEntry role = BM__MACHINE__LABELS_ENTRY__INIT, *lp[1] = { &role };
	Bm__Fleet f = BM__FLEET__INIT;
	char name[32], rack[16];
	uint8_t mac[6] = { 0x52, 0x54, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
	unsigned r = i / PER_RACK;

	snprintf(name, sizeof(name), "m%06u", i);
	snprintf(rack, sizeof(rack), "rack%u", r);
	m.name = name;
	m.rack = rack;
	m.mac.data = mac;
	m.mac.len = 6;
	m.ip = rack_net(r) | (2 + i % PER_RACK);
	m.bmc = "ipmi://admin:secret@10.250.0.1";
	role.key = "role";
	role.value = "compute";
	m.n_labels = 1;
	m.labels = lp;
	f.n_machines = 1;
	f.machines = mp;
	return apply(client, &f);
}

int
main(int argc, char **argv)
{
	struct opts o = { .url = "tcp://127.0.0.1:7400", .machines = 100000, .clients = 32 };
	struct bench_spec spec;
	char err[256];
	int c, r;

	while ((c = getopt(argc, argv, "u:n:c:rHC:E:K:")) != -1) {
		if (c == 'C')
			o.tls.ca = optarg;
		else if (c == 'E')
			o.tls.cert = optarg;
		else if (c == 'K')
			o.tls.key = optarg;
		else if (c == 'u')
			o.url = optarg;
		else if (c == 'n')
			o.machines = (unsigned)atoi(optarg);
		else if (c == 'c')
			o.clients = (unsigned)atoi(optarg);
		else if (c == 'r')
			o.reads = 1;
		else if (c == 'H')
			o.reads = o.handshakes = 1;
		else
			return 2;
	}
	if (o.tls.ca && bm_rpc_creds_new(&o.tls, false, &o.creds, err, sizeof(err)) < 0) {
		fprintf(stderr, "bm_bench_store: %s\n", err);
		return 1;
	}
	o.racks = (o.machines + PER_RACK - 1) / PER_RACK;
	if (!o.reads && setup_racks(&o) < 0) {
		fprintf(stderr, "bm_bench_store: cannot create racks\n");
		return 1;
	}
	spec = (struct bench_spec){ o.machines,
		                    o.clients,
		                    &o,
		                    client_new,
		                    o.handshakes ? handshake_op
		                    : o.reads    ? status_op
		                                 : machine_op,
		                    o.handshakes ? opts_free : client_free };
	fflush(stdout);
	r = bench_run(&spec);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("client_cpu_ms=%.1f\n",
	       (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	bm_rpc_creds_free(o.creds);
	return r;
}
