/* serve.h - `dockline-collector serve`: the collector's libuv loop.
 *
 * Owns the agent socket (attach processes relay agent sessions here) and
 * the admin socket (the CLI). Sessions are checked with SO_PEERCRED,
 * speak the protocol in proto/PROTOCOL.md and hand data frames to the
 * store's writer thread; ACKs go out only after the writer's COMMIT. A
 * bad frame closes that one session; nothing an agent sends can stop the
 * loop. */
#ifndef DL_COLLECTOR_SERVE_H
#define DL_COLLECTOR_SERVE_H

#include "collector/conf.h"

/* Runs until SIGTERM/SIGINT. Returns a process exit code. */
int dl_serve_run(const dl_cconf_t *conf);

/* Binds a unix stream socket at path with mode, replacing a stale socket
 * file left by a killed process but refusing when a live process still
 * listens there. Exposed for attach tests. */
struct uv_pipe_s;
int dl_serve_listen_unix(struct uv_pipe_s *pipe, const char *path, int mode,
			 char *err, size_t errlen);

#endif
