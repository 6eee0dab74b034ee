/* store.c - the collector's SQLite store: schema, one writer thread, acks.
 *
 * The loop thread only copies payloads onto a mutex-protected queue; the
 * writer thread owns the one write connection and applies whole batches
 * in one transaction, deduplicating on the per-host delivery (epoch, seq)
 * in the same transaction. Acks go back to the loop thread through a
 * uv_async_t only after COMMIT succeeded. Values from the wire are only
 * ever bound (sqlite3_bind_*), never pasted into SQL. */
#include "collector/store.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "proto/msg.h"

#define TAG	       "store"
#define SCHEMA_VERSION 4
#define RETRY_SLEEP_MS 200
#define CLOSE_RETRIES  3 /* failed COMMITs tolerated while closing */

/* Rollup tiers share one shape: sums and counts (so partial buckets
 * merge by addition), maxima, and the newest sample's counters and
 * gauges ("last"), keyed by (owner, bucket start). For hosts, mem_* is
 * mem_used and mem_limit is mem_total. */
#define ROLLUP_COLS(owner)                                                     \
	"k " owner " NOT NULL, bucket INTEGER NOT NULL,"                       \
	" n INTEGER NOT NULL, cpu_sum REAL NOT NULL, cpu_n INTEGER NOT NULL,"  \
	" cpu_max REAL, mem_sum REAL NOT NULL, mem_n INTEGER NOT NULL,"        \
	" mem_max INTEGER, last_ts INTEGER NOT NULL, mem_limit INTEGER,"       \
	" net_rx INTEGER, net_tx INTEGER, blk_read INTEGER,"                   \
	" blk_write INTEGER, pids INTEGER,"                                    \
	" PRIMARY KEY (k, bucket)"

/* Migrations: entry i takes the schema from user_version i to i + 1. */
static const char *const migrations[SCHEMA_VERSION] = {
	"CREATE TABLE hosts ("
	" name TEXT PRIMARY KEY,"
	" online INTEGER NOT NULL DEFAULT 0,"
	" first_seen INTEGER, last_seen INTEGER,"
	" peer TEXT, software TEXT,"
	" docker_up INTEGER NOT NULL DEFAULT 0,"
	" docker_version TEXT, docker_api_version TEXT, os TEXT, kernel TEXT,"
	" ncpu INTEGER, mem_total INTEGER, docker_reason TEXT,"
	" dropped_frames INTEGER NOT NULL DEFAULT 0,"
	" dropped_bytes INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE delivery ("
	" host TEXT PRIMARY KEY REFERENCES hosts(name),"
	" epoch INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" updated_ns INTEGER NOT NULL);"
	"CREATE TABLE containers ("
	" host TEXT NOT NULL REFERENCES hosts(name), id TEXT NOT NULL,"
	" name TEXT, image TEXT, state TEXT, status TEXT, health TEXT,"
	" created INTEGER, updated_ns INTEGER NOT NULL,"
	" PRIMARY KEY (host, id)) WITHOUT ROWID;"
	"CREATE TABLE events ("
	" id INTEGER PRIMARY KEY,"
	" host TEXT NOT NULL REFERENCES hosts(name),"
	" time_ns INTEGER NOT NULL, type TEXT, action TEXT, actor_id TEXT,"
	" name TEXT, attrs TEXT NOT NULL DEFAULT '{}',"
	" epoch INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" UNIQUE (host, epoch, seq));"
	"CREATE INDEX events_host_time ON events(host, time_ns);"
	"CREATE INDEX events_time ON events(time_ns);",

	/* v2: stats. Samples key containers by a compact integer (cid) that
	 * outlives the containers row, so history of a removed container
	 * stays readable until retention drops it. Times are unix ns;
	 * rollup buckets are the bucket's start. */
	"ALTER TABLE containers ADD COLUMN idx INTEGER;"
	"CREATE INDEX containers_idx ON containers(host, idx);"
	"CREATE TABLE container_keys ("
	" cid INTEGER PRIMARY KEY, host TEXT NOT NULL, id TEXT NOT NULL,"
	" name TEXT, UNIQUE (host, id));"
	"INSERT INTO container_keys(host, id, name)"
	" SELECT host, id, name FROM containers;"
	"CREATE TABLE container_samples ("
	" cid INTEGER NOT NULL, ts INTEGER NOT NULL, cpu_ns INTEGER,"
	" cpu_percent REAL, mem_usage INTEGER, mem_limit INTEGER,"
	" net_rx INTEGER, net_tx INTEGER, blk_read INTEGER,"
	" blk_write INTEGER, pids INTEGER,"
	" PRIMARY KEY (cid, ts)) WITHOUT ROWID;"
	"CREATE TABLE container_1m (" ROLLUP_COLS(
		"INTEGER") ") WITHOUT ROWID;"
			   "CREATE TABLE container_1h (" ROLLUP_COLS(
				   "INTEGER") ") WITHOUT ROWID;"
					      "CREATE TABLE host_samples ("
					      " host TEXT NOT NULL, ts INTEGER "
					      "NOT NULL, cpu_percent REAL,"
					      " mem_used INTEGER, mem_total "
					      "INTEGER, mem_available INTEGER,"
					      " swap_used INTEGER, swap_total "
					      "INTEGER,"
					      " load1 REAL, load5 REAL, load15 "
					      "REAL,"
					      " disk_used INTEGER, disk_total "
					      "INTEGER,"
					      " net_rx INTEGER, net_tx INTEGER,"
					      " PRIMARY KEY (host, ts)) "
					      "WITHOUT ROWID;"
					      "CREATE TABLE host_1m "
					      "(" ROLLUP_COLS(
						      "TEXT") ") WITHOUT ROWID;"
							      "CREATE TABLE "
							      "host_1h "
							      "(" ROLLUP_COLS(
								      "TEXT") ") WITHOUT ROWID;",

	/* v3: the audit log of control requests. No REFERENCES to hosts:
	 * rows outlive `forget --purge` and may name hosts that never
	 * existed (a request to "app-9" is audited too). */
	"CREATE TABLE audit ("
	" id INTEGER PRIMARY KEY,"
	" req TEXT NOT NULL UNIQUE,"
	" time_ns INTEGER NOT NULL,"
	" uid INTEGER NOT NULL, user TEXT NOT NULL,"
	" host TEXT NOT NULL, op TEXT NOT NULL,"
	" target TEXT NOT NULL DEFAULT '', args TEXT NOT NULL DEFAULT '',"
	" status TEXT NOT NULL,"
	" message TEXT NOT NULL DEFAULT '',"
	" exit_code INTEGER, duration_ms INTEGER);"
	"CREATE INDEX audit_time ON audit(time_ns);"
	"CREATE INDEX audit_host_time ON audit(host, time_ns);"
	/* What the host's agent allows the collector to do, from its
	 * HELLO; NULL: an agent without control. */
	"ALTER TABLE hosts ADD COLUMN control TEXT;",

	/* v4: API tokens. Only the SHA-256 of a secret is stored; a revoked
	 * row stays (revoked = unix s) until a token of that name is made
	 * again. Times are unix s; expires NULL = never. */
	"CREATE TABLE tokens ("
	" name TEXT PRIMARY KEY,"
	" hash TEXT NOT NULL UNIQUE,"
	" role TEXT NOT NULL,"
	" hosts TEXT NOT NULL DEFAULT '*',"
	" created INTEGER NOT NULL,"
	" expires INTEGER, last_used INTEGER, revoked INTEGER);",
};

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVE,
	ST_RELEASE,
	ST_ROLLTO,
	ST_HOST_TOUCH,
	ST_HOST_ONLINE,
	ST_HOST_OFFLINE,
	ST_HOST_DOCKER,
	ST_HOST_DROPPED,
	ST_DELIV_GET,
	ST_DELIV_SET,
	ST_CT_UPSERT,
	ST_CT_DELETE,
	ST_CT_PRUNE,
	ST_EVENT,
	ST_KEY_UPSERT,
	ST_IDX_CID,
	ST_IDX_ALL,
	ST_CS_INSERT,
	ST_PREV_TS,
	ST_CLOSE_1M,
	ST_CLOSE_1H,
	ST_HS_INSERT,
	ST_H1M,
	ST_H1H,
	ST_RET_CIDS,
	ST_RET_HOSTS,
	ST_DEL_CS,
	ST_DEL_C1M,
	ST_DEL_C1H,
	ST_DEL_HS,
	ST_DEL_H1M,
	ST_DEL_H1H,
	ST_DEL_AUDIT,
	ST_AUDIT_START,
	ST_AUDIT_END,
	ST_TOKEN_CREATE,
	ST_TOKEN_REVOKE,
	ST_TOKEN_USED,
	ST_COUNT
};

/* Merges a partial bucket (?1 key, ?2 bucket, ?3 n, ?4 cpu_sum, ?5 cpu_n,
 * ?6 cpu_max, ?7 mem_sum, ?8 mem_n, ?9 mem_max, ?10 last_ts, ?11..?16
 * last values) into a rollup row: sums add, maxima max (NULL = none), the
 * newer sample's last values win. */
#define ROLLUP_UPSERT(t)                                                       \
	"INSERT INTO " t "(k, bucket, n, cpu_sum, cpu_n, cpu_max, mem_sum, "   \
	"mem_n, mem_max, last_ts, mem_limit, net_rx, net_tx, blk_read, "       \
	"blk_write, pids) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "    \
	"?11, ?12, ?13, ?14, ?15, ?16) ON CONFLICT(k, bucket) DO UPDATE SET "  \
	"n = n + excluded.n, cpu_sum = cpu_sum + excluded.cpu_sum, "           \
	"cpu_n = cpu_n + excluded.cpu_n, "                                     \
	"cpu_max = CASE WHEN cpu_max IS NULL OR excluded.cpu_max > cpu_max "   \
	"THEN coalesce(excluded.cpu_max, cpu_max) ELSE cpu_max END, "          \
	"mem_sum = mem_sum + excluded.mem_sum, "                               \
	"mem_n = mem_n + excluded.mem_n, "                                     \
	"mem_max = CASE WHEN mem_max IS NULL OR excluded.mem_max > mem_max "   \
	"THEN coalesce(excluded.mem_max, mem_max) ELSE mem_max END, "          \
	"mem_limit = CASE WHEN excluded.last_ts >= last_ts "                   \
	"THEN excluded.mem_limit ELSE mem_limit END, "                         \
	"net_rx = CASE WHEN excluded.last_ts >= last_ts "                      \
	"THEN excluded.net_rx ELSE net_rx END, "                               \
	"net_tx = CASE WHEN excluded.last_ts >= last_ts "                      \
	"THEN excluded.net_tx ELSE net_tx END, "                               \
	"blk_read = CASE WHEN excluded.last_ts >= last_ts "                    \
	"THEN excluded.blk_read ELSE blk_read END, "                           \
	"blk_write = CASE WHEN excluded.last_ts >= last_ts "                   \
	"THEN excluded.blk_write ELSE blk_write END, "                         \
	"pids = CASE WHEN excluded.last_ts >= last_ts "                        \
	"THEN excluded.pids ELSE pids END, "                                   \
	"last_ts = max(last_ts, excluded.last_ts)"

/* Container rollups are computed when a bucket closes (the container's
 * first sample in a later bucket): the minute from its raw samples, the
 * hour from its minutes, each one primary-key range read and one write,
 * so ingest pays about 1/6 of a write per sample for both tiers instead
 * of two upserts. Idempotent (INSERT OR REPLACE over a recomputation), so
 * closing a bucket twice, or again after a late sample, is harmless.
 * ?1 key, ?2 bucket start, ?3 bucket width; the "last" values come from
 * the newest source row, found by its key. */
#define CLOSE_BUCKET(src, k, ts, n, cs, cn, cm, ms, mn, mm, last, dst)         \
	"INSERT OR REPLACE INTO " dst "(k, bucket, n, cpu_sum, cpu_n, "        \
	"cpu_max, mem_sum, mem_n, mem_max, last_ts, mem_limit, net_rx, "       \
	"net_tx, blk_read, blk_write, pids) SELECT ?1, ?2, a.n, a.cs, a.cn, "  \
	"a.cm, a.ms, a.mn, a.mm, a.last, l.mem_limit, l.net_rx, l.net_tx, "    \
	"l.blk_read, l.blk_write, l.pids FROM (SELECT " n " AS n, " cs         \
	" AS cs, " cn " AS cn, " cm " AS cm, " ms " AS ms, " mn " AS mn, " mm  \
	" AS mm, " last " AS last, max(" ts ") AS lk FROM " src " WHERE " k    \
	" = ?1 AND " ts " >= ?2 AND " ts " < ?2 + ?3) a JOIN " src             \
	" l ON l." k " = ?1 AND l." ts " = a.lk"

/* Retention: the oldest rows of one key, at most ?3, all on the primary
 * key, so a step costs what it deletes and never scans the table. */
#define RETENTION_DELETE(t, k, ts)                                             \
	"DELETE FROM " t " WHERE " k " = ?1 AND " ts " IN (SELECT " ts         \
	" FROM " t " WHERE " k " = ?1 AND " ts " < ?2 ORDER BY " ts            \
	" LIMIT ?3)"

static const char *const sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVE] = "SAVEPOINT item",
	[ST_RELEASE] = "RELEASE item",
	[ST_ROLLTO] = "ROLLBACK TO item",
	[ST_HOST_TOUCH] =
		"INSERT INTO hosts(name, online, first_seen, last_seen) "
		"VALUES(?1, 0, ?2, ?2) ON CONFLICT(name) DO UPDATE SET "
		"last_seen = max(coalesce(last_seen, 0), excluded.last_seen)",
	[ST_HOST_ONLINE] =
		"INSERT INTO hosts(name, online, first_seen, last_seen, peer, "
		"software, control) VALUES(?1, 1, ?2, ?2, ?3, ?4, ?5) ON "
		"CONFLICT(name) DO UPDATE SET online = 1, last_seen = "
		"excluded.last_seen, peer = excluded.peer, software = "
		"excluded.software, control = excluded.control",
	[ST_HOST_OFFLINE] =
		"INSERT INTO hosts(name, online, first_seen, last_seen) "
		"VALUES(?1, 0, ?2, ?2) ON CONFLICT(name) DO UPDATE SET "
		"online = 0, last_seen = excluded.last_seen",
	/* A down Engine keeps the identity it had, so `hosts` can still say
	 * which version went away. */
	[ST_HOST_DOCKER] =
		"UPDATE hosts SET docker_up = ?2,"
		" docker_version = CASE WHEN ?2 THEN ?3 ELSE docker_version "
		"END,"
		" docker_api_version = CASE WHEN ?2 THEN ?4"
		" ELSE docker_api_version END,"
		" os = CASE WHEN ?2 THEN ?5 ELSE os END,"
		" kernel = CASE WHEN ?2 THEN ?6 ELSE kernel END,"
		" ncpu = CASE WHEN ?2 THEN ?7 ELSE ncpu END,"
		" mem_total = CASE WHEN ?2 THEN ?8 ELSE mem_total END,"
		" docker_reason = ?9 WHERE name = ?1",
	/* The agent sends its running totals, so they replace. */
	[ST_HOST_DROPPED] = "UPDATE hosts SET dropped_frames = ?2, "
			    "dropped_bytes = ?3 WHERE name = ?1",
	[ST_DELIV_GET] = "SELECT epoch, seq FROM delivery WHERE host = ?1",
	[ST_DELIV_SET] =
		"INSERT INTO delivery(host, epoch, seq, updated_ns) "
		"VALUES(?1, ?2, ?3, ?4) ON CONFLICT(host) DO UPDATE SET "
		"epoch = excluded.epoch, seq = excluded.seq, "
		"updated_ns = excluded.updated_ns",
	[ST_CT_UPSERT] =
		"INSERT INTO containers(host, id, name, image, state, status, "
		"health, created, updated_ns, idx) VALUES(?1, ?2, ?3, ?4, ?5, "
		"?6, ?7, ?8, ?9, ?10) ON CONFLICT(host, id) DO UPDATE SET "
		"idx = excluded.idx, "
		"name = excluded.name, image = excluded.image, "
		"state = excluded.state, status = excluded.status, "
		"health = excluded.health, created = excluded.created, "
		"updated_ns = excluded.updated_ns",
	[ST_CT_DELETE] = "DELETE FROM containers WHERE host = ?1 AND id = ?2",
	[ST_CT_PRUNE] =
		"DELETE FROM containers WHERE host = ?1 AND updated_ns <> ?2",
	/* OR IGNORE: an epoch seen before, then another, then the first
	 * again is accepted as "different" and may repeat a (host, epoch,
	 * seq); the first copy wins. */
	[ST_EVENT] = "INSERT OR IGNORE INTO events(host, time_ns, type, "
		     "action, actor_id, name, attrs, epoch, seq) "
		     "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ST_KEY_UPSERT] =
		"INSERT INTO container_keys(host, id, name) VALUES(?1, ?2, ?3) "
		"ON CONFLICT(host, id) DO UPDATE SET name = excluded.name "
		"WHERE name IS NOT excluded.name",
	/* A stale row of an earlier session may still carry the idx until
	 * the next INVENTORY prunes it: the newest row wins. */
	[ST_IDX_CID] = "SELECT k.cid FROM containers c JOIN container_keys k "
		       "ON k.host = c.host AND k.id = c.id WHERE c.host = ?1 "
		       "AND c.idx = ?2 ORDER BY c.updated_ns DESC LIMIT 1",
	/* OR IGNORE: a second sample at the same instant (an epoch replay)
	 * keeps the first, and changes() tells the rollup to skip it. */
	/* The whole host's map in one statement (older rows first, so the
	 * newest wins when a stale one shares an idx). */
	[ST_IDX_ALL] = "SELECT c.idx, k.cid FROM containers c JOIN "
		       "container_keys k ON k.host = c.host AND k.id = c.id "
		       "WHERE c.host = ?1 AND c.idx IS NOT NULL ORDER BY "
		       "c.updated_ns",
	[ST_CS_INSERT] = "INSERT OR IGNORE INTO container_samples VALUES(?1, "
			 "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_PREV_TS] = "SELECT max(ts) FROM container_samples WHERE cid = ?1 "
		       "AND ts < ?2",
	[ST_CLOSE_1M] =
		CLOSE_BUCKET("container_samples", "cid", "ts", "count(*)",
			     "coalesce(sum(cpu_percent), 0)",
			     "count(cpu_percent)", "max(cpu_percent)",
			     "coalesce(sum(mem_usage), 0)", "count(mem_usage)",
			     "max(mem_usage)", "max(ts)", "container_1m"),
	[ST_CLOSE_1H] = CLOSE_BUCKET(
		"container_1m", "k", "bucket", "sum(n)", "sum(cpu_sum)",
		"sum(cpu_n)", "max(cpu_max)", "sum(mem_sum)", "sum(mem_n)",
		"max(mem_max)", "max(last_ts)", "container_1h"),
	[ST_HS_INSERT] = "INSERT OR IGNORE INTO host_samples VALUES(?1, ?2, "
			 "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "
			 "?15)",
	[ST_H1M] = ROLLUP_UPSERT("host_1m"),
	[ST_H1H] = ROLLUP_UPSERT("host_1h"),
	[ST_RET_CIDS] = "SELECT cid FROM container_keys WHERE cid > ?1 "
			"ORDER BY cid LIMIT ?2",
	[ST_RET_HOSTS] = "SELECT name FROM hosts",
	[ST_DEL_CS] = RETENTION_DELETE("container_samples", "cid", "ts"),
	[ST_DEL_C1M] = RETENTION_DELETE("container_1m", "k", "bucket"),
	[ST_DEL_C1H] = RETENTION_DELETE("container_1h", "k", "bucket"),
	[ST_DEL_HS] = RETENTION_DELETE("host_samples", "host", "ts"),
	[ST_DEL_H1M] = RETENTION_DELETE("host_1m", "k", "bucket"),
	[ST_DEL_H1H] = RETENTION_DELETE("host_1h", "k", "bucket"),
	/* ret_delete's shape: ?1 is a key audit rows do not have. */
	[ST_DEL_AUDIT] = "DELETE FROM audit WHERE id IN (SELECT id FROM audit "
			 "WHERE ?1 IS NOT NULL AND time_ns < ?2 AND status <> "
			 "'running' ORDER BY time_ns LIMIT ?3)",
	[ST_AUDIT_START] = "INSERT INTO audit(req, time_ns, uid, user, host, "
			   "op, target, args, status) VALUES(?1, ?2, ?3, ?4, "
			   "?5, ?6, ?7, ?8, 'running')",
	/* Only a running row: an outcome, once written, is final. */
	[ST_AUDIT_END] = "UPDATE audit SET status = ?2, message = ?3, "
			 "exit_code = ?4, duration_ms = ?5 WHERE req = ?1 "
			 "AND status = 'running'",
	/* A live token of that name wins: changes() = 0 says so. */
	[ST_TOKEN_CREATE] =
		"INSERT INTO tokens(name, hash, role, hosts, created, expires) "
		"VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE "
		"SET "
		"hash = excluded.hash, role = excluded.role, hosts = "
		"excluded.hosts, created = excluded.created, expires = "
		"excluded.expires, last_used = NULL, revoked = NULL WHERE "
		"tokens.revoked IS NOT NULL",
	[ST_TOKEN_REVOKE] = "UPDATE tokens SET revoked = ?2 WHERE name = ?1 "
			    "AND revoked IS NULL",
	[ST_TOKEN_USED] = "UPDATE tokens SET last_used = ?2 WHERE name = ?1 "
			  "AND revoked IS NULL",
};

typedef enum {
	IT_DATA,
	IT_ONLINE,
	IT_OFFLINE,
	IT_FORGET,
	IT_AUDIT_START,
	IT_AUDIT_END,
	IT_TOKEN_CREATE,
	IT_TOKEN_REVOKE,
	IT_TOKEN_USED
} item_kind_t;

typedef struct item {
	struct item *next;
	item_kind_t kind;
	uint64_t sid;
	uint64_t time_ns; /* collector wall clock when queued; audit: start */
	char host[DL_HOST_MAX + 1]; /* "" for audit items (host in data) */
	size_t len;
	union {
		uint32_t uid; /* IT_AUDIT_START */
		struct {
			int exit_code; /* INT_MIN: none */
			int64_t duration_ms;
		} end; /* IT_AUDIT_END */
		struct {
			int64_t created, expires; /* IT_TOKEN_CREATE */
			int64_t when;		  /* REVOKE, USED */
		} tok;
	} au;
	/* Items that want their outcome: called on the loop thread after
	 * the batch holding them committed (or was given up), with result
	 * (0 or DL_E*), set by the item's apply. */
	dl_store_done_cb done;
	void *done_ud;
	int result;
	/* IT_DATA: the payload; IT_ONLINE: "peer\0software\0control\0";
	 * IT_AUDIT_START: "req\0user\0host\0op\0target\0args\0";
	 * IT_AUDIT_END: "req\0status\0message\0";
	 * IT_TOKEN_CREATE: "name\0hash\0role\0hosts\0"; REVOKE, USED:
	 * "name\0". */
	uint8_t data[];
} item_t;

typedef struct {
	uint64_t sid;
	uint64_t epoch, seq;
} ack_t;

typedef struct {
	dl_store_done_cb cb;
	void *ud;
	int result;
} done_t;

typedef struct {
	char host[DL_HOST_MAX + 1];
	uint64_t epoch, seq;
} deliv_t;

/* A host as the current batch sees it. */
typedef struct {
	char host[DL_HOST_MAX + 1];
	bool have, dirty; /* delivery row exists / advanced this batch */
	uint64_t epoch, seq;
	uint64_t touched_ns; /* last_seen written at first sight */
	uint64_t last_ns;    /* newest item time in the batch */
} bhost_t;

/* Growable array of fixed-size entries. */
typedef struct {
	void *v;
	size_t n, cap, size;
} vec_t;

#define MINUTE_NS     60000000000ll
#define HOUR_NS	      3600000000000ll
#define IDX_CACHE_MAX (1u << 20) /* idx beyond this: looked up, not cached */
#define RET_STEP_ROWS 5000	 /* rows one retention step may delete */
#define RET_STEP_KEYS 256	 /* containers one retention step visits */
#define RET_PERIOD_NS 1000000000ull

enum { TIER_MIN, TIER_HOUR, TIERS };

/* A rollup bucket being filled in writer memory; merged into its row
 * (ROLLUP_UPSERT) once per batch or when the bucket changes. */
typedef struct {
	int64_t bucket; /* -1: nothing yet */
	int64_t n, cpu_n, mem_n;
	double cpu_sum, cpu_max, mem_sum;
	uint64_t mem_max;
	bool cpu_any, mem_any;
	int64_t last_ts;
	dl_sample_t last;
} acc_t;

/* Per container (cid): the previous CPU reading for cpu_percent, and
 * the open minute and hour (-1 before the first sample this run). Open
 * addressing on cid; cid 0 = free. */
typedef struct {
	int64_t cid;
	bool have_prev;
	uint64_t prev_ts, prev_cpu, prev_sys;
	int64_t open[TIERS];
} cstate_t;

/* Per host: the agent's idx -> cid map (0 unknown, -1 no such container)
 * for this session's numbering, and the previous CPU totals. */
typedef struct {
	char host[DL_HOST_MAX + 1];
	int64_t *cid_by_idx;
	size_t nidx;
	bool loaded; /* cid_by_idx filled from the database since forgotten */
	bool have_prev;
	uint64_t prev_ts, prev_total, prev_idle;
} hstate_t;

struct dl_store {
	uv_loop_t *loop;
	uv_async_t async;
	dl_store_ack_cb ack_cb;
	void *ud;
	char *path;

	/* Writer side: only the writer thread touches these after open. */
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	pthread_t thread;
	bool thread_started;
	uint64_t stamp; /* last containers.updated_ns handed out */
	vec_t b_acks;	/* ack_t per session, this batch */
	vec_t b_hosts;	/* bhost_t per host seen, this batch */
	cstate_t *ctab; /* stats state per container, ccap slots */
	size_t ccap, cn;
	vec_t hstates;	      /* hstate_t sorted by host */
	int64_t ret_cursor;   /* retention: next cid after this one */
	uint64_t ret_next;    /* retention: next step, monotonic ns */
	int64_t ret_ns[3];    /* raw, minute, hour windows (under mu) */
	int64_t ret_audit_ns; /* audit rows kept (under mu) */
	bool ret_kick;	      /* run a step now (under mu) */

	/* Queue, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	item_t *head, *tail;
	size_t nitems;
	size_t inflight; /* taken by the writer, not yet committed */
	size_t qbytes;	 /* payload bytes queued or in flight */
	bool stopping;

	/* Acks for the loop thread, under ack_mu. */
	pthread_mutex_t ack_mu;
	vec_t acks;
	vec_t dones; /* done_t, in commit order */

	/* Delivery cache sorted by host, under cache_mu. */
	pthread_mutex_t cache_mu;
	vec_t cache;

	/* Live push (pubsub.c). The writer collects, per batch, the newest
	 * event row and the hosts whose samples it stored; after COMMIT it
	 * hands them over under ack_mu, only while push_on. */
	dl_store_push_cb push_cb;
	void *push_ud;
	atomic_bool push_on;
	atomic_int_least64_t last_event; /* newest committed event row id */
	int64_t b_event;		 /* this batch's newest, 0 none */
	vec_t b_push_hosts;		 /* char[DL_HOST_MAX + 1], batch */
	bool push_pending;		 /* under ack_mu */
	vec_t push_hosts;		 /* under ack_mu, for the loop */

	/* Counters for metrics (any thread reads). */
	atomic_uint_least64_t n_events, n_samples, n_host_samples;
	uint64_t b_events_n, b_samples_n, b_hsamples_n; /* writer, batch */
	atomic_uint_least64_t commit_le[DL_STORE_COMMIT_BUCKETS + 1];
	atomic_uint_least64_t commit_ns_sum;
};

const double dl_store_commit_bounds[DL_STORE_COMMIT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */

static void *vec_push(vec_t *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		void *v = realloc(a->v, cap * a->size);

		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	return (char *)a->v + a->n++ * a->size;
}

static void *vec_at(const vec_t *a, size_t i)
{
	return (char *)a->v + i * a->size;
}

/* Binds text as is when it is clean UTF-8 (the common case, no copy: the
 * item outlives the step), else a repaired copy, so what is stored is
 * always valid UTF-8 that the JSON side can hand out. */
static int bind_str(sqlite3_stmt *st, int i, dl_str_t s)
{
	char *c;

	if (dl_utf8_valid(s.p, s.n))
		return sqlite3_bind_text(st, i, s.n ? s.p : "", (int)s.n,
					 SQLITE_STATIC);
	if (!(c = dl_utf8_dup(s.p, s.n)))
		return SQLITE_NOMEM;
	return sqlite3_bind_text(st, i, c, -1, free);
}

static int bind_cstr(sqlite3_stmt *st, int i, const char *s)
{
	return bind_str(st, i, (dl_str_t){s, (uint32_t)strlen(s)});
}

/* Steps a write statement to completion and resets it. */
static int run(dl_store_t *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Delivery cache                                                      */

/* Index of host in the sorted cache, or where it would go (*found
 * false). Caller holds cache_mu. */
static size_t cache_find(const dl_store_t *s, const char *host, bool *found)
{
	size_t lo = 0, hi = s->cache.n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(((deliv_t *)vec_at(&s->cache, mid))->host, host);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int cache_set(dl_store_t *s, const char *host, uint64_t epoch,
		     uint64_t seq)
{
	bool found;
	size_t i;
	deliv_t *d;
	int rc = 0;

	pthread_mutex_lock(&s->cache_mu);
	i = cache_find(s, host, &found);
	if (!found) {
		if (!vec_push(&s->cache)) {
			rc = DL_ENOMEM;
			goto fail;
		}
		memmove(vec_at(&s->cache, i + 1), vec_at(&s->cache, i),
			(s->cache.n - 1 - i) * sizeof(deliv_t));
		d = vec_at(&s->cache, i);
		snprintf(d->host, sizeof(d->host), "%s", host);
	}
	d = vec_at(&s->cache, i);
	d->epoch = epoch;
	d->seq = seq;
fail:
	pthread_mutex_unlock(&s->cache_mu);
	return rc;
}

void dl_store_last(dl_store_t *s, const char *host, uint64_t *epoch,
		   uint64_t *seq)
{
	bool found;
	size_t i;

	*epoch = 0;
	*seq = 0;
	if (!s || !host)
		return;
	pthread_mutex_lock(&s->cache_mu);
	i = cache_find(s, host, &found);
	if (found) {
		*epoch = ((deliv_t *)vec_at(&s->cache, i))->epoch;
		*seq = ((deliv_t *)vec_at(&s->cache, i))->seq;
	}
	pthread_mutex_unlock(&s->cache_mu);
}

/* ------------------------------------------------------------------ */
/* Applying items (writer thread, inside a transaction)                */

static int bind_container(sqlite3_stmt *st, const char *host,
			  const dl_container_t *c, uint64_t stamp)
{
	int rc;

	if ((rc = bind_cstr(st, 1, host)) || (rc = bind_str(st, 2, c->id)) ||
	    (rc = bind_str(st, 3, c->name)) ||
	    (rc = bind_str(st, 4, c->image)) ||
	    (rc = bind_str(st, 5, c->state)) ||
	    (rc = bind_str(st, 6, c->status)) ||
	    (rc = bind_str(st, 7, c->health)) ||
	    (rc = sqlite3_bind_int64(st, 8, c->created)) ||
	    (rc = sqlite3_bind_int64(st, 9, (int64_t)stamp)) ||
	    (rc = sqlite3_bind_int64(st, 10, c->idx)))
		return rc;
	return SQLITE_OK;
}

/* A fresh updated_ns: never repeats, so an INVENTORY can tell the rows it
 * just wrote from the ones it must delete. */
static uint64_t next_stamp(dl_store_t *s, uint64_t now)
{
	s->stamp = now > s->stamp ? now : s->stamp + 1;
	return s->stamp;
}

static void idx_forget(dl_store_t *s, const char *host);

/* The containers row, and the container's lasting sample key. */
static int upsert_container(dl_store_t *s, const char *host,
			    const dl_container_t *c, uint64_t stamp)
{
	sqlite3_stmt *st = s->st[ST_KEY_UPSERT];
	int rc;

	if ((rc = bind_container(s->st[ST_CT_UPSERT], host, c, stamp)) ||
	    (rc = run(s, ST_CT_UPSERT)))
		return rc;
	if ((rc = bind_cstr(st, 1, host)) || (rc = bind_str(st, 2, c->id)) ||
	    (rc = bind_str(st, 3, c->name)))
		return rc;
	return run(s, ST_KEY_UPSERT);
}

static int apply_inventory(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	uint64_t stamp = next_stamp(s, it->time_ns);
	sqlite3_stmt *st;
	int rc;

	idx_forget(s, it->host);
	for (uint32_t i = 0; i < m->u.inventory.n; i++) {
		if ((rc = upsert_container(s, it->host, &m->u.inventory.v[i],
					   stamp)))
			return rc;
	}
	st = s->st[ST_CT_PRUNE];
	if ((rc = bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)stamp)))
		return rc;
	return run(s, ST_CT_PRUNE);
}

static int apply_container(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_CT_DELETE];
	int rc;

	idx_forget(s, it->host);
	if (m->u.container.removed) {
		if ((rc = bind_cstr(st, 1, it->host)) ||
		    (rc = bind_str(st, 2, m->u.container.c.id)))
			return rc;
		return run(s, ST_CT_DELETE);
	}
	return upsert_container(s, it->host, &m->u.container.c,
				next_stamp(s, it->time_ns));
}

/* The attributes as a compact JSON object text; caller frees. */
static char *attrs_json(const dl_event_t *ev)
{
	json_t *o = json_object();
	char *txt = NULL;

	if (!o)
		return NULL;
	for (uint32_t i = 0; i < ev->nattrs; i++) {
		char *k = dl_utf8_dup(ev->attrs[i].key.p, ev->attrs[i].key.n);
		char *v =
			dl_utf8_dup(ev->attrs[i].value.p, ev->attrs[i].value.n);
		int rc = -1;

		if (k && v)
			rc = json_object_set_new(o, k, json_string(v));
		free(k);
		free(v);
		if (rc != 0)
			goto fail;
	}
	txt = json_dumps(o, JSON_COMPACT);
fail:
	json_decref(o);
	return txt;
}

static int apply_event(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_EVENT];
	const dl_event_t *ev = &m->u.event;
	char *attrs = attrs_json(ev);
	int rc;

	if (!attrs)
		return SQLITE_NOMEM;
	if ((rc = bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)m->time_ns)) ||
	    (rc = bind_str(st, 3, ev->type)) ||
	    (rc = bind_str(st, 4, ev->action)) ||
	    (rc = bind_str(st, 5, ev->id)) ||
	    (rc = bind_str(st, 6, ev->name)) ||
	    (rc = sqlite3_bind_text(st, 7, attrs, -1, free)) ||
	    (rc = sqlite3_bind_int64(st, 8, (int64_t)m->epoch)) ||
	    (rc = sqlite3_bind_int64(st, 9, (int64_t)m->seq))) {
		sqlite3_clear_bindings(st);
		return rc;
	}
	if ((rc = run(s, ST_EVENT)) == SQLITE_OK &&
	    sqlite3_changes(s->db) > 0) {
		s->b_event = sqlite3_last_insert_rowid(s->db);
		s->b_events_n++;
	}
	return rc;
}

static int apply_docker(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_HOST_DOCKER];
	const dl_dockerinfo_t *d = &m->u.docker;
	int rc;

	if ((rc = bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int(st, 2, d->up ? 1 : 0)) ||
	    (rc = bind_str(st, 3, d->version)) ||
	    (rc = bind_str(st, 4, d->api_version)) ||
	    (rc = bind_str(st, 5, d->os)) ||
	    (rc = bind_str(st, 6, d->kernel)) ||
	    (rc = sqlite3_bind_int64(st, 7, d->ncpu)) ||
	    (rc = sqlite3_bind_int64(st, 8, (int64_t)d->mem_total)) ||
	    (rc = bind_str(st, 9, d->reason)))
		return rc;
	return run(s, ST_HOST_DOCKER);
}

static int apply_dropped(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_HOST_DROPPED];
	int rc;

	if ((rc = bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)m->u.dropped.frames)) ||
	    (rc = sqlite3_bind_int64(st, 3, (int64_t)m->u.dropped.bytes)))
		return rc;
	return run(s, ST_HOST_DROPPED);
}

/* ------------------------------------------------------------------ */
/* Stats (writer thread)                                               */

/* The host's state, created on first sight; NULL when out of memory. */
static hstate_t *hstate_get(dl_store_t *s, const char *host)
{
	size_t lo = 0, hi = s->hstates.n;
	hstate_t *h;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(((hstate_t *)vec_at(&s->hstates, mid))->host,
			       host);

		if (c == 0)
			return vec_at(&s->hstates, mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!vec_push(&s->hstates))
		return NULL;
	memmove(vec_at(&s->hstates, lo + 1), vec_at(&s->hstates, lo),
		(s->hstates.n - 1 - lo) * sizeof(hstate_t));
	h = vec_at(&s->hstates, lo);
	memset(h, 0, sizeof(*h));
	snprintf(h->host, sizeof(h->host), "%s", host);
	return h;
}

/* The agent numbers containers per session: any INVENTORY, CONTAINER or
 * reconnect may renumber, so the map is dropped and rebuilt lazily. */
static void idx_forget(dl_store_t *s, const char *host)
{
	hstate_t *h = hstate_get(s, host);

	if (h)
		h->loaded = false;
	if (h && h->nidx)
		memset(h->cid_by_idx, 0, h->nidx * sizeof(int64_t));
}

/* Grows h's map to hold idx; false when idx is too large to cache or
 * memory is short (lookups then go to SQL each time, still correct). */
static bool idx_room(hstate_t *h, uint32_t idx)
{
	size_t n = h->nidx ? h->nidx : 64;
	int64_t *v;

	if (idx < h->nidx)
		return true;
	if (idx >= IDX_CACHE_MAX)
		return false;
	while (n <= idx)
		n *= 2;
	if (!(v = realloc(h->cid_by_idx, n * sizeof(*v))))
		return false;
	memset(v + h->nidx, 0, (n - h->nidx) * sizeof(*v));
	h->cid_by_idx = v;
	h->nidx = n;
	return true;
}

/* Loads the host's whole idx -> cid map: one statement instead of one
 * per container after every (re)connect. */
static int idx_load(dl_store_t *s, hstate_t *h)
{
	sqlite3_stmt *st = s->st[ST_IDX_ALL];
	int rc;

	if ((rc = bind_cstr(st, 1, h->host)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t idx = sqlite3_column_int64(st, 0);

		if (idx >= 0 && idx < IDX_CACHE_MAX &&
		    idx_room(h, (uint32_t)idx))
			h->cid_by_idx[idx] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* The cid of the container the agent calls idx, or <= 0 if none. */
static int idx_cid(dl_store_t *s, hstate_t *h, uint32_t idx, int64_t *cid)
{
	sqlite3_stmt *st = s->st[ST_IDX_CID];
	int rc;

	if (idx < h->nidx && h->cid_by_idx[idx]) {
		*cid = h->cid_by_idx[idx];
		return SQLITE_OK;
	}
	if (!h->loaded) {
		h->loaded = true;
		if ((rc = idx_load(s, h)))
			return rc;
		if (idx < h->nidx && h->cid_by_idx[idx]) {
			*cid = h->cid_by_idx[idx];
			return SQLITE_OK;
		}
	}
	if ((rc = bind_cstr(st, 1, h->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, idx)))
		return rc;
	rc = sqlite3_step(st);
	*cid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	if (idx_room(h, idx))
		h->cid_by_idx[idx] = *cid;
	return SQLITE_OK;
}

static size_t cslot(int64_t cid, size_t cap)
{
	return (size_t)((uint64_t)cid * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static void acc_reset(acc_t *a, int64_t bucket)
{
	memset(a, 0, sizeof(*a));
	a->bucket = bucket;
}

/* The container's state, created on first sight; NULL when out of
 * memory. Kept at most half full. */
static cstate_t *cstate_get(dl_store_t *s, int64_t cid)
{
	size_t i;

	if (2 * (s->cn + 1) > s->ccap) {
		size_t cap = s->ccap ? 2 * s->ccap : 1024;
		cstate_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return NULL;
		for (size_t k = 0; k < s->ccap; k++) {
			if (!s->ctab[k].cid)
				continue;
			for (i = cslot(s->ctab[k].cid, cap); t[i].cid;
			     i = (i + 1) & (cap - 1))
				;
			t[i] = s->ctab[k];
		}
		free(s->ctab);
		s->ctab = t;
		s->ccap = cap;
	}
	for (i = cslot(cid, s->ccap); s->ctab[i].cid;
	     i = (i + 1) & (s->ccap - 1))
		if (s->ctab[i].cid == cid)
			return &s->ctab[i];
	memset(&s->ctab[i], 0, sizeof(s->ctab[i]));
	s->ctab[i].cid = cid;
	for (int t = 0; t < TIERS; t++)
		s->ctab[i].open[t] = -1;
	s->cn++;
	return &s->ctab[i];
}

/* After a failed transaction memory no longer matches the database:
 * forget it all. The cost is one unknown cpu_percent per container. */
static void stats_forget(dl_store_t *s)
{
	free(s->ctab);
	s->ctab = NULL;
	s->ccap = s->cn = 0;
	for (size_t i = 0; i < s->hstates.n; i++) {
		hstate_t *h = vec_at(&s->hstates, i);

		h->have_prev = false;
		h->loaded = false;
		if (h->nidx)
			memset(h->cid_by_idx, 0, h->nidx * sizeof(int64_t));
	}
}

static int bind_opt_u64(sqlite3_stmt *st, int i, bool valid, uint64_t v)
{
	if (!valid)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i,
				  v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static int bind_opt_f(sqlite3_stmt *st, int i, bool valid, double v)
{
	return valid ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

/* Merges a filled bucket into its rollup row. The key is a cid (host
 * NULL) or a host name. */
static int acc_flush(dl_store_t *s, int which, int64_t cid, const char *host,
		     const acc_t *a)
{
	sqlite3_stmt *st = s->st[which];
	uint32_t v = a->last.valid;
	int rc;

	if (a->n == 0)
		return SQLITE_OK;
	if ((rc = host ? bind_cstr(st, 1, host)
		       : sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, a->bucket)) ||
	    (rc = sqlite3_bind_int64(st, 3, a->n)) ||
	    (rc = sqlite3_bind_double(st, 4, a->cpu_sum)) ||
	    (rc = sqlite3_bind_int64(st, 5, a->cpu_n)) ||
	    (rc = bind_opt_f(st, 6, a->cpu_any, a->cpu_max)) ||
	    (rc = sqlite3_bind_double(st, 7, a->mem_sum)) ||
	    (rc = sqlite3_bind_int64(st, 8, a->mem_n)) ||
	    (rc = bind_opt_u64(st, 9, a->mem_any, a->mem_max)) ||
	    (rc = sqlite3_bind_int64(st, 10, a->last_ts)) ||
	    (rc = bind_opt_u64(st, 11, v & DL_SV_MEMLIMIT,
			       a->last.mem_limit)) ||
	    (rc = bind_opt_u64(st, 12, v & DL_SV_NET, a->last.net_rx_bytes)) ||
	    (rc = bind_opt_u64(st, 13, v & DL_SV_NET, a->last.net_tx_bytes)) ||
	    (rc = bind_opt_u64(st, 14, v & DL_SV_BLK,
			       a->last.blk_read_bytes)) ||
	    (rc = bind_opt_u64(st, 15, v & DL_SV_BLK,
			       a->last.blk_write_bytes)) ||
	    (rc = bind_opt_u64(st, 16, v & DL_SV_PIDS, a->last.pids)))
		return rc;
	return run(s, which);
}

/* Adds one sample (pct < 0: unknown) to a bucket. */
static void acc_add(acc_t *a, int64_t ts, const dl_sample_t *v, double pct)
{
	a->n++;
	if (pct >= 0) {
		a->cpu_sum += pct;
		a->cpu_n++;
		if (!a->cpu_any || pct > a->cpu_max)
			a->cpu_max = pct;
		a->cpu_any = true;
	}
	if (v->valid & DL_SV_MEM) {
		a->mem_sum += (double)v->mem_usage;
		a->mem_n++;
		if (!a->mem_any || v->mem_usage > a->mem_max)
			a->mem_max = v->mem_usage;
		a->mem_any = true;
	}
	if (ts >= a->last_ts) {
		a->last_ts = ts;
		a->last = *v;
	}
}

static const int64_t tier_ns[TIERS] = {MINUTE_NS, HOUR_NS};

static int close_bucket(dl_store_t *s, int tier, int64_t cid, int64_t b)
{
	int which = tier == TIER_MIN ? ST_CLOSE_1M : ST_CLOSE_1H;
	sqlite3_stmt *st = s->st[which];
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, b)) ||
	    (rc = sqlite3_bind_int64(st, 3, tier_ns[tier])))
		return rc;
	return run(s, which);
}

/* Closes the minute, then the hour, that the sample at ts leaves behind.
 * On first sight this run, the container's newest earlier sample tells
 * which buckets a previous run (or crash) may have left open. A late
 * sample re-closes its own buckets. */
static int roll(dl_store_t *s, cstate_t *c, int64_t ts)
{
	int64_t b[TIERS], prev = -1;
	int rc;

	for (int t = 0; t < TIERS; t++)
		b[t] = ts - ts % tier_ns[t];
	if (c->open[TIER_MIN] < 0) {
		sqlite3_stmt *st = s->st[ST_PREV_TS];

		if ((rc = sqlite3_bind_int64(st, 1, c->cid)) ||
		    (rc = sqlite3_bind_int64(st, 2, b[TIER_MIN])))
			return rc;
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) != SQLITE_NULL)
			prev = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		for (int t = 0; t < TIERS; t++)
			c->open[t] =
				prev >= 0 ? prev - prev % tier_ns[t] : b[t];
	}
	for (int t = 0; t < TIERS; t++) {
		if (b[t] < c->open[t]) {
			if ((rc = close_bucket(s, t, c->cid, b[t])))
				return rc;
		} else if (b[t] > c->open[t]) {
			if ((rc = close_bucket(s, t, c->cid, c->open[t])))
				return rc;
			c->open[t] = b[t];
		}
	}
	return SQLITE_OK;
}

/* docker stats' formula: the container's share of all CPU time since the
 * previous sample, times the CPUs online. -1 (stored NULL) without a
 * previous sample or when a counter went backwards (restart, agent
 * change), so a reset never shows as a negative or huge percentage. */
double dl_store_cpu_percent(uint64_t prev_cpu, uint64_t prev_sys, uint64_t cpu,
			    uint64_t sys, uint32_t online)
{
	double pct;

	if (cpu < prev_cpu || sys <= prev_sys || online == 0)
		return -1;
	pct = (double)(cpu - prev_cpu) / (double)(sys - prev_sys) * online *
	      100.0;
	/* More than every CPU busy: the two counters do not belong
	 * together (e.g. a host counter reset). */
	return pct > online * 100.0 * 1.05 ? -1 : pct;
}

static int insert_sample(dl_store_t *s, int64_t cid, int64_t ts,
			 const dl_sample_t *v, double pct)
{
	sqlite3_stmt *st = s->st[ST_CS_INSERT];
	uint32_t f = v->valid;
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, ts)) ||
	    (rc = bind_opt_u64(st, 3, f & DL_SV_CPU, v->cpu_ns)) ||
	    (rc = bind_opt_f(st, 4, pct >= 0, pct)) ||
	    (rc = bind_opt_u64(st, 5, f & DL_SV_MEM, v->mem_usage)) ||
	    (rc = bind_opt_u64(st, 6, f & DL_SV_MEMLIMIT, v->mem_limit)) ||
	    (rc = bind_opt_u64(st, 7, f & DL_SV_NET, v->net_rx_bytes)) ||
	    (rc = bind_opt_u64(st, 8, f & DL_SV_NET, v->net_tx_bytes)) ||
	    (rc = bind_opt_u64(st, 9, f & DL_SV_BLK, v->blk_read_bytes)) ||
	    (rc = bind_opt_u64(st, 10, f & DL_SV_BLK, v->blk_write_bytes)) ||
	    (rc = bind_opt_u64(st, 11, f & DL_SV_PIDS, v->pids)))
		return rc;
	return run(s, ST_CS_INSERT);
}

static int apply_sample(dl_store_t *s, hstate_t *h, const dl_msg_t *m,
			const dl_sample_t *v)
{
	const dl_stats_t *b = &m->u.stats;
	int64_t ts = (int64_t)m->time_ns, cid;
	double pct = -1;
	cstate_t *c;
	int rc;

	if ((rc = idx_cid(s, h, v->idx, &cid)))
		return rc;
	if (cid <= 0) {
		DL_LOG_RL(DL_LOG_LEVEL_DEBUG, TAG,
			  "%s: STATS for unknown container #%u skipped",
			  h->host, v->idx);
		return SQLITE_OK;
	}
	if (!(c = cstate_get(s, cid)))
		return SQLITE_NOMEM;
	if (v->valid & DL_SV_CPU) {
		if (c->have_prev && m->time_ns > c->prev_ts)
			pct = dl_store_cpu_percent(c->prev_cpu, c->prev_sys,
						   v->cpu_ns, b->system_cpu_ns,
						   b->online_cpus);
		if (!c->have_prev || m->time_ns > c->prev_ts) {
			c->have_prev = true;
			c->prev_ts = m->time_ns;
			c->prev_cpu = v->cpu_ns;
			c->prev_sys = b->system_cpu_ns;
		}
	}
	if ((rc = insert_sample(s, cid, ts, v, pct)))
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return SQLITE_OK; /* this instant is stored already */
	s->b_samples_n++;
	return roll(s, c, ts);
}

/* Remembers host for the subscribers of this batch's samples (only while
 * someone listens: the loop turns push_on). */
static int push_note_host(dl_store_t *s, const char *host)
{
	char *slot;

	if (!atomic_load_explicit(&s->push_on, memory_order_relaxed))
		return SQLITE_OK;
	for (size_t i = 0; i < s->b_push_hosts.n; i++)
		if (!strcmp(vec_at(&s->b_push_hosts, i), host))
			return SQLITE_OK;
	if (!(slot = vec_push(&s->b_push_hosts)))
		return SQLITE_NOMEM;
	snprintf(slot, DL_HOST_MAX + 1, "%s", host);
	return SQLITE_OK;
}

static int apply_stats(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	hstate_t *h = hstate_get(s, it->host);
	int rc;

	if (!h)
		return SQLITE_NOMEM;
	if (m->time_ns > (uint64_t)INT64_MAX)
		return SQLITE_OK;
	for (uint32_t i = 0; i < m->u.stats.n; i++)
		if ((rc = apply_sample(s, h, m, &m->u.stats.v[i])))
			return rc;
	return push_note_host(s, it->host);
}

/* Host CPU busy percent from cumulative total and idle time; -1 when
 * unknown (first sample, counters reset). */
double dl_store_host_cpu_percent(uint64_t prev_total, uint64_t prev_idle,
				 uint64_t total, uint64_t idle)
{
	uint64_t dt, di;

	if (total <= prev_total || idle < prev_idle)
		return -1;
	dt = total - prev_total;
	di = idle - prev_idle;
	return di > dt ? -1 : 100.0 * (double)(dt - di) / (double)dt;
}

static int insert_host_sample(dl_store_t *s, const char *host, int64_t ts,
			      const dl_hoststats_t *v, double pct)
{
	sqlite3_stmt *st = s->st[ST_HS_INSERT];
	int rc;

	if ((rc = bind_cstr(st, 1, host)) ||
	    (rc = sqlite3_bind_int64(st, 2, ts)) ||
	    (rc = bind_opt_f(st, 3, pct >= 0, pct)) ||
	    (rc = bind_opt_u64(st, 4, true, v->mem_used)) ||
	    (rc = bind_opt_u64(st, 5, true, v->mem_total)) ||
	    (rc = bind_opt_u64(st, 6, true, v->mem_available)) ||
	    (rc = bind_opt_u64(st, 7, true, v->swap_used)) ||
	    (rc = bind_opt_u64(st, 8, true, v->swap_total)) ||
	    (rc = sqlite3_bind_double(st, 9, v->load1_x100 / 100.0)) ||
	    (rc = sqlite3_bind_double(st, 10, v->load5_x100 / 100.0)) ||
	    (rc = sqlite3_bind_double(st, 11, v->load15_x100 / 100.0)) ||
	    (rc = bind_opt_u64(st, 12, true, v->disk_used)) ||
	    (rc = bind_opt_u64(st, 13, true, v->disk_total)) ||
	    (rc = bind_opt_u64(st, 14, true, v->net_rx_bytes)) ||
	    (rc = bind_opt_u64(st, 15, true, v->net_tx_bytes)))
		return rc;
	return run(s, ST_HS_INSERT);
}

/* Hosts send one sample per interval, so their rollups are merged
 * straight away instead of being accumulated. */
static int apply_hoststats(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	const dl_hoststats_t *v = &m->u.hoststats;
	hstate_t *h = hstate_get(s, it->host);
	int64_t ts = (int64_t)m->time_ns;
	dl_sample_t as = {0};
	double pct = -1;
	acc_t a;
	int rc;

	if (!h)
		return SQLITE_NOMEM;
	if (m->time_ns > (uint64_t)INT64_MAX)
		return SQLITE_OK;
	if (h->have_prev && m->time_ns > h->prev_ts)
		pct = dl_store_host_cpu_percent(h->prev_total, h->prev_idle,
						v->cpu_total_ns,
						v->cpu_idle_ns);
	if (!h->have_prev || m->time_ns > h->prev_ts) {
		h->have_prev = true;
		h->prev_ts = m->time_ns;
		h->prev_total = v->cpu_total_ns;
		h->prev_idle = v->cpu_idle_ns;
	}
	if ((rc = insert_host_sample(s, it->host, ts, v, pct)))
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return SQLITE_OK;
	s->b_hsamples_n++;
	if ((rc = push_note_host(s, it->host)))
		return rc;
	as.valid = DL_SV_MEM | DL_SV_MEMLIMIT | DL_SV_NET;
	as.mem_usage = v->mem_used;
	as.mem_limit = v->mem_total;
	as.net_rx_bytes = v->net_rx_bytes;
	as.net_tx_bytes = v->net_tx_bytes;
	acc_reset(&a, ts - ts % MINUTE_NS);
	acc_add(&a, ts, &as, pct);
	if ((rc = acc_flush(s, ST_H1M, 0, it->host, &a)))
		return rc;
	a.bucket = ts - ts % HOUR_NS;
	return acc_flush(s, ST_H1H, 0, it->host, &a);
}

static int apply_msg(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	switch (m->type) {
	case DL_MSG_INVENTORY: return apply_inventory(s, it, m);
	case DL_MSG_CONTAINER: return apply_container(s, it, m);
	case DL_MSG_EVENT: return apply_event(s, it, m);
	case DL_MSG_DOCKER: return apply_docker(s, it, m);
	case DL_MSG_DROPPED: return apply_dropped(s, it, m);
	case DL_MSG_STATS: return apply_stats(s, it, m);
	case DL_MSG_HOSTSTATS: return apply_hoststats(s, it, m);
	default: return SQLITE_OK; /* a data type this version ignores */
	}
}

/* Committed delivery of host, read once per host per batch. */
static int deliv_get(dl_store_t *s, bhost_t *h)
{
	sqlite3_stmt *st = s->st[ST_DELIV_GET];
	int rc;

	h->have = false;
	if ((rc = bind_cstr(st, 1, h->host)))
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		h->have = true;
		h->epoch = (uint64_t)sqlite3_column_int64(st, 0);
		h->seq = (uint64_t)sqlite3_column_int64(st, 1);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static int host_touch(dl_store_t *s, const char *host, uint64_t time_ns)
{
	sqlite3_stmt *st = s->st[ST_HOST_TOUCH];
	int rc;

	if ((rc = bind_cstr(st, 1, host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)time_ns)))
		return rc;
	return run(s, ST_HOST_TOUCH);
}

/* The batch's view of host: on first sight the hosts row is made to
 * exist (foreign keys) and the delivery row is read; later items of the
 * batch use and advance the copy, written back once before COMMIT.
 * Items of one host come in runs, so the newest entry is checked first. */
static int batch_host(dl_store_t *s, const item_t *it, bhost_t **out)
{
	bhost_t *h;
	int rc;

	for (size_t i = s->b_hosts.n; i-- > 0;) {
		h = vec_at(&s->b_hosts, i);
		if (!strcmp(h->host, it->host)) {
			if (it->time_ns > h->last_ns)
				h->last_ns = it->time_ns;
			*out = h;
			return SQLITE_OK;
		}
	}
	if (!(h = vec_push(&s->b_hosts)))
		return SQLITE_NOMEM;
	memset(h, 0, sizeof(*h));
	memcpy(h->host, it->host, sizeof(h->host));
	h->touched_ns = h->last_ns = it->time_ns;
	*out = h;
	if ((rc = host_touch(s, it->host, it->time_ns)))
		return rc;
	return deliv_get(s, h);
}

/* Before COMMIT: one delivery upsert and one last_seen bump per host. */
static int batch_flush(dl_store_t *s)
{
	sqlite3_stmt *st = s->st[ST_DELIV_SET];
	int rc;

	for (size_t i = 0; i < s->b_hosts.n; i++) {
		bhost_t *h = vec_at(&s->b_hosts, i);

		if (h->last_ns > h->touched_ns &&
		    (rc = host_touch(s, h->host, h->last_ns)))
			return rc;
		if (!h->dirty)
			continue;
		if ((rc = bind_cstr(st, 1, h->host)) ||
		    (rc = sqlite3_bind_int64(st, 2, (int64_t)h->epoch)) ||
		    (rc = sqlite3_bind_int64(st, 3, (int64_t)h->seq)) ||
		    (rc = sqlite3_bind_int64(st, 4, (int64_t)h->last_ns)) ||
		    (rc = run(s, ST_DELIV_SET)))
			return rc;
	}
	return SQLITE_OK;
}

/* Per-batch ack bookkeeping, newest session first. */
static int note_ack(dl_store_t *s, uint64_t sid, uint64_t epoch, uint64_t seq)
{
	ack_t *a = NULL;

	for (size_t i = s->b_acks.n; i-- > 0;) {
		if (((ack_t *)vec_at(&s->b_acks, i))->sid == sid) {
			a = vec_at(&s->b_acks, i);
			break;
		}
	}
	if (!a) {
		if (!(a = vec_push(&s->b_acks)))
			return SQLITE_NOMEM;
		*a = (ack_t){sid, epoch, seq};
		return SQLITE_OK;
	}
	/* Same epoch: the highest wins. New epoch: the agent restarted. */
	if (a->epoch != epoch || seq > a->seq)
		*a = (ack_t){sid, epoch, seq};
	return SQLITE_OK;
}

/* SQLite codes that say "the item is bad", not "the database is". Such an
 * item is dropped (and acked) instead of blocking its agent forever. */
static bool item_fault(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE: return true;
	default: return false;
	}
}

/* Applies one data item unless the host's delivery already covers it.
 * Returns an SQLite code; non-OK aborts the batch. */
static int apply_data(dl_store_t *s, const item_t *it)
{
	char why[160];
	bhost_t *h;
	bool multi;
	dl_msg_t m;
	int rc;

	if (dl_msg_decode(&m, it->data, it->len, why, sizeof(why)) != 0) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s: undecodable frame dropped: %s", it->host, why);
		return SQLITE_OK;
	}
	if (!dl_msg_is_data(m.type)) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "%s: %s is not a data frame",
			  it->host, dl_msg_type_name(m.type));
		rc = SQLITE_OK;
		goto fail;
	}
	if ((rc = batch_host(s, it, &h)))
		goto fail;
	if (h->have && h->epoch == m.epoch && m.seq <= h->seq)
		goto done; /* a resend: stored already, only acked again */
	/* A failed statement undoes itself; an INVENTORY is many, so it
	 * gets a savepoint to fail as a whole. */
	multi = m.type == DL_MSG_INVENTORY;
	if (multi && (rc = run(s, ST_SAVE)))
		goto fail;
	rc = apply_msg(s, it, &m);
	if (rc != SQLITE_OK) {
		if (multi)
			run(s, ST_ROLLTO);
		if (!item_fault(rc))
			goto fail;
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s: %s %llu/%llu not stored: %s", it->host,
			  dl_msg_type_name(m.type), (unsigned long long)m.epoch,
			  (unsigned long long)m.seq, sqlite3_errstr(rc));
	}
	if (multi && (rc = run(s, ST_RELEASE)))
		goto fail;
	h->have = h->dirty = true;
	h->epoch = m.epoch;
	h->seq = m.seq;
done:
	rc = note_ack(s, it->sid, m.epoch, m.seq);
fail:
	dl_msg_release(&m);
	return rc;
}

static int apply_host(dl_store_t *s, const item_t *it)
{
	int which = it->kind == IT_ONLINE ? ST_HOST_ONLINE : ST_HOST_OFFLINE;
	sqlite3_stmt *st = s->st[which];
	int rc;

	idx_forget(s, it->host); /* a new session numbers afresh */

	if ((rc = bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)it->time_ns)))
		return rc;
	if (it->kind == IT_ONLINE) {
		const char *peer = (const char *)it->data;
		const char *sw = peer + strlen(peer) + 1;
		const char *ctl = sw + strlen(sw) + 1;

		if ((rc = bind_cstr(st, 3, peer)) ||
		    (rc = bind_cstr(st, 4, sw)) ||
		    (rc = ctl[0] ? bind_cstr(st, 5, ctl)
				 : sqlite3_bind_null(st, 5)))
			return rc;
	}
	return run(s, which);
}

/* `dockline forget --purge`: every row keyed by this host. Every table
 * that stores per-host data must be listed here. Rare, so statements are
 * prepared on the spot. The audit table is left out on purpose: who did
 * what to a host must stay on record after the host is gone. */
static int apply_forget(dl_store_t *s, const item_t *it)
{
#define CIDS "(SELECT cid FROM container_keys WHERE host = ?1)"
	static const char *const q[] = {
		"DELETE FROM container_samples WHERE cid IN " CIDS,
		"DELETE FROM container_1m WHERE k IN " CIDS,
		"DELETE FROM container_1h WHERE k IN " CIDS,
		"DELETE FROM container_keys WHERE host = ?1",
		"DELETE FROM host_samples WHERE host = ?1",
		"DELETE FROM host_1m WHERE k = ?1",
		"DELETE FROM host_1h WHERE k = ?1",
		"DELETE FROM events WHERE host = ?1",
		"DELETE FROM containers WHERE host = ?1",
		"DELETE FROM delivery WHERE host = ?1",
		"DELETE FROM hosts WHERE name = ?1",
	};
#undef CIDS
	int rc = SQLITE_OK;

	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && rc == SQLITE_OK;
	     i++) {
		sqlite3_stmt *st;

		rc = sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL);
		if (rc != SQLITE_OK)
			break;
		rc = bind_cstr(st, 1, it->host);
		if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_finalize(st);
	}
	if (rc == SQLITE_OK) {
		/* A later HELLO from this name starts from nothing. */
		cache_set(s, it->host, 0, 0);
		DL_LOG_INFO(TAG, "%s: history purged", it->host);
	}
	return rc;
}

/* The NUL-terminated string at *p; moves *p past it. */
static const char *next_str(const char **p)
{
	const char *v = *p;

	*p += strlen(v) + 1;
	return v;
}

/* An audit row is the record of an admin's request, not agent data: one
 * that cannot be written is logged and dropped, and the batch goes on
 * (a failed statement undoes itself, so nothing else is lost). Only when
 * SQLite gave up the whole transaction does the batch retry, audit
 * items included. */
static int audit_fail(dl_store_t *s, sqlite3_stmt *st, const char *req,
		      const char *what, int rc)
{
	sqlite3_clear_bindings(st);
	if (sqlite3_get_autocommit(s->db))
		return rc;
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
		  "audit: %s of request %s not stored: %s", what, req,
		  sqlite3_errstr(rc));
	return SQLITE_OK;
}

static int apply_audit_start(dl_store_t *s, const item_t *it)
{
	sqlite3_stmt *st = s->st[ST_AUDIT_START];
	const char *p = (const char *)it->data;
	const char *req = next_str(&p), *user = next_str(&p);
	const char *host = next_str(&p), *op = next_str(&p);
	const char *target = next_str(&p), *args = next_str(&p);
	int rc;

	if ((rc = bind_cstr(st, 1, req)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)it->time_ns)) ||
	    (rc = sqlite3_bind_int64(st, 3, it->au.uid)) ||
	    (rc = bind_cstr(st, 4, user)) || (rc = bind_cstr(st, 5, host)) ||
	    (rc = bind_cstr(st, 6, op)) || (rc = bind_cstr(st, 7, target)) ||
	    (rc = bind_cstr(st, 8, args)) || (rc = run(s, ST_AUDIT_START)))
		return audit_fail(s, st, req, "start", rc);
	return SQLITE_OK;
}

static int apply_audit_end(dl_store_t *s, const item_t *it)
{
	sqlite3_stmt *st = s->st[ST_AUDIT_END];
	const char *p = (const char *)it->data;
	const char *req = next_str(&p), *status = next_str(&p);
	const char *msg = next_str(&p);
	int code = it->au.end.exit_code;
	int rc;

	if ((rc = bind_cstr(st, 1, req)) || (rc = bind_cstr(st, 2, status)) ||
	    (rc = bind_cstr(st, 3, msg)) ||
	    (rc = code == INT_MIN ? sqlite3_bind_null(st, 4)
				  : sqlite3_bind_int(st, 4, code)) ||
	    (rc = sqlite3_bind_int64(st, 5, it->au.end.duration_ms)) ||
	    (rc = run(s, ST_AUDIT_END)))
		return audit_fail(s, st, req, "outcome", rc);
	if (sqlite3_changes(s->db) == 0)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "audit: request %s is not running; outcome %s "
			  "dropped",
			  req, status);
	return SQLITE_OK;
}

/* Token rows. An expected refusal (a live token of that name, none to
 * revoke) is the item's result, not a failed batch; so is a failed
 * statement inside a live transaction (it undid itself). */
static int token_result(dl_store_t *s, item_t *it, sqlite3_stmt *st, int rc,
			int none)
{
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_OK) {
		it->result = sqlite3_changes(s->db) ? 0 : none;
		return SQLITE_OK;
	}
	if (sqlite3_get_autocommit(s->db))
		return rc;
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "tokens: row not written: %s",
		  sqlite3_errstr(rc));
	it->result = (rc & 0xff) == SQLITE_CONSTRAINT ? DL_EEXIST : DL_EDB;
	return SQLITE_OK;
}

static int apply_token(dl_store_t *s, item_t *it)
{
	const char *p = (const char *)it->data;
	const char *name = next_str(&p);
	sqlite3_stmt *st;
	int rc, which, none = 0;

	if (it->kind == IT_TOKEN_CREATE) {
		const char *hash = next_str(&p), *role = next_str(&p);
		const char *hosts = next_str(&p);

		which = ST_TOKEN_CREATE;
		none = DL_EEXIST;
		st = s->st[which];
		if ((rc = bind_cstr(st, 1, name)) ||
		    (rc = bind_cstr(st, 2, hash)) ||
		    (rc = bind_cstr(st, 3, role)) ||
		    (rc = bind_cstr(st, 4, hosts)) ||
		    (rc = sqlite3_bind_int64(st, 5, it->au.tok.created)) ||
		    (rc = it->au.tok.expires
				  ? sqlite3_bind_int64(st, 6,
						       it->au.tok.expires)
				  : sqlite3_bind_null(st, 6)))
			return token_result(s, it, st, rc, none);
	} else {
		which = it->kind == IT_TOKEN_REVOKE ? ST_TOKEN_REVOKE
						    : ST_TOKEN_USED;
		none = it->kind == IT_TOKEN_REVOKE ? DL_ENOENT : 0;
		st = s->st[which];
		if ((rc = bind_cstr(st, 1, name)) ||
		    (rc = sqlite3_bind_int64(st, 2, it->au.tok.when)))
			return token_result(s, it, st, rc, none);
	}
	return token_result(s, it, st, run(s, which), none);
}

static int apply_item(dl_store_t *s, item_t *it)
{
	switch (it->kind) {
	case IT_DATA: return apply_data(s, it);
	case IT_FORGET: return apply_forget(s, it);
	case IT_AUDIT_START: return apply_audit_start(s, it);
	case IT_AUDIT_END: return apply_audit_end(s, it);
	case IT_TOKEN_CREATE:
	case IT_TOKEN_REVOKE:
	case IT_TOKEN_USED: return apply_token(s, it);
	default: return apply_host(s, it);
	}
}

/* The COMMIT's duration into the histogram (cumulative buckets are made
 * when read: here one bucket per observation). */
static void observe_commit(dl_store_t *s, uint64_t ns)
{
	double sec = (double)ns / 1e9;
	size_t i = 0;

	while (i < DL_STORE_COMMIT_BUCKETS && sec > dl_store_commit_bounds[i])
		i++;
	atomic_fetch_add(&s->commit_le[i], 1);
	atomic_fetch_add(&s->commit_ns_sum, ns);
}

/* One transaction for the batch. Returns an SQLite code; on failure the
 * transaction is rolled back and nothing of the batch counts. */
static int commit_batch(dl_store_t *s, item_t *batch, size_t n)
{
	item_t *it;
	int rc;

	uint64_t t0;

	s->b_acks.n = 0;
	s->b_hosts.n = 0;
	s->b_push_hosts.n = 0;
	s->b_event = 0;
	s->b_events_n = s->b_samples_n = s->b_hsamples_n = 0;
	if ((rc = run(s, ST_BEGIN)))
		goto fail;
	for (it = batch; it; it = it->next) {
		rc = apply_item(s, it);
		if (rc != SQLITE_OK)
			goto fail;
	}
	if ((rc = batch_flush(s)))
		goto fail;
	t0 = dl_clock_mono_ns();
	if ((rc = run(s, ST_COMMIT)))
		goto fail;
	observe_commit(s, dl_clock_mono_ns() - t0);
	atomic_fetch_add(&s->n_events, s->b_events_n);
	atomic_fetch_add(&s->n_samples, s->b_samples_n);
	atomic_fetch_add(&s->n_host_samples, s->b_hsamples_n);
	return SQLITE_OK;
fail:
	stats_forget(s);
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
		  "%s: batch of %zu items not committed (%s: %s); nothing "
		  "acked, retrying",
		  s->path, n, sqlite3_errstr(rc), sqlite3_errmsg(s->db));
	if (!sqlite3_get_autocommit(s->db))
		run(s, ST_ROLLBACK);
	return rc;
}

/* Adds host to the set the loop thread has not taken yet (under ack_mu). */
static void push_merge_host(dl_store_t *s, const char *host)
{
	char *slot;

	for (size_t k = 0; k < s->push_hosts.n; k++)
		if (!strcmp(vec_at(&s->push_hosts, k), host))
			return;
	if (!(slot = vec_push(&s->push_hosts))) {
		DL_LOG_ERROR(TAG, "out of memory queueing a push");
		return;
	}
	snprintf(slot, DL_HOST_MAX + 1, "%s", host);
}

/* After COMMIT: the cache learns the new deliveries, the loop thread
 * gets the acks (and, with subscribers, what to push). */
static void publish(dl_store_t *s)
{
	bool posted = false;

	for (size_t i = 0; i < s->b_hosts.n; i++) {
		bhost_t *d = vec_at(&s->b_hosts, i);

		if (d->dirty && cache_set(s, d->host, d->epoch, d->seq) != 0)
			DL_LOG_ERROR(TAG, "out of memory caching delivery");
	}
	pthread_mutex_lock(&s->ack_mu);
	for (size_t i = 0; i < s->b_acks.n; i++) {
		ack_t *b = vec_at(&s->b_acks, i), *a = NULL;

		for (size_t k = 0; k < s->acks.n && !a; k++)
			if (((ack_t *)vec_at(&s->acks, k))->sid == b->sid)
				a = vec_at(&s->acks, k);
		if (!a) {
			if (!(a = vec_push(&s->acks))) {
				DL_LOG_ERROR(TAG,
					     "out of memory queueing an ack");
				continue;
			}
			*a = *b;
		} else if (a->epoch != b->epoch || b->seq > a->seq) {
			*a = *b;
		}
		posted = true;
	}
	if (s->b_event)
		atomic_store(&s->last_event, s->b_event);
	if (atomic_load(&s->push_on) && (s->b_event || s->b_push_hosts.n)) {
		for (size_t i = 0; i < s->b_push_hosts.n; i++)
			push_merge_host(s, vec_at(&s->b_push_hosts, i));
		s->push_pending = true;
		posted = true;
	}
	s->b_event = 0;
	s->b_push_hosts.n = 0;
	pthread_mutex_unlock(&s->ack_mu);
	if (posted)
		uv_async_send(&s->async);
}

/* ------------------------------------------------------------------ */
/* Retention (writer thread, between batches)                          */

/* Deletes at most what is left of *budget of key's rows older than
 * cutoff in table `which`. */
static int ret_delete(dl_store_t *s, int which, int64_t cid, const char *host,
		      int64_t cutoff, int64_t *budget)
{
	sqlite3_stmt *st = s->st[which];
	int rc;

	if (*budget <= 0)
		return SQLITE_OK;
	if ((rc = host ? bind_cstr(st, 1, host)
		       : sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, cutoff)) ||
	    (rc = sqlite3_bind_int64(st, 3, *budget)) || (rc = run(s, which)))
		return rc;
	*budget -= sqlite3_changes(s->db);
	return SQLITE_OK;
}

/* Host tiers, all hosts (there are few, and they have few rows each). */
static int ret_hosts(dl_store_t *s, const int64_t cut[3], int64_t *budget)
{
	sqlite3_stmt *st = s->st[ST_RET_HOSTS];
	vec_t names = {.size = DL_HOST_MAX + 1};
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		char *slot;

		if (!h || strlen(h) > DL_HOST_MAX)
			continue;
		if (!(slot = vec_push(&names))) {
			rc = SQLITE_NOMEM;
			break;
		}
		snprintf(slot, DL_HOST_MAX + 1, "%s", h);
	}
	sqlite3_reset(st);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	for (size_t i = 0; i < names.n && !rc; i++) {
		const char *h = vec_at(&names, i);

		if ((rc = ret_delete(s, ST_DEL_HS, 0, h, cut[0], budget)) ||
		    (rc = ret_delete(s, ST_DEL_H1M, 0, h, cut[1], budget)))
			break;
		rc = ret_delete(s, ST_DEL_H1H, 0, h, cut[2], budget);
	}
	free(names.v);
	return rc;
}

/* One step: the next RET_STEP_KEYS containers after the cursor, at most
 * RET_STEP_ROWS rows in all, in one short transaction; after the last
 * container, the hosts, then from the start again. Only rows older than
 * their tier's window go. */
static int retention_step(dl_store_t *s, int64_t *deleted)
{
	sqlite3_stmt *st = s->st[ST_RET_CIDS];
	int64_t cids[RET_STEP_KEYS], cut[3], audit_cut, budget = RET_STEP_ROWS;
	int64_t now = (int64_t)dl_clock_wall_ns();
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < 3; i++)
		cut[i] = now - s->ret_ns[i];
	audit_cut = now - s->ret_audit_ns;
	pthread_mutex_unlock(&s->mu);
	if ((rc = run(s, ST_BEGIN)))
		return rc;
	if ((rc = sqlite3_bind_int64(st, 1, s->ret_cursor)) ||
	    (rc = sqlite3_bind_int(st, 2, RET_STEP_KEYS)))
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < RET_STEP_KEYS)
		cids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		goto fail;
	rc = SQLITE_OK;
	for (size_t i = 0; i < n && budget > 0; i++) {
		if ((rc = ret_delete(s, ST_DEL_CS, cids[i], NULL, cut[0],
				     &budget)) ||
		    (rc = ret_delete(s, ST_DEL_C1M, cids[i], NULL, cut[1],
				     &budget)) ||
		    (rc = ret_delete(s, ST_DEL_C1H, cids[i], NULL, cut[2],
				     &budget)))
			goto fail;
		/* A container with more old rows than the budget is
		 * visited again next step. */
		if (budget > 0)
			s->ret_cursor = cids[i];
	}
	if (n < RET_STEP_KEYS && budget > 0) {
		if ((rc = ret_hosts(s, cut, &budget)) ||
		    (rc = ret_delete(s, ST_DEL_AUDIT, 0, NULL, audit_cut,
				     &budget)))
			goto fail;
		if (budget > 0)
			s->ret_cursor = 0;
	}
	if ((rc = run(s, ST_COMMIT)))
		goto fail;
	*deleted = RET_STEP_ROWS - budget;
	return SQLITE_OK;
fail:
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "%s: retention step failed: %s",
		  s->path, sqlite3_errmsg(s->db));
	if (!sqlite3_get_autocommit(s->db))
		run(s, ST_ROLLBACK);
	return rc;
}

/* Holding mu: whether a retention step is due. */
static bool retention_due(dl_store_t *s)
{
	return s->ret_kick || dl_clock_mono_ns() >= s->ret_next;
}

/* Called holding mu; drops it while the step runs. A step that used
 * its whole budget leaves a backlog (ingest of 10k samples/s expires
 * 10k rows/s): the next one is due at once, still one step between two
 * batches, so deleting keeps pace without holding ingest up. */
static void retention_run(dl_store_t *s)
{
	int64_t deleted = 0;

	s->ret_kick = false;
	pthread_mutex_unlock(&s->mu);
	retention_step(s, &deleted);
	pthread_mutex_lock(&s->mu);
	s->ret_next = dl_clock_mono_ns() +
		      (deleted >= RET_STEP_ROWS ? 0 : RET_PERIOD_NS);
}

void dl_store_set_audit_retention(dl_store_t *s, int64_t seconds)
{
	pthread_mutex_lock(&s->mu);
	if (seconds > 0 && seconds < INT64_MAX / 1000000000)
		s->ret_audit_ns = seconds * 1000000000;
	s->ret_kick = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void dl_store_set_retention(dl_store_t *s, int64_t raw_s, int64_t minute_s,
			    int64_t hour_s)
{
	const int64_t w[3] = {raw_s, minute_s, hour_s};

	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < 3; i++)
		if (w[i] > 0 && w[i] < INT64_MAX / 1000000000)
			s->ret_ns[i] = w[i] * 1000000000;
	s->ret_kick = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ------------------------------------------------------------------ */
/* Writer thread                                                       */

/* Waits (holding mu) for work. Group commit: a batch is whatever queued
 * up while the previous COMMIT ran (at most DL_STORE_BATCH_MAX items), so
 * an idle collector commits a lone event at once and a busy one commits
 * in large batches, with no timer adding latency. false = stop. */
static bool wait_batch(dl_store_t *s)
{
	for (;;) {
		struct timespec ts;

		/* Retention runs only in the gaps between batches. */
		if (!s->head && !s->stopping && retention_due(s))
			retention_run(s);
		if (s->head || s->stopping)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	return s->head != NULL;
}

/* Detaches up to DL_STORE_BATCH_MAX items (holding mu). */
static item_t *take_batch(dl_store_t *s, size_t *bytes, size_t *count)
{
	item_t *batch = s->head, *last = NULL, *it = s->head;
	size_t n = 0;

	*bytes = 0;
	while (it && n < DL_STORE_BATCH_MAX) {
		*bytes += it->len;
		last = it;
		it = it->next;
		n++;
	}
	last->next = NULL;
	s->head = it;
	if (!it)
		s->tail = NULL;
	s->nitems -= n;
	s->inflight = n;
	*count = n;
	return batch;
}

static void free_items(item_t *it)
{
	while (it) {
		item_t *next = it->next;

		free(it);
		it = next;
	}
}

/* The outcomes of items that asked for one, to the loop thread. A
 * batch given up (closing) reports DL_EDB for all of them. */
static void publish_dones(dl_store_t *s, const item_t *batch, bool stored)
{
	bool posted = false;

	pthread_mutex_lock(&s->ack_mu);
	for (const item_t *it = batch; it; it = it->next) {
		done_t *d;

		if (!it->done)
			continue;
		if (!(d = vec_push(&s->dones))) {
			DL_LOG_ERROR(TAG, "out of memory queueing an outcome");
			continue;
		}
		*d = (done_t){it->done, it->done_ud,
			      stored ? it->result : DL_EDB};
		posted = true;
	}
	pthread_mutex_unlock(&s->ack_mu);
	if (posted)
		uv_async_send(&s->async);
}

static void *writer_main(void *arg)
{
	dl_store_t *s = arg;

	pthread_mutex_lock(&s->mu);
	while (wait_batch(s)) {
		size_t bytes, count;
		item_t *batch = take_batch(s, &bytes, &count);
		int tries = 0;

		pthread_mutex_unlock(&s->mu);
		/* Nothing is acked before COMMIT, so giving up only costs
		 * a resend; but while running, keep trying: the agent is
		 * waiting for exactly these frames. */
		while (commit_batch(s, batch, count) != SQLITE_OK) {
			bool stopping;

			pthread_mutex_lock(&s->mu);
			stopping = s->stopping;
			pthread_mutex_unlock(&s->mu);
			if (stopping && ++tries >= CLOSE_RETRIES) {
				DL_LOG_ERROR(TAG,
					     "closing with %zu items not "
					     "stored (agents will resend)",
					     count);
				s->b_acks.n = 0;
				s->b_hosts.n = 0;
				s->b_push_hosts.n = 0;
				s->b_event = 0;
				break;
			}
			sleep_ms(RETRY_SLEEP_MS);
		}
		publish(s);
		publish_dones(s, batch, tries < CLOSE_RETRIES);
		free_items(batch);
		pthread_mutex_lock(&s->mu);
		s->inflight = 0;
		s->qbytes -= bytes;
		/* Under sustained load the queue is never empty: a step
		 * still runs once per period, between two batches. */
		if (s->head && retention_due(s))
			retention_run(s);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Open: pragmas, migrations, statements                               */

static int exec_sql(sqlite3 *db, const char *q, const char *what, char *err,
		    size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, q, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	snprintf(err, errlen, "%s: %s", what, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return DL_EDB;
}

static int user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

	if (rc != SQLITE_OK)
		return DL_EDB;
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : DL_EDB;
}

/* Each step in its own transaction together with its user_version bump,
 * so a crash mid-migration leaves the previous version intact. */
static int migrate(sqlite3 *db, const char *path, char *err, size_t errlen)
{
	char q[64];
	int v, stale;

	if (exec_sql(db, "BEGIN IMMEDIATE", "migration", err, errlen))
		return DL_EDB;
	if (user_version(db, &v) != 0) {
		snprintf(err, errlen, "%s: cannot read schema version: %s",
			 path, sqlite3_errmsg(db));
		goto fail;
	}
	if (v > SCHEMA_VERSION) {
		snprintf(err, errlen,
			 "%s has schema version %d, newer than this collector "
			 "(%d): upgrade dockline-collector",
			 path, v, SCHEMA_VERSION);
		goto fail;
	}
	for (; v < SCHEMA_VERSION; v++) {
		snprintf(q, sizeof(q), "PRAGMA user_version = %d", v + 1);
		if (exec_sql(db, migrations[v], "migration", err, errlen) ||
		    exec_sql(db, q, "migration", err, errlen))
			goto fail;
		DL_LOG_INFO(TAG, "%s: schema migrated to version %d", path,
			    v + 1);
	}
	/* A restarted collector has no sessions yet, and no requests: one
	 * still running was cut short by a crash or a stop, and how it
	 * ended is not known. */
	if (exec_sql(db, "UPDATE hosts SET online = 0", "reset hosts", err,
		     errlen) ||
	    exec_sql(db,
		     "UPDATE audit SET status = 'unknown', message = "
		     "'collector stopped during the request' WHERE status = "
		     "'running'",
		     "closing interrupted requests", err, errlen))
		goto fail;
	if ((stale = sqlite3_changes(db)) > 0)
		DL_LOG_WARN(TAG,
			    "%s: the collector stopped during %d control "
			    "request(s); marked unknown",
			    path, stale);
	if (exec_sql(db, "COMMIT", "migration commit", err, errlen))
		goto fail;
	return 0;
fail:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return DL_EDB;
}

static int setup_db(dl_store_t *s, char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* NOMUTEX: one thread at a time uses this connection (opener, then
	 * the writer between pthread_create and pthread_join); SQLite's
	 * per-call locking cost ~10% of ingest. */
	rc = sqlite3_open_v2(s->path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", s->path,
			 s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		return DL_EDB;
	}
	sqlite3_busy_timeout(s->db, 5000);
	sqlite3_extended_result_codes(s->db, 1);
	/* journal_mode answers with the mode in force: check it is WAL,
	 * readers depend on it to never block the writer. */
	if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st,
			       NULL) != SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "wal") != 0) {
		snprintf(err, errlen, "%s: cannot switch to WAL mode: %s",
			 s->path, sqlite3_errmsg(s->db));
		sqlite3_finalize(st);
		return DL_EDB;
	}
	sqlite3_finalize(st);
	if (exec_sql(s->db,
		     "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;"
		     /* 64 MiB: the hot right edge of every container's
		      * samples stays cached (the 2 MiB default made ingest
		      * re-read pages). */
		     "PRAGMA cache_size = -65536",
		     s->path, err, errlen) ||
	    migrate(s->db, s->path, err, errlen))
		return DL_EDB;
	for (int i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(s->db, sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &s->st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen, "%s: preparing \"%s\": %s",
				 s->path, sql[i], sqlite3_errmsg(s->db));
			return DL_EDB;
		}
	}
	return 0;
}

static int load_cache(dl_store_t *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT host, epoch, seq FROM delivery "
			       "ORDER BY host",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);

		if (h && cache_set(s, h, (uint64_t)sqlite3_column_int64(st, 1),
				   (uint64_t)sqlite3_column_int64(st, 2))) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "out of memory");
			return DL_ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	/* Subscribers get events after this row (pubsub.c). */
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM events",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		atomic_store(&s->last_event, sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	return 0;
fail:
	snprintf(err, errlen, "%s: reading delivery state: %s", s->path,
		 sqlite3_errmsg(s->db));
	return DL_EDB;
}

/* ------------------------------------------------------------------ */
/* Loop side                                                           */

static void drain_acks(dl_store_t *s)
{
	vec_t acks, dones, hosts;
	bool push;
	const char **names = NULL;

	pthread_mutex_lock(&s->ack_mu);
	acks = s->acks;
	s->acks = (vec_t){.size = sizeof(ack_t)};
	dones = s->dones;
	s->dones = (vec_t){.size = sizeof(done_t)};
	push = s->push_pending;
	hosts = s->push_hosts;
	s->push_pending = false;
	s->push_hosts = (vec_t){.size = DL_HOST_MAX + 1};
	pthread_mutex_unlock(&s->ack_mu);
	for (size_t i = 0; i < acks.n; i++) {
		ack_t *a = vec_at(&acks, i);

		if (s->ack_cb)
			s->ack_cb(s->ud, a->sid, a->epoch, a->seq);
	}
	free(acks.v);
	for (size_t i = 0; i < dones.n; i++) {
		done_t *d = vec_at(&dones, i);

		d->cb(d->ud, d->result);
	}
	free(dones.v);
	if (push && s->push_cb &&
	    (hosts.n == 0 || (names = calloc(hosts.n, sizeof(*names))))) {
		for (size_t i = 0; i < hosts.n; i++)
			names[i] = vec_at(&hosts, i);
		s->push_cb(s->push_ud, atomic_load(&s->last_event), names,
			   hosts.n);
	}
	free(names);
	free(hosts.v);
}

void dl_store_on_push(dl_store_t *s, dl_store_push_cb cb, void *ud)
{
	s->push_cb = cb;
	s->push_ud = ud;
}

void dl_store_push_enable(dl_store_t *s, bool on)
{
	atomic_store(&s->push_on, on);
}

int64_t dl_store_last_event(dl_store_t *s)
{
	return atomic_load(&s->last_event);
}

void dl_store_counters(dl_store_t *s, dl_store_counters_t *out)
{
	uint64_t cum = 0;

	out->events = atomic_load(&s->n_events);
	out->samples = atomic_load(&s->n_samples);
	out->host_samples = atomic_load(&s->n_host_samples);
	for (size_t i = 0; i <= DL_STORE_COMMIT_BUCKETS; i++) {
		cum += atomic_load(&s->commit_le[i]);
		if (i < DL_STORE_COMMIT_BUCKETS)
			out->commit_le[i] = cum;
	}
	out->commits = cum;
	out->commit_seconds = (double)atomic_load(&s->commit_ns_sum) / 1e9;
}

static void on_async(uv_async_t *h)
{
	drain_acks(h->data);
}

static void store_free(dl_store_t *s)
{
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		DL_LOG_ERROR(TAG, "%s: close: %s", s->path,
			     sqlite3_errmsg(s->db));
	free_items(s->head);
	free(s->b_acks.v);
	free(s->b_hosts.v);
	free(s->ctab);
	for (size_t i = 0; i < s->hstates.n; i++)
		free(((hstate_t *)vec_at(&s->hstates, i))->cid_by_idx);
	free(s->hstates.v);
	free(s->acks.v);
	free(s->dones.v);
	free(s->cache.v);
	free(s->b_push_hosts.v);
	free(s->push_hosts.v);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->ack_mu);
	pthread_mutex_destroy(&s->cache_mu);
	free(s->path);
	free(s);
}

static void on_closed(uv_handle_t *h)
{
	store_free(h->data);
}

dl_store_t *dl_store_open(uv_loop_t *loop, const char *path,
			  dl_store_ack_cb ack_cb, void *ud, char *err,
			  size_t errlen)
{
	dl_store_t *s = calloc(1, sizeof(*s));

	if (!s || !(s->path = strdup(path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->ack_cb = ack_cb;
	s->ud = ud;
	s->b_acks.size = s->acks.size = sizeof(ack_t);
	s->dones.size = sizeof(done_t);
	s->b_hosts.size = sizeof(bhost_t);
	s->cache.size = sizeof(deliv_t);
	s->hstates.size = sizeof(hstate_t);
	s->b_push_hosts.size = s->push_hosts.size = DL_HOST_MAX + 1;
	s->ret_ns[0] = DL_STORE_RAW_DEFAULT * 1000000000ll;
	s->ret_ns[1] = DL_STORE_MINUTE_DEFAULT * 1000000000ll;
	s->ret_ns[2] = DL_STORE_HOUR_DEFAULT * 1000000000ll;
	s->ret_audit_ns = DL_STORE_AUDIT_DEFAULT * 1000000000ll;
	s->ret_next = dl_clock_mono_ns() + RET_PERIOD_NS;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->ack_mu, NULL);
	pthread_mutex_init(&s->cache_mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (setup_db(s, err, errlen) || load_cache(s, err, errlen))
		goto fail;
	if (uv_async_init(loop, &s->async, on_async) != 0) {
		snprintf(err, errlen, "uv_async_init failed");
		goto fail;
	}
	s->async.data = s;
	if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		uv_close((uv_handle_t *)&s->async, on_closed);
		return NULL;
	}
	s->thread_started = true;
	DL_LOG_INFO(TAG, "%s open (%zu hosts with delivery state)", path,
		    s->cache.n);
	return s;
fail:
	store_free(s);
	return NULL;
}

void dl_store_close(dl_store_t *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	/* The last batch's acks: deliver now, the async will not fire after
	 * uv_close. */
	drain_acks(s);
	for (int i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	if (sqlite3_close(s->db) != SQLITE_OK)
		DL_LOG_ERROR(TAG, "%s: close: %s", s->path,
			     sqlite3_errmsg(s->db));
	s->db = NULL;
	uv_close((uv_handle_t *)&s->async, on_closed);
}

/* Queues an item; host items bypass the byte cap (they are tiny and
 * must not be lost, or a host would stay "online"). */
static int enqueue(dl_store_t *s, item_t *it, bool capped)
{
	bool wake;

	pthread_mutex_lock(&s->mu);
	if (s->stopping ||
	    (capped && s->qbytes + it->len > DL_STORE_QUEUE_MAX)) {
		int rc = s->stopping ? DL_ECLOSED : DL_EFULL;

		pthread_mutex_unlock(&s->mu);
		free(it);
		return rc;
	}
	if (s->tail)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
	s->nitems++;
	s->qbytes += it->len;
	/* The writer sleeps only on an empty queue. */
	wake = s->nitems == 1;
	if (wake)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* An item with room for len bytes of data and no host. */
static item_t *item_alloc(item_kind_t kind, size_t len, uint64_t time_ns)
{
	item_t *it = malloc(sizeof(*it) + len);

	if (!it)
		return NULL;
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->time_ns = time_ns;
	it->len = len;
	return it;
}

static item_t *item_new(item_kind_t kind, uint64_t sid, const char *host,
			size_t len, uint64_t time_ns)
{
	size_t hl = host ? strlen(host) : 0;
	item_t *it;

	if (hl == 0 || hl > DL_HOST_MAX)
		return NULL;
	if (!(it = item_alloc(kind, len, time_ns)))
		return NULL;
	it->sid = sid;
	memcpy(it->host, host, hl + 1);
	return it;
}

int dl_store_submit(dl_store_t *s, uint64_t sid, const char *host,
		    const uint8_t *payload, size_t len)
{
	item_t *it;

	if (!s || !payload || len == 0 || !host || !*host ||
	    strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_DATA, sid, host, len, dl_clock_wall_ns())))
		return DL_ENOMEM;
	memcpy(it->data, payload, len);
	return enqueue(s, it, true);
}

int dl_store_host_online(dl_store_t *s, const char *host, const char *peer,
			 const char *software, const char *control,
			 uint64_t time_ns)
{
	size_t pl, sl, cl;
	item_t *it;

	if (!peer)
		peer = "";
	if (!software)
		software = "";
	if (!control)
		control = "";
	pl = strnlen(peer, DL_MAX_TEXT);
	sl = strnlen(software, DL_MAX_TEXT);
	cl = strnlen(control, DL_MAX_NAME);
	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_ONLINE, 0, host, pl + sl + cl + 3, time_ns)))
		return DL_ENOMEM;
	memcpy(it->data, peer, pl);
	it->data[pl] = '\0';
	memcpy(it->data + pl + 1, software, sl);
	it->data[pl + 1 + sl] = '\0';
	memcpy(it->data + pl + sl + 2, control, cl);
	it->data[pl + sl + 2 + cl] = '\0';
	return enqueue(s, it, false);
}

int dl_store_host_offline(dl_store_t *s, const char *host, uint64_t time_ns)
{
	item_t *it;

	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_OFFLINE, 0, host, 0, time_ns)))
		return DL_ENOMEM;
	return enqueue(s, it, false);
}

int dl_store_forget(dl_store_t *s, const char *host)
{
	item_t *it;

	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_FORGET, 0, host, 0, dl_clock_wall_ns())))
		return DL_ENOMEM;
	return enqueue(s, it, false);
}

size_t dl_store_pending(dl_store_t *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nitems + s->inflight;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ------------------------------------------------------------------ */
/* Audit (loop side)                                                   */

/* Bytes of s to store under a cap of max: all of it, or (*cut) a prefix
 * that ends on a UTF-8 character boundary with room for "...". Reads at
 * most max + 1 bytes of s. */
static size_t clip(const char *s, size_t max, bool *cut)
{
	size_t n = strnlen(s, max + 1);

	*cut = n > max;
	if (!*cut)
		return n;
	n = max - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* A required string: non-NULL, non-empty, at most max bytes. */
static bool field_ok(const char *s, size_t max)
{
	return s && *s && strnlen(s, max + 1) <= max;
}

/* Appends s[0..n) and its NUL (and "..." before it when cut) at *p. */
static void put_field(uint8_t **p, const char *s, size_t n, bool cut)
{
	memcpy(*p, s, n);
	*p += n;
	if (cut) {
		memcpy(*p, "...", 3);
		*p += 3;
	}
	*(*p)++ = '\0';
}

int dl_store_audit_start(dl_store_t *s, const dl_audit_t *a)
{
	const char *target, *args;
	size_t lr, lu, lh, lo, lt, la;
	bool cut;
	uint8_t *p;
	item_t *it;

	if (!s || !a || !field_ok(a->req, DL_AUDIT_REQ_MAX) ||
	    !field_ok(a->user, DL_AUDIT_USER_MAX) ||
	    !field_ok(a->host, DL_AUDIT_HOST_MAX) ||
	    !field_ok(a->op, DL_AUDIT_OP_MAX) ||
	    a->time_ns > (uint64_t)INT64_MAX)
		return DL_EINVAL;
	target = a->target ? a->target : "";
	args = a->args ? a->args : "";
	if (strnlen(target, DL_AUDIT_TARGET_MAX + 1) > DL_AUDIT_TARGET_MAX)
		return DL_EINVAL;
	lr = strlen(a->req);
	lu = strlen(a->user);
	lh = strlen(a->host);
	lo = strlen(a->op);
	lt = strlen(target);
	la = clip(args, DL_AUDIT_ARGS_MAX, &cut);
	/* six strings, each NUL-terminated, args maybe ending in "..." */
	it = item_alloc(IT_AUDIT_START,
			lr + lu + lh + lo + lt + la + (cut ? 3 : 0) + 6,
			a->time_ns);
	if (!it)
		return DL_ENOMEM;
	it->au.uid = a->uid;
	p = it->data;
	put_field(&p, a->req, lr, false);
	put_field(&p, a->user, lu, false);
	put_field(&p, a->host, lh, false);
	put_field(&p, a->op, lo, false);
	put_field(&p, target, lt, false);
	put_field(&p, args, la, cut);
	return enqueue(s, it, false);
}

/* The outcomes a request can end with. */
static bool status_ok(const char *status)
{
	static const char *const known[] = {
		"ok",	   "error",	"refused", "offline",
		"timeout", "cancelled", "unknown",
	};

	for (size_t i = 0; status && i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(status, known[i]))
			return true;
	return false;
}

int dl_store_audit_end(dl_store_t *s, const char *req, const char *status,
		       const char *message, int exit_code, int64_t duration_ms)
{
	size_t lr, ls, lm;
	bool cut;
	uint8_t *p;
	item_t *it;

	if (!s || !field_ok(req, DL_AUDIT_REQ_MAX) || !status_ok(status) ||
	    duration_ms < 0)
		return DL_EINVAL;
	if (!message)
		message = "";
	lr = strlen(req);
	ls = strlen(status);
	lm = clip(message, DL_AUDIT_MESSAGE_MAX, &cut);
	it = item_alloc(IT_AUDIT_END, lr + ls + lm + (cut ? 3 : 0) + 3,
			dl_clock_wall_ns());
	if (!it)
		return DL_ENOMEM;
	it->au.end.exit_code = exit_code;
	it->au.end.duration_ms = duration_ms;
	p = it->data;
	put_field(&p, req, lr, false);
	put_field(&p, status, ls, false);
	put_field(&p, message, lm, cut);
	return enqueue(s, it, false);
}

/* ------------------------------------------------------------------ */
/* Tokens (loop side)                                                  */

/* An item of kind with the NUL-terminated strings strs[0..n). */
static item_t *str_item(item_kind_t kind, const char *const *strs, size_t n)
{
	size_t len = 0, l;
	uint8_t *p;
	item_t *it;

	for (size_t i = 0; i < n; i++)
		len += strlen(strs[i]) + 1;
	if (!(it = item_alloc(kind, len, dl_clock_wall_ns())))
		return NULL;
	p = it->data;
	for (size_t i = 0; i < n; i++) {
		l = strlen(strs[i]);
		put_field(&p, strs[i], l, false);
	}
	return it;
}

int dl_store_token_create(dl_store_t *s, const dl_token_row_t *t,
			  dl_store_done_cb done, void *ud)
{
	const char *strs[4];
	item_t *it;

	if (!s || !t || !done || !field_ok(t->name, DL_TOKEN_ROW_MAX) ||
	    !field_ok(t->hash, DL_TOKEN_ROW_MAX) ||
	    !field_ok(t->role, DL_TOKEN_ROW_MAX) ||
	    !field_ok(t->hosts, DL_TOKEN_ROW_MAX) || t->created <= 0 ||
	    t->expires < 0)
		return DL_EINVAL;
	strs[0] = t->name;
	strs[1] = t->hash;
	strs[2] = t->role;
	strs[3] = t->hosts;
	if (!(it = str_item(IT_TOKEN_CREATE, strs, 4)))
		return DL_ENOMEM;
	it->au.tok.created = t->created;
	it->au.tok.expires = t->expires;
	it->done = done;
	it->done_ud = ud;
	return enqueue(s, it, false);
}

/* REVOKE (done required) or USED (no done). */
static int token_touch(dl_store_t *s, item_kind_t kind, const char *name,
		       int64_t when, dl_store_done_cb done, void *ud)
{
	item_t *it;

	if (!s || !field_ok(name, DL_TOKEN_ROW_MAX) || when <= 0)
		return DL_EINVAL;
	if (!(it = str_item(kind, &name, 1)))
		return DL_ENOMEM;
	it->au.tok.when = when;
	it->done = done;
	it->done_ud = ud;
	return enqueue(s, it, false);
}

int dl_store_token_revoke(dl_store_t *s, const char *name, int64_t when,
			  dl_store_done_cb done, void *ud)
{
	if (!done)
		return DL_EINVAL;
	return token_touch(s, IT_TOKEN_REVOKE, name, when, done, ud);
}

int dl_store_token_used(dl_store_t *s, const char *name, int64_t when)
{
	return token_touch(s, IT_TOKEN_USED, name, when, NULL, NULL);
}
