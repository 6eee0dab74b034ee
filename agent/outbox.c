#include "agent/outbox.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

typedef struct entry {
	struct entry *next;
	uint64_t seq;
	size_t len;
	dl_outbox_class_t cls;
	uint8_t data[];
} entry_t;

struct dl_outbox {
	entry_t *head; /* oldest unacked */
	entry_t *tail;
	entry_t *cursor; /* next to send; NULL = all sent */
	size_t bytes;
	size_t count;
	size_t nstats; /* entries of class DL_OUTBOX_STATS */
	size_t cap;
	uint64_t dropped_frames;
	uint64_t dropped_bytes;
};

dl_outbox_t *dl_outbox_new(size_t cap_bytes)
{
	dl_outbox_t *o = calloc(1, sizeof(*o));

	if (o)
		o->cap = cap_bytes;
	return o;
}

/* Unlinks e (prev is its predecessor, NULL for the head) and frees it. */
static void unlink_entry(dl_outbox_t *o, entry_t *prev, entry_t *e)
{
	if (o->cursor == e)
		o->cursor = e->next;
	if (prev)
		prev->next = e->next;
	else
		o->head = e->next;
	if (o->tail == e)
		o->tail = prev;
	o->bytes -= e->len;
	o->count--;
	if (e->cls == DL_OUTBOX_STATS)
		o->nstats--;
	free(e);
}

static void drop_head(dl_outbox_t *o)
{
	unlink_entry(o, NULL, o->head);
}

/* Makes room by dropping one frame: the oldest stats frame if any, else
 * the oldest frame. */
static void drop_one(dl_outbox_t *o)
{
	entry_t *prev = NULL, *e = o->head;

	if (o->nstats)
		while (e->cls != DL_OUTBOX_STATS) {
			prev = e;
			e = e->next;
		}
	o->dropped_frames++;
	o->dropped_bytes += e->len;
	DL_LOG_RL(DL_LOG_LEVEL_WARN, "outbox",
		  "outbox full (%zu bytes): dropping %s frame %llu", o->bytes,
		  e->cls == DL_OUTBOX_STATS ? "stats" : "data",
		  (unsigned long long)e->seq);
	unlink_entry(o, prev, e);
}

void dl_outbox_free(dl_outbox_t *o)
{
	if (!o)
		return;
	while (o->head)
		drop_head(o);
	free(o);
}

int dl_outbox_push(dl_outbox_t *o, uint64_t seq, const uint8_t *frame,
		   size_t len, dl_outbox_class_t cls)
{
	entry_t *e;

	if (len > o->cap) {
		o->dropped_frames++;
		o->dropped_bytes += len;
		return DL_ETOOBIG;
	}
	while (o->head && o->bytes + len > o->cap)
		drop_one(o);
	e = malloc(sizeof(*e) + len);
	if (!e)
		return DL_ENOMEM;
	e->next = NULL;
	e->seq = seq;
	e->len = len;
	e->cls = cls;
	memcpy(e->data, frame, len);
	if (o->tail)
		o->tail->next = e;
	else
		o->head = e;
	o->tail = e;
	if (!o->cursor)
		o->cursor = e;
	o->bytes += len;
	o->count++;
	if (cls == DL_OUTBOX_STATS)
		o->nstats++;
	return 0;
}

void dl_outbox_ack(dl_outbox_t *o, uint64_t seq)
{
	while (o->head && o->head->seq <= seq)
		drop_head(o);
}

void dl_outbox_rewind(dl_outbox_t *o)
{
	o->cursor = o->head;
}

int dl_outbox_peek(const dl_outbox_t *o, const uint8_t **frame, size_t *len,
		   uint64_t *seq)
{
	if (!o->cursor)
		return 0;
	*frame = o->cursor->data;
	*len = o->cursor->len;
	*seq = o->cursor->seq;
	return 1;
}

void dl_outbox_sent(dl_outbox_t *o)
{
	if (o->cursor)
		o->cursor = o->cursor->next;
}

int dl_outbox_fits(const dl_outbox_t *o, size_t len)
{
	return len <= o->cap && o->bytes + len <= o->cap;
}

void dl_outbox_discard(dl_outbox_t *o, uint64_t lo, uint64_t hi, int stats_only)
{
	entry_t *prev = NULL, *e = o->head, *next;

	for (; e && e->seq <= hi; e = next) {
		next = e->next;
		if (e->seq >= lo && (!stats_only || e->cls == DL_OUTBOX_STATS))
			unlink_entry(o, prev, e);
		else
			prev = e;
	}
}

size_t dl_outbox_bytes(const dl_outbox_t *o)
{
	return o->bytes;
}

size_t dl_outbox_count(const dl_outbox_t *o)
{
	return o->count;
}

void dl_outbox_dropped(const dl_outbox_t *o, uint64_t *frames, uint64_t *bytes)
{
	*frames = o->dropped_frames;
	*bytes = o->dropped_bytes;
}
