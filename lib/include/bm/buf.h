/* A growable text buffer, always NUL-terminated once anything was put. */
#pragma once
#include <stddef.h>

struct bm_buf {
	char *p;
	size_t n, cap;
};

/* Append n bytes. Returns 0 or -ENOMEM (the buffer is unchanged). */
int bm_buf_put(struct bm_buf *b, const char *s, size_t n);
int bm_buf_puts(struct bm_buf *b, const char *s);
int bm_buf_printf(struct bm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the text to the caller (free() it); the buffer is empty after. */
char *bm_buf_take(struct bm_buf *b, size_t *ret_len);
void bm_buf_free(struct bm_buf *b);
