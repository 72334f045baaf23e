/* bmctl apply -f FILE: parse and check locally (every problem at once,
 * with its line), then send the fleet; the coordinator applies all of it or
 * nothing. A file of more than BM_APPLY_MACHINES_MAX machines goes in parts
 * of that many machines (the first with every other kind), one after the
 * other, each applied all or nothing: one command of the coordinators'
 * store must not hold their loops for seconds. A refused part stops there,
 * saying which machines were applied. */
#include <errno.h>
#include <getopt.h>
#include <string.h>

#include "bmctl.h"

struct applied {
	uint32_t created, updated, unchanged;
	uint64_t revision;
};

/* The part of fl from machine `from`: a view (nothing copied); the first
 * part also has every other kind. */
static void
fleet_part(const struct bm_fleet *fl, size_t from, Bm__Fleet *part, struct bm_fleet *view)
{
	const Bm__Fleet *ft = fl->fleet;
	size_t left = ft->n_machines - from;

	*part = *ft;
	if (from)
		part->n_sites = part->n_racks = part->n_images = part->n_profiles = 0;
	part->machines = ft->machines + from;
	part->n_machines = left < BM_APPLY_MACHINES_MAX ? left : BM_APPLY_MACHINES_MAX;
	*view = *fl;
	view->fleet = part;
	if (fl->lines[BM__KIND__KIND_MACHINE])
		view->lines[BM__KIND__KIND_MACHINE] = fl->lines[BM__KIND__KIND_MACHINE] + from;
}

static int
send_part(struct ctl *c, const char *fname, const struct bm_fleet *view, struct applied *sum)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__ApplyRequest ar = BM__APPLY_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	ar.fleet = view->fleet;
	req.body_case = BM__REQUEST__BODY_APPLY;
	req.apply = &ar;
	if ((r = ctl_call(c, &req, &resp, fname, view)) != CTL_EXIT_OK)
		return r;
	if (resp->apply) {
		sum->created += resp->apply->created;
		sum->updated += resp->apply->updated;
		sum->unchanged += resp->apply->unchanged;
	}
	sum->revision = resp->revision;
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

static int
apply_send(struct ctl *c, const char *fname, struct bm_fleet *fl)
{
	size_t n = fl->fleet->n_machines, from = 0;
	struct applied sum = { 0 };
	int r;

	do {
		Bm__Fleet part;
		struct bm_fleet view;
		fleet_part(fl, from, &part, &view);
		if ((r = send_part(c, fname, &view, &sum)) != CTL_EXIT_OK) {
			if (from)
				fprintf(
				    stderr,
				    "%s: %s: machines 1-%zu of %zu (and every other entry) were "
				    "applied, in parts of %u; from machine %zu on, nothing\n",
				    c->prog, fname, from, n, BM_APPLY_MACHINES_MAX, from + 1);
			return r;
		}
		from += part.n_machines;
	} while (from < n);
	if (c->json) {
		struct bm_json j;
		bm_json_init(&j, stdout, true);
		bm_json_obj_begin(&j);
		bm_json_ku64(&j, "created", sum.created);
		bm_json_ku64(&j, "updated", sum.updated);
		bm_json_ku64(&j, "unchanged", sum.unchanged);
		bm_json_ku64(&j, "revision", sum.revision);
		bm_json_obj_end(&j);
	} else {
		printf("%s applied: %u created, %u updated, %u unchanged (revision %llu)\n", fname,
		       sum.created, sum.updated, sum.unchanged, (unsigned long long)sum.revision);
	}
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
