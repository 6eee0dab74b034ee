/* alerts.h - alert rules (collector.conf [alert NAME]) evaluated in serve
 * on what the store commits: event rows and stats pushes from the pubsub
 * listener, host online/offline, Docker up/down and dropped-frame totals
 * from the sessions, and a 1 s timer that only advances `for` and
 * `repeat` clocks. States (pending, firing, resolved) and silences live
 * in SQLite (tables alerts and silences, written through the writer), so
 * a restart neither loses nor repeats a notification.
 *
 * Loop thread only. Never blocks and never queries the database after
 * start: per row it costs O(rules that match the host). It never sends
 * anything itself: messages go to a sink (serve wires notify.c). */
#ifndef DL_COLLECTOR_ALERTS_H
#define DL_COLLECTOR_ALERTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/store.h"
#include "common/label.h"
#include "proto/msg.h"

/* Rules across collector.conf and the files its `include` names; the
 * engine's work per row is O(rules that match the row's host and
 * container), its memory O(rules x containers they match). */
#define DL_ALERT_RULES_MAX   1024
#define DL_ALERT_FILES_MAX   64 /* files an `include` glob may match */
#define DL_ALERT_NAME_MAX    63
#define DL_ALERT_GLOB_MAX    255
#define DL_ALERT_NOTIFY_MAX  8 /* channels per rule */
#define DL_ALERT_SUMMARY_MAX 255
#define DL_ALERT_HISTORY_MAX 1000 /* resolved alerts kept in memory */
#define DL_ALERT_HISTORY_S   (7 * 86400)
#define DL_ALERT_KEEP_S	     (30 * 86400) /* resolved rows in the table */
#define DL_SILENCES_MAX	     1024
#define DL_SILENCE_TEXT_MAX  255
/* A die this soon after a kill/stop of the same container is an admin's
 * stop, not a crash. */
#define DL_ALERT_STOP_WINDOW_MS 30000
/* Events older than this when they arrive (an agent's backlog after an
 * outage) update state but never start an alert. */
#define DL_ALERT_STALE_MS (15 * 60 * 1000)

typedef enum {
	DL_COND_HOST_OFFLINE,
	DL_COND_DOCKER_DOWN,
	DL_COND_FRAMES_DROPPED,
	DL_COND_CONTAINER_EXIT,
	DL_COND_CONTAINER_OOM,
	DL_COND_CONTAINER_UNHEALTHY,
	DL_COND_RESTART_LOOP,
	DL_COND_CONTAINER_CPU,
	DL_COND_CONTAINER_MEMORY,
	DL_COND_HOST_CPU,
	DL_COND_HOST_MEMORY,
	DL_COND_HOST_DISK,
	DL_COND_HOST_LOAD,
	DL_COND_COUNT
} dl_cond_t;

typedef enum { DL_SEV_INFO, DL_SEV_WARNING, DL_SEV_CRITICAL } dl_severity_t;

typedef struct {
	char name[DL_ALERT_NAME_MAX + 1];
	dl_cond_t cond;
	bool enabled;
	char hosts[DL_ALERT_GLOB_MAX + 1];	/* fnmatch glob */
	char containers[DL_ALERT_GLOB_MAX + 1]; /* fnmatch glob */
	bool has_label;				/* `label = K` or `K=V` */
	dl_label_filter_t label;
	int64_t for_ms, repeat_ms, window_ms;
	dl_severity_t severity;
	char notify[DL_ALERT_NOTIFY_MAX][DL_ALERT_NAME_MAX + 1];
	size_t nnotify;
	bool resolve;
	double threshold;
	int64_t count;
} dl_alert_rule_t;

/* Whether a notify channel exists (dl_notify_has); NULL = any name. */
typedef bool (*dl_alerts_has_fn)(void *ud, const char *channel);

/* Reads every [alert NAME] section of the configuration file at path,
 * then of each file its [collector] `include` glob matches (sorted, at
 * most DL_ALERT_FILES_MAX, holding [alert NAME] sections only), into a
 * new array *rules (the caller frees it) of *n (at most
 * DL_ALERT_RULES_MAX). 0, or DL_ECONFIG (DL_ENOMEM) with "file:line:
 * ..." in err naming the file it is in (unknown condition or key, bad
 * value, a name defined twice, a channel has() denies). Unknown keys of
 * collector.conf itself are refused by conf.c. */
int dl_alert_rules_load(const char *path, dl_alerts_has_fn has, void *has_ud,
			dl_alert_rule_t **rules, size_t *n, char *err,
			size_t errlen);
const char *dl_cond_name(dl_cond_t c);
const char *dl_severity_name(dl_severity_t s);

typedef struct dl_alerts dl_alerts_t;

/* Receives each message (the body documented in docs/ALERTS.md and
 * notify.h) with the rule's channels (possibly none). msg is borrowed. */
typedef void (*dl_alerts_sink_fn)(void *ud, const char *const *channels,
				  size_t nchannels, const json_t *msg,
				  int64_t alert_id);
/* Wall clock in unix ms (tests pass a fake one). */
typedef int64_t (*dl_alerts_clock_fn)(void *ud);

/* rules are copied. store may be NULL (nothing persisted: tests). */
dl_alerts_t *dl_alerts_new(const dl_alert_rule_t *rules, size_t n,
			   dl_store_t *store);
void dl_alerts_free(dl_alerts_t *e);
void dl_alerts_set_sink(dl_alerts_t *e, dl_alerts_sink_fn fn, void *ud);
void dl_alerts_set_clock(dl_alerts_t *e, dl_alerts_clock_fn fn, void *ud);
/* The store to write to from now on (NULL: stop writing; closing). */
void dl_alerts_set_store(dl_alerts_t *e, dl_store_t *store);

/* Start-up: reads the alerts and silences tables and the known hosts
 * from the database at path (read-only), so pending timers and firing
 * alerts carry on; every known host starts as offline until its agent
 * says otherwise. 0 or DL_EDB + err. */
int dl_alerts_load(dl_alerts_t *e, const char *path, char *err, size_t errlen);

/* Inputs (loop thread). */
void dl_alerts_event(dl_alerts_t *e, const json_t *row);
void dl_alerts_stats(dl_alerts_t *e, const char *host, const char *key,
		     const json_t *rows);
void dl_alerts_host(dl_alerts_t *e, const char *host, bool online);
void dl_alerts_docker(dl_alerts_t *e, const char *host, bool up,
		      const char *reason);
void dl_alerts_dropped(dl_alerts_t *e, const char *host, uint64_t frames);
/* A container's labels for `label =` scopes and the message's `labels`,
 * from INVENTORY (replaces the host's set; a container sent without
 * labels keeps those known) and CONTAINER frames (removed forgets). */
void dl_alerts_inventory(dl_alerts_t *e, const char *host,
			 const dl_container_t *v, uint32_t n);
void dl_alerts_container(dl_alerts_t *e, const char *host, bool removed,
			 const dl_container_t *c);
/* Sets host/ctr's labels (an object of strings, borrowed): load, tests. */
void dl_alerts_set_labels(dl_alerts_t *e, const char *host, const char *ctr,
			  json_t *labels);
/* The outcome of a send of alert_id (the sink's) after its retries: a
 * failure is kept on the alert ("channel: detail", shown by `alerts` and
 * the API) until a later send succeeds. Unknown ids are ignored. */
void dl_alerts_notified(dl_alerts_t *e, int64_t alert_id, const char *channel,
			bool ok, const char *detail);
/* The host's history was purged: its alerts go too (no resolve sent). */
void dl_alerts_forget(dl_alerts_t *e, const char *host);
/* Advances `for` and `repeat` clocks: serve calls it once a second. */
void dl_alerts_tick(dl_alerts_t *e);

/* Admin side. `alerts`: firing and pending; all: also resolved since
 * since_ms. New array, or NULL (out of memory). host_glob NULL = all. */
json_t *dl_alerts_list(dl_alerts_t *e, bool all, int64_t since_ms,
		       const char *host_glob);
typedef struct {
	const char *host;      /* glob */
	const char *container; /* glob, NULL = host and all its containers */
	const char *rule;      /* NULL = every rule */
	const char *comment;   /* may be NULL */
	const char *by;	       /* who made it ("uid 1000", "token ci") */
	int64_t duration_ms;
} dl_silence_req_t;
/* Adds a silence: its row through the writer, done (may be NULL) after
 * the COMMIT (never without a store). Returns its id (> 0), or DL_EINVAL, DL_EFULL, DL_ENOMEM,
 * DL_ECLOSED. */
int64_t dl_alerts_silence_add(dl_alerts_t *e, const dl_silence_req_t *r,
			      dl_store_done_cb done, void *ud);
/* Active silences as a new array. */
json_t *dl_alerts_silence_list(dl_alerts_t *e);
/* Ends silence id now: 0 (done will run when a store is set), or
 * DL_ENOENT. */
int dl_alerts_silence_rm(dl_alerts_t *e, int64_t id, dl_store_done_cb done,
			 void *ud);
/* A silence as its JSON (for the add answer); NULL when none. */
json_t *dl_alerts_silence_get(dl_alerts_t *e, int64_t id);

#endif
