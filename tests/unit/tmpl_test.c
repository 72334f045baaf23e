/* Templates: what parses, what is refused (with its line), and rendering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bm/tmpl.h"

static int
check(const char *t, char *why)
{
	return bm_tmpl_check(t, strlen(t), why, 128);
}

static void
test_check(void **state)
{
	char why[128];

	(void)state;
	assert_int_equal(check("plain text, no variables", why), 0);
	assert_int_equal(check("host {{hostname}} at {{ ip }}", why), 0);
	assert_int_equal(check("{{labels.role}}", why), 0);
	assert_int_equal(check("single { brace } is text", why), 0);
	assert_int_equal(check("a\nb\n{{hostnme}}", why), -22);
	assert_string_equal(why, "line 3: unknown variable {{hostnme}}");
	assert_int_equal(check("x {{hostname", why), -22);
	assert_string_equal(why, "line 1: '{{' is not followed by a variable name and '}}'");
	assert_int_equal(check("{{}}", why), -22);
	assert_int_equal(check("{{ host name }}", why), -22);
	assert_int_equal(check("{{labels.}}", why), -22);
	assert_int_equal(check("{{", why), -22);
}

static const char *
lookup(void *arg, const char *name)
{
	(void)arg;
	if (!strcmp(name, "hostname"))
		return "r12n01";
	if (!strcmp(name, "labels.role"))
		return "gpu";
	return NULL;
}

static void
test_render(void **state)
{
	const char *t = "host={{hostname}} role={{ labels.role }} tok={{token}}.";
	char *out = NULL;
	long n;

	(void)state;
	n = bm_tmpl_render(t, strlen(t), lookup, NULL, &out);
	assert_string_equal(out, "host=r12n01 role=gpu tok=.");
	assert_int_equal(n, (long)strlen(out));
	free(out);
	assert_int_equal(bm_tmpl_render("{{x", 3, lookup, NULL, &out), -22);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
