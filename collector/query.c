/* query.c - read-only queries behind `dockline hosts|ps|events|audit`.
 *
 * Every connection is SQLITE_OPEN_READONLY: WAL lets it read a consistent
 * snapshot while the writer commits, and it can never take the write lock
 * the writer thread depends on. Statements are prepared once per
 * connection; parameters are always bound. */
#include "collector/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define TAG	   "query"
#define EVENTS_CAP 100000

enum {
	Q_HOSTS,
	Q_HOST,
	Q_PS_ALL,
	Q_PS_HOST,
	Q_EVENTS_ALL,
	Q_EVENTS_HOST,
	Q_STATS_ALL,
	Q_STATS_HOST,
	Q_STATS_CID,
	Q_RESOLVE,
	Q_HIST_RAW,
	Q_HIST_1M,
	Q_HIST_1H,
	Q_HIST_RAW_N,
	Q_HIST_1M_N,
	Q_HIST_1H_N,
	Q_AUDIT_ALL,
	Q_AUDIT_HOST,
	Q_EVENTS_AFTER,
	Q_HOST_STATS,
	Q_COUNT
};

/* Latest sample of each current container: max(ts) per cid is one
 * primary-key probe. */
#define STATS_COLS                                                             \
	"SELECT c.host, c.name, c.id, s.ts, s.cpu_percent, s.mem_usage, "      \
	"s.mem_limit, s.net_rx, s.net_tx, s.blk_read, s.blk_write, s.pids "    \
	"FROM containers c JOIN container_keys k ON k.host = c.host AND "      \
	"k.id = c.id JOIN container_samples s ON s.cid = k.cid AND s.ts = "    \
	"(SELECT max(ts) FROM container_samples WHERE cid = k.cid) "
/* A rollup row in the raw sample's shape, plus the maxima. */
#define HIST_ROLLUP(t)                                                         \
	"SELECT bucket, CASE WHEN cpu_n > 0 THEN cpu_sum / cpu_n END, "        \
	"CASE WHEN mem_n > 0 THEN CAST(round(mem_sum / mem_n) AS INTEGER) "    \
	"END, mem_limit, net_rx, net_tx, blk_read, blk_write, pids, cpu_max, " \
	"mem_max FROM " t " WHERE k = ?1 AND bucket >= ?2 AND bucket <= ?3 "   \
	"ORDER BY bucket"
/* The same rows averaged into buckets of ?4 ns from ?2 (a chart needs
 * 60 points, not 8640): cpu and mem averaged, cumulative counters and
 * gauges at their maximum (the newest unless a counter reset), maxima
 * kept. */
#define HIST_RAW_IN                                                            \
	"SELECT ts AS t, cpu_percent AS c, mem_usage AS m, mem_limit AS ml, "  \
	"net_rx AS rx, net_tx AS tx, blk_read AS br, blk_write AS bw, "        \
	"pids AS p, cpu_percent AS cx, mem_usage AS mx FROM "                  \
	"container_samples WHERE cid = ?1 AND ts >= ?2 AND ts <= ?3"
#define HIST_ROLLUP_IN(t)                                                      \
	"SELECT bucket AS t, CASE WHEN cpu_n > 0 THEN cpu_sum / cpu_n END "    \
	"AS c, CASE WHEN mem_n > 0 THEN mem_sum / mem_n END AS m, "            \
	"mem_limit AS ml, net_rx AS rx, net_tx AS tx, blk_read AS br, "        \
	"blk_write AS bw, pids AS p, cpu_max AS cx, mem_max AS mx FROM " t     \
	" WHERE k = ?1 AND bucket >= ?2 AND bucket <= ?3"
#define HIST_DOWN(in)                                                          \
	"SELECT ?2 + ((t - ?2) / ?4) * ?4, avg(c), "                           \
	"CAST(round(avg(m)) AS INTEGER), max(ml), max(rx), max(tx), max(br), " \
	"max(bw), max(p), max(cx), max(mx) FROM (" in ") "                     \
	"GROUP BY (t - ?2) / ?4 ORDER BY 1"

#define EVENT_COLS                                                             \
	"SELECT id, host, time_ns, type, action, actor_id, name, attrs "       \
	"FROM events "
/* The newest `limit` matches, handed out oldest first. */
#define EVENT_ORDER                                                            \
	" ORDER BY time_ns DESC, id DESC LIMIT ?4) ORDER BY time_ns, id"

#define AUDIT_COLS                                                             \
	"SELECT id, time_ns, user, uid, host, op, target, args, status, "      \
	"message, exit_code, duration_ms FROM audit "
#define AUDIT_ORDER                                                            \
	" ORDER BY time_ns DESC, id DESC LIMIT ?3) ORDER BY time_ns, id"

static const char *const sql[Q_COUNT] = {
	[Q_HOSTS] =
		"SELECT h.name, h.online, h.last_seen, h.docker_up, "
		"h.docker_version, h.peer, h.software, "
		"(SELECT count(*) FROM containers c WHERE c.host = h.name), "
		"(SELECT count(*) FROM containers c WHERE c.host = h.name "
		"AND c.state = 'running'), s.cpu_percent, s.mem_used, "
		"s.mem_total, s.load1, s.disk_used, s.disk_total, h.control "
		"FROM hosts h LEFT JOIN host_samples s ON s.host = h.name "
		"AND s.ts = (SELECT max(ts) FROM host_samples "
		"WHERE host = h.name) ORDER BY h.name",
	[Q_HOST] = "SELECT online, last_seen FROM hosts WHERE name = ?1",
	[Q_PS_ALL] = "SELECT host, id, name, image, state, status, health, "
		     "created FROM containers WHERE ?2 OR state = 'running' "
		     "ORDER BY host, name, id",
	[Q_PS_HOST] = "SELECT host, id, name, image, state, status, health, "
		      "created FROM containers WHERE host = ?1 AND "
		      "(?2 OR state = 'running') ORDER BY name, id",
	[Q_EVENTS_ALL] = "SELECT * FROM (" EVENT_COLS
			 "WHERE time_ns >= ?2 AND id > ?3" EVENT_ORDER,
	[Q_EVENTS_HOST] =
		"SELECT * FROM (" EVENT_COLS
		"WHERE host = ?1 AND time_ns >= ?2 AND id > ?3" EVENT_ORDER,
	[Q_STATS_ALL] = STATS_COLS "ORDER BY c.host, c.name, c.id",
	[Q_STATS_HOST] = STATS_COLS "WHERE c.host = ?1 ORDER BY c.name, c.id",
	[Q_STATS_CID] = STATS_COLS "WHERE k.cid = ?1",
	/* Live containers first: a name reused by a new container names
	 * the new one, an old one only when nothing live matches. */
	[Q_RESOLVE] = "SELECT k.cid, k.name, k.id, c.id IS NOT NULL AS live "
		      "FROM container_keys k LEFT JOIN containers c ON "
		      "c.host = k.host AND c.id = k.id WHERE k.host = ?1 AND "
		      "(k.name = ?2 OR substr(k.id, 1, length(?2)) = ?2) "
		      "ORDER BY live DESC, k.name = ?2 DESC, k.cid DESC "
		      "LIMIT 20",
	[Q_HIST_RAW] = "SELECT ts, cpu_percent, mem_usage, mem_limit, net_rx, "
		       "net_tx, blk_read, blk_write, pids FROM "
		       "container_samples WHERE cid = ?1 AND ts >= ?2 AND "
		       "ts <= ?3 ORDER BY ts",
	[Q_HIST_1M] = HIST_ROLLUP("container_1m"),
	[Q_HIST_1H] = HIST_ROLLUP("container_1h"),
	[Q_HIST_RAW_N] = HIST_DOWN(HIST_RAW_IN),
	[Q_HIST_1M_N] = HIST_DOWN(HIST_ROLLUP_IN("container_1m")),
	[Q_HIST_1H_N] = HIST_DOWN(HIST_ROLLUP_IN("container_1h")),
	[Q_AUDIT_ALL] =
		"SELECT * FROM (" AUDIT_COLS "WHERE time_ns >= ?2" AUDIT_ORDER,
	[Q_AUDIT_HOST] = "SELECT * FROM (" AUDIT_COLS
			 "WHERE host = ?1 AND time_ns >= ?2" AUDIT_ORDER,
	/* Live push: a rowid range, in commit order. */
	[Q_EVENTS_AFTER] = EVENT_COLS "WHERE id > ?1 ORDER BY id LIMIT ?2",
	[Q_HOST_STATS] = "SELECT host, ts, cpu_percent, mem_used, mem_total, "
			 "mem_available, load1, load5, load15, disk_used, "
			 "disk_total, net_rx, net_tx, swap_used, swap_total "
			 "FROM host_samples WHERE host = ?1 ORDER BY ts DESC "
			 "LIMIT 1",
};

struct dl_query {
	sqlite3 *db;
	sqlite3_stmt *st[Q_COUNT];
};

void dl_query_close(dl_query_t *q)
{
	if (!q)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(q->st[i]);
	sqlite3_close(q->db);
	free(q);
}

dl_query_t *dl_query_open(const char *path, char *err, size_t errlen)
{
	dl_query_t *q = calloc(1, sizeof(*q));
	int rc;

	if (!q) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* NOMUTEX: a dl_query_t serves one thread at a time (admin.c keeps
	 * one per worker), and the per-call mutex is a measurable share of
	 * reading thousands of columns. */
	rc = sqlite3_open_v2(path, &q->db,
			     SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open database %s: %s", path,
			 q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(q->db, 5000);
	for (int i = 0; i < Q_COUNT; i++) {
		if (sqlite3_prepare_v3(q->db, sql[i], -1,
				       SQLITE_PREPARE_PERSISTENT, &q->st[i],
				       NULL) != SQLITE_OK) {
			snprintf(err, errlen,
				 "database %s is not a dockline store (or "
				 "not initialised yet): %s",
				 path, sqlite3_errmsg(q->db));
			goto fail;
		}
	}
	return q;
fail:
	dl_query_close(q);
	return NULL;
}

/* Column as a JSON string; NULL becomes "". The writer stores only valid
 * UTF-8, but a file edited by hand must not make a query fail. */
static json_t *col_str(sqlite3_stmt *st, int i)
{
	const char *p = (const char *)sqlite3_column_text(st, i);
	int n = sqlite3_column_bytes(st, i);
	json_t *j;

	if (!p)
		return json_string("");
	j = json_stringn(p, (size_t)n);
	return j ? j : json_string("\xef\xbf\xbd");
}

/* Collects an error sentence, resets the statement. */
static json_t *step_fail(dl_query_t *q, sqlite3_stmt *st, json_t *arr,
			 const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "%s query failed: %s", what,
		 sqlite3_errmsg(q->db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	json_decref(arr);
	return NULL;
}

/* Adds `obj` to `arr`; false (and obj released) when out of memory. */
static bool push(json_t *arr, json_t *obj)
{
	return obj && json_array_append_new(arr, obj) == 0;
}

/* Column as a JSON number, or null when SQL NULL. */
static json_t *col_num(sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL: return json_null();
	case SQLITE_FLOAT: {
		/* two decimals are all a percentage or a load needs */
		double v = sqlite3_column_double(st, i);

		return json_real((double)(int64_t)(v * 100.0 + 0.5) / 100.0);
	}
	default: return json_integer(sqlite3_column_int64(st, i));
	}
}

static json_t *host_row(sqlite3_stmt *st, int64_t now_s)
{
	int64_t last_s = sqlite3_column_int64(st, 2) / 1000000000;
	int64_t ago = now_s > last_s ? now_s - last_s : 0;

	return json_pack(
		"{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:I,s:I,s:b,s:o,"
		"s:I,s:I,s:o,s:o}",
		"control",
		sqlite3_column_type(st, 15) == SQLITE_NULL ? json_null()
							   : col_str(st, 15),
		"cpu_percent", col_num(st, 9), "mem_used_bytes",
		col_num(st, 10), "mem_total_bytes", col_num(st, 11), "load1",
		col_num(st, 12), "disk_used_bytes", col_num(st, 13),
		"disk_total_bytes", col_num(st, 14), "name", col_str(st, 0),
		"online", sqlite3_column_int(st, 1) != 0, "last_seen",
		(json_int_t)last_s, "last_seen_ago", (json_int_t)ago,
		"docker_up", sqlite3_column_int(st, 3) != 0, "docker_version",
		col_str(st, 4), "containers",
		(json_int_t)sqlite3_column_int64(st, 7), "running",
		(json_int_t)sqlite3_column_int64(st, 8), "peer", col_str(st, 5),
		"software", col_str(st, 6));
}

json_t *dl_query_hosts(dl_query_t *q, char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[Q_HOSTS];
	int64_t now_s = (int64_t)(dl_clock_wall_ns() / 1000000000u);
	json_t *arr = json_array();
	int rc;

	if (!arr)
		goto nomem;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!push(arr, host_row(st, now_s)))
			goto nomem;
	if (rc != SQLITE_DONE)
		return step_fail(q, st, arr, "hosts", err, errlen);
	sqlite3_reset(st);
	return arr;
nomem:
	snprintf(err, errlen, "out of memory");
	sqlite3_reset(st);
	json_decref(arr);
	return NULL;
}

int dl_query_host(dl_query_t *q, const char *host, bool *online,
		  int64_t *last_seen)
{
	sqlite3_stmt *st = q->st[Q_HOST];
	int found = 0;

	if (sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW) {
		found = 1;
		*online = sqlite3_column_int(st, 0) != 0;
		*last_seen = sqlite3_column_int64(st, 1) / 1000000000;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return found;
}

static json_t *ps_row(sqlite3_stmt *st)
{
	return json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "host",
			 col_str(st, 0), "id", col_str(st, 1), "name",
			 col_str(st, 2), "image", col_str(st, 3), "state",
			 col_str(st, 4), "status", col_str(st, 5), "health",
			 col_str(st, 6), "created",
			 (json_int_t)sqlite3_column_int64(st, 7));
}

/* Steps st to its end, one row() object per row; resets st either way. */
static json_t *collect(dl_query_t *q, sqlite3_stmt *st,
		       json_t *(*row)(sqlite3_stmt *), const char *what,
		       char *err, size_t errlen)
{
	json_t *arr = json_array();
	int rc;

	if (!arr)
		goto nomem;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!push(arr, row(st)))
			goto nomem;
	if (rc != SQLITE_DONE)
		return step_fail(q, st, arr, what, err, errlen);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return arr;
nomem:
	snprintf(err, errlen, "out of memory");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	json_decref(arr);
	return NULL;
}

json_t *dl_query_ps(dl_query_t *q, const char *host, bool all, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st = q->st[host ? Q_PS_HOST : Q_PS_ALL];
	bool online;
	int64_t seen;

	if (host && !dl_query_host(q, host, &online, &seen)) {
		snprintf(err, errlen, "no host named %s", host);
		return NULL;
	}
	if ((host && sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC)) ||
	    sqlite3_bind_int(st, 2, all ? 1 : 0))
		return step_fail(q, st, NULL, "ps", err, errlen);
	return collect(q, st, ps_row, "ps", err, errlen);
}

/* "2026-11-23T22:01:02.123456789Z" */
static void rfc3339(int64_t ns, char *out, size_t outlen)
{
	time_t secs;
	struct tm tm;
	char day[32];

	if (ns < 0)
		ns = 0;
	secs = (time_t)(ns / 1000000000);
	gmtime_r(&secs, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, outlen, "%s.%09lldZ", day, (long long)(ns % 1000000000));
}

static json_t *attrs_obj(sqlite3_stmt *st, int i)
{
	const char *p = (const char *)sqlite3_column_text(st, i);
	json_t *o = NULL;

	if (p)
		o = json_loadb(p, (size_t)sqlite3_column_bytes(st, i),
			       JSON_REJECT_DUPLICATES, NULL);
	if (o && json_is_object(o))
		return o;
	json_decref(o);
	return json_object();
}

static json_t *event_row(sqlite3_stmt *st)
{
	int64_t ns = sqlite3_column_int64(st, 2);
	char stamp[48];

	rfc3339(ns, stamp, sizeof(stamp));
	return json_pack("{s:I,s:o,s:s,s:I,s:o,s:o,s:o,s:o,s:o}", "seq",
			 (json_int_t)sqlite3_column_int64(st, 0), "host",
			 col_str(st, 1), "time", stamp, "time_ns",
			 (json_int_t)ns, "type", col_str(st, 3), "action",
			 col_str(st, 4), "id", col_str(st, 5), "name",
			 col_str(st, 6), "attributes", attrs_obj(st, 7));
}

json_t *dl_query_events(dl_query_t *q, const char *host, uint64_t since_ns,
			int64_t after_id, int limit, char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[host ? Q_EVENTS_HOST : Q_EVENTS_ALL];

	if (limit <= 0 || limit > EVENTS_CAP)
		limit = EVENTS_CAP;
	if (since_ns > (uint64_t)INT64_MAX)
		since_ns = (uint64_t)INT64_MAX;
	if (after_id < 0)
		after_id = 0;
	if ((host && sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC)) ||
	    sqlite3_bind_int64(st, 2, (int64_t)since_ns) ||
	    sqlite3_bind_int64(st, 3, after_id) ||
	    sqlite3_bind_int(st, 4, limit))
		return step_fail(q, st, NULL, "events", err, errlen);
	return collect(q, st, event_row, "events", err, errlen);
}

json_t *dl_query_events_after(dl_query_t *q, int64_t after_id, int limit,
			      char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[Q_EVENTS_AFTER];

	if (limit <= 0 || limit > EVENTS_CAP)
		limit = EVENTS_CAP;
	if (sqlite3_bind_int64(st, 1, after_id < 0 ? 0 : after_id) ||
	    sqlite3_bind_int(st, 2, limit))
		return step_fail(q, st, NULL, "events", err, errlen);
	return collect(q, st, event_row, "events", err, errlen);
}

static json_t *host_stats_row(sqlite3_stmt *st)
{
	static const char *const keys[] = {
		"cpu_percent",
		"mem_used_bytes",
		"mem_total_bytes",
		"mem_available_bytes",
		"load1",
		"load5",
		"load15",
		"disk_used_bytes",
		"disk_total_bytes",
		"net_rx_bytes",
		"net_tx_bytes",
		"swap_used_bytes",
		"swap_total_bytes",
	};
	int64_t ns = sqlite3_column_int64(st, 1);
	char stamp[48];
	json_t *o;

	rfc3339(ns, stamp, sizeof(stamp));
	o = json_pack("{s:o,s:s,s:I}", "host", col_str(st, 0), "time", stamp,
		      "time_ns", (json_int_t)ns);
	for (size_t k = 0; o && k < sizeof(keys) / sizeof(keys[0]); k++)
		if (json_object_set_new(o, keys[k], col_num(st, 2 + (int)k))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

json_t *dl_query_host_stats(dl_query_t *q, const char *host, char *err,
			    size_t errlen)
{
	sqlite3_stmt *st = q->st[Q_HOST_STATS];

	if (sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC))
		return step_fail(q, st, NULL, "host stats", err, errlen);
	return collect(q, st, host_stats_row, "host stats", err, errlen);
}

static json_t *audit_row(sqlite3_stmt *st)
{
	int64_t ns = sqlite3_column_int64(st, 1);
	char stamp[48];

	rfc3339(ns, stamp, sizeof(stamp));
	return json_pack("{s:s,s:I,s:o,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			 "time", stamp, "time_ns", (json_int_t)ns, "user",
			 col_str(st, 2), "uid",
			 (json_int_t)sqlite3_column_int64(st, 3), "host",
			 col_str(st, 4), "op", col_str(st, 5), "target",
			 col_str(st, 6), "args", col_str(st, 7), "status",
			 col_str(st, 8), "message", col_str(st, 9), "exit_code",
			 col_num(st, 10), "duration_ms", col_num(st, 11));
}

json_t *dl_query_audit(dl_query_t *q, const char *host, uint64_t since_ns,
		       int limit, char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[host ? Q_AUDIT_HOST : Q_AUDIT_ALL];

	if (limit <= 0 || limit > EVENTS_CAP)
		limit = EVENTS_CAP;
	if (since_ns > (uint64_t)INT64_MAX)
		since_ns = (uint64_t)INT64_MAX;
	if ((host && sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC)) ||
	    sqlite3_bind_int64(st, 2, (int64_t)since_ns) ||
	    sqlite3_bind_int(st, 3, limit))
		return step_fail(q, st, NULL, "audit", err, errlen);
	return collect(q, st, audit_row, "audit", err, errlen);
}

/* ------------------------------------------------------------------ */
/* Stats                                                               */

/* The value keys shared by `stats` rows and `history` samples, from
 * columns i.. (cpu_percent, mem, mem_limit, net rx/tx, blk r/w, pids). */
static int set_values(json_t *o, sqlite3_stmt *st, int i)
{
	static const char *const keys[] = {
		"cpu_percent",	   "mem_bytes",	   "mem_limit",
		"net_rx_bytes",	   "net_tx_bytes", "blk_read_bytes",
		"blk_write_bytes", "pids",
	};

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (json_object_set_new(o, keys[k], col_num(st, i + (int)k)))
			return -1;
	return 0;
}

static json_t *stats_row(sqlite3_stmt *st)
{
	int64_t ns = sqlite3_column_int64(st, 3);
	char stamp[48];
	json_t *o;

	rfc3339(ns, stamp, sizeof(stamp));
	o = json_pack("{s:o,s:o,s:o,s:s,s:I}", "host", col_str(st, 0), "name",
		      col_str(st, 1), "id", col_str(st, 2), "time", stamp,
		      "time_ns", (json_int_t)ns);
	if (o && set_values(o, st, 4)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Runs a bound statement into an array of row(st); resets it. */

int dl_query_resolve(dl_query_t *q, const char *host, const char *ctr,
		     dl_ctr_ref_t *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[Q_RESOLVE];
	char list[768] = "";
	size_t used = 0;
	int n = 0, live = 0, rc;
	bool online;
	int64_t seen;

	if (!dl_query_host(q, host, &online, &seen)) {
		snprintf(err, errlen, "no host named %s", host);
		return DL_ENOENT;
	}
	if (!ctr[0] || strlen(ctr) > DL_QUERY_CTR_MAX) {
		snprintf(err, errlen, "invalid container name or id \"%.64s\"",
			 ctr);
		return DL_EINVAL;
	}
	if (sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 2, ctr, -1, SQLITE_STATIC))
		goto dberr;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 1);
		const char *id = (const char *)sqlite3_column_text(st, 2);
		bool is_live = sqlite3_column_int(st, 3) != 0;
		int w;

		/* The dead are candidates only when nothing live matches. */
		if (!is_live && live)
			break;
		live += is_live;
		if (n++ == 0) {
			out->live = is_live;
			out->cid = sqlite3_column_int64(st, 0);
			snprintf(out->name, sizeof(out->name), "%s",
				 name ? name : "");
			snprintf(out->id, sizeof(out->id), "%s", id ? id : "");
		}
		w = snprintf(list + used, sizeof(list) - used, "%s%s (%.12s)",
			     n > 1 ? ", " : "", name ? name : "", id ? id : "");
		if (w > 0 && (size_t)w < sizeof(list) - used)
			used += (size_t)w;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto dberr;
	if (n == 0) {
		snprintf(err, errlen, "no container %s on %s", ctr, host);
		return DL_ENOENT;
	}
	if (n > 1) {
		snprintf(err, errlen, "%s matches %d containers on %s: %s", ctr,
			 n, host, list);
		return DL_EINVAL;
	}
	return 0;
dberr:
	snprintf(err, errlen, "container lookup failed: %s",
		 sqlite3_errmsg(q->db));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return DL_EDB;
}

json_t *dl_query_stats(dl_query_t *q, const char *host, const char *ctr,
		       char *err, size_t errlen)
{
	sqlite3_stmt *st;
	dl_ctr_ref_t ref;
	bool online;
	int64_t seen;

	if (host && ctr) {
		if (dl_query_resolve(q, host, ctr, &ref, err, errlen))
			return NULL;
		st = q->st[Q_STATS_CID];
		if (sqlite3_bind_int64(st, 1, ref.cid))
			return step_fail(q, st, NULL, "stats", err, errlen);
	} else if (host) {
		if (!dl_query_host(q, host, &online, &seen)) {
			snprintf(err, errlen, "no host named %s", host);
			return NULL;
		}
		st = q->st[Q_STATS_HOST];
		if (sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC))
			return step_fail(q, st, NULL, "stats", err, errlen);
	} else {
		st = q->st[Q_STATS_ALL];
	}
	return collect(q, st, stats_row, "stats", err, errlen);
}

int dl_query_tier(int64_t span_s)
{
	if (span_s <= 6 * 3600)
		return DL_TIER_RAW;
	return span_s <= 7 * 86400 ? DL_TIER_MINUTE : DL_TIER_HOUR;
}

static json_t *hist_row(sqlite3_stmt *st)
{
	int64_t ns = sqlite3_column_int64(st, 0);
	char stamp[48];
	json_t *o;

	rfc3339(ns, stamp, sizeof(stamp));
	o = json_pack("{s:s,s:I}", "time", stamp, "time_ns", (json_int_t)ns);
	if (!o || set_values(o, st, 1))
		goto fail;
	/* Rollups: the bucket's maxima next to its averages. */
	if (sqlite3_column_count(st) > 9 &&
	    (json_object_set_new(o, "cpu_percent_max", col_num(st, 9)) ||
	     json_object_set_new(o, "mem_bytes_max", col_num(st, 10))))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* Resolves ctr and binds the history statement; NULL + err on failure. */
static sqlite3_stmt *hist_prepare(dl_query_t *q, const char *host,
				  const char *ctr, int64_t since_ns,
				  int64_t until_ns, int tier, int points,
				  char *err, size_t errlen)
{
	static const int which[] = {Q_HIST_RAW, Q_HIST_1M, Q_HIST_1H};
	static const int down[] = {Q_HIST_RAW_N, Q_HIST_1M_N, Q_HIST_1H_N};
	sqlite3_stmt *st;
	dl_ctr_ref_t ref;
	int64_t width;

	if (tier < DL_TIER_RAW || tier > DL_TIER_HOUR) {
		snprintf(err, errlen, "unknown history tier %d", tier);
		return NULL;
	}
	if (dl_query_resolve(q, host, ctr, &ref, err, errlen))
		return NULL;
	if (points < 0 || points > DL_QUERY_POINTS_MAX || since_ns < 0 ||
	    until_ns < since_ns) {
		snprintf(err, errlen, "history: span or points out of range");
		return NULL;
	}
	st = q->st[points ? down[tier] : which[tier]];
	width = points ? (until_ns - since_ns) / points + 1 : 0;
	if (sqlite3_bind_int64(st, 1, ref.cid) ||
	    sqlite3_bind_int64(st, 2, since_ns) ||
	    sqlite3_bind_int64(st, 3, until_ns) ||
	    (points && sqlite3_bind_int64(st, 4, width))) {
		step_fail(q, st, NULL, "history", err, errlen);
		return NULL;
	}
	return st;
}

json_t *dl_query_history(dl_query_t *q, const char *host, const char *ctr,
			 int64_t since_ns, int64_t until_ns, int tier,
			 int points, char *err, size_t errlen)
{
	sqlite3_stmt *st = hist_prepare(q, host, ctr, since_ns, until_ns, tier,
					points, err, errlen);

	if (!st)
		return NULL;
	return collect(q, st, hist_row, "history", err, errlen);
}

/* ------------------------------------------------------------------ */
/* History as JSON text                                                */

/* Building a json_t per sample and dumping it costs ~10x the SQLite read
 * for a day of raw rows, so the admin socket's history answer is written
 * as text straight from the columns. It must stay byte-for-byte the same
 * document (keys, types, rounding) as hist_row() produces. */

/* One row: 11 keys, numbers of at most 21 chars, a 30-char stamp. */
#define HIST_ROW_MAX 640

#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static const char digits2[201] = "0001020304050607080910111213141516171819"
				 "2021222324252627282930313233343536373839"
				 "4041424344454647484950515253545556575859"
				 "6061626364656667686970717273747576777879"
				 "8081828384858687888990919293949596979899";

/* Two digits per division: most values here are 8-12 digits long. */
static char *put_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 20;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		tmp[--n] = digits2[d + 1];
		tmp[--n] = digits2[d];
	}
	if (v >= 10) {
		tmp[--n] = digits2[v * 2 + 1];
		tmp[--n] = digits2[v * 2];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(p, tmp + n, (size_t)(20 - n));
	return p + (20 - n);
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return put_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return put_u64(p, (uint64_t)v);
}

/* n as exactly `digits` decimal digits, zero padded. */
static char *put_fixed(char *p, uint32_t n, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		p[i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + digits;
}

/* col_num() as text: the same two-decimal rounding, so the parsed value
 * is the very double json_real() would carry. */
static char *put_num(char *p, sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL: return PUT(p, "null");
	case SQLITE_FLOAT: {
		double r = sqlite3_column_double(st, i) * 100.0 + 0.5;
		int64_t k;
		uint64_t a;

		/* NaN and values past 2^53 have no exact two-decimal
		 * form; never produced by the writer. */
		if (!(r > -9e15 && r < 9e15))
			return PUT(p, "null");
		k = (int64_t)r;
		if (k < 0)
			*p++ = '-';
		a = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
		p = put_u64(p, a / 100);
		*p++ = '.';
		return put_fixed(p, (uint32_t)(a % 100), 2);
	}
	default: return put_i64(p, sqlite3_column_int64(st, i));
	}
}

/* rfc3339() as text; the date part is cached per day since rows of one
 * query mostly share it. */
typedef struct {
	int64_t day;
	char ymd[16]; /* "2026-11-23T" */
} day_cache_t;

static char *put_stamp(char *p, int64_t ns, day_cache_t *dc)
{
	int64_t secs, day;
	uint32_t sod;

	if (ns < 0)
		ns = 0;
	secs = ns / 1000000000;
	day = secs / 86400;
	sod = (uint32_t)(secs % 86400);
	if (day != dc->day) {
		time_t t = (time_t)(day * 86400);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(dc->ymd, sizeof(dc->ymd), "%Y-%m-%dT", &tm);
		dc->day = day;
	}
	for (const char *s = dc->ymd; *s; s++)
		*p++ = *s;
	p = put_fixed(p, sod / 3600, 2);
	*p++ = ':';
	p = put_fixed(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = put_fixed(p, sod % 60, 2);
	*p++ = '.';
	p = put_fixed(p, (uint32_t)(ns % 1000000000), 9);
	*p++ = 'Z';
	return p;
}

static char *hist_row_text(char *p, sqlite3_stmt *st, bool maxima,
			   day_cache_t *dc)
{
	static const struct {
		const char *key;
		size_t len;
	} keys[] = {
#define K(s) {s, sizeof(s) - 1}
		K(",\"cpu_percent\":"),	    K(",\"mem_bytes\":"),
		K(",\"mem_limit\":"),	    K(",\"net_rx_bytes\":"),
		K(",\"net_tx_bytes\":"),    K(",\"blk_read_bytes\":"),
		K(",\"blk_write_bytes\":"), K(",\"pids\":"),
#undef K
	};
	int64_t ns = sqlite3_column_int64(st, 0);

	p = PUT(p, "{\"time\":\"");
	p = put_stamp(p, ns, dc);
	p = PUT(p, "\",\"time_ns\":");
	p = put_i64(p, ns);
	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		memcpy(p, keys[k].key, keys[k].len);
		p = put_num(p + keys[k].len, st, 1 + (int)k);
	}
	if (maxima) {
		p = PUT(p, ",\"cpu_percent_max\":");
		p = put_num(p, st, 9);
		p = PUT(p, ",\"mem_bytes_max\":");
		p = put_num(p, st, 10);
	}
	*p++ = '}';
	return p;
}

int dl_query_history_text(dl_query_t *q, const char *host, const char *ctr,
			  int64_t since_ns, int64_t until_ns, int tier,
			  int points, dl_buf_t *out, size_t *rows, char *err,
			  size_t errlen)
{
	sqlite3_stmt *st = hist_prepare(q, host, ctr, since_ns, until_ns, tier,
					points, err, errlen);
	size_t start = dl_buf_used(out), n = 0;
	day_cache_t dc = {.day = -1};
	bool maxima;
	int rc;

	if (!st)
		return DL_EINVAL;
	maxima = sqlite3_column_count(st) > 9;
	if (dl_buf_append(out, "[", 1))
		goto toobig;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char *p = (char *)dl_buf_reserve(out, HIST_ROW_MAX + 1);
		char *e;

		if (!p)
			goto toobig;
		e = p;
		if (n++)
			*e++ = ',';
		e = hist_row_text(e, st, maxima, &dc);
		dl_buf_commit(out, (size_t)(e - p));
	}
	if (rc != SQLITE_DONE) {
		step_fail(q, st, NULL, "history", err, errlen);
		out->len = out->off + start;
		return DL_EDB;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (dl_buf_append(out, "]", 1))
		goto toobig;
	if (rows)
		*rows = n;
	return 0;
toobig:
	/* the buffer's cap, or memory: either way the answer is too big */
	snprintf(err, errlen, "response too large; narrow the query");
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	out->len = out->off + start;
	return DL_ETOOBIG;
}
