/* test_common.c - common/: config files with file:line errors, integer
 * and duration parsing, reconnect backoff, the capped buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fdio.h"
#include "common/sdnotify.h"
#include "common/label.h"
#include "common/utf8.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* Config: each case writes its file, so the text and the line numbers
 * the assertions expect sit side by side. */

static char tmpdir[64];

static const char *write_conf(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ASSERT(f);
	ASSERT_EQ(fputs(text, f) >= 0, 1);
	ASSERT_EQ(fclose(f), 0);
	return path;
}

static const char *const known[] = {
	"agent.name",	  "agent.stats_interval", "collector.host",
	"collector.port", "spool.max_age",	  NULL,
};

static void test_conf_good(void)
{
	const char *path =
		write_conf("good.conf", "# dockline agent\n"
					"[agent]\n"
					"name = web-01\n"
					"stats_interval = 10\n"
					"\n"
					"[collector]\n"
					"host = collector.example.com\n"
					"port = 22\n"
					"[spool]\n"
					"max_age = 2h\n");
	char err[256] = "";
	dl_conf_t *c = dl_conf_load(path, err, sizeof(err));
	int64_t v;

	ASSERT(c);
	ASSERT_STR_EQ(dl_conf_path(c), path);
	ASSERT_EQ(dl_conf_check_known(c, known, err, sizeof(err)), 0);
	ASSERT_STR_EQ(dl_conf_str(c, "agent", "name", "x"), "web-01");
	ASSERT_STR_EQ(dl_conf_str(c, "collector", "host", NULL),
		      "collector.example.com");
	ASSERT_STR_EQ(dl_conf_str(c, "agent", "missing", "dflt"), "dflt");
	ASSERT_EQ(dl_conf_int(c, "collector", "port", 2222, 1, 65535, &v, err,
			      sizeof(err)),
		  0);
	ASSERT_EQ(v, 22);
	ASSERT_EQ(dl_conf_int(c, "agent", "nope", 77, 1, 100, &v, err,
			      sizeof(err)),
		  0);
	ASSERT_EQ(v, 77);
	ASSERT_EQ(dl_conf_duration(c, "spool", "max_age", 60, 1, 86400, &v, err,
				   sizeof(err)),
		  0);
	ASSERT_EQ(v, 7200);
	/* In range as an integer, out of range as a duration. */
	ASSERT_EQ(dl_conf_duration(c, "spool", "max_age", 60, 1, 3600, &v, err,
				   sizeof(err)),
		  DL_ECONFIG);
	ASSERT(strstr(err, "good.conf:10: max_age must be a duration"));
	dl_conf_free(c);
	dl_conf_free(NULL);
}

static void test_conf_unknown_key(void)
{
	const char *path = write_conf("unknown.conf", "[agent]\n"
						      "name = a\n"
						      "\n"
						      "stats_intreval = 5\n");
	char err[256] = "";
	char want[256];
	dl_conf_t *c = dl_conf_load(path, err, sizeof(err));

	ASSERT(c);
	ASSERT_EQ(dl_conf_check_known(c, known, err, sizeof(err)), DL_ECONFIG);
	snprintf(want, sizeof(want),
		 "%s:4: unknown setting agent.stats_intreval", path);
	ASSERT_STR_EQ(err, want);
	dl_conf_free(c);
}

static void test_conf_bad_int(void)
{
	static const char *const vals[] = {"ten",   "10s", "",
					   "99999", "-1",  "1e3"};
	char text[128], err[256];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		const char *path;
		dl_conf_t *c;
		int64_t v = -42;

		snprintf(text, sizeof(text),
			 "[collector]\nhost = h\n; comment\nport = %s\n",
			 vals[i]);
		path = write_conf("badint.conf", text);
		c = dl_conf_load(path, err, sizeof(err));
		ASSERT(c);
		ASSERT_EQ(dl_conf_int(c, "collector", "port", 22, 1, 65535, &v,
				      err, sizeof(err)),
			  DL_ECONFIG);
		if (!strstr(err, "badint.conf:4: port must be an integer "
				 "between 1 and 65535"))
			DL_FAIL_("value \"%s\": %s", vals[i], err);
		ASSERT_EQ(v, -42); /* untouched on error */
		dl_conf_free(c);
	}
}

static void test_conf_duplicate(void)
{
	const char *path = write_conf("dup.conf", "[agent]\n"
						  "name = a\n"
						  "stats_interval = 5\n"
						  "name = b\n");
	char err[256] = "";
	char want[256];

	ASSERT(dl_conf_load(path, err, sizeof(err)) == NULL);
	snprintf(want, sizeof(want),
		 "%s:4: agent.name set twice (first on line 2)", path);
	ASSERT_STR_EQ(err, want);

	/* The same key in two sections is two settings. */
	path = write_conf("dup2.conf", "[a]\nx = 1\n[b]\nx = 2\n");
	dl_conf_t *c = dl_conf_load(path, err, sizeof(err));
	ASSERT(c);
	ASSERT_STR_EQ(dl_conf_str(c, "b", "x", ""), "2");
	dl_conf_free(c);
}

static void test_conf_missing_and_syntax(void)
{
	char path[128], err[256] = "";

	snprintf(path, sizeof(path), "%s/does-not-exist.conf", tmpdir);
	ASSERT(dl_conf_load(path, err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "cannot open "));
	ASSERT(strstr(err, "does-not-exist.conf: No such file or directory"));

	const char *p = write_conf("syntax.conf", "[agent]\nname = a\n"
						  "this line has no equals\n");
	ASSERT(dl_conf_load(p, err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "syntax.conf:3: syntax error"));
}

static void test_parse_int(void)
{
	static const struct {
		const char *s;
		int64_t min, max;
		int rc;
		int64_t v;
	} t[] = {
		{"0", 0, 10, 0, 0},
		{"10", 0, 10, 0, 10},
		{"11", 0, 10, DL_EINVAL, 0},
		{"-1", 0, 10, DL_EINVAL, 0},
		{"-5", -10, 10, 0, -5},
		{"007", 0, 10, 0, 7},
		{"9223372036854775807", INT64_MIN, INT64_MAX, 0, INT64_MAX},
		{"-9223372036854775808", INT64_MIN, INT64_MAX, 0, INT64_MIN},
		{"9223372036854775808", INT64_MIN, INT64_MAX, DL_EINVAL, 0},
		{"-9223372036854775809", INT64_MIN, INT64_MAX, DL_EINVAL, 0},
		{"", 0, 10, DL_EINVAL, 0},
		{"-", -10, 10, DL_EINVAL, 0},
		{"+5", 0, 10, DL_EINVAL, 0},
		{" 5", 0, 10, DL_EINVAL, 0},
		{"5 ", 0, 10, DL_EINVAL, 0},
		{"5x", 0, 10, DL_EINVAL, 0},
		{"0x10", 0, 100, DL_EINVAL, 0},
		{"1.0", 0, 10, DL_EINVAL, 0},
	};
	int64_t v;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = 12345;
		if (dl_parse_int(t[i].s, t[i].min, t[i].max, &v) != t[i].rc)
			DL_FAIL_("dl_parse_int(\"%s\") != %d", t[i].s, t[i].rc);
		if (t[i].rc == 0)
			ASSERT_EQ(v, t[i].v);
		else
			ASSERT_EQ(v, 12345);
	}
	ASSERT_EQ(dl_parse_int(NULL, 0, 1, &v), DL_EINVAL);
}

static void test_duration(void)
{
	static const struct {
		const char *s;
		int rc;
		int64_t secs;
	} t[] = {
		{"10", 0, 10},
		{"10s", 0, 10},
		{"5m", 0, 300},
		{"2h", 0, 7200},
		{"7d", 0, 604800},
		{"0", 0, 0},
		{"36500d", 0, 36500LL * 86400},
		{"-1", DL_EINVAL, 0},
		{"1x", DL_EINVAL, 0},
		{"", DL_EINVAL, 0},
		{"m", DL_EINVAL, 0},
		{"5mm", DL_EINVAL, 0},
		{" 5m", DL_EINVAL, 0},
		{"99999999999d", DL_EINVAL, 0},
		{"36501d", DL_EINVAL, 0},
		{"99999999999999999999", DL_EINVAL, 0},
	};
	char out[32];
	int64_t v;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		v = -7;
		if (dl_duration_parse(t[i].s, &v) != t[i].rc)
			DL_FAIL_("dl_duration_parse(\"%s\") != %d", t[i].s,
				 t[i].rc);
		ASSERT_EQ(v, t[i].rc == 0 ? t[i].secs : -7);
	}
	ASSERT_EQ(dl_duration_parse(NULL, &v), DL_EINVAL);
	dl_duration_format(45, out, sizeof(out));
	ASSERT_STR_EQ(out, "45s");
	dl_duration_format(3599, out, sizeof(out));
	ASSERT_STR_EQ(out, "59m");
	dl_duration_format(7200, out, sizeof(out));
	ASSERT_STR_EQ(out, "2h");
	dl_duration_format(5 * 86400 + 1, out, sizeof(out));
	ASSERT_STR_EQ(out, "5d");
}

/* ------------------------------------------------------------------ */
/* Backoff                                                             */

static void test_backoff(void)
{
	dl_backoff_t b;
	uint64_t seen_lo = UINT64_MAX, seen_hi = 0;

	dl_backoff_init(&b, 500, 60000, 42);
	for (int i = 0; i < 200; i++) {
		uint64_t cur = b.cur_ms;
		uint64_t lo = cur / 2 < b.min_ms ? b.min_ms : cur / 2;
		uint64_t d = dl_backoff_next(&b);

		ASSERT_GE(d, lo);
		ASSERT_LE(d, cur);
		ASSERT_LE(b.cur_ms, 60000);
		ASSERT_GE(b.cur_ms, cur); /* never shrinks by itself */
		if (cur == 60000) {
			seen_lo = d < seen_lo ? d : seen_lo;
			seen_hi = d > seen_hi ? d : seen_hi;
		}
	}
	/* Reached the max and stayed, with jitter across the range. */
	ASSERT_EQ(b.cur_ms, 60000);
	ASSERT_LT(seen_lo, 40000);
	ASSERT_GT(seen_hi, 50000);

	dl_backoff_reset(&b);
	ASSERT_EQ(b.cur_ms, 500);
	ASSERT_LE(dl_backoff_next(&b), 500);
	ASSERT_EQ(b.cur_ms, 1000);

	/* Degenerate settings stay sane. */
	dl_backoff_init(&b, 0, 0, 0);
	ASSERT_GE(dl_backoff_next(&b), 1);
	ASSERT_EQ(b.cur_ms, 1);
	/* A max that is not min * 2^k is still the ceiling. */
	dl_backoff_init(&b, 1000, 45000, 7);
	for (int i = 0; i < 20; i++)
		ASSERT_LE(dl_backoff_next(&b), 45000);
	ASSERT_EQ(b.cur_ms, 45000);
}

/* ------------------------------------------------------------------ */
/* Buffer                                                              */

/* A buffer that never allocated is safe to read: head is a real pointer
 * (NULL + 0 is UB, and UBSan caught the /events reader fed "\n"). */
static void test_buf_empty(void)
{
	dl_buf_t b;
	const uint8_t *p;

	dl_buf_init(&b, 16);
	p = dl_buf_head(&b);
	ASSERT(p != NULL);
	ASSERT_EQ(dl_buf_used(&b), 0);
	ASSERT(memchr(p, '\n', dl_buf_used(&b)) == NULL);
	dl_buf_consume(&b, 1);
	ASSERT_EQ(dl_buf_used(&b), 0);
	ASSERT(dl_buf_reserve(&b, 0) != NULL);
	dl_buf_commit(&b, 0);
	ASSERT(dl_buf_head(&b) != NULL);
	/* Freed: empty again, still readable. */
	ASSERT_EQ(dl_buf_append(&b, "\n", 1), 0);
	ASSERT_EQ(*dl_buf_head(&b), '\n');
	dl_buf_consume(&b, 1);
	ASSERT(dl_buf_head(&b) != NULL);
	dl_buf_free(&b);
	ASSERT(dl_buf_head(&b) != NULL);
	ASSERT_EQ(dl_buf_used(&b), 0);
}

static void test_buf_cap(void)
{
	dl_buf_t b;
	uint8_t *w;

	dl_buf_init(&b, 10);
	ASSERT_EQ(dl_buf_append(&b, "12345678", 8), 0);
	ASSERT_EQ(dl_buf_append(&b, "abc", 3), DL_ETOOBIG);
	ASSERT_EQ(dl_buf_used(&b), 8);
	ASSERT(dl_buf_reserve(&b, 3) == NULL);
	ASSERT_EQ(dl_buf_append(&b, "ab", 2), 0);
	ASSERT_EQ(dl_buf_used(&b), 10);
	ASSERT_EQ(dl_buf_append(&b, "x", 1), DL_ETOOBIG);

	/* The cap bounds unread bytes: consuming frees room. */
	dl_buf_consume(&b, 4);
	ASSERT_EQ(dl_buf_used(&b), 6);
	ASSERT_EQ(dl_buf_append(&b, "WXYZ", 4), 0);
	ASSERT(memcmp(dl_buf_head(&b), "5678abWXYZ", 10) == 0);
	ASSERT_LE(b.alloc, 10);

	/* reserve + commit. */
	dl_buf_consume(&b, 100); /* more than there is: empties it */
	ASSERT_EQ(dl_buf_used(&b), 0);
	w = dl_buf_reserve(&b, 5);
	ASSERT(w);
	memcpy(w, "hello", 3);
	dl_buf_commit(&b, 3);
	ASSERT_EQ(dl_buf_used(&b), 3);
	ASSERT(memcmp(dl_buf_head(&b), "hel", 3) == 0);
	ASSERT_EQ(dl_buf_append(&b, NULL, 0), 0);
	dl_buf_reset(&b);
	ASSERT_EQ(dl_buf_used(&b), 0);
	dl_buf_free(&b);
	dl_buf_free(&b); /* twice is harmless */

	/* SIZE_MAX requests do not overflow the check. */
	dl_buf_init(&b, 64);
	ASSERT_EQ(dl_buf_append(&b, "x", 1), 0);
	ASSERT(dl_buf_reserve(&b, SIZE_MAX) == NULL);
	dl_buf_free(&b);
}

static void test_strerror(void)
{
	ASSERT_STR_EQ(dl_strerror(DL_EVERSION),
		      "incompatible protocol version");
	ASSERT_STR_EQ(dl_strerror(12345), "unknown error");
}

static void cleanup(void)
{
	static const char *const files[] = {
		"good.conf", "unknown.conf", "badint.conf",
		"dup.conf",  "dup2.conf",    "syntax.conf",
	};
	char path[128];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, files[i]);
		unlink(path);
	}
	rmdir(tmpdir);
}

/* dl_utf8_fix: invalid bytes become '?', valid text is untouched; a
 * character cut by a byte-count truncation is the case it is for. */
static void test_utf8_fix(void)
{
	static const struct {
		const char *in, *out;
	} t[] = {
		{"plain ascii", "plain ascii"},
		{"caf\xc3\xa9", "caf\xc3\xa9"},
		{"cut \xc3", "cut ?"},
		{"cut \xe2\x82", "cut ??"},
		{"\xff\xfe", "??"},
		{"surrogate \xed\xa0\x80", "surrogate ???"},
		{"overlong \xc0\xaf", "overlong ??"},
		{"", ""},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", t[i].in);
		dl_utf8_fix(buf);
		ASSERT_STR_EQ(buf, t[i].out);
		ASSERT(dl_utf8_valid(buf, strlen(buf)));
	}
	ASSERT(!dl_utf8_valid("a\0b", 3)); /* NUL counts as invalid */
}

/* sd_notify: a no-op without $NOTIFY_SOCKET, a datagram with it; the
 * watchdog period only when it is meant for this process. */
static void test_sdnotify(void)
{
	char path[64], pid[32], got[64] = "";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ssize_t n;

	unsetenv("NOTIFY_SOCKET");
	ASSERT_EQ(dl_sd_notify("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ASSERT_EQ(dl_sd_notify("READY=1"), DL_EINVAL);
	snprintf(path, sizeof(path), "/tmp/dl-sdnotify-%d", (int)getpid());
	unlink(path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ASSERT(fd >= 0);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", path, 1);
	ASSERT_EQ(dl_sd_notify("READY=1\nSTATUS=x"), 1);
	n = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	ASSERT_EQ(n, 16);
	ASSERT_STR_EQ(got, "READY=1\nSTATUS=x");
	close(fd);
	unlink(path);
	unsetenv("NOTIFY_SOCKET");

	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	ASSERT_EQ(dl_sd_watchdog_ms(), 0);
	setenv("WATCHDOG_USEC", "30000000", 1);
	ASSERT_EQ(dl_sd_watchdog_ms(), 30000);
	setenv("WATCHDOG_USEC", "30s", 1);
	ASSERT_EQ(dl_sd_watchdog_ms(), 0);
	setenv("WATCHDOG_USEC", "2000000", 1);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	setenv("WATCHDOG_PID", pid, 1);
	ASSERT_EQ(dl_sd_watchdog_ms(), 2000);
	setenv("WATCHDOG_PID", "1", 1); /* someone else's watchdog */
	ASSERT_EQ(dl_sd_watchdog_ms(), 0);
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
}

/* "K" or "K=V", first '=' splits; bounds of the wire. */
static void test_label_filter(void)
{
	static const struct {
		const char *in;
		int rc;
		const char *key, *value; /* value NULL: key only */
	} t[] = {
		{"app", 0, "app", NULL},
		{"app=web", 0, "app", "web"},
		{"app=", 0, "app", ""},
		{"a=b=c", 0, "a", "b=c"},
		{"com.example.tier=front end", 0, "com.example.tier",
		 "front end"},
		{"", DL_EINVAL, NULL, NULL},
		{"=web", DL_EINVAL, NULL, NULL},
		{"a\tb=c", DL_EINVAL, NULL, NULL},
	};
	char longk[DL_MAX_LABEL_KEY + 3], longv[DL_MAX_LABEL_VALUE + 4];
	dl_label_filter_t f;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ASSERT_EQ(dl_label_filter_parse(t[i].in, &f), t[i].rc);
		if (t[i].rc)
			continue;
		ASSERT_STR_EQ(f.key, t[i].key);
		ASSERT_EQ(f.has_value, t[i].value != NULL);
		if (t[i].value)
			ASSERT_STR_EQ(f.value, t[i].value);
	}
	ASSERT_EQ(dl_label_filter_parse(NULL, &f), DL_EINVAL);
	memset(longk, 'k', sizeof(longk));
	longk[DL_MAX_LABEL_KEY] = '\0'; /* exactly the maximum */
	ASSERT_EQ(dl_label_filter_parse(longk, &f), 0);
	longk[DL_MAX_LABEL_KEY] = 'k';
	longk[DL_MAX_LABEL_KEY + 1] = '\0';
	ASSERT_EQ(dl_label_filter_parse(longk, &f), DL_EINVAL);
	memset(longv, 'v', sizeof(longv));
	longv[0] = 'k';
	longv[1] = '=';
	longv[DL_MAX_LABEL_VALUE + 2] = '\0';
	ASSERT_EQ(dl_label_filter_parse(longv, &f), 0);
	longv[DL_MAX_LABEL_VALUE + 2] = 'v';
	longv[DL_MAX_LABEL_VALUE + 3] = '\0';
	ASSERT_EQ(dl_label_filter_parse(longv, &f), DL_EINVAL);
	ASSERT_EQ(dl_label_filter_parse("app=web", &f), 0);
	ASSERT(dl_label_filter_match(&f, "web"));
	ASSERT(!dl_label_filter_match(&f, "db"));
	ASSERT(!dl_label_filter_match(&f, NULL));
	ASSERT_EQ(dl_label_filter_parse("app", &f), 0);
	ASSERT(dl_label_filter_match(&f, ""));
}

/* dl_read_first_line: the secret files' reader (remote write, notify). */
static void test_read_first_line(void)
{
	char buf[16];
	const char *p;

	p = write_conf("tok", "s3cret \t\r\nsecond line\n");
	ASSERT_EQ(dl_read_first_line(p, 0, buf, sizeof(buf)), 6);
	ASSERT_STR_EQ(buf, "s3cret");
	p = write_conf("empty", "\n");
	ASSERT_EQ(dl_read_first_line(p, 0, buf, sizeof(buf)), 0);
	ASSERT_STR_EQ(buf, "");
	/* past cap - 1 bytes the rest is not read */
	p = write_conf("long", "0123456789abcdefXYZ");
	ASSERT_EQ(dl_read_first_line(p, 0, buf, sizeof(buf)), 15);
	ASSERT_STR_EQ(buf, "0123456789abcde");
	errno = 0;
	ASSERT_EQ(dl_read_first_line("/nonexistent/dl-secret", 0, buf,
				     sizeof(buf)),
		  -1);
	ASSERT_EQ(errno, ENOENT);
	/* O_NOFOLLOW refuses a symlink (ELOOP), without it the target */
	{
		char link[160];

		snprintf(link, sizeof(link), "%s/tok-link", tmpdir);
		ASSERT_EQ(symlink(write_conf("tok2", "abc\n"), link), 0);
		ASSERT_EQ(
			dl_read_first_line(link, O_NOFOLLOW, buf, sizeof(buf)),
			-1);
		ASSERT_EQ(errno, ELOOP);
		ASSERT_EQ(dl_read_first_line(link, 0, buf, sizeof(buf)), 3);
		ASSERT_STR_EQ(buf, "abc");
	}
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/dl-test-common.XXXXXX");
	ASSERT(mkdtemp(tmpdir) != NULL);
	atexit(cleanup);

	RUN(test_conf_good);
	RUN(test_conf_unknown_key);
	RUN(test_conf_bad_int);
	RUN(test_conf_duplicate);
	RUN(test_conf_missing_and_syntax);
	RUN(test_parse_int);
	RUN(test_duration);
	RUN(test_backoff);
	RUN(test_buf_cap);
	RUN(test_buf_empty);
	RUN(test_strerror);
	RUN(test_utf8_fix);
	RUN(test_sdnotify);
	RUN(test_label_filter);
	RUN(test_read_first_line);
	return 0;
}
