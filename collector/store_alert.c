/* store_alert.c - rows of the alerts and silences tables (schema v5),
 * queued by collector/alerts.c on the loop thread and written by the
 * writer. An alert row is the engine's record, not agent data: one that
 * cannot be written is logged and the batch goes on. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "collector/store_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "store"

static int bind_opt_str(sqlite3_stmt *st, int i, const char *v)
{
	return v[0] ? dl_store__bind_cstr(st, i, v) : sqlite3_bind_null(st, i);
}

static int bind_opt_time(sqlite3_stmt *st, int i, int64_t v)
{
	return v ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

static int alert_fail(dl_store_t *s, sqlite3_stmt *st, int64_t id, int rc)
{
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_OK)
		return SQLITE_OK;
	if (sqlite3_get_autocommit(s->db))
		return rc;
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "alerts: row %lld not stored: %s",
		  (long long)id, sqlite3_errstr(rc));
	return SQLITE_OK;
}

static int apply_put(dl_store_t *s, const item_t *it)
{
	sqlite3_stmt *st = s->st[ST_ALERT_PUT];
	const char *p = (const char *)it->data;
	const char *f[8];
	int rc;

	for (int i = 0; i < 8; i++)
		f[i] = dl_store__next_str(&p);
	if ((rc = sqlite3_bind_int64(st, 1, it->au.al.id)) == SQLITE_OK)
		for (int i = 0; i < 7 && rc == SQLITE_OK; i++)
			rc = i == 3 ? bind_opt_str(st, 5, f[i])
				    : dl_store__bind_cstr(st, i + 2, f[i]);
	for (int i = 0; i < 4 && rc == SQLITE_OK; i++)
		rc = i == 0 ? sqlite3_bind_int64(st, 9, it->au.al.t[0])
			    : bind_opt_time(st, 9 + i, it->au.al.t[i]);
	if (rc == SQLITE_OK)
		rc = it->au.al.has_value
			     ? sqlite3_bind_double(st, 13, it->au.al.value)
			     : sqlite3_bind_null(st, 13);
	if (rc == SQLITE_OK)
		rc = bind_opt_str(st, 14, f[7]);
	if (rc == SQLITE_OK)
		rc = bind_opt_time(st, 15, it->au.al.t[4]);
	if (rc == SQLITE_OK)
		rc = dl_store__run(s, ST_ALERT_PUT);
	return alert_fail(s, st, it->au.al.id, rc);
}

static int apply_silence(dl_store_t *s, item_t *it)
{
	sqlite3_stmt *st = s->st[ST_SILENCE_PUT];
	const char *p = (const char *)it->data;
	const char *f[5];
	int rc;

	for (int i = 0; i < 5; i++)
		f[i] = dl_store__next_str(&p);
	rc = sqlite3_bind_int64(st, 1, it->au.al.id);
	if (rc == SQLITE_OK)
		rc = dl_store__bind_cstr(st, 2, f[0]);
	if (rc == SQLITE_OK)
		rc = bind_opt_str(st, 3, f[1]);
	if (rc == SQLITE_OK)
		rc = bind_opt_str(st, 4, f[2]);
	if (rc == SQLITE_OK)
		rc = dl_store__bind_cstr(st, 5, f[3]);
	if (rc == SQLITE_OK)
		rc = dl_store__bind_cstr(st, 6, f[4]);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 7, it->au.al.t[0]);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 8, it->au.al.t[1]);
	if (rc == SQLITE_OK)
		rc = dl_store__run(s, ST_SILENCE_PUT);
	it->result = rc == SQLITE_OK ? 0 : DL_EDB;
	return alert_fail(s, st, it->au.al.id, rc);
}

int dl_store__apply_alert(dl_store_t *s, item_t *it)
{
	sqlite3_stmt *st;
	int which, rc;

	switch (it->kind) {
	case IT_ALERT_PUT: return apply_put(s, it);
	case IT_SILENCE_PUT: return apply_silence(s, it);
	case IT_ALERT_DEL: which = ST_ALERT_DEL; break;
	case IT_ALERT_PRUNE: which = ST_ALERT_PRUNE; break;
	default: which = ST_SILENCE_END; break;
	}
	st = s->st[which];
	rc = sqlite3_bind_int64(st, 1, it->au.al.id);
	if (rc == SQLITE_OK && which == ST_SILENCE_END)
		rc = sqlite3_bind_int64(st, 2, it->au.al.t[0]);
	if (rc == SQLITE_OK)
		rc = dl_store__run(s, which);
	it->result = rc == SQLITE_OK ? 0 : DL_EDB;
	return alert_fail(s, st, it->au.al.id, rc);
}

/* An item holding strs (each "" allowed) back to back. */
static item_t *strs_item(item_kind_t kind, const char *const *strs, size_t n)
{
	size_t len = 0;
	uint8_t *p;
	item_t *it;

	for (size_t i = 0; i < n; i++) {
		if (!strs[i] || strlen(strs[i]) > DL_ALERT_ROW_MAX)
			return NULL;
		len += strlen(strs[i]) + 1;
	}
	if (!(it = dl_store__item_alloc(kind, len, dl_clock_wall_ns())))
		return NULL;
	p = it->data;
	for (size_t i = 0; i < n; i++)
		dl_store__put_field(&p, strs[i], strlen(strs[i]), false);
	return it;
}

int dl_store_alert_put(dl_store_t *s, const dl_alert_row_t *r)
{
	const char *strs[8];
	item_t *it;

	if (!s || !r || r->id <= 0 || !dl_store__field_ok(r->rule, 255) ||
	    !dl_store__field_ok(r->key, DL_ALERT_ROW_MAX) ||
	    !dl_store__field_ok(r->host, 255) ||
	    !dl_store__field_ok(r->state, 32) ||
	    !dl_store__field_ok(r->severity, 32))
		return DL_EINVAL;
	strs[0] = r->rule;
	strs[1] = r->key;
	strs[2] = r->host;
	strs[3] = r->container ? r->container : "";
	strs[4] = r->severity;
	strs[5] = r->state;
	strs[6] = r->summary ? r->summary : "";
	strs[7] = r->notify_error ? r->notify_error : "";
	if (!(it = strs_item(IT_ALERT_PUT, strs, 8)))
		return DL_EINVAL;
	it->au.al.id = r->id;
	it->au.al.t[0] = r->since;
	it->au.al.t[1] = r->fired_at;
	it->au.al.t[2] = r->resolved_at;
	it->au.al.t[3] = r->last_notified;
	it->au.al.t[4] =
		r->notify_error && r->notify_error[0] ? r->notify_failed_at : 0;
	it->au.al.has_value = r->has_value;
	it->au.al.value = r->value;
	return dl_store__enqueue(s, it, false);
}

static int id_item(dl_store_t *s, item_kind_t kind, int64_t id, int64_t t,
		   dl_store_done_cb done, void *ud)
{
	item_t *it;

	if (!s)
		return DL_EINVAL;
	if (!(it = dl_store__item_alloc(kind, 0, dl_clock_wall_ns())))
		return DL_ENOMEM;
	it->au.al.id = id;
	it->au.al.t[0] = t;
	it->done = done;
	it->done_ud = ud;
	return dl_store__enqueue(s, it, false);
}

int dl_store_alert_delete(dl_store_t *s, int64_t id)
{
	return id_item(s, IT_ALERT_DEL, id, 0, NULL, NULL);
}

int dl_store_alert_prune(dl_store_t *s, int64_t before_ms)
{
	return id_item(s, IT_ALERT_PRUNE, before_ms, 0, NULL, NULL);
}

int dl_store_silence_put(dl_store_t *s, const dl_silence_row_t *r,
			 dl_store_done_cb done, void *ud)
{
	const char *strs[5];
	item_t *it;

	if (!s || !r || r->id <= 0 || !dl_store__field_ok(r->host, 255) ||
	    !dl_store__field_ok(r->by, 255))
		return DL_EINVAL;
	strs[0] = r->host;
	strs[1] = r->container ? r->container : "";
	strs[2] = r->rule ? r->rule : "";
	strs[3] = r->comment ? r->comment : "";
	strs[4] = r->by;
	if (!(it = strs_item(IT_SILENCE_PUT, strs, 5)))
		return DL_EINVAL;
	it->au.al.id = r->id;
	it->au.al.t[0] = r->created;
	it->au.al.t[1] = r->expires;
	it->done = done;
	it->done_ud = ud;
	return dl_store__enqueue(s, it, false);
}

int dl_store_silence_end(dl_store_t *s, int64_t id, int64_t when,
			 dl_store_done_cb done, void *ud)
{
	return id_item(s, IT_SILENCE_END, id, when, done, ud);
}
