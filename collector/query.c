/* query.c - read-only queries behind `dockline hosts|ps|events|audit`.
 *
 * Every connection is SQLITE_OPEN_READONLY: WAL lets it read a consistent
 * snapshot while the writer commits, and it can never take the write lock
 * the writer thread depends on. Statements are prepared once per
 * connection; parameters are always bound. */
#include "collector/query.h"
#include "common/label.h"
#include "collector/query_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "common/clock.h"
#include "common/dstatus.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"

#define TAG	   "query"
#define EVENTS_CAP 100000
/* `hosts` HEALTH says "skew" from this far apart (ms). */
#define SKEW_WARN_MS 2000

enum {
	Q_HOSTS,
	Q_HOST,
	Q_PS_ALL,
	Q_PS_HOST,
	Q_CONTAINER,
	Q_EVENTS_ALL,
	Q_EVENTS_HOST,
	Q_STATS_ALL,
	Q_STATS_HOST,
	Q_STATS_CID,
	Q_RESOLVE,
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
	"s.mem_limit, s.net_rx, s.net_tx, s.blk_read, s.blk_write, s.pids, "   \
	"c.state, c.status, c.health, c.started_at, c.finished_at, "           \
	"c.exit_code, c.health_streak "                                        \
	"FROM containers c JOIN container_keys k ON k.host = c.host AND "      \
	"k.id = c.id JOIN container_samples s ON s.cid = k.cid AND s.ts = "    \
	"(SELECT max(ts) FROM container_samples WHERE cid = k.cid) "
/* ps_row() reads these by position. */
#define PS_COLS                                                                \
	"SELECT host, id, name, image, state, status, health, created, "       \
	"started_at, finished_at, exit_code, oom_killed, restarting, "         \
	"restart_count, health_streak, health_output, labels FROM containers "
/* Optional filters: an unbound parameter is NULL, which matches all. A
 * label filter is a primary-key probe of container_labels per row. */
#define PS_FILTER                                                              \
	"(?3 IS NULL OR state = ?3) AND (?4 IS NULL OR name GLOB ?4) AND "     \
	"(?5 IS NULL OR EXISTS (SELECT 1 FROM container_labels l WHERE "       \
	"l.host = containers.host AND l.id = containers.id AND l.key = ?5 "    \
	"AND (?6 IS NULL OR l.value = ?6)))"
#define EVENT_FILTER "(?5 IS NULL OR type = ?5) AND (?6 IS NULL OR action = ?6)"

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
	[Q_HOSTS] = DL_QUERY_HOSTS_COLS "ORDER BY h.name",
	[Q_HOST] = "SELECT online, last_seen FROM hosts WHERE name = ?1",
	[Q_PS_ALL] =
		PS_COLS "WHERE (?2 OR state = 'running') "
			"AND " PS_FILTER " ORDER BY host, ifnull(name, ''), id",
	[Q_PS_HOST] = PS_COLS "WHERE host = ?1 AND "
			      "(?2 OR state = 'running') AND " PS_FILTER
			      " ORDER BY ifnull(name, ''), id",
	[Q_CONTAINER] = PS_COLS "WHERE host = ?1 AND id = ?2",
	[Q_EVENTS_ALL] =
		"SELECT * FROM (" EVENT_COLS
		"WHERE time_ns >= ?2 AND id > ?3 AND " EVENT_FILTER EVENT_ORDER,
	[Q_EVENTS_HOST] = "SELECT * FROM (" EVENT_COLS
			  "WHERE host = ?1 AND time_ns >= ?2 AND id > ?3 "
			  "AND " EVENT_FILTER EVENT_ORDER,
	[Q_STATS_ALL] = STATS_COLS "ORDER BY c.host, ifnull(c.name, ''), c.id",
	[Q_STATS_HOST] =
		STATS_COLS "WHERE c.host = ?1 ORDER BY ifnull(c.name, ''), "
			   "c.id",
	[Q_STATS_CID] = STATS_COLS "WHERE k.cid = ?1",
	/* Live containers first: a name reused by a new container names
	 * the new one, an old one only when nothing live matches. */
	[Q_RESOLVE] = "SELECT k.cid, k.name, k.id, c.id IS NOT NULL AS live "
		      "FROM container_keys k LEFT JOIN containers c ON "
		      "c.host = k.host AND c.id = k.id WHERE k.host = ?1 AND "
		      "(k.name = ?2 OR substr(k.id, 1, length(?2)) = ?2) "
		      "ORDER BY live DESC, k.name = ?2 DESC, k.cid DESC "
		      "LIMIT 20",
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
	sqlite3_stmt *slot[DL_QSLOT_MAX]; /* query_int.h */
};

void dl_query_close(dl_query_t *q)
{
	if (!q)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(q->st[i]);
	for (int i = 0; i < DL_QSLOT_MAX; i++)
		sqlite3_finalize(q->slot[i]);
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

sqlite3_stmt *dl_query_slot(dl_query_t *q, int slot, const char *text,
			    char *err, size_t errlen)
{
	if (slot < 0 || slot >= DL_QSLOT_MAX) {
		snprintf(err, errlen, "no query slot %d", slot);
		return NULL;
	}
	if (!q->slot[slot] &&
	    sqlite3_prepare_v3(q->db, text, -1, SQLITE_PREPARE_PERSISTENT,
			       &q->slot[slot], NULL) != SQLITE_OK) {
		snprintf(err, errlen, "cannot prepare a query: %s",
			 sqlite3_errmsg(q->db));
		return NULL;
	}
	return q->slot[slot];
}

sqlite3 *dl_query_db(dl_query_t *q)
{
	return q->db;
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
	if (!j) {
		/* each invalid byte becomes U+FFFD, as jtext.c writes it
		 * (a NUL stays: jansson holds it as \u0000) */
		char *fixed = malloc(3 * (size_t)n + 1);
		size_t o = 0;

		for (size_t x = 0, k; fixed && x < (size_t)n; x += k) {
			k = p[x] ? dl_utf8_seq((const unsigned char *)p + x,
					       (size_t)n - x)
				 : 1;
			if (k) {
				memcpy(fixed + o, p + x, k);
				o += k;
			} else {
				memcpy(fixed + o, "\xef\xbf\xbd", 3);
				o += 3;
				k = 1;
			}
		}
		j = fixed ? json_stringn(fixed, o) : NULL;
		free(fixed);
	}
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

/* One word on what needs a look: "ok", "offline 3m", or the problems
 * of a live host joined ("docker down, skew 12s, dropped 40"). */
void dl_query__host_health(sqlite3_stmt *st, int64_t ago, char *out,
			   size_t outlen)
{
	int64_t skew = sqlite3_column_int64(st, 16);
	int64_t dropped = sqlite3_column_int64(st, 18);
	size_t used = 0;
	char d[32];
	int w;

	out[0] = '\0';
	if (!sqlite3_column_int(st, 1)) {
		dl_duration_format(ago, d, sizeof(d));
		snprintf(out, outlen, "offline %s", d);
		return;
	}
#define ADD(...)                                                               \
	do {                                                                   \
		w = snprintf(out + used, outlen - used, "%s",                  \
			     used ? ", " : "");                                \
		if (w > 0 && (size_t)w < outlen - used)                        \
			used += (size_t)w;                                     \
		w = snprintf(out + used, outlen - used, __VA_ARGS__);          \
		if (w > 0 && (size_t)w < outlen - used)                        \
			used += (size_t)w;                                     \
	} while (0)
	if (!sqlite3_column_int(st, 3))
		ADD("docker down");
	if (sqlite3_column_type(st, 16) != SQLITE_NULL &&
	    (skew >= SKEW_WARN_MS || skew <= -SKEW_WARN_MS)) {
		dl_duration_format((skew < 0 ? -skew : skew) / 1000, d,
				   sizeof(d));
		ADD("skew %s%s", skew < 0 ? "-" : "", d);
	}
	if (dropped > 0)
		ADD("dropped %lld", (long long)dropped);
#undef ADD
	if (!used)
		snprintf(out, outlen, "ok");
}

static json_t *col_labels(sqlite3_stmt *st, int i);

/* A host's labels: always an object ({} when none). */
static json_t *host_labels(sqlite3_stmt *st, int i)
{
	json_t *o = col_labels(st, i);

	return json_is_object(o) ? o : json_object();
}

static json_t *host_row(sqlite3_stmt *st, int64_t now_s)
{
	int64_t last_s = sqlite3_column_int64(st, 2) / 1000000000;
	int64_t ago = now_s > last_s ? now_s - last_s : 0;
	int64_t data_s = sqlite3_column_int64(st, 17) / 1000000000;
	char health[96];
	json_t *o;

	dl_query__host_health(st, ago, health, sizeof(health));
	o = json_pack(
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
	if (o &&
	    (json_object_set_new(o, "clock_skew_ms", col_num(st, 16)) ||
	     json_object_set_new(o, "last_data_ago",
				 sqlite3_column_type(st, 17) == SQLITE_NULL
					 ? json_null()
					 : json_integer(now_s > data_s
								? now_s - data_s
								: 0)) ||
	     json_object_set_new(o, "dropped_frames",
				 json_integer(sqlite3_column_int64(st, 18))) ||
	     json_object_set_new(o, "unhealthy",
				 json_integer(sqlite3_column_int64(st, 19))) ||
	     json_object_set_new(o, "restarting",
				 json_integer(sqlite3_column_int64(st, 20))) ||
	     json_object_set_new(o, "health", json_string(health)) ||
	     json_object_set_new(o, "labels", host_labels(st, 21)))) {
		json_decref(o);
		return NULL;
	}
	return o;
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

/* Column i as an integer, or null when SQL NULL. */
static json_t *col_int(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_integer(sqlite3_column_int64(st, i));
}

/* The status as `docker ps` would word it now, from the stored times
 * (columns t.. : started_at, finished_at, exit_code; state and health at
 * state_i, health_i); Docker's own text (status_i), frozen at the
 * agent's last event, when an older agent sent no times. */
static json_t *status_now(sqlite3_stmt *st, int state_i, int status_i,
			  int health_i, int t)
{
	char out[DL_DOCKER_STATUS_MAX];

	if (sqlite3_column_type(st, t) == SQLITE_NULL)
		return col_str(st, status_i);
	dl_docker_status(dl_clock_wall_ns(),
			 (const char *)sqlite3_column_text(st, state_i),
			 (uint64_t)sqlite3_column_int64(st, t),
			 (uint64_t)sqlite3_column_int64(st, t + 1),
			 (int32_t)sqlite3_column_int64(st, t + 2),
			 (const char *)sqlite3_column_text(st, health_i), out,
			 sizeof(out));
	return json_string(out);
}

static json_t *col_bool(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return json_null();
	return json_boolean(sqlite3_column_int(st, i) != 0);
}

/* Column i (a JSON object text) as an object; null when NULL or not
 * readable. */
static json_t *col_labels(sqlite3_stmt *st, int i)
{
	const char *txt = (const char *)sqlite3_column_text(st, i);
	json_t *o;

	if (!txt)
		return json_null();
	o = json_loads(txt, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return json_null();
	}
	return o;
}

static json_t *ps_row(sqlite3_stmt *st)
{
	json_t *o = json_pack(
		"{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:I}", "host", col_str(st, 0),
		"id", col_str(st, 1), "name", col_str(st, 2), "image",
		col_str(st, 3), "state", col_str(st, 4), "status",
		status_now(st, 4, 5, 6, 8), "health", col_str(st, 6), "created",
		(json_int_t)sqlite3_column_int64(st, 7));

	if (o && (json_object_set_new(o, "started_at", col_int(st, 8)) ||
		  json_object_set_new(o, "finished_at", col_int(st, 9)) ||
		  json_object_set_new(o, "exit_code", col_int(st, 10)) ||
		  json_object_set_new(o, "oom_killed", col_bool(st, 11)) ||
		  json_object_set_new(o, "restarting", col_bool(st, 12)) ||
		  json_object_set_new(o, "restart_count", col_int(st, 13)) ||
		  json_object_set_new(o, "health_streak", col_int(st, 14)) ||
		  json_object_set_new(o, "health_output",
				      sqlite3_column_type(st, 15) == SQLITE_NULL
					      ? json_null()
					      : col_str(st, 15)) ||
		  json_object_set_new(o, "labels", col_labels(st, 16)))) {
		json_decref(o);
		return NULL;
	}
	return o;
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

/* Binds s (NULL = leave the parameter NULL); true on failure. */
static bool bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	return v && sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) != SQLITE_OK;
}

json_t *dl_query_ps_where(dl_query_t *q, const dl_ps_filter_t *f, char *err,
			  size_t errlen)
{
	sqlite3_stmt *st = q->st[f->host ? Q_PS_HOST : Q_PS_ALL];
	dl_label_filter_t lf;
	bool online;
	int64_t seen;

	if (f->label && dl_label_filter_parse(f->label, &lf) != 0) {
		snprintf(err, errlen, "label: expected K or K=V");
		return NULL;
	}

	if (f->host && !dl_query_host(q, f->host, &online, &seen)) {
		snprintf(err, errlen, "no host named %s", f->host);
		return NULL;
	}
	/* naming a state asks for it, running or not */
	if (bind_opt(st, 1, f->host) ||
	    sqlite3_bind_int(st, 2, f->all || f->state ? 1 : 0) ||
	    bind_opt(st, 3, f->state) || bind_opt(st, 4, f->name) ||
	    bind_opt(st, 5, f->label ? lf.key : NULL) ||
	    bind_opt(st, 6, f->label && lf.has_value ? lf.value : NULL))
		return step_fail(q, st, NULL, "ps", err, errlen);
	return collect(q, st, ps_row, "ps", err, errlen);
}

json_t *dl_query_ps(dl_query_t *q, const char *host, bool all, char *err,
		    size_t errlen)
{
	dl_ps_filter_t f = {.host = host, .all = all};

	return dl_query_ps_where(q, &f, err, errlen);
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

json_t *dl_query_events_where(dl_query_t *q, const dl_event_filter_t *f,
			      char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[f->host ? Q_EVENTS_HOST : Q_EVENTS_ALL];
	int limit =
		f->limit <= 0 || f->limit > EVENTS_CAP ? EVENTS_CAP : f->limit;
	uint64_t since = f->since_ns > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX
							   : f->since_ns;

	if (bind_opt(st, 1, f->host) ||
	    sqlite3_bind_int64(st, 2, (int64_t)since) ||
	    sqlite3_bind_int64(st, 3, f->after_id < 0 ? 0 : f->after_id) ||
	    sqlite3_bind_int(st, 4, limit) || bind_opt(st, 5, f->type) ||
	    bind_opt(st, 6, f->action))
		return step_fail(q, st, NULL, "events", err, errlen);
	return collect(q, st, event_row, "events", err, errlen);
}

json_t *dl_query_events(dl_query_t *q, const char *host, uint64_t since_ns,
			int64_t after_id, int limit, char *err, size_t errlen)
{
	dl_event_filter_t f = {.host = host,
			       .since_ns = since_ns,
			       .after_id = after_id,
			       .limit = limit};

	return dl_query_events_where(q, &f, err, errlen);
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
	o = json_pack("{s:o,s:o,s:o,s:s,s:I,s:o,s:o,s:o,s:o}", "host",
		      col_str(st, 0), "name", col_str(st, 1), "id",
		      col_str(st, 2), "time", stamp, "time_ns", (json_int_t)ns,
		      "state", col_str(st, 12), "status",
		      status_now(st, 12, 13, 14, 15), "health", col_str(st, 14),
		      "health_streak", col_int(st, 18));
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
	int n = 0, live = 0, named = 0, rc;
	bool online;
	int64_t seen;

	out->stale = false;
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
		named += is_live && name && !strcmp(name, ctr);
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
	if (n > 1 && named == n) {
		/* the newest first (ORDER BY): Docker has only one by now */
		out->stale = true;
		return 0;
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

json_t *dl_query_container(dl_query_t *q, const char *host, const char *ctr,
			   char *err, size_t errlen)
{
	sqlite3_stmt *st = q->st[Q_CONTAINER];
	dl_ctr_ref_t ref = {0};
	json_t *arr, *o, *stats;
	int rc = dl_query_resolve(q, host, ctr, &ref, err, errlen);

	if (rc == 0 && !ref.live) {
		snprintf(err, errlen,
			 "no container %s on %s (only its history)", ctr, host);
		rc = DL_ENOENT;
	}
	if (rc)
		return NULL;
	if (sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC) ||
	    sqlite3_bind_text(st, 2, ref.id, -1, SQLITE_STATIC))
		return step_fail(q, st, NULL, "container", err, errlen);
	if (!(arr = collect(q, st, ps_row, "container", err, errlen)))
		return NULL;
	o = json_incref(json_array_get(arr, 0));
	json_decref(arr);
	if (!o) {
		snprintf(err, errlen, "no container %s on %s", ctr, host);
		return NULL;
	}
	/* Its newest sample, or null before the first. */
	stats = dl_query_stats(q, host, ref.id, err, errlen);
	if (!stats ||
	    json_object_set(o, "stats",
			    json_array_size(stats) ? json_array_get(stats, 0)
						   : json_null())) {
		json_decref(stats);
		json_decref(o);
		return NULL;
	}
	json_decref(stats);
	return o;
}
