/* The lease table: who holds which address, in memory, indexed by client
 * key and by address. Pure: times come from the caller, nothing is
 * persisted here (the server returns lease changes for its caller to make
 * durable before the reply leaves). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dhcp_limits.h"

enum lease_state {
	LEASE_OFFERED = 1, /* held for a client between OFFER and REQUEST */
	LEASE_BOUND = 2,   /* ACKed */
	LEASE_DECLINED = 3 /* quarantined after a DECLINE: nobody gets it */
};

/* Client identity: option 61 when the client sends one, else 0x01 + MAC
 * (RFC 2131 4.2). Never the xid: OVMF machines started in the same second
 * send the same xid (docs/firmware.md 2.2). */
struct lease_key {
	uint8_t len;
	uint8_t b[DHCP_CLIENT_KEY_MAX];
};

struct lease {
	struct lease_key key; /* len 0 for a declined address */
	uint8_t mac[6];
	uint32_t ip;
	uint64_t expires_ms; /* wall clock, milliseconds */
	enum lease_state state;
};

struct lease_table;

/* A table for up to `capacity` leases (at most DHCP_LEASES_MAX): the
 * rack's reservations plus its pool. Returns NULL on ENOMEM or a bad size. */
struct lease_table *lease_table_new(size_t capacity);
void lease_table_free(struct lease_table *t);
size_t lease_table_count(const struct lease_table *t);
size_t lease_table_capacity(const struct lease_table *t);
/* Make *t hold up to cap leases (at most DHCP_LEASES_MAX), keeping every
 * lease; a smaller cap changes nothing. Lease pointers the table gave are
 * void after. Returns 0 or -ENOMEM (*t unchanged). */
int lease_table_grow(struct lease_table **t, size_t cap);

/* The live lease of a client or of an address, or NULL. A lease whose
 * time has passed at `now` is not live. The pointer is valid until the
 * next change to the table. */
const struct lease *lease_by_key(const struct lease_table *t, const struct lease_key *k,
                                 uint64_t now_ms);
const struct lease *lease_by_ip(const struct lease_table *t, uint32_t ip, uint64_t now_ms);

/* Set the lease of l->key (or, for a declined address, of l->ip),
 * replacing the client's earlier lease and any other holder of the
 * address. Returns 0, or -ENOSPC when the table is full. */
int lease_put(struct lease_table *t, const struct lease *l);
/* Drop the client's lease. Returns 0 or -ENOENT. */
int lease_drop_key(struct lease_table *t, const struct lease_key *k);
/* Drop whatever holds ip. Returns 0 or -ENOENT. */
int lease_drop_ip(struct lease_table *t, uint32_t ip);

/* A free address in [start, end]: not held by a live lease and not
 * excluded by `taken` (reservations of known machines). Searches from a
 * rotating cursor so that released addresses are not reused at once.
 * Returns 0 with *ret_ip, or -ENOSPC. */
int lease_pool_alloc(struct lease_table *t, uint32_t start, uint32_t end, uint64_t now_ms,
                     bool (*taken)(void *arg, uint32_t ip), void *arg, uint32_t *ret_ip);

/* Call fn for each lease expired at `now` and remove it (for the caller to
 * delete from disk). Returns the number removed. */
size_t lease_expire(struct lease_table *t, uint64_t now_ms,
                    void (*fn)(void *arg, const struct lease *l), void *arg);

bool lease_key_eq(const struct lease_key *a, const struct lease_key *b);
