/* test_stats_store.c - container and host stats in the collector store:
 * cpu percent across replays and counter resets, rollup arithmetic,
 * retention per tier, migration of a real v1 database, and the JSON keys
 * of the stats/history/hosts queries. STATS frames go through the real
 * encode -> submit -> decode -> writer path. */
#include "collector/conf.h"
#include "collector/query.h"
#include "collector/store.h"

#include <math.h>
#include <sqlite3.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "store_fixture.h"
#include "test.h"

static void submit(dl_store_t *s, const char *host, const dl_msg_t *m)
{
	dl_buf_t b;

	dl_buf_init(&b, 4u * 1024 * 1024);
	ASSERT_EQ(dl_msg_encode(&b, m), 0);
	ASSERT_EQ(dl_store_submit(s, 1, host, dl_buf_head(&b) + DL_FRAME_HDR,
				  dl_buf_used(&b) - DL_FRAME_HDR),
		  0);
	dl_buf_free(&b);
}

static dl_container_t ctr(uint32_t idx, const char *id, const char *name)
{
	return (dl_container_t){.idx = idx,
				.id = DL_STR(id),
				.name = DL_STR(name),
				.image = DL_STR("busybox"),
				.state = DL_STR("running"),
				.status = DL_STR("Up"),
				.health = DL_STR(""),
				.created = 1700000000};
}

#define ID1   "3f2a00000000000000000000000000000000000000000000000000000000aaaa"
#define ID2   "9c1b00000000000000000000000000000000000000000000000000000000bbbb"
#define ID3   "3f2b00000000000000000000000000000000000000000000000000000000cccc"
#define EPOCH 1700000000000000000ull
#define SEC   1000000000ull

static void inventory(dl_store_t *s, const char *host, uint64_t seq)
{
	dl_container_t v[3] = {ctr(1, ID1, "web-1"), ctr(2, ID2, "web-2"),
			       ctr(3, ID3, "db")};
	dl_msg_t m = {.type = DL_MSG_INVENTORY,
		      .epoch = EPOCH,
		      .seq = seq,
		      .time_ns = 1};

	m.u.inventory.n = 3;
	m.u.inventory.v = v;
	submit(s, host, &m);
}

/* One STATS frame with one sample for idx: cpu and mem as given,
 * counters derived from t. */
static void stats1(dl_store_t *s, const char *host, uint64_t seq, uint64_t t,
		   uint32_t idx, uint64_t cpu, uint64_t sys, uint64_t mem)
{
	dl_sample_t v = {.idx = idx,
			 .valid = DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT |
				  DL_SV_NET | DL_SV_BLK | DL_SV_PIDS,
			 .cpu_ns = cpu,
			 .mem_usage = mem,
			 .mem_limit = 1u << 30,
			 .net_rx_bytes = t / SEC,
			 .net_tx_bytes = 2 * (t / SEC),
			 .blk_read_bytes = 3,
			 .blk_write_bytes = 4,
			 .pids = 5};
	dl_msg_t m = {
		.type = DL_MSG_STATS, .epoch = EPOCH, .seq = seq, .time_ns = t};

	m.u.stats.system_cpu_ns = sys;
	m.u.stats.online_cpus = 4;
	m.u.stats.n = 1;
	m.u.stats.v = &v;
	submit(s, host, &m);
}

static sqlite3 *ro(void)
{
	sqlite3 *db;

	ASSERT_EQ(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
		  SQLITE_OK);
	return db;
}

/* A double from SQL; NAN for NULL or no row. */
static double sql_f(const char *q, int64_t a)
{
	sqlite3 *db = ro();
	sqlite3_stmt *st;
	double v = NAN;

	ASSERT_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_int64(st, 1, a);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

#define ASSERT_NEAR(a, b)                                                      \
	do {                                                                   \
		double a_ = (a), b_ = (b);                                     \
		if (!(fabs(a_ - b_) < 1e-6))                                   \
			DL_FAIL_("%s ~= %s (%f vs %f)", #a, #b, a_, b_);       \
	} while (0)

/* ------------------------------------------------------------------ */

static void test_cpu_math(void)
{
	/* 1 CPU-second of 4 CPUs x 1 s: one CPU busy = 100% of 4 CPUs' 400 */
	ASSERT_NEAR(dl_store_cpu_percent(0, 0, SEC, 4 * SEC, 4), 100.0);
	ASSERT_NEAR(
		dl_store_cpu_percent(SEC, 4 * SEC, SEC + SEC / 2, 8 * SEC, 4),
		50.0);
	/* container restart: counter backwards */
	ASSERT_NEAR(dl_store_cpu_percent(5 * SEC, 4 * SEC, SEC, 8 * SEC, 4),
		    -1);
	/* no host time passed, or no CPUs */
	ASSERT_NEAR(dl_store_cpu_percent(0, 4 * SEC, SEC, 4 * SEC, 4), -1);
	ASSERT_NEAR(dl_store_cpu_percent(0, 0, SEC, 4 * SEC, 0), -1);
	/* more than all CPUs: counters from different sources */
	ASSERT_NEAR(dl_store_cpu_percent(0, 0, 10 * SEC, 4 * SEC, 4), -1);
	ASSERT_NEAR(dl_store_host_cpu_percent(0, 0, 100, 25), 75.0);
	ASSERT_NEAR(dl_store_host_cpu_percent(100, 50, 50, 60), -1);
	ASSERT_NEAR(dl_store_host_cpu_percent(100, 50, 200, 40), -1);
	ASSERT_NEAR(dl_store_host_cpu_percent(100, 50, 200, 250), -1);
}

#define T0 (1795000000ull * SEC) /* a minute boundary: 1795000000 % 60 = 40 */

static void test_percent_replay_reset(void)
{
	dl_store_t *s = open_store("pct");
	uint64_t t = T0;

	dl_store_host_online(s, "app-01", "p", "sw", NULL, 1);
	inventory(s, "app-01", 1);
	stats1(s, "app-01", 2, t, 1, 10 * SEC, 100 * SEC, 1000);
	/* 2 CPU-seconds of 4 CPUs x 10 s: 20% (of 400) */
	stats1(s, "app-01", 3, t + 10 * SEC, 1, 12 * SEC, 140 * SEC, 1000);
	wait_idle(s);
	/* replay of seq 3 (same epoch): deduped, acked */
	stats1(s, "app-01", 3, t + 10 * SEC, 1, 12 * SEC, 140 * SEC, 1000);
	/* restart: cumulative cpu drops to near zero */
	stats1(s, "app-01", 4, t + 20 * SEC, 1, SEC / 10, 180 * SEC, 1000);
	stats1(s, "app-01", 5, t + 30 * SEC, 1, SEC / 10 + 4 * SEC, 220 * SEC,
	       1000);
	/* unknown idx: skipped, frame still acked */
	stats1(s, "app-01", 6, t + 30 * SEC, 99, SEC, 220 * SEC, 1000);
	wait_idle(s);
	ASSERT_EQ(acked_seq, 6);
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_samples", 0), 4);
	ASSERT(isnan(sql_f("SELECT cpu_percent FROM container_samples "
			   "WHERE ts = ?1",
			   (int64_t)t)));
	ASSERT_NEAR(sql_f("SELECT cpu_percent FROM container_samples "
			  "WHERE ts = ?1",
			  (int64_t)(t + 10 * SEC)),
		    20.0);
	ASSERT(isnan(sql_f("SELECT cpu_percent FROM container_samples "
			   "WHERE ts = ?1",
			   (int64_t)(t + 20 * SEC))));
	ASSERT_NEAR(sql_f("SELECT cpu_percent FROM container_samples "
			  "WHERE ts = ?1",
			  (int64_t)(t + 30 * SEC)),
		    40.0);
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_samples WHERE "
			"cpu_percent < 0 OR cpu_percent > 400",
			0),
		  0);
	/* the sample went to the container named in the inventory */
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_samples s JOIN "
			"container_keys k USING (cid) WHERE k.name = 'web-1'",
			0),
		  4);
	close_store(s);
}

static void test_rollups(void)
{
	dl_store_t *s = open_store("rollup");
	uint64_t b = T0 - 40 * SEC + 60 * SEC; /* next minute start */
	int64_t cid;

	dl_store_host_online(s, "h", "p", "sw", NULL, 1);
	inventory(s, "h", 1);
	/* minute b: pct NULL, 10, 30 (cpu deltas 1 s, 3 s of 4 x 10 s);
	 * mem 100, 300, 200; then one sample in the next minute. */
	stats1(s, "h", 2, b, 2, 0, 1000 * SEC, 100);
	stats1(s, "h", 3, b + 10 * SEC, 2, SEC, 1040 * SEC, 300);
	wait_idle(s); /* the bucket is merged across batches */
	stats1(s, "h", 4, b + 20 * SEC, 2, 4 * SEC, 1080 * SEC, 200);
	stats1(s, "h", 5, b + 60 * SEC, 2, 4 * SEC, 1120 * SEC, 700);
	wait_idle(s);
	/* minute b closed by the sample at b + 60; the next minute is open */
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_1m", 0), 1);
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_1h", 0), 0);
	/* a sample in the next hour closes minute b + 60 and the hour */
	stats1(s, "h", 6, b - b % (3600 * SEC) + 3600 * SEC, 2, 5 * SEC,
	       1160 * SEC, 50);
	wait_idle(s);
	cid = (int64_t)sql_f("SELECT cid FROM container_keys WHERE name = "
			     "'web-2'",
			     0);
	ASSERT_GT(cid, 0);
#define M1(col) "SELECT " col " FROM container_1m WHERE k = ?1 ORDER BY bucket"
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_1m WHERE k = ?1", cid),
		  2);
	ASSERT_EQ(sql_f(M1("bucket"), cid), (double)(int64_t)b);
	ASSERT_EQ(sql_f(M1("n"), cid), 3);
	ASSERT_EQ(sql_f(M1("cpu_n"), cid), 2);
	ASSERT_NEAR(sql_f(M1("cpu_sum / cpu_n"), cid), 20.0);
	ASSERT_NEAR(sql_f(M1("cpu_max"), cid), 30.0);
	ASSERT_NEAR(sql_f(M1("mem_sum / mem_n"), cid), 200.0);
	ASSERT_EQ(sql_f(M1("mem_max"), cid), 300);
	/* last of the counters: net_rx is t in seconds */
	ASSERT_EQ(sql_f(M1("net_rx"), cid), (double)((b + 20 * SEC) / SEC));
	ASSERT_EQ(sql_f(M1("last_ts"), cid), (double)(b + 20 * SEC));
	/* the hour holds the four samples of its two minutes */
	ASSERT_EQ(sql_f("SELECT sum(n) FROM container_1h WHERE k = ?1", cid),
		  4);
	ASSERT_EQ(sql_f("SELECT max(mem_max) FROM container_1h WHERE k = ?1",
			cid),
		  700);
	close_store(s);
}

/* Inserts rows at chosen ages straight into the tables (retention is
 * about the tables, not the wire). */
static void seed_ages(void)
{
	static const int64_t age_s[] = {3 * 86400, 3600,	40 * 86400,
					60,	   400 * 86400, 86400};
	int64_t now = (int64_t)dl_clock_wall_ns();
	sqlite3 *db;
	char q[256];

	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	for (int i = 0; i < 6; i++) {
		static const char *const t[] = {"container_samples",
						"container_1m", "container_1h"};
		int64_t ts = now - age_s[i] * (int64_t)SEC;

		if (i / 2 == 0)
			snprintf(q, sizeof(q),
				 "INSERT INTO %s(cid, ts) VALUES(1, %lld)",
				 t[0], (long long)ts);
		else
			snprintf(q, sizeof(q),
				 "INSERT INTO %s(k, bucket, n, cpu_sum, cpu_n,"
				 " mem_sum, mem_n, last_ts) VALUES(1, %lld, 1,"
				 " 0, 0, 0, 0, 0)",
				 t[i / 2], (long long)ts);
		ASSERT_EQ(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
		if (i / 2 == 0)
			snprintf(q, sizeof(q),
				 "INSERT INTO host_samples(host, ts) "
				 "VALUES('h', %lld)",
				 (long long)ts);
		else
			snprintf(q, sizeof(q),
				 "INSERT INTO %s(k, bucket, n, cpu_sum, cpu_n,"
				 " mem_sum, mem_n, last_ts) VALUES('h', %lld,"
				 " 1, 0, 0, 0, 0, 0)",
				 i / 2 == 1 ? "host_1m" : "host_1h",
				 (long long)ts);
		ASSERT_EQ(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	}
	sqlite3_close(db);
}

static void test_retention(void)
{
	dl_store_t *s = open_store("retention");
	uint64_t end;

	dl_store_host_online(s, "h", "p", "sw", NULL, 1);
	inventory(s, "h", 1); /* cid 1 exists */
	wait_idle(s);
	seed_ages();
	dl_store_set_retention(s, 48 * 3600, 30 * 86400, 365 * 86400, 0);
	end = dl_clock_mono_ns() + 5 * SEC;
	while (sql_f("SELECT count(*) FROM container_samples", 0) != 1 &&
	       dl_clock_mono_ns() < end)
		usleep(10000);
	usleep(50000);
	/* raw: 3 d goes, 1 h stays; minute: 40 d goes, 1 min stays; hour:
	 * 400 d goes, 1 d stays. Same for hosts. */
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_samples", 0), 1);
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_1m", 0), 1);
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_1h", 0), 1);
	ASSERT_EQ(sql_f("SELECT count(*) FROM host_samples", 0), 1);
	ASSERT_EQ(sql_f("SELECT count(*) FROM host_1m", 0), 1);
	ASSERT_EQ(sql_f("SELECT count(*) FROM host_1h", 0), 1);
	ASSERT_GT(sql_f("SELECT min(ts) FROM container_samples", 0),
		  (double)(dl_clock_wall_ns() - 2 * 3600 * SEC));
	close_store(s);
}

static void test_migrate_v1(void)
{
	const char *fx = getenv("DL_FIXTURES");
	char cmd[512];
	uint64_t e, q;
	dl_store_t *s;

	snprintf(dbpath, sizeof(dbpath), "%s/v1.db", dir);
	snprintf(cmd, sizeof(cmd), "cp %s/store_v1.db %s",
		 fx ? fx : "tests/fixtures", dbpath);
	ASSERT_EQ(system(cmd), 0);
	ASSERT_EQ(sql_f("PRAGMA user_version", 0), 1);
	s = open_store(NULL);
	ASSERT_EQ(sql_f("PRAGMA user_version", 0), 9);
	ASSERT_EQ(sql_f("SELECT count(*) FROM tokens", 0), 0);
	/* v9: each host's count of its containers, from the v1 rows */
	ASSERT_EQ(sql_f("SELECT sum(n_total) FROM hosts", 0), 2);
	ASSERT_EQ(sql_f("SELECT count(*) FROM hosts h WHERE n_total <> "
			"(SELECT count(*) FROM containers WHERE host = h.name)",
			0),
		  0);
	/* v8: hosts.labels, none yet */
	ASSERT_EQ(sql_f("SELECT count(*) FROM hosts WHERE labels IS NULL", 0),
		  sql_f("SELECT count(*) FROM hosts", 0));
	ASSERT_EQ(sql_f("SELECT count(*) FROM alerts", 0), 0);
	ASSERT_EQ(sql_f("SELECT count(*) FROM silences", 0), 0);
	/* v1 data kept; containers got their lasting keys */
	dl_store_last(s, "app-01", &e, &q);
	ASSERT_EQ(e, 7);
	ASSERT_EQ(q, 2);
	ASSERT_EQ(sql_f("SELECT count(*) FROM events", 0), 1);
	ASSERT_EQ(sql_f("SELECT count(*) FROM containers", 0), 2);
	ASSERT_EQ(sql_f("SELECT count(*) FROM container_keys k JOIN "
			"containers c USING (host, id) WHERE k.name = c.name",
			0),
		  2);
	/* and the migrated store takes stats (new epoch: agent restart) */
	{
		dl_container_t v = ctr(4,
				       "3f2a0000000000000000000000000000000"
				       "000000000000000000000000000a1",
				       "web-1");
		dl_msg_t m = {.type = DL_MSG_CONTAINER,
			      .epoch = EPOCH,
			      .seq = 1,
			      .time_ns = 1};

		m.u.container.c = v;
		submit(s, "app-01", &m);
	}
	stats1(s, "app-01", 2, T0, 4, SEC, SEC, 42);
	wait_idle(s);
	ASSERT_EQ(sql_f("SELECT s.mem_usage FROM container_samples s JOIN "
			"container_keys k USING (cid) WHERE k.name = 'web-1'",
			0),
		  42);
	close_store(s);
}

static void hoststats(dl_store_t *s, const char *host, uint64_t seq, uint64_t t,
		      uint64_t total, uint64_t idle)
{
	dl_msg_t m = {.type = DL_MSG_HOSTSTATS,
		      .epoch = EPOCH,
		      .seq = seq,
		      .time_ns = t};
	dl_hoststats_t *h = &m.u.hoststats;

	h->cpu_total_ns = total;
	h->cpu_idle_ns = idle;
	h->online_cpus = 4;
	h->mem_total = 8000;
	h->mem_used = 2000;
	h->mem_available = 6000;
	h->load1_x100 = 150;
	h->disk_used = 10;
	h->disk_total = 100;
	submit(s, host, &m);
}

/* The downsampled answer must equal what SQL's GROUP BY computes over the
 * same rows (the implementation before the single-pass one): per bucket
 * of width w from since, cpu and memory averaged, counters, gauges and
 * maxima at their maximum. tier: the container's raw or minute rows. */
#define REF_IN_RAW                                                             \
	"SELECT ts AS t, cpu_percent AS c, mem_usage AS m, mem_limit AS ml, "  \
	"net_rx AS rx, net_tx AS tx, blk_read AS br, blk_write AS bw, "        \
	"pids AS p, cpu_percent AS cx, mem_usage AS mx FROM "                  \
	"container_samples WHERE cid = ?1 AND ts >= ?2 AND ts <= ?3"
#define REF_IN_1M                                                              \
	"SELECT bucket AS t, CASE WHEN cpu_n > 0 THEN cpu_sum / cpu_n END "    \
	"AS c, CASE WHEN mem_n > 0 THEN mem_sum / mem_n END AS m, "            \
	"mem_limit AS ml, net_rx AS rx, net_tx AS tx, blk_read AS br, "        \
	"blk_write AS bw, pids AS p, cpu_max AS cx, mem_max AS mx FROM "       \
	"container_1m WHERE k = ?1 AND bucket >= ?2 AND bucket <= ?3"
#define REF_DOWN(in)                                                           \
	"SELECT ?2 + ((t - ?2) / ?4) * ?4, avg(c), "                           \
	"CAST(round(avg(m)) AS INTEGER), max(ml), max(rx), max(tx), max(br), " \
	"max(bw), max(p), max(cx), max(mx) FROM (" in ") "                     \
	"GROUP BY (t - ?2) / ?4 ORDER BY 1"

static int history_matches_sql(dl_query_t *q, int64_t since, int64_t until,
			       int tier, int points)
{
	static const char *const keys[] = {
		"time_ns",	   "cpu_percent",     "mem_bytes",
		"mem_limit",	   "net_rx_bytes",    "net_tx_bytes",
		"blk_read_bytes",  "blk_write_bytes", "pids",
		"cpu_percent_max", "mem_bytes_max"};
	char err[256] = "";
	json_t *a = dl_query_history(q, "app-01", "web-1", since, until, tier,
				     points, err, sizeof(err));
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	dl_ctr_ref_t ref;
	size_t row = 0;
	int ok = a != NULL && json_array_size(a) > 0;

	ok = ok && dl_query_resolve(q, "app-01", "web-1", &ref, err,
				    sizeof(err)) == 0;
	ok = ok && sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL) ==
			   SQLITE_OK;
	ok = ok && sqlite3_prepare_v2(db,
				      tier == DL_TIER_RAW ? REF_DOWN(REF_IN_RAW)
							  : REF_DOWN(REF_IN_1M),
				      -1, &st, NULL) == SQLITE_OK;
	ok = ok && !sqlite3_bind_int64(st, 1, ref.cid) &&
	     !sqlite3_bind_int64(st, 2, since) &&
	     !sqlite3_bind_int64(st, 3, until) &&
	     !sqlite3_bind_int64(st, 4, (until - since) / points + 1);
	while (ok && sqlite3_step(st) == SQLITE_ROW) {
		json_t *o = json_array_get(a, row++);

		for (int k = 0; ok && k < 11; k++) {
			json_t *v = json_object_get(o, keys[k]);

			if (sqlite3_column_type(st, k) == SQLITE_NULL)
				ok = json_is_null(v);
			else if (k == 1 || k == 9)
				ok = fabs(json_number_value(v) -
					  sqlite3_column_double(st, k)) < 0.006;
			else
				ok = json_integer_value(v) ==
				     sqlite3_column_int64(st, k);
			if (!ok)
				fprintf(stderr, "row %zu %s differs\n", row,
					keys[k]);
		}
	}
	ok = ok && row == json_array_size(a);
	sqlite3_finalize(st);
	sqlite3_close(db);
	json_decref(a);
	return ok;
}

static void test_queries(void)
{
	dl_store_t *s = open_store("queries");
	dl_query_t *q;
	char err[512];
	json_t *a, *o;
	dl_ctr_ref_t ref;
	int64_t now = (int64_t)dl_clock_wall_ns();

	dl_store_host_online(s, "app-01", "p", "sw", NULL, 1);
	inventory(s, "app-01", 1);
	dl_store_host_online(s, "app-02", "p", "sw", NULL, 1);
	{
		/* app-02 as its agent saw it mid-recreate: old and new "web" */
		dl_container_t v[2] = {ctr(1, ID1, "web"), ctr(2, ID2, "web")};
		dl_msg_t m = {.type = DL_MSG_INVENTORY,
			      .epoch = EPOCH,
			      .seq = 1,
			      .time_ns = 1};

		m.u.inventory.n = 2;
		m.u.inventory.v = v;
		submit(s, "app-02", &m);
	}
	for (int i = 0; i < 10; i++)
		stats1(s, "app-01", 2 + (uint64_t)i,
		       (uint64_t)now - (uint64_t)(9 - i) * 10 * SEC, 1,
		       (uint64_t)i * SEC, (uint64_t)i * 40 * SEC, 1000 + i);
	hoststats(s, "app-01", 20, (uint64_t)now - 10 * SEC, 100, 50);
	hoststats(s, "app-01", 21, (uint64_t)now, 200, 75);
	wait_idle(s);
	ASSERT((q = dl_query_open(dbpath, err, sizeof(err))) != NULL);

	a = dl_query_hosts(q, err, sizeof(err));
	ASSERT(a != NULL);
	o = json_array_get(a, 0);
	ASSERT_NEAR(json_real_value(json_object_get(o, "cpu_percent")), 75.0);
	ASSERT_EQ(json_integer_value(json_object_get(o, "mem_used_bytes")),
		  2000);
	ASSERT_EQ(json_integer_value(json_object_get(o, "mem_total_bytes")),
		  8000);
	ASSERT_NEAR(json_real_value(json_object_get(o, "load1")), 1.5);
	ASSERT_EQ(json_integer_value(json_object_get(o, "disk_used_bytes")),
		  10);
	ASSERT_EQ(json_integer_value(json_object_get(o, "disk_total_bytes")),
		  100);
	json_decref(a);

	/* stats: one row per container that has samples */
	a = dl_query_stats(q, "app-01", NULL, err, sizeof(err));
	ASSERT(a != NULL);
	ASSERT_EQ(json_array_size(a), 1);
	o = json_array_get(a, 0);
	{
		static const char *const keys[] = {"host",
						   "name",
						   "id",
						   "time",
						   "cpu_percent",
						   "mem_bytes",
						   "mem_limit",
						   "net_rx_bytes",
						   "net_tx_bytes",
						   "blk_read_bytes",
						   "blk_write_bytes",
						   "pids"};

		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (!json_object_get(o, keys[k]))
				DL_FAIL_("stats row lacks %s", keys[k]);
	}
	ASSERT_STR_EQ(json_string_value(json_object_get(o, "name")), "web-1");
	ASSERT_EQ(json_integer_value(json_object_get(o, "mem_bytes")), 1009);
	/* 1 CPU-s per 40 s of 4 CPUs' time: 10% */
	ASSERT_NEAR(json_real_value(json_object_get(o, "cpu_percent")), 10.0);
	json_decref(a);

	/* resolving: name, unique id prefix, ambiguity, unknown host */
	ASSERT_EQ(
		dl_query_resolve(q, "app-01", "web-2", &ref, err, sizeof(err)),
		0);
	ASSERT_STR_EQ(ref.id, ID2);
	ASSERT_EQ(dl_query_resolve(q, "app-01", "9c", &ref, err, sizeof(err)),
		  0);
	ASSERT_STR_EQ(ref.name, "web-2");
	ASSERT(dl_query_resolve(q, "app-01", "3f", &ref, err, sizeof(err)) < 0);
	ASSERT_STR_EQ(err, "3f matches 2 containers on app-01: "
			   "db (3f2b00000000), web-1 (3f2a00000000)");
	ASSERT(!ref.stale);
	/* two current containers with one exact name: the store is behind
	 * a recreate (Docker's names are unique): the newest, marked stale */
	ASSERT_EQ(dl_query_resolve(q, "app-02", "web", &ref, err, sizeof(err)),
		  0);
	ASSERT(ref.stale);
	ASSERT_STR_EQ(ref.id, ID2);
	/* an id prefix still picks one, not stale */
	ASSERT(dl_query_resolve(q, "app-02", "3f", &ref, err, sizeof(err)) ==
	       0);
	ASSERT_STR_EQ(ref.id, ID1);
	ASSERT(!ref.stale);
	ASSERT(dl_query_stats(q, "nope", NULL, err, sizeof(err)) == NULL);
	ASSERT_STR_EQ(err, "no host named nope");
	ASSERT(dl_query_stats(q, "app-01", "zzz", err, sizeof(err)) == NULL);

	/* history: raw has the 10 samples oldest first; minute rollups
	 * cover the same span in fewer rows with maxima */
	a = dl_query_history(q, "app-01", "web-1", now - 3600 * (int64_t)SEC,
			     now, DL_TIER_RAW, 0, err, sizeof(err));
	ASSERT(a != NULL);
	ASSERT_EQ(json_array_size(a), 10);
	ASSERT_EQ(json_integer_value(
			  json_object_get(json_array_get(a, 9), "mem_bytes")),
		  1009);
	ASSERT(json_is_null(
		json_object_get(json_array_get(a, 0), "cpu_percent")));
	ASSERT(json_object_get(json_array_get(a, 0), "time") != NULL);
	json_decref(a);
	a = dl_query_history(q, "app-01", "web-1", now - 3600 * (int64_t)SEC,
			     now, DL_TIER_MINUTE, 0, err, sizeof(err));
	ASSERT(a != NULL);
	/* closed minutes only: the open one is not rolled up yet */
	ASSERT_GE(json_array_size(a), 1);
	ASSERT_LE(json_array_size(a), 2);
	ASSERT(json_object_get(json_array_get(a, 0), "cpu_percent_max"));
	json_decref(a);
	/* downsampled: 10 samples 10 s apart into 3 buckets of 30 s+ */
	a = dl_query_history(q, "app-01", "web-1", now - 90 * (int64_t)SEC, now,
			     DL_TIER_RAW, 3, err, sizeof(err));
	ASSERT(a != NULL);
	ASSERT_EQ(json_array_size(a), 3);
	/* mem 1000..1009: the last bucket holds 1006..1009 (avg 1007.5) */
	ASSERT_GE(json_integer_value(
			  json_object_get(json_array_get(a, 2), "mem_bytes")),
		  1007);
	ASSERT_EQ(json_integer_value(json_object_get(json_array_get(a, 2),
						     "mem_bytes_max")),
		  1009);
	json_decref(a);
	ASSERT(dl_query_history(q, "app-01", "web-1", 0, 1, DL_TIER_RAW,
				DL_QUERY_POINTS_MAX + 1, err,
				sizeof(err)) == NULL);
	/* single-pass buckets = SQL's GROUP BY, raw and rollup rows */
	ASSERT(history_matches_sql(q, now - 90 * (int64_t)SEC, now, DL_TIER_RAW,
				   3));
	ASSERT(history_matches_sql(q, now - 95 * (int64_t)SEC, now, DL_TIER_RAW,
				   7));
	ASSERT(history_matches_sql(q, now - 3600 * (int64_t)SEC, now,
				   DL_TIER_MINUTE, 2));
	/* host history: raw rows with every gauge; unknown host */
	a = dl_query_history(q, "app-01", NULL, now - 3600 * (int64_t)SEC, now,
			     DL_TIER_RAW, 0, err, sizeof(err));
	ASSERT(a != NULL);
	ASSERT_EQ(json_array_size(a), 2);
	o = json_array_get(a, 1);
	ASSERT_NEAR(json_real_value(json_object_get(o, "cpu_percent")), 75.0);
	ASSERT_EQ(json_integer_value(json_object_get(o, "mem_used_bytes")),
		  2000);
	ASSERT_EQ(json_integer_value(json_object_get(o, "mem_available_bytes")),
		  6000);
	ASSERT_NEAR(json_real_value(json_object_get(o, "load1")), 1.5);
	ASSERT_EQ(json_integer_value(json_object_get(o, "disk_total_bytes")),
		  100);
	ASSERT(json_object_get(o, "mem_used_bytes_max") == NULL);
	json_decref(a);
	/* both host samples in one bucket: averaged, maxima kept */
	a = dl_query_history(q, "app-01", NULL, now - 20 * (int64_t)SEC, now,
			     DL_TIER_RAW, 1, err, sizeof(err));
	ASSERT(a != NULL);
	ASSERT_EQ(json_array_size(a), 1);
	o = json_array_get(a, 0);
	ASSERT_EQ(json_integer_value(json_object_get(o, "mem_used_bytes_max")),
		  2000);
	ASSERT_NEAR(json_real_value(json_object_get(o, "cpu_percent_max")),
		    75.0);
	json_decref(a);
	ASSERT(dl_query_history(q, "nope", NULL, 0, 1, DL_TIER_RAW, 0, err,
				sizeof(err)) == NULL);
	ASSERT_STR_EQ(err, "no host named nope");
	{
		dl_buf_t tb;
		size_t rows = 7;

		/* over the cap: DL_ETOOBIG, buffer as it was */
		dl_buf_init(&tb, 64);
		ASSERT_EQ(dl_buf_append(&tb, "ab", 2), 0);
		ASSERT_EQ(dl_query_history_text(q, "app-01", "web-1",
						now - 3600 * (int64_t)SEC, now,
						DL_TIER_RAW, 0, &tb, &rows, err,
						sizeof(err)),
			  DL_ETOOBIG);
		ASSERT_EQ(dl_buf_used(&tb), 2);
		ASSERT_EQ(rows, 7);
		ASSERT(dl_query_history_text(q, "nope", "web-1", 0, 1,
					     DL_TIER_RAW, 0, &tb, NULL, err,
					     sizeof(err)) < 0);
		ASSERT_STR_EQ(err, "no host named nope");
		ASSERT(dl_query_history_text(q, "app-01", "web-1", 0, 1, 7, 0,
					     &tb, NULL, err, sizeof(err)) < 0);
		ASSERT_STR_EQ(err, "unknown history tier 7");
		/* an empty span is an empty array */
		ASSERT_EQ(dl_query_history_text(q, "app-01", "web-1", 0, 1,
						DL_TIER_RAW, 0, &tb, &rows, err,
						sizeof(err)),
			  0);
		ASSERT_EQ(rows, 0);
		ASSERT_EQ(dl_buf_used(&tb), 4);
		ASSERT(memcmp(dl_buf_head(&tb), "ab[]", 4) == 0);
		dl_buf_free(&tb);
	}
	ASSERT_EQ(dl_query_tier(6 * 3600), DL_TIER_RAW);
	ASSERT_EQ(dl_query_tier(24 * 3600), DL_TIER_MINUTE);
	ASSERT_EQ(dl_query_tier(30 * 86400), DL_TIER_HOUR);
	/* charts: the finest tier within ~1,500 rows */
	ASSERT_EQ(dl_query_tier_points(3600, 60), DL_TIER_RAW);
	ASSERT_EQ(dl_query_tier_points(4 * 3600, 500), DL_TIER_RAW);
	ASSERT_EQ(dl_query_tier_points(6 * 3600, 500), DL_TIER_MINUTE);
	ASSERT_EQ(dl_query_tier_points(24 * 3600, 60), DL_TIER_MINUTE);
	ASSERT_EQ(dl_query_tier_points(7 * 86400, 500), DL_TIER_HOUR);
	ASSERT_EQ(dl_query_tier_points(7 * 86400, 0), DL_TIER_MINUTE);
	dl_query_close(q);
	close_store(s);
}

/* collector.conf [retention]: defaults, durations, bounds, unknown keys. */
static void test_retention_conf(void)
{
	char path[160], err[512];
	dl_cconf_t c;
	FILE *f;

	ASSERT_EQ(dl_cconf_load(&c, NULL, err, sizeof(err)), 0);
	ASSERT_EQ(c.retention_raw, 48 * 3600);
	ASSERT_EQ(c.retention_minute, 30 * 86400);
	ASSERT_EQ(c.retention_hour, 365 * 86400);
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	ASSERT((f = fopen(path, "w")) != NULL);
	fputs("[retention]\nraw = 6h\nminute = 7d\nhour = 90d\n", f);
	fclose(f);
	ASSERT_EQ(dl_cconf_load(&c, path, err, sizeof(err)), 0);
	ASSERT_EQ(c.retention_raw, 6 * 3600);
	ASSERT_EQ(c.retention_minute, 7 * 86400);
	ASSERT_EQ(c.retention_hour, 90 * 86400);
	ASSERT((f = fopen(path, "w")) != NULL);
	fputs("[retention]\nraw = 10m\n", f);
	fclose(f);
	ASSERT(dl_cconf_load(&c, path, err, sizeof(err)) != 0);
	ASSERT(strstr(err, "raw") != NULL);
	ASSERT((f = fopen(path, "w")) != NULL);
	fputs("[retention]\nweek = 7d\n", f);
	fclose(f);
	ASSERT(dl_cconf_load(&c, path, err, sizeof(err)) != 0);
}

int main(void)
{
	char tmpl[] = "/tmp/dl-test-stats-XXXXXX";

	ASSERT(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s", tmpl);
	uv_loop_init(&loop);
	RUN(test_cpu_math);
	RUN(test_percent_replay_reset);
	RUN(test_rollups);
	RUN(test_retention);
	RUN(test_migrate_v1);
	RUN(test_queries);
	RUN(test_retention_conf);
	ASSERT_EQ(uv_loop_close(&loop), 0);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ASSERT_EQ(system(cmd), 0);
	}
	return 0;
}
