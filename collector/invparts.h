/* invparts.h - the INVENTORY parts of one agent session, held until the
 * last one arrives so the host's container set is replaced once, whole.
 * It never hands out a partial inventory: a part set that stops short
 * is dropped (logged), never applied. Bounded per session by
 * DL_MAX_INVENTORY_BYTES and DL_MAX_CONTAINERS, and across sessions by
 * DL_INVPARTS_RESERVE_MAX: part 0 reserves its inventory's worst case
 * (parts x DL_FRAME_MAX, at most DL_MAX_INVENTORY_BYTES), and one that
 * does not fit waits (DL_EFULL: the session keeps the frame and offers
 * it again). Loop thread only (the reservations are process-wide). */
#ifndef DL_COLLECTOR_INVPARTS_H
#define DL_COLLECTOR_INVPARTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

/* 16 hosts' worst-case inventories at once. */
#define DL_INVPARTS_RESERVE_MAX (256u * 1024u * 1024u)

typedef struct dl_invparts dl_invparts_t;

/* What dl_invparts_offer() made of a frame (>= 0). */
typedef enum {
	DL_INVP_NONE, /* not a part: handle the frame as usual */
	DL_INVP_HELD, /* a part, copied and held; nothing else to do */
	DL_INVP_DONE, /* the last part: every part is held, submit them */
	DL_INVP_SKIP, /* a part of an inventory whose earlier parts never
			 came (the agent dropped them): dropped too */
} dl_invp_t;

/* A held part: the frame payload (owned by the dl_invparts_t). */
typedef struct {
	uint8_t *p;
	size_t n;
} dl_invpart_t;

dl_invparts_t *dl_invparts_new(void);
void dl_invparts_free(dl_invparts_t *a);

/* Offers one decoded data frame of the session (m, its payload p/n) in
 * stream order. host names the session in log lines. Returns a
 * DL_INVP_* or DL_EPROTO (why set: a part out of order, a part count
 * that changed, a frame of another kind between two parts, the parts
 * over their bounds), DL_EFULL (a part 0 that does not fit in what is
 * left of DL_INVPARTS_RESERVE_MAX: nothing held, offer it again later)
 * or DL_ENOMEM. Offering the last part again after
 * DONE (the store was full) answers DONE again. A gap in seqs (frames
 * the agent dropped) abandons the parts held, with a WARN. */
int dl_invparts_offer(dl_invparts_t *a, const char *host, const dl_msg_t *m,
		      const uint8_t *p, size_t n, char *why, size_t whylen);

/* After DONE: the parts in order (valid until dl_invparts_reset) and
 * the containers they hold together. */
const dl_invpart_t *dl_invparts_parts(const dl_invparts_t *a, uint32_t *nparts,
				      uint32_t *ncontainers);
uint64_t dl_invparts_id(const dl_invparts_t *a);

/* Forgets what is held (after the parts went to the store), and its
 * reservation. */
void dl_invparts_reset(dl_invparts_t *a);

/* Whether a part 0 announcing parts parts would wait now (DL_EFULL): a
 * session holding one back asks this before decoding it again. */
bool dl_invparts_would_wait(uint32_t parts);

/* Whether some parts are held and more are due (not DONE). */
bool dl_invparts_partial(const dl_invparts_t *a);

/* Bytes reserved now by every dl_invparts_t together, and how many times
 * a part 0 was answered DL_EFULL (for /metrics). */
size_t dl_invparts_reserved(void);
uint64_t dl_invparts_waits(void);

#endif
