#include "bm/bmc_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bm/seal.h"

/* The user part of url: [*ret_user, at) where at is the '@'; NULL when the
 * URL has no user. */
static const char *
user_part(const char *url, const char **ret_user)
{
	const char *scheme = strstr(url, "://"), *at;

	if (!scheme)
		return NULL;
	*ret_user = scheme + 3;
	at = strchr(*ret_user, '@');
	if (!at || memchr(*ret_user, '/', (size_t)(at - *ret_user)))
		return NULL;
	return at;
}

int
bm_bmc_split(const char *url, char *url_out, size_t url_len, char *pass_out, size_t pass_len)
{
	const char *user, *at = user_part(url, &user), *colon;

	pass_out[0] = '\0';
	colon = at ? memchr(user, ':', (size_t)(at - user)) : NULL;
	if (!colon) {
		if ((size_t)snprintf(url_out, url_len, "%s", url) >= url_len)
			return -ENAMETOOLONG;
		return 0;
	}
	if ((size_t)(at - colon - 1) >= pass_len ||
	    (size_t)snprintf(url_out, url_len, "%.*s%s", (int)(colon - url), url, at) >= url_len)
		return -ENAMETOOLONG;
	snprintf(pass_out, pass_len, "%.*s", (int)(at - colon - 1), colon + 1);
	return 1;
}

int
bm_bmc_join(const char *url, const char *pass, char *out, size_t len)
{
	const char *user, *at = user_part(url, &user);

	if (!at || !*pass)
		return (size_t)snprintf(out, len, "%s", url) < len ? 0 : -ENAMETOOLONG;
	return (size_t)snprintf(out, len, "%.*s:%s%s", (int)(at - url), url, pass, at) < len
	           ? 0
	           : -ENAMETOOLONG;
}

const char *
bm_bmc_masked(const char *url, int password_set, char *buf, size_t len)
{
	char bare[512], pass[256];

	if (bm_bmc_split(url, bare, sizeof(bare), pass, sizeof(pass)) < 0)
		bare[0] = '\0';
	if ((*pass || password_set) && bm_bmc_join(bare, "***", buf, len) == 0)
		return buf;
	snprintf(buf, len, "%s", bare);
	return buf;
}

int
bm_secret_read(const char *path, char *out)
{
	char buf[BM_SECRET_MAX + 3];
	int fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : 0;
	size_t n = 0;
	ssize_t r = 1;

	if (fd < 0)
		return -errno;
	while (n < sizeof(buf) && (r = read(fd, buf + n, sizeof(buf) - n)) > 0)
		n += (size_t)r;
	if (fd)
		close(fd);
	if (r < 0)
		return -EIO;
	if (n && buf[n - 1] == '\n')
		n--;
	if (n && buf[n - 1] == '\r')
		n--;
	int e = n > BM_SECRET_MAX ? -EFBIG : !n || memchr(buf, '\n', n) || memchr(buf, '\0', n) ? -EINVAL : 0;
	if (e == 0) {
		memcpy(out, buf, n);
		out[n] = '\0';
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return e ? e : (int)n;
}

/* path relative to the folder of fleet_path, into out. */
static int
beside(const char *fleet_path, const char *path, char *out, size_t len)
{
	const char *slash = strrchr(fleet_path, '/');
	int n = path[0] == '/' || !slash
	            ? snprintf(out, len, "%s", path)
	            : snprintf(out, len, "%.*s/%s", (int)(slash - fleet_path), fleet_path, path);
	return n >= 0 && (size_t)n < len ? 0 : -ENAMETOOLONG;
}

int
bm_fleet_read_passwords(Bm__Fleet *f, const char *fleet_path, struct bm_problems *probs)
{
	size_t before = probs->total;

	for (size_t i = 0; i < f->n_machines; i++) {
		Bm__Machine *m = f->machines[i];
		char path[4096], pass[BM_SECRET_MAX + 1], *copy;
		int r;

		if (!*m->bmc_password_file)
			continue;
		r = beside(fleet_path, m->bmc_password_file, path, sizeof(path));
		if (r == 0)
			r = bm_secret_read(path, pass);
		if (r < 0) {
			bm_problems_add(probs, BM__KIND__KIND_MACHINE, m->name, (uint32_t)i,
			                "password_file", "%s: %s", m->bmc_password_file,
			                r == -EINVAL  ? "empty, or more than one line"
			                : r == -EFBIG ? "longer than a BMC password may be"
			                              : strerror(-r));
			continue;
		}
		copy = strdup(pass);
		OPENSSL_cleanse(pass, sizeof(pass));
		if (!copy)
			return -ENOMEM;
		if (m->bmc_password != protobuf_c_empty_string)
			free(m->bmc_password);
		m->bmc_password = copy;
		if (m->bmc_password_file != protobuf_c_empty_string)
			free(m->bmc_password_file);
		m->bmc_password_file = (char *)protobuf_c_empty_string;
	}
	return (int)(probs->total - before);
}
