#include "proto/frame.h"

#include <string.h>

#include "common/err.h"

void dl_frame_reader_init(dl_frame_reader_t *r, size_t max_payload)
{
	r->max = max_payload;
	/* Room for one whole frame plus the next one's partial bytes. */
	dl_buf_init(&r->in, 2 * (r->max + DL_FRAME_HDR));
}

void dl_frame_reader_free(dl_frame_reader_t *r)
{
	dl_buf_free(&r->in);
}

int dl_frame_reader_feed(dl_frame_reader_t *r, const void *p, size_t n)
{
	return dl_buf_append(&r->in, p, n);
}

int dl_frame_reader_next(dl_frame_reader_t *r, const uint8_t **payload,
			 size_t *len)
{
	size_t used = dl_buf_used(&r->in);
	const uint8_t *h = dl_buf_head(&r->in);
	uint32_t n;

	if (used < DL_FRAME_HDR)
		return 0;
	n = dl_frame_get_len(h);
	if (n == 0)
		return DL_EPROTO;
	if (n > r->max)
		return DL_ETOOBIG;
	if (used - DL_FRAME_HDR < n)
		return 0;
	*payload = h + DL_FRAME_HDR;
	*len = n;
	/* The bytes stay in place until the next feed/next call compacts. */
	dl_buf_consume(&r->in, DL_FRAME_HDR + n);
	return 1;
}

void dl_frame_put_header(uint8_t hdr[4], uint32_t n)
{
	hdr[0] = (uint8_t)(n >> 24);
	hdr[1] = (uint8_t)(n >> 16);
	hdr[2] = (uint8_t)(n >> 8);
	hdr[3] = (uint8_t)n;
}

uint32_t dl_frame_get_len(const uint8_t hdr[4])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	       (uint32_t)hdr[2] << 8 | (uint32_t)hdr[3];
}

/* ---- boundary tracker (attach) ---------------------------------------- */

void dl_frame_track_init(dl_frame_track_t *t, uint32_t max_payload)
{
	memset(t, 0, sizeof(*t));
	t->max = max_payload;
}

int dl_frame_track_idle(const dl_frame_track_t *t)
{
	/* A whole header with nothing left means the frame has ended. */
	return !t->err && t->left == 0 &&
	       (t->hdr_have == 0 || t->hdr_have == DL_FRAME_HDR);
}

static uint64_t peek_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Array header (fixarray, array16, array32), then a non-negative integer
 * (positive fixint, uint8..uint64): what msg.c writes and accepts. */
int dl_frame_peek_type(const uint8_t *p, size_t n)
{
	size_t off;
	uint64_t v;
	unsigned w;

	if (n < 1)
		return -1;
	if ((p[0] & 0xf0) == 0x90)
		off = 1;
	else if (p[0] == 0xdc)
		off = 3;
	else if (p[0] == 0xdd)
		off = 5;
	else
		return -1;
	if (n <= off)
		return -1;
	if (p[off] <= 0x7f)
		return p[off];
	switch (p[off]) {
	case 0xcc: w = 1; break;
	case 0xcd: w = 2; break;
	case 0xce: w = 4; break;
	case 0xcf: w = 8; break;
	default: return -1;
	}
	if (n < off + 1 + w)
		return -1;
	v = peek_be(p + off + 1, w);
	return v > 0x7fffffff ? -1 : (int)v;
}

int dl_frame_track_type(const dl_frame_track_t *t)
{
	if (t->hdr_have < DL_FRAME_HDR)
		return -1;
	return dl_frame_peek_type(t->head, t->head_have);
}

long dl_frame_track_step(dl_frame_track_t *t, const uint8_t *p, size_t n,
			 int *ended)
{
	size_t used = 0, k;

	*ended = 0;
	if (t->err)
		return t->err;
	if (n && t->hdr_have == DL_FRAME_HDR && t->left == 0) {
		/* The last call ended a frame: this byte starts the next. */
		t->hdr_have = 0;
		t->head_have = 0;
		t->len = 0;
	}
	while (used < n && t->hdr_have < DL_FRAME_HDR)
		t->hdr[t->hdr_have++] = p[used++];
	if (t->hdr_have < DL_FRAME_HDR)
		return (long)used;
	if (t->len == 0) { /* header just completed */
		t->len = dl_frame_get_len(t->hdr);
		if (t->len == 0 || t->len > t->max) {
			t->err = t->len == 0 ? DL_EPROTO : DL_ETOOBIG;
			return t->err;
		}
		t->left = t->len;
	}
	k = n - used < t->left ? n - used : t->left;
	for (size_t i = 0; i < k && t->head_have < DL_FTRACK_HEAD; i++)
		t->head[t->head_have++] = p[used + i];
	used += k;
	t->left -= (uint32_t)k;
	if (t->left == 0) {
		t->frames++;
		*ended = 1;
	}
	return (long)used;
}
