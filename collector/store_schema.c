/* store_schema.c - the database's shape: migrations keyed on PRAGMA
 * user_version, the pragmas, and every statement the writer prepares.
 * Owns no rows; never runs on the loop thread after open. Values from
 * the wire are only ever bound, never pasted into SQL. */

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
#include "collector/store_int.h"

#define TAG "store"

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

	/* v5: health. What the agent's inspect tells of a container (times
	 * in unix ns, 0 = never; all NULL when an older agent sent only
	 * Docker's status text), so `ps` words the status at query time.
	 * hosts: the agent's clock minus ours at its HELLO (NULL: an agent
	 * that does not send its time) and when its newest data frame
	 * arrived (collector clock, ns). */
	"ALTER TABLE containers ADD COLUMN started_at INTEGER;"
	"ALTER TABLE containers ADD COLUMN finished_at INTEGER;"
	"ALTER TABLE containers ADD COLUMN exit_code INTEGER;"
	"ALTER TABLE containers ADD COLUMN oom_killed INTEGER;"
	"ALTER TABLE containers ADD COLUMN restarting INTEGER;"
	"ALTER TABLE containers ADD COLUMN restart_count INTEGER;"
	"ALTER TABLE containers ADD COLUMN health_streak INTEGER;"
	"ALTER TABLE containers ADD COLUMN health_output TEXT;"
	"ALTER TABLE hosts ADD COLUMN clock_skew_ms INTEGER;"
	"ALTER TABLE hosts ADD COLUMN last_data INTEGER;",

	/* v6: alert rules' states and silences (collector/alerts.c). One
	 * alerts row per episode of (rule, key), key = host[/container]; ids
	 * are handed out by the engine, which is the only one to write them.
	 * Times are unix ms; NULL = not yet. A pending episode that clears
	 * before it fires is deleted. No REFERENCES: forget --purge deletes
	 * a host's rows itself. */
	"CREATE TABLE alerts ("
	" id INTEGER PRIMARY KEY,"
	" rule TEXT NOT NULL, key TEXT NOT NULL,"
	" host TEXT NOT NULL, container TEXT,"
	" severity TEXT NOT NULL,"
	" state TEXT NOT NULL," /* pending, firing, resolved */
	" since INTEGER NOT NULL, fired_at INTEGER, resolved_at INTEGER,"
	" last_notified INTEGER, value REAL,"
	" summary TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX alerts_state ON alerts(state);"
	"CREATE INDEX alerts_resolved ON alerts(resolved_at);"
	"CREATE TABLE silences ("
	" id INTEGER PRIMARY KEY,"
	" host TEXT NOT NULL, container TEXT, rule TEXT,"
	" comment TEXT NOT NULL DEFAULT '', created_by TEXT NOT NULL,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL);"
	"CREATE INDEX silences_expires ON silences(expires);",

	/* v7: container labels. containers.labels is the JSON object `ps`
	 * shows (NULL: not known yet, an older agent); container_labels is
	 * the same pairs one row each, kept by triggers, so a `label = K=V`
	 * filter is an index lookup instead of JSON parsing per row. An
	 * upsert without labels keeps the known ones (labels never change
	 * in a container's life), and an unchanged JSON text costs nothing. */
	"ALTER TABLE containers ADD COLUMN labels TEXT;"
	"CREATE TABLE container_labels ("
	" host TEXT NOT NULL, id TEXT NOT NULL,"
	" key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (host, id, key)) WITHOUT ROWID;"
	"CREATE INDEX container_labels_kv ON container_labels(key, value);"
	"CREATE TRIGGER containers_labels_ins AFTER INSERT ON containers"
	" WHEN new.labels IS NOT NULL BEGIN"
	" INSERT OR REPLACE INTO container_labels(host, id, key, value)"
	" SELECT new.host, new.id, j.key, j.value FROM json_each(new.labels) j;"
	" END;"
	"CREATE TRIGGER containers_labels_upd AFTER UPDATE OF labels"
	" ON containers WHEN new.labels IS NOT old.labels BEGIN"
	" DELETE FROM container_labels WHERE host = old.host AND id = old.id;"
	" INSERT OR REPLACE INTO container_labels(host, id, key, value)"
	" SELECT new.host, new.id, j.key, j.value FROM json_each(new.labels) j;"
	" END;"
	"CREATE TRIGGER containers_labels_del AFTER DELETE ON containers BEGIN"
	" DELETE FROM container_labels WHERE host = old.host AND id = old.id;"
	" END;"
	/* and the last failed send of an alert (after its retries), so
	 * `dockline alerts` shows it; NULL once a later send got through. */
	"ALTER TABLE alerts ADD COLUMN notify_error TEXT;"
	"ALTER TABLE alerts ADD COLUMN notify_failed_at INTEGER;",

	/* v8: host labels (`dockline label`), set by admins, never by an
	 * agent: a JSON object of strings, NULL = none. Few per host
	 * (collector/hostlabel.h), so selecting hosts by label reads the
	 * hosts list it already has; no index table as for containers. */
	"ALTER TABLE hosts ADD COLUMN labels TEXT;",

	/* v9: what `hosts` shows of a host's newest sample and of its
	 * containers, kept on its hosts row by triggers on the writer's
	 * statements (so in the same transaction): the answer is one scan
	 * of hosts instead of a max(ts) probe per host and a grouped pass
	 * over every container (tests/bench/bench_query.c). hs_*:
	 * host_samples' columns of the newest sample (NULL: none), its ts
	 * in hs_ts; when the newest is deleted (retention, forget) the next
	 * newest takes its place. n_*: the host's containers, running,
	 * unhealthy and restarting ("restarting" is Docker's state or
	 * inspect's flag: a container in its restart back-off shows
	 * either); an upsert that changes none of those costs nothing, one
	 * that does one hosts row update.
	 * Filled from the rows there are. */
	"ALTER TABLE hosts ADD COLUMN hs_ts INTEGER;"
	"ALTER TABLE hosts ADD COLUMN hs_cpu_percent REAL;"
	"ALTER TABLE hosts ADD COLUMN hs_mem_used INTEGER;"
	"ALTER TABLE hosts ADD COLUMN hs_mem_total INTEGER;"
	"ALTER TABLE hosts ADD COLUMN hs_load1 REAL;"
	"ALTER TABLE hosts ADD COLUMN hs_disk_used INTEGER;"
	"ALTER TABLE hosts ADD COLUMN hs_disk_total INTEGER;"
	"ALTER TABLE hosts ADD COLUMN n_total INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN n_running INTEGER NOT NULL DEFAULT "
	"0;"
	"ALTER TABLE hosts ADD COLUMN n_unhealthy INTEGER NOT NULL "
	"DEFAULT 0;"
	"ALTER TABLE hosts ADD COLUMN n_restarting INTEGER NOT NULL "
	"DEFAULT 0;"
	"UPDATE hosts SET (hs_ts, hs_cpu_percent, hs_mem_used, "
	"hs_mem_total, hs_load1, hs_disk_used, hs_disk_total) = (SELECT "
	"ts, cpu_percent, mem_used, mem_total, load1, disk_used, "
	"disk_total FROM host_samples WHERE host = hosts.name ORDER BY ts "
	"DESC LIMIT 1);"
	"UPDATE hosts SET (n_total, n_running, n_unhealthy, n_restarting) "
	"= (SELECT count(*), sum(CASE WHEN c.state = 'running' THEN 1 "
	"ELSE 0 END), sum(CASE WHEN c.health = 'unhealthy' THEN 1 ELSE 0 "
	"END), sum(CASE WHEN (c.state = 'restarting' OR c.restarting) "
	"THEN 1 ELSE 0 END) FROM containers c WHERE c.host = hosts.name) "
	"WHERE name IN (SELECT host FROM containers);"
	"CREATE TRIGGER host_samples_latest AFTER INSERT ON host_samples "
	"BEGIN UPDATE hosts SET hs_ts = new.ts, hs_cpu_percent = "
	"new.cpu_percent, hs_mem_used = new.mem_used, hs_mem_total = "
	"new.mem_total, hs_load1 = new.load1, hs_disk_used = "
	"new.disk_used, hs_disk_total = new.disk_total WHERE name = "
	"new.host AND (hs_ts IS NULL OR hs_ts <= new.ts); END;"
	"CREATE TRIGGER host_samples_gone AFTER DELETE ON host_samples "
	"BEGIN UPDATE hosts SET (hs_ts, hs_cpu_percent, hs_mem_used, "
	"hs_mem_total, hs_load1, hs_disk_used, hs_disk_total) = (SELECT "
	"ts, cpu_percent, mem_used, mem_total, load1, disk_used, "
	"disk_total FROM host_samples WHERE host = old.host ORDER BY ts "
	"DESC LIMIT 1) WHERE name = old.host AND hs_ts = old.ts; END;"
	"CREATE TRIGGER containers_counts_ins AFTER INSERT ON containers "
	"BEGIN UPDATE hosts SET n_total = n_total + 1, n_running = "
	"n_running + (CASE WHEN new.state = 'running' THEN 1 ELSE 0 END), "
	"n_unhealthy = n_unhealthy + (CASE WHEN new.health = 'unhealthy' "
	"THEN 1 ELSE 0 END), n_restarting = n_restarting + (CASE WHEN "
	"(new.state = 'restarting' OR new.restarting) THEN 1 ELSE 0 END) "
	"WHERE name = new.host; END;"
	"CREATE TRIGGER containers_counts_del AFTER DELETE ON containers "
	"BEGIN UPDATE hosts SET n_total = n_total - 1, n_running = "
	"n_running - (CASE WHEN old.state = 'running' THEN 1 ELSE 0 END), "
	"n_unhealthy = n_unhealthy - (CASE WHEN old.health = 'unhealthy' "
	"THEN 1 ELSE 0 END), n_restarting = n_restarting - (CASE WHEN "
	"(old.state = 'restarting' OR old.restarting) THEN 1 ELSE 0 END) "
	"WHERE name = old.host; END;"
	"CREATE TRIGGER containers_counts_upd AFTER UPDATE OF state, "
	"health, restarting ON containers WHEN new.host = old.host AND "
	"(new.state IS NOT old.state OR new.health IS NOT old.health OR "
	"new.restarting IS NOT old.restarting) BEGIN UPDATE hosts SET "
	"n_running = n_running + (CASE WHEN new.state = 'running' THEN 1 "
	"ELSE 0 END) - (CASE WHEN old.state = 'running' THEN 1 ELSE 0 "
	"END), n_unhealthy = n_unhealthy + (CASE WHEN new.health = "
	"'unhealthy' THEN 1 ELSE 0 END) - (CASE WHEN old.health = "
	"'unhealthy' THEN 1 ELSE 0 END), n_restarting = n_restarting + "
	"(CASE WHEN (new.state = 'restarting' OR new.restarting) THEN 1 "
	"ELSE 0 END) - (CASE WHEN (old.state = 'restarting' OR "
	"old.restarting) THEN 1 ELSE 0 END) WHERE name = new.host; END;"
	"CREATE TRIGGER containers_counts_move AFTER UPDATE OF host ON "
	"containers WHEN new.host IS NOT old.host BEGIN UPDATE hosts SET "
	"n_total = n_total - 1, n_running = n_running - (CASE WHEN "
	"old.state = 'running' THEN 1 ELSE 0 END), n_unhealthy = "
	"n_unhealthy - (CASE WHEN old.health = 'unhealthy' THEN 1 ELSE 0 "
	"END), n_restarting = n_restarting - (CASE WHEN (old.state = "
	"'restarting' OR old.restarting) THEN 1 ELSE 0 END) WHERE name = "
	"old.host; UPDATE hosts SET n_total = n_total + 1, n_running = "
	"n_running + (CASE WHEN new.state = 'running' THEN 1 ELSE 0 END), "
	"n_unhealthy = n_unhealthy + (CASE WHEN new.health = 'unhealthy' "
	"THEN 1 ELSE 0 END), n_restarting = n_restarting + (CASE WHEN "
	"(new.state = 'restarting' OR new.restarting) THEN 1 ELSE 0 END) "
	"WHERE name = new.host; END",
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
	[ST_LABELS_GET] = "SELECT labels FROM hosts WHERE name = ?1",
	[ST_LABELS_SET] = "UPDATE hosts SET labels = ?2 WHERE name = ?1",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVE] = "SAVEPOINT item",
	[ST_RELEASE] = "RELEASE item",
	[ST_ROLLTO] = "ROLLBACK TO item",
	/* Only data frames touch: last_data is when the newest arrived. */
	[ST_HOST_TOUCH] =
		"INSERT INTO hosts(name, online, first_seen, last_seen, "
		"last_data) VALUES(?1, 0, ?2, ?2, ?2) ON CONFLICT(name) DO "
		"UPDATE SET "
		"last_seen = max(coalesce(last_seen, 0), excluded.last_seen), "
		"last_data = max(coalesce(last_data, 0), excluded.last_data)",
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
	[ST_HOST_CLOCK] = "UPDATE hosts SET clock_skew_ms = ?2 WHERE name = ?1",
	[ST_DELIV_GET] = "SELECT epoch, seq FROM delivery WHERE host = ?1",
	[ST_DELIV_SET] =
		"INSERT INTO delivery(host, epoch, seq, updated_ns) "
		"VALUES(?1, ?2, ?3, ?4) ON CONFLICT(host) DO UPDATE SET "
		"epoch = excluded.epoch, seq = excluded.seq, "
		"updated_ns = excluded.updated_ns",
	[ST_CT_UPSERT] =
		"INSERT INTO containers(host, id, name, image, state, status, "
		"health, created, updated_ns, idx, started_at, finished_at, "
		"exit_code, oom_killed, restarting, restart_count, "
		"health_streak, health_output, labels) VALUES(?1, ?2, ?3, ?4, "
		"?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
		"?18, ?19) "
		"ON CONFLICT(host, id) DO UPDATE SET "
		"idx = excluded.idx, "
		"name = excluded.name, image = excluded.image, "
		"state = excluded.state, status = excluded.status, "
		"health = excluded.health, created = excluded.created, "
		"updated_ns = excluded.updated_ns, "
		"started_at = excluded.started_at, "
		"finished_at = excluded.finished_at, "
		"exit_code = excluded.exit_code, "
		"oom_killed = excluded.oom_killed, "
		"restarting = excluded.restarting, "
		"restart_count = excluded.restart_count, "
		"health_streak = excluded.health_streak, "
		"health_output = excluded.health_output, "
		"labels = coalesce(excluded.labels, labels)",
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
	[ST_ALERT_PUT] = "INSERT OR REPLACE INTO alerts(id, rule, key, host, "
			 "container, severity, state, summary, since, "
			 "fired_at, resolved_at, last_notified, value, "
			 "notify_error, notify_failed_at) "
			 "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
			 "?11, ?12, ?13, ?14, ?15)",
	[ST_ALERT_DEL] = "DELETE FROM alerts WHERE id = ?1",
	/* Bounded like every retention step: the oldest resolved rows. */
	[ST_ALERT_PRUNE] = "DELETE FROM alerts WHERE id IN (SELECT id FROM "
			   "alerts WHERE state = 'resolved' AND resolved_at < "
			   "?1 ORDER BY resolved_at LIMIT 5000)",
	[ST_SILENCE_PUT] = "INSERT INTO silences(id, host, container, rule, "
			   "comment, created_by, created, expires) VALUES(?1, "
			   "?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[ST_SILENCE_END] = "UPDATE silences SET expires = ?2 WHERE id = ?1 "
			   "AND expires > ?2",
};

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

int dl_store__setup_db(dl_store_t *s, char *err, size_t errlen)
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
