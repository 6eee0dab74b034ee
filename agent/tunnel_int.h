/* tunnel_int.h - what tunnel.c, tunnel_ssh.c and tunnel_chan.c share:
 * the tunnel's state (struct dl_tunnel, its connection states) and the
 * internal calls one file makes in another (dl_tunnel__*). Private to
 * agent/tunnel*.c. */
#ifndef DL_AGENT_TUNNEL_INT_H
#define DL_AGENT_TUNNEL_INT_H

#include <libssh2.h>
#include <netdb.h>
#include <stdint.h>
#include <uv.h>

#include "agent/tunnel.h"
#include "common/backoff.h"
#include "common/buf.h"

#define READ_CHUNK (32u * 1024u)
#define REASON_MAX 512

struct gai_req; /* a name resolution in flight (tunnel.c) */

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

/* tunnel.c */
/* t->why = the reason the next dl_tunnel__fail reports. */
void dl_tunnel__set_why(dl_tunnel_t *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Tears down, schedules the next attempt and tells the owner. */
void dl_tunnel__fail(dl_tunnel_t *t, int err);
/* Runs the SSH steps, or one turn of the open channel, until one would
 * block, then waits on the socket for what that step needs. */
void dl_tunnel__drive(dl_tunnel_t *t);

/* tunnel_ssh.c: the session up to ST_UP. Each step returns 0 (the next
 * state is set), DL_EAGAIN, or a DL_E* code with the reason in t->why. */
/* The session's last libssh2 error message, for a reason. */
const char *dl_tunnel__ssh_msg(dl_tunnel_t *t);
int dl_tunnel__start_session(dl_tunnel_t *t);
int dl_tunnel__handshake(dl_tunnel_t *t);
int dl_tunnel__auth(dl_tunnel_t *t);
int dl_tunnel__open(dl_tunnel_t *t);
int dl_tunnel__exec(dl_tunnel_t *t);

/* tunnel_chan.c: the open channel. One turn of I/O: DL_EAGAIN (wait for
 * the socket) or a DL_E* code with the reason in t->why. */
int dl_tunnel__pump(dl_tunnel_t *t);
/* The keepalive timer (started by dl_tunnel__exec). */
void dl_tunnel__keepalive_cb(uv_timer_t *h);

#endif
