/* Small helpers every module uses. */
#pragma once
#include <stddef.h>

#define BM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define bm_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
