/* Small helpers every module uses. */
#pragma once
#include <stddef.h>

#define BM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define bm_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* The value of a hex digit (either case), or -1. */
static inline int
bm_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
