/* SHA-256 (mbedTLS underneath) and its hex form. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BM_SHA256_LEN 32u
#define BM_SHA256_HEX 65u /* 64 hex digits + NUL */

struct bm_sha256 {
	unsigned char ctx[256]; /* mbedtls_sha256_context, kept opaque */
};

void bm_sha256_init(struct bm_sha256 *h);
void bm_sha256_update(struct bm_sha256 *h, const void *data, size_t len);
void bm_sha256_final(struct bm_sha256 *h, uint8_t out[BM_SHA256_LEN]);

/* Digest of an open file from offset 0, read in blocks. Also returns its
 * size. Returns 0 or -errno. */
int bm_sha256_fd(int fd, uint8_t out[BM_SHA256_LEN], uint64_t *ret_size);


const char *bm_sha256_hex(const uint8_t d[BM_SHA256_LEN], char buf[BM_SHA256_HEX]);
/* 64 hex digits, either case. Returns 0 or -EINVAL. */
int bm_sha256_parse(const char *s, uint8_t ret[BM_SHA256_LEN]);
/* A certificate's fingerprint as operators copy it: 64 hex digits, or 32
 * colon-separated pairs (`openssl x509 -fingerprint -sha256`), optionally
 * after "sha256:" or "SHA256 Fingerprint=". Returns 0 or -EINVAL. */
int bm_sha256_parse_fingerprint(const char *s, uint8_t ret[BM_SHA256_LEN]);
