/* The watch index: keys grouped by rack per commit, every rack's keys,
 * what agents and operations leave out, moves between racks, the held
 * range (eviction by entries and by keys, a gap starting over) and the
 * answers outside it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "watch_index.h"

#define KM BM__KIND__KIND_MACHINE
#define KP BM__KIND__KIND_PROFILE
#define KA BM__KIND__KIND_AGENT
#define KO BM__KIND__KIND_OPERATION

struct chg {
	Bm__Kind kind;
	const char *name, *rack;
};

/* A change set of n changes (n <= 8), in static storage of slot `at`. */
static Bm__ChangeSet *
set_of(int at, const struct chg *c, size_t n)
{
	static Bm__ChangeSet sets[8];
	static Bm__Change ch[8][8];
	static Bm__Change *chp[8][8];

	bm__change_set__init(&sets[at]);
	for (size_t i = 0; i < n; i++) {
		bm__change__init(&ch[at][i]);
		ch[at][i].kind = c[i].kind;
		ch[at][i].name = (char *)c[i].name;
		ch[at][i].rack = (char *)c[i].rack;
		chp[at][i] = &ch[at][i];
	}
	sets[at].changes = chp[at];
	sets[at].n_changes = n;
	return &sets[at];
}

/* The keys of rack in (since, until], sorted, as "k:name,k:name". */
static int
keys_str(const struct watch_index *x, const char *rack, uint64_t since, uint64_t until, char *out,
         size_t len)
{
	struct watch_key *k = NULL;
	size_t n = 0, cap = 0;
	int r = watch_index_keys(x, rack, since, until, &k, &n, &cap);

	out[0] = '\0';
	if (r < 0) {
		free(k);
		return r;
	}
	n = watch_keys_sort_unique(k, n);
	for (size_t i = 0; i < n; i++) {
		size_t at = strlen(out);
		snprintf(out + at, len - at, "%s%d:%s", i ? "," : "", (int)k[i].kind, k[i].name);
	}
	watch_keys_free(k, n);
	return 0;
}

static struct watch_index *
fixture(size_t max_keys, size_t max_entries)
{
	struct watch_index *x;
	const struct chg c1[] = { { KM, "m1", "r1" }, { KM, "m2", "r2" }, { KA, "a1", "r1" } };
	const struct chg c2[] = { { KP, "p1", "" }, { KO, "op1", "" } };
	const struct chg c3[] = { { KM, "m1", "r2" }, { KM, "m1", "r1" }, { KM, "m1", "r1" } };
	Bm__ChangeSet *s12[2] = { set_of(0, c1, 3), NULL };
	Bm__ChangeSet *s3[2] = { set_of(1, c2, 2), set_of(2, c3, 3) };

	assert_int_equal(watch_index_new(max_keys, max_entries, &x), 0);
	/* (0, 2]: revision 2 made no change; then (2, 4]. */
	assert_int_equal(watch_index_add(x, 0, 2, s12, 2), 0);
	assert_int_equal(watch_index_add(x, 2, 4, s3, 2), 0);
	return x;
}

static void
test_keys_by_rack(void **state)
{
	struct watch_index *x = fixture(WATCH_INDEX_KEYS, WATCH_INDEX_ENTRIES);
	char s[256];

	(void)state;
	assert_int_equal(watch_index_first(x), 0);
	assert_int_equal(watch_index_last(x), 4);
	/* Agents and operations are no rack's; a move is both racks'. */
	assert_int_equal(keys_str(x, "r1", 0, 4, s, sizeof(s)), 0);
	assert_string_equal(s, "3:m1,4:p1");
	assert_int_equal(keys_str(x, "r2", 0, 4, s, sizeof(s)), 0);
	assert_string_equal(s, "3:m1,3:m2,4:p1");
	assert_int_equal(keys_str(x, "r2", 0, 2, s, sizeof(s)), 0);
	assert_string_equal(s, "3:m2");
	/* A rack with nothing of its own gets every rack's keys only. */
	assert_int_equal(keys_str(x, "r9", 0, 4, s, sizeof(s)), 0);
	assert_string_equal(s, "4:p1");
	assert_int_equal(keys_str(x, "r9", 0, 2, s, sizeof(s)), 0);
	assert_string_equal(s, "");
	/* Within one entry, by the revisions each key changed at: (3, 4]
	 * is the move, not the profile of revision 3. */
	assert_int_equal(keys_str(x, "r2", 3, 4, s, sizeof(s)), 0);
	assert_string_equal(s, "3:m1");
	assert_int_equal(keys_str(x, "r9", 3, 4, s, sizeof(s)), 0);
	assert_string_equal(s, "");
	assert_false(watch_index_touches(x, "r9", 3, 4));
	assert_true(watch_index_touches(x, "r9", 2, 3));
	/* Outside what is held: the caller reads the log. */
	assert_int_equal(keys_str(x, "r1", 0, 5, s, sizeof(s)), -ERANGE);
	watch_index_free(x);
}

static void
test_touches(void **state)
{
	struct watch_index *x = fixture(WATCH_INDEX_KEYS, WATCH_INDEX_ENTRIES);

	(void)state;
	assert_true(watch_index_touches(x, "r1", 0, 2));
	assert_false(watch_index_touches(x, "r9", 0, 2));
	assert_true(watch_index_touches(x, "r9", 2, 4)); /* the profile */
	assert_false(watch_index_rack_touched(x, "r9", 2, 4));
	assert_true(watch_index_rack_touched(x, "r1", 2, 4)); /* the move */
	assert_false(watch_index_rack_touched(x, "r2", 0, 0));
	assert_false(watch_index_touches(x, "r1", 4, 4));
	watch_index_free(x);
}

static void
test_eviction(void **state)
{
	struct watch_index *x = fixture(WATCH_INDEX_KEYS, 2);
	const struct chg c5[] = { { KM, "m5", "r1" } };
	Bm__ChangeSet *s5[1] = { set_of(3, c5, 1) };
	char s[256];

	(void)state;
	/* A third entry pushes out the first: (2, 5] held. */
	assert_int_equal(watch_index_add(x, 4, 5, s5, 1), 0);
	assert_int_equal(watch_index_first(x), 2);
	assert_int_equal(watch_index_last(x), 5);
	assert_int_equal(keys_str(x, "r1", 0, 5, s, sizeof(s)), -ERANGE);
	assert_true(watch_index_touches(x, "r9", 0, 5)); /* not known: concerned */
	assert_int_equal(keys_str(x, "r1", 2, 5, s, sizeof(s)), 0);
	assert_string_equal(s, "3:m1,3:m5,4:p1");
	watch_index_free(x);
	/* By keys: 3 + 2 held, a fourth key drops the first entry. */
	x = fixture(5, WATCH_INDEX_ENTRIES);
	assert_int_equal(watch_index_add(x, 4, 5, s5, 1), 0);
	assert_int_equal(watch_index_first(x), 2);
	watch_index_free(x);
}

static void
test_gap(void **state)
{
	struct watch_index *x = fixture(WATCH_INDEX_KEYS, WATCH_INDEX_ENTRIES);
	const struct chg c5[] = { { KM, "m5", "r1" } };
	Bm__ChangeSet *s5[1] = { set_of(3, c5, 1) };
	char s[256];

	(void)state;
	/* Not following on (a snapshot installed): what was held goes. */
	assert_int_equal(watch_index_add(x, 9, 10, s5, 1), 0);
	assert_int_equal(watch_index_first(x), 9);
	assert_int_equal(watch_index_last(x), 10);
	assert_int_equal(keys_str(x, "r1", 9, 10, s, sizeof(s)), 0);
	assert_string_equal(s, "3:m5");
	/* Back (a store reset): nothing held, from there. */
	assert_int_equal(watch_index_add(x, 3, 3, NULL, 0), 0);
	assert_int_equal(watch_index_first(x), 3);
	assert_int_equal(watch_index_last(x), 3);
	assert_false(watch_index_touches(x, "r1", 3, 3));
	watch_index_free(x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_by_rack),
		cmocka_unit_test(test_touches),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_gap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
