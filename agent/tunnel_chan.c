/* tunnel_chan.c - the open channel: the send queue flushed to
 * libssh2 (partial writes resumed with the same bytes), stdout read to
 * on_data and stderr to the log under a per-turn budget, the collector's
 * EOF and exit status, and the SSH keepalive that keeps NAT state. */
#include <errno.h>
#include <libssh2.h>
#include <poll.h>
#include <string.h>

#include "agent/tunnel.h"
#include "agent/tunnel_int.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "tunnel"

#define READ_BUDGET (64u) /* chunks per loop turn before yielding */
#define WRITE_CHUNK (256u * 1024u)

static int ssh_blocked_out(dl_tunnel_t *t)
{
	return (libssh2_session_block_directions(t->session) &
		LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
}

/* ---- the open channel ------------------------------------------------------ */

/* errno is saved by the caller right after the libssh2 call: libssh2
 * reports socket failures without the system error behind them. */
static int io_error(dl_tunnel_t *t, int rc, int syserr, const char *what)
{
	/* libssh2 1.10 reports a clean EOF from recv() as SOCKET_RECV. */
	if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    (rc == LIBSSH2_ERROR_SOCKET_RECV && syserr == 0)) {
		dl_tunnel__set_why(t, "collector %s closed the connection",
				   t->peer);
		return DL_ECLOSED;
	}
	if (rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_SEND) {
		dl_tunnel__set_why(
			t, "connection to collector %s lost while %s: %s",
			t->peer, what,
			syserr && syserr != EAGAIN ? strerror(syserr)
						   : dl_tunnel__ssh_msg(t));
		return syserr == ECONNRESET || syserr == EPIPE ? DL_ECLOSED
							       : DL_EIO;
	}
	dl_tunnel__set_why(t, "%s on the connection to collector %s failed: %s",
			   what, t->peer, dl_tunnel__ssh_msg(t));
	return DL_ESSH;
}

/* Writes from the head of the queue; EAGAIN leaves the bytes in place so
 * the retry passes the same ones (libssh2 may already have sent part). */
static int flush(dl_tunnel_t *t)
{
	unsigned gen = t->gen;

	while (dl_buf_used(&t->sendq)) {
		size_t n = dl_buf_used(&t->sendq);
		ssize_t rc;

		if (n > WRITE_CHUNK)
			n = WRITE_CHUNK;
		errno = 0;
		rc = libssh2_channel_write(
			t->channel, (const char *)dl_buf_head(&t->sendq), n);
		if (rc > 0) {
			t->pend = PEND_NONE;
			dl_buf_consume(&t->sendq, (size_t)rc);
			continue;
		}
		if (rc == 0)
			break; /* window closed; a read will reopen it */
		if (rc != LIBSSH2_ERROR_EAGAIN)
			return io_error(t, (int)rc, errno, "writing");
		if (ssh_blocked_out(t))
			t->pend = PEND_WRITE;
		break;
	}
	if (t->was_full && dl_buf_used(&t->sendq) < DL_TUNNEL_SENDQ_MAX / 2) {
		t->was_full = 0;
		if (t->cbs.on_drain)
			t->cbs.on_drain(t->ud);
		if (gen != t->gen)
			return DL_ECLOSED;
	}
	return 0;
}

static void log_stderr(dl_tunnel_t *t, const uint8_t *p, size_t n)
{
	while (n && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n > 400)
		n = 400;
	if (n)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG, "collector %s says: %.*s",
			  t->peer, (int)n, (const char *)p);
}

/* Reads one stream until libssh2 has nothing more; 1 when the budget ran
 * out with data possibly left inside libssh2. */
static int read_stream(dl_tunnel_t *t, int stream)
{
	unsigned gen = t->gen;

	for (unsigned i = 0; i < READ_BUDGET; i++) {
		ssize_t rc;

		errno = 0;
		rc = libssh2_channel_read_ex(t->channel, stream,
					     (char *)t->rbuf, sizeof(t->rbuf));

		if (rc > 0) {
			t->pend = PEND_NONE;
			if (stream == 0 && t->cbs.on_data)
				t->cbs.on_data(t->ud, t->rbuf, (size_t)rc);
			else if (stream != 0)
				log_stderr(t, t->rbuf, (size_t)rc);
			if (gen != t->gen)
				return DL_ECLOSED;
			continue;
		}
		if (rc == 0)
			return 0;
		if (rc != LIBSSH2_ERROR_EAGAIN)
			return io_error(t, (int)rc, errno, "reading");
		/* A window adjust went out only in part: resume it first. */
		if (ssh_blocked_out(t))
			t->pend = stream ? PEND_READ_ERR : PEND_READ;
		return 0;
	}
	return 1;
}

static void kick_cb(uv_timer_t *h)
{
	dl_tunnel__drive(h->data);
}

/* One turn of the open channel: resume a half-sent packet, then write,
 * then read everything libssh2 has (reads after writes matter: the write
 * path may pull channel data into libssh2 that the socket will never
 * announce again). */
int dl_tunnel__pump(dl_tunnel_t *t)
{
	int rc, more = 0;

	for (;;) {
		if (t->pend == PEND_READ || t->pend == PEND_READ_ERR) {
			rc = read_stream(t, t->pend == PEND_READ
						    ? 0
						    : SSH_EXTENDED_DATA_STDERR);
			if (rc < 0 || t->pend)
				return rc < 0 ? rc : DL_EAGAIN;
		}
		rc = flush(t);
		if (rc < 0 || t->pend)
			return rc < 0 ? rc : DL_EAGAIN;
		rc = read_stream(t, 0);
		if (rc < 0 || t->pend)
			return rc < 0 ? rc : DL_EAGAIN;
		more |= rc;
		rc = read_stream(t, SSH_EXTENDED_DATA_STDERR);
		if (rc < 0 || t->pend)
			return rc < 0 ? rc : DL_EAGAIN;
		more |= rc;
		if (more)
			break;
		/* The reads may have brought a window adjust: write again. */
		if (!dl_buf_used(&t->sendq) ||
		    libssh2_channel_window_write(t->channel) == 0)
			break;
	}
	if (more) { /* yield to the loop, come back at once */
		uv_timer_start(&t->kick, kick_cb, 0, 0);
		return DL_EAGAIN;
	}
	if (libssh2_channel_eof(t->channel)) {
		int status = libssh2_channel_get_exit_status(t->channel);

		if (status)
			dl_tunnel__set_why(t,
					   "collector closed the session (exit "
					   "status %d)",
					   status);
		else
			dl_tunnel__set_why(t, "collector closed the session");
		return DL_ECLOSED;
	}
	return DL_EAGAIN;
}

static int socket_writable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/* Keeps NAT state only. libssh2 1.10 builds the keepalive on its stack:
 * if it went out in part, no later call could finish it, so it is only
 * sent when nothing else is in flight and the socket has room. */
void dl_tunnel__keepalive_cb(uv_timer_t *h)
{
	dl_tunnel_t *t = h->data;
	int next = 0, rc;

	if (t->state != ST_UP || t->pend != PEND_NONE ||
	    dl_buf_used(&t->sendq) || !socket_writable(t->fd))
		return;
	errno = 0;
	rc = libssh2_keepalive_send(t->session, &next);
	if (rc) {
		dl_tunnel__fail(t,
				io_error(t, rc, errno, "sending a keepalive"));
		return;
	}
	if (ssh_blocked_out(t)) {
		dl_tunnel__set_why(
			t,
			"keepalive to collector %s went out in part; "
			"reconnecting",
			t->peer);
		dl_tunnel__fail(t, DL_ESSH);
	}
}
