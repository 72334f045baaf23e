/* Counts per IPv4 address (connections or transfers a client holds), for
 * per-client caps: open addressing, O(1) add and remove, sized at creation
 * for the most addresses that can hold something at once (each holds at
 * least one of the server's bounded slots), so it never grows. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct bm_addr_count {
	struct bm_addr_slot {
		uint32_t ip, n; /* n == 0: empty */
	} *slot;
	size_t mask, used;
};

/* Room for `max` addresses at once. Returns 0 or -ENOMEM. */
int bm_addr_count_init(struct bm_addr_count *t, size_t max);
void bm_addr_count_fini(struct bm_addr_count *t);
/* What ip holds now. */
unsigned bm_addr_count_get(const struct bm_addr_count *t, uint32_t ip);
/* One more for ip, unless it holds `cap` already (0: no cap). Returns its
 * new count, or -EBUSY at the cap, -ENOSPC when more than `max` addresses
 * would hold something. */
int bm_addr_count_add(struct bm_addr_count *t, uint32_t ip, unsigned cap);
/* One fewer for ip (nothing when it holds none). */
void bm_addr_count_sub(struct bm_addr_count *t, uint32_t ip);
