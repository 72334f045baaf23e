/* Profile templates: the checker, and the renderer on what it accepts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bm/tmpl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
lookup(void *arg, const char *name)
{
	(void)arg;
	return strlen(name) % 3 ? name : NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[128], *out = NULL;
	int ok = bm_tmpl_check((const char *)data, size, why, sizeof(why)) == 0;
	long n = bm_tmpl_render((const char *)data, size, lookup, NULL, &out);

	/* Whatever the checker accepts must render. */
	if (ok && n < 0 && n != -12)
		abort();
	free(out);
	return 0;
}
