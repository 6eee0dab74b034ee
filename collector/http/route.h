/* route.h - HTTP request -> admin request: the gateway's whole API surface.
 *
 * Pure: no sockets, no clock, no lws. A method, a decoded path, the query
 * pairs and (for POST) the body go in; either one admin request (JSON, as
 * proto/admin.h and the CLI speak it) or an HTTP error comes out. It never
 * sees the header or cookie token or the client address: the gateway adds
 * those. (The one token it handles is the sign-in body's, which it moves
 * into the whoami request that checks it.) */
#ifndef DL_HTTP_ROUTE_H
#define DL_HTTP_ROUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DL_ROUTE_QUERY_MAX  16	/* query pairs per request */
#define DL_ROUTE_VALUE_MAX  512 /* bytes of one query value (a cursor) */
#define DL_ROUTE_PATH_MAX   512 /* bytes of the path */
#define DL_ROUTE_POINTS_MAX 10000

typedef enum {
	DL_ROUTE_GET,
	DL_ROUTE_POST,
	DL_ROUTE_DELETE,
	DL_ROUTE_OTHER, /* PUT, PATCH, HEAD, OPTIONS...: 405 */
} dl_route_method_t;

/* How serve's answer travels back to the HTTP client. */
typedef enum {
	DL_ROUTE_PLAIN,	  /* one JSON answer: its "data" */
	DL_ROUTE_SINGLE,  /* one JSON answer: the only element of "data" */
	DL_ROUTE_NDJSON,  /* logs/exec: [fd][bytes] frames -> NDJSON lines */
	DL_ROUTE_METRICS, /* [1][text] frames -> text/plain */
	DL_ROUTE_WS,	  /* subscribe: each pushed frame -> a WS message */
} dl_route_kind_t;

/* /api/v1/session: the web page's sign-in (docs/API.md). */
typedef enum {
	DL_ROUTE_SESSION_NONE,
	DL_ROUTE_SESSION_WHOAMI,  /* GET: who the token is */
	DL_ROUTE_SESSION_SIGNIN,  /* POST {"token"}: check it, set the cookie */
	DL_ROUTE_SESSION_SIGNOUT, /* DELETE: clear the cookie; no request */
} dl_route_session_t;

typedef struct {
	const char *key; /* NUL-terminated, decoded */
	const char *val; /* "" for a bare key */
} dl_route_kv_t;

typedef struct {
	int status;	  /* 0: routed; else the HTTP status to answer */
	const char *code; /* error word (static), when status != 0 */
	char error[256];  /* error sentence, when status != 0 */
	dl_route_kind_t kind;
	bool body;    /* POST: args come from the JSON body */
	bool control; /* a control op ("error" is Docker's: 502) */
	bool metrics; /* GET /metrics */
	dl_route_session_t session;
	json_t *req; /* the admin request; the caller owns it */
} dl_route_t;

/* Routes one request. body == NULL on a POST route checks method, path
 * and query only (the head arrived, the body not yet): status 0 with
 * req NULL and body true means "read the body, then call again".
 * upgrade: the client asked for a WebSocket. now_s: wall clock seconds
 * (durations like since=10m count back from it). Returns out->status. */
int dl_route_request(dl_route_method_t method, const char *path,
		     const dl_route_kv_t *query, size_t nquery,
		     const char *body, size_t body_len, bool upgrade,
		     int64_t now_s, dl_route_t *out);

/* Frees out->req (safe on a zeroed or already cleared route). */
void dl_route_clear(dl_route_t *out);

#endif
