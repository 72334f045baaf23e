/* Caps on what an HTTP client controls. Each is answered with its status
 * and logged (rate-limited). */
#pragma once

/* Request target (path and query): longer is 414 URI Too Long. */
#define HTTP_TARGET_MAX 2048u
/* Request line and headers together: larger is 431. */
#define HTTP_HEAD_MAX 16384u
/* Header fields per request: more is 431. */
#define HTTP_HEADERS_COUNT_MAX 64u
/* A request body (callbacks only): larger is 413. */
#define HTTP_BODY_MAX 4096u
/* Defaults of the configuration (http_max_connections, http_max_per_client,
 * http_header_timeout, http_idle_timeout). Connections at once; beyond, new
 * ones are closed at accept. */
#define HTTP_CONNS_MAX 4096u
/* Connections at once from one client address; beyond, new ones from it
 * are closed at accept, so one host cannot take the agent's slots. */
#define HTTP_PER_CLIENT_MAX 64u
/* A request (head and body) must arrive within this from its first byte,
 * and a new connection must start one: 408. */
#define HTTP_HEAD_TIMEOUT_S 10u
/* A keep-alive connection idle this long, or a client that stops reading
 * its answer this long, is closed. */
#define HTTP_IDLE_TIMEOUT_S 60u
