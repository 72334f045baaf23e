/* The deploy program's kernel command line: any text is refused with a
 * reason or gives orders whose URLs are http(s) and whose strings fit;
 * never a crash or an overread. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct deploy_args a;
	char *text = malloc(size + 1), why[256];

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	why[0] = '\0';
	if (deploy_args_parse(text, &a, why, sizeof(why)) < 0) {
		if (!why[0])
			abort();
	} else if (strncmp(a.image, "http", 4) || strncmp(a.callback, "http", 4) ||
	           strlen(a.token) >= sizeof(a.token)) {
		abort();
	}
	free(text);
	return 0;
}
