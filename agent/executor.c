/* executor.c - control requests -> Docker API calls (see executor.h).
 *
 *   plain:  REQUEST -> check -> policy -> one Docker call -> RESPONSE
 *   logs:   inspect (Tty? id) -> GET .../logs (raw) -> STREAM... -> END
 *   exec:   POST .../exec -> POST /exec/ID/start (raw) -> STREAM...
 *           -> GET /exec/ID/json (ExitCode) -> END
 *
 * Docker multiplexes a non-TTY container's stdout and stderr in frames
 * of [fd u8, 0, 0, 0, size u32 BE] + size bytes; demux() keeps them apart
 * across read boundaries. */
#include "agent/executor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "agent/deploy.h"
#include "agent/tunnel.h"
#include "proto/control.h"

#define TAG "control"
/* One STREAM frame carries at most this much: small enough to interleave
 * with stats and events, big enough to keep framing overhead low. */
#define CHUNK	  (32u * 1024u)
#define FLUSH_MS  2 /* gathered output waits at most this long */
#define PATH_MAX_ (DL_CTL_NAME_MAX * 2 + 256)

typedef struct ereq {
	dl_executor_t *x;
	struct ereq *next;
	uint32_t id;
	const dl_op_t *op;
	json_t *args;
	uint64_t deadline_ns; /* 0 = none */
	uint32_t timeout_ms;
	dl_docker_req_t *dreq;
	dl_deploy_t *dep; /* deploy ops: the sequence running for us */
	char ctr[DL_CTL_NAME_MAX + 1]; /* as given; the full id after inspect */
	char exec_id[80];
	bool tty;
	bool cancelled; /* no answer: the collector forgot this request */
	/* stream */
	int64_t window;	  /* bytes we may still send before a CREDIT */
	bool wait_credit; /* paused for lack of window */
	bool wait_drain;  /* paused for a full tunnel queue */
	uint8_t hdr[8];	  /* demux header being read */
	unsigned hdr_n;
	uint32_t left; /* payload bytes left in the current demux frame */
	uint32_t fd;
	/* Docker frames a non-TTY stream line by line; bytes of one fd are
	 * gathered here so a STREAM carries up to CHUNK, not one line. */
	char *out;
	size_t out_n;
	uint32_t out_fd;
	/* END waiting for gathered output the tunnel could not take. */
	bool ending;
	int32_t end_status, end_code;
	char end_text[DL_MAX_TEXT + 1];
	/* An answer the tunnel could not take yet (DL_EFULL). */
	dl_msg_t held;
	char *held_text;
	bool holding;
} ereq_t;

struct dl_executor {
	uv_loop_t *loop;
	dl_docker_t *docker;
	uv_timer_t *flush; /* own allocation: freed in its close callback */
	unsigned allow;
	dl_executor_io_t io;
	void *ud;
	ereq_t *reqs;
	size_t n;
};

/* ---- bookkeeping --------------------------------------------------- */

static void req_free(ereq_t *r)
{
	dl_executor_t *x = r->x;

	for (ereq_t **pp = &x->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			x->n--;
			break;
		}
	}
	json_decref(r->args);
	free(r->held_text);
	free(r->out);
	free(r);
}

static ereq_t *find(dl_executor_t *x, uint32_t id)
{
	for (ereq_t *r = x->reqs; r; r = r->next)
		if (r->id == id)
			return r;
	return NULL;
}

/* Sends m, or keeps a copy to send on the next drain. The request is
 * done either way; it is freed once the answer left. */
static void finish(ereq_t *r, dl_msg_t *m, dl_str_t *text)
{
	int rc = r->x->io.send(r->x->ud, m);

	if (rc != DL_EFULL) {
		req_free(r);
		return;
	}
	r->held_text = malloc(text->n + 1);
	if (!r->held_text) {
		DL_LOG_ERROR(TAG, "request %u: out of memory, answer lost",
			     r->id);
		req_free(r);
		return;
	}
	memcpy(r->held_text, text->p ? text->p : "", text->n);
	r->held_text[text->n] = '\0';
	text->p = r->held_text;
	r->held = *m;
	r->holding = true;
	r->x->io.want_drain(r->x->ud);
}

static void respond(ereq_t *r, int status, const char *body, size_t len)
{
	dl_msg_t m = {.type = DL_MSG_RESPONSE};

	m.u.response.id = r->id;
	m.u.response.status = status;
	m.u.response.body = (dl_str_t){body, (uint32_t)len};
	finish(r, &m, &m.u.response.body);
}

static void respond_text(ereq_t *r, int status, const char *text)
{
	respond(r, status, text, strlen(text));
}

/* The outcome of a stream: END for logs and exec, at any step. */
static int flush_out(ereq_t *r);

static void end(ereq_t *r, int status, int exit_code, const char *text)
{
	dl_msg_t m = {.type = DL_MSG_END};

	/* Gathered output goes first; if the tunnel cannot take it now,
	 * the END waits with it for the next drain. */
	if (flush_out(r) == DL_EFULL) {
		r->ending = true;
		r->end_status = status;
		r->end_code = exit_code;
		if (text != r->end_text)
			snprintf(r->end_text, sizeof(r->end_text), "%s", text);
		r->x->io.want_drain(r->x->ud);
		return;
	}
	m.u.end.id = r->id;
	m.u.end.status = status;
	m.u.end.exit_code = exit_code;
	m.u.end.message = DL_STR(text);
	if (m.u.end.message.n > DL_MAX_TEXT)
		m.u.end.message.n = DL_MAX_TEXT;
	finish(r, &m, &m.u.end.message);
}

static void fail(ereq_t *r, int status, const char *text)
{
	if (r->op && r->op->kind == DL_OPK_STREAM)
		end(r, status, 0, text);
	else
		respond_text(r, status, text);
}

/* Milliseconds left before the deadline: 0 = none, at least 1. */
static long remaining_ms(const ereq_t *r)
{
	uint64_t now = dl_clock_mono_ns();

	if (!r->deadline_ns)
		return 0;
	if (now >= r->deadline_ns)
		return 1;
	return (long)((r->deadline_ns - now + 999999) / 1000000);
}

/* ---- Docker's answers ---------------------------------------------- */

/* Docker's own sentence from an error body {"message": "..."}, else a
 * description of the failure. */
static void docker_error(const ereq_t *r, int err, long status,
			 const char *body, size_t len, char *out, size_t outlen)
{
	json_t *j;
	const char *msg;

	if (err == DL_ETIMEDOUT) {
		snprintf(out, outlen,
			 "Docker did not finish %s within %.1f s; it may still "
			 "complete",
			 r->op->name, (double)r->timeout_ms / 1000.0);
		return;
	}
	if (err == DL_ETOOBIG) {
		snprintf(out, outlen,
			 "the answer to %s is larger than %u bytes",
			 r->op->name, DL_MAX_BODY);
		return;
	}
	if (err == DL_ECLOSED) {
		/* Our own cancel (output could not be queued): the client's
		 * last error belongs to some other request. */
		snprintf(out, outlen,
			 "%s was stopped: its output could not be sent",
			 r->op->name);
		return;
	}
	if (err) {
		snprintf(out, outlen, "%s", dl_docker_last_error(r->x->docker));
		return;
	}
	j = body ? json_loadb(body, len, 0, NULL) : NULL;
	msg = json_string_value(json_object_get(j, "message"));
	if (msg)
		snprintf(out, outlen, "%s", msg);
	else
		snprintf(out, outlen, "Docker answered HTTP %ld to %s", status,
			 r->op->name);
	json_decref(j);
}

static int status_code(long http)
{
	return http == 404 ? DL_ENOENT : DL_EDOCKER;
}

static bool http_ok(long status)
{
	return (status >= 200 && status < 300) || status == 304;
}

/* The common head of every Docker completion: r's call is over. True
 * when nothing is left to do: cancelled (drop() frees r), or a failure,
 * answered here with Docker's words. */
static bool settled(ereq_t *r, int err, long status, const char *body,
		    size_t len)
{
	char why[1024];

	r->dreq = NULL;
	if (r->cancelled)
		return true;
	if (!err && http_ok(status))
		return false;
	docker_error(r, err, status, body, len, why, sizeof(why));
	fail(r, err ? err : status_code(status), why);
	return true;
}

static void on_plain(void *ud, int err, long status, const char *body,
		     size_t len)
{
	ereq_t *r = ud;

	if (settled(r, err, status, body, len))
		return;
	/* start/stop/... answer 204 or 304 with no body. */
	if (len == 0)
		respond_text(r, 0,
			     status == 304 ? "{\"changed\":false}"
					   : "{\"changed\":true}");
	else
		respond(r, 0, body, len);
}

/* ---- building Docker calls ----------------------------------------- */

static const char *s_arg(const ereq_t *r, const char *k)
{
	return json_string_value(json_object_get(r->args, k));
}

static bool b_arg(const ereq_t *r, const char *k)
{
	return json_is_true(json_object_get(r->args, k));
}

/* Signals may carry '+' (SIGRTMIN+3), which a query string reads as a
 * space; every other allowed byte is safe as is. */
static void put_signal(char *out, size_t outlen, const char *sig)
{
	size_t o = 0;

	for (; *sig && o + 4 < outlen; sig++) {
		if (*sig == '+') {
			memcpy(out + o, "%2B", 3);
			o += 3;
		} else {
			out[o++] = *sig;
		}
	}
	out[o] = '\0';
}

/* Method and path of a plain op; args are already validated. */
static int plain_call(const ereq_t *r, const char **method, char *path,
		      size_t pathlen)
{
	const char *op = r->op->name, *c = r->ctr;
	json_t *t = json_object_get(r->args, "t");
	char sig[64];

	*method = "POST";
	if (!strcmp(op, "start") || !strcmp(op, "pause") ||
	    !strcmp(op, "unpause")) {
		snprintf(path, pathlen, DL_DOCKER_API "/containers/%s/%s", c,
			 op);
	} else if (!strcmp(op, "stop") || !strcmp(op, "restart")) {
		if (t)
			snprintf(path, pathlen,
				 DL_DOCKER_API "/containers/%s/%s?t=%lld", c,
				 op, (long long)json_integer_value(t));
		else
			snprintf(path, pathlen,
				 DL_DOCKER_API "/containers/%s/%s", c, op);
	} else if (!strcmp(op, "kill")) {
		put_signal(sig, sizeof(sig),
			   s_arg(r, "signal") ? s_arg(r, "signal") : "KILL");
		snprintf(path, pathlen,
			 DL_DOCKER_API "/containers/%s/kill?signal=%s", c, sig);
	} else if (!strcmp(op, "rename")) {
		snprintf(path, pathlen,
			 DL_DOCKER_API "/containers/%s/rename?name=%s", c,
			 s_arg(r, "name"));
	} else if (!strcmp(op, "rm")) {
		*method = "DELETE";
		snprintf(path, pathlen,
			 DL_DOCKER_API "/containers/%s?force=%d&v=%d", c,
			 b_arg(r, "force"), b_arg(r, "volumes"));
	} else if (!strcmp(op, "prune")) {
		/* filters={"label":["L"]}, URL-encoded; L is [\w.:/=-]. */
		if (s_arg(r, "label"))
			snprintf(path, pathlen,
				 DL_DOCKER_API "/%s/prune?filters=%%7B%%22label"
					       "%%22%%3A%%5B%%22%s%%22%%5D%%7D",
				 s_arg(r, "what"), s_arg(r, "label"));
		else
			snprintf(path, pathlen, DL_DOCKER_API "/%s/prune",
				 s_arg(r, "what"));
	} else {
		static const char *const gets[][2] = {
			{"inspect", "/containers/%s/json"},
			{"top", "/containers/%s/top"},
			{"images", "/images/json"},
			{"networks", "/networks"},
			{"volumes", "/volumes"},
			{"info", "/info"},
			{"version", "/version"},
			{"df", "/system/df"},
		};
		char fmt[64];

		*method = "GET";
		for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
			if (strcmp(op, gets[i][0]))
				continue;
			snprintf(fmt, sizeof(fmt), DL_DOCKER_API "%s",
				 gets[i][1]);
			if (r->op->container)
				snprintf(path, pathlen, fmt, c);
			else
				snprintf(path, pathlen, "%s", fmt);
			return 0;
		}
		return DL_EINVAL;
	}
	return 0;
}

/* ---- streams ------------------------------------------------------- */

static int send_chunk(ereq_t *r, uint32_t fd, const char *p, size_t n)
{
	dl_msg_t m = {.type = DL_MSG_STREAM};

	while (n > 0) {
		size_t k = n > CHUNK ? CHUNK : n;
		int rc;

		m.u.stream.id = r->id;
		m.u.stream.fd = fd;
		m.u.stream.data = (dl_str_t){p, (uint32_t)k};
		if ((rc = r->x->io.send(r->x->ud, &m)))
			return rc;
		r->window -= (int64_t)k;
		p += k;
		n -= k;
	}
	return 0;
}

/* Sends what is gathered. On DL_EFULL the bytes stay for a retry; any
 * other failure (link gone) drops them. */
static int flush_out(ereq_t *r)
{
	int rc = r->out_n ? send_chunk(r, r->out_fd, r->out, r->out_n) : 0;

	if (rc != DL_EFULL)
		r->out_n = 0;
	return rc;
}

/* Queues n bytes of fd behind what is gathered, sending a chunk only
 * when it needs the room. */
static int gather(ereq_t *r, uint32_t fd, const char *p, size_t n)
{
	int rc;

	if (r->out_n && r->out_fd != fd && (rc = flush_out(r)))
		return rc;
	r->out_fd = fd;
	while (n > 0) {
		size_t k;

		if (r->out_n == CHUNK && (rc = flush_out(r)))
			return rc;
		k = CHUNK - r->out_n < n ? CHUNK - r->out_n : n;
		memcpy(r->out + r->out_n, p, k);
		r->out_n += k;
		p += k;
		n -= k;
	}
	return 0;
}

static void on_flush(uv_timer_t *t)
{
	dl_executor_t *x = t->data;

	for (ereq_t *r = x->reqs; r; r = r->next) {
		if (r->out_n && !r->ending && flush_out(r) == DL_EFULL) {
			x->io.want_drain(x->ud);
			return;
		}
	}
}

/* Splits Docker's multiplexed stream into STREAM frames per fd. */
static int demux(ereq_t *r, const char *p, size_t n)
{
	int rc;

	while (n > 0) {
		size_t k;

		if (r->left == 0) {
			k = 8 - r->hdr_n;
			k = k < n ? k : n;
			memcpy(r->hdr + r->hdr_n, p, k);
			r->hdr_n += (unsigned)k;
			p += k;
			n -= k;
			if (r->hdr_n < 8)
				return 0;
			r->hdr_n = 0;
			r->fd = r->hdr[0] == 2 ? 2 : 1;
			r->left = (uint32_t)r->hdr[4] << 24 |
				  (uint32_t)r->hdr[5] << 16 |
				  (uint32_t)r->hdr[6] << 8 | r->hdr[7];
			continue;
		}
		k = r->left < n ? r->left : n;
		if ((rc = gather(r, r->fd, p, k)))
			return rc;
		r->left -= (uint32_t)k;
		p += k;
		n -= k;
	}
	return 0;
}

static int on_stream_data(void *ud, const char *p, size_t n)
{
	ereq_t *r = ud;
	dl_executor_t *x = r->x;
	int rc;

	if (r->window <= 0) {
		r->wait_credit = true;
		return DL_EFULL;
	}
	if (x->io.queued(x->ud) >= DL_TUNNEL_SENDQ_MAX / 2) {
		r->wait_drain = true;
		x->io.want_drain(x->ud);
		return DL_EFULL;
	}
	/* Room for all n bytes without a send that could fail midway. */
	if (r->out_n + n > CHUNK && flush_out(r) == DL_EFULL) {
		r->wait_drain = true;
		x->io.want_drain(x->ud);
		return DL_EFULL;
	}
	if (!r->out && !(r->out = malloc(CHUNK)))
		rc = DL_ENOMEM;
	else
		rc = r->tty ? gather(r, 1, p, n) : demux(r, p, n);
	/* dockerd writes a log line at a time: a short delay lets a STREAM
	 * carry many lines instead of one. */
	if (rc == 0 && r->out_n && !uv_is_active((uv_handle_t *)x->flush))
		uv_timer_start(x->flush, on_flush, FLUSH_MS, 0);
	if (rc) {
		/* Cannot happen below half the queue with 16 KiB reads;
		 * if it does, the stream is cut rather than corrupted. */
		DL_LOG_WARN(TAG, "request %u: output lost (%s); stopping it",
			    r->id, dl_strerror(rc));
		dl_docker_cancel(r->dreq);
	}
	return 0;
}

static void on_exit_code(void *ud, int err, long status, const char *body,
			 size_t len)
{
	ereq_t *r = ud;
	json_t *j, *code;

	if (settled(r, err, status, body, len))
		return;
	j = json_loadb(body, len, 0, NULL);
	code = json_object_get(j, "ExitCode");
	if (json_is_integer(code))
		end(r, 0, (int)json_integer_value(code), "");
	else
		end(r, DL_EDOCKER, 0, "Docker did not report an exit code");
	json_decref(j);
}

static void on_stream_done(void *ud, int err, long status, const char *body,
			   size_t len)
{
	ereq_t *r = ud;
	char path[PATH_MAX_];

	if (settled(r, err, status, body, len))
		return;
	if (strcmp(r->op->name, "exec")) {
		end(r, 0, 0, "");
		return;
	}
	snprintf(path, sizeof(path), DL_DOCKER_API "/exec/%s/json", r->exec_id);
	r->dreq = dl_docker_request(r->x->docker, "GET", path, NULL, 65536,
				    remaining_ms(r) ? remaining_ms(r) : 30000,
				    on_exit_code, r);
	if (!r->dreq)
		end(r, DL_ENOMEM, 0, "cannot start the exit code request");
}

static void start_logs(ereq_t *r)
{
	char path[PATH_MAX_ + 128], tail[32] = "all";
	json_t *t = json_object_get(r->args, "tail");

	if (t)
		snprintf(tail, sizeof(tail), "%lld",
			 (long long)json_integer_value(t));
	snprintf(path, sizeof(path),
		 DL_DOCKER_API "/containers/%s/logs?stdout=1&stderr=1"
			       "&follow=%d&timestamps=%d&tail=%s&since=%lld",
		 r->ctr, b_arg(r, "follow"), b_arg(r, "timestamps"), tail,
		 (long long)json_integer_value(
			 json_object_get(r->args, "since")));
	r->dreq =
		dl_docker_raw(r->x->docker, "GET", path, NULL, remaining_ms(r),
			      on_stream_data, on_stream_done, r);
	if (!r->dreq)
		end(r, DL_ENOMEM, 0, "cannot start the logs request");
}

static void start_exec(ereq_t *r)
{
	char path[PATH_MAX_];

	snprintf(path, sizeof(path), DL_DOCKER_API "/exec/%s/start",
		 r->exec_id);
	r->dreq = dl_docker_raw(
		r->x->docker, "POST", path, "{\"Detach\":false,\"Tty\":false}",
		remaining_ms(r), on_stream_data, on_stream_done, r);
	if (!r->dreq)
		end(r, DL_ENOMEM, 0, "cannot start the exec request");
}

/* First call of a stream: the container's inspect (logs) or the exec
 * instance's creation (exec). */
static void on_first(void *ud, int err, long status, const char *body,
		     size_t len)
{
	ereq_t *r = ud;
	json_t *j;
	const char *id;

	if (settled(r, err, status, body, len))
		return;
	j = json_loadb(body, len, 0, NULL);
	id = json_string_value(json_object_get(j, "Id"));
	if (!id || strlen(id) >= sizeof(r->exec_id) ||
	    !dl_control_name_ok(id)) {
		json_decref(j);
		end(r, DL_EDOCKER, 0, "Docker's answer has no valid Id");
		return;
	}
	if (!strcmp(r->op->name, "exec")) {
		snprintf(r->exec_id, sizeof(r->exec_id), "%s", id);
		json_decref(j);
		start_exec(r);
		return;
	}
	r->tty = json_is_true(
		json_object_get(json_object_get(j, "Config"), "Tty"));
	snprintf(r->ctr, sizeof(r->ctr), "%s", id);
	json_decref(j);
	start_logs(r);
}

/* The exec instance: no stdin, no TTY, output multiplexed. */
static char *exec_body(const ereq_t *r)
{
	json_t *b = json_pack("{s:b,s:b,s:b,s:b,s:O}", "AttachStdin", 0,
			      "AttachStdout", 1, "AttachStderr", 1, "Tty", 0,
			      "Cmd", json_object_get(r->args, "cmd"));
	char *text;

	if (!b)
		return NULL;
	if (json_object_get(r->args, "env"))
		json_object_set(b, "Env", json_object_get(r->args, "env"));
	if (s_arg(r, "workdir"))
		json_object_set_new(b, "WorkingDir",
				    json_string(s_arg(r, "workdir")));
	if (s_arg(r, "user"))
		json_object_set_new(b, "User", json_string(s_arg(r, "user")));
	text = json_dumps(b, JSON_COMPACT);
	json_decref(b);
	return text;
}

/* Pull progress is informational: what the window or the tunnel
 * cannot take now is dropped, never queued. */
static void on_deploy_progress(void *ud, const char *p, size_t n)
{
	ereq_t *r = ud;
	dl_executor_t *x = r->x;

	if (r->window < (int64_t)n ||
	    x->io.queued(x->ud) >= DL_TUNNEL_SENDQ_MAX / 2)
		return;
	(void)send_chunk(r, 1, p, n);
}

static void on_deploy_done(void *ud, int status, const char *text)
{
	ereq_t *r = ud;

	r->dep = NULL;
	if (status)
		fail(r, status, text);
	else if (r->op->kind == DL_OPK_STREAM)
		end(r, 0, 0, "");
	else
		respond_text(r, 0, text);
}

static void start(ereq_t *r)
{
	static const dl_deploy_io_t deploy_io = {on_deploy_progress,
						 on_deploy_done};
	char path[PATH_MAX_];
	const char *method;
	char *body;

	r->window = DL_CONTROL_WINDOW;
	if (r->op->cls == DL_CLASS_DEPLOY) {
		r->dep = dl_deploy_start(r->x->loop, r->x->docker, r->op->name,
					 r->args, remaining_ms(r), &deploy_io,
					 r);
		if (!r->dep)
			fail(r, DL_ENOMEM, "cannot start the request");
		return;
	}
	if (r->op->kind == DL_OPK_PLAIN) {
		if (plain_call(r, &method, path, sizeof(path))) {
			respond_text(r, DL_EINVAL, "unsupported operation");
			return;
		}
		r->dreq = dl_docker_request(r->x->docker, method, path, NULL,
					    DL_MAX_BODY, remaining_ms(r),
					    on_plain, r);
		if (!r->dreq)
			respond_text(r, DL_ENOMEM, "cannot start the request");
		return;
	}
	if (!strcmp(r->op->name, "logs")) {
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/json", r->ctr);
		r->dreq = dl_docker_request(r->x->docker, "GET", path, NULL,
					    DL_MAX_BODY, remaining_ms(r),
					    on_first, r);
	} else {
		body = exec_body(r);
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/exec", r->ctr);
		r->dreq = body ? dl_docker_request(r->x->docker, "POST", path,
						   body, 65536, remaining_ms(r),
						   on_first, r)
			       : NULL;
		free(body);
	}
	if (!r->dreq)
		end(r, DL_ENOMEM, 0, "cannot start the request");
}

/* ---- public -------------------------------------------------------- */

dl_executor_t *dl_executor_new(uv_loop_t *loop, dl_docker_t *docker,
			       unsigned allow, const dl_executor_io_t *io,
			       void *ud)
{
	dl_executor_t *x = calloc(1, sizeof(*x));

	if (!x || !(x->flush = malloc(sizeof(*x->flush)))) {
		free(x);
		return NULL;
	}
	uv_timer_init(loop, x->flush);
	x->flush->data = x;
	x->loop = loop;
	x->docker = docker;
	x->allow = allow;
	x->io = *io;
	x->ud = ud;
	return x;
}

/* Checks a request; 0, or a status with a sentence in why. */
static int check(dl_executor_t *x, ereq_t *r, const dl_request_t *q, char *why,
		 size_t whylen)
{
	char op[DL_MAX_OP + 1], allowed[64];
	json_error_t jerr;

	dl_str_copy(op, sizeof(op), q->op);
	r->op = dl_control_op(op);
	if (!r->op || q->op.n != strlen(op)) {
		snprintf(why, whylen,
			 "this agent (" DL_VERSION ") has no operation \"%s\"",
			 op);
		return DL_EINVAL;
	}
	r->args =
		json_loadb(q->args.p, q->args.n, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->args) {
		snprintf(why, whylen, "%s: arguments are not valid JSON: %s",
			 op, jerr.text);
		return DL_EINVAL;
	}
	if (dl_control_validate(r->op, r->args, why, whylen))
		return DL_EINVAL;
	if (!(x->allow & r->op->cls)) {
		dl_control_policy_str(x->allow, allowed, sizeof(allowed));
		snprintf(why, whylen, "policy does not allow %s (allowed: %s)",
			 op, allowed);
		return DL_EPERM;
	}
	if (r->op->container)
		snprintf(r->ctr, sizeof(r->ctr), "%s",
			 json_string_value(
				 json_object_get(r->args, "container")));
	return 0;
}

void dl_executor_request(dl_executor_t *x, const dl_request_t *q)
{
	ereq_t *r;
	char why[1024];
	int rc;

	if (!x)
		return;

	if (find(x, q->id)) {
		DL_LOG_WARN(TAG, "request %u is already running; ignored",
			    q->id);
		return;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		DL_LOG_ERROR(TAG, "request %u: out of memory", q->id);
		return;
	}
	r->x = x;
	r->id = q->id;
	r->next = x->reqs;
	x->reqs = r;
	x->n++;
	r->timeout_ms = q->timeout_ms;
	if (q->timeout_ms)
		r->deadline_ns = dl_clock_mono_ns() +
				 (uint64_t)q->timeout_ms * 1000000ull;
	rc = x->n > DL_EXECUTOR_MAX ? DL_EBUSY
				    : check(x, r, q, why, sizeof(why));
	if (rc == DL_EBUSY)
		snprintf(why, sizeof(why),
			 "%d control requests are already running here; try "
			 "again",
			 DL_EXECUTOR_MAX);
	if (rc) {
		DL_LOG_INFO(TAG, "request %u refused: %s", q->id, why);
		fail(r, rc, why);
		return;
	}
	DL_LOG_DEBUG(TAG, "request %u: %s %s", r->id, r->op->name, r->ctr);
	start(r);
}

/* Aborts r's Docker call without answering, and frees it. */
static void drop(ereq_t *r)
{
	r->cancelled = true;
	if (r->dreq)
		dl_docker_cancel(r->dreq);
	/* A recreate half done goes on to its end (or its rollback). */
	dl_deploy_detach(r->dep);
	r->dep = NULL;
	req_free(r);
}

void dl_executor_cancel(dl_executor_t *x, uint32_t id)
{
	ereq_t *r = x ? find(x, id) : NULL;

	if (!r)
		return;
	DL_LOG_DEBUG(TAG, "request %u cancelled by the collector", id);
	drop(r);
}

void dl_executor_credit(dl_executor_t *x, uint32_t id, uint32_t bytes)
{
	ereq_t *r = x ? find(x, id) : NULL;

	if (!r)
		return;
	r->window += bytes;
	if (r->window > (int64_t)DL_CONTROL_WINDOW)
		r->window =
			DL_CONTROL_WINDOW; /* a confused peer gets no more */
	if (r->wait_credit && r->window > 0 && r->dreq) {
		r->wait_credit = false;
		dl_docker_resume(r->dreq);
	}
}

void dl_executor_drain(dl_executor_t *x)
{
	ereq_t *r, *next;

	if (!x)
		return;

	for (r = x->reqs; r; r = next) {
		next = r->next;
		if (r->holding) {
			if (x->io.send(x->ud, &r->held) == DL_EFULL) {
				x->io.want_drain(x->ud);
				return;
			}
			req_free(r);
		} else if (r->ending) {
			uint32_t id = r->id;

			r->ending = false;
			/* Frees r, or waits again (want_drain). */
			end(r, r->end_status, r->end_code, r->end_text);
			if ((r = find(x, id)) && r->ending)
				return;
		} else if (r->out_n && flush_out(r) == DL_EFULL) {
			x->io.want_drain(x->ud);
			return;
		} else if (r->wait_drain && r->dreq) {
			r->wait_drain = false;
			/* May answer and free r: next was read first. */
			dl_docker_resume(r->dreq);
		}
	}
}

void dl_executor_reset(dl_executor_t *x)
{

	if (!x)
		return;
	if (x->n)
		DL_LOG_WARN(TAG,
			    "collector link lost: %zu control requests "
			    "abandoned (their outcome is not reported)",
			    x->n);
	while (x->reqs)
		drop(x->reqs);
}

size_t dl_executor_count(const dl_executor_t *x)
{
	return x ? x->n : 0;
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

void dl_executor_free(dl_executor_t *x)
{
	if (!x)
		return;
	while (x->reqs)
		drop(x->reqs);
	uv_close((uv_handle_t *)x->flush, free_handle);
	free(x);
}
