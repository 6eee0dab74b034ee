/* deploy.h - the deploy ops (pull, run, update, recreate) as sequences
 * of Docker calls, driven by the agent's loop.
 *
 * A recreate that has begun is never left half done: once the caller
 * detaches (the collector went away), it still finishes or rolls back,
 * then frees itself. Registry credentials (regauth.h) go to the local
 * Docker only. */
#ifndef DL_AGENT_DEPLOY_H
#define DL_AGENT_DEPLOY_H

#include <jansson.h>
#include <uv.h>

#include "agent/docker.h"

/* recreate: how long the new container must stay running when it has no
 * health check, and how long it may take by default to get there. */
#define DL_DEPLOY_SETTLE_MS 3000
#define DL_DEPLOY_WAIT_S    60
/* Time kept back from the request's deadline for a rollback. */
#define DL_DEPLOY_ROLLBACK_MS 20000

typedef struct dl_deploy dl_deploy_t;

typedef struct {
	/* Progress text (pull), one or more whole lines; the caller may
	 * drop it when it cannot send. */
	void (*progress)(void *ud, const char *p, size_t n);
	/* The end, exactly once unless detached: status 0 with a JSON text,
	 * or a DL_E* status with a sentence. */
	void (*done)(void *ud, int status, const char *text);
} dl_deploy_io_t;

/* Starts op ("pull", "run", "update", "recreate") with validated args;
 * timeout_ms 0 = none. NULL on ENOMEM (nothing was done). */
dl_deploy_t *dl_deploy_start(uv_loop_t *loop, dl_docker_t *docker,
			     const char *op, const json_t *args,
			     long timeout_ms, const dl_deploy_io_t *io,
			     void *ud);
/* The caller forgets dp: no more callbacks; dp runs to its end (a
 * recreate completes or rolls back) and frees itself. */
void dl_deploy_detach(dl_deploy_t *dp);

#endif
