/* query_int.h - what the query modules (query.c, history.c, ...) share
 * about a read-only connection. Private to the collector. */
#ifndef DL_COLLECTOR_QUERY_INT_H
#define DL_COLLECTOR_QUERY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "collector/query.h"

/* Statement slots for modules outside query.c, prepared on first use and
 * kept with the connection. */
enum {
	DL_QSLOT_HISTORY = 0, /* 6: container and host, per tier */
	DL_QSLOT_TEXT = 6,    /* 6: query_text.c */
	DL_QSLOT_MAX = 32,
};

/* The statement in slot, prepared from sql the first time (a slot always
 * holds the same sql). NULL + err when it cannot be prepared. Owned by
 * q; the caller resets it after use. */
sqlite3_stmt *dl_query_slot(dl_query_t *q, int slot, const char *sql, char *err,
			    size_t errlen);
sqlite3 *dl_query_db(dl_query_t *q);

/* The `hosts` answer's columns (query.c's host_row, query_text.c's
 * hosts_put), all from the hosts row: the newest sample's figures and
 * the container counts are kept there by the writer (store schema v9),
 * so the answer is one pass over hosts, not a max(ts) probe of
 * host_samples per host and a grouped pass over every container
 * (tests/bench/bench_query.c). */
#define DL_QUERY_HOSTS_COLS                                                    \
	"SELECT h.name, h.online, h.last_seen, h.docker_up, "                  \
	"h.docker_version, h.peer, h.software, h.n_total, h.n_running, "       \
	"h.hs_cpu_percent, h.hs_mem_used, h.hs_mem_total, h.hs_load1, "        \
	"h.hs_disk_used, h.hs_disk_total, h.control, h.clock_skew_ms, "        \
	"h.last_data, h.dropped_frames, h.n_unhealthy, h.n_restarting, "       \
	"h.labels FROM hosts h "

/* The `hosts` HEALTH word of a Q_HOSTS row (query.c's columns). */
void dl_query__host_health(sqlite3_stmt *st, int64_t ago, char *out,
			   size_t outlen);

#endif
