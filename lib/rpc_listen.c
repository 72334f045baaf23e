/* The RPC server's listener, and a watchdog that keeps it accepting.
 *
 * nng 1.5.2 (Debian 12's) stops accepting on a listener for good when a
 * client cuts its connection at one spot of the negotiation: after the TLS
 * handshake, before the server has asked for the client's SP header. The
 * transport then fails the server's header read with NNG_ECLOSED, which it
 * hands to the socket's accept, and the socket takes that for its own
 * listener closing (nng issue #1518, fixed in nng 1.6.0). The transport
 * goes on accepting TCP and negotiating, but no connection reaches the
 * socket again: new clients time out while connected ones go on. Any
 * holder of a fleet certificate can do it (a client that sends its TLS
 * Finished and closes: tests/integration/tls_cut.py), and 1,000 agents
 * starting at once against a busy coordinator did it by accident.
 *
 * The watchdog: after BM_RPC_LISTEN_CHECK_MS in which no connection was
 * accepted, it pings the listener: a connection of its own (with the
 * server's certificate, a client certificate of the fleet CA too) and an
 * empty request, which the server answers before any handler. When its
 * connection has been up BM_RPC_LISTEN_PROBE_MS and no connection at all
 * was accepted meanwhile, it listens again: closing the old listener
 * closes its connections too (nng), and their clients reconnect. Its own
 * connection is closed only once answered (or the listener restarted):
 * never in the middle of a negotiation. A server too busy to negotiate is
 * left be (at 1,000 agents starting at once a coordinator can take longer
 * than that to get to a handshake, and dropping its connections would only
 * feed the storm), and so is one whose requests wait for a free context
 * (it accepts: that is another limit). */
#include "rpc_priv.h"

#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <string.h>

#include "bm/log.h"
#include "bm/util.h"

#define PROBE_STEP_MS 20u
/* A ping of a listener that accepts, unanswered this long (its server has
 * no free context, say): closed, so that the watchdog pings again later. */
#define PING_MAX_MS 30000u

/* Listen on ls->url with creds. The socket lock of nng orders this with
 * the accepts; ls->watch's mutex is held. */
static int
listen_now(struct rpc_listen *ls, struct bm_rpc_creds *creds)
{
	nng_listener l;
	nng_tls_config *cfg = NULL;
	int e;

	if (!bm_rpc_url_tls(ls->url))
		return nng_listen(ls->sock, ls->url, &ls->l, 0);
	if (!creds)
		return NNG_EINVAL;
	if ((e = nng_listener_create(&l, ls->sock, ls->url)) != 0)
		return e;
	if ((e = rpc_tls_config(creds, ls->url, &cfg)) == 0) {
		e = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, cfg);
		nng_tls_config_free(cfg); /* the listener holds it */
	}
	if (e == 0)
		e = nng_listener_start(l, 0);
	if (e != 0) {
		nng_listener_close(l);
		return e;
	}
	ls->l = l;
	return 0;
}

/* Where the watchdog dials: the listen URL, a wildcard address made the
 * loopback one. */
static void
probe_url(const char *url, char *out, size_t len)
{
	const char *h = strstr(url, "://");
	size_t scheme = h ? (size_t)(h - url) + 3 : 0;

	if (!strncmp(url + scheme, "0.0.0.0:", 8))
		snprintf(out, len, "%.*s127.0.0.1%s", (int)scheme, url, url + scheme + 7);
	else if (!strncmp(url + scheme, "[::]:", 5))
		snprintf(out, len, "%.*s[::1]%s", (int)scheme, url, url + scheme + 4);
	else
		snprintf(out, len, "%s", url);
}

static void
on_accepted(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct rpc_listen *ls = arg;

	(void)p, (void)ev;
	atomic_fetch_add(&ls->accepted, 1);
}

static void
on_probe_up(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct rpc_listen *ls = arg;

	(void)p, (void)ev;
	atomic_store(&ls->probe_up, true);
}

/* A REQ socket dialing the listener in the background. */
static int
probe_open(struct rpc_listen *ls, nng_socket *ret)
{
	nng_socket ps;
	nng_tls_config *cfg = NULL;
	int e;

	if ((e = nng_req0_open(&ps)) != 0)
		return e;
	if ((e = nng_pipe_notify(ps, NNG_PIPE_EV_ADD_POST, on_probe_up, ls)) == 0 &&
	    bm_rpc_url_tls(ls->url)) {
		bm_worker_lock(&ls->watch);
		e = rpc_tls_probe_config(ls->creds, &cfg);
		bm_worker_unlock(&ls->watch);
	}
	if (e == 0)
		e = rpc_dial(ps, ls->probe_url, cfg, NNG_FLAG_NONBLOCK);
	if (cfg)
		nng_tls_config_free(cfg); /* the dialer holds it */
	if (e != 0) {
		nng_close(ps);
		return e;
	}
	*ret = ps;
	return 0;
}

static void
on_ping(void *arg)
{
	struct rpc_listen *ls = arg;

	atomic_store(&ls->ping_done, true);
}

/* The watchdog's ping: a REQ socket dialing the listener with an empty
 * request, which the server answers at once (rpc_server.c). */
static int
ping_start(struct rpc_listen *ls)
{
	nng_msg *msg;
	int e;

	atomic_store(&ls->probe_up, false);
	atomic_store(&ls->ping_done, false);
	if ((e = probe_open(ls, &ls->ping_sock)) != 0)
		return e;
	if ((e = nng_msg_alloc(&msg, 0)) != 0) {
		nng_close(ls->ping_sock);
		return e;
	}
	ls->pinging = true;
	ls->ping_recv = false;
	ls->ping_started_ms = bm_mono_ms();
	ls->ping_up_steps = 0;
	ls->ping_seen = atomic_load(&ls->accepted);
	nng_aio_set_msg(ls->ping_aio, msg);
	nng_send_aio(ls->ping_sock, ls->ping_aio);
	return 0;
}

/* The ping's progress: true once answered. */
static bool
ping_answered(struct rpc_listen *ls)
{
	if (!atomic_exchange(&ls->ping_done, false))
		return false;
	if (nng_aio_result(ls->ping_aio) != 0)
		return false; /* closed under it: ping_end frees what is left */
	if (!ls->ping_recv) {
		ls->ping_recv = true;
		nng_recv_aio(ls->ping_sock, ls->ping_aio);
		return false;
	}
	nng_msg_free(nng_aio_get_msg(ls->ping_aio));
	nng_aio_set_msg(ls->ping_aio, NULL);
	return true;
}

static void
ping_end(struct rpc_listen *ls)
{
	nng_close(ls->ping_sock);
	nng_aio_stop(ls->ping_aio);
	if (!ls->ping_recv && nng_aio_result(ls->ping_aio) != 0)
		nng_msg_free(nng_aio_get_msg(ls->ping_aio)); /* never sent */
	nng_aio_set_msg(ls->ping_aio, NULL);
	ls->pinging = false;
}

static void
listen_again(struct rpc_listen *ls)
{
	int e;

	atomic_fetch_add(&ls->restarts, 1);
	e = rpc_listen_again(ls, NULL);
	BM_WARN("rpc",
	        "listener took no connection in %u ms, its watchdog's negotiated one "
	        "included (nng 1.5 stops accepting after a client cuts its negotiation "
	        "short): listening again url=%s restarts=%llu%s%s",
	        BM_RPC_LISTEN_PROBE_MS, ls->url, (unsigned long long)atomic_load(&ls->restarts),
	        e ? " failed: " : "", e ? nng_strerror(e) : "");
}

/* A ping in flight, every PROBE_STEP_MS. Answered: the listener accepts;
 * the ping is closed, safely (a connection is cut only once the server has
 * taken it: cutting one mid-negotiation is what deafens nng 1.5). Its
 * connection up BM_RPC_LISTEN_PROBE_MS and no connection at all accepted
 * meanwhile: deaf, listen again. Not up: too busy or unreachable; the ping
 * waits on (never cut). */
static void
ping_step(struct rpc_listen *ls)
{
	uint64_t now = bm_mono_ms();

	if (ping_answered(ls)) {
		ls->unsure_said = false;
		ping_end(ls);
		return;
	}
	if (atomic_load(&ls->accepted) != ls->ping_seen) {
		/* It accepts: not deaf. The ping waits for its answer, or is
		 * closed once up and unanswered for PING_MAX_MS (up: its
		 * negotiation is done, closing it cuts nothing short). */
		if (atomic_load(&ls->probe_up) && now - ls->ping_started_ms > PING_MAX_MS)
			ping_end(ls);
		return;
	}
	if (!atomic_load(&ls->probe_up)) {
		if (now - ls->ping_started_ms > BM_RPC_LISTEN_PROBE_MS && !ls->unsure_said) {
			ls->unsure_said = true;
			BM_WARN("rpc",
			        "listener watchdog: its connection to url=%s did not come up in "
			        "%u ms (too busy, or not reachable): leaving the listener be",
			        ls->probe_url, BM_RPC_LISTEN_PROBE_MS);
		}
		return;
	}
	/* Counted in the watchdog's own steps, not by the clock: a process
	 * stopped (SIGSTOP, a debugger) or starved with its connection up
	 * must not come back to a restart that nothing earned. */
	if (++ls->ping_up_steps * PROBE_STEP_MS > BM_RPC_LISTEN_PROBE_MS) {
		listen_again(ls); /* which closes the ping's server side first */
		ping_end(ls);
	}
}

static void
watch_main(void *arg, unsigned index)
{
	struct rpc_listen *ls = arg;
	uint64_t seen = atomic_load(&ls->accepted);

	(void)index;
	while (bm_worker_sleep(&ls->watch, ls->pinging ? PROBE_STEP_MS : BM_RPC_LISTEN_CHECK_MS)) {
		uint64_t now = atomic_load(&ls->accepted);
		if (ls->pinging) {
			ping_step(ls);
		} else if (now == seen) {
			ping_start(ls); /* failing, tried again at the next check */
		}
		seen = atomic_load(&ls->accepted);
	}
	if (ls->pinging)
		ping_end(ls);
}

int
rpc_listen_start(struct rpc_listen *ls, nng_socket sock, const char *url,
                 struct bm_rpc_creds *creds)
{
	int e;

	ls->sock = sock;
	ls->creds = creds;
	snprintf(ls->url, sizeof(ls->url), "%s", url);
	probe_url(url, ls->probe_url, sizeof(ls->probe_url));
	bm_worker_init(&ls->watch);
	bm_worker_name(&ls->watch, "rpc-listen");
	if ((e = nng_aio_alloc(&ls->ping_aio, on_ping, ls)) != 0 ||
	    (e = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, on_accepted, ls)) != 0 ||
	    (e = listen_now(ls, creds)) != 0)
		return e;
	if (bm_worker_start(&ls->watch, 1, watch_main, ls) < 0)
		return NNG_ENOMEM;
	return 0;
}

int
rpc_listen_again(struct rpc_listen *ls, struct bm_rpc_creds *creds)
{
	int e;

	bm_worker_lock(&ls->watch);
	/* The address is the old listener's: close it first, then listen. */
	nng_listener_close(ls->l);
	if ((e = listen_now(ls, creds ? creds : ls->creds)) == 0 && creds)
		ls->creds = creds;
	else if (e != 0 && creds)
		listen_now(ls, ls->creds);
	bm_worker_unlock(&ls->watch);
	return e;
}

void
rpc_listen_stop(struct rpc_listen *ls)
{
	bm_worker_stop(&ls->watch);
	bm_worker_fini(&ls->watch);
	nng_aio_free(ls->ping_aio); /* NULL-safe */
}
