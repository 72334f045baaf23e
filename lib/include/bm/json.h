/* A streaming JSON writer: commas and nesting are tracked, strings escaped. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define BM_JSON_DEPTH 16u

struct bm_json {
	FILE *f;
	unsigned depth;
	bool pretty;
	bool first[BM_JSON_DEPTH]; /* no member written yet at this depth */
	bool after_key;
};

void bm_json_init(struct bm_json *j, FILE *f, bool pretty);
void bm_json_obj_begin(struct bm_json *j);
void bm_json_obj_end(struct bm_json *j);
void bm_json_arr_begin(struct bm_json *j);
void bm_json_arr_end(struct bm_json *j);
void bm_json_key(struct bm_json *j, const char *k);
void bm_json_str(struct bm_json *j, const char *s);
void bm_json_u64(struct bm_json *j, uint64_t v);
void bm_json_bool(struct bm_json *j, bool v);
void bm_json_null(struct bm_json *j);
/* key + value shorthands */
void bm_json_kstr(struct bm_json *j, const char *k, const char *s);
void bm_json_ku64(struct bm_json *j, const char *k, uint64_t v);
void bm_json_kbool(struct bm_json *j, const char *k, bool v);
