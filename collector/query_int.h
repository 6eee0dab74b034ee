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

/* The `hosts` answer's container counts: one pass over containers in
 * primary-key order (host, id), grouped by host, for the hosts WHERE
 * says. A correlated count per host and per figure would be four probes
 * per host (tests/bench/bench_query.c). "restarting" is Docker's state
 * or inspect's flag: a container in its restart back-off shows either. */
#define DL_QUERY_HOST_COUNTS(WHERE)                                            \
	"SELECT host, count(*) AS total, "                                     \
	"count(CASE WHEN state = 'running' THEN 1 END) AS running, "           \
	"count(CASE WHEN health = 'unhealthy' THEN 1 END) AS unhealthy, "      \
	"count(CASE WHEN state = 'restarting' OR restarting THEN 1 END) "      \
	"AS restarting FROM containers WHERE " WHERE " GROUP BY host"

/* The `hosts` HEALTH word of a Q_HOSTS row (query.c's columns). */
void dl_query__host_health(sqlite3_stmt *st, int64_t ago, char *out,
			   size_t outlen);

#endif
