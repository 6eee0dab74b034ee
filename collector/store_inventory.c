/* store_inventory.c - hosts' Docker state, containers and events, as
 * INVENTORY, CONTAINER, EVENT, DOCKER and DROPPED frames apply them
 * (writer thread, inside the batch's transaction). */

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

static int64_t clamp_ns(uint64_t ns)
{
	return ns > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)ns;
}

/* ?11..?18, or all NULL (unbound) when the agent did not inspect: the
 * status is then Docker's own text as of the agent's last event. Times
 * beyond INT64_MAX ns (year 2262) are clamped. */
static int bind_detail(sqlite3_stmt *st, const dl_cdetail_t *d)
{
	int rc;

	if (!d->has)
		return SQLITE_OK;
	if ((rc = sqlite3_bind_int64(st, 11, clamp_ns(d->started_at))) ||
	    (rc = sqlite3_bind_int64(st, 12, clamp_ns(d->finished_at))) ||
	    (rc = sqlite3_bind_int64(st, 13, d->exit_code)) ||
	    (rc = sqlite3_bind_int(st, 14, d->oom_killed ? 1 : 0)) ||
	    (rc = sqlite3_bind_int(st, 15, d->restarting ? 1 : 0)) ||
	    (rc = sqlite3_bind_int64(st, 16, d->restart_count)) ||
	    (rc = sqlite3_bind_int64(st, 17, d->health_streak)) ||
	    (rc = dl_store__bind_str(st, 18, d->health_output)))
		return rc;
	return SQLITE_OK;
}

/* The labels as a JSON object text (malloc'd), NULL when out of memory.
 * Invalid UTF-8 is repaired, so json_each in the triggers can read it. */
/* Key/value pairs (a container's labels, an event's attributes) as a
 * JSON object's text, made valid UTF-8; NULL when out of memory. */
static char *pairs_json(const dl_attr_t *v, uint32_t n)
{
	json_t *o = json_object();
	char *txt = NULL;

	if (!o)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		char *k = dl_utf8_dup(v[i].key.p, v[i].key.n);
		char *val = dl_utf8_dup(v[i].value.p, v[i].value.n);
		int rc = -1;

		if (k && val)
			rc = json_object_set_new(o, k, json_string(val));
		free(k);
		free(val);
		if (rc != 0)
			goto fail;
	}
	txt = json_dumps(o, JSON_COMPACT);
fail:
	json_decref(o);
	return txt;
}

/* ?19: the labels, or NULL (unbound) when the frame has none: the
 * upsert then keeps the stored ones. */
static int bind_labels(sqlite3_stmt *st, const dl_labels_t *l)
{
	char *txt;

	if (!l->has)
		return SQLITE_OK;
	if (!(txt = pairs_json(l->v, l->n)))
		return SQLITE_NOMEM;
	return sqlite3_bind_text(st, 19, txt, -1, free);
}

static int bind_container(sqlite3_stmt *st, const char *host,
			  const dl_container_t *c, uint64_t stamp)
{
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, host)) ||
	    (rc = dl_store__bind_str(st, 2, c->id)) ||
	    (rc = dl_store__bind_str(st, 3, c->name)) ||
	    (rc = dl_store__bind_str(st, 4, c->image)) ||
	    (rc = dl_store__bind_str(st, 5, c->state)) ||
	    (rc = dl_store__bind_str(st, 6, c->status)) ||
	    (rc = dl_store__bind_str(st, 7, c->health)) ||
	    (rc = sqlite3_bind_int64(st, 8, c->created)) ||
	    (rc = sqlite3_bind_int64(st, 9, (int64_t)stamp)) ||
	    (rc = sqlite3_bind_int64(st, 10, c->idx)) ||
	    (rc = bind_labels(st, &c->labels)))
		return rc;
	return bind_detail(st, &c->d);
}

/* A fresh updated_ns: never repeats, so an INVENTORY can tell the rows it
 * just wrote from the ones it must delete. */
static uint64_t next_stamp(dl_store_t *s, uint64_t now)
{
	s->stamp = now > s->stamp ? now : s->stamp + 1;
	return s->stamp;
}

static int upsert_container(dl_store_t *s, const char *host,
			    const dl_container_t *c, uint64_t stamp)
{
	sqlite3_stmt *st = s->st[ST_KEY_UPSERT];
	int rc;

	if ((rc = bind_container(s->st[ST_CT_UPSERT], host, c, stamp)) ||
	    (rc = dl_store__run(s, ST_CT_UPSERT)))
		return rc;
	if ((rc = dl_store__bind_cstr(st, 1, host)) ||
	    (rc = dl_store__bind_str(st, 2, c->id)) ||
	    (rc = dl_store__bind_str(st, 3, c->name)))
		return rc;
	return dl_store__run(s, ST_KEY_UPSERT);
}

uint64_t dl_store__inventory_begin(dl_store_t *s, const item_t *it)
{
	dl_store__idx_forget(s, it->host);
	return next_stamp(s, it->time_ns);
}

int dl_store__inventory_add(dl_store_t *s, const item_t *it, const dl_msg_t *m,
			    uint64_t stamp)
{
	int rc;

	for (uint32_t i = 0; i < m->u.inventory.n; i++) {
		if ((rc = upsert_container(s, it->host, &m->u.inventory.v[i],
					   stamp)))
			return rc;
	}
	return SQLITE_OK;
}

/* Deletes the host's containers the inventory did not write. */
int dl_store__inventory_end(dl_store_t *s, const item_t *it, uint64_t stamp)
{
	sqlite3_stmt *st = s->st[ST_CT_PRUNE];
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)stamp)))
		return rc;
	return dl_store__run(s, ST_CT_PRUNE);
}

int dl_store__apply_inventory(dl_store_t *s, const item_t *it,
			      const dl_msg_t *m)
{
	uint64_t stamp = dl_store__inventory_begin(s, it);
	int rc;

	if ((rc = dl_store__inventory_add(s, it, m, stamp)))
		return rc;
	return dl_store__inventory_end(s, it, stamp);
}

int dl_store__apply_container(dl_store_t *s, const item_t *it,
			      const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_CT_DELETE];
	int rc;

	dl_store__idx_forget(s, it->host);
	if (m->u.container.removed) {
		if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
		    (rc = dl_store__bind_str(st, 2, m->u.container.c.id)))
			return rc;
		return dl_store__run(s, ST_CT_DELETE);
	}
	return upsert_container(s, it->host, &m->u.container.c,
				next_stamp(s, it->time_ns));
}

int dl_store__apply_event(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_EVENT];
	const dl_event_t *ev = &m->u.event;
	char *attrs = pairs_json(ev->attrs, ev->nattrs);
	int rc;

	if (!attrs)
		return SQLITE_NOMEM;
	if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)m->time_ns)) ||
	    (rc = dl_store__bind_str(st, 3, ev->type)) ||
	    (rc = dl_store__bind_str(st, 4, ev->action)) ||
	    (rc = dl_store__bind_str(st, 5, ev->id)) ||
	    (rc = dl_store__bind_str(st, 6, ev->name)) ||
	    (rc = sqlite3_bind_text(st, 7, attrs, -1, free)) ||
	    (rc = sqlite3_bind_int64(st, 8, (int64_t)m->epoch)) ||
	    (rc = sqlite3_bind_int64(st, 9, (int64_t)m->seq))) {
		sqlite3_clear_bindings(st);
		return rc;
	}
	if ((rc = dl_store__run(s, ST_EVENT)) == SQLITE_OK &&
	    sqlite3_changes(s->db) > 0) {
		s->b_event = sqlite3_last_insert_rowid(s->db);
		s->b_events_n++;
	}
	return rc;
}

int dl_store__apply_docker(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_HOST_DOCKER];
	const dl_dockerinfo_t *d = &m->u.docker;
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int(st, 2, d->up ? 1 : 0)) ||
	    (rc = dl_store__bind_str(st, 3, d->version)) ||
	    (rc = dl_store__bind_str(st, 4, d->api_version)) ||
	    (rc = dl_store__bind_str(st, 5, d->os)) ||
	    (rc = dl_store__bind_str(st, 6, d->kernel)) ||
	    (rc = sqlite3_bind_int64(st, 7, d->ncpu)) ||
	    (rc = sqlite3_bind_int64(st, 8, (int64_t)d->mem_total)) ||
	    (rc = dl_store__bind_str(st, 9, d->reason)))
		return rc;
	return dl_store__run(s, ST_HOST_DOCKER);
}

int dl_store__apply_dropped(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	sqlite3_stmt *st = s->st[ST_HOST_DROPPED];
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)m->u.dropped.frames)) ||
	    (rc = sqlite3_bind_int64(st, 3, (int64_t)m->u.dropped.bytes)))
		return rc;
	return dl_store__run(s, ST_HOST_DROPPED);
}

int dl_store__apply_clock(dl_store_t *s, const item_t *it)
{
	sqlite3_stmt *st = s->st[ST_HOST_CLOCK];
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
	    (rc = it->au.skew_ms == INT64_MIN
			  ? sqlite3_bind_null(st, 2)
			  : sqlite3_bind_int64(st, 2, it->au.skew_ms)))
		return rc;
	return dl_store__run(s, ST_HOST_CLOCK);
}
