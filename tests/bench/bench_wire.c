/* bench_wire.c - bytes per container-sample of the STATS encoding.
 *
 * 100 containers sampled every 10 s for an hour of simulated time; the
 * last 300 ticks (steady state: counters big, still advancing) are
 * measured. A realistic mix: 20 busy containers (5-80 % of a core, 50-500
 * KiB/s of network, some disk writes), 80 mostly idle ones (tiny CPU, a
 * few packets a minute). Printed per container-sample:
 *   raw        the STATS frame as sent (header included)
 *   deflate    each frame compressed on its own (zlib level 6)
 *   ssh zlib   one deflate stream over all frames, flushed after each
 *              (what SSH's zlib@openssh.com compression does: the
 *              dictionary carries over from frame to frame)
 *   delta      a proposal, not the wire format: counters as differences
 *              from the previous tick (raw and through the ssh stream)
 * Nothing is asserted. zlib is loaded at run time because the bench
 * targets link no zlib of their own. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define NCONT	   100
#define TICKS	   360
#define MEASURE	   300
#define INTERVAL_S 10

typedef int (*deflate_init2_fn)(z_streamp, int, int, int, int, int,
				const char *, int);
typedef int (*deflate_fn)(z_streamp, int);
typedef int (*deflate_end_fn)(z_streamp);

static deflate_init2_fn z_init;
static deflate_fn z_deflate;
static deflate_end_fn z_end;

static int load_zlib(void)
{
	void *h = dlopen("libz.so.1", RTLD_NOW);

	if (!h)
		return -1;
	z_init = (deflate_init2_fn)dlsym(h, "deflateInit2_");
	z_deflate = (deflate_fn)dlsym(h, "deflate");
	z_end = (deflate_end_fn)dlsym(h, "deflateEnd");
	return z_init && z_deflate && z_end ? 0 : -1;
}

static int zopen(z_stream *z)
{
	memset(z, 0, sizeof(*z));
	return z_init(z, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION,
		      (int)sizeof(*z));
}

/* Compressed size of p[0..n) through z, flushed with flush. */
static size_t zsize(z_stream *z, const uint8_t *p, size_t n, int flush)
{
	static uint8_t out[2u * 1024 * 1024];
	size_t total = 0;

	z->next_in = (Bytef *)p;
	z->avail_in = (uInt)n;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		z_deflate(z, flush);
		total += sizeof(out) - z->avail_out;
	} while (z->avail_out == 0);
	return total;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* uniform in [lo, hi] */
static uint64_t between(uint64_t lo, uint64_t hi)
{
	return lo + rnd() % (hi - lo + 1);
}

typedef struct {
	bool busy;
	uint64_t cpu_rate; /* ns of CPU per s */
	uint64_t net_rate; /* bytes/s */
	uint64_t blk_rate; /* bytes/s written */
	uint64_t mem_base;
} model_t;

static void init(dl_sample_t *s, model_t *m, uint32_t i)
{
	memset(s, 0, sizeof(*s));
	s->idx = i + 1;
	s->valid = DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT | DL_SV_NET |
		   DL_SV_BLK | DL_SV_PIDS;
	m->busy = i < NCONT / 5;
	m->cpu_rate = m->busy ? between(50000000, 800000000)
			      : between(10000, 2000000);
	m->net_rate = m->busy ? between(50 * 1024, 500 * 1024) : between(0, 50);
	m->blk_rate = m->busy ? between(0, 200 * 1024) : 0;
	m->mem_base = m->busy ? between(100u << 20, 2000u << 20)
			      : between(2u << 20, 60u << 20);
	/* Containers up for days already: big cumulative counters. */
	s->cpu_ns = m->cpu_rate * between(86400, 30 * 86400);
	s->net_rx_bytes = m->net_rate * between(86400, 30 * 86400);
	s->net_tx_bytes = s->net_rx_bytes / 3;
	s->net_rx_packets = s->net_rx_bytes / 800;
	s->net_tx_packets = s->net_tx_bytes / 400;
	s->blk_read_bytes = between(1u << 20, 300u << 20);
	s->blk_write_bytes = m->blk_rate * 86400;
	s->mem_limit = i % 3 ? 0 : (uint64_t)between(1, 8) << 30;
	s->mem_usage = m->mem_base;
	s->pids = m->busy ? between(5, 120) : between(1, 4);
}

static void advance(dl_sample_t *s, const model_t *m)
{
	uint64_t net;

	s->cpu_ns += m->cpu_rate * INTERVAL_S / 2 +
		     between(0, m->cpu_rate * INTERVAL_S);
	net = m->net_rate ? between(0, 2 * m->net_rate * INTERVAL_S) : 0;
	if (!m->busy && rnd() % 6)
		net = 0; /* idle: a few packets a minute */
	s->net_rx_bytes += net;
	s->net_tx_bytes += net / 3;
	s->net_rx_packets += net / 800 + (net ? 1 : 0);
	s->net_tx_packets += net / 1200 + (net ? 1 : 0);
	if (m->blk_rate)
		s->blk_write_bytes +=
			between(0, 2 * m->blk_rate * INTERVAL_S) & ~4095ull;
	/* page-granular memory that moves a little every tick */
	s->mem_usage = m->mem_base + (m->busy ? between(0, 12800) * 4096
					      : between(0, 64) * 4096);
	if (m->busy && rnd() % 10 == 0) {
		if (rnd() % 2)
			s->pids++;
		else if (s->pids > 5)
			s->pids--;
	}
}

static size_t encode(dl_buf_t *b, const dl_sample_t *v, uint32_t n,
		     uint64_t seq, uint64_t t)
{
	dl_msg_t m = {.type = DL_MSG_STATS,
		      .epoch = 1795470000000000000ull,
		      .seq = seq,
		      .time_ns = t};

	m.u.stats.system_cpu_ns = 5336160000000ull + t / 1000 * 8;
	m.u.stats.online_cpus = 8;
	m.u.stats.n = n;
	m.u.stats.v = (dl_sample_t *)v;
	dl_buf_reset(b);
	if (dl_msg_encode(b, &m) != 0) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
	return dl_buf_used(b);
}

int main(void)
{
	static dl_sample_t cur[NCONT], prev[NCONT], delta[NCONT];
	static model_t model[NCONT];
	z_stream ssh, ssh_d, one;
	dl_buf_t b;
	uint64_t t = 1795470000000000000ull;
	size_t raw = 0, zone = 0, zssh = 0, draw = 0, dssh = 0, host = 0;
	uint32_t i, tick;

	if (load_zlib() != 0) {
		fprintf(stderr, "bench_wire: cannot load libz.so.1\n");
		return 1;
	}
	dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
	zopen(&ssh);
	zopen(&ssh_d);
	for (i = 0; i < NCONT; i++)
		init(&cur[i], &model[i], i);
	for (tick = 0; tick < TICKS; tick++) {
		size_t n, zn, dn, dz;

		memcpy(prev, cur, sizeof(cur));
		for (i = 0; i < NCONT; i++)
			advance(&cur[i], &model[i]);
		t += INTERVAL_S * 1000000000ull;
		n = encode(&b, cur, NCONT, tick + 1, t);
		zopen(&one);
		zn = zsize(&one, dl_buf_head(&b), n, Z_FINISH);
		z_end(&one);
		/* SSH flushes its zlib stream at every packet. */
		zsize(&ssh, dl_buf_head(&b), n, Z_SYNC_FLUSH);
		for (i = 0; i < NCONT; i++) {
			delta[i] = cur[i];
			delta[i].cpu_ns -= prev[i].cpu_ns;
			delta[i].net_rx_bytes -= prev[i].net_rx_bytes;
			delta[i].net_tx_bytes -= prev[i].net_tx_bytes;
			delta[i].net_rx_packets -= prev[i].net_rx_packets;
			delta[i].net_tx_packets -= prev[i].net_tx_packets;
			delta[i].blk_read_bytes -= prev[i].blk_read_bytes;
			delta[i].blk_write_bytes -= prev[i].blk_write_bytes;
		}
		dn = encode(&b, delta, NCONT, tick + 1, t);
		dz = zsize(&ssh_d, dl_buf_head(&b), dn, Z_SYNC_FLUSH);
		if (tick >= TICKS - MEASURE) {
			raw += n;
			zone += zn;
			draw += dn;
			dssh += dz;
		}
		if (tick == TICKS - MEASURE - 1)
			zssh = ssh.total_out;
	}
	zssh = ssh.total_out - zssh;
	{
		dl_msg_t m = {.type = DL_MSG_HOSTSTATS,
			      .epoch = 1,
			      .seq = 1,
			      .time_ns = t};

		m.u.hoststats =
			(dl_hoststats_t){.cpu_total_ns = 5336160000000ull,
					 .cpu_idle_ns = 4336160000000ull,
					 .online_cpus = 8,
					 .mem_total = 16ull << 30,
					 .mem_used = 5ull << 30,
					 .mem_available = 11ull << 30,
					 .swap_total = 2ull << 30,
					 .load1_x100 = 123,
					 .load5_x100 = 99,
					 .load15_x100 = 87,
					 .disk_used = 180ull << 30,
					 .disk_total = 500ull << 30,
					 .net_rx_bytes = 490944036000ull,
					 .net_tx_bytes = 286866219000ull};
		dl_buf_reset(&b);
		dl_msg_encode(&b, &m);
		host = dl_buf_used(&b);
	}
	printf("STATS wire size, %d containers every %d s, steady state over "
	       "%d ticks\n\n",
	       NCONT, INTERVAL_S, MEASURE);
	printf("%-44s %10s %12s\n", "encoding", "B/frame", "B/sample");
	printf("%-44s %10.0f %12.1f\n", "raw msgpack (as sent, + 4 B header)",
	       (double)raw / MEASURE, (double)raw / MEASURE / NCONT);
	printf("%-44s %10.0f %12.1f\n", "deflate, each frame on its own",
	       (double)zone / MEASURE, (double)zone / MEASURE / NCONT);
	printf("%-44s %10.0f %12.1f\n", "deflate stream, sync flush (ssh zlib)",
	       (double)zssh / MEASURE, (double)zssh / MEASURE / NCONT);
	printf("%-44s %10.0f %12.1f\n", "proposal: deltas, raw",
	       (double)draw / MEASURE, (double)draw / MEASURE / NCONT);
	printf("%-44s %10.0f %12.1f\n", "proposal: deltas, deflate stream",
	       (double)dssh / MEASURE, (double)dssh / MEASURE / NCONT);
	printf("\nHOSTSTATS frame: %zu B raw per tick (not in the figures "
	       "above). SSH adds per packet: ~4 B length + padding + MAC "
	       "(16-32 B) + TCP/IP headers.\n",
	       host);
	z_end(&ssh);
	z_end(&ssh_d);
	dl_buf_free(&b);
	return 0;
}
