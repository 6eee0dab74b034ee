/* frame.h - the wire framing: 4-byte big-endian length + one msgpack value.
 *
 *   +--------+--------+--------+--------+------------------------------+
 *   |     payload length (u32, BE)      |  payload: one msgpack value  |
 *   +--------+--------+--------+--------+------------------------------+
 *
 * The length is checked against DL_FRAME_MAX before a single payload byte
 * is buffered or handed to msgpack: msgpack-c has no limits of its own and
 * a 5-byte header could otherwise make it reserve gigabytes. */
#ifndef DL_PROTO_FRAME_H
#define DL_PROTO_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define DL_FRAME_HDR 4u
#define DL_FRAME_MAX (1024u * 1024u) /* agent<->collector payload bytes */

typedef struct {
	dl_buf_t in;
	size_t max; /* payload maximum for this reader */
} dl_frame_reader_t;

/* max_payload: DL_FRAME_MAX on the agent link; the admin link uses its
 * own caps (admin.h). */
void dl_frame_reader_init(dl_frame_reader_t *r, size_t max_payload);
void dl_frame_reader_free(dl_frame_reader_t *r);
/* Appends received bytes. DL_ETOOBIG if they cannot be buffered (which
 * only happens when the caller does not drain frames). */
int dl_frame_reader_feed(dl_frame_reader_t *r, const void *p, size_t n);
/* Next complete frame: 1 with *payload and *len set (valid until the next
 * feed), 0 when more bytes are needed, DL_ETOOBIG for an oversized or
 * DL_EPROTO for a zero-length frame. After an error the stream is dead. */
int dl_frame_reader_next(dl_frame_reader_t *r, const uint8_t **payload,
			 size_t *len);

/* Frame-boundary tracker: follows a byte stream without buffering it.
 * attach relays bytes it never decodes and needs only where each frame
 * begins and ends and which message type it carries (the first payload
 * bytes: a msgpack array header, then the type integer).
 *
 *   bytes: |len(4)|payload........|len(4)|payload...|len(4)|pay
 *   step:  ^------ one call ------^----- next ------^-- ... stops at
 *                                                      each frame end */
#define DL_FTRACK_HEAD 16 /* payload bytes kept: array hdr (5) + u64 (9) */

typedef struct {
	uint32_t max;	   /* payload maximum */
	uint32_t hdr_have; /* header bytes of the current frame seen */
	uint8_t hdr[DL_FRAME_HDR];
	uint32_t len;  /* payload length of the current frame */
	uint32_t left; /* its payload bytes still to come */
	uint8_t head[DL_FTRACK_HEAD];
	uint32_t head_have;
	uint64_t frames; /* frames completed */
	int err;	 /* sticky: the stream cannot be followed further */
} dl_frame_track_t;

void dl_frame_track_init(dl_frame_track_t *t, uint32_t max_payload);
/* Walks p[0..n), stopping right after the end of a frame. Returns the
 * bytes consumed (all n, or fewer when a frame ended before: *ended says
 * a frame ended at the last byte consumed) or, for a header with length
 * 0 (DL_EPROTO) or over the maximum (DL_ETOOBIG), that error, again on
 * every later call. Pure: no I/O, no allocation. */
long dl_frame_track_step(dl_frame_track_t *t, const uint8_t *p, size_t n,
			 int *ended);
/* True between frames (the next byte would start a header). */
int dl_frame_track_idle(const dl_frame_track_t *t);
/* Message type of the current or just-ended frame, from its first
 * payload bytes: >= 0, or -1 while not known (or not array + integer). */
int dl_frame_track_type(const dl_frame_track_t *t);
/* The same for a payload in hand: >= 0 or -1. */
int dl_frame_peek_type(const uint8_t *payload, size_t n);

/* Writes the 4-byte header for a payload of n bytes. */
void dl_frame_put_header(uint8_t hdr[4], uint32_t n);
uint32_t dl_frame_get_len(const uint8_t hdr[4]);

#endif
