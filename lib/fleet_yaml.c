/* Fleet file parsing: libyaml's document loader, then a walk of the fixed
 * shape (top mapping -> sequences of entries -> fields). Unknown keys and bad
 * values become problems; the walk never descends into what it does not
 * know, so hostile nesting or aliases cost nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "bm/fleet.h"
#include "bm/log.h"
#include "bm/netaddr.h"
#include "bm/sha256.h"
#include "bm/yaml_util.h"

enum ftype { F_STR, F_IP, F_CIDR, F_MAC, F_BOOL, F_U32, F_U64, F_SHA, F_POOL, F_DNS, F_MAP };

struct field {
	const char *key;
	enum ftype type;
	size_t off, off2; /* member offsets; off2 for pairs (n_x + x, net + plen) */
	const ProtobufCMessageDescriptor *entry; /* F_MAP: the map entry type */
	size_t max;                              /* F_STR/F_MAP value bytes, F_MAP entries */
};

#define FS(T, k, m, mx)                                                                            \
	{                                                                                          \
		k, F_STR, offsetof(T, m), 0, NULL, mx                                              \
	}
#define FT(T, k, t, m)                                                                             \
	{                                                                                          \
		k, t, offsetof(T, m), 0, NULL, 0                                                   \
	}
#define F2(T, k, t, m, m2)                                                                         \
	{                                                                                          \
		k, t, offsetof(T, m), offsetof(T, m2), NULL, 0                                     \
	}
#define FM(T, k, m, d, mx)                                                                         \
	{                                                                                          \
		k, F_MAP, offsetof(T, n_##m), offsetof(T, m), &d, mx                               \
	}

static const struct field site_fields[] = {
	FS(Bm__Site, "name", name, 63),
	FM(Bm__Site, "labels", labels, bm__site__labels_entry__descriptor, BM_LABELS_MAX),
	{ 0 },
};
static const struct field rack_fields[] = {
	FS(Bm__Rack, "name", name, 63),
	FS(Bm__Rack, "site", site, 63),
	F2(Bm__Rack, "subnet", F_CIDR, network, prefix_len),
	FT(Bm__Rack, "gateway", F_IP, gateway),
	F2(Bm__Rack, "dns", F_DNS, n_dns, dns),
	F2(Bm__Rack, "pool", F_POOL, pool_start, pool_end),
	FT(Bm__Rack, "discovery_max", F_U64, discovery_max),
	FT(Bm__Rack, "max_booting", F_U32, max_booting),
	FM(Bm__Rack, "labels", labels, bm__rack__labels_entry__descriptor, BM_LABELS_MAX),
	{ 0 },
};
static const struct field image_fields[] = {
	FS(Bm__Image, "name", name, 63),
	FT(Bm__Image, "sha256", F_SHA, sha256),
	FT(Bm__Image, "size", F_U64, size),
	FS(Bm__Image, "url", url, BM_TEXT_MAX),
	FS(Bm__Image, "kind", kind, 15),
	FS(Bm__Image, "format", format, 15),
	{ 0 },
};
static const struct field profile_fields[] = {
	FS(Bm__Profile, "name", name, 63),
	FS(Bm__Profile, "kernel", kernel, 63),
	FS(Bm__Profile, "initrd", initrd, 63),
	FS(Bm__Profile, "cmdline", cmdline, BM_TEXT_MAX),
	FM(Bm__Profile, "templates", templates, bm__profile__templates_entry__descriptor,
	   BM_TEMPLATES_MAX),
	FS(Bm__Profile, "disk_image", disk_image, 63),
	FM(Bm__Profile, "root_device", root_device, bm__profile__root_device_entry__descriptor, 4),
	FT(Bm__Profile, "grow", F_BOOL, grow),
	FS(Bm__Profile, "loader", loader, 15),
	{ 0 },
};
static const struct field machine_fields[] = {
	FS(Bm__Machine, "name", name, 63),
	FS(Bm__Machine, "rack", rack, 63),
	FT(Bm__Machine, "mac", F_MAC, mac),
	FT(Bm__Machine, "ip", F_IP, ip),
	FS(Bm__Machine, "profile", profile, 63),
	FS(Bm__Machine, "bmc", bmc, BM_TEXT_MAX),
	FS(Bm__Machine, "password_file", bmc_password_file, BM_TEXT_MAX),
	FM(Bm__Machine, "labels", labels, bm__machine__labels_entry__descriptor, BM_LABELS_MAX),
	FT(Bm__Machine, "netboot", F_BOOL, netboot),
	FS(Bm__Machine, "firmware", firmware, 15),
	FS(Bm__Machine, "bmc_fingerprint", bmc_fingerprint, 127),
	{ 0 },
};

struct kind_def {
	const char *key;
	Bm__Kind kind;
	const ProtobufCMessageDescriptor *desc;
	const struct field *fields;
	size_t n_off, arr_off; /* in Bm__Fleet */
};

#define KD(k, K, d, f, m)                                                                          \
	{                                                                                          \
		k, K, &d, f, offsetof(Bm__Fleet, n_##m), offsetof(Bm__Fleet, m)                    \
	}
static const struct kind_def kinds[] = {
	KD("sites", BM__KIND__KIND_SITE, bm__site__descriptor, site_fields, sites),
	KD("racks", BM__KIND__KIND_RACK, bm__rack__descriptor, rack_fields, racks),
	KD("images", BM__KIND__KIND_IMAGE, bm__image__descriptor, image_fields, images),
	KD("profiles", BM__KIND__KIND_PROFILE, bm__profile__descriptor, profile_fields, profiles),
	KD("machines", BM__KIND__KIND_MACHINE, bm__machine__descriptor, machine_fields, machines),
};

/* The entry being parsed, for problem reports. */
struct pctx {
	yaml_document_t *doc;
	struct bm_problems *probs;
	Bm__Kind kind;
	uint32_t index;
	const char *name;
	int oom;
};

#define MEMBER(msg, off, T) ((T *)((char *)(msg) + (off)))

static void
problem(struct pctx *c, const char *field, const yaml_node_t *n, const char *why)
{
	size_t kept = c->probs->n;

	bm_problems_add(c->probs, c->kind, c->name, c->index, field, "%s", why);
	if (c->probs->n > kept && n)
		c->probs->v[kept].line = (uint32_t)n->start_mark.line + 1;
}

static int
set_str(struct pctx *c, char **slot, const char *s, size_t max, const char *key,
        const yaml_node_t *n)
{
	char *d;

	if (strlen(s) > max) {
		char why[64];
		snprintf(why, sizeof(why), "longer than %zu bytes", max);
		problem(c, key, n, why);
		return 0;
	}
	if (!(d = strdup(s)))
		return -ENOMEM;
	if (*slot != protobuf_c_empty_string)
		free(*slot);
	*slot = d;
	return 0;
}

/* dns: one address or a list of up to BM_DNS_MAX. */
static int
set_dns(struct pctx *c, void *msg, const struct field *f, const yaml_node_t *n)
{
	size_t *count = MEMBER(msg, f->off, size_t);
	uint32_t **arr = MEMBER(msg, f->off2, uint32_t *);
	bool seq = n->type == YAML_SEQUENCE_NODE;
	size_t total =
	    seq ? (size_t)(n->data.sequence.items.top - n->data.sequence.items.start) : 1;

	if (total > BM_DNS_MAX) {
		problem(c, f->key, n, "more than 4 DNS servers");
		return 0;
	}
	free(*arr);
	*count = 0;
	if (!(*arr = calloc(BM_DNS_MAX, sizeof(uint32_t))))
		return -ENOMEM;
	for (size_t k = 0; k < total; k++) {
		const yaml_node_t *one =
		    seq ? yaml_document_get_node(c->doc, n->data.sequence.items.start[k]) : n;
		const char *s = bm_yaml_scalar(one);
		if (!s || bm_ip4_parse(s, &(*arr)[k]) < 0) {
			problem(c, f->key, one, "not an IPv4 address");
			return 0;
		}
		*count = k + 1;
	}
	return 0;
}

static int
set_map(struct pctx *c, void *msg, const struct field *f, const yaml_node_t *n)
{
	size_t *count = MEMBER(msg, f->off, size_t);
	void ***arr = MEMBER(msg, f->off2, void **);
	bool templates = f->max == BM_TEMPLATES_MAX;
	yaml_node_pair_t *p;

	if (n->type != YAML_MAPPING_NODE) {
		problem(c, f->key, n, "not a mapping");
		return 0;
	}
	if ((size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start) > f->max) {
		char why[64];
		snprintf(why, sizeof(why), "more than %zu entries", f->max);
		problem(c, f->key, n, why);
		return 0;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *vn = yaml_document_get_node(c->doc, p->value);
		const char *k = bm_yaml_scalar(kn),
		           *v = bm_yaml_is_null(vn) ? "" : bm_yaml_scalar(vn);
		size_t vmax = templates ? BM_TEMPLATE_MAX : BM_LABEL_VALUE_MAX;
		if (!k || !v) {
			problem(c, f->key, kn, "keys and values must be text");
			continue;
		}
		if (strlen(v) > vmax) {
			problem(c, f->key, vn, "value too long");
			continue;
		}
		if (bm_map_get(*count, *arr, k)) {
			problem(c, f->key, kn, "key appears twice");
			continue;
		}
		if (bm_map_set(count, arr, f->entry, k, v) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Parse one scalar-typed field into msg. Returns 0 (problems recorded) or
 * -ENOMEM. */
static int
set_scalar(struct pctx *c, void *msg, const struct field *f, const yaml_node_t *n)
{
	const char *s = bm_yaml_scalar(n);
	uint32_t a, b;
	unsigned plen;

	if (!s) {
		problem(c, f->key, n, "not a text value");
		return 0;
	}
	switch (f->type) {
	case F_STR: return set_str(c, MEMBER(msg, f->off, char *), s, f->max, f->key, n);
	case F_IP:
		if (bm_ip4_parse(s, MEMBER(msg, f->off, uint32_t)) < 0)
			problem(c, f->key, n, "not an IPv4 address");
		return 0;
	case F_CIDR:
		if (bm_cidr_parse(s, &a, &plen) < 0) {
			problem(c, f->key, n,
			        "not a subnet like 10.12.0.0/24 (prefix 8..30, no host bits)");
			return 0;
		}
		*MEMBER(msg, f->off, uint32_t) = a;
		*MEMBER(msg, f->off2, uint32_t) = plen;
		return 0;
	case F_POOL:
		if (bm_ip4_range_parse(s, &a, &b) < 0) {
			problem(c, f->key, n, "not an address range like 10.12.0.200-10.12.0.250");
			return 0;
		}
		*MEMBER(msg, f->off, uint32_t) = a;
		*MEMBER(msg, f->off2, uint32_t) = b;
		return 0;
	case F_MAC: {
		ProtobufCBinaryData *bd = MEMBER(msg, f->off, ProtobufCBinaryData);
		uint8_t mac[6];
		if (bm_mac_parse(s, mac) < 0) {
			problem(c, f->key, n, "not a MAC address like 52:54:00:12:00:01");
			return 0;
		}
		free(bd->data);
		if (!(bd->data = malloc(6)))
			return -ENOMEM;
		memcpy(bd->data, mac, 6);
		bd->len = 6;
		return 0;
	}
	case F_SHA: {
		ProtobufCBinaryData *bd = MEMBER(msg, f->off, ProtobufCBinaryData);
		uint8_t d[BM_SHA256_LEN];
		if (bm_sha256_parse(s, d) < 0) {
			problem(c, f->key, n, "not a sha256 (64 hex digits)");
			return 0;
		}
		free(bd->data);
		if (!(bd->data = malloc(sizeof(d))))
			return -ENOMEM;
		memcpy(bd->data, d, sizeof(d));
		bd->len = sizeof(d);
		return 0;
	}
	case F_BOOL: {
		bool flag;
		if (bm_yaml_bool(n, &flag) < 0)
			problem(c, f->key, n, "not true or false");
		else
			*MEMBER(msg, f->off, protobuf_c_boolean) = flag;
		return 0;
	}
	case F_U32:
	case F_U64: {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(s, &end, 10);
		if (*s < '0' || *s > '9' || *end || errno || (f->type == F_U32 && v > UINT32_MAX))
			problem(c, f->key, n, "not a non-negative integer");
		else if (f->type == F_U32)
			*MEMBER(msg, f->off, uint32_t) = (uint32_t)v;
		else
			*MEMBER(msg, f->off, uint64_t) = v;
		return 0;
	}
	default: return 0;
	}
}

static int
set_field(struct pctx *c, void *msg, const struct field *f, const yaml_node_t *n)
{
	if (bm_yaml_is_null(n))
		return 0; /* absent */
	if (f->type == F_MAP)
		return set_map(c, msg, f, n);
	if (f->type == F_DNS)
		return set_dns(c, msg, f, n);
	return set_scalar(c, msg, f, n);
}

static const struct field *
find_field(const struct field *fields, const char *key)
{
	for (const struct field *f = fields; key && f->key; f++)
		if (!strcmp(f->key, key))
			return f;
	return NULL;
}

/* The entry's name, found first so that every problem can name the entry. */
static const char *
entry_name(yaml_document_t *doc, const yaml_node_t *entry)
{
	for (yaml_node_pair_t *p = entry->data.mapping.pairs.start;
	     p < entry->data.mapping.pairs.top; p++) {
		const char *k = bm_yaml_scalar(yaml_document_get_node(doc, p->key));
		if (k && !strcmp(k, "name"))
			return bm_yaml_scalar(yaml_document_get_node(doc, p->value));
	}
	return NULL;
}

static int
parse_fields(struct pctx *c, const struct kind_def *kd, void *msg, const yaml_node_t *entry)
{
	uint32_t seen = 0; /* bit per field of the table */

	for (yaml_node_pair_t *p = entry->data.mapping.pairs.start;
	     p < entry->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		const char *k = bm_yaml_scalar(kn);
		const struct field *f = find_field(kd->fields, k);
		char why[128];
		int r;

		if (!f) {
			char esc[64];
			snprintf(why, sizeof(why), "unknown field \"%s\"",
			         k ? bm_log_escape(k, esc, sizeof(esc)) : "?");
			problem(c, "", kn, why);
			continue;
		}
		if (seen & (1u << (f - kd->fields))) {
			problem(c, f->key, kn, "field appears twice");
			continue;
		}
		seen |= 1u << (f - kd->fields);
		r = set_field(c, msg, f, yaml_document_get_node(c->doc, p->value));
		if (r < 0)
			return r;
	}
	return 0;
}

/* Append a new entry of kind kd to the fleet; returns it or NULL on ENOMEM. */
static void *
fleet_append(struct bm_fleet *fl, const struct kind_def *kd, uint32_t line)
{
	size_t *n = MEMBER(fl->fleet, kd->n_off, size_t);
	void ***arr = MEMBER(fl->fleet, kd->arr_off, void **);
	uint32_t **lines = &fl->lines[kd->kind];
	void *msg;

	if (*n % 64 == 0) {
		void **a = realloc(*arr, (*n + 64) * sizeof(void *));
		if (!a)
			return NULL;
		*arr = a;
		uint32_t *l = realloc(*lines, (*n + 64) * sizeof(uint32_t));
		if (!l)
			return NULL;
		*lines = l;
	}
	if (!(msg = malloc(kd->desc->sizeof_message)))
		return NULL;
	protobuf_c_message_init(kd->desc, msg);
	(*arr)[*n] = msg;
	(*lines)[*n] = line;
	(*n)++;
	return msg;
}

static int
parse_entries(struct pctx *c, struct bm_fleet *fl, const struct kind_def *kd,
              const yaml_node_t *seq)
{
	uint32_t index = 0;

	if (bm_yaml_is_null(seq))
		return 0;
	if (seq->type != YAML_SEQUENCE_NODE) {
		problem(c, "", seq, "not a list of entries");
		return 0;
	}
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++, index++) {
		yaml_node_t *entry = yaml_document_get_node(c->doc, *it);
		void *msg;
		int r;

		c->kind = kd->kind;
		c->index = *MEMBER(fl->fleet, kd->n_off, size_t);
		c->name = NULL;
		if (!entry || entry->type != YAML_MAPPING_NODE) {
			c->index = index;
			problem(c, "", entry, "entry is not a mapping");
			continue;
		}
		c->name = entry_name(c->doc, entry);
		if (!(msg = fleet_append(fl, kd, (uint32_t)entry->start_mark.line + 1)))
			return -ENOMEM;
		if ((r = parse_fields(c, kd, msg, entry)) < 0)
			return r;
	}
	return 0;
}

static const struct kind_def *
find_kind(const char *key)
{
	for (size_t i = 0; key && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strcmp(kinds[i].key, key))
			return &kinds[i];
	return NULL;
}

static int
parse_root(struct pctx *c, struct bm_fleet *fl, const yaml_node_t *root)
{
	uint32_t seen = 0;

	if (!root || bm_yaml_is_null(root))
		return 0;
	if (root->type != YAML_MAPPING_NODE) {
		problem(c, "", root,
		        "the file must be a mapping of sites, racks, images, profiles, machines");
		return 0;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *kn = yaml_document_get_node(c->doc, p->key);
		const struct kind_def *kd = find_kind(bm_yaml_scalar(kn));
		int r;

		c->kind = BM__KIND__KIND_UNSPECIFIED;
		c->name = NULL;
		c->index = 0;
		if (!kd) {
			problem(
			    c, "", kn,
			    "unknown section (expected sites, racks, images, profiles, machines)");
			continue;
		}
		if (seen & (1u << kd->kind)) {
			problem(c, "", kn, "section appears twice");
			continue;
		}
		seen |= 1u << kd->kind;
		if ((r = parse_entries(c, fl, kd, yaml_document_get_node(c->doc, p->value))) < 0)
			return r;
	}
	return 0;
}

Bm__Fleet *
bm_fleet_new(void)
{
	Bm__Fleet *f = malloc(sizeof(*f));
	if (f)
		bm__fleet__init(f);
	return f;
}

void
bm_fleet_fini(struct bm_fleet *f)
{
	if (f->fleet)
		protobuf_c_message_free_unpacked(&f->fleet->base, NULL);
	for (size_t i = 0; i < sizeof(f->lines) / sizeof(f->lines[0]); i++)
		free(f->lines[i]);
	memset(f, 0, sizeof(*f));
}

static void
yaml_problem(struct bm_problems *probs, const yaml_parser_t *ps)
{
	size_t kept = probs->n;

	bm_problems_add(probs, BM__KIND__KIND_UNSPECIFIED, "", 0, "", "column %zu: %s%s%s",
	                ps->problem_mark.column + 1, ps->problem ? ps->problem : "YAML error",
	                ps->context ? " " : "", ps->context ? ps->context : "");
	if (probs->n > kept)
		probs->v[kept].line = (uint32_t)ps->problem_mark.line + 1;
}

int
bm_fleet_parse(const char *text, size_t len, struct bm_fleet *ret, struct bm_problems *probs)
{
	struct bm_fleet fl = { 0 };
	size_t before = probs->total;
	yaml_parser_t ps;
	yaml_document_t doc, extra;
	struct pctx c = { .doc = &doc, .probs = probs };
	int r = 0;

	if (!(fl.fleet = bm_fleet_new()))
		return -ENOMEM;
	yaml_parser_initialize(&ps);
	yaml_parser_set_input_string(&ps, (const unsigned char *)text, len);
	if (!yaml_parser_load(&ps, &doc)) {
		yaml_problem(probs, &ps);
		goto out_parser;
	}
	r = parse_root(&c, &fl, yaml_document_get_root_node(&doc));
	if (r == 0 && yaml_parser_load(&ps, &extra)) {
		if (yaml_document_get_root_node(&extra))
			bm_problems_add(probs, 0, "", 0, "",
			                "more than one YAML document in the file");
		yaml_document_delete(&extra);
	}
	yaml_document_delete(&doc);
out_parser:
	yaml_parser_delete(&ps);
	if (r < 0) {
		bm_fleet_fini(&fl);
		return r;
	}
	*ret = fl;
	return probs->total > before ? -EINVAL : 0;
}

int
bm_fleet_load(const char *path, struct bm_fleet *ret, struct bm_problems *probs)
{
	struct stat st;
	char *text;
	ssize_t n;
	int fd, r;

	memset(ret, 0, sizeof(*ret));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	r = fstat(fd, &st) < 0               ? -errno
	    : !S_ISREG(st.st_mode)           ? -EINVAL
	    : st.st_size > BM_FLEET_FILE_MAX ? -EFBIG
	                                     : 0;
	if (r == -EINVAL)
		bm_problems_add(probs, 0, "", 0, "", "not a regular file");
	if (r < 0) {
		close(fd);
		return r;
	}
	if (!(text = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, text, (size_t)st.st_size);
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r == 0)
		r = bm_fleet_parse(text, (size_t)n, ret, probs);
	free(text);
	return r;
}
