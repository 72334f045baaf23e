/* Per-boot tokens. A machine proves that an HTTP callback, and its fetch
 * of its seeds, belong to its current boot with a token the agent renders
 * into that boot's script and seeds only:
 *   - 128 random bits (getrandom), made when an operation powers the
 *     machine (bound to the machine, the operation and its power sequence)
 *     or, for a machine marked `netboot: true` outside any operation, at
 *     the first script of each boot;
 *   - kept by the agent (rackdb, so it survives a restart);
 *   - live only while that boot is: the machine is netbooting for the same
 *     operation and sequence, or has called back `installed` for it and
 *     waits for its OS to call back `booted` from its disk; and no `done`,
 *     `booted` or `failed` callback revoked it; a cancel or timeout ends
 *     the boot in the view, and the token with it.
 * Pure: the rackdb keeps records, http_machine.c applies them. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "rackview.h"

#define TOKEN_BYTES 16u
#define TOKEN_HEX (2 * TOKEN_BYTES + 1) /* in hex + NUL */
#define TOKEN_OP_MAX 64u

/* The boot a machine of the view is in: the operation that powered it and
 * the power sequence, or ("", 0) for a machine marked `netboot: true`
 * outside an operation. */
struct boot_key {
	char op[TOKEN_OP_MAX];
	uint64_t seq;
};

struct boot_token {
	struct boot_key key;
	uint8_t secret[TOKEN_BYTES];
	uint64_t made_ms;
	bool revoked;   /* by done, booted or failed: never live again */
	bool installed; /* the image is on its disk: its next boot is local */
};

/* The boot h is in now. Returns false when it is neither netbooting nor
 * installed and waiting to boot from its disk (no token is live then). */
bool boot_key_of(const struct rack_host *h, struct boot_key *ret);
/* t belongs to boot k (revoked or not). A standing netboot ("") matches
 * any of its own records' sequences. */
bool token_same_boot(const struct boot_token *t, const struct boot_key *k);
/* t is the token of boot k, and not revoked. A standing netboot ("")
 * matches any of its own records' sequences. */
bool token_live(const struct boot_token *t, const struct boot_key *k);
/* What to keep for boot k when the kept record is t (NULL: none): true
 * with *ret a new token to store (fresh random bits), false when t stands
 * (live, or revoked for this very boot: a finished boot gets no new one).
 * A standing netboot after its revocation starts its next boot. Returns
 * -EIO in *err when the kernel gives no random bytes. */
bool token_renew(const struct boot_token *t, const struct boot_key *k, uint64_t now_ms,
                 struct boot_token *ret, int *err);
void token_hex(const struct boot_token *t, char out[TOKEN_HEX]);
/* text is t's token (constant time in the token's bytes). */
bool token_matches(const struct boot_token *t, const char *text);
