/* bmagent: wires the configuration, the rack view, the local store and the
 * DHCP, TFTP, HTTP and RA services together on one libev loop, with the
 * sync, cache and power threads beside it (docs/architecture.md). */
#include <curl/curl.h>
#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bm/fsutil.h"
#include "bm/log.h"
#include "bm/rate.h"
#include "bm/netaddr.h"
#include "bm/util.h"
#include "bm/version.h"
#include "cache.h"
#include "config.h"
#include "describe.h"
#include "dhcp_io.h"
#include "files.h"
#include "http_routes.h"
#include "http_server.h"
#include "metrics.h"
#include "rackdb.h"
#include "grub.h"
#include "power.h"
#include "privs.h"
#include "ra.h"
#include "rogue.h"
#include "progress.h"
#include "rackview.h"
#include "sync.h"
#include "tftp_io.h"

struct agent {
	struct ev_loop *loop;
	struct agent_config cfg;
	struct dhcp_config dcfg;
	struct rackdb *db;
	struct rack_view *view;
	struct dhcp_service *dhcp;
	struct file_table *files;
	struct tftp_service *tftp;
	struct ra_service *ra;
	struct rogue *rogue; /* rogue DHCP detection (rogue_dhcp_probe) */
	struct http_routes *routes;
	struct http_server *http;
	struct http_server *metrics_http; /* /metrics, on metrics_listen */
	struct agent_metrics metrics;
	struct sync *sync;          /* managed: the link to the coordinators */
	struct bm_rpc_creds *creds; /* tls: this agent's certificate, for sync */
	struct progress *progress;  /* managed: fetches traced for the coordinator */
	struct cache *cache;        /* the image cache's downloader */
	struct power *power;        /* managed: power actions of operations */
	struct bm_rate image_rate;  /* image_rate_mbit: TFTP and HTTP file bytes */
	char agent_id[RACKDB_AGENT_ID_LEN + 1];
	char hostname[256];
	ev_signal sigterm, sigint, sighup;
	int lock_fd;
};

/* The rack view of a standalone agent. On failure, problems are printed. */
static int
load_view(struct agent *a, struct rack_view **ret)
{
	struct bm_problems p;
	int r;

	bm_problems_init(&p);
	r = rack_view_load_file(a->cfg.fleet, a->cfg.rack, ret, &p);
	if (r == -EINVAL)
		bm_problems_print(stderr, a->cfg.fleet, &p);
	else if (r < 0)
		fprintf(stderr, "bmagent: cannot read %s: %s\n", a->cfg.fleet, strerror(-r));
	bm_problems_fini(&p);
	return r;
}

/* The rack view of a managed agent, from its local store: what the last
 * sync left there (an empty view before the first). */
static int
load_view_db(struct agent *a, struct rack_view **ret)
{
	Bm__Fleet *f;
	int r;

	if ((r = rackdb_view_load(a->db, &f)) < 0)
		return r;
	r = rack_view_take(f, a->cfg.rack, ret);
	return r == -ENOENT ? rack_view_empty(a->cfg.rack, ret) : r;
}

/* Power actions the view asks for (operations that powered a machine). */
static void
power_actions(struct agent *a, const struct rack_view *v)
{
	for (size_t i = 0; a->power && i < v->n_hosts; i++)
		power_consider(a->power, v->hosts[i].m);
}

/* Boot tokens first: a machine an operation powers has its token before
 * its power action makes it boot. */
static void
follow_tokens(struct agent *a, const struct rack_view *v)
{
	unsigned changed;
	int r = rackdb_tokens_follow(a->db, v, &changed);

	if (r < 0)
		BM_ERROR("agent", "cannot update the boot tokens err=\"%s\"", strerror(-r));
	else if (changed)
		BM_DEBUG("agent", "boot tokens made or ended count=%u", changed);
}

static void
set_view(struct agent *a, struct rack_view *v)
{
	follow_tokens(a, v);
	power_actions(a, v);
	cache_want(a->cache, v->fleet->images, v->fleet->n_images);
	dhcp_service_set_view(a->dhcp, v);
	http_routes_set_view(a->routes, v);
	rack_view_free(a->view);
	a->view = v;
}

/* The sync thread stored a new view: serve it from now on. */
static void
view_changed_cb(void *arg)
{
	struct agent *a = arg;
	struct rack_view *v;
	int r;

	if ((r = load_view_db(a, &v)) < 0) {
		BM_ERROR("agent", "cannot load the synced view err=\"%s\"", strerror(-r));
		return;
	}
	set_view(a, v);
	BM_INFO("agent", "view updated machines=%zu", v->n_hosts);
}

static void
events_cb(void *arg)
{
	sync_kick(arg);
}

static void
stop(struct agent *a, const char *why)
{
	BM_INFO("agent", "stopping signal=%s", why);
	ev_break(a->loop, EVBREAK_ALL);
}

/* SIGHUP of a managed agent: its certificate, key and CA read again (a
 * renewal); requests carry the new certificate's tokens at once, new
 * connections present it. */
static void
reload_tls(struct agent *a)
{
	char err[256];

	if (!a->creds)
		return;
	if (bm_rpc_creds_reload(a->creds, err, sizeof(err)) < 0)
		BM_ERROR("agent", "TLS reload failed, keeping the old err=\"%s\"", err);
	else
		BM_INFO("agent", "TLS reloaded cert=%s", a->cfg.tls_cert);
}

static void
signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	struct agent *a = w->data;
	struct rack_view *v;

	(void)loop;
	(void)revents;
	if (w->signum != SIGHUP) {
		stop(a, w->signum == SIGTERM ? "TERM" : "INT");
		return;
	}
	if (a->cfg.n_coordinators) { /* managed: the view comes from the coordinator */
		reload_tls(a);
		return;
	}
	/* SIGHUP: reload the fleet file; a bad file changes nothing. */
	if (load_view(a, &v) < 0) {
		BM_WARN("agent", "reload refused, keeping the current view file=%s", a->cfg.fleet);
		return;
	}
	set_view(a, v);
	BM_INFO("agent", "reloaded file=%s machines=%zu", a->cfg.fleet, v->n_hosts);
}

static void
dhcp_config_from(struct dhcp_config *d, const struct agent_config *c)
{
	memset(d, 0, sizeof(*d));
	d->proxy = c->proxy;
	d->lease_secs = c->lease_secs;
	d->unknown_lease_secs = c->discovery_lease_secs;
	d->discovery_rate = c->discovery_rate;
	d->discovery_burst = c->discovery_burst;
	snprintf(d->marker, sizeof(d->marker), "%s", c->marker);
	d->boot = c->boot;
	d->http_port = c->http_port;
	d->chain_ipxe = c->chain_ipxe;
}

/* The TFTP root and the image cache (DATA_DIR/cache/sha256), served over
 * TFTP and HTTP. */
/* A TFTP transfer ended: traced for a known machine. */
static void
tftp_done_cb(void *arg, uint32_t ip, const char *file, uint64_t bytes, const char *why)
{
	struct agent *a = arg;
	const struct rack_host *h = rack_view_host_by_ip(a->view, ip);

	if (!h || !a->progress)
		return;
	if (!why && a->dhcp && agent_config_unsigned_loader(&a->cfg, file))
		dhcp_service_loader_fetched(a->dhcp, h->mac, file);
	if (why)
		progress_add(a->progress, BM__EVENT_KIND__EVENT_TFTP, h->mac, ip, "%s failed: %s",
		             file, why);
	else
		progress_add(a->progress, BM__EVENT_KIND__EVENT_TFTP, h->mac, ip, "%s %llu bytes",
		             file, (unsigned long long)bytes);
}

/* TFTP's files made for the asker: the GRUB configs (http_routes). */
static long
tftp_make_cb(void *arg, const char *name, uint32_t peer_ip, uint32_t local_ip, char **ret)
{
	struct agent *a = arg;
	return a->routes ? http_routes_tftp_file(a->routes, name, peer_ip, local_ip, ret) : -ENOENT;
}

static int
start_files(struct agent *a, const char **ifaces)
{
	struct tftp_service_opts t = { .ifaces = ifaces,
		                       .n_ifaces = a->cfg.n_ifaces,
		                       .port = 69,
		                       .max_sessions = a->cfg.tftp_max_transfers,
		                       .max_per_client = a->cfg.tftp_max_per_client,
		                       .timeout_max = a->cfg.tftp_timeout_max,
		                       .on_done = tftp_done_cb,
		                       .arg = a,
		                       .make = tftp_make_cb,
		                       .make_arg = a,
		                       .make_prefix = GRUB_CFG };
	char cache[PATH_MAX + 32];
	int r;

	snprintf(cache, sizeof(cache), "%s/cache/sha256", a->cfg.data_dir);
	if ((r = bm_mkdir_p(cache)) < 0 ||
	    (r = file_table_new(a->cfg.tftp_root, cache, &a->files)) < 0) {
		BM_ERROR("agent", "cannot open the served files err=\"%s\"", strerror(-r));
		return r;
	}
	/* Debian's signed shim and network GRUB, under the names shim loads. */
	file_table_alias_logged(a->files, PXE_SHIM_FILE, a->cfg.signed_shim);
	file_table_alias_logged(a->files, PXE_GRUB_FILE, a->cfg.signed_grub);
	t.files = a->files;
	bm_rate_init_mbit(&a->image_rate, a->cfg.image_rate_mbit, bm_mono_ms());
	t.rate = a->cfg.image_rate_mbit ? &a->image_rate : NULL;
	return tftp_service_start(a->loop, &t, &a->tftp);
}

static bool
leased_cb(void *arg, uint32_t ip, const uint8_t mac[6])
{
	return dhcp_service_leased(arg, ip, mac);
}

/* /metrics on its own address (metrics_listen), off the boot network. */
static int
start_metrics(struct agent *a)
{
	struct http_server_opts o = { .name = "metrics",
		                      .addrs = &a->cfg.metrics_addr,
		                      .n_addrs = 1,
		                      .port = a->cfg.metrics_port,
		                      .max_conns = 64,
		                      .max_per_client = 64,
		                      .header_timeout = a->cfg.http_header_timeout,
		                      .idle_timeout = a->cfg.http_idle_timeout,
		                      .handler = agent_metrics_handle,
		                      .arg = &a->metrics,
		                      .files = a->files };

	a->metrics = (struct agent_metrics){ a->cfg.rack, a->dhcp, a->tftp,  a->http,
		                             a->routes,   a->db,   a->files, a->rogue };
	return a->cfg.metrics_port ? http_server_start(a->loop, &o, &a->metrics_http) : 0;
}

/* The boot network's HTTP: on the rack interfaces only, unless
 * http_listen names addresses. */
static int
start_http(struct agent *a, const char **ifaces)
{
	struct http_routes_opts ro = { .files = a->files,
		                       .db = a->db,
		                       .rack = a->cfg.rack,
		                       .leased = leased_cb,
		                       .leased_arg = a->dhcp,
		                       .progress = a->progress,
		                       .cache = a->cache,
		                       .http_port = a->cfg.http_port };
	struct http_server_opts ho = { 0 };
	int r;

	if ((r = http_routes_new(&ro, &a->routes)) < 0)
		return r;
	http_routes_set_view(a->routes, a->view);
	ho.name = "boot";
	ho.ifaces = a->cfg.n_http_listen ? NULL : ifaces;
	ho.n_ifaces = a->cfg.n_http_listen ? 0 : a->cfg.n_ifaces;
	ho.addrs = a->cfg.http_listen;
	ho.n_addrs = a->cfg.n_http_listen;
	ho.port = a->cfg.http_port;
	ho.max_conns = a->cfg.http_max_conns;
	ho.max_per_client = a->cfg.http_max_per_client;
	ho.header_timeout = a->cfg.http_header_timeout;
	ho.idle_timeout = a->cfg.http_idle_timeout;
	ho.handler = http_routes_handle;
	ho.arg = a->routes;
	ho.files = a->files;
	ho.rate = a->cfg.image_rate_mbit ? &a->image_rate : NULL;
	if ((r = http_server_start(a->loop, &ho, &a->http)) < 0)
		return r;
	return start_metrics(a);
}

static int
blob_get_cb(void *arg, const uint8_t sha[32], uint64_t off, void *buf, size_t len, size_t *n,
            uint64_t *size)
{
	return sync_blob_get(arg, sha, off, buf, len, n, size);
}

_Static_assert(CACHE_PEER_URL_MAX == SYNC_PEER_URL_MAX, "one peer URL size");
_Static_assert(AGENT_PEER_URL_MAX <= CACHE_PEER_URL_MAX, "a peer_url fits a peer's");

static int
source_cb(void *arg, const uint8_t sha[32], char (*peers)[CACHE_PEER_URL_MAX], size_t max,
          size_t *n, uint32_t *wait_ms)
{
	return sync_image_source(arg, sha, peers, max, n, wait_ms);
}

/* A rogue DHCP server seen (new, or again after a minute): tell upstream. */
static void
rogue_cb(void *arg)
{
	struct agent *a = arg;

	if (a->sync)
		sync_reregister(a->sync);
}

static void
cache_changed_cb(void *arg)
{
	sync_reregister(arg);
}

/* What the agent registers with: host, interfaces, cache, rogue DHCP
 * servers (report thread, one at a time). */
static void
describe_cb(void *arg, Bm__AgentInfo *info)
{
	struct agent *a = arg;

	info->hostname = a->hostname;
	info->peer_url = a->cfg.peer_url;
	agent_describe_interfaces(&a->cfg, info);
	agent_describe_rogues(a->rogue, info);
	if (a->cache)
		cache_describe(a->cache, info);
}

static int
start_sync(struct agent *a)
{
	const char *urls[AGENT_COORDINATORS_MAX];
	struct sync_opts o = { 0 };
	uint64_t rev = 0;
	int r;

	if ((r = rackdb_agent_id(a->db, a->agent_id)) < 0) {
		BM_ERROR("agent", "cannot make the agent id err=\"%s\"", strerror(-r));
		return r;
	}
	for (unsigned i = 0; i < a->cfg.n_coordinators; i++)
		urls[i] = a->cfg.coordinators[i];
	if (gethostname(a->hostname, sizeof(a->hostname) - 1) < 0)
		snprintf(a->hostname, sizeof(a->hostname), "unknown");
	o.urls = urls;
	o.n_urls = a->cfg.n_coordinators;
	o.rack = a->cfg.rack;
	o.agent_id = a->agent_id;
	o.version = BM_VERSION;
	o.db = a->db;
	o.loop = a->loop;
	o.view_changed = view_changed_cb;
	o.describe = describe_cb;
	o.arg = a;
	if (*a->cfg.tls_ca) {
		struct bm_rpc_tls t = { a->cfg.tls_ca, a->cfg.tls_cert, a->cfg.tls_key, NULL };
		char err[256];
		if ((r = bm_rpc_creds_new(&t, false, &a->creds, err, sizeof(err))) < 0) {
			BM_ERROR("agent", "TLS: %s", err);
			return r;
		}
		o.creds = a->creds;
	}
	struct power_opts po = { a->cfg.bmc_ca, a->cfg.bmc_timeout, a->cfg.power_stagger_ms };
	if ((r = power_start(a->db, a->cfg.rack, &po, &a->power)) < 0)
		return r;
	power_actions(a, a->view);
	if ((r = sync_start(&o, &a->sync)) < 0)
		return r;
	rackdb_on_events(a->db, events_cb, a->sync);
	rackdb_view_revision(a->db, &rev);
	BM_INFO("agent", "managed agent=%s coordinators=%u revision=%llu", a->agent_id,
	        a->cfg.n_coordinators, (unsigned long long)rev);
	return 0;
}

/* The image cache: fetch what the view names (from the coordinators when
 * managed, else from image URLs). */
static int
start_cache(struct agent *a)
{
	char dir[PATH_MAX + 8];
	struct cache_opts o = { 0 };
	int r;

	snprintf(dir, sizeof(dir), "%s/cache", a->cfg.data_dir);
	o.dir = dir;
	o.budget = a->cfg.cache_budget;
	o.db = a->db;
	o.rack = a->cfg.rack;
	if (a->sync) {
		o.blob_get = blob_get_cb;
		o.blob_arg = a->sync;
		o.source = source_cb;
		o.source_arg = a->sync;
		o.changed = cache_changed_cb;
		o.changed_arg = a->sync;
	}
	if ((r = cache_start(&o, &a->cache)) < 0) {
		BM_ERROR("agent", "cannot start the image cache dir=%s err=\"%s\"", dir,
		         strerror(-r));
		return r;
	}
	cache_want(a->cache, a->view->fleet->images, a->view->fleet->n_images);
	if (a->sync)
		sync_reregister(a->sync); /* with the cache's state */
	return 0;
}

/* Every socket is open: become the agent's user before any thread starts
 * (capabilities are per thread). */
static int
drop_privileges(struct agent *a)
{
	char err[256] = "";
	bool dropped;
	int r = privs_drop(a->cfg.user, a->cfg.data_dir, &dropped, err, sizeof(err));

	if (r < 0)
		BM_ERROR("agent", "cannot drop privileges err=\"%s\"", err);
	else if (dropped)
		BM_INFO("agent", "running as user=%s uid=%u capabilities=CAP_NET_ADMIN",
		        *a->cfg.user ? a->cfg.user : PRIVS_DEFAULT_USER, (unsigned)getuid());
	else if (geteuid() == 0)
		BM_WARN("agent", "running as root reason=\"%s; set user: in the config\"", err);
	return r;
}

static int
agent_start(struct agent *a)
{
	const char *ifaces[AGENT_IFACES_MAX];
	struct dhcp_service_opts o;
	int r;

	if (!a->cfg.n_coordinators && (r = load_view(a, &a->view)) < 0)
		return r;
	if ((r = bm_mkdir_p(a->cfg.data_dir)) < 0 ||
	    (a->lock_fd = r = bm_lock_dir(a->cfg.data_dir)) < 0) {
		BM_ERROR("agent", "cannot lock data dir dir=%s err=\"%s\"", a->cfg.data_dir,
		         r == -EBUSY ? "in use by another bmagent" : strerror(-r));
		return r;
	}
	if ((r = rackdb_open(a->cfg.data_dir, &a->db)) < 0) {
		BM_ERROR("agent", "cannot open store dir=%s err=\"%s\"", a->cfg.data_dir,
		         strerror(-r));
		return r;
	}
	rackdb_set_outbox_max(a->db, a->cfg.outbox_max);
	if (a->cfg.n_coordinators &&
	    (r = progress_new(a->loop, a->db, a->cfg.rack, &a->progress)) < 0)
		return r;
	if (a->cfg.n_coordinators && (r = load_view_db(a, &a->view)) < 0) {
		BM_ERROR("agent", "cannot load the kept view err=\"%s\"", strerror(-r));
		return r;
	}
	follow_tokens(a, a->view); /* before any power action or script */
	for (unsigned i = 0; i < a->cfg.n_ifaces; i++)
		ifaces[i] = a->cfg.ifaces[i];
	dhcp_config_from(&a->dcfg, &a->cfg);
	o = (struct dhcp_service_opts){ ifaces, a->cfg.n_ifaces, &a->dcfg,
		                        a->db,  a->view,         a->cfg.rack };
	if ((r = dhcp_service_start(a->loop, &o, &a->dhcp)) < 0)
		return r;
	if ((r = start_files(a, ifaces)) < 0)
		return r;
	if (a->cfg.ipv6_ra && (r = ra_service_start(a->loop, ifaces, a->cfg.n_ifaces, &a->ra)) < 0)
		return r;
	if (a->cfg.rogue_probe_secs &&
	    (r = rogue_start(a->loop, ifaces, a->cfg.n_ifaces, a->cfg.rogue_probe_secs, rogue_cb, a,
	                     &a->rogue)) < 0)
		return r;
	if ((r = start_http(a, ifaces)) < 0 || (r = drop_privileges(a)) < 0)
		return r;
	/* Threads from here on, as the agent's user. The sync's first answer
	 * reaches the loop only once it runs, when every service is up. */
	if (a->cfg.n_coordinators && (r = start_sync(a)) < 0)
		return r;
	if ((r = start_cache(a)) < 0)
		return r;
	http_routes_set_cache(a->routes, a->cache);
	return 0;
}

static void
watch_signals(struct agent *a)
{
	ev_signal *w[3] = { &a->sigterm, &a->sigint, &a->sighup };
	int sig[3] = { SIGTERM, SIGINT, SIGHUP };

	for (int i = 0; i < 3; i++) {
		ev_signal_init(w[i], signal_cb, sig[i]);
		w[i]->data = a;
		ev_signal_start(a->loop, w[i]);
	}
}

static int
load_config(const char *path, struct agent_config *c)
{
	struct bm_problems p;
	int r;

	agent_config_init(c);
	bm_problems_init(&p);
	r = agent_config_load(path, c, &p);
	if (r == -EINVAL)
		bm_problems_print(stderr, path, &p);
	else if (r < 0)
		fprintf(stderr, "bmagent: cannot read %s: %s\n", path, strerror(-r));
	bm_problems_fini(&p);
	return r;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", required_argument, NULL, 'k' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a = { .lock_fd = -1 };
	const char *path = NULL;
	bool check = false;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (opt == 'V') {
			printf("bmagent %s\n", BM_VERSION);
			return 0;
		}
		if (opt != 'c' && opt != 'k') {
			fprintf(stderr, "usage: bmagent --config FILE | --check-config FILE\n");
			return 2;
		}
		path = optarg;
		check = opt == 'k';
	}
	if (!path || optind != argc) {
		fprintf(stderr, "usage: bmagent --config FILE | --check-config FILE\n");
		return 2;
	}
	if (load_config(path, &a.cfg) < 0)
		return 1;
	bm_log_set_level(a.cfg.log_level);
	if (check) {
		/* The fleet file of a standalone agent is part of its config. */
		if (!a.cfg.n_coordinators && load_view(&a, &a.view) < 0)
			return 1;
		rack_view_free(a.view);
		printf("%s: ok\n", path);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* Not the default loop: that one reaps every child on SIGCHLD, and the
	 * power driver waits for its own ipmitool. Signals work on any loop. */
	a.loop = ev_loop_new(EVFLAG_AUTO);
	if (!a.loop) {
		fprintf(stderr, "bmagent: cannot create the event loop\n");
		return 1;
	}
	r = agent_start(&a);
	if (r == 0) {
		watch_signals(&a);
		BM_INFO("agent", "serving rack=%s config=%s", a.cfg.rack, path);
		ev_run(a.loop, 0);
	}
	sync_cut(a.sync); /* the cache's thread may be in a blob call */
	cache_stop(a.cache);
	sync_stop(a.sync);
	bm_rpc_creds_free(a.creds); /* after the sync threads, its users */
	power_stop(a.power);
	http_server_stop(a.http);
	http_server_stop(a.metrics_http);
	ra_service_stop(a.ra);
	rogue_stop(a.rogue);
	tftp_service_stop(a.tftp);
	a.tftp = NULL;
	progress_free(a.progress);
	http_routes_free(a.routes);
	tftp_service_stop(a.tftp);
	dhcp_service_stop(a.dhcp);
	file_table_free(a.files);
	rackdb_close(a.db);
	rack_view_free(a.view);
	if (a.lock_fd >= 0)
		close(a.lock_fd);
	ev_loop_destroy(a.loop);
	if (r == 0)
		BM_INFO("agent", "stopped");
	return r == 0 ? 0 : 1;
}
