#include "bm/age.h"

#include <stdio.h>

const char *
bm_age_format(uint64_t ms, char *buf, size_t len)
{
	unsigned long long s = ms / 1000;

	if (s < 120)
		snprintf(buf, len, "%llus", s);
	else if (s < 2 * 3600)
		snprintf(buf, len, "%llum", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%lluh", s / 3600);
	else
		snprintf(buf, len, "%llud", s / 86400);
	return buf;
}
