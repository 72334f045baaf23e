/* Callback tokens: a machine proves a callback is its own with a token the
 * agent renders into its boot script, HMAC-SHA256(agent secret, MAC). The
 * secret is 32 random bytes kept in DATA_DIR/secret (mode 0600), made at
 * first start, so tokens survive restarts and differ between agents. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define TOKEN_SECRET_LEN 32u
#define TOKEN_HEX 33u /* 128 bits in hex + NUL */

/* Read DIR/secret, or create it. Returns 0 or -errno. */
int token_secret_load(const char *dir, uint8_t ret[TOKEN_SECRET_LEN]);

/* The token of a MAC under a secret, in hex. */
void token_make(const uint8_t secret[TOKEN_SECRET_LEN], const uint8_t mac[6], char out[TOKEN_HEX]);
/* Compare a token from outside with the MAC's, in constant time. */
bool token_ok(const uint8_t secret[TOKEN_SECRET_LEN], const uint8_t mac[6], const char *token);
