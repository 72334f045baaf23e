/* An answer's words (http_reply.c), for the server. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "http_server.h"

/* "Sun, 06 Nov 1994 08:49:37 GMT" */
const char *http_date(time_t t, char *out, size_t n);
/* Range and If-None-Match on a 200 answer: rep->status becomes 206, 304 or
 * 416, *first and *last the range of size bytes. */
void http_conditional(const struct http_request *req, struct http_reply *rep, uint64_t *first,
                      uint64_t *last, uint64_t size);
/* The head of the answer into head (cap bytes): its length. */
size_t http_format_head(char *head, size_t cap, const char *date, const struct http_request *req,
                        const struct http_reply *rep, bool close, uint64_t len, uint64_t first,
                        uint64_t last, uint64_t size);
