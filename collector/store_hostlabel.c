/* store_hostlabel.c - host labels (hosts.labels, schema v8): an admin's
 * edit read, applied and written back by the writer in one transaction,
 * answered after the COMMIT. The rules are collector/hostlabel.c's. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "collector/hostlabel.h"
#include "collector/store_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "store"

/* A statement failed: inside a live transaction it undid itself and the
 * item's result says so; otherwise the batch retries. */
static int labels_fail(dl_store_t *s, item_t *it, int rc)
{
	if (sqlite3_get_autocommit(s->db))
		return rc;
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "labels of %s not written: %s",
		  it->host, sqlite3_errstr(rc));
	it->result = DL_EDB;
	return SQLITE_OK;
}

/* The host's labels now: an object (NULL column: empty), or NULL with
 * *rc set (SQLITE_DONE: no such host). */
static json_t *labels_now(dl_store_t *s, const char *host, int *rc)
{
	sqlite3_stmt *st = s->st[ST_LABELS_GET];
	json_t *j = NULL;

	*rc = dl_store__bind_cstr(st, 1, host);
	if (*rc == SQLITE_OK && (*rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);

		j = t ? json_loads(t, 0, NULL) : json_object();
		if (!json_is_object(j)) { /* never written so: start over */
			json_decref(j);
			j = json_object();
		}
		*rc = SQLITE_OK;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return j;
}

int dl_store__apply_host_labels(dl_store_t *s, item_t *it)
{
	const char *p = (const char *)it->data;
	const char *set_t = dl_store__next_str(&p),
		   *rm_t = dl_store__next_str(&p);
	json_t *set = json_loads(set_t, 0, NULL),
	       *rm = json_loads(rm_t, 0, NULL), *labels;
	sqlite3_stmt *st = s->st[ST_LABELS_SET];
	char err[256], *text = NULL;
	int rc;

	it->result = DL_EDB;
	labels = labels_now(s, it->host, &rc);
	if (!labels) {
		json_decref(set);
		json_decref(rm);
		if (rc == SQLITE_DONE) {
			it->result = DL_ENOENT;
			return SQLITE_OK;
		}
		return rc == SQLITE_OK ? SQLITE_OK : labels_fail(s, it, rc);
	}
	if (dl_hostlabel_apply(labels, set, rm, err, sizeof(err))) {
		snprintf(it->au.lab.out, it->au.lab.outlen, "%s", err);
		it->result = DL_EINVAL;
		rc = SQLITE_OK;
		goto out;
	}
	text = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text || strlen(text) >= it->au.lab.outlen) {
		rc = SQLITE_OK; /* result stays DL_EDB */
		goto out;
	}
	if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
	    (rc = json_object_size(labels)
			  ? sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT)
			  : sqlite3_bind_null(st, 2)) ||
	    (rc = dl_store__run(s, ST_LABELS_SET))) {
		sqlite3_clear_bindings(st);
		rc = labels_fail(s, it, rc);
		goto out;
	}
	snprintf(it->au.lab.out, it->au.lab.outlen, "%s", text);
	it->result = 0;
out:
	free(text);
	json_decref(labels);
	json_decref(set);
	json_decref(rm);
	return rc;
}

int dl_store_host_labels(dl_store_t *s, const char *host, const char *set,
			 const char *remove, char *out, size_t outlen,
			 dl_store_done_cb done, void *ud)
{
	size_t ls, lr;
	item_t *it;
	uint8_t *p;

	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX || !set ||
	    !remove || !out || outlen < 2048 || !done ||
	    (ls = strlen(set)) > DL_STORE_LABELS_TEXT_MAX ||
	    (lr = strlen(remove)) > DL_STORE_LABELS_TEXT_MAX)
		return DL_EINVAL;
	if (!(it = dl_store__item_alloc(IT_HOST_LABELS, ls + lr + 2,
					dl_clock_wall_ns())))
		return DL_ENOMEM;
	snprintf(it->host, sizeof(it->host), "%s", host);
	p = it->data;
	dl_store__put_field(&p, set, ls, false);
	dl_store__put_field(&p, remove, lr, false);
	it->au.lab.out = out;
	it->au.lab.outlen = outlen;
	it->done = done;
	it->done_ud = ud;
	return dl_store__enqueue(s, it, false);
}
