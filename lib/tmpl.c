#include "bm/tmpl.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/buf.h"

const char *const bm_tmpl_vars[] = {
	"mac",   "hostname",   "ip",         "gateway",  "netmask",   "prefix_len",
	"dns",   "rack",       "site",       "profile",  "agent_url", "callback_url",
	"token", "kernel_url", "initrd_url", "seed_url", "image_url", "image_sha256",
	"image_format", "root_device", "grow", NULL,
};

#define LABEL_PREFIX "labels."

static bool
name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first &&
	        ((c >= '0' && c <= '9') || c == '.' || c == '-' || (c >= 'A' && c <= 'Z')));
}

static bool
var_known(const char *name)
{
	if (strncmp(name, LABEL_PREFIX, strlen(LABEL_PREFIX)) == 0)
		return name[strlen(LABEL_PREFIX)] != '\0';
	for (unsigned i = 0; bm_tmpl_vars[i]; i++)
		if (strcmp(name, bm_tmpl_vars[i]) == 0)
			return true;
	return false;
}

/* One token of a template: a literal run or a variable. */
struct tok {
	const char *lit; /* literal run, or NULL for a variable */
	size_t litlen;
	char var[BM_TMPL_VAR_MAX + 1];
};

/* Read the token at text[*pos]. Returns 1 with *t filled, 0 at the end,
 * -EINVAL with `why` set on a syntax error. */
static int
next_tok(const char *text, size_t len, size_t *pos, unsigned *line, struct tok *t, char *why,
         size_t whylen)
{
	size_t i = *pos, n = 0;

	if (i >= len)
		return 0;
	if (!(i + 1 < len && text[i] == '{' && text[i + 1] == '{')) {
		size_t j = i;
		while (j < len && !(j + 1 < len && text[j] == '{' && text[j + 1] == '{')) {
			if (text[j] == '\n')
				(*line)++;
			j++;
		}
		t->lit = text + i;
		t->litlen = j - i;
		*pos = j;
		return 1;
	}
	i += 2;
	while (i < len && text[i] == ' ')
		i++;
	while (i < len && name_char(text[i], n == 0)) {
		if (n == BM_TMPL_VAR_MAX) {
			snprintf(why, whylen, "line %u: variable name longer than %u", *line,
			         BM_TMPL_VAR_MAX);
			return -EINVAL;
		}
		t->var[n++] = text[i++];
	}
	t->var[n] = '\0';
	while (i < len && text[i] == ' ')
		i++;
	if (n == 0 || i + 1 >= len || text[i] != '}' || text[i + 1] != '}') {
		snprintf(why, whylen, "line %u: '{{' is not followed by a variable name and '}}'",
		         *line);
		return -EINVAL;
	}
	t->lit = NULL;
	*pos = i + 2;
	return 1;
}

int
bm_tmpl_check(const char *text, size_t len, char *why, size_t whylen)
{
	size_t pos = 0;
	unsigned line = 1;
	struct tok t;
	int r;

	while ((r = next_tok(text, len, &pos, &line, &t, why, whylen)) > 0) {
		if (!t.lit && !var_known(t.var)) {
			snprintf(why, whylen, "line %u: unknown variable {{%s}}", line, t.var);
			return -EINVAL;
		}
	}
	return r;
}

long
bm_tmpl_render(const char *text, size_t len, bm_tmpl_lookup_fn lookup, void *arg, char **ret_out)
{
	struct bm_buf b = { 0 };
	size_t pos = 0;
	unsigned line = 1;
	char why[128];
	struct tok t;
	int r;

	r = bm_buf_put(&b, "", 0);
	while (r == 0 && (r = next_tok(text, len, &pos, &line, &t, why, sizeof(why))) > 0) {
		const char *v = t.lit ? NULL : lookup(arg, t.var);
		r = t.lit ? bm_buf_put(&b, t.lit, t.litlen) : bm_buf_puts(&b, v ? v : "");
	}
	if (r < 0) {
		free(b.p);
		return r;
	}
	*ret_out = b.p;
	return (long)b.n;
}
