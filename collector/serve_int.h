/* serve_int.h - state shared by serve.c, session.c and admin.c. Private
 * to the collector daemon. */
#ifndef DL_COLLECTOR_SERVE_INT_H
#define DL_COLLECTOR_SERVE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "collector/conf.h"
#include "collector/store.h"
#include "proto/frame.h"

typedef struct dl_session dl_session_t;

typedef struct {
	uv_loop_t *loop;
	const dl_cconf_t *conf;
	dl_store_t *store;
	uv_pipe_t agent_listener;
	uv_pipe_t admin_listener;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	dl_session_t *sessions; /* all live agent sessions */
	uint64_t next_sid;
	bool stopping;
} dl_server_t;

/* session.c */
void dl_session_accept(dl_server_t *srv);
void dl_session_ack(dl_server_t *srv, uint64_t sid, uint64_t epoch,
		    uint64_t seq);
void dl_session_close_all(dl_server_t *srv, const char *why);
/* Closes host's live session, if any, without marking it offline (the
 * caller is about to purge it). Returns whether one was live. */
bool dl_session_drop(dl_server_t *srv, const char *host, const char *why);

/* admin.c */
void dl_admin_accept(dl_server_t *srv);

/* Reads SO_PEERCRED of a connected unix stream. 0 or DL_EIO. */
int dl_peer_cred(uv_stream_t *s, uid_t *uid, pid_t *pid);

#endif
