/* An answer's words: status reasons, text bodies, the date, Range and
 * If-None-Match applied, and the head. Pure: the server (http_server.c)
 * frames and sends. */
#define _GNU_SOURCE /* asprintf */
#include "http_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 206: return "Partial Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

void
http_reply_text(struct http_reply *rep, int status, const char *text)
{
	char *b = NULL;
	int n = asprintf(&b, "%s\n", text ? text : http_reason(status));

	rep->status = status;
	rep->type = "text/plain; charset=utf-8";
	free(rep->body);
	rep->body = n < 0 ? NULL : b;
	rep->body_len = n < 0 ? 0 : (size_t)n;
}

const char *
http_date(time_t t, char *out, size_t n)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	return out;
}

/* Range and If-None-Match on a 200 answer. */
void
http_conditional(const struct http_request *req, struct http_reply *rep, uint64_t *first,
                 uint64_t *last, uint64_t size)
{
	char quoted[80];

	snprintf(quoted, sizeof(quoted), "\"%s\"", rep->etag);
	if (*rep->etag && *req->if_none_match &&
	    (strstr(req->if_none_match, quoted) || !strcmp(req->if_none_match, "*"))) {
		rep->status = 304;
		return;
	}
	if (!rep->file || !*req->range)
		return;
	switch (http_range(req->range, size, first, last)) {
	case 1: rep->status = 206; break;
	case -1: rep->status = 416; break;
	default: break;
	}
}

size_t
http_format_head(char *head, size_t cap, const char *date, const struct http_request *req,
                 const struct http_reply *rep, bool close, uint64_t len, uint64_t first,
                 uint64_t last, uint64_t size)
{
	char lm[40];
	size_t n;

	n = (size_t)snprintf(head, cap, "HTTP/1.1 %d %s\r\nServer: bmagent\r\nDate: %s\r\n",
	                     rep->status, http_reason(rep->status), date);
#define ADD(...) (n += n < cap ? (size_t)snprintf(head + n, cap - n, __VA_ARGS__) : 0)
	if (rep->type && rep->status != 304)
		ADD("Content-Type: %s\r\n", rep->type);
	if (rep->status != 304)
		ADD("Content-Length: %llu\r\n", (unsigned long long)len);
	if (rep->status == 206)
		ADD("Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)first,
		    (unsigned long long)last, (unsigned long long)size);
	if (rep->status == 416)
		ADD("Content-Range: bytes */%llu\r\n", (unsigned long long)size);
	if (rep->file)
		ADD("Accept-Ranges: bytes\r\n");
	if (*rep->etag)
		ADD("ETag: \"%s\"\r\n", rep->etag);
	if (rep->mtime)
		ADD("Last-Modified: %s\r\n", http_date(rep->mtime, lm, sizeof(lm)));
	if (rep->allow)
		ADD("Allow: %s\r\n", rep->allow);
	if (close)
		ADD("Connection: close\r\n");
	else if (req->minor == 0)
		ADD("Connection: keep-alive\r\n");
	ADD("\r\n");
#undef ADD
	return n < cap ? n : cap;
}
