/* log.h - levelled, tagged logging to stderr (journald picks it up).
 * Lines look like: "2026-11-23T21:59:00.123Z WARN tunnel: text".
 * Never log a secret, a private key or a token. Use DL_LOG_RL inside loops
 * that an outside party can drive, so a flood cannot fill the disk. */
#ifndef DL_COMMON_LOG_H
#define DL_COMMON_LOG_H

#include <stdint.h>

typedef enum {
	DL_LOG_LEVEL_ERROR = 0,
	DL_LOG_LEVEL_WARN = 1,
	DL_LOG_LEVEL_INFO = 2,
	DL_LOG_LEVEL_DEBUG = 3,
} dl_log_level_t;

extern int dl_log_level;

void dl_log_set_level(dl_log_level_t level);
/* Parses "error|warn|info|debug"; returns 0 or DL_EINVAL. */
int dl_log_parse_level(const char *s, dl_log_level_t *out);
void dl_log_write(dl_log_level_t level, const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Rate limiter: at most `burst` lines per `interval_ms`; the number
 * suppressed is reported on the next line that passes. */
typedef struct {
	uint64_t window_start_ms;
	unsigned count;
	unsigned suppressed;
} dl_log_rl_t;
int dl_log_rl_pass(dl_log_rl_t *rl, unsigned burst, unsigned interval_ms,
		   unsigned *suppressed);

#define DL_LOG_(lvl, tag, ...)                                                 \
	do {                                                                   \
		if ((int)(lvl) <= dl_log_level)                                \
			dl_log_write((lvl), (tag), __VA_ARGS__);               \
	} while (0)
#define DL_LOG_ERROR(tag, ...) DL_LOG_(DL_LOG_LEVEL_ERROR, tag, __VA_ARGS__)
#define DL_LOG_WARN(tag, ...)  DL_LOG_(DL_LOG_LEVEL_WARN, tag, __VA_ARGS__)
#define DL_LOG_INFO(tag, ...)  DL_LOG_(DL_LOG_LEVEL_INFO, tag, __VA_ARGS__)
#define DL_LOG_DEBUG(tag, ...) DL_LOG_(DL_LOG_LEVEL_DEBUG, tag, __VA_ARGS__)

/* Rate-limited: 10 lines per 10 s per call site. */
#define DL_LOG_RL(lvl, tag, ...)                                               \
	do {                                                                   \
		static dl_log_rl_t rl_;                                        \
		unsigned sup_;                                                 \
		if ((int)(lvl) <= dl_log_level &&                              \
		    dl_log_rl_pass(&rl_, 10, 10000, &sup_)) {                  \
			if (sup_)                                              \
				dl_log_write((lvl), (tag),                     \
					     "(%u similar lines suppressed)",  \
					     sup_);                            \
			dl_log_write((lvl), (tag), __VA_ARGS__);               \
		}                                                              \
	} while (0)

#endif
