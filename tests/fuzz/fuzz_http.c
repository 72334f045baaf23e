/* HTTP requests from the rack's segment: the input is parsed as a stream of
 * pipelined requests, as the server takes them, one at a time; the range
 * and query of each are parsed too. Invariants: a head never claims more
 * bytes than were given, a path is absolute with no "." or ".." segment and
 * no control byte, a range lies inside the file. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_path(const char *p)
{
	if (p[0] != '/' || strstr(p, "/../") || strstr(p, "/./"))
		abort();
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
}

static void
check_one(const struct http_request *r, size_t size)
{
	uint64_t sizes[] = { 0, 1, 1000, UINT64_C(1) << 40 }, a, b;
	char v[64];

	check_path(r->path);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		if (http_range(r->range, sizes[i], &a, &b) == 1 && (a > b || b >= sizes[i]))
			abort();
	if (http_query_get(r->query, "mac", v, sizeof(v)) >= (long)sizeof(v))
		abort();
	(void)size;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_request r;
	const char *p = (const char *)data;
	size_t left = size;
	int status;
	long n;

	while (left && (n = http_parse(p, left, &r, &status)) > 0) {
		if ((size_t)n > left || r.head_len != (size_t)n)
			abort();
		check_one(&r, size);
		if (r.length > left - (size_t)n)
			break;
		p += (size_t)n + r.length;
		left -= (size_t)n + r.length;
	}
	return 0;
}
