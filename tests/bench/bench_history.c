/* bench_history.c - `dockline history` latency at the query boundary:
 * dl_query_resolve + dl_query_history + json_dumps of the answer (what
 * the admin socket sends), measured directly through query.c, without
 * the socket round trip; then the text path the admin socket uses
 * (dl_query_history_text into a fresh buffer, no json_t), checked to be
 * the same document. The data goes in through the real store: one
 * container sampled every 10 s for 30 days (raw beyond 48 h is deleted
 * by retention as in production; minute and hour rollups stay).
 *
 *   bench_history [runs]   (default 50; prints median and p95) */
#include "collector/query.h"
#include "collector/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define SEC    1000000000ll
#define DAYS   30
#define STEP_S 10

static void die(const char *what)
{
	fprintf(stderr, "bench_history: %s\n", what);
	exit(1);
}

static void submit(uv_loop_t *loop, dl_store_t *s, const dl_msg_t *m,
		   dl_buf_t *b)
{
	dl_buf_reset(b);
	if (dl_msg_encode(b, m))
		die("encode");
	while (dl_store_submit(s, 1, "app-01", dl_buf_head(b) + DL_FRAME_HDR,
			       dl_buf_used(b) - DL_FRAME_HDR) == DL_EFULL)
		uv_run(loop, UV_RUN_ONCE);
}

static void fill(const char *path, int64_t now)
{
	dl_container_t c = {.idx = 1,
			    .id = DL_STR("4f66ad9a0b2e8c2f4a1b3f2c1d0e9f8a7b6c"
					 "5d4e3f2a1b0c9d8e7f6a5b4c3d2e"),
			    .name = DL_STR("web"),
			    .image = DL_STR("nginx"),
			    .state = DL_STR("running"),
			    .status = DL_STR("Up"),
			    .health = DL_STR(""),
			    .created = 1};
	dl_msg_t m = {
		.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 1, .time_ns = 1};
	int64_t n = (int64_t)DAYS * 86400 / STEP_S;
	char err[256];
	uv_loop_t loop;
	dl_store_t *s;
	dl_buf_t b;

	uv_loop_init(&loop);
	if (!(s = dl_store_open(&loop, path, NULL, NULL, err, sizeof(err))))
		die(err);
	dl_buf_init(&b, 1u << 20);
	dl_store_host_online(s, "app-01", "p", "sw", NULL, 1);
	m.u.inventory.n = 1;
	m.u.inventory.v = &c;
	submit(&loop, s, &m, &b);
	for (int64_t i = 0; i < n; i++) {
		dl_sample_t v = {
			.idx = 1,
			.valid = DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT |
				 DL_SV_NET | DL_SV_BLK | DL_SV_PIDS,
			/* cumulative: ~20% of 4 CPUs, wobbling */
			.cpu_ns = (uint64_t)i * 8 * (uint64_t)SEC +
				  (uint64_t)(i % 7) * (uint64_t)SEC,
			.mem_usage = 100000000 + (uint64_t)(i % 360) * 100000,
			.mem_limit = 1ull << 30,
			.net_rx_bytes = (uint64_t)i * 1000,
			.net_tx_bytes = (uint64_t)i * 500,
			.blk_read_bytes = (uint64_t)i * 10,
			.blk_write_bytes = (uint64_t)i * 20,
			.pids = 4};
		dl_msg_t st = {
			.type = DL_MSG_STATS,
			.epoch = 1,
			.seq = 2 + (uint64_t)i,
			.time_ns = (uint64_t)(now - (n - i) * STEP_S * SEC)};

		st.u.stats.system_cpu_ns = (uint64_t)i * STEP_S * 4 * SEC;
		st.u.stats.online_cpus = 4;
		st.u.stats.n = 1;
		st.u.stats.v = &v;
		submit(&loop, s, &st, &b);
		if (i % 1000 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	while (dl_store_pending(s)) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	/* retention as configured by default: raw older than 48 h goes */
	dl_store_set_retention(s, 48 * 3600, 30 * 86400, 365 * 86400);
	sleep(3);
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_buf_free(&b);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void measure(dl_query_t *q, const char *label, int64_t now,
		    int64_t span_s, int tier, int points, int runs)
{
	double *ms = calloc((size_t)runs, sizeof(double));
	size_t rows = 0, bytes = 0;
	char err[512];

	if (!ms)
		die("out of memory");
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = dl_clock_mono_ns();
		json_t *a =
			dl_query_history(q, "app-01", "web", now - span_s * SEC,
					 now, tier, points, err, sizeof(err));
		char *txt;

		if (!a)
			die(err);
		txt = json_dumps(a, JSON_COMPACT);
		ms[r] = (double)(dl_clock_mono_ns() - t0) / 1e6;
		rows = json_array_size(a);
		bytes = txt ? strlen(txt) : 0;
		free(txt);
		json_decref(a);
	}
	qsort(ms, (size_t)runs, sizeof(double), cmp);
	printf("%-26s %8zu %10zu %10.2f %10.2f\n", label, rows, bytes,
	       ms[runs / 2], ms[(runs * 95) / 100]);
	free(ms);
}

/* The admin socket's path: rows written as JSON text into a new buffer
 * per request (growth included). The first run is parsed back and must
 * json_equal the json_t path's answer. */
static void measure_text(dl_query_t *q, const char *label, int64_t now,
			 int64_t span_s, int tier, int points, int runs)
{
	double *ms = calloc((size_t)runs, sizeof(double));
	size_t rows = 0, bytes = 0;
	char err[512];

	if (!ms)
		die("out of memory");
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = dl_clock_mono_ns();
		dl_buf_t b;

		dl_buf_init(&b, 64u << 20);
		if (dl_query_history_text(q, "app-01", "web",
					  now - span_s * SEC, now, tier, points,
					  &b, &rows, err, sizeof(err)))
			die(err);
		ms[r] = (double)(dl_clock_mono_ns() - t0) / 1e6;
		bytes = dl_buf_used(&b);
		if (r == 0) {
			json_t *a = dl_query_history(
				q, "app-01", "web", now - span_s * SEC, now,
				tier, points, err, sizeof(err));
			json_t *t = json_loadb((const char *)dl_buf_head(&b),
					       bytes, 0, NULL);

			if (!a || !t || !json_equal(a, t))
				die("text path differs from the json_t path");
			json_decref(a);
			json_decref(t);
		}
		dl_buf_free(&b);
	}
	qsort(ms, (size_t)runs, sizeof(double), cmp);
	printf("%-26s %8zu %10zu %10.2f %10.2f\n", label, rows, bytes,
	       ms[runs / 2], ms[(runs * 95) / 100]);
	free(ms);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/dl-bench-history-XXXXXX";
	char path[128], cmd[160], err[512];
	int runs = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 50;
	int64_t now = (int64_t)dl_clock_wall_ns();
	dl_query_t *q;

	if (runs < 1 || runs > 100000 || !mkdtemp(dir))
		return 2;
	dl_log_set_level(DL_LOG_LEVEL_WARN);
	snprintf(path, sizeof(path), "%s/h.db", dir);
	fill(path, now);
	if (!(q = dl_query_open(path, err, sizeof(err))))
		die(err);
	printf("%-26s %8s %10s %10s %10s\n", "query (via query.c)", "rows",
	       "json B", "median ms", "p95 ms");
	/* --json: every row; the chart: 60 points averaged in SQL */
	measure(q, "24h raw, all (--json)", now, 86400, DL_TIER_RAW, 0, runs);
	measure(q, "24h raw -> 60 pts (chart)", now, 86400, DL_TIER_RAW, 60,
		runs);
	measure(q, "6h raw, all", now, 6 * 3600, DL_TIER_RAW, 0, runs);
	measure(q, "24h minute, all (CLI tier)", now, 86400, DL_TIER_MINUTE, 0,
		runs);
	measure(q, "24h minute -> 60 pts", now, 86400, DL_TIER_MINUTE, 60,
		runs);
	measure(q, "7d minute -> 60 pts", now, 7 * 86400, DL_TIER_MINUTE, 60,
		runs);
	measure(q, "30d hour, all (--json)", now, 30 * 86400, DL_TIER_HOUR, 0,
		runs);
	measure(q, "30d hour -> 60 pts (chart)", now, 30 * 86400, DL_TIER_HOUR,
		60, runs);
	printf("\n%-26s %8s %10s %10s %10s\n", "text path (admin socket)",
	       "rows", "json B", "median ms", "p95 ms");
	measure_text(q, "24h raw, all (--json)", now, 86400, DL_TIER_RAW, 0,
		     runs);
	measure_text(q, "24h raw -> 60 pts (chart)", now, 86400, DL_TIER_RAW,
		     60, runs);
	measure_text(q, "6h raw, all", now, 6 * 3600, DL_TIER_RAW, 0, runs);
	measure_text(q, "24h minute, all (CLI tier)", now, 86400,
		     DL_TIER_MINUTE, 0, runs);
	measure_text(q, "24h minute -> 60 pts", now, 86400, DL_TIER_MINUTE, 60,
		     runs);
	measure_text(q, "7d minute -> 60 pts", now, 7 * 86400, DL_TIER_MINUTE,
		     60, runs);
	measure_text(q, "30d hour, all (--json)", now, 30 * 86400, DL_TIER_HOUR,
		     0, runs);
	measure_text(q, "30d hour -> 60 pts (chart)", now, 30 * 86400,
		     DL_TIER_HOUR, 60, runs);
	dl_query_close(q);
	if (getenv("DL_BENCH_KEEP")) {
		printf("kept %s\n", path);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
