/* query.h - read-only queries behind `dockline hosts|ps|events`.
 *
 * Each call opens (or reuses, per thread) a read-only connection to the
 * database, so queries never stall the writer. Results are jansson arrays
 * whose keys are the CLI's --json contract; the caller owns the returned
 * json_t (json_decref). Errors come back as sentences in err. */
#ifndef DL_COLLECTOR_QUERY_H
#define DL_COLLECTOR_QUERY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct dl_query dl_query_t;

/* Opens a read-only connection to path. NULL + err on failure. */
dl_query_t *dl_query_open(const char *path, char *err, size_t errlen);
void dl_query_close(dl_query_t *q);

/* [{name, online, last_seen (unix s), last_seen_ago (s), docker_up,
 *   docker_version, containers (count), running (count), peer, software}] */
json_t *dl_query_hosts(dl_query_t *q, char *err, size_t errlen);

/* [{host, id, name, image, state, status, health, created}]; all=false
 * keeps only running containers. host NULL = all hosts. An unknown host
 * is an error "no host named X". */
json_t *dl_query_ps(dl_query_t *q, const char *host, bool all, char *err,
		    size_t errlen);

/* [{seq (row id, for follow), host, time (RFC3339 with ns), time_ns, type,
 *   action, id, name, attributes {}}], oldest first, events with
 * time_ns >= since_ns and row id > after_id, at most limit rows (the
 * newest ones when more match). */
json_t *dl_query_events(dl_query_t *q, const char *host, uint64_t since_ns,
			int64_t after_id, int limit, char *err, size_t errlen);

/* Looks up a host: 1 found (online, last_seen filled), 0 not found. */
int dl_query_host(dl_query_t *q, const char *host, bool *online,
		  int64_t *last_seen);

#endif
