/* test_dstatus.c - Docker's status wording at every unit boundary of
 * go-units HumanDuration and every branch of moby's State.String(). */
#include <stdio.h>
#include <string.h>

#include "common/dstatus.h"
#include "test.h"

#define S  1000000000LL
#define M  (60 * S)
#define H  (60 * M)
#define D  (24 * H)
#define NS 1LL

static void test_durations(void)
{
	static const struct {
		int64_t d;
		const char *want;
	} t[] = {
		{-5 * S, "Less than a second"},
		{0, "Less than a second"},
		{S - NS, "Less than a second"},
		{S, "1 second"},
		{2 * S - NS, "1 second"},
		{2 * S, "2 seconds"},
		{59 * S + S - NS, "59 seconds"},
		{60 * S, "About a minute"},
		{2 * M - NS, "About a minute"},
		{2 * M, "2 minutes"},
		{59 * M + 59 * S, "59 minutes"},
		{60 * M, "About an hour"},
		/* hours are rounded: 1 h 29 m is still about an hour */
		{H + 30 * M - NS, "About an hour"},
		{H + 30 * M, "2 hours"},
		{47 * H + 29 * M, "47 hours"},
		{47 * H + 30 * M, "2 days"}, /* rounds to 48 h */
		{48 * H, "2 days"},
		{13 * D + 23 * H, "13 days"},
		{14 * D - 30 * M - NS, "13 days"},
		{14 * D - 30 * M, "2 weeks"},
		{14 * D, "2 weeks"},
		{59 * D, "8 weeks"},
		{60 * D - 30 * M - NS, "8 weeks"},
		{60 * D, "2 months"},
		{729 * D, "24 months"},
		{730 * D - 30 * M - NS, "24 months"},
		{730 * D, "2 years"},
		{3 * 365 * D + 5 * D, "3 years"},
		{INT64_MAX, "292 years"},
	};
	char out[64];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		dl_human_duration(t[i].d, out, sizeof(out));
		if (strcmp(out, t[i].want) != 0)
			DL_FAIL_("row %zu (%lld ns): \"%s\", want \"%s\"", i,
				 (long long)t[i].d, out, t[i].want);
	}
}

static void test_status(void)
{
	const uint64_t now = 1764540000ull * S;
	static const struct {
		const char *state;
		int64_t started_ago, finished_ago; /* -1 = never */
		int32_t code;
		const char *health;
		const char *want;
	} t[] = {
		{"running", 3 * M, -1, 0, "healthy", "Up 3 minutes (healthy)"},
		{"running", 52 * S, -1, 0, "", "Up 52 seconds"},
		{"running", 90 * S, -1, 0, "", "Up About a minute"},
		{"running", 2 * H, 5 * H, 1, "unhealthy",
		 "Up 2 hours (unhealthy)"},
		{"running", 10 * S, -1, 0, "starting",
		 "Up 10 seconds (health: starting)"},
		{"running", 0, -1, 0, NULL, "Up Less than a second"},
		{"running", -1, -1, 0, "", "Up 55 years"}, /* bogus: no start */
		{"paused", 3 * D, -1, 0, "healthy", "Up 3 days (Paused)"},
		{"exited", 3 * H, 2 * H, 3, "", "Exited (3) 2 hours ago"},
		{"exited", 10 * S, 5 * S, 137, "unhealthy",
		 "Exited (137) 5 seconds ago"},
		{"exited", 10 * S, 0, -1, "",
		 "Exited (-1) Less than a second ago"},
		{"exited", 10 * S, -1, 0, "", ""}, /* Docker has no words */
		{"restarting", 6 * S, 5 * S, 1, "",
		 "Restarting (1) 5 seconds ago"},
		{"created", -1, -1, 0, "", "Created"},
		{"exited", -1, -1, 0, "", "Created"}, /* never started */
		{"dead", 4 * H, 3 * H, 0, "", "Dead"},
		{"removing", 4 * H, 3 * H, 0, "", "Removal In Progress"},
		{"", -1, -1, 0, "", "Created"},
		{NULL, 5 * S, 4 * S, 2, NULL, "Exited (2) 4 seconds ago"},
	};
	char out[DL_DOCKER_STATUS_MAX];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t st = t[i].started_ago < 0
				      ? 0
				      : now - (uint64_t)t[i].started_ago;
		uint64_t fi = t[i].finished_ago < 0
				      ? 0
				      : now - (uint64_t)t[i].finished_ago;

		dl_docker_status(now, t[i].state, st, fi, t[i].code,
				 t[i].health, out, sizeof(out));
		if (strcmp(out, t[i].want) != 0)
			DL_FAIL_("row %zu (%s): \"%s\", want \"%s\"", i,
				 t[i].state ? t[i].state : "NULL", out,
				 t[i].want);
	}
	/* A clock behind the start still says "Less than a second". */
	dl_docker_status(now, "running", now + 5 * S, 0, 0, "", out,
			 sizeof(out));
	ASSERT_STR_EQ(out, "Up Less than a second");
	/* The longest sentence fits the documented maximum. */
	dl_docker_status(UINT64_MAX, "restarting", 0, 1, INT32_MIN, "unhealthy",
			 out, sizeof(out));
	ASSERT_STR_EQ(out, "Restarting (-2147483648) 292 years ago");
	/* Truncation is safe. */
	dl_docker_status(now, "running", now - 3 * M, 0, 0, "healthy", out, 5);
	ASSERT_STR_EQ(out, "Up 3");
}

int main(void)
{
	RUN(test_durations);
	RUN(test_status);
	return 0;
}
