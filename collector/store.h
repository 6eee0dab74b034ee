/* store.h - the collector's SQLite store and its single writer thread.
 *
 * One writer thread owns the only write connection (WAL, busy_timeout) and
 * group-commits: each transaction holds what queued up while the previous
 * one ran, at most DL_STORE_BATCH_MAX items, so the time bound is one
 * COMMIT and an idle collector adds no batching delay. After each COMMIT it reports, per session,
 * the highest (epoch, seq) that the commit made durable, through the
 * commit callback, which runs on the libuv loop thread (uv_async). Data
 * frames at or below a host's committed (epoch, seq) are skipped, so a
 * resend after reconnect is stored exactly once. STATS and HOSTSTATS
 * become raw samples plus minute/hour rollups, and the writer expires old
 * samples in small steps between batches (docs/ARCHITECTURE.md, "Stats").
 * Control requests are audited through the same queue (dl_store_audit_*).
 * Readers never use the
 * write connection: see query.h. The store never blocks the loop thread
 * for more than a mutex hold. */
#ifndef DL_COLLECTOR_STORE_H
#define DL_COLLECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define DL_STORE_BATCH_MAX 5000
#define DL_STORE_QUEUE_MAX (64u * 1024u * 1024u) /* bytes queued to writer */
#define DL_HOST_MAX	   63

typedef struct dl_store dl_store_t;

/* Called on the loop thread after a COMMIT: session sid may now be acked
 * up to (epoch, seq). */
typedef void (*dl_store_ack_cb)(void *ud, uint64_t sid, uint64_t epoch,
				uint64_t seq);

/* Opens (creating if needed) the database at path, runs migrations
 * (PRAGMA user_version), starts the writer thread. ack_cb/ud receive
 * commit notifications on loop. On failure returns NULL with a sentence
 * in err. */
dl_store_t *dl_store_open(uv_loop_t *loop, const char *path,
			  dl_store_ack_cb ack_cb, void *ud, char *err,
			  size_t errlen);
/* Flushes pending work, stops the writer, closes. Must be called on the
 * loop thread; the loop must run afterwards until the async handle is
 * closed (the store frees itself then). */
void dl_store_close(dl_store_t *s);

/* Hosts with delivery state (every host that ever delivered a frame):
 * the fleet size serve announces in HELLO. Thread-safe. */
size_t dl_store_hosts_known(dl_store_t *s);

/* Last committed (epoch, seq) for host, from the writer's cache; 0, 0 if
 * the host never delivered. Thread-safe. */
void dl_store_last(dl_store_t *s, const char *host, uint64_t *epoch,
		   uint64_t *seq);

/* Queues a data frame payload (msgpack, already validated by the caller
 * with dl_msg_decode) from session sid of host. The payload is copied.
 * Returns 0, or DL_EFULL when the writer is more than
 * DL_STORE_QUEUE_MAX behind (the caller should stop reading that
 * session until acks catch up). */
int dl_store_submit(dl_store_t *s, uint64_t sid, const char *host,
		    const uint8_t *payload, size_t len);

/* Host session state changes, applied in order with data. */
/* control: what the agent allows ("read, lifecycle"), NULL for an agent
 * without control. */
int dl_store_host_online(dl_store_t *s, const char *host, const char *peer,
			 const char *software, const char *control,
			 uint64_t time_ns);
int dl_store_host_offline(dl_store_t *s, const char *host, uint64_t time_ns);
/* The agent's wall clock minus the collector's at its HELLO, in ms
 * (known = false: the agent did not send its time; stored as NULL).
 * Queue after dl_store_host_online, which makes the host's row. */
int dl_store_host_clock(dl_store_t *s, const char *host, bool known,
			int64_t skew_ms);

/* Deletes every row of host (history, containers, delivery state),
 * in order with data already queued. The caller closes its session
 * first. */
int dl_store_forget(dl_store_t *s, const char *host);

/* The audit log of control requests: one row per request, written at
 * its start (status "running") and completed at its end. Rows name the
 * host as the request did, so they outlive dl_store_forget and may name
 * hosts that never existed. Strings over these caps are refused, except
 * args and message, which are cut to fit and end in "...". */
#define DL_AUDIT_REQ_MAX     64
#define DL_AUDIT_USER_MAX    64
#define DL_AUDIT_HOST_MAX    255
#define DL_AUDIT_OP_MAX	     32
#define DL_AUDIT_TARGET_MAX  256
#define DL_AUDIT_ARGS_MAX    4096
#define DL_AUDIT_MESSAGE_MAX 1024

typedef struct {
	const char *req;    /* unique key, e.g. "1732412345-17" */
	uint64_t time_ns;   /* start, wall clock */
	uint32_t uid;	    /* admin's uid (SO_PEERCRED) */
	const char *user;   /* its name, or "uid 1234" */
	const char *host;   /* as the request named it */
	const char *op;	    /* "stop", "logs", ... */
	const char *target; /* "" (or NULL) for host-level ops */
	const char *args;   /* JSON summary, secrets redacted; NULL = "" */
} dl_audit_t;

/* Records the start of a control request: a row with status "running",
 * in order with data. Strings are copied. 0, DL_EINVAL (a required string
 * NULL or empty, or over its cap), DL_ENOMEM or DL_ECLOSED. A row that
 * the writer cannot store is logged, never a reason to hold back data. */
int dl_store_audit_start(dl_store_t *s, const dl_audit_t *a);

/* Completes row req, if it is still "running": status is one of ok,
 * error, refused, offline, timeout, cancelled, unknown; message may be ""
 * or NULL; exit_code INT_MIN = none (stored NULL); duration_ms >= 0.
 * Returns like dl_store_audit_start. */
int dl_store_audit_end(dl_store_t *s, const char *req, const char *status,
		       const char *message, int exit_code, int64_t duration_ms);

/* API tokens (table tokens, schema v4). Writes that need an answer
 * take a done callback: it runs on the loop thread, through the same
 * uv_async as acks, once the batch holding the write committed, with 0
 * or a DL_E* code; always exactly once, before dl_store_close returns
 * at the latest (a write given up while closing reports DL_EDB). */
typedef void (*dl_store_done_cb)(void *ud, int result);

#define DL_TOKEN_ROW_MAX 255 /* any string of a token row */

typedef struct {
	const char *name;  /* validated by the caller (token.h) */
	const char *hash;  /* SHA-256 hex of the secret; never the secret */
	const char *role;  /* "read", "operate", "admin" */
	const char *hosts; /* glob */
	int64_t created;   /* unix s */
	int64_t expires;   /* unix s, 0 = never */
} dl_token_row_t;

/* Inserts a token; done gets 0, DL_EEXIST (a live token has that name
 * or that hash) or DL_EDB. A revoked row of the same name is replaced.
 * Returns 0 (done will run), DL_EINVAL, DL_ENOMEM or DL_ECLOSED (done
 * will not run). */
int dl_store_token_create(dl_store_t *s, const dl_token_row_t *t,
			  dl_store_done_cb done, void *ud);
/* Marks name revoked at when (unix s); done gets 0, DL_ENOENT (no live
 * token of that name) or DL_EDB. Returns like dl_store_token_create. */
int dl_store_token_revoke(dl_store_t *s, const char *name, int64_t when,
			  dl_store_done_cb done, void *ud);
/* Records that name was used at when (unix s); no answer. The caller
 * rate-limits (DL_TOKEN_USED_PERIOD_S). */
int dl_store_token_used(dl_store_t *s, const char *name, int64_t when);

/* Alert states and silences (tables alerts and silences, schema v5),
 * written for collector/alerts.c, which hands out the ids. Strings are
 * copied; "" container/rule = none (NULL in the row). Times unix ms, 0 =
 * NULL. A row the writer cannot store is logged, never a reason to hold
 * back data. Returns 0, DL_EINVAL, DL_ENOMEM or DL_ECLOSED. */
#define DL_ALERT_ROW_MAX 512 /* any string of an alert or silence row */
typedef struct {
	int64_t id;
	const char *rule, *key, *host, *container, *severity, *state;
	const char *summary;
	int64_t since, fired_at, resolved_at, last_notified;
	bool has_value;
	double value;
	/* The last send that failed after its retries ("channel: why"),
	 * NULL or "" = none; cleared by the next success. */
	const char *notify_error;
	int64_t notify_failed_at;
} dl_alert_row_t;
int dl_store_alert_put(dl_store_t *s, const dl_alert_row_t *r);
int dl_store_alert_delete(dl_store_t *s, int64_t id);
/* Deletes resolved rows resolved before before_ms (a few thousand per
 * call). */
int dl_store_alert_prune(dl_store_t *s, int64_t before_ms);

typedef struct {
	int64_t id;
	const char *host, *container, *rule, *comment, *by;
	int64_t created, expires;
} dl_silence_row_t;
/* done (may be NULL) gets 0 or DL_EDB after the COMMIT. */
int dl_store_silence_put(dl_store_t *s, const dl_silence_row_t *r,
			 dl_store_done_cb done, void *ud);
/* Ends silence id at when (its expires moves there). */
int dl_store_silence_end(dl_store_t *s, int64_t id, int64_t when,
			 dl_store_done_cb done, void *ud);

/* Retention windows in seconds (collector.conf [retention]): stats per
 * tier, and finished audit rows. The writer deletes what is older in
 * steps of at most a few thousand rows between batches, once a second,
 * so ingest never waits long. A call also runs a step soon. Values <= 0
 * keep the current window. All four are set in one call: a step run
 * between two calls would cut with a default window the caller meant
 * to widen. */
#define DL_STORE_RAW_DEFAULT	(48 * 3600)
#define DL_STORE_MINUTE_DEFAULT (30 * 86400)
#define DL_STORE_HOUR_DEFAULT	(365 * 86400)
#define DL_STORE_AUDIT_DEFAULT	(400 * 86400)
void dl_store_set_retention(dl_store_t *s, int64_t raw_s, int64_t minute_s,
			    int64_t hour_s, int64_t audit_s);

/* CPU percent as docker stats computes it, from two cumulative readings
 * of container and host CPU time; -1 when it cannot be known (no
 * interval, a counter went backwards). Exposed for tests. */
double dl_store_cpu_percent(uint64_t prev_cpu, uint64_t prev_sys, uint64_t cpu,
			    uint64_t sys, uint32_t online);
/* Host busy percent from cumulative total and idle CPU time; -1 when
 * unknown. */
double dl_store_host_cpu_percent(uint64_t prev_total, uint64_t prev_idle,
				 uint64_t total, uint64_t idle);

/* Items queued but not yet committed (for tests and metrics). */
size_t dl_store_pending(dl_store_t *s);

/* Live push (collector/pubsub.c). While enabled, after each COMMIT that
 * stored events or samples the loop thread gets, with the acks, the id
 * of the newest committed event row and the hosts whose container or
 * host samples that COMMIT (or those since the last call) stored. Only
 * ids and names travel: the subscriber side reads the rows itself.
 * hosts is valid during the call only. */
typedef void (*dl_store_push_cb)(void *ud, int64_t last_event,
				 const char *const *hosts, size_t nhosts);
/* Loop thread, before subscribers exist. */
void dl_store_on_push(dl_store_t *s, dl_store_push_cb cb, void *ud);
/* Turned on by the loop while there is at least one subscriber, so an
 * unwatched collector pays nothing per sample. Thread-safe. */
void dl_store_push_enable(dl_store_t *s, bool on);
/* Row id of the newest committed event (0 none). Thread-safe. */
int64_t dl_store_last_event(dl_store_t *s);

/* Counters since the store opened, for `metrics`. commit_le[i] counts
 * COMMITs that took at most dl_store_commit_bounds[i] seconds
 * (cumulative, Prometheus style); commits counts all of them. */
#define DL_STORE_COMMIT_BUCKETS 12
extern const double dl_store_commit_bounds[DL_STORE_COMMIT_BUCKETS];
typedef struct {
	uint64_t events, samples, host_samples; /* rows stored */
	uint64_t commit_le[DL_STORE_COMMIT_BUCKETS];
	uint64_t commits;
	double commit_seconds;
} dl_store_counters_t;
/* Thread-safe. */
void dl_store_counters(dl_store_t *s, dl_store_counters_t *out);

#endif
