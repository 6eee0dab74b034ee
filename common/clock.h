/* clock.h - monotonic and wall time in nanoseconds, plus human durations.
 * Monotonic time measures intervals; wall time is what gets stored. */
#ifndef DL_COMMON_CLOCK_H
#define DL_COMMON_CLOCK_H

#include <stddef.h>
#include <stdint.h>

uint64_t dl_clock_mono_ns(void);
uint64_t dl_clock_wall_ns(void);

/* Parses "90", "90s", "10m", "2h", "7d" into seconds. Returns 0 or
 * DL_EINVAL; rejects negatives, garbage and values over 100 years. */
int dl_duration_parse(const char *s, int64_t *seconds);
/* Writes "45s", "3m", "2h", "5d" (rounded down) into out. */
void dl_duration_format(int64_t seconds, char *out, size_t outlen);

#endif
