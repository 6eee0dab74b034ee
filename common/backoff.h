/* backoff.h - exponential reconnect delay with full jitter.
 * Delay doubles from min to max; each returned delay is drawn uniformly
 * from [cur/2, cur] so a fleet restarted together does not reconnect in
 * lockstep. */
#ifndef DL_COMMON_BACKOFF_H
#define DL_COMMON_BACKOFF_H

#include <stdint.h>

typedef struct {
	uint64_t min_ms;
	uint64_t max_ms;
	uint64_t cur_ms;
	uint64_t rng; /* xorshift state */
} dl_backoff_t;

void dl_backoff_init(dl_backoff_t *b, uint64_t min_ms, uint64_t max_ms,
		     uint64_t seed);
/* Next delay in ms; advances the exponent. */
uint64_t dl_backoff_next(dl_backoff_t *b);
/* Uniform in [0, max_ms], from the same generator (spreads a fleet). */
uint64_t dl_backoff_jitter(dl_backoff_t *b, uint64_t max_ms);
/* Back to min after a success. */
void dl_backoff_reset(dl_backoff_t *b);

#endif
