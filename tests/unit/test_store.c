/* test_store.c - the collector store against real SQLite files and a real
 * uv loop: ack after commit, replay dedup, epochs, container sets, reopen,
 * hostile strings, the query JSON contract, and readers during commits. */
#include "collector/query.h"
#include "collector/hostlabel.h"
#include "collector/store.h"

#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

#define MAX_SIDS 8

static uv_loop_t loop;
static char dir[64];
static char dbpath[128];
static struct {
	uint64_t epoch, seq;
	unsigned calls;
} acked[MAX_SIDS];

static void on_ack(void *ud, uint64_t sid, uint64_t epoch, uint64_t seq)
{
	ASSERT(ud == &loop);
	ASSERT_LT(sid, MAX_SIDS);
	acked[sid].epoch = epoch;
	acked[sid].seq = seq;
	acked[sid].calls++;
}

static void fresh_db(const char *name)
{
	snprintf(dbpath, sizeof(dbpath), "%s/%s.db", dir, name);
	memset(acked, 0, sizeof(acked));
}

static dl_store_t *open_store(void)
{
	char err[256] = "";
	dl_store_t *s =
		dl_store_open(&loop, dbpath, on_ack, &loop, err, sizeof(err));

	if (!s)
		DL_FAIL_("dl_store_open: %s", err);
	return s;
}

static void close_store(dl_store_t *s)
{
	dl_store_close(s);
	ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
}

static void on_tick(uv_timer_t *t)
{
}

/* Runs the loop until sid is acked at (epoch, seq) or 10 s pass. */
static void wait_ack(uint64_t sid, uint64_t epoch, uint64_t seq)
{
	uint64_t end = dl_clock_mono_ns() + 10000000000ull;
	uv_timer_t t;

	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_tick, 5, 5);
	while (!(acked[sid].epoch == epoch && acked[sid].seq >= seq) &&
	       dl_clock_mono_ns() < end)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(acked[sid].epoch, epoch);
	ASSERT_EQ(acked[sid].seq, seq);
}

/* Runs the loop until the writer has committed everything queued. */
static void wait_idle(dl_store_t *s)
{
	uint64_t end = dl_clock_mono_ns() + 10000000000ull;

	while (dl_store_pending(s) && dl_clock_mono_ns() < end) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(2000);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(dl_store_pending(s), 0);
}

static int submit(dl_store_t *s, uint64_t sid, const char *host,
		  const dl_msg_t *m)
{
	dl_buf_t b;
	int rc;

	dl_buf_init(&b, 2u * 1024 * 1024);
	ASSERT_EQ(dl_msg_encode(&b, m), 0);
	rc = dl_store_submit(s, sid, host, dl_buf_head(&b) + DL_FRAME_HDR,
			     dl_buf_used(&b) - DL_FRAME_HDR);
	dl_buf_free(&b);
	return rc;
}

static void submit_event(dl_store_t *s, uint64_t sid, const char *host,
			 uint64_t epoch, uint64_t seq, uint64_t time_ns,
			 const char *action)
{
	dl_attr_t attrs[2] = {{DL_STR("name"), DL_STR("web")},
			      {DL_STR("image"), DL_STR("nginx:1.25")}};
	dl_msg_t m = {.type = DL_MSG_EVENT,
		      .epoch = epoch,
		      .seq = seq,
		      .time_ns = time_ns};

	m.u.event.type = DL_STR("container");
	m.u.event.action = DL_STR(action);
	m.u.event.id = DL_STR("c0ffee");
	m.u.event.name = DL_STR("web");
	m.u.event.nattrs = 2;
	m.u.event.attrs = attrs;
	ASSERT_EQ(submit(s, sid, host, &m), 0);
}

static dl_container_t ctr(const char *id, const char *name, const char *state)
{
	return (dl_container_t){.id = DL_STR(id),
				.name = DL_STR(name),
				.image = DL_STR("nginx:1.25"),
				.state = DL_STR(state),
				.status = DL_STR("Up 3 minutes"),
				.health = DL_STR(""),
				.created = 1700000000};
}

static void submit_inventory(dl_store_t *s, uint64_t sid, const char *host,
			     uint64_t epoch, uint64_t seq, dl_container_t *v,
			     uint32_t n)
{
	dl_msg_t m = {.type = DL_MSG_INVENTORY,
		      .epoch = epoch,
		      .seq = seq,
		      .time_ns = 1};

	m.u.inventory.n = n;
	m.u.inventory.v = v;
	ASSERT_EQ(submit(s, sid, host, &m), 0);
}

static void submit_container(dl_store_t *s, uint64_t sid, const char *host,
			     uint64_t epoch, uint64_t seq, dl_container_t c,
			     bool removed)
{
	dl_msg_t m = {.type = DL_MSG_CONTAINER,
		      .epoch = epoch,
		      .seq = seq,
		      .time_ns = 1};

	m.u.container.removed = removed;
	m.u.container.c = c;
	ASSERT_EQ(submit(s, sid, host, &m), 0);
}

/* One integer from a SQL query on a private connection. */
static int64_t sql_int(const char *q, const char *arg)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	ASSERT_EQ(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
		  SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_text(const char *q, const char *arg, char *out, size_t n)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	out[0] = '\0';
	ASSERT_EQ(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
		  SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, n, "%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static const char *jstr(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	if (!v)
		DL_FAIL_("key \"%s\" missing or not a string", k);
	return v;
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (!json_is_integer(v))
		DL_FAIL_("key \"%s\" missing or not an integer", k);
	return json_integer_value(v);
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

#define N  40
#define E1 1700000000000000000ull
#define E2 1700000099000000000ull

static void test_ingest_ack_replay_epoch(void)
{
	dl_store_t *s;
	dl_container_t v[2] = {ctr("aaa", "web", "running"),
			       ctr("bbb", "db", "exited")};
	uint64_t e, q;
	char txt[128];

	fresh_db("ingest");
	s = open_store();
	ASSERT_EQ(dl_store_host_online(s, "web-01", "uid 1000 pid 42",
				       "dockline-agent 0.1.0", NULL,
				       5000000000ull),
		  0);
	submit_inventory(s, 1, "web-01", E1, 1, v, 2);
	for (uint64_t i = 2; i <= N; i++)
		submit_event(s, 1, "web-01", E1, i, i * 1000, "start");
	wait_ack(1, E1, N);
	ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), N - 1);
	ASSERT_EQ(sql_int("SELECT count(*) FROM containers WHERE host = ?",
			  "web-01"),
		  2);
	ASSERT_EQ(sql_int("SELECT seq FROM delivery WHERE host = ?", "web-01"),
		  N);
	dl_store_last(s, "web-01", &e, &q);
	ASSERT_EQ(e, E1);
	ASSERT_EQ(q, N);
	dl_store_last(s, "nobody", &e, &q);
	ASSERT_EQ(e, 0);
	ASSERT_EQ(q, 0);
	ASSERT_EQ(sql_int("SELECT online FROM hosts WHERE name = ?", "web-01"),
		  1);
	sql_text("SELECT software FROM hosts WHERE name = ?", "web-01", txt,
		 sizeof(txt));
	ASSERT_STR_EQ(txt, "dockline-agent 0.1.0");
	sql_text("SELECT peer FROM hosts WHERE name = ?", "web-01", txt,
		 sizeof(txt));
	ASSERT_STR_EQ(txt, "uid 1000 pid 42");
	/* data bumps last_seen past the HELLO's time */
	ASSERT_GT(
		sql_int("SELECT last_seen FROM hosts WHERE name = ?", "web-01"),
		5000000000ll);
	ASSERT_EQ(sql_int("SELECT first_seen FROM hosts WHERE name = ?",
			  "web-01"),
		  5000000000ll);

	/* A replay after reconnect (new session 2): 1..N again plus five
	 * new ones. Each stored once; the ack covers all of it. */
	submit_inventory(s, 2, "web-01", E1, 1, v, 2);
	for (uint64_t i = 2; i <= N + 5; i++)
		submit_event(s, 2, "web-01", E1, i, i * 1000, "start");
	wait_ack(2, E1, N + 5);
	ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), N + 4);
	ASSERT_EQ(sql_int("SELECT count(DISTINCT seq) FROM events", NULL),
		  N + 4);
	ASSERT_EQ(sql_int("SELECT max(seq) FROM events", NULL), N + 5);

	/* Pure duplicates are still acked, nothing stored. */
	acked[3].seq = 0;
	submit_event(s, 3, "web-01", E1, 7, 7000, "start");
	wait_ack(3, E1, 7);
	ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), N + 4);

	/* The agent restarted: a new epoch from seq 1 is new data. */
	submit_event(s, 4, "web-01", E2, 1, 99000, "die");
	wait_ack(4, E2, 1);
	ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), N + 5);
	ASSERT_EQ(
		sql_int("SELECT count(*) FROM events WHERE action = ?", "die"),
		1);
	dl_store_last(s, "web-01", &e, &q);
	ASSERT_EQ(e, E2);
	ASSERT_EQ(q, 1);

	ASSERT_EQ(dl_store_host_offline(s, "web-01", dl_clock_wall_ns()), 0);
	wait_idle(s);
	ASSERT_EQ(sql_int("SELECT online FROM hosts WHERE name = ?", "web-01"),
		  0);
	close_store(s);
}

static void test_containers_docker_dropped(void)
{
	dl_container_t v[3] = {ctr("aaa", "web", "running"),
			       ctr("bbb", "db", "running"),
			       ctr("ccc", "cache", "exited")};
	dl_container_t v2[2] = {ctr("aaa", "web", "exited"),
				ctr("ddd", "worker", "running")};
	dl_msg_t m = {.type = DL_MSG_DOCKER, .epoch = E1, .seq = 6};
	char txt[128];
	dl_store_t *s;

	fresh_db("containers");
	s = open_store();
	dl_store_host_online(s, "db-02", "p", "sw", NULL, 1);
	submit_inventory(s, 1, "db-02", E1, 1, v, 3);
	submit_container(s, 1, "db-02", E1, 2, ctr("bbb", "db", ""), true);
	wait_ack(1, E1, 2);
	ASSERT_EQ(sql_int("SELECT count(*) FROM containers", NULL), 2);
	ASSERT_EQ(
		sql_int("SELECT count(*) FROM containers WHERE id = ?", "bbb"),
		0);

	submit_container(s, 1, "db-02", E1, 3, ctr("ddd", "worker", "created"),
			 false);
	submit_container(s, 1, "db-02", E1, 4, ctr("ddd", "worker", "running"),
			 false);
	wait_ack(1, E1, 4);
	ASSERT_EQ(sql_int("SELECT count(*) FROM containers", NULL), 3);
	sql_text("SELECT state FROM containers WHERE id = ?", "ddd", txt,
		 sizeof(txt));
	ASSERT_STR_EQ(txt, "running");
	/* Resends of the last and an older frame (in the wild they carry the
	 * same bytes; different ones here show they are not applied). */
	submit_container(s, 2, "db-02", E1, 4, ctr("ddd", "worker", "bogus"),
			 false);
	submit_container(s, 2, "db-02", E1, 3, ctr("ddd", "worker", "created"),
			 false);
	wait_ack(2, E1, 4);
	sql_text("SELECT state FROM containers WHERE id = ?", "ddd", txt,
		 sizeof(txt));
	ASSERT_STR_EQ(txt, "running");

	/* A new snapshot replaces the set: ccc is gone, aaa updated. */
	submit_inventory(s, 1, "db-02", E1, 5, v2, 2);
	m.u.docker = (dl_dockerinfo_t){.up = true,
				       .version = DL_STR("24.0.7"),
				       .api_version = DL_STR("1.43"),
				       .os = DL_STR("Debian GNU/Linux 12"),
				       .kernel = DL_STR("6.1.0"),
				       .ncpu = 8,
				       .mem_total = 16ull << 30,
				       .reason = DL_STR("")};
	ASSERT_EQ(submit(s, 1, "db-02", &m), 0);
	m = (dl_msg_t){.type = DL_MSG_DROPPED, .epoch = E1, .seq = 7};
	m.u.dropped.frames = 12;
	m.u.dropped.bytes = 3456;
	ASSERT_EQ(submit(s, 1, "db-02", &m), 0);
	wait_ack(1, E1, 7);
	ASSERT_EQ(sql_int("SELECT count(*) FROM containers", NULL), 2);
	ASSERT_EQ(
		sql_int("SELECT count(*) FROM containers WHERE id = ?", "ccc"),
		0);
	sql_text("SELECT state FROM containers WHERE id = ?", "aaa", txt,
		 sizeof(txt));
	ASSERT_STR_EQ(txt, "exited");
	sql_text("SELECT docker_version FROM hosts WHERE name = ?", "db-02",
		 txt, sizeof(txt));
	ASSERT_STR_EQ(txt, "24.0.7");
	ASSERT_EQ(
		sql_int("SELECT mem_total FROM hosts WHERE name = ?", "db-02"),
		16ll << 30);
	ASSERT_EQ(sql_int("SELECT dropped_frames FROM hosts WHERE name = ?",
			  "db-02"),
		  12);

	/* Engine down: reason recorded, last known version kept. */
	m = (dl_msg_t){.type = DL_MSG_DOCKER, .epoch = E1, .seq = 8};
	m.u.docker.reason = DL_STR("cannot connect to /var/run/docker.sock");
	ASSERT_EQ(submit(s, 1, "db-02", &m), 0);
	/* An empty snapshot empties the host. */
	submit_inventory(s, 1, "db-02", E1, 9, NULL, 0);
	wait_ack(1, E1, 9);
	ASSERT_EQ(
		sql_int("SELECT docker_up FROM hosts WHERE name = ?", "db-02"),
		0);
	sql_text("SELECT docker_version FROM hosts WHERE name = ?", "db-02",
		 txt, sizeof(txt));
	ASSERT_STR_EQ(txt, "24.0.7");
	sql_text("SELECT docker_reason FROM hosts WHERE name = ?", "db-02", txt,
		 sizeof(txt));
	ASSERT_STR_EQ(txt, "cannot connect to /var/run/docker.sock");
	ASSERT_EQ(sql_int("SELECT count(*) FROM containers", NULL), 0);
	close_store(s);
}

static void test_reopen_and_migrations(void)
{
	dl_store_t *s;
	uint64_t e, q;
	char err[256];
	uv_loop_t other;

	fresh_db("reopen");
	s = open_store();
	dl_store_host_online(s, "a", "p", "sw", NULL, 1);
	dl_store_host_online(s, "b", "p", "sw", NULL, 1);
	for (uint64_t i = 1; i <= 10; i++)
		submit_event(s, 1, "a", E1, i, i, "start");
	submit_event(s, 2, "b", E2, 77, 1, "stop");
	/* close without waiting: close must commit what is queued and
	 * deliver the final acks */
	close_store(s);
	ASSERT_EQ(acked[1].seq, 10);
	ASSERT_EQ(acked[2].seq, 77);

	for (int round = 0; round < 3; round++) {
		s = open_store();
		dl_store_last(s, "a", &e, &q);
		ASSERT_EQ(e, E1);
		ASSERT_EQ(q, 10);
		dl_store_last(s, "b", &e, &q);
		ASSERT_EQ(e, E2);
		ASSERT_EQ(q, 77);
		close_store(s);
		ASSERT_EQ(sql_int("PRAGMA user_version", NULL), 9);
		ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), 11);
		/* a restarted collector has no sessions */
		ASSERT_EQ(sql_int("SELECT sum(online) FROM hosts", NULL), 0);
		ASSERT_EQ(
			sql_int("SELECT count(*) FROM sqlite_master WHERE "
				"type = 'table'",
				NULL),
			16); /* v1's 4, v2's keys, samples, rollups, v3's audit,
				v4's tokens, v5's alerts and silences, v7's
				container_labels */
	}
	{
		char mode[16];

		sql_text("PRAGMA journal_mode", NULL, mode, sizeof(mode));
		ASSERT_STR_EQ(mode, "wal");
	}

	/* A newer schema is refused with a sentence, not touched. */
	{
		sqlite3 *db;

		ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
		ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 10", NULL,
				       NULL, NULL),
			  SQLITE_OK);
		sqlite3_close(db);
	}
	uv_loop_init(&other);
	ASSERT(dl_store_open(&other, dbpath, on_ack, &loop, err, sizeof(err)) ==
	       NULL);
	ASSERT(strstr(err, "newer") != NULL);
	uv_loop_close(&other);

	/* Unopenable path. */
	ASSERT(dl_store_open(&loop, "/nonexistent-dir/x/y.db", on_ack, &loop,
			     err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "cannot open") != NULL);
}

#define SEC 1000000000ll

static dl_container_t inspected(const char *id, const char *name,
				const char *state, int64_t started_ago_s,
				int64_t finished_ago_s, const char *health)
{
	uint64_t now = dl_clock_wall_ns();
	dl_container_t c = ctr(id, name, state);

	c.status = DL_STR("Up Less than a second"); /* frozen at the event */
	c.health = DL_STR(health);
	c.d.has = true;
	c.d.started_at = started_ago_s < 0 ? 0 : now - started_ago_s * SEC;
	c.d.finished_at = finished_ago_s < 0 ? 0 : now - finished_ago_s * SEC;
	c.d.exit_code = finished_ago_s < 0 ? 0 : 3;
	c.d.restart_count = 2;
	c.d.health_streak = health[0] == 'u' ? 4 : 0;
	c.d.health_output = DL_STR(health[0] == 'u' ? "boom\xff" : "");
	return c;
}

static json_t *ps_by_name(json_t *arr, const char *name)
{
	size_t i;
	json_t *c;

	json_array_foreach(arr, i,
			   c) if (!strcmp(jstr(c, "name"), name)) return c;
	DL_FAIL_("no ps row named %s", name);
	return NULL;
}

/* v5: ps words the status now from the stored times (the stored text when
 * an older agent sent none); hosts say how healthy the link is. */
static void test_health(void)
{
	dl_container_t v[4] = {
		inspected("aaa", "web", "running", 185, -1, "healthy"),
		inspected("bbb", "job", "exited", 7300, 7200, ""),
		inspected("ccc", "api", "running", 7200, -1, "unhealthy"),
		ctr("ddd", "old", "running"), /* an older agent's */
	};
	char err[256] = "";
	json_t *arr, *c;
	dl_store_t *s;
	dl_query_t *q;
	dl_msg_t m = {.type = DL_MSG_DROPPED, .epoch = E1, .seq = 2};

	fresh_db("health");
	s = open_store();
	dl_store_host_online(s, "h1", "p", "sw", NULL, dl_clock_wall_ns());
	ASSERT_EQ(dl_store_host_clock(s, "h1", true, -12400), 0);
	dl_store_host_online(s, "h2", "p", "sw", NULL, dl_clock_wall_ns());
	ASSERT_EQ(dl_store_host_clock(s, "h2", false, 0), 0);
	submit_inventory(s, 1, "h1", E1, 1, v, 4);
	m.u.dropped.frames = 5;
	ASSERT_EQ(submit(s, 1, "h1", &m), 0);
	wait_ack(1, E1, 2);
	wait_idle(s);

	q = dl_query_open(dbpath, err, sizeof(err));
	ASSERT(q != NULL);
	arr = dl_query_ps(q, "h1", true, err, sizeof(err));
	ASSERT_EQ(json_array_size(arr), 4);
	c = ps_by_name(arr, "web");
	ASSERT_STR_EQ(jstr(c, "status"), "Up 3 minutes (healthy)");
	ASSERT_EQ(jint(c, "finished_at"), 0);
	ASSERT_GT(jint(c, "started_at"), 0);
	ASSERT_EQ(jint(c, "restart_count"), 2);
	ASSERT(json_is_false(json_object_get(c, "oom_killed")));
	c = ps_by_name(arr, "job");
	ASSERT_STR_EQ(jstr(c, "status"), "Exited (3) 2 hours ago");
	ASSERT_EQ(jint(c, "exit_code"), 3);
	c = ps_by_name(arr, "api");
	ASSERT_STR_EQ(jstr(c, "status"), "Up 2 hours (unhealthy)");
	ASSERT_EQ(jint(c, "health_streak"), 4);
	ASSERT_STR_EQ(jstr(c, "health_output"), "boom\xef\xbf\xbd");
	c = ps_by_name(arr, "old");
	ASSERT_STR_EQ(jstr(c, "status"), "Up 3 minutes"); /* Docker's text */
	ASSERT(json_is_null(json_object_get(c, "exit_code")));
	json_decref(arr);

	/* A CONTAINER update without the facts falls back to the text. */
	v[0].d.has = false;
	submit_container(s, 1, "h1", E1, 3, v[0], false);
	wait_ack(1, E1, 3);
	c = dl_query_container(q, "h1", "web", err, sizeof(err));
	ASSERT(c != NULL);
	ASSERT_STR_EQ(jstr(c, "status"), "Up Less than a second");
	json_decref(c);

	arr = dl_query_hosts(q, err, sizeof(err));
	ASSERT_EQ(json_array_size(arr), 2);
	c = json_array_get(arr, 0);
	ASSERT_EQ(jint(c, "clock_skew_ms"), -12400);
	ASSERT_LE(jint(c, "last_data_ago"), 30);
	ASSERT_EQ(jint(c, "dropped_frames"), 5);
	ASSERT_STR_EQ(jstr(c, "health"), "docker down, skew -12s, dropped 5");
	c = json_array_get(arr, 1);
	ASSERT(json_is_null(json_object_get(c, "clock_skew_ms")));
	ASSERT(json_is_null(json_object_get(c, "last_data_ago")));
	ASSERT_STR_EQ(jstr(c, "health"), "docker down");
	json_decref(arr);
	dl_query_close(q);

	dl_store_host_offline(s, "h2", dl_clock_wall_ns() - 200 * SEC);
	wait_idle(s);
	q = dl_query_open(dbpath, err, sizeof(err));
	arr = dl_query_hosts(q, err, sizeof(err));
	ASSERT_STR_EQ(jstr(json_array_get(arr, 1), "health"), "offline 3m");
	json_decref(arr);
	dl_query_close(q);
	close_store(s);
}

/* What v7 added, to make a v6 database from a fresh one. */
/* v9 undone first: a store taken back to v8 or older. */
#define DOWN_V9                                                                \
	"DROP TRIGGER host_samples_latest;"                                    \
	"DROP TRIGGER host_samples_gone;"                                      \
	"DROP TRIGGER containers_counts_ins;"                                  \
	"DROP TRIGGER containers_counts_del;"                                  \
	"DROP TRIGGER containers_counts_upd;"                                  \
	"DROP TRIGGER containers_counts_move;"                                 \
	"ALTER TABLE hosts DROP COLUMN hs_ts;"                                 \
	"ALTER TABLE hosts DROP COLUMN hs_cpu_percent;"                        \
	"ALTER TABLE hosts DROP COLUMN hs_mem_used;"                           \
	"ALTER TABLE hosts DROP COLUMN hs_mem_total;"                          \
	"ALTER TABLE hosts DROP COLUMN hs_load1;"                              \
	"ALTER TABLE hosts DROP COLUMN hs_disk_used;"                          \
	"ALTER TABLE hosts DROP COLUMN hs_disk_total;"                         \
	"ALTER TABLE hosts DROP COLUMN n_total;"                               \
	"ALTER TABLE hosts DROP COLUMN n_running;"                             \
	"ALTER TABLE hosts DROP COLUMN n_unhealthy;"                           \
	"ALTER TABLE hosts DROP COLUMN n_restarting;"
#define DOWN_V8 DOWN_V9 "ALTER TABLE hosts DROP COLUMN labels;"
#define DOWN_V7                                                                \
	DOWN_V8                                                                \
	"DROP TRIGGER containers_labels_ins;"                                  \
	"DROP TRIGGER containers_labels_upd;"                                  \
	"DROP TRIGGER containers_labels_del;"                                  \
	"DROP TABLE container_labels;"                                         \
	"ALTER TABLE containers DROP COLUMN labels;"                           \
	"ALTER TABLE alerts DROP COLUMN notify_error;"                         \
	"ALTER TABLE alerts DROP COLUMN notify_failed_at;"

static json_t *ps_label(dl_query_t *qy, const char *label)
{
	dl_ps_filter_t f = {.host = "h", .all = true, .label = label};
	char err[256];

	return dl_query_ps_where(qy, &f, err, sizeof(err));
}

/* Labels stored with the container; `label` filters K and K=V; a frame
 * without labels keeps them; a removed container takes its rows along. */
static void test_labels(void)
{
	dl_attr_t l[2] = {{DL_STR("app"), DL_STR("web")},
			  {DL_STR("tier"), DL_STR("front")}};
	dl_container_t v[2] = {ctr("aaa", "web", "running"),
			       ctr("bbb", "twin", "running")};
	char err[256];
	dl_query_t *qy;
	json_t *arr;
	dl_store_t *s;

	fresh_db("labels");
	s = open_store();
	dl_store_host_online(s, "h", "p", "sw", NULL, 1);
	/* labels ride with the inspect group */
	v[0].d.has = v[1].d.has = true;
	v[0].labels = (dl_labels_t){.has = true, .n = 2, .v = l};
	v[1].labels = (dl_labels_t){.has = true};
	submit_inventory(s, 1, "h", E1, 1, v, 2);
	wait_ack(1, E1, 1);
	qy = dl_query_open(dbpath, err, sizeof(err));
	ASSERT(qy != NULL);
	arr = ps_label(qy, NULL);
	ASSERT_EQ(json_array_size(arr), 2);
	ASSERT_STR_EQ(json_string_value(json_object_get(
			      json_object_get(json_array_get(arr, 1), "labels"),
			      "tier")),
		      "front"); /* ordered by name: twin, web */
	ASSERT_EQ(json_object_size(
			  json_object_get(json_array_get(arr, 0), "labels")),
		  0);
	json_decref(arr);
	arr = ps_label(qy, "app=web");
	ASSERT_EQ(json_array_size(arr), 1);
	ASSERT_STR_EQ(jstr(json_array_get(arr, 0), "name"), "web");
	json_decref(arr);
	arr = ps_label(qy, "app");
	ASSERT_EQ(json_array_size(arr), 1);
	json_decref(arr);
	arr = ps_label(qy, "app=db");
	ASSERT_EQ(json_array_size(arr), 0);
	json_decref(arr);
	arr = ps_label(qy, "=x");
	ASSERT(arr == NULL);

	/* a CONTAINER without labels (no inspect yet) keeps them */
	v[0].labels.has = false;
	submit_container(s, 1, "h", E1, 2, v[0], false);
	wait_ack(1, E1, 2);
	arr = ps_label(qy, "tier=front");
	ASSERT_EQ(json_array_size(arr), 1);
	json_decref(arr);
	submit_container(s, 1, "h", E1, 3, v[0], true);
	wait_ack(1, E1, 3);
	ASSERT_EQ(sql_int("SELECT count(*) FROM container_labels", NULL), 0);
	dl_query_close(qy);
	close_store(s);
}

/* Host labels (v8): an edit applied by the writer against the row it
 * reads, so sets and removals add up; the hosts answer shows them; an
 * unknown host and one label too many are the item's result. */
static int label_rc;
static int label_calls;

static void on_labels(void *ud, int result)
{
	label_rc = result;
	label_calls++;
}

static int host_labels(dl_store_t *s, const char *host, const char *set,
		       const char *rm, char *out, size_t outlen)
{
	int before = label_calls;

	ASSERT_EQ(dl_store_host_labels(s, host, set, rm, out, outlen, on_labels,
				       NULL),
		  0);
	wait_idle(s);
	ASSERT_EQ(label_calls, before + 1);
	return label_rc;
}

static void test_host_labels(void)
{
	char out[4096], set[64], err[256];
	dl_query_t *qy;
	json_t *arr, *l;
	dl_store_t *s;

	fresh_db("hostlabels");
	s = open_store();
	dl_store_host_online(s, "h", "p", "sw", NULL, 1);
	dl_store_host_online(s, "g", "p", "sw", NULL, 1);
	ASSERT_EQ(host_labels(s, "h", "{\"role\":\"web\",\"zone\":\"a\"}", "[]",
			      out, sizeof(out)),
		  0);
	ASSERT_STR_EQ(out, "{\"role\":\"web\",\"zone\":\"a\"}");
	ASSERT_EQ(host_labels(s, "h", "{\"tier\":\"1\"}", "[\"zone\"]", out,
			      sizeof(out)),
		  0);
	ASSERT_STR_EQ(out, "{\"role\":\"web\",\"tier\":\"1\"}");
	ASSERT_EQ(host_labels(s, "nosuch", "{\"a\":\"b\"}", "[]", out,
			      sizeof(out)),
		  DL_ENOENT);
	for (int i = 0; i < DL_HOSTLABEL_MAX - 2; i++) {
		snprintf(set, sizeof(set), "{\"k%d\":\"v\"}", i);
		ASSERT_EQ(host_labels(s, "g", set, "[]", out, sizeof(out)), 0);
	}
	ASSERT_EQ(host_labels(s, "g", "{\"x\":\"1\",\"y\":\"2\"}", "[]", out,
			      sizeof(out)),
		  0);
	ASSERT_EQ(host_labels(s, "g", "{\"z\":\"1\"}", "[]", out, sizeof(out)),
		  DL_EINVAL);
	ASSERT(strstr(out, "at most 32 labels") != NULL);
	/* removing all: NULL again, {} in the answer */
	ASSERT_EQ(host_labels(s, "h", "{}", "[\"role\",\"tier\"]", out,
			      sizeof(out)),
		  0);
	ASSERT_STR_EQ(out, "{}");
	ASSERT_EQ(sql_int("SELECT count(*) FROM hosts WHERE labels IS NULL",
			  NULL),
		  1);
	ASSERT_EQ(host_labels(s, "h", "{\"role\":\"db\"}", "[]", out,
			      sizeof(out)),
		  0);
	qy = dl_query_open(dbpath, err, sizeof(err));
	ASSERT(qy != NULL);
	arr = dl_query_hosts(qy, err, sizeof(err));
	ASSERT_EQ(json_array_size(arr), 2); /* g, h */
	l = json_object_get(json_array_get(arr, 1), "labels");
	ASSERT_STR_EQ(json_string_value(json_object_get(l, "role")), "db");
	ASSERT_EQ(json_object_size(
			  json_object_get(json_array_get(arr, 0), "labels")),
		  32);
	json_decref(arr);
	dl_query_close(qy);
	close_store(s);
}

/* The hosts answer's figures as v8 computed them (the newest
 * host_samples row by max(ts), counts by a grouped pass over containers)
 * and as v9 keeps them on the hosts row, with the stored types. */
#define V8_HOSTS                                                               \
	"SELECT h.name, ifnull(n.total, 0), ifnull(n.running, 0), "            \
	"ifnull(n.unhealthy, 0), ifnull(n.restarting, 0), s.cpu_percent, "     \
	"typeof(s.cpu_percent), s.mem_used, s.mem_total, s.load1, "            \
	"typeof(s.load1), s.disk_used, s.disk_total FROM hosts h LEFT JOIN "   \
	"host_samples s ON s.host = h.name AND s.ts = (SELECT max(ts) FROM "   \
	"host_samples WHERE host = h.name) LEFT JOIN (SELECT host, count(*) "  \
	"AS total, count(CASE WHEN state = 'running' THEN 1 END) AS running, " \
	"count(CASE WHEN health = 'unhealthy' THEN 1 END) AS unhealthy, "      \
	"count(CASE WHEN state = 'restarting' OR restarting THEN 1 END) AS "   \
	"restarting FROM containers GROUP BY host) n ON n.host = h.name"
#define V9_HOSTS                                                               \
	"SELECT name, n_total, n_running, n_unhealthy, n_restarting, "         \
	"hs_cpu_percent, typeof(hs_cpu_percent), hs_mem_used, hs_mem_total, "  \
	"hs_load1, typeof(hs_load1), hs_disk_used, hs_disk_total FROM hosts"

static void hosts_match(void)
{
	ASSERT_EQ(sql_int("SELECT count(*) FROM (" V8_HOSTS " EXCEPT " V9_HOSTS
			  ")",
			  NULL),
		  0);
	ASSERT_EQ(sql_int("SELECT count(*) FROM (" V9_HOSTS " EXCEPT " V8_HOSTS
			  ")",
			  NULL),
		  0);
}

static void submit_hoststats(dl_store_t *s, const char *host, uint64_t seq,
			     uint64_t time_ns, uint64_t idle, uint64_t used)
{
	dl_msg_t m = {.type = DL_MSG_HOSTSTATS,
		      .epoch = E1,
		      .seq = seq,
		      .time_ns = time_ns};

	m.u.hoststats = (dl_hoststats_t){.cpu_total_ns = 1000 * seq,
					 .cpu_idle_ns = idle,
					 .mem_total = 8000,
					 .mem_used = used,
					 .load1_x100 = 150,
					 .disk_used = 10,
					 .disk_total = 100};
	ASSERT_EQ(submit(s, 1, host, &m), 0);
}

static json_t *host_named(dl_query_t *q, const char *name)
{
	char err[256];
	json_t *arr = dl_query_hosts(q, err, sizeof(err)), *h, *r = NULL;
	size_t i;

	ASSERT(arr != NULL);
	json_array_foreach(arr, i, h) if (!strcmp(jstr(h, "name"), name)) r =
		json_incref(h);
	json_decref(arr);
	ASSERT(r != NULL);
	return r;
}

/* v9: the hosts row's newest sample and container counts follow every
 * write that changes them (inventory, a container's change or removal, a
 * prune, a late sample, a deleted newest sample, forget), always as
 * v8's joins would have computed them. */
static void test_host_figures(void)
{
	dl_container_t v[4] = {
		inspected("aaa", "web", "running", 185, -1, "healthy"),
		inspected("bbb", "job", "exited", 7300, 7200, ""),
		inspected("ccc", "api", "running", 7200, -1, "unhealthy"),
		ctr("ddd", "rst", "restarting"),
	};
	uint64_t now = dl_clock_wall_ns();
	char err[256];
	dl_query_t *q;
	dl_store_t *s;
	json_t *h;
	sqlite3 *db;

	fresh_db("hostfig");
	s = open_store();
	dl_store_host_online(s, "h1", "p", "sw", NULL, now);
	dl_store_host_online(s, "h2", "p", "sw", NULL, now);
	v[1].d.restarting = true; /* in its back-off, as inspect says */
	submit_inventory(s, 1, "h1", E1, 1, v, 4);
	submit_hoststats(s, "h1", 2, now - 20 * SEC, 500, 1000);
	submit_hoststats(s, "h1", 3, now - 10 * SEC, 1000, 3000);
	wait_ack(1, E1, 3);
	wait_idle(s);
	hosts_match();
	q = dl_query_open(dbpath, err, sizeof(err));
	ASSERT(q != NULL);
	h = host_named(q, "h1");
	ASSERT_EQ(jint(h, "containers"), 4);
	ASSERT_EQ(jint(h, "running"), 2);
	ASSERT_EQ(jint(h, "unhealthy"), 1);
	ASSERT_EQ(jint(h, "restarting"), 2);
	ASSERT_EQ(jint(h, "mem_used_bytes"), 3000);
	ASSERT_EQ(jint(h, "mem_total_bytes"), 8000);
	json_decref(h);
	h = host_named(q, "h2");
	ASSERT_EQ(jint(h, "containers"), 0);
	ASSERT(json_is_null(json_object_get(h, "mem_used_bytes")));
	json_decref(h);

	/* a late sample (older than the newest) does not replace it */
	submit_hoststats(s, "h1", 4, now - 15 * SEC, 1000, 2000);
	/* web stops, api goes, then an inventory without job */
	v[0].state = DL_STR("exited");
	submit_container(s, 1, "h1", E1, 5, v[0], false);
	submit_container(s, 1, "h1", E1, 6, v[2], true);
	wait_ack(1, E1, 6);
	wait_idle(s);
	hosts_match();
	h = host_named(q, "h1");
	ASSERT_EQ(jint(h, "containers"), 3);
	ASSERT_EQ(jint(h, "running"), 0);
	ASSERT_EQ(jint(h, "unhealthy"), 0);
	ASSERT_EQ(jint(h, "mem_used_bytes"), 3000);
	json_decref(h);
	v[1] = v[3];
	submit_inventory(s, 1, "h1", E1, 7, v, 2);
	wait_ack(1, E1, 7);
	wait_idle(s);
	hosts_match();
	h = host_named(q, "h1");
	ASSERT_EQ(jint(h, "containers"), 2);
	ASSERT_EQ(jint(h, "restarting"), 1);
	json_decref(h);
	close_store(s);

	/* the newest sample deleted (as retention does): the next newest
	 * stands in; none left: null */
	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db,
			       "DELETE FROM host_samples WHERE ts = (SELECT "
			       "max(ts) FROM host_samples)",
			       NULL, NULL, NULL),
		  SQLITE_OK);
	sqlite3_close(db);
	hosts_match();
	h = host_named(q, "h1");
	ASSERT_EQ(jint(h, "mem_used_bytes"), 2000);
	json_decref(h);
	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	ASSERT_EQ(
		sqlite3_exec(db, "DELETE FROM host_samples", NULL, NULL, NULL),
		SQLITE_OK);
	sqlite3_close(db);
	hosts_match();
	h = host_named(q, "h1");
	ASSERT(json_is_null(json_object_get(h, "mem_used_bytes")));
	ASSERT(json_is_null(json_object_get(h, "cpu_percent")));
	json_decref(h);

	s = open_store();
	ASSERT_EQ(dl_store_forget(s, "h1"), 0);
	wait_idle(s);
	hosts_match();
	ASSERT_EQ(sql_int("SELECT count(*) FROM hosts", NULL), 1);
	dl_query_close(q);
	close_store(s);
}

/* A v8 store with rows migrates to v9: the hosts rows get their newest
 * sample and counts from the rows there are. */
static void test_migrate_v8(void)
{
	dl_container_t v[3] = {
		inspected("aaa", "web", "running", 185, -1, "healthy"),
		inspected("bbb", "api", "running", 7200, -1, "unhealthy"),
		ctr("ccc", "job", "exited"),
	};
	uint64_t now = dl_clock_wall_ns();
	dl_store_t *s;
	sqlite3 *db;

	fresh_db("v8");
	s = open_store();
	dl_store_host_online(s, "h1", "p", "sw", NULL, now);
	dl_store_host_online(s, "h2", "p", "sw", NULL, now);
	submit_inventory(s, 1, "h1", E1, 1, v, 3);
	submit_hoststats(s, "h1", 2, now - 20 * SEC, 500, 1000);
	submit_hoststats(s, "h1", 3, now - 10 * SEC, 1000, 3000);
	wait_ack(1, E1, 3);
	close_store(s);
	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, DOWN_V9 "PRAGMA user_version = 8", NULL,
			       NULL, NULL),
		  SQLITE_OK);
	sqlite3_close(db);

	s = open_store();
	ASSERT_EQ(sql_int("PRAGMA user_version", NULL), 9);
	hosts_match();
	ASSERT_EQ(sql_int("SELECT n_total * 100 + n_running * 10 + "
			  "n_unhealthy FROM hosts WHERE name = ?",
			  "h1"),
		  321);
	ASSERT_EQ(sql_int("SELECT hs_mem_used FROM hosts WHERE name = ?", "h1"),
		  3000);
	ASSERT_EQ(sql_int("SELECT hs_ts IS NULL AND n_total = 0 FROM hosts "
			  "WHERE name = ?",
			  "h2"),
		  1);
	close_store(s);
}

/* A v6 store with rows migrates to v7: labels unknown (null), the
 * filter finds nothing, then an INVENTORY with labels fills both. */
static void test_migrate_v6(void)
{
	dl_attr_t l[1] = {{DL_STR("app"), DL_STR("web")}};
	dl_container_t v[1] = {ctr("aaa", "web", "running")};
	char err[256];
	dl_query_t *qy;
	json_t *arr;
	dl_store_t *s;
	sqlite3 *db;

	fresh_db("v6");
	s = open_store();
	dl_store_host_online(s, "h", "p", "sw", NULL, 1);
	submit_inventory(s, 1, "h", E1, 1, v, 1);
	wait_ack(1, E1, 1);
	close_store(s);
	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, DOWN_V7 "PRAGMA user_version = 6", NULL,
			       NULL, NULL),
		  SQLITE_OK);
	sqlite3_close(db);

	s = open_store();
	ASSERT_EQ(sql_int("PRAGMA user_version", NULL), 9);
	qy = dl_query_open(dbpath, err, sizeof(err));
	ASSERT(qy != NULL);
	arr = ps_label(qy, NULL);
	ASSERT_EQ(json_array_size(arr), 1);
	ASSERT(json_is_null(json_object_get(json_array_get(arr, 0), "labels")));
	json_decref(arr);
	arr = ps_label(qy, "app=web");
	ASSERT_EQ(json_array_size(arr), 0);
	json_decref(arr);
	v[0].d.has = true;
	v[0].labels = (dl_labels_t){.has = true, .n = 1, .v = l};
	submit_inventory(s, 1, "h", E1, 2, v, 1);
	wait_ack(1, E1, 2);
	arr = ps_label(qy, "app=web");
	ASSERT_EQ(json_array_size(arr), 1);
	json_decref(arr);
	dl_query_close(qy);
	close_store(s);
}

/* A v4 store (as the code before v5 made it, with rows) migrates to v5:
 * rows kept, the new columns NULL, so ps shows the stored text. */
static void test_migrate_v4(void)
{
	static const char *const drop[] = {
		"started_at", "finished_at",   "exit_code",	"oom_killed",
		"restarting", "restart_count", "health_streak", "health_output",
	};
	dl_container_t v[1] = {ctr("aaa", "web", "running")};
	char q[128], err[256];
	dl_query_t *qy;
	json_t *arr;
	dl_store_t *s;
	sqlite3 *db;

	fresh_db("v4");
	s = open_store();
	dl_store_host_online(s, "h", "p", "sw", NULL, 1);
	submit_inventory(s, 1, "h", E1, 1, v, 1);
	wait_ack(1, E1, 1);
	close_store(s);
	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, DOWN_V7, NULL, NULL, NULL), SQLITE_OK);
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++) {
		snprintf(q, sizeof(q), "ALTER TABLE containers DROP COLUMN %s",
			 drop[i]);
		ASSERT_EQ(sqlite3_exec(db, q, NULL, NULL, NULL), SQLITE_OK);
	}
	ASSERT_EQ(sqlite3_exec(db,
			       "ALTER TABLE hosts DROP COLUMN clock_skew_ms;"
			       "ALTER TABLE hosts DROP COLUMN last_data;"
			       "DROP TABLE alerts; DROP TABLE silences;"
			       "PRAGMA user_version = 4",
			       NULL, NULL, NULL),
		  SQLITE_OK);
	sqlite3_close(db);

	s = open_store();
	ASSERT_EQ(sql_int("PRAGMA user_version", NULL), 9);
	ASSERT_EQ(sql_int("SELECT count(*) FROM containers WHERE started_at "
			  "IS NULL AND name = ?",
			  "web"),
		  1);
	qy = dl_query_open(dbpath, err, sizeof(err));
	ASSERT(qy != NULL);
	arr = dl_query_ps(qy, "h", true, err, sizeof(err));
	ASSERT_EQ(json_array_size(arr), 1);
	ASSERT_STR_EQ(jstr(json_array_get(arr, 0), "status"), "Up 3 minutes");
	json_decref(arr);
	dl_query_close(qy);
	close_store(s);
}

static void test_bad_input(void)
{
	static const char bad[] = "ab\xff\xfe"
				  "c\0d";
	dl_attr_t attrs[2] = {{DL_STR("k\"ey"), {bad, sizeof(bad) - 1}},
			      {{"x\0y", 3}, DL_STR("');--")}};
	dl_msg_t m = {.type = DL_MSG_EVENT, .epoch = 1, .seq = 1, .time_ns = 1};
	char long_host[DL_HOST_MAX + 2];
	char txt[256];
	dl_store_t *s;
	uint8_t junk[3] = {0x93, 0x01, 0x02};
	json_t *arr, *a;
	dl_query_t *q;

	fresh_db("bad");
	s = open_store();
	memset(long_host, 'h', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	ASSERT_EQ(dl_store_submit(s, 1, long_host, junk, 3), DL_EINVAL);
	ASSERT_EQ(dl_store_submit(s, 1, "", junk, 3), DL_EINVAL);
	ASSERT_EQ(dl_store_host_online(s, long_host, "", "", NULL, 1),
		  DL_EINVAL);
	/* Not a decodable frame: logged, dropped, the next one still flows. */
	ASSERT_EQ(dl_store_submit(s, 1, "evil", junk, 3), 0);

	m.u.event.type = DL_STR("container'; DROP TABLE events; --");
	m.u.event.action = (dl_str_t){bad, sizeof(bad) - 1};
	m.u.event.id = DL_STR("1");
	m.u.event.name = DL_STR("\"><script>");
	m.u.event.nattrs = 2;
	m.u.event.attrs = attrs;
	ASSERT_EQ(submit(s, 1, "evil", &m), 0);
	wait_ack(1, 1, 1);
	close_store(s);

	ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), 1);
	sql_text("SELECT type FROM events", NULL, txt, sizeof(txt));
	ASSERT_STR_EQ(txt, "container'; DROP TABLE events; --");
	/* invalid bytes and NUL replaced, never stored raw */
	sql_text("SELECT action FROM events", NULL, txt, sizeof(txt));
	ASSERT_STR_EQ(txt, "ab\xef\xbf\xbd\xef\xbf\xbd"
			   "c\xef\xbf\xbd"
			   "d");
	ASSERT_EQ(sql_int("SELECT json_valid(attrs) FROM events", NULL), 1);

	q = dl_query_open(dbpath, txt, sizeof(txt));
	ASSERT(q != NULL);
	arr = dl_query_events(q, NULL, 0, 0, 10, txt, sizeof(txt));
	ASSERT(arr != NULL);
	ASSERT_EQ(json_array_size(arr), 1);
	a = json_object_get(json_array_get(arr, 0), "attributes");
	ASSERT_STR_EQ(jstr(a, "k\"ey"), "ab\xef\xbf\xbd\xef\xbf\xbd"
					"c\xef\xbf\xbd"
					"d");
	ASSERT_STR_EQ(jstr(a, "x\xef\xbf\xbdy"), "');--");
	ASSERT_STR_EQ(jstr(json_array_get(arr, 0), "name"), "\"><script>");
	json_decref(arr);
	dl_query_close(q);
}

static void test_queries(void)
{
	dl_container_t v[3] = {ctr("aaa", "web", "running"),
			       ctr("bbb", "db", "running"),
			       ctr("ccc", "cache", "exited")};
	dl_msg_t m = {.type = DL_MSG_DOCKER, .epoch = E1, .seq = 2};
	uint64_t t0 = 1795471262123456789ull; /* 2026-11-23T22:01:02.1.. */
	char err[256] = "";
	json_t *arr, *h, *e;
	dl_store_t *s;
	dl_query_t *q;
	bool online;
	int64_t seen;
	uint64_t now = dl_clock_wall_ns();

	fresh_db("queries");
	s = open_store();
	dl_store_host_online(s, "web-01", "uid 7", "dockline-agent 0.1.0",
			     "read, lifecycle", now);
	dl_store_host_online(s, "app-02", "uid 8", "dockline-agent 0.1.0", NULL,
			     now);
	submit_inventory(s, 1, "web-01", E1, 1, v, 3);
	m.u.docker = (dl_dockerinfo_t){.up = true,
				       .version = DL_STR("24.0.7"),
				       .api_version = DL_STR("1.43"),
				       .os = DL_STR(""),
				       .kernel = DL_STR(""),
				       .reason = DL_STR("")};
	ASSERT_EQ(submit(s, 1, "web-01", &m), 0);
	/* 10 events, one second apart, on web-01; 1 on app-02 */
	for (uint64_t i = 0; i < 10; i++)
		submit_event(s, 1, "web-01", E1, 3 + i, t0 + i * 1000000000ull,
			     "start");
	submit_event(s, 2, "app-02", E2, 1, t0 + 500000000ull, "die");
	wait_ack(1, E1, 12);
	wait_ack(2, E2, 1);
	dl_store_host_offline(s, "app-02", now);
	wait_idle(s);

	q = dl_query_open(dbpath, err, sizeof(err));
	if (!q)
		DL_FAIL_("dl_query_open: %s", err);

	arr = dl_query_hosts(q, err, sizeof(err));
	ASSERT(arr != NULL);
	ASSERT_EQ(json_array_size(arr), 2);
	h = json_array_get(arr, 0); /* ordered by name */
	ASSERT_STR_EQ(jstr(h, "name"), "app-02");
	ASSERT(json_is_false(json_object_get(h, "online")));
	ASSERT_EQ(jint(h, "containers"), 0);
	h = json_array_get(arr, 1);
	ASSERT_STR_EQ(jstr(h, "name"), "web-01");
	ASSERT(json_is_true(json_object_get(h, "online")));
	ASSERT(json_is_true(json_object_get(h, "docker_up")));
	ASSERT_STR_EQ(jstr(h, "docker_version"), "24.0.7");
	ASSERT_EQ(jint(h, "containers"), 3);
	ASSERT_EQ(jint(h, "running"), 2);
	ASSERT_GE(jint(h, "last_seen"), (int64_t)(now / 1000000000u));
	ASSERT_LE(jint(h, "last_seen"), (int64_t)(now / 1000000000u) + 30);
	ASSERT_LE(jint(h, "last_seen_ago"), 30);
	ASSERT_GE(jint(h, "last_seen_ago"), 0);
	ASSERT_STR_EQ(jstr(h, "peer"), "uid 7");
	ASSERT_STR_EQ(jstr(h, "software"), "dockline-agent 0.1.0");
	ASSERT_STR_EQ(jstr(h, "control"), "read, lifecycle");
	ASSERT(json_is_null(json_object_get(json_array_get(arr, 0),
					    "control"))); /* app-02: none */
	/* + the latest host sample's six keys, null before any HOSTSTATS */
	/* + v5's clock_skew_ms, last_data_ago, dropped_frames, health */
	/* + the unhealthy and restarting counts (issue 12) */
	/* + v8's labels, {} before any are set */
	ASSERT_EQ(json_object_size(h), 24);
	ASSERT_EQ(jint(h, "unhealthy"), 0);
	ASSERT_EQ(jint(h, "restarting"), 0);
	ASSERT_EQ(json_object_size(json_object_get(h, "labels")), 0);
	ASSERT(json_is_object(json_object_get(h, "labels")));
	ASSERT(json_is_null(json_object_get(h, "cpu_percent")));
	ASSERT(json_is_null(json_object_get(h, "disk_total_bytes")));
	json_decref(arr);

	ASSERT_EQ(dl_query_host(q, "web-01", &online, &seen), 1);
	ASSERT(online);
	ASSERT_GE(seen, (int64_t)(now / 1000000000u));
	ASSERT_EQ(dl_query_host(q, "nope", &online, &seen), 0);

	/* ps: running only, all, per host, unknown host */
	arr = dl_query_ps(q, NULL, false, err, sizeof(err));
	ASSERT(arr != NULL);
	ASSERT_EQ(json_array_size(arr), 2);
	json_decref(arr);
	arr = dl_query_ps(q, "web-01", true, err, sizeof(err));
	ASSERT(arr != NULL);
	ASSERT_EQ(json_array_size(arr), 3);
	h = json_array_get(arr, 0); /* ordered by name: cache */
	ASSERT_STR_EQ(jstr(h, "host"), "web-01");
	ASSERT_STR_EQ(jstr(h, "id"), "ccc");
	ASSERT_STR_EQ(jstr(h, "name"), "cache");
	ASSERT_STR_EQ(jstr(h, "image"), "nginx:1.25");
	ASSERT_STR_EQ(jstr(h, "state"), "exited");
	ASSERT_STR_EQ(jstr(h, "status"), "Up 3 minutes");
	ASSERT_STR_EQ(jstr(h, "health"), "");
	ASSERT_EQ(jint(h, "created"), 1700000000);
	/* + the inspect facts and labels, null from an agent that sent
	 * none */
	ASSERT_EQ(json_object_size(h), 17);
	ASSERT(json_is_null(json_object_get(h, "labels")));
	ASSERT(json_is_null(json_object_get(h, "started_at")));
	ASSERT(json_is_null(json_object_get(h, "health_output")));
	json_decref(arr);
	arr = dl_query_ps(q, "app-02", true, err, sizeof(err));
	ASSERT(arr != NULL);
	ASSERT_EQ(json_array_size(arr), 0);
	json_decref(arr);
	err[0] = '\0';
	ASSERT(dl_query_ps(q, "ghost", true, err, sizeof(err)) == NULL);
	ASSERT_STR_EQ(err, "no host named ghost");
	{
		/* filters: a state asks for it even when not running; a
		 * name glob */
		dl_ps_filter_t f = {.state = "exited"};

		arr = dl_query_ps_where(q, &f, err, sizeof(err));
		ASSERT_EQ(json_array_size(arr), 1);
		ASSERT_STR_EQ(jstr(json_array_get(arr, 0), "name"), "cache");
		json_decref(arr);
		f = (dl_ps_filter_t){
			.host = "web-01", .all = true, .name = "[cd]*"};
		arr = dl_query_ps_where(q, &f, err, sizeof(err));
		ASSERT_EQ(json_array_size(arr), 2);
		ASSERT_STR_EQ(jstr(json_array_get(arr, 1), "name"), "db");
		json_decref(arr);
		f.name = "w?b";
		f.state = "exited";
		arr = dl_query_ps_where(q, &f, err, sizeof(err));
		ASSERT_EQ(json_array_size(arr), 0);
		json_decref(arr);
	}
	/* one container: its ps row and (no samples yet) null stats */
	h = dl_query_container(q, "web-01", "db", err, sizeof(err));
	ASSERT(h != NULL);
	ASSERT_STR_EQ(jstr(h, "id"), "bbb");
	ASSERT_STR_EQ(jstr(h, "state"), "running");
	ASSERT(json_is_null(json_object_get(h, "stats")));
	json_decref(h);
	ASSERT(dl_query_container(q, "web-01", "nope", err, sizeof(err)) ==
	       NULL);
	ASSERT_STR_EQ(err, "no container nope on web-01");

	/* events: all, oldest first */
	arr = dl_query_events(q, NULL, 0, 0, 100, err, sizeof(err));
	ASSERT(arr != NULL);
	ASSERT_EQ(json_array_size(arr), 11);
	e = json_array_get(arr, 0);
	ASSERT_STR_EQ(jstr(e, "time"), "2026-11-23T22:01:02.123456789Z");
	ASSERT_EQ(jint(e, "time_ns"), (int64_t)t0);
	ASSERT_STR_EQ(jstr(e, "host"), "web-01");
	ASSERT_STR_EQ(jstr(e, "type"), "container");
	ASSERT_STR_EQ(jstr(e, "action"), "start");
	ASSERT_STR_EQ(jstr(e, "id"), "c0ffee");
	ASSERT_STR_EQ(jstr(e, "name"), "web");
	ASSERT_STR_EQ(jstr(json_object_get(e, "attributes"), "image"),
		      "nginx:1.25");
	ASSERT_EQ(json_object_size(json_object_get(e, "attributes")), 2);
	ASSERT_GT(jint(e, "seq"), 0);
	ASSERT_EQ(json_object_size(e), 9);
	e = json_array_get(arr, 1); /* app-02's, half a second later */
	ASSERT_STR_EQ(jstr(e, "host"), "app-02");
	ASSERT_STR_EQ(jstr(e, "time"), "2026-11-23T22:01:02.623456789Z");
	json_decref(arr);

	/* host filter */
	arr = dl_query_events(q, "app-02", 0, 0, 100, err, sizeof(err));
	ASSERT_EQ(json_array_size(arr), 1);
	ASSERT_STR_EQ(jstr(json_array_get(arr, 0), "action"), "die");
	json_decref(arr);
	arr = dl_query_events(q, "ghost", 0, 0, 100, err, sizeof(err));
	ASSERT(arr != NULL);
	ASSERT_EQ(json_array_size(arr), 0);
	json_decref(arr);
	{
		/* type and action filters, with and without a host */
		dl_event_filter_t f = {.action = "die", .limit = 100};

		arr = dl_query_events_where(q, &f, err, sizeof(err));
		ASSERT_EQ(json_array_size(arr), 1);
		ASSERT_STR_EQ(jstr(json_array_get(arr, 0), "host"), "app-02");
		json_decref(arr);
		f = (dl_event_filter_t){.host = "web-01",
					.type = "container",
					.action = "start",
					.limit = 100};
		arr = dl_query_events_where(q, &f, err, sizeof(err));
		ASSERT_EQ(json_array_size(arr), 10);
		json_decref(arr);
		f.type = "image";
		arr = dl_query_events_where(q, &f, err, sizeof(err));
		ASSERT_EQ(json_array_size(arr), 0);
		json_decref(arr);
	}

	/* since: the last 3 seconds of web-01's events */
	arr = dl_query_events(q, "web-01", t0 + 7000000000ull, 0, 100, err,
			      sizeof(err));
	ASSERT_EQ(json_array_size(arr), 3);
	ASSERT_EQ(jint(json_array_get(arr, 0), "time_ns"),
		  (int64_t)(t0 + 7000000000ull));
	json_decref(arr);

	/* limit: the newest ones, oldest first */
	arr = dl_query_events(q, "web-01", 0, 0, 4, err, sizeof(err));
	ASSERT_EQ(json_array_size(arr), 4);
	ASSERT_EQ(jint(json_array_get(arr, 0), "time_ns"),
		  (int64_t)(t0 + 6000000000ull));
	ASSERT_EQ(jint(json_array_get(arr, 3), "time_ns"),
		  (int64_t)(t0 + 9000000000ull));
	{
		/* after: only rows past a seen row id (follow) */
		json_int_t mid = jint(json_array_get(arr, 1), "seq");
		json_t *rest = dl_query_events(q, "web-01", 0, mid, 100, err,
					       sizeof(err));

		ASSERT_EQ(json_array_size(rest), 2);
		ASSERT_GT(jint(json_array_get(rest, 0), "seq"), mid);
		json_decref(rest);
		/* app-02's event arrived last: its row id is past mid too,
		 * though its time is older (listed first) */
		rest = dl_query_events(q, NULL, 0, mid, 100, err, sizeof(err));
		ASSERT_EQ(json_array_size(rest), 3);
		ASSERT_STR_EQ(jstr(json_array_get(rest, 0), "host"), "app-02");
		json_decref(rest);
	}
	json_decref(arr);
	dl_query_close(q);
	close_store(s);

	/* a file that is not a store */
	ASSERT(dl_query_open("/nonexistent/x.db", err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "cannot open") != NULL);
}

/* Occurrences of needle in the file at path. */
static int count_in_file(const char *path, const char *needle)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	ASSERT(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* Another writer holds the lock past busy_timeout: the batch fails, is
 * rolled back, is not acked, and goes in once the lock is gone. The
 * episode is logged once when it starts and once when it ends. */
static void test_commit_retry(void)
{
	char logpath[sizeof(dbpath) + 8];
	int saved_err, logfd;
	uint64_t end;
	dl_store_t *s;
	sqlite3 *db;
	uv_timer_t t;

	fresh_db("retry");
	snprintf(logpath, sizeof(logpath), "%s.log", dbpath);
	fflush(stderr);
	saved_err = dup(2);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ASSERT(saved_err >= 0 && logfd >= 0);
	ASSERT_EQ(dup2(logfd, 2), 2);
	close(logfd);
	s = open_store();
	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
		  SQLITE_OK);
	submit_event(s, 1, "h", E1, 1, 1, "start");
	uv_timer_init(&loop, &t);
	uv_timer_start(&t, on_tick, 5, 5);
	end = dl_clock_mono_ns() + 5600000000ull; /* past busy_timeout */
	while (dl_clock_mono_ns() < end)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(acked[1].calls, 0);
	ASSERT_EQ(dl_store_pending(s), 1);
	ASSERT_EQ(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	wait_ack(1, E1, 1);
	ASSERT_EQ(acked[1].calls, 1);
	ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), 1);
	close_store(s);
	fflush(stderr);
	ASSERT_EQ(dup2(saved_err, 2), 2);
	close(saved_err);
	ASSERT_EQ(count_in_file(logpath, "is locked by another process"), 1);
	ASSERT_EQ(count_in_file(logpath, "holding 1 frame, agents keep "
					 "spooling"),
		  1);
	ASSERT_EQ(count_in_file(logpath, "is writable again after"), 1);
	ASSERT_EQ(count_in_file(logpath, "ERROR"), 1);
	unlink(logpath);
}

/* Readers on their own connections while the writer commits batch after
 * batch: WAL means no reader ever sees an error. */
static int readers_stop;
static int reader_errors, reader_queries;

static void *reader_main(void *arg)
{
	char err[256];
	dl_query_t *q = NULL;

	while (!q && !__atomic_load_n(&readers_stop, __ATOMIC_SEQ_CST))
		q = dl_query_open(dbpath, err, sizeof(err));
	while (!__atomic_load_n(&readers_stop, __ATOMIC_SEQ_CST)) {
		json_t *a =
			dl_query_events(q, NULL, 0, 0, 50, err, sizeof(err));
		json_t *h = dl_query_hosts(q, err, sizeof(err));

		if (!a || !h) {
			fprintf(stderr, "reader: %s\n", err);
			__atomic_add_fetch(&reader_errors, 1, __ATOMIC_SEQ_CST);
		}
		json_decref(a);
		json_decref(h);
		__atomic_add_fetch(&reader_queries, 1, __ATOMIC_SEQ_CST);
		usleep(500); /* two CPUs in CI: leave some to the writer */
	}
	dl_query_close(q);
	return arg;
}

static void test_readers_during_commits(void)
{
	enum { TOTAL = 6000 };
	pthread_t th[2];
	dl_store_t *s;

	fresh_db("wal");
	s = open_store();
	dl_store_host_online(s, "busy", "p", "sw", NULL, 1);
	wait_idle(s);
	__atomic_store_n(&readers_stop, 0, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++)
		ASSERT_EQ(pthread_create(&th[i], NULL, reader_main, NULL), 0);
	for (uint64_t i = 1; i <= TOTAL; i++) {
		submit_event(s, 1, "busy", E1, i, i, "exec_start");
		if (i % 500 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	wait_ack(1, E1, TOTAL);
	__atomic_store_n(&readers_stop, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ASSERT_EQ(reader_errors, 0);
	ASSERT_GT(reader_queries, 2);
	ASSERT_EQ(sql_int("SELECT count(*) FROM events", NULL), TOTAL);
	/* acks are coalesced: far fewer callbacks than frames */
	ASSERT_LT(acked[1].calls, TOTAL / 10);
	close_store(s);
}

int main(void)
{
	char tmpl[] = "/tmp/dl-test-store-XXXXXX";

	ASSERT(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s", tmpl);
	uv_loop_init(&loop);
	RUN(test_ingest_ack_replay_epoch);
	RUN(test_containers_docker_dropped);
	RUN(test_reopen_and_migrations);
	RUN(test_bad_input);
	RUN(test_queries);
	RUN(test_health);
	RUN(test_migrate_v4);
	RUN(test_labels);
	RUN(test_host_labels);
	RUN(test_migrate_v6);
	RUN(test_migrate_v8);
	RUN(test_host_figures);
	RUN(test_readers_during_commits);
	RUN(test_commit_retry);
	ASSERT_EQ(uv_loop_close(&loop), 0);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ASSERT_EQ(system(cmd), 0);
	}
	return 0;
}
