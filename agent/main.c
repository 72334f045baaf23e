/* bmagent: the rack agent. DHCP, TFTP, HTTP, the image cache and power
 * control arrive with the agent issues; until then this binary only says so,
 * and exits non-zero so that nothing mistakes it for a working agent. */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("bmagent 0.1.0 (not yet implemented)\n");
		return 0;
	}
	fprintf(stderr, "bmagent: the rack agent is not implemented yet\n");
	return 1;
}
