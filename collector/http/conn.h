/* conn.h - one HTTP request or WebSocket of the gateway: the
 * libwebsockets callback, from the request head to the last byte. */
#ifndef DL_HTTP_CONN_H
#define DL_HTTP_CONN_H

#include <libwebsockets.h>
#include <uv.h>

#include "collector/conf.h"

/* What every connection shares (set once by gateway.c). */
typedef struct {
	const dl_cconf_t *conf;
	uv_loop_t *loop;
	size_t active;	/* requests and WebSockets being served */
	size_t sockets; /* accepted TCP connections open now */
} dl_gw_t;

/* Per-connection state size for lws_protocols.per_session_data_size. */
size_t dl_conn_size(void);
/* The lws protocol callback; lws_context_user must be the dl_gw_t. */
int dl_conn_callback(struct lws *wsi, enum lws_callback_reasons reason,
		     void *user, void *in, size_t len);

#endif
