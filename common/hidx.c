#include "common/hidx.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

#define MIN_CAP 16

uint64_t dl_hash_u64(uint64_t x)
{
	/* splitmix64's finaliser */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

uint64_t dl_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 0x100000001b3ull;
	}
	return dl_hash_u64(h);
}

void dl_hidx_free(dl_hidx_t *t)
{
	if (!t)
		return;
	free(t->s);
	t->s = NULL;
	t->cap = t->n = 0;
}

void dl_hidx_clear(dl_hidx_t *t)
{
	if (t->cap)
		memset(t->s, 0, t->cap * sizeof(*t->s));
	t->n = 0;
}

static void place(dl_hslot_t *s, size_t cap, uint64_t h, uint64_t v)
{
	size_t i = (size_t)h & (cap - 1);

	while (s[i].v)
		i = (i + 1) & (cap - 1);
	s[i].h = h;
	s[i].v = v;
}

static int grow(dl_hidx_t *t)
{
	size_t cap = t->cap ? t->cap * 2 : MIN_CAP;
	dl_hslot_t *s;

	if (cap < t->cap || cap > SIZE_MAX / sizeof(*s))
		return DL_ENOMEM;
	if (!(s = calloc(cap, sizeof(*s))))
		return DL_ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->s[i].v)
			place(s, cap, t->s[i].h, t->s[i].v);
	free(t->s);
	t->s = s;
	t->cap = cap;
	return 0;
}

int dl_hidx_put(dl_hidx_t *t, uint64_t h, uint64_t v)
{
	int rc;

	if (!v)
		return DL_EINVAL;
	/* At most half full: probe runs stay short. */
	if ((t->n + 1) * 2 > t->cap && (rc = grow(t)))
		return rc;
	place(t->s, t->cap, h, v);
	t->n++;
	return 0;
}

static size_t scan(const dl_hidx_t *t, uint64_t h, size_t i)
{
	for (; t->s[i].v; i = (i + 1) & (t->cap - 1))
		if (t->s[i].h == h)
			return i;
	return DL_HIDX_END;
}

size_t dl_hidx_find(const dl_hidx_t *t, uint64_t h)
{
	if (!t->n)
		return DL_HIDX_END;
	return scan(t, h, (size_t)h & (t->cap - 1));
}

size_t dl_hidx_next(const dl_hidx_t *t, uint64_t h, size_t i)
{
	return scan(t, h, (i + 1) & (t->cap - 1));
}

/* Whether slot j's home lies cyclically in (hole, j]: then it must
 * stay where it is. */
static bool stays(size_t home, size_t hole, size_t j)
{
	return hole <= j ? hole < home && home <= j : hole < home || home <= j;
}

int dl_hidx_del(dl_hidx_t *t, uint64_t h, uint64_t v)
{
	size_t i, j, mask = t->cap - 1;

	for (i = dl_hidx_find(t, h); i != DL_HIDX_END;
	     i = dl_hidx_next(t, h, i))
		if (t->s[i].v == v)
			break;
	if (i == DL_HIDX_END)
		return 0;
	/* Backward shift: later entries of the run move into the hole
	 * unless their home slot is past it. No tombstones. */
	for (j = (i + 1) & mask; t->s[j].v; j = (j + 1) & mask) {
		if (stays((size_t)t->s[j].h & mask, i, j))
			continue;
		t->s[i] = t->s[j];
		i = j;
	}
	t->s[i].h = t->s[i].v = 0;
	t->n--;
	return 1;
}
