/* upstream.c - the gateway's admin-socket connections (upstream.h). */
#include <stdlib.h>
#include <string.h>

#include "collector/http/upstream.h"
#include "common/err.h"
#include "proto/admin.h"
#include "proto/frame.h"

struct dl_upstream {
	uv_pipe_t pipe;
	uv_connect_t conn;
	uv_write_t wr;
	dl_frame_reader_t rd;
	const dl_upstream_cb_t *cb;
	void *ud;
	char *req; /* the request frame, until written */
	size_t req_len;
	bool paused;
	bool reading;
	bool closed;   /* the owner closed it: no more callbacks */
	bool pending;  /* connect or write still holds a reference */
	bool in_drain; /* drain() is on the stack */
};

static size_t open_count;
static char chunk[65536];

size_t dl_upstream_count(void)
{
	return open_count;
}

static void on_closed(uv_handle_t *h)
{
	dl_upstream_t *u = h->data;

	dl_frame_reader_free(&u->rd);
	free(u->req);
	free(u);
	open_count--;
}

static void shut(dl_upstream_t *u)
{
	if (!uv_is_closing((uv_handle_t *)&u->pipe))
		uv_close((uv_handle_t *)&u->pipe, on_closed);
}

/* serve went away (or never answered): tell the owner, once. */
static void end(dl_upstream_t *u, int err)
{
	if (!u->closed) {
		u->closed = true;
		u->cb->ended(u->ud, err);
	}
	shut(u);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

/* Hands buffered frames to the owner while it wants them. */
static void drain(dl_upstream_t *u)
{
	const uint8_t *p;
	size_t n;
	int rc;

	if (u->in_drain)
		return;
	u->in_drain = true;
	while (!u->closed && !u->paused) {
		rc = dl_frame_reader_next(&u->rd, &p, &n);
		if (rc == 0)
			break;
		if (rc < 0) {
			u->in_drain = false;
			end(u, rc);
			return;
		}
		u->cb->frame(u->ud, p, n);
	}
	u->in_drain = false;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	dl_upstream_t *u = st->data;
	int rc;

	if (nread == 0 || u->closed)
		return;
	if (nread < 0) {
		end(u, nread == UV_EOF ? DL_ECLOSED : DL_EIO);
		return;
	}
	rc = dl_frame_reader_feed(&u->rd, buf->base, (size_t)nread);
	if (rc) {
		end(u, rc);
		return;
	}
	drain(u);
	if (!u->closed && u->paused && u->reading) {
		uv_read_stop(st);
		u->reading = false;
	}
}

static void start_reading(dl_upstream_t *u)
{
	if (u->reading || u->closed || u->pending)
		return;
	if (uv_read_start((uv_stream_t *)&u->pipe, on_alloc, on_read) == 0)
		u->reading = true;
	else
		end(u, DL_EIO);
}

static void on_written(uv_write_t *w, int status)
{
	dl_upstream_t *u = w->data;

	u->pending = false;
	free(u->req);
	u->req = NULL;
	if (u->closed) {
		shut(u);
		return;
	}
	if (status) {
		end(u, DL_EIO);
		return;
	}
	if (!u->paused)
		start_reading(u);
}

static void on_connect(uv_connect_t *c, int status)
{
	dl_upstream_t *u = c->data;
	uv_buf_t b;

	if (u->closed) {
		u->pending = false;
		shut(u);
		return;
	}
	if (status) {
		u->pending = false;
		end(u, status == UV_ENOENT	   ? DL_ENOENT
		       : status == UV_ECONNREFUSED ? DL_ECONNREFUSED
						   : DL_EIO);
		return;
	}
	b = uv_buf_init(u->req, (unsigned)u->req_len);
	u->wr.data = u;
	if (uv_write(&u->wr, (uv_stream_t *)&u->pipe, &b, 1, on_written)) {
		u->pending = false;
		end(u, DL_EIO);
	}
}

dl_upstream_t *dl_upstream_open(uv_loop_t *loop, const char *path,
				const json_t *req, const dl_upstream_cb_t *cb,
				void *ud)
{
	dl_upstream_t *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->req = dl_admin_frame(req, DL_ADMIN_REQ_MAX, &u->req_len);
	if (!u->req || uv_pipe_init(loop, &u->pipe, 0)) {
		free(u->req);
		free(u);
		return NULL;
	}
	open_count++;
	u->pipe.data = u;
	u->cb = cb;
	u->ud = ud;
	dl_frame_reader_init(&u->rd, DL_ADMIN_RESP_MAX);
	u->conn.data = u;
	u->pending = true;
	uv_pipe_connect(&u->conn, &u->pipe, path, on_connect);
	return u;
}

void dl_upstream_pause(dl_upstream_t *u, bool pause)
{
	if (!u || u->closed || u->paused == pause)
		return;
	u->paused = pause;
	if (pause) {
		if (u->reading && !u->in_drain) {
			uv_read_stop((uv_stream_t *)&u->pipe);
			u->reading = false;
		}
		return;
	}
	drain(u); /* frames that arrived with the last read */
	if (!u->closed && !u->paused)
		start_reading(u);
}

void dl_upstream_close(dl_upstream_t *u)
{
	if (!u || u->closed)
		return;
	u->closed = true;
	/* A connect or write in flight still references u: its callback
	 * closes the handle. uv_close cancels them with an error anyway. */
	shut(u);
}
