/* The HTTP/1.1 server on the agent's libev loop: keep-alive, pipelined
 * requests answered in order, HEAD, single ranges, conditional GET, files
 * sent with sendfile, and limits against bad clients (http_limits.h). What
 * to answer is the handler's business (http_routes.h); framing, limits and
 * timeouts are the server's. */
#pragma once
struct bm_rate;
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http_parse.h"

struct file_table;
struct served_file;
struct http_server;

struct http_peer {
	uint32_t ip, local_ip; /* host order */
	uint16_t port, local_port;
};

/* The handler's answer. The server adds Date, Content-Length, Connection
 * and, for files, Accept-Ranges, and applies Range and If-None-Match to
 * 200 answers that carry an etag or a file. */
struct http_reply {
	int status;
	const char *type; /* Content-Type, or NULL */
	char *body;       /* malloc'd, freed by the server; NULL: none */
	size_t body_len;
	struct served_file *file; /* instead of body: sent whole or a range, put by the server */
	char etag[72];            /* without quotes; empty: none */
	time_t mtime;             /* Last-Modified; 0: none */
	const char *allow;        /* for 405 */
	bool close;               /* close the connection after this answer */
};

typedef void (*http_handler_fn)(void *arg, const struct http_peer *peer,
                                const struct http_request *req, const char *body,
                                struct http_reply *rep);

/* Listening sockets one server may have. */
#define HTTP_LISTENERS_MAX 16u

struct http_server_opts {
	const char *name; /* for the log: "" or "metrics" */
	/* Where it listens, on `port`: on each of these interfaces (bound to
	 * the device: a connection that arrives over another is never
	 * accepted, whatever address it names), and on each of these addresses
	 * (host order; 0: every address). */
	const char *const *ifaces;
	unsigned n_ifaces;
	const uint32_t *addrs;
	unsigned n_addrs;
	uint16_t port;
	unsigned max_conns;
	unsigned max_per_client; /* connections at once from one address; 0: the default */
	double header_timeout;   /* a request's head (and body) must arrive within this */
	double idle_timeout;     /* keep-alive idle, and a stalled reader */
	http_handler_fn handler;
	void *arg;
	struct file_table *files; /* where reply files are put back; borrowed */
	/* File bodies go at most at this rate (the agent's image_rate_mbit,
	 * shared with TFTP); NULL: no limit. Borrowed, loop thread. */
	struct bm_rate *rate;
};

struct http_stats {
	uint64_t accepted, rejected, open, requests, by_class[6], bytes, timeouts, refused;
	uint64_t rejected_per_client; /* closed at accept: the address at max_per_client */
};

/* Listen and serve. Returns 0 or -errno, logged (-EINVAL: nowhere or too
 * many places to listen). */
int http_server_start(struct ev_loop *loop, const struct http_server_opts *o,
                      struct http_server **ret);
void http_server_stats(const struct http_server *s, struct http_stats *ret);
/* The port listened on (when opts asked for 0). */
uint16_t http_server_port(const struct http_server *s);
/* Close every connection and the listener; accepts NULL. */
void http_server_stop(struct http_server *s);

/* Fill rep with a short text answer (status line's reason as the body). */
void http_reply_text(struct http_reply *rep, int status, const char *text);
const char *http_reason(int status);
