/* msg.c - dockline protocol messages: the core of encode and strict
 * decode. Names and borrowed strings, the frame around an encoded payload,
 * the prescan every payload passes before msgpack-c sees it, and the
 * dispatch of each message type to its family's file:
 *
 *   msg_session.c    HELLO ERROR PING PONG ACK RESTART BYE ATTACH
 *   msg_inventory.c  INVENTORY (and its parts) CONTAINER
 *   msg_event.c      EVENT DOCKER DROPPED
 *   msg_stats.c      STATS HOSTSTATS
 *   msg_control.c    REQUEST RESPONSE STREAM END CANCEL CREDIT
 *
 * Every payload is one msgpack array, element 0 the message type, the
 * rest positional (layouts drawn next to each encoder in those files and
 * in PROTOCOL.md). Decoding must never trust a count or length from the
 * wire beyond the bytes of the frame: a cheap header walk (prescan) bounds
 * every array/map/str size by what is left of the payload before
 * msgpack-c, which reserves memory for a declared array size up front,
 * sees it. */
#include "proto/msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg_int.h"

/* ------------------------------------------------------------------ */
/* Names and borrowed strings                                          */

const char *dl_msg_type_name(dl_msg_type_t t)
{
	switch (t) {
	case DL_MSG_HELLO: return "HELLO";
	case DL_MSG_ERROR: return "ERROR";
	case DL_MSG_PING: return "PING";
	case DL_MSG_PONG: return "PONG";
	case DL_MSG_ACK: return "ACK";
	case DL_MSG_RESTART: return "RESTART";
	case DL_MSG_BYE: return "BYE";
	case DL_MSG_INVENTORY: return "INVENTORY";
	case DL_MSG_CONTAINER: return "CONTAINER";
	case DL_MSG_EVENT: return "EVENT";
	case DL_MSG_DOCKER: return "DOCKER";
	case DL_MSG_DROPPED: return "DROPPED";
	case DL_MSG_STATS: return "STATS";
	case DL_MSG_HOSTSTATS: return "HOSTSTATS";
	case DL_MSG_ATTACH: return "ATTACH";
	case DL_MSG_REQUEST: return "REQUEST";
	case DL_MSG_RESPONSE: return "RESPONSE";
	case DL_MSG_STREAM: return "STREAM";
	case DL_MSG_END: return "END";
	case DL_MSG_CANCEL: return "CANCEL";
	case DL_MSG_CREDIT: return "CREDIT";
	}
	return "UNKNOWN";
}

void dl_str_copy(char *out, size_t outlen, dl_str_t s)
{
	size_t n = s.n;

	if (!out || outlen == 0)
		return;
	if (!s.p)
		n = 0;
	if (n > outlen - 1)
		n = outlen - 1;
	if (n)
		memcpy(out, s.p, n);
	out[n] = '\0';
}

bool dl_str_eq(dl_str_t s, const char *c)
{
	size_t n;

	if (!c)
		return false;
	n = strlen(c);
	if (n != s.n)
		return false;
	return n == 0 || memcmp(s.p, c, n) == 0;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */

/* msgpack_packer write callback: appends to the frame's buffer, stops the
 * moment the payload would pass DL_FRAME_MAX so a huge message never
 * grows the buffer first and fails afterwards. */
static int enc_write(void *data, const char *p, size_t n)
{
	enc_t *e = data;
	size_t payload = dl_buf_used(e->b) - e->start - DL_FRAME_HDR;

	if (e->err)
		return -1;
	if (n > DL_FRAME_MAX || payload > DL_FRAME_MAX - n) {
		e->err = DL_ETOOBIG;
		return -1;
	}
	if (dl_buf_append(e->b, p, n) != 0) {
		e->err = DL_ETOOBIG;
		return -1;
	}
	return 0;
}

static int enc_body(enc_t *e, const dl_msg_t *m)
{
	switch (m->type) {
	case DL_MSG_HELLO:
	case DL_MSG_ERROR:
	case DL_MSG_PING:
	case DL_MSG_PONG:
	case DL_MSG_ACK:
	case DL_MSG_RESTART:
	case DL_MSG_BYE:
	case DL_MSG_ATTACH: dl_msg__enc_session(e, m); break;
	case DL_MSG_INVENTORY:
	case DL_MSG_CONTAINER: dl_msg__enc_inventory(e, m); break;
	case DL_MSG_EVENT:
	case DL_MSG_DOCKER:
	case DL_MSG_DROPPED: dl_msg__enc_event(e, m); break;
	case DL_MSG_STATS:
	case DL_MSG_HOSTSTATS: dl_msg__enc_stats(e, m); break;
	case DL_MSG_REQUEST:
	case DL_MSG_RESPONSE:
	case DL_MSG_STREAM:
	case DL_MSG_END:
	case DL_MSG_CANCEL:
	case DL_MSG_CREDIT: dl_msg__enc_control(e, m); break;
	default: return DL_EINVAL;
	}
	return e->err;
}

int dl_msg_encode(dl_buf_t *out, const dl_msg_t *m)
{
	static const uint8_t zero[DL_FRAME_HDR];
	enc_t e = {.b = out, .start = dl_buf_used(out)};
	size_t payload;
	int rc;

	/* Header first, patched once the payload size is known. The buffer
	 * may compact (move its data to offset 0) while growing, so positions
	 * are kept relative to the unread head, never as b->len. */
	rc = dl_buf_append(out, zero, sizeof(zero));
	if (rc != 0)
		return DL_ETOOBIG;
	msgpack_packer_init(&e.pk, &e, enc_write);
	rc = enc_body(&e, m);
	if (rc != 0)
		goto fail;
	payload = dl_buf_used(out) - e.start - DL_FRAME_HDR;
	dl_frame_put_header(dl_buf_head(out) + e.start, (uint32_t)payload);
	return 0;
fail:
	out->len = out->off + e.start;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Prescan: bound every size in the msgpack headers by the frame        */

static uint64_t be_read(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Our layouts nest three deep; msgpack-c itself gives up past 32. */
#define MAX_DEPTH 16

/* Walks the value headers of one msgpack value without building anything.
 * Every array/map element and every str/bin/ext byte must fit in what is
 * left of the payload, so msgpack-c's up-front zone reservations are at
 * most ~24 bytes per payload byte. Returns NULL or a reason. */
static const char *prescan(const uint8_t *p, size_t len)
{
	uint64_t left[MAX_DEPTH + 1]; /* values still to read per level */
	uint64_t pending = 1;	      /* their sum */
	size_t pos = 0;
	int depth = 0;

	left[0] = 1;
	while (pending > 0) {
		uint8_t t;
		unsigned lenb = 0; /* size of a length/count field */
		uint64_t skip = 0; /* fixed bytes after the type byte */
		uint64_t nval = 0; /* nested values announced */
		int kind = 0;	   /* 0 scalar, 1 str/bin/ext, 2 arr, 3 map */

		if (left[depth] == 0) {
			depth--;
			continue;
		}
		if (pos >= len)
			return "truncated msgpack value";
		t = p[pos++];
		pending--;
		left[depth]--;
		if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 ||
		    t == 0xc3) {
			continue;
		} else if (t <= 0x8f) {
			nval = 2u * (t & 0x0fu);
		} else if (t <= 0x9f) {
			nval = t & 0x0fu;
		} else if (t <= 0xbf) {
			skip = t & 0x1fu;
		} else {
			/* One line per msgpack type byte. */
			/* clang-format off */
			switch (t) {
			case 0xc4: case 0xd9: lenb = 1; kind = 1; break;
			case 0xc5: case 0xda: lenb = 2; kind = 1; break;
			case 0xc6: case 0xdb: lenb = 4; kind = 1; break;
			case 0xc7: lenb = 1; kind = 1; skip = 1; break;
			case 0xc8: lenb = 2; kind = 1; skip = 1; break;
			case 0xc9: lenb = 4; kind = 1; skip = 1; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xca: case 0xce: case 0xd2: skip = 4; break;
			case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: lenb = 2; kind = 2; break;
			case 0xdd: lenb = 4; kind = 2; break;
			case 0xde: lenb = 2; kind = 3; break;
			case 0xdf: lenb = 4; kind = 3; break;
			default: return "invalid msgpack type byte 0xc1";
			}
			/* clang-format on */
		}
		if (lenb) {
			uint64_t n;

			if (len - pos < lenb)
				return "truncated msgpack value";
			n = be_read(p + pos, lenb);
			pos += lenb;
			if (kind == 1)
				skip += n;
			else
				nval = kind == 3 ? 2 * n : n;
		}
		if (skip > len - pos)
			return "truncated msgpack value";
		pos += skip;
		if (nval == 0)
			continue;
		pending += nval;
		if (pending > len - pos)
			return "array or map count larger than the frame";
		if (depth == MAX_DEPTH)
			return "arrays nested too deep";
		left[++depth] = nval;
	}
	if (pos != len)
		return "trailing bytes after the message";
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

static int dec_body(dec_t *d, dl_msg_t *m, uint64_t type)
{
	switch (type) {
	case DL_MSG_HELLO:
	case DL_MSG_ERROR:
	case DL_MSG_PING:
	case DL_MSG_PONG:
	case DL_MSG_ACK:
	case DL_MSG_RESTART:
	case DL_MSG_BYE:
	case DL_MSG_ATTACH: return dl_msg__dec_session(d, m, type);
	case DL_MSG_INVENTORY:
	case DL_MSG_CONTAINER: return dl_msg__dec_inventory(d, m, type);
	case DL_MSG_EVENT:
	case DL_MSG_DOCKER:
	case DL_MSG_DROPPED: return dl_msg__dec_event(d, m, type);
	case DL_MSG_STATS:
	case DL_MSG_HOSTSTATS: return dl_msg__dec_stats(d, m, type);
	case DL_MSG_REQUEST:
	case DL_MSG_RESPONSE:
	case DL_MSG_STREAM:
	case DL_MSG_END:
	case DL_MSG_CANCEL:
	case DL_MSG_CREDIT: return dl_msg__dec_control(d, m, type);
	}
	if (d->why && d->whylen)
		snprintf(d->why, d->whylen, "unknown message type %llu",
			 (unsigned long long)type);
	return DL_EPROTO;
}

static int why_set(char *why, size_t whylen, const char *s)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", s);
	return DL_EPROTO;
}

/* Unpacks a private copy of the payload so the decoded strings (which
 * msgpack-c leaves pointing into its input) live as long as the zone,
 * not as long as the caller's receive buffer. */
static int unpack_copy(dl_msg_t *m, const uint8_t *payload, size_t len,
		       char *why, size_t whylen)
{
	char *copy = malloc(len);
	size_t off = 0;
	msgpack_unpack_return ur;

	if (!copy)
		return DL_ENOMEM;
	memcpy(copy, payload, len);
	ur = msgpack_unpack_next(&m->up_, copy, len, &off);
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
		free(copy);
		/* The prescan already accepted it, so this is memory. */
		if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
			return DL_ENOMEM;
		return why_set(why, whylen, "payload: not valid msgpack");
	}
	if (!m->up_.zone) /* scalar payloads need no zone of their own */
		m->up_.zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	if (!m->up_.zone ||
	    !msgpack_zone_push_finalizer(m->up_.zone, free, copy)) {
		free(copy);
		return DL_ENOMEM;
	}
	return 0;
}

int dl_msg_decode(dl_msg_t *m, const uint8_t *payload, size_t len, char *why,
		  size_t whylen)
{
	const msgpack_object *root;
	const char *bad;
	uint64_t type;
	dec_t d;
	int rc;

	memset(m, 0, sizeof(*m));
	msgpack_unpacked_init(&m->up_);
	if (why && whylen)
		why[0] = '\0';
	if (len == 0) {
		rc = why_set(why, whylen, "payload: empty");
		goto fail;
	}
	if (len > DL_FRAME_MAX) {
		rc = why_set(why, whylen, "payload: larger than DL_FRAME_MAX");
		goto fail;
	}
	if ((bad = prescan(payload, len))) {
		if (why && whylen)
			snprintf(why, whylen, "payload: %s", bad);
		rc = DL_EPROTO;
		goto fail;
	}
	if ((rc = unpack_copy(m, payload, len, why, whylen)))
		goto fail;
	root = &m->up_.data;
	if (root->type != MSGPACK_OBJECT_ARRAY) {
		rc = why_set(why, whylen, "payload: not an array");
		goto fail;
	}
	if (root->via.array.size == 0) {
		rc = why_set(why, whylen, "payload: empty array");
		goto fail;
	}
	d = (dec_t){.what = "message",
		    .el = root->via.array.ptr,
		    .n = root->via.array.size,
		    .z = m->up_.zone,
		    .why = why,
		    .whylen = whylen};
	if (d.el[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		rc = dfail(&d, 0, "type", "is not a non-negative integer");
		goto fail;
	}
	type = d.el[0].via.u64;
	d.what = dl_msg_type_name(type <= DL_MSG_TYPE_MAX ? (dl_msg_type_t)type
							  : (dl_msg_type_t)0);
	if ((rc = dec_body(&d, m, type)))
		goto fail;
	m->type = (dl_msg_type_t)type;
	return 0;
fail:
	dl_msg_release(m);
	return rc;
}

void dl_msg_release(dl_msg_t *m)
{
	if (!m)
		return;
	/* Frees every decoded array and, through its finalizer, the copy
	 * of the payload the strings point into. */
	msgpack_zone_free(m->up_.zone);
	memset(m, 0, sizeof(*m));
}
