/* BMC passwords: sealing (lib/seal.c), the URL and file helpers
 * (lib/bmc_secret.c), and the coordinator's path (secrets.c, the store):
 * sealed before a write, kept across reapplies, never in a read answer,
 * opened only into a watch answer for the rack's agent; plaintext refused
 * by the store. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "bm/bmc_secret.h"
#include "bm/seal.h"
#include "secrets.h"
#include "store_helpers.h"
#include "watch.h"

#define KM BM__KIND__KIND_MACHINE

static const uint8_t key1[BM_SEAL_KEY_LEN] = { 1, 2, 3 }, key2[BM_SEAL_KEY_LEN] = { 9 };

static void
test_seal(void **state)
{
	uint8_t box[64];
	char out[BM_SECRET_MAX + 1];

	(void)state;
	assert_int_equal(bm_seal(key1, "m1", "hunter2", 7, box), 0);
	assert_null(memmem(box, 7 + BM_SEAL_OVERHEAD, "hunter2", 7));
	assert_int_equal(bm_unseal(key1, "m1", box, 7 + BM_SEAL_OVERHEAD, out), 7);
	assert_string_equal(out, "hunter2");
	/* Another record, another key, a flipped bit, a short box: refused. */
	assert_int_equal(bm_unseal(key1, "m2", box, 7 + BM_SEAL_OVERHEAD, out), -EBADMSG);
	assert_int_equal(bm_unseal(key2, "m1", box, 7 + BM_SEAL_OVERHEAD, out), -EBADMSG);
	box[14] ^= 1;
	assert_int_equal(bm_unseal(key1, "m1", box, 7 + BM_SEAL_OVERHEAD, out), -EBADMSG);
	assert_int_equal(bm_unseal(key1, "m1", box, BM_SEAL_OVERHEAD - 1, out), -EBADMSG);
}

static void
test_key_file(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	uint8_t a[BM_SEAL_KEY_LEN], b[BM_SEAL_KEY_LEN];
	struct stat st;
	FILE *f;

	(void)state;
	th_tmpdir(dir, "seal");
	snprintf(path, sizeof(path), "%s/k", dir);
	assert_int_equal(bm_seal_key_load(path, a), -ENOENT);
	assert_int_equal(bm_seal_key_make(path, a), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, BM_SEAL_KEY_LEN);
	assert_int_equal(bm_seal_key_make(path, b), 0); /* kept, not made anew */
	assert_memory_equal(a, b, sizeof(a));
	assert_non_null(f = fopen(path, "a"));
	fputc('x', f);
	fclose(f);
	assert_int_equal(bm_seal_key_load(path, a), -EINVAL);
	th_rmtree(dir);
}

static void
test_bmc_url(void **state)
{
	char url[128], pass[32], m[128];

	(void)state;
	assert_int_equal(
	    bm_bmc_split("ipmi://admin:pw@10.0.0.1:623", url, sizeof(url), pass, sizeof(pass)), 1);
	assert_string_equal(url, "ipmi://admin@10.0.0.1:623");
	assert_string_equal(pass, "pw");
	assert_int_equal(bm_bmc_split("ipmi://admin@h", url, sizeof(url), pass, sizeof(pass)), 0);
	assert_string_equal(pass, "");
	assert_int_equal(bm_bmc_split("manual://x", url, sizeof(url), pass, sizeof(pass)), 0);
	/* A ':' after the host is a port, an '@' in a path no user. */
	assert_int_equal(bm_bmc_split("redfish://h:8443/a@b", url, sizeof(url), pass, sizeof(pass)),
	                 0);
	assert_int_equal(bm_bmc_split("ipmi://a:0123456789012345678901234567890123456789@h", url,
	                              sizeof(url), pass, sizeof(pass)),
	                 -ENAMETOOLONG);
	assert_int_equal(bm_bmc_join("ipmi://admin@h", "pw", url, sizeof(url)), 0);
	assert_string_equal(url, "ipmi://admin:pw@h");
	assert_string_equal(bm_bmc_masked("ipmi://admin@h", 1, m, sizeof(m)), "ipmi://admin:***@h");
	assert_string_equal(bm_bmc_masked("ipmi://admin:pw@h", 0, m, sizeof(m)),
	                    "ipmi://admin:***@h");
	assert_string_equal(bm_bmc_masked("ipmi://admin@h", 0, m, sizeof(m)), "ipmi://admin@h");
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void
test_password_files(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], out[BM_SECRET_MAX + 1], big[BM_SECRET_MAX + 8];
	struct bm_problems p;
	struct bm_fleet fl;
	const char *y = "machines:\n"
	                "  - {name: a, rack: r, mac: '52:54:00:00:00:01', bmc: 'ipmi://u@h',"
	                " password_file: a.pass}\n"
	                "  - {name: b, rack: r, mac: '52:54:00:00:00:02', bmc: 'ipmi://u@h',"
	                " password_file: nosuch.pass}\n";

	(void)state;
	th_tmpdir(dir, "pwfile");
	snprintf(path, sizeof(path), "%s/a.pass", dir);
	write_file(path, "s3cret\n");
	assert_int_equal(bm_secret_read(path, out), 6);
	assert_string_equal(out, "s3cret");
	write_file(path, "two\nlines\n");
	assert_int_equal(bm_secret_read(path, out), -EINVAL);
	write_file(path, "\n");
	assert_int_equal(bm_secret_read(path, out), -EINVAL);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	write_file(path, big);
	assert_int_equal(bm_secret_read(path, out), -EFBIG);
	write_file(path, "s3cret\r\n");
	/* A fleet's files, beside the fleet file. */
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(y, strlen(y), &fl, &p), 0);
	snprintf(path, sizeof(path), "%s/fleet.yaml", dir);
	assert_int_equal(bm_fleet_read_passwords(fl.fleet, path, &p), 1);
	assert_string_equal(fl.fleet->machines[0]->bmc_password, "s3cret");
	assert_string_equal(fl.fleet->machines[0]->bmc_password_file, "");
	assert_string_equal(p.v[0].name, "b");
	assert_string_equal(p.v[0].field, "password_file");
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	th_rmtree(dir);
}

/* A password in the URL and a file, or a file without a URL: problems. */
static void
test_password_rules(void **state)
{
	struct bm_problems p;
	struct bm_fleet fl;
	const char *y = "racks: [{name: r, site: s, subnet: 10.0.0.0/24, gateway: 10.0.0.1}]\n"
	                "machines:\n"
	                "  - {name: a, rack: r, mac: '52:54:00:00:00:01', bmc: 'ipmi://u:p@h',"
	                " password_file: a.pass}\n"
	                "  - {name: b, rack: r, mac: '52:54:00:00:00:02', password_file: b.pass}\n";

	(void)state;
	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(y, strlen(y), &fl, &p), 0);
	assert_int_equal(bm_fleet_check(fl.fleet, &p), 2);
	assert_string_equal(p.v[0].why,
	                    "the bmc URL has a password already: give one or the other");
	assert_string_equal(p.v[1].why, "needs a bmc URL");
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
}

/* ------------------------------------------------------- coordinator */

/* Apply yaml as a client would send it: passwords sealed by secrets_seal
 * first. Returns the seal's result; *st the store's status. */
static int
apply_sealed(struct store *s, const struct secrets *sec, const char *yaml, Bm__Status *st,
             uint32_t *updated)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	struct store_result res;
	struct bm_problems p;
	struct bm_fleet fl;
	char why[256];
	int r;

	bm_problems_init(&p);
	assert_int_equal(bm_fleet_parse(yaml, strlen(yaml), &fl, &p), 0);
	r = secrets_seal(sec, s, fl.fleet->machines, fl.fleet->n_machines, why, sizeof(why));
	if (r == 0) {
		cmd.op_case = BM__COMMAND__OP_APPLY;
		cmd.apply = fl.fleet;
		assert_int_equal(th_apply(s, &cmd, &res), 0);
		*st = res.status;
		*updated = res.updated;
		store_result_fini(&res);
	}
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	return r;
}

static const char fleet_pw[] = "machines:\n"
                               "  - {name: r11n01, rack: rack11, mac: '52:54:00:11:00:01', "
                               "ip: 10.11.0.11, bmc: 'ipmi://admin:hunter2@10.11.1.1'}\n";
static const char fleet_nopw[] = "machines:\n"
                                 "  - {name: r11n01, rack: rack11, mac: '52:54:00:11:00:01', "
                                 "ip: 10.11.0.11, bmc: 'ipmi://admin@10.11.1.1'}\n";
static const char fleet_moved[] = "machines:\n"
                                  "  - {name: r11n01, rack: rack11, mac: '52:54:00:11:00:01', "
                                  "ip: 10.11.0.11, bmc: 'ipmi://admin@10.11.1.2'}\n";

/* The stored sealed password of r11n01, opened with key1 ("" if none). */
static void
stored_password(struct store *s, char *out)
{
	struct store_read *rd;
	uint8_t box[BM_SECRET_MAX + BM_SEAL_OVERHEAD];
	size_t n = 0;

	out[0] = '\0';
	assert_int_equal(store_read_begin(s, &rd), 0);
	assert_int_equal(store_machine_sealed(rd, "r11n01", box, sizeof(box), &n), 0);
	store_read_end(rd);
	if (n)
		assert_true(bm_unseal(key1, "r11n01", box, n, out) > 0);
}

static void
test_coordinator_seals(void **state)
{
	struct th_fx *f = *state;
	struct secrets sec = { .have = true }, none = { 0 };
	char pw[BM_SECRET_MAX + 1];
	Bm__Status st;
	uint32_t upd = 0;
	Bm__Object *o;

	memcpy(sec.key, key1, sizeof(key1));
	assert_int_equal(apply_sealed(f->s, &none, fleet_pw, &st, &upd), -EPERM);
	assert_int_equal(apply_sealed(f->s, &sec, fleet_pw, &st, &upd), 0);
	assert_int_equal(st, BM__STATUS__STATUS_OK);
	o = th_get(f->s, KM, "r11n01");
	assert_string_equal(o->machine->bmc, "ipmi://admin@10.11.1.1");
	assert_true(o->machine->bmc_password_set);
	assert_int_equal(o->machine->bmc_sealed.len, 0); /* reads never carry it */
	bm__object__free_unpacked(o, NULL);
	stored_password(f->s, pw);
	assert_string_equal(pw, "hunter2");
	/* The same password again, or none with the same URL: unchanged. */
	assert_int_equal(apply_sealed(f->s, &sec, fleet_pw, &st, &upd), 0);
	assert_int_equal(upd, 0);
	assert_int_equal(apply_sealed(f->s, &sec, fleet_nopw, &st, &upd), 0);
	assert_int_equal(upd, 0);
	stored_password(f->s, pw);
	assert_string_equal(pw, "hunter2");
	/* Another BMC without a password: the old one is not kept for it. */
	assert_int_equal(apply_sealed(f->s, &sec, fleet_moved, &st, &upd), 0);
	assert_int_equal(upd, 1);
	stored_password(f->s, pw);
	assert_string_equal(pw, "");
}

static void
test_store_refuses_plaintext(void **state)
{
	struct th_fx *f = *state;
	struct store_result res;
	uint64_t rev = th_revision(f->s);

	assert_int_equal(th_apply_yaml(f->s, fleet_pw, &res), 0);
	assert_int_equal(res.status, BM__STATUS__STATUS_INVALID);
	assert_string_equal(res.problems.v[0].field, "bmc");
	store_result_fini(&res);
	assert_int_equal(th_revision(f->s), rev);
}

static void
test_watch_opens_for_agent(void **state)
{
	struct th_fx *f = *state;
	struct secrets sec = { .have = true }, other = { .have = true };
	struct store_read *rd;
	Bm__WatchResult *w;
	Bm__Status st;
	uint32_t upd;
	const char *got = NULL;

	memcpy(sec.key, key1, sizeof(key1));
	memcpy(other.key, key2, sizeof(key2));
	assert_int_equal(apply_sealed(f->s, &sec, fleet_pw, &st, &upd), 0);
	for (int k = 0; k < 3; k++) {
		assert_int_equal(store_read_begin(f->s, &rd), 0);
		assert_int_equal(watch_build(rd, NULL, "rack11", 0, &w), 0);
		if (k == 1)
			assert_int_equal(secrets_open_watch(&sec, rd, w), 0);
		if (k == 2) /* a node with another key gives nothing */
			assert_int_equal(secrets_open_watch(&other, rd, w), 0);
		store_read_end(rd);
		got = NULL;
		for (size_t i = 0; i < w->n_puts; i++)
			if (w->puts[i]->obj_case == BM__OBJECT__OBJ_MACHINE &&
			    !strcmp(w->puts[i]->machine->name, "r11n01")) {
				got = w->puts[i]->machine->bmc_password;
				assert_int_equal(w->puts[i]->machine->bmc_sealed.len, 0);
			}
		assert_non_null(got);
		assert_string_equal(got, k == 1 ? "hunter2" : "");
		watch_result_free(w);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_bmc_url),
		cmocka_unit_test(test_password_files),
		cmocka_unit_test(test_password_rules),
		cmocka_unit_test_setup_teardown(test_coordinator_seals, th_setup_base, th_teardown),
		cmocka_unit_test_setup_teardown(test_store_refuses_plaintext, th_setup_base,
		                                th_teardown),
		cmocka_unit_test_setup_teardown(test_watch_opens_for_agent, th_setup_base,
		                                th_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
