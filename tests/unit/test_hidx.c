/* hidx: random puts and deletes against a plain array, with hashes
 * drawn from a small set so runs, wrap-around and shared hashes all
 * happen; clear; the string and u64 hashes. */
#include "common/err.h"
#include "common/hidx.h"
#include "test.h"

#define N 4000

typedef struct {
	uint64_t h, v;
	int live;
} ref_t;

static ref_t ref[N];

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* Every live reference entry is found under its hash, and the index
 * holds nothing else. */
static void check(const dl_hidx_t *t)
{
	size_t live = 0;

	for (size_t k = 0; k < N; k++) {
		int seen = 0;

		if (!ref[k].live)
			continue;
		live++;
		for (size_t i = dl_hidx_find(t, ref[k].h); i != DL_HIDX_END;
		     i = dl_hidx_next(t, ref[k].h, i)) {
			ASSERT_EQ(t->s[i].h, ref[k].h);
			seen += t->s[i].v == ref[k].v;
		}
		if (seen != 1)
			DL_FAIL_("value %llu under hash %llu seen %d times",
				 (unsigned long long)ref[k].v,
				 (unsigned long long)ref[k].h, seen);
	}
	ASSERT_EQ(t->n, live);
}

static void test_random(uint64_t hashes)
{
	dl_hidx_t t = {0};
	uint64_t x = 88172645463325252ull + hashes;

	memset(ref, 0, sizeof(ref));
	for (int round = 0; round < 20000; round++) {
		size_t k = rnd(&x) % N;

		if (!ref[k].live) {
			ref[k].h = rnd(&x) % hashes;
			ref[k].v = k + 1;
			ref[k].live = 1;
			ASSERT_EQ(dl_hidx_put(&t, ref[k].h, ref[k].v), 0);
		} else {
			ASSERT_EQ(dl_hidx_del(&t, ref[k].h, ref[k].v), 1);
			ASSERT_EQ(dl_hidx_del(&t, ref[k].h, ref[k].v), 0);
			ref[k].live = 0;
		}
		if (round % 997 == 0)
			check(&t);
	}
	check(&t);
	ASSERT_LE(t.n * 2, t.cap);
	dl_hidx_clear(&t);
	ASSERT_EQ(t.n, 0);
	for (size_t k = 0; k < N; k++)
		if (ref[k].live)
			ASSERT_EQ(dl_hidx_find(&t, ref[k].h), DL_HIDX_END);
	dl_hidx_free(&t);
	ASSERT(t.s == NULL);
}

static void test_edges(void)
{
	dl_hidx_t t = {0};

	ASSERT_EQ(dl_hidx_find(&t, 7), DL_HIDX_END);
	ASSERT_EQ(dl_hidx_del(&t, 7, 1), 0);
	ASSERT_EQ(dl_hidx_put(&t, 7, 0), DL_EINVAL);
	/* Hashes at the top of the table wrap to slot 0. */
	for (uint64_t v = 1; v <= 6; v++)
		ASSERT_EQ(dl_hidx_put(&t, 15, v), 0);
	ASSERT_EQ(dl_hidx_del(&t, 15, 3), 1);
	for (uint64_t v = 1, seen = 0; v <= 6; v++, seen = 0) {
		for (size_t i = dl_hidx_find(&t, 15); i != DL_HIDX_END;
		     i = dl_hidx_next(&t, 15, i))
			seen += t.s[i].v == v;
		ASSERT_EQ(seen, v == 3 ? 0 : 1);
	}
	dl_hidx_free(&t);
	dl_hidx_free(NULL);
}

static void test_hashes(void)
{
	ASSERT_EQ(dl_hash_str("web-01"), dl_hash_str("web-01"));
	ASSERT_NE(dl_hash_str("web-01"), dl_hash_str("web-02"));
	ASSERT_NE(dl_hash_str(""), dl_hash_str("a"));
	/* Sequential sids land in different low bits. */
	ASSERT_NE(dl_hash_u64(1) & 1023, dl_hash_u64(2) & 1023);
}

int main(void)
{
	test_edges();
	test_random(3);	 /* long runs of one hash */
	test_random(64); /* shared hashes and collisions */
	test_random(1ull << 40);
	test_hashes();
	printf("ok\n");
	return 0;
}
