/* bench_spool.c - cost of writing every data frame to the agent's spool
 * before it is sent, per spool_sync mode: off (page cache only), 1s
 * (fdatasync once a second, the default) and always (fdatasync per
 * record). Records of 300 bytes (a typical EVENT or small STATS frame)
 * and 8 KiB (a large STATS batch). Prints records/s and us per record;
 * asserts nothing about time (the machine is shared). DL_SPOOL_BENCH_DIR picks
 * the file system (default /var/tmp: /tmp may be tmpfs, where fdatasync
 * costs nothing and the figures would lie). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/spool.h"
#include "common/clock.h"
#include "common/log.h"

#define RUN_NS (1500000000ull)

static double run(const char *base, dl_spool_sync_t mode, size_t len,
		  uint64_t *nout)
{
	char dir[512], cmd[600];
	static uint8_t frame[8192];
	dl_spool_opts_t o = {.sync = mode, .new_epoch = 1};
	dl_spool_t *sp;
	uint64_t t0, now, last_sync, n = 0, seq;

	snprintf(dir, sizeof(dir), "%s/dl-bench-spool.XXXXXX", base);
	if (!mkdtemp(dir))
		return -1;
	o.state_dir = dir;
	if (dl_spool_open(&o, &sp) != 0)
		return -1;
	for (size_t i = 0; i < len; i++)
		frame[i] = (uint8_t)i;
	t0 = last_sync = dl_clock_mono_ns();
	do {
		for (int i = 0; i < 64; i++) {
			dl_spool_take_seq(sp, &seq);
			dl_spool_append(sp, seq, DL_OUTBOX_KEEP, frame, len);
			n++;
			/* acks keep the spool small, as with a live collector */
			if (n % 4096 == 0)
				dl_spool_ack(sp, seq);
		}
		now = dl_clock_mono_ns();
		if (mode == DL_SPOOL_SYNC_INTERVAL &&
		    now - last_sync >= 1000000000ull) {
			dl_spool_sync(sp);
			last_sync = now;
		}
	} while (now - t0 < RUN_NS);
	dl_spool_free(sp);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	*nout = n;
	return (double)(now - t0) / 1e9;
}

int main(void)
{
	static const struct {
		const char *name;
		dl_spool_sync_t mode;
	} modes[] = {{"off", DL_SPOOL_SYNC_OFF},
		     {"1s", DL_SPOOL_SYNC_INTERVAL},
		     {"always", DL_SPOOL_SYNC_ALWAYS}};
	static const size_t lens[] = {300, 8192};
	const char *base = getenv("DL_SPOOL_BENCH_DIR");

	dl_log_level = DL_LOG_LEVEL_ERROR;
	if (!base)
		base = "/var/tmp";
	printf("spool append, %s, %.1f s per run\n", base, RUN_NS / 1e9);
	printf("%-8s %8s %14s %12s\n", "sync", "bytes", "records/s",
	       "us/record");
	for (size_t l = 0; l < 2; l++)
		for (size_t m = 0; m < 3; m++) {
			uint64_t n = 0;
			double s = run(base, modes[m].mode, lens[l], &n);

			if (s <= 0) {
				printf("%-8s %8zu failed\n", modes[m].name,
				       lens[l]);
				continue;
			}
			printf("%-8s %8zu %14.0f %12.2f\n", modes[m].name,
			       lens[l], (double)n / s, s * 1e6 / (double)n);
		}
	return 0;
}
