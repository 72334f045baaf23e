/* bmctl output: aligned tables, JSON, and describe views of records. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bm/age.h"
#include "bm/bmc_secret.h"
#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "bm/util.h"
#include "bmctl.h"

struct table {
	unsigned ncols;
	size_t nrows, cap;
	char **cells; /* nrows * ncols, row-major; row 0 is the header */
	size_t *width;
};

static void table_row(struct table *t, const char *const *cells);

static struct table *
table_new(unsigned ncols, const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));
	if (!t || !(t->width = calloc(ncols, sizeof(size_t)))) {
		free(t);
		return NULL;
	}
	t->ncols = ncols;
	table_row(t, headers);
	return t;
}

static void
table_row(struct table *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(char *));
		if (!c)
			return;
		t->cells = c;
		t->cap = cap;
	}
	for (unsigned i = 0; i < t->ncols; i++) {
		const char *v = cells[i] && *cells[i] ? cells[i] : "-";
		size_t n = strlen(v);
		t->cells[t->nrows * t->ncols + i] = strdup(v);
		if (n > t->width[i])
			t->width[i] = n;
	}
	t->nrows++;
}

static void
table_print(struct table *t, FILE *f)
{
	for (size_t r = 0; r < t->nrows; r++) {
		for (unsigned i = 0; i < t->ncols; i++) {
			const char *v = t->cells[r * t->ncols + i];
			if (i + 1 < t->ncols)
				fprintf(f, "%-*s  ", (int)t->width[i], v ? v : "");
			else
				fprintf(f, "%s\n", v ? v : "");
		}
	}
}

static void
table_free(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

/* ------------------------------------------------------------ formatting */

void
out_time_text(uint64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&s, &tm);
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
}

/* "k=v,k2=v2" of a map field (entries { base; key; value; }). */
struct kv {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static char *
map_text(size_t n, void **entries, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++) {
		const struct kv *e = entries[i];
		int w = snprintf(buf + o, len - o, "%s%s=%s", i ? "," : "", e->key, e->value);
		if (w < 0)
			break;
		o += (size_t)w;
	}
	return buf;
}

static void
json_map(struct bm_json *j, const char *key, size_t n, void **entries)
{
	bm_json_key(j, key);
	bm_json_obj_begin(j);
	for (size_t i = 0; i < n; i++) {
		const struct kv *e = entries[i];
		bm_json_kstr(j, e->key, e->value);
	}
	bm_json_obj_end(j);
}

static const char *
subnet_text(const Bm__Rack *r, char *buf, size_t len)
{
	char ip[BM_IP4_STR];
	snprintf(buf, len, "%s/%u", bm_ip4_format(r->network, ip), r->prefix_len);
	return buf;
}

static const char *
pool_text(const Bm__Rack *r, char *buf, size_t len)
{
	char a[BM_IP4_STR], b[BM_IP4_STR];
	if (!r->pool_start)
		return "";
	snprintf(buf, len, "%s-%s", bm_ip4_format(r->pool_start, a), bm_ip4_format(r->pool_end, b));
	return buf;
}

static const char *
ip_text(uint32_t ip, char buf[BM_IP4_STR])
{
	return ip ? bm_ip4_format(ip, buf) : "";
}

static const char *
mac_text(const ProtobufCBinaryData *mac, char buf[BM_MAC_STR])
{
	return mac->len == 6 ? bm_mac_format(mac->data, buf) : "";
}

static const char *
sha_text(const ProtobufCBinaryData *d, char buf[BM_SHA256_HEX])
{
	return d->len == BM_SHA256_LEN ? bm_sha256_hex(d->data, buf) : "";
}

/* ------------------------------------------------------------------ JSON */

static void
json_revs(struct bm_json *j, uint64_t create, uint64_t mod)
{
	bm_json_ku64(j, "create_rev", create);
	bm_json_ku64(j, "mod_rev", mod);
}

/* An image's holders per site ("SITE HELD/AGENTS" each): {SITE: {held,
 * agents}}, and "a 4/4, b 1/4" for a table. */
static void
json_holders(struct bm_json *j, const Bm__Object *o)
{
	bm_json_key(j, "holders");
	bm_json_obj_begin(j);
	for (size_t i = 0; i < o->n_holders; i++) {
		char site[256];
		unsigned held, all;
		if (sscanf(o->holders[i], "%255s %u/%u", site, &held, &all) != 3)
			continue;
		bm_json_key(j, site);
		bm_json_obj_begin(j);
		bm_json_ku64(j, "held", held);
		bm_json_ku64(j, "agents", all);
		bm_json_obj_end(j);
	}
	bm_json_obj_end(j);
}

static const char *
holders_text(const Bm__Object *o, char *buf, size_t len)
{
	size_t w = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < o->n_holders && w < len; i++)
		w += (size_t)snprintf(buf + w, len - w, "%s%s", i ? ", " : "", o->holders[i]);
	return buf;
}

static void
json_agent(struct bm_json *j, const Bm__AgentRecord *a)
{
	const Bm__AgentInfo *in = a->info;
	char b[BM_SHA256_HEX];

	bm_json_kstr(j, "id", a->id);
	bm_json_kstr(j, "rack", in ? in->rack : "");
	bm_json_kstr(j, "version", in ? in->version : "");
	bm_json_kstr(j, "hostname", in ? in->hostname : "");
	bm_json_kstr(j, "peer_url", in ? in->peer_url : "");
	bm_json_key(j, "interfaces");
	bm_json_arr_begin(j);
	for (size_t i = 0; in && i < in->n_interfaces; i++)
		bm_json_str(j, in->interfaces[i]);
	bm_json_arr_end(j);
	bm_json_ku64(j, "cache_bytes", in ? in->cache_bytes : 0);
	bm_json_ku64(j, "cache_budget", in ? in->cache_budget : 0);
	bm_json_key(j, "cached");
	bm_json_arr_begin(j);
	for (size_t i = 0; in && i < in->n_cached; i++)
		bm_json_str(j, sha_text(&in->cached[i], b));
	bm_json_arr_end(j);
	bm_json_ku64(j, "events_applied", a->events_applied);
	bm_json_ku64(j, "registered_ms", a->registered_ms);
	bm_json_ku64(j, "last_seen_ms", a->last_seen_ms);
	bm_json_kbool(j, "silent", a->silent);
	bm_json_key(j, "rogue_dhcp");
	bm_json_arr_begin(j);
	for (size_t i = 0; in && i < in->n_rogue_dhcp; i++) {
		const Bm__RogueDhcp *d = in->rogue_dhcp[i];
		char ip[BM_IP4_STR], mac[BM_MAC_STR];
		bm_json_obj_begin(j);
		bm_json_kstr(j, "ip", bm_ip4_format(d->ip, ip));
		bm_json_kstr(j, "mac", d->mac.len == 6 ? bm_mac_format(d->mac.data, mac) : "");
		bm_json_kstr(j, "iface", d->iface);
		bm_json_ku64(j, "first_seen_ms", d->first_seen_ms);
		bm_json_ku64(j, "last_seen_ms", d->last_seen_ms);
		bm_json_ku64(j, "offers", d->offers);
		bm_json_obj_end(j);
	}
	bm_json_arr_end(j);
	bm_json_ku64(j, "revision", a->revision);
	bm_json_ku64(j, "lag", a->lag);
}

void
out_json_object(struct bm_json *j, const Bm__Object *o)
{
	char a[128], b[BM_SHA256_HEX];

	bm_json_obj_begin(j);
	switch (o->obj_case) {
	case BM__OBJECT__OBJ_SITE:
		bm_json_kstr(j, "name", o->site->name);
		json_map(j, "labels", o->site->n_labels, (void **)o->site->labels);
		bm_json_ku64(j, "racks", o->count);
		json_revs(j, o->site->create_rev, o->site->mod_rev);
		break;
	case BM__OBJECT__OBJ_RACK: {
		const Bm__Rack *r = o->rack;
		bm_json_kstr(j, "name", r->name);
		bm_json_kstr(j, "site", r->site);
		bm_json_kstr(j, "subnet", subnet_text(r, a, sizeof(a)));
		bm_json_kstr(j, "gateway", ip_text(r->gateway, b));
		bm_json_key(j, "dns");
		bm_json_arr_begin(j);
		for (size_t i = 0; i < r->n_dns; i++)
			bm_json_str(j, bm_ip4_format(r->dns[i], b));
		bm_json_arr_end(j);
		bm_json_kstr(j, "pool", pool_text(r, a, sizeof(a)));
		json_map(j, "labels", r->n_labels, (void **)r->labels);
		bm_json_ku64(j, "machines", o->count);
		json_revs(j, r->create_rev, r->mod_rev);
		break;
	}
	case BM__OBJECT__OBJ_MACHINE: {
		const Bm__Machine *m = o->machine;
		bm_json_kstr(j, "name", m->name);
		bm_json_kstr(j, "rack", m->rack);
		bm_json_kstr(j, "mac", mac_text(&m->mac, a));
		bm_json_kstr(j, "ip", ip_text(m->ip, b));
		bm_json_kstr(j, "profile", m->profile);
		bm_json_kstr(j, "bmc", bm_bmc_masked(m->bmc, m->bmc_password_set, a, sizeof(a)));
		json_map(j, "labels", m->n_labels, (void **)m->labels);
		bm_json_kbool(j, "netboot", m->netboot);
		bm_json_kstr(j, "state", bm_state_name(m->state));
		bm_json_kstr(j, "firmware", m->firmware);
		bm_json_kstr(j, "firmware_seen", m->firmware_seen);
		if (*m->bmc_fingerprint)
			bm_json_kstr(j, "bmc_fingerprint", m->bmc_fingerprint);
		if (*m->os) {
			bm_json_kstr(j, "os", m->os);
			bm_json_kstr(j, "kernel", m->kernel);
		}
		json_revs(j, m->create_rev, m->mod_rev);
		break;
	}
	case BM__OBJECT__OBJ_PROFILE: {
		const Bm__Profile *p = o->profile;
		bm_json_kstr(j, "name", p->name);
		bm_json_kstr(j, "kernel", p->kernel);
		bm_json_kstr(j, "initrd", p->initrd);
		bm_json_kstr(j, "cmdline", p->cmdline);
		bm_json_kstr(j, "loader", *p->loader ? p->loader : "ipxe");
		json_map(j, "templates", p->n_templates, (void **)p->templates);
		json_revs(j, p->create_rev, p->mod_rev);
		break;
	}
	case BM__OBJECT__OBJ_IMAGE: {
		const Bm__Image *im = o->image;
		bm_json_kstr(j, "name", im->name);
		bm_json_kstr(j, "sha256", sha_text(&im->sha256, b));
		bm_json_ku64(j, "size", im->size);
		bm_json_kstr(j, "url", im->url);
		bm_json_kbool(j, "stored", im->stored);
		bm_json_ku64(j, "agents_cached", o->count);
		json_holders(j, o);
		bm_json_key(j, "staged");
		bm_json_arr_begin(j);
		for (size_t i = 0; i < im->n_staged; i++)
			bm_json_str(j, im->staged[i]);
		bm_json_arr_end(j);
		json_revs(j, im->create_rev, im->mod_rev);
		break;
	}
	case BM__OBJECT__OBJ_AGENT: json_agent(j, o->agent); break;
	default: break;
	}
	bm_json_obj_end(j);
}

/* ---------------------------------------------------------------- tables */

static const char *const site_cols[] = { "NAME", "RACKS", "LABELS" };
static const char *const rack_cols[] = { "NAME", "SITE", "SUBNET", "GATEWAY", "POOL", "MACHINES" };
static const char *const machine_cols[] = { "NAME",    "RACK",  "MAC",   "IP",
	                                    "PROFILE", "STATE", "LABELS" };
static const char *const profile_cols[] = { "NAME", "KERNEL", "INITRD", "TEMPLATES" };
static const char *const image_cols[] = { "NAME",   "SIZE",   "SHA256",
	                                  "SOURCE", "AGENTS", "HOLDERS (SITE HELD/AGENTS)" };
static const char *const agent_cols[] = { "ID",  "RACK",  "VERSION", "STATE", "LAST SEEN",
	                                  "LAG", "CACHE", "EVENTS",  "NOTES" };

static struct table *
table_for(Bm__Kind kind)
{
	switch (kind) {
	case BM__KIND__KIND_SITE: return table_new(3, site_cols);
	case BM__KIND__KIND_RACK: return table_new(6, rack_cols);
	case BM__KIND__KIND_MACHINE: return table_new(7, machine_cols);
	case BM__KIND__KIND_PROFILE: return table_new(4, profile_cols);
	case BM__KIND__KIND_AGENT: return table_new(9, agent_cols);
	default: return table_new(6, image_cols);
	}
}

/* "12s ago", "never" */
static const char *
age_text(uint64_t ms, char *buf, size_t len)
{
	uint64_t now = bm_wall_ms();
	char a[24];

	if (!ms)
		return "never";
	snprintf(buf, len, "%s ago", bm_age_format(now > ms ? now - ms : 0, a, sizeof(a)));
	return buf;
}

static void
table_agent(struct table *t, const Bm__AgentRecord *a)
{
	const Bm__AgentInfo *in = a->info;
	char seen[32], lag[32], cache[64], ev[32], notes[96] = "";

	snprintf(lag, sizeof(lag), "%llu", (unsigned long long)a->lag);
	snprintf(cache, sizeof(cache), "%zu images, %llu MiB", in ? in->n_cached : 0,
	         (unsigned long long)((in ? in->cache_bytes : 0) >> 20));
	if (in && in->cache_budget)
		snprintf(cache + strlen(cache), sizeof(cache) - strlen(cache), " of %llu",
		         (unsigned long long)(in->cache_budget >> 20));
	snprintf(ev, sizeof(ev), "%llu", (unsigned long long)a->events_applied);
	if (in && in->n_rogue_dhcp) { /* the most recent one, and how many more */
		char ip[BM_IP4_STR], age[32];
		snprintf(notes, sizeof(notes), "rogue DHCP %s seen %s%s",
		         bm_ip4_format(in->rogue_dhcp[0]->ip, ip),
		         age_text(in->rogue_dhcp[0]->last_seen_ms, age, sizeof(age)),
		         in->n_rogue_dhcp > 1 ? " (and others)" : "");
	}
	table_row(t, (const char *[]){ a->id, in ? in->rack : "", in ? in->version : "",
	                               !a->last_seen_ms ? "never"
	                               : a->silent      ? "silent"
	                                                : "live",
	                               age_text(a->last_seen_ms, seen, sizeof(seen)),
	                               a->last_seen_ms ? lag : "", cache, ev, notes });
}

static void
table_object(struct table *t, const Bm__Object *o)
{
	char a[512], b[128], c[BM_SHA256_HEX], n[32], h[512];

	switch (o->obj_case) {
	case BM__OBJECT__OBJ_SITE:
		snprintf(n, sizeof(n), "%u", o->count);
		table_row(t, (const char *[]){ o->site->name, n,
		                               map_text(o->site->n_labels, (void **)o->site->labels,
		                                        a, sizeof(a)) });
		break;
	case BM__OBJECT__OBJ_RACK: {
		const Bm__Rack *r = o->rack;
		char gw[BM_IP4_STR], pool[40];
		snprintf(n, sizeof(n), "%u", o->count);
		table_row(t, (const char *[]){ r->name, r->site, subnet_text(r, b, sizeof(b)),
		                               ip_text(r->gateway, gw),
		                               pool_text(r, pool, sizeof(pool)), n });
		break;
	}
	case BM__OBJECT__OBJ_MACHINE: {
		const Bm__Machine *m = o->machine;
		char mac[BM_MAC_STR], ip[BM_IP4_STR];
		table_row(
		    t, (const char *[]){ m->name, m->rack, mac_text(&m->mac, mac),
		                         ip_text(m->ip, ip), m->profile, bm_state_name(m->state),
		                         map_text(m->n_labels, (void **)m->labels, a, sizeof(a)) });
		break;
	}
	case BM__OBJECT__OBJ_PROFILE: {
		const Bm__Profile *p = o->profile;
		a[0] = '\0';
		for (size_t i = 0, w = 0; i < p->n_templates && w < sizeof(a); i++)
			w += (size_t)snprintf(a + w, sizeof(a) - w, "%s%s", i ? "," : "",
			                      p->templates[i]->key);
		table_row(t, (const char *[]){ p->name, p->kernel, p->initrd, a });
		break;
	}
	case BM__OBJECT__OBJ_IMAGE: {
		const Bm__Image *im = o->image;
		const char *src = im->stored ? "stored" : *im->url ? im->url : "";
		snprintf(n, sizeof(n), "%llu", (unsigned long long)im->size);
		sha_text(&im->sha256, c);
		c[12] = '\0';
		snprintf(b, sizeof(b), "%u", o->count);
		holders_text(o, h, sizeof(h));
		table_row(t, (const char *[]){ im->name, n, c, src, b, h });
		break;
	}
	case BM__OBJECT__OBJ_AGENT: table_agent(t, o->agent); break;
	default: break;
	}
}

void
out_list_begin(struct out *o, FILE *f, bool json, Bm__Kind kind)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->json = json;
	o->kind = kind;
	if (json) {
		bm_json_init(&o->j, f, true);
		bm_json_arr_begin(&o->j);
	} else {
		o->t = table_for(kind);
	}
}

void
out_list_items(struct out *o, Bm__Object *const *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (o->json)
			out_json_object(&o->j, items[i]);
		else if (o->t)
			table_object(o->t, items[i]);
	}
	o->count += n;
}

void
out_list_end(struct out *o)
{
	if (o->json) {
		bm_json_arr_end(&o->j);
		return;
	}
	if (o->t && o->count)
		table_print(o->t, o->f);
	else if (!o->count)
		fprintf(stderr, "no %ss found\n", bm_kind_name(o->kind));
	table_free(o->t);
}

void
out_list_discard(struct out *o)
{
	table_free(o->t);
	o->t = NULL;
}
