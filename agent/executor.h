/* executor.h - runs the collector's control requests against Docker.
 *
 * Every REQUEST is checked again here (argument rules, then this host's
 * own [control] allow policy, which the collector cannot override) before
 * one or a few Docker API calls. Plain ops answer with one RESPONSE; logs
 * and exec send STREAM chunks and an END. A stream never holds more than
 * DL_CONTROL_WINDOW bytes beyond the collector's CREDITs, and stops
 * reading from dockerd while the tunnel's send queue is half full, so a
 * 100 MB log never grows the agent's memory. Requests never outlive the
 * session they came on and are never replayed. */
#ifndef DL_AGENT_EXECUTOR_H
#define DL_AGENT_EXECUTOR_H

#include <stddef.h>
#include <stdint.h>

#include "agent/docker.h"
#include "proto/msg.h"

#define DL_EXECUTOR_MAX 64 /* requests in flight at once */

typedef struct dl_executor dl_executor_t;

typedef struct {
	/* Encodes and queues m on the tunnel now: 0, DL_EFULL (queue at
	 * its cap, nothing queued) or DL_ECLOSED. */
	int (*send)(void *ud, const dl_msg_t *m);
	/* Bytes waiting in the tunnel's send queue. */
	size_t (*queued)(void *ud);
	/* Asks for dl_executor_drain once the queue has room again. */
	void (*want_drain)(void *ud);
} dl_executor_io_t;

/* docker is borrowed and must outlive the executor; allow is the
 * DL_CLASS_* mask from agent.conf. NULL on allocation failure. */
dl_executor_t *dl_executor_new(uv_loop_t *loop, dl_docker_t *docker,
			       unsigned allow, const dl_executor_io_t *io,
			       void *ud);
/* Cancels every request (nothing is sent) and frees. */
void dl_executor_free(dl_executor_t *x);

void dl_executor_request(dl_executor_t *x, const dl_request_t *r);
/* The admin went away: the Docker call is aborted, nothing is sent. */
void dl_executor_cancel(dl_executor_t *x, uint32_t id);
void dl_executor_credit(dl_executor_t *x, uint32_t id, uint32_t bytes);
/* The tunnel's queue has room: paused streams and held answers go on. */
void dl_executor_drain(dl_executor_t *x);
/* The session ended: every request is cancelled, nothing is sent. */
void dl_executor_reset(dl_executor_t *x);
size_t dl_executor_count(const dl_executor_t *x);

#endif
