/* fuzz_demux.c - libFuzzer target for the agent's splitter of Docker's
 * multiplexed log/exec stream (agent/executor.c demux + gather): any
 * bytes, in any chunking, give STREAM frames whose sizes add up to the
 * payload bytes, never a crash. The static functions are reached by
 * including the module; the harness stubs the tunnel (no loop, no Docker),
 * so one execution costs only the demux itself.
 * Input: byte 0 = chunk size - 1, then the stream. */
#include "agent/executor.c"

static size_t sent;

static int fz_send(void *ud, const dl_msg_t *m)
{
	(void)ud;
	if (m->u.stream.data.n > CHUNK ||
	    (m->u.stream.fd != 1 && m->u.stream.fd != 2))
		abort();
	sent += m->u.stream.data.n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static dl_executor_t x;
	static char out[CHUNK];
	ereq_t r;
	size_t chunk, off = 1, payload = 0, left = 0, hdr = 0;

	if (size < 1 || size > 1 << 20)
		return 0;
	x.io.send = fz_send;
	memset(&r, 0, sizeof(r));
	r.x = &x;
	r.window = INT64_MAX;
	r.out = out;
	sent = 0;
	chunk = (size_t)data[0] + 1;
	while (off < size) {
		size_t k = size - off < chunk ? size - off : chunk;

		if (demux(&r, (const char *)data + off, k))
			abort(); /* the stub never refuses */
		off += k;
	}
	flush_out(&r);
	/* The payload bytes the headers announce (up to the end). */
	for (off = 1; off < size;) {
		if (left == 0) {
			size_t k = size - off < 8 - hdr ? size - off : 8 - hdr;

			if (hdr + k == 8) {
				const uint8_t *h = data + off + k - 8;

				left = (size_t)h[4] << 24 | (size_t)h[5] << 16 |
				       (size_t)h[6] << 8 | h[7];
				hdr = 0;
			} else {
				hdr += k;
			}
			off += k;
			continue;
		}
		{
			size_t k = size - off < left ? size - off : left;

			payload += k;
			left -= k;
			off += k;
		}
	}
	if (sent != payload)
		abort();
	return 0;
}
