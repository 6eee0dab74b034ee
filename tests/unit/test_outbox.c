/* Outbox: ordering, cumulative acks, rewind after reconnect, the memory
 * cap and drop accounting. */
#include "agent/outbox.h"
#include "common/err.h"
#include "test.h"

static void push_cls(dl_outbox_t *o, uint64_t from, uint64_t to, size_t len,
		     dl_outbox_class_t cls)
{
	uint8_t frame[4096];

	for (uint64_t s = from; s <= to; s++) {
		memset(frame, (int)(s & 0xff), len);
		ASSERT_EQ(dl_outbox_push(o, s, frame, len, cls), 0);
	}
}

static void push_n(dl_outbox_t *o, uint64_t from, uint64_t to, size_t len)
{
	push_cls(o, from, to, len, DL_OUTBOX_KEEP);
}

static uint64_t send_all(dl_outbox_t *o, uint64_t *first)
{
	const uint8_t *p;
	size_t n;
	uint64_t seq, count = 0;

	*first = 0;
	while (dl_outbox_peek(o, &p, &n, &seq)) {
		if (!count)
			*first = seq;
		ASSERT_EQ(p[0], seq & 0xff);
		dl_outbox_sent(o);
		count++;
	}
	return count;
}

static void test_order_ack_rewind(void)
{
	dl_outbox_t *o = dl_outbox_new(1 << 20);
	uint64_t first;

	push_n(o, 1, 10, 100);
	ASSERT_EQ(send_all(o, &first), 10);
	ASSERT_EQ(first, 1);
	ASSERT_EQ(send_all(o, &first), 0); /* nothing new */
	dl_outbox_ack(o, 4);
	ASSERT_EQ(dl_outbox_count(o), 6);
	ASSERT_EQ(dl_outbox_bytes(o), 600);
	/* Reconnect: everything unacked goes again, oldest first. */
	dl_outbox_rewind(o);
	ASSERT_EQ(send_all(o, &first), 6);
	ASSERT_EQ(first, 5);
	/* An ack below what was already acked changes nothing. */
	dl_outbox_ack(o, 2);
	ASSERT_EQ(dl_outbox_count(o), 6);
	dl_outbox_ack(o, 10);
	ASSERT_EQ(dl_outbox_count(o), 0);
	ASSERT_EQ(dl_outbox_bytes(o), 0);
	/* Pushes after a full ack are sent. */
	push_n(o, 11, 12, 10);
	ASSERT_EQ(send_all(o, &first), 2);
	ASSERT_EQ(first, 11);
	dl_outbox_free(o);
}

static void test_cap_drops_oldest(void)
{
	dl_outbox_t *o = dl_outbox_new(1000);
	uint64_t frames, bytes, first;

	push_n(o, 1, 10, 100); /* exactly full */
	dl_outbox_dropped(o, &frames, &bytes);
	ASSERT_EQ(frames, 0);
	push_n(o, 11, 13, 100);
	ASSERT_EQ(dl_outbox_bytes(o), 1000);
	dl_outbox_dropped(o, &frames, &bytes);
	ASSERT_EQ(frames, 3);
	ASSERT_EQ(bytes, 300);
	ASSERT_EQ(send_all(o, &first), 10);
	ASSERT_EQ(first, 4);
	/* A frame larger than the cap is refused and counted. */
	{
		static uint8_t big[2000];

		ASSERT_EQ(
			dl_outbox_push(o, 14, big, sizeof(big), DL_OUTBOX_KEEP),
			DL_ETOOBIG);
		dl_outbox_dropped(o, &frames, &bytes);
		ASSERT_EQ(frames, 4);
		ASSERT_EQ(dl_outbox_count(o), 10);
	}
	dl_outbox_free(o);
}

static void test_drop_moves_cursor(void)
{
	dl_outbox_t *o = dl_outbox_new(300);
	uint64_t first;

	push_n(o, 1, 3, 100);
	/* Nothing sent yet; dropping the head must not lose the cursor. */
	push_n(o, 4, 4, 100);
	ASSERT_EQ(send_all(o, &first), 3);
	ASSERT_EQ(first, 2);
	dl_outbox_free(o);
	dl_outbox_free(NULL);
}

/* Stats go first when the cap is hit: a later sample carries the same
 * cumulative counters, a lost event is lost for good. */
static void test_stats_dropped_first(void)
{
	dl_outbox_t *o = dl_outbox_new(1000);
	const uint8_t *p;
	size_t n;
	uint64_t seq, frames, bytes, seen[16];
	size_t k = 0;

	push_cls(o, 1, 2, 100, DL_OUTBOX_KEEP);
	push_cls(o, 3, 5, 100, DL_OUTBOX_STATS);
	push_cls(o, 6, 10, 100, DL_OUTBOX_KEEP); /* full: 1000 bytes */
	push_cls(o, 11, 12, 100, DL_OUTBOX_KEEP);
	dl_outbox_dropped(o, &frames, &bytes);
	ASSERT_EQ(frames, 2);
	ASSERT_EQ(dl_outbox_bytes(o), 1000);
	while (dl_outbox_peek(o, &p, &n, &seq)) {
		seen[k++] = seq;
		dl_outbox_sent(o);
	}
	/* Stats 3 and 4 went; event 1 and 2 stayed, order kept. */
	ASSERT_EQ(k, 10);
	ASSERT_EQ(seen[0], 1);
	ASSERT_EQ(seen[1], 2);
	ASSERT_EQ(seen[2], 5);
	ASSERT_EQ(seen[3], 6);
	ASSERT_EQ(seen[9], 12);
	/* No stats left: the oldest frame of any kind goes. */
	push_cls(o, 13, 14, 100, DL_OUTBOX_KEEP);
	dl_outbox_rewind(o);
	ASSERT(dl_outbox_peek(o, &p, &n, &seq));
	ASSERT_EQ(seq, 2); /* 5 (stats) and 1 dropped */
	dl_outbox_dropped(o, &frames, &bytes);
	ASSERT_EQ(frames, 4);
	/* Acks and pushes still work around the holes. */
	dl_outbox_ack(o, 9);
	ASSERT_EQ(dl_outbox_count(o), 5);
	push_cls(o, 15, 15, 100, DL_OUTBOX_STATS);
	ASSERT_EQ(dl_outbox_count(o), 6);
	dl_outbox_free(o);
}

/* What the spool dropped for its cap leaves memory too, uncounted here
 * (the spool counts it), and the send cursor skips it. */
static void test_discard_and_fits(void)
{
	dl_outbox_t *o = dl_outbox_new(1000);
	uint64_t first, frames, bytes;

	push_n(o, 1, 2, 100);
	push_cls(o, 3, 6, 100, DL_OUTBOX_STATS);
	push_n(o, 7, 8, 100);
	ASSERT(dl_outbox_fits(o, 200));
	ASSERT(!dl_outbox_fits(o, 201));
	ASSERT(!dl_outbox_fits(o, 1001));
	dl_outbox_discard(o, 2, 5, 1); /* stats 3..5 */
	ASSERT_EQ(dl_outbox_count(o), 5);
	ASSERT_EQ(send_all(o, &first), 5);
	ASSERT_EQ(first, 1);
	dl_outbox_discard(o, 1, 6, 0); /* 1, 2, 6 */
	ASSERT_EQ(dl_outbox_count(o), 2);
	dl_outbox_rewind(o);
	ASSERT_EQ(send_all(o, &first), 2);
	ASSERT_EQ(first, 7);
	dl_outbox_dropped(o, &frames, &bytes);
	ASSERT_EQ(frames, 0);
	dl_outbox_discard(o, 8, 8, 0);
	dl_outbox_rewind(o);
	ASSERT_EQ(send_all(o, &first), 1);
	dl_outbox_discard(o, 1, 100, 0);
	ASSERT_EQ(dl_outbox_count(o), 0);
	ASSERT_EQ(dl_outbox_bytes(o), 0);
	push_n(o, 9, 9, 100); /* tail was reset: still a valid queue */
	ASSERT_EQ(send_all(o, &first), 1);
	ASSERT_EQ(first, 9);
	dl_outbox_free(o);
}

int main(void)
{
	RUN(test_order_ack_rewind);
	RUN(test_cap_drops_oldest);
	RUN(test_drop_moves_cursor);
	RUN(test_stats_dropped_first);
	RUN(test_discard_and_fits);
	return 0;
}
