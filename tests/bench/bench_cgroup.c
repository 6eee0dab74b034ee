/* bench_cgroup - samples containers through agent/cgroup.c the way the
 * agent will, and prints what it read plus what one read cost.
 *
 *   bench_cgroup [-n READS] [-i MS] [-r CGROUP_ROOT] [-p PROC_ROOT] ID[:PID]...
 *
 * Opens every container once, reads all of them READS times back to back
 * (wall and own CPU time per container-sample), then, with -i, takes two
 * samples MS apart to print the CPU percent as `docker stats` computes it.
 * One line per container of key=value pairs, then a "total" line; used by
 * tests/integration/test_cgroup_live.sh and tests/bench/bench_sampling.sh. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/hostmetrics.h"
#include "common/clock.h"

#define MAX_CONTAINERS 256

static uint64_t self_cpu_ns(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) *
		       1000000000ull +
	       (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000ull;
}

static long parse_long(const char *s, long lo, long hi)
{
	char *e;
	long v = strtol(s, &e, 10);

	if (*s == '\0' || *e != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bad number: %s\n", s);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_cgroup [-n READS] [-i MS] [-r CGROUP_ROOT] "
		"[-p PROC_ROOT] ID[:PID]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *root = "/sys/fs/cgroup", *proc = "/proc";
	long reads = 1000, interval_ms = 0;
	dl_cgroup_t *cg[MAX_CONTAINERS];
	char ids[MAX_CONTAINERS][129];
	dl_cgroup_sample_t s0[MAX_CONTAINERS], s;
	int nc = 0, opt;
	char err[256];

	while ((opt = getopt(argc, argv, "n:i:r:p:")) != -1) {
		switch (opt) {
		case 'n': reads = parse_long(optarg, 1, 100000000); break;
		case 'i': interval_ms = parse_long(optarg, 0, 600000); break;
		case 'r': root = optarg; break;
		case 'p': proc = optarg; break;
		default: usage();
		}
	}
	if (optind >= argc || argc - optind > MAX_CONTAINERS)
		usage();
	for (int i = optind; i < argc; i++, nc++) {
		const char *colon = strchr(argv[i], ':');
		size_t idlen =
			colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
		int pid = colon ? (int)parse_long(colon + 1, 0, 1 << 30) : 0;

		if (idlen >= sizeof(ids[0]))
			usage();
		memcpy(ids[nc], argv[i], idlen);
		ids[nc][idlen] = '\0';
		cg[nc] = dl_cgroup_open(root, ids[nc], pid, proc, err,
					sizeof(err));
		if (!cg[nc]) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
	}
	dl_hostmetrics_t *h = dl_hostmetrics_open(proc, NULL, err, sizeof(err));
	if (!h) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}

	/* cost: reads x containers samples back to back */
	uint64_t failed = 0, c0 = self_cpu_ns(), t0 = dl_clock_mono_ns();
	for (long r = 0; r < reads; r++)
		for (int i = 0; i < nc; i++)
			failed += dl_cgroup_read(cg[i], &s) != 0;
	uint64_t t1 = dl_clock_mono_ns(), c1 = self_cpu_ns();
	double samples = (double)reads * nc;

	/* CPU percent over the interval, as `docker stats` does */
	uint64_t sys0 = 0, sys1 = 0;
	unsigned cpus = 0;
	dl_hostmetrics_system_cpu_ns(h, &sys0, &cpus);
	for (int i = 0; i < nc; i++)
		dl_cgroup_read(cg[i], &s0[i]);
	if (interval_ms > 0) {
		struct timespec ts = {interval_ms / 1000,
				      (interval_ms % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	dl_hostmetrics_system_cpu_ns(h, &sys1, &cpus);
	for (int i = 0; i < nc; i++) {
		int rc = dl_cgroup_read(cg[i], &s);
		double pct = -1;

		if (interval_ms > 0 &&
		    (s.valid & s0[i].valid & DL_CGROUP_HAVE_CPU))
			pct = dl_cgroup_cpu_percent(s0[i].cpu_ns, s.cpu_ns,
						    sys0, sys1, cpus);
		printf("id=%.12s rc=%d version=%d valid=0x%02x flags=%u "
		       "cpu_ns=%" PRIu64 " cpu_pct=%.2f mem_usage=%" PRIu64
		       " mem_limit=%" PRIu64 " blk_read=%" PRIu64
		       " blk_write=%" PRIu64 " pids=%" PRIu64 " net_rx=%" PRIu64
		       " net_tx=%" PRIu64 " net_rx_packets=%" PRIu64
		       " net_tx_packets=%" PRIu64 "\n",
		       ids[i], rc, dl_cgroup_version(cg[i]), s.valid, s.flags,
		       s.cpu_ns, pct, s.mem_usage, s.mem_limit,
		       s.blk_read_bytes, s.blk_write_bytes, s.pids,
		       s.net_rx_bytes, s.net_tx_bytes, s.net_rx_packets,
		       s.net_tx_packets);
	}
	printf("total containers=%d reads=%ld failed=%" PRIu64
	       " us_per_sample=%.2f cpu_us_per_sample=%.2f online_cpus=%u\n",
	       nc, reads, failed, (double)(t1 - t0) / 1000.0 / samples,
	       (double)(c1 - c0) / 1000.0 / samples, cpus);
	for (int i = 0; i < nc; i++)
		dl_cgroup_close(cg[i]);
	dl_hostmetrics_close(h);
	return failed ? 1 : 0;
}
