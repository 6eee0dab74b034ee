/* query.h - read-only queries behind `dockline hosts|ps|events|stats|
 * top|history|audit`.
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

#include "common/buf.h"

typedef struct dl_query dl_query_t;

/* Opens a read-only connection to path. NULL + err on failure. A
 * dl_query_t is used by one thread at a time (opened NOMUTEX). */
dl_query_t *dl_query_open(const char *path, char *err, size_t errlen);
void dl_query_close(dl_query_t *q);

/* [{name, online, last_seen (unix s), last_seen_ago (s), docker_up,
 *   docker_version, containers (count), running (count), peer, software,
 *   control (what its agent allows: "read, lifecycle"; null before
 *   control)}] */
json_t *dl_query_hosts(dl_query_t *q, char *err, size_t errlen);

/* [{host, id, name, image, state, status, health, created, ...,
 *   labels {K: V} (null: not known, an older agent)}]; all=false
 * keeps only running containers. host NULL = all hosts. An unknown host
 * is an error "no host named X". */
json_t *dl_query_ps(dl_query_t *q, const char *host, bool all, char *err,
		    size_t errlen);

/* ps with filters: state (exact; naming one implies all) and name (a
 * glob, SQLite GLOB: case-sensitive, * ? [...]); NULL = any. */
typedef struct {
	const char *host;
	bool all;
	const char *state;
	const char *name;
	/* "K" (label K is set) or "K=V"; NULL = any. A malformed one is
	 * the error "label: expected K or K=V". */
	const char *label;
} dl_ps_filter_t;
json_t *dl_query_ps_where(dl_query_t *q, const dl_ps_filter_t *f, char *err,
			  size_t errlen);

/* One current container (a name or unique id prefix): the ps row plus
 * "stats", its newest sample as a `stats` row, or null. Errors: "no
 * host named X", "no container web on app-01", ambiguity. */
json_t *dl_query_container(dl_query_t *q, const char *host, const char *ctr,
			   char *err, size_t errlen);

/* [{seq (row id, for follow), host, time (RFC3339 with ns), time_ns, type,
 *   action, id, name, attributes {}}], oldest first, events with
 * time_ns >= since_ns and row id > after_id, at most limit rows (the
 * newest ones when more match). */
json_t *dl_query_events(dl_query_t *q, const char *host, uint64_t since_ns,
			int64_t after_id, int limit, char *err, size_t errlen);
/* The same with exact type ("container", "image", ...) and action
 * ("die", "health_status: healthy") filters; NULL = any. */
typedef struct {
	const char *host;
	uint64_t since_ns;
	int64_t after_id;
	int limit;
	const char *type;
	const char *action;
} dl_event_filter_t;
json_t *dl_query_events_where(dl_query_t *q, const dl_event_filter_t *f,
			      char *err, size_t errlen);

/* Live push: events with row id > after_id in row id (commit) order, at
 * most limit rows (the oldest ones), same row keys as dl_query_events. */
json_t *dl_query_events_after(dl_query_t *q, int64_t after_id, int limit,
			      char *err, size_t errlen);

/* The newest host sample of host: [] or [{host, time, time_ns,
 * cpu_percent, mem_used_bytes, mem_total_bytes, mem_available_bytes,
 * load1, load5, load15, disk_used_bytes, disk_total_bytes, net_rx_bytes,
 * net_tx_bytes, swap_used_bytes, swap_total_bytes}]. */
json_t *dl_query_host_stats(dl_query_t *q, const char *host, char *err,
			    size_t errlen);

/* Control requests, oldest first: the newest `limit` rows with time_ns >=
 * since_ns; host NULL = all hosts. An unknown host is not an error (rows
 * outlive their host): the array is just empty. [{time (RFC3339 with ns),
 * time_ns, user, uid, host, op, target, args (JSON text, possibly cut
 * with "..."), status, message, exit_code (null if none), duration_ms
 * (null while running)}]. limit outside 1..100000 means 100000. */
json_t *dl_query_audit(dl_query_t *q, const char *host, uint64_t since_ns,
		       int limit, char *err, size_t errlen);

/* hosts rows also carry the latest host sample: cpu_percent,
 * mem_used_bytes, mem_total_bytes, load1, disk_used_bytes,
 * disk_total_bytes (null before the first HOSTSTATS). */

#define DL_QUERY_CTR_MAX 128 /* a container name or id prefix */

/* A container as HOST/CONTAINER names it. */
typedef struct {
	int64_t cid; /* container_keys.cid */
	char name[256];
	char id[129];
	bool live; /* a current container, not only history */
	/* Several current containers carry this exact name: the store is
	 * behind a rename or recreate (Docker's names are unique), and the
	 * newest is given. Control sends the name as typed instead. */
	bool stale;
} dl_ctr_ref_t;

/* Resolves ctr (a name, or a unique id prefix) on host; live containers
 * win over removed ones that still have history (and see .stale). 0, or a negative code
 * with a sentence: "no host named X", "web matches 2 containers on
 * app-01: web-1 (3f2a...), web-2 (9c1b...)". */
int dl_query_resolve(dl_query_t *q, const char *host, const char *ctr,
		     dl_ctr_ref_t *out, char *err, size_t errlen);

/* Latest sample of each current container: [{host, name, id, time,
 * time_ns, cpu_percent, mem_bytes, mem_limit, net_rx_bytes, net_tx_bytes,
 * blk_read_bytes, blk_write_bytes, pids}] (null = not measured). host
 * NULL = all hosts; ctr (needs host) narrows to one container. */
json_t *dl_query_stats(dl_query_t *q, const char *host, const char *ctr,
		       char *err, size_t errlen);

enum { DL_TIER_RAW, DL_TIER_MINUTE, DL_TIER_HOUR };

/* history.c */

/* The tier a span of span_s seconds is read from when every row is
 * wanted: <= 6 h raw, <= 7 d minute rollups, else hour rollups. */
int dl_query_tier(int64_t span_s);
/* The tier for a chart of `points` points (0 = dl_query_tier): the
 * finest that stays within ~1,500 rows (raw up to 4 h, minutes up to
 * 25 h), so any range answers in about a millisecond. */
int dl_query_tier_points(int64_t span_s, int points);

#define DL_QUERY_POINTS_MAX  10000
#define DL_QUERY_HISTORY_MAX (64u * 1024u * 1024u)

/* Samples with since_ns <= time <= until_ns, oldest first, of container
 * ctr on host, or of the host itself when ctr is NULL. Container rows:
 * {time, time_ns, cpu_percent, mem_bytes, mem_limit, net_rx_bytes,
 * net_tx_bytes, blk_read_bytes, blk_write_bytes, pids}; host rows: {time,
 * time_ns, cpu_percent, mem_used_bytes, mem_total_bytes,
 * mem_available_bytes, load1, disk_used_bytes, disk_total_bytes,
 * net_rx_bytes, net_tx_bytes} (host rollups keep CPU, memory and network:
 * the rest is null there). From rollups the values are bucket averages
 * (cpu, memory) and last values (the rest), plus cpu_percent_max and
 * mem_bytes_max (host: mem_used_bytes_max). Rollup tiers hold closed
 * buckets only (a minute appears once the next one starts). points > 0
 * averages the span into at most that many equal buckets (time = bucket
 * start, maxima kept, counters and gauges at their maximum), for charts;
 * 0 = every row. Errors: NULL with a sentence ("no host named X"). */
json_t *dl_query_history(dl_query_t *q, const char *host, const char *ctr,
			 int64_t since_ns, int64_t until_ns, int tier,
			 int points, char *err, size_t errlen);

/* dl_query_history as compact JSON text appended to out (what the admin
 * socket sends; no json_t per row). rows (may be NULL) gets the row
 * count. 0, or a negative code with a sentence in err (DL_ENOENT unknown
 * host or container, DL_EINVAL bad arguments, DL_ETOOBIG when out's cap
 * is reached); out is left as it was on failure. */
int dl_query_history_text(dl_query_t *q, const char *host, const char *ctr,
			  int64_t since_ns, int64_t until_ns, int tier,
			  int points, dl_buf_t *out, size_t *rows, char *err,
			  size_t errlen);

/* Looks up a host: 1 found (online, last_seen filled), 0 not found. */
int dl_query_host(dl_query_t *q, const char *host, bool *online,
		  int64_t *last_seen);

/* ---- the text path (query_text.c) ----
 *
 * ps, stats and hosts answers as compact JSON text appended to out, row
 * for row the documents the json_t calls above build (same keys, types,
 * nulls and rounding; tests/unit/test_query_text.c compares them), but
 * with no json_t per row: for 20,000 containers that was most of a
 * request's CPU. */

/* Token scope and paging. glob (an fnmatch glob, NULL or "*" = every
 * host) skips the rows of hosts it does not match before they are
 * written, so a limit counts only rows the asker may see. limit 0 and no
 * cursor: the answer is the bare array; otherwise it is {"rows": [...],
 * "next": cursor or null}, at most limit rows (0 = no limit) after the
 * cursor's row, in (host, name, id) order. */
typedef struct {
	const char *glob;
	size_t limit;
	const char *cursor; /* NULL = from the first row */
} dl_page_t;

#define DL_PAGE_MAX	   10000 /* the largest limit */
#define DL_CURSOR_TEXT_MAX 512	 /* the longest cursor, NUL included */

/* stats filters: container (needs host; a name or unique id prefix),
 * state (exact) and name (SQLite GLOB); NULL = any. */
typedef struct {
	const char *host;
	const char *ctr;
	const char *state;
	const char *name;
} dl_stats_filter_t;

/* 0, or a negative code with a sentence in err: DL_ENOENT (unknown host
 * or container), DL_EINVAL ("invalid cursor ..."), DL_ETOOBIG (out's cap),
 * DL_EDB. out is left as it was on failure; rows (may be NULL) gets the
 * number of rows written. */
int dl_query_ps_text(dl_query_t *q, const dl_ps_filter_t *f,
		     const dl_page_t *pg, dl_buf_t *out, size_t *rows,
		     char *err, size_t errlen);
int dl_query_stats_text(dl_query_t *q, const dl_stats_filter_t *f,
			const dl_page_t *pg, dl_buf_t *out, size_t *rows,
			char *err, size_t errlen);
/* hosts: every host glob lets through, or just host (an array of one;
 * DL_ENOENT "no host named X" when there is none). */
int dl_query_hosts_text(dl_query_t *q, const char *host, const char *glob,
			dl_buf_t *out, size_t *rows, char *err, size_t errlen);

/* A cursor: the row a page ended at, for op "ps" or "stats". Opaque to
 * clients: base64url of a version, a CRC-32C and the row's key (at most
 * 511 characters: a query string value); decode refuses anything else
 * (tampered, truncated, another op's). Names and ids of up to 255 bytes
 * (host 63) always fit. */
typedef struct {
	char op;
	const char *host, *name, *id; /* into raw */
	size_t host_len, name_len, id_len;
	unsigned char raw[DL_CURSOR_TEXT_MAX / 4 * 3 + 64];
} dl_cursor_t;
int dl_cursor_encode(const char *op, const char *host, size_t host_len,
		     const char *name, size_t name_len, const char *id,
		     size_t id_len, char *out, size_t outlen);
int dl_cursor_decode(const char *op, const char *text, dl_cursor_t *c);

#endif
