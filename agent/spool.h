/* spool.h - the agent's durable stream: its (epoch, next seq) and every
 * data frame not yet acked, on disk under state_dir, so that neither an
 * agent restart (kill -9 included) nor a host reboot loses a frame the
 * agent accepted, and the collector's (epoch, seq) dedupe keeps the store
 * exactly-once across them.
 *
 * Frames are appended to segment files before they are sent and deleted
 * once the collector acked every seq in them. It never drops a record
 * silently: a torn tail is truncated with a log line; anything else that
 * does not read back is moved aside whole (spool.corrupt-<unix time>) with
 * a WARN, and a new epoch starts. It never hands out a seq that a
 * previous run may already have used. Single-threaded: the agent's loop. */
#ifndef DL_AGENT_SPOOL_H
#define DL_AGENT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "agent/outbox.h"

#define DL_SPOOL_DEFAULT_MAX (256u * 1024u * 1024u)
#define DL_SPOOL_SEG_MAX     (4u * 1024u * 1024u)
/* Seqs reserved on disk at a time: the stream file is rewritten (and
 * fsynced) once per this many frames, and a restart skips at most this
 * many seqs (gaps are harmless: the collector dedupes on a high mark). */
#define DL_SPOOL_RESERVE 10000u
#define DL_SPOOL_VERSION 1u

typedef enum {
	DL_SPOOL_SYNC_OFF = 0,	/* never fdatasync (tests, benchmarks) */
	DL_SPOOL_SYNC_INTERVAL, /* the caller runs dl_spool_sync() on a timer */
	DL_SPOOL_SYNC_ALWAYS,	/* fdatasync every record before it is sent */
} dl_spool_sync_t;

/* How dl_spool_open found the stream. */
typedef enum {
	DL_SPOOL_NEW = 0,   /* nothing on disk: new epoch */
	DL_SPOOL_CONTINUED, /* same epoch, seqs after the last run's */
	DL_SPOOL_RESET,	    /* old spool moved aside: new epoch */
} dl_spool_start_t;

typedef struct {
	const char *state_dir; /* spool in state_dir/spool, state_dir/stream */
	size_t max_bytes;      /* cap of all segments; 0 = default */
	size_t seg_bytes;      /* rotate at; 0 = min(4 MiB, max / 4) */
	dl_spool_sync_t sync;
	uint64_t new_epoch; /* taken when there is no stream to continue */
	/* The cap dropped records with seq in [lo, hi]: only the stats ones
	 * (stats_only) or all of them. Called before dl_spool_append
	 * returns, so the caller can forget its copies. */
	void (*on_drop)(void *ud, uint64_t lo, uint64_t hi, int stats_only);
	void *ud;
} dl_spool_opts_t;

typedef struct dl_spool dl_spool_t;

typedef struct {
	uint64_t seq;
	dl_outbox_class_t cls;
	const uint8_t *frame; /* owned by the spool, valid until next call */
	size_t len;
} dl_spool_rec_t;

/* Opens state_dir/spool (creating it, and state_dir, 0700), recovers it
 * and persists a new seq reservation. 0 or DL_EIO / DL_ENOMEM with the
 * reason logged. The opts strings are copied. */
int dl_spool_open(const dl_spool_opts_t *o, dl_spool_t **out);
/* Syncs (unless OFF) and frees; NULL is a no-op. */
void dl_spool_free(dl_spool_t *sp);

dl_spool_start_t dl_spool_start(const dl_spool_t *sp);
uint64_t dl_spool_epoch(const dl_spool_t *sp);

/* The next seq, always set. A new reservation is persisted (write temp,
 * fsync, rename, fsync dir) before a seq past the old one is handed out;
 * 0, or DL_EIO when that failed (logged; the seq is still unique unless
 * the agent also crashes before the record reaches the spool). */
int dl_spool_take_seq(dl_spool_t *sp, uint64_t *seq);
/* The collector has committed seqs up to next - 1 of this epoch (it can
 * only know them from an earlier run): never hand them out again. */
int dl_spool_bump_seq(dl_spool_t *sp, uint64_t next);

/* Appends one frame (seq above every earlier one). When the cap would be
 * passed, the oldest stats records go first (the oldest segment holding
 * any is rewritten without them), then whole oldest segments; both are
 * counted and reported through on_drop. 0, DL_EINVAL (seq not
 * increasing), DL_ETOOBIG, DL_EIO (logged; nothing appended). */
int dl_spool_append(dl_spool_t *sp, uint64_t seq, dl_outbox_class_t cls,
		    const uint8_t *frame, size_t len);
/* fdatasync of the open segment if anything was written since the last
 * one. 0 or DL_EIO. */
int dl_spool_sync(dl_spool_t *sp);
/* The collector committed every seq <= seq of this epoch: segments that
 * hold nothing newer are deleted (the open one truncated). */
void dl_spool_ack(dl_spool_t *sp, uint64_t seq);
/* The oldest record with seq > after: 1 (rec set), 0 none, DL_EIO. Reading
 * in order (after = the seq last returned, or the same after again) is
 * one pread per record. */
int dl_spool_next(dl_spool_t *sp, uint64_t after, dl_spool_rec_t *rec);
/* Highest seq ever appended in this epoch (0 = none). */
uint64_t dl_spool_last_seq(const dl_spool_t *sp);

typedef struct {
	uint64_t bytes;	   /* all segment files */
	uint64_t segments; /* segment files */
	uint64_t epoch, next_seq, acked;
	uint64_t oldest_seq;	 /* oldest record not acked; 0 = none */
	uint64_t oldest_time_ns; /* its frame's time; 0 = unknown */
	uint64_t dropped_frames, dropped_bytes; /* for the cap, all runs */
} dl_spool_stat_t;

void dl_spool_stat(const dl_spool_t *sp, dl_spool_stat_t *st);
/* Read-only look at a spool another process may be writing (for
 * `dockline-agent check`): recovers nothing, changes nothing. 0, DL_ENOENT
 * (no stream file yet), DL_EIO / DL_EPROTO (with why). */
int dl_spool_inspect(const char *state_dir, dl_spool_stat_t *st, char *why,
		     size_t whylen);

#endif
