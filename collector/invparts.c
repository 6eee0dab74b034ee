/* invparts.c - INVENTORY parts held per session until the last one.
 *
 *   part 0 (seq = id) .. part k-1 (seq = id + k - 1), nothing between
 *     -> copied here, never submitted alone (acks wait for the last)
 *   last part -> DONE: the caller submits all of them as one store item
 *
 * Parts of one inventory have consecutive seqs (the decoder checks
 * id + part == seq), so a frame whose seq follows the last part held
 * must be the next part: anything else there is a protocol error. A seq
 * gap means the agent dropped frames (spool cap, disk error): the
 * inventory is incomplete and is dropped, never applied in part. */
#include "collector/invparts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"
#include "proto/frame.h"

#define TAG "session"

/* Reserved for every session's parts together, and how often a part 0
 * had to wait for room (loop thread only). */
static size_t reserved_total;
static uint64_t waits_total;

struct dl_invparts {
	uint64_t id;	  /* seq of part 0 of what is held */
	uint32_t parts;	  /* the count they announce; 0: nothing held */
	uint32_t have;	  /* parts held: 0..have-1 */
	uint32_t ncont;	  /* containers in them */
	size_t bytes;	  /* payload bytes held */
	size_t reserved;  /* of reserved_total, for what is held */
	uint64_t skip_id; /* parts of this inventory are dropped */
	bool skipping;	  /* skip_id is set */
	dl_invpart_t v[DL_MAX_INVENTORY_PARTS];
};

dl_invparts_t *dl_invparts_new(void)
{
	return calloc(1, sizeof(dl_invparts_t));
}

void dl_invparts_reset(dl_invparts_t *a)
{
	for (uint32_t i = 0; i < a->have; i++)
		free(a->v[i].p);
	a->have = a->parts = a->ncont = 0;
	a->bytes = 0;
	a->id = 0;
	reserved_total -= a->reserved;
	a->reserved = 0;
}

size_t dl_invparts_reserved(void)
{
	return reserved_total;
}

uint64_t dl_invparts_waits(void)
{
	return waits_total;
}

void dl_invparts_free(dl_invparts_t *a)
{
	if (!a)
		return;
	dl_invparts_reset(a);
	free(a);
}

static void abandon(dl_invparts_t *a, const char *host, const char *what)
{
	DL_LOG_WARN(TAG,
		    "%s: inventory %llu dropped after %u of %u parts: %s "
		    "(the agent dropped frames; it reports them as DROPPED)",
		    host, (unsigned long long)a->id, a->have, a->parts, what);
	dl_invparts_reset(a);
}

static int hold(dl_invparts_t *a, const dl_msg_t *m, const uint8_t *p, size_t n,
		char *why, size_t whylen)
{
	if (a->ncont + m->u.inventory.n > DL_MAX_CONTAINERS ||
	    a->bytes + n > DL_MAX_INVENTORY_BYTES) {
		snprintf(why, whylen,
			 "INVENTORY %llu: part %u passes the bounds of %u "
			 "containers / %u bytes for all parts",
			 (unsigned long long)m->u.inventory.id,
			 m->u.inventory.part, DL_MAX_CONTAINERS,
			 DL_MAX_INVENTORY_BYTES);
		return DL_EPROTO;
	}
	if (!(a->v[a->have].p = malloc(n)))
		return DL_ENOMEM;
	memcpy(a->v[a->have].p, p, n);
	a->v[a->have].n = n;
	a->have++;
	a->ncont += m->u.inventory.n;
	a->bytes += n;
	return a->have == a->parts ? DL_INVP_DONE : DL_INVP_HELD;
}

/* What part 0 of a parts-part inventory reserves: its worst case. */
static size_t worst_case(uint32_t parts)
{
	size_t want = (size_t)parts * DL_FRAME_MAX;

	return want > DL_MAX_INVENTORY_BYTES ? DL_MAX_INVENTORY_BYTES : want;
}

bool dl_invparts_would_wait(uint32_t parts)
{
	return reserved_total + worst_case(parts) > DL_INVPARTS_RESERVE_MAX;
}

/* A part while nothing (or another inventory) is held. */
static int first_part(dl_invparts_t *a, const char *host, const dl_msg_t *m,
		      const uint8_t *p, size_t n, char *why, size_t whylen)
{
	uint64_t id = m->u.inventory.id;
	size_t want;

	if (m->u.inventory.part > 0) {
		if (!a->skipping || a->skip_id != id)
			DL_LOG_WARN(TAG,
				    "%s: inventory %llu starts at part %u of "
				    "%u (the agent dropped the earlier "
				    "ones): dropped, the containers stored "
				    "stay as they are",
				    host, (unsigned long long)id,
				    m->u.inventory.part, m->u.inventory.parts);
		a->skipping = true;
		a->skip_id = id;
		return DL_INVP_SKIP;
	}
	/* Part 0 reserves the whole inventory's worst case, so one that has
	 * started always fits to its end: no two sessions can each hold
	 * half and wait for the other. */
	want = worst_case(m->u.inventory.parts);
	if (reserved_total + want > DL_INVPARTS_RESERVE_MAX) {
		waits_total++;
		DL_LOG_RL(DL_LOG_LEVEL_INFO, TAG,
			  "%s: inventory %llu (%u parts) waits: %zu MiB are "
			  "reserved for other hosts' inventory parts (at "
			  "most %u MiB)",
			  host, (unsigned long long)id, m->u.inventory.parts,
			  reserved_total >> 20, DL_INVPARTS_RESERVE_MAX >> 20);
		return DL_EFULL;
	}
	a->skipping = false;
	a->id = id;
	a->parts = m->u.inventory.parts;
	a->reserved = want;
	reserved_total += want;
	return hold(a, m, p, n, why, whylen);
}

int dl_invparts_offer(dl_invparts_t *a, const char *host, const dl_msg_t *m,
		      const uint8_t *p, size_t n, char *why, size_t whylen)
{
	bool part = m->type == DL_MSG_INVENTORY && m->u.inventory.parts > 0;
	uint64_t next = a->id + a->have; /* the seq the next part must have */

	if (a->parts && a->have == a->parts) {
		/* DONE and not reset: the store was full, the same frame is
		 * offered again. */
		if (part && m->seq == next - 1)
			return DL_INVP_DONE;
		dl_invparts_reset(a);
		next = 0;
	}
	if (!a->parts)
		return part ? first_part(a, host, m, p, n, why, whylen)
			    : DL_INVP_NONE;
	if (m->seq != next) {
		if (m->seq < next) {
			snprintf(why, whylen,
				 "%s seq %llu after INVENTORY part seq %llu: "
				 "seqs went backwards",
				 dl_msg_type_name(m->type),
				 (unsigned long long)m->seq,
				 (unsigned long long)next - 1);
			return DL_EPROTO;
		}
		abandon(a, host, "its next part never came");
		return part ? first_part(a, host, m, p, n, why, whylen)
			    : DL_INVP_NONE;
	}
	/* The seq right after the last part held: must be the next part. */
	if (!part || m->u.inventory.id != a->id) {
		snprintf(why, whylen,
			 "%s seq %llu where part %u of %u of INVENTORY %llu "
			 "was due",
			 part ? "another INVENTORY's part"
			      : dl_msg_type_name(m->type),
			 (unsigned long long)m->seq, a->have, a->parts,
			 (unsigned long long)a->id);
		return DL_EPROTO;
	}
	if (m->u.inventory.parts != a->parts) {
		snprintf(why, whylen,
			 "INVENTORY %llu: part %u says %u parts, part 0 said "
			 "%u",
			 (unsigned long long)a->id, m->u.inventory.part,
			 m->u.inventory.parts, a->parts);
		return DL_EPROTO;
	}
	/* id + part == seq (decoder) and seq == id + have: part == have. */
	return hold(a, m, p, n, why, whylen);
}

const dl_invpart_t *dl_invparts_parts(const dl_invparts_t *a, uint32_t *nparts,
				      uint32_t *ncontainers)
{
	*nparts = a->have;
	*ncontainers = a->ncont;
	return a->v;
}

bool dl_invparts_partial(const dl_invparts_t *a)
{
	return a && a->parts && a->have < a->parts;
}

uint64_t dl_invparts_id(const dl_invparts_t *a)
{
	return a->id;
}
