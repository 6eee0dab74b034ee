/* bench_backfill_gen.c - writes what an agent spools while its collector
 * is away, for tests/bench/bench_backfill.sh: one INVENTORY naming
 * CONTAINERS containers, then HOURS of a STATS batch of all of them and a
 * HOSTSTATS every INTERVAL s, ending a minute ago, into STATE_DIR's spool
 * through the spool's own writer API (dl_spool_open, take_seq, append),
 * encoded by dl_msg_encode as the agent does. An agent started on that
 * state dir continues the epoch and backfills all of it.
 *
 *   bench_backfill_gen STATE_DIR [HOURS=24] [CONTAINERS=100] [INTERVAL_S=10]
 *
 * Prints one line: frames bytes samples first_ns last_ns. */
#include <stdio.h>
#include <stdlib.h>

#include "agent/spool.h"
#include "common/clock.h"
#include "common/err.h"
#include "proto/msg.h"

#define MAX_C 1000

static dl_container_t cs[MAX_C];
static char ids[MAX_C][65], names[MAX_C][32];
static dl_sample_t sv[MAX_C];

static long arg(int argc, char **argv, int i, long def, long lo, long hi)
{
	char *end;
	long v;

	if (argc <= i)
		return def;
	v = strtol(argv[i], &end, 10);
	if (*end || v < lo || v > hi) {
		fprintf(stderr, "bench_backfill_gen: argument %d: %ld..%ld\n",
			i, lo, hi);
		exit(2);
	}
	return v;
}

static int put(dl_spool_t *sp, dl_msg_t *m, dl_outbox_class_t cls,
	       uint64_t *frames, uint64_t *bytes)
{
	dl_buf_t b;
	int rc;

	m->epoch = dl_spool_epoch(sp);
	dl_spool_take_seq(sp, &m->seq);
	dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
	rc = dl_msg_encode(&b, m);
	if (rc == 0)
		rc = dl_spool_append(sp, m->seq, cls, dl_buf_head(&b),
				     dl_buf_used(&b));
	if (rc == 0) {
		(*frames)++;
		*bytes += dl_buf_used(&b);
	}
	dl_buf_free(&b);
	return rc;
}

int main(int argc, char **argv)
{
	long hours = arg(argc, argv, 2, 24, 1, 24 * 30);
	long nc = arg(argc, argv, 3, 100, 1, MAX_C);
	long iv = arg(argc, argv, 4, 10, 1, 3600);
	uint64_t now = dl_clock_wall_ns(), step = (uint64_t)iv * 1000000000ull;
	uint64_t last = now - 60000000000ull;
	uint64_t first = last - (uint64_t)hours * 3600000000000ull;
	uint64_t frames = 0, bytes = 0, samples = 0, sys = 1000000000000ull;
	dl_spool_opts_t o = {.sync = DL_SPOOL_SYNC_OFF, .new_epoch = now};
	dl_msg_t m = {.type = DL_MSG_INVENTORY};
	dl_spool_t *sp;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_backfill_gen STATE_DIR [HOURS] "
				"[CONTAINERS] [INTERVAL_S]\n");
		return 2;
	}
	o.state_dir = argv[1];
	if (dl_spool_open(&o, &sp) != 0)
		return 1;
	for (long i = 0; i < nc; i++) {
		snprintf(ids[i], sizeof(ids[i]), "bf%062lx", i);
		snprintf(names[i], sizeof(names[i]), "bf-%03ld", i);
		cs[i] = (dl_container_t){
			.idx = (uint32_t)i,
			.id = DL_STR(ids[i]),
			.name = DL_STR(names[i]),
			.image = DL_STR("app:1"),
			.state = DL_STR("running"),
			.status = DL_STR("Up 2 days"),
			.health = DL_STR(""),
			.created = (int64_t)(first / 1000000000u)};
		sv[i] = (dl_sample_t){.idx = (uint32_t)i,
				      .valid = 63,
				      .mem_limit = 512u << 20,
				      .pids = 4};
	}
	m.time_ns = first - step;
	m.u.inventory.n = (uint32_t)nc;
	m.u.inventory.v = cs;
	if ((rc = put(sp, &m, DL_OUTBOX_KEEP, &frames, &bytes)))
		goto fail;
	for (uint64_t t = first; t <= last; t += step) {
		dl_msg_t st = {.type = DL_MSG_STATS, .time_ns = t};
		dl_msg_t hs = {.type = DL_MSG_HOSTSTATS, .time_ns = t};

		sys += 2 * step;
		for (long i = 0; i < nc; i++) {
			sv[i].cpu_ns +=
				10000000u + (uint64_t)(i * 7919 % 5000000);
			sv[i].mem_usage = (64u << 20) + (uint64_t)(i << 16);
			sv[i].net_rx_bytes += 4096 + (uint64_t)i;
			sv[i].net_tx_bytes += 2048;
			sv[i].net_rx_packets += 8;
			sv[i].net_tx_packets += 4;
			sv[i].blk_write_bytes += 8192;
		}
		st.u.stats.system_cpu_ns = sys;
		st.u.stats.online_cpus = 2;
		st.u.stats.n = (uint32_t)nc;
		st.u.stats.v = sv;
		hs.u.hoststats = (dl_hoststats_t){.cpu_total_ns = sys,
						  .cpu_idle_ns = sys / 2,
						  .online_cpus = 2,
						  .mem_total = 8ull << 30,
						  .mem_used = 3ull << 30,
						  .mem_available = 5ull << 30,
						  .load1_x100 = 50,
						  .disk_used = 10ull << 30,
						  .disk_total = 100ull << 30};
		if ((rc = put(sp, &st, DL_OUTBOX_STATS, &frames, &bytes)) ||
		    (rc = put(sp, &hs, DL_OUTBOX_STATS, &frames, &bytes)))
			goto fail;
		samples += (uint64_t)nc;
	}
	dl_spool_free(sp);
	printf("%llu %llu %llu %llu %llu\n", (unsigned long long)frames,
	       (unsigned long long)bytes, (unsigned long long)samples,
	       (unsigned long long)first, (unsigned long long)last);
	return 0;
fail:
	fprintf(stderr, "bench_backfill_gen: %s after %llu frames\n",
		dl_strerror(rc), (unsigned long long)frames);
	dl_spool_free(sp);
	return 1;
}
