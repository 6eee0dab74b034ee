/* store_token.c - API token rows (create, revoke, last used), written by
 * the writer with a done callback so the admin is answered after the
 * COMMIT. Stores hashes only, never a secret. */

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

int dl_store__apply_token(dl_store_t *s, item_t *it)
{
	const char *p = (const char *)it->data;
	const char *name = dl_store__next_str(&p);
	sqlite3_stmt *st;
	int rc, which, none = 0;

	if (it->kind == IT_TOKEN_CREATE) {
		const char *hash = dl_store__next_str(&p),
			   *role = dl_store__next_str(&p);
		const char *hosts = dl_store__next_str(&p);

		which = ST_TOKEN_CREATE;
		none = DL_EEXIST;
		st = s->st[which];
		if ((rc = dl_store__bind_cstr(st, 1, name)) ||
		    (rc = dl_store__bind_cstr(st, 2, hash)) ||
		    (rc = dl_store__bind_cstr(st, 3, role)) ||
		    (rc = dl_store__bind_cstr(st, 4, hosts)) ||
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
		if ((rc = dl_store__bind_cstr(st, 1, name)) ||
		    (rc = sqlite3_bind_int64(st, 2, it->au.tok.when)))
			return token_result(s, it, st, rc, none);
	}
	return token_result(s, it, st, dl_store__run(s, which), none);
}

static item_t *str_item(item_kind_t kind, const char *const *strs, size_t n)
{
	size_t len = 0, l;
	uint8_t *p;
	item_t *it;

	for (size_t i = 0; i < n; i++)
		len += strlen(strs[i]) + 1;
	if (!(it = dl_store__item_alloc(kind, len, dl_clock_wall_ns())))
		return NULL;
	p = it->data;
	for (size_t i = 0; i < n; i++) {
		l = strlen(strs[i]);
		dl_store__put_field(&p, strs[i], l, false);
	}
	return it;
}

int dl_store_token_create(dl_store_t *s, const dl_token_row_t *t,
			  dl_store_done_cb done, void *ud)
{
	const char *strs[4];
	item_t *it;

	if (!s || !t || !done ||
	    !dl_store__field_ok(t->name, DL_TOKEN_ROW_MAX) ||
	    !dl_store__field_ok(t->hash, DL_TOKEN_ROW_MAX) ||
	    !dl_store__field_ok(t->role, DL_TOKEN_ROW_MAX) ||
	    !dl_store__field_ok(t->hosts, DL_TOKEN_ROW_MAX) ||
	    t->created <= 0 || t->expires < 0)
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
	return dl_store__enqueue(s, it, false);
}

static int token_touch(dl_store_t *s, item_kind_t kind, const char *name,
		       int64_t when, dl_store_done_cb done, void *ud)
{
	item_t *it;

	if (!s || !dl_store__field_ok(name, DL_TOKEN_ROW_MAX) || when <= 0)
		return DL_EINVAL;
	if (!(it = str_item(kind, &name, 1)))
		return DL_ENOMEM;
	it->au.tok.when = when;
	it->done = done;
	it->done_ud = ud;
	return dl_store__enqueue(s, it, false);
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
