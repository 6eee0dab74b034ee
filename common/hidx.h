/* hidx.h - a hash index: 64-bit hash -> nonzero 64-bit value (a pointer,
 * or an index + 1 into an array the caller owns), open addressing with
 * linear probing and backward-shift deletion. Serve's per-message
 * lookups (a session by sid or host, a batch's host or ack) go through
 * one instead of walking a list. Several values may share a hash (two
 * host names that collide): the caller walks them with dl_hidx_next and
 * compares its own key. Not thread-safe; never allocates in a lookup. */
#ifndef DL_COMMON_HIDX_H
#define DL_COMMON_HIDX_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t h;
	uint64_t v; /* 0 = free slot */
} dl_hslot_t;

typedef struct {
	dl_hslot_t *s;
	size_t cap; /* 0 or a power of two */
	size_t n;
} dl_hidx_t;

#define DL_HIDX_END ((size_t)-1)

/* A zeroed dl_hidx_t is an empty index. dl_hidx_free(NULL) is a no-op. */
void dl_hidx_free(dl_hidx_t *t);
/* Empties t, keeping its slots: O(cap). */
void dl_hidx_clear(dl_hidx_t *t);
/* Adds h -> v (v != 0). 0, DL_EINVAL (v == 0) or DL_ENOMEM. */
int dl_hidx_put(dl_hidx_t *t, uint64_t h, uint64_t v);
/* The slot of the first value under h, or DL_HIDX_END; then the next
 * one after slot i. t->s[i].v is the value. */
size_t dl_hidx_find(const dl_hidx_t *t, uint64_t h);
size_t dl_hidx_next(const dl_hidx_t *t, uint64_t h, size_t i);
/* Removes h -> v; returns whether it was there. */
int dl_hidx_del(dl_hidx_t *t, uint64_t h, uint64_t v);

/* FNV-1a of a NUL-terminated string, then mixed; and a mix of a u64
 * (sids are sequential: the mix spreads them over the slots). */
uint64_t dl_hash_str(const char *s);
uint64_t dl_hash_u64(uint64_t x);

#endif
