/* watch_inspect.c - the facts /containers/json does not give (start and
 * finish times, exit code, OOM, restarts, health streak and output):
 * GET /containers/{id}/json per container, at most MAX_INSPECT in flight
 * and a FIFO for the rest, each answer reported with the container's last
 * list answer. Never reports a container the list has not named. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/inspect.h"
#include "agent/watch.h"
#include "agent/watch_int.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "watch"

/* ---- inspect: the facts /containers/json does not give -------------- */

/* Takes c's strings (c is left empty) as e's last list answer. */
void dl_watch__set_last(cent_t *e, dl_container_t *c)
{
	dl_watch__free_container(&e->last);
	e->last = *c;
	e->last.d = (dl_cdetail_t){0};
	e->has_last = true;
	c->id = c->name = c->image = c->state = c->status = c->health =
		(dl_str_t){0};
	c->labels = (dl_labels_t){0};
}

/* Tells the consumer e's last list answer with the facts known now. */
void dl_watch__report(dl_watch_t *w, cent_t *e)
{
	dl_container_t c = e->last;

	c.idx = e->idx;
	c.d = e->facts ? e->facts->d : (dl_cdetail_t){0};
	if (w->cbs.on_container)
		w->cbs.on_container(w->ud, false, &c);
}

/* Inventory entries carry the facts already known (they point into the
 * table, valid during the callback). */
void dl_watch__attach_facts(dl_watch_t *w, dl_container_t *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		cent_t *e = dl_watch__cent_find(w, v[i].id.p);

		v[i].d = e && e->facts ? e->facts->d : (dl_cdetail_t){0};
	}
}

/* After the inventory: keep each answer, inspect what is not known. */
void dl_watch__keep_last(dl_watch_t *w, dl_container_t *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		cent_t *e = dl_watch__cent_find(w, v[i].id.p);

		if (!e)
			continue;
		dl_watch__set_last(e, &v[i]);
		if (!e->facts)
			dl_watch__want_facts(w, e);
	}
}

static void take_facts(cent_t *e, const dl_inspect_t *f)
{
	if (!e->facts && !(e->facts = malloc(sizeof(*e->facts))))
		return;
	*e->facts = *f;
	e->facts->d.health_output.p = e->facts->output; /* into the copy */
	/* Inspect reads the container itself: fresher than the list. */
	if (f->state[0] && e->has_last) {
		dl_watch__free_str(&e->last.state);
		dl_watch__free_str(&e->last.health);
		if (dl_watch__set_str(&e->last.state, f->state,
				      strlen(f->state), DL_MAX_NAME) ||
		    dl_watch__set_str(&e->last.health, f->health,
				      strlen(f->health), DL_MAX_NAME))
			e->has_last = false; /* ENOMEM: report nothing */
	}
}

static void pump(dl_watch_t *w);

static void on_inspect(void *ud, int err, long status, const char *body,
		       size_t len)
{
	cent_t *e = ud;
	dl_watch_t *w = e->w;
	dl_inspect_t f;

	e->inspect = NULL;
	w->ninspect--;
	if (w->cancelling)
		return;
	if (!err && status == 404)
		goto next; /* gone: its destroy event says the rest */
	if (!err && status == 200 && dl_inspect_parse(body, len, &f) == 0) {
		take_facts(e, &f);
	} else {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "inspect of %.12s failed (%s, HTTP %ld)", e->id,
			  err ? dl_strerror(err) : "answer not understood",
			  status);
		free(e->facts); /* stale by now: say nothing rather */
		e->facts = NULL;
	}
	if (e->has_last)
		dl_watch__report(w, e);
	if (w->st == ST_CLOSED)
		return;
next:
	if (e->inspect_again) {
		e->inspect_again = false;
		dl_watch__want_facts(w, e);
	}
	pump(w);
}

static void pump(dl_watch_t *w)
{
	char path[128];
	cent_t *e;

	while (w->ninspect < MAX_INSPECT && w->qhead &&
	       (w->st == ST_LIST || w->st == ST_RUNNING)) {
		e = w->qhead;
		w->qhead = e->qnext;
		if (!w->qhead)
			w->qtail = NULL;
		e->qnext = NULL;
		e->queued = false;
		if (!dl_watch__id_ok(e->id))
			continue;
		snprintf(path, sizeof(path), "%s/containers/%s/json", w->api,
			 e->id);
		w->ninspect++;
		e->inspect = dl_docker_request(
			w->docker, "GET", path, NULL, DL_INSPECT_MAX_BODY,
			INSPECT_TIMEOUT_MS, on_inspect, e);
		if (!e->inspect) {
			w->ninspect--;
			DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
				  "cannot inspect container %.12s", e->id);
			if (e->has_last)
				dl_watch__report(w, e);
			if (w->st == ST_CLOSED)
				return;
		}
	}
}

/* Asks for an inspect of e; its answer is reported with e's last list
 * answer. One in flight per container, MAX_INSPECT in all. */
void dl_watch__want_facts(dl_watch_t *w, cent_t *e)
{
	if (e->inspect) {
		e->inspect_again = true;
		return;
	}
	if (!e->queued) {
		e->queued = true;
		e->qnext = NULL;
		if (w->qtail)
			w->qtail->qnext = e;
		else
			w->qhead = e;
		w->qtail = e;
	}
	pump(w);
}
