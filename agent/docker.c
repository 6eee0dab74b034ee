/* docker.c - Docker Engine API over the unix socket, libcurl multi_socket
 * inside the caller's libuv loop.
 *
 * libcurl forbids multi calls from inside its own callbacks, and user code
 * runs inside curl's write callback (stream lines). So every entry point
 * that can reach user code brackets itself with enter()/leave(): while the
 * depth is above zero, new requests wait on the list and cancelled or
 * finished ones are only marked; leave() at depth zero does the curl
 * bookkeeping (sweep) and, if dl_docker_free was called meanwhile, the
 * real free. Requests are therefore never freed under a caller's feet.
 */
#include "agent/docker.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define TAG	 "docker"
#define MAX_PATH 4096
/* Error body of a stream answered with an HTTP error, kept for the log. */
#define MAX_STREAM_ERR_BODY (64u * 1024u)
#define CONNECT_TIMEOUT_MS  5000L

typedef struct sock_ctx {
	uv_poll_t poll; /* first: the close callback frees the whole ctx */
	curl_socket_t fd;
	dl_docker_t *d;
	struct sock_ctx *prev, *next;
} sock_ctx_t;

struct dl_docker {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t *timer; /* own allocation: freed in its close callback */
	char *sock_path;
	dl_docker_req_t *reqs;
	sock_ctx_t *socks;
	unsigned depth;	   /* > 0 while user code may run above us */
	bool in_curl;	   /* inside curl_multi_socket_action */
	bool free_pending; /* dl_docker_free called, runs at depth 0 */
	char last_error[1024];
};

struct dl_docker_req {
	dl_docker_t *d;
	CURL *easy;
	struct curl_slist *hdrs;
	dl_buf_t buf; /* body, or the current line of a stream */
	size_t max_body;
	bool stream;
	bool raw;      /* body bytes go to on_data as they come */
	bool paused;   /* on_data said DL_EFULL: curl holds the bytes */
	bool added;    /* inside the multi handle */
	bool finished; /* done has run (or is running) */
	bool dropping; /* discarding the rest of an over-long line */
	int status_ok; /* stream: -1 not known yet, 0 HTTP error, 1 2xx */
	int err;       /* set by the write callback to abort */
	dl_docker_line_cb on_line;
	dl_docker_data_cb on_data;
	dl_docker_done_cb done;
	void *ud;
	dl_docker_req_t *prev, *next;
	char path[256]; /* for log lines only, may be truncated */
	char errbuf[CURL_ERROR_SIZE];
};

static void sweep(dl_docker_t *d);
static void really_free(dl_docker_t *d);

static void enter(dl_docker_t *d)
{
	d->depth++;
}

static void leave(dl_docker_t *d)
{
	if (--d->depth > 0 || d->in_curl)
		return;
	if (d->free_pending)
		really_free(d);
	else
		sweep(d);
}

const char *dl_docker_last_error(const dl_docker_t *d)
{
	return d->last_error;
}

/* ---- libuv <-> libcurl glue ------------------------------------------ */

static void free_handle(uv_handle_t *h)
{
	free(h); /* sock_ctx_t and the timer both start with the handle */
}

static void sock_close(dl_docker_t *d, sock_ctx_t *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		d->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_close((uv_handle_t *)&s->poll, free_handle);
}

static void reap(dl_docker_t *d);

static void drive(dl_docker_t *d, curl_socket_t fd, int flags)
{
	int running = 0;

	d->in_curl = true;
	curl_multi_socket_action(d->multi, fd, flags, &running);
	d->in_curl = false;
	reap(d);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	sock_ctx_t *s = (sock_ctx_t *)h;
	dl_docker_t *d = s->d;
	int flags = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	enter(d);
	drive(d, s->fd, flags);
	leave(d);
}

static void on_timeout(uv_timer_t *t)
{
	dl_docker_t *d = t->data;

	enter(d);
	drive(d, CURL_SOCKET_TIMEOUT, 0);
	leave(d);
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp,
		     void *sockp)
{
	dl_docker_t *d = userp;
	sock_ctx_t *s = sockp;
	int events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(d->multi, fd, NULL);
			sock_close(d, s);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return -1;
		if (uv_poll_init_socket(d->loop, &s->poll, fd) != 0) {
			free(s);
			return -1;
		}
		s->fd = fd;
		s->d = d;
		s->next = d->socks;
		if (d->socks)
			d->socks->prev = s;
		d->socks = s;
		curl_multi_assign(d->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	uv_poll_start(&s->poll, events, on_poll);
	return 0;
}

static int on_timer_set(CURLM *m, long ms, void *userp)
{
	dl_docker_t *d = userp;

	if (ms < 0)
		uv_timer_stop(d->timer);
	else
		uv_timer_start(d->timer, on_timeout, (uint64_t)ms, 0);
	return 0;
}

/* ---- bodies and lines ------------------------------------------------ */

static void deliver_line(dl_docker_req_t *req)
{
	size_t n = dl_buf_used(&req->buf);
	char *p = (char *)dl_buf_head(&req->buf);

	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n > 0) {
		/* NUL after the line; fits: the cap is MAX_LINE + 1. */
		req->buf.len = req->buf.off + n;
		if (dl_buf_append(&req->buf, "", 1) == 0)
			req->on_line(req->ud,
				     (const char *)dl_buf_head(&req->buf), n);
	}
	dl_buf_reset(&req->buf);
}

static void feed_lines(dl_docker_req_t *req, const char *p, size_t n)
{
	while (n > 0 && !req->finished) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) : n;

		if (req->dropping) {
			req->dropping = nl == NULL;
		} else if (dl_buf_used(&req->buf) + seg > DL_DOCKER_MAX_LINE ||
			   dl_buf_append(&req->buf, p, seg) != 0) {
			/* One bad line must not end the stream: skip it. */
			DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
				  "%s: line longer than %u bytes dropped",
				  req->path, DL_DOCKER_MAX_LINE);
			dl_buf_reset(&req->buf);
			req->dropping = nl == NULL;
		} else if (nl) {
			deliver_line(req);
		}
		seg += nl ? 1 : 0;
		p += seg;
		n -= seg;
	}
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	dl_docker_req_t *req = arg;
	size_t n = size * nmemb;

	if (req->finished || req->d->free_pending)
		return 0; /* aborts the transfer */
	if ((req->stream || req->raw) && req->status_ok < 0) {
		long st = 0;

		curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &st);
		req->status_ok = st >= 200 && st < 300;
		if (!req->status_ok) {
			dl_buf_free(&req->buf);
			dl_buf_init(&req->buf, MAX_STREAM_ERR_BODY + 1);
		}
	}
	if (req->raw && req->status_ok) {
		/* All or nothing: a paused chunk comes again on resume. */
		if (req->on_data(req->ud, p, n) == DL_EFULL && !req->finished) {
			req->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		return req->finished ? 0 : n;
	}
	if (req->stream && req->status_ok) {
		feed_lines(req, p, n);
		return req->finished ? 0 : n;
	}
	if ((req->stream || req->raw) &&
	    dl_buf_used(&req->buf) + n > MAX_STREAM_ERR_BODY)
		return n; /* error body of a stream: keep the start only */
	if (dl_buf_used(&req->buf) + n > req->max_body) {
		req->err = DL_ETOOBIG;
		return 0;
	}
	if (dl_buf_append(&req->buf, p, n) != 0) {
		req->err = DL_ENOMEM;
		return 0;
	}
	return n;
}

/* ---- completion ------------------------------------------------------ */

static int map_curl(dl_docker_req_t *req, CURLcode rc)
{
	dl_docker_t *d = req->d;
	const char *why = req->errbuf[0] ? req->errbuf : curl_easy_strerror(rc);
	int err;

	if (req->err == DL_ETOOBIG) {
		snprintf(d->last_error, sizeof(d->last_error),
			 "Docker response to %s exceeds %zu bytes", req->path,
			 req->max_body);
		err = DL_ETOOBIG;
	} else if (req->err) {
		snprintf(d->last_error, sizeof(d->last_error),
			 "Docker request %s failed: %s", req->path,
			 dl_strerror(req->err));
		err = req->err;
	} else if (rc == CURLE_COULDNT_CONNECT) {
		snprintf(d->last_error, sizeof(d->last_error),
			 "cannot connect to Docker at %s: %s", d->sock_path,
			 why);
		err = DL_ECONNREFUSED;
	} else {
		switch (rc) {
		case CURLE_OPERATION_TIMEDOUT: err = DL_ETIMEDOUT; break;
		case CURLE_OUT_OF_MEMORY: err = DL_ENOMEM; break;
		case CURLE_GOT_NOTHING:
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
		case CURLE_PARTIAL_FILE: err = DL_ECLOSED; break;
		default: err = DL_EDOCKER; break;
		}
		snprintf(d->last_error, sizeof(d->last_error),
			 "Docker request %s at %s failed: %s", req->path,
			 d->sock_path, why);
	}
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG, "%s", d->last_error);
	return err;
}

static void complete(dl_docker_req_t *req, CURLcode rc)
{
	long status = 0;
	int err = 0;
	const char *body = NULL;
	size_t len = 0;

	if (req->finished)
		return; /* cancelled: done already ran */
	req->finished = true;
	curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK || req->err)
		err = map_curl(req, rc);
	if (err == 0 && req->stream && req->status_ok == 1 && !req->dropping &&
	    dl_buf_used(&req->buf) > 0)
		deliver_line(req); /* last line without a newline */
	if (err == 0 && req->stream && req->status_ok != 1 &&
	    dl_buf_append(&req->buf, "", 1) == 0) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "Docker answered %ld to %s: %.300s", status,
			  req->path, (const char *)dl_buf_head(&req->buf));
		req->buf.len--; /* the NUL again below, for a raw error */
	}
	if (err == 0 && (!req->stream || req->status_ok == 0)) {
		/* NUL-terminate: the cap is max_body + 1 for this byte. */
		len = dl_buf_used(&req->buf);
		if (dl_buf_append(&req->buf, "", 1) == 0)
			body = (const char *)dl_buf_head(&req->buf);
		else
			body = "";
	}
	req->done(req->ud, err, status, body, len);
}

/* Takes finished transfers out of curl and runs their callbacks. */
static void reap(dl_docker_t *d)
{
	CURLMsg *m;
	int left;

	while (!d->free_pending &&
	       (m = curl_multi_info_read(d->multi, &left)) != NULL) {
		char *priv = NULL;
		dl_docker_req_t *req;
		CURL *e = m->easy_handle;
		CURLcode rc = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
		req = (dl_docker_req_t *)priv;
		curl_multi_remove_handle(d->multi, e);
		if (req) {
			req->added = false;
			complete(req, rc);
		}
	}
}

static void req_free(dl_docker_req_t *req)
{
	curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->hdrs);
	dl_buf_free(&req->buf);
	free(req);
}

static void unlink_req(dl_docker_t *d, dl_docker_req_t *req)
{
	if (req->prev)
		req->prev->next = req->next;
	else
		d->reqs = req->next;
	if (req->next)
		req->next->prev = req->prev;
}

/* Depth 0 only: frees finished requests, starts queued ones. */
static void sweep(dl_docker_t *d)
{
	dl_docker_req_t *req, *next;

again:
	for (req = d->reqs; req; req = next) {
		next = req->next;
		if (req->finished) {
			if (req->added)
				curl_multi_remove_handle(d->multi, req->easy);
			unlink_req(d, req);
			req_free(req);
		} else if (!req->added) {
			if (curl_multi_add_handle(d->multi, req->easy) ==
			    CURLM_OK) {
				req->added = true;
				continue;
			}
			snprintf(d->last_error, sizeof(d->last_error),
				 "Docker request %s: cannot start transfer",
				 req->path);
			/* The callback may change the list: rescan after. */
			d->depth++;
			req->finished = true;
			req->done(req->ud, DL_ENOMEM, 0, NULL, 0);
			d->depth--;
			if (d->free_pending) {
				really_free(d);
				return;
			}
			goto again;
		}
	}
}

/* ---- public API ------------------------------------------------------ */

dl_docker_t *dl_docker_new(uv_loop_t *loop, const char *socket_path)
{
	dl_docker_t *d = NULL;

	if (!loop || !socket_path || !*socket_path ||
	    strlen(socket_path) >= 108 /* sun_path */)
		return NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto fail;
	d->loop = loop;
	d->sock_path = strdup(socket_path);
	d->timer = calloc(1, sizeof(*d->timer));
	d->multi = curl_multi_init();
	if (!d->sock_path || !d->timer || !d->multi)
		goto fail;
	uv_timer_init(loop, d->timer);
	d->timer->data = d;
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer_set);
	curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
	return d;
fail:
	if (d) {
		if (d->multi)
			curl_multi_cleanup(d->multi);
		free(d->timer); /* never initialised on this path */
		free(d->sock_path);
		free(d);
	}
	curl_global_cleanup();
	return NULL;
}

static void really_free(dl_docker_t *d)
{
	dl_docker_req_t *req, *next;

	for (req = d->reqs; req; req = next) {
		next = req->next;
		if (req->added)
			curl_multi_remove_handle(d->multi, req->easy);
		req_free(req);
	}
	d->reqs = NULL;
	curl_multi_cleanup(d->multi);
	while (d->socks)
		sock_close(d, d->socks);
	uv_close((uv_handle_t *)d->timer, free_handle);
	free(d->sock_path);
	free(d);
	curl_global_cleanup();
}

void dl_docker_free(dl_docker_t *d)
{
	dl_docker_req_t *req;

	if (!d || d->free_pending)
		return;
	d->free_pending = true;
	enter(d);
	/* Nothing is freed while depth > 0, so walking the list is safe even
	 * if a callback cancels other requests; new ones are refused. */
	for (req = d->reqs; req; req = req->next) {
		if (req->finished)
			continue;
		req->finished = true;
		req->done(req->ud, DL_ECLOSED, 0, NULL, 0);
	}
	leave(d);
}

static bool path_ok(const char *path)
{
	size_t i;

	if (!path || path[0] != '/')
		return false;
	for (i = 0; path[i]; i++) {
		if (i >= MAX_PATH || path[i] <= 0x20 || path[i] >= 0x7f)
			return false;
	}
	return true;
}

static int set_method(dl_docker_req_t *req, const char *method,
		      const char *json_body)
{
	CURL *e = req->easy;
	size_t blen = json_body ? strlen(json_body) : 0;

	if (strcmp(method, "GET") == 0 && !json_body)
		return 0;
	if (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0 &&
	    strcmp(method, "DELETE") != 0)
		return DL_EINVAL;
	if (blen > DL_DOCKER_MAX_BODY)
		return DL_ETOOBIG;
	if (strcmp(method, "POST") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "DELETE") == 0 && !json_body)
		return 0;
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)blen);
	curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, json_body ? json_body : "");
	if (json_body) {
		req->hdrs = curl_slist_append(req->hdrs,
					      "Content-Type: application/json");
		if (!req->hdrs)
			return DL_ENOMEM;
	}
	return 0;
}

static dl_docker_req_t *req_new(dl_docker_t *d, const char *method,
				const char *path, const char *json_body,
				size_t max_body, long timeout_ms,
				dl_docker_done_cb done, void *ud)
{
	char url[MAX_PATH + 32];
	dl_docker_req_t *req;
	struct curl_slist *h;

	if (!d || d->free_pending || !method || !done || !path_ok(path) ||
	    timeout_ms < 0)
		return NULL;
	req = calloc(1, sizeof(*req));
	if (!req)
		return NULL;
	req->d = d;
	req->done = done;
	req->ud = ud;
	req->status_ok = -1;
	req->max_body = max_body == 0 || max_body > DL_DOCKER_MAX_BODY
				? DL_DOCKER_MAX_BODY
				: max_body;
	snprintf(req->path, sizeof(req->path), "%s", path);
	snprintf(url, sizeof(url), "http://docker%s", path);
	req->easy = curl_easy_init();
	/* "Expect:" stops curl waiting for a 100-continue dockerd never sends. */
	req->hdrs = curl_slist_append(NULL, "Expect:");
	if (!req->easy || !req->hdrs)
		goto fail;
	if (set_method(req, method, json_body) != 0)
		goto fail;
	h = req->hdrs;
	curl_easy_setopt(req->easy, CURLOPT_URL, url);
	curl_easy_setopt(req->easy, CURLOPT_UNIX_SOCKET_PATH, d->sock_path);
	curl_easy_setopt(req->easy, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(req->easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(req->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(req->easy, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(req->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(req->easy, CURLOPT_WRITEDATA, req);
	curl_easy_setopt(req->easy, CURLOPT_PRIVATE, (char *)req);
	curl_easy_setopt(req->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 CONNECT_TIMEOUT_MS);
	if (timeout_ms > 0)
		curl_easy_setopt(req->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
	/* +1: room for the NUL handed to callbacks. */
	dl_buf_init(&req->buf, req->max_body + 1);
	return req;
fail:
	if (req->easy)
		curl_easy_cleanup(req->easy);
	curl_slist_free_all(req->hdrs);
	free(req);
	return NULL;
}

static dl_docker_req_t *req_start(dl_docker_t *d, dl_docker_req_t *req)
{
	req->next = d->reqs;
	if (d->reqs)
		d->reqs->prev = req;
	d->reqs = req;
	if (d->depth > 0)
		return req; /* sweep adds it when the stack unwinds */
	if (curl_multi_add_handle(d->multi, req->easy) != CURLM_OK) {
		unlink_req(d, req);
		req_free(req);
		return NULL;
	}
	req->added = true;
	return req;
}

dl_docker_req_t *dl_docker_request(dl_docker_t *d, const char *method,
				   const char *path, const char *json_body,
				   size_t max_body, long timeout_ms,
				   dl_docker_done_cb done, void *ud)
{
	dl_docker_req_t *req = req_new(d, method, path, json_body, max_body,
				       timeout_ms, done, ud);

	return req ? req_start(d, req) : NULL;
}

dl_docker_req_t *dl_docker_stream(dl_docker_t *d, const char *path,
				  dl_docker_line_cb on_line,
				  dl_docker_done_cb done, void *ud)
{
	dl_docker_req_t *req;

	if (!on_line)
		return NULL;
	req = req_new(d, "GET", path, NULL, DL_DOCKER_MAX_LINE, 0, done, ud);
	if (!req)
		return NULL;
	req->stream = true;
	req->on_line = on_line;
	return req_start(d, req);
}

void dl_docker_cancel(dl_docker_req_t *req)
{
	dl_docker_t *d;

	if (!req || req->finished)
		return;
	d = req->d;
	enter(d);
	req->finished = true;
	req->done(req->ud, DL_ECLOSED, 0, NULL, 0);
	leave(d);
}

dl_docker_req_t *dl_docker_raw(dl_docker_t *d, const char *method,
			       const char *path, const char *json_body,
			       long timeout_ms, dl_docker_data_cb on_data,
			       dl_docker_done_cb done, void *ud)
{
	return dl_docker_raw_hdr(d, method, path, json_body, NULL, timeout_ms,
				 on_data, done, ud);
}

dl_docker_req_t *dl_docker_raw_hdr(dl_docker_t *d, const char *method,
				   const char *path, const char *json_body,
				   const char *header, long timeout_ms,
				   dl_docker_data_cb on_data,
				   dl_docker_done_cb done, void *ud)
{
	dl_docker_req_t *req;
	struct curl_slist *h;

	if (!on_data)
		return NULL;
	/* The buffer only ever holds an error body. */
	req = req_new(d, method, path, json_body, MAX_STREAM_ERR_BODY,
		      timeout_ms, done, ud);
	if (!req)
		return NULL;
	if (header) {
		/* The list head stays the same: CURLOPT_HTTPHEADER holds it. */
		if (!(h = curl_slist_append(req->hdrs, header))) {
			req_free(req);
			return NULL;
		}
		req->hdrs = h;
	}
	req->raw = true;
	req->on_data = on_data;
	/* exec start hijacks the connection; logs may be cut mid-body: a
	 * stream gets a connection of its own and never returns it to the
	 * pool (so a cancel closes exactly that connection). */
	curl_easy_setopt(req->easy, CURLOPT_FRESH_CONNECT, 1L);
	curl_easy_setopt(req->easy, CURLOPT_FORBID_REUSE, 1L);
	return req_start(d, req);
}

void dl_docker_resume(dl_docker_req_t *req)
{
	dl_docker_t *d;

	if (!req || req->finished || !req->paused || !req->added)
		return;
	d = req->d;
	req->paused = false;
	/* curl may hand over the held bytes from inside this call. */
	enter(d);
	curl_easy_pause(req->easy, CURLPAUSE_CONT);
	leave(d);
}
