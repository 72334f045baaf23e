#include "bm/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
reserve(struct bm_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->n + n + 1 <= b->cap)
		return 0;
	while (cap < b->n + n + 1)
		cap *= 2;
	if (!(p = realloc(b->p, cap)))
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int
bm_buf_put(struct bm_buf *b, const char *s, size_t n)
{
	if (reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
	return 0;
}

int
bm_buf_puts(struct bm_buf *b, const char *s)
{
	return bm_buf_put(b, s, strlen(s));
}

int
bm_buf_printf(struct bm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(b, (size_t)n) < 0)
		return -ENOMEM;
	va_start(ap, fmt);
	vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
	return 0;
}

char *
bm_buf_take(struct bm_buf *b, size_t *ret_len)
{
	char *p = b->p;

	if (!p && reserve(b, 0) == 0) {
		b->p[0] = '\0';
		p = b->p;
	}
	if (ret_len)
		*ret_len = b->n;
	b->p = NULL;
	b->n = b->cap = 0;
	return p;
}

void
bm_buf_free(struct bm_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->n = b->cap = 0;
}
