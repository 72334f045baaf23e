#include "disk_choice.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bm/fleet.h"

static bool
usable(const struct disk *d)
{
	return !d->removable && !d->readonly;
}

static bool
matches(const struct disk *d, const struct disk_hints *h)
{
	return (!*h->by_path || !strcmp(d->by_path, h->by_path)) &&
	       (!*h->serial || !strcmp(d->serial, h->serial)) &&
	       (!h->min_size || d->size >= h->min_size) && (!h->max_size || d->size <= h->max_size);
}

/* "sda (480 GB), vda (10 GB)": the disks i with keep[i]. */
static void
list(const struct disk *d, size_t n, const bool *keep, char *out, size_t len)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o < len; i++)
		if (keep[i])
			o +=
			    (size_t)snprintf(out + o, len - o, "%s%s (%llu bytes%s)", o ? ", " : "",
			                     d[i].name, (unsigned long long)d[i].size,
			                     !usable(&d[i]) ? ", removable or read-only" : "");
}

/* Why nothing is a candidate. */
static int
refuse_none(const struct disk *d, size_t n, const struct disk_hints *h, uint64_t need, char *why,
            size_t wlen)
{
	bool all[64] = { false };
	size_t big = n, m = n < 64 ? n : 64, usable_n = 0;
	char l[512];

	for (size_t i = 0; i < m; i++) {
		all[i] = true;
		usable_n += usable(&d[i]);
		if (usable(&d[i]) && matches(&d[i], h) && (big == n || d[i].size > d[big].size))
			big = i;
	}
	list(d, m, all, l, sizeof(l));
	if (!usable_n) {
		snprintf(why, wlen, "no disk: %s", n ? l : "the kernel lists none");
		return -ENODEV;
	}
	if (big == n) {
		snprintf(why, wlen, "no disk matches root_device%s%s%s%s: %s",
		         *h->by_path ? " by_path=" : "", h->by_path, *h->serial ? " serial=" : "",
		         h->serial, l);
		return -ENOENT;
	}
	snprintf(why, wlen,
	         "disk too small: the image needs %llu bytes, the largest is %s (%llu bytes)",
	         (unsigned long long)need, d[big].name, (unsigned long long)d[big].size);
	return -ENOSPC;
}

int
disk_choose(const struct disk *d, size_t n, const struct disk_hints *h, uint64_t need, char *why,
            size_t wlen)
{
	bool cand[64] = { false }, tie[64] = { false };
	size_t m = n < 64 ? n : 64, best = m, ties = 0;
	char l[512];

	for (size_t i = 0; i < m; i++) {
		cand[i] = usable(&d[i]) && d[i].size >= need && matches(&d[i], h);
		if (!cand[i] || best == m)
			best = cand[i] ? i : best;
		else if (h->pick == DISK_PICK_LARGEST    ? d[i].size > d[best].size
		         : h->pick == DISK_PICK_SMALLEST ? d[i].size < d[best].size
		                                         : false)
			best = i;
	}
	if (best == m)
		return refuse_none(d, n, h, need, why, wlen);
	if (h->pick == DISK_PICK_FIRST)
		return (int)best;
	for (size_t i = 0; i < m; i++)
		ties += (tie[i] = cand[i] && d[i].size == d[best].size);
	if (ties == 1)
		return (int)best;
	list(d, m, tie, l, sizeof(l));
	snprintf(why, wlen, "root_device %s is ambiguous: %s; name one by by_path or serial",
	         h->pick == DISK_PICK_LARGEST ? "largest" : "smallest", l);
	return -EEXIST;
}

/* One key=value of the hints. */
static int
hint(struct disk_hints *h, const char *kv, size_t n, char *why, size_t wlen)
{
	const char *eq = memchr(kv, '=', n);
	size_t kl = eq ? (size_t)(eq - kv) : n, vl = eq ? n - kl - 1 : 0;
	char v[DISK_ID_MAX];

	if (!eq || vl == 0 || vl >= sizeof(v)) {
		snprintf(why, wlen, "root_device: \"%.*s\" is not key=value", (int)n, kv);
		return -EINVAL;
	}
	memcpy(v, eq + 1, vl);
	v[vl] = '\0';
	if (kl == 7 && !memcmp(kv, "by_path", 7))
		memcpy(h->by_path, v, vl + 1);
	else if (kl == 6 && !memcmp(kv, "serial", 6))
		memcpy(h->serial, v, vl + 1);
	else if (kl == 4 && !memcmp(kv, "size", 4) &&
	         bm_root_device_size(v, &h->min_size, &h->max_size) == 0)
		;
	else if (kl == 4 && !memcmp(kv, "pick", 4) &&
	         (!strcmp(v, "largest") || !strcmp(v, "smallest")))
		h->pick = !strcmp(v, "largest") ? DISK_PICK_LARGEST : DISK_PICK_SMALLEST;
	else {
		snprintf(why, wlen,
		         "root_device: \"%.*s\": not by_path, serial, size=MIN-MAX or "
		         "pick=largest|smallest",
		         (int)n, kv);
		return -EINVAL;
	}
	return 0;
}

int
disk_hints_parse(const char *text, struct disk_hints *h, char *why, size_t wlen)
{
	memset(h, 0, sizeof(*h));
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, ",");
		int r;
		if (n && (r = hint(h, p, n, why, wlen)) < 0)
			return r;
		p += n + (p[n] == ',');
	}
	return 0;
}
