/* dstatus.c - Docker's status wording, from docker/go-units
 * HumanDuration and moby's State.String(). Thresholds (d = duration):
 *
 *   seconds = floor(d)        < 1 "Less than a second", 1 "1 second",
 *                             < 60 "N seconds"
 *   minutes = floor(d / 60)   1 "About a minute", < 60 "N minutes"
 *   hours   = round(d / 3600) 1 "About an hour", < 48 "N hours",
 *                             < 14 d "N days" (hours / 24),
 *                             < 60 d "N weeks" (hours / 24 / 7),
 *                             < 730 d "N months" (hours / 24 / 30)
 *   else "N years" (floor(d / 3600) / 24 / 365)
 */
#include "common/dstatus.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000LL

void dl_human_duration(int64_t d_ns, char *out, size_t outlen)
{
	int64_t secs = d_ns / NS_PER_S; /* truncates toward 0, as Go's int() */
	int64_t mins = secs / 60;
	/* Go: int(d.Hours() + 0.5); the half-hour falls on a whole second,
	 * so whole seconds round the same (and cannot overflow). */
	int64_t hours = (secs + 1800) / 3600;

	if (secs < 1)
		snprintf(out, outlen, "Less than a second");
	else if (secs == 1)
		snprintf(out, outlen, "1 second");
	else if (secs < 60)
		snprintf(out, outlen, "%lld seconds", (long long)secs);
	else if (mins == 1)
		snprintf(out, outlen, "About a minute");
	else if (mins < 60)
		snprintf(out, outlen, "%lld minutes", (long long)mins);
	else if (hours == 1)
		snprintf(out, outlen, "About an hour");
	else if (hours < 48)
		snprintf(out, outlen, "%lld hours", (long long)hours);
	else if (hours < 24 * 7 * 2)
		snprintf(out, outlen, "%lld days", (long long)(hours / 24));
	else if (hours < 24 * 30 * 2)
		snprintf(out, outlen, "%lld weeks",
			 (long long)(hours / 24 / 7));
	else if (hours < 24 * 365 * 2)
		snprintf(out, outlen, "%lld months",
			 (long long)(hours / 24 / 30));
	else
		snprintf(out, outlen, "%lld years",
			 (long long)(secs / 3600 / 24 / 365));
}

static int64_t since(uint64_t now_ns, uint64_t then_ns)
{
	if (then_ns >= now_ns)
		return 0;
	if (now_ns - then_ns > (uint64_t)INT64_MAX)
		return INT64_MAX;
	return (int64_t)(now_ns - then_ns);
}

static bool is(const char *s, const char *c)
{
	return s && strcmp(s, c) == 0;
}

const char *dl_docker_status(uint64_t now_ns, const char *state,
			     uint64_t started_ns, uint64_t finished_ns,
			     int32_t exit_code, const char *health, char *out,
			     size_t outlen)
{
	char d[32];

	if (!out || outlen == 0)
		return out;
	out[0] = '\0';
	if (is(state, "running") || is(state, "paused")) {
		dl_human_duration(since(now_ns, started_ns), d, sizeof(d));
		if (is(state, "paused"))
			snprintf(out, outlen, "Up %s (Paused)", d);
		else if (is(health, "starting"))
			snprintf(out, outlen, "Up %s (health: starting)", d);
		else if (health && health[0])
			snprintf(out, outlen, "Up %s (%s)", d, health);
		else
			snprintf(out, outlen, "Up %s", d);
	} else if (is(state, "restarting")) {
		dl_human_duration(since(now_ns, finished_ns), d, sizeof(d));
		snprintf(out, outlen, "Restarting (%d) %s ago", (int)exit_code,
			 d);
	} else if (is(state, "removing")) {
		snprintf(out, outlen, "Removal In Progress");
	} else if (is(state, "dead")) {
		snprintf(out, outlen, "Dead");
	} else if (started_ns == 0) {
		snprintf(out, outlen, "Created");
	} else if (finished_ns != 0) {
		dl_human_duration(since(now_ns, finished_ns), d, sizeof(d));
		snprintf(out, outlen, "Exited (%d) %s ago", (int)exit_code, d);
	}
	return out;
}
