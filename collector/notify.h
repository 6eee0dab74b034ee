/* notify.h - notification channels and event hooks (issue 11): sends an
 * alert or an event to webhooks (plain JSON, Slack, Discord, ntfy,
 * Gotify, Microsoft Teams), email (SMTP through libcurl, STARTTLS) or a
 * command. Sends never block the caller: they run on a worker thread
 * (libcurl multi), retry with backoff, and are bounded in number and
 * time. What they never do: hold the store, block ingest, log a secret
 * (URLs are logged without their query string and userinfo, headers
 * never).
 *
 * Configuration lives in collector.conf sections parsed by this module
 * (docs/ALERTS.md "Channels" and "Hooks" has every key and body shape):
 *   [notify NAME]  kind = webhook|slack|discord|ntfy|gotify|teams|email|exec
 *                  url = ..., header1..header9 = K: V (webhook),
 *                  token_file (gotify, ntfy), card (teams),
 *                  smtp_url, starttls, from, to, username, password_file,
 *                  command, timeout = 10s, retries = 5
 *   [hook NAME]    on = container:die, container:start, host:offline, ...
 *                  hosts = GLOB, containers = GLOB, notify = CHANNEL
 *                  or command = ..., timeout = 10s
 * Split: notify.c (config, queues, worker), notify_render.c (bodies,
 * environment: pure), notify_exec.c (commands).
 */
#ifndef DL_COLLECTOR_NOTIFY_H
#define DL_COLLECTOR_NOTIFY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "common/buf.h"

typedef struct dl_notify dl_notify_t;

/* Parses every [notify NAME] and [hook NAME] section of the collector
 * configuration file at path (NULL: none), with file:line errors. NULL
 * + err on a bad section. */
dl_notify_t *dl_notify_load(const char *path, char *err, size_t errlen);
/* Starts the worker thread; results come back on loop. 0 or DL_E*.
 * Nothing configured: no thread, no handle, every send DL_ENOENT. */
int dl_notify_start(dl_notify_t *n, uv_loop_t *loop);
/* Loop thread, when serve stops: queued sends and waiting retries end
 * now ("collector is stopping"), in-flight ones get 3 s, then the
 * worker exits and the last done callbacks run; only then does the
 * worker's uv_async handle close (so the loop may end). */
void dl_notify_stop(dl_notify_t *n);
/* After the loop has ended (or without start): joins, frees. NULL ok. */
void dl_notify_free(dl_notify_t *n);

/* Whether a channel of that name is configured (for rule validation). */
bool dl_notify_has(const dl_notify_t *n, const char *channel);

/* The outcome of one send, after its retries: on the loop thread. */
typedef void (*dl_notify_done_cb)(void *ud, const char *channel, bool ok,
				  const char *detail /* receiver's answer or
						       the error sentence */);

/* Queues msg (borrowed; copied) to channel. Loop thread. msg is the documented alert
 * body (docs/ALERTS.md): {"kind": "alert", "status": "firing"|"resolved",
 * "rule", "severity", "host", "container"?, "summary" (one sentence),
 * "started_at", "resolved_at"?, "value"?, "labels": {...}}, or for a test
 * {"kind": "test", "summary": ...}. Each channel kind renders it in its
 * own body shape. done (may be NULL) reports the outcome, exactly once
 * for every send that returned 0. 0, DL_ENOENT (no such channel),
 * DL_EFULL (DL_NOTIFY_QUEUE sends queued or in flight: counted as
 * dropped), DL_ETOOBIG (msg over 64 KiB as JSON), DL_EINVAL (not an
 * object) or DL_ECLOSED (stopping, or not started). */
int dl_notify_send(dl_notify_t *n, const char *channel, const json_t *msg,
		   dl_notify_done_cb done, void *ud);

/* An event committed to the store (the `events` query row shape: host,
 * time_ns, type, action, id, name, attributes), or a host state change
 * ({"type":"host","action":"offline"|"online", "host"}): runs every
 * matching [hook]. Never blocks. */
void dl_notify_event(dl_notify_t *n, const json_t *event);
/* Whether any [hook] is configured (serve listens to pubsub only then). */
bool dl_notify_has_hooks(const dl_notify_t *n);

/* `dockline notify test CHANNEL`: sends {"kind":"test","summary":
 * "dockline test message from HOSTNAME"} like dl_notify_send. */
int dl_notify_test(dl_notify_t *n, const char *channel, dl_notify_done_cb done,
		   void *ud);
/* {"channels":[{name, kind, target (scheme://host:port, or the
 * command's path), timeout_s, retries, sent, failed, dropped}],
 * "hooks":[{name, on, hosts, containers, notify | command, ok, failed,
 * dropped}]}: never a secret, a URL path or a header. Caller owns. */
json_t *dl_notify_list(const dl_notify_t *n);
/* Appends dockline_notifications_total{channel,result} and
 * dockline_hook_runs_total{hook,result} (result ok|failed|dropped) in
 * the text exposition format. 0 or DL_ETOOBIG. Loop thread. */
int dl_notify_metrics(const dl_notify_t *n, dl_buf_t *b);

#endif
