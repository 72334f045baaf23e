/* Structured log lines: `ts level component msg key=value ...` on stderr. */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

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

/* A budget of lines per second for what outsiders can trigger (refused
 * requests, bad packets), so a flood cannot fill the disk. */
struct bm_log_limit {
	time_t second;
	unsigned used;
};
/* True when one more line fits this second's budget of per_s. */
bool bm_log_allow(struct bm_log_limit *l, unsigned per_s);
/* bm_log at INFO within the budget; beyond it the line is dropped. */
void bm_log_limited(struct bm_log_limit *l, unsigned per_s, const char *component, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));

#define BM_DEBUG(c, ...) bm_log(BM_LOG_DEBUG, c, __VA_ARGS__)
#define BM_INFO(c, ...) bm_log(BM_LOG_INFO, c, __VA_ARGS__)
#define BM_WARN(c, ...) bm_log(BM_LOG_WARN, c, __VA_ARGS__)
#define BM_ERROR(c, ...) bm_log(BM_LOG_ERROR, c, __VA_ARGS__)
