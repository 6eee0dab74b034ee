/* store_audit.c - the audit log of control requests: items queued by
 * the loop (strings capped and copied) and their rows written by the
 * writer. A row that cannot be stored is logged, never a reason to hold
 * back data. */

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

/* The NUL-terminated string at *p; moves *p past it. */
const char *dl_store__next_str(const char **p)
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

int dl_store__apply_audit_start(dl_store_t *s, const item_t *it)
{
	sqlite3_stmt *st = s->st[ST_AUDIT_START];
	const char *p = (const char *)it->data;
	const char *req = dl_store__next_str(&p),
		   *user = dl_store__next_str(&p);
	const char *host = dl_store__next_str(&p), *op = dl_store__next_str(&p);
	const char *target = dl_store__next_str(&p),
		   *args = dl_store__next_str(&p);
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, req)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)it->time_ns)) ||
	    (rc = sqlite3_bind_int64(st, 3, it->au.uid)) ||
	    (rc = dl_store__bind_cstr(st, 4, user)) ||
	    (rc = dl_store__bind_cstr(st, 5, host)) ||
	    (rc = dl_store__bind_cstr(st, 6, op)) ||
	    (rc = dl_store__bind_cstr(st, 7, target)) ||
	    (rc = dl_store__bind_cstr(st, 8, args)) ||
	    (rc = dl_store__run(s, ST_AUDIT_START)))
		return audit_fail(s, st, req, "start", rc);
	return SQLITE_OK;
}

int dl_store__apply_audit_end(dl_store_t *s, const item_t *it)
{
	sqlite3_stmt *st = s->st[ST_AUDIT_END];
	const char *p = (const char *)it->data;
	const char *req = dl_store__next_str(&p),
		   *status = dl_store__next_str(&p);
	const char *msg = dl_store__next_str(&p);
	int code = it->au.end.exit_code;
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, req)) ||
	    (rc = dl_store__bind_cstr(st, 2, status)) ||
	    (rc = dl_store__bind_cstr(st, 3, msg)) ||
	    (rc = code == INT_MIN ? sqlite3_bind_null(st, 4)
				  : sqlite3_bind_int(st, 4, code)) ||
	    (rc = sqlite3_bind_int64(st, 5, it->au.end.duration_ms)) ||
	    (rc = dl_store__run(s, ST_AUDIT_END)))
		return audit_fail(s, st, req, "outcome", rc);
	if (sqlite3_changes(s->db) == 0)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "audit: request %s is not running; outcome %s "
			  "dropped",
			  req, status);
	return SQLITE_OK;
}

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

bool dl_store__field_ok(const char *s, size_t max)
{
	return s && *s && strnlen(s, max + 1) <= max;
}

/* Appends s[0..n) and its NUL (and "..." before it when cut) at *p. */
void dl_store__put_field(uint8_t **p, const char *s, size_t n, bool cut)
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

	if (!s || !a || !dl_store__field_ok(a->req, DL_AUDIT_REQ_MAX) ||
	    !dl_store__field_ok(a->user, DL_AUDIT_USER_MAX) ||
	    !dl_store__field_ok(a->host, DL_AUDIT_HOST_MAX) ||
	    !dl_store__field_ok(a->op, DL_AUDIT_OP_MAX) ||
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
	it = dl_store__item_alloc(
		IT_AUDIT_START, lr + lu + lh + lo + lt + la + (cut ? 3 : 0) + 6,
		a->time_ns);
	if (!it)
		return DL_ENOMEM;
	it->au.uid = a->uid;
	p = it->data;
	dl_store__put_field(&p, a->req, lr, false);
	dl_store__put_field(&p, a->user, lu, false);
	dl_store__put_field(&p, a->host, lh, false);
	dl_store__put_field(&p, a->op, lo, false);
	dl_store__put_field(&p, target, lt, false);
	dl_store__put_field(&p, args, la, cut);
	return dl_store__enqueue(s, it, false);
}

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

	if (!s || !dl_store__field_ok(req, DL_AUDIT_REQ_MAX) ||
	    !status_ok(status) || duration_ms < 0)
		return DL_EINVAL;
	if (!message)
		message = "";
	lr = strlen(req);
	ls = strlen(status);
	lm = clip(message, DL_AUDIT_MESSAGE_MAX, &cut);
	it = dl_store__item_alloc(IT_AUDIT_END,
				  lr + ls + lm + (cut ? 3 : 0) + 3,
				  dl_clock_wall_ns());
	if (!it)
		return DL_ENOMEM;
	it->au.end.exit_code = exit_code;
	it->au.end.duration_ms = duration_ms;
	p = it->data;
	dl_store__put_field(&p, req, lr, false);
	dl_store__put_field(&p, status, ls, false);
	dl_store__put_field(&p, message, lm, cut);
	return dl_store__enqueue(s, it, false);
}
