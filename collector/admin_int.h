/* admin_int.h - what the admin socket's files share: the connection,
 * the answer helpers, and the functions one file calls in another
 * (dl_admin__*). Private to collector/admin*.c. */
#ifndef DL_COLLECTOR_ADMIN_INT_H
#define DL_COLLECTOR_ADMIN_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "collector/auth.h"
#include "collector/pubsub.h"
#include "collector/serve_int.h"
#include "collector/token.h"
#include "common/buf.h"

typedef struct {
	uv_pipe_t pipe;
	uv_work_t work;
	dl_server_t *srv;
	dl_frame_reader_t rd;
	uid_t uid;
	pid_t pid;
	bool busy;
	uint64_t work_ns;   /* queued (monotonic), for the metric */
	uint64_t ran_ns[2]; /* the worker's start and end */
	bool closing;
	json_t *req;  /* owned while busy */
	json_t *resp; /* built on the worker thread */
	char *frame;  /* or a ready frame (history), same ownership */
	size_t frame_len;
	/* A control request: resolved on the threadpool, then routed. */
	bool ctl;
	dl_call_req_t call;
	char ctl_host[DL_HOST_MAX + 1];
	char ctl_target[DL_CTL_NAME_MAX + 1];
	char ctl_error[512];
	char ctl_user[DL_AUDIT_USER_MAX + 1];
	const char *ctl_code;	/* with ctl_error: the answer's code */
	const char *ctl_status; /* and the audit status ("error") */
	uint32_t call_id;	/* in flight, 0 = none */
	dl_auth_t auth;		/* who sent the current request */
	/* token_create/revoke waiting for the writer (busy meanwhile) */
	dl_token_t tok;
	char tok_secret[DL_TOKEN_SECRET_LEN + 1];
	int64_t silence_id; /* silence_add/rm waiting for the writer */
	/* host_labels waiting for the writer: its answer (or sentence)
	 * and the audit row's key (owned; freed when answered) */
	char *labels_out;
	char labels_req[DL_AUDIT_REQ_MAX];
	uint64_t labels_start_ns;
	dl_sub_t *sub;	   /* a subscriber: only writes from now on */
	dl_buf_t *metrics; /* "metrics": serve's part, then the store's */
} admin_conn_t;

typedef struct {
	uv_write_t w;
	dl_server_t *srv;
	uint32_t call_id;
	size_t n;
} chunk_write_t;

/* admin_control.c */
bool dl_admin__control_refused(admin_conn_t *c);
json_t *dl_admin__parse_control(admin_conn_t *c, json_t *req);
void dl_admin__start_call(admin_conn_t *c);

/* admin.c */
void dl_admin__conn_close(admin_conn_t *c);
json_t *dl_admin__fail(const char *code, const char *fmt, const char *a);
json_t *dl_admin__ok(json_t *data);
void dl_admin__on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
void dl_admin__on_closed(uv_handle_t *h);
void dl_admin__on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf);
void dl_admin__respond(admin_conn_t *c, json_t *resp);

/* admin_ops.c */
bool dl_admin__alerts_op(const char *op);
json_t *dl_admin__run_alerts(admin_conn_t *c, const char *op, json_t *req);
json_t *dl_admin__run_notify(admin_conn_t *c, const char *op, json_t *req);
json_t *dl_admin__run_token(admin_conn_t *c, const char *op, json_t *req);
json_t *dl_admin__run_labels(admin_conn_t *c, json_t *req);

/* admin_query.c */
void dl_admin__work_cb(uv_work_t *w);

#endif
