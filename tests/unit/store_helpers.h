/* Helpers for tests that drive the store directly. */
#pragma once
#include "bm/fleet.h"
#include "store.h"

#include <limits.h>
#include <stdint.h>

#include "test_tmp.h"

/* The cmocka fixture of the store tests: a store in a fresh folder. */
struct th_fx {
	char dir[PATH_MAX];
	struct store *s;
	uint64_t seq; /* of the test agent's events, for tests that send some */
};
/* setup: an empty store; with the base fleet (th_base_fleet) applied; with
 * `yaml` applied (must be accepted). teardown: closed and removed. */
int th_setup_empty(void **state);
int th_setup_base(void **state);
int th_setup_with(void **state, const char *yaml);
int th_teardown(void **state);

/* A store in a fresh temporary folder; removed by th_store_close. */
struct store *th_store_open(char *dir_out /* PATH_MAX */);
void th_store_close(struct store *s, const char *dir);
/* Parse YAML (must parse cleanly) and apply it as one command in its own
 * batch. Returns store_apply's result code; res is initialised here. */
int th_apply_yaml(struct store *s, const char *yaml, struct store_result *res);
/* The same, and it must be accepted. */
void th_apply_yaml_ok(struct store *s, const char *yaml);
/* Apply one command in its own batch, at the next index. */
int th_apply(struct store *s, const Bm__Command *cmd, struct store_result *res);
int th_delete(struct store *s, Bm__Kind kind, const char *name, struct store_result *res);
/* The object, or NULL when absent. Free with bm__object__free_unpacked. */
Bm__Object *th_get(struct store *s, Bm__Kind kind, const char *name);
uint64_t th_revision(struct store *s);
/* Changes at rev, or NULL. Free with bm__change_set__free_unpacked. */
Bm__ChangeSet *th_changes(struct store *s, uint64_t rev);
/* Does the change set name (kind, name, rack, deleted)? */
int th_has_change(const Bm__ChangeSet *cs, Bm__Kind kind, const char *name, const char *rack,
                  int deleted);

extern const char th_base_fleet[];
