#include "bm/json.h"

#include <assert.h>

void
bm_json_init(struct bm_json *j, FILE *f, bool pretty)
{
	j->f = f;
	j->depth = 0;
	j->pretty = pretty;
	j->first[0] = true;
	j->after_key = false;
}

static void
indent(struct bm_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (unsigned i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Before a value or key: the comma and indentation it needs. */
static void
sep(struct bm_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (j->depth > 0)
		indent(j);
}

static void
open_(struct bm_json *j, char c)
{
	sep(j);
	fputc(c, j->f);
	assert(j->depth + 1 < BM_JSON_DEPTH);
	j->first[++j->depth] = true;
}

static void
close_(struct bm_json *j, char c)
{
	bool empty = j->first[j->depth];
	j->depth--;
	if (!empty)
		indent(j);
	fputc(c, j->f);
	if (j->depth == 0)
		fputc('\n', j->f);
}

void
bm_json_obj_begin(struct bm_json *j)
{
	open_(j, '{');
}
void
bm_json_obj_end(struct bm_json *j)
{
	close_(j, '}');
}
void
bm_json_arr_begin(struct bm_json *j)
{
	open_(j, '[');
}
void
bm_json_arr_end(struct bm_json *j)
{
	close_(j, ']');
}

static void
put_str(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc(c, f);
		} else if (c == '\n') {
			fputs("\\n", f);
		} else if (c == '\t') {
			fputs("\\t", f);
		} else if (c < 0x20) {
			fprintf(f, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
		} else {
			fputc(c, f);
		}
	}
	fputc('"', f);
}

void
bm_json_key(struct bm_json *j, const char *k)
{
	sep(j);
	put_str(j->f, k);
	fputs(j->pretty ? ": " : ":", j->f);
	j->after_key = true;
}

void
bm_json_str(struct bm_json *j, const char *s)
{
	sep(j);
	put_str(j->f, s);
}

void
bm_json_u64(struct bm_json *j, uint64_t v)
{
	sep(j);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void
bm_json_bool(struct bm_json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->f);
}

void
bm_json_null(struct bm_json *j)
{
	sep(j);
	fputs("null", j->f);
}

void
bm_json_kstr(struct bm_json *j, const char *k, const char *s)
{
	bm_json_key(j, k);
	bm_json_str(j, s);
}

void
bm_json_ku64(struct bm_json *j, const char *k, uint64_t v)
{
	bm_json_key(j, k);
	bm_json_u64(j, v);
}

void
bm_json_kbool(struct bm_json *j, const char *k, bool v)
{
	bm_json_key(j, k);
	bm_json_bool(j, v);
}
