/* Site-local image fill (image_fill.h): one filler per (site, image), the
 * others wait while its reads keep coming, a silent filler yields, sites
 * and images apart, a done fill starts over; the holders' order per asker
 * is stable and spreads askers. And staging targets (bm/stage.h): parsed,
 * normalized, matched against a rack. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "bm/stage.h"
#include "image_fill.h"

static const uint8_t A[32] = { 1 }, B[32] = { 2 };

static void
test_one_filler(void **state)
{
	struct image_fill *f;
	char who[64] = "";
	(void)state;

	assert_int_equal(image_fill_new(&f), 0);
	assert_true(image_fill_claim(f, "s1", A, "ag1", 1000, who, sizeof(who)));
	/* The filler itself asks again: still its. */
	assert_true(image_fill_claim(f, "s1", A, "ag1", 1500, who, sizeof(who)));
	assert_false(image_fill_claim(f, "s1", A, "ag2", 2000, who, sizeof(who)));
	assert_string_equal(who, "ag1");
	/* Another image, another site: fills of their own. */
	assert_true(image_fill_claim(f, "s1", B, "ag2", 2000, who, sizeof(who)));
	assert_true(image_fill_claim(f, "s2", A, "ag3", 2000, who, sizeof(who)));
	/* Reads keep the fill alive past the stall time from its claim... */
	image_fill_progress(f, A, "ag1", 1000 + IMAGE_FILL_STALL_MS);
	assert_false(
	    image_fill_claim(f, "s1", A, "ag2", 1000 + IMAGE_FILL_STALL_MS + 10, who, sizeof(who)));
	/* ...another agent's reads do not. */
	image_fill_progress(f, A, "ag2", 1000 + 2 * IMAGE_FILL_STALL_MS);
	/* Silent for the stall time: the next asker takes it over. */
	assert_true(image_fill_claim(f, "s1", A, "ag2", 1000 + 2 * IMAGE_FILL_STALL_MS + 1, who,
	                             sizeof(who)));
	assert_false(image_fill_claim(f, "s1", A, "ag1", 1000 + 2 * IMAGE_FILL_STALL_MS + 2, who,
	                              sizeof(who)));
	assert_string_equal(who, "ag2");
	/* Held by the site now: forgotten, the next asker fills anew. */
	image_fill_done(f, "s1", A);
	assert_true(image_fill_claim(f, "s1", A, "ag1", 1000 + 2 * IMAGE_FILL_STALL_MS + 3, who,
	                             sizeof(who)));
	image_fill_free(f);
}

static void
test_full_table(void **state)
{
	struct image_fill *f;
	char who[64], site[32];
	(void)state;

	assert_int_equal(image_fill_new(&f), 0);
	for (unsigned i = 0; i < IMAGE_FILL_MAX; i++) {
		snprintf(site, sizeof(site), "s%u", i);
		assert_true(image_fill_claim(f, site, A, "x", 100 + i, who, sizeof(who)));
	}
	/* Full: the fill silent longest (s0) makes room; s1 is still held. */
	assert_true(image_fill_claim(f, "new", A, "y", 5000, who, sizeof(who)));
	assert_true(image_fill_claim(f, "s0", A, "z", 5001, who, sizeof(who)));
	assert_false(image_fill_claim(f, "s2", A, "z", 5002, who, sizeof(who)));
	image_fill_free(f);
}

static void
test_order(void **state)
{
	const char *h[] = { "h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8" }, *v[8], *w[8];
	unsigned first[8] = { 0 };
	char asker[16];
	(void)state;

	memcpy(v, h, sizeof(h));
	memcpy(w, h + 4, 4 * sizeof(*h));
	memcpy(w + 4, h, 4 * sizeof(*h));
	image_fill_order("a1", v, 8);
	image_fill_order("a1", w, 8);
	for (int i = 0; i < 8; i++) /* the same order whatever the input's */
		assert_string_equal(v[i], w[i]);
	for (int a = 0; a < 64; a++) { /* askers spread over the holders */
		memcpy(v, h, sizeof(h));
		snprintf(asker, sizeof(asker), "agent-%d", a);
		image_fill_order(asker, v, 8);
		first[v[0][1] - '1']++;
	}
	for (int i = 0; i < 8; i++)
		assert_true(first[i] >= 1 && first[i] <= 24);
}

static void
test_stage_targets(void **state)
{
	struct bm_stage_target t;
	Bm__Machine m = BM__MACHINE__INIT, *ms[] = { &m };
	Bm__Machine__LabelsEntry e = BM__MACHINE__LABELS_ENTRY__INIT, *ep[] = { &e };
	char why[160], out[600];
	bool bare;
	(void)state;

	assert_int_equal(bm_stage_parse("rack/r1", &t, &bare, why, sizeof(why)), 0);
	assert_false(bare);
	bm_stage_format(&t, out, sizeof(out));
	assert_string_equal(out, "rack/r1");
	assert_int_equal(bm_stage_parse("gpu=a100", &t, &bare, why, sizeof(why)), 0);
	bm_stage_format(&t, out, sizeof(out));
	assert_string_equal(out, "label/gpu=a100");
	assert_int_equal(bm_stage_parse("west", &t, &bare, why, sizeof(why)), 0);
	assert_true(bare);
	assert_int_equal(bm_stage_parse("pod/x", &t, &bare, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "rack/NAME"));
	assert_int_equal(bm_stage_parse("rack/Bad Name", &t, &bare, why, sizeof(why)), -EINVAL);
	assert_int_equal(bm_stage_parse("label/=x", &t, &bare, why, sizeof(why)), -EINVAL);

	e.key = "gpu";
	e.value = "a100";
	m.labels = ep;
	m.n_labels = 1;
	assert_true(bm_stage_matches("rack/r1", "r1", "west", ms, 1));
	assert_false(bm_stage_matches("rack/r2", "r1", "west", ms, 1));
	assert_true(bm_stage_matches("site/west", "r1", "west", ms, 1));
	assert_false(bm_stage_matches("site/west", "r1", "", ms, 1));
	assert_true(bm_stage_matches("label/gpu=a100", "r1", "", ms, 1));
	assert_false(bm_stage_matches("label/gpu=h100", "r1", "", ms, 1));
	assert_false(bm_stage_matches("label/gpu=a100", "r1", "", ms, 0));
	assert_false(bm_stage_matches("west", "west", "west", ms, 1)); /* stored forms only */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_filler),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_stage_targets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
