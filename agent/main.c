/* bmagent: the rack agent. For now: its configuration (--check-config);
 * the DHCP service lands next in this work. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"

static void
print_problems(const char *path, const struct bm_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct bm_problem *e = &p->v[i];
		fprintf(stderr, "%s:", path);
		if (e->line)
			fprintf(stderr, "%u:", e->line);
		fprintf(stderr, " %s%s%s\n", e->field, *e->field ? ": " : "", e->why);
	}
}

int
main(int argc, char **argv)
{
	struct agent_config cfg;
	struct bm_problems probs;
	int r;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("bmagent 0.1.0\n");
		return 0;
	}
	if (argc != 3 || (strcmp(argv[1], "--check-config") && strcmp(argv[1], "--config"))) {
		fprintf(stderr, "usage: bmagent --config FILE | --check-config FILE\n");
		return 2;
	}
	agent_config_init(&cfg);
	bm_problems_init(&probs);
	r = agent_config_load(argv[2], &cfg, &probs);
	if (r == -EINVAL)
		print_problems(argv[2], &probs);
	else if (r < 0)
		fprintf(stderr, "bmagent: cannot read %s: %s\n", argv[2], strerror(-r));
	bm_problems_fini(&probs);
	if (r < 0)
		return 1;
	if (!strcmp(argv[1], "--check-config")) {
		printf("%s: ok\n", argv[2]);
		return 0;
	}
	fprintf(stderr, "bmagent: the DHCP service is not wired in yet\n");
	return 1;
}
