/* The watch hub's state, shared by watch.c (requests, parking, the
 * deadline timer) and watch_fan.c (the commit fan-out thread). */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "bm/worker.h"
#include "watch.h"
#include "watch_index.h"

struct parked {
	struct bm_rpc_call *call;
	char rack[64];
	char agent[64];
	uint64_t since; /* nothing concerned the rack up to here */
	bool secrets;   /* the rack's agent over mTLS: BMC passwords opened */
	uint64_t deadline_ms;
	struct parked *next;
};

struct watch_hub {
	struct store *store;
	uv_timer_t timer;
	pthread_mutex_t mu;
	struct parked *parked; /* under mu */
	unsigned n_parked, max_parked;
	uint64_t latest; /* revision last announced by a commit */
	bool closing;
	/* The fan-out thread: it alone adds to the index; others read it
	 * under ixlock's read side. */
	struct bm_worker fan;
	pthread_rwlock_t ixlock;
	struct watch_index *index;
	bool (*authoritative)(void *arg); /* NULL: always */
	void *auth_arg;
	void (*seen)(void *arg, const char *agent, uint64_t rev); /* NULL: none */
	void *seen_arg;
	const struct secrets *secrets; /* NULL: passwords given to no one */
};

/* Take the parked watches matching `pick` off the list. */
struct parked *watch_unpark(struct watch_hub *h, bool (*pick)(const struct parked *p, uint64_t arg),
                            uint64_t arg);
/* Park it again; answered empty when the hub is closing. */
void watch_repark(struct watch_hub *h, struct parked *p);
/* The fan-out thread's body (bm_worker_fn). */
void watch_fan_main(void *arg, unsigned index);
