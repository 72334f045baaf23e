#include "bench_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct worker {
	const struct bench_spec *s;
	unsigned id, n, errors;
	double *lat_ms;
	pthread_barrier_t *ready; /* every client connected: the clock starts */
};

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	void *client = w->s->client_new(w->s->arg);

	pthread_barrier_wait(w->ready);
	for (unsigned i = w->id; i < w->s->ops; i += w->s->clients) {
		double t0 = now_s();
		if (!client || w->s->op(client, i) < 0)
			w->errors++;
		w->lat_ms[w->n++] = (now_s() - t0) * 1000;
	}
	if (client)
		w->s->client_free(client);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
bench_run(const struct bench_spec *s)
{
	pthread_t *t = calloc(s->clients, sizeof(*t));
	struct worker *w = calloc(s->clients, sizeof(*w));
	double *all = calloc(s->ops + 1, sizeof(*all)), t0, secs, connect_s;
	unsigned n = 0, errors = 0;
	pthread_barrier_t ready;

	pthread_barrier_init(&ready, NULL, s->clients + 1);
	t0 = now_s();
	for (unsigned i = 0; i < s->clients; i++) {
		w[i] = (struct worker){ s, i, 0, 0, calloc(s->ops / s->clients + 1, sizeof(double)),
			                &ready };
		pthread_create(&t[i], NULL, worker_main, &w[i]);
	}
	pthread_barrier_wait(&ready); /* connections (and TLS handshakes) made */
	connect_s = now_s() - t0;
	t0 = now_s();
	for (unsigned i = 0; i < s->clients; i++) {
		pthread_join(t[i], NULL);
		memcpy(all + n, w[i].lat_ms, w[i].n * sizeof(double));
		n += w[i].n;
		errors += w[i].errors;
		free(w[i].lat_ms);
	}
	secs = now_s() - t0;
	qsort(all, n, sizeof(double), cmp_double);
	printf("writes=%u errors=%u clients=%u connect_s=%.3f seconds=%.2f writes_per_s=%.0f "
	       "p50_ms=%.2f p99_ms=%.2f\n",
	       n, errors, s->clients, connect_s, secs, (n - errors) / secs, n ? all[n / 2] : 0,
	       n ? all[n * 99 / 100] : 0);
	pthread_barrier_destroy(&ready);
	free(all);
	free(t);
	free(w);
	return errors ? 1 : 0;
}
