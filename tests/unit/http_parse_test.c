/* HTTP request parsing: valid requests (keep-alive rules, pipelining: one
 * request at a time), every refusal with its status, traversal in any form,
 * ranges, query values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "http_parse.h"

static struct http_request r;

static long
parse(const char *s, int *st)
{
	*st = 0;
	return http_parse(s, strlen(s), &r, st);
}

static void
test_valid(void **state)
{
	int st;
	const char *two = "GET /boot/52:54:00:12:00:03.ipxe HTTP/1.1\r\nHost: a\r\n\r\n"
	                  "HEAD /images/x HTTP/1.1\r\nRange: bytes=0-99\r\n\r\n";

	(void)state;
	assert_int_equal(http_parse(two, strlen(two), &r, &st), 54);
	assert_int_equal(r.method, HTTP_GET);
	assert_string_equal(r.path, "/boot/52:54:00:12:00:03.ipxe");
	assert_true(r.keep_alive);
	/* The second request of the pipeline, parsed after the first. */
	assert_true(http_parse(two + 54, strlen(two) - 54, &r, &st) > 0);
	assert_int_equal(r.method, HTTP_HEAD);
	assert_string_equal(r.range, "bytes=0-99");

	assert_true(parse("GET /callback?mac=52%3A54&state=done HTTP/1.0\n\n", &st) >
	            0);             /* bare LF */
	assert_false(r.keep_alive); /* 1.0 default */
	assert_string_equal(r.query, "mac=52%3A54&state=done");
	assert_true(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &st) > 0);
	assert_true(r.keep_alive);
	assert_true(parse("GET / HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", &st) > 0);
	assert_false(r.keep_alive);
	assert_true(
	    parse("POST /callback HTTP/1.1\r\nContent-Length: 12\r\nContent-length: 12\r\n\r\n",
	          &st) > 0);
	assert_int_equal(r.method, HTTP_POST);
	assert_int_equal(r.length, 12);
	assert_true(parse("GET /a%20b HTTP/1.1\r\n\r\n", &st) > 0);
	assert_string_equal(r.path, "/a b");
	assert_true(parse("DELETE /x HTTP/1.1\r\n\r\n", &st) > 0);
	assert_int_equal(r.method, HTTP_OTHER);
	/* Incomplete: read more. */
	assert_int_equal(parse("GET / HTTP/1.1\r\nHost: a\r\n", &st), 0);
	assert_int_equal(parse("GET /", &st), 0);
}

static void
refused(const char *s, int want)
{
	int st = 0;
	long n = http_parse(s, strlen(s), &r, &st);
	if (n >= 0 || st != want)
		fail_msg("%s: returned %ld status %d, wanted %d", s, n, st, want);
}

static void
test_refusals(void **state)
{
	char big[HTTP_HEAD_MAX + 100];

	(void)state;
	refused("GET /../etc/passwd HTTP/1.1\r\n\r\n", 400);
	refused("GET /boot/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n\r\n", 400);
	refused("GET /boot/%2E%2E HTTP/1.1\r\n\r\n", 400);
	refused("GET /boot/./x HTTP/1.1\r\n\r\n", 400);
	refused("GET /a%00b HTTP/1.1\r\n\r\n", 400);
	refused("GET /a%zz HTTP/1.1\r\n\r\n", 400);
	refused("GET /a% HTTP/1.1\r\n\r\n", 400);
	refused("GET http://evil/etc/passwd HTTP/1.1\r\n\r\n", 400);
	refused("GET * HTTP/1.1\r\n\r\n", 400);
	refused("GET / HTTP/2.0\r\n\r\n", 505);
	refused("GET / FOO/1.1\r\n\r\n", 400);
	refused("GET /\r\n\r\n", 400);
	refused("GET / \r\n\r\n", 400); /* no version: nothing read past the line */
	refused("GET / HTTP\r\n\r\n", 400);
	refused("GET / HTTP/1\r\n\r\n", 505);
	refused("GET / HTTP/1.x\r\n\r\n", 505);
	refused("G@T / HTTP/1.1\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost a\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400);
	refused("GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 501);
	/* A request line too long: 414, even before its end arrives. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /", 5);
	big[HTTP_TARGET_MAX + 100] = '\0';
	refused(big, 414);
	/* Headers too large: 431. */
	strcpy(big, "GET / HTTP/1.1\r\n");
	while (strlen(big) < HTTP_HEAD_MAX)
		strcat(big,
		       "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
	refused(big, 431);
	/* Too many header fields: 431. */
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (unsigned i = 0; i <= HTTP_HEADERS_COUNT_MAX; i++)
		strcat(big, "X: 1\r\n");
	strcat(big, "\r\n");
	refused(big, 431);
}

static void
test_range(void **state)
{
	uint64_t a, b;

	(void)state;
	assert_int_equal(http_range("bytes=0-99", 1000, &a, &b), 1);
	assert_true(a == 0 && b == 99);
	assert_int_equal(http_range("bytes=900-", 1000, &a, &b), 1);
	assert_true(a == 900 && b == 999);
	assert_int_equal(http_range("bytes=-100", 1000, &a, &b), 1);
	assert_true(a == 900 && b == 999);
	assert_int_equal(http_range("bytes=-5000", 1000, &a, &b), 1);
	assert_true(a == 0 && b == 999);
	assert_int_equal(http_range("bytes=500-5000", 1000, &a, &b), 1);
	assert_true(a == 500 && b == 999);
	assert_int_equal(http_range("bytes=1000-", 1000, &a, &b), -1);
	assert_int_equal(http_range("bytes=-0", 1000, &a, &b), -1);
	assert_int_equal(http_range("bytes=0-1,5-6", 1000, &a, &b), 0); /* several: ignored */
	assert_int_equal(http_range("bytes=5-1", 1000, &a, &b), 0);
	assert_int_equal(http_range("lines=0-1", 1000, &a, &b), 0);
	assert_int_equal(http_range("bytes=x-1", 1000, &a, &b), 0);
	assert_int_equal(http_range("bytes=-", 1000, &a, &b), 0);
}

static void
test_query(void **state)
{
	char v[32];

	(void)state;
	assert_int_equal(
	    http_query_get("mac=52%3A54%3A00&state=done&reason=disk+full", "mac", v, sizeof(v)), 8);
	assert_string_equal(v, "52:54:00");
	assert_int_equal(http_query_get("mac=1&reason=disk+full", "reason", v, sizeof(v)), 9);
	assert_string_equal(v, "disk full");
	assert_int_equal(http_query_get("xmac=1&mac=2", "mac", v, sizeof(v)), 1);
	assert_string_equal(v, "2");
	assert_int_equal(http_query_get("mac=1", "state", v, sizeof(v)), -1);
	assert_int_equal(http_query_get("a=%00", "a", v, sizeof(v)), -1);
	assert_int_equal(
	    http_query_get("a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "a", v, sizeof(v)), -1);
	assert_int_equal(http_query_get("a=%", "a", v, sizeof(v)), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_query),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
