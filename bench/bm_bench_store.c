/* Load generator for bench/store.sh: N machines applied through the real
 * API (one Apply request per machine, as `bmctl apply` of a one-machine
 * fleet would send) by C concurrent clients, each with its own connection.
 * Prints one line of key=value figures. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/proto.h"
#include "bm/rpc.h"

#define PER_RACK 250u

struct opts {
	const char *url;
	unsigned machines, clients, racks;
	int reads; /* -r: status requests instead of writes (the RPC ceiling) */
};

struct worker {
	const struct opts *o;
	unsigned id;
	double *lat_ms; /* one per write of this worker */
	unsigned n, errors;
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

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
	if ((r = bm_rpc_client_open(o->url, &c)) == 0) {
		r = apply(c, &f);
		bm_rpc_client_free(c);
	}
	free(racks);
	free(rp);
	free(names);
	return r;
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	struct bm_rpc_client *c;
	Bm__Machine m = BM__MACHINE__INIT, *mp[1] = { &m };
	Bm__Machine__LabelsEntry role = BM__MACHINE__LABELS_ENTRY__INIT, *lp[1] = { &role };
	Bm__Fleet f = BM__FLEET__INIT;
	char name[32], rack[16];
	uint8_t mac[6] = { 0x52, 0x54, 0 };

	if (bm_rpc_client_open(o->url, &c) < 0)
		return NULL;
	role.key = "role";
	role.value = "compute";
	f.n_machines = 1;
	f.machines = mp;
	for (unsigned i = w->id; i < o->machines; i += o->clients) {
		unsigned r = i / PER_RACK;
		double t0;
		snprintf(name, sizeof(name), "m%06u", i);
		snprintf(rack, sizeof(rack), "rack%u", r);
		mac[3] = (uint8_t)(i >> 16);
		mac[4] = (uint8_t)(i >> 8);
		mac[5] = (uint8_t)i;
		m.name = name;
		m.rack = rack;
		m.mac.data = mac;
		m.mac.len = 6;
		m.ip = rack_net(r) | (2 + i % PER_RACK);
		m.bmc = "ipmi://admin:secret@10.250.0.1";
		m.n_labels = 1;
		m.labels = lp;
		t0 = now_s();
		if (o->reads) {
			Bm__Request req = BM__REQUEST__INIT;
			Bm__StatusRequest st = BM__STATUS_REQUEST__INIT;
			Bm__Response *resp;
			req.body_case = BM__REQUEST__BODY_STATUS;
			req.status = &st;
			if (bm_rpc_call(c, &req, 60000, &resp) < 0)
				w->errors++;
			else
				bm__response__free_unpacked(resp, NULL);
		} else if (apply(c, &f) < 0) {
			w->errors++;
		}
		w->lat_ms[w->n++] = (now_s() - t0) * 1000;
	}
	bm_rpc_client_free(c);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct opts o = { "tcp://127.0.0.1:7400", 100000, 32, 0, 0 };
	pthread_t *t;
	struct worker *w;
	double t0, secs, *all;
	unsigned n = 0, errors = 0;
	int c;

	while ((c = getopt(argc, argv, "u:n:c:r")) != -1) {
		if (c == 'u')
			o.url = optarg;
		else if (c == 'n')
			o.machines = (unsigned)atoi(optarg);
		else if (c == 'c')
			o.clients = (unsigned)atoi(optarg);
		else if (c == 'r')
			o.reads = 1;
		else
			return 2;
	}
	o.racks = (o.machines + PER_RACK - 1) / PER_RACK;
	if (setup_racks(&o) < 0) {
		fprintf(stderr, "bm_bench_store: cannot create racks\n");
		return 1;
	}
	t = calloc(o.clients, sizeof(*t));
	w = calloc(o.clients, sizeof(*w));
	all = calloc(o.machines, sizeof(*all));
	t0 = now_s();
	for (unsigned i = 0; i < o.clients; i++) {
		w[i] = (struct worker){ &o, i, calloc(o.machines / o.clients + 1, sizeof(double)),
			                0, 0 };
		pthread_create(&t[i], NULL, worker_run, &w[i]);
	}
	for (unsigned i = 0; i < o.clients; i++) {
		pthread_join(t[i], NULL);
		memcpy(all + n, w[i].lat_ms, w[i].n * sizeof(double));
		n += w[i].n;
		errors += w[i].errors;
		free(w[i].lat_ms);
	}
	secs = now_s() - t0;
	qsort(all, n, sizeof(double), cmp_double);
	printf("writes=%u errors=%u clients=%u seconds=%.2f writes_per_s=%.0f p50_ms=%.2f "
	       "p99_ms=%.2f\n",
	       n, errors, o.clients, secs, (n - errors) / secs, n ? all[n / 2] : 0,
	       n ? all[n * 99 / 100] : 0);
	free(all);
	free(t);
	free(w);
	return errors ? 1 : 0;
}
