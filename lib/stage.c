#include "bm/stage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bm/netaddr.h"
#include "bm/proto.h"

static int
copy(char *dst, size_t len, const char *src, size_t n)
{
	if (n == 0 || n >= len)
		return -EINVAL;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

static int
parse_label(const char *kv, struct bm_stage_target *t, char *why, size_t wlen)
{
	const char *eq = strchr(kv, '=');

	t->kind = BM_STAGE_LABEL;
	if (!eq || copy(t->name, sizeof(t->name), kv, (size_t)(eq - kv)) < 0 ||
	    strlen(eq + 1) >= sizeof(t->value)) {
		snprintf(why, wlen, "a label target is label/KEY=VALUE");
		return -EINVAL;
	}
	snprintf(t->value, sizeof(t->value), "%s", eq + 1);
	return 0;
}

int
bm_stage_parse(const char *text, struct bm_stage_target *t, bool *bare, char *why, size_t wlen)
{
	const char *slash = strchr(text, '/');

	memset(t, 0, sizeof(*t));
	*bare = false;
	if (!strncmp(text, "label/", 6))
		return parse_label(text + 6, t, why, wlen);
	if (!slash && strchr(text, '='))
		return parse_label(text, t, why, wlen);
	if (slash && !strncmp(text, "rack/", 5))
		t->kind = BM_STAGE_RACK;
	else if (slash && !strncmp(text, "site/", 5))
		t->kind = BM_STAGE_SITE;
	else if (slash) {
		snprintf(why, wlen, "target %s: give rack/NAME, site/NAME or label/KEY=VALUE",
		         text);
		return -EINVAL;
	} else
		*bare = true;
	const char *name = slash ? slash + 1 : text;
	if (!bm_name_valid(name) || strlen(name) >= sizeof(t->name)) {
		snprintf(why, wlen, "target %s: \"%s\" is not a valid name", text, name);
		return -EINVAL;
	}
	snprintf(t->name, sizeof(t->name), "%s", name);
	return 0;
}

void
bm_stage_format(const struct bm_stage_target *t, char *out, size_t len)
{
	if (t->kind == BM_STAGE_LABEL)
		snprintf(out, len, "label/%s=%s", t->name, t->value);
	else
		snprintf(out, len, "%s/%s", t->kind == BM_STAGE_RACK ? "rack" : "site", t->name);
}

bool
bm_stage_matches(const char *target, const char *rack, const char *site,
                 Bm__Machine *const *machines, size_t n_machines)
{
	struct bm_stage_target t;
	char why[8];
	bool bare;

	if (bm_stage_parse(target, &t, &bare, why, sizeof(why)) < 0 || bare)
		return false; /* stored targets are normalized */
	if (t.kind == BM_STAGE_RACK)
		return !strcmp(t.name, rack);
	if (t.kind == BM_STAGE_SITE)
		return *site && !strcmp(t.name, site);
	for (size_t i = 0; i < n_machines; i++) {
		const char *v =
		    bm_map_get(machines[i]->n_labels, (void **)machines[i]->labels, t.name);
		if (v && !strcmp(v, t.value))
			return true;
	}
	return false;
}
