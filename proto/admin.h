/* admin.h - the admin link between the `dockline` CLI and the collector.
 *
 * Same framing as the agent link (4-byte BE length + payload) but the
 * payload is one JSON object, because the admin surfaces (CLI now, HTTP
 * later) speak JSON anyway:
 *   request  {"op": "ps", "host": "web-01", "all": true, ...}
 *   response {"ok": true, "data": ...}
 *          | {"ok": false, "error": "sentence", "code": "word"}
 * Any request may carry "token": "dlt_..." (an API token: serve checks
 * it and applies its role and hosts; requests from the gateway's uid
 * must) and "client": "203.0.113.7" (the gateway's peer, only ever
 * logged, never trusted). "code" is one of invalid, unauthorized,
 * forbidden (the token's role), refused (the host's policy), not_found,
 * offline, busy, timeout, unknown, error: what the gateway maps to an
 * HTTP status and the CLI to an exit code (docs/ARCHITECTURE.md).
 * whoami -> {name, role, hosts} of the request's token ("local",
 * "admin", "*" without one): the web page's sign-in check.
 * Token ops: token_create {name, role, hosts?, expires_s?} -> {name,
 * role, hosts, created, expires, secret}, token_list -> [{name, role,
 * hosts, created, expires, last_used}], token_revoke {name} -> {name,
 * revoked}.
 * host_labels {host, set?: {K: V}, remove?: [K]} -> {host, labels}
 * (role admin; collector/hostlabel.h has the rules; audited as op
 * "label").
 * Requests are capped at DL_ADMIN_REQ_MAX, responses at DL_ADMIN_RESP_MAX.
 * The blocking helpers here are for the CLI only; the collector reads
 * requests inside its libuv loop. */
#ifndef DL_PROTO_ADMIN_H
#define DL_PROTO_ADMIN_H

#include <jansson.h>
#include <stddef.h>

#define DL_ADMIN_REQ_MAX  (64u * 1024u)
#define DL_ADMIN_RESP_MAX (64u * 1024u * 1024u)

/* Connects to the admin socket at path. Returns fd or a negative DL_E*
 * (DL_ENOENT: no socket file, DL_ECONNREFUSED: nobody listening). */
int dl_admin_connect(const char *path);
/* Sends obj as one frame (blocking). 0 or DL_E*. */
int dl_admin_send(int fd, const json_t *obj, size_t max);
/* Receives one frame and parses it as a JSON object (blocking, waits at
 * most timeout_ms, 0 = forever). The caller owns *out. */
int dl_admin_recv(int fd, size_t max, int timeout_ms, json_t **out);

/* Control streams (logs, exec) answer with binary frames before the
 * final JSON one: payload[0] is 1 (stdout) or 2 (stderr), the rest the
 * bytes. A JSON payload always starts with '{'.
 *
 * {"op":"metrics"} answers the same way: binary frames [1][<= 64 KiB of
 * Prometheus text format 0.0.4], then {"ok":true}.
 *
 * {"op":"subscribe","what":"events","host"?,"type"?,"action"?} answers
 * {"ok":true,"data":{"subscribed":"events"}} and then, after each COMMIT
 * holding matching events, one frame per event {"event":{seq, host,
 * time, time_ns, type, action, id, name, attributes}} (the "events" row
 * keys; seq is the row id and rises in commit order). "what":"stats"
 * ("host"? only) pushes {"stats":[rows as "stats"]} and {"host_stats":
 * [{host, time, time_ns, cpu_percent, mem_used_bytes, ...}]} per host
 * after each COMMIT holding its samples. The connection then only
 * receives: anything the client sends, or EOF, ends it. A subscriber
 * with more than 1 MiB unsent when the next push comes is closed; at
 * most 1024 subscribe at once (more: {"ok":false,"code":"busy"}).
 * A client following events subscribes first, then queries the backlog,
 * then prints pushed events with seq above the backlog's last one. */
#define DL_ADMIN_STDOUT 1
#define DL_ADMIN_STDERR 2

/* Receives one whole frame payload, whatever it holds (blocking, like
 * dl_admin_recv). The caller frees *out. */
int dl_admin_recv_frame(int fd, size_t max, int timeout_ms, char **out,
			size_t *len);
/* Parses a payload as one JSON object: 0 or DL_EPROTO. */
int dl_admin_parse(const char *p, size_t n, json_t **out);

/* Encodes obj as a whole frame into a malloc'ed buffer (*len bytes). */
char *dl_admin_frame(const json_t *obj, size_t max, size_t *len);

#endif
