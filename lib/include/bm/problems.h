/* A list of refusals (entry, field, why) built by validation, so that an
 * operator sees every problem of a fleet file at once. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bm/proto.h"

/* Beyond this many, problems are counted but not kept: a file with 100,000
 * bad MACs must not make a 100,000-line answer. */
#define BM_PROBLEMS_KEPT 200u

struct bm_problem {
	Bm__Kind kind;
	char *name;     /* entry name, may be empty */
	uint32_t index; /* entry index within its kind in the request */
	char *field;    /* may be empty: the whole entry */
	char *why;
	uint32_t line; /* 1-based line in the source file, 0 when unknown */
};

struct bm_problems {
	struct bm_problem *v;
	size_t n;     /* kept */
	size_t total; /* seen, including those not kept */
	int oom;      /* an allocation failed: the list is incomplete */
};

void bm_problems_init(struct bm_problems *p);
void bm_problems_fini(struct bm_problems *p);
/* Record one problem; `fmt` formats `why`. Never fails: on allocation
 * failure the problem is counted and `oom` set. */
void bm_problems_add(struct bm_problems *p, Bm__Kind kind, const char *name, uint32_t index,
                     const char *field, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Print each problem on one line, "FILE:LINE: kind name: field: why"
 * (the parts that are known), then a count of those not kept. */
void bm_problems_print(FILE *f, const char *fname, const struct bm_problems *p);
/* Drop every problem whose (kind, index, field) an earlier one already
 * names, so one bad value is reported once. */
void bm_problems_dedupe(struct bm_problems *p);
/* Move every problem of `src` to the end of `dst`; src is left empty. */
void bm_problems_move(struct bm_problems *dst, struct bm_problems *src);
