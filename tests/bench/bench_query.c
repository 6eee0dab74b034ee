/* bench_query.c - `ps --all`, `stats` and `hosts` answers built by the
 * json_t path (query.c + dl_admin_frame, what serve did) and by the text
 * path (query_text.c, what serve does now), one after the other on the
 * same read-only connection, same run. Prints per op: answers/s, p50 and
 * p99 (ms) of each path, its CPU time per answer (ms), the answer size,
 * and the speed-up. Also times the hosts query's SQL alone, every
 * column read: the joins of schema v8 (the newest host_samples row per
 * host by a max(ts) probe, the counts by a grouped pass over
 * containers) against the hosts row's own columns of v9
 * (DL_QUERY_HOSTS_COLS), on the same database.
 *
 *   bench_query DB [SECONDS per case [hosts]]   (DB from bench_fleetdb;
 *   "hosts": only the hosts rows, for fleets whose `ps --all` is past
 *   the answer limit) */
#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "collector/query.h"
#include "collector/query_int.h"
#include "common/buf.h"
#include "common/clock.h"
#include "proto/admin.h"

#define LAT_MAX 200000

static dl_query_t *q;
static uint64_t lat[LAT_MAX];

typedef size_t (*run_fn)(void); /* one answer; its size in bytes */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* Runs fn for secs: answers/s, p50, p99 (ms), CPU ms per answer, bytes
 * of the last. */
static void measure(run_fn fn, double secs, double *rps, double *p50,
		    double *p99, double *cpu, size_t *bytes)
{
	uint64_t t0 = dl_clock_mono_ns(), end = t0 + (uint64_t)(secs * 1e9);
	size_t n = 0;
	double c0;

	fn(); /* warm the page cache and the statements */
	c0 = cpu_ms();
	t0 = dl_clock_mono_ns();
	while (n < LAT_MAX) {
		uint64_t a = dl_clock_mono_ns();

		*bytes = fn();
		lat[n++] = dl_clock_mono_ns() - a;
		if (lat[n - 1] + a >= end)
			break;
	}
	*rps = (double)n / ((double)(dl_clock_mono_ns() - t0) / 1e9);
	*cpu = (cpu_ms() - c0) / (double)n;
	qsort(lat, n, sizeof(lat[0]), cmp_u64);
	*p50 = (double)lat[n / 2] / 1e6;
	*p99 = (double)lat[n * 99 / 100] / 1e6;
}

static size_t frame_of(json_t *data)
{
	json_t *o = json_pack("{s:b,s:o}", "ok", 1, "data", data);
	size_t len = 0;
	char *f = dl_admin_frame(o, DL_ADMIN_RESP_MAX, &len);

	if (!f) {
		fprintf(stderr, "bench_query: frame failed\n");
		exit(1);
	}
	free(f);
	json_decref(o);
	return len;
}

static size_t text_of(int rc, dl_buf_t *b)
{
	size_t n = dl_buf_used(b);

	if (rc) {
		fprintf(stderr, "bench_query: text path failed (%d)\n", rc);
		exit(1);
	}
	dl_buf_free(b);
	return n;
}

static char err[256];

static size_t ps_json(void)
{
	return frame_of(dl_query_ps(q, NULL, true, err, sizeof(err)));
}

static size_t ps_text(void)
{
	dl_buf_t b;

	dl_buf_init(&b, DL_ADMIN_RESP_MAX);
	return text_of(dl_query_ps_text(q, &(dl_ps_filter_t){.all = true}, NULL,
					&b, NULL, err, sizeof(err)),
		       &b);
}

static size_t ps_page(void)
{
	dl_buf_t b;

	dl_buf_init(&b, DL_ADMIN_RESP_MAX);
	return text_of(dl_query_ps_text(q, &(dl_ps_filter_t){.all = true},
					&(dl_page_t){.limit = 1000}, &b, NULL,
					err, sizeof(err)),
		       &b);
}

static size_t stats_json(void)
{
	return frame_of(dl_query_stats(q, NULL, NULL, err, sizeof(err)));
}

static size_t stats_text(void)
{
	dl_buf_t b;

	dl_buf_init(&b, DL_ADMIN_RESP_MAX);
	return text_of(dl_query_stats_text(q, &(dl_stats_filter_t){0}, NULL, &b,
					   NULL, err, sizeof(err)),
		       &b);
}

static size_t hosts_json(void)
{
	return frame_of(dl_query_hosts(q, err, sizeof(err)));
}

static size_t hosts_text(void)
{
	dl_buf_t b;

	dl_buf_init(&b, DL_ADMIN_RESP_MAX);
	return text_of(
		dl_query_hosts_text(q, NULL, NULL, &b, NULL, err, sizeof(err)),
		&b);
}

/* The hosts query's SQL alone: v8's joins or v9's row. */
static sqlite3_stmt *st_v8, *st_v9;

static size_t step_all(sqlite3_stmt *st)
{
	size_t n = 0;
	int cols = sqlite3_column_count(st);

	/* every value read as what it is (a number is not made text) */
	while (sqlite3_step(st) == SQLITE_ROW)
		for (int i = 0; i < cols; i++)
			n += sqlite3_column_type(st, i) == SQLITE_TEXT
				     ? (size_t)sqlite3_column_bytes(st, i)
				     : 8;
	sqlite3_reset(st);
	return n;
}

static size_t sql_v8(void)
{
	return step_all(st_v8);
}

static size_t sql_v9(void)
{
	return step_all(st_v9);
}

static void row(const char *what, run_fn a, run_fn b, double secs)
{
	double r1, p50a, p99a, c1, r2, p50b, p99b, c2;
	size_t s1 = 0, s2 = 0;

	measure(a, secs, &r1, &p50a, &p99a, &c1, &s1);
	measure(b, secs, &r2, &p50b, &p99b, &c2, &s2);
	printf("%-28s %9.1f %8.2f %8.2f %7.2f | %9.1f %8.2f %8.2f %7.2f | "
	       "%9zu %9zu  x%.1f\n",
	       what, r1, p50a, p99a, c1, r2, p50b, p99b, c2, s1, s2, r2 / r1);
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 3;
	bool only_hosts = argc > 3 && !strcmp(argv[3], "hosts");

	if (argc < 2 || (argc > 3 && !only_hosts)) {
		fprintf(stderr, "usage: bench_query DB [SECONDS [hosts]]\n");
		return 2;
	}
	if (!(q = dl_query_open(argv[1], err, sizeof(err)))) {
		fprintf(stderr, "bench_query: %s\n", err);
		return 1;
	}
	if (sqlite3_prepare_v2(
		    dl_query_db(q),
		    "SELECT h.name, h.online, h.last_seen, h.docker_up, "
		    "h.docker_version, h.peer, h.software, ifnull(n.total, 0), "
		    "ifnull(n.running, 0), s.cpu_percent, s.mem_used, "
		    "s.mem_total, s.load1, s.disk_used, s.disk_total, "
		    "h.control, h.clock_skew_ms, h.last_data, "
		    "h.dropped_frames, ifnull(n.unhealthy, 0), "
		    "ifnull(n.restarting, 0), h.labels FROM hosts h LEFT JOIN "
		    "host_samples s ON s.host = h.name AND s.ts = (SELECT "
		    "max(ts) FROM host_samples WHERE host = h.name) LEFT JOIN "
		    "(SELECT host, count(*) AS total, count(CASE WHEN state = "
		    "'running' THEN 1 END) AS running, count(CASE WHEN health "
		    "= 'unhealthy' THEN 1 END) AS unhealthy, count(CASE WHEN "
		    "state = 'restarting' OR restarting THEN 1 END) AS "
		    "restarting FROM containers GROUP BY host) n ON n.host = "
		    "h.name ORDER BY h.name",
		    -1, &st_v8, NULL) ||
	    sqlite3_prepare_v2(dl_query_db(q),
			       DL_QUERY_HOSTS_COLS "ORDER BY h.name", -1,
			       &st_v9, NULL)) {
		fprintf(stderr, "bench_query: %s\n",
			sqlite3_errmsg(dl_query_db(q)));
		return 1;
	}
	printf("%-28s %9s %8s %8s %7s | %9s %8s %8s %7s | %9s %9s\n", "",
	       "json/s", "p50", "p99", "cpu", "text/s", "p50", "p99", "cpu",
	       "json B", "text B");
	if (!only_hosts) {
		row("ps --all (every row)", ps_json, ps_text, secs);
		row("ps --all --limit 1000", ps_json, ps_page, secs);
		row("stats (every container)", stats_json, stats_text, secs);
	}
	row("hosts", hosts_json, hosts_text, secs);
	printf("%-28s %9s %8s %8s %7s | %9s %8s %8s %7s\n", "", "v8 sql/s",
	       "p50", "p99", "cpu", "v9 sql/s", "p50", "p99", "cpu");
	row("hosts SQL only", sql_v8, sql_v9, secs);
	sqlite3_finalize(st_v8);
	sqlite3_finalize(st_v9);
	dl_query_close(q);
	return 0;
}
