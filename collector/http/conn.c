/* conn.c - one HTTP request or WebSocket (conn.h).
 *
 *   client --HTTP/WS--> lws --route.c--> admin request + token + client
 *          <--------- respond.c <------- upstream.c <-- serve
 *
 * Every byte for the client waits in c->out; past client_buffer the
 * admin connection stops being read (HTTP) or the client is dropped
 * (WebSocket, close 1008), so a slow reader costs a bounded amount.
 * Paths outside /api/ and /metrics are the web page (web.h), answered
 * here from the compiled-in table without asking serve. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "collector/http/conn.h"
#include "collector/http/respond.h"
#include "collector/http/route.h"
#include "collector/http/upstream.h"
#include "collector/http/web.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/config.h"
#include "common/log.h"
#include "proto/admin.h"
#include "proto/frame.h"

#define TAG	    "http"
#define CHUNK	    16384
#define TOKEN_MAX   256
#define WS_MSG_MAX  (1u << 20)
#define WS_TOO_SLOW 1008
#define COOKIE_MAX  (TOKEN_MAX + 80)

typedef struct {
	struct lws *wsi;
	dl_gw_t *gw;
	dl_upstream_t *up;
	dl_route_t route;
	dl_buf_t out;  /* bytes (HTTP) or [len][msg] frames (WS) to send */
	dl_buf_t body; /* POST body, up to body_max */
	bool used;     /* set up: cleanup has work to do */
	bool counted;  /* in gw->active */
	bool ws;
	bool too_big; /* the body passed body_max */
	bool stream;  /* chunked body of unknown length */
	bool hdr_sent;
	bool done;	  /* c->out holds the whole rest of the answer */
	bool finished;	  /* the answer went out */
	bool from_cookie; /* the token came from the dl_token cookie */
	const dl_web_asset_t *asset; /* a page file is the answer */
	char cookie[COOKIE_MAX];     /* Set-Cookie to send, "" = none */
	int kill;   /* close the connection (WS: with this code) */
	int status; /* HTTP status, 0 = not known yet */
	const char *ctype;
	char method[8];
	char path[128];
	char client[64];
	char token[TOKEN_MAX + 1];
	char close_reason[124];
	uint64_t start_ns;
} conn_t;

size_t dl_conn_size(void)
{
	return sizeof(conn_t);
}

static dl_gw_t *gw_of(struct lws *wsi)
{
	return lws_context_user(lws_get_context(wsi));
}

static void access_log(conn_t *c)
{
	DL_LOG_INFO(TAG, "%s %s %d %lldms %s%s", c->method, c->path,
		    c->ws ? 101 : c->status,
		    (long long)((dl_clock_mono_ns() - c->start_ns) / 1000000),
		    c->client, c->kill && !c->finished ? " (closed)" : "");
}

static void cleanup(conn_t *c)
{
	if (!c->used)
		return;
	dl_upstream_close(c->up);
	c->up = NULL;
	if (!c->finished || c->ws)
		access_log(c);
	if (c->counted)
		c->gw->active--;
	dl_route_clear(&c->route);
	dl_buf_free(&c->out);
	dl_buf_free(&c->body);
	memset(c, 0, sizeof(*c));
}

static void setup(conn_t *c, struct lws *wsi)
{
	cleanup(c);
	c->used = true;
	c->wsi = wsi;
	c->gw = gw_of(wsi);
	c->start_ns = dl_clock_mono_ns();
	/* out holds one whole plain answer (serve caps it) or, for a
	 * stream, client_buffer plus the frame that crossed it. */
	dl_buf_init(&c->out, (size_t)c->gw->conf->http.client_buffer +
				     DL_ADMIN_RESP_MAX + CHUNK);
	dl_buf_init(&c->body, (size_t)c->gw->conf->http.body_max);
	lws_get_peer_simple(wsi, c->client, sizeof(c->client));
}

/* ---- answering ---- */

static void answer_error(conn_t *c, int status, const char *code,
			 const char *error)
{
	dl_upstream_close(c->up);
	c->up = NULL;
	dl_buf_reset(&c->out);
	c->status = status;
	c->stream = false;
	c->ctype = "application/json";
	if (dl_respond_error_body(&c->out, code, error))
		c->kill = 1;
	c->done = true;
	lws_callback_on_writable(c->wsi);
}

static void finish_up(conn_t *c)
{
	c->done = true;
	dl_upstream_close(c->up);
	c->up = NULL;
}

static void backpressure(conn_t *c)
{
	if (dl_buf_used(&c->out) > (size_t)c->gw->conf->http.client_buffer)
		dl_upstream_pause(c->up, true);
}

/* One JSON answer: its data (or data[0]) with 200, or the error. */
static void plain_answer(conn_t *c, json_t *resp)
{
	json_t *data = json_object_get(resp, "data");
	const char *code, *error;

	finish_up(c);
	if (!json_is_true(json_object_get(resp, "ok"))) {
		dl_respond_error_of(resp, &code, &error);
		answer_error(c, dl_respond_status(code, c->route.control), code,
			     error);
		return;
	}
	if (c->route.kind == DL_ROUTE_SINGLE) {
		if (json_array_size(data) != 1) {
			answer_error(c, 404, "not_found", "no such host");
			return;
		}
		data = json_array_get(data, 0);
	}
	c->status = 200;
	c->ctype = "application/json";
	if (c->route.session == DL_ROUTE_SESSION_SIGNIN &&
	    dl_web_cookie(c->cookie, sizeof(c->cookie), c->token,
			  c->gw->conf->http.tls == DL_HTTP_TLS_ON)) {
		answer_error(c, 500, "error", "cookie too large");
		return;
	}
	if (dl_respond_json(&c->out, data ? data : json_null()))
		answer_error(c, 500, "error", "answer too large");
}

static void stream_start(conn_t *c, const char *ctype)
{
	if (c->status)
		return;
	c->status = 200;
	c->stream = true;
	c->ctype = ctype;
}

/* logs/exec and /metrics: binary frames, then the final JSON. */
static void stream_frame(conn_t *c, const uint8_t *p, size_t n, json_t *resp)
{
	bool nd = c->route.kind == DL_ROUTE_NDJSON;
	const char *code, *error;
	int rc = 0;

	if (resp) {
		finish_up(c);
		if (!c->status && !json_is_true(json_object_get(resp, "ok"))) {
			dl_respond_error_of(resp, &code, &error);
			answer_error(c,
				     dl_respond_status(code, c->route.control),
				     code, error);
			return;
		}
		stream_start(c, nd ? "application/x-ndjson"
				   : "text/plain; version=0.0.4");
		if (nd)
			rc = dl_respond_final_line(&c->out, resp);
	} else {
		stream_start(c, nd ? "application/x-ndjson"
				   : "text/plain; version=0.0.4");
		rc = nd ? dl_respond_stream_line(&c->out, p, n)
			: dl_buf_append(&c->out, p + 1, n - 1);
	}
	if (rc) {
		DL_LOG_WARN(TAG, "%s %s: %s; closing", c->method, c->path,
			    dl_strerror(rc));
		c->kill = 1;
	}
	backpressure(c);
}

/* ---- WebSocket ---- */

static void ws_close(conn_t *c, int code, const char *reason)
{
	dl_upstream_close(c->up);
	c->up = NULL;
	c->kill = code;
	snprintf(c->close_reason, sizeof(c->close_reason), "%s", reason);
	lws_callback_on_writable(c->wsi);
}

static void ws_frame(conn_t *c, const uint8_t *p, size_t n, json_t *resp)
{
	uint8_t hdr[4];

	/* pushed frames ({"event"}, {"stats"}, {"host_stats"}) carry no
	 * "ok"; only an answer with "ok": false is a refusal */
	if (resp && json_is_false(json_object_get(resp, "ok"))) {
		const char *code, *error;

		dl_respond_error_of(resp, &code, &error);
		dl_upstream_close(c->up);
		c->up = NULL;
		/* 4000 + the HTTP status: the client can tell 401 from 503 */
		ws_close(c, 4000 + dl_respond_status(code, false), code);
		DL_LOG_INFO(TAG, "%s %s: %s (%s)", c->method, c->path, code,
			    c->client);
		return;
	}
	if (n > WS_MSG_MAX || dl_buf_used(&c->out) + n >
				      (size_t)c->gw->conf->http.client_buffer) {
		DL_LOG_WARN(TAG,
			    "WebSocket %s from %s: client too slow (%zu bytes "
			    "queued), closing it",
			    c->path, c->client, dl_buf_used(&c->out));
		ws_close(c, WS_TOO_SLOW, "client too slow");
		return;
	}
	dl_frame_put_header(hdr, (uint32_t)n);
	if (dl_buf_append(&c->out, hdr, 4) || dl_buf_append(&c->out, p, n)) {
		ws_close(c, WS_TOO_SLOW, "client too slow");
		return;
	}
	lws_callback_on_writable(c->wsi);
}

static int ws_write(struct lws *wsi, conn_t *c)
{
	uint32_t n;
	uint8_t *buf;
	int rc;

	if (c->kill) {
		lws_close_reason(wsi, (enum lws_close_status)c->kill,
				 (unsigned char *)c->close_reason,
				 strlen(c->close_reason));
		return -1;
	}
	if (dl_buf_used(&c->out) < 4)
		return 0;
	n = dl_frame_get_len(dl_buf_head(&c->out));
	buf = malloc(LWS_PRE + n);
	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, dl_buf_head(&c->out) + 4, n);
	dl_buf_consume(&c->out, 4 + (size_t)n);
	rc = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
	free(buf);
	if (rc < (int)n)
		return -1;
	if (dl_buf_used(&c->out))
		lws_callback_on_writable(wsi);
	return 0;
}

/* ---- upstream callbacks ---- */

static void up_frame(void *ud, const uint8_t *p, size_t n)
{
	conn_t *c = ud;
	json_t *resp = NULL;

	if (p[0] == '{' && dl_admin_parse((const char *)p, n, &resp)) {
		answer_error(c, 502, "error",
			     "the collector sent an invalid answer");
		return;
	}
	if (c->ws)
		ws_frame(c, p, n, resp);
	else if (c->route.kind == DL_ROUTE_PLAIN ||
		 c->route.kind == DL_ROUTE_SINGLE)
		resp ? plain_answer(c, resp)
		     : answer_error(c, 502, "error",
				    "the collector sent output for a plain "
				    "request");
	else
		stream_frame(c, p, n, resp);
	json_decref(resp);
	lws_callback_on_writable(c->wsi);
}

static void up_ended(void *ud, int err)
{
	conn_t *c = ud;
	json_t *lost;

	c->up = NULL;
	if (c->ws) {
		ws_close(c, 1011, "collector went away");
		return;
	}
	if (c->done)
		return;
	if (!c->status) {
		answer_error(c, 502, "error",
			     err == DL_ENOENT || err == DL_ECONNREFUSED
				     ? "the collector is not running (no "
				       "admin socket)"
				     : "the collector closed the connection "
				       "without an answer");
		return;
	}
	lost = json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "status", "unknown",
			 "code", "unknown", "error",
			 "lost the collector; the outcome is unknown");
	if (c->route.kind == DL_ROUTE_NDJSON && lost)
		dl_respond_final_line(&c->out, lost);
	json_decref(lost);
	c->done = true;
	lws_callback_on_writable(c->wsi);
}

static const dl_upstream_cb_t up_cb = {up_frame, up_ended};

static bool token_ok(const char *t);

/* Adds token and client to the routed request and connects. */
static void start_upstream(conn_t *c)
{
	const dl_http_conf_t *h = &c->gw->conf->http;
	json_t *req = c->route.req;

	if (c->route.session == DL_ROUTE_SESSION_SIGNIN) {
		snprintf(c->token, sizeof(c->token), "%s",
			 json_string_value(json_object_get(req, "token")));
		if (!token_ok(c->token)) {
			answer_error(c, 401, "unauthorized",
				     "invalid or revoked token");
			return;
		}
	}
	if (c->token[0] && (!c->route.metrics || h->metrics_auth))
		json_object_set_new(req, "token", json_string(c->token));
	json_object_set_new(req, "client", json_string(c->client));
	c->up = dl_upstream_open(c->gw->loop, c->gw->conf->admin_socket, req,
				 &up_cb, c);
	/* the request holds the secret: gone as soon as it is framed */
	json_object_del(req, "token");
	if (!c->up)
		answer_error(c, 500, "error", "out of memory");
}

/* ---- request head ---- */

static bool token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= 0x20 || t[i] >= 0x7f || t[i] == '"' ||
		    t[i] == '\\' || t[i] == ';' || t[i] == ',')
			return false;
	return true;
}

/* Authorization: Bearer <secret>, else cookie dl_token. Never a query
 * parameter: URLs end up in logs and browser history. */
static void read_token(struct lws *wsi, conn_t *c)
{
	char a[TOKEN_MAX + 16];
	size_t max = sizeof(c->token);
	int n;

	c->token[0] = '\0';
	c->from_cookie = false;
	n = lws_hdr_copy(wsi, a, sizeof(a), WSI_TOKEN_HTTP_AUTHORIZATION);
	if (n > 7 && !strncasecmp(a, "Bearer ", 7)) {
		snprintf(c->token, sizeof(c->token), "%s", a + 7);
	} else if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE) > 0 &&
		   lws_http_cookie_get(wsi, "dl_token", c->token, &max) == 0) {
		c->token[max < sizeof(c->token) ? max : 0] = '\0';
		c->from_cookie = true;
	}
	if (!token_ok(c->token))
		c->token[0] = '\0';
}

static dl_route_method_t method_of(struct lws *wsi, conn_t *c)
{
	static const struct {
		enum lws_token_indexes t;
		const char *name;
		dl_route_method_t m;
	} ms[] = {
		{WSI_TOKEN_GET_URI, "GET", DL_ROUTE_GET},
		{WSI_TOKEN_POST_URI, "POST", DL_ROUTE_POST},
		{WSI_TOKEN_DELETE_URI, "DELETE", DL_ROUTE_DELETE},
		{WSI_TOKEN_PUT_URI, "PUT", DL_ROUTE_OTHER},
		{WSI_TOKEN_PATCH_URI, "PATCH", DL_ROUTE_OTHER},
		{WSI_TOKEN_OPTIONS_URI, "OPTIONS", DL_ROUTE_OTHER},
		{WSI_TOKEN_HEAD_URI, "HEAD", DL_ROUTE_OTHER},
	};

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (lws_hdr_total_length(wsi, ms[i].t) > 0) {
			snprintf(c->method, sizeof(c->method), "%s",
				 ms[i].name);
			return ms[i].m;
		}
	snprintf(c->method, sizeof(c->method), "?");
	return DL_ROUTE_OTHER;
}

/* Routes the request; body NULL = head only. 0 = go on. */
static int route(struct lws *wsi, conn_t *c, const char *path,
		 dl_route_method_t m, const char *body, size_t blen)
{
	char qbuf[DL_ROUTE_QUERY_MAX][DL_ROUTE_VALUE_MAX + 40];
	dl_route_kv_t kv[DL_ROUTE_QUERY_MAX + 1];
	size_t nq = 0;
	int i, n;

	for (i = 0; i <= DL_ROUTE_QUERY_MAX; i++) {
		char tmp[DL_ROUTE_VALUE_MAX + 40], *eq;

		n = lws_hdr_copy_fragment(wsi, tmp, sizeof(tmp),
					  WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n < 0 && i == 0)
			break;
		if (n < 0) {
			/* lws says -1 both for "no more" and "too long" */
			if (lws_hdr_fragment_length(
				    wsi, WSI_TOKEN_HTTP_URI_ARGS, i) <= 0)
				break;
			answer_error(c, 400, "invalid",
				     "a query parameter is too long");
			return -1;
		}
		if (i == DL_ROUTE_QUERY_MAX) {
			answer_error(c, 400, "invalid",
				     "too many query parameters");
			return -1;
		}
		memcpy(qbuf[nq], tmp, (size_t)n + 1);
		eq = strchr(qbuf[nq], '=');
		if (eq)
			*eq++ = '\0';
		kv[nq].key = qbuf[nq];
		kv[nq].val = eq ? eq : "";
		nq++;
	}
	dl_route_clear(&c->route);
	if (dl_route_request(m, path, kv, nq, body, blen, c->ws,
			     (int64_t)(dl_clock_wall_ns() / 1000000000u),
			     &c->route)) {
		answer_error(c, c->route.status, c->route.code, c->route.error);
		return -1;
	}
	return 0;
}

/* Everything a request needs before routing: limits and the token. */
static int admit(struct lws *wsi, conn_t *c)
{
	if (c->gw->active >= (size_t)c->gw->conf->http.max_connections) {
		answer_error(c, 503, "busy", "too many connections; try again");
		return -1;
	}
	c->gw->active++;
	c->counted = true;
	/* sign-in: the token to check is the body's */
	if (!c->token[0] && c->route.session != DL_ROUTE_SESSION_SIGNIN &&
	    !(c->route.metrics && !c->gw->conf->http.metrics_auth)) {
		answer_error(c, 401, "unauthorized",
			     "this API wants a token: Authorization: Bearer "
			     "<secret> (or the cookie dl_token)");
		return -1;
	}
	return 0;
}

/* A browser sends the cookie with every request to us, whichever page
 * made it: a request that changes something (and a WebSocket) on the
 * strength of the cookie must come from our own page, as its Origin
 * says. Sign-in and sign-out too (no signing a victim in as someone
 * else). A Bearer header cannot be set by another site: exempt. */
static int origin_refused(struct lws *wsi, conn_t *c, dl_route_method_t m)
{
	char origin[256] = "", host[256] = "";
	bool change = m == DL_ROUTE_POST || m == DL_ROUTE_DELETE;

	if (!(c->ws || change) ||
	    !(c->from_cookie || c->route.session != DL_ROUTE_SESSION_NONE))
		return 0;
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0)
		origin[0] = '\0';
	if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0)
		host[0] = '\0';
	if (dl_web_origin_ok(origin, host,
			     c->gw->conf->http.tls == DL_HTTP_TLS_ON))
		return 0;
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
		  "%s %s from %s: Origin \"%.64s\" is not this gateway "
		  "(Host %.64s): refused",
		  c->method, c->path, c->client, origin, host);
	answer_error(c, 403, "forbidden",
		     "cross-origin request refused: with the session cookie, "
		     "a request that changes something must come from this "
		     "gateway's own page (Origin)");
	return -1;
}

/* GET of a page file: the table, no serve involved. */
static void serve_page(conn_t *c, dl_route_method_t m)
{
	const dl_web_asset_t *a = dl_web_find(c->path);

	if (m != DL_ROUTE_GET) {
		answer_error(c, 405, "invalid",
			     "method not allowed here; use GET");
		return;
	}
	if (!a) {
		answer_error(c, 404, "not_found",
			     "no such page (the API is under /api/v1)");
		return;
	}
	if (dl_buf_append(&c->out, a->data, a->len)) {
		answer_error(c, 500, "error", "page too large");
		return;
	}
	c->asset = a;
	c->status = 200;
	c->ctype = a->ctype;
	c->done = true;
	lws_callback_on_writable(c->wsi);
}

static bool is_api(const char *path)
{
	return !strncmp(path, "/api/", 5) || !strcmp(path, "/metrics");
}

static void http_start(struct lws *wsi, conn_t *c, const char *uri)
{
	dl_route_method_t m;
	char cl[32];
	int64_t len = -1;

	setup(c, wsi);
	snprintf(c->path, sizeof(c->path), "%s", uri ? uri : "");
	m = method_of(wsi, c);
	if (!is_api(c->path)) {
		serve_page(c, m);
		return;
	}
	read_token(wsi, c);
	if (route(wsi, c, c->path, m, NULL, 0) || origin_refused(wsi, c, m))
		return;
	if (c->route.session == DL_ROUTE_SESSION_SIGNOUT) {
		/* nothing to ask serve: forget the cookie */
		dl_web_cookie(c->cookie, sizeof(c->cookie), NULL,
			      c->gw->conf->http.tls == DL_HTTP_TLS_ON);
		c->status = 200;
		c->ctype = "application/json";
		dl_buf_append(&c->out, "{}\n", 3);
		c->done = true;
		lws_callback_on_writable(wsi);
		return;
	}
	if (admit(wsi, c))
		return;
	if (!c->route.body) {
		start_upstream(c);
		return;
	}
	if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) >
		    0 &&
	    dl_parse_int(cl, 0, INT64_MAX, &len)) {
		answer_error(c, 400, "invalid", "bad Content-Length");
		return;
	}
	if (len > c->gw->conf->http.body_max) {
		answer_error(c, 413, "invalid", "request body too large");
		return;
	}
	if (len <= 0 &&
	    lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0) {
		/* no body at all: {} */
		if (route(wsi, c, c->path, m, "", 0) == 0)
			start_upstream(c);
	}
	/* else: HTTP_BODY ... HTTP_BODY_COMPLETION */
}

static void http_body_done(struct lws *wsi, conn_t *c)
{
	if (!c->used || c->status || c->up)
		return;
	if (c->too_big) {
		answer_error(c, 413, "invalid", "request body too large");
		return;
	}
	if (route(wsi, c, c->path, DL_ROUTE_POST,
		  c->body.data ? (const char *)dl_buf_head(&c->body) : "",
		  dl_buf_used(&c->body)) == 0)
		start_upstream(c);
}

/* ---- writing HTTP ---- */

/* Security headers (every answer), Set-Cookie (sign-in/out). */
static int extra_headers(struct lws *wsi, conn_t *c, uint8_t **p, uint8_t *end)
{
	for (size_t i = 0; i < dl_web_nsecurity_headers; i++) {
		const dl_web_header_t *h = &dl_web_security_headers[i];

		if (lws_add_http_header_by_name(wsi,
						(const unsigned char *)h->name,
						(const unsigned char *)h->value,
						(int)strlen(h->value), p, end))
			return -1;
	}
	if (c->gw->conf->http.tls == DL_HTTP_TLS_ON &&
	    lws_add_http_header_by_name(
		    wsi, (const unsigned char *)"strict-transport-security:",
		    (const unsigned char *)DL_WEB_HSTS,
		    (int)strlen(DL_WEB_HSTS), p, end))
		return -1;
	if (c->cookie[0] &&
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_SET_COOKIE,
					 (const unsigned char *)c->cookie,
					 (int)strlen(c->cookie), p, end))
		return -1;
	return 0;
}

static int http_head(struct lws *wsi, conn_t *c, uint8_t *start, uint8_t *end)
{
	const char *cache =
		c->asset ? dl_web_cache_control(c->asset) : "no-store";
	uint8_t *p = start;

	if (lws_add_http_common_headers(
		    wsi, (unsigned)c->status, c->ctype,
		    c->stream ? LWS_ILLEGAL_HTTP_CONTENT_LEN
			      : (lws_filepos_t)dl_buf_used(&c->out),
		    &p, end) ||
	    (c->stream &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING,
					  (const unsigned char *)"chunked", 7,
					  &p, end)) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
					 (const unsigned char *)cache,
					 (int)strlen(cache), &p, end) ||
	    extra_headers(wsi, c, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	c->hdr_sent = true;
	/* a log -f or a long control call may run as long as it runs */
	if (c->stream)
		lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
	lws_callback_on_writable(wsi);
	return 0;
}

static int http_write(struct lws *wsi, conn_t *c)
{
	static uint8_t buf[LWS_PRE + CHUNK + 32];
	uint8_t *start = buf + LWS_PRE, *p = start;
	size_t used, n;
	bool last;

	if (c->kill || !c->used)
		return -1;
	if (!c->status)
		return 0;
	if (!c->hdr_sent)
		return http_head(wsi, c, start, buf + sizeof(buf) - 1);
	used = dl_buf_used(&c->out);
	n = used < CHUNK ? used : CHUNK;
	if (n == 0 && !c->done)
		return 0;
	last = c->done && n == used;
	if (c->stream && n)
		p += snprintf((char *)p, 16, "%zx\r\n", n);
	if (n)
		memcpy(p, dl_buf_head(&c->out), n);
	p += n;
	if (c->stream && n) {
		memcpy(p, "\r\n", 2);
		p += 2;
	}
	if (c->stream && last) {
		memcpy(p, "0\r\n\r\n", 5);
		p += 5;
	}
	if (lws_write(wsi, start, (size_t)(p - start),
		      last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) <
	    (int)(p - start))
		return -1;
	dl_buf_consume(&c->out, n);
	if (c->up &&
	    dl_buf_used(&c->out) <= (size_t)c->gw->conf->http.client_buffer / 2)
		dl_upstream_pause(c->up, false);
	if (!last) {
		if (dl_buf_used(&c->out) || c->done)
			lws_callback_on_writable(wsi);
		return 0;
	}
	c->finished = true;
	access_log(c);
	cleanup(c);
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- WebSocket handshake ---- */

static int ws_filter(struct lws *wsi, conn_t *c)
{
	char uri[DL_ROUTE_PATH_MAX + 1];

	setup(c, wsi);
	c->ws = true;
	snprintf(c->method, sizeof(c->method), "WS");
	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return -1;
	snprintf(c->path, sizeof(c->path), "%s", uri);
	read_token(wsi, c);
	if (route(wsi, c, uri, DL_ROUTE_GET, NULL, 0) ||
	    origin_refused(wsi, c, DL_ROUTE_GET) || admit(wsi, c)) {
		/* lws answers a refused upgrade by closing; say why here */
		DL_LOG_INFO(TAG, "WS %s refused: %d %s (%s)", c->path,
			    c->status, c->route.code ? c->route.code : "",
			    c->client);
		cleanup(c);
		return -1;
	}
	return 0;
}

/* ---- TCP connections ---- */

/* A connection past max_connections is answered 503 and closed at once,
 * before it holds a header table: otherwise lws would stop accepting at
 * its fd limit and every later client, a normal request included, would
 * hang in the listen backlog. Idle sockets count too, not just requests:
 * they are what a flood is made of. */
#define BUSY_BODY                                                              \
	"{\"error\":\"too many connections; try again\",\"code\":\"busy\"}"
_Static_assert(sizeof(BUSY_BODY) - 1 == 57, "Content-Length below");
static const char busy_answer[] = "HTTP/1.1 503 Service Unavailable\r\n"
				  "Content-Type: application/json\r\n"
				  "Content-Length: 57\r\n"
				  "Connection: close\r\n\r\n" BUSY_BODY;

static int socket_open(struct lws *wsi)
{
	dl_gw_t *gw = gw_of(wsi);
	char peer[64];

	gw->sockets++;
	/* marks the wsi as counted, for socket_closed */
	lws_set_opaque_user_data(wsi, gw);
	if (gw->sockets <= (size_t)gw->conf->http.max_connections)
		return 0;
	/* plain HTTP only: on a TLS port the bytes would be noise */
	if (gw->conf->http.tls != DL_HTTP_TLS_ON)
		(void)send(lws_get_socket_fd(wsi), busy_answer,
			   sizeof(busy_answer) - 1,
			   MSG_DONTWAIT | MSG_NOSIGNAL);
	lws_get_peer_simple(wsi, peer, sizeof(peer));
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
		  "%zu connections open, max_connections %d: refusing "
		  "%s",
		  gw->sockets - 1, gw->conf->http.max_connections, peer);
	return -1;
}

static void socket_closed(struct lws *wsi)
{
	dl_gw_t *gw;

	if (lws_get_opaque_user_data(wsi) == NULL)
		return;
	gw = gw_of(wsi);
	lws_set_opaque_user_data(wsi, NULL);
	if (gw->sockets)
		gw->sockets--;
}

int dl_conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		     void *user, void *in, size_t len)
{
	conn_t *c = user;

	switch (reason) {
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		return socket_open(wsi);
	case LWS_CALLBACK_WSI_DESTROY: socket_closed(wsi); return 0;
	case LWS_CALLBACK_HTTP: http_start(wsi, c, in); return 0;
	case LWS_CALLBACK_HTTP_BODY:
		if (!c->used || c->status)
			return 0;
		if (c->too_big || dl_buf_append(&c->body, in, len))
			c->too_big = true;
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		http_body_done(wsi, c);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE: return http_write(wsi, c);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: return ws_filter(wsi, c);
	case LWS_CALLBACK_ESTABLISHED:
		if (c->used && c->route.req)
			start_upstream(c);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return c->used ? ws_write(wsi, c) : -1;
	case LWS_CALLBACK_RECEIVE: return 0; /* the client has nothing to say */
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (c)
			cleanup(c);
		return 0;
	default: break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}
