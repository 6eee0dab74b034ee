/* inspect.c - the state facts of one container from Docker's inspect
 * body. Docker writes times as RFC 3339 with nanoseconds, in UTC; the
 * zero time (never started/finished) is year 1. */
#include "agent/inspect.h"

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "common/err.h"
#include "common/utf8.h"

/* n digits at s as a number; -1 if any is not a digit. */
static int64_t digits(const char *s, int n)
{
	int64_t v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

uint64_t dl_inspect_time_ns(const char *s)
{
	int64_t y, mo, d, h, mi, sec, frac = 0, off = 0, secs;
	size_t n = s ? strlen(s) : 0, i = 19;
	int fd = 0;

	/* YYYY-MM-DDTHH:MM:SS */
	if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return 0;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 ||
	    h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return 0;
	if (s[i] == '.') {
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, fd++)
			if (fd < 9)
				frac = frac * 10 + (s[i] - '0');
		for (; fd < 9; fd++)
			frac *= 10;
	}
	if (s[i] == '+' || s[i] == '-') {
		int64_t oh, om;

		if (n - i != 6 || s[i + 3] != ':' ||
		    (oh = digits(s + i + 1, 2)) < 0 ||
		    (om = digits(s + i + 4, 2)) < 0)
			return 0;
		off = (oh * 60 + om) * 60 * (s[i] == '-' ? -1 : 1);
	} else if (!(s[i] == 'Z' && i + 1 == n)) {
		return 0;
	}
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
	       off;
	if (secs <= 0 || secs > INT64_MAX / 1000000000 - 1)
		return 0;
	return (uint64_t)secs * 1000000000u + (uint64_t)frac;
}

static void copy_str(char *out, size_t outlen, json_t *v, bool trim)
{
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;

	out[0] = '\0';
	if (!s)
		return;
	if (trim) /* a check's output usually ends in a newline */
		while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
				 s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
	/* jansson loads no "\u0000" (no JSON_ALLOW_NUL), so s has no NUL */
	n = dl_utf8_cut(s, n, outlen - 1);
	memcpy(out, s, n);
	out[n] = '\0';
}

static int64_t int_or(json_t *v, int64_t min, int64_t max, int64_t dflt)
{
	int64_t i;

	if (!json_is_integer(v))
		return dflt;
	i = json_integer_value(v);
	return i < min ? min : i > max ? max : i;
}

static void parse_health(json_t *hl, dl_inspect_t *out)
{
	json_t *log = json_object_get(hl, "Log");
	size_t n = json_array_size(log);

	if (!json_is_object(hl))
		return;
	copy_str(out->health, sizeof(out->health),
		 json_object_get(hl, "Status"), false);
	out->d.health_streak = (uint32_t)int_or(
		json_object_get(hl, "FailingStreak"), 0, UINT32_MAX, 0);
	/* Docker keeps the last 5 results, oldest first. */
	if (n > 0)
		copy_str(out->output, sizeof(out->output),
			 json_object_get(json_array_get(log, n - 1), "Output"),
			 true);
}

int dl_inspect_parse(const char *json, size_t len, dl_inspect_t *out)
{
	json_error_t jerr;
	json_t *root, *st;

	memset(out, 0, sizeof(*out));
	if (!json)
		return DL_EINVAL;
	if (len > DL_INSPECT_MAX_BODY)
		return DL_ETOOBIG;
	root = json_loadb(json, len, 0, &jerr);
	st = json_object_get(root, "State");
	if (!json_is_object(root) || !json_is_object(st)) {
		json_decref(root);
		return DL_EPROTO;
	}
	copy_str(out->state, sizeof(out->state), json_object_get(st, "Status"),
		 false);
	out->d.started_at = dl_inspect_time_ns(
		json_string_value(json_object_get(st, "StartedAt")));
	out->d.finished_at = dl_inspect_time_ns(
		json_string_value(json_object_get(st, "FinishedAt")));
	out->d.exit_code = (int32_t)int_or(json_object_get(st, "ExitCode"),
					   INT32_MIN, INT32_MAX, 0);
	out->d.oom_killed = json_is_true(json_object_get(st, "OOMKilled"));
	out->d.restarting = json_is_true(json_object_get(st, "Restarting"));
	out->d.restart_count = (uint32_t)int_or(
		json_object_get(root, "RestartCount"), 0, UINT32_MAX, 0);
	parse_health(json_object_get(st, "Health"), out);
	out->d.health_output =
		(dl_str_t){out->output, (uint32_t)strlen(out->output)};
	out->d.has = true;
	json_decref(root);
	return 0;
}
