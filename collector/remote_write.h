/* remote_write.h - committed samples to a Prometheus remote-write 1.0
 * receiver ([remote_write] in collector.conf).
 *
 * The store's sample tap (writer thread, after each COMMIT) copies the
 * samples into a bounded queue and returns; one worker thread turns them
 * into series named and labelled as `/metrics` names them (metrics.c),
 * encodes batches (rw_proto.c), sends them with libcurl multi and
 * retries with backoff. It never blocks ingest: a full queue drops its
 * oldest samples, counted. It never logs the bearer token. */
#ifndef DL_COLLECTOR_REMOTE_WRITE_H
#define DL_COLLECTOR_REMOTE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "collector/conf.h"
#include "collector/store.h"
#include "common/buf.h"

#define DL_RW_TOKEN_MAX	  4096	/* bearer_token_file bytes read */
#define DL_RW_BACKOFF_MIN 500	/* ms, doubled per failed attempt */
#define DL_RW_BACKOFF_MAX 5000	/* ms */
#define DL_RW_STOP_GRACE  3000	/* ms the queue gets to drain at stop */
#define DL_RW_LABELS_TTL  60000 /* ms a container's labels are kept */
#define DL_RW_ANSWER_MAX  512	/* bytes of a receiver's answer kept */

typedef struct dl_rw dl_rw_t;

/* Counters since start, in samples (one value of one series). */
typedef struct {
	uint64_t sent;	       /* accepted by the receiver (2xx) */
	uint64_t retried;      /* in attempts that failed and were retried */
	uint64_t dropped_full; /* oldest, pushed out of a full queue */
	uint64_t dropped_rejected; /* refused by a 4xx other than 429 */
	uint64_t dropped_stopping; /* still queued when serve stopped */
	uint64_t dropped_unknown;  /* container row gone: no labels */
	uint64_t requests_ok, requests_failed;
	uint64_t queued;     /* waiting now, the request being sent included */
	uint64_t last_ok_ms; /* unix ms of the last accepted request, 0 */
} dl_rw_counters_t;

/* Reads the bearer token (if any) and prepares; nothing runs yet. db:
 * the database, opened read-only by the worker for container labels.
 * NULL with a sentence in err. */
dl_rw_t *dl_rw_new(const dl_rw_conf_t *conf, const char *db, char *err,
		   size_t errlen);
/* Starts the worker thread. 0 or DL_ENOMEM/DL_EIO. */
int dl_rw_start(dl_rw_t *rw);
/* dl_store_tap_cb: copies a COMMIT's samples into the queue (any
 * thread; a mutex and a copy). */
void dl_rw_tap(void *ud, const dl_store_csample_t *c, size_t nc,
	       const dl_store_hsample_t *h, size_t nh);
/* Asks the worker to finish: what is queued gets DL_RW_STOP_GRACE to be
 * sent, the rest is counted dropped. Returns at once. */
void dl_rw_stop(dl_rw_t *rw);
/* Joins the worker (after dl_rw_stop; the store's tap must be off or the
 * store closed) and frees. NULL is a no-op. */
void dl_rw_free(dl_rw_t *rw);

void dl_rw_counters(dl_rw_t *rw, dl_rw_counters_t *out);
/* Appends the dockline_remote_write_* families (nothing for NULL). 0 or
 * DL_ETOOBIG. */
int dl_rw_metrics(dl_rw_t *rw, dl_buf_t *b);

/* The series of one row, as the worker encodes them (exposed for tests
 * and the benchmark): appends to body one TimeSeries per value present
 * in the container sample c (labels: the encoded host, id, image, name
 * label fields) or the host sample h (labels: NULL = host only). Returns
 * the number of series, or a negative DL_E* code. */
int dl_rw_encode_container(dl_buf_t *body, const dl_store_csample_t *c,
			   const uint8_t *labels, size_t llen);
int dl_rw_encode_host(dl_buf_t *body, const dl_store_hsample_t *h);
/* Encodes host, id, image, name (sorted) as label fields into out. */
int dl_rw_container_labels(dl_buf_t *out, const char *host, const char *name,
			   const char *image, const char *id);

#endif
