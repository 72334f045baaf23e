#include "bm/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum bm_log_level min_level = BM_LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
bm_log_set_level(enum bm_log_level lvl)
{
	min_level = lvl;
}

int
bm_log_level_parse(const char *s, enum bm_log_level *ret_lvl)
{
	for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(s, level_names[i]) == 0) {
			*ret_lvl = (enum bm_log_level)i;
			return 0;
		}
	return -EINVAL;
}

void
bm_log(enum bm_log_level lvl, const char *component, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (lvl < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	             ts.tv_nsec / 1000, level_names[lvl], component);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line, so lines from several threads never interleave. */
	fprintf(stderr, "%s\n", line);
}

const char *
bm_log_escape(const char *s, char *buf, unsigned n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned o = 0;

	if (n < 8) {
		if (n)
			buf[0] = '\0';
		return buf;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int plain = c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
		unsigned need = plain ? 1 : 4;
		if (o + need + 4 > n) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (plain) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return buf;
}

bool
bm_log_allow(struct bm_log_limit *l, unsigned per_s)
{
	time_t now = time(NULL);

	if (now != l->second) {
		l->second = now;
		l->used = 0;
	}
	return l->used++ < per_s;
}

void
bm_log_limited(struct bm_log_limit *l, unsigned per_s, const char *component, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	if (!bm_log_allow(l, per_s))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	bm_log(BM_LOG_INFO, component, "%s", line);
}
