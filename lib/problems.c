#include "bm/problems.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
bm_problems_init(struct bm_problems *p)
{
	memset(p, 0, sizeof(*p));
}

void
bm_problems_fini(struct bm_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].name);
		free(p->v[i].field);
		free(p->v[i].why);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

void
bm_problems_add(struct bm_problems *p, Bm__Kind kind, const char *name, uint32_t index,
                const char *field, const char *fmt, ...)
{
	struct bm_problem *e;
	char why[512];
	va_list ap;

	p->total++;
	if (p->n >= BM_PROBLEMS_KEPT)
		return;
	if (p->n % 16 == 0) {
		struct bm_problem *v = realloc(p->v, (p->n + 16) * sizeof(*v));
		if (!v) {
			p->oom = 1;
			return;
		}
		p->v = v;
	}
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	e = &p->v[p->n];
	e->kind = kind;
	e->index = index;
	e->line = 0;
	e->name = strdup(name ? name : "");
	e->field = strdup(field ? field : "");
	e->why = strdup(why);
	if (!e->name || !e->field || !e->why) {
		free(e->name);
		free(e->field);
		free(e->why);
		p->oom = 1;
		return;
	}
	p->n++;
}

void
bm_problems_move(struct bm_problems *dst, struct bm_problems *src)
{
	size_t extra = src->total - src->n;

	for (size_t i = 0; i < src->n; i++) {
		struct bm_problem *e = &src->v[i];
		size_t kept = dst->n;
		bm_problems_add(dst, e->kind, e->name, e->index, e->field, "%s", e->why);
		if (dst->n > kept)
			dst->v[kept].line = e->line;
	}
	dst->total += extra;
	dst->oom |= src->oom;
	bm_problems_fini(src);
}

void
bm_problems_dedupe(struct bm_problems *p)
{
	size_t out = 0;

	for (size_t i = 0; i < p->n; i++) {
		struct bm_problem *e = &p->v[i];
		bool dup = false;
		for (size_t j = 0; j < out && *e->field && !dup; j++)
			dup = p->v[j].kind == e->kind && p->v[j].index == e->index &&
			      !strcmp(p->v[j].field, e->field);
		if (dup) {
			free(e->name);
			free(e->field);
			free(e->why);
			p->total--;
			continue;
		}
		p->v[out++] = *e;
	}
	p->n = out;
}

void
bm_problems_print(FILE *f, const char *fname, const struct bm_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct bm_problem *e = &p->v[i];
		if (fname)
			fprintf(f, "%s:", fname);
		if (fname && e->line)
			fprintf(f, "%u:", e->line);
		if (fname)
			fputc(' ', f);
		if (e->kind != BM__KIND__KIND_UNSPECIFIED)
			fprintf(f, "%s %s: ", bm_kind_name(e->kind),
			        *e->name ? e->name : "(unnamed)");
		if (*e->field)
			fprintf(f, "%s: ", e->field);
		fprintf(f, "%s\n", e->why);
	}
	if (p->total > p->n)
		fprintf(f, "... and %zu more problems\n", p->total - p->n);
}
