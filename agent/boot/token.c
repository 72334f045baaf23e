#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "bm/util.h"

bool
boot_key_of(const struct rack_host *h, struct boot_key *k)
{
	const Bm__Machine *m = h->m;

	bool installed = m->started_ms && m->state == BM__MACHINE_STATE__STATE_INSTALLED;

	memset(k, 0, sizeof(*k));
	if (!h->netboot && !installed)
		return false;
	if (m->started_ms && (m->state == BM__MACHINE_STATE__STATE_REIMAGING ||
	                      m->state == BM__MACHINE_STATE__STATE_NETBOOTING ||
	                      m->state == BM__MACHINE_STATE__STATE_INSTALLING || installed)) {
		snprintf(k->op, sizeof(k->op), "%s", m->operation ? m->operation : "");
		k->seq = m->power_seq;
	}
	return true;
}

bool
token_same_boot(const struct boot_token *t, const struct boot_key *k)
{
	return !strcmp(t->key.op, k->op) && (!*k->op || t->key.seq == k->seq);
}

bool
token_live(const struct boot_token *t, const struct boot_key *k)
{
	return t && !t->revoked && token_same_boot(t, k);
}

bool
token_renew(const struct boot_token *t, const struct boot_key *k, uint64_t now_ms,
            struct boot_token *ret, int *err)
{
	*err = 0;
	if (t && token_same_boot(t, k) && (!t->revoked || *k->op))
		return false;
	memset(ret, 0, sizeof(*ret));
	ret->key = *k;
	if (!*k->op) /* a standing netboot: its boots are numbered */
		ret->key.seq = t && !*t->key.op ? t->key.seq + 1 : 1;
	ret->made_ms = now_ms;
	if (getrandom(ret->secret, TOKEN_BYTES, 0) != TOKEN_BYTES) {
		*err = -EIO;
		return false;
	}
	return true;
}

void
token_hex(const struct boot_token *t, char out[TOKEN_HEX])
{
	static const char hex[] = "0123456789abcdef";

	for (unsigned i = 0; i < TOKEN_BYTES; i++) {
		out[2 * i] = hex[t->secret[i] >> 4];
		out[2 * i + 1] = hex[t->secret[i] & 15];
	}
	out[TOKEN_HEX - 1] = '\0';
}

bool
token_matches(const struct boot_token *t, const char *text)
{
	char want[TOKEN_HEX];
	unsigned char diff = 0;

	if (strlen(text) != TOKEN_HEX - 1)
		return false;
	token_hex(t, want);
	for (unsigned i = 0; i < TOKEN_HEX - 1; i++)
		diff |= (unsigned char)(want[i] ^ text[i]);
	return diff == 0;
}
