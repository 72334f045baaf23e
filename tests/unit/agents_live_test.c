/* The coordinator's table of agent sightings: only entered agents are
 * noted, lookups stay right as the table fills and forgets (the stalest
 * first, with the runs of the open addressing shifted back), and each
 * sighting is handed out for replication at most every
 * AGENTS_SEEN_WRITE_MS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "agents_live.h"

static void
test_seen_needs_add(void **state)
{
	struct agents_live *t;
	uint64_t seen, rev;

	(void)state;
	assert_int_equal(agents_live_new(8, &t), 0);
	assert_int_equal(agents_live_seen(t, "a1", 5, 1000), -ENOENT);
	assert_int_equal(agents_live_get(t, "a1", &seen, &rev), -ENOENT);
	assert_int_equal(agents_live_add(t, "Bad_Id", 0, 1000), -EINVAL);
	assert_int_equal(agents_live_add(t, "a1", 0, 1000), 0);
	assert_int_equal(agents_live_seen(t, "a1", 5, 2000), 0);
	assert_int_equal(agents_live_seen(t, "a1", 0, 1500), 0); /* older, no revision */
	assert_int_equal(agents_live_get(t, "a1", &seen, &rev), 0);
	assert_int_equal(seen, 2000);
	assert_int_equal(rev, 5);
	assert_int_equal(agents_live_count(t), 1);
	agents_live_free(t);
	assert_int_equal(agents_live_new(0, &t), -EINVAL);
	assert_int_equal(agents_live_new(AGENTS_LIVE_MAX + 1, &t), -EINVAL);
}

/* A small table filled far past its bound: it keeps the newest `max`
 * agents, and every one of them is still found. */
static void
test_bounded_forgets_stalest(void **state)
{
	struct agents_live *t;
	char id[32];
	uint64_t seen, rev;

	(void)state;
	assert_int_equal(agents_live_new(64, &t), 0);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "agent-%u", i);
		assert_int_equal(agents_live_add(t, id, i, 1000 + i), 0);
	}
	assert_int_equal(agents_live_count(t), 64);
	for (unsigned i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "agent-%u", i);
		int r = agents_live_get(t, id, &seen, &rev);
		if (i < 1000 - 64) {
			assert_int_equal(r, -ENOENT);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(seen, 1000 + i);
		}
	}
	agents_live_free(t);
}

static void
test_due_at_most_every_write_interval(void **state)
{
	struct agents_live *t;
	Bm__AgentSeen out[4];
	char ids[4][64];

	(void)state;
	assert_int_equal(agents_live_new(4, &t), 0);
	assert_int_equal(agents_live_add(t, "a1", 3, 100000), 0);
	assert_int_equal(agents_live_add(t, "a2", 4, 100000), 0);
	assert_int_equal(agents_live_due(t, out, ids, 4), 2);
	assert_string_equal(out[0].id[1] == '1' ? out[0].id : out[1].id, "a1");
	assert_int_equal(agents_live_due(t, out, ids, 4), 0); /* handed out already */
	assert_int_equal(agents_live_seen(t, "a1", 9, 100000 + AGENTS_SEEN_WRITE_MS - 1), 0);
	assert_int_equal(agents_live_due(t, out, ids, 4), 0); /* too soon */
	assert_int_equal(agents_live_seen(t, "a1", 9, 100000 + AGENTS_SEEN_WRITE_MS), 0);
	assert_int_equal(agents_live_due(t, out, ids, 4), 1);
	assert_string_equal(out[0].id, "a1");
	assert_int_equal(out[0].last_seen_ms, 100000 + AGENTS_SEEN_WRITE_MS);
	assert_int_equal(out[0].revision, 9);
	agents_live_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seen_needs_add),
		cmocka_unit_test(test_bounded_forgets_stalest),
		cmocka_unit_test(test_due_at_most_every_write_interval),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
