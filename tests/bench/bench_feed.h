/* bench_feed.h - feeding a collector store from a bench, as an agent's
 * session would: frames submitted without their header and retried while
 * the writer's queue is full, the loop polled until the writer is idle,
 * hosts brought online with their inventories. Static inline, as in
 * tests/unit/store_fixture.h: each bench is one executable, and the
 * timed loops stay in the bench's own translation unit. */
#ifndef DL_BENCH_FEED_H
#define DL_BENCH_FEED_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <uv.h>

#include "collector/store.h"
#include "common/buf.h"
#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define BENCH_HOSTNAME_MAX 32

/* "bench_x: what" on stderr, exit 1 (the executable's own name). */
static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s\n", program_invocation_short_name, what);
	exit(1);
}

/* Completion is "nothing pending" (every frame committed and acked). */
static inline void bench_on_ack(void *ud, uint64_t sid, uint64_t epoch,
				uint64_t seq)
{
}

/* prefix "" gives host-0007, "b3-" b3-host-0007. */
static inline void bench_hostname(char *out, size_t n, const char *prefix,
				  uint32_t h)
{
	snprintf(out, n, "%shost-%04u", prefix, h);
}

/* An encoded frame (b holds header and payload), retried while full. */
static inline void bench_submit(uv_loop_t *loop, dl_store_t *s, uint64_t sid,
				const char *host, const dl_buf_t *b)
{
	while (dl_store_submit(s, sid, host, dl_buf_head(b) + DL_FRAME_HDR,
			       dl_buf_used(b) - DL_FRAME_HDR) == DL_EFULL)
		uv_run(loop, UV_RUN_ONCE);
}

static inline void bench_encode(dl_buf_t *b, const dl_msg_t *m)
{
	dl_buf_reset(b);
	if (dl_msg_encode(b, m))
		die("encode");
}

/* m encoded into b, then submitted. */
static inline void bench_submit_msg(uv_loop_t *loop, dl_store_t *s,
				    uint64_t sid, const char *host,
				    const dl_msg_t *m, dl_buf_t *b)
{
	bench_encode(b, m);
	bench_submit(loop, s, sid, host, b);
}

/* Acks come back through uv_async: poll, so an idle loop never blocks
 * the wait. */
static inline void bench_spin(uv_loop_t *loop, useconds_t us)
{
	uv_run(loop, UV_RUN_NOWAIT);
	usleep(us);
}

static inline void bench_wait_idle(uv_loop_t *loop, dl_store_t *s,
				   useconds_t us)
{
	while (dl_store_pending(s))
		bench_spin(loop, us);
}

/* Host h's INVENTORY of n running containers svc-0 .. svc-(n-1), ids
 * from h and c. */
static inline void bench_encode_inventory(dl_buf_t *b, uint32_t h, uint32_t n,
					  uint64_t time_ns)
{
	dl_container_t *v = calloc(n, sizeof(*v));
	char(*ids)[65] = calloc(n, 65), (*names)[32] = calloc(n, 32);
	dl_msg_t m = {.type = DL_MSG_INVENTORY,
		      .epoch = 1,
		      .seq = 1,
		      .time_ns = time_ns};

	if (!v || !ids || !names)
		die("out of memory");
	for (uint32_t c = 0; c < n; c++) {
		snprintf(ids[c], 65, "%08x%08x%048x", h, c, 0u);
		snprintf(names[c], 32, "svc-%u", c);
		v[c] = (dl_container_t){.idx = c + 1,
					.id = DL_STR(ids[c]),
					.name = DL_STR(names[c]),
					.image = DL_STR("app:1"),
					.state = DL_STR("running"),
					.status = DL_STR("Up"),
					.health = DL_STR(""),
					.created = 1};
	}
	m.u.inventory.n = n;
	m.u.inventory.v = v;
	bench_encode(b, &m);
	free(v);
	free(ids);
	free(names);
}

/* Container c of host h in round r, every value valid: the sample
 * bench_rules and bench_remote_write send. */
static inline dl_sample_t bench_sample(uint32_t h, uint32_t c, uint32_t r)
{
	return (dl_sample_t){.idx = c + 1,
			     .valid = DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT |
				      DL_SV_NET | DL_SV_BLK | DL_SV_PIDS,
			     .cpu_ns = (uint64_t)r * (c + 1) * 100000000ull,
			     .mem_usage =
				     (uint64_t)(c + 1) * 1048576 + r * 4096 + h,
			     .mem_limit = 1ull << 28,
			     .net_rx_bytes = (uint64_t)r * 150000,
			     .net_tx_bytes = (uint64_t)r * 90000,
			     .blk_read_bytes = (uint64_t)r * 4096,
			     .blk_write_bytes = (uint64_t)r * 8192,
			     .pids = 3 + c % 7};
}

/* Host h's STATS: n samples sample(h, c, r), on a host of 8 CPUs 10 s
 * into round r. */
static inline void
bench_encode_stats(dl_buf_t *b, uint32_t h, uint32_t r, uint32_t n,
		   uint64_t seq, uint64_t time_ns,
		   dl_sample_t (*sample)(uint32_t, uint32_t, uint32_t))
{
	dl_sample_t *v = calloc(n, sizeof(*v));
	dl_msg_t m = {.type = DL_MSG_STATS,
		      .epoch = 1,
		      .seq = seq,
		      .time_ns = time_ns};

	if (!v)
		die("out of memory");
	for (uint32_t c = 0; c < n; c++)
		v[c] = sample(h, c, r);
	m.u.stats.system_cpu_ns = (uint64_t)r * 10 * 8 * 1000000000ull;
	m.u.stats.online_cpus = 8;
	m.u.stats.n = n;
	m.u.stats.v = v;
	bench_encode(b, &m);
	free(v);
}

/* Hosts prefix host-0000 .. online (sid h) with n containers each, their
 * inventories committed: the untimed setup before a timed feed. */
static inline void bench_hosts_online(uv_loop_t *loop, dl_store_t *s,
				      const char *prefix, uint32_t hosts,
				      uint32_t n, uint64_t time_ns)
{
	char host[BENCH_HOSTNAME_MAX];
	dl_buf_t b;

	dl_buf_init(&b, 8u << 20);
	for (uint32_t h = 0; h < hosts; h++) {
		bench_hostname(host, sizeof(host), prefix, h);
		dl_store_host_online(s, host, "p", "sw", NULL, 1);
		bench_encode_inventory(&b, h, n, time_ns);
		bench_submit(loop, s, h, host, &b);
	}
	dl_buf_free(&b);
	bench_wait_idle(loop, s, 200);
}

/* Rounds x hosts frames, per host and round `per` of them in a row at
 * frames[(r * hosts + h) * per], each cap bytes at most. */
static inline dl_buf_t *bench_frames_new(uint32_t hosts, uint32_t rounds,
					 uint32_t per, size_t cap)
{
	size_t n = (size_t)hosts * rounds * per;
	dl_buf_t *f = calloc(n ? n : 1, sizeof(*f));

	if (!f)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		dl_buf_init(&f[i], cap);
	return f;
}

static inline void bench_frames_free(dl_buf_t *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dl_buf_free(&f[i]);
	free(f);
}

/* The timed part: every round's frames, host by host, each submitted as
 * host prefix host-h (sid h); the loop gets a turn every 64 hosts. */
static inline void bench_feed(uv_loop_t *loop, dl_store_t *s,
			      const char *prefix, const dl_buf_t *frames,
			      uint32_t hosts, uint32_t rounds, uint32_t per)
{
	char host[BENCH_HOSTNAME_MAX];

	for (uint32_t r = 0; r < rounds; r++)
		for (uint32_t h = 0; h < hosts; h++) {
			for (uint32_t i = 0; i < per; i++) {
				bench_hostname(host, sizeof(host), prefix, h);
				bench_submit(
					loop, s, h, host,
					&frames[(r * hosts + h) * per + i]);
			}
			if (h % 64 == 0)
				uv_run(loop, UV_RUN_NOWAIT);
		}
}

#endif
