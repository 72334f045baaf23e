/* bmctl pki: the fleet's certificate authority, in a folder the operator
 * keeps (offline, ideally): init, issue, revoke. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "bm/pki.h"
#include "bmctl.h"

#define PKI_USAGE                                                                                  \
	"pki init DIR | pki issue DIR coordinator NAME --address IP[,IP...] |\n"                   \
	"  pki issue DIR agent NAME --rack RACK | pki issue DIR operator NAME --role ROLE |\n"     \
	"  pki revoke DIR NAME   (issue also takes --days N)"

static int
done(struct ctl *c, int r, const char *err, const char *what, const char *dir, const char *name)
{
	if (r < 0) {
		fprintf(stderr, "%s: pki %s: %s\n", c->prog, what, err);
		return CTL_EXIT_REFUSED;
	}
	if (name)
		printf("%s/%s.crt, %s/%s.key\n", dir, name, dir, name);
	else
		printf("%s/ca.crt, %s/ca.key, %s/crl.pem, %s/secrets.key\n", dir, dir, dir, dir);
	return CTL_EXIT_OK;
}

static int
issue(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "rack", required_argument, NULL, 'r' },
		{ "role", required_argument, NULL, 'o' },
		{ "days", required_argument, NULL, 'd' },
		{ "seconds", required_argument, NULL, 's' },
		{ 0 },
	};
	struct bm_pki_request q = { 0 };
	char err[256];
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': q.addresses = optarg; break;
		case 'r': q.rack = optarg; break;
		case 'o':
			if (bm_role_parse(optarg, &q.role) < 0)
				return ctl_usage_error(c, "--role takes viewer, operator or admin");
			break;
		case 'd': q.days = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': q.seconds = (unsigned)strtoul(optarg, NULL, 10); break; /* tests */
		default: return ctl_usage_error(c, PKI_USAGE);
		}
	}
	if (argc - optind != 4)
		return ctl_usage_error(c, PKI_USAGE);
	const char *dir = argv[optind + 1], *kind = argv[optind + 2];
	q.name = argv[optind + 3];
	q.kind = !strcmp(kind, "coordinator") ? BM_KIND_COORDINATOR
	         : !strcmp(kind, "agent")     ? BM_KIND_AGENT
	         : !strcmp(kind, "operator")  ? BM_KIND_OPERATOR
	                                      : BM_KIND_NONE;
	if (q.kind == BM_KIND_NONE)
		return ctl_usage_error(c, "pki issue: the kind is coordinator, agent or operator");
	return done(c, bm_pki_issue(dir, &q, err, sizeof(err)), err, "issue", dir, q.name);
}

int
cmd_pki(struct ctl *c, int argc, char **argv)
{
	char err[256];

	if (argc >= 2 && !strcmp(argv[1], "issue"))
		return issue(c, argc, argv);
	if (argc == 3 && !strcmp(argv[1], "init"))
		return done(c, bm_pki_init(argv[2], err, sizeof(err)), err, "init", argv[2], NULL);
	if (argc == 4 && !strcmp(argv[1], "revoke")) {
		int r = bm_pki_revoke(argv[2], argv[3], err, sizeof(err));
		if (r == 0)
			printf(
			    "%s revoked: %s/crl.pem (give it to the coordinators, then SIGHUP)\n",
			    argv[3], argv[2]);
		return r == 0 ? CTL_EXIT_OK : done(c, r, err, "revoke", argv[2], argv[3]);
	}
	return ctl_usage_error(c, PKI_USAGE);
}
