/* bmctl agents / trace: what the racks' agents report. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/netaddr.h"
#include "bmctl.h"

int
cmd_agents(struct ctl *c, int argc, char **argv)
{
	char *args[8] = { "get", "agents" };
	int n = 2;

	/* `bmctl agents [--rack R]` is `bmctl get agents [--rack R]`. */
	for (int i = 1; i < argc && n < 7; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	return cmd_get(c, n, args);
}

static const char *const event_kinds[] = {
	[BM__EVENT_KIND__EVENT_DISCOVERED] = "discovered",
	[BM__EVENT_KIND__EVENT_DHCP] = "dhcp",
	[BM__EVENT_KIND__EVENT_TFTP] = "tftp",
	[BM__EVENT_KIND__EVENT_HTTP] = "http",
	[BM__EVENT_KIND__EVENT_CALLBACK] = "callback",
	[BM__EVENT_KIND__EVENT_POWER] = "power",
	[BM__EVENT_KIND__EVENT_CACHE] = "cache",
	[BM__EVENT_KIND__EVENT_STATE] = "state",
};

static const char *
kind_text(Bm__EventKind k)
{
	if ((unsigned)k < sizeof(event_kinds) / sizeof(event_kinds[0]) && event_kinds[k])
		return event_kinds[k];
	return "event";
}

static void
trace_print(struct ctl *c, const Bm__TraceResult *t, const char *asked)
{
	char ts[40], ip[BM_IP4_STR], mac[BM_MAC_STR];
	struct bm_json j;

	if (c->json) {
		bm_json_init(&j, stdout, true);
		bm_json_obj_begin(&j);
		bm_json_kstr(&j, "machine", t->machine);
		bm_json_key(&j, "events");
		bm_json_arr_begin(&j);
		for (size_t i = 0; i < t->n_events; i++) {
			const Bm__Event *e = t->events[i];
			out_time_text(e->time_ms, ts, sizeof(ts));
			bm_json_obj_begin(&j);
			bm_json_kstr(&j, "time", ts);
			bm_json_kstr(&j, "rack", e->rack);
			bm_json_kstr(&j, "agent", e->agent);
			bm_json_kstr(&j, "kind", kind_text(e->kind));
			bm_json_kstr(&j, "ip", e->ip ? bm_ip4_format(e->ip, ip) : "");
			bm_json_kstr(&j, "detail", e->detail);
			bm_json_obj_end(&j);
		}
		bm_json_arr_end(&j);
		bm_json_obj_end(&j);
		fputc('\n', stdout);
		return;
	}
	if (!t->n_events) {
		fprintf(stderr, "no events recorded for %s\n", asked);
		return;
	}
	printf("%s %s\n", *t->machine ? t->machine : "(unknown machine)",
	       t->events[0]->mac.len == 6 ? bm_mac_format(t->events[0]->mac.data, mac) : "");
	for (size_t i = 0; i < t->n_events; i++) {
		const Bm__Event *e = t->events[i];
		out_time_text(e->time_ms, ts, sizeof(ts));
		printf("%s  %-10s  %-10s  %-15s  %s\n", ts, e->rack, kind_text(e->kind),
		       e->ip ? bm_ip4_format(e->ip, ip) : "-", e->detail);
	}
}

int
cmd_trace(struct ctl *c, int argc, char **argv)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__TraceRequest q = BM__TRACE_REQUEST__INIT;
	Bm__Response *resp;
	uint8_t mac[6];
	int r;

	if (argc != 2)
		return ctl_usage_error(c, "usage: trace MACHINE|MAC");
	if (bm_mac_parse(argv[1], mac) == 0) {
		q.mac.data = mac;
		q.mac.len = 6;
	} else {
		q.machine = argv[1];
	}
	req.body_case = BM__REQUEST__BODY_TRACE;
	req.trace = &q;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	trace_print(c, resp->trace, argv[1]);
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}
