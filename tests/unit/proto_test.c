/* Schema round trips: records, commands and envelopes survive pack/unpack;
 * map helpers keep keys sorted; names of kinds, states and statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bm/proto.h"

static void *
roundtrip(const ProtobufCMessage *m)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *buf = malloc(n + 1);
	void *out;

	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), n);
	out = protobuf_c_message_unpack(m->descriptor, NULL, n, buf);
	free(buf);
	assert_non_null(out);
	return out;
}

static void
test_machine_roundtrip(void **state)
{
	Bm__Machine m = BM__MACHINE__INIT, *u;
	uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0, 1 };

	(void)state;
	m.name = "r12n01";
	m.rack = "rack12";
	m.mac.data = mac;
	m.mac.len = 6;
	m.ip = 0x0a0c000b;
	m.profile = "tiny";
	m.bmc = "ipmi://a:b@c";
	m.netboot = 1;
	m.state = BM__MACHINE_STATE__STATE_DEPLOYED;
	m.create_rev = 3;
	m.mod_rev = 9;
	assert_int_equal(bm_map_set(&m.n_labels, (void ***)&m.labels,
	                            &bm__machine__labels_entry__descriptor, "zone", "b"),
	                 0);
	assert_int_equal(bm_map_set(&m.n_labels, (void ***)&m.labels,
	                            &bm__machine__labels_entry__descriptor, "role", "gpu"),
	                 0);
	assert_int_equal(bm_map_set(&m.n_labels, (void ***)&m.labels,
	                            &bm__machine__labels_entry__descriptor, "zone", "a"),
	                 0);
	assert_int_equal(m.n_labels, 2);
	assert_string_equal(m.labels[0]->key, "role"); /* kept sorted */
	u = roundtrip(&m.base);
	assert_string_equal(u->name, "r12n01");
	assert_string_equal(u->rack, "rack12");
	assert_memory_equal(u->mac.data, mac, 6);
	assert_int_equal(u->ip, 0x0a0c000b);
	assert_int_equal(u->state, BM__MACHINE_STATE__STATE_DEPLOYED);
	assert_true(u->netboot);
	assert_int_equal(u->create_rev, 3);
	assert_int_equal(u->mod_rev, 9);
	assert_string_equal(bm_map_get(u->n_labels, (void **)u->labels, "zone"), "a");
	assert_null(bm_map_get(u->n_labels, (void **)u->labels, "nope"));
	bm__machine__free_unpacked(u, NULL);
	for (size_t i = 0; i < m.n_labels; i++)
		protobuf_c_message_free_unpacked(&m.labels[i]->base, NULL);
	free(m.labels);
}

static void
test_command_and_envelopes(void **state)
{
	Bm__Command c = BM__COMMAND__INIT, *uc;
	Bm__ObjectRef ref = BM__OBJECT_REF__INIT;
	Bm__Rack rack = BM__RACK__INIT;
	uint32_t dns[2] = { 1, 2 };
	Bm__Rack *racks[1] = { &rack };
	Bm__Fleet fleet = BM__FLEET__INIT;
	Bm__Response resp = BM__RESPONSE__INIT, *ur;
	Bm__Problem prob = BM__PROBLEM__INIT, *probs[1] = { &prob };

	(void)state;
	ref.kind = BM__KIND__KIND_RACK;
	ref.name = "rack12";
	c.time_ms = 1234;
	c.op_case = BM__COMMAND__OP_DELETE;
	c.delete_ = &ref;
	uc = roundtrip(&c.base);
	assert_int_equal(uc->op_case, BM__COMMAND__OP_DELETE);
	assert_int_equal(uc->time_ms, 1234);
	assert_string_equal(uc->delete_->name, "rack12");
	bm__command__free_unpacked(uc, NULL);

	rack.name = "rack12";
	rack.n_dns = 2;
	rack.dns = dns;
	rack.pool_start = 7;
	fleet.n_racks = 1;
	fleet.racks = racks;
	c.op_case = BM__COMMAND__OP_APPLY;
	c.apply = &fleet;
	uc = roundtrip(&c.base);
	assert_int_equal(uc->apply->n_racks, 1);
	assert_int_equal(uc->apply->racks[0]->dns[1], 2);
	assert_int_equal(uc->apply->racks[0]->pool_start, 7);
	bm__command__free_unpacked(uc, NULL);

	prob.kind = BM__KIND__KIND_MACHINE;
	prob.name = "m";
	prob.index = 4;
	prob.field = "mac";
	prob.why = "dup";
	resp.status = BM__STATUS__STATUS_INVALID;
	resp.message = "refused";
	resp.n_problems = 1;
	resp.problems = probs;
	resp.id = 77;
	resp.version = BM_PROTO_VERSION;
	ur = roundtrip(&resp.base);
	assert_int_equal(ur->status, BM__STATUS__STATUS_INVALID);
	assert_int_equal(ur->id, 77);
	assert_int_equal(ur->problems[0]->index, 4);
	assert_string_equal(ur->problems[0]->why, "dup");
	bm__response__free_unpacked(ur, NULL);
}

static void
test_names(void **state)
{
	Bm__Kind k;
	Bm__MachineState s;

	(void)state;
	assert_int_equal(bm_kind_parse("machines", &k), 0);
	assert_int_equal(k, BM__KIND__KIND_MACHINE);
	assert_int_equal(bm_kind_parse("rack", &k), 0);
	assert_int_equal(k, BM__KIND__KIND_RACK);
	assert_int_equal(bm_kind_parse("rackss", &k), -22);
	assert_int_equal(bm_kind_parse("", &k), -22);
	assert_string_equal(bm_kind_name(BM__KIND__KIND_IMAGE), "image");
	assert_string_equal(bm_kind_name((Bm__Kind)99), "object");
	assert_int_equal(bm_state_parse("deployed", &s), 0);
	assert_int_equal(s, BM__MACHINE_STATE__STATE_DEPLOYED);
	assert_int_equal(bm_state_parse("gone", &s), -22);
	assert_string_equal(bm_state_name((Bm__MachineState)42), "unknown");
	assert_string_equal(bm_status_name(BM__STATUS__STATUS_PRECONDITION), "failed precondition");
}

/* Firmware from DHCP option 93, and the one a power driver uses. */
static void
test_firmware(void **state)
{
	Bm__Machine m = BM__MACHINE__INIT;
	(void)state;

	assert_string_equal(bm_firmware_of_arch(0), "bios");
	assert_string_equal(bm_firmware_of_arch(7), "uefi");
	assert_string_equal(bm_firmware_of_arch(9), "uefi");
	assert_string_equal(bm_firmware_of_arch(16), "uefi-http");
	assert_string_equal(bm_firmware_of_arch(11), "arm64");
	assert_null(bm_firmware_of_arch(1));
	assert_null(bm_firmware_of_arch(-1));
	assert_string_equal(bm_machine_firmware(&m), "");
	m.firmware_seen = "uefi-http";
	assert_string_equal(bm_machine_firmware(&m), "uefi-http");
	m.firmware = "uefi"; /* stated uefi, seen booting by HTTP: HTTP */
	assert_string_equal(bm_machine_firmware(&m), "uefi-http");
	m.firmware = "bios"; /* the fleet wins over what was seen */
	assert_string_equal(bm_machine_firmware(&m), "bios");
	m.firmware_seen = "";
	m.firmware = "uefi";
	assert_string_equal(bm_machine_firmware(&m), "uefi");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_machine_roundtrip),
		cmocka_unit_test(test_command_and_envelopes),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_firmware),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
