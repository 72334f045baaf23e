/* Vectors for the MAC, IPv4, subnet, range and name parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bm/netaddr.h"

static void
test_mac(void **state)
{
	static const struct {
		const char *in;
		int ok;
	} v[] = {
		{ "52:54:00:12:00:01", 1 },
		{ "52-54-00-12-00-01", 1 },
		{ "AA:bb:CC:dd:EE:ff", 1 },
		{ "52:54:00:12:00", 0 },
		{ "52:54:00:12:00:01:02", 0 },
		{ "52:54-00:12:00:01", 0 },
		{ "52:54:00:12:00:0g", 0 },
		{ "5254.0012.0001", 0 },
		{ "", 0 },
		{ "52:54:00:12:00:1 ", 0 },
	};
	uint8_t mac[6] = { 0 };
	char buf[BM_MAC_STR];

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(bm_mac_parse(v[i].in, mac) == 0, v[i].ok);
	assert_int_equal(bm_mac_parse("AA:bb:CC:dd:EE:ff", mac), 0);
	assert_string_equal(bm_mac_format(mac, buf), "aa:bb:cc:dd:ee:ff");
}

static void
test_ip4(void **state)
{
	static const struct {
		const char *in;
		uint32_t want; /* 1 = refused */
	} v[] = {
		{ "10.12.0.1", 0x0a0c0001 },
		{ "0.0.0.0", 0 },
		{ "255.255.255.255", 0xffffffff },
		{ "010.1.1.1", 1 },
		{ "256.1.1.1", 1 },
		{ "1.2.3", 1 },
		{ "1.2.3.4.5", 1 },
		{ "1.2.3.4 ", 1 },
		{ "-1.2.3.4", 1 },
		{ "1..3.4", 1 },
		{ "", 1 },
		{ "1.2.3.4/24", 1 },
	};
	char buf[BM_IP4_STR];
	uint32_t ip;

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int r = bm_ip4_parse(v[i].in, &ip);
		if (v[i].want == 1) {
			assert_int_equal(r, -22);
		} else {
			assert_int_equal(r, 0);
			assert_int_equal(ip, v[i].want);
			assert_string_equal(bm_ip4_format(ip, buf), v[i].in);
		}
	}
}

static void
test_cidr_and_range(void **state)
{
	uint32_t net, a, b;
	unsigned plen;

	(void)state;
	assert_int_equal(bm_cidr_parse("10.12.0.0/24", &net, &plen), 0);
	assert_int_equal(net, 0x0a0c0000);
	assert_int_equal(plen, 24);
	assert_int_equal(bm_cidr_parse("10.12.0.1/24", &net, &plen), -22); /* host bits */
	assert_int_equal(bm_cidr_parse("10.0.0.0/7", &net, &plen), -22);
	assert_int_equal(bm_cidr_parse("10.0.0.0/31", &net, &plen), -22);
	assert_int_equal(bm_cidr_parse("10.0.0.0/", &net, &plen), -22);
	assert_int_equal(bm_cidr_parse("10.0.0.0/08", &net, &plen), -22);
	assert_true(bm_ip4_is_host(0x0a0c0001, 0x0a0c0000, 24));
	assert_false(bm_ip4_is_host(0x0a0c0000, 0x0a0c0000, 24));
	assert_false(bm_ip4_is_host(0x0a0c00ff, 0x0a0c0000, 24));
	assert_false(bm_ip4_is_host(0x0a0d0001, 0x0a0c0000, 24));
	assert_int_equal(bm_ip4_range_parse("10.12.0.200-10.12.0.250", &a, &b), 0);
	assert_int_equal(b - a, 50);
	assert_int_equal(bm_ip4_range_parse("10.12.0.250-10.12.0.200", &a, &b), -22);
	assert_int_equal(bm_ip4_range_parse("10.12.0.200", &a, &b), -22);
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(bm_name_valid("rack12"));
	assert_true(bm_name_valid("r12n01"));
	assert_true(bm_name_valid("0-a"));
	assert_true(
	    bm_name_valid("a23456789012345678901234567890123456789012345678901234567890123"));
	assert_false(
	    bm_name_valid("a234567890123456789012345678901234567890123456789012345678901234"));
	assert_false(bm_name_valid(""));
	assert_false(bm_name_valid("-rack"));
	assert_false(bm_name_valid("Rack12"));
	assert_false(bm_name_valid("rack_12"));
	assert_false(bm_name_valid("rack 12"));
	assert_false(bm_name_valid("rack.12"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_ip4),
		cmocka_unit_test(test_cidr_and_range),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
