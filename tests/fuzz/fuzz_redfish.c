/* What a BMC answers the Redfish driver (any bytes, unterminated): every
 * parser refuses with a reason or gives paths of the BMC's own tree and a
 * PATCH body that fits; the first line, as a URL, parses or is refused
 * with why. Never a crash or an overread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "redfish.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_path(const char *p)
{
	if (*p && (p[0] != '/' || strstr(p, "..")))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Exactly size bytes, no terminator: an overread is ASan's to see. */
	char *b = malloc(size ? size : 1), why[400], path[256], out[256];
	struct redfish_system s;
	struct redfish_boot want;
	struct redfish_target t;
	const char *steps[3];

	if (!b)
		return 0;
	memcpy(b, data, size);
	if (redfish_parse_system(b, size, &s, why, sizeof(why)) == 0) {
		check_path(s.reset_target);
		for (int v = RF_NETBOOT; v <= RF_STATUS; v++)
			if (redfish_reset_plan(&s, (enum redfish_verb)v, steps, why, sizeof(why)) >
			    2)
				abort();
		if (redfish_boot_body(&s, "uefi-http", &want, out, sizeof(out)) < 0)
			abort();
		redfish_boot_check(&s, &want, why, sizeof(why));
	} else if (!why[0]) {
		abort();
	}
	if (redfish_pick_system(b, size, path, sizeof(path), why, sizeof(why)) == 0)
		check_path(path);
	if (redfish_sessions_path(b, size, path, sizeof(path)) == 0)
		check_path(path);
	redfish_error(b, size, 400, why, sizeof(why));
	redfish_task(b, size, why, sizeof(why));

	size_t n = strnlen(b, size < 600 ? size : 600);
	char *url = malloc(n + 1);
	if (url) {
		memcpy(url, b, n);
		url[n] = '\0';
		why[0] = '\0';
		if (redfish_parse_url(url, &t, why, sizeof(why)) < 0 && !why[0])
			abort();
		free(url);
	}
	free(b);
	return 0;
}
