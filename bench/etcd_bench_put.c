/* The peer's side of bench/store.sh: the same N machine records (the same
 * protobuf bytes bm_bench_store sends) written into etcd by C concurrent
 * clients, one put per machine, through etcd's v3 JSON gateway with
 * keep-alive connections (Debian ships etcd without its Go benchmark tool).
 * Prints the same key=value line as bm_bench_store. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bm/proto.h"

struct opts {
	const char *url;
	unsigned machines, clients;
};

struct worker {
	const struct opts *o;
	unsigned id, n, errors;
	double *lat_ms;
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
b64(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) | (i + 2 < n ? in[i + 2] : 0);
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

static size_t
discard(char *p, size_t s, size_t n, void *u)
{
	(void)p;
	(void)u;
	return s * n;
}

/* The record bm_bench_store would create for machine i. */
static size_t
record(unsigned i, uint8_t *buf)
{
	Bm__Machine m = BM__MACHINE__INIT;
	Bm__Machine__LabelsEntry role = BM__MACHINE__LABELS_ENTRY__INIT, *lp[1] = { &role };
	char name[32], rack[16];
	uint8_t mac[6] = { 0x52, 0x54, 0, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };

	snprintf(name, sizeof(name), "m%06u", i);
	snprintf(rack, sizeof(rack), "rack%u", i / 250);
	m.name = name;
	m.rack = rack;
	m.mac.data = mac;
	m.mac.len = 6;
	m.ip = 0x0a000000u | (i / 250) << 8 | (2 + i % 250);
	m.bmc = "ipmi://admin:secret@10.250.0.1";
	role.key = "role";
	role.value = "compute";
	m.n_labels = 1;
	m.labels = lp;
	m.state = BM__MACHINE_STATE__STATE_READY;
	m.create_rev = m.mod_rev = i + 2;
	return bm__machine__pack(&m, buf);
}

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	char url[256], body[1024], key[64], k64[128], v64[512];
	uint8_t rec[256];
	CURL *c = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");

	snprintf(url, sizeof(url), "%s/v3/kv/put", w->o->url);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	for (unsigned i = w->id; i < w->o->machines; i += w->o->clients) {
		long code = 0;
		double t0;
		size_t kl = (size_t)snprintf(key, sizeof(key), "/machines/m%06u", i);
		b64((const uint8_t *)key, kl, k64);
		b64(rec, record(i, rec), v64);
		snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		t0 = now_s();
		if (curl_easy_perform(c) != CURLE_OK ||
		    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
			w->errors++;
		w->lat_ms[w->n++] = (now_s() - t0) * 1000;
	}
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
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
	struct opts o = { "http://127.0.0.1:23790", 100000, 32 };
	pthread_t *t;
	struct worker *w;
	double t0, secs, *all;
	unsigned n = 0, errors = 0;
	int c;

	while ((c = getopt(argc, argv, "u:n:c:")) != -1) {
		if (c == 'u')
			o.url = optarg;
		else if (c == 'n')
			o.machines = (unsigned)atoi(optarg);
		else if (c == 'c')
			o.clients = (unsigned)atoi(optarg);
		else
			return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	t = calloc(o.clients, sizeof(*t));
	w = calloc(o.clients, sizeof(*w));
	all = calloc(o.machines, sizeof(*all));
	t0 = now_s();
	for (unsigned i = 0; i < o.clients; i++) {
		w[i] = (struct worker){ &o, i, 0, 0, calloc(o.machines / o.clients + 1, sizeof(double)) };
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
	printf("writes=%u errors=%u clients=%u seconds=%.2f writes_per_s=%.0f p50_ms=%.2f p99_ms=%.2f\n", n,
	       errors, o.clients, secs, (n - errors) / secs, n ? all[n / 2] : 0, n ? all[n * 99 / 100] : 0);
	curl_global_cleanup();
	return errors ? 1 : 0;
}
