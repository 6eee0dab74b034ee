/* test_frame.c - framing: header round trip, frames split and joined
 * across feeds, and the length checks that run before any payload. */
#include "proto/frame.h"

#include "common/err.h"
#include "test.h"

static void test_header(void)
{
	static const uint32_t v[] = {
		0,	     1,		 255, 256, 65535, 65536, DL_FRAME_MAX,
		0x01020304u, 0xffffffffu};
	uint8_t h[4];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		dl_frame_put_header(h, v[i]);
		ASSERT_EQ(dl_frame_get_len(h), v[i]);
	}
	/* Big-endian on the wire, whatever the host. */
	dl_frame_put_header(h, 0x01020304u);
	ASSERT_EQ(h[0], 1);
	ASSERT_EQ(h[1], 2);
	ASSERT_EQ(h[2], 3);
	ASSERT_EQ(h[3], 4);
}

/* Builds header + payload of n bytes, payload[i] = seed + i. */
static size_t make_frame(uint8_t *out, uint32_t n, uint8_t seed)
{
	dl_frame_put_header(out, n);
	for (uint32_t i = 0; i < n; i++)
		out[DL_FRAME_HDR + i] = (uint8_t)(seed + i);
	return DL_FRAME_HDR + n;
}

static void check_payload(const uint8_t *p, size_t n, size_t want, uint8_t seed)
{
	ASSERT_EQ(n, want);
	for (size_t i = 0; i < n; i++)
		ASSERT_EQ(p[i], (uint8_t)(seed + i));
}

static void test_byte_by_byte(void)
{
	uint8_t wire[600];
	size_t n1 = make_frame(wire, 300, 7);
	size_t n2 = make_frame(wire + n1, 1, 200);
	dl_frame_reader_t r;
	const uint8_t *p;
	size_t len;
	int got = 0;

	dl_frame_reader_init(&r, 4096);
	for (size_t i = 0; i < n1 + n2; i++) {
		int rc;

		ASSERT_EQ(dl_frame_reader_feed(&r, wire + i, 1), 0);
		rc = dl_frame_reader_next(&r, &p, &len);
		if (i == n1 - 1) {
			ASSERT_EQ(rc, 1);
			check_payload(p, len, 300, 7);
			got++;
		} else if (i == n1 + n2 - 1) {
			ASSERT_EQ(rc, 1);
			check_payload(p, len, 1, 200);
			got++;
		} else {
			ASSERT_EQ(rc, 0);
		}
	}
	ASSERT_EQ(got, 2);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), 0);
	dl_frame_reader_free(&r);
}

static void test_two_in_one_feed(void)
{
	uint8_t wire[64];
	size_t n1 = make_frame(wire, 10, 1);
	size_t n2 = make_frame(wire + n1, 20, 50);
	dl_frame_reader_t r;
	const uint8_t *p, *q;
	size_t len, len2;

	dl_frame_reader_init(&r, 1024);
	/* ...plus the first two bytes of a third header. */
	wire[n1 + n2] = 0;
	wire[n1 + n2 + 1] = 0;
	ASSERT_EQ(dl_frame_reader_feed(&r, wire, n1 + n2 + 2), 0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), 1);
	ASSERT_EQ(dl_frame_reader_next(&r, &q, &len2), 1);
	/* Both stay valid until the next feed. */
	check_payload(p, len, 10, 1);
	check_payload(q, len2, 20, 50);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), 0);
	/* The rest of the third frame: header {0,0,0,3} + 3 bytes. */
	ASSERT_EQ(dl_frame_reader_feed(&r,
				       "\x00\x03"
				       "abc",
				       5),
		  0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), 1);
	ASSERT_EQ(len, 3);
	ASSERT(memcmp(p, "abc", 3) == 0);
	dl_frame_reader_free(&r);
}

static void test_zero_length(void)
{
	static const uint8_t z[8] = {0, 0, 0, 0, 0, 0, 0, 1};
	dl_frame_reader_t r;
	const uint8_t *p;
	size_t len;

	dl_frame_reader_init(&r, 1024);
	ASSERT_EQ(dl_frame_reader_feed(&r, z, sizeof(z)), 0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), DL_EPROTO);
	/* The stream is dead: the error repeats. */
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), DL_EPROTO);
	dl_frame_reader_free(&r);
}

static void test_too_big(void)
{
	dl_frame_reader_t r;
	uint8_t h[4];
	const uint8_t *p;
	size_t len;

	/* Refused from the header alone, before any payload arrives. */
	dl_frame_reader_init(&r, DL_FRAME_MAX);
	dl_frame_put_header(h, DL_FRAME_MAX + 1);
	ASSERT_EQ(dl_frame_reader_feed(&r, h, 3), 0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), 0);
	ASSERT_EQ(dl_frame_reader_feed(&r, h + 3, 1), 0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), DL_ETOOBIG);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), DL_ETOOBIG);
	/* Nothing was reserved for the announced payload. */
	ASSERT_LT(r.in.alloc, 4096);
	dl_frame_reader_free(&r);

	dl_frame_reader_init(&r, DL_FRAME_MAX);
	ASSERT_EQ(dl_frame_reader_feed(&r, "\xff\xff\xff\xff", 4), 0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), DL_ETOOBIG);
	dl_frame_reader_free(&r);

	/* Exactly DL_FRAME_MAX is allowed. */
	dl_frame_reader_init(&r, DL_FRAME_MAX);
	dl_frame_put_header(h, DL_FRAME_MAX);
	ASSERT_EQ(dl_frame_reader_feed(&r, h, 4), 0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), 0);
	dl_frame_reader_free(&r);

	/* A reader with a smaller maximum applies it. */
	dl_frame_reader_init(&r, 100);
	dl_frame_put_header(h, 101);
	ASSERT_EQ(dl_frame_reader_feed(&r, h, 4), 0);
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &len), DL_ETOOBIG);
	dl_frame_reader_free(&r);
}

static void test_feed_cap(void)
{
	dl_frame_reader_t r;
	uint8_t junk[300] = {0};

	/* A caller that never drains hits the buffer's cap, not the heap. */
	dl_frame_reader_init(&r, 100);
	ASSERT_EQ(dl_frame_reader_feed(&r, junk, 200), 0);
	ASSERT_EQ(dl_frame_reader_feed(&r, junk, 100), DL_ETOOBIG);
	dl_frame_reader_free(&r);
}

int main(void)
{
	RUN(test_header);
	RUN(test_byte_by_byte);
	RUN(test_two_in_one_feed);
	RUN(test_zero_length);
	RUN(test_too_big);
	RUN(test_feed_cap);
	return 0;
}
