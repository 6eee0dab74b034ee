/* bench_history.c - `dockline history` latency at the query boundary:
 * the text path the admin socket uses (dl_query_history_text into a
 * fresh buffer), measured directly through history.c, without the socket
 * round trip. Baseline in the same run: every row of a tier (--json).
 * Then charts (60 and 500 points over 1 h ... 30 d, container and host)
 * with the tier dl_query_tier_points picks, downsampled in one pass. The
 * data goes in through the real store: one container and its host
 * sampled every 10 s for 30 days (raw beyond 48 h is deleted by
 * retention as in production; minute and hour rollups stay).
 *
 *   bench_history [runs]   (default 50; prints median and p95) */
#include "collector/query.h"
#include "collector/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_feed.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "proto/msg.h"

#define SEC    1000000000ll
#define DAYS   30
#define STEP_S 10

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
	bench_submit_msg(&loop, s, 1, "app-01", &m, &b);
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
			.seq = 2 + 2 * (uint64_t)i,
			.time_ns = (uint64_t)(now - (n - i) * STEP_S * SEC)};

		dl_msg_t hs = {.type = DL_MSG_HOSTSTATS,
			       .epoch = 1,
			       .seq = 3 + 2 * (uint64_t)i,
			       .time_ns = st.time_ns};

		st.u.stats.system_cpu_ns = (uint64_t)i * STEP_S * 4 * SEC;
		st.u.stats.online_cpus = 4;
		st.u.stats.n = 1;
		st.u.stats.v = &v;
		bench_submit_msg(&loop, s, 1, "app-01", &st, &b);
		hs.u.hoststats.cpu_total_ns = (uint64_t)i * STEP_S * 4 * SEC;
		hs.u.hoststats.cpu_idle_ns = (uint64_t)i * STEP_S * 3 * SEC;
		hs.u.hoststats.online_cpus = 4;
		hs.u.hoststats.mem_total = 8ull << 30;
		hs.u.hoststats.mem_used = (2ull << 30) + (uint64_t)(i % 60);
		hs.u.hoststats.mem_available = 6ull << 30;
		hs.u.hoststats.load1_x100 = (uint32_t)(i % 400);
		hs.u.hoststats.disk_used = 10ull << 30;
		hs.u.hoststats.disk_total = 100ull << 30;
		hs.u.hoststats.net_rx_bytes = (uint64_t)i * 4000;
		hs.u.hoststats.net_tx_bytes = (uint64_t)i * 2000;
		bench_submit_msg(&loop, s, 1, "app-01", &hs, &b);
		if (i % 1000 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	bench_wait_idle(&loop, s, 1000);
	/* retention as configured by default: raw older than 48 h goes */
	dl_store_set_retention(s, 48 * 3600, 30 * 86400, 365 * 86400, 0);
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

/* The admin socket's path: rows written as JSON text into a new buffer
 * per request (growth included). ctr NULL: the host's own series. tier
 * -1: the one dl_query_tier_points picks. */
static void measure(dl_query_t *q, const char *label, const char *ctr,
		    int64_t now, int64_t span_s, int tier, int points, int runs)
{
	static const char *const tier_name[] = {"raw", "minute", "hour"};
	double *ms = calloc((size_t)runs, sizeof(double));
	size_t rows = 0, bytes = 0;
	char err[512];

	if (!ms)
		die("out of memory");
	if (tier < 0)
		tier = dl_query_tier_points(span_s, points);
	for (int r = 0; r < runs; r++) {
		uint64_t t0 = dl_clock_mono_ns();
		dl_buf_t b;

		dl_buf_init(&b, 64u << 20);
		if (dl_query_history_text(q, "app-01", ctr, now - span_s * SEC,
					  now, tier, points, &b, &rows, err,
					  sizeof(err)))
			die(err);
		ms[r] = (double)(dl_clock_mono_ns() - t0) / 1e6;
		bytes = dl_buf_used(&b);
		dl_buf_free(&b);
	}
	qsort(ms, (size_t)runs, sizeof(double), cmp);
	printf("%-28s %-7s %7zu %10zu %10.2f %10.2f\n", label, tier_name[tier],
	       rows, bytes, ms[runs / 2], ms[(runs * 95) / 100]);
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
	printf("%-28s %-7s %7s %10s %10s %10s\n", "every row (baseline)",
	       "tier", "rows", "json B", "median ms", "p95 ms");
	measure(q, "24h raw, all (--json)", "web", now, 86400, DL_TIER_RAW, 0,
		runs);
	measure(q, "6h raw, all", "web", now, 6 * 3600, DL_TIER_RAW, 0, runs);
	measure(q, "24h minute, all", "web", now, 86400, DL_TIER_MINUTE, 0,
		runs);
	measure(q, "7d minute, all (--json)", "web", now, 7 * 86400,
		DL_TIER_MINUTE, 0, runs);
	measure(q, "30d hour, all (--json)", "web", now, 30 * 86400,
		DL_TIER_HOUR, 0, runs);
	printf("\n%-28s %-7s %7s %10s %10s %10s\n", "chart (tier by points)",
	       "tier", "rows", "json B", "median ms", "p95 ms");
	{
		static const struct {
			const char *label;
			int64_t span_s;
		} spans[] = {{"1h", 3600},
			     {"6h", 6 * 3600},
			     {"24h", 86400},
			     {"7d", 7 * 86400},
			     {"30d", 30 * 86400}};
		static const int pts[] = {60, 500};
		char label[64];

		for (int who = 0; who < 2; who++)
			for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]);
			     i++)
				for (int p = 0; p < 2; p++) {
					snprintf(label, sizeof(label),
						 "%s %s -> %d pts",
						 who ? "host" : "container",
						 spans[i].label, pts[p]);
					measure(q, label, who ? NULL : "web",
						now, spans[i].span_s, -1,
						pts[p], runs);
				}
	}
	/* the same chart read from the tier `every row` would use */
	printf("\n%-28s %-7s %7s %10s %10s %10s\n",
	       "chart from the --json tier", "tier", "rows", "json B",
	       "median ms", "p95 ms");
	measure(q, "container 24h -> 60 pts", "web", now, 86400, DL_TIER_RAW,
		60, runs);
	measure(q, "container 7d -> 60 pts", "web", now, 7 * 86400,
		DL_TIER_MINUTE, 60, runs);
	dl_query_close(q);
	if (getenv("DL_BENCH_KEEP")) {
		printf("kept %s\n", path);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
