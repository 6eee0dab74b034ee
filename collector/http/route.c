/* route.c - the URL + method -> admin request table (route.h).
 *
 * Paths arrive decoded by libwebsockets; every segment is checked against
 * the same rules serve and the agent apply (host names, container names,
 * token names), so "..", empty segments and anything a decoded "%2F" could
 * smuggle in are refused here before a byte reaches serve. */
#include <stdio.h>
#include <string.h>

#include "collector/conf.h"
#include "collector/http/route.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/label.h"
#include "proto/control.h"

#define MAX_SEGS	 8
#define SEG_MAX		 128
#define DEFAULT_TIMEOUT	 30 /* seconds, plain control ops (as the CLI) */
#define PULL_TIMEOUT	 600
#define RUN_TIMEOUT	 120
#define RECREATE_TIMEOUT 300 /* + the request's own wait */
#define EVENTS_SINCE	 3600
#define AUDIT_SINCE	 86400
#define HISTORY_SINCE	 3600
#define DEFAULT_LIMIT	 1000
#define LIMIT_MAX	 100000
#define NS		 INT64_C(1000000000)

typedef struct {
	char seg[MAX_SEGS][SEG_MAX + 1];
	size_t n;
	const dl_route_kv_t *q;
	size_t nq;
	int64_t now;
	dl_route_t *out;
} ctx_t;

static int err(dl_route_t *o, int status, const char *code, const char *fmt,
	       const char *a)
{
	json_decref(o->req);
	o->req = NULL;
	o->status = status;
	o->code = code;
	snprintf(o->error, sizeof(o->error), fmt, a);
	return status;
}

#define BAD(c, fmt, a) err((c)->out, 400, "invalid", fmt, a)
#define NOT_FOUND(c)                                                           \
	err((c)->out, 404, "not_found", "no such route (see docs/API.md)%s", "")
#define BAD_METHOD(c, allow)                                                   \
	err((c)->out, 405, "invalid", "method not allowed here; use %s", allow)

void dl_route_clear(dl_route_t *out)
{
	json_decref(out->req);
	out->req = NULL;
}

/* "/api/v1/a/b" -> {"api","v1","a","b"}. -1 on an empty or dot segment,
 * too many or too long segments. */
static int split(ctx_t *c, const char *path)
{
	const char *p = path;

	if (*p != '/' || strlen(path) > DL_ROUTE_PATH_MAX)
		return -1;
	c->n = 0;
	while (*p == '/') {
		const char *s = ++p;
		size_t len;

		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 0 && *p == '\0')
			break; /* one trailing slash is harmless */
		if (len == 0 || len > SEG_MAX || c->n == MAX_SEGS)
			return -1;
		if ((len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return -1;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f ||
			    s[i] == '%' || s[i] == '\\')
				return -1;
		memcpy(c->seg[c->n], s, len);
		c->seg[c->n][len] = '\0';
		c->n++;
	}
	return *p ? -1 : 0;
}

static bool is(const ctx_t *c, size_t i, const char *s)
{
	return i < c->n && !strcmp(c->seg[i], s);
}

/* ---- query ---- */

/* Every pair must be in allowed (NULL-terminated), at most once. */
static int check_query(ctx_t *c, const char *const *allowed)
{
	for (size_t i = 0; i < c->nq; i++) {
		const char *k = c->q[i].key;
		bool ok = false;

		if (strlen(c->q[i].val) > DL_ROUTE_VALUE_MAX)
			return BAD(c, "query parameter %.32s is too long", k);
		for (const char *const *a = allowed; a && *a; a++)
			ok = ok || !strcmp(*a, k);
		if (!ok)
			return BAD(c, "unknown query parameter \"%.32s\"", k);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->q[j].key, k))
				return BAD(c,
					   "query parameter %.32s given twice",
					   k);
	}
	return 0;
}

static const char *qv(const ctx_t *c, const char *key)
{
	for (size_t i = 0; i < c->nq; i++)
		if (!strcmp(c->q[i].key, key))
			return c->q[i].val;
	return NULL;
}

static int q_bool(ctx_t *c, const char *key, bool *out)
{
	const char *v = qv(c, key);

	if (!v)
		return 0;
	if (!strcmp(v, "1") || !strcmp(v, "true") || !v[0])
		*out = true;
	else if (!strcmp(v, "0") || !strcmp(v, "false"))
		*out = false;
	else
		return BAD(c, "%s wants 1, 0, true or false", key);
	return 0;
}

static int q_int(ctx_t *c, const char *key, int64_t min, int64_t max,
		 int64_t *out)
{
	const char *v = qv(c, key);

	if (v && dl_parse_int(v, min, max, out))
		return BAD(c, "%s is not a number in range", key);
	return 0;
}

/* since/until: a duration back from now (10m, 24h, 7d) or unix seconds. */
static int q_time(ctx_t *c, const char *key, int64_t *out)
{
	const char *v = qv(c, key);
	int64_t s;

	if (!v)
		return 0;
	if (dl_duration_parse(v, &s) == 0 && s < 1000000000)
		s = c->now - s;
	else if (dl_parse_int(v, 0, INT64_C(1) << 40, &s))
		return BAD(c,
			   "%s wants a duration (10m, 24h, 7d) or unix seconds",
			   key);
	*out = s < 0 ? 0 : s;
	return 0;
}

/* A filter word: printable ASCII, no quotes (host, type, action, state). */
static int q_word(ctx_t *c, const char *key, size_t max, json_t *req)
{
	const char *v = qv(c, key);
	size_t n;

	if (!v)
		return 0;
	n = strlen(v);
	if (n == 0 || n > max)
		return BAD(c, "%s is empty or too long", key);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
			return BAD(c, "%s holds a character it may not", key);
	if (!strcmp(key, "host") && !dl_host_name_valid(v))
		return BAD(c, "invalid host name in %s", key);
	json_object_set_new(req, key, json_string(v));
	return 0;
}

/* ---- building ---- */

static int host_seg(ctx_t *c, size_t i)
{
	if (!dl_host_name_valid(c->seg[i]))
		return BAD(c, "invalid host name \"%.64s\"", c->seg[i]);
	return 0;
}

static int ctr_seg(ctx_t *c, size_t i)
{
	if (!dl_control_name_ok(c->seg[i]))
		return BAD(c, "invalid container name or id \"%.64s\"",
			   c->seg[i]);
	return 0;
}

static int new_req(ctx_t *c, const char *op)
{
	c->out->req = json_pack("{s:s}", "op", op);
	return c->out->req ? 0
			   : err(c->out, 500, "error", "out of memory%s", "");
}

static void set_s(ctx_t *c, const char *k, const char *v)
{
	json_object_set_new(c->out->req, k, json_string(v));
}

static void set_i(ctx_t *c, const char *k, int64_t v)
{
	json_object_set_new(c->out->req, k, json_integer((json_int_t)v));
}

/* The body of a POST: a JSON object (empty body = {}). */
static int body_object(ctx_t *c, const char *body, size_t len, json_t **out)
{
	json_error_t je;

	*out = NULL;
	while (len && (*body == ' ' || *body == '\n' || *body == '\r' ||
		       *body == '\t')) {
		body++;
		len--;
	}
	*out = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je)
		   : json_object();
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return BAD(c, "the body is not a JSON object%s", "");
	}
	return 0;
}

/* Seconds the call may take, as the CLI gives it: a log or a command
 * runs until it ends (0: none); a pull or a recreate takes what the
 * registry takes; stop -t 60 must not be cut off at 30 s. */
static int64_t op_timeout(const dl_op_t *op, const json_t *args)
{
	if (!strcmp(op->name, "pull"))
		return PULL_TIMEOUT;
	if (op->kind == DL_OPK_STREAM)
		return 0;
	if (!strcmp(op->name, "run"))
		return RUN_TIMEOUT;
	if (!strcmp(op->name, "recreate"))
		return RECREATE_TIMEOUT +
		       json_integer_value(json_object_get(args, "wait"));
	return DEFAULT_TIMEOUT + json_integer_value(json_object_get(args, "t"));
}

/* {"op":"control","host","action","args","timeout_ms"}, as the CLI. */
static int control(ctx_t *c, const char *host, const char *ctr,
		   const char *action, json_t *args)
{
	const dl_op_t *op = dl_control_op(action);
	char e[256];
	int64_t t;

	if (!op)
		return NOT_FOUND(c);
	if (ctr) {
		if (json_object_get(args, "container"))
			return BAD(c,
				   "the container comes from the path, not "
				   "the body%s",
				   "");
		json_object_set_new(args, "container", json_string(ctr));
	}
	if (dl_control_validate(op, args, e, sizeof(e)))
		return BAD(c, "%s", e);
	t = op_timeout(op, args);
	if (new_req(c, "control"))
		return c->out->status;
	set_s(c, "host", host);
	set_s(c, "action", action);
	json_object_set(c->out->req, "args", args);
	set_i(c, "timeout_ms", t * 1000);
	c->out->control = true;
	c->out->kind =
		op->kind == DL_OPK_STREAM ? DL_ROUTE_NDJSON : DL_ROUTE_PLAIN;
	return 0;
}

/* GET .../logs?follow=&tail=&since=&timestamps= */
static int logs_args(ctx_t *c, json_t *args)
{
	static const char *const q[] = {"follow", "tail", "since", "timestamps",
					NULL};
	bool follow = false, ts = false;
	int64_t tail = -1, since = -1;

	if (check_query(c, q) || q_bool(c, "follow", &follow) ||
	    q_bool(c, "timestamps", &ts) ||
	    q_int(c, "tail", 0, 100000000, &tail) || q_time(c, "since", &since))
		return c->out->status;
	if (follow)
		json_object_set_new(args, "follow", json_true());
	if (ts)
		json_object_set_new(args, "timestamps", json_true());
	if (tail >= 0)
		json_object_set_new(args, "tail", json_integer(tail));
	if (since >= 0)
		json_object_set_new(args, "since", json_integer(since));
	return 0;
}

static bool post_action(const char *a)
{
	static const char *const acts[] = {
		"start",   "stop",   "restart",	 "kill",    "pause",
		"unpause", "rename", "rm",	 "inspect", "top",
		"exec",	   "update", "recreate", NULL};

	for (const char *const *p = acts; *p; p++)
		if (!strcmp(*p, a))
			return true;
	return false;
}

/* /hosts/{h}/containers/{c}/{action} */
static int container_action(ctx_t *c, dl_route_method_t m, const char *body,
			    size_t blen)
{
	const char *host = c->seg[1], *ctr = c->seg[3], *a = c->seg[4];
	bool get_ok = !strcmp(a, "inspect") || !strcmp(a, "top") ||
		      !strcmp(a, "logs");
	json_t *args = NULL;
	int rc;

	if (!post_action(a) && strcmp(a, "logs"))
		return NOT_FOUND(c);
	if (!strcmp(a, "logs") && m != DL_ROUTE_GET)
		return BAD_METHOD(c, "GET");
	if (m != DL_ROUTE_POST && !(m == DL_ROUTE_GET && get_ok))
		return BAD_METHOD(c, get_ok ? "GET or POST" : "POST");
	if (m == DL_ROUTE_POST) {
		if (check_query(c, NULL))
			return c->out->status;
		c->out->body = true;
		if (!body)
			return 0;
		if (body_object(c, body, blen, &args))
			return c->out->status;
	} else {
		args = json_object();
		if (!strcmp(a, "logs") ? logs_args(c, args)
				       : check_query(c, NULL)) {
			json_decref(args);
			return c->out->status;
		}
	}
	rc = control(c, host, ctr, a, args);
	json_decref(args);
	return rc;
}

/* POST /hosts/{h}/{prune,pull,run}: the JSON body is the args, with the
 * same keys the CLI sends (proto/control.c checks them). */
static int host_post(ctx_t *c, dl_route_method_t m, const char *body,
		     size_t blen, const char *action)
{
	json_t *args = NULL;
	int rc;

	if (m != DL_ROUTE_POST)
		return BAD_METHOD(c, "POST");
	if (check_query(c, NULL))
		return c->out->status;
	c->out->body = true;
	if (!body)
		return 0;
	if (body_object(c, body, blen, &args))
		return c->out->status;
	rc = control(c, c->seg[1], NULL, action, args);
	json_decref(args);
	return rc;
}

static int body_request(ctx_t *c, const char *body, size_t blen,
			const char *op);

/* POST /hosts/{h}/labels {"set": {K: V}, "remove": [K]}: host_labels
 * (admin; serve checks keys and values). Only set and remove in the
 * body: the host is the path's. */
static int labels_post(ctx_t *c, dl_route_method_t m, const char *body,
		       size_t blen)
{
	const char *k;
	json_t *v;
	char bad[72];

	if (m != DL_ROUTE_POST)
		return BAD_METHOD(c, "POST");
	if (check_query(c, NULL) ||
	    body_request(c, body, blen, "host_labels") || !c->out->req)
		return c->out->status;
	json_object_foreach(c->out->req, k, v)
	{
		if (strcmp(k, "op") && strcmp(k, "set") &&
		    strcmp(k, "remove")) {
			/* BAD frees the request, and k with it */
			snprintf(bad, sizeof(bad), "%.64s", k);
			return BAD(c,
				   "unknown key \"%s\" in the body (set, "
				   "remove)",
				   bad);
		}
	}
	set_s(c, "host", c->seg[1]);
	return 0;
}

/* since/until/points -> since_ns/until_ns/points */
static int history(ctx_t *c, const char *ctr)
{
	static const char *const q[] = {"since", "until", "points", NULL};
	int64_t since = c->now - HISTORY_SINCE, until = c->now, points = 0;

	if (check_query(c, q) || q_time(c, "since", &since) ||
	    q_time(c, "until", &until) ||
	    q_int(c, "points", 0, DL_ROUTE_POINTS_MAX, &points))
		return c->out->status;
	if (until <= since)
		return BAD(c, "until must be after since%s", "");
	if (new_req(c, "history"))
		return c->out->status;
	set_s(c, "host", c->seg[1]);
	if (ctr)
		set_s(c, "container", ctr);
	set_i(c, "since_ns", since * NS);
	set_i(c, "until_ns", until * NS);
	set_i(c, "points", points);
	return 0;
}

/* limit= and cursor= of a list that pages (ps, stats): passed through,
 * serve checks the cursor. Without either the answer keeps its old shape
 * (a bare array of every row). */
#define PAGE_MAX 10000

static int page_q(ctx_t *c)
{
	int64_t limit = 0;

	if (q_int(c, "limit", 1, PAGE_MAX, &limit) ||
	    q_word(c, "cursor", DL_ROUTE_VALUE_MAX, c->out->req))
		return c->out->status;
	if (limit)
		set_i(c, "limit", limit);
	return 0;
}

/* ?label=K or K=V: UTF-8 allowed (labels are), control characters in
 * the key and over-long parts are not. */
static int q_label(ctx_t *c)
{
	const char *v = qv(c, "label");
	dl_label_filter_t f;
	json_t *s;

	if (!v)
		return 0;
	if (dl_label_filter_parse(v, &f) != 0)
		return BAD(c, "label must be K or K=V (key 1 to %s bytes)",
			   "128");
	if (!(s = json_string(v)))
		return BAD(c, "label is not UTF-8%s", "");
	json_object_set_new(c->out->req, "label", s);
	return 0;
}

static int ps(ctx_t *c, const char *host)
{
	static const char *const qh[] = {"all",	  "state",  "name", "label",
					 "limit", "cursor", NULL};
	static const char *const qa[] = {"host",  "all",   "state",  "name",
					 "label", "limit", "cursor", NULL};
	bool all = false;

	if (check_query(c, host ? qh : qa) || q_bool(c, "all", &all) ||
	    new_req(c, "ps"))
		return c->out->status;
	json_object_set_new(c->out->req, "all", json_boolean(all));
	if (host)
		set_s(c, "host", host);
	else if (q_word(c, "host", 63, c->out->req))
		return c->out->status;
	if (q_word(c, "state", 32, c->out->req) ||
	    q_word(c, "name", DL_CTL_NAME_MAX, c->out->req) || q_label(c) ||
	    page_q(c))
		return c->out->status;
	return 0;
}

/* /hosts... */
static int hosts(ctx_t *c, dl_route_method_t m, const char *body, size_t blen)
{
	static const char *const host_ops[] = {
		"images", "networks", "volumes", "info", "version", "df", NULL};
	const char *h = c->n > 1 ? c->seg[1] : NULL;

	if (h && host_seg(c, 1))
		return c->out->status;
	if (c->n == 5 && is(c, 2, "containers")) {
		if (ctr_seg(c, 3))
			return c->out->status;
		if (is(c, 4, "stats") || is(c, 4, "history")) {
			if (m != DL_ROUTE_GET)
				return BAD_METHOD(c, "GET");
			if (is(c, 4, "history"))
				return history(c, c->seg[3]);
			if (check_query(c, NULL) || new_req(c, "stats"))
				return c->out->status;
			set_s(c, "host", h);
			set_s(c, "container", c->seg[3]);
			return 0;
		}
		return container_action(c, m, body, blen);
	}
	if (c->n == 3 &&
	    (is(c, 2, "prune") || is(c, 2, "pull") || is(c, 2, "run")))
		return host_post(c, m, body, blen, c->seg[2]);
	if (c->n == 3 && is(c, 2, "labels"))
		return labels_post(c, m, body, blen);
	if (c->n > 4)
		return NOT_FOUND(c);
	if (m != DL_ROUTE_GET)
		return BAD_METHOD(c, "GET");
	if (c->n == 1 || c->n == 2) {
		if (check_query(c, NULL) || new_req(c, "hosts"))
			return c->out->status;
		if (h) {
			set_s(c, "host", h);
			c->out->kind = DL_ROUTE_SINGLE;
		}
		return 0;
	}
	if (c->n == 3 && is(c, 2, "containers"))
		return ps(c, h);
	if (c->n == 3 && is(c, 2, "history"))
		return history(c, NULL);
	if (c->n == 4 && is(c, 2, "containers")) {
		if (ctr_seg(c, 3) || check_query(c, NULL) ||
		    new_req(c, "container"))
			return c->out->status;
		set_s(c, "host", h);
		set_s(c, "container", c->seg[3]);
		return 0;
	}
	for (const char *const *p = host_ops; c->n == 3 && *p; p++) {
		if (strcmp(*p, c->seg[2]))
			continue;
		json_t *args = json_object();
		int rc = check_query(c, NULL) ? c->out->status
					      : control(c, h, NULL, *p, args);

		json_decref(args);
		return rc;
	}
	return NOT_FOUND(c);
}

static int events(ctx_t *c)
{
	static const char *const q[] = {"since", "host",  "type", "action",
					"limit", "after", NULL};
	int64_t since = c->now - EVENTS_SINCE, limit = DEFAULT_LIMIT, after = 0;

	if (check_query(c, q) || q_time(c, "since", &since) ||
	    q_int(c, "limit", 1, LIMIT_MAX, &limit) ||
	    q_int(c, "after", 0, INT64_MAX, &after) || new_req(c, "events"))
		return c->out->status;
	set_i(c, "since_ns", since * NS);
	set_i(c, "limit", limit);
	set_i(c, "after", after);
	if (q_word(c, "host", 63, c->out->req) ||
	    q_word(c, "type", 64, c->out->req) ||
	    q_word(c, "action", 128, c->out->req))
		return c->out->status;
	return 0;
}

static int audit(ctx_t *c)
{
	static const char *const q[] = {"since", "host", "limit", NULL};
	int64_t since = c->now - AUDIT_SINCE, limit = DEFAULT_LIMIT;

	if (check_query(c, q) || q_time(c, "since", &since) ||
	    q_int(c, "limit", 1, LIMIT_MAX, &limit) || new_req(c, "audit"))
		return c->out->status;
	set_i(c, "since_ns", since * NS);
	set_i(c, "limit", limit);
	return q_word(c, "host", 63, c->out->req);
}

/* A JSON body that becomes the admin request as it is, with op set:
 * serve owns the rules of its fields; only op, token and client are
 * ours, so the body may not carry them. Without a body yet: 0 (wait). */
static int body_request(ctx_t *c, const char *body, size_t blen, const char *op)
{
	json_t *b = NULL;

	c->out->body = true;
	if (!body)
		return 0;
	if (body_object(c, body, blen, &b))
		return c->out->status;
	if (json_object_get(b, "op") || json_object_get(b, "token") ||
	    json_object_get(b, "client")) {
		json_decref(b);
		return BAD(c, "unknown key in the body%s", "");
	}
	json_object_set_new(b, "op", json_string(op));
	c->out->req = b;
	return 0;
}

/* /events/stream, /stats/stream: WebSocket only. */
static int subscribe(ctx_t *c, bool upgrade)
{
	static const char *const qe[] = {"host", "type", "action", NULL};
	static const char *const qs[] = {"host", NULL};
	bool ev = is(c, 0, "events");

	if (!upgrade)
		return err(c->out, 400, "invalid",
			   "%s/stream is a WebSocket: send Upgrade: websocket",
			   c->seg[0]);
	if (check_query(c, ev ? qe : qs) || new_req(c, "subscribe"))
		return c->out->status;
	set_s(c, "what", ev ? "events" : "stats");
	c->out->kind = DL_ROUTE_WS;
	if (q_word(c, "host", 63, c->out->req) ||
	    q_word(c, "type", 64, c->out->req) ||
	    q_word(c, "action", 128, c->out->req))
		return c->out->status;
	return 0;
}

static bool token_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 ||
	    !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= '0' && s[0] <= '9')))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static int tokens(ctx_t *c, dl_route_method_t m, const char *body, size_t blen)
{
	if (check_query(c, NULL))
		return c->out->status;
	if (c->n == 2) {
		if (m != DL_ROUTE_DELETE)
			return BAD_METHOD(c, "DELETE");
		if (!token_name_ok(c->seg[1]))
			return BAD(c, "invalid token name \"%.64s\"",
				   c->seg[1]);
		if (new_req(c, "token_revoke"))
			return c->out->status;
		set_s(c, "name", c->seg[1]);
		return 0;
	}
	if (m == DL_ROUTE_GET)
		return new_req(c, "token_list");
	if (m != DL_ROUTE_POST)
		return BAD_METHOD(c, "GET or POST");
	/* serve checks the fields (name, role, hosts, expires_s) */
	return body_request(c, body, blen, "token_create");
}

/* GET /alerts?all=1&since=24h: firing (and resolved since). */
static int alerts(ctx_t *c)
{
	static const char *const q[] = {"all", "since", NULL};
	int64_t since = c->now - 86400;
	bool all = false;

	if (check_query(c, q) || q_bool(c, "all", &all) ||
	    q_time(c, "since", &since) || new_req(c, "alerts"))
		return c->out->status;
	if (since >= c->now || c->now - since > 366 * 86400)
		return BAD(c, "since must be within the last year%s", "");
	json_object_set_new(c->out->req, "all", json_boolean(all));
	set_i(c, "since_s", c->now - since);
	return 0;
}

/* GET, POST /silences; DELETE /silences/{id}. */
static int silences(ctx_t *c, dl_route_method_t m, const char *body,
		    size_t blen)
{
	int64_t id;

	if (check_query(c, NULL))
		return c->out->status;
	if (c->n == 2) {
		if (m != DL_ROUTE_DELETE)
			return BAD_METHOD(c, "DELETE");
		if (dl_parse_int(c->seg[1], 1, INT64_MAX, &id))
			return BAD(c, "invalid silence id \"%.32s\"",
				   c->seg[1]);
		if (new_req(c, "silence_rm"))
			return c->out->status;
		set_i(c, "id", id);
		return 0;
	}
	if (m == DL_ROUTE_GET)
		return new_req(c, "silence_list");
	if (m != DL_ROUTE_POST)
		return BAD_METHOD(c, "GET or POST");
	/* serve checks host, container, rule, comment and for_s */
	return body_request(c, body, blen, "silence_add");
}

/* /session: GET whoami, POST {"token"} sign-in, DELETE sign-out. */
static int session(ctx_t *c, dl_route_method_t m, const char *body, size_t blen)
{
	json_t *b = NULL, *tok;

	if (check_query(c, NULL))
		return c->out->status;
	if (m == DL_ROUTE_DELETE) {
		c->out->session = DL_ROUTE_SESSION_SIGNOUT;
		return 0;
	}
	if (m == DL_ROUTE_GET) {
		c->out->session = DL_ROUTE_SESSION_WHOAMI;
		return new_req(c, "whoami");
	}
	if (m != DL_ROUTE_POST)
		return BAD_METHOD(c, "GET, POST or DELETE");
	c->out->body = true;
	c->out->session = DL_ROUTE_SESSION_SIGNIN;
	if (!body)
		return 0;
	if (body_object(c, body, blen, &b))
		return c->out->status;
	tok = json_object_get(b, "token");
	if (!json_is_string(tok) || json_object_size(b) != 1) {
		json_decref(b);
		return BAD(c, "the body is {\"token\": \"dlt_...\"}%s", "");
	}
	if (new_req(c, "whoami")) {
		json_decref(b);
		return c->out->status;
	}
	json_object_set(c->out->req, "token", tok);
	json_decref(b);
	return 0;
}

static int api(ctx_t *c, dl_route_method_t m, const char *body, size_t blen,
	       bool upgrade)
{
	if (c->n >= 2 && is(c, 1, "stream") &&
	    (is(c, 0, "events") || is(c, 0, "stats"))) {
		if (c->n != 2)
			return NOT_FOUND(c);
		if (m != DL_ROUTE_GET)
			return BAD_METHOD(c, "GET");
		return subscribe(c, upgrade);
	}
	if (upgrade)
		return BAD(c,
			   "no WebSocket here: only /api/v1/events/stream and "
			   "/api/v1/stats/stream%s",
			   "");
	if (is(c, 0, "hosts"))
		return hosts(c, m, body, blen);
	if (is(c, 0, "tokens") && c->n <= 2)
		return tokens(c, m, body, blen);
	if (is(c, 0, "silences") && c->n <= 2)
		return silences(c, m, body, blen);
	if (is(c, 0, "alerts") && c->n == 1) {
		if (m != DL_ROUTE_GET)
			return BAD_METHOD(c, "GET");
		return alerts(c);
	}
	if (is(c, 0, "session") && c->n == 1)
		return session(c, m, body, blen);
	if (c->n != 1)
		return NOT_FOUND(c);
	if (!is(c, 0, "containers") && !is(c, 0, "stats") &&
	    !is(c, 0, "events") && !is(c, 0, "audit"))
		return NOT_FOUND(c);
	if (m != DL_ROUTE_GET)
		return BAD_METHOD(c, "GET");
	if (is(c, 0, "containers"))
		return ps(c, NULL);
	if (is(c, 0, "events"))
		return events(c);
	if (is(c, 0, "audit"))
		return audit(c);
	{
		static const char *const q[] = {"host",	 "state",  "name",
						"limit", "cursor", NULL};

		if (check_query(c, q) || new_req(c, "stats") ||
		    q_word(c, "host", 63, c->out->req) ||
		    q_word(c, "state", 32, c->out->req) ||
		    q_word(c, "name", DL_CTL_NAME_MAX, c->out->req))
			return c->out->status;
		return page_q(c);
	}
}

int dl_route_request(dl_route_method_t method, const char *path,
		     const dl_route_kv_t *query, size_t nquery,
		     const char *body, size_t body_len, bool upgrade,
		     int64_t now_s, dl_route_t *out)
{
	static ctx_t c; /* ~1 KiB of segments: the gateway is one thread */

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.q = query;
	c.nq = nquery;
	c.now = now_s;
	c.out = out;
	if (!path || split(&c, path))
		return BAD(&c, "invalid path%s", "");
	if (nquery > DL_ROUTE_QUERY_MAX)
		return BAD(&c, "too many query parameters%s", "");
	if (c.n == 1 && is(&c, 0, "metrics")) {
		if (method != DL_ROUTE_GET || upgrade)
			return BAD_METHOD(&c, "GET");
		if (check_query(&c, NULL) || new_req(&c, "metrics"))
			return out->status;
		out->kind = DL_ROUTE_METRICS;
		out->metrics = true;
		return 0;
	}
	if (c.n < 3 || !is(&c, 0, "api") || !is(&c, 1, "v1"))
		return NOT_FOUND(&c);
	/* the API proper starts after /api/v1 */
	memmove(c.seg, c.seg[2], sizeof(c.seg[0]) * (c.n - 2));
	c.n -= 2;
	return api(&c, method, body, body_len, upgrade);
}
