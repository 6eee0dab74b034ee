/* admin.c - the admin socket: one JSON request at a time per connection
 * (proto/admin.h), answered from read-only connections on the libuv
 * threadpool so a slow query never stalls agent sessions. Who may connect
 * is decided by the socket file's mode; the peer uid is kept for audit. */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/metrics.h"
#include "collector/pubsub.h"
#include "collector/query.h"
#include "collector/serve_int.h"
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
	uint32_t call_id;  /* in flight, 0 = none */
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

static json_t *fail(const char *fmt, const char *a)
{
	char text[512];

	snprintf(text, sizeof(text), fmt, a);
	return json_pack("{s:b,s:s}", "ok", 0, "error", text);
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

/* "history" {host, container, since_ns, until_ns, tier?, points?}: tier
 * defaults to the one dl_query_tier picks for the span. 0, or -1 with a
 * sentence in err. */
static int history_args(const char *host, json_t *req, hist_args_t *a,
			char *err, size_t errlen)
{
	json_t *jt = json_object_get(req, "tier");

	a->ctr = json_string_value(json_object_get(req, "container"));
	if (a->ctr && (!a->ctr[0] || strlen(a->ctr) > DL_QUERY_CTR_MAX)) {
		snprintf(err, errlen, "invalid container name or id");
		return -1;
	}
	a->since = json_integer_value(json_object_get(req, "since_ns"));
	a->until = json_integer_value(json_object_get(req, "until_ns"));
	if (!host || !a->ctr) {
		snprintf(err, errlen, "history wants HOST/CONTAINER");
		return -1;
	}
	if (a->since < 0 || a->until <= a->since) {
		snprintf(err, errlen,
			 "history: since_ns/until_ns out of range");
		return -1;
	}
	a->tier = jt ? json_integer_value(jt)
		     : dl_query_tier((a->until - a->since) / 1000000000);
	/* dl_query_history_text words a bad tier; just no int truncation
	 * that could turn one into a good one */
	if (a->tier < INT_MIN || a->tier > INT_MAX)
		a->tier = -1;
	a->points = json_integer_value(json_object_get(req, "points"));
	if (a->points < 0 || a->points > DL_QUERY_POINTS_MAX) {
		snprintf(err, errlen, "history: points out of range");
		return -1;
	}
	return 0;
}

static json_t *run_query(const char *db, json_t *req)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *host = json_string_value(json_object_get(req, "host"));
	char err[512] = "";
	json_t *data = NULL;

	if (!op)
		return fail("request has no op%s", "");
	if (host && !dl_host_name_valid(host))
		return fail("invalid host name \"%s\"", host);
	if (!tq && !(tq = dl_query_open(db, err, sizeof(err))))
		return fail("%s", err);
	if (!strcmp(op, "hosts")) {
		data = dl_query_hosts(tq, err, sizeof(err));
	} else if (!strcmp(op, "ps")) {
		bool all = json_is_true(json_object_get(req, "all"));

		data = dl_query_ps(tq, host, all, err, sizeof(err));
	} else if (!strcmp(op, "events")) {
		json_int_t since =
			json_integer_value(json_object_get(req, "since_ns"));
		json_int_t after =
			json_integer_value(json_object_get(req, "after"));
		json_int_t limit =
			json_integer_value(json_object_get(req, "limit"));

		if (since < 0 || after < 0 || limit < 1 || limit > 100000)
			return fail("events: since, after or limit out of "
				    "range%s",
				    "");
		data = dl_query_events(tq, host, (uint64_t)since, after,
				       (int)limit, err, sizeof(err));
	} else if (!strcmp(op, "audit")) {
		json_int_t since =
			json_integer_value(json_object_get(req, "since_ns"));
		json_int_t limit =
			json_integer_value(json_object_get(req, "limit"));

		if (since < 0 || limit < 1 || limit > 100000)
			return fail("audit: since_ns or limit out of range%s",
				    "");
		data = dl_query_audit(tq, host, (uint64_t)since, (int)limit,
				      err, sizeof(err));
	} else if (!strcmp(op, "stats")) {
		data = run_stats(host, req, err, sizeof(err));
	} else if (!strcmp(op, "ping")) {
		data = json_pack("{s:s}", "version", DL_VERSION);
	} else {
		return fail("unknown request \"%s\"", op);
	}
	return data ? ok(data) : fail("%s", err[0] ? err : "query failed");
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
		c->resp = fail("invalid host name \"%s\"", host);
		return NULL;
	}
	if (!tq &&
	    !(tq = dl_query_open(c->srv->conf->database, err, sizeof(err)))) {
		c->resp = fail("%s", err);
		return NULL;
	}
	if (history_args(host, c->req, &a, err, sizeof(err))) {
		c->resp = fail("%s", err);
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
	c->resp = fail("%s", err);
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

	/* NSS may ask LDAP: never on the loop thread. */
	if (getpwuid_r(c->uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		snprintf(c->ctl_user, sizeof(c->ctl_user), "%s", pw.pw_name);

	if (!tq &&
	    !(tq = dl_query_open(c->srv->conf->database, err, sizeof(err)))) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "%s", err);
		return;
	}
	if (!dl_query_host(tq, r->host, &online, &r->last_seen)) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "no host named %s",
			 r->host);
		return;
	}
	if (!r->op->container)
		return;
	/* Only current containers count: a removed one's history must not
	 * turn "web" into an id Docker has never heard of. */
	memset(&ref, 0, sizeof(ref));
	rc = dl_query_resolve(tq, r->host, r->target, &ref, err, sizeof(err));
	if (rc == DL_EINVAL && ref.live)
		snprintf(c->ctl_error, sizeof(c->ctl_error), "%s", err);
	else if (rc == 0 && ref.live && dl_control_name_ok(ref.id))
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
	c->resp = run_query(c->srv->conf->database, c->req);
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
		json_t *e = fail("response too large; narrow the query%s", "");

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
		c->call.status = "error";
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
	if (!host || !dl_host_name_valid(host))
		return fail("control: invalid host name \"%.64s\"",
			    host ? host : "");
	if (!(r->op = dl_control_op(action)))
		return fail("unknown operation \"%.32s\"",
			    action ? action : "");
	if (!json_is_object(args))
		return fail("control: args must be an object%s", "");
	if (jt && (!json_is_integer(jt) || json_integer_value(jt) < 0 ||
		   json_integer_value(jt) > 7 * 86400 * 1000LL))
		return fail("control: timeout_ms out of range%s", "");
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
	r->user = c->ctl_user;
	dl_control_validate(r->op, args, c->ctl_error, sizeof(c->ctl_error));
	c->ctl = true;
	return NULL;
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
		/* Token scope hook: the auth code sets the connection's
		 * host glob here (NULL = every host). */
		.host_glob = NULL,
		.who = who,
		.close = sub_close,
		.ud = c,
	};

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
	if (strcmp(op, "forget"))
		return NULL;
	if (!host || !dl_host_name_valid(host))
		return fail("forget needs a valid host name%s", "");
	live = dl_session_drop(c->srv, host, "host forgotten by an admin");
	if (!c->srv->store || dl_store_forget(c->srv->store, host) != 0)
		return fail("cannot purge %s: collector is stopping", host);
	DL_LOG_INFO(TAG, "uid %d purged the history of %s", (int)c->uid, host);
	return ok(json_pack("{s:s,s:b}", "host", host, "was_online", live));
}

/* serve's own counters are read here, on the loop thread; the
 * threadpool appends the store's part. NULL when it may go on. */
static json_t *start_metrics(admin_conn_t *c)
{
	dl_server_t *srv = c->srv;

	c->metrics =
		dl_metrics_serve_text(srv->metrics, dl_session_live_count(srv),
				      dl_pubsub_count(srv->pubsub), srv->store);
	if (!c->metrics)
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "error",
				 "out of memory", "code", "error");
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
		json_t *resp = NULL;

		if (op && !strcmp(op, "control"))
			resp = parse_control(c, c->req);
		else if (op && !strcmp(op, "metrics"))
			resp = start_metrics(c);
		else if (op)
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
