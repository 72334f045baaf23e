/* The limits' helpers. Per-address counts for per-client caps: the cap
 * refuses the one too many, counts stay right against a plain reference
 * through random adds and removals (backward-shift deletion keeps every run
 * findable), and the table refuses more addresses than it was made for.
 * The token bucket: a burst, then the rate, never more than the burst. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "bm/addr_count.h"
#include "bm/rate.h"

static void
test_cap(void **state)
{
	struct bm_addr_count t;

	(void)state;
	assert_int_equal(bm_addr_count_init(&t, 4), 0);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(bm_addr_count_add(&t, 0x0a000001, 3), i);
	assert_int_equal(bm_addr_count_add(&t, 0x0a000001, 3), -EBUSY);
	assert_int_equal(bm_addr_count_add(&t, 0x0a000002, 3), 1);
	assert_int_equal(bm_addr_count_get(&t, 0x0a000001), 3);
	bm_addr_count_sub(&t, 0x0a000001);
	assert_int_equal(bm_addr_count_add(&t, 0x0a000001, 3), 3);
	bm_addr_count_sub(&t, 0x0a000009); /* holds nothing: no change */
	assert_int_equal(bm_addr_count_get(&t, 0x0a000009), 0);
	bm_addr_count_fini(&t);
}

static void
test_against_reference(void **state)
{
	enum { ADDRS = 300, MAX = 200 };
	struct bm_addr_count t;
	unsigned ref[ADDRS] = { 0 }, holders = 0;

	(void)state;
	srand(7);
	assert_int_equal(bm_addr_count_init(&t, MAX), 0);
	for (int step = 0; step < 200000; step++) {
		unsigned a = (unsigned)rand() % ADDRS;
		uint32_t ip = 0x0a000000u + a * 257u; /* neighbours collide in the hash */
		if (rand() % 2) {
			int r = bm_addr_count_add(&t, ip, 0);
			if (ref[a] == 0 && 2 * (holders + 1) > t.mask + 1) {
				assert_int_equal(r, -ENOSPC);
				continue;
			}
			assert_int_equal(r, (int)ref[a] + 1);
			holders += ref[a]++ == 0;
		} else {
			bm_addr_count_sub(&t, ip);
			if (ref[a])
				holders -= --ref[a] == 0;
		}
		if (step % 1000 == 0)
			for (unsigned k = 0; k < ADDRS; k++)
				assert_int_equal(bm_addr_count_get(&t, 0x0a000000u + k * 257u),
				                 ref[k]);
	}
	assert_int_equal(t.used, holders);
	bm_addr_count_fini(&t);
}

static void
test_rate(void **state)
{
	struct bm_rate r;
	unsigned n = 0;

	(void)state;
	bm_rate_init(&r, 10, 100, 1000);
	while (bm_rate_take(&r, 1000))
		n++;
	assert_int_equal(n, 100); /* the burst */
	assert_false(bm_rate_take(&r, 1050));
	assert_true(bm_rate_take(&r, 1100)); /* 100 ms at 10/s: one */
	assert_false(bm_rate_take(&r, 1100));
	for (n = 0; bm_rate_take(&r, 3100);)
		n++;
	assert_int_equal(n, 20); /* two seconds: twenty */
	for (n = 0; bm_rate_take(&r, 1000000);)
		n++;
	assert_int_equal(n, 100); /* a long quiet refills to the burst only */
	bm_rate_init(&r, 10, 100, 5000);
	assert_true(bm_rate_take(&r, 4000)); /* a clock behind: no refill, no harm */
}

/* A bucket of bytes (the agent's image_rate_mbit): taking down to empty,
 * refilling at the rate up to the burst, giving back, the wait for a want
 * (at most the burst), and a steady second at the rate, no more. */
static void
test_rate_bytes(void **state)
{
	struct bm_rate r;
	uint64_t t = 1000, sent = 0;

	(void)state;
	bm_rate_init_mbit(&r, 80, t); /* 10 MB/s: a burst of 1 MB */
	assert_int_equal((uint64_t)r.burst, 1000000);
	assert_int_equal(bm_rate_take_upto(&r, 600000, t), 600000);
	assert_int_equal(bm_rate_take_upto(&r, 600000, t), 400000); /* what is left */
	assert_int_equal(bm_rate_take_upto(&r, 1, t), 0);
	assert_int_equal(bm_rate_take_upto(&r, 500000, t + 10), 100000); /* 10 ms */
	assert_int_equal(bm_rate_take_upto(&r, 5000000, t + 60000), 1000000);
	bm_rate_give(&r, 300000);
	assert_int_equal(bm_rate_take_upto(&r, 5000000, t + 60000), 300000);
	for (int i = 1; i <= 1000; i++)
		sent += bm_rate_take_upto(&r, 1u << 20, t + 60000 + (uint64_t)i);
	assert_int_equal(sent, 10000000); /* a second at 10 MB/s */
	/* 1 MB/s: the burst is the minimum; 65,536 bytes take 66 ms. */
	bm_rate_init_mbit(&r, 8, t);
	assert_int_equal((uint64_t)r.burst, BM_RATE_BYTES_BURST_MIN);
	assert_int_equal(bm_rate_wait_ms(&r, 65536, t), 0);
	assert_int_equal(bm_rate_take_upto(&r, 1u << 30, t), BM_RATE_BYTES_BURST_MIN);
	uint64_t w = bm_rate_wait_ms(&r, 65536, t);
	assert_true(w >= 65 && w <= 67);
	assert_int_equal(bm_rate_take_upto(&r, 65536, t + w), 65536);
	assert_true(bm_rate_wait_ms(&r, 100u << 20, t + w) <= BM_RATE_BYTES_BURST_MIN / 1000 + 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_against_reference),
		cmocka_unit_test(test_rate),
		cmocka_unit_test(test_rate_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
