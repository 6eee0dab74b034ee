/* bench_store.c - ingest rate of EVENT frames through dl_store_submit
 * (copy, queue, decode, dedup check, savepoint, insert, delivery update,
 * batch COMMIT, ack) against raw prepared INSERTs into the same events
 * table in transactions of the same size, in the same run.
 *
 *   bench_store [frames]      (default 200000) */
#include "collector/store.h"

#include <sqlite3.h>
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

static uint64_t acked;

static void on_ack(void *ud, uint64_t sid, uint64_t epoch, uint64_t seq)
{
	acked = seq;
}

static void on_tick(uv_timer_t *t)
{
}

/* One encoded EVENT payload like the agent sends for `docker start`. */
static void encode_event(dl_buf_t *b, uint64_t seq)
{
	dl_attr_t attrs[3] = {
		{DL_STR("name"), DL_STR("web-7")},
		{DL_STR("image"), DL_STR("nginx:1.25")},
		{DL_STR("com.docker.compose.project"), DL_STR("shop")}};
	dl_msg_t m = {.type = DL_MSG_EVENT,
		      .epoch = 1,
		      .seq = seq,
		      .time_ns = 1700000000000000000ull + seq};

	m.u.event.type = DL_STR("container");
	m.u.event.action = DL_STR("start");
	m.u.event.id = DL_STR("4f66ad9a0b2e8c2f4a1b3f2c1d0e9f8a7b6c5d4e3f2a1"
			      "b0c9d8e7f6a5b4c3d2e1f0");
	m.u.event.name = DL_STR("web-7");
	m.u.event.nattrs = 3;
	m.u.event.attrs = attrs;
	dl_buf_reset(b);
	if (dl_msg_encode(b, &m) != 0) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
}

static double run_store(const char *path, uint64_t n, size_t *bytes)
{
	char err[256];
	uv_loop_t loop;
	uv_timer_t t;
	dl_buf_t b;
	dl_store_t *s;
	uint64_t t0;
	double secs;

	uv_loop_init(&loop);
	s = dl_store_open(&loop, path, on_ack, NULL, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	dl_store_host_online(s, "bench", "p", "sw", NULL, 1);
	dl_buf_init(&b, 1u << 20);
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_tick, 1, 1);
	t0 = dl_clock_mono_ns();
	for (uint64_t i = 1; i <= n; i++) {
		encode_event(&b, i);
		*bytes = dl_buf_used(&b) - DL_FRAME_HDR;
		while (dl_store_submit(s, 1, "bench",
				       dl_buf_head(&b) + DL_FRAME_HDR,
				       *bytes) == DL_EFULL)
			uv_run(&loop, UV_RUN_ONCE);
		if (i % 1000 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	while (acked < n)
		uv_run(&loop, UV_RUN_ONCE);
	secs = (double)(dl_clock_mono_ns() - t0) / 1e9;
	uv_close((uv_handle_t *)&t, NULL);
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_buf_free(&b);
	return secs;
}

static void check(int rc, sqlite3 *db, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

/* The same rows with one prepared INSERT per event, constant strings,
 * a precomputed attrs text: the floor the store is measured against. */
static double run_raw(const char *path, uint64_t n)
{
	const char *attrs = "{\"name\":\"web-7\",\"image\":\"nginx:1.25\","
			    "\"com.docker.compose.project\":\"shop\"}";
	sqlite3 *db;
	sqlite3_stmt *st;
	uint64_t t0;

	check(sqlite3_open(path, &db), db, "open");
	check(sqlite3_exec(db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL),
	      db, "pragma");
	check(sqlite3_prepare_v2(db,
				 "INSERT INTO events(host, time_ns, type, "
				 "action, actor_id, name, attrs, epoch, seq) "
				 "VALUES('bench', ?1, 'container', 'start', "
				 "'4f66ad9a0b2e', 'web-7', ?2, 1, ?3)",
				 -1, &st, NULL),
	      db, "prepare");
	t0 = dl_clock_mono_ns();
	for (uint64_t i = 1; i <= n; i++) {
		if (i % DL_STORE_BATCH_MAX == 1)
			check(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), db,
			      "begin");
		sqlite3_bind_int64(st, 1,
				   (int64_t)(1700000000000000000ull + i));
		sqlite3_bind_text(st, 2, attrs, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (int64_t)i);
		check(sqlite3_step(st), db, "insert");
		sqlite3_reset(st);
		if (i % DL_STORE_BATCH_MAX == 0 || i == n)
			check(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db,
			      "commit");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return (double)(dl_clock_mono_ns() - t0) / 1e9;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/dl-bench-store-XXXXXX";
	char a[128], b[128], cmd[160];
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 200000;
	size_t frame = 0;
	double ts, tr;

	if (n == 0 || n > 100000000 || !mkdtemp(dir))
		return 2;
	dl_log_set_level(DL_LOG_LEVEL_WARN);
	snprintf(a, sizeof(a), "%s/store.db", dir);
	snprintf(b, sizeof(b), "%s/raw.db", dir);
	ts = run_store(a, n, &frame);
	/* The raw run's schema comes from the store itself, so both write
	 * the same table with the same indexes. */
	{
		uv_loop_t loop;
		char err[256];
		dl_store_t *s;

		uv_loop_init(&loop);
		s = dl_store_open(&loop, b, NULL, NULL, err, sizeof(err));
		if (!s)
			return 1;
		dl_store_host_online(s, "bench", "p", "sw", NULL, 1);
		dl_store_close(s);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
	}
	tr = run_raw(b, n);
	printf("%-34s %10s %12s %10s\n", "path", "events", "events/s",
	       "us/event");
	printf("%-34s %10llu %12.0f %10.2f\n", "dl_store_submit -> ack",
	       (unsigned long long)n, n / ts, ts * 1e6 / n);
	printf("%-34s %10llu %12.0f %10.2f\n", "raw sqlite INSERT (same table)",
	       (unsigned long long)n, n / tr, tr * 1e6 / n);
	printf("frame payload %zu bytes, batch %d, WAL, synchronous=NORMAL\n",
	       frame, DL_STORE_BATCH_MAX);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
