/* Indexes: MACs unique fleet-wide, reserved IPs unique per rack, moves and
 * swaps within one fleet, the rack membership index; and list filters and
 * pages built on them. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "store_helpers.h"

#define KR BM__KIND__KIND_RACK
#define KM BM__KIND__KIND_MACHINE
#define OK BM__STATUS__STATUS_OK
#define INVALID BM__STATUS__STATUS_INVALID

/* Apply yaml; expect status, and for a refusal one problem on field with why. */
static void
expect(struct store *s, const char *yaml, Bm__Status st, const char *field, const char *why)
{
	struct store_result res;

	assert_int_equal(th_apply_yaml(s, yaml, &res), 0);
	if (res.status != st)
		fail_msg("%s: status %d (%s: %s)", yaml, res.status, res.message,
		         res.problems.n ? res.problems.v[0].why : "-");
	if (field) {
		assert_int_equal(res.problems.total, 1);
		assert_string_equal(res.problems.v[0].field, field);
		assert_string_equal(res.problems.v[0].why, why);
	}
	store_result_fini(&res);
}

static uint32_t
rack_count(struct store *s, const char *rack)
{
	Bm__Object *o = th_get(s, KR, rack);
	uint32_t n = o->count;
	bm__object__free_unpacked(o, NULL);
	return n;
}

static void
test_mac_unique_fleet_wide(void **state)
{
	struct th_fx *f = *state;

	expect(f->s, "machines: [{name: x1, rack: rack21, mac: '52:54:00:11:00:01'}]", INVALID,
	       "mac", "52:54:00:11:00:01 is already the MAC of machine r11n01");
	/* Changing an existing machine's MAC onto another's is refused too. */
	expect(f->s,
	       "machines: [{name: r12n01, rack: rack12, mac: '52:54:00:11:00:02', ip: 10.12.0.11}]",
	       INVALID, "mac", "52:54:00:11:00:02 is already the MAC of machine r11n02");
	/* Upper case and dashes name the same MAC. */
	expect(f->s, "machines: [{name: x1, rack: rack21, mac: '52-54-00-11-00-0A'}]", OK, NULL,
	       NULL);
	expect(f->s, "machines: [{name: x2, rack: rack21, mac: '52:54:00:11:00:0a'}]", INVALID,
	       "mac", "52:54:00:11:00:0a is already the MAC of machine x1");
}

static void
test_ip_unique_per_rack(void **state)
{
	struct th_fx *f = *state;

	/* r21n01 already holds 10.11.0.11 in rack21 while r11n01 holds it in
	 * rack11: per rack, that is fine. */
	expect(f->s,
	       "machines: [{name: x1, rack: rack11, mac: '52:54:00:00:00:01', ip: 10.11.0.12}]",
	       INVALID, "ip", "10.11.0.12 is already reserved for machine r11n02 in rack rack11");
	expect(f->s,
	       "machines: [{name: x1, rack: rack21, mac: '52:54:00:00:00:01', ip: 10.11.0.12}]", OK,
	       NULL, NULL);
}

static void
test_swap_within_fleet(void **state)
{
	struct th_fx *f = *state;
	Bm__Object *o;

	/* Two machines exchange MACs and IPs in one apply: not a conflict. */
	expect(f->s,
	       "machines:\n"
	       " - {name: r11n01, rack: rack11, mac: '52:54:00:11:00:02', ip: 10.11.0.12}\n"
	       " - {name: r11n02, rack: rack11, mac: '52:54:00:11:00:01', ip: 10.11.0.11}\n",
	       OK, NULL, NULL);
	o = th_get(f->s, KM, "r11n01");
	assert_int_equal(o->machine->mac.data[5], 2);
	assert_string_equal(o->machine->profile, ""); /* apply replaces the record */
	bm__object__free_unpacked(o, NULL);
	/* The index follows: the old MAC of r11n01 now resolves to r11n02. */
	struct store_read *r;
	Bm__Machine *m;
	uint8_t mac[6] = { 0x52, 0x54, 0, 0x11, 0, 1 };
	assert_int_equal(store_read_begin(f->s, &r), 0);
	assert_int_equal(store_machine_by_mac(r, mac, &m), 0);
	assert_string_equal(m->name, "r11n02");
	bm__machine__free_unpacked(m, NULL);
	mac[5] = 9;
	assert_int_equal(store_machine_by_mac(r, mac, &m), -2);
	store_read_end(r);
}

static void
test_move_between_racks(void **state)
{
	struct th_fx *f = *state;
	Bm__ChangeSet *cs;

	assert_int_equal(rack_count(f->s, "rack11"), 2);
	expect(f->s,
	       "machines: [{name: r11n02, rack: rack12, mac: '52:54:00:11:00:02', ip: 10.12.0.50}]",
	       OK, NULL, NULL);
	assert_int_equal(rack_count(f->s, "rack11"), 1);
	assert_int_equal(rack_count(f->s, "rack12"), 2);
	cs = th_changes(f->s, 2);
	assert_true(th_has_change(cs, KM, "r11n02", "rack12", 0));
	assert_true(th_has_change(cs, KM, "r11n02", "rack11", 1)); /* gone from rack11's view */
	bm__change_set__free_unpacked(cs, NULL);
	/* Its old address in rack11 is free again. */
	expect(f->s,
	       "machines: [{name: x1, rack: rack11, mac: '52:54:00:00:00:01', ip: 10.11.0.12}]", OK,
	       NULL, NULL);
}

static void
test_delete_frees_index(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;

	assert_int_equal(th_delete(f->s, KM, "r12n01", &res), 0);
	assert_int_equal(res.status, OK);
	store_result_fini(&res);
	expect(f->s,
	       "machines: [{name: x1, rack: rack12, mac: '52:54:00:12:00:01', ip: 10.12.0.11}]", OK,
	       NULL, NULL);
	assert_int_equal(rack_count(f->s, "rack12"), 1);
}

static void
test_subnet_change_with_machines(void **state)
{
	struct th_fx *f = *state;

	/* Renumbering a rack together with its machine is one consistent change. */
	expect(
	    f->s,
	    "racks: [{name: rack12, site: fra1, subnet: 10.99.0.0/24}]\n"
	    "machines: [{name: r12n01, rack: rack12, mac: '52:54:00:12:00:01', ip: 10.99.0.11}]\n",
	    OK, NULL, NULL);
}

/* List with the query; return names joined by spaces. */
static void
list_names(struct store *s, Bm__ListRequest *q, char *out, size_t len, char *next, size_t nlen)
{
	struct store_read *r;
	Bm__ListResult *l;

	assert_int_equal(store_read_begin(s, &r), 0);
	assert_int_equal(store_list(r, q, &l), 0);
	store_read_end(r);
	out[0] = '\0';
	for (size_t i = 0; i < l->n_items; i++) {
		strncat(out, i ? " " : "", len - strlen(out) - 1);
		strncat(out, l->items[i]->machine ? l->items[i]->machine->name : "?",
		        len - strlen(out) - 1);
	}
	snprintf(next, nlen, "%s", l->next);
	bm__list_result__free_unpacked(l, NULL);
}

static void
test_list_filters_and_pages(void **state)
{
	struct th_fx *f = *state;
	Bm__ListRequest q = BM__LIST_REQUEST__INIT;
	char names[256], next[64];

	q.kind = KM;
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "r11n01 r11n02 r12n01 r21n01");
	assert_string_equal(next, "");
	q.rack = "rack11";
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "r11n01 r11n02");
	q.rack = "";
	q.site = "ams1";
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "r21n01");
	q.site = "";
	assert_int_equal(bm_map_set(&q.n_labels, (void ***)&q.labels,
	                            &bm__list_request__labels_entry__descriptor, "role", "gpu"),
	                 0);
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "r11n01 r12n01");
	q.state = BM__MACHINE_STATE__STATE_DEPLOYED;
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "");
	q.state = 0;
	protobuf_c_message_free_unpacked(&q.labels[0]->base, NULL);
	free(q.labels);
	q.n_labels = 0;
	q.labels = NULL;

	/* Pages of two, by name and by rack index. */
	q.limit = 2;
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "r11n01 r11n02");
	assert_string_equal(next, "r11n02");
	q.after = next;
	char after[64];
	snprintf(after, sizeof(after), "%s", next);
	q.after = after;
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "r12n01 r21n01");
	q.rack = "rack11";
	q.after = "r11n01";
	q.limit = 0;
	list_names(f->s, &q, names, sizeof(names), next, sizeof(next));
	assert_string_equal(names, "r11n02");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mac_unique_fleet_wide, th_setup_base,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_ip_unique_per_rack, th_setup_base,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_swap_within_fleet, th_setup_base, th_teardown),
		cmocka_unit_test_setup_teardown(test_move_between_racks, th_setup_base,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_delete_frees_index, th_setup_base,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_subnet_change_with_machines, th_setup_base,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_list_filters_and_pages, th_setup_base,
		                                th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
