/* bmctl apply -f FILE: parse and check locally (every problem at once,
 * with its line), then send the whole fleet; the coordinator applies all of
 * it or nothing. */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "bmctl.h"

static int
apply_send(struct ctl *c, const char *fname, struct bm_fleet *fl)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ApplyRequest ar = BM__APPLY_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	ar.fleet = fl->fleet;
	req.body_case = BM__REQUEST__BODY_APPLY;
	req.apply = &ar;
	if ((r = ctl_call(c, &req, &resp, fname, fl)) != CTL_EXIT_OK)
		return r;
	if (c->json) {
		struct bm_json j;
		bm_json_init(&j, stdout, true);
		bm_json_obj_begin(&j);
		bm_json_ku64(&j, "created", resp->apply ? resp->apply->created : 0);
		bm_json_ku64(&j, "updated", resp->apply ? resp->apply->updated : 0);
		bm_json_ku64(&j, "unchanged", resp->apply ? resp->apply->unchanged : 0);
		bm_json_ku64(&j, "revision", resp->revision);
		bm_json_obj_end(&j);
	} else {
		printf(
		    "%s applied: %u created, %u updated, %u unchanged (revision %llu)\n", fname,
		    resp->apply ? resp->apply->created : 0, resp->apply ? resp->apply->updated : 0,
		    resp->apply ? resp->apply->unchanged : 0, (unsigned long long)resp->revision);
	}
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

int
cmd_apply(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = { { "file", required_argument, NULL, 'f' }, { 0 } };
	struct bm_problems probs;
	struct bm_fleet fl = { 0 };
	const char *fname = NULL;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "f:", longopts, NULL)) != -1) {
		if (opt != 'f')
			return ctl_usage_error(c, "apply takes -f FILE");
		fname = optarg;
	}
	if (!fname || optind != argc)
		return ctl_usage_error(c, "apply takes -f FILE");
	bm_problems_init(&probs);
	r = bm_fleet_load_checked(fname, &fl, &probs);
	if (r == -EINVAL) {
		fprintf(stderr, "%s: %s refused, nothing sent: %zu problem%s\n", c->prog, fname,
		        probs.total, probs.total == 1 ? "" : "s");
		ctl_print_problems(stderr, fname, &fl, &probs);
		r = CTL_EXIT_REFUSED;
	} else if (r < 0) {
		fprintf(stderr, "%s: cannot read %s: %s\n", c->prog, fname,
		        r == -EFBIG ? "larger than 64 MiB" : strerror(-r));
		r = CTL_EXIT_REFUSED;
	} else {
		r = apply_send(c, fname, &fl);
	}
	bm_problems_fini(&probs);
	bm_fleet_fini(&fl);
	return r;
}
