#include "common/buf.h"

#include <stdlib.h>
#include <string.h>

#include "common/err.h"

uint8_t dl_buf_nil_[1];

void dl_buf_init(dl_buf_t *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
}

void dl_buf_free(dl_buf_t *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->alloc = 0;
}

void dl_buf_reset(dl_buf_t *b)
{
	b->off = b->len = 0;
}

uint8_t *dl_buf_reserve(dl_buf_t *b, size_t n)
{
	size_t used = b->len - b->off;

	if (n > b->cap || used > b->cap - n)
		return NULL;
	if (n == 0 && !b->data)
		return dl_buf_nil_;
	if (b->data && b->alloc - b->len >= n)
		return b->data + b->len;
	if (b->off > 0) { /* compact before growing */
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		if (b->alloc - b->len >= n)
			return b->data + b->len;
	}
	size_t want = b->alloc ? b->alloc : 256;
	while (want < used + n)
		want *= 2;
	if (want > b->cap)
		want = b->cap;
	uint8_t *p = realloc(b->data, want);
	if (!p)
		return NULL;
	b->data = p;
	b->alloc = want;
	return b->data + b->len;
}

void dl_buf_commit(dl_buf_t *b, size_t n)
{
	b->len += n;
}

int dl_buf_append(dl_buf_t *b, const void *p, size_t n)
{
	uint8_t *dst;

	if (n == 0)
		return 0;
	dst = dl_buf_reserve(b, n);
	if (!dst)
		return DL_ETOOBIG;
	memcpy(dst, p, n);
	b->len += n;
	return 0;
}

void dl_buf_consume(dl_buf_t *b, size_t n)
{
	if (n > b->len - b->off)
		n = b->len - b->off;
	b->off += n;
	if (b->off == b->len)
		b->off = b->len = 0;
}
