/* The peer's side of bench/store.sh: the same N machine records (the same
 * protobuf bytes bm_bench_store sends) written into etcd by C concurrent
 * clients, one put per machine, through etcd's v3 JSON gateway with
 * keep-alive connections (Debian ships etcd without its Go benchmark tool).
 * Prints the same key=value line as bm_bench_store. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "bm/proto.h"

struct client {
	CURL *curl;
	struct curl_slist *hdr;
	char url[256];
};

static size_t
b64(const uint8_t *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);
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
client_new(void *arg)
{
	struct client *c = calloc(1, sizeof(*c));

	if (!c || !(c->curl = curl_easy_init())) {
		free(c);
		return NULL;
	}
	c->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	snprintf(c->url, sizeof(c->url), "%s/v3/kv/put", (const char *)arg);
	curl_easy_setopt(c->curl, CURLOPT_URL, c->url);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->hdr);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	return c;
}

static void
client_free(void *arg)
{
	struct client *c = arg;
	curl_slist_free_all(c->hdr);
	curl_easy_cleanup(c->curl);
	free(c);
}

/* Put machine i under /machines/NAME over the client's kept-alive connection. */
static int
put_op(void *arg, unsigned i)
{
	struct client *c = arg;
	char body[1024], key[64], k64[128], v64[512];
	uint8_t rec[256];
	size_t kl = (size_t)snprintf(key, sizeof(key), "/machines/m%06u", i);
	long code = 0;

	b64((const uint8_t *)key, kl, k64);
	b64(rec, record(i, rec), v64);
	snprintf(body, sizeof(body), "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c->curl) != CURLE_OK ||
	    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code != 200)
		return -1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct bench_spec spec = { 100000,     32,     "http://127.0.0.1:23790",
		                   client_new, put_op, client_free };
	int c, r;

	while ((c = getopt(argc, argv, "u:n:c:")) != -1) {
		if (c == 'u')
			spec.arg = optarg;
		else if (c == 'n')
			spec.ops = (unsigned)atoi(optarg);
		else if (c == 'c')
			spec.clients = (unsigned)atoi(optarg);
		else
			return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = bench_run(&spec);
	curl_global_cleanup();
	return r;
}
