/* Durations as people read them in tables and reasons. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* ms as "45s", "4m", "3h" or "2d" (rounded down). Returns buf. */
const char *bm_age_format(uint64_t ms, char *buf, size_t len);
