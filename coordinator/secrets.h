/* BMC passwords on the coordinator: sealed (bm/seal.h, AES-256-GCM, bound
 * to the machine's name) under the key of --secrets-key before a write is
 * proposed, so the Raft log, snapshots and the store hold ciphertext only;
 * opened only into a watch answer for the agent of the machine's rack, over
 * mTLS. Every node holds the same key file. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bm/seal.h"
#include "store.h"

struct secrets {
	bool have; /* a key was given */
	uint8_t key[BM_SEAL_KEY_LEN];
};

/* Load the key file (path NULL: none). Returns 0, or -errno / -EINVAL
 * with why. */
int secrets_load(struct secrets *s, const char *path, char *why, size_t len);

/* Before proposing an Apply or MachineAdd: every machine's password (the
 * request's bmc_password, or one inside its bmc URL, which is taken out)
 * sealed into bmc_sealed, the stored one reused when it is the same
 * password (so reapplying changes nothing). The machines are the
 * request's own (heap, freed with it). Returns 0, -EPERM (passwords but no
 * key), -EINVAL, -ENOMEM, with why. */
int secrets_seal(const struct secrets *s, struct store *st, Bm__Machine **machines, size_t n,
                 char *why, size_t len);

/* A watch answer for the agent of its rack: each machine's password opened
 * into bmc_password. A password that does not open (another key) is left
 * out and logged. Returns 0 or -errno. */
int secrets_open_watch(const struct secrets *s, struct store_read *rd, Bm__WatchResult *w);
