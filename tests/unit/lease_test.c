/* Lease table: lookups, an address changing hands, expiry, pool allocation,
 * growth keeping every lease,
 * and 200,000 random operations checked against a plain array model (the
 * indexes' backward-shift deletion must never break a probe chain). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lease.h"

static struct lease_key
key_of(unsigned i)
{
	struct lease_key k = { .len = 7 };
	k.b[0] = 1;
	k.b[1] = 0x52;
	k.b[5] = (uint8_t)(i >> 8);
	k.b[6] = (uint8_t)i;
	return k;
}

static struct lease
lease_of(unsigned i, uint32_t ip, uint64_t expires)
{
	struct lease l = {
		.key = key_of(i), .ip = ip, .expires_ms = expires, .state = LEASE_BOUND
	};
	return l;
}

static void
test_basics(void **state)
{
	struct lease_table *t = lease_table_new(16);
	struct lease l = lease_of(1, 100, 1000);
	struct lease_key k1 = key_of(1), k2 = key_of(2);

	(void)state;
	assert_int_equal(lease_put(t, &l), 0);
	assert_non_null(lease_by_key(t, &k1, 0));
	assert_int_equal(lease_by_ip(t, 100, 999)->ip, 100);
	assert_null(lease_by_ip(t, 100, 1000)); /* expired at 1000 */
	/* The client moves to another address: the old one is free. */
	l.ip = 101;
	assert_int_equal(lease_put(t, &l), 0);
	assert_null(lease_by_ip(t, 100, 0));
	assert_int_equal(lease_by_key(t, &k1, 0)->ip, 101);
	/* Another client takes 101: the first loses it. */
	l = lease_of(2, 101, 2000);
	assert_int_equal(lease_put(t, &l), 0);
	assert_null(lease_by_key(t, &k1, 0));
	assert_int_equal(lease_by_key(t, &k2, 0)->ip, 101);
	assert_int_equal(lease_table_count(t), 1);
	/* A declined address has no client. */
	struct lease d = { .ip = 102, .expires_ms = 5000, .state = LEASE_DECLINED };
	assert_int_equal(lease_put(t, &d), 0);
	assert_int_equal(lease_by_ip(t, 102, 0)->state, LEASE_DECLINED);
	assert_int_equal(lease_drop_ip(t, 102), 0);
	assert_int_equal(lease_drop_ip(t, 102), -ENOENT);
	assert_int_equal(lease_drop_key(t, &k2), 0);
	assert_int_equal(lease_table_count(t), 0);
	lease_table_free(t);
}

static bool
odd_taken(void *arg, uint32_t ip)
{
	(void)arg;
	return ip % 2;
}

static void
test_pool(void **state)
{
	struct lease_table *t = lease_table_new(16);
	uint32_t ip, seen[8];

	(void)state;
	/* Pool 10..17, odd addresses reserved, 12 leased: 10, 14, 16 free. */
	struct lease l = lease_of(1, 12, 100);
	lease_put(t, &l);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(lease_pool_alloc(t, 10, 17, 0, odd_taken, NULL, &ip), 0);
		seen[i] = ip;
		l = lease_of(10 + (unsigned)i, ip, 100);
		lease_put(t, &l);
	}
	assert_int_equal(seen[0], 10);
	assert_int_equal(seen[1], 14);
	assert_int_equal(seen[2], 16);
	assert_int_equal(lease_pool_alloc(t, 10, 17, 0, odd_taken, NULL, &ip), -ENOSPC);
	/* At 100 every lease has expired: the pool is free again, and the
	 * cursor moves on rather than reusing the address just freed. */
	assert_int_equal(lease_pool_alloc(t, 10, 17, 100, odd_taken, NULL, &ip), 0);
	assert_int_not_equal(ip, 16);
	assert_int_equal(lease_expire(t, 100, NULL, NULL), 4);
	assert_int_equal(lease_table_count(t), 0);
	lease_table_free(t);
}

static void
test_full(void **state)
{
	struct lease_table *t = lease_table_new(2);
	struct lease l;

	(void)state;
	l = lease_of(1, 1, 10);
	assert_int_equal(lease_put(t, &l), 0);
	l = lease_of(2, 2, 10);
	assert_int_equal(lease_put(t, &l), 0);
	l = lease_of(3, 3, 10);
	assert_int_equal(lease_put(t, &l), -ENOSPC);
	assert_null(lease_table_new(0));
	assert_null(lease_table_new(DHCP_LEASES_MAX + 1));
	lease_table_free(t);
}

/* A full table grows (a managed agent's first view brings its pool): every
 * lease is still found by key and by address, and there is room for more. */
static void
test_grow(void **state)
{
	struct lease_table *t = lease_table_new(100);
	struct lease l;
	struct lease_key k;

	(void)state;
	for (unsigned i = 0; i < 100; i++) {
		l = lease_of(i, 1000 + i, 5000);
		assert_int_equal(lease_put(t, &l), 0);
	}
	l = lease_of(100, 1100, 5000);
	assert_int_equal(lease_put(t, &l), -ENOSPC);
	assert_int_equal(lease_table_grow(&t, 50), 0); /* smaller: no change */
	assert_int_equal(lease_table_capacity(t), 100);
	assert_int_equal(lease_table_grow(&t, 400), 0);
	assert_int_equal(lease_table_capacity(t), 400);
	assert_int_equal(lease_table_count(t), 100);
	for (unsigned i = 0; i < 100; i++) {
		k = key_of(i);
		assert_non_null(lease_by_key(t, &k, 0));
		assert_int_equal(lease_by_ip(t, 1000 + i, 0)->ip, 1000 + i);
	}
	for (unsigned i = 100; i < 400; i++) {
		l = lease_of(i, 1000 + i, 5000);
		assert_int_equal(lease_put(t, &l), 0);
	}
	lease_table_free(t);
}

/* The model: model_ip[c] is client c's address (0 = none). */
#define CLIENTS 300
#define IPS 400

static void
test_random_against_model(void **state)
{
	struct lease_table *t = lease_table_new(CLIENTS + 10);
	uint32_t model_ip[CLIENTS] = { 0 };
	unsigned holder[IPS + 1] = { 0 }; /* client + 1 holding the address */
	uint32_t seed = 12345;

	(void)state;
	for (int step = 0; step < 200000; step++) {
		seed = seed * 1103515245u + 12345u;
		unsigned c = (seed >> 8) % CLIENTS, ip = 1 + (seed >> 18) % IPS;
		struct lease_key k = key_of(c);
		if ((seed >> 4) % 3) {
			struct lease l = lease_of(c, ip, 1);
			assert_int_equal(lease_put(t, &l), 0);
			if (model_ip[c])
				holder[model_ip[c]] = 0;
			if (holder[ip])
				model_ip[holder[ip] - 1] = 0;
			model_ip[c] = ip;
			holder[ip] = c + 1;
		} else {
			int r = lease_drop_key(t, &k);
			assert_int_equal(r, model_ip[c] ? 0 : -ENOENT);
			if (model_ip[c])
				holder[model_ip[c]] = 0;
			model_ip[c] = 0;
		}
		if (step % 997 == 0)
			for (unsigned j = 0; j < CLIENTS; j++) {
				struct lease_key kj = key_of(j);
				const struct lease *l = lease_by_key(t, &kj, 0);
				assert_int_equal(l ? l->ip : 0, model_ip[j]);
			}
	}
	for (unsigned ip = 1; ip <= IPS; ip++) {
		const struct lease *l = lease_by_ip(t, ip, 0);
		assert_int_equal(l != NULL, holder[ip] != 0);
	}
	lease_table_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basics),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_grow),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
