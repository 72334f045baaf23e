/* Structured log lines: `ts level component msg key=value ...` on stderr. */
#pragma once
#include <stdarg.h>

enum bm_log_level { BM_LOG_DEBUG, BM_LOG_INFO, BM_LOG_WARN, BM_LOG_ERROR };

/* Set the minimum level printed (default INFO). */
void bm_log_set_level(enum bm_log_level lvl);
/* Parse "debug|info|warn|error"; returns 0 or -EINVAL. */
int bm_log_level_parse(const char *s, enum bm_log_level *ret_lvl);

/* Print one line. `fmt` formats the message followed by its key=value
 * fields, e.g. bm_log(BM_LOG_INFO, "store", "opened path=%s rev=%llu", ...).
 * Values from outside must go through bm_log_escape() first. */
void bm_log(enum bm_log_level lvl, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Copy `s` into `buf` (size `n`) with every byte that is not printable
 * ASCII, and space, '"', '\\' and '=', escaped as \xHH, so a value can never
 * forge a field; truncated with "..." to fit. Returns buf. */
const char *bm_log_escape(const char *s, char *buf, unsigned n);

#define BM_DEBUG(c, ...) bm_log(BM_LOG_DEBUG, c, __VA_ARGS__)
#define BM_INFO(c, ...) bm_log(BM_LOG_INFO, c, __VA_ARGS__)
#define BM_WARN(c, ...) bm_log(BM_LOG_WARN, c, __VA_ARGS__)
#define BM_ERROR(c, ...) bm_log(BM_LOG_ERROR, c, __VA_ARGS__)
