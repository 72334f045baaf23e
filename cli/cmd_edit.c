/* bmctl delete / machine add: single-object writes. */
#include <errno.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "bm/bmc_secret.h"
#include "bm/netaddr.h"
#include "bm/seal.h"
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

/* --bmc-password-file FILE (or -, standard input) into pass. Returns 0 or
 * a usage exit code. */
static int
password_option(struct ctl *c, const char *path, Bm__Machine *m, char *pass)
{
	int r = bm_secret_read(path, pass);

	if (r < 0)
		return ctl_usage_error(c, "--bmc-password-file %s: %s", path,
		                       r == -EINVAL  ? "empty, or more than one line"
		                       : r == -EFBIG ? "longer than a BMC password may be"
		                                     : strerror(-r));
	m->bmc_password = pass;
	return 0;
}

/* Options of `machine add` into m (the password into pass). Returns 0 or
 * a usage exit code. */
static int
machine_options(struct ctl *c, int argc, char **argv, Bm__Machine *m, uint8_t mac[6], char *pass)
{
	static const struct option longopts[] = {
		{ "rack", required_argument, NULL, 'r' },
		{ "mac", required_argument, NULL, 'm' },
		{ "ip", required_argument, NULL, 'i' },
		{ "profile", required_argument, NULL, 'p' },
		{ "bmc", required_argument, NULL, 'b' },
		{ "bmc-password-file", required_argument, NULL, 'P' },
		{ "label", required_argument, NULL, 'l' },
		{ "netboot", no_argument, NULL, 'n' },
		{ 0 },
	};
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "l:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': m->rack = optarg; break;
		case 'p': m->profile = optarg; break;
		case 'b': m->bmc = optarg; break;
		case 'P':
			if ((r = password_option(c, optarg, m, pass)) != 0)
				return r;
			break;
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
	if (*m->bmc_password && !*m->bmc)
		return ctl_usage_error(c, "--bmc-password-file goes with --bmc URL");
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
	char pass[BM_SECRET_MAX + 1] = "";
	int r;

	if (argc >= 2 && !strcmp(argv[1], "power"))
		return ctl_machine_power(c, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "add"))
		return ctl_usage_error(c, "machine takes: add NAME --rack R --mac MAC ... | power "
		                          "NAME on|off|cycle|status");
	r = machine_options(c, argc - 1, argv + 1, &m, mac, pass);
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
	OPENSSL_cleanse(pass, sizeof(pass));
	return r;
}
