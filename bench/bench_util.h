/* Closed-loop load for the bench tools: C client threads share N
 * operations (client k does k, k+C, k+2C, ...), each timed; the clock
 * starts once every client is made (connected); the result is one line of
 * key=value figures on stdout. */
#pragma once

struct bench_spec {
	unsigned ops, clients;
	void *arg;
	void *(*client_new)(void *arg);      /* per-thread state, NULL on failure */
	int (*op)(void *client, unsigned i); /* 0, or <0 counted as an error */
	void (*client_free)(void *client);
};

/* Run it and print "writes=... errors=... clients=... connect_s=...
 * seconds=... writes_per_s=... p50_ms=... p99_ms=..." (connect_s: making
 * the clients, outside the timed part). Returns 0 when every operation
 * succeeded, 1 otherwise. */
int bench_run(const struct bench_spec *s);
