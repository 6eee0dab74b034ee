/* watch.c - discovery and live view of the local Docker Engine: the
 * state machine, the id -> idx table, inspects and refreshes. Parsing
 * Docker's JSON lives in watch_parse.c.
 *
 * States: PING -> VERSION -> INFO -> (open /events) LIST -> RUNNING, and
 * WAIT (backoff timer) after any failure. No event may fall between the
 * list and the stream, so the stream is opened *before* the list with
 * since = now - 1 s (or the newest event accepted, if older: see
 * dl_watch_cbs_t.resume_ns): dockerd replays its recent events from that
 * time, so
 * whatever changes after the list snapshot is seen whether the
 * subscription registers before or after the list is served. Container
 * events that arrive while the list is in flight are held back (deferred)
 * and applied after on_inventory, so an older snapshot never overwrites a
 * newer refresh. Duplicates only cost a refresh.
 *
 * Callbacks may call dl_watch_close(); after every callback the code
 * checks for CLOSED before touching anything else. Memory goes in the
 * close callback of the last handle.
 */
#include "agent/watch.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/inspect.h"
#include "agent/watch_int.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define TAG		   "watch"
#define PING_TIMEOUT_MS	   10000L
#define INFO_TIMEOUT_MS	   20000L
#define LIST_TIMEOUT_MS	   60000L
#define REFRESH_TIMEOUT_MS 20000L
#define BACKOFF_MIN_MS	   1000
#define BACKOFF_MAX_MS	   30000

static void start_discovery(dl_watch_t *w);
static void start_list(dl_watch_t *w);
static void refresh(dl_watch_t *w, const char *id);

/* ---- container table: id -> stable idx ------------------------------- */

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKETS;
}

cent_t *dl_watch__cent_find(dl_watch_t *w, const char *id)
{
	cent_t *e = w->buckets[hash_id(id)];

	while (e && strcmp(e->id, id) != 0)
		e = e->next;
	return e;
}

static cent_t *cent_get(dl_watch_t *w, const char *id)
{
	cent_t *e = dl_watch__cent_find(w, id);
	uint32_t b;

	if (e)
		return e;
	if (w->ncont >= DL_MAX_CONTAINERS || strlen(id) > DL_MAX_ID) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container %.12s not watched: %u containers already",
			  id, w->ncont);
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->w = w;
	e->idx = ++w->next_idx;
	snprintf(e->id, sizeof(e->id), "%s", id);
	b = hash_id(id);
	e->next = w->buckets[b];
	w->buckets[b] = e;
	w->ncont++;
	return e;
}

static void cancel_req(dl_watch_t *w, dl_docker_req_t *req)
{
	bool was = w->cancelling;

	w->cancelling = true; /* its done callback only clears its pointer */
	dl_docker_cancel(req);
	w->cancelling = was;
}

static void queue_unlink(dl_watch_t *w, cent_t *e)
{
	cent_t **pp = &w->qhead, *prev = NULL;

	if (!e->queued)
		return;
	while (*pp && *pp != e) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp)
		*pp = e->qnext;
	if (w->qtail == e)
		w->qtail = prev;
	e->qnext = NULL;
	e->queued = false;
}

static void cent_remove(dl_watch_t *w, cent_t *e)
{
	cent_t **pp = &w->buckets[hash_id(e->id)];

	if (e->refresh)
		cancel_req(w, e->refresh);
	if (e->inspect)
		cancel_req(w, e->inspect);
	queue_unlink(w, e);
	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	w->ncont--;
	dl_watch__free_container(&e->last);
	free(e->facts);
	free(e);
}

static void table_clear(dl_watch_t *w)
{
	uint32_t b;

	for (b = 0; b < NBUCKETS; b++)
		while (w->buckets[b])
			cent_remove(w, w->buckets[b]);
}

/* ---- state machine --------------------------------------------------- */

static void cancel_all(dl_watch_t *w)
{
	uint32_t b;
	cent_t *e;

	cancel_req(w, w->req);
	cancel_req(w, w->events);
	for (b = 0; b < NBUCKETS; b++)
		for (e = w->buckets[b]; e; e = e->next) {
			if (e->refresh)
				cancel_req(w, e->refresh);
			if (e->inspect)
				cancel_req(w, e->inspect);
			/* Facts from before dockerd went away may be stale
			 * (it may have restarted everything): the next list
			 * inspects every container again. */
			free(e->facts);
			e->facts = NULL;
			e->queued = e->want_facts = e->inspect_again = false;
			e->qnext = NULL;
		}
	w->qhead = w->qtail = NULL;
	w->ndeferred = 0;
	w->relist = false;
	w->nsettle = 0;
	uv_timer_stop(&w->settle);
}

static void on_retry(uv_timer_t *t)
{
	dl_watch_t *w = t->data;

	start_discovery(w);
}

static void fail(dl_watch_t *w, const char *reason)
{
	uint64_t delay;

	if (w->st == ST_CLOSED || w->st == ST_WAIT)
		return;
	cancel_all(w);
	w->st = ST_WAIT;
	delay = dl_backoff_next(&w->bo);
	if (w->up != 0) {
		dl_dockerinfo_t info = {.up = false};

		DL_LOG_WARN(TAG, "Docker down: %s (retrying every %u-%u s)",
			    reason, BACKOFF_MIN_MS / 1000,
			    BACKOFF_MAX_MS / 1000);
		w->up = 0;
		info.reason = DL_STR(reason);
		info.version = info.api_version = info.os = info.kernel =
			DL_STR("");
		if (w->cbs.on_docker)
			w->cbs.on_docker(w->ud, &info);
		if (w->st == ST_CLOSED)
			return;
	} else {
		DL_LOG_DEBUG(TAG, "still down: %s", reason);
	}
	uv_timer_start(&w->retry, on_retry, delay, 0);
}

/* Common checks of a discovery answer; returns false after fail(). */
static bool answer_ok(dl_watch_t *w, int err, long status, const char *what,
		      const char *body)
{
	char reason[512];

	if (err) {
		fail(w, dl_docker_last_error(w->docker));
		return false;
	}
	if (status != 200) {
		snprintf(reason, sizeof(reason),
			 "Docker answered HTTP %ld to %s: %.200s", status, what,
			 body ? body : "");
		fail(w, reason);
		return false;
	}
	return true;
}

static json_t *load_object(dl_watch_t *w, const char *body, size_t len,
			   const char *what)
{
	char reason[256];
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);

	if (json_is_object(root))
		return root;
	json_decref(root);
	snprintf(reason, sizeof(reason), "Docker's %s is not a JSON object",
		 what);
	fail(w, reason);
	return NULL;
}

static void on_event_line(void *ud, const char *line, size_t len);
static void on_events_done(void *ud, int err, long status, const char *body,
			   size_t len);

static void on_info(void *ud, int err, long status, const char *body,
		    size_t len)
{
	dl_watch_t *w = ud;
	char path[448];
	uint64_t since;
	json_t *root, *v;

	w->req = NULL;
	if (w->cancelling || !answer_ok(w, err, status, "/info", body))
		return;
	root = load_object(w, body, len, "/info");
	if (!root)
		return;
	v = json_object_get(root, "NCPU");
	if (json_is_integer(v) && json_integer_value(v) > 0 &&
	    json_integer_value(v) <= UINT32_MAX)
		w->ncpu = (uint32_t)json_integer_value(v);
	v = json_object_get(root, "MemTotal");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		w->mem_total = (uint64_t)json_integer_value(v);
	v = json_object_get(root, "OperatingSystem");
	if (json_is_string(v) && json_string_length(v) > 0)
		dl_watch__copy_fixed(w->os, sizeof(w->os), v);
	if (!w->kernel[0])
		dl_watch__copy_fixed(w->kernel, sizeof(w->kernel),
				     json_object_get(root, "KernelVersion"));
	v = json_object_get(root, "DockerRootDir");
	/* Only an absolute path that fits: it is statvfs()ed later. */
	if (json_is_string(v) && json_string_length(v) > 1 &&
	    json_string_length(v) < sizeof(w->root_dir) &&
	    json_string_value(v)[0] == '/')
		dl_watch__copy_fixed(w->root_dir, sizeof(w->root_dir), v);
	json_decref(root);

	/* Stream first, then list: see the comment at the top. */
	since = dl_clock_wall_ns() / 1000000000u - 1;
	if (w->cbs.resume_ns) {
		uint64_t r = w->cbs.resume_ns(w->ud) / 1000000000u;

		if (r && r < since) {
			DL_LOG_INFO(TAG,
				    "events: resuming from %" PRIu64
				    " (newest accepted event, %" PRIu64
				    " s ago)",
				    r, since + 1 - r);
			since = r;
		}
	}
	snprintf(path, sizeof(path), "%s/events?since=%" PRIu64 "%s", w->api,
		 since, w->filter);
	w->events = dl_docker_stream(w->docker, path, on_event_line,
				     on_events_done, w);
	if (!w->events) {
		fail(w, "cannot open the Docker event stream (out of memory)");
		return;
	}
	start_list(w);
}

static void on_version(void *ud, int err, long status, const char *body,
		       size_t len)
{
	dl_watch_t *w = ud;
	json_t *root;
	long major = 0, minor = 0;
	char *end;

	w->req = NULL;
	if (w->cancelling || !answer_ok(w, err, status, "/version", body))
		return;
	root = load_object(w, body, len, "/version");
	if (!root)
		return;
	dl_watch__copy_fixed(w->version, sizeof(w->version),
			     json_object_get(root, "Version"));
	dl_watch__copy_fixed(w->api_version, sizeof(w->api_version),
			     json_object_get(root, "ApiVersion"));
	dl_watch__copy_fixed(w->os, sizeof(w->os), json_object_get(root, "Os"));
	dl_watch__copy_fixed(w->kernel, sizeof(w->kernel),
			     json_object_get(root, "KernelVersion"));
	json_decref(root);
	/* Talk the daemon's API version when it is older than ours (the
	 * fields read here exist since 1.24). */
	major = strtol(w->api_version, &end, 10);
	if (end != w->api_version && *end == '.')
		minor = strtol(end + 1, &end, 10);
	snprintf(w->api, sizeof(w->api), "%s", DL_DOCKER_API);
	if (major == 1 && minor >= 24 && minor < 41)
		snprintf(w->api, sizeof(w->api), "/v1.%ld", minor);
	w->st = ST_INFO;
	{
		char path[64];

		snprintf(path, sizeof(path), "%s/info", w->api);
		w->req = dl_docker_request(w->docker, "GET", path, NULL, 0,
					   INFO_TIMEOUT_MS, on_info, w);
	}
	if (!w->req)
		fail(w, "cannot start a Docker request (out of memory)");
}

static void on_ping(void *ud, int err, long status, const char *body,
		    size_t len)
{
	dl_watch_t *w = ud;

	w->req = NULL;
	if (w->cancelling || !answer_ok(w, err, status, "/_ping", body))
		return;
	w->st = ST_VERSION;
	w->req = dl_docker_request(w->docker, "GET", "/version", NULL, 0,
				   INFO_TIMEOUT_MS, on_version, w);
	if (!w->req)
		fail(w, "cannot start a Docker request (out of memory)");
}

static void start_discovery(dl_watch_t *w)
{
	if (w->st == ST_CLOSED)
		return;
	w->st = ST_PING;
	w->version[0] = w->api_version[0] = w->os[0] = w->kernel[0] = '\0';
	w->ncpu = 0;
	w->mem_total = 0;
	w->req = dl_docker_request(w->docker, "GET", "/_ping", NULL, 4096,
				   PING_TIMEOUT_MS, on_ping, w);
	if (!w->req)
		fail(w, "cannot start a Docker request (out of memory)");
}

/* ---- inventory ------------------------------------------------------- */

static void report_up(dl_watch_t *w)
{
	dl_dockerinfo_t info = {.up = true};

	if (w->up == 1)
		return;
	w->up = 1;
	dl_backoff_reset(&w->bo);
	info.version = DL_STR(w->version);
	info.api_version = DL_STR(w->api_version);
	info.os = DL_STR(w->os);
	info.kernel = DL_STR(w->kernel);
	info.ncpu = w->ncpu;
	info.mem_total = w->mem_total;
	info.reason = DL_STR("");
	DL_LOG_INFO(TAG, "Docker %s (API %s) up at %s", w->version,
		    w->api_version, w->sock);
	if (w->cbs.on_docker)
		w->cbs.on_docker(w->ud, &info);
}

/* Gives every listed container its idx (kept for known ids) and forgets
 * the ids that are gone; a container beyond the table's cap is dropped
 * from v. Returns the number kept. */
static uint32_t reconcile(dl_watch_t *w, dl_container_t *v, uint32_t n)
{
	uint32_t i, k = 0, b;
	cent_t *e, *next;

	for (b = 0; b < NBUCKETS; b++)
		for (e = w->buckets[b]; e; e = e->next)
			e->seen = false;
	for (i = 0; i < n; i++) {
		e = cent_get(w, v[i].id.p);
		if (!e) {
			dl_watch__free_container(&v[i]);
			continue;
		}
		e->seen = e->reported = true;
		snprintf(e->name, sizeof(e->name), "%s", v[i].name.p);
		v[i].idx = e->idx;
		if (k != i)
			v[k] = v[i];
		k++;
	}
	for (b = 0; b < NBUCKETS; b++)
		for (e = w->buckets[b]; e; e = next) {
			next = e->next;
			/* A deferred event may have made an entry that the
			 * list does not show yet: that one stays. */
			if (!e->seen && !e->refresh)
				cent_remove(w, e);
		}
	return k;
}

/* Ordered: a deferred id keeps the strongest kind seen. */
enum { EV_OTHER, EV_START, EV_DIE, EV_DESTROY };
static void apply_event(dl_watch_t *w, const char *id, const char *name,
			int kind, bool facts);

static void apply_deferred(dl_watch_t *w)
{
	uint32_t i, n = w->ndeferred;
	deferred_t *d = malloc(sizeof(*d) * (n ? n : 1));

	if (!d) {
		w->relist = true;
		return;
	}
	memcpy(d, w->deferred, sizeof(*d) * n);
	w->ndeferred = 0;
	for (i = 0; i < n && w->st == ST_RUNNING; i++)
		apply_event(w, d[i].id, d[i].name, d[i].kind, d[i].facts);
	free(d);
}

static void on_list(void *ud, int err, long status, const char *body,
		    size_t len)
{
	dl_watch_t *w = ud;
	dl_container_t *v = NULL;
	uint32_t n = 0;
	int rc;

	w->req = NULL;
	if (w->cancelling ||
	    !answer_ok(w, err, status, "/containers/json", body))
		return;
	rc = dl_watch_parse_containers(body, len, &v, &n);
	if (rc) {
		fail(w, "Docker's /containers/json could not be parsed");
		return;
	}
	n = reconcile(w, v, n);
	dl_watch__attach_facts(w, v, n);
	report_up(w);
	if (w->st != ST_CLOSED && w->cbs.on_inventory)
		w->cbs.on_inventory(w->ud, v, n);
	if (w->st == ST_LIST)
		dl_watch__keep_last(w, v, n);
	dl_watch_free_containers(v, n);
	if (w->st != ST_LIST)
		return; /* closed or failed inside a callback */
	DL_LOG_INFO(TAG, "inventory: %u containers", n);
	w->st = ST_RUNNING;
	if (w->relist) {
		w->relist = false;
		w->ndeferred = 0;
		start_list(w);
		return;
	}
	apply_deferred(w);
	if (w->relist && w->st == ST_RUNNING) {
		w->relist = false;
		start_list(w);
	}
}

static void start_list(dl_watch_t *w)
{
	char path[400];

	w->st = ST_LIST;
	snprintf(path, sizeof(path), "%s/containers/json?all=1%s", w->api,
		 w->filter);
	w->req = dl_docker_request(w->docker, "GET", path, NULL,
				   DL_DOCKER_MAX_BODY, LIST_TIMEOUT_MS, on_list,
				   w);
	if (!w->req)
		fail(w, "cannot start a Docker request (out of memory)");
}

/* ---- events and refreshes -------------------------------------------- */

static bool str_is(dl_str_t s, const char *c)
{
	return s.n == strlen(c) && memcmp(s.p, c, s.n) == 0;
}

bool dl_watch__id_ok(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (i >= MAX_DOCKER_ID || !((id[i] >= '0' && id[i] <= '9') ||
					    (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return i > 0;
}

static void on_settle(uv_timer_t *t)
{
	dl_watch_t *w = t->data;
	char ids[MAX_SETTLE][DL_MAX_ID + 1];
	uint32_t i, n = w->nsettle;
	cent_t *e;

	memcpy(ids, w->settle_ids, sizeof(ids[0]) * n);
	w->nsettle = 0;
	for (i = 0; i < n && w->st == ST_RUNNING; i++) {
		e = dl_watch__cent_find(w, ids[i]);
		if (e && e->expect_stopped)
			refresh(w, e->id);
	}
}

static bool settle_later(dl_watch_t *w, cent_t *e)
{
	if (w->st != ST_RUNNING || w->nsettle == MAX_SETTLE)
		return false;
	e->settle_tries++;
	snprintf(w->settle_ids[w->nsettle], sizeof(w->settle_ids[0]), "%s",
		 e->id);
	if (w->nsettle++ == 0)
		uv_timer_start(&w->settle, on_settle, SETTLE_MS, 0);
	return true;
}

static void on_refresh(void *ud, int err, long status, const char *body,
		       size_t len)
{
	cent_t *e = ud;
	dl_watch_t *w = e->w;
	dl_container_t *v = NULL;
	uint32_t n = 0, i;

	e->refresh = NULL;
	if (w->cancelling)
		return;
	if (err) {
		fail(w, dl_docker_last_error(w->docker));
		return;
	}
	if (status != 200 ||
	    dl_watch_parse_containers(body, len, &v, &n) != 0) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "refresh of %.12s failed (HTTP %ld)", e->id, status);
		n = 0;
	}
	for (i = 0; i < n; i++)
		if (strcmp(v[i].id.p, e->id) == 0)
			break;
	if (i < n && e->expect_stopped && str_is(v[i].state, "running") &&
	    e->settle_tries < SETTLE_TRIES && settle_later(w, e)) {
		dl_watch_free_containers(v, n); /* stale: ask again soon */
		return;
	}
	if (i < n) {
		e->expect_stopped = false;
		e->settle_tries = 0;
		v[i].idx = e->idx;
		snprintf(e->name, sizeof(e->name), "%s", v[i].name.p);
		e->reported = true;
		dl_watch__set_last(e, &v[i]);
		/* Facts wanted: the inspect's answer reports it, so the
		 * consumer never sees the new state with the old times. */
		if (e->want_facts || !e->facts) {
			e->want_facts = false;
			dl_watch__want_facts(w, e);
		} else {
			dl_watch__report(w, e);
		}
		if (w->st == ST_CLOSED) {
			dl_watch_free_containers(v, n);
			return;
		}
	} else if (!e->reported && !e->dirty && status == 200) {
		/* Gone before we saw it; its destroy event says the rest. */
		cent_remove(w, e);
		e = NULL;
	}
	dl_watch_free_containers(v, n);
	if (e && e->dirty && w->st == ST_RUNNING) {
		e->dirty = false;
		refresh(w, e->id);
	}
}

static void refresh(dl_watch_t *w, const char *id)
{
	/* filters={"id":["<id>"]}, URL-encoded; id is plain hex. */
	char path[256];
	cent_t *e;

	if (!dl_watch__id_ok(id)) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "event for a malformed container id skipped");
		return;
	}
	e = cent_get(w, id);
	if (!e)
		return;
	if (e->refresh) {
		e->dirty = true; /* one refresh in flight per container */
		return;
	}
	snprintf(path, sizeof(path),
		 "%s/containers/json?all=1&filters=%%7B%%22id%%22%%3A%%5B%%22%s"
		 "%%22%%5D%%7D",
		 w->api, id);
	e->refresh = dl_docker_request(w->docker, "GET", path, NULL,
				       DL_DOCKER_MAX_BODY, REFRESH_TIMEOUT_MS,
				       on_refresh, e);
	if (!e->refresh)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "cannot refresh container %.12s", id);
}

static void apply_event(dl_watch_t *w, const char *id, const char *name,
			int kind, bool facts)
{
	dl_container_t c;
	cent_t *e;

	if (kind != EV_DESTROY) {
		if (kind >= EV_START && dl_watch__id_ok(id) &&
		    (e = cent_get(w, id))) {
			e->expect_stopped = kind == EV_DIE;
			e->settle_tries = 0;
		}
		if (facts && dl_watch__id_ok(id) && (e = cent_get(w, id)))
			e->want_facts = true;
		refresh(w, id);
		return;
	}
	memset(&c, 0, sizeof(c));
	e = dl_watch__cent_find(w, id);
	c.id = DL_STR(id);
	c.name = DL_STR(name[0] || !e ? name : e->name);
	c.image = c.state = c.status = c.health = DL_STR("");
	if (e) {
		c.idx = e->idx;
		cent_remove(w, e);
	}
	if (w->cbs.on_container)
		w->cbs.on_container(w->ud, true, &c);
}

/* Container actions that change what /containers/json shows; exec_*,
 * attach, resize, top... do not (health checks make exec_* frequent). */
static bool action_refreshes(const dl_str_t *a)
{
	static const char *const acts[] = {
		"create", "start",   "die",    "stop",	  "kill",
		"pause",  "unpause", "rename", "destroy", "health_status",
		"oom",	  "restart", "update"};
	const char *colon = memchr(a->p, ':', a->n);
	size_t n = colon ? (size_t)(colon - a->p) : a->n;
	size_t i;

	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strlen(acts[i]) == n && memcmp(acts[i], a->p, n) == 0)
			return true;
	return false;
}

/* Actions after which inspect says something new (times, exit code,
 * health, restarts, OOM): the refresh that follows waits for one. */
static bool action_changes_facts(const dl_str_t *a)
{
	static const char *const acts[] = {"start",	   "die",   "restart",
					   "oom",	   "pause", "unpause",
					   "health_status"};
	const char *colon = memchr(a->p, ':', a->n);
	size_t n = colon ? (size_t)(colon - a->p) : a->n;
	size_t i;

	for (i = 0; i < sizeof(acts) / sizeof(acts[0]); i++)
		if (strlen(acts[i]) == n && memcmp(acts[i], a->p, n) == 0)
			return true;
	return false;
}

static void defer_event(dl_watch_t *w, const dl_event_t *ev, int kind,
			bool facts)
{
	uint32_t i;

	for (i = 0; i < w->ndeferred; i++) {
		if (strcmp(w->deferred[i].id, ev->id.p) == 0) {
			if (kind > w->deferred[i].kind)
				w->deferred[i].kind = kind;
			w->deferred[i].facts |= facts;
			return;
		}
	}
	if (w->ndeferred == MAX_DEFERRED) {
		w->relist = true; /* too much churn: list again instead */
		return;
	}
	snprintf(w->deferred[i].id, sizeof(w->deferred[i].id), "%s", ev->id.p);
	snprintf(w->deferred[i].name, sizeof(w->deferred[i].name), "%s",
		 ev->name.p);
	w->deferred[i].kind = kind;
	w->deferred[i].facts = facts;
	w->ndeferred++;
}

static void on_event_line(void *ud, const char *line, size_t len)
{
	dl_watch_t *w = ud;
	dl_event_t ev;
	uint64_t time_ns;
	int kind;
	bool facts;

	if (w->cancelling || w->st == ST_CLOSED)
		return;
	if (dl_watch_parse_event(line, len, &ev, &time_ns) != 0)
		return; /* logged by the parser; one bad line is not fatal */
	if (w->cbs.on_event)
		w->cbs.on_event(w->ud, &ev, time_ns);
	if ((w->st == ST_LIST || w->st == ST_RUNNING) &&
	    str_is(ev.type, "container") && action_refreshes(&ev.action) &&
	    ev.id.n > 0) {
		kind = str_is(ev.action, "destroy") ? EV_DESTROY
		       : str_is(ev.action, "die")   ? EV_DIE
		       : str_is(ev.action, "start") ? EV_START
						    : EV_OTHER;
		facts = action_changes_facts(&ev.action);
		if (w->st == ST_LIST)
			defer_event(w, &ev, kind, facts);
		else
			apply_event(w, ev.id.p, ev.name.p, kind, facts);
	}
	dl_watch_free_event(&ev);
}

static void on_events_done(void *ud, int err, long status, const char *body,
			   size_t len)
{
	dl_watch_t *w = ud;
	char reason[128];

	w->events = NULL;
	if (w->cancelling)
		return;
	if (err == DL_ECONNREFUSED) {
		fail(w, dl_docker_last_error(w->docker));
		return;
	}
	if (status != 200) {
		snprintf(reason, sizeof(reason),
			 "Docker refused the event stream (HTTP %ld)", status);
		fail(w, reason);
		return;
	}
	fail(w, "Docker event stream ended");
}

/* ---- public API ------------------------------------------------------ */

int dl_watch_set_label(dl_watch_t *w, const char *label)
{
	size_t n = label ? strlen(label) : 0;

	w->filter[0] = '\0';
	if (!n)
		return 0;
	if (n > 255 ||
	    strspn(label, "abcdefghijklmnopqrstuvwxyz"
			  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:/=-") != n)
		return DL_EINVAL;
	/* filters={"label":["L"]} */
	snprintf(w->filter, sizeof(w->filter),
		 "&filters=%%7B%%22label%%22%%3A%%5B%%22%s%%22%%5D%%7D", label);
	return 0;
}

dl_watch_t *dl_watch_new(uv_loop_t *loop, const char *socket_path,
			 const dl_watch_cbs_t *cbs, void *ud)
{
	dl_watch_t *w;

	if (!loop || !socket_path || !cbs)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->loop = loop;
	w->cbs = *cbs;
	w->ud = ud;
	w->up = -1;
	w->sock = strdup(socket_path);
	w->docker = w->sock ? dl_docker_new(loop, socket_path) : NULL;
	if (!w->docker) {
		free(w->sock);
		free(w);
		return NULL;
	}
	snprintf(w->api, sizeof(w->api), "%s", DL_DOCKER_API);
	dl_backoff_init(&w->bo, BACKOFF_MIN_MS, BACKOFF_MAX_MS,
			dl_clock_mono_ns() ^ (uint64_t)(uintptr_t)w);
	uv_timer_init(loop, &w->retry);
	uv_timer_init(loop, &w->settle);
	uv_timer_init(loop, &w->fin);
	w->retry.data = w->settle.data = w->fin.data = w;
	return w;
}

dl_docker_t *dl_watch_docker(dl_watch_t *w)
{
	return w && w->st != ST_CLOSED ? w->docker : NULL;
}

const char *dl_watch_api(const dl_watch_t *w)
{
	return w ? w->api : DL_DOCKER_API;
}

const char *dl_watch_root_dir(const dl_watch_t *w)
{
	return w ? w->root_dir : "";
}

int dl_watch_start(dl_watch_t *w)
{
	if (!w || w->st != ST_IDLE)
		return DL_EINVAL;
	start_discovery(w);
	return 0;
}

static void on_fin_closed(uv_handle_t *h)
{
	dl_watch_t *w = h->data;
	void (*done)(void *) = w->close_done;
	void *arg = w->close_arg;

	table_clear(w);
	free(w->sock);
	free(w);
	if (done)
		done(arg);
}

/* Handles close one after the other: the docker client's were closed
 * before retry, and each close started from a close callback runs one
 * loop iteration later, so fin's callback comes after all of them. */
static void on_settle_closed(uv_handle_t *h)
{
	dl_watch_t *w = h->data;

	uv_close((uv_handle_t *)&w->fin, on_fin_closed);
}

static void on_retry_closed(uv_handle_t *h)
{
	dl_watch_t *w = h->data;

	uv_close((uv_handle_t *)&w->settle, on_settle_closed);
}

void dl_watch_close(dl_watch_t *w, void (*done)(void *), void *arg)
{
	if (!w || w->st == ST_CLOSED)
		return;
	cancel_all(w);
	w->st = ST_CLOSED;
	w->cancelling = true; /* for good: late callbacks see nothing */
	w->close_done = done;
	w->close_arg = arg;
	uv_timer_stop(&w->retry);
	/* The table stays until the final close callback: a callback that
	 * called us may still hold one of its entries. */
	dl_docker_free(w->docker);
	w->docker = NULL;
	uv_close((uv_handle_t *)&w->retry, on_retry_closed);
}
