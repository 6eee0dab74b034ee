#include "collector/attach.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fdio.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define RELAY_BUF     65536
#define CAP_MAX	      (64u * 1024u) /* a HELLO is ~10 KiB at most */
#define RETRY_MIN_MS  100u
#define RETRY_MAX_MS  2000u
#define WAIT_PING_MS  1000u /* keeps the agent's dead-peer check quiet */
#define BYE_RETRY_MIN 5u
#define BYE_RETRY_MAX 300u

/* What happens to the agent's bytes (agent -> serve). */
typedef enum {
	UP_FWD,	 /* relayed to serve */
	UP_DROP, /* serve is gone: dropped, frame boundaries still followed */
	UP_SEEK, /* RESTART sent: dropped until a whole HELLO, which is sent */
} up_mode_t;

/* A whole frame captured while it is relayed (the two first HELLOs) or
 * held back (the agent's HELLO after RESTART). */
typedef struct {
	uint8_t b[DL_FRAME_HDR + CAP_MAX];
	size_t n;
	int on;
} cap_t;

typedef struct {
	const dl_cconf_t *conf;
	const char *host;
	int in, out, sock;
	dl_frame_track_t up, down; /* agent -> serve, serve -> agent */
	up_mode_t mode;
	cap_t upcap, downcap;
	int agent_hello; /* the agent's first frame was seen */
	int agent_resume, agent_bye;
	int serve_hello;  /* this serve connection's HELLO was seen */
	int serve_resume; /* the last serve HELLO announced "resume" */
	int down_last;	  /* type of serve's last whole frame */
	unsigned restarts;
	dl_backoff_t bo;
	uint8_t buf[RELAY_BUF];
} attach_t;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	/* stderr is the SSH channel's: the agent logs it. */
	fputs("dockline-collector attach: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ms(void)
{
	return dl_clock_mono_ns() / 1000000u;
}

static int send_msg(int fd, const dl_msg_t *m)
{
	dl_buf_t b;
	int rc;

	dl_buf_init(&b, 8192);
	rc = dl_msg_encode(&b, m);
	if (rc == 0)
		rc = dl_write_all(fd, dl_buf_head(&b), dl_buf_used(&b));
	dl_buf_free(&b);
	return rc;
}

/* Not proto/admin.c's helper: that module pulls in jansson. */
static int connect_serve(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path))
		return DL_EINVAL;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return DL_EIO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	e = errno;
	close(fd);
	return e == ENOENT	   ? DL_ENOENT
	       : e == ECONNREFUSED ? DL_ECONNREFUSED
	       : e == EACCES	   ? DL_EAUTH
				   : DL_EIO;
}

static int send_attach(attach_t *a)
{
	dl_msg_t m = {.type = DL_MSG_ATTACH};

	m.u.attach.host = DL_STR(a->host);
	m.u.attach.flags = a->conf->attach_wait > 0 ? DL_ATTACH_RESUME : 0;
	return send_msg(a->sock, &m);
}

/* Decodes a captured HELLO (and nothing else): which caps it holds. */
static int hello_caps(const cap_t *c, int *resume, int *bye)
{
	dl_msg_t m;
	int is_hello;

	*resume = 0;
	if (bye)
		*bye = 0;
	if (c->n <= DL_FRAME_HDR ||
	    dl_msg_decode(&m, c->b + DL_FRAME_HDR, c->n - DL_FRAME_HDR, NULL,
			  0) != 0)
		return 0;
	is_hello = m.type == DL_MSG_HELLO;
	if (is_hello) {
		for (uint32_t i = 0; i < m.u.hello.ncaps; i++) {
			if (dl_str_eq(m.u.hello.caps[i], DL_CAP_RESUME))
				*resume = 1;
			else if (bye &&
				 dl_str_eq(m.u.hello.caps[i], DL_CAP_BYE))
				*bye = 1;
		}
	}
	dl_msg_release(&m);
	return is_hello;
}

static void cap_add(cap_t *c, const uint8_t *p, size_t n)
{
	if (!c->on)
		return;
	if (n > sizeof(c->b) - c->n) {
		c->on = 0; /* too big for a HELLO: not one we want */
		return;
	}
	memcpy(c->b + c->n, p, n);
	c->n += n;
}

/* ---- agent -> serve ------------------------------------------------------ */

static void up_frame_end(attach_t *a)
{
	if (!a->agent_hello) {
		a->agent_hello = 1;
		if (a->upcap.on)
			hello_caps(&a->upcap, &a->agent_resume, &a->agent_bye);
		return;
	}
	if (a->mode == UP_SEEK && a->upcap.on &&
	    dl_frame_peek_type(a->upcap.b + DL_FRAME_HDR,
			       a->upcap.n - DL_FRAME_HDR) == DL_MSG_HELLO) {
		/* The new session's first frame: everything after it flows. */
		if (dl_write_all(a->sock, a->upcap.b, a->upcap.n) == 0)
			a->mode = UP_FWD;
	}
}

/* 0, or DL_EIO when serve could not take the bytes (serve is gone). */
static int up_feed(attach_t *a, const uint8_t *p, size_t n)
{
	while (n) {
		int start = dl_frame_track_idle(&a->up), ended;
		long k = dl_frame_track_step(&a->up, p, n, &ended);

		if (k < 0) {
			/* Not ours to judge: serve closes the session. We
			 * just cannot follow frames any more. */
			a->agent_resume = 0;
			return a->mode == UP_FWD ? dl_write_all(a->sock, p, n)
						 : 0;
		}
		if (start) {
			a->upcap.n = 0;
			a->upcap.on = !a->agent_hello || a->mode == UP_SEEK;
		}
		cap_add(&a->upcap, p, (size_t)k);
		if (a->mode == UP_FWD &&
		    dl_write_all(a->sock, p, (size_t)k) != 0)
			return DL_EIO;
		if (ended)
			up_frame_end(a);
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* ---- serve -> agent ------------------------------------------------------ */

/* 0, or DL_EIO when the agent's side (the SSH channel) is gone. */
static int down_feed(attach_t *a, const uint8_t *p, size_t n)
{
	while (n) {
		int start = dl_frame_track_idle(&a->down), ended;
		long k = dl_frame_track_step(&a->down, p, n, &ended);

		if (k < 0) {
			a->serve_resume = 0; /* cannot resume mid-anything */
			return dl_write_all(a->out, p, n);
		}
		if (start) {
			a->downcap.n = 0;
			a->downcap.on = !a->serve_hello;
		}
		cap_add(&a->downcap, p, (size_t)k);
		if (dl_write_all(a->out, p, (size_t)k) != 0)
			return DL_EIO;
		if (ended) {
			a->down_last = dl_frame_track_type(&a->down);
			if (!a->serve_hello) {
				a->serve_hello = 1;
				if (a->downcap.on &&
				    !hello_caps(&a->downcap, &a->serve_resume,
						NULL))
					a->serve_resume = 0;
			}
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* ---- serve went away ------------------------------------------------------ */

/* Whether the session can outlive this serve; if not, why (for the log,
 * NULL when exiting is simply the old behaviour). */
static int can_resume(const attach_t *a, const char **why)
{
	*why = NULL;
	if (a->conf->attach_wait <= 0 || !a->agent_resume || !a->serve_resume)
		return 0;
	if (a->down_last == DL_MSG_ERROR || a->down_last == DL_MSG_BYE)
		return 0; /* serve ended the session on purpose */
	if (!dl_frame_track_idle(&a->down)) {
		*why = "serve went away in the middle of a frame the agent "
		       "cannot complete; ending the session";
		return 0;
	}
	return 1;
}

static int inject(attach_t *a, dl_msg_t *m)
{
	return send_msg(a->out, m);
}

static void say_bye(attach_t *a, unsigned waited_s)
{
	dl_msg_t m = {.type = DL_MSG_BYE};
	char why[160];
	unsigned retry = (unsigned)a->conf->attach_wait;

	if (!a->agent_bye)
		return;
	/* Gone this long: sooner retries would only burn handshakes. */
	if (retry < BYE_RETRY_MIN)
		retry = BYE_RETRY_MIN;
	if (retry > BYE_RETRY_MAX)
		retry = BYE_RETRY_MAX;
	snprintf(why, sizeof(why),
		 "the collector did not come back within %u s", waited_s);
	m.u.bye.retry_after_s = retry;
	m.u.bye.reason = DL_STR(why);
	if (inject(a, &m) == 0)
		say("%s; asked the agent to retry after %u s", why, retry);
}

/* A reconnect attempt: 1 connected (ATTACH sent), 0 not yet. */
static int try_connect(attach_t *a)
{
	int fd = connect_serve(a->conf->agent_socket);

	if (fd < 0)
		return 0;
	a->sock = fd;
	if (send_attach(a) != 0) {
		close(fd);
		a->sock = -1;
		return 0;
	}
	return 1;
}

static uint64_t next_delay(attach_t *a)
{
	return dl_backoff_next(&a->bo);
}

/* Keeps the SSH channel while serve is away. 1: a new serve has the
 * session (RESTART sent), 0: give up (agent gone or attach_wait over). */
static int wait_for_serve(attach_t *a)
{
	uint64_t t0 = now_ms(), deadline, ping_at, try_at;
	dl_msg_t ping = {.type = DL_MSG_PING};

	deadline = t0 + (uint64_t)a->conf->attach_wait * 1000u;
	ping_at = t0 + WAIT_PING_MS;
	try_at = t0 + next_delay(a);
	a->mode = UP_DROP;
	for (;;) {
		uint64_t now = now_ms(), wake = try_at;
		struct pollfd p = {.fd = a->in, .events = POLLIN};
		ssize_t r;

		if (now >= deadline) {
			say_bye(a, (unsigned)((now - t0) / 1000u));
			return 0;
		}
		if (now >= try_at) {
			if (try_connect(a))
				break;
			try_at = now + next_delay(a);
		}
		if (now >= ping_at) {
			ping.u.nonce = now;
			if (inject(a, &ping) != 0)
				return 0;
			ping_at = now + WAIT_PING_MS;
		}
		if (ping_at < wake)
			wake = ping_at;
		if (deadline < wake)
			wake = deadline;
		now = now_ms();
		if (poll(&p, 1, wake > now ? (int)(wake - now) : 0) <= 0)
			continue;
		r = read(a->in, a->buf, sizeof(a->buf));
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return 0; /* the agent left: nothing to keep */
		up_feed(a, a->buf, (size_t)r); /* UP_DROP: cannot fail */
	}
	dl_backoff_reset(&a->bo);
	a->restarts++;
	dl_frame_track_init(&a->down, DL_FRAME_MAX);
	a->serve_hello = 0;
	a->down_last = -1;
	{
		dl_msg_t m = {.type = DL_MSG_RESTART};
		char why[128];

		snprintf(why, sizeof(why),
			 "collector restarted; back after %.1f s",
			 (double)(now_ms() - t0) / 1000.0);
		m.u.restart_reason = DL_STR(why);
		if (inject(a, &m) != 0)
			return 0;
		say("%s: session restarted on the same SSH channel (restart "
		    "%u)",
		    why, a->restarts);
	}
	a->mode = UP_SEEK;
	return 1;
}

/* serve closed or failed: 1 resumed, 0 end the session. */
static int serve_lost(attach_t *a, const char *what)
{
	const char *why;

	close(a->sock);
	a->sock = -1;
	if (!can_resume(a, &why)) {
		if (why)
			say("%s", why);
		return 0;
	}
	say("serve went away (%s); keeping the session for up to %d s", what,
	    a->conf->attach_wait);
	return wait_for_serve(a);
}

/* ---- relay ------------------------------------------------------------------ */

static void relay(attach_t *a)
{
	int agent_open = 1;

	for (;;) {
		struct pollfd p[2] = {
			{.fd = agent_open ? a->in : -1, .events = POLLIN},
			{.fd = a->sock, .events = POLLIN}};
		ssize_t r;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read(a->in, a->buf, sizeof(a->buf));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				/* Agent gone: tell serve, let it finish. */
				shutdown(a->sock, SHUT_WR);
				agent_open = 0;
			} else if (up_feed(a, a->buf, (size_t)r) != 0) {
				if (!serve_lost(a, "write failed"))
					return;
				continue;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			r = read(a->sock, a->buf, sizeof(a->buf));
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r > 0) {
				if (down_feed(a, a->buf, (size_t)r) != 0)
					return; /* the SSH channel is gone */
				continue;
			}
			if (!agent_open ||
			    !serve_lost(a, r == 0 ? "end of stream"
						  : strerror(errno)))
				return;
		}
	}
}

int dl_attach_run(const dl_cconf_t *conf, const char *host, int in_fd,
		  int out_fd)
{
	/* Once per process, so zero from the start: a memset would dirty
	 * all of its ~190 KiB of buffers, and that is memory per agent on
	 * the collector host (untouched, the pages cost nothing). */
	static attach_t a;

	signal(SIGPIPE, SIG_IGN);
	if (!dl_host_name_valid(host)) {
		fprintf(stderr,
			"dockline-collector attach: invalid host name \"%s\" "
			"(allowed: [a-z0-9][a-z0-9.-]{0,62})\n",
			host);
		return 2;
	}
	a.conf = conf;
	a.host = host;
	a.in = in_fd;
	a.out = out_fd;
	a.down_last = -1;
	dl_frame_track_init(&a.up, DL_FRAME_MAX);
	dl_frame_track_init(&a.down, DL_FRAME_MAX);
	dl_backoff_init(&a.bo, RETRY_MIN_MS, RETRY_MAX_MS,
			dl_clock_mono_ns() ^ ((uint64_t)getpid() << 32));
	a.sock = connect_serve(conf->agent_socket);
	if (a.sock < 0) {
		fprintf(stderr,
			"dockline-collector attach: collector is not running "
			"(cannot connect to %s: %s)\n",
			conf->agent_socket, dl_strerror(a.sock));
		return 1;
	}
	if (send_attach(&a) != 0) {
		fprintf(stderr, "dockline-collector attach: collector closed "
				"the connection\n");
		close(a.sock);
		return 1;
	}
	relay(&a);
	if (a.sock >= 0)
		close(a.sock);
	return 0;
}
