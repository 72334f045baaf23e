/* /metrics: the agent's counters in Prometheus text format (version
 * 0.0.4), gathered from each service at scrape time, served by an HTTP
 * server of its own on metrics_listen (127.0.0.1:9180 by default), never on
 * the rack's boot network. */
#pragma once
#include "bm/buf.h"
#include "http_server.h"

struct dhcp_service;
struct tftp_service;
struct http_server;
struct http_routes;
struct rackdb;
struct file_table;
struct rogue;

struct agent_metrics {
	const char *rack;
	const struct dhcp_service *dhcp;
	const struct tftp_service *tftp;
	const struct http_server *http;
	const struct http_routes *routes;
	struct rackdb *db;
	const struct file_table *files;
	struct rogue *rogue; /* NULL: rogue_dhcp_probe off */
};

/* The metrics of m, appended to out. */
void agent_metrics_write(const struct agent_metrics *m, struct bm_buf *out);
/* An http_handler_fn answering GET /metrics (arg: a struct agent_metrics);
 * anything else is 404 or 405. */
void agent_metrics_handle(void *arg, const struct http_peer *peer, const struct http_request *req,
                          const char *body, struct http_reply *rep);
