#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/err.h"

int dl_log_level = DL_LOG_LEVEL_INFO;

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void dl_log_set_level(dl_log_level_t level)
{
	dl_log_level = (int)level;
}

int dl_log_parse_level(const char *s, dl_log_level_t *out)
{
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (dl_log_level_t)i;
			return 0;
		}
	}
	return DL_EINVAL;
}

void dl_log_write(dl_log_level_t level, const char *tag, const char *fmt, ...)
{
	char line[1024];
	char stamp[32];
	uint64_t ns = dl_clock_wall_ns();
	time_t secs = (time_t)(ns / 1000000000u);
	struct tm tm;
	va_list ap;
	int n;

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* Control characters from remote input must not forge log lines. */
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "%s.%03uZ %s %s: %s\n", stamp,
		(unsigned)((ns / 1000000u) % 1000u), level_names[level], tag,
		line);
}

int dl_log_rl_pass(dl_log_rl_t *rl, unsigned burst, unsigned interval_ms,
		   unsigned *suppressed)
{
	uint64_t now = dl_clock_mono_ns() / 1000000u;

	*suppressed = 0;
	if (now - rl->window_start_ms >= interval_ms) {
		*suppressed = rl->suppressed;
		rl->window_start_ms = now;
		rl->count = 0;
		rl->suppressed = 0;
	}
	if (rl->count < burst) {
		rl->count++;
		return 1;
	}
	rl->suppressed++;
	return 0;
}
