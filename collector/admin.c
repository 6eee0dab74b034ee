/* admin.c - the admin socket: one JSON request at a time per connection
 * (proto/admin.h). This file owns the connection (framing, answers,
 * close), decides who asks (auth.c: tokens, roles, host globs) before any
 * work is queued, and dispatches: queries and control resolution to the
 * threadpool (admin_query.c), control calls to the router
 * (admin_control.c), loop-side ops (tokens, notify, alerts, silences:
 * admin_ops.c; subscribe, forget, metrics: here). Who may connect is
 * decided by the socket file's mode; the peer uid is kept for audit.
 * Every error answer carries a "code" (docs/API.md). */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alerts.h"
#include "collector/auth.h"
#include "collector/metrics.h"
#include "collector/notify.h"
#include "collector/pubsub.h"
#include "collector/remote_write.h"
#include "collector/query.h"
#include "collector/serve_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/admin.h"
#include "proto/control.h"
#include "collector/admin_int.h"

#define TAG "admin"

void dl_admin__on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);

void dl_admin__on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);

void dl_admin__on_closed(uv_handle_t *h)
{
	admin_conn_t *c = h->data;

	dl_frame_reader_free(&c->rd);
	dl_metrics_buf_free(c->metrics);
	free(c->labels_out);
	free(c);
}

void dl_admin__conn_close(admin_conn_t *c)
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
		uv_close((uv_handle_t *)&c->pipe, dl_admin__on_closed);
}

json_t *dl_admin__fail(const char *code, const char *fmt, const char *a)
{
	char text[512];

	snprintf(text, sizeof(text), fmt, a);
	return json_pack("{s:b,s:s,s:s}", "ok", 0, "error", text, "code", code);
}

json_t *dl_admin__ok(json_t *data)
{
	return json_pack("{s:b,s:o}", "ok", 1, "data", data);
}

static void on_written(uv_write_t *req, int status)
{
	admin_conn_t *c = req->handle->data;

	free(req->data);
	free(req);
	if (status && !c->closing)
		dl_admin__conn_close(c);
}

static void send_frame(admin_conn_t *c, char *frame, size_t len);

/* Sends resp (consumed) and reads the next request. */
void dl_admin__respond(admin_conn_t *c, json_t *resp)
{
	size_t len = 0;
	char *frame = NULL;

	if (resp)
		frame = dl_admin_frame(resp, DL_ADMIN_RESP_MAX, &len);
	if (!frame) {
		json_t *e = dl_admin__fail(
			"error", "response too large; narrow the query%s", "");

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
		uv_close((uv_handle_t *)&c->pipe, dl_admin__on_closed);
		return;
	}
	if (!frame || !(req = malloc(sizeof(*req)))) {
		free(frame);
		dl_admin__conn_close(c);
		return;
	}
	req->data = frame;
	ub = uv_buf_init(frame, (unsigned)len);
	if (uv_write(req, (uv_stream_t *)&c->pipe, &ub, 1, on_written)) {
		free(frame);
		free(req);
		dl_admin__conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, dl_admin__on_alloc,
		      dl_admin__on_read);
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
		dl_admin__conn_close(c);
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
		dl_admin__conn_close(c);
	}
}

void dl_admin__respond(admin_conn_t *c, json_t *resp);

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
	dl_admin__respond(c, json_pack("{s:b}", "ok", 1));
}

/* An admin query slower than this is logged with where its time went. */
#define SLOW_QUERY_NS 100000000ull

static void work_cb(uv_work_t *w)
{
	admin_conn_t *c = w->data;

	c->ran_ns[0] = dl_clock_mono_ns();
	dl_admin__work_cb(w);
	c->ran_ns[1] = dl_clock_mono_ns();
}

/* Loop thread, the answer ready: the metric, and an INFO line for a
 * slow query saying where its time went (queued for a worker, ran,
 * waited for the loop); at most 10 lines per 10 s. */
static void query_done(admin_conn_t *c)
{
	uint64_t now = dl_clock_mono_ns(), total = now - c->work_ns;
	const char *op = json_string_value(json_object_get(c->req, "op"));

	dl_metrics_query(c->srv->metrics, (double)total / 1e9);
	if (total < SLOW_QUERY_NS)
		return;
	if (!op || strspn(op, "abcdefghijklmnopqrstuvwxyz_") != strlen(op))
		op = "?";
	DL_LOG_RL(DL_LOG_LEVEL_INFO, TAG,
		  "slow query %.32s: %.0f ms (%.0f ms waiting for a worker, "
		  "%.0f ms running, %.0f ms waiting for the loop)",
		  op, (double)total / 1e6,
		  (double)(c->ran_ns[0] - c->work_ns) / 1e6,
		  (double)(c->ran_ns[1] - c->ran_ns[0]) / 1e6,
		  (double)(now - c->ran_ns[1]) / 1e6);
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
		dl_admin__start_call(c);
		return;
	}

	query_done(c);
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
		dl_admin__respond(c, resp);
}

static void sub_close(void *ud)
{
	dl_admin__conn_close(ud);
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
	return dl_admin__ok(
		json_pack("{s:s}", "subscribed",
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

		return me ? dl_admin__ok(me)
			  : dl_admin__fail("error", "out of memory%s", "");
	}
	if (strcmp(op, "forget"))
		return NULL;
	if (!host || !dl_host_name_valid(host))
		return dl_admin__fail("invalid",
				      "forget needs a valid host name%s", "");
	live = dl_session_drop(c->srv, host, "host forgotten by an admin");
	if (c->srv->alerts)
		dl_alerts_forget(c->srv->alerts, host);
	if (!c->srv->store || dl_store_forget(c->srv->store, host) != 0)
		return dl_admin__fail("error",
				      "cannot purge %s: collector is stopping",
				      host);
	DL_LOG_INFO(TAG, "uid %d purged the history of %s", (int)c->uid, host);
	return dl_admin__ok(
		json_pack("{s:s,s:b}", "host", host, "was_online", live));
}

/* Who asks, and may they? NULL, or the refusal. Control requests are
 * judged by dl_admin__control_refused (they are audited). */
static json_t *authorize(admin_conn_t *c, const char *op)
{
	const char *host = json_string_value(json_object_get(c->req, "host"));
	int64_t now = (int64_t)(dl_clock_wall_ns() / 1000000000ull);
	char err[256];

	if (dl_auth_identify(c->srv->tokens, c->srv->store, c->srv->conf,
			     c->uid, c->req, op, now, &c->auth, err,
			     sizeof(err)))
		return dl_admin__fail("unauthorized", "%s", err);
	if (op && !strcmp(op, "control"))
		return NULL;
	if (dl_auth_allow(&c->auth, op, NULL, err, sizeof(err)))
		return dl_admin__fail("forbidden", "%s", err);
	if (host && !dl_auth_host_ok(&c->auth, host))
		return dl_admin__fail("not_found", "no host named %.64s", host);
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
	if (!c->metrics || dl_notify_metrics(srv->notify, c->metrics) ||
	    dl_rw_metrics(srv->rw, c->metrics)) {
		dl_metrics_buf_free(c->metrics);
		c->metrics = NULL;
		return json_pack("{s:b,s:s,s:s}", "ok", 0, "error",
				 "out of memory", "code", "error");
	}
	return NULL;
}

void dl_admin__on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char chunk[16384];

	*buf = uv_buf_init(chunk, sizeof(chunk));
}

void dl_admin__on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
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
		dl_admin__conn_close(c);
		return;
	}
	if (dl_frame_reader_feed(&c->rd, buf->base, (size_t)nread) != 0) {
		dl_admin__conn_close(c);
		return;
	}
	rc = dl_frame_reader_next(&c->rd, &p, &n);
	if (rc == 0)
		return;
	if (rc < 0) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "uid %d sent an invalid admin frame: %s", (int)c->uid,
			  dl_strerror(rc));
		dl_admin__conn_close(c);
		return;
	}
	c->req = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->req || !json_is_object(c->req)) {
		json_decref(c->req);
		c->req = NULL;
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "uid %d sent a request that is not a JSON object",
			  (int)c->uid);
		dl_admin__conn_close(c);
		return;
	}
	/* One request in flight per connection. */
	uv_read_stop(st);
	{
		const char *op =
			json_string_value(json_object_get(c->req, "op"));
		json_t *resp = authorize(c, op);
		bool ctl = op && !strcmp(op, "control");

		if (!resp && ctl &&
		    !(resp = dl_admin__parse_control(c, c->req)) &&
		    dl_admin__control_refused(c)) {
			json_decref(c->req);
			c->req = NULL;
			return;
		}
		if (!resp && op && !ctl && !strncmp(op, "token_", 6) &&
		    !(resp = dl_admin__run_token(c, op, c->req))) {
			json_decref(c->req); /* answered by the writer */
			c->req = NULL;
			return;
		}
		if (!resp && op && !strncmp(op, "notify_", 7) &&
		    !(resp = dl_admin__run_notify(c, op, c->req))) {
			json_decref(c->req); /* answered after the send */
			c->req = NULL;
			return;
		}
		if (!resp && dl_admin__alerts_op(op) &&
		    !(resp = dl_admin__run_alerts(c, op, c->req))) {
			json_decref(c->req); /* answered by the writer */
			c->req = NULL;
			return;
		}
		if (!resp && op && !strcmp(op, "host_labels") &&
		    !(resp = dl_admin__run_labels(c, c->req))) {
			json_decref(c->req); /* answered by the writer */
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
			dl_admin__respond(c, resp);
			return;
		}
	}
	c->busy = true;
	c->work.data = c;
	c->work_ns = dl_clock_mono_ns();
	uv_queue_work(c->srv->loop, &c->work, work_cb, after_work);
	/* A control request is cancelled by EOF even while it resolves. */
	if (c->ctl)
		uv_read_start(st, dl_admin__on_alloc, dl_admin__on_read);
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
		dl_admin__conn_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, dl_admin__on_alloc,
		      dl_admin__on_read);
}
