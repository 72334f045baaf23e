/* Small helpers every module uses. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

/* Milliseconds of the wall clock (for records) and of the monotonic clock
 * (for timeouts). */
static inline uint64_t
bm_clock_ms(clockid_t clock)
{
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
static inline uint64_t
bm_wall_ms(void)
{
	return bm_clock_ms(CLOCK_REALTIME);
}
static inline uint64_t
bm_mono_ms(void)
{
	return bm_clock_ms(CLOCK_MONOTONIC);
}
