#include "secrets.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bm/bmc_secret.h"
#include "bm/fleet.h"
#include "bm/log.h"

#define SEALED_MAX (BM_SECRET_MAX + BM_SEAL_OVERHEAD)

int
secrets_load(struct secrets *s, const char *path, char *why, size_t len)
{
	int r;

	memset(s, 0, sizeof(*s));
	if (!path)
		return 0;
	if ((r = bm_seal_key_load(path, s->key)) < 0) {
		snprintf(why, len, "--secrets-key %s: %s", path,
		         r == -EINVAL ? "not a key of 32 bytes (bmctl pki init writes one)"
		                      : strerror(-r));
		return r;
	}
	s->have = true;
	return 0;
}

/* Replace a request's string (heap, or protobuf-c's empty string). */
static int
set_string(char **slot, const char *v)
{
	char *d = strdup(v);

	if (!d)
		return -ENOMEM;
	if (*slot != protobuf_c_empty_string) {
		OPENSSL_cleanse(*slot, strlen(*slot));
		free(*slot);
	}
	*slot = d;
	return 0;
}

/* The stored sealing of m, when it opens to pass: reused as is. */
static bool
reuse_stored(const struct secrets *s, struct store *st, Bm__Machine *m, const char *pass)
{
	uint8_t old[SEALED_MAX];
	char open_[BM_SECRET_MAX + 1];
	struct store_read *rd;
	size_t n = 0;
	bool same = false;

	if (store_read_begin(st, &rd) < 0)
		return false;
	if (store_machine_sealed(rd, m->name, old, sizeof(old), &n) == 0 && n &&
	    bm_unseal(s->key, m->name, old, n, open_) >= 0 && !strcmp(open_, pass) &&
	    (m->bmc_sealed.data = malloc(n))) {
		memcpy(m->bmc_sealed.data, old, n);
		m->bmc_sealed.len = n;
		same = true;
	}
	store_read_end(rd);
	OPENSSL_cleanse(open_, sizeof(open_));
	return same;
}

/* One machine: its password out of the URL and the request, sealed. */
static int
seal_one(const struct secrets *s, struct store *st, Bm__Machine *m, char *why, size_t len)
{
	char url[BM_TEXT_MAX + 1], pass[BM_SECRET_MAX + 1];
	int r = strlen(m->bmc) <= BM_TEXT_MAX ? bm_bmc_split(m->bmc, url, sizeof(url), pass,
	                                                     sizeof(pass))
	                                      : 0;

	if (r < 0) {
		snprintf(why, len, "machine %.63s: BMC password longer than %u bytes", m->name,
		         BM_SECRET_MAX);
		return -EINVAL;
	}
	if (r > 0 && (r = set_string(&m->bmc, url)) < 0)
		goto out;
	if (*m->bmc_password)
		snprintf(pass, sizeof(pass), "%s", m->bmc_password);
	if ((r = set_string(&m->bmc_password, "")) < 0 || !*pass)
		goto out;
	if (!s->have) {
		snprintf(why, len,
		         "machine %.63s has a BMC password, and this coordinator has no "
		         "--secrets-key to seal it with (bmctl pki init writes DIR/secrets.key)",
		         m->name);
		r = -EPERM;
		goto out;
	}
	free(m->bmc_sealed.data);
	m->bmc_sealed.data = NULL;
	m->bmc_sealed.len = 0;
	if (reuse_stored(s, st, m, pass))
		goto out;
	if (!(m->bmc_sealed.data = malloc(strlen(pass) + BM_SEAL_OVERHEAD))) {
		r = -ENOMEM;
		goto out;
	}
	m->bmc_sealed.len = strlen(pass) + BM_SEAL_OVERHEAD;
	if ((r = bm_seal(s->key, m->name, pass, strlen(pass), m->bmc_sealed.data)) < 0)
		snprintf(why, len, "sealing machine %.63s's BMC password failed", m->name);
out:
	OPENSSL_cleanse(pass, sizeof(pass));
	if (r == -ENOMEM)
		snprintf(why, len, "out of memory");
	return r;
}

int
secrets_seal(const struct secrets *s, struct store *st, Bm__Machine **machines, size_t n,
             char *why, size_t len)
{
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		Bm__Machine *m = machines[i];
		if (m->bmc_sealed.len) { /* only the coordinator seals */
			snprintf(why, len, "machine %.63s: bmc_sealed is not for clients", m->name);
			return -EINVAL;
		}
		r = seal_one(s, st, m, why, len);
	}
	return r;
}

int
secrets_open_watch(const struct secrets *s, struct store_read *rd, Bm__WatchResult *w)
{
	for (size_t i = 0; i < w->n_puts; i++) {
		Bm__Machine *m = w->puts[i]->obj_case == BM__OBJECT__OBJ_MACHINE ? w->puts[i]->machine
		                                                                 : NULL;
		uint8_t sealed[SEALED_MAX];
		char pass[BM_SECRET_MAX + 1];
		size_t n = 0;
		int r;

		if (!m || !m->bmc_password_set)
			continue;
		if ((r = store_machine_sealed(rd, m->name, sealed, sizeof(sealed), &n)) < 0 || !n)
			continue;
		if (!s->have || bm_unseal(s->key, m->name, sealed, n, pass) < 0) {
			BM_WARN("secrets",
			        "machine=%s BMC password not given to its agent: %s", m->name,
			        s->have ? "sealed under another --secrets-key" : "no --secrets-key");
			continue;
		}
		r = set_string(&m->bmc_password, pass);
		OPENSSL_cleanse(pass, sizeof(pass));
		if (r < 0)
			return r;
	}
	return 0;
}
