/* bmctl get / describe / status: reads. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bmctl.h"

#define GET_PAGE 10000u

static int
parse_kind(struct ctl *c, const char *s, Bm__Kind *k)
{
	if (bm_kind_parse(s, k) < 0)
		return ctl_usage_error(
		    c, "unknown kind %s (sites, racks, machines, profiles, images, agents)", s);
	return 0;
}

static int
get_one(struct ctl *c, Bm__Kind kind, const char *name, bool describe)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__GetRequest g = BM__GET_REQUEST__INIT;
	Bm__ObjectRef ref = BM__OBJECT_REF__INIT;
	Bm__Response *resp;
	int r;

	ref.kind = kind;
	ref.name = (char *)name;
	g.ref = &ref;
	req.body_case = BM__REQUEST__BODY_GET;
	req.get = &g;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	if (describe) {
		out_describe(stdout, c->json, resp->object);
	} else {
		struct out o;
		out_list_begin(&o, stdout, c->json, kind);
		out_list_items(&o, &resp->object, 1);
		out_list_end(&o);
	}
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

/* Page through the list until the coordinator says there is no more. */
static int
get_list(struct ctl *c, Bm__ListRequest *q)
{
	Bm__Request req = BM__REQUEST__INIT;
	char after[64] = "";
	struct out o;
	int r = CTL_EXIT_OK;

	req.body_case = BM__REQUEST__BODY_LIST;
	req.list = q;
	q->limit = GET_PAGE;
	out_list_begin(&o, stdout, c->json, q->kind);
	do {
		Bm__Response *resp;
		q->after = after;
		if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
			break;
		if (resp->list) {
			out_list_items(&o, resp->list->items, resp->list->n_items);
			snprintf(after, sizeof(after), "%s", resp->list->next);
		} else {
			after[0] = '\0';
		}
		bm__response__free_unpacked(resp, NULL);
	} while (after[0]);
	if (r == CTL_EXIT_OK)
		out_list_end(&o);
	else
		out_list_discard(&o);
	return r;
}

int
cmd_get(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "site", required_argument, NULL, 's' },
		{ "rack", required_argument, NULL, 'r' },
		{ "state", required_argument, NULL, 't' },
		{ "label", required_argument, NULL, 'l' },
		{ 0 },
	};
	Bm__ListRequest q = BM__LIST_REQUEST__INIT;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "l:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': q.site = optarg; break;
		case 'r': q.rack = optarg; break;
		case 't':
			if (bm_state_parse(optarg, &q.state) < 0)
				return ctl_usage_error(
				    c,
				    "unknown state %s (new, ready, reimaging, netbooting, "
				    "installing, installed, deployed, failed)",
				    optarg);
			break;
		case 'l':
			if (ctl_parse_label(optarg, &q.n_labels, (void ***)&q.labels,
			                    &bm__list_request__labels_entry__descriptor) < 0)
				return ctl_usage_error(c, "-l takes key=value, not %s", optarg);
			break;
		default: return ctl_usage_error(c, "get: unknown option");
		}
	}
	if (optind >= argc || argc - optind > 2)
		return ctl_usage_error(c, "get takes a kind and an optional name");
	if ((r = parse_kind(c, argv[optind], &q.kind)) != 0)
		return r;
	if (argc - optind == 2)
		r = get_one(c, q.kind, argv[optind + 1], false);
	else
		r = get_list(c, &q);
	for (size_t i = 0; i < q.n_labels; i++)
		protobuf_c_message_free_unpacked(&q.labels[i]->base, NULL);
	free(q.labels);
	return r;
}

int
cmd_describe(struct ctl *c, int argc, char **argv)
{
	Bm__Kind kind;
	int r;

	if (argc != 3)
		return ctl_usage_error(c, "describe takes a kind and a name");
	if ((r = parse_kind(c, argv[1], &kind)) != 0)
		return r;
	return get_one(c, kind, argv[2], true);
}

int
cmd_status(struct ctl *c, int argc, char **argv)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__StatusRequest sr = BM__STATUS_REQUEST__INIT;
	Bm__Response *resp;
	int r;

	(void)argv;
	if (argc != 1)
		return ctl_usage_error(c, "status takes no arguments");
	req.body_case = BM__REQUEST__BODY_STATUS;
	req.status = &sr;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	if (resp->status_result) {
		const Bm__StatusResult *s = resp->status_result;
		if (c->json) {
			struct bm_json j;
			bm_json_init(&j, stdout, true);
			bm_json_obj_begin(&j);
			bm_json_kstr(&j, "coordinator", c->url);
			bm_json_kstr(&j, "version", s->version);
			bm_json_ku64(&j, "revision", s->revision);
			bm_json_ku64(&j, "compact_revision", s->compact_revision);
			bm_json_ku64(&j, "applied_index", s->applied_index);
			bm_json_kstr(&j, "data_dir", s->data_dir);
			bm_json_ku64(&j, "store_bytes", s->store_bytes);
			bm_json_ku64(&j, "machines", s->machines);
			bm_json_ku64(&j, "changes_kept", s->changes_kept);
			bm_json_obj_end(&j);
		} else {
			printf("Coordinator: %s (bmcoord %s)\nRevision:    %llu (changes kept "
			       "after %llu)\n"
			       "Applied:     %llu\nMachines:    %llu\nStore:       %llu bytes\n"
			       "Data dir:    %s\n",
			       c->url, s->version, (unsigned long long)s->revision,
			       (unsigned long long)s->compact_revision,
			       (unsigned long long)s->applied_index,
			       (unsigned long long)s->machines, (unsigned long long)s->store_bytes,
			       s->data_dir);
		}
	}
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}
