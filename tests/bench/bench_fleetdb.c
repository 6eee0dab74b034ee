/* bench_fleetdb.c - a fleet database for the web page benchmark
 * (bench_web.sh): N hosts with M containers each, an hour of host stats
 * and ten minutes of container stats, through the real store (as the
 * agents' frames would arrive). Every tenth host is left offline.
 *
 *   bench_fleetdb DB [hosts=200] [containers per host=20] */
#include "collector/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define SEC   1000000000ll
#define CMAX  100
#define HSTEP 60 /* s between host samples: an hour is 60 */

static void die(const char *what)
{
	fprintf(stderr, "bench_fleetdb: %s\n", what);
	exit(1);
}

static void submit(uv_loop_t *loop, dl_store_t *s, const char *host,
		   const dl_msg_t *m, dl_buf_t *b)
{
	dl_buf_reset(b);
	if (dl_msg_encode(b, m))
		die("encode");
	while (dl_store_submit(s, 1, host, dl_buf_head(b) + DL_FRAME_HDR,
			       dl_buf_used(b) - DL_FRAME_HDR) == DL_EFULL)
		uv_run(loop, UV_RUN_ONCE);
}

static void one_host(uv_loop_t *loop, dl_store_t *s, dl_buf_t *b, int h, int nc,
		     int64_t now)
{
	static char ids[CMAX][65], names[CMAX][32];
	dl_container_t c[CMAX];
	dl_sample_t v[CMAX];
	char host[32];
	uint64_t seq = 1;
	dl_msg_t m = {.type = DL_MSG_INVENTORY, .epoch = 1, .time_ns = 1};

	snprintf(host, sizeof(host), "host-%03d", h);
	dl_store_host_online(s, host, "bench", "dockline-agent bench",
			     "read, lifecycle", (uint64_t)now);
	for (int i = 0; i < nc; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%08x%056d", h * CMAX + i, 0);
		snprintf(names[i], sizeof(names[i]), "app-%02d", i);
		c[i] = (dl_container_t){
			.idx = (uint32_t)i + 1,
			.id = DL_STR(ids[i]),
			.name = DL_STR(names[i]),
			.image = DL_STR("nginx:1.25"),
			.state = DL_STR(i % 10 == 9 ? "exited" : "running"),
			.status = DL_STR("Up"),
			.health = DL_STR(""),
			.created = 1};
	}
	m.seq = seq++;
	m.u.inventory.n = (uint32_t)nc;
	m.u.inventory.v = c;
	submit(loop, s, host, &m, b);
	for (int64_t i = 0; i <= 3600 / HSTEP; i++) {
		uint64_t t = (uint64_t)(now - (3600 / HSTEP - i) * HSTEP * SEC);
		dl_msg_t hs = {.type = DL_MSG_HOSTSTATS,
			       .epoch = 1,
			       .seq = seq++,
			       .time_ns = t};

		hs.u.hoststats.cpu_total_ns = (uint64_t)i * HSTEP * 4 * SEC;
		hs.u.hoststats.cpu_idle_ns =
			(uint64_t)i * HSTEP * (2 + (uint64_t)(h + i) % 2) * SEC;
		hs.u.hoststats.online_cpus = 4;
		hs.u.hoststats.mem_total = 16ull << 30;
		hs.u.hoststats.mem_used = (4ull << 30) + (uint64_t)h * 1000000;
		hs.u.hoststats.mem_available = 12ull << 30;
		hs.u.hoststats.load1_x100 = (uint32_t)(h * 7 % 400);
		hs.u.hoststats.disk_used = 40ull << 30;
		hs.u.hoststats.disk_total = 100ull << 30;
		hs.u.hoststats.net_rx_bytes = (uint64_t)i * 400000;
		hs.u.hoststats.net_tx_bytes = (uint64_t)i * 200000;
		submit(loop, s, host, &hs, b);
		if (i < 50)
			continue;
		/* the last ten minutes: container stats too */
		for (int k = 0; k < nc; k++)
			v[k] = (dl_sample_t){
				.idx = (uint32_t)k + 1,
				.valid = DL_SV_CPU | DL_SV_MEM | DL_SV_NET |
					 DL_SV_BLK | DL_SV_PIDS,
				.cpu_ns = (uint64_t)i * (uint64_t)(k + 1) * SEC,
				.mem_usage = 50000000 + (uint64_t)k * 1000000,
				.net_rx_bytes = (uint64_t)i * 1000,
				.net_tx_bytes = (uint64_t)i * 500,
				.pids = 3};
		dl_msg_t st = {.type = DL_MSG_STATS,
			       .epoch = 1,
			       .seq = seq++,
			       .time_ns = t};
		st.u.stats.system_cpu_ns = (uint64_t)i * HSTEP * 4 * SEC;
		st.u.stats.online_cpus = 4;
		st.u.stats.n = (uint32_t)nc;
		st.u.stats.v = v;
		submit(loop, s, host, &st, b);
	}
	if (h % 10 == 5)
		dl_store_host_offline(s, host, (uint64_t)now);
}

int main(int argc, char **argv)
{
	int64_t hosts = 200, nc = 20;
	int64_t now = (int64_t)dl_clock_wall_ns();
	char err[256];
	uv_loop_t loop;
	dl_store_t *s;
	dl_buf_t b;

	if (argc < 2 || (argc > 2 && dl_parse_int(argv[2], 1, 10000, &hosts)) ||
	    (argc > 3 && dl_parse_int(argv[3], 1, CMAX, &nc)))
		die("usage: bench_fleetdb DB [hosts] [containers per host]");
	uv_loop_init(&loop);
	if (!(s = dl_store_open(&loop, argv[1], NULL, NULL, err, sizeof(err))))
		die(err);
	dl_buf_init(&b, 1u << 22);
	for (int h = 0; h < hosts; h++) {
		one_host(&loop, s, &b, h, (int)nc, now);
		uv_run(&loop, UV_RUN_NOWAIT);
	}
	while (dl_store_pending(s)) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_buf_free(&b);
	printf("%s: %lld hosts, %lld containers\n", argv[1], (long long)hosts,
	       (long long)(hosts * nc));
	return 0;
}
