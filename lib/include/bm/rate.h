/* A token bucket: at most `burst` at once, refilled at `per_s` a second.
 * Pure: the caller gives the time (monotonic milliseconds). A token is a
 * request (the DHCP discovery rate) or a byte (the agent's image_rate_mbit,
 * shared by TFTP and HTTP: bm_rate_take_upto, bm_rate_give,
 * bm_rate_wait_ms). */
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

static inline void
bm_rate_refill(struct bm_rate *r, uint64_t now_ms)
{
	if (now_ms > r->at_ms) {
		r->tokens += (double)(now_ms - r->at_ms) * r->per_s / 1000.0;
		if (r->tokens > r->burst)
			r->tokens = r->burst;
		r->at_ms = now_ms;
	}
}

/* Take one token if there is one. */
static inline bool
bm_rate_take(struct bm_rate *r, uint64_t now_ms)
{
	bm_rate_refill(r, now_ms);
	if (r->tokens < 1.0)
		return false;
	r->tokens -= 1.0;
	return true;
}

/* Take up to want tokens: how many were there (0: none). */
static inline uint64_t
bm_rate_take_upto(struct bm_rate *r, uint64_t want, uint64_t now_ms)
{
	bm_rate_refill(r, now_ms);
	uint64_t n = r->tokens < 1.0 ? 0 : (uint64_t)r->tokens;
	if (n > want)
		n = want;
	r->tokens -= (double)n;
	return n;
}

/* Put back tokens taken and not used (bytes not sent). */
static inline void
bm_rate_give(struct bm_rate *r, uint64_t n)
{
	r->tokens += (double)n;
	if (r->tokens > r->burst)
		r->tokens = r->burst;
}

/* Milliseconds until want tokens (at most the burst) are there; 0: now. */
static inline uint64_t
bm_rate_wait_ms(struct bm_rate *r, uint64_t want, uint64_t now_ms)
{
	double w = (double)want > r->burst ? r->burst : (double)want;

	bm_rate_refill(r, now_ms);
	if (r->tokens >= w || r->per_s <= 0)
		return 0;
	return (uint64_t)((w - r->tokens) * 1000.0 / r->per_s) + 1;
}

/* The agent's image_rate_mbit: most allowed; the bucket holds a tenth of a
 * second of it, and never less than BM_RATE_BYTES_BURST_MIN (an HTTP
 * sendfile bite, a TFTP window). */
#define BM_RATE_MBIT_MAX 100000u
#define BM_RATE_BYTES_BURST_MIN (256u << 10)

/* A bucket of bytes at mbit megabits a second. */
static inline void
bm_rate_init_mbit(struct bm_rate *r, unsigned mbit, uint64_t now_ms)
{
	double per_s = (double)mbit * 1e6 / 8;
	bm_rate_init(r, per_s,
	             per_s / 10 > BM_RATE_BYTES_BURST_MIN ? per_s / 10 : BM_RATE_BYTES_BURST_MIN,
	             now_ms);
}
