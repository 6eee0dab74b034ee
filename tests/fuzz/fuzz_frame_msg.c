/* fuzz_frame_msg.c - libFuzzer target for what the collector reads from an
 * agent (and the agent from the collector): the frame reader fed in
 * chunks, then every message decoder on each frame's payload. Any bytes
 * give frames, "need more" or an error, never a crash, a leak or UB.
 * Input: byte 0 = chunk size - 1 for the feeds, then the stream. */
#include <stdint.h>
#include <stdlib.h>

#include "common/err.h"
#include "common/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dl_frame_reader_t r;
	size_t chunk, off = 1;
	int rc = 0;

	if (size < 1 || size > 1 << 20)
		return 0;
	dl_log_set_level((dl_log_level_t)-1);
	chunk = (size_t)data[0] + 1;
	dl_frame_reader_init(&r, DL_FRAME_MAX);
	while (off < size && rc >= 0) {
		size_t k = size - off < chunk ? size - off : chunk;
		const uint8_t *p;
		size_t n;

		if (dl_frame_reader_feed(&r, data + off, k))
			break;
		off += k;
		while ((rc = dl_frame_reader_next(&r, &p, &n)) == 1) {
			dl_msg_t m;
			char why[128];

			(void)dl_frame_peek_type(p, n);
			if (dl_msg_decode(&m, p, n, why, sizeof(why)) == 0)
				dl_msg_release(&m);
		}
	}
	dl_frame_reader_free(&r);
	return 0;
}
