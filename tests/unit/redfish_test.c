/* The Redfish driver's pure part against recorded DMTF-shaped answers of
 * iDRAC, iLO, OpenBMC and Supermicro (tests/unit/redfish/): the URL, the
 * system picked from the collection, the reset chosen from the allowable
 * values, the boot override rendered and read back, errors and tasks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bm/sha256.h"
#include "redfish.h"

static char body[1 << 16];
static size_t body_len;

static const char *
load(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", REDFISH_BODIES, name);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	body_len = fread(body, 1, sizeof(body) - 1, f);
	body[body_len] = '\0';
	fclose(f);
	return body;
}

static void
system_of(const char *name, struct redfish_system *s)
{
	char why[256] = "";
	load(name);
	if (redfish_parse_system(body, body_len, s, why, sizeof(why)) != 0)
		fail_msg("%s: %s", name, why);
}

static void
test_url(void **state)
{
	struct redfish_target t;
	char why[200];
	(void)state;

	assert_int_equal(redfish_parse_url("redfish://admin@10.0.0.5", &t, why, sizeof(why)), 0);
	assert_true(t.https);
	assert_int_equal(t.port, 443);
	assert_string_equal(t.user, "admin");
	assert_string_equal(t.pass, "");
	assert_string_equal(t.system, "");
	assert_int_equal(redfish_parse_url("redfish+http://root:p:w@bmc-1.lab:8000/redfish/v1/"
	                                   "Systems/System.Embedded.1/",
	                                   &t, why, sizeof(why)),
	                 0);
	assert_false(t.https);
	assert_int_equal(t.port, 8000);
	assert_string_equal(t.pass, "p:w");
	assert_string_equal(t.host, "bmc-1.lab");
	assert_string_equal(t.system, "/redfish/v1/Systems/System.Embedded.1");
	assert_int_equal(redfish_parse_url("redfish+https://a@h:1/", &t, why, sizeof(why)), 0);

	static const struct {
		const char *url, *why;
	} bad[] = {
		{ "ipmi://a@h", "not redfish" },
		{ "redfish://h", "a user is required" },
		{ "redfish://a@h@g", "more than one '@'" },
		{ "redfish://a@h:0", "port" },
		{ "redfish://a@h:99999", "port" },
		{ "redfish://a@h:x", "port" },
		{ "redfish://a@", "host is empty" },
		{ "redfish://a@-o ProxyCommand", "host is not" },
		{ "redfish://a@h/redfish/v1/Managers/1", "/redfish/v1/Systems/ID" },
		{ "redfish://a@h/redfish/v1/Systems/../../x", "/redfish/v1/Systems/ID" },
		{ "redfish://a@h/redfish/v1/Systems/a b", "/redfish/v1/Systems/ID" },
		{ "redfish://a@h/redfish/v1/Systems/", "/redfish/v1/Systems/ID" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(redfish_parse_url(bad[i].url, &t, why, sizeof(why)), -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("%s: \"%s\" lacks \"%s\"", bad[i].url, why, bad[i].why);
	}
}

static void
test_pick_system(void **state)
{
	char path[256], why[300];
	(void)state;

	load("systems_one.json");
	assert_int_equal(redfish_pick_system(body, body_len, path, sizeof(path), why, sizeof(why)),
	                 0);
	assert_string_equal(path, "/redfish/v1/Systems/System.Embedded.1");
	load("systems_two.json");
	assert_int_equal(redfish_pick_system(body, body_len, path, sizeof(path), why, sizeof(why)),
	                 -EEXIST);
	assert_non_null(strstr(why, "2 systems"));
	assert_non_null(strstr(why, "/redfish/v1/Systems/node1 /redfish/v1/Systems/node2"));
	assert_string_equal(path, "");
	const char *none = "{\"Members\":[],\"Members@odata.count\":0}";
	assert_int_equal(
	    redfish_pick_system(none, strlen(none), path, sizeof(path), why, sizeof(why)), -ENOENT);
	const char *bad = "{\"Members\":[{\"@odata.id\":\"/redfish/v1/Systems/../x\"}]}";
	assert_int_equal(
	    redfish_pick_system(bad, strlen(bad), path, sizeof(path), why, sizeof(why)), -EINVAL);
	assert_int_equal(redfish_pick_system("[]", 2, path, sizeof(path), why, sizeof(why)),
	                 -EINVAL);

	load("root.json");
	assert_int_equal(redfish_sessions_path(body, body_len, path, sizeof(path)), 0);
	assert_string_equal(path, "/redfish/v1/SessionService/Sessions");
	assert_int_equal(redfish_sessions_path("{}", 2, path, sizeof(path)), 0);
	assert_string_equal(path, "");
	assert_int_equal(redfish_sessions_path("{", 1, path, sizeof(path)), -EINVAL);
}

static void
plan_is(const struct redfish_system *s, enum redfish_verb v, const char *want)
{
	const char *steps[3];
	char why[200] = "", got[240] = "";
	int n = redfish_reset_plan(s, v, steps, why, sizeof(why));
	if (n < 0)
		snprintf(got, sizeof(got), "refused: %s", why);
	for (int i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", i ? "+" : "",
		         steps[i]);
	if (strncmp(got, want, strlen(want)))
		fail_msg("power %s verb %d: got \"%s\", want \"%s\"", s->power, v, got, want);
}

static void
test_reset_plan(void **state)
{
	struct redfish_system s;
	(void)state;

	system_of("idrac_system.json", &s);
	assert_true(s.listed);
	assert_string_equal(s.reset_target,
	                    "/redfish/v1/Systems/System.Embedded.1/Actions/ComputerSystem.Reset");
	plan_is(&s, RF_CYCLE, "ForceRestart");
	plan_is(&s, RF_NETBOOT, "ForceRestart");
	plan_is(&s, RF_ON, "");
	plan_is(&s, RF_OFF, "ForceOff");
	plan_is(&s, RF_STATUS, "");
	s.allowed &= ~(unsigned)RF_RESET_FORCE_RESTART;
	plan_is(&s, RF_CYCLE, "PowerCycle");

	system_of("ilo_system.json", &s); /* off: on, whatever was asked */
	assert_string_equal(s.power, "Off");
	plan_is(&s, RF_CYCLE, "On");
	plan_is(&s, RF_OFF, "");
	strcpy(s.power, "On");
	plan_is(&s, RF_CYCLE, "ForceRestart");

	system_of("supermicro_system.json", &s); /* no ForceRestart, no PowerCycle */
	plan_is(&s, RF_CYCLE, "ForceOff+On");
	s.allowed &= ~(unsigned)RF_RESET_ON;
	plan_is(&s, RF_CYCLE, "ForceOff+ForceOn");
	s.allowed = RF_RESET_GRACEFUL_RESTART;
	plan_is(&s, RF_CYCLE, "refused: the BMC allows none of ForceRestart, PowerCycle");
	plan_is(&s, RF_OFF, "refused: the BMC does not allow ResetType ForceOff");
	strcpy(s.power, "Off");
	plan_is(&s, RF_ON, "refused: the BMC allows neither ResetType On nor ForceOn");

	system_of("openbmc_system.json", &s); /* ActionInfo, no list: every type */
	assert_false(s.listed);
	plan_is(&s, RF_CYCLE, "ForceRestart");
}

static void
boot_is(const char *file, const char *firmware, const char *want_body)
{
	struct redfish_system s;
	struct redfish_boot want;
	char out[256];

	system_of(file, &s);
	assert_true(redfish_boot_body(&s, firmware, &want, out, sizeof(out)) > 0);
	if (strcmp(out, want_body))
		fail_msg("%s %s:\n got %s\nwant %s", file, firmware, out, want_body);
}

static void
test_boot_override(void **state)
{
	struct redfish_system s;
	struct redfish_boot want;
	char out[256], why[300];
	(void)state;

	boot_is("idrac_system.json", "uefi",
	        "{\"Boot\":{\"BootSourceOverrideTarget\":\"Pxe\",\"BootSourceOverrideEnabled\":"
	        "\"Once\",\"BootSourceOverrideMode\":\"UEFI\"}}");
	boot_is(
	    "idrac_system.json", "uefi-http",
	    "{\"Boot\":{\"BootSourceOverrideTarget\":\"UefiHttp\",\"BootSourceOverrideEnabled\":"
	    "\"Once\",\"BootSourceOverrideMode\":\"UEFI\"}}");
	boot_is("openbmc_system.json", "uefi-http", /* no UefiHttp there: Pxe */
	        "{\"Boot\":{\"BootSourceOverrideTarget\":\"Pxe\",\"BootSourceOverrideEnabled\":"
	        "\"Once\",\"BootSourceOverrideMode\":\"UEFI\"}}");
	boot_is("openbmc_system.json", "bios",
	        "{\"Boot\":{\"BootSourceOverrideTarget\":\"Pxe\",\"BootSourceOverrideEnabled\":"
	        "\"Once\",\"BootSourceOverrideMode\":\"Legacy\"}}");
	boot_is("idrac_system.json", "", /* firmware unknown: the mode is left alone */
	        "{\"Boot\":{\"BootSourceOverrideTarget\":\"Pxe\",\"BootSourceOverrideEnabled\":"
	        "\"Once\"}}");
	boot_is("supermicro_system.json", "uefi", /* no mode property: none sent */
	        "{\"Boot\":{\"BootSourceOverrideTarget\":\"Pxe\",\"BootSourceOverrideEnabled\":"
	        "\"Once\"}}");

	/* Read back: Supermicro's answer already says Pxe Once (no mode). */
	system_of("supermicro_system.json", &s);
	redfish_boot_body(&s, "uefi", &want, out, sizeof(out));
	assert_int_equal(redfish_boot_check(&s, &want, why, sizeof(why)), 0);
	system_of("idrac_system.json", &s);
	redfish_boot_body(&s, "bios", &want, out, sizeof(out));
	assert_int_equal(redfish_boot_check(&s, &want, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "read back: target None, enabled Disabled, mode UEFI"));
	strcpy(s.boot_target, "Pxe");
	strcpy(s.boot_enabled, "Once");
	assert_int_equal(redfish_boot_check(&s, &want, why, sizeof(why)), -1); /* mode UEFI */
	strcpy(s.boot_mode, "Legacy");
	assert_int_equal(redfish_boot_check(&s, &want, why, sizeof(why)), 0);

	system_of("ilo_system.json", &s);
	assert_string_equal(s.etag, "W/\"0ACAD4F6\"");
	system_of("idrac_system.json", &s);
	assert_string_equal(s.etag, "");
}

static void
test_errors_and_tasks(void **state)
{
	char m[300];
	(void)state;

	load("error_401.json");
	redfish_error(body, body_len, 401, m, sizeof(m));
	assert_string_equal(m,
	                    "While accessing the resource at /redfish/v1/SessionService/"
	                    "Sessions, the service received an authorization error unauthorized.");
	load("error_plain.json");
	redfish_error(body, body_len, 400, m, sizeof(m));
	assert_string_equal(m, "Unsupported ResetType PowerCycle");
	redfish_error("<html>busy</html>", 17, 503, m, sizeof(m));
	assert_string_equal(m, "HTTP 503");
	redfish_error(NULL, 0, 404, m, sizeof(m));
	assert_string_equal(m, "HTTP 404");

	load("task_running.json");
	assert_int_equal(redfish_task(body, body_len, m, sizeof(m)), 0);
	load("task_done.json");
	assert_int_equal(redfish_task(body, body_len, m, sizeof(m)), 1);
	load("task_exception.json");
	assert_int_equal(redfish_task(body, body_len, m, sizeof(m)), -1);
	assert_string_equal(m, "The host could not be powered on: the power supply is absent.");
	const char *killed = "{\"TaskState\":\"Killed\"}";
	assert_int_equal(redfish_task(killed, strlen(killed), m, sizeof(m)), -1);
	assert_string_equal(m, "the task ended Killed (status none)");
	assert_int_equal(redfish_task("{}", 2, m, sizeof(m)), -2);
	assert_int_equal(redfish_task("", 0, m, sizeof(m)), -2);
}

static void
test_bad_bodies(void **state)
{
	struct redfish_system s;
	char why[200];
	(void)state;

	static const char *const bad[] = {
		"",
		"{",
		"[1]",
		"{\"PowerState\":\"On\"}",
		"{} trailing",
		"{\"Actions\":{\"#ComputerSystem.Reset\":{\"target\":\"http://evil/x\"}}}",
		"{\"Actions\":{\"#ComputerSystem.Reset\":{\"target\":7}}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(redfish_parse_system(bad[i], strlen(bad[i]), &s, why, sizeof(why)),
		                 -EINVAL);
	/* Deeper than REDFISH_JSON_DEPTH: refused, not a stack overflow. */
	char deep[200] = "{\"a\":";
	for (int i = 0; i < 40; i++)
		strcat(deep, "[");
	assert_int_equal(redfish_parse_system(deep, strlen(deep), &s, why, sizeof(why)), -EINVAL);
}

static void
test_fingerprint(void **state)
{
	uint8_t d[32];
	(void)state;
	const char *hex = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8";
	const char *colons = "5E:88:48:98:DA:28:04:71:51:D0:E5:6F:8D:C6:29:27:77:60:3D:0D:6A:AB:"
	                     "BD:D6:2A:11:EF:72:1D:15:42:D8";
	char pre[200];

	assert_int_equal(bm_sha256_parse_fingerprint(hex, d), 0);
	assert_int_equal(d[0], 0x5e);
	assert_int_equal(d[31], 0xd8);
	assert_int_equal(bm_sha256_parse_fingerprint(colons, d), 0);
	assert_int_equal(d[31], 0xd8);
	snprintf(pre, sizeof(pre), "sha256 Fingerprint=%s", colons);
	assert_int_equal(bm_sha256_parse_fingerprint(pre, d), 0);
	snprintf(pre, sizeof(pre), "sha256:%s", hex);
	assert_int_equal(bm_sha256_parse_fingerprint(pre, d), 0);
	assert_int_equal(bm_sha256_parse_fingerprint("5e:88", d), -EINVAL);
	snprintf(pre, sizeof(pre), "%s", colons);
	pre[2] = '-';
	assert_int_equal(bm_sha256_parse_fingerprint(pre, d), -EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_pick_system),
		cmocka_unit_test(test_reset_plan),
		cmocka_unit_test(test_boot_override),
		cmocka_unit_test(test_errors_and_tasks),
		cmocka_unit_test(test_bad_bodies),
		cmocka_unit_test(test_fingerprint),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
