/* query.c - read-only queries behind `dockline hosts|ps|events`.
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

#define TAG "query"
#define EVENTS_CAP 100000

enum {
	Q_HOSTS,
	Q_HOST,
	Q_PS_ALL,
	Q_PS_HOST,
	Q_EVENTS_ALL,
	Q_EVENTS_HOST,
	Q_COUNT
};

#define EVENT_COLS                                                             \
	"SELECT id, host, time_ns, type, action, actor_id, name, attrs "      \
	"FROM events "
/* The newest `limit` matches, handed out oldest first. */
#define EVENT_ORDER                                                            \
	" ORDER BY time_ns DESC, id DESC LIMIT ?4) ORDER BY time_ns, id"

static const char *const sql[Q_COUNT] = {
	[Q_HOSTS] = "SELECT h.name, h.online, h.last_seen, h.docker_up, "
		    "h.docker_version, h.peer, h.software, "
		    "(SELECT count(*) FROM containers c WHERE c.host = h.name), "
		    "(SELECT count(*) FROM containers c WHERE c.host = h.name "
		    "AND c.state = 'running') FROM hosts h ORDER BY h.name",
	[Q_HOST] = "SELECT online, last_seen FROM hosts WHERE name = ?1",
	[Q_PS_ALL] = "SELECT host, id, name, image, state, status, health, "
		     "created FROM containers WHERE ?2 OR state = 'running' "
		     "ORDER BY host, name, id",
	[Q_PS_HOST] = "SELECT host, id, name, image, state, status, health, "
		      "created FROM containers WHERE host = ?1 AND "
		      "(?2 OR state = 'running') ORDER BY name, id",
	[Q_EVENTS_ALL] = "SELECT * FROM (" EVENT_COLS
			 "WHERE time_ns >= ?2 AND id > ?3" EVENT_ORDER,
	[Q_EVENTS_HOST] = "SELECT * FROM (" EVENT_COLS
			  "WHERE host = ?1 AND time_ns >= ?2 AND id > ?3"
			  EVENT_ORDER,
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
	rc = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READONLY, NULL);
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

static json_t *host_row(sqlite3_stmt *st, int64_t now_s)
{
	int64_t last_s = sqlite3_column_int64(st, 2) / 1000000000;
	int64_t ago = now_s > last_s ? now_s - last_s : 0;

	return json_pack("{s:o,s:b,s:I,s:I,s:b,s:o,s:I,s:I,s:o,s:o}", "name",
			 col_str(st, 0), "online",
			 sqlite3_column_int(st, 1) != 0, "last_seen",
			 (json_int_t)last_s, "last_seen_ago", (json_int_t)ago,
			 "docker_up", sqlite3_column_int(st, 3) != 0,
			 "docker_version", col_str(st, 4), "containers",
			 (json_int_t)sqlite3_column_int64(st, 7), "running",
			 (json_int_t)sqlite3_column_int64(st, 8), "peer",
			 col_str(st, 5), "software", col_str(st, 6));
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

json_t *dl_query_ps(dl_query_t *q, const char *host, bool all, char *err,
		    size_t errlen)
{
	sqlite3_stmt *st = q->st[host ? Q_PS_HOST : Q_PS_ALL];
	json_t *arr;
	bool online;
	int64_t seen;
	int rc;

	if (host && !dl_query_host(q, host, &online, &seen)) {
		snprintf(err, errlen, "no host named %s", host);
		return NULL;
	}
	if (!(arr = json_array()))
		goto nomem;
	if ((host && sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC)) ||
	    sqlite3_bind_int(st, 2, all ? 1 : 0))
		return step_fail(q, st, arr, "ps", err, errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!push(arr, ps_row(st)))
			goto nomem;
	if (rc != SQLITE_DONE)
		return step_fail(q, st, arr, "ps", err, errlen);
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
	snprintf(out, outlen, "%s.%09lldZ", day,
		 (long long)(ns % 1000000000));
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
	json_t *arr = json_array();
	int rc;

	if (!arr)
		goto nomem;
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
		return step_fail(q, st, arr, "events", err, errlen);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (!push(arr, event_row(st)))
			goto nomem;
	if (rc != SQLITE_DONE)
		return step_fail(q, st, arr, "events", err, errlen);
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
