/* pubsub.h - live push to admin subscribers (`{"op":"subscribe"}`).
 *
 * After a COMMIT that stored events or samples the store tells the loop
 * (dl_store_on_push); this module then runs ONE read-only query on the
 * threadpool for the new rows and writes the resulting frames to every
 * matching subscriber. It never queries per subscriber and never lets a
 * slow subscriber grow memory: a subscriber with more than
 * DL_PUBSUB_UNSENT_MAX bytes still unsent when the next push comes is
 * closed (so it holds at most that plus one push). Loop thread only. */
#ifndef DL_COLLECTOR_PUBSUB_H
#define DL_COLLECTOR_PUBSUB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "collector/store.h"

#define DL_PUBSUB_MAX	      1024	      /* subscribers at once */
#define DL_PUBSUB_UNSENT_MAX  (1024u * 1024u) /* per subscriber */
#define DL_PUBSUB_EVENTS_STEP 500	      /* event rows per fan-out query */

typedef struct dl_pubsub dl_pubsub_t;
typedef struct dl_sub dl_sub_t;

/* A subscriber as the admin connection describes it. */
typedef struct {
	uv_stream_t *stream; /* written to by pubsub; owned by the caller */
	uid_t uid;
	/* Token scope: hosts outside this fnmatch glob are never pushed.
	 * NULL = every host (a local admin without token). Copied. */
	const char *host_glob;
	/* Names the subscriber in log lines ("uid 1000", "token ci").
	 * Copied. */
	const char *who;
	/* pubsub wants the connection closed (stuck client, collector
	 * stopping). The owner closes and calls dl_pubsub_remove from it
	 * or later; until then nothing more is written. */
	void (*close)(void *ud);
	void *ud;
} dl_sub_conf_t;

/* Registers as store's push callback. db: the database path, opened
 * read-only on the threadpool. NULL when out of memory. */
dl_pubsub_t *dl_pubsub_new(uv_loop_t *loop, dl_store_t *store, const char *db);
/* An in-process listener (alert rules, hooks): on the loop thread, after
 * each fan-out, every committed event row (the `events` row shape) and
 * every stats push ({host, key "stats" (container rows as the `stats`
 * query) or "host_stats"}), unfiltered. Borrowed: incref to keep. */
#define DL_PUBSUB_LISTENERS 8
typedef struct {
	void (*event)(void *ud, const json_t *row);
	void (*stats)(void *ud, const char *host, const char *key,
		      const json_t *rows);
	void *ud;
} dl_listener_t;
/* Adds l (copied); from now on commits are always reported. 0 or
 * DL_EFULL. */
int dl_pubsub_listen(dl_pubsub_t *ps, const dl_listener_t *l);

/* Asks every subscriber to close and forgets the store (stopping). */
void dl_pubsub_stop(dl_pubsub_t *ps);
/* After the loop has ended. */
void dl_pubsub_free(dl_pubsub_t *ps);

/* {"op":"subscribe","what":"events"|"stats","host"?,"type"?,"action"?}.
 * Returns the subscriber, or NULL with a sentence in err and its code
 * ("invalid", "busy"). The caller then sends the first answer
 * ({"subscribed": what}) before anything is pushed: a push only ever
 * follows a later COMMIT, and uv writes keep their order. */
dl_sub_t *dl_pubsub_add(dl_pubsub_t *ps, const json_t *req,
			const dl_sub_conf_t *conf, char *err, size_t errlen,
			const char **code);
/* Forgets sub (NULL is a no-op). */
void dl_pubsub_remove(dl_pubsub_t *ps, dl_sub_t *sub);
/* The per-subscriber visibility check, token scope included. */
bool dl_pubsub_visible(const dl_sub_t *sub, const char *host);
/* Subscribers now (for metrics). */
size_t dl_pubsub_count(const dl_pubsub_t *ps);

#endif
