/* Secrets at rest: AES-256-GCM (OpenSSL) under a 32-byte key. A sealed
 * value is nonce (12 random bytes) || ciphertext || tag (16), bound to an
 * `aad` (what it belongs to, e.g. a machine's name) so it cannot be moved
 * to another record. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BM_SEAL_KEY_LEN 32u
#define BM_SEAL_OVERHEAD (12u + 16u)
#define BM_SECRET_MAX 256u /* a BMC password, at most */

/* Seal len bytes into out (len + BM_SEAL_OVERHEAD bytes). Returns 0 or
 * -EIO. */
int bm_seal(const uint8_t key[BM_SEAL_KEY_LEN], const char *aad, const void *plain, size_t len,
            uint8_t *out);
/* Open a sealed value of len bytes into out (len - BM_SEAL_OVERHEAD bytes,
 * NUL-terminated: room for one more). Returns the plain length, or
 * -EBADMSG (not sealed under this key for this aad, or altered). */
int bm_unseal(const uint8_t key[BM_SEAL_KEY_LEN], const char *aad, const uint8_t *sealed,
              size_t len, char *out);
/* Read a key file of exactly BM_SEAL_KEY_LEN bytes. Returns 0, -errno, or
 * -EINVAL (another size). */
int bm_seal_key_load(const char *path, uint8_t key[BM_SEAL_KEY_LEN]);
/* The same, making the file (random, 0600) when there is none. */
int bm_seal_key_make(const char *path, uint8_t key[BM_SEAL_KEY_LEN]);
