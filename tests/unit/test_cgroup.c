/* cgroup: every parser on real and hand-written file contents (good, odd
 * and hostile), dl_cgroup_open/read on fixture trees for v1 and v2 in both
 * the cgroupfs and systemd layouts, kept-open descriptors seeing new
 * content, truncation of oversized files, and CPU percent across counter
 * resets. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "common/err.h"
#include "test.h"

#define V1_ID "e5628725a57cc915583d97d52cb5be9c8b42bfcc54ea8d5de66e48e95dfae0f7"
#define V1S_ID                                                                 \
	"5d1f0c0f6f4bd4c6f0a2b9bc04ab1b3b1a2f3e4d5c6b7a8990a1b2c3d4e5f607"
#define V2S_ID                                                                 \
	"ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"
#define V2D_ID                                                                 \
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ODD_PARTIAL                                                            \
	"1111111111111111111111111111111111111111111111111111111111111111"
#define ODD_HUGE                                                               \
	"2222222222222222222222222222222222222222222222222222222222222222"
#define NET_PID 11755

static const char *fixtures(void)
{
	const char *f = getenv("DL_FIXTURES");

	return f ? f : "tests/fixtures";
}

static void fixture_path(char *out, size_t n, const char *rel)
{
	int k = snprintf(out, n, "%s/%s", fixtures(), rel);

	ASSERT(k > 0 && (size_t)k < n);
}

/* Whole file into a static buffer (fixtures are small). */
static const char *slurp(const char *rel, size_t *len)
{
	static char buf[1 << 17];
	char path[PATH_MAX];
	FILE *f;

	fixture_path(path, sizeof(path), rel);
	f = fopen(path, "rb");
	if (!f)
		DL_FAIL_("cannot open fixture %s", path);
	*len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	return buf;
}

#define S(lit) lit, sizeof(lit) - 1

static void test_parse_u64(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t want;
	} t[] = {
		{"123\n", 0, 123},
		{"0\n", 0, 0},
		{"7", 0, 7},
		{"  42 \n", 0, 42},
		{"18446744073709551615\n", 0, UINT64_MAX},
		{"18446744073709551616\n", DL_EPROTO, 0},
		{"99999999999999999999999\n", DL_EPROTO, 0},
		{"-1\n", DL_EPROTO, 0},
		{"+1\n", DL_EPROTO, 0},
		{"", DL_EPROTO, 0},
		{"\n", DL_EPROTO, 0},
		{"12 34\n", DL_EPROTO, 0},
		{"1\n2\n", DL_EPROTO, 0},
		{"0x10\n", DL_EPROTO, 0},
		{"12abc\n", DL_EPROTO, 0},
		{"max\n", DL_EPROTO, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 777;
		int rc = dl_cgroup_parse_u64(t[i].in, strlen(t[i].in), &v);

		if (rc != t[i].rc)
			DL_FAIL_("case %zu \"%s\": rc %d, want %d", i, t[i].in,
				 rc, t[i].rc);
		ASSERT_EQ(v == (rc == 0 ? t[i].want : 777), 1);
	}
	/* not NUL-terminated: the parser must stop at len */
	uint64_t v;
	ASSERT_EQ(dl_cgroup_parse_u64("12345", 3, &v), 0);
	ASSERT_EQ(v, 123);
}

static void test_parse_limit(void)
{
	uint64_t v = 1;

	ASSERT_EQ(dl_cgroup_parse_limit(S("max\n"), &v), 0);
	ASSERT_EQ(v, 0);
	v = 1;
	ASSERT_EQ(dl_cgroup_parse_limit(S("9223372036854771712\n"), &v), 0);
	ASSERT_EQ(v, 0);
	ASSERT_EQ(dl_cgroup_parse_limit(S("67108864\n"), &v), 0);
	ASSERT_EQ(v, 67108864);
	ASSERT_EQ(dl_cgroup_parse_limit(S("4611686018427387903\n"), &v), 0);
	ASSERT_EQ(v, 4611686018427387903ull);
	ASSERT_EQ(dl_cgroup_parse_limit(S("max2\n"), &v), DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_limit(S("-1\n"), &v), DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_limit(S(""), &v), DL_EPROTO);
	ASSERT_EQ(dl_cgroup_effective_mem_limit(0, 1000), 1000);
	ASSERT_EQ(dl_cgroup_effective_mem_limit(5000, 1000), 1000);
	ASSERT_EQ(dl_cgroup_effective_mem_limit(500, 1000), 500);
	ASSERT_EQ(dl_cgroup_effective_mem_limit(0, 0), 0);
}

static void test_memory_stat(void)
{
	uint64_t v = 0;
	size_t n;
	const char *b;

	b = slurp("cgroup/v1/systemd/memory/system.slice/docker-" V1S_ID
		  ".scope/memory.stat",
		  &n);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(b, n, &v), 0);
	ASSERT_EQ(v, 1933312);
	b = slurp("cgroup/v2/systemd/system.slice/docker-" V2S_ID
		  ".scope/memory.stat",
		  &n);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(b, n, &v), 0);
	ASSERT_EQ(v, 3538944);
	/* total_* wins over the non-hierarchical key, wherever it is */
	ASSERT_EQ(dl_cgroup_parse_memory_stat(
			  S("total_inactive_file 5\ninactive_file 9\n"), &v),
		  0);
	ASSERT_EQ(v, 5);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(
			  S("inactive_file 9\ntotal_inactive_file 6\n"), &v),
		  0);
	ASSERT_EQ(v, 6);
	/* a key that only starts like ours is not ours */
	ASSERT_EQ(dl_cgroup_parse_memory_stat(
			  S("inactive_file_x 1\ninactive_file 2\n"), &v),
		  0);
	ASSERT_EQ(v, 2);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(S("cache 1\nrss 2\n"), &v),
		  DL_ENOENT);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(S(""), &v), DL_ENOENT);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(S("inactive_file abc\n"), &v),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(S("inactive_file\n"), &v),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(S("inactive_file 1 2\n"), &v),
		  DL_EPROTO);
	/* cut mid-file: later keys may be lost, so the whole file is bad */
	ASSERT_EQ(dl_cgroup_parse_memory_stat(
			  S("inactive_file 3\ntotal_inactive_fi"), &v),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_memory_stat(
			  S("inactive_file 18446744073709551616\n"), &v),
		  DL_EPROTO);

	ASSERT_EQ(dl_cgroup_mem_usage(2453504, 1933312), 520192);
	ASSERT_EQ(dl_cgroup_mem_usage(100, 0), 100);
	ASSERT_EQ(dl_cgroup_mem_usage(100, 100), 100); /* CLI: only if < */
	ASSERT_EQ(dl_cgroup_mem_usage(100, 5000), 100);
}

static void test_cpustat(void)
{
	uint64_t v = 0;
	size_t n;
	const char *b = slurp("cgroup/v2/systemd/system.slice/docker-" V2S_ID
			      ".scope/cpu.stat",
			      &n);

	ASSERT_EQ(dl_cgroup_parse_cpustat(b, n, &v), 0);
	ASSERT_EQ(v, 3464921000ull);
	ASSERT_EQ(dl_cgroup_parse_cpustat(S("user_usec 5\n"), &v), DL_ENOENT);
	ASSERT_EQ(dl_cgroup_parse_cpustat(S("usage_usec 18446744073709552\n"),
					  &v),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_cpustat(S("usage_usec 18446744073709551\n"),
					  &v),
		  0);
	ASSERT_EQ(v, 18446744073709551000ull);
	ASSERT_EQ(dl_cgroup_parse_cpustat(S("usage_usec 12"), &v), DL_EPROTO);
}

static void test_blkio(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t rd, wr;
	} t[] = {
		{"Total 0\n", 0, 0, 0},
		{"", 0, 0, 0},
		{"8:0 Read 10\n8:0 Write 20\n8:0 Sync 30\n8:0 Total 30\n"
		 "8:16 Read 1\n8:16 Write 2\nTotal 33\n",
		 0, 11, 22},
		{"8:0 Discard 5\n8:0 Read 1\nTotal 1\n", 0, 1, 0},
		{"8:0 Read 12abc\n8:0 Write 5\nTotal 5\n", DL_EPROTO, 0, 0},
		{"8:0 Read\nTotal 0\n", DL_EPROTO, 0, 0},
		{"8:0 Read 1 2\n", DL_EPROTO, 0, 0},
		{"Read 5\n", DL_EPROTO, 0, 0},
		{"80 Read 5\n", DL_EPROTO, 0, 0},
		{"Total x\n", DL_EPROTO, 0, 0},
		{"8:0 Read 5\n8:0 Wri", DL_EPROTO, 0, 0},
		{"8:0 Read 18446744073709551615\n8:16 Read 1\n", DL_EPROTO, 0,
		 0},
		{"8:0 Read 18446744073709551615\n8:16 Write 1\n", 0, UINT64_MAX,
		 1},
		{"\n\n", 0, 0, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t rd = 7, wr = 7;
		int rc = dl_cgroup_parse_blkio(t[i].in, strlen(t[i].in), &rd,
					       &wr);
		if (rc != t[i].rc)
			DL_FAIL_("blkio case %zu: rc %d want %d", i, rc,
				 t[i].rc);
		if (rc == 0 && (rd != t[i].rd || wr != t[i].wr))
			DL_FAIL_("blkio case %zu: %" PRIu64 "/%" PRIu64, i, rd,
				 wr);
		if (rc < 0 && (rd != 7 || wr != 7))
			DL_FAIL_("blkio case %zu wrote outputs on failure", i);
	}

	size_t n;
	uint64_t rd, wr;
	const char *b =
		slurp("cgroup/v1/systemd/blkio/system.slice/docker-" V1S_ID
		      ".scope/blkio.throttle.io_service_bytes",
		      &n);
	ASSERT_EQ(dl_cgroup_parse_blkio(b, n, &rd, &wr), 0);
	ASSERT_EQ(rd, 1459200 + 4096);
	ASSERT_EQ(wr, 314773504 + 8192);
}

static void test_iostat(void)
{
	static const struct {
		const char *in;
		int rc;
		uint64_t rd, wr;
	} t[] = {
		{"", 0, 0, 0},
		{"8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n", 0, 1,
		 2},
		{"8:0 rbytes=1 wbytes=2\n8:16 rbytes=10 wbytes=20\n", 0, 11,
		 22},
		/* iocost prints decimals in keys we do not read */
		{"8:0 rbytes=1 wbytes=2 cost.vrate=135.04 cost.usage=3\n", 0, 1,
		 2},
		{"8:0\n", 0, 0, 0},
		{"8:0 rbytes=x wbytes=2\n", DL_EPROTO, 0, 0},
		{"8:0 rbytes= wbytes=2\n", DL_EPROTO, 0, 0},
		{"8:0 rbytes\n", DL_EPROTO, 0, 0},
		{"rbytes=1 wbytes=2\n", DL_EPROTO, 0, 0},
		{"8:0 rbytes=1 wbytes=2\n8:16 rbytes=5 wb", DL_EPROTO, 0, 0},
		{"8:0 wbytes=18446744073709551615\n8:1 wbytes=1\n", DL_EPROTO,
		 0, 0},
		{"8:0 rbytes=-1\n", DL_EPROTO, 0, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t rd = 7, wr = 7;
		int rc = dl_cgroup_parse_iostat(t[i].in, strlen(t[i].in), &rd,
						&wr);
		if (rc != t[i].rc)
			DL_FAIL_("iostat case %zu: rc %d want %d", i, rc,
				 t[i].rc);
		if (rc == 0 && (rd != t[i].rd || wr != t[i].wr))
			DL_FAIL_("iostat case %zu: %" PRIu64 "/%" PRIu64, i, rd,
				 wr);
	}

	size_t n;
	uint64_t rd, wr;
	const char *b = slurp("cgroup/v2/systemd/system.slice/docker-" V2S_ID
			      ".scope/io.stat",
			      &n);
	ASSERT_EQ(dl_cgroup_parse_iostat(b, n, &rd, &wr), 0);
	ASSERT_EQ(rd, 1459200 + 90430464);
	ASSERT_EQ(wr, 314773504 + 299008000);
}

#define NETHDR                                                                 \
	"Inter-|   Receive                                                |  " \
	"Transmit\n"                                                           \
	" face |bytes    packets errs drop fifo frame compressed "             \
	"multicast|bytes    packets errs drop fifo colls carrier compressed\n"

static void test_netdev(void)
{
	dl_cgroup_net_t net = {0};
	size_t n;
	const char *b = slurp("proc/net/dev", &n);

	/* real host file: lo left out, "docker0:" with no blank before the
	 * numbers */
	ASSERT_EQ(dl_cgroup_parse_netdev(b, n, &net), 0);
	ASSERT_EQ(net.rx_bytes, 106392953);
	ASSERT_EQ(net.rx_packets, 3373);
	ASSERT_EQ(net.tx_bytes, 191474 + 966 + 806);
	ASSERT_EQ(net.tx_packets, 2425 + 9 + 9);

	b = slurp("proc/11755/net/dev", &n);
	ASSERT_EQ(dl_cgroup_parse_netdev(b, n, &net), 0);
	ASSERT_EQ(net.rx_bytes, 806);
	ASSERT_EQ(net.rx_packets, 9);
	ASSERT_EQ(net.tx_bytes, 0);

	ASSERT_EQ(dl_cgroup_parse_netdev(S(NETHDR), &net), 0);
	ASSERT_EQ(net.rx_bytes, 0);
	ASSERT_EQ(dl_cgroup_parse_netdev(S(""), &net), DL_EPROTO);
	/* no header: not a net/dev file */
	ASSERT_EQ(dl_cgroup_parse_netdev(
			  S("eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
			  &net),
		  DL_EPROTO);
	/* 15 numbers, 17 numbers, garbage, nameless, cut short */
	ASSERT_EQ(
		dl_cgroup_parse_netdev(
			S(NETHDR "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n"),
			&net),
		DL_EPROTO);
	ASSERT_EQ(
		dl_cgroup_parse_netdev(
			S(NETHDR
			  "eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n"),
			&net),
		DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_netdev(
			  S(NETHDR
			    "eth0: 1 2 3 4 5 6 7 8 x 10 11 12 13 14 15 16\n"),
			  &net),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_netdev(
			  S(NETHDR
			    "   : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n"),
			  &net),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_netdev(S(NETHDR "eth0: 1 2 3 4 5 6 7 8 9 1"),
					 &net),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_netdev(S(NETHDR "garbage\n"), &net),
		  DL_EPROTO);
	ASSERT_EQ(dl_cgroup_parse_netdev(
			  S(NETHDR "a: 18446744073709551615 1 0 0 0 0 0 0 0 1 "
				   "0 0 0 0 0 0\n"
				   "b: 1 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0\n"),
			  &net),
		  DL_EPROTO);
	/* "lo" only as a whole name: "lo0" and "vlo" count */
	ASSERT_EQ(dl_cgroup_parse_netdev(
			  S(NETHDR "lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n"
				   "lo0: 5 1 0 0 0 0 0 0 6 1 0 0 0 0 0 0\n"
				   "vlo: 7 1 0 0 0 0 0 0 8 1 0 0 0 0 0 0\n"),
			  &net),
		  0);
	ASSERT_EQ(net.rx_bytes, 12);
	ASSERT_EQ(net.tx_bytes, 14);
	ASSERT_EQ(net.rx_packets, 2);
}

/* Random bytes, and random cuts of real files, into every parser: nothing
 * may crash or read out of bounds (ASan/UBSan builds). */
static void test_parsers_survive_garbage(void)
{
	static const char alphabet[] = "0123456789 :\n=abcdeilmnoprstuvwxRWT|-";
	char buf[256];
	uint64_t a, b;
	dl_cgroup_net_t net;
	unsigned seed = 12345;
	size_t n;
	const char *real = slurp("proc/net/dev", &n);
	char copy[4096];

	ASSERT(n < sizeof(copy));
	memcpy(copy, real, n);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand_r(&seed) % sizeof(buf));
		for (size_t k = 0; k < len; k++)
			buf[k] = (i & 1) ? (char)rand_r(&seed)
					 : alphabet[rand_r(&seed) %
						    (sizeof(alphabet) - 1)];
		(void)dl_cgroup_parse_u64(buf, len, &a);
		(void)dl_cgroup_parse_limit(buf, len, &a);
		(void)dl_cgroup_parse_memory_stat(buf, len, &a);
		(void)dl_cgroup_parse_cpustat(buf, len, &a);
		(void)dl_cgroup_parse_blkio(buf, len, &a, &b);
		(void)dl_cgroup_parse_iostat(buf, len, &a, &b);
		(void)dl_cgroup_parse_netdev(buf, len, &net);
		(void)dl_cgroup_parse_netdev(
			copy, (size_t)rand_r(&seed) % (n + 1), &net);
	}
}

static dl_cgroup_t *open_fixture(const char *tree, const char *id, int pid)
{
	char root[PATH_MAX], proc[PATH_MAX], err[256] = "";
	dl_cgroup_t *cg;

	fixture_path(root, sizeof(root), tree);
	fixture_path(proc, sizeof(proc), "proc");
	cg = dl_cgroup_open(root, id, pid, proc, err, sizeof(err));
	if (!cg)
		DL_FAIL_("open %s %s: %s", tree, id, err);
	return cg;
}

static void test_open_v1_cgroupfs(void)
{
	dl_cgroup_t *cg = open_fixture("cgroup/v1/docker", V1_ID, NET_PID);
	dl_cgroup_sample_t s;

	ASSERT_EQ(dl_cgroup_version(cg), 1);
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.valid, DL_CGROUP_HAVE_CPU | DL_CGROUP_HAVE_MEM |
				   DL_CGROUP_HAVE_MEM_LIMIT |
				   DL_CGROUP_HAVE_BLKIO | DL_CGROUP_HAVE_PIDS |
				   DL_CGROUP_HAVE_NET);
	ASSERT_EQ(s.flags, 0);
	ASSERT_EQ(s.cpu_ns, 91961464);
	ASSERT_EQ(s.mem_usage, 782336); /* docker stats said 764KiB */
	ASSERT_EQ(s.mem_limit, 67108864);
	ASSERT_EQ(s.blk_read_bytes, 0);
	ASSERT_EQ(s.blk_write_bytes, 0);
	ASSERT_EQ(s.pids, 1);
	ASSERT_EQ(s.net_rx_bytes, 806);
	ASSERT_EQ(s.net_rx_packets, 9);
	/* reading again gives the same (fds rewound by pread) */
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.cpu_ns, 91961464);
	ASSERT_EQ(s.net_rx_bytes, 806);
	dl_cgroup_close(cg);
}

static void test_open_v1_systemd(void)
{
	dl_cgroup_t *cg = open_fixture("cgroup/v1/systemd", V1S_ID, 0);
	dl_cgroup_sample_t s;

	ASSERT_EQ(dl_cgroup_version(cg), 1);
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	/* pid 0: no network counters; everything else from cpu,cpuacct and
	 * the system.slice scopes */
	ASSERT_EQ(s.valid, DL_CGROUP_HAVE_CPU | DL_CGROUP_HAVE_MEM |
				   DL_CGROUP_HAVE_MEM_LIMIT |
				   DL_CGROUP_HAVE_BLKIO | DL_CGROUP_HAVE_PIDS);
	ASSERT_EQ(s.cpu_ns, 91961464);
	ASSERT_EQ(s.mem_usage, 2453504 - 1933312);
	ASSERT_EQ(s.mem_limit, 0); /* 9223372036854771712 = unlimited */
	ASSERT_EQ(s.blk_read_bytes, 1459200 + 4096);
	ASSERT_EQ(s.blk_write_bytes, 314773504 + 8192);
	dl_cgroup_close(cg);
}

static void test_open_v2(void)
{
	dl_cgroup_t *cg = open_fixture("cgroup/v2/systemd", V2S_ID, NET_PID);
	dl_cgroup_sample_t s;

	ASSERT_EQ(dl_cgroup_version(cg), 2);
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.valid, DL_CGROUP_HAVE_CPU | DL_CGROUP_HAVE_MEM |
				   DL_CGROUP_HAVE_MEM_LIMIT |
				   DL_CGROUP_HAVE_BLKIO | DL_CGROUP_HAVE_PIDS |
				   DL_CGROUP_HAVE_NET);
	ASSERT_EQ(s.cpu_ns, 3464921000ull);
	ASSERT_EQ(s.mem_usage, 10485760 - 3538944);
	ASSERT_EQ(s.mem_limit, 0);
	ASSERT_EQ(s.blk_read_bytes, 1459200 + 90430464);
	ASSERT_EQ(s.blk_write_bytes, 314773504 + 299008000);
	ASSERT_EQ(s.pids, 7);
	ASSERT_EQ(s.net_rx_bytes, 806);
	dl_cgroup_close(cg);

	cg = open_fixture("cgroup/v2/docker", V2D_ID, 0);
	ASSERT_EQ(dl_cgroup_version(cg), 2);
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.mem_limit, 268435456);
	ASSERT(s.valid & DL_CGROUP_HAVE_BLKIO); /* empty io.stat = no I/O */
	ASSERT_EQ(s.blk_read_bytes, 0);
	ASSERT_EQ(s.valid & DL_CGROUP_HAVE_NET, 0);
	dl_cgroup_close(cg);
}

static void test_open_odd(void)
{
	dl_cgroup_t *cg = open_fixture("cgroup/v1/odd", ODD_PARTIAL, 0);
	dl_cgroup_sample_t s;

	/* only the memory controller: the rest is unknown, not zero */
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.valid, DL_CGROUP_HAVE_MEM | DL_CGROUP_HAVE_MEM_LIMIT);
	ASSERT_EQ(s.mem_usage, 4096000 - 1000);
	ASSERT_EQ(s.mem_limit, 0);
	dl_cgroup_close(cg);

	cg = open_fixture("cgroup/v1/odd", ODD_HUGE, NET_PID + 999999);
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.valid, DL_CGROUP_HAVE_CPU);
	ASSERT_EQ(s.cpu_ns == UINT64_MAX, 1);
	ASSERT_EQ(s.mem_usage, 0);
	dl_cgroup_close(cg);
}

static void test_open_errors(void)
{
	char root[PATH_MAX], err[256];

	fixture_path(root, sizeof(root), "cgroup/v1/docker");
	err[0] = '\0';
	ASSERT(!dl_cgroup_open(root, "feedfacefeedface", 0, NULL, err,
			       sizeof(err)));
	ASSERT(strstr(err, "no cgroup v1 of container feedfacefeed"));
	ASSERT(!dl_cgroup_open(root, "../docker", 0, NULL, err, sizeof(err)));
	ASSERT(strstr(err, "container id"));
	ASSERT(!dl_cgroup_open(root, "", 0, NULL, err, sizeof(err)));
	ASSERT(!dl_cgroup_open(root, "a.b", 0, NULL, err, sizeof(err)));
	char longid[200];
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ASSERT(!dl_cgroup_open(root, longid, 0, NULL, err, sizeof(err)));
	/* an existing container id under a different root */
	fixture_path(root, sizeof(root), "cgroup/v2/systemd");
	ASSERT(!dl_cgroup_open(root, V1_ID, 0, NULL, err, sizeof(err)));
	ASSERT(strstr(err, "no cgroup v2"));
	dl_cgroup_close(NULL);
}

static void write_file(const char *path, const char *s, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, s, n), (ssize_t)n);
	close(fd);
}

/* A tree in /tmp: descriptors opened once see later content (pread from 0
 * of the same inode); an oversized memory.stat is cut and flagged; a
 * removed cgroup makes read fail instead of repeating old numbers. */
static void test_kept_open_and_truncation(void)
{
	char dir[] = "/tmp/dl-cgtest-XXXXXX", p[PATH_MAX], err[256];
	dl_cgroup_sample_t s;
	static char big[DL_CGROUP_READ_MAX + 4096];
	size_t n = 0;

	ASSERT(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/memory", dir);
	ASSERT_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/memory/docker", dir);
	ASSERT_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/memory/docker/abc", dir);
	ASSERT_EQ(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/memory/docker/abc/memory.usage_in_bytes",
		 dir);
	write_file(p, S("1000\n"));
	n += (size_t)snprintf(big, sizeof(big), "total_inactive_file 400\n");
	while (n + 32 < sizeof(big))
		n += (size_t)snprintf(big + n, sizeof(big) - n, "pad_%zu 1\n",
				      n);
	ASSERT_GT(n, DL_CGROUP_READ_MAX);
	snprintf(p, sizeof(p), "%s/memory/docker/abc/memory.stat", dir);
	write_file(p, big, n);

	char proc[PATH_MAX];
	fixture_path(proc, sizeof(proc), "proc");
	dl_cgroup_t *cg =
		dl_cgroup_open(dir, "abc", NET_PID, proc, err, sizeof(err));
	ASSERT(cg);
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.valid, DL_CGROUP_HAVE_MEM | DL_CGROUP_HAVE_NET);
	ASSERT_EQ(s.mem_usage, 600);
	ASSERT_EQ(s.flags, DL_CGROUP_F_TRUNCATED);

	/* rewrite in place (same inode, as the kernel "rewrites" it) */
	snprintf(p, sizeof(p), "%s/memory/docker/abc/memory.usage_in_bytes",
		 dir);
	write_file(p, S("5000\n"));
	snprintf(p, sizeof(p), "%s/memory/docker/abc/memory.stat", dir);
	write_file(p, S("total_inactive_file 1000\n"));
	ASSERT_EQ(dl_cgroup_read(cg, &s), 0);
	ASSERT_EQ(s.mem_usage, 4000);
	ASSERT_EQ(s.flags, 0);

	/* garbage now: unknown; net/dev alone (as a dead task's still reads)
	 * does not make the container readable */
	snprintf(p, sizeof(p), "%s/memory/docker/abc/memory.usage_in_bytes",
		 dir);
	write_file(p, S("oops\n"));
	ASSERT_EQ(dl_cgroup_read(cg, &s), DL_EIO);
	ASSERT_EQ(s.valid, 0);
	dl_cgroup_close(cg);

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	ASSERT_EQ(system(p), 0);
}

static void test_cpu_percent(void)
{
	/* 1 s of CPU in 2 s of system time on 2 CPUs... system time is
	 * summed over CPUs, so this is one CPU busy: 100 % */
	ASSERT_EQ((int)(dl_cgroup_cpu_percent(0, 1000000000, 0, 2000000000, 2) +
			0.5),
		  100);
	ASSERT_EQ((int)(dl_cgroup_cpu_percent(
				500, 500 + 250000000, 10000000000ull,
				10000000000ull + 4000000000ull, 4) *
				10 +
			0.5),
		  250); /* 25.0 % */
	ASSERT_EQ((int)dl_cgroup_cpu_percent(5, 5, 0, 100, 2), 0);
	/* container restarted: its counter went back */
	ASSERT_EQ((int)dl_cgroup_cpu_percent(1000, 10, 0, 100, 2), -1);
	/* host rebooted / bad system sample */
	ASSERT_EQ((int)dl_cgroup_cpu_percent(0, 10, 100, 50, 2), -1);
	/* no system time passed: no division by zero */
	ASSERT_EQ((int)dl_cgroup_cpu_percent(0, 10, 100, 100, 2), -1);
	ASSERT_EQ((int)dl_cgroup_cpu_percent(0, 10, 0, 100, 0), -1);
	/* huge counters keep precision well enough */
	double p = dl_cgroup_cpu_percent(
		UINT64_MAX - 2000000000ull, UINT64_MAX - 1000000000ull,
		UINT64_MAX - 4000000000ull, UINT64_MAX, 2);
	ASSERT(p > 49.9 && p < 50.1);
}

int main(void)
{
	RUN(test_parse_u64);
	RUN(test_parse_limit);
	RUN(test_memory_stat);
	RUN(test_cpustat);
	RUN(test_blkio);
	RUN(test_iostat);
	RUN(test_netdev);
	RUN(test_parsers_survive_garbage);
	RUN(test_open_v1_cgroupfs);
	RUN(test_open_v1_systemd);
	RUN(test_open_v2);
	RUN(test_open_odd);
	RUN(test_open_errors);
	RUN(test_kept_open_and_truncation);
	RUN(test_cpu_percent);
	return 0;
}
