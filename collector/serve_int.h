/* serve_int.h - state shared by serve.c, session.c and admin.c. Private
 * to the collector daemon. */
#ifndef DL_COLLECTOR_SERVE_INT_H
#define DL_COLLECTOR_SERVE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "collector/conf.h"
#include "collector/store.h"
#include "collector/token.h"
#include "common/hidx.h"
#include "proto/control.h"
#include "proto/frame.h"
#include "proto/msg.h"

typedef struct dl_session dl_session_t;
typedef struct dl_call dl_call_t;

typedef struct {
	uv_loop_t *loop;
	const dl_cconf_t *conf;
	dl_store_t *store;
	dl_tokens_t *tokens; /* live API tokens (loop thread only) */
	uv_pipe_t agent_listener;
	uv_pipe_t admin_listener;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	dl_session_t *sessions; /* all live agent sessions */
	dl_hidx_t by_sid;	/* sid -> session (session.c) */
	dl_hidx_t by_host;	/* host -> its session, once ATTACHed */
	size_t nlive;		/* sessions in S_LIVE */
	uint64_t next_sid;
	dl_call_t *calls; /* control requests in flight (router.c) */
	uint32_t next_call_id;
	uint64_t boot_ns; /* unix ns at start: audit keys are boot-id */
	uv_timer_t call_timer;
	uv_timer_t watchdog; /* systemd's, when it asks for one */
	bool stopping;
	struct dl_pubsub *pubsub;   /* live push (pubsub.c) */
	struct dl_metrics *metrics; /* serve's own counters (metrics.c) */
	struct dl_notify *notify;   /* channels and hooks (notify.c) */
	struct dl_rw *rw;	  /* [remote_write] (remote_write.c), or NULL */
	struct dl_alerts *alerts; /* alert rules (alerts.c), or NULL */
	uv_timer_t alert_timer;	  /* advances for/repeat clocks, 1 s */
} dl_server_t;

/* session.c */
void dl_session_accept(dl_server_t *srv);
void dl_session_ack(dl_server_t *srv, uint64_t sid, uint64_t epoch,
		    uint64_t seq);
void dl_session_close_all(dl_server_t *srv, const char *why);
/* Closes host's live session, if any, without marking it offline (the
 * caller is about to purge it). Returns whether one was live. */
bool dl_session_drop(dl_server_t *srv, const char *host, const char *why);

/* The live session of host: its sid, or 0 when the host is offline.
 * *software is NULL, or the agent's version when it predates control
 * (its HELLO caps lack "control": it must not be sent REQUESTs). */
uint64_t dl_session_live(dl_server_t *srv, const char *host,
			 const char **software);
/* Sends m on session sid: 0, or DL_ECLOSED when it is gone. */
int dl_session_send(dl_server_t *srv, uint64_t sid, const dl_msg_t *m);

/* router.c: control requests (see the file's head comment). */
typedef struct {
	const char *host;
	const dl_op_t *op;
	const char *target;  /* as the admin named it; "" for host ops */
	json_t *args;	     /* validated, container resolved; borrowed */
	uint32_t timeout_ms; /* 0 = none */
	uid_t uid;	     /* the admin (SO_PEERCRED) */
	const char *user;    /* its name, or "uid N" */
	int64_t last_seen;   /* unix s, for the offline sentence; 0 never */
	const char *error;   /* set: fail at once with this sentence */
	const char *status;  /* and this audit status */
	const char *code;    /* and this answer code (NULL: from status) */
} dl_call_req_t;

typedef struct {
	/* Stream output; the admin side calls dl_call_delivered(srv, id,
	 * n) once the bytes are written to its client. */
	void (*chunk)(void *ud, uint32_t id, uint32_t fd, const uint8_t *p,
		      size_t n);
	/* The outcome, {"ok": ..., "status": ...} (consumed). Runs once,
	 * unless the admin cancels first. */
	void (*done)(void *ud, json_t *resp);
} dl_call_sink_t;

/* Starts a call; returns its id, or 0 when it already ended (done has
 * run: offline, invalid, ...). */
uint32_t dl_call_start(dl_server_t *srv, const dl_call_req_t *req,
		       const dl_call_sink_t *sink, void *ud);
/* The admin went away: CANCEL to the agent, audited, done not called. */
void dl_call_cancel(dl_server_t *srv, uint32_t id);
void dl_call_delivered(dl_server_t *srv, uint32_t id, size_t n);
/* session.c hands over RESPONSE, STREAM and END, and its end. */
/* 0, or DL_EPROTO with why: the session must close (the agent broke
 * the protocol). */
int dl_call_from_agent(dl_server_t *srv, uint64_t sid, const dl_msg_t *m,
		       char *why, size_t whylen);
void dl_call_session_closed(dl_server_t *srv, uint64_t sid, const char *why);
void dl_router_init(dl_server_t *srv);
void dl_router_close(dl_server_t *srv);

/* admin.c */
void dl_admin_accept(dl_server_t *srv);

/* session.c: live agent sessions now (for metrics). */
size_t dl_session_live_count(dl_server_t *srv);

/* Reads SO_PEERCRED of a connected unix stream. 0 or DL_EIO. */
int dl_peer_cred(uv_stream_t *s, uid_t *uid, pid_t *pid);

#endif
