/* buf.h - growable byte buffer with a hard cap.
 * A dl_buf_t never grows past its cap: appends that would exceed it fail
 * with DL_ETOOBIG and leave the contents unchanged. Data lives in
 * [data + off, data + len); consumed bytes are reclaimed lazily. */
#ifndef DL_COMMON_BUF_H
#define DL_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint8_t *data;
	size_t off; /* first unread byte */
	size_t len; /* end of valid bytes */
	size_t alloc;
	size_t cap; /* hard maximum of len - off */
} dl_buf_t;

void dl_buf_init(dl_buf_t *b, size_t cap);
void dl_buf_free(dl_buf_t *b);
void dl_buf_reset(dl_buf_t *b);
/* Unread bytes. */
static inline size_t dl_buf_used(const dl_buf_t *b)
{
	return b->len - b->off;
}
/* Never NULL: a buffer that never allocated (or was freed) reads as the
 * zero bytes at dl_buf_nil_, so `p = dl_buf_head(b); n = dl_buf_used(b)`
 * is safe to hand to memcpy/memchr even when empty (NULL + 0 is UB). */
extern uint8_t dl_buf_nil_[1];
static inline uint8_t *dl_buf_head(const dl_buf_t *b)
{
	return b->data ? b->data + b->off : dl_buf_nil_;
}
int dl_buf_append(dl_buf_t *b, const void *p, size_t n);
/* Makes room for n more bytes; returns a pointer to write at or NULL
 * (cap or memory). Call dl_buf_commit(b, k) after writing k <= n bytes. */
uint8_t *dl_buf_reserve(dl_buf_t *b, size_t n);
void dl_buf_commit(dl_buf_t *b, size_t n);
void dl_buf_consume(dl_buf_t *b, size_t n);

#endif
