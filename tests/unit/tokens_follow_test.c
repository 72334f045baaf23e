/* The boot tokens following the view (rackdb_tokens_follow): a machine an
 * operation powers gets its token, a boot that ended loses it, and a view
 * change that moves no machine's boot reads nothing (no batch begins:
 * an injected failure of the next begin is not met). */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bm/fleet.h"
#include "bm/problems.h"
#include "rackdb.h"
#include "rackview.h"
#include "test_tmp.h"
#include "token.h"

static const char fleet_text[] =
    "sites: [{name: fra1}]\n"
    "racks: [{name: rack12, site: fra1, subnet: 10.12.0.0/24}]\n"
    "images: [{name: k, sha256: "
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}]\n"
    "profiles: [{name: p, kernel: k}]\n"
    "machines:\n"
    "  - {name: n1, rack: rack12, mac: '52:54:00:12:00:01', profile: p}\n"
    "  - {name: n2, rack: rack12, mac: '52:54:00:12:00:02', profile: p}\n";

struct fx {
	char dir[PATH_MAX];
	struct rackdb *db;
	struct rack_view *v;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct bm_problems p;
	struct bm_fleet fl;

	th_tmpdir(f->dir, "tokens-follow");
	assert_int_equal(rackdb_open(f->dir, &f->db), 0);
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(fleet_text, strlen(fleet_text), &fl, &p), 0);
	assert_int_equal(rack_view_from_fleet(fl.fleet, "rack12", &f->v, &p), 0);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	rack_view_free(f->v);
	rackdb_close(f->db);
	th_rmtree(f->dir);
	free(f);
	return 0;
}

/* Host i powered by operation op for its boot seq (0: not in one). */
static void
boot(struct fx *f, size_t i, const char *op, uint64_t seq)
{
	struct rack_host *h = &f->v->hosts[i];
	Bm__Machine *m = (Bm__Machine *)h->m;

	if (m->operation != protobuf_c_empty_string) /* unset: the library's "" */
		free(m->operation);
	assert_non_null(m->operation = strdup(op));
	m->power_seq = seq;
	m->started_ms = seq ? 1000 : 0;
	m->state = seq ? BM__MACHINE_STATE__STATE_REIMAGING : BM__MACHINE_STATE__STATE_READY;
	h->netboot = seq != 0;
}

static unsigned
follow(struct fx *f)
{
	unsigned changed = 99;

	assert_int_equal(rackdb_tokens_follow(f->db, f->v, &changed), 0);
	return changed;
}

static bool
has_token(struct fx *f, size_t i, uint64_t seq)
{
	struct boot_token t;
	bool ok = rackdb_token_get(f->db, f->v->hosts[i].mac, &t) == 0 && t.key.seq == seq;

	return ok;
}

static void
test_follow(void **state)
{
	struct fx *f = *state;
	unsigned changed;

	assert_int_equal(follow(f), 0); /* nothing netboots */
	boot(f, 0, "op-7", 1);
	assert_int_equal(follow(f), 1);
	assert_true(has_token(f, 0, 1));
	assert_false(has_token(f, 1, 0));
	/* The same boots: nothing read. The next begin would fail; it is not
	 * reached. */
	rackdb_fail_begins(f->db, 1, -EIO);
	assert_int_equal(follow(f), 0);
	assert_true(has_token(f, 0, 1));
	/* A new boot of n1 (its next power action) and n2 powered: the begin
	 * fails once, changes nothing, and the next follow does it all. */
	boot(f, 0, "op-7", 2);
	boot(f, 1, "op-7", 1);
	assert_int_equal(rackdb_tokens_follow(f->db, f->v, &changed), -EIO);
	assert_true(has_token(f, 0, 1));
	assert_int_equal(follow(f), 3); /* n1's dropped and made again, n2's made */
	assert_true(has_token(f, 0, 2));
	assert_true(has_token(f, 1, 1));
	/* n1's boot ends (ready): its token goes. */
	boot(f, 0, "op-7", 0);
	assert_int_equal(follow(f), 1);
	assert_false(has_token(f, 0, 2));
	assert_true(has_token(f, 1, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
