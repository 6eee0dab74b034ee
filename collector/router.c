/* router.c - the control router: admin request -> the host's live session
 * -> REQUEST; RESPONSE, or STREAM... + END, back to the admin.
 *
 * Calls are known by a 32-bit id unique in this collector process; an
 * answer counts only on the session the request went down, so one agent
 * can never answer for another host. Every call is audited at start and
 * at its end. A call ends exactly once: answer, deadline, the admin going
 * away (CANCEL to the agent) or the session dropping (outcome unknown:
 * requests are never replayed). Stream bytes are credited back to the
 * agent only after the admin connection has written them, so a slow
 * reader holds at most DL_CONTROL_WINDOW bytes per stream here. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/metrics.h"
#include "collector/serve_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "proto/control.h"

#define TAG "control"
/* The agent enforces the deadline itself; this much later we stop
 * waiting for its answer. */
#define GRACE_MS 5000
#define TICK_MS	 250

struct dl_call {
	dl_call_t *next;
	uint32_t id;
	uint64_t sid;
	char host[DL_HOST_MAX + 1];
	char op[DL_MAX_OP + 1];
	char key[64]; /* audit row */
	dl_call_sink_t sink;
	void *ud;
	uint64_t start_ns;    /* monotonic */
	uint64_t deadline_ns; /* monotonic, 0 = none */
	uint32_t timeout_ms;
	dl_op_kind_t op_kind;
	size_t inflight; /* STREAM bytes not yet written to the admin */
};

static dl_call_t *find(dl_server_t *srv, uint32_t id)
{
	for (dl_call_t *c = srv->calls; c; c = c->next)
		if (c->id == id)
			return c;
	return NULL;
}

static void unlink_call(dl_server_t *srv, dl_call_t *call)
{
	for (dl_call_t **pp = &srv->calls; *pp; pp = &(*pp)->next) {
		if (*pp == call) {
			*pp = call->next;
			return;
		}
	}
}

static int64_t elapsed_ms(uint64_t start_ns)
{
	return (int64_t)((dl_clock_mono_ns() - start_ns) / 1000000);
}

/* The answer code of a failed call's status (docs/API.md): the status
 * word itself, but "error" for cancelled (nobody reads it). */
static const char *status_code(const char *status)
{
	static const char *const same[] = {"refused", "offline", "timeout",
					   "unknown", "busy"};

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
		if (!strcmp(status, same[i]))
			return same[i];
	return "error";
}

/* code NULL: from status. */
static json_t *error_json(const char *status, const char *code,
			  const char *text)
{
	return json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "status", status,
			 "error", text, "code",
			 code ? code : status_code(status));
}

/* Ends call: audit row, answer to the admin unless it cancelled (resp
 * consumed; NULL = it could not be built: a fixed sentence instead),
 * free. msg may carry bytes from the agent: made valid UTF-8 here for
 * the audit row and the JSON answer. */
static void finish(dl_server_t *srv, dl_call_t *call, const char *status,
		   const char *code, const char *msg, int exit_code,
		   json_t *resp, bool cancelled)
{
	char message[1300];

	snprintf(message, sizeof(message), "%s", msg);
	dl_utf8_fix(message);
	if (!resp && !cancelled)
		resp = error_json(status, code, message);
	if (!resp && !cancelled)
		resp = error_json("error", NULL, "collector out of memory");
	unlink_call(srv, call);
	if (srv->store &&
	    dl_store_audit_end(srv->store, call->key, status, message,
			       exit_code, elapsed_ms(call->start_ns)) != 0)
		DL_LOG_ERROR(TAG,
			     "%s: cannot record the outcome in the audit log",
			     call->key);
	dl_metrics_control(srv->metrics, call->op, status,
			   (double)(dl_clock_mono_ns() - call->start_ns) / 1e9);
	DL_LOG_INFO(TAG, "%s %s on %s: %s%s%s (%lld ms)", call->key, call->op,
		    call->host, status, message[0] ? ": " : "", message,
		    (long long)elapsed_ms(call->start_ns));
	if (!cancelled)
		call->sink.done(call->ud, resp);
	free(call);
}

/* code NULL: from status. */
static void finish_code(dl_server_t *srv, dl_call_t *call, const char *status,
			const char *code, const char *text)
{
	finish(srv, call, status, code, text, INT_MIN, NULL, false);
}

static void finish_error(dl_server_t *srv, dl_call_t *call, const char *status,
			 const char *text)
{
	finish_code(srv, call, status, NULL, text);
}

/* "3m ago", "2h ago", "never". */
static void ago(int64_t last_seen, char *out, size_t outlen)
{
	int64_t d = (int64_t)(dl_clock_wall_ns() / 1000000000ull) - last_seen;

	if (last_seen <= 0)
		snprintf(out, outlen, "never seen");
	else if (d < 120)
		snprintf(out, outlen, "last seen %llds ago", (long long)d);
	else if (d < 7200)
		snprintf(out, outlen, "last seen %lldm ago",
			 (long long)(d / 60));
	else if (d < 172800)
		snprintf(out, outlen, "last seen %lldh ago",
			 (long long)(d / 3600));
	else
		snprintf(out, outlen, "last seen %lldd ago",
			 (long long)(d / 86400));
}

static int send_request(dl_server_t *srv, dl_call_t *call, const char *args)
{
	dl_msg_t m = {.type = DL_MSG_REQUEST};

	m.u.request.id = call->id;
	m.u.request.timeout_ms = call->timeout_ms;
	m.u.request.op = DL_STR(call->op);
	m.u.request.args = DL_STR(args);
	return dl_session_send(srv, call->sid, &m);
}

/* The arguments as audited: redacted, or for arguments that fail their
 * checks (whose values may be anything, secrets in the wrong place
 * included) only the names of its keys. A request refused for another
 * reason (a token's role, a hidden host) keeps its redacted arguments. */
static json_t *audit_args(const dl_call_req_t *req)
{
	json_t *keys, *v;
	const char *k;
	char why[128];

	if (!req->args)
		return NULL;
	if (req->op &&
	    dl_control_validate(req->op, req->args, why, sizeof(why)) == 0)
		return dl_control_redact(req->op, req->args);
	if (!(keys = json_array()))
		return NULL;
	json_object_foreach(req->args, k, v)
		json_array_append_new(keys, json_string(k));
	return json_pack("{s:o}", "invalid_keys", keys);
}

static void audit_start(dl_server_t *srv, dl_call_t *call,
			const dl_call_req_t *req)
{
	json_t *red = audit_args(req);
	char *args =
		red ? json_dumps(red, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char user[DL_AUDIT_USER_MAX + 1];
	dl_audit_t a = {0};

	snprintf(user, sizeof(user), "%s", req->user ? req->user : "?");
	a.req = call->key;
	a.time_ns = dl_clock_wall_ns();
	a.uid = (uint32_t)req->uid;
	a.user = user;
	a.host = call->host;
	a.op = call->op;
	a.target = req->target ? req->target : "";
	a.args = args ? args : "";
	if (srv->store && dl_store_audit_start(srv->store, &a) != 0)
		DL_LOG_ERROR(TAG, "%s: cannot record %s on %s in the audit log",
			     call->key, call->op, call->host);
	free(args);
	json_decref(red);
}

static void on_tick(uv_timer_t *t);

uint32_t dl_call_start(dl_server_t *srv, const dl_call_req_t *req,
		       const dl_call_sink_t *sink, void *ud)
{
	dl_call_t *call = calloc(1, sizeof(*call));
	char *args = NULL, text[512], seen[64];
	const char *old = NULL;

	if (!call) {
		sink->done(ud, error_json("error", NULL,
					  "collector out of memory"));
		return 0;
	}
	if (++srv->next_call_id == 0)
		srv->next_call_id = 1;
	call->id = srv->next_call_id;
	snprintf(call->host, sizeof(call->host), "%s", req->host);
	snprintf(call->op, sizeof(call->op), "%s", req->op->name);
	call->op_kind = req->op->kind;
	snprintf(call->key, sizeof(call->key), "%llu-%u",
		 (unsigned long long)srv->boot_ns, call->id);
	call->sink = *sink;
	call->ud = ud;
	call->start_ns = dl_clock_mono_ns();
	call->timeout_ms = req->timeout_ms;
	if (req->timeout_ms)
		call->deadline_ns =
			call->start_ns +
			((uint64_t)req->timeout_ms + GRACE_MS) * 1000000ull;
	audit_start(srv, call, req);
	if (req->error) {
		finish_code(srv, call, req->status, req->code, req->error);
		return 0;
	}
	call->sid = dl_session_live(srv, req->host, &old);
	if (call->sid && old) {
		snprintf(text, sizeof(text),
			 "%s runs %s, which cannot take control requests; "
			 "upgrade its agent",
			 req->host, old);
		finish_error(srv, call, "error", text);
		return 0;
	}
	if (!call->sid) {
		ago(req->last_seen, seen, sizeof(seen));
		snprintf(text, sizeof(text), "%s is offline (%s)", req->host,
			 seen);
		finish_error(srv, call, "offline", text);
		return 0;
	}
	/* Listed only once sent: a send can close the session, which ends
	 * every listed call of it. */
	args = json_dumps(req->args, JSON_COMPACT);
	if (!args || strlen(args) > DL_MAX_ARGS ||
	    send_request(srv, call, args) != 0) {
		snprintf(text, sizeof(text),
			 "cannot send the request to %s (session closing)",
			 req->host);
		free(args);
		finish_error(srv, call, "error", text);
		return 0;
	}
	free(args);
	call->next = srv->calls;
	srv->calls = call;
	/* Ticks only while some call has a deadline: an idle collector
	 * does not wake for nothing. */
	if (call->deadline_ns && !uv_is_active((uv_handle_t *)&srv->call_timer))
		uv_timer_start(&srv->call_timer, on_tick, TICK_MS, TICK_MS);
	return call->id;
}

static void send_id_msg(dl_server_t *srv, dl_call_t *call, dl_msg_type_t t,
			uint32_t bytes)
{
	dl_msg_t m = {.type = t};

	m.u.credit.id = call->id;
	m.u.credit.bytes = bytes;
	dl_session_send(srv, call->sid, &m);
}

void dl_call_cancel(dl_server_t *srv, uint32_t id)
{
	dl_call_t *call = find(srv, id);

	if (!call)
		return;
	/* Off the list first: the send may end the session's calls. */
	unlink_call(srv, call);
	send_id_msg(srv, call, DL_MSG_CANCEL, 0);
	finish(srv, call, "cancelled", NULL, "the admin client went away",
	       INT_MIN, NULL, true);
}

void dl_call_delivered(dl_server_t *srv, uint32_t id, size_t n)
{
	dl_call_t *call = find(srv, id);

	if (!call || !n)
		return;
	call->inflight -= n < call->inflight ? n : call->inflight;
	send_id_msg(srv, call, DL_MSG_CREDIT, (uint32_t)n);
}

/* An agent's failure, worded for the admin: policy refusals read
 * "app-01 policy does not allow rm (...)", Docker's own messages
 * "app-01: No such container: web". */
static void agent_error(dl_server_t *srv, dl_call_t *call, int status,
			dl_str_t msg)
{
	char text[1200];

	snprintf(text, sizeof(text), "%s%s%.*s", call->host,
		 status == DL_EPERM ? " " : ": ",
		 (int)(msg.n > 1024 ? 1024 : msg.n), msg.p);
	/* The agent gave up waiting for Docker, which may still act. */
	finish_code(srv, call,
		    status == DL_EPERM	     ? "refused"
		    : status == DL_ETIMEDOUT ? "timeout"
					     : "error",
		    status == DL_ENOENT	  ? "not_found"
		    : status == DL_EBUSY  ? "busy"
		    : status == DL_EINVAL ? "invalid"
					  : NULL,
		    text);
}

static void on_response(dl_server_t *srv, dl_call_t *call,
			const dl_response_t *r)
{
	json_t *body;
	char text[1300];

	if (r->status) {
		agent_error(srv, call, r->status, r->body);
		return;
	}
	body = json_loadb(r->body.p, r->body.n, 0, NULL);
	if (!body) {
		snprintf(text, sizeof(text),
			 "%s answered %s with something that is not JSON",
			 call->host, call->op);
		finish_error(srv, call, "error", text);
		return;
	}
	/* recreate says what it changed (images before and after): the
	 * audit row keeps that sentence. */
	snprintf(text, sizeof(text), "%s",
		 json_string_value(json_object_get(body, "summary"))
			 ? json_string_value(json_object_get(body, "summary"))
			 : "");
	finish(srv, call, "ok", NULL, text, INT_MIN,
	       json_pack("{s:b,s:s,s:o}", "ok", 1, "status", "ok", "data",
			 body),
	       false);
}

static void on_end(dl_server_t *srv, dl_call_t *call, const dl_end_t *e)
{
	char text[64] = "";

	if (e->status) {
		agent_error(srv, call, e->status, e->message);
		return;
	}
	if (!strcmp(call->op, "exec"))
		snprintf(text, sizeof(text), "exit code %d", e->exit_code);
	finish(srv, call, "ok", NULL, text, e->exit_code,
	       json_pack("{s:b,s:s,s:{s:i}}", "ok", 1, "status", "ok", "data",
			 "exit_code", e->exit_code),
	       false);
}

int dl_call_from_agent(dl_server_t *srv, uint64_t sid, const dl_msg_t *m,
		       char *why, size_t whylen)
{
	/* RESPONSE, STREAM and END all start with the id. */
	uint32_t id = m->type == DL_MSG_RESPONSE ? m->u.response.id
		      : m->type == DL_MSG_STREAM ? m->u.stream.id
						 : m->u.end.id;
	dl_call_t *call = find(srv, id);

	/* Gone (cancelled, timed out) or not this session's: dropped. */
	if (!call || call->sid != sid)
		return 0;
	switch (m->type) {
	case DL_MSG_RESPONSE: on_response(srv, call, &m->u.response); return 0;
	case DL_MSG_END: on_end(srv, call, &m->u.end); return 0;
	default: break;
	}
	/* The agent's side of flow control is checked, not trusted: a
	 * stream past its window, or output for a plain op, ends the
	 * session. */
	call->inflight += m->u.stream.data.n;
	if (call->op_kind != DL_OPK_STREAM ||
	    call->inflight > DL_CONTROL_WINDOW + DL_MAX_CHUNK) {
		snprintf(why, whylen,
			 "%s sent %s output beyond its flow-control window",
			 call->host, call->op);
		finish_error(srv, call, "error", why);
		return DL_EPROTO;
	}
	call->sink.chunk(call->ud, id, m->u.stream.fd,
			 (const uint8_t *)m->u.stream.data.p,
			 m->u.stream.data.n);
	return 0;
}

void dl_call_session_closed(dl_server_t *srv, uint64_t sid, const char *why)
{
	dl_call_t *call, *next;
	char text[512];

	for (call = srv->calls; call; call = next) {
		next = call->next;
		if (call->sid != sid)
			continue;
		snprintf(text, sizeof(text),
			 "the connection to %s was lost during %s (%s); the "
			 "outcome is unknown",
			 call->host, call->op, why);
		finish_error(srv, call, "unknown", text);
	}
}

static void on_tick(uv_timer_t *t)
{
	dl_server_t *srv = t->data;
	uint64_t now = dl_clock_mono_ns();
	dl_call_t *call;
	char text[512];

again:
	for (call = srv->calls; call; call = call->next) {
		if (!call->deadline_ns || now < call->deadline_ns)
			continue;
		/* The send may end other calls: rescan afterwards. */
		unlink_call(srv, call);
		send_id_msg(srv, call, DL_MSG_CANCEL, 0);
		snprintf(text, sizeof(text),
			 "%s did not answer %s within %.1f s; the outcome is "
			 "unknown",
			 call->host, call->op,
			 (double)call->timeout_ms / 1000.0);
		finish_error(srv, call, "timeout", text);
		goto again;
	}
	for (call = srv->calls; call; call = call->next)
		if (call->deadline_ns)
			return;
	uv_timer_stop(t);
}

void dl_router_init(dl_server_t *srv)
{
	srv->boot_ns = dl_clock_wall_ns();
	uv_timer_init(srv->loop, &srv->call_timer);
	srv->call_timer.data = srv;
}

void dl_router_close(dl_server_t *srv)
{
	uv_close((uv_handle_t *)&srv->call_timer, NULL);
}
