/* admin.c - the admin socket: one JSON request at a time per connection
 * (proto/admin.h), answered from read-only connections on the libuv
 * threadpool so a slow query never stalls agent sessions. Who may connect
 * is decided by the socket file's mode; what each request may do, by
 * auth.c (tokens, roles, host globs) before any work is queued. The peer
 * uid is kept for audit. Every error answer carries a "code" (invalid,
 * unauthorized, forbidden, not_found, error, ...: docs/API.md). */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/auth.h"
#include "collector/metrics.h"
#include "collector/notify.h"
#include "collector/pubsub.h"
#include "collector/query.h"
#include "collector/serve_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/admin.h"
#include "proto/control.h"

#define TAG "admin"

typedef struct {
	uv_pipe_t pipe;
	uv_work_t work;
	dl_server_t *srv;
	dl_frame_reader_t rd;
	uid_t uid;
	pid_t pid;
	bool busy;
	bool closing;
	json_t *req;  /* owned while busy */
	json_t *resp; /* built on the worker thread */
	char *frame;  /* or a ready frame (history), same ownership */
	size_t frame_len;
	/* A control request: resolved on the threadpool, then routed. */
	bool ctl;
	dl_call_req_t call;
	char ctl_host[DL_HOST_MAX + 1];
	char ctl_target[DL_CTL_NAME_MAX + 1];
	char ctl_error[512];
	char ctl_user[DL_AUDIT_USER_MAX + 1];
	const char *ctl_code;	/* with ctl_error: the answer's code */
	const char *ctl_status; /* and the audit status ("error") */
	uint32_t call_id;	/* in flight, 0 = none */
	dl_auth_t auth;		/* who sent the current request */
	/* token_create/revoke waiting for the writer (busy meanwhile) */
	dl_token_t tok;
	char tok_secret[DL_TOKEN_SECRET_LEN + 1];
	dl_sub_t *sub;	   /* a subscriber: only writes from now on */
	dl_buf_t *metrics; /* "metrics": serve's part, then the store's */
} admin_conn_t;

typedef struct {
	uv_write_t w;
	dl_server_t *srv;
	uint32_t call_id;
	size_t n;
} chunk_write_t;

static __thread dl_query_t *tq; /* one read-only connection per worker */

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

static void on_closed(uv_handle_t *h)
{
	admin_conn_t *c = h->data;

	dl_frame_reader_free(&c->rd);
	dl_metrics_buf_free(c->metrics);
	free(c);
}

static void conn_close(admin_conn_t *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if (c->sub) {
		dl_pubsub_remove(c->srv->pubsub, c->sub);
		c->sub = NULL;
	}
	if (c->call_id) {
		dl_call_cancel(c->srv, c->call_id);
		c->call_id = 0;
	}
	/* A worker still holds c: after_work closes it. */
	if (!c->busy)
		uv_close((uv_handle_t *)&c->pipe, on_closed);
}

static json_t *fail(const char *code, const char *fmt, const char *a)
{
	char text[512];

	snprintf(text, sizeof(text), fmt, a);
	return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", text, "code", code);
}

/* The code of a query's error sentence (query.c words them). */
static const char *err_code(const char *err)
{
	static const char *const missing[] = {"no host named ",
					      "no container "};
	static const char *const bad[] = {"invalid ", "stats:", "history",
					  "events:",  "audit:", "unknown "};

	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		if (!strncmp(err, missing[i], strlen(missing[i])))
			return "not_found";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!strncmp(err, bad[i], strlen(bad[i])))
			return "invalid";
	return strstr(err, " matches ") ? "invalid" : "error";
}

static json_t *ok(json_t *data)
{
	return json_pack("{s:b,s:o}", "ok", 1, "data", data);
}

/* "stats" {host?, container?}. Errors are sentences in err. */
static json_t *run_stats(const char *host, json_t *req, char *err,
			 size_t errlen)
{
	const char *ctr = json_string_value(json_object_get(req, "container"));

	if (ctr && (!ctr[0] || strlen(ctr) > DL_QUERY_CTR_MAX)) {
		snprintf(err, errlen, "invalid container name or id");
		return NULL;
	}
	if (ctr && !host) {
		snprintf(err, errlen,
			 "stats: a container needs its "
			 "host (HOST/CONTAINER)");
		return NULL;
	}
	return dl_query_stats(tq, host, ctr, err, errlen);
}

typedef struct {
	const char *ctr;
	json_int_t since, until, tier, points;
} hist_args_t;

/* "history" {host, container?, since_ns, until_ns, tier?, points?}: no
 * container = the host's own metrics. tier defaults to the one the span
 * (and, for a chart, the points) call for. 0, or -1 with a sentence in
 * err. */
static int history_args(const char *host, json_t *req, hist_args_t *a,
			char *err, size_t errlen)
{
	json_t *jt = json_object_get(req, "tier");
	int64_t span_s;

	a->ctr = json_string_value(json_object_get(req, "container"));
	if (a->ctr && (!a->ctr[0] || strlen(a->ctr) > DL_QUERY_CTR_MAX)) {
		snprintf(err, errlen, "invalid container name or id");
		return -1;
	}
	a->since = json_integer_value(json_object_get(req, "since_ns"));
	a->until = json_integer_value(json_object_get(req, "until_ns"));
	if (!host) {
		snprintf(err, errlen, "history wants HOST or HOST/CONTAINER");
		return -1;
	}
	if (a->since < 0 || a->until <= a->since) {
		snprintf(err, errlen,
			 "history: since_ns/until_ns out of range");
		return -1;
	}
	a->points = json_integer_value(json_object_get(req, "points"));
	if (a->points < 0 || a->points > DL_QUERY_POINTS_MAX) {
		snprintf(err, errlen, "history: points out of range");
		return -1;
	}
	span_s = (a->until - a->since) / 1000000000;
	a->tier = jt ? json_integer_value(jt)
		     : dl_query_tier_points(span_s, (int)a->points);
	/* dl_query_history_text words a bad tier; just no int truncation
	 * that could turn one into a good one */
	if (a->tier < INT_MIN || a->tier > INT_MAX)
		a->tier = -1;
	return 0;
}

/* An optional string field of at most max bytes: 0 (absent: *out NULL),
 * or -1 with a sentence. */
static int opt_str(json_t *req, const char *key, size_t max, const char **out,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(req, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !json_string_length(v) ||
	    json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen,
			 "invalid %s: not a string of 1 to %zu bytes", key,
			 max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* "hosts" {host?}: every host, or the one named (an array of one). */
static json_t *run_hosts(const char *host, char *err, size_t errlen)
{
	json_t *all = dl_query_hosts(tq, err, errlen), *one;
	size_t i;
	json_t *h;

	if (!all || !host)
		return all;
	json_array_foreach(all, i, h)
	{
		const char *name =
			json_string_value(json_object_get(h, "name"));

		if (name && !strcmp(name, host)) {
			one = json_pack("[O]", h);
			json_decref(all);
			return one;
		}
	}
	json_decref(all);
	snprintf(err, errlen, "no host named %s", host);
	return NULL;
}

/* "ps" {host?, all?, state?, name? (glob)} */
static json_t *run_ps(const char *host, json_t *req, char *err, size_t errlen)
{
	dl_ps_filter_t f = {.host = host,
			    .all = json_is_true(json_object_get(req, "all"))};

	if (opt_str(req, "state", 32, &f.state, err, errlen) ||
	    opt_str(req, "name", 256, &f.name, err, errlen))
		return NULL;
	return dl_query_ps_where(tq, &f, err, errlen);
}

/* "events" {host?, since_ns, after, limit, type?, action?} */
static json_t *run_events(const char *host, json_t *req, char *err,
			  size_t errlen)
{
	json_int_t since = json_integer_value(json_object_get(req, "since_ns"));
	json_int_t after = json_integer_value(json_object_get(req, "after"));
	json_int_t limit = json_integer_value(json_object_get(req, "limit"));
	dl_event_filter_t f = {.host = host};

	if (since < 0 || after < 0 || limit < 1 || limit > 100000) {
		snprintf(err, errlen,
			 "events: since, after or limit out of "
			 "range");
		return NULL;
	}
	if (opt_str(req, "type", 32, &f.type, err, errlen) ||
	    opt_str(req, "action", 128, &f.action, err, errlen))
		return NULL;
	f.since_ns = (uint64_t)since;
	f.after_id = after;
	f.limit = (int)limit;
	return dl_query_events_where(tq, &f, err, errlen);
}

static json_t *run_query(const char *db, json_t *req, const dl_auth_t *au)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *host = json_string_value(json_object_get(req, "host"));
	char err[512] = "";
	json_t *data = NULL;

	if (!op)
		return fail("invalid", "request has no op%s", "");
	if (host && !dl_host_name_valid(host))
		return fail("invalid", "invalid host name \"%s\"", host);
	if (!tq && !(tq = dl_query_open(db, err, sizeof(err))))
		return fail("error", "%s", err);
	/* A token for one host: the LIMIT of events and audit counts only
	 * rows it may see (neither asks whether the host exists). */
	if (!host && dl_auth_single_host(au) &&
	    (!strcmp(op, "events") || !strcmp(op, "audit")))
		host = dl_auth_single_host(au);
	if (!strcmp(op, "hosts")) {
		data = run_hosts(host, err, sizeof(err));
	} else if (!strcmp(op, "ps")) {
		data = run_ps(host, req, err, sizeof(err));
	} else if (!strcmp(op, "container")) {
		const char *ctr =
			json_string_value(json_object_get(req, "container"));

		if (!host || !ctr || !ctr[0] || strlen(ctr) > DL_QUERY_CTR_MAX)
			return fail("invalid",
				    "container wants a host and a container "
				    "name or id%s",
				    "");
		data = dl_query_container(tq, host, ctr, err, sizeof(err));
	} else if (!strcmp(op, "events")) {
		data = run_events(host, req, err, sizeof(err));
	} else if (!strcmp(op, "audit")) {
		json_int_t since =
			json_integer_value(json_object_get(req, "since_ns"));
		json_int_t limit =
			json_integer_value(json_object_get(req, "limit"));

		if (since < 0 || limit < 1 || limit > 100000)
			return fail("invalid",
				    "audit: since_ns or limit out of range%s",
				    "");
		data = dl_query_audit(tq, host, (uint64_t)since, (int)limit,
				      err, sizeof(err));
	} else if (!strcmp(op, "stats")) {
		data = run_stats(host, req, err, sizeof(err));
	} else if (!strcmp(op, "ping")) {
		data = json_pack("{s:s}", "version", DL_VERSION);
	} else {
		return fail("invalid", "unknown request \"%s\"", op);
	}
	if (!data)
		return fail(err_code(err), "%s", err[0] ? err : "query failed");
	dl_auth_filter(au, data, strcmp(op, "hosts") ? "host" : "name");
	return ok(data);
}

/* "history": a day of raw samples is ~2 MB of JSON; building it as text
 * from the rows (no json_t per sample) is what keeps it fast. Errors go
 * the json path like every other op. Returns the frame, or NULL with
 * c->resp set. */
static char *run_history(admin_conn_t *c, size_t *len)
{
	static const char head[] = "{\"ok\":true,\"data\":";
	const char *host = json_string_value(json_object_get(c->req, "host"));
	char err[512] = "";
	hist_args_t a;
	dl_buf_t b;

	if (host && !dl_host_name_valid(host)) {
		c->resp = fail("invalid", "invalid host name \"%s\"", host);
		return NULL;
	}
	if (!tq &&
	    !(tq = dl_query_open(c->srv->conf->database, err, sizeof(err)))) {
		c->resp = fail("error", "%s", err);
		return NULL;
	}
	if (history_args(host, c->req, &a, err, sizeof(err))) {
		c->resp = fail("invalid", "%s", err);
		return NULL;
	}
	dl_buf_init(&b, DL_FRAME_HDR + DL_ADMIN_RESP_MAX);
	if (dl_buf_append(&b, "\0\0\0\0", DL_FRAME_HDR) ||
	    dl_buf_append(&b, head, sizeof(head) - 1)) {
		snprintf(err, sizeof(err), "out of memory");
		goto fail;
	}
	if (dl_query_history_text(tq, host, a.ctr, a.since, a.until,
				  (int)a.tier, (int)a.points, &b, NULL, err,
				  sizeof(err)) ||
	    dl_buf_append(&b, "}", 1)) {
		if (!err[0])
			snprintf(err, sizeof(err),
				 "response too large; narrow the query");
		goto fail;
	}
	dl_frame_put_header(dl_buf_head(&b),
			    (uint32_t)(dl_buf_used(&b) - DL_FRAME_HDR));
	*len = dl_buf_used(&b);
	return (char *)b.data; /* off is 0: nothing was consumed */
fail:
	dl_buf_free(&b);
	c->resp = fail(err_code(err), "%s", err);
	return NULL;
}

/* Control, on the threadpool: does the host exist, and which container
 * does the admin mean? A unique match travels as its full id; no match
 * goes to Docker as typed (it may be brand new, and Docker's "No such
 * container" is the answer the admin expects); several matches are an
 * error listing them. */
static void resolve_control(admin_conn_t *c)
{
	dl_call_req_t *r = &c->call;
	char err[512] = "";
	dl_ctr_ref_t ref;
	bool online;
	int rc;
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	/* NSS may ask LDAP: never on the loop thread. A token request
	 * is audited as the token. */
	if (!c->auth.token &&
	    getpwuid_r(c->uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		snprintf(c->ctl_user, sizeof(c->ctl_user), "%s", pw.pw_name);

	if (!tq &&
	    !(tq = dl_query_open(c->srv->conf->database, err, sizeof(err)))) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "%s", err);
		c->ctl_code = "error";
		return;
	}
	if (!dl_query_host(tq, r->host, &online, &r->last_seen)) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "no host named %s",
			 r->host);
		c->ctl_code = "not_found";
		return;
	}
	if (!r->op->container)
		return;
	/* Only current containers count: a removed one's history must not
	 * turn "web" into an id Docker has never heard of. */
	memset(&ref, 0, sizeof(ref));
	rc = dl_query_resolve(tq, r->host, r->target, &ref, err, sizeof(err));
	if (rc == DL_EINVAL && ref.live) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "%s", err);
		c->ctl_code = "invalid";
	} else if (rc == 0 && ref.live && dl_control_name_ok(ref.id))
		json_object_set_new(r->args, "container", json_string(ref.id));
}

static void work_cb(uv_work_t *w)
{
	admin_conn_t *c = w->data;
	const char *op = json_string_value(json_object_get(c->req, "op"));

	if (c->ctl) {
		resolve_control(c);
		return;
	}

	if (op && !strcmp(op, "history")) {
		c->frame = run_history(c, &c->frame_len);
		return;
	}
	if (c->metrics) {
		char err[512] = "";

		if (dl_metrics_store_text(c->srv->conf->database, c->metrics,
					  err, sizeof(err))) {
			dl_metrics_buf_free(c->metrics);
			c->metrics = NULL;
			c->resp = json_pack("{s:b,s:s,s:s}", "ok", 0, "error",
					    err, "code", "error");
		}
		return;
	}
	c->resp = run_query(c->srv->conf->database, c->req, &c->auth);
}

static void on_written(uv_write_t *req, int status)
{
	admin_conn_t *c = req->handle->data;

	free(req->data);
	free(req);
	if (status && !c->closing)
		conn_close(c);
}

static void send_frame(admin_conn_t *c, char *frame, size_t len);

/* Sends resp (consumed) and reads the next request. */
static void respond(admin_conn_t *c, json_t *resp)
{
	size_t len = 0;
	char *frame = NULL;

	if (resp)
		frame = dl_admin_frame(resp, DL_ADMIN_RESP_MAX, &len);
	if (!frame) {
		json_t *e = fail("error",
				 "response too large; narrow the query%s", "");

		frame = dl_admin_frame(e, DL_ADMIN_RESP_MAX, &len);
		json_decref(e);
	}
	json_decref(resp);
	send_frame(c, frame, len);
}

/* Sends a whole frame (consumed, may be NULL) and reads the next request. */
static void send_frame(admin_conn_t *c, char *frame, size_t len)
{
	uv_write_t *req;
	uv_buf_t ub;

	if (c->closing) {
		free(frame);
		uv_close((uv_handle_t *)&c->pipe, on_closed);
		return;
	}
	if (!frame || !(req = malloc(sizeof(*req)))) {
		free(frame);
		conn_close(c);
		return;
	}
	req->data = frame;
	ub = uv_buf_init(frame, (unsigned)len);
	if (uv_write(req, (uv_stream_t *)&c->pipe, &ub, 1, on_written)) {
		free(frame);
		free(req);
		conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* ---- control: the admin side of a call ---- */

static void on_chunk_written(uv_write_t *w, int status)
{
	chunk_write_t *cw = (chunk_write_t *)w;
	admin_conn_t *c = w->handle->data;

	/* Credit only what reached the client: the agent's window. */
	if (status == 0)
		dl_call_delivered(cw->srv, cw->call_id, cw->n);
	free(w->data);
	free(cw);
	if (status && !c->closing)
		conn_close(c);
}

/* A binary admin frame [fd (1|2)] + bytes that no call waits for. */
static void write_binary(admin_conn_t *c, uint32_t fd, const uint8_t *p,
			 size_t n)
{
	uv_write_t *req = malloc(sizeof(*req));
	char *frame = malloc(DL_FRAME_HDR + 1 + n);
	uv_buf_t ub;

	if (!req || !frame) {
		free(req);
		free(frame);
		conn_close(c);
		return;
	}
	dl_frame_put_header((uint8_t *)frame, (uint32_t)(n + 1));
	frame[DL_FRAME_HDR] = (char)fd;
	memcpy(frame + DL_FRAME_HDR + 1, p, n);
	req->data = frame;
	ub = uv_buf_init(frame, (unsigned)(DL_FRAME_HDR + 1 + n));
	if (uv_write(req, (uv_stream_t *)&c->pipe, &ub, 1, on_written)) {
		free(frame);
		free(req);
		conn_close(c);
	}
}

/* Stream output as a binary admin frame: [fd (1|2)] + bytes. */
static void call_chunk(void *ud, uint32_t id, uint32_t fd, const uint8_t *p,
		       size_t n)
{
	admin_conn_t *c = ud;
	chunk_write_t *cw;
	char *frame;
	uv_buf_t ub;

	if (c->closing)
		return;
	cw = malloc(sizeof(*cw));
	frame = malloc(DL_FRAME_HDR + 1 + n);
	if (!cw || !frame) {
		free(cw);
		free(frame);
		conn_close(c);
		return;
	}
	dl_frame_put_header((uint8_t *)frame, (uint32_t)(n + 1));
	frame[DL_FRAME_HDR] = (char)fd;
	memcpy(frame + DL_FRAME_HDR + 1, p, n);
	cw->w.data = frame;
	cw->srv = c->srv;
	cw->call_id = id;
	cw->n = n;
	ub = uv_buf_init(frame, (unsigned)(DL_FRAME_HDR + 1 + n));
	if (uv_write(&cw->w, (uv_stream_t *)&c->pipe, &ub, 1,
		     on_chunk_written)) {
		free(frame);
		free(cw);
		conn_close(c);
	}
}

static void respond(admin_conn_t *c, json_t *resp);

static void call_done(void *ud, json_t *resp)
{
	admin_conn_t *c = ud;

	c->call_id = 0;
	respond(c, resp);
}

static void start_call(admin_conn_t *c)
{
	static const dl_call_sink_t sink = {call_chunk, call_done};

	c->ctl = false;
	if (c->ctl_error[0]) {
		c->call.error = c->ctl_error;
		c->call.status = c->ctl_status ? c->ctl_status : "error";
		c->call.code = c->ctl_code ? c->ctl_code : "error";
	}
	if (c->closing) {
		/* The admin left while we resolved: nothing to route. */
		json_decref(c->call.args);
		uv_close((uv_handle_t *)&c->pipe, on_closed);
		return;
	}
	c->call_id = dl_call_start(c->srv, &c->call, &sink, c);
	json_decref(c->call.args);
	c->call.args = NULL;
	/* Reading on: EOF from the client is how a cancel arrives. */
	if (c->call_id)
		uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}

/* {"op":"control", "host", "action", "args": {...}, "timeout_ms"}.
 * NULL when it may go on (resolution next), else the error answer.
 * Argument errors are audited (the call starts with the error); a
 * request naming no valid host or op is not. */
static json_t *parse_control(admin_conn_t *c, json_t *req)
{
	const char *host = json_string_value(json_object_get(req, "host"));
	const char *action = json_string_value(json_object_get(req, "action"));
	json_t *args = json_object_get(req, "args");
	json_t *jt = json_object_get(req, "timeout_ms");
	dl_call_req_t *r = &c->call;
	const char *target;

	memset(r, 0, sizeof(*r));
	c->ctl_error[0] = '\0';
	c->ctl_code = c->ctl_status = NULL;
	if (!host || !dl_host_name_valid(host))
		return fail("invalid", "control: invalid host name \"%.64s\"",
			    host ? host : "");
	if (!(r->op = dl_control_op(action)))
		return fail("invalid", "unknown operation \"%.32s\"",
			    action ? action : "");
	if (!json_is_object(args))
		return fail("invalid", "control: args must be an object%s", "");
	if (jt && (!json_is_integer(jt) || json_integer_value(jt) < 0 ||
		   json_integer_value(jt) > 7 * 86400 * 1000LL))
		return fail("invalid", "control: timeout_ms out of range%s",
			    "");
	snprintf(c->ctl_host, sizeof(c->ctl_host), "%s", host);
	target = json_string_value(json_object_get(args, "container"));
	snprintf(c->ctl_target, sizeof(c->ctl_target), "%s",
		 target ? target : "");
	r->host = c->ctl_host;
	r->target = c->ctl_target;
	r->args = json_incref(args);
	r->timeout_ms = (uint32_t)json_integer_value(jt);
	r->uid = c->uid;
	snprintf(c->ctl_user, sizeof(c->ctl_user), "uid %u", (unsigned)c->uid);
	if (c->auth.token)
		dl_auth_user(&c->auth, c->ctl_user, sizeof(c->ctl_user));
	r->user = c->ctl_user;
	if (dl_control_validate(r->op, args, c->ctl_error,
				sizeof(c->ctl_error)))
		c->ctl_code = "invalid";
	c->ctl = true;
	return NULL;
}

/* A control request the token may not make ends at once, audited: a
 * hidden host exactly as one that does not exist, a role too small as
 * "refused". Whether it did (then the call is started). */
static bool control_refused(admin_conn_t *c)
{
	char text[256];

	if (!dl_auth_host_ok(&c->auth, c->ctl_host)) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "no host named %s",
			 c->ctl_host);
		c->ctl_code = "not_found";
		c->ctl_status = "error";
	} else if (dl_auth_allow(&c->auth, "control", c->call.op, text,
				 sizeof(text))) {
		DL_LOG_INFO(TAG, "uid %d: %s", (int)c->uid, text);
		snprintf(c->ctl_error, sizeof(c->ctl_error), "%s", text);
		c->ctl_code = "forbidden";
		c->ctl_status = "refused";
	} else {
		return false;
	}
	start_call(c);
	return true;
}

/* The exposition as binary frames [1][<= 64 KiB of text] (as logs
 * output travels), then {"ok":true}. */
static void send_metrics(admin_conn_t *c)
{
	dl_buf_t *b = c->metrics;
	const uint8_t *p = dl_buf_head(b);
	size_t left = dl_buf_used(b);

	c->metrics = NULL;
	while (left && !c->closing) {
		size_t n = left < DL_METRICS_CHUNK ? left : DL_METRICS_CHUNK;

		write_binary(c, DL_ADMIN_STDOUT, p, n);
		p += n;
		left -= n;
	}
	dl_metrics_buf_free(b);
	respond(c, json_pack("{s:b}", "ok", 1));
}

static void after_work(uv_work_t *w, int status)
{
	admin_conn_t *c = w->data;
	json_t *resp = c->resp;
	char *frame = c->frame;

	if (c->ctl) {
		json_decref(c->req);
		c->req = NULL;
		c->busy = false;
		start_call(c);
		return;
	}

	json_decref(c->req);
	c->req = NULL;
	c->resp = NULL;
	c->frame = NULL;
	c->busy = false;
	if (c->metrics) {
		send_metrics(c);
		return;
	}
	if (frame)
		send_frame(c, frame, c->frame_len);
	else
		respond(c, resp);
}

static void sub_close(void *ud)
{
	conn_close(ud);
}

/* {"op":"subscribe", ...}: from the answer on, the connection only
 * receives pushes (pubsub.c); EOF from the client ends it. */
static json_t *run_subscribe(admin_conn_t *c, json_t *req)
{
	char who[64], err[256];
	const char *code = "invalid";
	dl_sub_conf_t sc = {
		.stream = (uv_stream_t *)&c->pipe,
		.uid = c->uid,
		/* a token sees only its hosts' rows */
		.host_glob = c->auth.token && strcmp(c->auth.hosts, "*")
				     ? c->auth.hosts
				     : NULL,
		.who = who,
		.close = sub_close,
		.ud = c,
	};

	if (c->auth.token)
		snprintf(who, sizeof(who), "token %s", c->auth.name);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)c->uid);
	if (!c->srv->pubsub)
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "error",
				 "collector is stopping", "code", "error");
	c->sub = dl_pubsub_add(c->srv->pubsub, req, &sc, err, sizeof(err),
			       &code);
	if (!c->sub)
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", err, "code",
				 code);
	return ok(json_pack("{s:s}", "subscribed",
			    json_string_value(json_object_get(req, "what"))));
}

/* Ops that change the collector's own state run on the loop thread. */
static json_t *run_local(admin_conn_t *c, const char *op, json_t *req)
{
	const char *host = json_string_value(json_object_get(req, "host"));
	bool live;

	if (!strcmp(op, "subscribe"))
		return run_subscribe(c, req);
	if (!strcmp(op, "whoami")) {
		json_t *me = dl_auth_whoami(&c->auth);

		return me ? ok(me) : fail("error", "out of memory%s", "");
	}
	if (strcmp(op, "forget"))
		return NULL;
	if (!host || !dl_host_name_valid(host))
		return fail("invalid", "forget needs a valid host name%s", "");
	live = dl_session_drop(c->srv, host, "host forgotten by an admin");
	if (!c->srv->store || dl_store_forget(c->srv->store, host) != 0)
		return fail("error", "cannot purge %s: collector is stopping",
			    host);
	DL_LOG_INFO(TAG, "uid %d purged the history of %s", (int)c->uid, host);
	return ok(json_pack("{s:s,s:b}", "host", host, "was_online", live));
}

/* ---- tokens: the cache is updated on the loop thread, the answer
 * waits for the writer's COMMIT (c stays busy meanwhile) ---- */

#define TOKEN_EXPIRES_MAX (100ll * 365 * 86400)

static json_t *time_or_null(int64_t s)
{
	return s > 0 ? json_integer(s) : json_null();
}

static void token_created(void *ud, int result)
{
	admin_conn_t *c = ud;
	const dl_token_t *k = &c->tok;
	json_t *resp;

	c->busy = false;
	if (result == 0 && dl_tokens_add(c->srv->tokens, k) == 0) {
		DL_LOG_INFO(TAG, "uid %d created token %s (role %s, hosts %s)",
			    (int)c->uid, k->name, dl_token_role_name(k->role),
			    k->hosts);
		resp = ok(json_pack(
			"{s:s,s:s,s:s,s:I,s:o,s:s}", "name", k->name, "role",
			dl_token_role_name(k->role), "hosts", k->hosts,
			"created", (json_int_t)k->created, "expires",
			time_or_null(k->expires), "secret", c->tok_secret));
	} else if (result == DL_EEXIST) {
		resp = fail("invalid", "a token named %s already exists",
			    k->name);
	} else {
		resp = fail("error", "cannot store token %s", k->name);
	}
	explicit_bzero(c->tok_secret, sizeof(c->tok_secret));
	respond(c, resp);
}

static void token_revoked(void *ud, int result)
{
	admin_conn_t *c = ud;

	c->busy = false;
	if (result == 0)
		DL_LOG_INFO(TAG, "uid %d revoked token %s", (int)c->uid,
			    c->tok.name);
	respond(c,
		result == 0 ? ok(json_pack("{s:s,s:b}", "name", c->tok.name,
					   "revoked", 1))
		: result == DL_ENOENT
			? fail("not_found", "no token named %s", c->tok.name)
			: fail("error", "cannot revoke token %s", c->tok.name));
}

/* token_create {name, role, hosts?, expires_s?}: NULL when queued. */
static json_t *token_create(admin_conn_t *c, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	const char *role = json_string_value(json_object_get(req, "role"));
	json_t *jh = json_object_get(req, "hosts");
	json_t *je = json_object_get(req, "expires_s");
	const char *hosts = jh ? json_string_value(jh) : "*";
	dl_token_t *k = &c->tok;
	dl_token_row_t row;

	if (!dl_token_name_valid(name))
		return fail("invalid",
			    "token_create: name wants [a-z0-9][a-z0-9._-], at "
			    "most 63 characters%s",
			    "");
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	if ((k->role = dl_token_role_parse(role)) == DL_ROLE_NONE)
		return fail("invalid",
			    "token_create: role must be read, operate or "
			    "admin%s",
			    "");
	if (!dl_token_hosts_valid(hosts))
		return fail("invalid",
			    "token_create: hosts must be a glob of 1 to 255 "
			    "printable characters%s",
			    "");
	if (je && (!json_is_integer(je) || json_integer_value(je) < 1 ||
		   json_integer_value(je) > TOKEN_EXPIRES_MAX))
		return fail("invalid",
			    "token_create: expires_s must be from 1 s to 100 "
			    "years%s",
			    "");
	if (dl_tokens_get(c->srv->tokens, name))
		return fail("invalid", "a token named %s already exists", name);
	snprintf(k->hosts, sizeof(k->hosts), "%s", hosts);
	k->created = (int64_t)(dl_clock_wall_ns() / 1000000000ull);
	k->expires = je ? k->created + json_integer_value(je) : 0;
	k->last_written = k->created; /* a first use is written at once */
	k->last_written -= DL_TOKEN_USED_PERIOD_S;
	if (dl_token_generate(c->tok_secret, sizeof(c->tok_secret)) ||
	    dl_token_hash(c->tok_secret, k->hash, sizeof(k->hash)))
		return fail("error", "cannot make a secret for %s", name);
	row = (dl_token_row_t){
		k->name,  k->hash,    dl_token_role_name(k->role),
		k->hosts, k->created, k->expires};
	if (!c->srv->store ||
	    dl_store_token_create(c->srv->store, &row, token_created, c)) {
		explicit_bzero(c->tok_secret, sizeof(c->tok_secret));
		return fail("error", "cannot store token %s", name);
	}
	c->busy = true;
	return NULL;
}

/* token_revoke {name}: out of the cache at once, answered after the
 * COMMIT. NULL when queued. */
static json_t *token_revoke(admin_conn_t *c, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));

	if (!dl_token_name_valid(name) ||
	    !dl_tokens_remove(c->srv->tokens, name))
		return fail("not_found", "no token named %.64s",
			    name ? name : "");
	snprintf(c->tok.name, sizeof(c->tok.name), "%s", name);
	if (!c->srv->store ||
	    dl_store_token_revoke(c->srv->store, name,
				  (int64_t)(dl_clock_wall_ns() / 1000000000ull),
				  token_revoked, c))
		return fail("error", "cannot revoke token %s", name);
	c->busy = true;
	return NULL;
}

/* token_*: the answer, or NULL when the writer will give it. */
static json_t *run_token(admin_conn_t *c, const char *op, json_t *req)
{
	json_t *list;

	if (!strcmp(op, "token_create"))
		return token_create(c, req);
	if (!strcmp(op, "token_revoke"))
		return token_revoke(c, req);
	if (!strcmp(op, "token_list"))
		return (list = dl_tokens_list(c->srv->tokens))
			       ? ok(list)
			       : fail("error", "out of memory%s", "");
	return fail("invalid", "unknown request \"%s\"", op);
}

/* ---- notifications: notify_test waits for the send's outcome (c stays
 * busy meanwhile, like a token op) ---- */

static void notify_tested(void *ud, const char *channel, bool delivered,
			  const char *detail)
{
	admin_conn_t *c = ud;
	char text[1024];

	c->busy = false;
	DL_LOG_INFO(TAG, "uid %d tested channel %s: %s", (int)c->uid, channel,
		    delivered ? "delivered" : "not delivered");
	if (delivered) {
		respond(c, ok(json_pack("{s:s,s:b,s:s}", "channel", channel,
					"delivered", 1, "detail", detail)));
		return;
	}
	snprintf(text, sizeof(text), "%s: %s", channel, detail);
	respond(c, json_pack("{s:b,s:s,s:s,s:{s:s,s:b,s:s}}", "ok", 0, "error",
			     text, "code", "error", "data", "channel", channel,
			     "delivered", 0, "detail", detail));
}

/* notify_test {channel} | notify_list: the answer, or NULL when the
 * send's outcome will give it. */
static json_t *run_notify(admin_conn_t *c, const char *op, json_t *req)
{
	const char *ch = json_string_value(json_object_get(req, "channel"));
	json_t *list;
	int rc;

	if (!strcmp(op, "notify_list"))
		return (list = dl_notify_list(c->srv->notify))
			       ? ok(list)
			       : fail("error", "out of memory%s", "");
	if (strcmp(op, "notify_test"))
		return fail("invalid", "unknown request \"%s\"", op);
	if (!ch || !dl_notify_has(c->srv->notify, ch))
		return fail("not_found", "no [notify %.64s] channel",
			    ch ? ch : "");
	rc = dl_notify_test(c->srv->notify, ch, notify_tested, c);
	if (rc == DL_EFULL)
		return fail("busy", "the send queue of %s is full", ch);
	if (rc)
		return fail("error", "cannot send: %s", dl_strerror(rc));
	c->busy = true;
	return NULL;
}

/* Who asks, and may they? NULL, or the refusal. Control requests are
 * judged by control_refused (they are audited). */
static json_t *authorize(admin_conn_t *c, const char *op)
{
	const char *host = json_string_value(json_object_get(c->req, "host"));
	int64_t now = (int64_t)(dl_clock_wall_ns() / 1000000000ull);
	char err[256];

	if (dl_auth_identify(c->srv->tokens, c->srv->store, c->srv->conf,
			     c->uid, c->req, op, now, &c->auth, err,
			     sizeof(err)))
		return fail("unauthorized", "%s", err);
	if (op && !strcmp(op, "control"))
		return NULL;
	if (dl_auth_allow(&c->auth, op, NULL, err, sizeof(err)))
		return fail("forbidden", "%s", err);
	if (host && !dl_auth_host_ok(&c->auth, host))
		return fail("not_found", "no host named %.64s", host);
	return NULL;
}

/* serve's own counters are read here, on the loop thread; the
 * threadpool appends the store's part. NULL when it may go on. */
static json_t *start_metrics(admin_conn_t *c)
{
	dl_server_t *srv = c->srv;

	c->metrics =
		dl_metrics_serve_text(srv->metrics, dl_session_live_count(srv),
				      dl_pubsub_count(srv->pubsub), srv->store);
	if (!c->metrics || dl_notify_metrics(srv->notify, c->metrics)) {
		dl_metrics_buf_free(c->metrics);
		c->metrics = NULL;
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "error",
				 "out of memory", "code", "error");
	}
	return NULL;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char chunk[16384];

	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	admin_conn_t *c = st->data;
	const uint8_t *p;
	size_t n;
	json_error_t jerr;
	int rc;

	if (nread == 0)
		return; /* EAGAIN */
	if (nread < 0 || c->call_id || c->ctl || c->sub) {
		/* EOF, or input during a call: either way the call ends. */
		conn_close(c);
		return;
	}
	if (dl_frame_reader_feed(&c->rd, buf->base, (size_t)nread) != 0) {
		conn_close(c);
		return;
	}
	rc = dl_frame_reader_next(&c->rd, &p, &n);
	if (rc == 0)
		return;
	if (rc < 0) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "uid %d sent an invalid admin frame: %s", (int)c->uid,
			  dl_strerror(rc));
		conn_close(c);
		return;
	}
	c->req = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->req || !json_is_object(c->req)) {
		json_decref(c->req);
		c->req = NULL;
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "uid %d sent a request that is not a JSON object",
			  (int)c->uid);
		conn_close(c);
		return;
	}
	/* One request in flight per connection. */
	uv_read_stop(st);
	{
		const char *op =
			json_string_value(json_object_get(c->req, "op"));
		json_t *resp = authorize(c, op);
		bool ctl = op && !strcmp(op, "control");

		if (!resp && ctl && !(resp = parse_control(c, c->req)) &&
		    control_refused(c)) {
			json_decref(c->req);
			c->req = NULL;
			return;
		}
		if (!resp && op && !ctl && !strncmp(op, "token_", 6) &&
		    !(resp = run_token(c, op, c->req))) {
			json_decref(c->req); /* answered by the writer */
			c->req = NULL;
			return;
		}
		if (!resp && op && !strncmp(op, "notify_", 7) &&
		    !(resp = run_notify(c, op, c->req))) {
			json_decref(c->req); /* answered after the send */
			c->req = NULL;
			return;
		}
		if (!resp && op && !strcmp(op, "metrics"))
			resp = start_metrics(c);
		else if (!resp && op && !ctl && strncmp(op, "token_", 6))
			resp = run_local(c, op, c->req);

		if (resp) {
			json_decref(c->req);
			c->req = NULL;
			respond(c, resp);
			return;
		}
	}
	c->busy = true;
	c->work.data = c;
	uv_queue_work(c->srv->loop, &c->work, work_cb, after_work);
	/* A control request is cancelled by EOF even while it resolves. */
	if (c->ctl)
		uv_read_start(st, on_alloc, on_read);
}

void dl_admin_accept(dl_server_t *srv)
{
	admin_conn_t *c = calloc(1, sizeof(*c));

	if (!c)
		return;
	c->srv = srv;
	dl_frame_reader_init(&c->rd, DL_ADMIN_REQ_MAX);
	uv_pipe_init(srv->loop, &c->pipe, 0);
	c->pipe.data = c;
	if (uv_accept((uv_stream_t *)&srv->admin_listener,
		      (uv_stream_t *)&c->pipe) != 0 ||
	    dl_peer_cred((uv_stream_t *)&c->pipe, &c->uid, &c->pid) != 0) {
		conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, on_alloc, on_read);
}
