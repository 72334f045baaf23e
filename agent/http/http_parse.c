#include "http_parse.h"

#include <string.h>
#include <strings.h>

#include "bm/util.h"

static bool
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next line of [p, end): its length without the line ending; *next
 * points past it. Bare LF is accepted as a line ending (RFC 9112 2.2). */
static size_t
line(const char *p, const char *end, const char **next)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t n = (size_t)(nl - p);

	*next = nl + 1;
	return n && p[n - 1] == '\r' ? n - 1 : n;
}

/* Decode a path: %XX (a decoded NUL, control byte or '%' escape gone bad
 * is refused); "." and ".." segments refused: no traversal in any form. */
static bool
decode_path(const char *s, size_t n, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%') {
			int hi, lo;
			/* Two hex digits must follow, inside the path. */
			if (i + 2 >= n || (hi = bm_hexval(s[i + 1])) < 0 ||
			    (lo = bm_hexval(s[i + 2])) < 0)
				return false;
			c = (unsigned char)(hi << 4 | lo);
			i += 2;
		}
		if (c < 0x20 || c == 0x7f)
			return false;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	for (const char *p = out; *p;) {
		size_t seg = strcspn(++p, "/");
		if ((seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += seg;
	}
	return true;
}

/* "GET /path?q HTTP/1.1". Returns 0 or the status to refuse with. */
static int
request_line(const char *p, size_t n, struct http_request *r)
{
	const char *sp1 = memchr(p, ' ', n), *sp2, *q, *target;
	size_t mlen, tlen, vlen;

	if (!sp1 || (mlen = (size_t)(sp1 - p)) == 0 || mlen > 15)
		return 400;
	for (size_t i = 0; i < mlen; i++)
		if (!is_tchar(p[i]))
			return 400;
	r->method = mlen == 3 && !memcmp(p, "GET", 3)    ? HTTP_GET
	            : mlen == 4 && !memcmp(p, "HEAD", 4) ? HTTP_HEAD
	            : mlen == 4 && !memcmp(p, "POST", 4) ? HTTP_POST
	                                                 : HTTP_OTHER;
	target = sp1 + 1;
	if (!(sp2 = memchr(target, ' ', n - mlen - 1)))
		return 400;
	tlen = (size_t)(sp2 - target);
	if (tlen > HTTP_TARGET_MAX)
		return 414;
	vlen = (size_t)(p + n - (sp2 + 1));
	if (vlen < 5 || memcmp(sp2 + 1, "HTTP/", 5))
		return 400;
	if (vlen != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) || sp2[8] < '0' || sp2[8] > '9')
		return 505;
	r->minor = (uint8_t)(sp2[8] - '0');
	/* Origin form only: absolute URLs (proxies' form) and "*" are refused. */
	if (tlen == 0 || target[0] != '/')
		return 400;
	q = memchr(target, '?', tlen);
	if (!decode_path(target, q ? (size_t)(q - target) : tlen, r->path))
		return 400;
	if (q) {
		for (const char *c = q + 1; c < sp2; c++)
			if ((unsigned char)*c < 0x21 || *c == 0x7f)
				return 400;
		memcpy(r->query, q + 1, (size_t)(sp2 - q - 1));
		r->query[sp2 - q - 1] = '\0';
	}
	return 0;
}

static bool
token_in(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i + tl <= n; i++)
		if (!strncasecmp(v + i, tok, tl) &&
		    (i == 0 || v[i - 1] == ' ' || v[i - 1] == ',') &&
		    (i + tl == n || v[i + tl] == ',' || v[i + tl] == ' '))
			return true;
	return false;
}

/* One header field; returns 0 or the status to refuse with. */
static int
header(const char *p, size_t n, struct http_request *r, bool *conn_close, bool *conn_keep)
{
	const char *colon = memchr(p, ':', n), *v;
	size_t nl, vl;

	if (!colon || (nl = (size_t)(colon - p)) == 0)
		return 400;
	for (size_t i = 0; i < nl; i++)
		if (!is_tchar(p[i]))
			return 400; /* also refuses "Name :" (whitespace before the colon) */
	for (v = colon + 1; v < p + n && (*v == ' ' || *v == '\t'); v++)
		;
	for (vl = (size_t)(p + n - v); vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'); vl--)
		;
	for (size_t i = 0; i < vl; i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f)
			return 400;
	if (nl == 14 && !strncasecmp(p, "Content-Length", 14)) {
		uint64_t len = 0;
		if (vl == 0 || vl > 18)
			return 400;
		for (size_t i = 0; i < vl; i++) {
			if (v[i] < '0' || v[i] > '9')
				return 400;
			len = len * 10 + (uint64_t)(v[i] - '0');
		}
		if (r->has_length && r->length != len)
			return 400; /* conflicting lengths: a smuggling attempt */
		r->has_length = true;
		r->length = len;
	} else if (nl == 17 && !strncasecmp(p, "Transfer-Encoding", 17)) {
		return 501; /* no chunked bodies here; with a length it would be smuggling */
	} else if (nl == 10 && !strncasecmp(p, "Connection", 10)) {
		*conn_close |= token_in(v, vl, "close");
		*conn_keep |= token_in(v, vl, "keep-alive");
	} else if (nl == 5 && !strncasecmp(p, "Range", 5) && vl < sizeof(r->range)) {
		memcpy(r->range, v, vl);
		r->range[vl] = '\0';
	} else if (nl == 13 && !strncasecmp(p, "If-None-Match", 13) &&
	           vl < sizeof(r->if_none_match)) {
		memcpy(r->if_none_match, v, vl);
		r->if_none_match[vl] = '\0';
	}
	return 0;
}

/* The end of the head (the empty line), or NULL. */
static const char *
head_end(const char *buf, size_t len)
{
	for (const char *p = buf; (p = memchr(p, '\n', (size_t)(buf + len - p))); p++) {
		const char *n = p + 1;
		if (n < buf + len && *n == '\n')
			return n + 1;
		if (n + 1 < buf + len && n[0] == '\r' && n[1] == '\n')
			return n + 2;
	}
	return NULL;
}

long
http_parse(const char *buf, size_t len, struct http_request *r, int *ret_status)
{
	const char *end, *p = buf, *next;
	bool conn_close = false, conn_keep = false;
	unsigned count = 0;
	size_t n;
	int st;

	memset(r, 0, offsetof(struct http_request, path));
	r->path[0] = r->query[0] = r->range[0] = r->if_none_match[0] = '\0';
	if (!(end = head_end(buf, len > HTTP_HEAD_MAX ? HTTP_HEAD_MAX : len))) {
		const char *nl = memchr(buf, '\n', len);
		if ((!nl && len > HTTP_TARGET_MAX + 32) ||
		    (nl && nl - buf > HTTP_TARGET_MAX + 32)) {
			*ret_status = 414;
			return -1;
		}
		if (len >= HTTP_HEAD_MAX) {
			*ret_status = 431;
			return -1;
		}
		return 0;
	}
	n = line(p, end, &next);
	if ((st = request_line(p, n, r)) != 0) {
		*ret_status = st;
		return -1;
	}
	for (p = next; p < end && *p != '\r' && *p != '\n'; p = next) {
		if (*p == ' ' || *p == '\t' || ++count > HTTP_HEADERS_COUNT_MAX) {
			*ret_status =
			    count > HTTP_HEADERS_COUNT_MAX ? 431 : 400; /* obs-fold refused */
			return -1;
		}
		n = line(p, end, &next);
		if ((st = header(p, n, r, &conn_close, &conn_keep)) != 0) {
			*ret_status = st;
			return -1;
		}
	}
	r->keep_alive = r->minor >= 1 ? !conn_close : conn_keep && !conn_close;
	r->head_len = (size_t)(end - buf);
	return (long)r->head_len;
}

int
http_range(const char *spec, uint64_t size, uint64_t *ret_first, uint64_t *ret_last)
{
	uint64_t a = 0, b = 0;
	bool has_a = false, has_b = false;
	const char *p;

	if (strncasecmp(spec, "bytes=", 6) || strchr(spec, ','))
		return 0;
	for (p = spec + 6; *p >= '0' && *p <= '9'; p++, has_a = true)
		if ((a = a * 10 + (uint64_t)(*p - '0')) > (1ull << 60))
			return 0;
	if (*p++ != '-')
		return 0;
	for (; *p >= '0' && *p <= '9'; p++, has_b = true)
		if ((b = b * 10 + (uint64_t)(*p - '0')) > (1ull << 60))
			return 0;
	if (*p || (!has_a && !has_b) || (has_a && has_b && b < a))
		return 0;
	if (!has_a) { /* the last b bytes */
		if (b == 0 || size == 0)
			return -1;
		*ret_first = b >= size ? 0 : size - b;
		*ret_last = size - 1;
		return 1;
	}
	if (a >= size)
		return -1;
	*ret_first = a;
	*ret_last = has_b && b < size ? b : size - 1;
	return 1;
}

long
http_query_get(const char *q, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key);

	for (const char *p = q; p && *p; p = strchr(p, '&'), p = p ? p + 1 : NULL) {
		size_t o = 0;
		if (strncmp(p, key, kl) || p[kl] != '=')
			continue;
		for (p += kl + 1; *p && *p != '&'; p++) {
			int hi, lo;
			char c = *p;
			if (c == '+')
				c = ' ';
			else if (c == '%' && p[1] && (hi = bm_hexval(p[1])) >= 0 &&
			         (lo = bm_hexval(p[2])) >= 0) {
				c = (char)(hi << 4 | lo);
				p += 2;
			}
			if (o + 1 >= cap || c == '\0')
				return -1;
			out[o++] = c;
		}
		out[o] = '\0';
		return (long)o;
	}
	return -1;
}
