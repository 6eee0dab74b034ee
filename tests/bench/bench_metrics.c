/* bench_metrics.c - the store's half of `dockline metrics` (the part that
 * grows with the fleet): 20 hosts x 1000 containers, 10 samples each,
 * ingested through the real store, then dl_metrics_store_text timed
 * (median and max of the runs). Goal: < 500 ms for 20 000 containers.
 *
 *   bench_metrics [runs]   (default 10) */
#include "collector/metrics.h"
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

#define HOSTS	20
#define PER	1000
#define SAMPLES 10
#define SEC	1000000000ull

static void fill_host(uv_loop_t *loop, dl_store_t *s, int h, dl_buf_t *b)
{
	static dl_container_t c[PER];
	static dl_sample_t v[PER];
	static char ids[PER][65], names[PER][32];
	char host[16];
	dl_msg_t m = {
		.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 1, .time_ns = 1};

	snprintf(host, sizeof(host), "host-%02d", h);
	dl_store_host_online(s, host, "p", "sw", NULL, 1);
	for (int i = 0; i < PER; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%08x%056d", h * PER + i, 0);
		snprintf(names[i], sizeof(names[i]), "app-%d", i);
		c[i] = (dl_container_t){.idx = (uint32_t)i + 1,
					.id = {ids[i], 64},
					.name = {names[i], strlen(names[i])},
					.image = DL_STR("registry/app:1.2.3"),
					.state = DL_STR("running"),
					.status = DL_STR("Up"),
					.health = DL_STR("healthy"),
					.created = 1};
	}
	m.u.inventory.n = PER;
	m.u.inventory.v = c;
	bench_submit_msg(loop, s, 1, host, &m, b);
	for (uint64_t k = 0; k < SAMPLES; k++) {
		dl_msg_t st = {.type = DL_MSG_STATS,
			       .epoch = 1,
			       .seq = 2 + k,
			       .time_ns = 1700000000 * SEC + k * 10 * SEC};

		for (int i = 0; i < PER; i++)
			v[i] = (dl_sample_t){
				.idx = (uint32_t)i + 1,
				.valid = DL_SV_CPU | DL_SV_MEM |
					 DL_SV_MEMLIMIT | DL_SV_NET |
					 DL_SV_BLK | DL_SV_PIDS,
				.cpu_ns = k * 3 * SEC + (uint64_t)i,
				.mem_usage = 100000000 + (uint64_t)i,
				.mem_limit = 1ull << 30,
				.net_rx_bytes = k * 1000,
				.net_tx_bytes = k * 500,
				.blk_read_bytes = k * 10,
				.blk_write_bytes = k * 20,
				.pids = 4};
		st.u.stats.system_cpu_ns = k * 10 * 4 * SEC;
		st.u.stats.online_cpus = 4;
		st.u.stats.n = PER;
		st.u.stats.v = v;
		bench_submit_msg(loop, s, 1, host, &st, b);
	}
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/dl-bench-metrics-XXXXXX";
	char path[128], err[512];
	int runs = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 10;
	double ms[1000];
	size_t bytes = 0;
	uv_loop_t loop;
	dl_store_t *s;
	dl_buf_t b;

	if (runs < 1 || runs > 1000 || !mkdtemp(dir))
		return 2;
	dl_log_set_level(DL_LOG_LEVEL_WARN);
	snprintf(path, sizeof(path), "%s/m.db", dir);
	uv_loop_init(&loop);
	if (!(s = dl_store_open(&loop, path, NULL, NULL, err, sizeof(err))))
		die(err);
	dl_buf_init(&b, 4u << 20);
	for (int h = 0; h < HOSTS; h++)
		fill_host(&loop, s, h, &b);
	bench_wait_idle(&loop, s, 1000);
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_buf_free(&b);
	for (int r = 0; r < runs; r++) {
		dl_buf_t out;
		uint64_t t0 = dl_clock_mono_ns();

		dl_buf_init(&out, DL_METRICS_MAX);
		if (dl_metrics_store_text(path, &out, err, sizeof(err)))
			die(err);
		ms[r] = (double)(dl_clock_mono_ns() - t0) / 1e6;
		bytes = dl_buf_used(&out);
		dl_buf_free(&out);
	}
	qsort(ms, (size_t)runs, sizeof(ms[0]), cmp);
	printf("metrics, %d containers: %zu bytes of text, median %.1f ms, "
	       "max %.1f ms (%d runs)\n",
	       HOSTS * PER, bytes, ms[runs / 2], ms[runs - 1], runs);
	return 0;
}
