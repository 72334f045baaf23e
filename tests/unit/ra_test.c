/* Router advertisement wire: the message iPXE ends its IPv6 wait on, and
 * the solicitation check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ra_wire.h"

static void
test_build(void **state)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x0c, 0x00, 0x01 };
	/* type 134 code 0, checksum (kernel's), hop limit 64, M=O=0, router
	 * lifetime 0, reachable 0, retrans 0; option 1 (source link-layer
	 * address), length 1 (8 bytes), the MAC. */
	static const uint8_t want[RA_LEN] = { 134, 0, 0,    0,    64,   0,    0,    0,
		                              0,   0, 0,    0,    0,    0,    0,    0,
		                              1,   1, 0x52, 0x54, 0x00, 0x0c, 0x00, 0x01 };
	uint8_t buf[64];

	(void)state;
	assert_int_equal(ra_build(buf, sizeof(buf), mac), RA_LEN);
	assert_memory_equal(buf, want, RA_LEN);
	assert_int_equal(ra_build(buf, RA_LEN - 1, mac), 0);
}

static void
test_solicitation(void **state)
{
	static const uint8_t rs[8] = { 133, 0, 0x12, 0x34, 0, 0, 0, 0 };
	uint8_t m[8];

	(void)state;
	assert_true(ra_is_solicitation(rs, sizeof(rs)));
	assert_false(ra_is_solicitation(rs, 7)); /* truncated */
	memcpy(m, rs, 8);
	m[1] = 1; /* code must be 0 */
	assert_false(ra_is_solicitation(m, 8));
	m[0] = 134; /* an advertisement */
	m[1] = 0;
	assert_false(ra_is_solicitation(m, 8));
	assert_false(ra_is_solicitation(NULL, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_solicitation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
