/* hostmetrics: /proc/stat, meminfo and loadavg parsers on real captures and
 * broken variants, the whole reader on a fixture /proc and on the live one,
 * and the system CPU counter computed the way dockerd does. */
#include <limits.h>
#include <stdint.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "agent/hostmetrics.h"
#include "common/err.h"
#include "test.h"

#define S(lit) lit, sizeof(lit) - 1

static const char *fixtures(void)
{
	const char *f = getenv("DL_FIXTURES");

	return f ? f : "tests/fixtures";
}

static const char *slurp(const char *rel, size_t *len)
{
	static char buf[1 << 16];
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fixtures(), rel);
	f = fopen(path, "rb");
	if (!f)
		DL_FAIL_("cannot open fixture %s", path);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

static void test_parse_stat(void)
{
	dl_hostmetrics_sample_t s = {0};
	size_t n;
	const char *b = slurp("proc/stat", &n);

	/* cpu  10532 0 9824 244544 586 0 370 0 0 0, two cpuN lines */
	ASSERT_EQ(dl_hostmetrics_parse_stat(b, n, 100, &s), 0);
	ASSERT_EQ(s.cpu_user_ns, 105320000000ull);
	ASSERT_EQ(s.cpu_system_ns, 98240000000ull);
	ASSERT_EQ(s.cpu_idle_ns, 2445440000000ull);
	ASSERT_EQ(s.cpu_iowait_ns, 5860000000ull);
	ASSERT_EQ(s.cpu_softirq_ns, 3700000000ull);
	ASSERT_EQ(s.cpu_steal_ns, 0);
	ASSERT_EQ(s.online_cpus, 2);
	/* dockerd: (user+nice+system+idle+iowait+irq+softirq) * 1e9 / tck */
	ASSERT_EQ(s.system_cpu_ns,
		  (10532ull + 9824 + 244544 + 586 + 370) * 10000000ull);

	/* steal is left out of the system counter, kept on its own */
	ASSERT_EQ(dl_hostmetrics_parse_stat(
			  S("cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1 2 3 4 5 6 7 8 9 "
			    "10\n"
			    "cpu1 0 0 0 0 0 0 0 0\ncpu3 0 0 0 0 0 0 0 0\n"
			    "intr 1 2 3\nctxt 5\n"),
			  250, &s),
		  0);
	ASSERT_EQ(s.system_cpu_ns, 28ull * 4000000);
	ASSERT_EQ(s.cpu_steal_ns, 8ull * 4000000);
	ASSERT_EQ(s.online_cpus, 3); /* cpu2 offline */

	/* a 2.6.10 kernel: seven fields, no steal */
	ASSERT_EQ(dl_hostmetrics_parse_stat(S("cpu 1 1 1 1 1 1 1\ncpu0 1\n"),
					    100, &s),
		  0);
	ASSERT_EQ(s.cpu_steal_ns, 0);
	ASSERT_EQ(s.system_cpu_ns, 70000000);

	static const char *const bad[] = {
		"cpu 1 1 1 1 1 1\ncpu0 1\n",	 /* six fields */
		"cpu0 1 1 1 1 1 1 1 1\n",	 /* no total line */
		"cpu 1 1 x 1 1 1 1 1\ncpu0 1\n", /* garbage */
		"cpu 1 1 1 1 1 1 1 1\n",	 /* no cpuN line */
		"cpu 1 1 1 1 1 1 1 1\ncpu0 1",	 /* cut short */
		"cpu 18446744073709551615 1 1 1 1 1 1\ncpu0 1\n", /* overflow */
		"cpu 184467440737095516 0 0 0 0 0 0\ncpu0 1\n", /* ns overflow */
		"",
		"\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s.online_cpus = 99;
		if (dl_hostmetrics_parse_stat(bad[i], strlen(bad[i]), 100,
					      &s) != DL_EPROTO)
			DL_FAIL_("stat case %zu accepted: %s", i, bad[i]);
		ASSERT_EQ(s.online_cpus, 99);
	}
	ASSERT_EQ(dl_hostmetrics_parse_stat(S("cpu 1 1 1 1 1 1 1\ncpu0 1\n"), 0,
					    &s),
		  DL_EPROTO);
}

static void test_parse_meminfo(void)
{
	dl_hostmetrics_sample_t s = {0};
	size_t n;
	const char *b = slurp("proc/meminfo", &n);

	ASSERT_EQ(dl_hostmetrics_parse_meminfo(b, n, &s), 0);
	ASSERT_EQ(s.mem_total, 24683620ull * 1024);
	ASSERT_EQ(s.mem_available, 24142768ull * 1024);
	ASSERT_EQ(s.mem_used, (24683620ull - 24142768) * 1024);
	ASSERT_EQ(s.swap_total, 0);
	ASSERT_EQ(s.swap_free, 0);

	ASSERT_EQ(dl_hostmetrics_parse_meminfo(
			  S("MemTotal: 100 kB\nMemFree: 1 kB\nMemAvailable: 40 "
			    "kB\n"
			    "SwapTotal: 10 kB\nSwapFree: 4 kB\n"),
			  &s),
		  0);
	ASSERT_EQ(s.mem_used, 60 * 1024);
	ASSERT_EQ(s.swap_free, 4096);
	static const char *const bad[] = {
		/* no MemAvailable (kernel < 3.14) */
		"MemTotal: 100 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n",
		"MemTotal: x kB\nMemAvailable: 1 kB\nSwapTotal: 0 "
		"kB\nSwapFree: 0 kB\n",
		"MemTotal: 100\nMemAvailable: 1 kB\nSwapTotal: 0 kB\nSwapFree: "
		"0 kB\n",
		"MemTotal: 100 kB\nMemAvailable: 1 kB\nSwapTotal: 0 "
		"kB\nSwapFree: 0",
		"MemTotal: 18446744073709551615 kB\nMemAvailable: 1 kB\n"
		"SwapTotal: 0 kB\nSwapFree: 0 kB\n",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dl_hostmetrics_parse_meminfo(bad[i], strlen(bad[i]), &s) !=
		    DL_EPROTO)
			DL_FAIL_("meminfo case %zu accepted", i);
	/* "MemTotalX:" is not MemTotal */
	ASSERT_EQ(dl_hostmetrics_parse_meminfo(
			  S("MemTotalX: 5 kB\nMemTotal: 100 kB\nMemAvailable: "
			    "1 kB\n"
			    "SwapTotal: 0 kB\nSwapFree: 0 kB\n"),
			  &s),
		  0);
	ASSERT_EQ(s.mem_total, 102400);
}

static void test_parse_loadavg(void)
{
	dl_hostmetrics_sample_t s = {0};
	size_t n;
	const char *b = slurp("proc/loadavg", &n);

	ASSERT_EQ(dl_hostmetrics_parse_loadavg(b, n, &s), 0);
	ASSERT_EQ((int)(s.load1 * 100 + 0.5), 158);
	ASSERT_EQ((int)(s.load5 * 100 + 0.5), 66);
	ASSERT_EQ((int)(s.load15 * 100 + 0.5), 29);
	static const char *const bad[] = {
		"nan nan nan 1/1 1\n",
		"inf 1 1 1/1 1\n",
		"-1.0 0 0 1/1 1\n",
		"1.0 2.0\n",
		"1.0 2.0 3.0\n",
		"1.0x 2 3 1/1 1\n",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (dl_hostmetrics_parse_loadavg(bad[i], strlen(bad[i]), &s) !=
		    DL_EPROTO)
			DL_FAIL_("loadavg case %zu accepted: %s", i, bad[i]);
}

static void test_read_fixture_proc(void)
{
	char proc[PATH_MAX], err[256];
	dl_hostmetrics_sample_t s;
	uint64_t ns;
	unsigned cpus;

	snprintf(proc, sizeof(proc), "%s/proc", fixtures());
	/* the fixture dir itself stands in for Docker's root dir */
	dl_hostmetrics_t *h =
		dl_hostmetrics_open(proc, fixtures(), err, sizeof(err));
	if (!h)
		DL_FAIL_("%s", err);
	ASSERT_EQ(dl_hostmetrics_read(h, &s), 0);
	ASSERT_EQ(s.valid, DL_HOST_HAVE_CPU | DL_HOST_HAVE_MEM |
				   DL_HOST_HAVE_LOAD | DL_HOST_HAVE_DISK |
				   DL_HOST_HAVE_NET);
	ASSERT_EQ(s.online_cpus, 2);
	ASSERT_EQ(s.mem_total, 24683620ull * 1024);
	ASSERT_EQ(s.net_rx_bytes, 106392953);
	ASSERT_EQ(s.net_tx_bytes, 191474 + 966 + 806);
	ASSERT_GT(s.disk_total, 0);
	ASSERT_LE(s.disk_used, s.disk_total);
	ASSERT_EQ(dl_hostmetrics_system_cpu_ns(h, &ns, &cpus), 0);
	ASSERT_EQ(cpus, 2);
	ASSERT_EQ(ns, s.system_cpu_ns);
	dl_hostmetrics_close(h);

	ASSERT(!dl_hostmetrics_open("/nonexistent-dl", NULL, err, sizeof(err)));
	ASSERT(strstr(err, "/nonexistent-dl"));
	dl_hostmetrics_close(NULL);
}

/* The real /proc: everything parses, and counters move forward. */
static void test_read_live_proc(void)
{
	char err[256];
	dl_hostmetrics_sample_t a, b;
	dl_hostmetrics_t *h =
		dl_hostmetrics_open("/proc", "/", err, sizeof(err));

	if (!h)
		DL_FAIL_("%s", err);
	ASSERT_EQ(dl_hostmetrics_read(h, &a), 0);
	ASSERT_EQ(a.valid & (DL_HOST_HAVE_CPU | DL_HOST_HAVE_MEM |
			     DL_HOST_HAVE_LOAD | DL_HOST_HAVE_DISK),
		  DL_HOST_HAVE_CPU | DL_HOST_HAVE_MEM | DL_HOST_HAVE_LOAD |
			  DL_HOST_HAVE_DISK);
	ASSERT_EQ(a.online_cpus, (unsigned)sysconf(_SC_NPROCESSORS_ONLN));
	ASSERT_GT(a.mem_total, 0);
	ASSERT_LE(a.mem_used, a.mem_total);
	usleep(30000);
	ASSERT_EQ(dl_hostmetrics_read(h, &b), 0);
	ASSERT_GE(b.system_cpu_ns, a.system_cpu_ns);
	ASSERT_GE(b.cpu_idle_ns + b.cpu_user_ns, a.cpu_idle_ns + a.cpu_user_ns);
	dl_hostmetrics_close(h);
}

int main(void)
{
	RUN(test_parse_stat);
	RUN(test_parse_meminfo);
	RUN(test_parse_loadavg);
	RUN(test_read_fixture_proc);
	RUN(test_read_live_proc);
	return 0;
}
