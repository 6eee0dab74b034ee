#include "agent/tunnel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/backoff.h"
#include "common/base64.h"
#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "tunnel"

#define DEADLINE_MS  30000u /* resolve + connect + handshake + auth + exec */
#define KEEPALIVE_S  30	    /* NAT keep-state only, see keepalive_cb */
#define READ_CHUNK   (32u * 1024u)
#define READ_BUDGET  (64u) /* chunks per loop turn before yielding */
#define WRITE_CHUNK  (256u * 1024u)
#define KH_LINE_MAX  8192   /* longer known_hosts lines are ignored */
#define KH_LINES_MAX 100000 /* bound on the file, not on real use */
#define REASON_MAX   512
#define STABLE_MS    10000u /* up this long = healthy, backoff restarts */

enum state {
	ST_IDLE, /* not started, or waiting for the retry timer */
	ST_RESOLVING,
	ST_CONNECTING,
	ST_HANDSHAKE,
	ST_AUTH,
	ST_OPEN,
	ST_EXEC,
	ST_UP,
	ST_CLOSED, /* dl_tunnel_close called */
};

/* A libssh2 call that returned EAGAIN after writing part of a packet must
 * be called again before any other call that sends: libssh2 keeps one
 * outgoing packet and answers anyone else with LIBSSH2_ERROR_BAD_USE. */
enum pend {
	PEND_NONE,
	PEND_WRITE,
	PEND_READ,
	PEND_READ_ERR,
};

struct gai_req {
	uv_getaddrinfo_t req;
	dl_tunnel_t *t;
	unsigned gen;
};

struct dl_tunnel {
	uv_loop_t *loop;
	dl_tunnel_cbs_t cbs;
	void *ud;
	char *host, *user, *identity, *known_hosts, *command;
	uint16_t port;

	enum state state;
	unsigned gen; /* bumped on every teardown; stale callbacks compare */
	dl_backoff_t backoff;
	uint64_t spread_ms;  /* extra jitter on the first redial after up */
	uint64_t next_delay; /* set by reset_after; UINT64_MAX = backoff */

	/* uv handles: refs counts those not yet closed, plus DNS requests */
	uv_timer_t retry, deadline, keepalive, kick;
	uv_poll_t *poll;
	struct gai_req *gai;
	unsigned refs;
	void (*done)(void *);
	void *done_arg;

	struct addrinfo *ai, *ai_next;
	char peer[128]; /* "127.0.0.1:2222" of the address in use */
	int fd;
	int last_errno;

	LIBSSH2_SESSION *session;
	LIBSSH2_CHANNEL *channel;
	LIBSSH2_KNOWNHOSTS *kh;
	char kh_name[300];    /* "[host]:port" or "host", as OpenSSH writes */
	char kh_problem[256]; /* why the pinned file gave no usable key */
	int kh_entries;

	dl_buf_t sendq;
	int was_full;
	enum pend pend;
	int ev;		/* events the poll handle currently waits for */
	uint64_t up_ms; /* uv_now when the channel came up */
	uint8_t rbuf[READ_CHUNK];
	char why[REASON_MAX];
};

static void drive(dl_tunnel_t *t);
static void fail(dl_tunnel_t *t, int err);

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

static void set_why(dl_tunnel_t *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_why(dl_tunnel_t *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->why, sizeof(t->why), fmt, ap);
	va_end(ap);
}

static const char *ssh_msg(dl_tunnel_t *t)
{
	char *msg = NULL;

	if (!t->session)
		return "no session";
	libssh2_session_last_error(t->session, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown libssh2 error";
}

static int ssh_blocked_out(dl_tunnel_t *t)
{
	return (libssh2_session_block_directions(t->session) &
		LIBSSH2_SESSION_BLOCK_OUTBOUND) != 0;
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
static void fail(dl_tunnel_t *t, int err)
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
	set_why(t, "collector %s:%u did not finish %s within %u s", t->host,
		(unsigned)t->port, stage[t->state], DEADLINE_MS / 1000);
	fail(t, DL_ETIMEDOUT);
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
			set_why(t, "cannot watch the socket to collector %s",
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
		set_why(t, "connection to %s refused", t->peer);
		return DL_ECONNREFUSED;
	}
	set_why(t, "cannot connect to collector %s: %s", t->peer,
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
		set_why(t, "cannot resolve %s: %s", t->host,
			uv_strerror(status));
		fail(t, DL_EDNS);
		return;
	}
	t->ai = t->ai_next = res;
	t->last_errno = 0;
	rc = connect_next(t);
	if (rc)
		fail(t, rc);
}

static int start_session(dl_tunnel_t *t);

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
			fail(t, rc);
		return;
	}
	DL_LOG_DEBUG(TAG, "connected to %s", t->peer);
	rc = start_session(t);
	if (rc) {
		fail(t, rc);
		return;
	}
	drive(t);
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	dl_tunnel_t *t = h->data;

	if (status < 0 && t->state != ST_CONNECTING) {
		set_why(t, "socket error on the connection to collector %s: %s",
			t->peer, uv_strerror(status));
		fail(t, DL_EIO);
		return;
	}
	if (t->state == ST_CONNECTING)
		on_connected(t);
	else
		drive(t);
}

/* ---- host key pinning --------------------------------------------------- */

static const char *kh_type_name(int typemask)
{
	switch (typemask & LIBSSH2_KNOWNHOST_KEY_MASK) {
	case LIBSSH2_KNOWNHOST_KEY_ED25519: return "ssh-ed25519";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_256: return "ecdsa-sha2-nistp256";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_384: return "ecdsa-sha2-nistp384";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_521: return "ecdsa-sha2-nistp521";
	case LIBSSH2_KNOWNHOST_KEY_SSHRSA: return "ssh-rsa";
	case LIBSSH2_KNOWNHOST_KEY_SSHDSS: return "ssh-dss";
	default: return NULL;
	}
}

static int hostkey_to_kh(int type, const char **name)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		*name = "ssh-ed25519";
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*name = "ecdsa-sha2-nistp256";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*name = "ecdsa-sha2-nistp384";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*name = "ecdsa-sha2-nistp521";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		*name = "ssh-rsa";
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		*name = "ssh-dss";
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	default: *name = "unknown"; return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* Loads the pinned file line by line (rather than readfile, which stops
 * at the first line it cannot parse) so one odd line costs only itself. */
static void load_known_hosts(dl_tunnel_t *t)
{
	char line[KH_LINE_MAX];
	FILE *fp;
	int lineno = 0;

	t->kh_entries = 0;
	t->kh_problem[0] = '\0';
	fp = fopen(t->known_hosts, "re");
	if (!fp) {
		snprintf(t->kh_problem, sizeof(t->kh_problem),
			 "cannot open %s: %s", t->known_hosts, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) && lineno < KH_LINES_MAX) {
		size_t n = strlen(line);
		const char *p = line;

		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			int c;

			while ((c = fgetc(fp)) != EOF && c != '\n')
				;
			DL_LOG_WARN(TAG, "%s line %d is too long, ignored",
				    t->known_hosts, lineno);
			continue;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (libssh2_knownhost_readline(
			    t->kh, p, strlen(p),
			    LIBSSH2_KNOWNHOST_FILE_OPENSSH)) {
			DL_LOG_WARN(TAG,
				    "%s line %d is not a known_hosts line "
				    "libssh2 can use, ignored",
				    t->known_hosts, lineno);
			continue;
		}
		t->kh_entries++;
	}
	fclose(fp);
	if (!t->kh_entries)
		snprintf(t->kh_problem, sizeof(t->kh_problem),
			 "%s holds no usable host key", t->known_hosts);
}

static void add_method(char *list, size_t cap, const char *name)
{
	size_t n = strlen(list), k = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name))) { /* already listed? */
		if ((p == list || p[-1] == ',') &&
		    (p[k] == ',' || p[k] == '\0'))
			return;
		p += k;
	}
	if (n + k + 2 > cap)
		return;
	if (n)
		list[n++] = ',';
	memcpy(list + n, name, k + 1);
}

/* libssh2 1.10 prefers ECDSA; without this a server with both keys would
 * present one that is not pinned and be refused. Entries naming this host
 * come first; hashed entries (name unknown) follow. */
static void prefer_pinned_types(dl_tunnel_t *t)
{
	struct libssh2_knownhost *k = NULL;
	char named[256] = "", hashed[256] = "";

	while (libssh2_knownhost_get(t->kh, &k, k) == 0) {
		const char *type = kh_type_name(k->typemask);

		if (!type)
			continue;
		if (k->name && strcmp(k->name, t->kh_name) == 0)
			add_method(named, sizeof(named), type);
		else if (!k->name)
			add_method(hashed, sizeof(hashed), type);
	}
	if (!named[0] && !hashed[0])
		return; /* nothing pinned: the check refuses after the handshake */
	if (hashed[0]) {
		char *p = hashed;
		char *comma;

		for (;;) { /* merge, keeping named types first */
			comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			add_method(named, sizeof(named), p);
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	if (libssh2_session_method_pref(t->session, LIBSSH2_METHOD_HOSTKEY,
					named))
		DL_LOG_WARN(TAG, "cannot prefer host key types %s: %s", named,
			    ssh_msg(t));
	else
		DL_LOG_DEBUG(TAG, "host key preference %s", named);
}

static int check_hostkey(dl_tunnel_t *t)
{
	const char *key, *tname, *hash;
	char fp[64] = "SHA256:";
	size_t len;
	int type, khtype, rc;
	struct libssh2_knownhost *match = NULL;

	key = libssh2_session_hostkey(t->session, &len, &type);
	if (!key) {
		set_why(t, "collector %s presented no host key", t->kh_name);
		return DL_EHOSTKEY;
	}
	khtype = hostkey_to_kh(type, &tname);
	hash = (const char *)libssh2_hostkey_hash(t->session,
						  LIBSSH2_HOSTKEY_HASH_SHA256);
	if (hash)
		dl_base64_encode((const uint8_t *)hash, 32, false, fp + 7,
				 sizeof(fp) - 7);
	else
		snprintf(fp, sizeof(fp), "(no SHA256 fingerprint)");
	if (t->kh_problem[0]) {
		set_why(t,
			"collector host key for %s cannot be verified: %s "
			"(presented %s %s)",
			t->kh_name, t->kh_problem, tname, fp);
		return DL_EHOSTKEY;
	}
	/* Port -1: kh_name already has OpenSSH's "[host]:port" form, and a
	 * plain-host entry must not vouch for another port. */
	rc = libssh2_knownhost_checkp(t->kh, t->kh_name, -1, key, len,
				      LIBSSH2_KNOWNHOST_TYPE_PLAIN |
					      LIBSSH2_KNOWNHOST_KEYENC_RAW |
					      khtype,
				      &match);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		DL_LOG_DEBUG(TAG, "host key %s %s for %s matches %s", tname, fp,
			     t->kh_name, t->known_hosts);
		return 0;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		set_why(t,
			"collector host key for %s does not match the one "
			"pinned in %s (presented %s %s)",
			t->kh_name, t->known_hosts, tname, fp);
		return DL_EHOSTKEY;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		set_why(t,
			"collector host key for %s is not pinned in %s "
			"(presented %s %s; add it there if it is right)",
			t->kh_name, t->known_hosts, tname, fp);
		return DL_EHOSTKEY;
	default:
		set_why(t,
			"cannot check the collector host key for %s against "
			"%s: %s (presented %s %s)",
			t->kh_name, t->known_hosts, ssh_msg(t), tname, fp);
		return DL_EHOSTKEY;
	}
}

/* ---- SSH steps ------------------------------------------------------------ */

static int start_session(dl_tunnel_t *t)
{
	t->session = libssh2_session_init_ex(NULL, NULL, NULL, t);
	if (!t->session) {
		set_why(t, "cannot create an SSH session for collector %s",
			t->peer);
		return DL_ENOMEM;
	}
	libssh2_session_set_blocking(t->session, 0);
	t->kh = libssh2_knownhost_init(t->session);
	if (!t->kh) {
		set_why(t, "cannot allocate the known_hosts table");
		return DL_ENOMEM;
	}
	/* Re-read on every attempt so a fixed file takes effect without a
	 * restart. */
	load_known_hosts(t);
	prefer_pinned_types(t);
	/* Stats frames are mostly counters whose high bytes repeat from
	 * frame to frame: SSH's zlib stream cuts them from ~48 to ~18 bytes
	 * per container-sample (tests/bench/bench_wire.c). OpenSSH only
	 * offers the delayed zlib@openssh.com; none stays acceptable. */
	libssh2_session_flag(t->session, LIBSSH2_FLAG_COMPRESS, 1);
	if (libssh2_session_method_pref(t->session, LIBSSH2_METHOD_COMP_CS,
					"zlib@openssh.com,zlib,none") ||
	    libssh2_session_method_pref(t->session, LIBSSH2_METHOD_COMP_SC,
					"zlib@openssh.com,zlib,none"))
		DL_LOG_DEBUG(TAG, "SSH compression not available: %s",
			     ssh_msg(t));
	t->state = ST_HANDSHAKE;
	return 0;
}

static int do_handshake(dl_tunnel_t *t)
{
	int rc = libssh2_session_handshake(t->session, t->fd);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	if (rc) {
		set_why(t, "SSH handshake with collector %s failed: %s",
			t->peer, ssh_msg(t));
		return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ? DL_ECLOSED
							     : DL_ESSH;
	}
	rc = check_hostkey(t);
	if (rc)
		return rc;
	t->state = ST_AUTH;
	return 0;
}

static int do_auth(dl_tunnel_t *t)
{
	/* NULL public key: libssh2 (OpenSSL backend) derives it from the
	 * private key, OpenSSH-format ed25519 included. */
	int rc = libssh2_userauth_publickey_fromfile_ex(
		t->session, t->user, (unsigned)strlen(t->user), NULL,
		t->identity, NULL);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	switch (rc) {
	case 0: t->state = ST_OPEN; return 0;
	case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
	case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
		set_why(t,
			"collector rejected key %s for user %s (is it "
			"enrolled?)",
			t->identity, t->user);
		return DL_EAUTH;
	case LIBSSH2_ERROR_FILE:
		set_why(t, "cannot load the private key %s: %s", t->identity,
			ssh_msg(t));
		return DL_ECONFIG;
	default:
		set_why(t, "authentication as %s at collector %s failed: %s",
			t->user, t->peer, ssh_msg(t));
		return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ? DL_ECLOSED
							     : DL_EAUTH;
	}
}

static int do_open(dl_tunnel_t *t)
{
	int rc;

	t->channel = libssh2_channel_open_session(t->session);
	if (t->channel) {
		t->state = ST_EXEC;
		return 0;
	}
	rc = libssh2_session_last_errno(t->session);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	set_why(t, "collector %s refused to open a session channel: %s",
		t->peer, ssh_msg(t));
	return DL_ESSH;
}

static void keepalive_cb(uv_timer_t *h);

static int do_exec(dl_tunnel_t *t)
{
	int rc = libssh2_channel_exec(t->channel, t->command);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	if (rc) {
		set_why(t, "collector %s refused to run \"%s\": %s", t->peer,
			t->command, ssh_msg(t));
		return DL_ESSH;
	}
	t->state = ST_UP;
	t->up_ms = uv_now(t->loop);
	uv_timer_stop(&t->deadline);
	/* want_reply 0: libssh2 1.10 ignores the replies and leaks each one
	 * until the session ends; the application's PING/PONG supplies the
	 * return traffic and the dead-peer detection. */
	libssh2_keepalive_config(t->session, 0, KEEPALIVE_S);
	uv_timer_start(&t->keepalive, keepalive_cb, KEEPALIVE_S * 1000u,
		       KEEPALIVE_S * 1000u);
	DL_LOG_INFO(TAG, "connected to collector %s as %s", t->peer, t->user);
	if (t->cbs.on_up)
		t->cbs.on_up(t->ud);
	return 0;
}

/* ---- the open channel ------------------------------------------------------ */

/* errno is saved by the caller right after the libssh2 call: libssh2
 * reports socket failures without the system error behind them. */
static int io_error(dl_tunnel_t *t, int rc, int syserr, const char *what)
{
	/* libssh2 1.10 reports a clean EOF from recv() as SOCKET_RECV. */
	if (rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ||
	    (rc == LIBSSH2_ERROR_SOCKET_RECV && syserr == 0)) {
		set_why(t, "collector %s closed the connection", t->peer);
		return DL_ECLOSED;
	}
	if (rc == LIBSSH2_ERROR_SOCKET_RECV ||
	    rc == LIBSSH2_ERROR_SOCKET_SEND) {
		set_why(t, "connection to collector %s lost while %s: %s",
			t->peer, what,
			syserr && syserr != EAGAIN ? strerror(syserr)
						   : ssh_msg(t));
		return syserr == ECONNRESET || syserr == EPIPE ? DL_ECLOSED
							       : DL_EIO;
	}
	set_why(t, "%s on the connection to collector %s failed: %s", what,
		t->peer, ssh_msg(t));
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
	drive(h->data);
}

/* One turn of the open channel: resume a half-sent packet, then write,
 * then read everything libssh2 has (reads after writes matter: the write
 * path may pull channel data into libssh2 that the socket will never
 * announce again). */
static int pump(dl_tunnel_t *t)
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
			set_why(t,
				"collector closed the session (exit "
				"status %d)",
				status);
		else
			set_why(t, "collector closed the session");
		return DL_ECLOSED;
	}
	return DL_EAGAIN;
}

static void drive(dl_tunnel_t *t)
{
	unsigned gen = t->gen;
	int rc;

	for (;;) {
		switch (t->state) {
		case ST_HANDSHAKE: rc = do_handshake(t); break;
		case ST_AUTH: rc = do_auth(t); break;
		case ST_OPEN: rc = do_open(t); break;
		case ST_EXEC: rc = do_exec(t); break;
		case ST_UP: rc = pump(t); break;
		default: return;
		}
		if (gen != t->gen)
			return; /* a callback reset or closed the tunnel */
		if (rc == DL_EAGAIN)
			break;
		if (rc < 0) {
			fail(t, rc);
			return;
		}
	}
	update_poll(t);
}

static int socket_writable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT);
}

/* Keeps NAT state only. libssh2 1.10 builds the keepalive on its stack:
 * if it went out in part, no later call could finish it, so it is only
 * sent when nothing else is in flight and the socket has room. */
static void keepalive_cb(uv_timer_t *h)
{
	dl_tunnel_t *t = h->data;
	int next = 0, rc;

	if (t->state != ST_UP || t->pend != PEND_NONE ||
	    dl_buf_used(&t->sendq) || !socket_writable(t->fd))
		return;
	errno = 0;
	rc = libssh2_keepalive_send(t->session, &next);
	if (rc) {
		fail(t, io_error(t, rc, errno, "sending a keepalive"));
		return;
	}
	if (ssh_blocked_out(t)) {
		set_why(t,
			"keepalive to collector %s went out in part; "
			"reconnecting",
			t->peer);
		fail(t, DL_ESSH);
	}
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
		set_why(t, "out of memory starting a connection");
		t->state = ST_RESOLVING;
		fail(t, DL_ENOMEM);
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
		set_why(t, "cannot resolve %s: %s", t->host, uv_strerror(rc));
		fail(t, DL_EDNS);
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
	set_why(t, "%s", reason ? reason : "connection reset by the agent");
	fail(t, err ? err : DL_ECLOSED);
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
