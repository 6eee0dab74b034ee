/* bench_proto.c - encode/decode rate of the message codec.
 *
 * Two workloads: one EVENT (container die, a typical attribute set) and
 * one INVENTORY of 100 containers. Each is run 5 times for ~0.5 s and the
 * best run is printed as frames/s and MB/s of frame bytes. Nothing is
 * asserted about time: this is for comparing builds, not for ctest. */
#include <stdio.h>

#include "common/clock.h"
#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define RUNS   5
#define RUN_NS 500000000ull

typedef struct {
	double frames_s;
	double mb_s;
} rate_t;

static dl_attr_t ev_attrs[] = {
	{{"com.docker.compose.project", 26}, {"shop", 4}},
	{{"com.docker.compose.service", 26}, {"web", 3}},
	{{"exitCode", 8}, {"137", 3}},
	{{"image", 5}, {"registry.example.com/shop/web:2.14.1", 36}},
	{{"name", 4}, {"shop-web-1", 10}},
	{{"maintainer", 10}, {"ops@example.com", 15}},
};

static void make_event(dl_msg_t *m)
{
	*m = (dl_msg_t){.type = DL_MSG_EVENT,
			.epoch = 1700000000000000000ull,
			.seq = 123456,
			.time_ns = 1700000000123456789ull};
	m->u.event.type = DL_STR("container");
	m->u.event.action = DL_STR("die");
	m->u.event.id = DL_STR("4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f"
			       "8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b");
	m->u.event.name = DL_STR("shop-web-1");
	m->u.event.nattrs = sizeof(ev_attrs) / sizeof(ev_attrs[0]);
	m->u.event.attrs = ev_attrs;
}

static dl_container_t inv[100];
static char inv_names[100][32];

static void make_inventory(dl_msg_t *m)
{
	for (int i = 0; i < 100; i++) {
		snprintf(inv_names[i], sizeof(inv_names[i]), "shop-worker-%d",
			 i);
		inv[i] = (dl_container_t){
			.idx = (uint32_t)i,
			.id = DL_STR("4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f"
				     "8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b"),
			.name = DL_STR(inv_names[i]),
			.image = DL_STR(
				"registry.example.com/shop/worker:2.14.1"),
			.state = DL_STR("running"),
			.status = DL_STR("Up 3 days (healthy)"),
			.health = DL_STR("healthy"),
			.created = 1700000000 + i,
		};
	}
	*m = (dl_msg_t){
		.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 2, .time_ns = 3};
	m->u.inventory.n = 100;
	m->u.inventory.v = inv;
}

/* Encodes m repeatedly into a reused buffer. */
static rate_t bench_encode(const dl_msg_t *m)
{
	rate_t best = {0, 0};
	dl_buf_t b;

	dl_buf_init(&b, 2 * (DL_FRAME_MAX + DL_FRAME_HDR));
	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = dl_clock_mono_ns(), t, n = 0, bytes = 0;

		do {
			for (int k = 0; k < 64; k++) {
				dl_buf_reset(&b);
				if (dl_msg_encode(&b, m) != 0) {
					fprintf(stderr, "encode failed\n");
					exit(1);
				}
				bytes += dl_buf_used(&b);
				n++;
			}
			t = dl_clock_mono_ns() - t0;
		} while (t < RUN_NS);
		double s = (double)t / 1e9;
		if (n / s > best.frames_s)
			best = (rate_t){n / s, bytes / s / 1e6};
	}
	dl_buf_free(&b);
	return best;
}

/* Decodes (and releases) the payload of m's frame repeatedly. */
static rate_t bench_decode(const dl_msg_t *m)
{
	rate_t best = {0, 0};
	dl_buf_t b;
	dl_msg_t d;
	char why[128];

	dl_buf_init(&b, 2 * (DL_FRAME_MAX + DL_FRAME_HDR));
	if (dl_msg_encode(&b, m) != 0) {
		fprintf(stderr, "encode failed\n");
		exit(1);
	}
	const uint8_t *p = dl_buf_head(&b) + DL_FRAME_HDR;
	size_t len = dl_buf_used(&b) - DL_FRAME_HDR;

	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = dl_clock_mono_ns(), t, n = 0;

		do {
			for (int k = 0; k < 64; k++) {
				if (dl_msg_decode(&d, p, len, why,
						  sizeof(why)) != 0) {
					fprintf(stderr, "decode: %s\n", why);
					exit(1);
				}
				dl_msg_release(&d);
				n++;
			}
			t = dl_clock_mono_ns() - t0;
		} while (t < RUN_NS);
		double s = (double)t / 1e9;
		if (n / s > best.frames_s)
			best = (rate_t){n / s,
					n * (len + DL_FRAME_HDR) / s / 1e6};
	}
	dl_buf_free(&b);
	return best;
}

static size_t frame_size(const dl_msg_t *m)
{
	dl_buf_t b;
	size_t n;

	dl_buf_init(&b, 2 * (DL_FRAME_MAX + DL_FRAME_HDR));
	if (dl_msg_encode(&b, m) != 0)
		exit(1);
	n = dl_buf_used(&b);
	dl_buf_free(&b);
	return n;
}

static void row(const char *name, const char *op, size_t size, rate_t r)
{
	printf("%-16s %-7s %8zu %14.0f %10.1f\n", name, op, size, r.frames_s,
	       r.mb_s);
}

int main(void)
{
	dl_msg_t ev, in;

	make_event(&ev);
	make_inventory(&in);
	printf("best of %d runs of %.1f s each\n", RUNS, RUN_NS / 1e9);
	printf("%-16s %-7s %8s %14s %10s\n", "message", "op", "bytes",
	       "frames/s", "MB/s");
	row("EVENT", "encode", frame_size(&ev), bench_encode(&ev));
	row("EVENT", "decode", frame_size(&ev), bench_decode(&ev));
	row("INVENTORY(100)", "encode", frame_size(&in), bench_encode(&in));
	row("INVENTORY(100)", "decode", frame_size(&in), bench_decode(&in));
	return 0;
}
