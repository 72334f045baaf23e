/* Runs bmagent's Redfish driver once, for the driver's tests against the
 * lab's BMC emulator in each vendor mode:
 *   redfish_drive URL netboot|cycle|on|off|status FIRMWARE [KEY=VALUE...]
 * keys: ca=FILE (the agent's bmc_ca), fingerprint=FP (the machine's
 * bmc_fingerprint), timeout=S (bmc_timeout), task_wait=S. The password
 * comes from the environment (BMC_PASSWORD), as bmagent's comes from its
 * sealed view: never argv. Prints the driver's message; exits 0 when it
 * says done, 1 when it refused or failed, 2 on bad usage. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redfish.h"

int
main(int argc, char **argv)
{
	static const char *const verbs[] = { "netboot", "cycle", "on", "off", "status" };
	struct redfish_opts o = { "", "", "", 0, 0 };
	const char *pass = getenv("BMC_PASSWORD");
	char msg[1024];
	int v = -1;

	if (argc < 4) {
		fprintf(stderr,
		        "usage: redfish_drive URL netboot|cycle|on|off|status FIRMWARE [k=v...]\n");
		return 2;
	}
	for (int i = 0; i < 5; i++)
		if (!strcmp(argv[2], verbs[i]))
			v = i;
	o.firmware = argv[3];
	for (int i = 4; i < argc; i++) {
		if (!strncmp(argv[i], "ca=", 3))
			o.ca_file = argv[i] + 3;
		else if (!strncmp(argv[i], "fingerprint=", 12))
			o.fingerprint = argv[i] + 12;
		else if (!strncmp(argv[i], "timeout=", 8))
			o.call_timeout_s = (unsigned)atoi(argv[i] + 8);
		else if (!strncmp(argv[i], "task_wait=", 10))
			o.task_wait_s = (unsigned)atoi(argv[i] + 10);
		else
			v = -1;
	}
	if (v < 0) {
		fprintf(stderr, "redfish_drive: bad verb or option\n");
		return 2;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int r =
	    redfish_power(argv[1], pass ? pass : "", (enum redfish_verb)v, &o, msg, sizeof(msg));
	printf("%s\n", msg);
	curl_global_cleanup();
	return r == 0 ? 0 : 1;
}
