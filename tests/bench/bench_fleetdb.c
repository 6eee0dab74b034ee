/* bench_fleetdb.c - a fleet database for the gateway benchmarks
 * (bench_http.sh), filled through the real store API like
 * bench_history's: HOSTS hosts, each online with an inventory of PER
 * containers (3 of 4 running, the rest exited, so `ps` and `ps --all`
 * differ), SAMPLES container samples and as many host samples, 10 s
 * apart and ending now. With DAYS, the first host and its first
 * container (host-0000, app-0) have DAYS days of samples before those,
 * 10 s apart like an agent's, and retention then runs as configured by
 * default (raw 48 h, minute 30 d, hour 365 d), so what is left is what
 * the store keeps after DAYS days (bench_web's 30-day chart). Prints
 * nothing but errors; times nothing.
 *
 *   bench_fleetdb PATH HOSTS PER SAMPLES [DAYS] */
#include "collector/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_feed.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "proto/msg.h"

#define SEC	1000000000ull
#define PER_MAX 1000

static void inventory(uv_loop_t *loop, dl_store_t *s, const char *host, int h,
		      int per, dl_buf_t *b)
{
	static dl_container_t c[PER_MAX];
	static char ids[PER_MAX][65], names[PER_MAX][32];
	dl_msg_t m = {
		.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 1, .time_ns = 1};

	for (int i = 0; i < per; i++) {
		bool up = i % 4 != 3;

		snprintf(ids[i], sizeof(ids[i]), "%08x%056d", h * per + i, 0);
		snprintf(names[i], sizeof(names[i]), "app-%d", i);
		c[i] = (dl_container_t){
			.idx = (uint32_t)i + 1,
			.id = {ids[i], 64},
			.name = {names[i], strlen(names[i])},
			.image = DL_STR("registry.example/app:1.2.3"),
			.state = up ? DL_STR("running") : DL_STR("exited"),
			.status = up ? DL_STR("Up 3 hours")
				     : DL_STR("Exited (0) 2 hours ago"),
			.health = up ? DL_STR("healthy") : DL_STR(""),
			.created = 1700000000};
	}
	m.u.inventory.n = (uint32_t)per;
	m.u.inventory.v = c;
	bench_submit_msg(loop, s, 1, host, &m, b);
}

/* Samples k = first .. total - 1 of total, 10 s apart, the last one
 * ending now; counters grow with k, so a host's samples may be sent in
 * two calls (history, then the last hour) without a reset between. */
static void samples(uv_loop_t *loop, dl_store_t *s, const char *host, int per,
		    uint64_t first, uint64_t total, uint64_t now, uint64_t *seq,
		    dl_buf_t *b)
{
	static dl_sample_t v[PER_MAX];

	for (uint64_t k = first; k < total; k++) {
		uint64_t t = now - (total - k) * 10 * SEC;
		dl_msg_t st = {.type = DL_MSG_STATS,
			       .epoch = 1,
			       .seq = (*seq)++,
			       .time_ns = t};
		dl_msg_t hs = {.type = DL_MSG_HOSTSTATS,
			       .epoch = 1,
			       .seq = (*seq)++,
			       .time_ns = t};
		uint32_t n = 0;

		for (int i = 0; i < per; i++) {
			if (i % 4 == 3)
				continue; /* exited: no samples */
			v[n++] = (dl_sample_t){
				.idx = (uint32_t)i + 1,
				.valid = DL_SV_CPU | DL_SV_MEM |
					 DL_SV_MEMLIMIT | DL_SV_NET |
					 DL_SV_BLK | DL_SV_PIDS,
				.cpu_ns = k * 3 * SEC + (uint64_t)i,
				.mem_usage = 100000000 + (uint64_t)i * 4096,
				.mem_limit = 1ull << 30,
				.net_rx_bytes = k * 1000,
				.net_tx_bytes = k * 500,
				.blk_read_bytes = k * 10,
				.blk_write_bytes = k * 20,
				.pids = 4};
		}
		st.u.stats.system_cpu_ns = k * 10 * 4 * SEC;
		st.u.stats.online_cpus = 4;
		st.u.stats.n = n;
		st.u.stats.v = v;
		bench_submit_msg(loop, s, 1, host, &st, b);
		hs.u.hoststats.cpu_total_ns = k * 10 * 4 * SEC;
		hs.u.hoststats.cpu_idle_ns = k * 10 * 3 * SEC;
		hs.u.hoststats.online_cpus = 4;
		hs.u.hoststats.mem_total = 8ull << 30;
		hs.u.hoststats.mem_used = 2ull << 30;
		hs.u.hoststats.mem_available = 6ull << 30;
		hs.u.hoststats.load1_x100 = 42;
		hs.u.hoststats.disk_used = 10ull << 30;
		hs.u.hoststats.disk_total = 100ull << 30;
		hs.u.hoststats.net_rx_bytes = k * 4000;
		hs.u.hoststats.net_tx_bytes = k * 2000;
		bench_submit_msg(loop, s, 1, host, &hs, b);
		if (k % 1000 == 0)
			uv_run(loop, UV_RUN_NOWAIT);
	}
}

int main(int argc, char **argv)
{
	int64_t hosts, per, nsamples, days = 0;
	uint64_t now = dl_clock_wall_ns();
	char err[512], host[32];
	uv_loop_t loop;
	dl_store_t *s;
	dl_buf_t b;

	if (argc < 5 || argc > 6 || dl_parse_int(argv[2], 1, 100000, &hosts) ||
	    dl_parse_int(argv[3], 1, PER_MAX, &per) ||
	    dl_parse_int(argv[4], 0, 1000, &nsamples) ||
	    (argc == 6 && dl_parse_int(argv[5], 0, 365, &days))) {
		fprintf(stderr, "usage: %s PATH HOSTS PER SAMPLES [DAYS]\n",
			argv[0]);
		return 2;
	}
	dl_log_set_level(DL_LOG_LEVEL_WARN);
	uv_loop_init(&loop);
	if (!(s = dl_store_open(&loop, argv[1], NULL, NULL, err, sizeof(err))))
		die(err);
	dl_buf_init(&b, 4u << 20);
	for (int h = 0; h < (int)hosts; h++) {
		snprintf(host, sizeof(host), "host-%04d", h);
		dl_store_host_online(s, host, "127.0.0.1", "dockline-agent",
				     "read, lifecycle", now - 3600 * SEC);
		uint64_t seq = 2, total = (uint64_t)nsamples, hist = 0;

		inventory(&loop, s, host, h, (int)per, &b);
		if (h == 0 && days) {
			/* app-0 alone (idx 1), then the last hour for all */
			hist = (uint64_t)days * 8640;
			total += hist;
			samples(&loop, s, host, 1, 0, hist,
				now - nsamples * 10 * SEC, &seq, &b);
		}
		samples(&loop, s, host, (int)per, hist, total, now, &seq, &b);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	bench_wait_idle(&loop, s, 1000);
	if (days) {
		/* retention as configured by default; its first step runs
		 * now, and the store's loop needs a moment for it */
		dl_store_set_retention(s, 48 * 3600, 30 * 86400, 365 * 86400,
				       0);
		sleep(3);
	}
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_buf_free(&b);
	return 0;
}
