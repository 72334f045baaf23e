#include "bm/sha256.h"

#include <errno.h>
/* mbedTLS 2.28 (Debian 12): the *_ret functions are the non-deprecated API. */
#include <mbedtls/sha256.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "bm/util.h"

_Static_assert(sizeof(mbedtls_sha256_context) <= sizeof(((struct bm_sha256 *)0)->ctx),
               "bm_sha256 too small for mbedtls_sha256_context");

#define CTX(h) ((mbedtls_sha256_context *)(void *)(h)->ctx)

void
bm_sha256_init(struct bm_sha256 *h)
{
	mbedtls_sha256_init(CTX(h));
	mbedtls_sha256_starts_ret(CTX(h), 0);
}

void
bm_sha256_update(struct bm_sha256 *h, const void *data, size_t len)
{
	mbedtls_sha256_update_ret(CTX(h), data, len);
}

void
bm_sha256_final(struct bm_sha256 *h, uint8_t out[BM_SHA256_LEN])
{
	mbedtls_sha256_finish_ret(CTX(h), out);
	mbedtls_sha256_free(CTX(h));
}

int
bm_sha256_fd(int fd, uint8_t out[BM_SHA256_LEN], uint64_t *ret_size)
{
	enum { BLOCK = 1 << 20 };
	struct bm_sha256 h;
	uint64_t size = 0;
	char *block = malloc(BLOCK);
	ssize_t n;

	if (!block)
		return -ENOMEM;
	bm_sha256_init(&h);
	while ((n = pread(fd, block, BLOCK, (off_t)size)) > 0) {
		bm_sha256_update(&h, block, (size_t)n);
		size += (uint64_t)n;
	}
	free(block);
	if (n < 0) {
		int e = errno;
		bm_sha256_final(&h, out);
		return -e;
	}
	bm_sha256_final(&h, out);
	*ret_size = size;
	return 0;
}

const char *
bm_sha256_hex(const uint8_t d[BM_SHA256_LEN], char buf[BM_SHA256_HEX])
{
	static const char hex[] = "0123456789abcdef";
	for (unsigned i = 0; i < BM_SHA256_LEN; i++) {
		buf[2 * i] = hex[d[i] >> 4];
		buf[2 * i + 1] = hex[d[i] & 15];
	}
	buf[64] = '\0';
	return buf;
}

int
bm_sha256_parse(const char *s, uint8_t ret[BM_SHA256_LEN])
{
	uint8_t d[BM_SHA256_LEN];

	if (strlen(s) != 64)
		return -EINVAL;
	for (unsigned i = 0; i < BM_SHA256_LEN; i++) {
		int hi = bm_hexval(s[2 * i]), lo = bm_hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		d[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(ret, d, sizeof(d));
	return 0;
}

int
bm_sha256_parse_fingerprint(const char *s, uint8_t ret[BM_SHA256_LEN])
{
	char hex[BM_SHA256_HEX];
	size_t n = 0;

	if (!strncasecmp(s, "sha256:", 7))
		s += 7;
	else if (!strncasecmp(s, "sha256 fingerprint=", 19))
		s += 19;
	if (strlen(s) == 3 * BM_SHA256_LEN - 1) {
		for (size_t i = 0; s[i]; i++) {
			if (i % 3 == 2 ? s[i] != ':' : n >= 64)
				return -EINVAL;
			if (i % 3 != 2)
				hex[n++] = s[i];
		}
		hex[n] = '\0';
		s = hex;
	}
	return bm_sha256_parse(s, ret);
}
