/* bmctl machine power MACHINE on|off|cycle|status [--timeout DUR]: the
 * coordinator records the request (its revision is the request's number)
 * and the machine's agent drives the BMC; bmctl follows the machine's
 * timeline until the agent's outcome ("ok req=N: ..." or "failed req=N:
 * ...") arrives, prints it, and exits 0 only when it says ok. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bmctl.h"

#define POWER_WAIT_DEFAULT_MS 90000u /* the agent's BMC calls take 30 s each at most */
#define POWER_POLL_MS 500u

/* The agent's outcome of request seq in the timeline: "ok ..." or
 * "failed ..." into out. Returns 1 found, 0 not yet, or an exit code. */
static int
outcome(struct ctl *c, const char *machine, uint64_t seq, char *out, size_t len)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__TraceRequest q = BM__TRACE_REQUEST__INIT;
	Bm__Response *resp;
	char ok[48], failed[48];
	int r, found = 0;

	snprintf(ok, sizeof(ok), "ok req=%llu: ", (unsigned long long)seq);
	snprintf(failed, sizeof(failed), "failed req=%llu: ", (unsigned long long)seq);
	q.machine = (char *)machine;
	q.limit = 64;
	req.body_case = BM__REQUEST__BODY_TRACE;
	req.trace = &q;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	for (size_t i = 0; resp->trace && i < resp->trace->n_events && !found; i++) {
		const Bm__Event *e = resp->trace->events[i];
		if (e->kind != BM__EVENT_KIND__EVENT_POWER || !e->detail)
			continue;
		if (!strncmp(e->detail, ok, strlen(ok)))
			found = snprintf(out, len, "ok: %s", e->detail + strlen(ok)) > 0;
		else if (!strncmp(e->detail, failed, strlen(failed)))
			found = snprintf(out, len, "failed: %s", e->detail + strlen(failed)) > 0;
	}
	bm__response__free_unpacked(resp, NULL);
	return found;
}

int
ctl_machine_power(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = { { "timeout", required_argument, NULL, 't' },
		                                  { 0 } };
	Bm__Request req = BM__REQUEST__INIT;
	Bm__PowerRequest p = BM__POWER_REQUEST__INIT;
	Bm__Response *resp;
	uint64_t wait_ms = POWER_WAIT_DEFAULT_MS, seq;
	char line[512];
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != 't' || ctl_parse_duration(optarg, &wait_ms) < 0)
			return ctl_usage_error(c, "machine power takes MACHINE on|off|cycle|status "
			                          "[--timeout 90s]");
	}
	if (optind + 2 != argc)
		return ctl_usage_error(c, "machine power takes MACHINE on|off|cycle|status");
	p.machine = argv[optind];
	p.action = argv[optind + 1];
	req.body_case = BM__REQUEST__BODY_POWER;
	req.power = &p;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	seq = resp->revision;
	bm__response__free_unpacked(resp, NULL);
	for (uint64_t waited = 0;; waited += POWER_POLL_MS) {
		if ((r = outcome(c, p.machine, seq, line, sizeof(line))) == 1)
			break;
		if (r != 0)
			return r;
		if (waited >= wait_ms) {
			fprintf(stderr,
			        "%s: no outcome from its agent within %llus (request %llu stays "
			        "asked; see bmctl trace %s)\n",
			        p.machine, (unsigned long long)(wait_ms / 1000u),
			        (unsigned long long)seq, p.machine);
			return CTL_EXIT_REFUSED;
		}
		usleep(POWER_POLL_MS * 1000u);
	}
	printf("%s power %s: %s\n", p.machine, p.action, line);
	return strncmp(line, "ok:", 3) ? CTL_EXIT_REFUSED : CTL_EXIT_OK;
}
