#include "store_helpers.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

const char th_base_fleet[] =
    "sites: [{name: fra1}, {name: ams1}]\n"
    "racks:\n"
    "  - {name: rack11, site: fra1, subnet: 10.11.0.0/24, gateway: 10.11.0.1, pool: "
    "10.11.0.200-10.11.0.250}\n"
    "  - {name: rack12, site: fra1, subnet: 10.12.0.0/24, gateway: 10.12.0.1}\n"
    "  - {name: rack21, site: ams1, subnet: 10.11.0.0/24, gateway: 10.11.0.1}\n"
    "images:\n"
    "  - {name: k, sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08, size: "
    "4}\n"
    "  - {name: i, sha256: 60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752}\n"
    "profiles: [{name: tiny, kernel: k, initrd: i, cmdline: 'x={{hostname}}'}]\n"
    "machines:\n"
    "  - {name: r11n01, rack: rack11, mac: '52:54:00:11:00:01', ip: 10.11.0.11, profile: tiny, "
    "labels: {role: gpu}}\n"
    "  - {name: r11n02, rack: rack11, mac: '52:54:00:11:00:02', ip: 10.11.0.12, labels: {role: "
    "cpu}}\n"
    "  - {name: r12n01, rack: rack12, mac: '52:54:00:12:00:01', ip: 10.12.0.11, labels: {role: "
    "gpu}}\n"
    "  - {name: r21n01, rack: rack21, mac: '52:54:00:21:00:01', ip: 10.11.0.11}\n";

struct store *
th_store_open(char *dir)
{
	struct store *s;

	th_tmpdir(dir, "store");
	assert_int_equal(store_open(dir, 1ull << 30, &s), 0);
	return s;
}

void
th_store_close(struct store *s, const char *dir)
{
	store_close(s);
	th_rmtree(dir);
}

int
th_setup_with(void **state, const char *yaml)
{
	struct th_fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->s = th_store_open(f->dir);
	if (yaml) {
		th_apply_yaml_ok(f->s, yaml);
	}
	*state = f;
	return 0;
}

int
th_setup_empty(void **state)
{
	return th_setup_with(state, NULL);
}

int
th_setup_base(void **state)
{
	return th_setup_with(state, th_base_fleet);
}

int
th_teardown(void **state)
{
	struct th_fx *f = *state;
	th_store_close(f->s, f->dir);
	free(f);
	return 0;
}

int
th_apply(struct store *s, const Bm__Command *cmd, struct store_result *res)
{
	struct store_batch *b;
	struct store_info info;
	int r;

	store_result_init(res);
	assert_int_equal(store_info_get(s, &info), 0);
	assert_int_equal(store_batch_begin(s, &b), 0);
	r = store_apply(b, info.applied_index + 1, cmd, res);
	if (r < 0)
		store_batch_abort(b);
	else
		assert_int_equal(store_batch_commit(b), 0);
	return r;
}

int
th_apply_yaml(struct store *s, const char *yaml, struct store_result *res)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	struct bm_problems p;
	struct bm_fleet fl;
	int r;

	bm_problems_init(&p);
	if (bm_fleet_parse(yaml, strlen(yaml), &fl, &p) != 0)
		fail_msg("test YAML does not parse: %s", p.n ? p.v[0].why : "?");
	cmd.op_case = BM__COMMAND__OP_APPLY;
	cmd.apply = fl.fleet;
	r = th_apply(s, &cmd, res);
	bm_fleet_fini(&fl);
	bm_problems_fini(&p);
	return r;
}

int
th_delete(struct store *s, Bm__Kind kind, const char *name, struct store_result *res)
{
	Bm__Command cmd = BM__COMMAND__INIT;
	Bm__ObjectRef ref = BM__OBJECT_REF__INIT;

	ref.kind = kind;
	ref.name = (char *)name;
	cmd.op_case = BM__COMMAND__OP_DELETE;
	cmd.delete_ = &ref;
	return th_apply(s, &cmd, res);
}

Bm__Object *
th_get(struct store *s, Bm__Kind kind, const char *name)
{
	struct store_read *r;
	Bm__Object *o = NULL;
	int e;

	assert_int_equal(store_read_begin(s, &r), 0);
	e = store_get(r, kind, name, &o);
	store_read_end(r);
	assert_true(e == 0 || e == -2);
	return e == 0 ? o : NULL;
}

uint64_t
th_revision(struct store *s)
{
	struct store_info info;
	assert_int_equal(store_info_get(s, &info), 0);
	return info.revision;
}

Bm__ChangeSet *
th_changes(struct store *s, uint64_t rev)
{
	struct store_read *r;
	Bm__ChangeSet *cs = NULL;

	assert_int_equal(store_read_begin(s, &r), 0);
	if (store_changes_get(r, rev, &cs) < 0)
		cs = NULL;
	store_read_end(r);
	return cs;
}

int
th_has_change(const Bm__ChangeSet *cs, Bm__Kind kind, const char *name, const char *rack,
              int deleted)
{
	for (size_t i = 0; cs && i < cs->n_changes; i++) {
		const Bm__Change *c = cs->changes[i];
		if (c->kind == kind && !strcmp(c->name, name) && !strcmp(c->rack, rack) &&
		    !!c->deleted == !!deleted)
			return 1;
	}
	return 0;
}

void
th_apply_yaml_ok(struct store *s, const char *yaml)
{
	struct store_result res;

	assert_int_equal(th_apply_yaml(s, yaml, &res), 0);
	if (res.status != BM__STATUS__STATUS_OK)
		fail_msg("refused: %s (%s)", res.message,
		         res.problems.n ? res.problems.v[0].why : "");
	store_result_fini(&res);
}
