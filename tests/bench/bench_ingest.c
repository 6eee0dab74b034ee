/* bench_ingest.c - container samples per second through the real path
 * (STATS encode is done beforehand; timed: dl_store_submit copy, queue,
 * decode, dedup, idx -> cid, cpu percent, raw insert, minute/hour rollup
 * merge, batch COMMIT, ack) against raw prepared INSERTs of the same
 * rows into container_samples of the same schema, in the same run.
 *
 *   bench_ingest [hosts] [containers] [rounds]   (default 1000 100 12)
 *
 * Each round is one STATS frame per host, 10 s after the previous one:
 * the fleet of the issue (1,000 agents x 100 containers at 10 s) needs
 * 10,000 samples/s.
 *
 * Also times, as frames/s, the frames that keep the hosts answer's
 * figures (schema v9's hosts columns), each on a fresh store after the
 * same setup: R rounds of one HOSTSTATS per host (a host_samples row and
 * the hosts row's copy), and R rounds of one INVENTORY per host in which
 * a quarter of the containers stopped and the quarter stopped the round
 * before runs again (half the rows changed, each a count change on the
 * hosts row: far more churn than a fleet has). */
#include "collector/store.h"

#include <sqlite3.h>
#include <stdbool.h>
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

#define SEC  1000000000ull
#define RUNS 3

/* Completion is "nothing pending" (every frame committed and acked). */
static void on_ack(void *ud, uint64_t sid, uint64_t epoch, uint64_t seq)
{
}

static void on_tick(uv_timer_t *t)
{
}

static uint32_t H = 1000, C = 100, R = 12;
static uint64_t t0_ns;

static void die(const char *what)
{
	fprintf(stderr, "bench_ingest: %s\n", what);
	exit(1);
}

static void hostname(char *out, size_t n, uint32_t h)
{
	snprintf(out, n, "host-%04u", h);
}

static void cid_hex(char *out, uint32_t h, uint32_t c)
{
	snprintf(out, 65, "%08x%08x%048x", h, c, 0u);
}

/* Payload (without frame header) of host h's INVENTORY: all running
 * for round 0 (seq 1); from round 1 on, a quarter stopped, another
 * quarter each round. */
static void encode_inventory(dl_buf_t *b, uint32_t h, uint32_t r)
{
	dl_container_t *v = calloc(C, sizeof(*v));
	char(*ids)[65] = calloc(C, 65), (*names)[32] = calloc(C, 32);
	dl_msg_t m = {.type = DL_MSG_INVENTORY,
		      .epoch = 1,
		      .seq = r ? 1 + 2 * r : 1,
		      .time_ns = t0_ns + r * 10 * SEC};

	if (!v || !ids || !names)
		die("out of memory");
	for (uint32_t c = 0; c < C; c++) {
		cid_hex(ids[c], h, c);
		snprintf(names[c], 32, "svc-%u", c);
		v[c] = (dl_container_t){.idx = c + 1,
					.id = DL_STR(ids[c]),
					.name = DL_STR(names[c]),
					.image = DL_STR("app:1"),
					.state = r && (c + r) % 4 == 0
							 ? DL_STR("exited")
							 : DL_STR("running"),
					.status = DL_STR("Up"),
					.health = DL_STR(""),
					.created = 1};
	}
	m.u.inventory.n = C;
	m.u.inventory.v = v;
	dl_buf_reset(b);
	if (dl_msg_encode(b, &m))
		die("encode INVENTORY");
	free(v);
	free(ids);
	free(names);
}

static dl_sample_t sample(uint32_t h, uint32_t c, uint32_t r)
{
	return (dl_sample_t){.idx = c + 1,
			     .valid = DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT |
				      DL_SV_NET | DL_SV_BLK | DL_SV_PIDS,
			     .cpu_ns = (uint64_t)r * (c + 1) * 10000000ull,
			     .mem_usage =
				     (uint64_t)(c + 1) * 1048576 + r * 4096 + h,
			     .mem_limit = 1ull << 31,
			     .net_rx_bytes = (uint64_t)r * 150000,
			     .net_tx_bytes = (uint64_t)r * 90000,
			     .net_rx_packets = r * 100u,
			     .net_tx_packets = r * 90u,
			     .blk_read_bytes = (uint64_t)r * 4096,
			     .blk_write_bytes = (uint64_t)r * 8192,
			     .pids = 3 + c % 7};
}

static void encode_stats(dl_buf_t *b, uint32_t h, uint32_t r)
{
	dl_sample_t *v = calloc(C, sizeof(*v));
	dl_msg_t m = {.type = DL_MSG_STATS,
		      .epoch = 1,
		      .seq = 2 + r,
		      .time_ns = t0_ns + r * 10 * SEC};

	if (!v)
		die("out of memory");
	for (uint32_t c = 0; c < C; c++)
		v[c] = sample(h, c, r);
	m.u.stats.system_cpu_ns = (uint64_t)r * 10 * 8 * SEC;
	m.u.stats.online_cpus = 8;
	m.u.stats.n = C;
	m.u.stats.v = v;
	dl_buf_reset(b);
	if (dl_msg_encode(b, &m))
		die("encode STATS (is the codec in proto/msg_stats.c?)");
	free(v);
}

/* Host h's HOSTSTATS of round r >= 1 (seq 2r, before that round's
 * INVENTORY). */
static void encode_hoststats(dl_buf_t *b, uint32_t h, uint32_t r)
{
	dl_msg_t m = {.type = DL_MSG_HOSTSTATS,
		      .epoch = 1,
		      .seq = 2 * r,
		      .time_ns = t0_ns + r * 10 * SEC};

	m.u.hoststats = (dl_hoststats_t){.cpu_total_ns = r * 80 * SEC,
					 .cpu_idle_ns = r * 60 * SEC,
					 .online_cpus = 8,
					 .mem_total = 16ull << 30,
					 .mem_used = (4ull << 30) + h * 4096,
					 .mem_available = 12ull << 30,
					 .load1_x100 = 42 + r,
					 .disk_used = 10ull << 30,
					 .disk_total = 100ull << 30,
					 .net_rx_bytes = r * 150000ull,
					 .net_tx_bytes = r * 90000ull};
	dl_buf_reset(b);
	if (dl_msg_encode(b, &m))
		die("encode HOSTSTATS");
}

static void wait_acks(uv_loop_t *loop, dl_store_t *s)
{
	while (dl_store_pending(s)) {
		uv_run(loop, UV_RUN_NOWAIT);
		usleep(200);
	}
	uv_run(loop, UV_RUN_NOWAIT);
}

static void submit(uv_loop_t *loop, dl_store_t *s, uint32_t h, dl_buf_t *b)
{
	char host[32];

	hostname(host, sizeof(host), h);
	while (dl_store_submit(s, h, host, dl_buf_head(b) + DL_FRAME_HDR,
			       dl_buf_used(b) - DL_FRAME_HDR) == DL_EFULL)
		uv_run(loop, UV_RUN_ONCE);
}

/* Hosts online with their inventories: the untimed setup both runs
 * share, so the raw run has the same cids. */
static dl_store_t *setup(uv_loop_t *loop, const char *path)
{
	char err[256], host[32];
	dl_store_t *s;
	dl_buf_t b;

	s = dl_store_open(loop, path, on_ack, NULL, err, sizeof(err));
	if (!s)
		die(err);
	dl_buf_init(&b, 8u << 20);
	for (uint32_t h = 0; h < H; h++) {
		hostname(host, sizeof(host), h);
		dl_store_host_online(s, host, "p", "sw", NULL, 1);
		encode_inventory(&b, h, 0);
		submit(loop, s, h, &b);
	}
	wait_acks(loop, s);
	dl_buf_free(&b);
	return s;
}

static double run_store(const char *path, size_t *frame_bytes)
{
	uv_loop_t loop;
	uv_timer_t t;
	dl_buf_t *frames = calloc((size_t)H * R, sizeof(dl_buf_t));
	dl_store_t *s;
	uint64_t t0;
	double secs;

	if (!frames)
		die("out of memory");
	uv_loop_init(&loop);
	s = setup(&loop, path);
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t h = 0; h < H; h++) {
			dl_buf_init(&frames[r * H + h], 8u << 20);
			encode_stats(&frames[r * H + h], h, r);
		}
	*frame_bytes = dl_buf_used(&frames[0]) - DL_FRAME_HDR;
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_tick, 1, 1);
	t0 = dl_clock_mono_ns();
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t h = 0; h < H; h++) {
			submit(&loop, s, h, &frames[r * H + h]);
			if (h % 64 == 0)
				uv_run(&loop, UV_RUN_NOWAIT);
		}
	wait_acks(&loop, s);
	secs = (double)(dl_clock_mono_ns() - t0) / 1e9;
	uv_close((uv_handle_t *)&t, NULL);
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	for (size_t i = 0; i < (size_t)H * R; i++)
		dl_buf_free(&frames[i]);
	free(frames);
	return secs;
}

/* R rounds of a HOSTSTATS (inv false) or an INVENTORY (inv true) per
 * host, after setup; returns seconds. */
static double run_hostframes(const char *path, bool inv)
{
	uv_loop_t loop;
	uv_timer_t t;
	dl_buf_t *frames = calloc((size_t)H * R, sizeof(dl_buf_t));
	dl_store_t *s;
	uint64_t t0;
	double secs;

	if (!frames)
		die("out of memory");
	uv_loop_init(&loop);
	s = setup(&loop, path);
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t h = 0; h < H; h++) {
			dl_buf_t *f = &frames[(size_t)r * H + h];

			dl_buf_init(f, 8u << 20);
			if (inv)
				encode_inventory(f, h, r + 1);
			else
				encode_hoststats(f, h, r + 1);
		}
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_tick, 1, 1);
	t0 = dl_clock_mono_ns();
	for (size_t i = 0; i < (size_t)H * R; i++) {
		submit(&loop, s, (uint32_t)(i % H), &frames[i]);
		if (i % 64 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	wait_acks(&loop, s);
	secs = (double)(dl_clock_mono_ns() - t0) / 1e9;
	uv_close((uv_handle_t *)&t, NULL);
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	for (size_t i = 0; i < (size_t)H * R; i++)
		dl_buf_free(&frames[i]);
	free(frames);
	return secs;
}

static void check(int rc, sqlite3 *db, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
		fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

/* The same sample rows, cid known up front, one prepared INSERT each,
 * a transaction per DL_STORE_BATCH_MAX frames' worth: the floor. No
 * rollups: what the store does beyond this is its overhead. */
static double run_raw(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	uint64_t t0, n = 0;

	check(sqlite3_open(path, &db), db, "open");
	/* the writer's own settings, so only the work differs */
	check(sqlite3_exec(db,
			   "PRAGMA synchronous = NORMAL; "
			   "PRAGMA cache_size = -65536",
			   NULL, NULL, NULL),
	      db, "pragma");
	check(sqlite3_prepare_v2(db,
				 "INSERT INTO container_samples VALUES(?1, "
				 "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
				 -1, &st, NULL),
	      db, "prepare");
	t0 = dl_clock_mono_ns();
	check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db, "begin");
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t h = 0; h < H; h++) {
			for (uint32_t c = 0; c < C; c++) {
				dl_sample_t v = sample(h, c, r);

				sqlite3_bind_int64(st, 1,
						   (int64_t)h * C + c + 1);
				sqlite3_bind_int64(
					st, 2, (int64_t)(t0_ns + r * 10 * SEC));
				sqlite3_bind_int64(st, 3, (int64_t)v.cpu_ns);
				sqlite3_bind_double(st, 4, 12.5);
				sqlite3_bind_int64(st, 5, (int64_t)v.mem_usage);
				sqlite3_bind_int64(st, 6, (int64_t)v.mem_limit);
				sqlite3_bind_int64(st, 7,
						   (int64_t)v.net_rx_bytes);
				sqlite3_bind_int64(st, 8,
						   (int64_t)v.net_tx_bytes);
				sqlite3_bind_int64(st, 9,
						   (int64_t)v.blk_read_bytes);
				sqlite3_bind_int64(st, 10,
						   (int64_t)v.blk_write_bytes);
				sqlite3_bind_int64(st, 11, (int64_t)v.pids);
				check(sqlite3_step(st), db, "insert");
				sqlite3_reset(st);
			}
			if (++n % DL_STORE_BATCH_MAX == 0)
				check(sqlite3_exec(db, "COMMIT; BEGIN", NULL,
						   NULL, NULL),
				      db, "commit");
		}
	check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (double)(dl_clock_mono_ns() - t0) / 1e9;
}

static int64_t count(const char *path, const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, q, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	return v;
}

static uint32_t arg(char **argv, int argc, int i, uint32_t def)
{
	long v = argc > i ? strtol(argv[i], NULL, 10) : (long)def;

	return v > 0 && v <= 100000 ? (uint32_t)v : def;
}

/* One run of each path on fresh files; returns seconds. */
static double one_store(const char *dir, int k, size_t *frame, int64_t n)
{
	char a[160];
	double ts;

	snprintf(a, sizeof(a), "%s/store%d.db", dir, k);
	ts = run_store(a, frame);

	if (count(a, "SELECT count(*) FROM container_samples") != n)
		die("store run lost samples");
	return ts;
}

static double one_raw(const char *dir, int k)
{
	char b[160];
	uv_loop_t loop;
	dl_store_t *s;

	snprintf(b, sizeof(b), "%s/raw%d.db", dir, k);
	uv_loop_init(&loop);
	s = setup(&loop, b);
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return run_raw(b);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/dl-bench-ingest-XXXXXX";
	char a[160], cmd[160];
	size_t frame = 0;
	double ts = 1e9, tr = 1e9, th = 1e9, ti = 1e9;
	uint64_t n;

	H = arg(argv, argc, 1, H);
	C = arg(argv, argc, 2, C);
	R = arg(argv, argc, 3, R);
	n = (uint64_t)H * C * R;
	if (!mkdtemp(dir))
		return 2;
	dl_log_set_level(DL_LOG_LEVEL_WARN);
	t0_ns = dl_clock_wall_ns() - 3600 * SEC;
	t0_ns -= t0_ns % (60 * SEC);
	/* Alternating runs, best of each: a shared machine's load swings
	 * more than the difference being measured. */
	for (int k = 0; k < RUNS; k++) {
		double x = one_store(dir, k, &frame, (int64_t)n);
		double y = one_raw(dir, k);

		ts = x < ts ? x : ts;
		tr = y < tr ? y : tr;
	}
	for (int k = 0; k < RUNS; k++) {
		double x;

		snprintf(a, sizeof(a), "%s/hosts%d.db", dir, k);
		x = run_hostframes(a, false);
		if (count(a, "SELECT count(*) FROM host_samples") !=
		    (int64_t)H * R)
			die("host frames run lost samples");
		th = x < th ? x : th;
		snprintf(a, sizeof(a), "%s/inv%d.db", dir, k);
		x = run_hostframes(a, true);
		if (count(a, "SELECT count(*) FROM containers WHERE state = "
			     "'exited'") != (int64_t)H * (C / 4))
			die("inventory run lost changes");
		ti = x < ti ? x : ti;
	}
	snprintf(a, sizeof(a), "%s/store0.db", dir);
	printf("%-40s %10s %12s %9s\n", "path (best of 3)", "samples",
	       "samples/s", "us/sample");
	printf("%-40s %10llu %12.0f %9.3f\n", "STATS submit -> decode -> ack",
	       (unsigned long long)n, n / ts, ts * 1e6 / n);
	printf("%-40s %10llu %12.0f %9.3f\n",
	       "raw sqlite INSERT (container_samples)", (unsigned long long)n,
	       n / tr, tr * 1e6 / n);
	printf("ratio store/raw %.2f; %u hosts x %u containers x %u rounds; "
	       "frame %zu bytes; minute rollup rows %lld\n",
	       tr / ts, H, C, R, frame,
	       (long long)count(a, "SELECT count(*) FROM container_1m"));
	printf("%-40s %10s %12s %9s\n", "", "frames", "frames/s", "us/frame");
	printf("%-40s %10llu %12.0f %9.3f\n", "HOSTSTATS submit -> ack",
	       (unsigned long long)H * R, H * R / th, th * 1e6 / (H * R));
	printf("%-40s %10llu %12.0f %9.3f\n",
	       "INVENTORY, half the rows changed", (unsigned long long)H * R,
	       H * R / ti, ti * 1e6 / (H * R));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
