/* HTTP/1.x requests from outside (RFC 9110, 9112): one request at a time,
 * so pipelined requests are taken in order and never merged. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_limits.h"

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_OTHER };

struct http_request {
	enum http_method method;
	uint8_t minor;   /* HTTP/1.minor */
	bool keep_alive; /* after this request */
	bool has_length;
	uint64_t length; /* Content-Length of the body */
	size_t head_len; /* bytes of request line and headers */
	/* Text fields last: parsing clears what comes before path. */
	char path[HTTP_TARGET_MAX + 1];  /* percent-decoded, without the query */
	char query[HTTP_TARGET_MAX + 1]; /* raw, without '?' */
	char range[64];                  /* the Range header, empty if none */
	char if_none_match[80];
};

/* Parse the request at the start of buf (len bytes read so far).
 * Returns > 0: the head is complete, that many bytes long (the body, if
 * any, follows); 0: incomplete, read more; < 0: refused, with the status
 * to answer in *ret_status (400 malformed, 414 request line too long,
 * 431 headers too large, 501 transfer codings, 505 not HTTP/1.x). */
long http_parse(const char *buf, size_t len, struct http_request *ret, int *ret_status);

/* Parse a single byte range against a size (RFC 9110 14.1.2): "bytes=a-b",
 * "bytes=a-", "bytes=-n". Returns 1 with [first, last], 0 when the header
 * should be ignored (not bytes, several ranges, malformed), -1 when
 * unsatisfiable (416). */
int http_range(const char *spec, uint64_t size, uint64_t *ret_first, uint64_t *ret_last);

/* The value of `key` in a query string or form body (a=1&b=2), percent
 * decoded into out. Returns its length, or -1 when absent or too long. */
long http_query_get(const char *query, const char *key, char *out, size_t cap);
