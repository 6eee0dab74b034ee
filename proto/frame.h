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

/* Writes the 4-byte header for a payload of n bytes. */
void dl_frame_put_header(uint8_t hdr[4], uint32_t n);
uint32_t dl_frame_get_len(const uint8_t hdr[4]);

#endif
