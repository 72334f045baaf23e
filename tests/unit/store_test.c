/* The state machine: every command kind, revisions and the change log,
 * atomic refusal, batches, replay by index, compaction, persistence. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bm/sha256.h"
#include "store_helpers.h"

#define KS BM__KIND__KIND_SITE
#define KR BM__KIND__KIND_RACK
#define KM BM__KIND__KIND_MACHINE
#define KP BM__KIND__KIND_PROFILE
#define KI BM__KIND__KIND_IMAGE
#define OK BM__STATUS__STATUS_OK

static void
apply_base(struct store *s)
{
	th_apply_yaml_ok(s, th_base_fleet);
}

static void
test_apply_creates(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	Bm__ChangeSet *cs;
	Bm__Object *o;

	assert_int_equal(th_revision(f->s), 0);
	assert_int_equal(th_apply_yaml(f->s, th_base_fleet, &res), 0);
	assert_int_equal(res.status, OK);
	assert_int_equal(res.created, 2 + 3 + 2 + 1 + 4);
	assert_int_equal(res.revision, 1);
	store_result_fini(&res);

	o = th_get(f->s, KM, "r11n01");
	assert_non_null(o);
	assert_int_equal(o->machine->state, BM__MACHINE_STATE__STATE_READY);
	assert_int_equal(o->machine->create_rev, 1);
	assert_int_equal(o->machine->mod_rev, 1);
	assert_string_equal(o->machine->profile, "tiny");
	bm__object__free_unpacked(o, NULL);
	o = th_get(f->s, KR, "rack11");
	assert_int_equal(o->count, 2); /* machines in the rack */
	bm__object__free_unpacked(o, NULL);
	o = th_get(f->s, KS, "fra1");
	assert_int_equal(o->count, 2); /* racks in the site */
	bm__object__free_unpacked(o, NULL);

	cs = th_changes(f->s, 1);
	assert_non_null(cs);
	assert_int_equal(cs->n_changes, 12);
	assert_true(th_has_change(cs, KM, "r11n01", "rack11", 0));
	assert_true(th_has_change(cs, KM, "r21n01", "rack21", 0));
	assert_true(th_has_change(cs, KR, "rack12", "rack12", 0));
	assert_true(th_has_change(cs, KP, "tiny", "", 0));
	assert_true(th_has_change(cs, KS, "ams1", "", 0));
	bm__change_set__free_unpacked(cs, NULL);
}

static void
test_apply_idempotent_and_update(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	Bm__ChangeSet *cs;
	Bm__Object *o;

	apply_base(f->s);
	assert_int_equal(th_apply_yaml(f->s, th_base_fleet, &res), 0);
	assert_int_equal(res.status, OK);
	assert_int_equal(res.unchanged, 12);
	assert_int_equal(res.created + res.updated, 0);
	assert_int_equal(res.revision, 1); /* nothing changed: no new revision */
	store_result_fini(&res);
	assert_null(th_changes(f->s, 2));

	/* Labels in another order are the same content. */
	assert_int_equal(
	    th_apply_yaml(f->s,
	                  "machines: [{name: r11n02, rack: rack11, mac: '52:54:00:11:00:02',"
	                  " ip: 10.11.0.12, labels: {role: cpu}}]",
	                  &res),
	    0);
	assert_int_equal(res.unchanged, 1);
	store_result_fini(&res);

	assert_int_equal(
	    th_apply_yaml(f->s,
	                  "machines: [{name: r11n02, rack: rack11, mac: '52:54:00:11:00:02',"
	                  " ip: 10.11.0.12, labels: {role: db, tier: a}}]",
	                  &res),
	    0);
	assert_int_equal(res.updated, 1);
	assert_int_equal(res.revision, 2);
	store_result_fini(&res);
	o = th_get(f->s, KM, "r11n02");
	assert_int_equal(o->machine->create_rev, 1);
	assert_int_equal(o->machine->mod_rev, 2);
	assert_string_equal(bm_map_get(o->machine->n_labels, (void **)o->machine->labels, "role"),
	                    "db");
	bm__object__free_unpacked(o, NULL);
	cs = th_changes(f->s, 2);
	assert_int_equal(cs->n_changes, 1);
	assert_true(th_has_change(cs, KM, "r11n02", "rack11", 0));
	bm__change_set__free_unpacked(cs, NULL);
}

static void
test_refusal_is_atomic(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;

	apply_base(f->s);
	/* A good new site and machine, and one machine with an unknown rack. */
	assert_int_equal(th_apply_yaml(f->s,
	                               "sites: [{name: lon1}]\n"
	                               "machines:\n"
	                               "  - {name: ok1, rack: rack12, mac: '52:54:00:12:00:09'}\n"
	                               "  - {name: bad1, rack: rack99, mac: '52:54:00:12:00:0a'}\n",
	                               &res),
	                 0);
	assert_int_equal(res.status, BM__STATUS__STATUS_INVALID);
	assert_int_equal(res.problems.total, 1);
	assert_string_equal(res.problems.v[0].name, "bad1");
	assert_int_equal(res.problems.v[0].index, 1);
	assert_string_equal(res.problems.v[0].field, "rack");
	assert_string_equal(res.problems.v[0].why, "rack rack99 does not exist");
	assert_int_equal(res.revision, 1);
	store_result_fini(&res);
	assert_null(th_get(f->s, KS, "lon1"));
	assert_null(th_get(f->s, KM, "ok1"));
	assert_null(th_changes(f->s, 2));
	assert_int_equal(th_revision(f->s), 1);
}

static void
test_store_level_refusals(void **state)
{
	static const struct {
		const char *yaml, *field, *why;
	} v[] = {
		{ "racks: [{name: r9, site: nosite, subnet: 10.9.0.0/24}]", "site",
		  "site nosite does not exist" },
		{ "profiles: [{name: p, kernel: nok}]", "kernel", "image nok does not exist" },
		{ "profiles: [{name: p, kernel: k, initrd: noi}]", "initrd",
		  "image noi does not exist" },
		{ "machines: [{name: m, rack: rack12, mac: '52:54:00:00:00:99', profile: nop}]",
		  "profile", "profile nop does not exist" },
		{ "machines: [{name: m, rack: rack12, mac: '52:54:00:00:00:99', ip: 10.11.0.5}]",
		  "ip", "10.11.0.5 is outside the subnet of rack rack12" },
		{ "machines: [{name: m, rack: rack11, mac: '52:54:00:00:00:99', ip: 10.11.0.220}]",
		  "ip", "10.11.0.220 is inside the discovery pool of rack rack11" },
		/* A stored machine no longer fits its rack's new subnet. */
		{ "racks: [{name: rack12, site: fra1, subnet: 10.99.0.0/24}]", "ip",
		  "10.12.0.11 is outside the subnet of rack rack12" },
	};
	struct th_fx *f = *state;
	struct store_result res;

	apply_base(f->s);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		assert_int_equal(th_apply_yaml(f->s, v[i].yaml, &res), 0);
		assert_int_equal(res.status, BM__STATUS__STATUS_INVALID);
		if (res.problems.total != 1 || strcmp(res.problems.v[0].field, v[i].field) ||
		    strcmp(res.problems.v[0].why, v[i].why))
			fail_msg("%s: got %zu problems, first %s: %s", v[i].yaml,
			         res.problems.total, res.problems.n ? res.problems.v[0].field : "-",
			         res.problems.n ? res.problems.v[0].why : "-");
		store_result_fini(&res);
	}
	assert_int_equal(th_revision(f->s), 1);
}

static void
expect_status(struct store *s, Bm__Kind k, const char *name, Bm__Status st, const char *frag)
{
	struct store_result res;
	assert_int_equal(th_delete(s, k, name, &res), 0);
	assert_int_equal(res.status, st);
	if (frag && !strstr(res.message, frag))
		fail_msg("\"%s\" lacks \"%s\"", res.message, frag);
	store_result_fini(&res);
}

static void
test_delete_rules(void **state)
{
	struct th_fx *f = *state;
	Bm__ChangeSet *cs;

	apply_base(f->s);
	expect_status(f->s, KR, "rack12", BM__STATUS__STATUS_PRECONDITION, "still holds machines");
	expect_status(f->s, KS, "ams1", BM__STATUS__STATUS_PRECONDITION, "still holds racks");
	expect_status(f->s, KP, "tiny", BM__STATUS__STATUS_PRECONDITION, "used by machine r11n01");
	expect_status(f->s, KI, "i", BM__STATUS__STATUS_PRECONDITION, "used by profile tiny");
	expect_status(f->s, KM, "nope", BM__STATUS__STATUS_NOT_FOUND, "machine nope not found");
	expect_status(f->s, KM, "Bad", BM__STATUS__STATUS_INVALID, NULL);
	assert_int_equal(th_revision(f->s), 1);

	expect_status(f->s, KM, "r12n01", OK, NULL);
	assert_int_equal(th_revision(f->s), 2);
	cs = th_changes(f->s, 2);
	assert_true(th_has_change(cs, KM, "r12n01", "rack12", 1));
	bm__change_set__free_unpacked(cs, NULL);
	expect_status(f->s, KR, "rack12", OK, NULL);
	expect_status(f->s, KM, "r21n01", OK, NULL);
	expect_status(f->s, KR, "rack21", OK, NULL);
	expect_status(f->s, KS, "ams1", OK, NULL);
	expect_status(f->s, KM, "r11n01", OK, NULL);
	expect_status(f->s, KP, "tiny", OK, NULL);
	expect_status(f->s, KI, "i", OK, NULL);
	assert_null(th_get(f->s, KI, "i"));
	assert_int_equal(th_revision(f->s), 9);
}

static void
test_create_machine(void **state)
{
	struct th_fx *f = *state;
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__Machine m = BM__MACHINE__INIT;
	uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 0x42 };
	struct store_result res;

	apply_base(f->s);
	m.name = "r12n42";
	m.rack = "rack12";
	m.mac.data = mac;
	m.mac.len = 6;
	cmd.op_case = BM__COMMAND__OP_CREATE_MACHINE;
	cmd.create_machine = &m;
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, OK);
	assert_int_equal(res.created, 1);
	store_result_fini(&res);
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, BM__STATUS__STATUS_EXISTS);
	store_result_fini(&res);
	m.name = "r12n01"; /* exists, and would be a plain update through apply */
	mac[5] = 0x43;
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, BM__STATUS__STATUS_EXISTS);
	store_result_fini(&res);
	assert_int_equal(th_revision(f->s), 2);
}

static void
image_stored(struct store *s, const char *name, const char *hex, uint64_t size, Bm__Status want)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__Image im = BM__IMAGE__INIT;
	uint8_t sha[32];
	struct store_result res;

	assert_int_equal(bm_sha256_parse(hex, sha), 0);
	im.name = (char *)name;
	im.sha256.data = sha;
	im.sha256.len = 32;
	im.size = size;
	cmd.op_case = BM__COMMAND__OP_IMAGE_STORED;
	cmd.image_stored = &im;
	assert_int_equal(th_apply(s, &cmd, &res), 0);
	if (res.status != want)
		fail_msg("%s: status %d (%s), wanted %d", name, res.status, res.message, want);
	store_result_fini(&res);
}

static void
test_image_stored(void **state)
{
	static const char k_sha[] =
	    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
	static const char other[] =
	    "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
	struct th_fx *f = *state;
	Bm__Object *o;

	apply_base(f->s);
	image_stored(f->s, "k", other, 4, BM__STATUS__STATUS_INVALID); /* declared digest differs */
	image_stored(f->s, "k", k_sha, 5, BM__STATUS__STATUS_INVALID); /* declared size differs */
	assert_int_equal(th_revision(f->s), 1);
	image_stored(f->s, "k", k_sha, 4, OK);
	o = th_get(f->s, KI, "k");
	assert_true(o->image->stored);
	assert_int_equal(o->image->mod_rev, 2);
	bm__object__free_unpacked(o, NULL);
	image_stored(f->s, "fresh", other, 4, OK); /* pushed without a declaration */
	o = th_get(f->s, KI, "fresh");
	assert_true(o->image->stored);
	assert_int_equal(o->image->size, 4);
	bm__object__free_unpacked(o, NULL);
	/* Re-applying the fleet keeps the stored mark: the digest is the same. */
	apply_base(f->s);
	o = th_get(f->s, KI, "k");
	assert_true(o->image->stored);
	bm__object__free_unpacked(o, NULL);
}

/* Barrier and Coordinator: applied and durable, yet no revision and no
 * change (agents never see them); a bad Coordinator is refused. */
static void
test_barrier_and_coordinator(void **state)
{
	struct th_fx *f = *state;
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__Coordinator co = BM__COORDINATOR__INIT;
	struct store_result res;
	char url[STORE_URL_MAX];

	apply_base(f->s);
	cmd.op_case = BM__COMMAND__OP_BARRIER;
	cmd.barrier = true;
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, OK);
	store_result_fini(&res);
	assert_int_equal(th_revision(f->s), 1);
	assert_int_equal(store_coordinator_url(f->s, 2, url, sizeof(url)), -ENOENT);
	cmd.op_case = BM__COMMAND__OP_COORDINATOR;
	cmd.coordinator = &co;
	co.id = 2;
	co.url = "tcp://10.0.0.2:7400";
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, OK);
	store_result_fini(&res);
	assert_int_equal(store_coordinator_url(f->s, 2, url, sizeof(url)), 0);
	assert_string_equal(url, "tcp://10.0.0.2:7400");
	assert_int_equal(th_revision(f->s), 1);
	assert_null(th_changes(f->s, 2));
	co.id = 0; /* refused, and nothing changes */
	co.url = "tcp://elsewhere:1";
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, BM__STATUS__STATUS_INVALID);
	store_result_fini(&res);
	co.id = 2;
	co.url = "";
	assert_int_equal(th_apply(f->s, &cmd, &res), 0);
	assert_int_equal(res.status, BM__STATUS__STATUS_INVALID);
	store_result_fini(&res);
	assert_int_equal(store_coordinator_url(f->s, 2, url, sizeof(url)), 0);
	assert_string_equal(url, "tcp://10.0.0.2:7400");
}

static void
test_batch_and_replay(void **state)
{
	struct th_fx *f = *state;
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__ObjectRef good = BM__OBJECT_REF__INIT, bad = BM__OBJECT_REF__INIT;
	struct store_result res[3];
	struct store_batch *b;
	struct store_info info;

	apply_base(f->s);
	good.kind = KM;
	good.name = "r11n02";
	bad.kind = KM;
	bad.name = "nope";
	cmd.op_case = BM__COMMAND__OP_DELETE;
	assert_int_equal(store_info_get(f->s, &info), 0);
	/* Three commands in one transaction: the refused one changes nothing,
	 * its neighbours commit. */
	assert_int_equal(store_batch_begin(f->s, &b), 0);
	for (int i = 0; i < 3; i++) {
		store_result_init(&res[i]);
		cmd.delete_ = i == 1 ? &bad : &good;
		if (i == 2)
			good.name = "r12n01";
		assert_int_equal(
		    store_apply(b, info.applied_index + 1 + (uint64_t)i, &cmd, &res[i]), 0);
	}
	assert_int_equal(store_batch_commit(b), 0);
	assert_int_equal(res[0].status, OK);
	assert_int_equal(res[1].status, BM__STATUS__STATUS_NOT_FOUND);
	assert_int_equal(res[2].status, OK);
	assert_int_equal(res[2].revision, 3);
	for (int i = 0; i < 3; i++)
		store_result_fini(&res[i]);
	assert_null(th_get(f->s, KM, "r11n02"));
	assert_null(th_get(f->s, KM, "r12n01"));

	/* A replayed index is skipped; an aborted batch leaves no trace. */
	assert_int_equal(store_batch_begin(f->s, &b), 0);
	store_result_init(&res[0]);
	good.name = "r11n01";
	cmd.delete_ = &good;
	assert_int_equal(store_apply(b, info.applied_index + 3, &cmd, &res[0]), 0);
	assert_string_equal(res[0].message, "already applied");
	store_result_fini(&res[0]);
	store_result_init(&res[0]);
	assert_int_equal(store_apply(b, info.applied_index + 4, &cmd, &res[0]), 0);
	assert_int_equal(res[0].status, OK);
	store_result_fini(&res[0]);
	store_batch_abort(b);
	Bm__Object *o = th_get(f->s, KM, "r11n01");
	assert_non_null(o);
	bm__object__free_unpacked(o, NULL);
	assert_int_equal(th_revision(f->s), 3);
	assert_int_equal(store_info_get(f->s, &info), 0);
	assert_int_equal(info.applied_index, 4);
}

static void
test_compaction(void **state)
{
	struct th_fx *f = *state;
	struct store_info info;
	char yaml[160];

	store_set_changes_retain(f->s, 5);
	apply_base(f->s);
	for (int i = 0; i < 9; i++) {
		struct store_result res;
		snprintf(yaml, sizeof(yaml), "sites: [{name: s%d}]", i);
		assert_int_equal(th_apply_yaml(f->s, yaml, &res), 0);
		assert_int_equal(res.status, OK);
		store_result_fini(&res);
	}
	assert_int_equal(store_info_get(f->s, &info), 0);
	assert_int_equal(info.revision, 10);
	assert_int_equal(info.compact_revision, 5);
	assert_int_equal(info.entries[10], 5); /* the changes table */
	for (uint64_t rev = 1; rev <= 10; rev++) {
		Bm__ChangeSet *cs = th_changes(f->s, rev);
		assert_int_equal(cs != NULL, rev > 5);
		if (cs)
			bm__change_set__free_unpacked(cs, NULL);
	}
}

static void
test_persistence(void **state)
{
	struct th_fx *f = *state;
	Bm__Object *o;

	apply_base(f->s);
	expect_status(f->s, KM, "r11n02", OK, NULL);
	store_close(f->s);
	assert_int_equal(store_open(f->dir, 1ull << 30, &f->s), 0);
	assert_int_equal(th_revision(f->s), 2);
	o = th_get(f->s, KM, "r11n01");
	assert_non_null(o);
	assert_int_equal(o->machine->ip, 0x0a0b000b);
	bm__object__free_unpacked(o, NULL);
	assert_null(th_get(f->s, KM, "r11n02"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply_creates, th_setup_empty, th_teardown),
		cmocka_unit_test_setup_teardown(test_apply_idempotent_and_update, th_setup_empty,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_refusal_is_atomic, th_setup_empty,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_store_level_refusals, th_setup_empty,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_delete_rules, th_setup_empty, th_teardown),
		cmocka_unit_test_setup_teardown(test_create_machine, th_setup_empty, th_teardown),
		cmocka_unit_test_setup_teardown(test_image_stored, th_setup_empty, th_teardown),
		cmocka_unit_test_setup_teardown(test_barrier_and_coordinator, th_setup_empty,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_batch_and_replay, th_setup_empty, th_teardown),
		cmocka_unit_test_setup_teardown(test_compaction, th_setup_empty, th_teardown),
		cmocka_unit_test_setup_teardown(test_persistence, th_setup_empty, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
