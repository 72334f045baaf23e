/* bmctl describe: one object, every field, one per line. */
#include <string.h>

#include "bm/bmc_secret.h"
#include "bm/fleet.h"
#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "bmctl.h"

static void
line(FILE *f, const char *key, const char *val)
{
	fprintf(f, "%-11s %s\n", key, val && *val ? val : "-");
}

static void
line_u64(FILE *f, const char *key, uint64_t v)
{
	fprintf(f, "%-11s %llu\n", key, (unsigned long long)v);
}

/* Map entries: { base; char *key; char *value; } */
struct kv {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static void
labels(FILE *f, size_t n, void **entries)
{
	if (n == 0)
		line(f, "Labels:", "");
	for (size_t i = 0; i < n; i++) {
		const struct kv *e = entries[i];
		fprintf(f, "%-11s %s=%s\n", i ? "" : "Labels:", e->key, e->value);
	}
}

static void
revs(FILE *f, uint64_t create, uint64_t mod)
{
	fprintf(f, "%-11s created %llu, modified %llu\n", "Revision:", (unsigned long long)create,
	        (unsigned long long)mod);
}

static void
describe_rack(FILE *f, const Bm__Rack *r, uint32_t count)
{
	char a[BM_IP4_STR], b[BM_IP4_STR], buf[64];

	line(f, "Name:", r->name);
	line(f, "Site:", r->site);
	snprintf(buf, sizeof(buf), "%s/%u", bm_ip4_format(r->network, a), r->prefix_len);
	line(f, "Subnet:", buf);
	line(f, "Gateway:", r->gateway ? bm_ip4_format(r->gateway, a) : "");
	buf[0] = '\0';
	for (size_t i = 0, w = 0; i < r->n_dns; i++)
		w += (size_t)snprintf(buf + w, sizeof(buf) - w, "%s%s", i ? ", " : "",
		                      bm_ip4_format(r->dns[i], a));
	line(f, "DNS:", buf);
	if (r->pool_start)
		snprintf(buf, sizeof(buf), "%s-%s", bm_ip4_format(r->pool_start, a),
		         bm_ip4_format(r->pool_end, b));
	line(f, "Pool:", r->pool_start ? buf : "");
	line_u64(f, "Machines:", count);
	snprintf(buf, sizeof(buf), "at most %llu new machines; %llu MACs refused",
	         (unsigned long long)(r->discovery_max ? r->discovery_max : BM_DISCOVERY_DEFAULT),
	         (unsigned long long)r->discoveries_refused);
	line(f, "Discovery:", buf);
	snprintf(buf, sizeof(buf), "at most %u machines between power-on and installing",
	         r->max_booting ? r->max_booting : BM_MAX_BOOTING_DEFAULT);
	line(f, "Booting:", buf);
	labels(f, r->n_labels, (void **)r->labels);
	revs(f, r->create_rev, r->mod_rev);
}

/* "uefi-http (seen)", "bios (fleet)", "uefi (fleet; seen uefi-http)". */
static const char *
firmware_text(const Bm__Machine *m, char *b, size_t len)
{
	if (!*m->firmware && !*m->firmware_seen)
		snprintf(b, len, "unknown (not seen booting yet)");
	else if (!*m->firmware)
		snprintf(b, len, "%s (seen)", m->firmware_seen);
	else if (!*m->firmware_seen || !strcmp(m->firmware, m->firmware_seen))
		snprintf(b, len, "%s (fleet)", m->firmware);
	else
		snprintf(b, len, "%s (fleet; seen %s)", m->firmware, m->firmware_seen);
	return b;
}

static void
describe_machine(FILE *f, const Bm__Machine *m)
{
	char a[BM_MAC_STR], b[256];

	line(f, "Name:", m->name);
	line(f, "Rack:", m->rack);
	line(f, "MAC:", m->mac.len == 6 ? bm_mac_format(m->mac.data, a) : "");
	line(f, "IP:", m->ip ? bm_ip4_format(m->ip, a) : "");
	line(f, "Profile:", m->profile);
	line(f, "BMC:", bm_bmc_masked(m->bmc, m->bmc_password_set, b, sizeof(b)));
	if (*m->bmc_fingerprint)
		line(f, "BMC cert:", m->bmc_fingerprint);
	line(f, "Firmware:", firmware_text(m, b, sizeof(b)));
	line(f, "State:", bm_state_name(m->state));
	if (*m->reason)
		line(f, "Reason:", m->reason);
	if (*m->os) { /* what its installed OS said when it booted from disk */
		snprintf(b, sizeof(b), "%s%s%s%s", m->os, *m->kernel ? " (kernel " : "", m->kernel,
		         *m->kernel ? ")" : "");
		line(f, "OS:", b);
	}
	line(f, "Netboot:", m->netboot ? "always" : "when reimaged");
	labels(f, m->n_labels, (void **)m->labels);
	revs(f, m->create_rev, m->mod_rev);
}

static void
describe_profile(FILE *f, const Bm__Profile *p)
{
	line(f, "Name:", p->name);
	line(f, "Kernel:", p->kernel);
	line(f, "Initrd:", p->initrd);
	line(f, "Cmdline:", p->cmdline);
	line(f, "Loader:",
	     !strcmp(p->loader, "grub") ? "grub (UEFI: Debian's signed shim, then GRUB)" : "ipxe");
	revs(f, p->create_rev, p->mod_rev);
	if (p->n_templates == 0)
		line(f, "Templates:", "");
	else
		fprintf(f, "Templates:\n");
	for (size_t i = 0; i < p->n_templates; i++) {
		const char *t = p->templates[i]->value;
		fprintf(f, "  %s:\n", p->templates[i]->key);
		while (*t) {
			const char *nl = strchr(t, '\n');
			size_t n = nl ? (size_t)(nl - t) : strlen(t);
			fprintf(f, "    %.*s\n", (int)n, t);
			t += n + (nl != NULL);
		}
	}
}

static void
describe_image(FILE *f, const Bm__Image *im)
{
	char hex[BM_SHA256_HEX];

	line(f, "Name:", im->name);
	line(f, "SHA256:", im->sha256.len == 32 ? bm_sha256_hex(im->sha256.data, hex) : "");
	line_u64(f, "Size:", im->size);
	line(f, "URL:", im->url);
	line(f, "Stored:", im->stored ? "yes (coordinator blob store)" : "no");
	line(f, "Staged on:", im->n_staged ? "" : "(none: the racks whose profiles name it)");
	for (size_t i = 0; i < im->n_staged; i++)
		fprintf(f, "  %s\n", im->staged[i]);
	revs(f, im->create_rev, im->mod_rev);
}

void
out_describe(FILE *f, bool json, const Bm__Object *o)
{
	if (json) {
		struct bm_json j;
		bm_json_init(&j, f, true);
		out_json_object(&j, o); /* the form of `get -o json`, as one object */
		return;
	}
	switch (o->obj_case) {
	case BM__OBJECT__OBJ_SITE:
		line(f, "Name:", o->site->name);
		line_u64(f, "Racks:", o->count);
		labels(f, o->site->n_labels, (void **)o->site->labels);
		revs(f, o->site->create_rev, o->site->mod_rev);
		break;
	case BM__OBJECT__OBJ_RACK: describe_rack(f, o->rack, o->count); break;
	case BM__OBJECT__OBJ_MACHINE: describe_machine(f, o->machine); break;
	case BM__OBJECT__OBJ_PROFILE: describe_profile(f, o->profile); break;
	case BM__OBJECT__OBJ_IMAGE: describe_image(f, o->image); break;
	default: break;
	}
}
