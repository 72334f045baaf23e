#include "config.h"

#include "bm/util.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "bm/netaddr.h"
#include "bm/rate.h"
#include "http_limits.h"
#include "power.h"
#include "tftp_limits.h"
#include "bm/yaml_util.h"

#define CONFIG_FILE_MAX (1u << 20)

void
agent_config_init(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->data_dir, sizeof(c->data_dir), "/var/lib/bmagent");
	snprintf(c->tftp_root, sizeof(c->tftp_root), "/usr/lib/ipxe");
	snprintf(c->signed_shim, sizeof(c->signed_shim), "/usr/lib/shim/shimx64.efi.signed");
	snprintf(c->signed_grub, sizeof(c->signed_grub),
	         "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed");
	snprintf(c->marker, sizeof(c->marker), "bm-chained");
	c->http_port = 8080;
	c->metrics_addr = 0x7f000001; /* 127.0.0.1 */
	c->metrics_port = 9180;
	c->http_max_conns = HTTP_CONNS_MAX;
	c->http_header_timeout = HTTP_HEAD_TIMEOUT_S;
	c->http_idle_timeout = HTTP_IDLE_TIMEOUT_S;
	c->http_max_per_client = HTTP_PER_CLIENT_MAX;
	c->tftp_max_transfers = TFTP_SESSIONS_MAX;
	c->tftp_max_per_client = TFTP_PER_CLIENT_MAX;
	c->tftp_timeout_max = TFTP_TIMEOUT_MAX_S;
	c->lease_secs = 3600;
	c->discovery_lease_secs = 600;
	c->discovery_rate = 10;
	c->discovery_burst = 100;
	c->rogue_probe_secs = 60;
	c->outbox_max = 100000;
	c->log_level = BM_LOG_INFO;
	c->power_stagger_ms = POWER_STAGGER_DEFAULT_MS;
	pxe_boot_table_default(&c->boot);
}

struct walk {
	yaml_document_t *doc;
	struct bm_problems *p;
	struct agent_config *c;
};

static void __attribute__((format(printf, 4, 5)))
bad(struct walk *w, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	size_t kept = w->p->n;
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	bm_problems_add(w->p, BM__KIND__KIND_UNSPECIFIED, "", 0, key, "%s", why);
	if (w->p->n > kept && n)
		w->p->v[kept].line = (uint32_t)n->start_mark.line + 1;
}

/* Copy a scalar of at most size-1 bytes. */
static int
text(struct walk *w, const yaml_node_t *n, const char *key, char *out, size_t size)
{
	const char *s = bm_yaml_scalar(n);

	if (!s || !*s) {
		bad(w, n, key, "must be a non-empty text value");
		return -1;
	}
	if (strlen(s) >= size) {
		bad(w, n, key, "is too long");
		return -1;
	}
	snprintf(out, size, "%s", s);
	return 0;
}

static int
number(struct walk *w, const yaml_node_t *n, const char *key, unsigned long lo, unsigned long hi,
       unsigned long *ret)
{
	const char *s = bm_yaml_scalar(n);
	char *end, range[64];
	unsigned long v;

	errno = 0;
	v = s ? strtoul(s, &end, 10) : 0;
	if (!s || *s < '0' || *s > '9' || *end || errno || v < lo || v > hi) {
		snprintf(range, sizeof(range), "%lu..%lu", lo, hi);
		bad(w, n, key, "must be a number in %s", range);
		return -1;
	}
	*ret = v;
	return 0;
}

/* A path under a root: relative, no "..", no empty parts. */
static bool
relative_path_ok(const char *s)
{
	if (!*s || s[0] == '/' || strstr(s, "//"))
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == '\\')
			return false;
	return strcmp(s, "..") && strncmp(s, "../", 3) && !strstr(s, "/../") &&
	       (strlen(s) < 3 || strcmp(s + strlen(s) - 3, "/.."));
}

static bool
iface_ok(const char *s)
{
	if (!*s || strlen(s) >= IF_NAMESIZE || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.' ||
		      *s == '@' || *s == ':'))
			return false;
	return true;
}

/* A list of scalars (or one scalar) into fn. */
static void
each(struct walk *w, const yaml_node_t *n, const char *key, unsigned max,
     void (*fn)(struct walk *, const yaml_node_t *, unsigned))
{
	bool seq = n->type == YAML_SEQUENCE_NODE;
	unsigned count =
	    seq ? (unsigned)(n->data.sequence.items.top - n->data.sequence.items.start) : 1;
	char lim[16];

	if (count == 0 || count > max) {
		snprintf(lim, sizeof(lim), "%u", max);
		bad(w, n, key, "needs 1 to %s entries", lim);
		return;
	}
	for (unsigned i = 0; i < count; i++)
		fn(w, seq ? yaml_document_get_node(w->doc, n->data.sequence.items.start[i]) : n, i);
}

static void
iface_cb(struct walk *w, const yaml_node_t *n, unsigned i)
{
	if (text(w, n, "interfaces", w->c->ifaces[i], IF_NAMESIZE) == 0 &&
	    !iface_ok(w->c->ifaces[i]))
		bad(w, n, "interfaces", "\"%s\" is not an interface name", w->c->ifaces[i]);
	w->c->n_ifaces = i + 1;
}

static void
coord_cb(struct walk *w, const yaml_node_t *n, unsigned i)
{
	char *u = w->c->coordinators[i];
	if (text(w, n, "coordinator", u, AGENT_URL_MAX) == 0 && strncmp(u, "tcp://", 6) &&
	    strncmp(u, "ipc://", 6) && strncmp(u, "tls+tcp://", 10))
		bad(w, n, "coordinator", "\"%s\" is not a tcp://, tls+tcp:// or ipc:// URL", u);
	w->c->n_coordinators = i + 1;
}

static void
listen_cb(struct walk *w, const yaml_node_t *n, unsigned i)
{
	const char *v = bm_yaml_scalar(n);

	if (!v || bm_ip4_parse(v, &w->c->http_listen[i]) < 0)
		bad(w, n, "http_listen", "\"%s\" is not an IPv4 address", v ? v : "");
	w->c->n_http_listen = i + 1;
}

/* ADDR:PORT, or "off". */
static void
metrics_listen(struct walk *w, const yaml_node_t *n)
{
	const char *v = bm_yaml_scalar(n), *colon = v ? strrchr(v, ':') : NULL;
	char addr[BM_IP4_STR], *end;
	unsigned long port = 0;

	if (v && !strcmp(v, "off")) {
		w->c->metrics_port = 0;
		return;
	}
	if (colon && (size_t)(colon - v) < sizeof(addr)) {
		memcpy(addr, v, (size_t)(colon - v));
		addr[colon - v] = '\0';
		port = strtoul(colon + 1, &end, 10);
		if (!*end && port >= 1 && port <= 65535 &&
		    bm_ip4_parse(addr, &w->c->metrics_addr) == 0) {
			w->c->metrics_port = (uint16_t)port;
			return;
		}
	}
	bad(w, n, "metrics_listen", "must be ADDRESS:PORT (IPv4) or off");
}

/* A mapping of text fields (section: its key, for problems), each put at
 * base + its offset (len bytes) and checked by ok(), which says why not.
 * Returns the fields seen, a bit each. */
struct text_field {
	const char *key;
	size_t off;
};

static unsigned
text_fields(struct walk *w, const yaml_node_t *n, const char *section, const struct text_field *f,
            size_t nf, char *base, size_t len, const char *(*ok)(const char *value))
{
	unsigned seen = 0;
	const char *why;

	if (!n || n->type != YAML_MAPPING_NODE) {
		bad(w, n, section, "must be a mapping of its keys");
		return 0;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		const yaml_node_t *vn = yaml_document_get_node(w->doc, p->value);
		const char *k = bm_yaml_scalar(kn);
		size_t i = 0;
		while (i < nf && (!k || strcmp(k, f[i].key)))
			i++;
		if (i == nf) {
			bad(w, kn, section, "unknown key \"%s\"", k ? k : "?");
			continue;
		}
		char *dst = base + f[i].off;
		if (text(w, vn, section, dst, len) == 0 && (why = ok(dst)))
			bad(w, vn, section, "\"%s\" %s", dst, why);
		seen |= 1u << i;
	}
	return seen;
}

static const char *
boot_file_ok(const char *v)
{
	return relative_path_ok(v) ? NULL : "must be a path relative to tftp_root";
}

static void
boot_files(struct walk *w, const yaml_node_t *n)
{
	static const struct text_field f[] = {
		{ "bios", offsetof(struct pxe_boot_table, bios) },
		{ "efi_ia32", offsetof(struct pxe_boot_table, efi_ia32) },
		{ "efi_x64", offsetof(struct pxe_boot_table, efi_x64) },
		{ "efi_arm64", offsetof(struct pxe_boot_table, efi_arm64) },
		{ "http_efi", offsetof(struct pxe_boot_table, http_efi) },
	};

	text_fields(w, n, "boot_files", f, BM_ARRAY_SIZE(f), (char *)&w->c->boot, DHCP_BOOTFILE_MAX,
	            boot_file_ok);
}

static const char *
absolute_ok(const char *v)
{
	return v[0] == '/' ? NULL : "must be an absolute path";
}

/* tls: {ca: FILE, cert: FILE, key: FILE}, all three. */
static void
tls_keys(struct walk *w, const yaml_node_t *n)
{
	static const struct text_field f[] = {
		{ "ca", offsetof(struct agent_config, tls_ca) },
		{ "cert", offsetof(struct agent_config, tls_cert) },
		{ "key", offsetof(struct agent_config, tls_key) },
	};

	if (text_fields(w, n, "tls", f, BM_ARRAY_SIZE(f), (char *)w->c, PATH_MAX, absolute_ok) != 7)
		bad(w, n, "tls", "needs ca, cert and key");
}

/* The limits: unsigned numbers within bounds. Returns false when k is
 * not one of them. */
static bool
limit_key(struct walk *w, const char *k, const yaml_node_t *v)
{
	static const struct {
		const char *key;
		size_t off;
		unsigned long min, max;
	} f[] = {
		{ "http_max_connections", offsetof(struct agent_config, http_max_conns), 1, 65536 },
		{ "http_max_per_client", offsetof(struct agent_config, http_max_per_client), 1,
		  65536 },
		{ "http_header_timeout", offsetof(struct agent_config, http_header_timeout), 1,
		  3600 },
		{ "http_idle_timeout", offsetof(struct agent_config, http_idle_timeout), 1, 86400 },
		{ "tftp_max_transfers", offsetof(struct agent_config, tftp_max_transfers), 1,
		  65536 },
		{ "tftp_max_per_client", offsetof(struct agent_config, tftp_max_per_client), 1,
		  65536 },
		{ "tftp_timeout_max", offsetof(struct agent_config, tftp_timeout_max), 1, 255 },
		{ "discovery_lease_time", offsetof(struct agent_config, discovery_lease_secs), 60,
		  7 * 86400 },
		{ "discovery_rate", offsetof(struct agent_config, discovery_rate), 0, 1000000 },
		{ "discovery_burst", offsetof(struct agent_config, discovery_burst), 1, 1000000 },
		{ "rogue_dhcp_probe", offsetof(struct agent_config, rogue_probe_secs), 0, 86400 },
	};
	unsigned long num;

	for (size_t i = 0; i < BM_ARRAY_SIZE(f); i++) {
		if (strcmp(k, f[i].key))
			continue;
		if (number(w, v, k, f[i].min, f[i].max, &num) == 0)
			*(unsigned *)(void *)((char *)w->c + f[i].off) = (unsigned)num;
		return true;
	}
	return false;
}

/* One top-level key. */
static void
key_value(struct walk *w, const char *k, const yaml_node_t *kn, const yaml_node_t *v)
{
	struct agent_config *c = w->c;
	unsigned long num;
	bool flag;

	if (!strcmp(k, "rack")) {
		if (text(w, v, k, c->rack, sizeof(c->rack)) == 0 && !bm_name_valid(c->rack))
			bad(w, v, k, "\"%s\" is not a valid name", c->rack);
	} else if (!strcmp(k, "data_dir")) {
		text(w, v, k, c->data_dir, sizeof(c->data_dir));
	} else if (!strcmp(k, "interfaces")) {
		each(w, v, k, AGENT_IFACES_MAX, iface_cb);
	} else if (!strcmp(k, "mode")) {
		const char *s = bm_yaml_scalar(v);
		if (s && (!strcmp(s, "authoritative") || !strcmp(s, "proxy")))
			c->proxy = !strcmp(s, "proxy");
		else
			bad(w, v, k, "must be authoritative or proxy");
	} else if (!strcmp(k, "http_port")) {
		if (number(w, v, k, 1, 65535, &num) == 0)
			c->http_port = (uint16_t)num;
	} else if (limit_key(w, k, v)) {
		/* done */
	} else if (!strcmp(k, "http_listen")) {
		each(w, v, k, AGENT_HTTP_LISTEN_MAX, listen_cb);
	} else if (!strcmp(k, "metrics_listen")) {
		metrics_listen(w, v);
	} else if (!strcmp(k, "tftp_root")) {
		if (text(w, v, k, c->tftp_root, sizeof(c->tftp_root)) == 0 &&
		    c->tftp_root[0] != '/')
			bad(w, v, k, "must be an absolute path");
	} else if (!strcmp(k, "user")) {
		if (text(w, v, k, c->user, sizeof(c->user)) == 0 && !bm_name_valid(c->user))
			bad(w, v, k, "\"%s\" is not a user name", c->user);
	} else if (!strcmp(k, "fleet")) {
		text(w, v, k, c->fleet, sizeof(c->fleet));
	} else if (!strcmp(k, "coordinator")) {
		each(w, v, k, AGENT_COORDINATORS_MAX, coord_cb);
	} else if (!strcmp(k, "cache_budget_mib")) {
		if (number(w, v, k, 0, 1ll << 30, &num) == 0)
			c->cache_budget = (uint64_t)num << 20;
	} else if (!strcmp(k, "outbox_max_events")) {
		if (number(w, v, k, 100, BM_OUTBOX_EVENTS_MAX, &num) == 0)
			c->outbox_max = (uint64_t)num;
	} else if (!strcmp(k, "lease_time")) {
		if (number(w, v, k, 60, 7 * 86400, &num) == 0)
			c->lease_secs = (uint32_t)num;
	} else if (!strcmp(k, "chain_ipxe")) {
		if (bm_yaml_bool(v, &flag) < 0)
			bad(w, v, k, "must be true or false");
		else
			c->chain_ipxe = flag;
	} else if (!strcmp(k, "ipv6_ra")) {
		if (bm_yaml_bool(v, &flag) < 0)
			bad(w, v, k, "must be true or false");
		else
			c->ipv6_ra = flag;
	} else if (!strcmp(k, "boot_files")) {
		boot_files(w, v);
	} else if (!strcmp(k, "tls")) {
		tls_keys(w, v);
	} else if (!strcmp(k, "bmc_ca")) {
		if (text(w, v, k, c->bmc_ca, sizeof(c->bmc_ca)) == 0 && c->bmc_ca[0] != '/')
			bad(w, v, k, "must be an absolute path");
	} else if (!strcmp(k, "signed_shim") || !strcmp(k, "signed_grub")) {
		char *dst = k[7] == 's' ? c->signed_shim : c->signed_grub;
		if (text(w, v, k, dst, PATH_MAX) == 0 && dst[0] != '/')
			bad(w, v, k, "must be an absolute path");
	} else if (!strcmp(k, "bmc_timeout")) {
		if (number(w, v, k, 1, 600, &num) == 0)
			c->bmc_timeout = (unsigned)num;
	} else if (!strcmp(k, "image_rate_mbit")) {
		if (number(w, v, k, 0, BM_RATE_MBIT_MAX, &num) == 0)
			c->image_rate_mbit = (unsigned)num;
	} else if (!strcmp(k, "peer_url")) {
		if (text(w, v, k, c->peer_url, sizeof(c->peer_url)) == 0 &&
		    !bm_http_base_ok(c->peer_url))
			bad(w, v, k, "\"%s\" is not http://ADDRESS:PORT", c->peer_url);
	} else if (!strcmp(k, "power_stagger_ms")) {
		if (number(w, v, k, 0, POWER_STAGGER_MAX_MS, &num) == 0)
			c->power_stagger_ms = (unsigned)num;
	} else if (!strcmp(k, "log_level")) {
		const char *s = bm_yaml_scalar(v);
		if (!s || bm_log_level_parse(s, &c->log_level) < 0)
			bad(w, v, k, "must be debug, info, warn or error");
	} else {
		bad(w, kn, k, "unknown key");
	}
}

static void
check_whole(struct walk *w, unsigned seen_rack, unsigned seen_ifaces)
{
	struct agent_config *c = w->c;

	if (!seen_rack)
		bad(w, NULL, "rack", "is required");
	if (!seen_ifaces)
		bad(w, NULL, "interfaces", "is required");
	if (!*c->fleet == !c->n_coordinators)
		bad(w, NULL, "fleet", "give either fleet (standalone) or coordinator (managed)");
	if (c->data_dir[0] != '/')
		bad(w, NULL, "data_dir", "must be an absolute path");
	if (*c->peer_url && !c->n_coordinators)
		bad(w, NULL, "peer_url", "serves a site's agents: only with coordinator (managed)");
	for (unsigned i = 0; i < c->n_coordinators; i++)
		if (!strncmp(c->coordinators[i], "tls+tcp://", 10) && !*c->tls_ca)
			bad(w, NULL, "tls", "coordinator %s needs tls: {ca, cert, key}",
			    c->coordinators[i]);
}

static void
walk_root(struct walk *w, const yaml_node_t *root)
{
	unsigned seen_rack = 0, seen_ifaces = 0;

	if (!root || root->type != YAML_MAPPING_NODE) {
		bad(w, root, "", "the file must be a mapping of keys");
		return;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *kn = yaml_document_get_node(w->doc, p->key);
		const char *k = bm_yaml_scalar(kn);
		if (!k) {
			bad(w, kn, "", "keys must be text");
			continue;
		}
		seen_rack |= !strcmp(k, "rack");
		seen_ifaces |= !strcmp(k, "interfaces");
		key_value(w, k, kn, yaml_document_get_node(w->doc, p->value));
	}
	check_whole(w, seen_rack, seen_ifaces);
}

static int
read_file(const char *path, char **ret, size_t *ret_len)
{
	struct stat st;
	char *buf;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CONFIG_FILE_MAX) {
		close(fd);
		return -EINVAL;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(buf);
		return -EIO;
	}
	*ret = buf;
	*ret_len = (size_t)n;
	return 0;
}

int
agent_config_load(const char *path, struct agent_config *c, struct bm_problems *probs)
{
	yaml_parser_t ps;
	yaml_document_t doc;
	struct walk w = { &doc, probs, c };
	size_t before = probs->total, len = 0;
	char *text_buf = NULL;
	int r;

	if ((r = read_file(path, &text_buf, &len)) < 0)
		return r;
	snprintf(c->path, sizeof(c->path), "%s", path);
	yaml_parser_initialize(&ps);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text_buf, len);
	if (!yaml_parser_load(&ps, &doc)) {
		size_t kept = probs->n;
		bm_problems_add(probs, 0, "", 0, "", "%s", ps.problem ? ps.problem : "YAML error");
		if (probs->n > kept)
			probs->v[kept].line = (uint32_t)ps.problem_mark.line + 1;
	} else {
		walk_root(&w, yaml_document_get_root_node(&doc));
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&ps);
	free(text_buf);
	return probs->total > before ? -EINVAL : 0;
}

bool
agent_config_unsigned_loader(const struct agent_config *c, const char *file)
{
	const char *const names[] = { c->boot.efi_x64, c->boot.efi_ia32, c->boot.efi_arm64 };
	for (unsigned i = 0; i < 3; i++)
		if (*names[i] && !strcmp(file, names[i]))
			return true;
	return false;
}
