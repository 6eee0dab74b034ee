#include "common/backoff.h"

void dl_backoff_init(dl_backoff_t *b, uint64_t min_ms, uint64_t max_ms,
		     uint64_t seed)
{
	b->min_ms = min_ms ? min_ms : 1;
	b->max_ms = max_ms < b->min_ms ? b->min_ms : max_ms;
	b->cur_ms = b->min_ms;
	b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

uint64_t dl_backoff_next(dl_backoff_t *b)
{
	uint64_t cur = b->cur_ms;
	uint64_t lo = cur / 2;
	uint64_t delay = lo + xorshift(&b->rng) % (cur - lo + 1);

	if (delay < b->min_ms)
		delay = b->min_ms;
	b->cur_ms = cur >= b->max_ms / 2 ? b->max_ms : cur * 2;
	return delay;
}

void dl_backoff_reset(dl_backoff_t *b)
{
	b->cur_ms = b->min_ms;
}

uint64_t dl_backoff_jitter(dl_backoff_t *b, uint64_t max_ms)
{
	if (max_ms == 0)
		return 0;
	return xorshift(&b->rng) % (max_ms + 1);
}
