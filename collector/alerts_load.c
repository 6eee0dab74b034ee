/* alerts_load.c - start-up: the engine picks up where the last run
 * stopped. Pending alerts keep their `since` (one whose `for` elapsed
 * while the collector was down fires at the first tick, once), firing
 * ones keep when they last notified (no repeat before `repeat`),
 * resolved ones of the last week fill `alerts --all`, active silences
 * hold. Alerts of a rule that is gone or disabled are closed without a
 * message. Every known host starts offline: a host that never comes back
 * fires host_offline after `for`. One read-only connection, closed
 * before serving. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "collector/alerts_int.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "alerts"

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static int find_rule(const dl_alerts_t *e, const char *name)
{
	for (size_t i = 0; i < e->nrules; i++)
		if (!strcmp(e->rules[i].name, name))
			return (int)i;
	return -1;
}

static dl_severity_t sev_of(const char *s)
{
	return !strcmp(s, "critical") ? DL_SEV_CRITICAL
	       : !strcmp(s, "info")   ? DL_SEV_INFO
				      : DL_SEV_WARNING;
}

/* A live row whose rule is gone or off: closed, silently. */
static void close_orphan(dl_alerts_t *e, sqlite3_stmt *st, int64_t now)
{
	dl_alert_row_t row;

	if (!e->store)
		return;
	if (strcmp(col(st, 4), "firing")) {
		dl_store_alert_delete(e->store, sqlite3_column_int64(st, 0));
		return;
	}
	row = (dl_alert_row_t){
		.id = sqlite3_column_int64(st, 0),
		.rule = col(st, 1),
		.key = col(st, 12),
		.host = col(st, 2),
		.container = col(st, 3),
		.severity = col(st, 11),
		.state = "resolved",
		.summary = col(st, 10),
		.since = sqlite3_column_int64(st, 5),
		.fired_at = sqlite3_column_int64(st, 6),
		.resolved_at = now,
		.last_notified = sqlite3_column_int64(st, 8),
	};
	dl_store_alert_put(e->store, &row);
	DL_LOG_INFO(TAG, "%s %s: rule gone or disabled, alert closed", row.rule,
		    row.key);
}

static void load_live(dl_alerts_t *e, sqlite3_stmt *st, int64_t now)
{
	int r = find_rule(e, col(st, 1));
	inst_t *in;

	if (r < 0 || !e->rules[r].enabled) {
		close_orphan(e, st, now);
		return;
	}
	if (!(in = dl_alerts__get(e, (size_t)r, col(st, 2), col(st, 3), true)))
		return;
	in->state = strcmp(col(st, 4), "firing") ? A_PENDING : A_FIRING;
	in->bad = true; /* until an input says otherwise */
	in->id = sqlite3_column_int64(st, 0);
	in->since = sqlite3_column_int64(st, 5);
	in->fired_at = sqlite3_column_int64(st, 6);
	in->notified = sqlite3_column_int64(st, 8);
	in->has_value = sqlite3_column_type(st, 9) != SQLITE_NULL;
	in->value = sqlite3_column_double(st, 9);
	in->last_input = now;
	in->until = now + e->rules[r].window_ms;
	snprintf(in->summary, sizeof(in->summary), "%s", col(st, 10));
	snprintf(in->notify_error, sizeof(in->notify_error), "%s", col(st, 13));
	in->notify_failed_at = sqlite3_column_int64(st, 14);
}

static void load_resolved(dl_alerts_t *e, sqlite3_stmt *st)
{
	hist_t h = {0};

	h.id = sqlite3_column_int64(st, 0);
	snprintf(h.rule, sizeof(h.rule), "%s", col(st, 1));
	snprintf(h.host, sizeof(h.host), "%s", col(st, 2));
	snprintf(h.ctr, sizeof(h.ctr), "%s", col(st, 3));
	h.since = sqlite3_column_int64(st, 5);
	h.fired_at = sqlite3_column_int64(st, 6);
	h.resolved_at = sqlite3_column_int64(st, 7);
	h.has_value = sqlite3_column_type(st, 9) != SQLITE_NULL;
	h.value = sqlite3_column_double(st, 9);
	snprintf(h.summary, sizeof(h.summary), "%s", col(st, 10));
	h.severity = sev_of(col(st, 11));
	snprintf(h.notify_error, sizeof(h.notify_error), "%s", col(st, 13));
	h.notify_failed_at = sqlite3_column_int64(st, 14);
	dl_alerts__hist_add(e, &h);
}

static int load_alerts(dl_alerts_t *e, sqlite3 *db, int64_t now)
{
	static const char q[] =
		"SELECT id, rule, host, coalesce(container, ''), state, since, "
		"fired_at, resolved_at, last_notified, value, summary, "
		"severity, key, coalesce(notify_error, ''), "
		"coalesce(notify_failed_at, 0) FROM alerts WHERE state <> "
		"'resolved' OR "
		"resolved_at >= ?1 ORDER BY id";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	sqlite3_bind_int64(st, 1, now - (int64_t)DL_ALERT_HISTORY_S * 1000);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(st, 0);

		if (id >= e->next_id)
			e->next_id = id + 1;
		if (!strcmp(col(st, 4), "resolved"))
			load_resolved(e, st);
		else
			load_live(e, st, now);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int load_silences(dl_alerts_t *e, sqlite3 *db, int64_t now)
{
	static const char q[] =
		"SELECT id, host, coalesce(container, ''), coalesce(rule, ''), "
		"comment, created_by, created, expires FROM silences WHERE "
		"expires > ?1 ORDER BY id LIMIT 1024";
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT coalesce(max(id), 0) FROM silences",
			       -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	if (sqlite3_step(st) == SQLITE_ROW)
		e->next_silence = sqlite3_column_int64(st, 0) + 1;
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, q, -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	sqlite3_bind_int64(st, 1, now);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	       e->nsil < DL_SILENCES_MAX) {
		silence_t *s = &e->sil[e->nsil++];

		s->id = sqlite3_column_int64(st, 0);
		snprintf(s->host, sizeof(s->host), "%s", col(st, 1));
		snprintf(s->ctr, sizeof(s->ctr), "%s", col(st, 2));
		snprintf(s->rule, sizeof(s->rule), "%s", col(st, 3));
		snprintf(s->comment, sizeof(s->comment), "%s", col(st, 4));
		snprintf(s->by, sizeof(s->by), "%s", col(st, 5));
		s->created = sqlite3_column_int64(st, 6);
		s->expires = sqlite3_column_int64(st, 7);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Known hosts: offline until their agents connect; the dropped-frame
 * totals are the baseline, so drops during a collector outage count. */
static int load_hosts(dl_alerts_t *e, sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db, "SELECT name, dropped_frames FROM hosts", -1,
			       &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *host = col(st, 0);
		inst_t *mem = dl_alerts__get(e, e->nrules, host, "", true);

		if (mem) {
			mem->dropped = (uint64_t)sqlite3_column_int64(st, 1);
			mem->have_dropped = true;
		}
		for (size_t i = 0; i < e->nrules; i++) {
			const dl_alert_rule_t *r = &e->rules[i];
			inst_t *in;

			if (r->cond != DL_COND_HOST_OFFLINE ||
			    fnmatch(r->hosts, host, 0) ||
			    !(in = dl_alerts__get(e, i, host, "", true)) ||
			    in->state != A_INACTIVE)
				continue;
			in->last_input = now;
			snprintf(in->summary, sizeof(in->summary),
				 "%s is offline", host);
			dl_alerts__bad(e, in, now);
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Containers' labels as stored, so `label =` scopes hold before each
 * agent's next INVENTORY. */
static int load_labels(dl_alerts_t *e, sqlite3 *db)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(db,
			       "SELECT host, name, labels FROM containers "
			       "WHERE labels IS NOT NULL",
			       -1, &st, NULL) != SQLITE_OK)
		return SQLITE_ERROR;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *name = col(st, 1);
		json_t *l = json_loads(col(st, 2), 0, NULL);

		if (name[0] == '/')
			name++;
		if (json_is_object(l) && name[0])
			dl_alerts_set_labels(e, col(st, 0), name, l);
		json_decref(l);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int dl_alerts_load(dl_alerts_t *e, const char *path, char *err, size_t errlen)
{
	int64_t now = dl_alerts__now(e);
	sqlite3 *db = NULL;
	int rc;

	if ((rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL)) ==
	    SQLITE_OK) {
		sqlite3_busy_timeout(db, 5000);
		if ((rc = load_alerts(e, db, now)) == SQLITE_OK &&
		    (rc = load_silences(e, db, now)) == SQLITE_OK)
			if ((rc = load_hosts(e, db, now)) == SQLITE_OK)
				rc = load_labels(e, db);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot read alert state: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return DL_EDB;
	}
	sqlite3_close(db);
	DL_LOG_INFO(TAG, "%zu rule(s), %zu silence(s) active", e->nrules,
		    e->nsil);
	return 0;
}
