/* docker.h - Docker Engine API client over the unix socket.
 *
 * libcurl multi_socket driven by the caller's libuv loop: no thread, no
 * blocking call. Every response body is capped (max_body) and a larger
 * one fails with DL_ETOOBIG instead of growing memory. Streams (events,
 * later logs) deliver complete lines and are never paused by this module.
 */
#ifndef DL_AGENT_DOCKER_H
#define DL_AGENT_DOCKER_H

#include <stddef.h>
#include <uv.h>

#define DL_DOCKER_MAX_BODY (16u * 1024u * 1024u)
#define DL_DOCKER_MAX_LINE (256u * 1024u)
#define DL_DOCKER_API	   "/v1.41"

typedef struct dl_docker dl_docker_t;
typedef struct dl_docker_req dl_docker_req_t;

/* Completion: err 0 (any HTTP status, see status) or DL_E*; body is
 * NUL-terminated, owned by the client and valid only during the call.
 * For streams, body is NULL. Called exactly once per request, also on
 * cancel (err DL_ECLOSED) and on dl_docker_free. */
typedef void (*dl_docker_done_cb)(void *ud, int err, long status,
				  const char *body, size_t len);
/* One line of a streaming response (without the newline). */
typedef void (*dl_docker_line_cb)(void *ud, const char *line, size_t len);

dl_docker_t *dl_docker_new(uv_loop_t *loop, const char *socket_path);
/* Cancels all requests (their callbacks run with DL_ECLOSED), frees. Safe
 * inside this client's own callbacks (the memory goes when the callback
 * returns); the loop must run once more to close the libuv handles. */
void dl_docker_free(dl_docker_t *d);

/* method "GET"/"POST"/"DELETE"; path includes DL_DOCKER_API and query;
 * json_body may be NULL. timeout_ms 0 = none. Returns the request (owned
 * by the client; valid until done runs) or NULL. */
dl_docker_req_t *dl_docker_request(dl_docker_t *d, const char *method,
				   const char *path, const char *json_body,
				   size_t max_body, long timeout_ms,
				   dl_docker_done_cb done, void *ud);
/* Streaming GET: on_line for each line, done once at the end. */
dl_docker_req_t *dl_docker_stream(dl_docker_t *d, const char *path,
				  dl_docker_line_cb on_line,
				  dl_docker_done_cb done, void *ud);
/* Raw body bytes as they arrive. Return 0 when all n bytes were taken,
 * DL_EFULL to take none of them now: the transfer pauses (dockerd's
 * socket is not read) until dl_docker_resume(req). */
typedef int (*dl_docker_data_cb)(void *ud, const char *p, size_t n);

/* A request whose 2xx body goes to on_data (logs, exec output). On an
 * HTTP error, done gets the error body (capped at 64 KiB) as for
 * dl_docker_request. timeout_ms 0 = none. */
dl_docker_req_t *dl_docker_raw(dl_docker_t *d, const char *method,
			       const char *path, const char *json_body,
			       long timeout_ms, dl_docker_data_cb on_data,
			       dl_docker_done_cb done, void *ud);
/* dl_docker_raw with one extra request header ("X-Registry-Auth: ...",
 * copied; NULL for none). The header is never logged. */
dl_docker_req_t *dl_docker_raw_hdr(dl_docker_t *d, const char *method,
				   const char *path, const char *json_body,
				   const char *header, long timeout_ms,
				   dl_docker_data_cb on_data,
				   dl_docker_done_cb done, void *ud);
/* Lets a paused raw request deliver again; no-op otherwise. Never call
 * it from inside this request's own on_data. */
void dl_docker_resume(dl_docker_req_t *req);
/* Aborts req; its done callback runs with DL_ECLOSED before return. */
void dl_docker_cancel(dl_docker_req_t *req);
/* One sentence on the latest failed request ("cannot connect to Docker at
 * /var/run/docker.sock: ..."), owned by d; meant to be read inside a done
 * callback with err != 0. "" before any failure. */
const char *dl_docker_last_error(const dl_docker_t *d);

#endif
