/* The operation tick's cost for bench/optick.sh, on the store itself (no
 * Raft, no network): a fleet of N machines in racks of 100 is applied, one
 * reimage takes them all (each rack's max_booting lets 32 start, the rest
 * wait; nobody times out; that command and the ticks of its intake, one
 * after the other, are timed too: in all, how many, the longest), then T
 * ticks a second apart are applied, each timed; then one machine ends (its
 * BMC fails) and the tick that advances the operation, a full read of its
 * machines, is timed. The store goes in DIR (-d,
 * empty; the caller removes it). Prints one line of key=value figures
 * (milliseconds). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/fleet.h"
#include "store.h"

#define PER_RACK 100u

static double apply_ms;       /* the fleet's apply (one command) */
static double reimage_ms;     /* the reimage's commands: its own, and its intake's ticks */
static double command_max_ms; /* the longest of them */
static unsigned commands;     /* how many */
static double advance_ms;     /* the tick that advances it after a machine ended */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Apply cmd at index idx, time t; its result's status; whether an
 * operation has more to do at once into *more (NULL: not asked). */
static int
apply(struct store *s, uint64_t idx, Bm__Command *cmd, uint64_t t, bool *more)
{
	struct store_batch *b;
	struct store_result res;
	int r;

	cmd->time_ms = t;
	store_result_init(&res);
	if ((r = store_batch_begin(s, &b)) < 0)
		return r;
	if ((r = store_apply(b, idx, cmd, &res)) < 0) {
		store_batch_abort(b);
		return r;
	}
	if ((r = store_batch_commit(b)) == 0 && res.status != BM__STATUS__STATUS_OK) {
		fprintf(stderr, "bm_bench_optick: refused: %s\n", res.message);
		r = -EINVAL;
	}
#ifdef STORE_RESULT_MORE
	if (more)
		*more = res.more;
#else
	if (more) /* a store that takes every reimage in its one command */
		*more = false;
#endif
	store_result_fini(&res);
	return r;
}

static char *
fleet_yaml(unsigned n)
{
	unsigned racks = (n + PER_RACK - 1) / PER_RACK;
	size_t len = 512 + (size_t)racks * 128 + (size_t)n * 128, k;
	char *y = malloc(len);

	if (!y)
		return NULL;
	k = (size_t)snprintf(y, len,
	                     "sites: [{name: s}]\nimages: [{name: k, sha256: "
	                     "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]\n"
	                     "profiles: [{name: p, kernel: k}]\nracks:\n");
	for (unsigned r = 0; r < racks; r++)
		k += (size_t)snprintf(y + k, len - k,
		                      "  - {name: r%u, site: s, subnet: 10.%u.%u.0/24, "
		                      "gateway: 10.%u.%u.1}\n",
		                      r, 100 + r / 200, r % 200, 100 + r / 200, r % 200);
	k += (size_t)snprintf(y + k, len - k, "machines:\n");
	for (unsigned i = 0; i < n; i++)
		k += (size_t)snprintf(
		    y + k, len - k,
		    "  - {name: r%u-m%u, rack: r%u, mac: \"52:54:%02x:%02x:%02x:%02x\", "
		    "profile: p, bmc: \"manual://bench\"}\n",
		    i / PER_RACK, i % PER_RACK, i / PER_RACK, (i >> 24) & 0xff, (i >> 16) & 0xff,
		    (i >> 8) & 0xff, i & 0xff);
	return y;
}

static int
setup(struct store *s, unsigned n, uint64_t t)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__ReimageRequest q = BM__REIMAGE_REQUEST__INIT;
	struct bm_problems p;
	struct bm_fleet fl;
	char *y = fleet_yaml(n), *all = "site/s";
	int r;

	bm_problems_init(&p);
	if (!y || bm_fleet_parse(y, strlen(y), &fl, &p) != 0) {
		fprintf(stderr, "bm_bench_optick: fleet: %s\n", p.n ? p.v[0].why : "no memory");
		free(y);
		return -EINVAL;
	}
	cmd.op_case = BM__COMMAND__OP_APPLY;
	cmd.apply = fl.fleet;
	apply_ms = now_ms();
	r = apply(s, 1, &cmd, t, NULL);
	apply_ms = now_ms() - apply_ms;
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	free(y);
	/* Every rack's agent holds k, so that machines start. */
	for (unsigned i = 0; r == 0 && i < (n + PER_RACK - 1) / PER_RACK; i++) {
		Bm__Command c = BM__COMMAND__INIT;
		Bm__AgentInfo info = BM__AGENT_INFO__INIT;
		static const uint8_t k[32] = { 0x9f, 0x86, 0xd0, 0x81, 0x88, 0x4c, 0x7d, 0x65,
			                       0x9a, 0x2f, 0xea, 0xa0, 0xc5, 0x5a, 0xd0, 0x15,
			                       0xa3, 0xbf, 0x4f, 0x1b, 0x2b, 0x0b, 0x82, 0x2c,
			                       0xd1, 0x5d, 0x6c, 0x15, 0xb0, 0xf0, 0x0a, 0x08 };
		ProtobufCBinaryData d = { 32, (uint8_t *)k };
		char id[32], rack[32];
		snprintf(id, sizeof(id), "a%u", i);
		snprintf(rack, sizeof(rack), "r%u", i);
		info.id = id;
		info.rack = rack;
		info.cached = &d;
		info.n_cached = 1;
		c.op_case = BM__COMMAND__OP_AGENT_REGISTER;
		c.agent_register = &info;
		r = apply(s, 2 + i, &c, t, NULL);
	}
	q.targets = &all;
	q.n_targets = 1;
	cmd = (Bm__Command)BM__COMMAND__INIT;
	cmd.op_case = BM__COMMAND__OP_REIMAGE;
	cmd.reimage = &q;
	/* The reimage, then the ticks of its intake (a tick right after the
	 * other, as the leader's ticker sends them). */
	for (bool more = true; r == 0 && more; commands++) {
		double t0 = now_ms(), ms;
		if (commands) {
			cmd = (Bm__Command)BM__COMMAND__INIT;
			cmd.op_case = BM__COMMAND__OP_OP_TICK;
			cmd.op_tick = 1;
		}
		r = apply(s, 1000000 + commands, &cmd, t, &more);
		ms = now_ms() - t0;
		reimage_ms += ms;
		command_max_ms = ms > command_max_ms ? ms : command_max_ms;
	}
	return r;
}

/* Machine r0-m0's BMC fails (agent a0 says so): it ends, and the
 * operation is advanced at a later tick (a full advance, timed). */
static int
machine_ends(struct store *s, uint64_t t)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__AgentEvents batch = BM__AGENT_EVENTS__INIT;
	Bm__Event e = BM__EVENT__INIT, *ep = &e;
	uint8_t mac[6] = { 0x52, 0x54, 0, 0, 0, 0 };

	e.seq = 1;
	e.time_ms = t;
	e.kind = BM__EVENT_KIND__EVENT_POWER;
	e.mac = (ProtobufCBinaryData){ 6, mac };
	e.detail = "failed seq=1: bench";
	batch.agent_id = "a0";
	batch.events = &ep;
	batch.n_events = 1;
	cmd.op_case = BM__COMMAND__OP_AGENT_EVENTS;
	cmd.agent_events = &batch;
	return apply(s, 2900000, &cmd, t, NULL);
}

static int
cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	unsigned n = 100000, ticks = 20;
	uint64_t t = 1000000;
	const char *dir = NULL;
	struct store *s;
	double setup_ms, *d;
	int c, r;

	while ((c = getopt(argc, argv, "d:n:t:")) != -1) {
		if (c == 'd')
			dir = optarg;
		else if (c == 'n')
			n = (unsigned)atoi(optarg);
		else if (c == 't')
			ticks = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (!dir || !ticks || !(d = calloc(ticks, sizeof(*d))) ||
	    store_open(dir, 16ull << 30, &s) < 0)
		return 1;
	setup_ms = now_ms();
	if ((r = setup(s, n, t)) < 0) {
		fprintf(stderr, "bm_bench_optick: setup: %s\n", strerror(-r));
		return 1;
	}
	setup_ms = now_ms() - setup_ms;
	for (unsigned i = 0; i < ticks && r == 0; i++) {
		Bm__Command cmd = BM__COMMAND__INIT;
		double t0 = now_ms();
		cmd.op_case = BM__COMMAND__OP_OP_TICK;
		cmd.op_tick = 1;
		r = apply(s, 2000000 + i, &cmd, t += 1000, NULL);
		d[i] = now_ms() - t0;
	}
	qsort(d, ticks, sizeof(*d), cmp_d);
	if (r == 0)
		r = machine_ends(s, t += 1000);
	/* The advance that follows, whenever it is due. */
	for (unsigned i = 0; i < 60 && r == 0 && !advance_ms; i++) {
		Bm__Command cmd = BM__COMMAND__INIT;
		double t0 = now_ms();
		cmd.op_case = BM__COMMAND__OP_OP_TICK;
		cmd.op_tick = 1;
		r = apply(s, 3000000 + i, &cmd, t += 1000, NULL);
		if (now_ms() - t0 > 20 * d[ticks - 1] + 1)
			advance_ms = now_ms() - t0;
	}
	printf("machines=%u setup_ms=%.0f apply_ms=%.1f reimage_ms=%.1f reimage_commands=%u "
	       "reimage_command_max_ms=%.1f tick_p50_ms=%.3f tick_max_ms=%.3f advance_ms=%.1f\n",
	       n, setup_ms, apply_ms, reimage_ms, commands, command_max_ms, d[ticks / 2],
	       d[ticks - 1], advance_ms);
	store_close(s);
	free(d);
	return r < 0;
}
