#include "args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* word's value when it is key=..., else NULL. */
static const char *
value(const char *word, size_t len, const char *key, size_t *vlen)
{
	size_t k = strlen(key);
	if (len <= k || strncmp(word, key, k) || word[k] != '=')
		return NULL;
	*vlen = len - k - 1;
	return word + k + 1;
}

static bool
copy(char *out, size_t cap, const char *v, size_t n)
{
	if (n >= cap)
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

static bool
http_url(const char *u)
{
	return !strncmp(u, "http://", 7) || !strncmp(u, "https://", 8);
}

/* One bm.* word. Returns false when its value does not fit or parse. */
static bool
word(struct deploy_args *a, const char *w, size_t n, char sha[2 * BM_SHA256_LEN + 1], char fmt[16],
     const char **bad)
{
	static const char *const keys[] = { "bm.image", "bm.callback", "bm.seed",   "bm.token",
		                            "bm.root",  "bm.sha256",   "bm.format", "bm.grow" };
	char *out[] = { a->image, a->callback, a->seed, a->token, a->root, sha, fmt, NULL };
	size_t cap[] = { sizeof(a->image),
		         sizeof(a->callback),
		         sizeof(a->seed),
		         sizeof(a->token),
		         sizeof(a->root),
		         2 * BM_SHA256_LEN + 1,
		         16 };
	const char *v;
	size_t vl;

	for (unsigned i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!(v = value(w, n, keys[i], &vl)))
			continue;
		*bad = keys[i];
		if (out[i])
			return copy(out[i], cap[i], v, vl);
		a->grow = vl == 1 && (*v == '1' || *v == 'y');
		a->grow |=
		    (vl == 4 && !strncmp(v, "true", 4)) || (vl == 3 && !strncmp(v, "yes", 3));
		return true;
	}
	return true;
}

int
deploy_args_parse(const char *cmdline, struct deploy_args *a, char *why, size_t wlen)
{
	char sha[2 * BM_SHA256_LEN + 1] = "", fmt[16] = "raw.zst";
	const char *p = cmdline, *bad = NULL;

	memset(a, 0, sizeof(*a));
	while (*p) {
		size_t n = strcspn(p, " \t\n");
		if (n && !word(a, p, n, sha, fmt, &bad)) {
			snprintf(why, wlen, "%s= is too long", bad);
			return -EINVAL;
		}
		p += n;
		p += strspn(p, " \t\n");
	}
	if (!http_url(a->callback)) {
		snprintf(why, wlen, "no bm.callback=http://... on the kernel command line");
		return -EINVAL;
	}
	if (!http_url(a->image)) {
		snprintf(why, wlen,
		         "no bm.image=http://... on the kernel command line (the profile "
		         "names no disk_image, or the agent does not hold it)");
		return -EINVAL;
	}
	if (bm_sha256_parse(sha, a->sha256) < 0) {
		snprintf(why, wlen, "bm.sha256= is not 64 hex digits");
		return -EINVAL;
	}
	if (strcmp(fmt, "raw.zst") && strcmp(fmt, "raw")) {
		snprintf(why, wlen, "bm.format=%s is not raw.zst or raw", fmt);
		return -EINVAL;
	}
	a->zstd = !strcmp(fmt, "raw.zst");
	if (*a->seed && !http_url(a->seed)) {
		snprintf(why, wlen, "bm.seed= is not an http URL");
		return -EINVAL;
	}
	return 0;
}
