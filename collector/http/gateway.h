/* gateway.h - `dockline-collector http`: the HTTP/WebSocket gateway.
 *
 * A translator between HTTP clients and serve's admin socket, on one
 * libuv loop driving libwebsockets. It holds no secrets, never opens the
 * database, and runs as the unprivileged [http] user: serve decides
 * everything (tokens, roles, audit). */
#ifndef DL_HTTP_GATEWAY_H
#define DL_HTTP_GATEWAY_H

#include "collector/conf.h"

/* Runs until SIGTERM/SIGINT. Returns the process exit code. */
int dl_http_run(const dl_cconf_t *conf);

#endif
