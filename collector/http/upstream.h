/* upstream.h - one admin-socket connection for one HTTP request or
 * WebSocket, non-blocking on the gateway's libuv loop.
 *
 * Sends one admin request frame, then hands every answer frame (JSON or
 * binary [fd][bytes]) to the owner. Reading can be paused while the HTTP
 * client is slow, so serve (and through its credits the agent) waits
 * instead of the gateway's memory growing. Closing it is how a call is
 * cancelled in serve. It never looks inside the frames it carries. */
#ifndef DL_HTTP_UPSTREAM_H
#define DL_HTTP_UPSTREAM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct dl_upstream dl_upstream_t;

typedef struct {
	/* One frame payload (valid during the call). The owner may pause
	 * or close the upstream from inside. */
	void (*frame)(void *ud, const uint8_t *p, size_t n);
	/* The connection ended without the owner closing it (serve closed
	 * it, or it could not connect: err is a DL_E* code). Last call. */
	void (*ended)(void *ud, int err);
} dl_upstream_cb_t;

/* Connects to path and sends req. NULL on ENOMEM; connection errors
 * arrive through ended. */
dl_upstream_t *dl_upstream_open(uv_loop_t *loop, const char *path,
				const json_t *req, const dl_upstream_cb_t *cb,
				void *ud);
/* Stops (true) or restarts (false) reading answer frames. */
void dl_upstream_pause(dl_upstream_t *u, bool pause);
/* Closes the connection; no callback comes after this. NULL is a no-op. */
void dl_upstream_close(dl_upstream_t *u);
/* Connections open now (closed ones count until libuv let them go). */
size_t dl_upstream_count(void);

#endif
