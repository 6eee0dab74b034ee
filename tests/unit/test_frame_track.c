/* test_frame_track.c - the frame-boundary tracker attach relays with:
 * a stream of real frames split at every byte offset (and byte by byte)
 * must give the same frame ends and types; partial headers are not
 * boundaries; a zero or oversize length is an error that sticks. */
#include "proto/frame.h"

#include "common/err.h"
#include "proto/msg.h"
#include "test.h"

#define MAX_ENDS 16

typedef struct {
	size_t ends[MAX_ENDS]; /* absolute offset just past each frame */
	int types[MAX_ENDS];
	size_t n;
	int err;	   /* error returned, 0 if none */
	size_t err_at;	   /* bytes consumed before the error */
	int idle_at_split; /* tracker idle right after the first chunk */
} run_t;

/* Feeds chunks [0, cut[0]), [cut[0], cut[1]), ... [cut[k-1], len). */
static void track(const uint8_t *p, size_t len, const size_t *cut, size_t k,
		  uint32_t max, run_t *r)
{
	dl_frame_track_t t;
	size_t from = 0, abs = 0;

	memset(r, 0, sizeof(*r));
	dl_frame_track_init(&t, max);
	for (size_t c = 0; c <= k; c++) {
		size_t to = c < k ? cut[c] : len, off = from;

		while (off < to) {
			int ended;
			long used = dl_frame_track_step(&t, p + off, to - off,
							&ended);

			if (used < 0) {
				r->err = (int)used;
				r->err_at = abs;
				return;
			}
			ASSERT(used > 0);
			off += (size_t)used;
			abs += (size_t)used;
			if (ended) {
				ASSERT(r->n < MAX_ENDS);
				ASSERT(dl_frame_track_idle(&t));
				r->types[r->n] = dl_frame_track_type(&t);
				r->ends[r->n++] = abs;
			}
		}
		if (c == 0)
			r->idle_at_split = dl_frame_track_idle(&t);
		from = to;
	}
}

static size_t stream(uint8_t *out, size_t cap, int *types, size_t *ends,
		     size_t *nframes)
{
	static char big[70000];
	const char *caps[] = {"ack", "ping", DL_CAP_RESUME, DL_CAP_BYE};
	dl_msg_t m[6];
	dl_buf_t b;
	size_t n = 0;

	memset(big, 'x', sizeof(big) - 1);
	memset(m, 0, sizeof(m));
	m[0].type = DL_MSG_HELLO;
	m[0].u.hello.software = DL_STR("dockline-agent 0.1.0");
	m[0].u.hello.ncaps = 4;
	for (int i = 0; i < 4; i++)
		m[0].u.hello.caps[i] = DL_STR(caps[i]);
	m[0].u.hello.host = DL_STR("");
	m[1].type = DL_MSG_PING;
	m[1].u.nonce = UINT64_MAX;
	m[2].type = DL_MSG_RESTART;
	m[2].u.restart_reason = DL_STR("serve restarted");
	m[3].type = DL_MSG_REQUEST; /* 70 KB: str32, still a fixarray */
	m[3].u.request.op = DL_STR("logs");
	m[3].u.request.args = (dl_str_t){big, DL_MAX_ARGS};
	m[4].type = DL_MSG_BYE;
	m[4].u.bye.retry_after_s = 30;
	m[4].u.bye.reason = DL_STR("gone");
	m[5].type = DL_MSG_ACK;
	dl_buf_init(&b, cap);
	for (size_t i = 0; i < 6; i++) {
		ASSERT_EQ(dl_msg_encode(&b, &m[i]), 0);
		types[i] = (int)m[i].type;
		ends[i] = dl_buf_used(&b);
	}
	*nframes = 6;
	n = dl_buf_used(&b);
	memcpy(out, dl_buf_head(&b), n);
	dl_buf_free(&b);
	return n;
}

static void expect(const run_t *r, const int *types, const size_t *ends,
		   size_t nframes)
{
	ASSERT_EQ(r->err, 0);
	ASSERT_EQ(r->n, nframes);
	for (size_t i = 0; i < nframes; i++) {
		ASSERT_EQ(r->ends[i], ends[i]);
		ASSERT_EQ(r->types[i], types[i]);
	}
}

static int is_end(const size_t *ends, size_t n, size_t off)
{
	for (size_t i = 0; i < n; i++)
		if (ends[i] == off)
			return 1;
	return off == 0;
}

/* Every split point of the stream, and a split into three around each
 * frame end (so headers and the type bytes get cut too). */
static void test_every_offset(void)
{
	static uint8_t s[200000];
	int types[8];
	size_t ends[8], nf, len, cut[2];
	run_t r;

	len = stream(s, sizeof(s), types, ends, &nf);
	for (size_t k = 0; k <= len; k++) {
		cut[0] = k;
		track(s, len, cut, 1, DL_FRAME_MAX, &r);
		expect(&r, types, ends, nf);
		/* Idle exactly at frame boundaries, never inside a header. */
		ASSERT_EQ(r.idle_at_split, is_end(ends, nf, k));
	}
	for (size_t f = 0; f < nf; f++)
		for (size_t a = 0; a < 20; a++)
			for (size_t d = 1; d < 20; d++) {
				size_t base = f ? ends[f - 1] : 0;

				cut[0] = base + a;
				cut[1] = base + a + d;
				if (cut[1] > len)
					continue;
				track(s, len, cut, 2, DL_FRAME_MAX, &r);
				expect(&r, types, ends, nf);
			}
}

static void test_byte_by_byte(void)
{
	static uint8_t s[200000];
	static size_t cut[200000];
	int types[8];
	size_t ends[8], nf, len;
	run_t r;

	len = stream(s, sizeof(s), types, ends, &nf);
	for (size_t i = 0; i + 1 < len; i++)
		cut[i] = i + 1;
	track(s, len, cut, len - 1, DL_FRAME_MAX, &r);
	expect(&r, types, ends, nf);
}

/* Headers the tracker must refuse, wherever the bytes are cut. */
static void test_bad_headers(void)
{
	static const struct {
		const char *what;
		uint8_t bytes[12];
		size_t len;
		uint32_t max;
		int err;
		size_t err_at; /* where the bad header starts */
	} tab[] = {
		{"zero length", {0, 0, 0, 0, 0x91, 3}, 6, 100, DL_EPROTO, 0},
		{"over max", {0, 0, 0, 101, 0x91}, 5, 100, DL_ETOOBIG, 0},
		{"over 1 MiB", {0, 0x10, 0, 1}, 4, DL_FRAME_MAX, DL_ETOOBIG, 0},
		{"all ones",
		 {0xff, 0xff, 0xff, 0xff},
		 4,
		 DL_FRAME_MAX,
		 DL_ETOOBIG,
		 0},
		{"after a good frame",
		 {0, 0, 0, 2, 0x91, 3, 0, 0, 0, 0},
		 10,
		 100,
		 DL_EPROTO,
		 6},
		{"partial header only", {0, 0, 0}, 3, 100, 0, 0},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		for (size_t k = 0; k <= tab[i].len; k++) {
			size_t cut[1] = {k};
			dl_frame_track_t t;
			run_t r;
			int ended;

			track(tab[i].bytes, tab[i].len, cut, 1, tab[i].max, &r);
			/* The bad header may have been cut: its first bytes
			 * were consumed by earlier calls. */
			if (r.err != tab[i].err || r.err_at < tab[i].err_at ||
			    r.err_at > tab[i].err_at + DL_FRAME_HDR - 1)
				DL_FAIL_("%s, cut at %zu: err %d at %zu",
					 tab[i].what, k, r.err, r.err_at);
			/* Sticky: the stream cannot be followed again. */
			dl_frame_track_init(&t, tab[i].max);
			if (tab[i].err && tab[i].err_at == 0) {
				ASSERT_EQ(dl_frame_track_step(&t, tab[i].bytes,
							      4, &ended),
					  tab[i].err);
				ASSERT_EQ(dl_frame_track_step(&t, tab[i].bytes,
							      1, &ended),
					  tab[i].err);
				ASSERT(!dl_frame_track_idle(&t));
			}
		}
	}
	/* A partial header is not a boundary. */
	for (uint32_t h = 1; h < DL_FRAME_HDR; h++) {
		static const uint8_t hdr[4] = {0, 0, 0, 9};
		dl_frame_track_t t;
		int ended;

		dl_frame_track_init(&t, 100);
		ASSERT_EQ(dl_frame_track_step(&t, hdr, h, &ended), (long)h);
		ASSERT(!ended);
		ASSERT(!dl_frame_track_idle(&t));
		ASSERT_EQ(dl_frame_track_type(&t), -1);
	}
}

static void test_peek_type(void)
{
	static const struct {
		uint8_t b[16];
		size_t n;
		int type;
	} tab[] = {
		{{0x92, 0x06}, 2, 6},
		{{0x9f, 0x7f}, 2, 127},
		{{0xdc, 0x00, 0x10, 0x12}, 4, 18},
		{{0xdd, 0, 0, 0, 0x10, 0x01}, 6, 1},
		{{0x92, 0xcc, 0x30}, 3, 48},
		{{0x92, 0xcd, 0x00, 0x07}, 4, 7},
		{{0x92, 0xce, 0, 0, 0, 5}, 6, 5},
		{{0x92, 0xcf, 0, 0, 0, 0, 0, 0, 0, 2}, 10, 2},
		{{0x92, 0xcf, 1, 0, 0, 0, 0, 0, 0, 2}, 10, -1}, /* huge */
		{{0x92, 0xcd, 0x00}, 3, -1},			/* cut */
		{{0x92}, 1, -1},
		{{0xdc, 0x00}, 2, -1},
		{{0x92, 0xff}, 2, -1}, /* negative fixint */
		{{0x92, 0xa1, 'x'}, 3, -1},
		{{0x81, 0x01, 0x01}, 3, -1}, /* a map */
		{{0}, 0, -1},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (dl_frame_peek_type(tab[i].b, tab[i].n) != tab[i].type)
			DL_FAIL_("row %zu: type %d, want %d", i,
				 dl_frame_peek_type(tab[i].b, tab[i].n),
				 tab[i].type);
}

int main(void)
{
	RUN(test_every_offset);
	RUN(test_byte_by_byte);
	RUN(test_bad_headers);
	RUN(test_peek_type);
	return 0;
}
