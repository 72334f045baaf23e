/* bmctl delete / machine add: single-object writes. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bmctl.h"

static void
print_done(struct ctl *c, const char *what, const char *name, const Bm__Response *resp)
{
	if (c->json) {
		struct bm_json j;
		bm_json_init(&j, stdout, true);
		bm_json_obj_begin(&j);
		bm_json_kstr(&j, "name", name);
		bm_json_kstr(&j, "result", what);
		bm_json_ku64(&j, "revision", resp->revision);
		bm_json_obj_end(&j);
	} else {
		printf("%s %s (revision %llu)\n", name, what, (unsigned long long)resp->revision);
	}
}

int
cmd_delete(struct ctl *c, int argc, char **argv)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__DeleteRequest d = BM__DELETE_REQUEST__INIT;
	Bm__ObjectRef ref = BM__OBJECT_REF__INIT;
	Bm__Response *resp;
	int r;

	if (argc != 3)
		return ctl_usage_error(c, "delete takes a kind and a name");
	if (bm_kind_parse(argv[1], &ref.kind) < 0)
		return ctl_usage_error(c, "unknown kind %s", argv[1]);
	ref.name = argv[2];
	d.ref = &ref;
	req.body_case = BM__REQUEST__BODY_DELETE;
	req.delete_ = &d;
	if ((r = ctl_call(c, &req, &resp, NULL, NULL)) != CTL_EXIT_OK)
		return r;
	print_done(c, "deleted", argv[2], resp);
	bm__response__free_unpacked(resp, NULL);
	return CTL_EXIT_OK;
}

/* Options of `machine add` into m. Returns 0 or a usage exit code. */
static int
machine_options(struct ctl *c, int argc, char **argv, Bm__Machine *m, uint8_t mac[6])
{
	static const struct option longopts[] = {
		{ "rack", required_argument, NULL, 'r' },
		{ "mac", required_argument, NULL, 'm' },
		{ "ip", required_argument, NULL, 'i' },
		{ "profile", required_argument, NULL, 'p' },
		{ "bmc", required_argument, NULL, 'b' },
		{ "label", required_argument, NULL, 'l' },
		{ "netboot", no_argument, NULL, 'n' },
		{ 0 },
	};
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "l:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': m->rack = optarg; break;
		case 'p': m->profile = optarg; break;
		case 'b': m->bmc = optarg; break;
		case 'n': m->netboot = 1; break;
		case 'm':
			if (bm_mac_parse(optarg, mac) < 0)
				return ctl_usage_error(c, "--mac: %s is not a MAC address", optarg);
			m->mac.data = mac;
			m->mac.len = 6;
			break;
		case 'i':
			if (bm_ip4_parse(optarg, &m->ip) < 0)
				return ctl_usage_error(c, "--ip: %s is not an IPv4 address",
				                       optarg);
			break;
		case 'l':
			if (ctl_parse_label(optarg, &m->n_labels, (void ***)&m->labels,
			                    &bm__machine__labels_entry__descriptor) < 0)
				return ctl_usage_error(c, "-l takes key=value, not %s", optarg);
			break;
		default: return ctl_usage_error(c, "machine add: unknown option");
		}
	}
	if (optind + 1 != argc || !*m->rack || !m->mac.len)
		return ctl_usage_error(c, "machine add takes NAME --rack R --mac MAC");
	m->name = argv[optind];
	return 0;
}

int
cmd_machine(struct ctl *c, int argc, char **argv)
{
	Bm__Request req = BM__REQUEST__INIT;
	Bm__MachineAddRequest ma = BM__MACHINE_ADD_REQUEST__INIT;
	Bm__Machine m = BM__MACHINE__INIT;
	Bm__Response *resp;
	uint8_t mac[6];
	int r;

	if (argc < 2 || strcmp(argv[1], "add"))
		return ctl_usage_error(c, "machine takes: add NAME --rack R --mac MAC ...");
	r = machine_options(c, argc - 1, argv + 1, &m, mac);
	if (r == 0) {
		ma.machine = &m;
		req.body_case = BM__REQUEST__BODY_MACHINE_ADD;
		req.machine_add = &ma;
		if ((r = ctl_call(c, &req, &resp, NULL, NULL)) == CTL_EXIT_OK) {
			print_done(c, "added", m.name, resp);
			bm__response__free_unpacked(resp, NULL);
		}
	}
	for (size_t i = 0; i < m.n_labels; i++)
		protobuf_c_message_free_unpacked(&m.labels[i]->base, NULL);
	free(m.labels);
	return r;
}
