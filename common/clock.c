#include "common/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "common/err.h"

static uint64_t ts_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t dl_clock_mono_ns(void)
{
	return ts_ns(CLOCK_MONOTONIC);
}

uint64_t dl_clock_wall_ns(void)
{
	return ts_ns(CLOCK_REALTIME);
}

int dl_duration_parse(const char *s, int64_t *seconds)
{
	char *end;
	long long v;
	int64_t mult = 1;

	if (!s || *s < '0' || *s > '9')
		return DL_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || v < 0)
		return DL_EINVAL;
	switch (*end) {
	case '\0':
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: return DL_EINVAL;
	}
	if (*end && end[1])
		return DL_EINVAL;
	if (v > (100LL * 365 * 86400) / mult)
		return DL_EINVAL;
	*seconds = (int64_t)v * mult;
	return 0;
}

void dl_duration_format(int64_t s, char *out, size_t outlen)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, outlen, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, outlen, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(out, outlen, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, outlen, "%lldd", (long long)(s / 86400));
}
