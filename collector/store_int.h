/* store_int.h - what the store's files share: the queue item, the
 * writer's per-batch and per-container state, the store itself, the
 * statement ids, and the internal functions one file calls in another
 * (dl_store__*). Private to collector/store*.c. */
#ifndef DL_COLLECTOR_STORE_INT_H
#define DL_COLLECTOR_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "collector/store.h"
#include "common/hidx.h"
#include "proto/msg.h"

#define SCHEMA_VERSION 9
#define RETRY_SLEEP_MS 200  /* first retry of a failed COMMIT */
#define RETRY_MAX_MS   5000 /* backoff cap while the database is unavailable */
#define CLOSE_RETRIES  3    /* failed COMMITs tolerated while closing */

enum {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVE,
	ST_RELEASE,
	ST_ROLLTO,
	ST_HOST_TOUCH,
	ST_HOST_ONLINE,
	ST_HOST_OFFLINE,
	ST_HOST_DOCKER,
	ST_HOST_DROPPED,
	ST_HOST_CLOCK,
	ST_DELIV_GET,
	ST_DELIV_SET,
	ST_CT_UPSERT,
	ST_CT_DELETE,
	ST_CT_PRUNE,
	ST_EVENT,
	ST_KEY_UPSERT,
	ST_IDX_CID,
	ST_IDX_ALL,
	ST_CS_INSERT,
	ST_PREV_TS,
	ST_CLOSE_1M,
	ST_CLOSE_1H,
	ST_HS_INSERT,
	ST_H1M,
	ST_H1H,
	ST_RET_CIDS,
	ST_RET_HOSTS,
	ST_DEL_CS,
	ST_DEL_C1M,
	ST_DEL_C1H,
	ST_DEL_HS,
	ST_DEL_H1M,
	ST_DEL_H1H,
	ST_DEL_AUDIT,
	ST_AUDIT_START,
	ST_AUDIT_END,
	ST_TOKEN_CREATE,
	ST_TOKEN_REVOKE,
	ST_TOKEN_USED,
	ST_ALERT_PUT,
	ST_ALERT_DEL,
	ST_ALERT_PRUNE,
	ST_SILENCE_PUT,
	ST_SILENCE_END,
	ST_LABELS_GET,
	ST_LABELS_SET,
	ST_COUNT
};

typedef enum {
	IT_DATA,
	IT_INV_PARTS, /* one INVENTORY's parts: u32 n, then (u32 len, payload)s */
	IT_ONLINE,
	IT_OFFLINE,
	IT_CLOCK,
	IT_FORGET,
	IT_AUDIT_START,
	IT_AUDIT_END,
	IT_TOKEN_CREATE,
	IT_TOKEN_REVOKE,
	IT_TOKEN_USED,
	IT_ALERT_PUT,
	IT_ALERT_DEL,
	IT_ALERT_PRUNE,
	IT_SILENCE_PUT,
	IT_SILENCE_END,
	IT_HOST_LABELS
} item_kind_t;

typedef struct item {
	struct item *next;
	item_kind_t kind;
	uint64_t sid;
	uint64_t time_ns; /* collector wall clock when queued; audit: start */
	char host[DL_HOST_MAX + 1]; /* "" for audit items (host in data) */
	size_t len;
	union {
		uint32_t uid;	 /* IT_AUDIT_START */
		int64_t skew_ms; /* IT_CLOCK; INT64_MIN: unknown */
		struct {
			int exit_code; /* INT_MIN: none */
			int64_t duration_ms;
		} end; /* IT_AUDIT_END */
		struct {
			int64_t created, expires; /* IT_TOKEN_CREATE */
			int64_t when;		  /* REVOKE, USED */
		} tok;
		struct {
			int64_t id;
			int64_t t[5]; /* since, fired_at, resolved_at,
					 last_notified, notify_failed_at /
					 created, expires */
			double value;
			bool has_value;
		} al; /* IT_ALERT_*, IT_SILENCE_* */
		struct {
			char *out; /* the caller's, alive until done */
			size_t outlen;
		} lab; /* IT_HOST_LABELS */
	} au;
	/* Items that want their outcome: called on the loop thread after
	 * the batch holding them committed (or was given up), with result
	 * (0 or DL_E*), set by the item's apply. */
	dl_store_done_cb done;
	void *done_ud;
	int result;
	/* IT_DATA: the payload; IT_ONLINE: "peer\0software\0control\0";
	 * IT_AUDIT_START: "req\0user\0host\0op\0target\0args\0";
	 * IT_AUDIT_END: "req\0status\0message\0";
	 * IT_TOKEN_CREATE: "name\0hash\0role\0hosts\0"; REVOKE, USED:
	 * "name\0"; IT_ALERT_PUT: "rule\0key\0host\0container\0severity\0
	 * state\0summary\0notify_error\0"; IT_SILENCE_PUT: "host\0container\0rule\0
	 * comment\0by\0"; IT_HOST_LABELS: "set\0remove\0" (JSON texts). */
	uint8_t data[];
} item_t;

typedef struct {
	uint64_t sid;
	uint64_t epoch, seq;
} ack_t;

typedef struct {
	dl_store_done_cb cb;
	void *ud;
	int result;
} done_t;

typedef struct {
	char host[DL_HOST_MAX + 1];
	uint64_t epoch, seq;
} deliv_t;

/* A host as the current batch sees it. */
typedef struct {
	char host[DL_HOST_MAX + 1];
	bool have, dirty; /* delivery row exists / advanced this batch */
	uint64_t epoch, seq;
	uint64_t touched_ns; /* last_seen written at first sight */
	uint64_t last_ns;    /* newest item time in the batch */
} bhost_t;

/* Growable array of fixed-size entries. */
typedef struct {
	void *v;
	size_t n, cap, size;
} vec_t;

#define MINUTE_NS     60000000000ll
#define HOUR_NS	      3600000000000ll
#define IDX_CACHE_MAX (1u << 20) /* idx beyond this: looked up, not cached */
#define RET_STEP_ROWS 5000	 /* rows one retention step may delete */
#define RET_STEP_KEYS 256	 /* containers one retention step visits */
#define RET_PERIOD_NS 1000000000ull

enum { TIER_MIN, TIER_HOUR, TIERS };

/* A rollup bucket being filled in writer memory; merged into its row
 * (ROLLUP_UPSERT) once per batch or when the bucket changes. */
typedef struct {
	int64_t bucket; /* -1: nothing yet */
	int64_t n, cpu_n, mem_n;
	double cpu_sum, cpu_max, mem_sum;
	uint64_t mem_max;
	bool cpu_any, mem_any;
	int64_t last_ts;
	dl_sample_t last;
} acc_t;

/* Per container (cid): the previous CPU reading for cpu_percent, and
 * the open minute and hour (-1 before the first sample this run). Open
 * addressing on cid; cid 0 = free. */
typedef struct {
	int64_t cid;
	bool have_prev;
	uint64_t prev_ts, prev_cpu, prev_sys;
	int64_t open[TIERS];
} cstate_t;

/* Per host: the agent's idx -> cid map (0 unknown, -1 no such container)
 * for this session's numbering, and the previous CPU totals. */
typedef struct {
	char host[DL_HOST_MAX + 1];
	int64_t *cid_by_idx;
	size_t nidx;
	bool loaded; /* cid_by_idx filled from the database since forgotten */
	bool have_prev;
	uint64_t prev_ts, prev_total, prev_idle;
} hstate_t;

struct dl_store {
	uv_loop_t *loop;
	uv_async_t async;
	dl_store_ack_cb ack_cb;
	void *ud;
	char *path;

	/* Writer side: only the writer thread touches these after open. */
	sqlite3 *db;
	sqlite3_stmt *st[ST_COUNT];
	pthread_t thread;
	bool thread_started;
	uint64_t stamp;	      /* last containers.updated_ns handed out */
	size_t batch_max;     /* items per COMMIT, DL_STORE_BATCH_MAX */
	vec_t b_acks;	      /* ack_t per session, this batch */
	vec_t b_hosts;	      /* bhost_t per host seen, this batch */
	dl_hidx_t b_acks_ix;  /* sid -> b_acks index + 1 */
	dl_hidx_t b_hosts_ix; /* host -> b_hosts index + 1 */
	cstate_t *ctab;	      /* stats state per container, ccap slots */
	size_t ccap, cn;
	vec_t hstates;	      /* hstate_t sorted by host */
	int64_t ret_cursor;   /* retention: next cid after this one */
	uint64_t ret_next;    /* retention: next step, monotonic ns */
	int64_t ret_ns[3];    /* raw, minute, hour windows (under mu) */
	int64_t ret_audit_ns; /* audit rows kept (under mu) */
	bool ret_kick;	      /* run a step now (under mu) */

	/* Queue, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	item_t *head, *tail;
	size_t nitems;
	size_t inflight; /* taken by the writer, not yet committed */
	size_t qbytes;	 /* payload bytes queued or in flight */
	bool stopping;

	/* Acks for the loop thread, under ack_mu. */
	pthread_mutex_t ack_mu;
	vec_t acks;
	dl_hidx_t acks_ix; /* sid -> acks index + 1 */
	vec_t dones;	   /* done_t, in commit order */

	/* Delivery cache sorted by host, under cache_mu. */
	pthread_mutex_t cache_mu;
	vec_t cache;

	/* Live push (pubsub.c). The writer collects, per batch, the newest
	 * event row and the hosts whose samples it stored; after COMMIT it
	 * hands them over under ack_mu, only while push_on. */
	dl_store_push_cb push_cb;
	void *push_ud;
	atomic_bool push_on;
	atomic_int_least64_t last_event; /* newest committed event row id */
	int64_t b_event;		 /* this batch's newest, 0 none */
	vec_t b_push_hosts;		 /* char[DL_HOST_MAX + 1], batch */
	bool push_pending;		 /* under ack_mu */
	vec_t push_hosts;		 /* under ack_mu, for the loop */
	dl_hidx_t push_ix;		 /* host -> push_hosts index + 1 */

	/* The sample tap (remote write): set under mu, copied by the writer
	 * when it takes a batch; the batch's stored samples collect in
	 * b_tap_c / b_tap_h and go to tap_cb after COMMIT. */
	dl_store_tap_cb tap_cb;
	void *tap_ud;
	dl_store_tap_cb b_tap_cb;
	void *b_tap_ud;
	vec_t b_tap_c; /* dl_store_csample_t */
	vec_t b_tap_h; /* dl_store_hsample_t */

	/* Counters for metrics (any thread reads). */
	atomic_uint_least64_t n_events, n_samples, n_host_samples;
	uint64_t b_events_n, b_samples_n, b_hsamples_n; /* writer, batch */
	atomic_uint_least64_t commit_le[DL_STORE_COMMIT_BUCKETS + 1];
	atomic_uint_least64_t commit_ns_sum;
};

/* store_audit.c */
int dl_store__apply_audit_end(dl_store_t *s, const item_t *it);
int dl_store__apply_audit_start(dl_store_t *s, const item_t *it);
bool dl_store__field_ok(const char *s, size_t max);
const char *dl_store__next_str(const char **p);
void dl_store__put_field(uint8_t **p, const char *s, size_t n, bool cut);

/* store.c */
int dl_store__bind_cstr(sqlite3_stmt *st, int i, const char *s);
int dl_store__bind_str(sqlite3_stmt *st, int i, dl_str_t s);
int dl_store__cache_set(dl_store_t *s, const char *host, uint64_t epoch,
			uint64_t seq);
int dl_store__enqueue(dl_store_t *s, item_t *it, bool capped);
item_t *dl_store__item_alloc(item_kind_t kind, size_t len, uint64_t time_ns);
int dl_store__run(dl_store_t *s, int which);
void *dl_store__vec_at(const vec_t *a, size_t i);
void *dl_store__vec_push(vec_t *a);

/* store_inventory.c */
int dl_store__apply_container(dl_store_t *s, const item_t *it,
			      const dl_msg_t *m);
int dl_store__apply_docker(dl_store_t *s, const item_t *it, const dl_msg_t *m);
int dl_store__apply_dropped(dl_store_t *s, const item_t *it, const dl_msg_t *m);
int dl_store__apply_clock(dl_store_t *s, const item_t *it);
int dl_store__apply_event(dl_store_t *s, const item_t *it, const dl_msg_t *m);
/* An inventory in parts (IT_INV_PARTS): begin, add each part, end. */
uint64_t dl_store__inventory_begin(dl_store_t *s, const item_t *it);
int dl_store__inventory_add(dl_store_t *s, const item_t *it, const dl_msg_t *m,
			    uint64_t stamp);
int dl_store__inventory_end(dl_store_t *s, const item_t *it, uint64_t stamp);
int dl_store__apply_inventory(dl_store_t *s, const item_t *it,
			      const dl_msg_t *m);

/* store_schema.c */
int dl_store__setup_db(dl_store_t *s, char *err, size_t errlen);

/* store_stats.c */
int dl_store__apply_hoststats(dl_store_t *s, const item_t *it,
			      const dl_msg_t *m);
int dl_store__apply_stats(dl_store_t *s, const item_t *it, const dl_msg_t *m);
void dl_store__idx_forget(dl_store_t *s, const char *host);
bool dl_store__retention_due(dl_store_t *s);
void dl_store__retention_run(dl_store_t *s);
void dl_store__stats_forget(dl_store_t *s);
/* rc says the database cannot take writes now (disk full, locked by
 * another process, I/O error): retry later, not the item's fault. */
bool dl_store__unavailable(int rc);

/* store_alert.c */
int dl_store__apply_alert(dl_store_t *s, item_t *it);

/* store_token.c */
int dl_store__apply_token(dl_store_t *s, item_t *it);
int dl_store__apply_host_labels(dl_store_t *s, item_t *it);

/* store_writer.c */
void *dl_store__writer_main(void *arg);
void dl_store__free_items(item_t *it);

#endif
