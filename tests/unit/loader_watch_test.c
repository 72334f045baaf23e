/* loader_watch: a firmware that asks DHCP again right after fetching the
 * agent's UEFI iPXE refused it; one that asks later, or after iPXE itself
 * asked, did not; each verdict once; the table's oldest entry makes room. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "loader_watch.h"

static struct loader_watch w;

static void
test_refused(void **state)
{
	const uint8_t a[6] = { 0x52, 0x54, 0, 0xc, 0, 5 }, b[6] = { 0x52, 0x54, 0, 0xc, 0, 6 };
	char f[48];
	(void)state;

	memset(&w, 0, sizeof(w));
	assert_false(loader_refused(&w, a, 1000, f, sizeof(f))); /* nothing fetched */
	loader_fetched(&w, a, "ipxe.efi", 1000);
	loader_fetched(&w, b, "ipxe.efi", 1000);
	assert_true(loader_refused(&w, a, 1200, f, sizeof(f)));
	assert_string_equal(f, "ipxe.efi");
	assert_false(loader_refused(&w, a, 1300, f, sizeof(f))); /* once */
	/* b's iPXE ran (it asked as iPXE): its firmware's next DHCP is fine. */
	loader_forget(&w, b);
	assert_false(loader_refused(&w, b, 1300, f, sizeof(f)));
	/* Asking again long after: a reboot, not a refusal. */
	loader_fetched(&w, a, "ipxe.efi", 2000);
	assert_false(loader_refused(&w, a, 2000 + LOADER_REFUSED_WINDOW_MS + 1, f, sizeof(f)));
	/* A full table replaces its oldest entry. */
	for (unsigned i = 0; i <= LOADER_WATCH_MAX; i++) {
		uint8_t m[6] = { 2, 0, 0, 0, (uint8_t)(i >> 8), (uint8_t)i };
		loader_fetched(&w, m, "ipxe.efi", 5000 + i);
	}
	uint8_t first[6] = { 2, 0, 0, 0, 0, 0 }, last[6] = { 2, 0, 0, 0, 1, 0 };
	assert_false(loader_refused(&w, first, 6000, f, sizeof(f)));
	assert_true(loader_refused(&w, last, 6000, f, sizeof(f)));
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_refused) };
	return cmocka_run_group_tests(tests, NULL, NULL);
}
