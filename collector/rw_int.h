/* rw_int.h - what the remote-write files share: the queue's rows, a
 * connection (shard), the dl_rw_t itself, the metric families, and the
 * internal functions one file calls in another (dl_rw__*). Private to
 * collector/remote_write.c and collector/rw_*.c:
 *
 *   remote_write.c  the sample tap and the queue; life (new, start, stop,
 *                   free) and the counters
 *   rw_series.c     samples -> series: names, labels, encoded values
 *   rw_worker.c     the worker thread: container labels, batches, the
 *                   loop, the drain at stop
 *   rw_send.c       HTTP: headers, one easy handle per connection, a
 *                   request's outcome, retries with backoff */
#ifndef DL_COLLECTOR_RW_INT_H
#define DL_COLLECTOR_RW_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "collector/remote_write.h"
#include "common/buf.h"
#include "common/clock.h"

#define TAG	 "remote_write"
#define BODY_MAX (64u * 1024u * 1024u) /* one request, uncompressed */

/* ---- families: the names and meanings of metrics.c ---- */

enum {
	F_CPU,
	F_MEM,
	F_WSET,
	F_LIMIT,
	F_RX,
	F_TX,
	F_READ,
	F_WRITE,
	F_CFAMILIES
};
enum {
	H_LOAD1,
	H_MEMTOTAL,
	H_MEMAVAIL,
	H_FSSIZE,
	H_FSFREE,
	H_RX,
	H_TX,
	H_SWAPTOTAL,
	H_SWAPFREE,
	H_FAMILIES
};

/* ---- the queue: one ring per connection ---- */

typedef struct {
	bool host;
	uint8_t nval; /* series this row becomes */
	union {
		dl_store_csample_t c;
		dl_store_hsample_t h;
	} u;
} row_t;

/* A container's label fields (host, id, image, name), cached. */
typedef struct {
	int64_t cid; /* 0: free */
	uint64_t loaded_ms;
	uint8_t *lab; /* NULL: no such container */
	size_t len;
} clabel_t;

/* One connection: its share of the queue (every series of a container
 * or of a host always goes to the same one, so each series stays in
 * time order) and the request it has out or waiting for a retry. */
typedef struct {
	int idx;
	/* under rw->mu */
	row_t *ring;
	size_t rcap, rhead, rn, rmax;
	uint64_t qsamples, qmax;
	/* worker only */
	CURL *easy;
	dl_buf_t body, answer;
	char errbuf[CURL_ERROR_SIZE];
	size_t cur_n;	 /* samples in body; 0: no batch */
	bool inflight;	 /* body is being sent */
	uint64_t due_ms; /* next attempt (monotonic) */
	int attempts;	 /* failed attempts of this body */
	bool failing;	 /* the last attempt failed (for the log) */
	atomic_uint_least64_t inflight_n;
} shard_t;

struct dl_rw {
	dl_rw_conf_t conf;
	char *db;
	char *auth; /* "Authorization: Bearer ..." or NULL; never logged */

	pthread_mutex_t mu;
	shard_t *shards;
	int nshards;
	bool stopping, started; /* under mu */
	pthread_t thread;

	/* worker only */
	CURLM *multi;
	struct curl_slist *hdrs;
	sqlite3 *rdb;
	sqlite3_stmt *lq;
	clabel_t *lt;
	size_t lcap, ln;
	row_t *take;
	size_t take_cap;
	dl_buf_t raw;

	/* counters (any thread) */
	atomic_uint_least64_t sent, retried, d_full, d_rej, d_stop, d_unk;
	atomic_uint_least64_t req_ok, req_fail, last_ok_ms;
};

static inline uint64_t mono_ms(void)
{
	return dl_clock_mono_ns() / 1000000u;
}

/* rw_series.c: encodes each family's __name__ label once (idempotent). */
void dl_rw__labs_init(void);

/* rw_worker.c: the worker thread (arg: the dl_rw_t), and the container
 * labels cache emptied. */
void *dl_rw__worker_main(void *arg);
void dl_rw__labels_clear(dl_rw_t *rw);

/* rw_send.c */
int dl_rw__build_headers(dl_rw_t *rw);
int dl_rw__setup_easy(dl_rw_t *rw, shard_t *s);
void dl_rw__start_request(dl_rw_t *rw, shard_t *s);
void dl_rw__request_done(dl_rw_t *rw, shard_t *s, CURLcode rc, bool stopping);
/* The connection's batch is over (sent, refused or dropped). */
void dl_rw__batch_done(shard_t *s);

#endif
