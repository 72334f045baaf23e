#include "metrics.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#include "bm/util.h"
#include "dhcp_io.h"
#include "files.h"
#include "http_routes.h"
#include "http_server.h"
#include "rackdb.h"
#include "rogue.h"
#include "tftp_io.h"

struct metric {
	const char *name, *help;
	bool gauge;
	uint64_t value;
};

static void
family(struct bm_buf *b, const char *name, const char *help, bool gauge)
{
	bm_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	              gauge ? "gauge" : "counter");
}

static void
table(struct bm_buf *b, const struct metric *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		family(b, m[i].name, m[i].help, m[i].gauge);
		bm_buf_printf(b, "%s %" PRIu64 "\n", m[i].name, m[i].value);
	}
}

/* One family with a label: name{label="names[i]"} v[i] for i in [from, n). */
static void
labelled(struct bm_buf *b, const char *name, const char *help, const char *label,
         const char *const *names, const uint64_t *v, int from, int n)
{
	family(b, name, help, false);
	for (int i = from; i < n; i++)
		bm_buf_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, names[i], v[i]);
}

static void
dhcp(struct bm_buf *b, const struct dhcp_service *s)
{
	static const char *const types[9] = { "other", "discover", "offer",   "request", "decline",
		                              "ack",   "nak",      "release", "inform" };
	struct dhcp_stats st;

	dhcp_service_stats(s, &st);
	labelled(b, "bm_dhcp_packets_received_total", "DHCP packets received by message type",
	         "type", types, st.by_type_in, 0, 9);
	labelled(b, "bm_dhcp_packets_sent_total", "DHCP packets sent by message type", "type",
	         types, st.by_type_out, 0, 9);
	const struct metric m[] = {
		{ "bm_dhcp_malformed_total", "DHCP packets refused as malformed", false,
		  st.malformed },
		{ "bm_dhcp_ignored_total", "DHCP packets not answered", false, st.ignored },
		{ "bm_dhcp_commit_errors_total", "lease commits that failed", false,
		  st.commit_errors },
		{ "bm_dhcp_discoveries_total", "unknown MACs reported as discovered", false,
		  st.discoveries },
		{ "bm_dhcp_discoveries_dropped_total",
		  "unknown MACs not reported: beyond discovery_rate", false,
		  st.discoveries_dropped },
	};
	table(b, m, BM_ARRAY_SIZE(m));
}

static void
tftp(struct bm_buf *b, const struct tftp_service *s)
{
	struct tftp_stats st;

	tftp_service_stats(s, &st);
	const struct metric m[] = {
		{ "bm_tftp_requests_total", "TFTP read requests", false, st.requests },
		{ "bm_tftp_refused_total", "TFTP requests refused", false, st.refused },
		{ "bm_tftp_refused_per_client_total",
		  "TFTP requests refused: the client address at tftp_max_per_client", false,
		  st.refused_per_client },
		{ "bm_tftp_timeouts_declined_total",
		  "TFTP timeout options above tftp_timeout_max, not granted", false,
		  st.timeouts_declined },
		{ "bm_tftp_transfers_completed_total", "TFTP transfers completed", false,
		  st.completed },
		{ "bm_tftp_transfers_failed_total", "TFTP transfers that failed or were abandoned",
		  false, st.failed },
		{ "bm_tftp_retransmits_total", "TFTP blocks sent again", false, st.retransmits },
		{ "bm_tftp_bytes_total", "TFTP payload bytes sent", false, st.bytes },
		{ "bm_tftp_transfers_active", "TFTP transfers in progress", true, st.sessions },
	};
	table(b, m, BM_ARRAY_SIZE(m));
}

static void
http(struct bm_buf *b, const struct http_server *s, const struct http_routes *r)
{
	static const char *const classes[6] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };
	struct http_stats st;
	struct http_route_stats rs;

	http_server_stats(s, &st);
	http_routes_stats(r, &rs);
	labelled(b, "bm_http_requests_total", "HTTP requests answered by status class", "code",
	         classes, st.by_class, 1, 6);
	const struct metric m[] = {
		{ "bm_http_bytes_total", "HTTP bytes sent", false, st.bytes },
		{ "bm_http_connections_accepted_total", "HTTP connections accepted", false,
		  st.accepted },
		{ "bm_http_connections_rejected_total", "HTTP connections closed at the cap", false,
		  st.rejected },
		{ "bm_http_connections_rejected_per_client_total",
		  "HTTP connections closed: the address at http_max_per_client", false,
		  st.rejected_per_client },
		{ "bm_http_connections_open", "HTTP connections open", true, st.open },
		{ "bm_http_timeouts_total", "HTTP connections timed out", false, st.timeouts },
		{ "bm_http_refused_total", "HTTP requests refused by the limits", false,
		  st.refused },
		{ "bm_http_scripts_total", "iPXE scripts served", false, rs.scripts },
		{ "bm_http_seeds_total", "installer seeds served", false, rs.seeds },
		{ "bm_http_images_total", "image downloads started", false, rs.images },
		{ "bm_http_boot_files_total", "boot programs served over HTTP", false,
		  rs.boot_files },
		{ "bm_http_unknown_macs_total", "requests naming a MAC not in the rack", false,
		  rs.unknown_macs },
		{ "bm_http_machine_refused_total",
		  "a machine's script, seed or callback refused (403: another address, not "
		  "netbooting, wrong or old token)",
		  false, rs.refused },
		{ "bm_callbacks_total", "boot callbacks recorded", false, rs.callbacks },
		{ "bm_callbacks_refused_total", "boot callbacks refused", false,
		  rs.callbacks_refused },
	};
	table(b, m, BM_ARRAY_SIZE(m));
}

void
agent_metrics_write(const struct agent_metrics *m, struct bm_buf *b)
{
	struct rackdb_stats rs;

	if (m->dhcp)
		dhcp(b, m->dhcp);
	if (m->rogue) {
		const struct metric g[] = {
			{ "bm_dhcp_rogue_answers_total",
			  "OFFERs and ACKs seen from DHCP servers that are not this agent", false,
			  rogue_offers(m->rogue) },
		};
		table(b, g, BM_ARRAY_SIZE(g));
	}
	if (m->tftp)
		tftp(b, m->tftp);
	if (m->http && m->routes)
		http(b, m->http, m->routes);
	if (m->db && m->files && rackdb_stats_get(m->db, &rs) == 0) {
		const struct metric g[] = {
			{ "bm_files_open", "served files open", true,
			  file_table_open_count(m->files) },
			{ "bm_leases", "leases stored", true, rs.leases },
			{ "bm_outbox_events", "events in the outbox", true, rs.events },
			{ "bm_outbox_dropped_total", "progress events dropped, outbox full", false,
			  rs.dropped },
		};
		table(b, g, BM_ARRAY_SIZE(g));
	}
}

void
agent_metrics_handle(void *arg, const struct http_peer *peer, const struct http_request *req,
                     const char *body, struct http_reply *rep)
{
	struct bm_buf b = { 0 };
	size_t n;

	(void)peer;
	(void)body;
	if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
		http_reply_text(rep, 405, NULL);
		rep->allow = "GET, HEAD";
		return;
	}
	if (strcmp(req->path, "/metrics")) {
		http_reply_text(rep, 404, NULL);
		return;
	}
	agent_metrics_write(arg, &b);
	rep->body = bm_buf_take(&b, &n);
	rep->status = rep->body ? 200 : 500;
	rep->type = "text/plain; version=0.0.4";
	rep->body_len = rep->body ? n : 0;
}
