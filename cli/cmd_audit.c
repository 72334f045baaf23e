/* bmctl audit [--since DURATION]: the replicated audit log, oldest first,
 * page after page: when, who, from where, what, naming what, the outcome. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "bm/util.h"
#include "bmctl.h"

static void
print_json(struct bm_json *j, const Bm__AuditEntry *e)
{
	char ts[40];

	out_time_text(e->time_ms, ts, sizeof(ts));
	bm_json_obj_begin(j);
	bm_json_ku64(j, "seq", e->seq);
	bm_json_kstr(j, "time", ts);
	bm_json_kstr(j, "who", e->who);
	bm_json_kstr(j, "from", e->peer);
	bm_json_kstr(j, "what", e->what);
	bm_json_kstr(j, "targets", e->targets);
	bm_json_kstr(j, "outcome", e->outcome);
	bm_json_ku64(j, "revision", e->revision);
	bm_json_obj_end(j);
}

static void
print_line(const Bm__AuditEntry *e)
{
	char ts[40];

	out_time_text(e->time_ms, ts, sizeof(ts));
	printf("%s  %-28s  %-21s  %-16s  %s  [%s]\n", ts, e->who, e->peer, e->what, e->outcome,
	       *e->targets ? e->targets : "-");
}

/* One page from after_seq. Returns CTL_EXIT_OK with *next (0: the last). */
static int
page(struct ctl *c, uint64_t since_ms, uint64_t after, struct bm_json *j, uint64_t *next)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__AuditRequest q = BM__AUDIT_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	q.since_ms = since_ms;
	q.after_seq = after;
	req.body_case = BM__REQUEST__BODY_AUDIT;
	req.audit = &q;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	for (size_t i = 0; i < resp->audit->n_entries; i++) {
		if (c->json)
			print_json(j, resp->audit->entries[i]);
		else
			print_line(resp->audit->entries[i]);
	}
	*next = resp->audit->next_seq > after ? resp->audit->next_seq : 0;
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

int
cmd_audit(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = { { "since", required_argument, NULL, 's' },
		                                  { 0 } };
	uint64_t since = 0, after = 0;
	struct bm_json j;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt != 's' || ctl_parse_duration(optarg, &since) < 0)
			return ctl_usage_error(c, "audit takes [--since DURATION] (90s, 30m, 2h)");
	}
	if (optind != argc)
		return ctl_usage_error(c, "audit takes [--since DURATION]");
	if (since)
		since = bm_wall_ms() > since ? bm_wall_ms() - since : 0;
	if (c->json) {
		bm_json_init(&j, stdout, true);
		bm_json_arr_begin(&j);
	}
	do {
		r = page(c, since, after, &j, &after);
	} while (r == CTL_EXIT_OK && after);
	if (c->json) {
		bm_json_arr_end(&j);
		fputc('\n', stdout);
	}
	return r;
}
