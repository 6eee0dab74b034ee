/* tunnel.h - the agent's outbound SSH connection (libssh2, non-blocking).
 *
 * Connects to the collector host, verifies its host key against a pinned
 * known_hosts file (strict: unknown or changed key = refuse, and log the
 * presented fingerprint and the file to fix), authenticates with the
 * agent's ed25519 key and opens an exec channel whose stdin/stdout carry
 * dockline frames. The socket lives in the caller's libuv loop. On any
 * failure it tears down and reconnects with exponential backoff (1 s to
 * 60 s, jittered), logging why each attempt failed. It never logs key
 * material and never reads from the collector more than it can buffer. */
#ifndef DL_AGENT_TUNNEL_H
#define DL_AGENT_TUNNEL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define DL_TUNNEL_SENDQ_MAX (4u * 1024u * 1024u)

typedef struct dl_tunnel dl_tunnel_t;

typedef struct {
	const char *host;	 /* collector host name or address */
	uint16_t port;		 /* 22 by default */
	const char *user;	 /* ssh user on the collector host */
	const char *identity;	 /* ed25519 private key file */
	const char *known_hosts; /* pinned host key(s), OpenSSH format */
	const char
		*command; /* exec request, e.g. "dockline-collector attach" */
	uint64_t backoff_min_ms; /* 0 = 1000 */
	uint64_t backoff_max_ms; /* 0 = 60000 */
} dl_tunnel_opts_t;

typedef struct {
	/* Channel open: frames may be written now. */
	void (*on_up)(void *ud);
	/* Bytes from the collector (the channel's stdout). */
	void (*on_data)(void *ud, const uint8_t *p, size_t n);
	/* Connection failed or was lost; err is a DL_E* code and reason a
	 * sentence. A reconnect is already scheduled after delay_ms. */
	void (*on_down)(void *ud, int err, const char *reason,
			uint64_t delay_ms);
	/* Send queue dropped below half its cap after being full. */
	void (*on_drain)(void *ud);
} dl_tunnel_cbs_t;

/* Copies opts strings. NULL on allocation failure. */
dl_tunnel_t *dl_tunnel_new(uv_loop_t *loop, const dl_tunnel_opts_t *opts,
			   const dl_tunnel_cbs_t *cbs, void *ud);
/* Starts the first connection attempt. */
int dl_tunnel_start(dl_tunnel_t *t);
/* Queues n bytes (copied) to the channel: 0, DL_ECLOSED when not up,
 * DL_EFULL when the queue would pass DL_TUNNEL_SENDQ_MAX (nothing
 * queued). Partial libssh2 writes are retried with the same bytes.
 * The queue is dropped when the connection goes down (it may end
 * mid-frame); after the next on_up the caller resends what the collector
 * has not acked. Callbacks may call any dl_tunnel_* function, close
 * included. */
int dl_tunnel_write(dl_tunnel_t *t, const void *p, size_t n);
size_t dl_tunnel_queued(const dl_tunnel_t *t);
/* Asks for on_drain once the queue is below half its cap (for a writer
 * that paused itself before the queue was full). */
void dl_tunnel_want_drain(dl_tunnel_t *t);
int dl_tunnel_is_up(const dl_tunnel_t *t);
/* Drops the current connection (e.g. PING timeout, protocol error) and
 * schedules a reconnect; on_down is called with reason. */
void dl_tunnel_reset(dl_tunnel_t *t, int err, const char *reason);
/* As dl_tunnel_reset, but the next attempt comes after delay_ms exactly
 * (the caller's jitter included) instead of the backoff: a collector that
 * said BYE{retry_after} is not redialled sooner. */
void dl_tunnel_reset_after(dl_tunnel_t *t, int err, const char *reason,
			   uint64_t delay_ms);
/* When a session that was up is lost, the first redial is delayed by an
 * extra uniform [0, max_ms] so a fleet that lost its collector at once
 * does not come back at once (the collector's HELLO says how big the
 * fleet is). 0 = none. */
void dl_tunnel_set_spread(dl_tunnel_t *t, uint64_t max_ms);
/* Uniform [0, max_ms] from the tunnel's generator. */
uint64_t dl_tunnel_jitter(dl_tunnel_t *t, uint64_t max_ms);
/* Stops and frees; done(arg) runs once all handles are closed. */
void dl_tunnel_close(dl_tunnel_t *t, void (*done)(void *), void *arg);

#endif
