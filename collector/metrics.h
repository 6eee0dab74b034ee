/* metrics.h - the Prometheus exposition behind `{"op":"metrics"}`.
 *
 * Two halves: serve's own counters (sessions, control calls, the
 * writer's commits), snapshotted on the loop thread, and the fleet's
 * latest samples, read on the threadpool from a read-only connection and
 * written as text straight from the rows (no json_t per row). Never
 * touches the write connection. Text format 0.0.4; names follow cAdvisor
 * (containers) and node_exporter (hosts) where the meaning is the same. */
#ifndef DL_COLLECTOR_METRICS_H
#define DL_COLLECTOR_METRICS_H

#include <stddef.h>

#include "collector/store.h"
#include "common/buf.h"

#define DL_METRICS_MAX	 (256u * 1024u * 1024u) /* exposition text cap */
#define DL_METRICS_CHUNK (64u * 1024u)		/* per binary frame */

typedef struct dl_metrics dl_metrics_t;

dl_metrics_t *dl_metrics_new(void);
void dl_metrics_free(dl_metrics_t *m);

/* Loop thread. An agent session reached HELLO (dockline_reconnects_total). */
void dl_metrics_session_start(dl_metrics_t *m, const char *host);
/* Loop thread. A control request ended (router.c finish). */
void dl_metrics_control(dl_metrics_t *m, const char *op, const char *status,
			double seconds);

/* Loop thread. An admin query from the database ended (admin.c), from
 * the request read to its answer back on the loop thread
 * (dockline_admin_query_seconds). */
void dl_metrics_query(dl_metrics_t *m, double seconds);

/* Loop thread: serve's own families into a new buffer (caller frees with
 * dl_metrics_buf_free). store may be NULL (stopping). NULL when out of
 * memory. */
dl_buf_t *dl_metrics_serve_text(const dl_metrics_t *m, size_t agents,
				size_t subscribers, dl_store_t *store);
/* Any thread but the loop's: appends the container, host and per-host
 * families read from the database at db (a read-only connection kept
 * per thread). 0, or a negative code with a sentence in err. */
int dl_metrics_store_text(const char *db, dl_buf_t *out, char *err,
			  size_t errlen);
void dl_metrics_buf_free(dl_buf_t *b);

/* Appends s as an exposition label value (\\, \", \n escaped). 0 or
 * DL_ETOOBIG. Exposed for tests. */
int dl_metrics_label(dl_buf_t *b, const char *s);

#endif
