/* tunnel.c - the tunnel's life: options, the public API, name
 * resolution and the non-blocking TCP connect, the poll handle, the state
 * machine that drives the SSH steps (tunnel_ssh.c) and the open channel
 * (tunnel_chan.c), and failure: teardown, backoff and the retry timer.
 * See tunnel.h. */
#include "agent/tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "agent/tunnel_int.h"
#include "common/backoff.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "tunnel"

#define DEADLINE_MS 30000u /* resolve + connect + handshake + auth + exec */
#define STABLE_MS   10000u /* up this long = healthy, backoff restarts */

struct gai_req {
	uv_getaddrinfo_t req;
	dl_tunnel_t *t;
	unsigned gen;
};

static char *dupstr(const char *s, size_t max)
{
	size_t n;
	char *p;

	if (!s)
		return NULL;
	n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return NULL;
	p = malloc(n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

void dl_tunnel__set_why(dl_tunnel_t *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
}

/* ---- handle bookkeeping ------------------------------------------------ */

static void maybe_finish(dl_tunnel_t *t)
{
	if (t->state != ST_CLOSED || t->refs > 0)
		return;
	if (t->done)
		t->done(t->done_arg);
	dl_buf_free(&t->sendq);
	free(t->host);
	free(t->user);
	free(t->identity);
	free(t->known_hosts);
	free(t->command);
	free(t);
}

static void handle_closed(uv_handle_t *h)
{
	dl_tunnel_t *t = h->data;

	t->refs--;
	maybe_finish(t);
}

static void poll_closed(uv_handle_t *h)
{
	dl_tunnel_t *t = h->data;

	free(h);
	t->refs--;
	maybe_finish(t);
}

/* Stops watching and closes the socket; libuv stops polling the fd
 * synchronously in uv_close, so closing the fd right after is safe. */
static void close_socket(dl_tunnel_t *t)
{
	if (t->poll) {
		uv_close((uv_handle_t *)t->poll, poll_closed);
		t->poll = NULL;
	}
	if (t->fd >= 0) {
		close(t->fd);
		t->fd = -1;
	}
	t->ev = 0;
}

static void free_session(dl_tunnel_t *t)
{
	int rc;

	if (!t->session)
		return;
	if (t->state > ST_HANDSHAKE) /* best effort, never waited for */
		libssh2_session_disconnect(t->session,
					   "dockline agent reconnecting");
	/* With both directions shut, libssh2's channel close cannot return
	 * EAGAIN (reads see EOF, sends fail), so session_free really frees
	 * everything instead of asking to be called again. */
	if (t->fd >= 0)
		shutdown(t->fd, SHUT_RDWR);
	if (t->kh)
		libssh2_knownhost_free(t->kh);
	t->kh = NULL;
	rc = libssh2_session_free(t->session);
	if (rc)
		DL_LOG_WARN(TAG, "libssh2_session_free returned %d", rc);
	t->session = NULL;
	t->channel = NULL;
}

/* Drops everything that belongs to one connection attempt. */
static void teardown(dl_tunnel_t *t)
{
	free_session(t);
	close_socket(t);
	if (t->ai) {
		uv_freeaddrinfo(t->ai);
		t->ai = t->ai_next = NULL;
	}
	if (t->gai) { /* its callback sees the gen change and drops the answer */
		uv_cancel((uv_req_t *)&t->gai->req);
		t->gai = NULL;
	}
	uv_timer_stop(&t->deadline);
	uv_timer_stop(&t->keepalive);
	uv_timer_stop(&t->kick);
	/* Queued bytes may end mid-frame; the new session starts clean and
	 * the outbox resends from the collector's last ack. */
	dl_buf_free(&t->sendq);
	t->was_full = 0;
	t->pend = PEND_NONE;
	t->gen++;
	if (t->state != ST_CLOSED)
		t->state = ST_IDLE;
}

/* ---- failure and retry ------------------------------------------------- */

static void retry_cb(uv_timer_t *h)
{
	dl_tunnel_t *t = h->data;

	if (t->state == ST_IDLE)
		dl_tunnel_start(t);
}

/* Tears down, schedules the next attempt and tells the owner. The reason
 * is in t->why; the callback may reset, write or close the tunnel. */
void dl_tunnel__fail(dl_tunnel_t *t, int err)
{
	char reason[REASON_MAX];
	uint64_t delay;

	if (t->state == ST_CLOSED || t->state == ST_IDLE)
		return;
	memcpy(reason, t->why, sizeof(reason));
	/* Only a session that stayed up restarts the backoff: a collector
	 * that accepts and at once exits must not be hammered every second. */
	if (t->state == ST_UP && uv_now(t->loop) - t->up_ms >= STABLE_MS)
		dl_backoff_reset(&t->backoff);
	if (t->next_delay != UINT64_MAX) {
		delay = t->next_delay;
		t->next_delay = UINT64_MAX;
		dl_backoff_next(&t->backoff); /* a failure all the same */
	} else {
		delay = dl_backoff_next(&t->backoff);
		/* The whole fleet lost this collector at the same moment. */
		if (t->state == ST_UP)
			delay += dl_backoff_jitter(&t->backoff, t->spread_ms);
	}
	teardown(t);
	uv_timer_start(&t->retry, retry_cb, delay, 0);
	if (err == DL_EHOSTKEY || err == DL_EAUTH || err == DL_ECONFIG)
		DL_LOG_ERROR(TAG, "%s; retrying in %llu ms", reason,
			     (unsigned long long)delay);
	else
		DL_LOG_WARN(TAG, "%s; retrying in %llu ms", reason,
			    (unsigned long long)delay);
	if (t->cbs.on_down)
		t->cbs.on_down(t->ud, err, reason, delay);
}

static void deadline_cb(uv_timer_t *h)
{
	dl_tunnel_t *t = h->data;
	static const char *stage[] = {
		[ST_RESOLVING] = "name resolution",
		[ST_CONNECTING] = "the TCP connect",
		[ST_HANDSHAKE] = "the SSH handshake",
		[ST_AUTH] = "authentication",
		[ST_OPEN] = "opening the channel",
		[ST_EXEC] = "the exec request",
	};

	if (t->state < ST_RESOLVING || t->state > ST_EXEC)
		return;
	dl_tunnel__set_why(t, "collector %s:%u did not finish %s within %u s",
			   t->host, (unsigned)t->port, stage[t->state],
			   DEADLINE_MS / 1000);
	dl_tunnel__fail(t, DL_ETIMEDOUT);
}

/* ---- poll handle -------------------------------------------------------- */

static void poll_cb(uv_poll_t *h, int status, int events);

static void want(dl_tunnel_t *t, int ev)
{
	if (!t->poll || ev == t->ev)
		return;
	t->ev = ev;
	if (ev)
		uv_poll_start(t->poll, ev, poll_cb);
	else
		uv_poll_stop(t->poll);
}

/* Picks the events the next step needs. While a partial packet is pending
 * only its direction is watched, so a readable socket cannot spin us. */
static void update_poll(dl_tunnel_t *t)
{
	int dirs, ev = 0;

	if (!t->session)
		return;
	dirs = libssh2_session_block_directions(t->session);
	if (dirs & LIBSSH2_SESSION_BLOCK_INBOUND)
		ev |= UV_READABLE;
	if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		ev |= UV_WRITABLE;
	if (t->state == ST_UP && t->pend == PEND_NONE) {
		/* Always read: libssh2 must see window adjusts and EOF. */
		ev |= UV_READABLE;
		if (dl_buf_used(&t->sendq) &&
		    libssh2_channel_window_write(t->channel) > 0)
			ev |= UV_WRITABLE;
	}
	if (!ev)
		ev = UV_READABLE;
	want(t, ev);
}

/* ---- connect ------------------------------------------------------------ */

static void format_peer(dl_tunnel_t *t, const struct addrinfo *ai)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	const void *a = NULL;

	if (ai->ai_family == AF_INET)
		a = &((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
	else if (ai->ai_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
	if (a)
		inet_ntop(ai->ai_family, a, ip, sizeof(ip));
	snprintf(t->peer, sizeof(t->peer),
		 ai->ai_family == AF_INET6 ? "[%s]:%u" : "%s:%u", ip,
		 (unsigned)t->port);
}

/* Starts a non-blocking connect to the next address; 0 when one is in
 * progress, else the failure is in t->why. */
static int connect_next(dl_tunnel_t *t)
{
	while (t->ai_next) {
		struct addrinfo *ai = t->ai_next;
		int fd, rc;

		t->ai_next = ai->ai_next;
		format_peer(t, ai);
		fd = socket(ai->ai_family,
			    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			t->last_errno = errno;
			continue;
		}
		/* Frames are small and often answer each other (PING/PONG,
		 * control replies): Nagle plus delayed ACK would add 40 ms
		 * stalls. */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1},
			   sizeof(int));
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (rc < 0 && errno != EINPROGRESS) {
			t->last_errno = errno;
			close(fd);
			continue;
		}
		t->poll = malloc(sizeof(*t->poll));
		if (!t->poll || uv_poll_init_socket(t->loop, t->poll, fd)) {
			free(t->poll);
			t->poll = NULL;
			close(fd);
			dl_tunnel__set_why(
				t, "cannot watch the socket to collector %s",
				t->peer);
			return DL_ENOMEM;
		}
		t->poll->data = t;
		t->refs++;
		t->fd = fd;
		t->state = ST_CONNECTING;
		t->ev = 0;
		want(t, UV_WRITABLE);
		return 0;
	}
	if (t->last_errno == ECONNREFUSED) {
		dl_tunnel__set_why(t, "connection to %s refused", t->peer);
		return DL_ECONNREFUSED;
	}
	dl_tunnel__set_why(t, "cannot connect to collector %s: %s", t->peer,
			   strerror(t->last_errno ? t->last_errno : EIO));
	return t->last_errno == ETIMEDOUT ? DL_ETIMEDOUT : DL_EIO;
}

static void gai_cb(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct gai_req *g = (struct gai_req *)req;
	dl_tunnel_t *t = g->t;
	int rc;

	t->refs--;
	if (g->gen != t->gen || t->state != ST_RESOLVING) {
		if (res)
			uv_freeaddrinfo(res);
		free(g);
		maybe_finish(t);
		return;
	}
	free(g);
	t->gai = NULL;
	if (status < 0) {
		dl_tunnel__set_why(t, "cannot resolve %s: %s", t->host,
				   uv_strerror(status));
		dl_tunnel__fail(t, DL_EDNS);
		return;
	}
	t->ai = t->ai_next = res;
	t->last_errno = 0;
	rc = connect_next(t);
	if (rc)
		dl_tunnel__fail(t, rc);
}

static void on_connected(dl_tunnel_t *t)
{
	int err = 0, rc;
	socklen_t len = sizeof(err);

	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err) {
		t->last_errno = err;
		DL_LOG_DEBUG(TAG, "connect to %s: %s", t->peer, strerror(err));
		close_socket(t);
		rc = connect_next(t);
		if (rc)
			dl_tunnel__fail(t, rc);
		return;
	}
	DL_LOG_DEBUG(TAG, "connected to %s", t->peer);
	rc = dl_tunnel__start_session(t);
	if (rc) {
		dl_tunnel__fail(t, rc);
		return;
	}
	dl_tunnel__drive(t);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	dl_tunnel_t *t = h->data;

	if (status < 0 && t->state != ST_CONNECTING) {
		dl_tunnel__set_why(
			t, "socket error on the connection to collector %s: %s",
			t->peer, uv_strerror(status));
		dl_tunnel__fail(t, DL_EIO);
		return;
	}
	if (t->state == ST_CONNECTING)
		on_connected(t);
	else
		dl_tunnel__drive(t);
}

/* ---- the state machine ------------------------------------------------ */

void dl_tunnel__drive(dl_tunnel_t *t)
{
	unsigned gen = t->gen;
	int rc;

	for (;;) {
		switch (t->state) {
		case ST_HANDSHAKE: rc = dl_tunnel__handshake(t); break;
		case ST_AUTH: rc = dl_tunnel__auth(t); break;
		case ST_OPEN: rc = dl_tunnel__open(t); break;
		case ST_EXEC: rc = dl_tunnel__exec(t); break;
		case ST_UP: rc = dl_tunnel__pump(t); break;
		default: return;
		}
		if (gen != t->gen)
			return; /* a callback reset or closed the tunnel */
		if (rc == DL_EAGAIN)
			break;
		if (rc < 0) {
			dl_tunnel__fail(t, rc);
			return;
		}
	}
	update_poll(t);
}

/* ---- public API ------------------------------------------------------------ */

dl_tunnel_t *dl_tunnel_new(uv_loop_t *loop, const dl_tunnel_opts_t *opts,
			   const dl_tunnel_cbs_t *cbs, void *ud)
{
	static int ssh_ready;
	dl_tunnel_t *t;
	uint64_t lo, hi;
	int rc;

	if (!ssh_ready) {
		rc = libssh2_init(0);
		if (rc) {
			DL_LOG_ERROR(TAG, "libssh2_init failed (%d)", rc);
			return NULL;
		}
		ssh_ready = 1;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->loop = loop;
	if (cbs)
		t->cbs = *cbs;
	t->ud = ud;
	t->fd = -1;
	t->next_delay = UINT64_MAX;
	t->port = opts->port ? opts->port : 22;
	t->host = dupstr(opts->host, 255);
	t->user = dupstr(opts->user, 255);
	t->identity = dupstr(opts->identity, 4095);
	t->known_hosts = dupstr(opts->known_hosts, 4095);
	t->command = dupstr(opts->command, 4095);
	if (!t->host || !t->user || !t->identity || !t->known_hosts ||
	    !t->command) {
		DL_LOG_ERROR(TAG, "tunnel options incomplete or too long");
		goto fail;
	}
	if (t->port == 22)
		snprintf(t->kh_name, sizeof(t->kh_name), "%s", t->host);
	else
		snprintf(t->kh_name, sizeof(t->kh_name), "[%s]:%u", t->host,
			 (unsigned)t->port);
	lo = opts->backoff_min_ms ? opts->backoff_min_ms : 1000;
	hi = opts->backoff_max_ms ? opts->backoff_max_ms : 60000;
	dl_backoff_init(&t->backoff, lo, hi,
			(uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
				(uint64_t)(uintptr_t)t);
	dl_buf_init(&t->sendq, DL_TUNNEL_SENDQ_MAX);
	uv_timer_init(loop, &t->retry);
	uv_timer_init(loop, &t->deadline);
	uv_timer_init(loop, &t->keepalive);
	uv_timer_init(loop, &t->kick);
	t->retry.data = t->deadline.data = t->keepalive.data = t;
	t->kick.data = t;
	t->refs = 4;
	return t;
fail:
	free(t->host);
	free(t->user);
	free(t->identity);
	free(t->known_hosts);
	free(t->command);
	free(t);
	return NULL;
}

int dl_tunnel_start(dl_tunnel_t *t)
{
	struct addrinfo hints;
	char port[8];
	struct gai_req *g;
	int rc;

	if (t->state != ST_IDLE)
		return t->state == ST_CLOSED ? DL_ECLOSED : 0;
	uv_timer_stop(&t->retry);
	g = calloc(1, sizeof(*g));
	if (!g) {
		dl_tunnel__set_why(t, "out of memory starting a connection");
		t->state = ST_RESOLVING;
		dl_tunnel__fail(t, DL_ENOMEM);
		return DL_ENOMEM;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(port, sizeof(port), "%u", (unsigned)t->port);
	g->t = t;
	g->gen = t->gen;
	t->state = ST_RESOLVING;
	uv_timer_start(&t->deadline, deadline_cb, DEADLINE_MS, 0);
	DL_LOG_DEBUG(TAG, "connecting to %s port %s", t->host, port);
	rc = uv_getaddrinfo(t->loop, &g->req, gai_cb, t->host, port, &hints);
	if (rc) {
		free(g);
		dl_tunnel__set_why(t, "cannot resolve %s: %s", t->host,
				   uv_strerror(rc));
		dl_tunnel__fail(t, DL_EDNS);
		return 0; /* a retry is scheduled */
	}
	t->gai = g;
	t->refs++;
	return 0;
}

int dl_tunnel_write(dl_tunnel_t *t, const void *p, size_t n)
{
	if (t->state != ST_UP)
		return DL_ECLOSED;
	if (n > DL_TUNNEL_SENDQ_MAX - dl_buf_used(&t->sendq)) {
		t->was_full = 1;
		return DL_EFULL;
	}
	if (dl_buf_append(&t->sendq, p, n))
		return DL_ENOMEM;
	/* Written from the poll callback, never from inside the caller. */
	if (t->pend == PEND_NONE &&
	    libssh2_channel_window_write(t->channel) > 0)
		want(t, t->ev | UV_WRITABLE);
	return 0;
}

size_t dl_tunnel_queued(const dl_tunnel_t *t)
{
	return dl_buf_used(&t->sendq);
}

int dl_tunnel_is_up(const dl_tunnel_t *t)
{
	return t->state == ST_UP;
}

void dl_tunnel_reset(dl_tunnel_t *t, int err, const char *reason)
{
	if (t->state == ST_IDLE || t->state == ST_CLOSED)
		return;
	dl_tunnel__set_why(t, "%s",
			   reason ? reason : "connection reset by the agent");
	dl_tunnel__fail(t, err ? err : DL_ECLOSED);
}

void dl_tunnel_reset_after(dl_tunnel_t *t, int err, const char *reason,
			   uint64_t delay_ms)
{
	if (t->state == ST_IDLE || t->state == ST_CLOSED)
		return;
	t->next_delay = delay_ms;
	dl_tunnel_reset(t, err, reason);
}

void dl_tunnel_set_spread(dl_tunnel_t *t, uint64_t max_ms)
{
	t->spread_ms = max_ms;
}

uint64_t dl_tunnel_jitter(dl_tunnel_t *t, uint64_t max_ms)
{
	return dl_backoff_jitter(&t->backoff, max_ms);
}

void dl_tunnel_close(dl_tunnel_t *t, void (*done)(void *), void *arg)
{
	if (!t || t->state == ST_CLOSED)
		return;
	t->done = done;
	t->done_arg = arg;
	teardown(t);
	t->state = ST_CLOSED;
	uv_timer_stop(&t->retry);
	uv_close((uv_handle_t *)&t->retry, handle_closed);
	uv_close((uv_handle_t *)&t->deadline, handle_closed);
	uv_close((uv_handle_t *)&t->keepalive, handle_closed);
	uv_close((uv_handle_t *)&t->kick, handle_closed);
}

void dl_tunnel_want_drain(dl_tunnel_t *t)
{
	t->was_full = 1;
}
