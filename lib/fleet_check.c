/* The rules of a fleet that need nothing but the fleet itself. The
 * coordinator runs them on every Apply it receives (it trusts no client),
 * bmctl runs them before sending, standalone agents on load. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bm/bmc_secret.h"
#include "bm/fleet.h"
#include "bm/netaddr.h"
#include "bm/seal.h"
#include "bm/sha256.h"
#include "bm/tmpl.h"

#define KSITE BM__KIND__KIND_SITE
#define KRACK BM__KIND__KIND_RACK
#define KIMAGE BM__KIND__KIND_IMAGE
#define KPROF BM__KIND__KIND_PROFILE
#define KMACH BM__KIND__KIND_MACHINE

static bool
printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static void
check_name(struct bm_problems *p, Bm__Kind k, const char *name, uint32_t i)
{
	if (!*name)
		bm_problems_add(p, k, "", i, "name", "missing");
	else if (!bm_name_valid(name))
		bm_problems_add(
		    p, k, "", i, "name",
		    "must be 1-63 of a-z, 0-9 and '-', starting with a letter or digit");
}

/* A reference to another object by name: required or optional. */
static void
check_ref(struct bm_problems *p, Bm__Kind k, const char *name, uint32_t i, const char *field,
          const char *ref, bool required)
{
	if (!*ref) {
		if (required)
			bm_problems_add(p, k, name, i, field, "missing");
	} else if (!bm_name_valid(ref)) {
		bm_problems_add(p, k, name, i, field, "not a valid name");
	}
}

static bool
label_key_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > BM_LABEL_KEY_MAX)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '/'))
			return false;
	}
	return true;
}

/* Map entries share the generated layout { base; char *key; char *value; }. */
struct kv {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static void
check_labels(struct bm_problems *p, Bm__Kind k, const char *name, uint32_t i, size_t n,
             void **entries)
{
	if (n > BM_LABELS_MAX) {
		bm_problems_add(p, k, name, i, "labels", "more than %u labels", BM_LABELS_MAX);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		const struct kv *e = entries[j];
		if (!label_key_ok(e->key))
			bm_problems_add(p, k, name, i, "labels",
			                "key must be 1-63 of A-Z, a-z, 0-9, '.', '_', '-', '/'");
		else if (strlen(e->value) > BM_LABEL_VALUE_MAX || !printable(e->value))
			bm_problems_add(p, k, name, i, "labels",
			                "value of %s: at most %u printable bytes", e->key,
			                BM_LABEL_VALUE_MAX);
	}
}

static void
check_rack(struct bm_problems *p, const Bm__Rack *r, uint32_t i)
{
	uint32_t mask = bm_ip4_mask(r->prefix_len);

	check_name(p, KRACK, r->name, i);
	check_ref(p, KRACK, r->name, i, "site", r->site, true);
	check_labels(p, KRACK, r->name, i, r->n_labels, (void **)r->labels);
	if (r->prefix_len == 0) {
		bm_problems_add(p, KRACK, r->name, i, "subnet", "missing");
		return;
	}
	if (r->prefix_len < 8 || r->prefix_len > 30 || (r->network & ~mask)) {
		bm_problems_add(p, KRACK, r->name, i, "subnet",
		                "prefix must be 8..30 with no host bits");
		return;
	}
	if (r->gateway && !bm_ip4_is_host(r->gateway, r->network, r->prefix_len))
		bm_problems_add(p, KRACK, r->name, i, "gateway",
		                "not a host address of the subnet");
	if (r->n_dns > BM_DNS_MAX)
		bm_problems_add(p, KRACK, r->name, i, "dns", "more than %u servers", BM_DNS_MAX);
	for (size_t j = 0; j < r->n_dns && j < BM_DNS_MAX; j++)
		if (r->dns[j] == 0)
			bm_problems_add(p, KRACK, r->name, i, "dns", "0.0.0.0 is not a server");
	if (r->discovery_max > BM_DISCOVERY_MAX)
		bm_problems_add(p, KRACK, r->name, i, "discovery_max", "at most %u",
		                BM_DISCOVERY_MAX);
	if (r->max_booting > BM_MAX_BOOTING_MAX)
		bm_problems_add(p, KRACK, r->name, i, "max_booting", "at most %u",
		                BM_MAX_BOOTING_MAX);
	if (r->discoveries_refused)
		bm_problems_add(p, KRACK, r->name, i, "discoveries_refused",
		                "is counted by the coordinator, not set");
	if (!r->pool_start && !r->pool_end)
		return;
	if (!bm_ip4_is_host(r->pool_start, r->network, r->prefix_len) ||
	    !bm_ip4_is_host(r->pool_end, r->network, r->prefix_len) || r->pool_start > r->pool_end)
		bm_problems_add(p, KRACK, r->name, i, "pool",
		                "must be a range of host addresses of the subnet");
	else if (r->gateway >= r->pool_start && r->gateway <= r->pool_end)
		bm_problems_add(p, KRACK, r->name, i, "pool", "contains the gateway");
}

static void
check_image(struct bm_problems *p, const Bm__Image *im, uint32_t i)
{
	check_name(p, KIMAGE, im->name, i);
	if (im->sha256.len != BM_SHA256_LEN)
		bm_problems_add(p, KIMAGE, im->name, i, "sha256",
		                im->sha256.len ? "must be 32 bytes" : "missing");
	if (*im->url &&
	    (strlen(im->url) > BM_TEXT_MAX || !printable(im->url) || strchr(im->url, ' ') ||
	     (strncmp(im->url, "http://", 7) && strncmp(im->url, "https://", 8))))
		bm_problems_add(p, KIMAGE, im->name, i, "url",
		                "must be an http:// or https:// URL");
	if (*im->kind && strcmp(im->kind, "disk"))
		bm_problems_add(p, KIMAGE, im->name, i, "kind",
		                "must be disk (or absent: a boot file)");
	if (*im->format && strcmp(im->kind, "disk"))
		bm_problems_add(p, KIMAGE, im->name, i, "format", "only a disk image has a format");
	else if (*im->format && strcmp(im->format, "raw.zst") && strcmp(im->format, "raw"))
		bm_problems_add(p, KIMAGE, im->name, i, "format", "must be raw.zst or raw");
}

/* "100G", "2T", "512M", "1000000": bytes (powers of 1000, as disks are sold). */
static int
size_parse(const char *s, const char *end, uint64_t *ret)
{
	uint64_t v = 0, mul = 1;

	if (s == end)
		return -1;
	for (; s < end && *s >= '0' && *s <= '9'; s++)
		if ((v = v * 10 + (uint64_t)(*s - '0')) > (1ull << 50))
			return -1;
	if (s < end) {
		const char *u = strchr("KMGT", *s);
		if (!u || s + 1 != end)
			return -1;
		for (long k = u - "KMGT" + 1; k > 0; k--)
			mul *= 1000;
	}
	*ret = v * mul;
	return 0;
}

int
bm_root_device_size(const char *text, uint64_t *ret_min, uint64_t *ret_max)
{
	const char *dash = strchr(text, '-');

	*ret_min = *ret_max = 0;
	if (!dash)
		return size_parse(text, text + strlen(text), ret_min);
	if ((dash > text && size_parse(text, dash, ret_min) < 0) ||
	    (dash[1] && size_parse(dash + 1, dash + strlen(dash), ret_max) < 0) ||
	    (*ret_max && *ret_min > *ret_max))
		return -1;
	return 0;
}

/* root_device: {by_path, serial, size: MIN-MAX, pick: largest|smallest}. */
static void
check_root_device(struct bm_problems *p, const Bm__Profile *pr, uint32_t i)
{
	uint64_t lo, hi;

	for (size_t j = 0; j < pr->n_root_device; j++) {
		const Bm__Profile__RootDeviceEntry *e = pr->root_device[j];
		if (!strcmp(e->key, "by_path") || !strcmp(e->key, "serial")) {
			if (!*e->value || strlen(e->value) > 127 || !printable(e->value) ||
			    strchr(e->value, ' '))
				bm_problems_add(p, KPROF, pr->name, i, "root_device",
				                "%s: 1-127 printable bytes without spaces", e->key);
		} else if (!strcmp(e->key, "size")) {
			if (bm_root_device_size(e->value, &lo, &hi) < 0)
				bm_problems_add(
				    p, KPROF, pr->name, i, "root_device",
				    "size: MIN-MAX, either side optional, like 100G-2T");
		} else if (!strcmp(e->key, "pick")) {
			if (strcmp(e->value, "largest") && strcmp(e->value, "smallest"))
				bm_problems_add(p, KPROF, pr->name, i, "root_device",
				                "pick: largest or smallest");
		} else {
			bm_problems_add(p, KPROF, pr->name, i, "root_device",
			                "%s: unknown (by_path, serial, size, pick)", e->key);
		}
	}
	if ((pr->n_root_device || pr->grow) && !*pr->disk_image)
		bm_problems_add(p, KPROF, pr->name, i, pr->grow ? "grow" : "root_device",
		                "only with disk_image");
	if (*pr->loader && strcmp(pr->loader, "ipxe") && strcmp(pr->loader, "grub"))
		bm_problems_add(p, KPROF, pr->name, i, "loader", "must be ipxe or grub");
}

static bool
file_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || s[0] == '.')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-'))
			return false;
	return true;
}

static void
check_profile(struct bm_problems *p, const Bm__Profile *pr, uint32_t i)
{
	char why[160];

	check_name(p, KPROF, pr->name, i);
	check_ref(p, KPROF, pr->name, i, "kernel", pr->kernel, true);
	check_ref(p, KPROF, pr->name, i, "initrd", pr->initrd, false);
	check_ref(p, KPROF, pr->name, i, "disk_image", pr->disk_image, false);
	check_root_device(p, pr, i);
	if (strlen(pr->cmdline) > BM_TEXT_MAX || !printable(pr->cmdline))
		bm_problems_add(p, KPROF, pr->name, i, "cmdline", "at most %u printable bytes",
		                BM_TEXT_MAX);
	else if (bm_tmpl_check(pr->cmdline, strlen(pr->cmdline), why, sizeof(why)) < 0)
		bm_problems_add(p, KPROF, pr->name, i, "cmdline", "%s", why);
	if (pr->n_templates > BM_TEMPLATES_MAX)
		bm_problems_add(p, KPROF, pr->name, i, "templates", "more than %u",
		                BM_TEMPLATES_MAX);
	for (size_t j = 0; j < pr->n_templates && j < BM_TEMPLATES_MAX; j++) {
		const Bm__Profile__TemplatesEntry *t = pr->templates[j];
		if (!file_name_ok(t->key))
			bm_problems_add(p, KPROF, pr->name, i, "templates",
			                "name must be 1-64 of A-Z, a-z, 0-9, '.', '_', '-'");
		else if (strlen(t->value) > BM_TEMPLATE_MAX)
			bm_problems_add(p, KPROF, pr->name, i, "templates",
			                "%s: longer than %u bytes", t->key, BM_TEMPLATE_MAX);
		else if (bm_tmpl_check(t->value, strlen(t->value), why, sizeof(why)) < 0)
			bm_problems_add(p, KPROF, pr->name, i, "templates", "%s: %s", t->key, why);
	}
}

static void
check_bmc(struct bm_problems *p, const Bm__Machine *m, uint32_t i)
{
	static const char *const schemes[] = { "ipmi://",          "redfish://", "redfish+http://",
		                               "redfish+https://", "manual://",  NULL };
	char url[BM_TEXT_MAX + 1], pass[BM_SECRET_MAX + 1];
	int inline_pass;

	if (*m->bmc_password_file && !*m->bmc)
		bm_problems_add(p, KMACH, m->name, i, "password_file", "needs a bmc URL");
	if (strlen(m->bmc_password) > BM_SECRET_MAX)
		bm_problems_add(p, KMACH, m->name, i, "bmc", "password longer than %u bytes",
		                BM_SECRET_MAX);
	if (!*m->bmc)
		return;
	inline_pass = strlen(m->bmc) <= BM_TEXT_MAX
	                  ? bm_bmc_split(m->bmc, url, sizeof(url), pass, sizeof(pass))
	                  : 0;
	OPENSSL_cleanse(pass, sizeof(pass));
	if (inline_pass < 0)
		bm_problems_add(p, KMACH, m->name, i, "bmc", "password longer than %u bytes",
		                BM_SECRET_MAX);
	if (inline_pass > 0 && (*m->bmc_password_file || *m->bmc_password))
		bm_problems_add(p, KMACH, m->name, i, "password_file",
		                "the bmc URL has a password already: give one or the other");
	if (strlen(m->bmc) <= BM_TEXT_MAX && printable(m->bmc) && !strchr(m->bmc, ' '))
		for (unsigned j = 0; schemes[j]; j++)
			if (!strncmp(m->bmc, schemes[j], strlen(schemes[j])) &&
			    m->bmc[strlen(schemes[j])])
				return;
	bm_problems_add(p, KMACH, m->name, i, "bmc",
	                "must be an ipmi://, redfish://, redfish+http(s):// or manual:// URL");
}

/* firmware: bios|uefi; bmc_fingerprint: a SHA-256 fingerprint, for an
 * HTTPS Redfish BMC. */
static void
check_firmware(struct bm_problems *p, const Bm__Machine *m, uint32_t i)
{
	uint8_t d[BM_SHA256_LEN];

	if (*m->firmware && strcmp(m->firmware, "bios") && strcmp(m->firmware, "uefi"))
		bm_problems_add(p, KMACH, m->name, i, "firmware", "must be bios or uefi");
	if (!*m->bmc_fingerprint)
		return;
	if (bm_sha256_parse_fingerprint(m->bmc_fingerprint, d) < 0)
		bm_problems_add(
		    p, KMACH, m->name, i, "bmc_fingerprint",
		    "must be a SHA-256 fingerprint (64 hex digits, or 32 pairs with ':')");
	else if (strncmp(m->bmc, "redfish://", 10) && strncmp(m->bmc, "redfish+https://", 16))
		bm_problems_add(
		    p, KMACH, m->name, i, "bmc_fingerprint",
		    "pins an HTTPS BMC's certificate: the bmc URL must be redfish:// or "
		    "redfish+https://");
}

static void
check_machine(struct bm_problems *p, const Bm__Machine *m, uint32_t i)
{
	static const uint8_t zero[6];

	check_name(p, KMACH, m->name, i);
	check_ref(p, KMACH, m->name, i, "rack", m->rack, true);
	check_ref(p, KMACH, m->name, i, "profile", m->profile, false);
	check_labels(p, KMACH, m->name, i, m->n_labels, (void **)m->labels);
	check_bmc(p, m, i);
	check_firmware(p, m, i);
	if (m->mac.len == 0)
		bm_problems_add(p, KMACH, m->name, i, "mac", "missing");
	else if (m->mac.len != 6)
		bm_problems_add(p, KMACH, m->name, i, "mac", "must be 6 bytes");
	else if ((m->mac.data[0] & 1) || !memcmp(m->mac.data, zero, 6))
		bm_problems_add(p, KMACH, m->name, i, "mac", "not a unicast address");
	if (m->state != BM__MACHINE_STATE__STATE_UNSPECIFIED)
		bm_problems_add(p, KMACH, m->name, i, "state",
		                "is set by the lifecycle, not by a fleet");
}

void
bm_fleet_check_machine_rack(const Bm__Machine *m, uint32_t i, const Bm__Rack *r,
                            struct bm_problems *p)
{
	char ip[BM_IP4_STR];

	if (!m->ip)
		return;
	bm_ip4_format(m->ip, ip);
	if (!bm_ip4_is_host(m->ip, r->network, r->prefix_len))
		bm_problems_add(p, KMACH, m->name, i, "ip", "%s is outside the subnet of rack %s",
		                ip, r->name);
	else if (m->ip == r->gateway)
		bm_problems_add(p, KMACH, m->name, i, "ip", "%s is the gateway of rack %s", ip,
		                r->name);
	else if (r->pool_start && m->ip >= r->pool_start && m->ip <= r->pool_end)
		bm_problems_add(p, KMACH, m->name, i, "ip",
		                "%s is inside the discovery pool of rack %s", ip, r->name);
}

/* ------------------------------------------------ uniqueness within a fleet */

struct key {
	const char *s;    /* name, or rack for (rack, ip) */
	const uint8_t *b; /* MAC, or NULL */
	uint32_t ip;
	uint32_t idx;
	const char *owner; /* the entry's name, for messages */
};

static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	int c = x->b ? memcmp(x->b, y->b, 6) : strcmp(x->s, y->s);
	if (c == 0 && x->ip != y->ip)
		c = x->ip < y->ip ? -1 : 1;
	if (c == 0)
		c = x->idx < y->idx ? -1 : x->idx > y->idx;
	return c;
}

static bool
key_eq(const struct key *x, const struct key *y)
{
	return (x->b ? !memcmp(x->b, y->b, 6) : !strcmp(x->s, y->s)) && x->ip == y->ip;
}

/* Sort keys and report every entry whose key an earlier entry has. */
static void
report_dups(struct bm_problems *p, Bm__Kind k, const char *field, struct key *keys, size_t n)
{
	size_t first = 0; /* start of the current run of equal keys */

	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t j = 1; j < n; j++) {
		if (!key_eq(&keys[first], &keys[j]))
			first = j;
		else
			bm_problems_add(p, k, keys[j].owner, keys[j].idx, field,
			                "also used by %s %s", bm_kind_name(k), keys[first].owner);
	}
}

#define NAME_FIRST(T)                                                                              \
	_Static_assert(offsetof(T, name) == sizeof(ProtobufCMessage), #T ": name must come first")
NAME_FIRST(Bm__Site);
NAME_FIRST(Bm__Rack);
NAME_FIRST(Bm__Image);
NAME_FIRST(Bm__Profile);
NAME_FIRST(Bm__Machine);

static int
check_names_unique(struct bm_problems *p, Bm__Kind k, size_t n, void **items)
{
	struct key *keys = calloc(n ? n : 1, sizeof(*keys));
	size_t m = 0;

	if (!keys)
		return -1;
	for (size_t j = 0; j < n; j++) {
		/* Every record starts with { base; char *name; }. */
		const char *name = *(char **)((char *)items[j] + sizeof(ProtobufCMessage));
		if (*name)
			keys[m++] = (struct key){ .s = name, .idx = (uint32_t)j, .owner = name };
	}
	report_dups(p, k, "name", keys, m);
	free(keys);
	return 0;
}

static int
check_machines_unique(struct bm_problems *p, const Bm__Fleet *f)
{
	struct key *macs = calloc(f->n_machines + 1, sizeof(*macs));
	struct key *ips = calloc(f->n_machines + 1, sizeof(*ips));
	size_t nm = 0, ni = 0;

	if (!macs || !ips) {
		free(macs);
		free(ips);
		return -1;
	}
	for (size_t j = 0; j < f->n_machines; j++) {
		const Bm__Machine *m = f->machines[j];
		if (m->mac.len == 6)
			macs[nm++] =
			    (struct key){ .b = m->mac.data, .idx = (uint32_t)j, .owner = m->name };
		if (m->ip && *m->rack)
			ips[ni++] = (struct key){
				.s = m->rack, .ip = m->ip, .idx = (uint32_t)j, .owner = m->name
			};
	}
	report_dups(p, KMACH, "mac", macs, nm);
	report_dups(p, KMACH, "ip", ips, ni);
	free(macs);
	free(ips);
	return 0;
}

static int
rack_cmp(const void *a, const void *b)
{
	return strcmp((*(Bm__Rack *const *)a)->name, (*(Bm__Rack *const *)b)->name);
}

/* Machines whose rack is in the same fleet are checked against it. */
static int
check_machines_racks(struct bm_problems *p, const Bm__Fleet *f)
{
	Bm__Rack **sorted = malloc((f->n_racks + 1) * sizeof(*sorted));

	if (!sorted)
		return -1;
	if (f->n_racks)
		memcpy(sorted, f->racks, f->n_racks * sizeof(*sorted));
	qsort(sorted, f->n_racks, sizeof(*sorted), rack_cmp);
	for (size_t j = 0; j < f->n_machines; j++) {
		Bm__Rack key = { .name = f->machines[j]->rack }, *kp = &key, **r;
		r = bsearch(&kp, sorted, f->n_racks, sizeof(*sorted), rack_cmp);
		if (r)
			bm_fleet_check_machine_rack(f->machines[j], (uint32_t)j, *r, p);
	}
	free(sorted);
	return 0;
}

size_t
bm_fleet_check(const Bm__Fleet *f, struct bm_problems *p)
{
	size_t before = p->total;
	int oom = 0;

	for (size_t i = 0; i < f->n_sites; i++) {
		check_name(p, KSITE, f->sites[i]->name, (uint32_t)i);
		check_labels(p, KSITE, f->sites[i]->name, (uint32_t)i, f->sites[i]->n_labels,
		             (void **)f->sites[i]->labels);
	}
	for (size_t i = 0; i < f->n_racks; i++)
		check_rack(p, f->racks[i], (uint32_t)i);
	for (size_t i = 0; i < f->n_images; i++)
		check_image(p, f->images[i], (uint32_t)i);
	for (size_t i = 0; i < f->n_profiles; i++)
		check_profile(p, f->profiles[i], (uint32_t)i);
	for (size_t i = 0; i < f->n_machines; i++)
		check_machine(p, f->machines[i], (uint32_t)i);
	oom |= check_names_unique(p, KSITE, f->n_sites, (void **)f->sites);
	oom |= check_names_unique(p, KRACK, f->n_racks, (void **)f->racks);
	oom |= check_names_unique(p, KIMAGE, f->n_images, (void **)f->images);
	oom |= check_names_unique(p, KPROF, f->n_profiles, (void **)f->profiles);
	oom |= check_names_unique(p, KMACH, f->n_machines, (void **)f->machines);
	oom |= check_machines_unique(p, f);
	oom |= check_machines_racks(p, f);
	if (oom)
		bm_problems_add(p, 0, "", 0, "", "out of memory while checking");
	return p->total - before;
}

int
bm_fleet_load_checked(const char *path, struct bm_fleet *ret, struct bm_problems *probs)
{
	size_t before = probs->total;
	int r = bm_fleet_load(path, ret, probs);

	if (r != 0 && r != -EINVAL)
		return r;
	/* Check even a file that did not parse cleanly: every problem at once
	 * (none when nothing was read). */
	if (ret->fleet)
		bm_fleet_check(ret->fleet, probs);
	/* The BMC passwords' files, once the rest is clean. */
	if (ret->fleet && probs->total == before &&
	    bm_fleet_read_passwords(ret->fleet, path, probs) < 0)
		return -ENOMEM;
	bm_problems_dedupe(probs);
	return probs->total > before ? -EINVAL : 0;
}

/* Is `name` among the names of items (records whose first member is name)? */
static bool
named(size_t n, void **items, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(*(char **)((char *)items[i] + sizeof(ProtobufCMessage)), name))
			return true;
	return false;
}

static const Bm__Image *
image_named(const Bm__Fleet *f, const char *name)
{
	for (size_t i = 0; i < f->n_images; i++)
		if (!strcmp(f->images[i]->name, name))
			return f->images[i];
	return NULL;
}

/* disk_image names a disk image; kernel and initrd name boot files. */
static void
check_disk_refs(const Bm__Fleet *f, const Bm__Profile *pr, uint32_t i, struct bm_problems *p)
{
	const Bm__Image *im;

	if (*pr->disk_image && !(im = image_named(f, pr->disk_image)))
		bm_problems_add(p, KPROF, pr->name, i, "disk_image", "image %s is not in this file",
		                pr->disk_image);
	else if (*pr->disk_image && strcmp(im->kind, "disk"))
		bm_problems_add(p, KPROF, pr->name, i, "disk_image", "image %s is not of kind disk",
		                pr->disk_image);
	if ((im = image_named(f, pr->kernel)) && !strcmp(im->kind, "disk"))
		bm_problems_add(p, KPROF, pr->name, i, "kernel", "image %s is a disk image",
		                pr->kernel);
	if (*pr->initrd && (im = image_named(f, pr->initrd)) && !strcmp(im->kind, "disk"))
		bm_problems_add(p, KPROF, pr->name, i, "initrd", "image %s is a disk image",
		                pr->initrd);
}

size_t
bm_fleet_check_refs(const Bm__Fleet *f, struct bm_problems *p)
{
	size_t before = p->total;

	for (size_t i = 0; i < f->n_racks; i++)
		if (*f->racks[i]->site && !named(f->n_sites, (void **)f->sites, f->racks[i]->site))
			bm_problems_add(p, KRACK, f->racks[i]->name, (uint32_t)i, "site",
			                "site %s is not in this file", f->racks[i]->site);
	for (size_t i = 0; i < f->n_profiles; i++) {
		const Bm__Profile *pr = f->profiles[i];
		if (*pr->kernel && !named(f->n_images, (void **)f->images, pr->kernel))
			bm_problems_add(p, KPROF, pr->name, (uint32_t)i, "kernel",
			                "image %s is not in this file", pr->kernel);
		if (*pr->initrd && !named(f->n_images, (void **)f->images, pr->initrd))
			bm_problems_add(p, KPROF, pr->name, (uint32_t)i, "initrd",
			                "image %s is not in this file", pr->initrd);
		check_disk_refs(f, pr, (uint32_t)i, p);
	}
	for (size_t i = 0; i < f->n_machines; i++) {
		const Bm__Machine *m = f->machines[i];
		if (*m->rack && !named(f->n_racks, (void **)f->racks, m->rack))
			bm_problems_add(p, KMACH, m->name, (uint32_t)i, "rack",
			                "rack %s is not in this file", m->rack);
		if (*m->profile && !named(f->n_profiles, (void **)f->profiles, m->profile))
			bm_problems_add(p, KMACH, m->name, (uint32_t)i, "profile",
			                "profile %s is not in this file", m->profile);
	}
	return p->total - before;
}
