/* pubsub.c - live push: one fan-out query per commit, frames shared by
 * every subscriber that may see them.
 *
 *   writer COMMIT -> publish() -> uv_async -> on_commit (loop)
 *     -> one uv_work: events after last_pushed, newest stats of the named
 *        hosts, each row encoded once as an admin frame
 *     -> after_fanout (loop): each frame written to each matching
 *        subscriber (filters, token scope), refcounted, never copied
 *
 * At most one fan-out runs at a time; commits that arrive meanwhile are
 * merged into the next one, so a burst costs one query, not one per
 * commit or per subscriber. */
#include "collector/pubsub.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/conf.h"
#include "collector/query.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/admin.h"

#define TAG	  "pubsub"
#define WHO_MAX	  96
#define GLOB_MAX  256
#define FIELD_MAX 64

enum { WHAT_EVENTS, WHAT_STATS };

struct dl_sub {
	dl_sub_t *next;
	int what;
	bool closing;
	char host[DL_HOST_MAX + 1]; /* "" = any */
	char type[FIELD_MAX + 1];
	char action[FIELD_MAX + 1];
	char *glob; /* NULL = every host */
	char who[WHO_MAX];
	uv_stream_t *stream;
	void (*close)(void *ud);
	void *ud;
};

/* One encoded frame, shared by every write of it. */
typedef struct {
	int refs;
	size_t len;
	char *data;
} blob_t;

typedef struct {
	uv_write_t w;
	blob_t *b;
} pwrite_t;

typedef struct {
	char host[DL_HOST_MAX + 1];
	char type[FIELD_MAX + 1];
	char action[FIELD_MAX + 1];
	int what;
	const char *key; /* "event", "stats", "host_stats" */
	json_t *data;	 /* the row(s), for listeners */
	blob_t *b;	 /* the frame, for subscribers (NULL: none) */
} item_t;

/* A fan-out in flight: input on the loop, output from the worker. */
typedef struct {
	uv_work_t work;
	dl_pubsub_t *ps;
	int64_t after; /* events after this row (-1: no events wanted) */
	char (*hosts)[DL_HOST_MAX + 1];
	size_t nhosts;
	item_t *items;
	size_t nitems, cap;
	int64_t last; /* newest event row read */
	bool more;    /* the step was full: run again */
	bool encode;  /* subscribers want frames */
} job_t;

struct dl_pubsub {
	uv_loop_t *loop;
	dl_store_t *store;
	char *db;
	dl_sub_t *subs;
	size_t nsubs, nevents, nstats;
	int64_t last_pushed;
	bool running;
	bool want_events;		/* a commit brought events */
	char (*hosts)[DL_HOST_MAX + 1]; /* pending for the next fan-out */
	size_t nhosts, hcap;
	bool freed; /* free requested while a fan-out ran */
	dl_listener_t listeners[DL_PUBSUB_LISTENERS];
	size_t nlisteners;
};

/* Someone wants commits: a subscriber or an in-process listener. */
static bool active(const dl_pubsub_t *ps)
{
	return ps->nsubs || ps->nlisteners;
}

static __thread dl_query_t *pq; /* one read-only connection per worker */

static void blob_unref(blob_t *b)
{
	if (b && --b->refs == 0) {
		free(b->data);
		free(b);
	}
}

static void start_fanout(dl_pubsub_t *ps);

/* ---- registration ---- */

static void update_enable(dl_pubsub_t *ps)
{
	if (ps->store)
		dl_store_push_enable(ps->store, active(ps));
}

static int copy_field(char *dst, size_t cap, const json_t *req, const char *key)
{
	const json_t *v = json_object_get(req, key);
	const char *s;

	dst[0] = '\0';
	if (!v)
		return 0;
	s = json_string_value(v);
	if (!s || !s[0] || strlen(s) >= cap)
		return -1;
	snprintf(dst, cap, "%s", s);
	return 0;
}

static int parse_filters(dl_sub_t *sub, const json_t *req, char *err,
			 size_t errlen)
{
	const char *what = json_string_value(json_object_get(req, "what"));

	if (what && !strcmp(what, "events")) {
		sub->what = WHAT_EVENTS;
	} else if (what && !strcmp(what, "stats")) {
		sub->what = WHAT_STATS;
	} else {
		snprintf(err, errlen,
			 "subscribe: what must be \"events\" or \"stats\"");
		return -1;
	}
	if (copy_field(sub->host, sizeof(sub->host), req, "host") ||
	    (sub->host[0] && !dl_host_name_valid(sub->host))) {
		snprintf(err, errlen, "subscribe: invalid host name");
		return -1;
	}
	if (copy_field(sub->type, sizeof(sub->type), req, "type") ||
	    copy_field(sub->action, sizeof(sub->action), req, "action")) {
		snprintf(err, errlen, "subscribe: invalid type or action");
		return -1;
	}
	if (sub->what == WHAT_STATS && (sub->type[0] || sub->action[0])) {
		snprintf(err, errlen,
			 "subscribe: stats take only a host filter");
		return -1;
	}
	return 0;
}

dl_sub_t *dl_pubsub_add(dl_pubsub_t *ps, const json_t *req,
			const dl_sub_conf_t *conf, char *err, size_t errlen,
			const char **code)
{
	dl_sub_t *sub;

	*code = "invalid";
	if (!ps->store) {
		snprintf(err, errlen, "collector is stopping");
		*code = "error";
		return NULL;
	}
	if (ps->nsubs >= DL_PUBSUB_MAX) {
		snprintf(err, errlen, "too many subscribers (%d)",
			 DL_PUBSUB_MAX);
		*code = "busy";
		return NULL;
	}
	if (!(sub = calloc(1, sizeof(*sub))))
		goto nomem;
	if (parse_filters(sub, req, err, errlen))
		goto fail;
	if (conf->host_glob && (strlen(conf->host_glob) >= GLOB_MAX ||
				!(sub->glob = strdup(conf->host_glob))))
		goto nomem;
	snprintf(sub->who, sizeof(sub->who), "%s", conf->who ? conf->who : "?");
	sub->stream = conf->stream;
	sub->close = conf->close;
	sub->ud = conf->ud;
	/* The first subscriber starts from what is committed now: the
	 * client's backlog query (made after our answer) covers the rest.
	 * Enable first, then read: a commit racing with us is either seen
	 * here or pushed (store.c publish orders the two the other way). */
	if (ps->nsubs == 0)
		dl_store_push_enable(ps->store, true);
	/* While nobody wanted events, last_pushed may lag behind. */
	if (sub->what == WHAT_EVENTS && ps->nevents == 0 && !ps->nlisteners)
		ps->last_pushed = dl_store_last_event(ps->store);
	sub->next = ps->subs;
	ps->subs = sub;
	ps->nsubs++;
	if (sub->what == WHAT_EVENTS)
		ps->nevents++;
	else
		ps->nstats++;
	DL_LOG_INFO(TAG, "%s subscribed to %s%s%s", sub->who,
		    sub->what == WHAT_EVENTS ? "events" : "stats",
		    sub->host[0] ? " of " : "", sub->host);
	return sub;
nomem:
	snprintf(err, errlen, "out of memory");
	*code = "error";
fail:
	if (sub)
		free(sub->glob);
	free(sub);
	return NULL;
}

void dl_pubsub_remove(dl_pubsub_t *ps, dl_sub_t *sub)
{
	if (!sub)
		return;
	for (dl_sub_t **pp = &ps->subs; *pp; pp = &(*pp)->next) {
		if (*pp != sub)
			continue;
		*pp = sub->next;
		ps->nsubs--;
		if (sub->what == WHAT_EVENTS)
			ps->nevents--;
		else
			ps->nstats--;
		break;
	}
	free(sub->glob);
	free(sub);
	update_enable(ps);
}

size_t dl_pubsub_count(const dl_pubsub_t *ps)
{
	return ps ? ps->nsubs : 0;
}

bool dl_pubsub_visible(const dl_sub_t *sub, const char *host)
{
	if (sub->glob && fnmatch(sub->glob, host, 0) != 0)
		return false;
	return !sub->host[0] || !strcmp(sub->host, host);
}

static bool matches(const dl_sub_t *sub, const item_t *it)
{
	if (sub->closing || sub->what != it->what ||
	    !dl_pubsub_visible(sub, it->host))
		return false;
	if (sub->type[0] && strcmp(sub->type, it->type))
		return false;
	return !sub->action[0] || !strcmp(sub->action, it->action);
}

/* ---- commit notifications (loop) ---- */

static int add_host(dl_pubsub_t *ps, const char *host)
{
	for (size_t i = 0; i < ps->nhosts; i++)
		if (!strcmp(ps->hosts[i], host))
			return 0;
	if (ps->nhosts == ps->hcap) {
		size_t cap = ps->hcap ? ps->hcap * 2 : 16;
		void *p = realloc(ps->hosts, cap * sizeof(*ps->hosts));

		if (!p)
			return -1;
		ps->hosts = p;
		ps->hcap = cap;
	}
	snprintf(ps->hosts[ps->nhosts++], DL_HOST_MAX + 1, "%s", host);
	return 0;
}

static void on_commit(void *ud, int64_t last_event, const char *const *hosts,
		      size_t nhosts)
{
	dl_pubsub_t *ps = ud;

	if (!active(ps))
		return;
	if (last_event > ps->last_pushed) {
		if (ps->nevents || ps->nlisteners)
			ps->want_events = true;
		else
			ps->last_pushed = last_event; /* nobody to tell */
	}
	for (size_t i = 0; (ps->nstats || ps->nlisteners) && i < nhosts; i++)
		if (add_host(ps, hosts[i]))
			DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
				  "out of memory: stats of %s not pushed",
				  hosts[i]);
	if (!ps->running)
		start_fanout(ps);
}

/* ---- the fan-out query (threadpool) ---- */

static item_t *job_item(job_t *j)
{
	if (j->nitems == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 64;
		void *p = realloc(j->items, cap * sizeof(*j->items));

		if (!p)
			return NULL;
		j->items = p;
		j->cap = cap;
	}
	memset(&j->items[j->nitems], 0, sizeof(item_t));
	return &j->items[j->nitems];
}

/* Encodes {key: data} as one frame; NULL when it cannot. */
static blob_t *encode(const char *key, json_t *data)
{
	json_t *o = json_pack("{s:O}", key, data);
	blob_t *b = calloc(1, sizeof(*b));

	if (!o || !b ||
	    !(b->data = dl_admin_frame(o, DL_ADMIN_RESP_MAX, &b->len))) {
		free(b);
		json_decref(o);
		return NULL;
	}
	json_decref(o);
	b->refs = 1;
	return b;
}

/* data (consumed) under key: one item, encoded only when subscribers
 * want frames. */
static void job_add(job_t *j, int what, const char *key, json_t *data,
		    const char *host, const char *type, const char *action)
{
	item_t *it = job_item(j);
	blob_t *b = NULL;

	if (!it || (j->encode && !(b = encode(key, data)))) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "cannot encode a push for %s", host);
		json_decref(data);
		return;
	}
	it->what = what;
	it->key = key;
	it->data = data;
	it->b = b;
	snprintf(it->host, sizeof(it->host), "%s", host);
	snprintf(it->type, sizeof(it->type), "%s", type ? type : "");
	snprintf(it->action, sizeof(it->action), "%s", action ? action : "");
	j->nitems++;
}

static void job_events(job_t *j, char *err, size_t errlen)
{
	json_t *rows = dl_query_events_after(
		pq, j->after, DL_PUBSUB_EVENTS_STEP, err, errlen);
	size_t i;
	json_t *row;

	if (!rows) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "%s", err);
		return;
	}
	j->more = json_array_size(rows) == DL_PUBSUB_EVENTS_STEP;
	json_array_foreach(rows, i, row)
	{
		const char *host =
			json_string_value(json_object_get(row, "host"));
		json_int_t seq =
			json_integer_value(json_object_get(row, "seq"));

		if (seq > j->last)
			j->last = seq;
		job_add(j, WHAT_EVENTS, "event", json_incref(row),
			host ? host : "",
			json_string_value(json_object_get(row, "type")),
			json_string_value(json_object_get(row, "action")));
	}
	json_decref(rows);
}

static void job_stats(job_t *j, const char *host, char *err, size_t errlen)
{
	json_t *rows = dl_query_stats(pq, host, NULL, err, errlen);

	if (rows && json_array_size(rows))
		job_add(j, WHAT_STATS, "stats", rows, host, NULL, NULL);
	else
		json_decref(rows); /* NULL: a host forgotten meanwhile */
	rows = dl_query_host_stats(pq, host, err, errlen);
	if (rows && json_array_size(rows))
		job_add(j, WHAT_STATS, "host_stats", rows, host, NULL, NULL);
	else
		json_decref(rows);
}

static void fanout_work(uv_work_t *w)
{
	job_t *j = w->data;
	char err[512] = "";

	if (!pq && !(pq = dl_query_open(j->ps->db, err, sizeof(err)))) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "%s", err);
		return;
	}
	if (j->after >= 0)
		job_events(j, err, sizeof(err));
	for (size_t i = 0; i < j->nhosts; i++)
		job_stats(j, j->hosts[i], err, sizeof(err));
}

/* ---- writing (loop) ---- */

static void on_pushed(uv_write_t *w, int status)
{
	pwrite_t *pw = (pwrite_t *)w;

	(void)status; /* a dead client shows as EOF on the admin side */
	blob_unref(pw->b);
	free(pw);
}

/* Closes sub when the client has not taken what it was sent: memory
 * never grows with a stuck subscriber. */
static bool stuck(dl_sub_t *sub)
{
	size_t q = uv_stream_get_write_queue_size(sub->stream);

	if (q <= DL_PUBSUB_UNSENT_MAX)
		return false;
	DL_LOG_WARN(TAG,
		    "closing subscriber %s: %zu bytes unsent (more than "
		    "%u)",
		    sub->who, q, DL_PUBSUB_UNSENT_MAX);
	sub->closing = true;
	sub->close(sub->ud);
	return true;
}

/* false: sub was closed (and may be freed already). */
static bool push_one(dl_sub_t *sub, blob_t *b)
{
	pwrite_t *pw;
	uv_buf_t ub;

	if (!(pw = malloc(sizeof(*pw))))
		return true; /* this frame is lost, the link is not */
	pw->b = b;
	b->refs++;
	ub = uv_buf_init(b->data, (unsigned)b->len);
	if (uv_write(&pw->w, sub->stream, &ub, 1, on_pushed)) {
		blob_unref(b);
		free(pw);
		sub->closing = true;
		sub->close(sub->ud);
		return false;
	}
	return true;
}

/* In-process listeners (alerts, hooks) see every row, unfiltered. */
static void tell_listeners(dl_pubsub_t *ps, job_t *j)
{
	for (size_t i = 0; i < j->nitems; i++) {
		const item_t *it = &j->items[i];

		for (size_t k = 0; k < ps->nlisteners; k++) {
			const dl_listener_t *l = &ps->listeners[k];

			if (it->what == WHAT_EVENTS && l->event)
				l->event(l->ud, it->data);
			else if (it->what == WHAT_STATS && l->stats)
				l->stats(l->ud, it->host, it->key, it->data);
		}
	}
}

static void deliver(dl_pubsub_t *ps, job_t *j)
{
	dl_sub_t *sub, *next;

	tell_listeners(ps, j);
	if (!j->encode)
		return;

	for (sub = ps->subs; sub; sub = next) {
		next = sub->next; /* close may remove sub, never another */
		/* What is still unsent from earlier pushes decides; this
		 * push's own frames may pass the bound once (a fan-out is
		 * at most DL_PUBSUB_EVENTS_STEP events or one host's stats)
		 * since a reading client takes them as the loop runs. */
		if (sub->closing || stuck(sub))
			continue;
		for (size_t i = 0; i < j->nitems; i++)
			if (matches(sub, &j->items[i]) &&
			    !push_one(sub, j->items[i].b))
				break;
	}
}

static void job_free(job_t *j)
{
	for (size_t i = 0; i < j->nitems; i++) {
		blob_unref(j->items[i].b);
		json_decref(j->items[i].data);
	}
	free(j->items);
	free(j->hosts);
	free(j);
}

static void after_fanout(uv_work_t *w, int status)
{
	job_t *j = w->data;
	dl_pubsub_t *ps = j->ps;

	ps->running = false;
	if (ps->freed) {
		job_free(j);
		dl_pubsub_free(ps);
		return;
	}
	if (status == 0)
		deliver(ps, j);
	if (j->last > ps->last_pushed)
		ps->last_pushed = j->last;
	if (j->more)
		ps->want_events = true;
	job_free(j);
	if (active(ps) && (ps->want_events || ps->nhosts))
		start_fanout(ps);
}

static void start_fanout(dl_pubsub_t *ps)
{
	job_t *j;

	if (!ps->want_events && !ps->nhosts)
		return;
	if (!(j = calloc(1, sizeof(*j)))) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "out of memory: push lost");
		return;
	}
	j->ps = ps;
	j->encode = ps->nsubs > 0;
	j->after = ps->want_events ? ps->last_pushed : -1;
	j->last = ps->last_pushed;
	j->hosts = ps->hosts;
	j->nhosts = ps->nhosts;
	ps->hosts = NULL;
	ps->nhosts = ps->hcap = 0;
	ps->want_events = false;
	j->work.data = j;
	if (uv_queue_work(ps->loop, &j->work, fanout_work, after_fanout)) {
		job_free(j);
		return;
	}
	ps->running = true;
}

/* ---- life ---- */

dl_pubsub_t *dl_pubsub_new(uv_loop_t *loop, dl_store_t *store, const char *db)
{
	dl_pubsub_t *ps = calloc(1, sizeof(*ps));

	if (!ps || !(ps->db = strdup(db))) {
		free(ps);
		return NULL;
	}
	ps->loop = loop;
	ps->store = store;
	dl_store_on_push(store, on_commit, ps);
	return ps;
}

int dl_pubsub_listen(dl_pubsub_t *ps, const dl_listener_t *l)
{
	if (ps->nlisteners == DL_PUBSUB_LISTENERS)
		return DL_EFULL;
	/* Listeners start at what is committed now, like a subscriber. */
	if (!ps->nevents && !ps->nlisteners && ps->store)
		ps->last_pushed = dl_store_last_event(ps->store);
	ps->listeners[ps->nlisteners++] = *l;
	update_enable(ps);
	return 0;
}

void dl_pubsub_stop(dl_pubsub_t *ps)
{
	dl_sub_t *sub, *next;

	if (!ps)
		return;
	if (ps->store)
		dl_store_push_enable(ps->store, false);
	ps->store = NULL;
	for (sub = ps->subs; sub; sub = next) {
		next = sub->next;
		if (!sub->closing) {
			sub->closing = true;
			sub->close(sub->ud);
		}
	}
}

void dl_pubsub_free(dl_pubsub_t *ps)
{
	if (!ps)
		return;
	if (ps->running) {
		ps->freed = true; /* after_fanout finishes the job */
		return;
	}
	while (ps->subs)
		dl_pubsub_remove(ps, ps->subs);
	free(ps->hosts);
	free(ps->db);
	free(ps);
}
