/* A token bucket: at most `burst` at once, refilled at `per_s` a second.
 * Pure: the caller gives the time (monotonic milliseconds). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct bm_rate {
	double per_s, burst, tokens;
	uint64_t at_ms;
};

static inline void
bm_rate_init(struct bm_rate *r, double per_s, double burst, uint64_t now_ms)
{
	r->per_s = per_s;
	r->burst = burst < 1 ? 1 : burst;
	r->tokens = r->burst;
	r->at_ms = now_ms;
}

/* Take one token if there is one. */
static inline bool
bm_rate_take(struct bm_rate *r, uint64_t now_ms)
{
	if (now_ms > r->at_ms) {
		r->tokens += (double)(now_ms - r->at_ms) * r->per_s / 1000.0;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
		r->at_ms = now_ms;
	}
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}
