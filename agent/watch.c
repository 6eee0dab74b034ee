/* watch.c - discovery and live view of the local Docker Engine.
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
#define MAX_DEFERRED	   256
#define NBUCKETS	   4096
#define MAX_DOCKER_ID	   64 /* full hex id; refresh URLs take nothing else */
/* dockerd 20.10 logs "die" before /containers/json shows the exit (the
 * list is served from a view updated afterwards), so a refresh right
 * after "die" often still says running. Such a container is refreshed
 * again every SETTLE_MS, up to SETTLE_TRIES times. */
#define SETTLE_MS    100
#define SETTLE_TRIES 10
#define MAX_SETTLE   64
/* Inspects in flight at once; the rest wait in a FIFO. */
#define MAX_INSPECT	   4
#define INSPECT_TIMEOUT_MS 20000L

typedef enum {
	ST_IDLE,
	ST_PING,
	ST_VERSION,
	ST_INFO,
	ST_LIST,
	ST_RUNNING,
	ST_WAIT,
	ST_CLOSED,
} state_t;

typedef struct cent {
	struct cent *next;  /* hash chain */
	struct cent *qnext; /* inspect queue */
	dl_watch_t *w;
	dl_docker_req_t *refresh;
	dl_docker_req_t *inspect;
	/* The last list answer (owned strings), so an inspect answer can be
	 * reported with it; facts: the last inspect (NULL: none valid). */
	dl_container_t last;
	bool has_last;
	dl_inspect_t *facts;
	bool queued;	    /* in the inspect queue */
	bool want_facts;    /* an event asked for fresh facts */
	bool inspect_again; /* ... while an inspect was in flight */
	uint32_t idx;
	bool seen;	     /* in the latest list */
	bool reported;	     /* the consumer has been told about it */
	bool dirty;	     /* another event came during the refresh */
	bool expect_stopped; /* "die" seen: running is a stale answer */
	uint8_t settle_tries;
	char id[DL_MAX_ID + 1];
	char name[DL_MAX_NAME + 1];
} cent_t;

typedef struct {
	char id[DL_MAX_ID + 1];
	char name[DL_MAX_NAME + 1];
	int kind;   /* EV_*: the strongest seen (destroy > die > other) */
	bool facts; /* one of them changes what inspect says */
} deferred_t;

struct dl_watch {
	uv_timer_t retry;  /* WAIT state */
	uv_timer_t settle; /* re-refresh after a stale "die" answer */
	uv_timer_t fin;	   /* closed last; its close callback frees w */
	uv_loop_t *loop;
	char *sock;
	dl_docker_t *docker;
	dl_watch_cbs_t cbs;
	void *ud;
	dl_backoff_t bo;
	state_t st;
	int up; /* -1 nothing reported yet, 0 down, 1 up */
	bool cancelling;
	dl_docker_req_t *req;	 /* discovery request in flight */
	dl_docker_req_t *events; /* the /events stream */
	char api[16];		 /* "/v1.41" or lower after negotiation */
	char filter[320]; /* "" or "&filters={"label":["L"]}", URL-encoded */
	char version[DL_MAX_NAME + 1];
	char api_version[DL_MAX_NAME + 1];
	char os[DL_MAX_NAME + 1];
	char kernel[DL_MAX_NAME + 1];
	uint32_t ncpu;
	uint64_t mem_total;
	char root_dir[1024]; /* DockerRootDir, for the stats sampler */
	cent_t *buckets[NBUCKETS];
	uint32_t ncont;
	uint32_t next_idx;
	deferred_t deferred[MAX_DEFERRED];
	uint32_t ndeferred;
	bool relist; /* deferred overflowed: list again */
	char settle_ids[MAX_SETTLE][DL_MAX_ID + 1];
	uint32_t nsettle;
	cent_t *qhead, *qtail; /* containers waiting for an inspect */
	uint32_t ninspect;     /* inspects in flight */
	void (*close_done)(void *);
	void *close_arg;
};

static void start_discovery(dl_watch_t *w);
static void start_list(dl_watch_t *w);
static void refresh(dl_watch_t *w, const char *id);
static void want_facts(dl_watch_t *w, cent_t *e);
static bool id_ok(const char *id);

/* ---- string helpers -------------------------------------------------- */

/* Length of s cut to at most max bytes without splitting a UTF-8 char. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static int set_str(dl_str_t *out, const char *s, size_t n, size_t max)
{
	char *p;

	n = utf8_cut(s, n, max);
	p = malloc(n + 1);
	if (!p)
		return DL_ENOMEM;
	memcpy(p, s, n);
	p[n] = '\0';
	out->p = p;
	out->n = (uint32_t)n;
	return 0;
}

static void free_str(dl_str_t *s)
{
	free((void *)s->p);
	s->p = NULL;
	s->n = 0;
}

/* Optional string member: missing or wrong type gives "". Sets *cut when
 * the value was longer than max and got truncated. */
static int get_str(json_t *o, const char *key, dl_str_t *out, size_t max,
		   bool *cut)
{
	json_t *v = json_object_get(o, key);
	const char *s = "";
	size_t n = 0;

	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
	}
	if (n > max && cut)
		*cut = true;
	return set_str(out, s, n, max);
}

static void copy_fixed(char *dst, size_t dstlen, json_t *v)
{
	size_t n;

	dst[0] = '\0';
	if (!json_is_string(v))
		return;
	n = utf8_cut(json_string_value(v), json_string_length(v), dstlen - 1);
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
}

/* ---- /containers/json ------------------------------------------------ */

static const char *health_of(const char *status)
{
	if (strstr(status, "(healthy)"))
		return "healthy";
	if (strstr(status, "(unhealthy)"))
		return "unhealthy";
	if (strstr(status, "(health: starting)"))
		return "starting";
	return "";
}

/* Docker lists "/web" and, for links, "/other/alias": take the first name
 * that is the container's own (one leading slash, no other). */
static int pick_name(json_t *names, dl_str_t *out, bool *cut)
{
	const char *best = "";
	size_t bestn = 0, i;
	json_t *v;

	if (json_is_array(names)) {
		json_array_foreach(names, i, v)
		{
			const char *s = json_string_value(v);
			size_t n = json_string_length(v);

			if (!s)
				continue;
			if (n > 0 && s[0] == '/') {
				s++;
				n--;
			}
			if (!*best || !memchr(s, '/', n)) {
				best = s;
				bestn = n;
			}
			if (!memchr(s, '/', n))
				break;
		}
	}
	if (bestn > DL_MAX_NAME)
		*cut = true;
	return set_str(out, best, bestn, DL_MAX_NAME);
}

static void free_labels(dl_labels_t *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		free_str(&l->v[i].key);
		free_str(&l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Labels (an object of strings) within the DL_MAX_LABEL* bounds; what
 * does not fit is dropped and counted, never cut: a cut value would
 * match a filter it should not. */
static int parse_labels(json_t *o, dl_labels_t *l)
{
	uint32_t total = 0;
	const char *key;
	json_t *val;
	size_t n = json_object_size(o);

	memset(l, 0, sizeof(*l));
	l->has = true;
	if (!json_is_object(o) || n == 0)
		return 0;
	l->v = calloc(n < DL_MAX_LABELS ? n : DL_MAX_LABELS, sizeof(*l->v));
	if (!l->v)
		return DL_ENOMEM;
	json_object_foreach(o, key, val)
	{
		dl_attr_t *a = &l->v[l->n];
		size_t klen = strlen(key);

		if (!json_is_string(val) ||
		    !dl_label_fits(l->n, &total, klen,
				   json_string_length(val))) {
			l->dropped++;
			continue;
		}
		if (set_str(&a->key, key, klen, DL_MAX_LABEL_KEY))
			return DL_ENOMEM;
		if (set_str(&a->value, json_string_value(val),
			    json_string_length(val), DL_MAX_LABEL_VALUE)) {
			free_str(&a->key);
			return DL_ENOMEM;
		}
		l->n++;
	}
	return 0;
}

static void free_container(dl_container_t *c)
{
	free_labels(&c->labels);
	free_str(&c->id);
	free_str(&c->name);
	free_str(&c->image);
	free_str(&c->state);
	free_str(&c->status);
	free_str(&c->health);
}

/* 0, DL_ENOMEM, or DL_EPROTO with *why set (entry skipped). */
static int parse_container(json_t *o, dl_container_t *c, const char **why)
{
	json_t *id = json_object_get(o, "Id");
	json_t *created;
	bool cut = false;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o)) {
		*why = "entry is not an object";
		return DL_EPROTO;
	}
	if (!json_is_string(id) || json_string_length(id) == 0) {
		*why = "Id missing or not a string";
		return DL_EPROTO;
	}
	if (json_string_length(id) > DL_MAX_ID) {
		*why = "Id too long";
		return DL_EPROTO;
	}
	rc = set_str(&c->id, json_string_value(id), json_string_length(id),
		     DL_MAX_ID);
	if (!rc)
		rc = pick_name(json_object_get(o, "Names"), &c->name, &cut);
	if (!rc)
		rc = get_str(o, "Image", &c->image, DL_MAX_TEXT, &cut);
	if (!rc)
		rc = get_str(o, "State", &c->state, DL_MAX_NAME, &cut);
	if (!rc)
		rc = get_str(o, "Status", &c->status, DL_MAX_TEXT, &cut);
	if (!rc) {
		const char *h = health_of(c->status.p);

		rc = set_str(&c->health, h, strlen(h), DL_MAX_NAME);
	}
	if (!rc)
		rc = parse_labels(json_object_get(o, "Labels"), &c->labels);
	if (rc) {
		free_container(c);
		return rc;
	}
	created = json_object_get(o, "Created");
	if (json_is_integer(created))
		c->created = json_integer_value(created);
	if (cut)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container %.12s: over-long field truncated",
			  c->id.p);
	if (c->labels.dropped)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container %.12s: %u labels dropped (at most %u, "
			  "key %u B, value %u B, %u B in all)",
			  c->id.p, c->labels.dropped, DL_MAX_LABELS,
			  DL_MAX_LABEL_KEY, DL_MAX_LABEL_VALUE,
			  DL_MAX_LABEL_TOTAL);
	return 0;
}

int dl_watch_parse_containers(const char *json, size_t len,
			      dl_container_t **out, uint32_t *n)
{
	dl_container_t *v = NULL;
	json_error_t jerr;
	json_t *root = NULL, *item;
	size_t i, count;
	uint32_t k = 0;
	int rc = DL_EPROTO;

	*out = NULL;
	*n = 0;
	if (!json)
		return DL_EINVAL;
	if (len > DL_DOCKER_MAX_BODY)
		return DL_ETOOBIG;
	root = json_loadb(json, len, 0, &jerr);
	if (!root) {
		DL_LOG_WARN(TAG, "/containers/json: not JSON: %s", jerr.text);
		goto fail;
	}
	if (!json_is_array(root)) {
		DL_LOG_WARN(TAG, "/containers/json: not an array");
		goto fail;
	}
	count = json_array_size(root);
	if (count > DL_MAX_CONTAINERS)
		DL_LOG_WARN(TAG,
			    "%zu containers, only the first %u are watched",
			    count, DL_MAX_CONTAINERS);
	v = calloc(
		count ? (count < DL_MAX_CONTAINERS ? count : DL_MAX_CONTAINERS)
		      : 1,
		sizeof(*v));
	if (!v) {
		rc = DL_ENOMEM;
		goto fail;
	}
	json_array_foreach(root, i, item)
	{
		const char *why = "";

		if (k == DL_MAX_CONTAINERS)
			break;
		rc = parse_container(item, &v[k], &why);
		if (rc == DL_ENOMEM)
			goto fail;
		if (rc == 0)
			k++;
		else
			DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
				  "/containers/json entry %zu skipped: %s", i,
				  why);
	}
	json_decref(root);
	*out = v;
	*n = k;
	return 0;
fail:
	dl_watch_free_containers(v, k);
	json_decref(root);
	return rc;
}

void dl_watch_free_containers(dl_container_t *v, uint32_t n)
{
	uint32_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free_container(&v[i]);
	free(v);
}

/* ---- /events --------------------------------------------------------- */

static int parse_attrs(json_t *attrs, dl_event_t *ev)
{
	const char *key;
	json_t *val;
	size_t n = json_object_size(attrs);

	if (!json_is_object(attrs) || n == 0)
		return 0;
	ev->attrs =
		calloc(n < DL_MAX_ATTRS ? n : DL_MAX_ATTRS, sizeof(*ev->attrs));
	if (!ev->attrs)
		return DL_ENOMEM;
	json_object_foreach(attrs, key, val)
	{
		dl_attr_t *a = &ev->attrs[ev->nattrs];
		size_t klen = strlen(key);

		if (ev->nattrs == DL_MAX_ATTRS)
			break;
		/* Labels can be anything: skip what does not fit. */
		if (!json_is_string(val) || klen > DL_MAX_NAME ||
		    json_string_length(val) > DL_MAX_TEXT)
			continue;
		if (set_str(&a->key, key, klen, DL_MAX_NAME))
			return DL_ENOMEM;
		if (set_str(&a->value, json_string_value(val),
			    json_string_length(val), DL_MAX_TEXT)) {
			free_str(&a->key);
			return DL_ENOMEM;
		}
		ev->nattrs++;
	}
	return 0;
}

static int parse_event_obj(json_t *root, dl_event_t *ev, uint64_t *time_ns)
{
	json_t *type = json_object_get(root, "Type");
	json_t *action = json_object_get(root, "Action");
	json_t *actor = json_object_get(root, "Actor");
	json_t *id = json_object_get(actor, "ID");
	json_t *attrs = json_object_get(actor, "Attributes");
	json_t *t;
	int rc;

	if (!json_is_string(type) || !json_is_string(action)) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "event without Type/Action skipped");
		return DL_EPROTO;
	}
	if (json_is_string(id) && json_string_length(id) > DL_MAX_ID &&
	    strcmp(json_string_value(type), "container") == 0) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container event with an over-long id skipped");
		return DL_EPROTO;
	}
	rc = get_str(root, "Type", &ev->type, DL_MAX_NAME, NULL);
	if (!rc)
		rc = get_str(root, "Action", &ev->action, DL_MAX_TEXT, NULL);
	if (!rc)
		rc = get_str(actor, "ID", &ev->id, DL_MAX_ID, NULL);
	if (!rc)
		rc = get_str(attrs, "name", &ev->name, DL_MAX_NAME, NULL);
	if (!rc)
		rc = parse_attrs(attrs, ev);
	if (rc)
		return rc;
	t = json_object_get(root, "timeNano");
	if (json_is_integer(t) && json_integer_value(t) > 0) {
		*time_ns = (uint64_t)json_integer_value(t);
	} else {
		t = json_object_get(root, "time");
		if (json_is_integer(t) && json_integer_value(t) > 0 &&
		    json_integer_value(t) < INT64_MAX / 1000000000)
			*time_ns =
				(uint64_t)json_integer_value(t) * 1000000000u;
	}
	return 0;
}

int dl_watch_parse_event(const char *json, size_t len, dl_event_t *ev,
			 uint64_t *time_ns)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(ev, 0, sizeof(*ev));
	*time_ns = 0;
	if (!json)
		return DL_EINVAL;
	if (len > DL_DOCKER_MAX_LINE)
		return DL_ETOOBIG;
	root = json_loadb(json, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG, "event line skipped: %s",
			  root ? "not an object" : jerr.text);
		json_decref(root);
		return DL_EPROTO;
	}
	rc = parse_event_obj(root, ev, time_ns);
	json_decref(root);
	if (rc)
		dl_watch_free_event(ev);
	return rc;
}

void dl_watch_free_event(dl_event_t *ev)
{
	uint32_t i;

	if (!ev)
		return;
	free_str(&ev->type);
	free_str(&ev->action);
	free_str(&ev->id);
	free_str(&ev->name);
	for (i = 0; i < ev->nattrs; i++) {
		free_str(&ev->attrs[i].key);
		free_str(&ev->attrs[i].value);
	}
	free(ev->attrs);
	ev->attrs = NULL;
	ev->nattrs = 0;
}

/* ---- container table: id -> stable idx ------------------------------- */

static uint32_t hash_id(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKETS;
}

static cent_t *cent_find(dl_watch_t *w, const char *id)
{
	cent_t *e = w->buckets[hash_id(id)];

	while (e && strcmp(e->id, id) != 0)
		e = e->next;
	return e;
}

static cent_t *cent_get(dl_watch_t *w, const char *id)
{
	cent_t *e = cent_find(w, id);
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
	free_container(&e->last);
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
		copy_fixed(w->os, sizeof(w->os), v);
	if (!w->kernel[0])
		copy_fixed(w->kernel, sizeof(w->kernel),
			   json_object_get(root, "KernelVersion"));
	v = json_object_get(root, "DockerRootDir");
	/* Only an absolute path that fits: it is statvfs()ed later. */
	if (json_is_string(v) && json_string_length(v) > 1 &&
	    json_string_length(v) < sizeof(w->root_dir) &&
	    json_string_value(v)[0] == '/')
		copy_fixed(w->root_dir, sizeof(w->root_dir), v);
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
	copy_fixed(w->version, sizeof(w->version),
		   json_object_get(root, "Version"));
	copy_fixed(w->api_version, sizeof(w->api_version),
		   json_object_get(root, "ApiVersion"));
	copy_fixed(w->os, sizeof(w->os), json_object_get(root, "Os"));
	copy_fixed(w->kernel, sizeof(w->kernel),
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

/* ---- inspect: the facts /containers/json does not give -------------- */

/* Takes c's strings (c is left empty) as e's last list answer. */
static void set_last(cent_t *e, dl_container_t *c)
{
	free_container(&e->last);
	e->last = *c;
	e->last.d = (dl_cdetail_t){0};
	e->has_last = true;
	c->id = c->name = c->image = c->state = c->status = c->health =
		(dl_str_t){0};
	c->labels = (dl_labels_t){0};
}

/* Tells the consumer e's last list answer with the facts known now. */
static void report(dl_watch_t *w, cent_t *e)
{
	dl_container_t c = e->last;

	c.idx = e->idx;
	c.d = e->facts ? e->facts->d : (dl_cdetail_t){0};
	if (w->cbs.on_container)
		w->cbs.on_container(w->ud, false, &c);
}

/* Inventory entries carry the facts already known (they point into the
 * table, valid during the callback). */
static void attach_facts(dl_watch_t *w, dl_container_t *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		cent_t *e = cent_find(w, v[i].id.p);

		v[i].d = e && e->facts ? e->facts->d : (dl_cdetail_t){0};
	}
}

/* After the inventory: keep each answer, inspect what is not known. */
static void keep_last(dl_watch_t *w, dl_container_t *v, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		cent_t *e = cent_find(w, v[i].id.p);

		if (!e)
			continue;
		set_last(e, &v[i]);
		if (!e->facts)
			want_facts(w, e);
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
		free_str(&e->last.state);
		free_str(&e->last.health);
		if (set_str(&e->last.state, f->state, strlen(f->state),
			    DL_MAX_NAME) ||
		    set_str(&e->last.health, f->health, strlen(f->health),
			    DL_MAX_NAME))
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
		report(w, e);
	if (w->st == ST_CLOSED)
		return;
next:
	if (e->inspect_again) {
		e->inspect_again = false;
		want_facts(w, e);
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
		if (!id_ok(e->id))
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
				report(w, e);
			if (w->st == ST_CLOSED)
				return;
		}
	}
}

/* Asks for an inspect of e; its answer is reported with e's last list
 * answer. One in flight per container, MAX_INSPECT in all. */
static void want_facts(dl_watch_t *w, cent_t *e)
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
			free_container(&v[i]);
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
	attach_facts(w, v, n);
	report_up(w);
	if (w->st != ST_CLOSED && w->cbs.on_inventory)
		w->cbs.on_inventory(w->ud, v, n);
	if (w->st == ST_LIST)
		keep_last(w, v, n);
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

static bool id_ok(const char *id)
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
		e = cent_find(w, ids[i]);
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
		set_last(e, &v[i]);
		/* Facts wanted: the inspect's answer reports it, so the
		 * consumer never sees the new state with the old times. */
		if (e->want_facts || !e->facts) {
			e->want_facts = false;
			want_facts(w, e);
		} else {
			report(w, e);
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

	if (!id_ok(id)) {
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
		if (kind >= EV_START && id_ok(id) && (e = cent_get(w, id))) {
			e->expect_stopped = kind == EV_DIE;
			e->settle_tries = 0;
		}
		if (facts && id_ok(id) && (e = cent_get(w, id)))
			e->want_facts = true;
		refresh(w, id);
		return;
	}
	memset(&c, 0, sizeof(c));
	e = cent_find(w, id);
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
