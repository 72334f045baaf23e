/* The audit log in the store: an entry for each command that carries an
 * audit record, accepted or refused (with why), none for the rest; notes
 * (audit-only commands) with their own outcome; read from a sequence, since
 * a time, a page at a time; the oldest dropped beyond the store's bound. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "store_helpers.h"

/* Apply yaml as an audited apply by `who` at time_ms. */
static Bm__Status
audited_apply(struct store *s, const char *yaml, const char *who, uint64_t time_ms)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__AuditEntry a = BM__AUDIT_ENTRY__INIT;
	struct store_result res;
	struct bm_problems p;
	struct bm_fleet fl;
	Bm__Status st;

	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(yaml, strlen(yaml), &fl, &p), 0);
	a.who = (char *)who;
	a.peer = "10.0.0.5:4000";
	a.what = "apply";
	a.targets = "machines x";
	cmd.op_case = BM__COMMAND__OP_APPLY;
	cmd.apply = fl.fleet;
	cmd.audit = &a;
	cmd.time_ms = time_ms;
	assert_int_equal(th_apply(s, &cmd, &res), 0);
	st = res.status;
	store_result_fini(&res);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	return st;
}

static Bm__AuditResult *
list(struct store *s, uint64_t since, uint64_t after, uint32_t limit)
{
	struct store_read *rd;
	Bm__AuditResult *r;

	assert_int_equal(store_read_begin(s, &rd), 0);
	assert_int_equal(store_audit_list(rd, since, after, limit, &r), 0);
	store_read_end(rd);
	return r;
}

static const char good[] = "sites: [{name: s}]\n";
static const char bad[] = "racks: [{name: r, site: nosuch, subnet: 10.0.0.0/24}]\n";

static void
test_accepted_and_refused(void **state)
{
	struct th_fx *f = *state;
	Bm__Command note = BM__COMMAND__INIT, plain = BM__COMMAND__INIT;
	Bm__AuditEntry n = BM__AUDIT_ENTRY__INIT;
	struct store_result res;
	Bm__AuditResult *r;

	assert_int_equal(audited_apply(f->s, good, "operator alice (admin)", 1000), 0);
	assert_int_equal(audited_apply(f->s, bad, "operator bob (admin)", 2000),
	                 BM__STATUS__STATUS_INVALID);
	/* An unaudited command (the ticker's) writes no entry. */
	plain.op_case = BM__COMMAND__OP_OP_TICK;
	plain.op_tick = 1;
	plain.time_ms = 2500;
	assert_int_equal(th_apply(f->s, &plain, &res), 0);
	store_result_fini(&res);
	n.who = "operator carol (viewer)";
	n.what = "apply";
	n.outcome = "denied: apply needs role admin, you are viewer";
	note.op_case = BM__COMMAND__OP_AUDIT_ONLY;
	note.audit_only = 1;
	note.audit = &n;
	note.time_ms = 3000;
	assert_int_equal(th_apply(f->s, &note, &res), 0);
	store_result_fini(&res);

	r = list(f->s, 0, 0, 10);
	assert_int_equal(r->n_entries, 3);
	assert_int_equal(r->next_seq, 0);
	assert_int_equal(r->entries[0]->seq, 1);
	assert_string_equal(r->entries[0]->who, "operator alice (admin)");
	assert_string_equal(r->entries[0]->peer, "10.0.0.5:4000");
	assert_string_equal(r->entries[0]->outcome, "ok");
	assert_int_equal(r->entries[0]->time_ms, 1000);
	assert_int_equal(r->entries[0]->revision, th_revision(f->s));
	assert_non_null(strstr(r->entries[1]->outcome, "refused: "));
	assert_non_null(strstr(r->entries[1]->outcome, "site nosuch does not exist"));
	assert_string_equal(r->entries[2]->outcome, n.outcome);
	bm__audit_result__free_unpacked(r, NULL);
	/* Since a time; after a sequence; a page at a time. */
	r = list(f->s, 2000, 0, 10);
	assert_int_equal(r->n_entries, 2);
	assert_int_equal(r->entries[0]->seq, 2);
	bm__audit_result__free_unpacked(r, NULL);
	r = list(f->s, 0, 1, 1);
	assert_int_equal(r->n_entries, 1);
	assert_int_equal(r->entries[0]->seq, 2);
	assert_int_equal(r->next_seq, 2);
	bm__audit_result__free_unpacked(r, NULL);
}

static void
test_bounded(void **state)
{
	struct th_fx *f = *state;
	Bm__AuditResult *r;

	store_set_audit_keep(f->s, 3);
	for (int i = 0; i < 5; i++)
		assert_int_equal(audited_apply(f->s, good, "operator alice (admin)", 1000 + i), 0);
	r = list(f->s, 0, 0, 10);
	assert_int_equal(r->n_entries, 3);
	assert_int_equal(r->entries[0]->seq, 3); /* 1 and 2 dropped, numbering goes on */
	assert_int_equal(r->entries[2]->seq, 5);
	bm__audit_result__free_unpacked(r, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accepted_and_refused, th_setup_empty,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_bounded, th_setup_empty, th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
