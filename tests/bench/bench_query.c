/* bench_query.c - `ps --all`, `stats` and `hosts` answers built by the
 * json_t path (query.c + dl_admin_frame, what serve did) and by the text
 * path (query_text.c, what serve does now), one after the other on the
 * same read-only connection, same run. Prints per op: answers/s, p50 and
 * p99 (ms) of each path, the answer size, and the speed-up. Also times
 * the hosts query's counts alone: the two correlated counts per host it
 * had (containers, running) against the grouped pass it has now
 * (DL_QUERY_HOST_COUNTS: those two plus unhealthy and restarting).
 *
 *   bench_query DB [SECONDS per case]   (DB from bench_fleetdb) */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Runs fn for secs: answers/s, p50, p99 (ms), bytes of the last. */
static void measure(run_fn fn, double secs, double *rps, double *p50,
		    double *p99, size_t *bytes)
{
	uint64_t t0 = dl_clock_mono_ns(), end = t0 + (uint64_t)(secs * 1e9);
	size_t n = 0;

	fn(); /* warm the page cache and the statements */
	t0 = dl_clock_mono_ns();
	while (n < LAT_MAX) {
		uint64_t a = dl_clock_mono_ns();

		*bytes = fn();
		lat[n++] = dl_clock_mono_ns() - a;
		if (lat[n - 1] + a >= end)
			break;
	}
	*rps = (double)n / ((double)(dl_clock_mono_ns() - t0) / 1e9);
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

/* The hosts query's counts alone: 2 correlated (before) or 4 grouped. */
static sqlite3_stmt *st_corr, *st_group;

static size_t step_all(sqlite3_stmt *st)
{
	size_t n = 0;

	while (sqlite3_step(st) == SQLITE_ROW)
		n += (size_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	return n;
}

static size_t counts_corr(void)
{
	return step_all(st_corr);
}

static size_t counts_group(void)
{
	return step_all(st_group);
}

static void row(const char *what, run_fn a, run_fn b, double secs)
{
	double r1, p50a, p99a, r2, p50b, p99b;
	size_t s1 = 0, s2 = 0;

	measure(a, secs, &r1, &p50a, &p99a, &s1);
	measure(b, secs, &r2, &p50b, &p99b, &s2);
	printf("%-28s %9.1f %8.2f %8.2f | %9.1f %8.2f %8.2f | %9zu %9zu  "
	       "x%.1f\n",
	       what, r1, p50a, p99a, r2, p50b, p99b, s1, s2, r2 / r1);
}

int main(int argc, char **argv)
{
	double secs = argc > 2 ? atof(argv[2]) : 3;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_query DB [SECONDS]\n");
		return 2;
	}
	if (!(q = dl_query_open(argv[1], err, sizeof(err)))) {
		fprintf(stderr, "bench_query: %s\n", err);
		return 1;
	}
	if (sqlite3_prepare_v2(
		    dl_query_db(q),
		    "SELECT h.name, (SELECT count(*) FROM containers c WHERE "
		    "c.host = h.name), (SELECT count(*) FROM containers c "
		    "WHERE c.host = h.name AND c.state = 'running') FROM hosts "
		    "h ORDER BY h.name",
		    -1, &st_corr, NULL) ||
	    sqlite3_prepare_v2(
		    dl_query_db(q),
		    "SELECT h.name, ifnull(n.total, 0), ifnull(n.running, 0), "
		    "ifnull(n.unhealthy, 0), ifnull(n.restarting, 0) FROM "
		    "hosts h LEFT JOIN (" DL_QUERY_HOST_COUNTS(
			    "1") ") n ON n.host = h.name ORDER BY h.name",
		    -1, &st_group, NULL)) {
		fprintf(stderr, "bench_query: %s\n",
			sqlite3_errmsg(dl_query_db(q)));
		return 1;
	}
	printf("%-28s %9s %8s %8s | %9s %8s %8s | %9s %9s\n", "", "json/s",
	       "p50", "p99", "text/s", "p50", "p99", "json B", "text B");
	row("ps --all (every row)", ps_json, ps_text, secs);
	row("ps --all --limit 1000", ps_json, ps_page, secs);
	row("stats (every container)", stats_json, stats_text, secs);
	row("hosts", hosts_json, hosts_text, secs);
	printf("%-28s %9s %8s %8s | %9s %8s %8s\n", "", "corr2/s", "p50", "p99",
	       "group4/s", "p50", "p99");
	row("hosts counts only", counts_corr, counts_group, secs);
	sqlite3_finalize(st_corr);
	sqlite3_finalize(st_group);
	dl_query_close(q);
	return 0;
}
