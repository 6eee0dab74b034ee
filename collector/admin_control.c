/* admin_control.c - the admin side of a control call: parsing and
 * checking the request, refusing what the token's role forbids (audited),
 * handing it to the router, and streaming logs/exec output to the client
 * as binary frames, crediting only what reached it (the agent's
 * window). */
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
#include "collector/query.h"
#include "collector/serve_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/admin.h"
#include "proto/control.h"
#include "collector/admin_int.h"

#define TAG "admin"

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
		dl_admin__conn_close(c);
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
		dl_admin__conn_close(c);
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
		dl_admin__conn_close(c);
	}
}

static void call_done(void *ud, json_t *resp)
{
	admin_conn_t *c = ud;

	c->call_id = 0;
	dl_admin__respond(c, resp);
}

void dl_admin__start_call(admin_conn_t *c)
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
		uv_close((uv_handle_t *)&c->pipe, dl_admin__on_closed);
		return;
	}
	c->call_id = dl_call_start(c->srv, &c->call, &sink, c);
	json_decref(c->call.args);
	c->call.args = NULL;
	/* Reading on: EOF from the client is how a cancel arrives. */
	if (c->call_id)
		uv_read_start((uv_stream_t *)&c->pipe, dl_admin__on_alloc,
			      dl_admin__on_read);
}

/* {"op":"control", "host", "action", "args": {...}, "timeout_ms"}.
 * NULL when it may go on (resolution next), else the error answer.
 * Argument errors are audited (the call starts with the error); a
 * request naming no valid host or op is not. */
json_t *dl_admin__parse_control(admin_conn_t *c, json_t *req)
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
		return dl_admin__fail("invalid",
				      "control: invalid host name \"%.64s\"",
				      host ? host : "");
	if (!(r->op = dl_control_op(action)))
		return dl_admin__fail("invalid", "unknown operation \"%.32s\"",
				      action ? action : "");
	if (!json_is_object(args))
		return dl_admin__fail("invalid",
				      "control: args must be an object%s", "");
	if (jt && (!json_is_integer(jt) || json_integer_value(jt) < 0 ||
		   json_integer_value(jt) > 7 * 86400 * 1000LL))
		return dl_admin__fail("invalid",
				      "control: timeout_ms out of range%s", "");
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
bool dl_admin__control_refused(admin_conn_t *c)
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
	dl_admin__start_call(c);
	return true;
}
