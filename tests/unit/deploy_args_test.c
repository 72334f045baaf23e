/* The deploy program's orders from a kernel command line: every field of
 * the lab's disk profile, the kernel's own words skipped, and each refusal
 * named (no callback, no image, a digest that is not one, a format it
 * cannot write, a value too long). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "args.h"

#define SHA "00921d28477b186718b7e280f008f1536e340cd771f2aa513d8c9779e9109bff"
#define CB " bm.callback=http://10.12.0.1:8080/callback/52:54:00:0c:00:02"

static void
refused(const char *cmdline, const char *part)
{
	static struct deploy_args a;
	char why[256] = "";
	assert_int_equal(deploy_args_parse(cmdline, &a, why, sizeof(why)), -EINVAL);
	if (!strstr(why, part))
		fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", cmdline, why, part);
}

static void
test_lab_profile(void **state)
{
	static struct deploy_args a;
	char why[256] = "";
	(void)state;

	assert_int_equal(deploy_args_parse("console=ttyS0 quiet bm.mac=52:54:00:0c:00:02 "
	                                   "bm.image=http://10.12.0.1:8080/images/" SHA
	                                   " bm.sha256=" SHA " bm.format=raw bm.root=pick=largest "
	                                   "bm.grow=1" CB " bm.token=abc bm.seed=http://s/\n",
	                                   &a, why, sizeof(why)),
	                 0);
	assert_string_equal(a.image, "http://10.12.0.1:8080/images/" SHA);
	assert_string_equal(a.callback, "http://10.12.0.1:8080/callback/52:54:00:0c:00:02");
	assert_string_equal(a.seed, "http://s/");
	assert_string_equal(a.token, "abc");
	assert_string_equal(a.root, "pick=largest");
	assert_int_equal(a.sha256[0], 0x00);
	assert_int_equal(a.sha256[1], 0x92);
	assert_false(a.zstd);
	assert_true(a.grow);
	/* Defaults: raw.zst, no growth, no seed, no hints. */
	assert_int_equal(deploy_args_parse("bm.image=https://x/i bm.sha256=" SHA CB " bm.grow=0",
	                                   &a, why, sizeof(why)),
	                 0);
	assert_true(a.zstd);
	assert_false(a.grow);
	assert_string_equal(a.seed, "");
	assert_string_equal(a.root, "");
}

static void
test_refusals(void **state)
{
	char long_token[200];
	(void)state;

	refused("bm.image=http://x bm.sha256=" SHA, "no bm.callback=");
	refused(CB " bm.sha256=" SHA, "no bm.image=");
	refused(CB " bm.image=file:///etc/passwd bm.sha256=" SHA, "no bm.image=");
	refused(CB " bm.image=http://x bm.sha256=123", "bm.sha256= is not 64 hex digits");
	refused(CB " bm.image=http://x bm.sha256=" SHA " bm.format=qcow2", "bm.format=qcow2");
	refused(CB " bm.image=http://x bm.sha256=" SHA " bm.seed=tftp://x/", "bm.seed=");
	memset(long_token, 'a', sizeof(long_token) - 1);
	long_token[sizeof(long_token) - 1] = '\0';
	char line[512];
	snprintf(line, sizeof(line), CB " bm.token=%s", long_token);
	refused(line, "bm.token= is too long");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lab_profile),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
