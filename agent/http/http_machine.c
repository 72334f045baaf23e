/* A machine's own routes: its iPXE script, its seeds and its callbacks.
 * Each is answered only to the machine itself, that is, to the address the
 * agent reserved for its MAC or leased to it (a bound lease); anyone else
 * gets 403 and the attempt goes into the machine's trace. The script names
 * the installer (kernel, initrd, command line with the token) only while
 * the machine is netbooting; seeds need a live boot token and callbacks
 * must carry it (token.h). `done` and `failed` revoke it in the same
 * transaction that records them. */
#include "http_routes_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/util.h"
#include "grub.h"
#include "ipxe.h"
#include "progress.h"
#include "rackdb.h"
#include "token.h"

#define QUIET_MS 60000u /* an unknown MAC is logged once a minute at most */
#define REFUSED_LOG_PER_S 10u
#define REASON_MAX 200u

/* An unknown MAC asked: logged once a minute per MAC. Not a discovery:
 * anyone can name any MAC in a URL; machines are discovered by DHCP. */
static void
unknown_mac(struct http_routes *r, const uint8_t mac[6], const struct http_peer *peer)
{
	size_t slot = ((size_t)mac[3] << 16 | (size_t)mac[4] << 8 | mac[5]) % QUIET_SLOTS;
	uint64_t now = bm_wall_ms();
	char m[BM_MAC_STR], ip[BM_IP4_STR];

	r->st.unknown_macs++;
	if (!memcmp(r->quiet[slot].mac, mac, 6) && now - r->quiet[slot].at < QUIET_MS)
		return;
	memcpy(r->quiet[slot].mac, mac, 6);
	r->quiet[slot].at = now;
	BM_INFO("http", "unknown machine mac=%s peer=%s", bm_mac_format(mac, m),
	        bm_ip4_format(peer->ip, ip));
}

/* The machine a MAC in a path names; answers 400 or 404 itself. */
static const struct rack_host *
machine(struct http_routes *r, const char *mac_text, const struct http_peer *peer,
        struct http_reply *rep)
{
	const struct rack_host *h;
	uint8_t mac[6];

	if (bm_mac_parse(mac_text, mac) < 0) {
		http_reply_text(rep, 400, "not a MAC address");
		return NULL;
	}
	if (!(h = rack_view_host(r->view, mac))) {
		unknown_mac(r, mac, peer);
		http_reply_text(rep, 404, "unknown machine");
	}
	return h;
}

/* Refuse with 403, log (bounded) and trace: "WHAT asked by IP, refused". */
static void
refuse(struct http_routes *r, const struct rack_host *h, const struct http_peer *peer,
       const char *what, const char *why, struct http_reply *rep)
{
	char ip[BM_IP4_STR];

	r->st.refused++;
	bm_ip4_format(peer->ip, ip);
	bm_log_limited(&r->log_limit, REFUSED_LOG_PER_S, "http",
	               "%s refused machine=%s peer=%s reason=\"%s\"", what, h->name, ip, why);
	if (r->o.progress)
		progress_add(r->o.progress, BM__EVENT_KIND__EVENT_HTTP, h->mac, peer->ip,
		             "%s asked by %s, refused: %s", what, ip, why);
	http_reply_text(rep, 403, why);
}

/* The peer is the machine: its reservation, else a lease bound to its MAC. */
static bool
from_machine(struct http_routes *r, const struct rack_host *h, const struct http_peer *peer)
{
	if (h->ip)
		return peer->ip == h->ip;
	return r->o.leased && r->o.leased(r->o.leased_arg, peer->ip, h->mac);
}

static bool
check_peer(struct http_routes *r, const struct rack_host *h, const struct http_peer *peer,
           const char *what, struct http_reply *rep)
{
	if (from_machine(r, h, peer))
		return true;
	refuse(r, h, peer, what,
	       h->ip ? "not the machine's reserved address" : "no lease of the machine's MAC", rep);
	return false;
}

/* The live token of h's boot into *t, made when `make` and none stands.
 * Returns 1, 0 (no live boot), or -errno. */
static int
boot_token(struct http_routes *r, const struct rack_host *h, bool make, struct boot_token *t)
{
	struct boot_key k;
	struct boot_token kept;
	struct rackdb_batch *b;
	bool have;
	int e;

	if (!boot_key_of(h, &k))
		return 0;
	have = rackdb_token_get(r->o.db, h->mac, &kept) == 0;
	if (have && token_live(&kept, &k)) {
		*t = kept;
		return 1;
	}
	if (!make || !token_renew(have ? &kept : NULL, &k, bm_wall_ms(), t, &e))
		return make ? e : 0;
	if ((e = rackdb_batch_begin(r->o.db, &b)) < 0)
		return e;
	if ((e = rackdb_token_put(b, h->mac, t)) < 0) {
		rackdb_batch_abort(b);
		return e;
	}
	return (e = rackdb_batch_commit(b)) < 0 ? e : 1;
}

/* The machine's iPXE script, or with grub its GRUB config. */
static void
machine_boot_text(struct http_routes *r, const char *mac_text, const struct http_peer *peer,
                  bool grub, struct http_reply *rep)
{
	const struct rack_host *h = machine(r, mac_text, peer, rep);
	struct rack_host boot;
	struct boot_token t;
	struct boot_ctx c;
	char url[BOOT_URL_MAX], tok[TOKEN_HEX] = "", *text, ip[BM_IP4_STR];
	long n;
	int live;

	if (!h || !check_peer(r, h, peer, grub ? "grub config" : "script", rep))
		return;
	if ((live = boot_token(r, h, true, &t)) < 0) {
		BM_ERROR("http", "cannot keep a boot token machine=%s err=\"%s\"", h->name,
		         strerror(-live));
		http_reply_text(rep, 503, "cannot start the boot now; retry");
		return;
	}
	if (live)
		token_hex(&t, tok);
	boot = *h;
	/* A finished boot the view has not seen end, or an image on its disk:
	 * local disk. */
	boot.netboot = live > 0 && !t.revoked && !t.installed &&
	               h->m->state != BM__MACHINE_STATE__STATE_INSTALLED;
	routes_agent_url(peer, url, sizeof(url));
	boot_ctx_init(&c, r->view, &boot, url, peer->ip, tok);
	if ((n = grub ? boot_grub_cfg(&c, &text) : boot_ipxe_script(&c, &text)) < 0) {
		BM_WARN("http", "nothing to boot machine=%s mac=%s reason=\"%s\"", h->name, c.mac,
		        n == -ENOENT ? "no profile or kernel image" : strerror((int)-n));
		http_reply_text(rep, n == -ENOENT ? 404 : 500, "no profile or kernel to boot");
		return;
	}
	r->st.scripts++;
	BM_INFO("http", "%s machine=%s mac=%s netboot=%s peer=%s", grub ? "grub config" : "script",
	        h->name, c.mac, boot.netboot ? "yes" : "no", bm_ip4_format(peer->ip, ip));
	progress_add(r->o.progress, BM__EVENT_KIND__EVENT_HTTP, h->mac, peer->ip, "%s (%s)",
	             grub ? "grub config" : "script", boot.netboot ? "install" : "local disk");
	routes_body(rep, 200, "text/plain; charset=utf-8", text, (size_t)n);
}

void
route_script(struct http_routes *r, const char *mac_text, const struct http_peer *peer,
             struct http_reply *rep)
{
	machine_boot_text(r, mac_text, peer, false, rep);
}

void
route_grub(struct http_routes *r, const char *name, const struct http_peer *peer,
           struct http_reply *rep)
{
	char mac_text[BM_MAC_STR], *text;
	long n;

	if (!strcmp(name, GRUB_CFG)) {
		if ((n = boot_grub_bootstrap(&text)) < 0)
			http_reply_text(rep, 500, NULL);
		else
			routes_body(rep, 200, "text/plain; charset=utf-8", text, (size_t)n);
	} else if (boot_grub_cfg_mac(name, mac_text) == 0) {
		machine_boot_text(r, mac_text, peer, true, rep);
	} else {
		http_reply_text(rep, 404, NULL);
	}
}

void
route_seed(struct http_routes *r, const char *rest, const struct http_peer *peer,
           struct http_reply *rep)
{
	const char *slash = strchr(rest, '/');
	const struct rack_host *h;
	char mac_text[BM_MAC_STR], url[BOOT_URL_MAX], tok[TOKEN_HEX], *text, ip[BM_IP4_STR];
	struct boot_token t;
	struct boot_ctx c;
	long n;

	if (!slash || (size_t)(slash - rest) >= sizeof(mac_text) || !slash[1] ||
	    strchr(slash + 1, '/')) {
		http_reply_text(rep, 404, NULL);
		return;
	}
	memcpy(mac_text, rest, (size_t)(slash - rest));
	mac_text[slash - rest] = '\0';
	if (!(h = machine(r, mac_text, peer, rep)) || !check_peer(r, h, peer, "seed", rep))
		return;
	if (boot_token(r, h, false, &t) <= 0) {
		refuse(r, h, peer, "seed", "the machine is not netbooting", rep);
		return;
	}
	token_hex(&t, tok);
	routes_agent_url(peer, url, sizeof(url));
	boot_ctx_init(&c, r->view, h, url, peer->ip, tok);
	if ((n = boot_seed(&c, slash + 1, &text)) < 0) {
		http_reply_text(rep, n == -ENOENT ? 404 : 500,
		                n == -ENOENT ? "no such seed" : NULL);
		return;
	}
	r->st.seeds++;
	BM_INFO("http", "seed machine=%s mac=%s file=%s peer=%s", h->name, c.mac, slash + 1,
	        bm_ip4_format(peer->ip, ip));
	progress_add(r->o.progress, BM__EVENT_KIND__EVENT_HTTP, h->mac, peer->ip, "seed %s",
	             slash + 1);
	routes_body(rep, 200, "text/plain; charset=utf-8", text, (size_t)n);
}

/* ------------------------------------------------------------ callbacks */

static const char *const states[] = { "started", "installing", "installed", "booted",
	                              "done",    "failed",     NULL };

/* Fields a callback may add to its trace line, in this order: numbers, a
 * word, and last the OS's name (it has spaces). */
static const char *const fields[] = { "disk", "written", "total", "kernel", "secureboot", "os" };
#define FIELD_MAX 64u

struct callback {
	char mac[BM_MAC_STR + 8], token[TOKEN_HEX + 8], state[16], reason[REASON_MAX + 1];
	char field[sizeof(fields) / sizeof(fields[0])][FIELD_MAX];
};

/* A parameter from the query, else from the form body. */
static bool
param(const char *query, const char *body, const char *key, char *out, size_t n)
{
	return http_query_get(query, key, out, n) >= 0 || http_query_get(body, key, out, n) >= 0;
}

/* Control bytes (and, for a one-word field, spaces and '=') become '_'
 * or ' ': a value cannot forge another field of the trace line. */
static void
printable(char *s, bool word)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
		else if (word && (*s == ' ' || *s == '='))
			*s = '_';
}

/* Returns 0 or the status refusing it. */
static int
callback_parse(const char *path_mac, const char *query, const char *body, struct callback *cb)
{
	bool known = false;

	memset(cb, 0, sizeof(*cb));
	if (*path_mac && strlen(path_mac) < sizeof(cb->mac))
		strcpy(cb->mac, path_mac);
	else if (*path_mac || !param(query, body, "mac", cb->mac, sizeof(cb->mac)))
		return 400;
	if (!param(query, body, "state", cb->state, sizeof(cb->state)))
		return 400;
	for (unsigned i = 0; states[i]; i++)
		known |= !strcmp(cb->state, states[i]);
	if (!known)
		return 400;
	param(query, body, "token", cb->token, sizeof(cb->token));
	if (param(query, body, "reason", cb->reason, sizeof(cb->reason)))
		printable(cb->reason, false);
	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (param(query, body, fields[i], cb->field[i], FIELD_MAX))
			printable(cb->field[i], strcmp(fields[i], "os") != 0);
	return 0;
}

/* "state=S [field=v ...] [reason=why]": the trace line. */
static void
callback_detail(const struct callback *cb, char *out, size_t n)
{
	size_t o = (size_t)snprintf(out, n, "state=%s", cb->state);

	for (unsigned i = 0; i < sizeof(fields) / sizeof(fields[0]) && o < n; i++)
		if (*cb->field[i])
			o += (size_t)snprintf(out + o, n - o, " %s=%s", fields[i], cb->field[i]);
	if (*cb->reason && o < n)
		snprintf(out + o, n - o, " reason=%s", cb->reason);
}

/* The event, and the token's new standing (installed: live until its OS
 * boots; booted, done or failed: revoked), in one commit. */
static int
callback_record(struct http_routes *r, const struct rack_host *h, const struct callback *cb,
                struct boot_token *t, const struct http_peer *peer)
{
	struct rackdb_batch *b;
	char detail[REASON_MAX + 6 * (FIELD_MAX + 16)];
	bool keep;
	int e;

	callback_detail(cb, detail, sizeof(detail));
	if ((e = rackdb_batch_begin(r->o.db, &b)) < 0)
		return e;
	t->revoked = !strcmp(cb->state, "done") || !strcmp(cb->state, "failed") ||
	             !strcmp(cb->state, "booted");
	t->installed |= !strcmp(cb->state, "installed");
	keep = t->revoked || !strcmp(cb->state, "installed");
	if ((e = rackdb_event_add(b, BM__EVENT_KIND__EVENT_CALLBACK, h->mac, peer->ip, bm_wall_ms(),
	                          r->o.rack, detail)) < 0 ||
	    (keep && (e = rackdb_token_put(b, h->mac, t)) < 0)) {
		rackdb_batch_abort(b);
		return e;
	}
	return rackdb_batch_commit(b);
}

void
route_callback(struct http_routes *r, const char *path_mac, const struct http_request *req,
               const char *body, const struct http_peer *peer, struct http_reply *rep)
{
	const struct rack_host *h;
	struct boot_token t;
	struct callback cb;
	char ip[BM_IP4_STR], esc[64];
	int e;

	if ((e = callback_parse(path_mac, req->query, req->method == HTTP_POST ? body : "", &cb))) {
		r->st.callbacks_refused++;
		http_reply_text(rep, e,
		                "a callback needs mac, token and state "
		                "(started, installing, installed, booted, done, failed)");
		return;
	}
	if (!(h = machine(r, cb.mac, peer, rep)) || !check_peer(r, h, peer, "callback", rep)) {
		r->st.callbacks_refused++;
		return;
	}
	if (boot_token(r, h, false, &t) <= 0 || !token_matches(&t, cb.token)) {
		r->st.callbacks_refused++;
		refuse(r, h, peer, "callback", "wrong or old token", rep);
		return;
	}
	if ((e = callback_record(r, h, &cb, &t, peer)) < 0) {
		BM_ERROR("http", "cannot record callback machine=%s err=\"%s\"", h->name,
		         strerror(-e));
		http_reply_text(rep, 503, "cannot record the callback now; retry");
		return;
	}
	r->st.callbacks++;
	BM_INFO("http", "callback machine=%s state=%s reason=\"%s\" peer=%s", h->name, cb.state,
	        bm_log_escape(cb.reason, esc, sizeof(esc)), bm_ip4_format(peer->ip, ip));
	http_reply_text(rep, 200, "ok");
}
