/* outbox.h - the agent's queue of data frames not yet acknowledged.
 *
 * Every data frame (already encoded, with its sequence number) stays here
 * until the collector acks a seq >= its own, which the collector does only
 * after the SQLite COMMIT holding it. A reconnect rewinds the send cursor
 * so unacked frames are sent again. Memory is bounded by cap bytes: when a
 * push would pass it, frames are dropped and counted, never silently:
 * the oldest stats frames first (a later sample carries the same
 * cumulative counters), then the oldest of the rest. */
#ifndef DL_AGENT_OUTBOX_H
#define DL_AGENT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#define DL_OUTBOX_DEFAULT_CAP (16u * 1024u * 1024u)

typedef struct dl_outbox dl_outbox_t;

dl_outbox_t *dl_outbox_new(size_t cap_bytes);
void dl_outbox_free(dl_outbox_t *o);

typedef enum {
	DL_OUTBOX_KEEP = 0,  /* inventory, events: dropped last */
	DL_OUTBOX_STATS = 1, /* samples: dropped first */
} dl_outbox_class_t;

/* Copies one whole frame. seq must increase from push to push. Returns 0,
 * DL_ETOOBIG (frame larger than the cap: not queued, counted as dropped)
 * or DL_ENOMEM. */
int dl_outbox_push(dl_outbox_t *o, uint64_t seq, const uint8_t *frame,
		   size_t len, dl_outbox_class_t cls);
/* Drops every frame with seq <= seq. */
void dl_outbox_ack(dl_outbox_t *o, uint64_t seq);
/* Next frame to send after a (re)connect is the oldest unacked one. */
void dl_outbox_rewind(dl_outbox_t *o);
/* The next unsent frame: 1 (fields set, valid until the next push/ack),
 * 0 when everything queued has been sent. */
int dl_outbox_peek(const dl_outbox_t *o, const uint8_t **frame, size_t *len,
		   uint64_t *seq);
/* The frame returned by peek was handed to the transport. */
void dl_outbox_sent(dl_outbox_t *o);

/* push would not have to drop anything to queue len bytes. */
int dl_outbox_fits(const dl_outbox_t *o, size_t len);
/* Forgets the frames with lo <= seq <= hi (only the stats ones when
 * stats_only), without counting them: the spool dropped and counted them
 * for its own cap. */
void dl_outbox_discard(dl_outbox_t *o, uint64_t lo, uint64_t hi,
		       int stats_only);

size_t dl_outbox_bytes(const dl_outbox_t *o);
size_t dl_outbox_count(const dl_outbox_t *o);
/* Totals since start of frames/bytes dropped for lack of space. */
void dl_outbox_dropped(const dl_outbox_t *o, uint64_t *frames, uint64_t *bytes);

#endif
