#include "proto/frame.h"

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
