/* /metrics: the agent's counters in Prometheus text format (version
 * 0.0.4), gathered from each service at scrape time. */
#pragma once
#include "bm/buf.h"

struct dhcp_service;
struct tftp_service;
struct http_server;
struct http_routes;
struct rackdb;
struct file_table;

struct agent_metrics {
	const char *rack;
	const struct dhcp_service *dhcp;
	const struct tftp_service *tftp;
	const struct http_server *http;
	const struct http_routes *routes;
	struct rackdb *db;
	const struct file_table *files;
};

/* For http_routes_opts.metrics: arg is a struct agent_metrics. */
void agent_metrics_write(void *arg, struct bm_buf *out);
