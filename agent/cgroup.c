#include "agent/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/log.h"

#define TAG    "cgroup"
#define ID_MAX 128

/* The files sampled; for v2 the same slots hold the unified files. */
enum {
	F_CPU,	     /* v1 cpuacct.usage      v2 cpu.stat */
	F_MEM_USAGE, /* v1 memory.usage_in_bytes  v2 memory.current */
	F_MEM_STAT,  /* memory.stat (both) */
	F_MEM_LIMIT, /* v1 memory.limit_in_bytes  v2 memory.max */
	F_BLKIO, /* v1 blkio.throttle.io_service_bytes[_recursive]  v2 io.stat */
	F_PIDS,	 /* pids.current (both) */
	F_NET,	 /* <proc>/<pid>/net/dev */
	F_COUNT
};

struct dl_cgroup {
	int version;
	int fd[F_COUNT];
	char *buf; /* the shared read buffer below */
};

/* One read buffer for every container: reads are sequential on the
 * agent's single loop thread, and a 64 KiB buffer per container cost
 * ~12 KB of touched anonymous memory each. One extra byte tells "exactly
 * full" from "did not fit". */
static char shared_buf[DL_CGROUP_READ_MAX + 1];

/* ------------------------------------------------------------------ parsing */

/* Decimal digits only, no sign, no spaces, no overflow. strtoull would
 * accept "-1" (as 2^64-1), leading blanks and need a NUL terminator. */
int dl_cgroup_parse_dec(const char *p, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > 20)
		return DL_EPROTO;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return DL_EPROTO;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(p[i] - '0'), &v))
			return DL_EPROTO;
	}
	*out = v;
	return 0;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Cuts the next line off [*cur, end); returns 0 at the end. */
static int next_line(const char **cur, const char *end, const char **lp,
		     size_t *ln)
{
	const char *p = *cur, *nl;

	if (p >= end)
		return 0;
	nl = memchr(p, '\n', (size_t)(end - p));
	*lp = p;
	*ln = nl ? (size_t)(nl - p) : (size_t)(end - p);
	*cur = nl ? nl + 1 : end;
	return 1;
}

/* Cuts the next blank-separated token off [*cur, end). */
static int next_tok(const char **cur, const char *end, const char **tp,
		    size_t *tn)
{
	const char *p = *cur;

	while (p < end && is_blank(*p))
		p++;
	if (p >= end) {
		*cur = end;
		return 0;
	}
	*tp = p;
	while (p < end && !is_blank(*p))
		p++;
	*tn = (size_t)(p - *tp);
	*cur = p;
	return 1;
}

static int tok_is(const char *t, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(t, s, n) == 0;
}

/* The kernel ends every line with '\n' and dl_cgroup_read cuts oversized
 * files at a line end, so a multi-line file that does not end in '\n' was
 * cut short by someone else: later lines (and keys) may be missing. */
static int whole_lines(const char *buf, size_t len)
{
	return len == 0 || buf[len - 1] == '\n';
}

static int add_u64(uint64_t *acc, uint64_t v)
{
	return __builtin_add_overflow(*acc, v, acc) ? DL_EPROTO : 0;
}

int dl_cgroup_parse_u64(const char *buf, size_t len, uint64_t *out)
{
	const char *cur = buf, *end = buf + len, *t;
	size_t n;
	uint64_t v;

	if (!next_tok(&cur, end, &t, &n))
		return DL_EPROTO;
	/* only the one number and a line end may be there */
	while (n > 0 && t[n - 1] == '\n')
		n--;
	for (const char *p = t + n; p < end; p++)
		if (!is_blank(*p) && *p != '\n')
			return DL_EPROTO;
	if (dl_cgroup_parse_dec(t, n, &v) < 0)
		return DL_EPROTO;
	*out = v;
	return 0;
}

int dl_cgroup_parse_limit(const char *buf, size_t len, uint64_t *out)
{
	uint64_t v;

	if ((len == 3 && memcmp(buf, "max", 3) == 0) ||
	    (len == 4 && memcmp(buf, "max\n", 4) == 0)) {
		*out = 0;
		return 0;
	}
	if (dl_cgroup_parse_u64(buf, len, &v) < 0)
		return DL_EPROTO;
	*out = v >= (1ull << 62) ? 0 : v;
	return 0;
}

int dl_cgroup_parse_keyed(const char *buf, size_t len, const char *key,
			  uint64_t *out)
{
	const char *cur = buf, *end = buf + len, *l, *t;
	size_t ln, tn;

	if (!whole_lines(buf, len))
		return DL_EPROTO;
	while (next_line(&cur, end, &l, &ln)) {
		const char *lc = l, *le = l + ln;
		uint64_t v;

		if (!next_tok(&lc, le, &t, &tn) || !tok_is(t, tn, key))
			continue;
		if (!next_tok(&lc, le, &t, &tn) ||
		    dl_cgroup_parse_dec(t, tn, &v) < 0)
			return DL_EPROTO;
		if (next_tok(&lc, le, &t, &tn))
			return DL_EPROTO;
		*out = v;
		return 0;
	}
	return DL_ENOENT;
}

int dl_cgroup_parse_memory_stat(const char *buf, size_t len,
				uint64_t *inactive_file)
{
	int rc = dl_cgroup_parse_keyed(buf, len, "total_inactive_file",
				       inactive_file);

	if (rc != DL_ENOENT)
		return rc;
	return dl_cgroup_parse_keyed(buf, len, "inactive_file", inactive_file);
}

uint64_t dl_cgroup_mem_usage(uint64_t usage, uint64_t inactive_file)
{
	return inactive_file < usage ? usage - inactive_file : usage;
}

int dl_cgroup_parse_cpustat(const char *buf, size_t len, uint64_t *cpu_ns)
{
	uint64_t us;
	int rc = dl_cgroup_parse_keyed(buf, len, "usage_usec", &us);

	if (rc < 0)
		return rc;
	if (__builtin_mul_overflow(us, 1000, cpu_ns))
		return DL_EPROTO;
	return 0;
}

/* One blkio line: "8:16 Read 1459200" or the closing "Total 316244992".
 *
 *   +---------+ +----+ +---------+
 *   | MAJ:MIN | | Op | | bytes   |    Op: Read Write Sync Async Discard Total
 *   +---------+ +----+ +---------+
 */
static int blkio_line(const char *l, size_t ln, uint64_t *rd, uint64_t *wr)
{
	const char *cur = l, *end = l + ln, *t[4];
	size_t n[4];
	int k = 0;
	uint64_t v;

	while (k < 4 && next_tok(&cur, end, &t[k], &n[k]))
		k++;
	if (k == 0)
		return 0;
	if (k == 2 && tok_is(t[0], n[0], "Total"))
		return dl_cgroup_parse_dec(t[1], n[1], &v);
	if (k != 3 || !memchr(t[0], ':', n[0]) ||
	    dl_cgroup_parse_dec(t[2], n[2], &v) < 0)
		return DL_EPROTO;
	if (tok_is(t[1], n[1], "Read"))
		return add_u64(rd, v);
	if (tok_is(t[1], n[1], "Write"))
		return add_u64(wr, v);
	return 0;
}

/* Sums read/write bytes over every line of an I/O file; *rd and *wr are
 * set only when every line parses. */
static int parse_io(const char *buf, size_t len,
		    int (*line)(const char *, size_t, uint64_t *, uint64_t *),
		    uint64_t *rd, uint64_t *wr)
{
	const char *cur = buf, *end = buf + len, *l;
	size_t ln;
	uint64_t r = 0, w = 0;

	if (!whole_lines(buf, len))
		return DL_EPROTO;
	while (next_line(&cur, end, &l, &ln))
		if (line(l, ln, &r, &w) < 0)
			return DL_EPROTO;
	*rd = r;
	*wr = w;
	return 0;
}

int dl_cgroup_parse_blkio(const char *buf, size_t len, uint64_t *rd,
			  uint64_t *wr)
{
	return parse_io(buf, len, blkio_line, rd, wr);
}

/* One io.stat line; only rbytes/wbytes are checked as numbers, other keys
 * (iocost prints decimals) only need their '='.
 *
 *   8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0
 */
static int iostat_line(const char *l, size_t ln, uint64_t *rd, uint64_t *wr)
{
	const char *cur = l, *end = l + ln, *t, *eq;
	size_t n;
	uint64_t v;

	if (!next_tok(&cur, end, &t, &n))
		return 0;
	if (!memchr(t, ':', n))
		return DL_EPROTO;
	while (next_tok(&cur, end, &t, &n)) {
		eq = memchr(t, '=', n);
		if (!eq)
			return DL_EPROTO;
		size_t kn = (size_t)(eq - t), vn = n - kn - 1;
		uint64_t *acc = tok_is(t, kn, "rbytes")	  ? rd
				: tok_is(t, kn, "wbytes") ? wr
							  : NULL;
		if (!acc)
			continue;
		if (dl_cgroup_parse_dec(eq + 1, vn, &v) < 0 ||
		    add_u64(acc, v) < 0)
			return DL_EPROTO;
	}
	return 0;
}

int dl_cgroup_parse_iostat(const char *buf, size_t len, uint64_t *rd,
			   uint64_t *wr)
{
	return parse_io(buf, len, iostat_line, rd, wr);
}

/* One interface line of net/dev (the name may touch the colon:
 * "docker0:       0 ..."):
 *
 *   iface: rx_bytes rx_packets errs drop fifo frame compressed multicast
 *          tx_bytes tx_packets errs drop fifo colls carrier compressed
 */
static int netdev_line(const char *l, size_t ln, dl_cgroup_net_t *acc)
{
	const char *colon = memchr(l, ':', ln), *cur, *end = l + ln, *t;
	const char *name = l;
	size_t n, name_len;
	uint64_t f[16];
	int k = 0;

	if (!colon)
		return DL_EPROTO;
	while (name < colon && is_blank(*name))
		name++;
	name_len = (size_t)(colon - name);
	if (name_len == 0)
		return DL_EPROTO;
	cur = colon + 1;
	while (next_tok(&cur, end, &t, &n)) {
		if (k == 16 || dl_cgroup_parse_dec(t, n, &f[k]) < 0)
			return DL_EPROTO;
		k++;
	}
	if (k != 16)
		return DL_EPROTO;
	if (tok_is(name, name_len, "lo"))
		return 0;
	if (add_u64(&acc->rx_bytes, f[0]) < 0 ||
	    add_u64(&acc->rx_packets, f[1]) < 0 ||
	    add_u64(&acc->tx_bytes, f[8]) < 0 ||
	    add_u64(&acc->tx_packets, f[9]) < 0)
		return DL_EPROTO;
	return 0;
}

int dl_cgroup_parse_netdev(const char *buf, size_t len, dl_cgroup_net_t *out)
{
	const char *cur = buf, *end = buf + len, *l;
	size_t ln;
	int headers = 0;
	dl_cgroup_net_t acc = {0};

	if (!whole_lines(buf, len))
		return DL_EPROTO;
	while (next_line(&cur, end, &l, &ln)) {
		/* the two header lines are the only ones with a '|' */
		if (memchr(l, '|', ln) && !memchr(l, ':', ln)) {
			headers++;
			continue;
		}
		if (headers != 2 || netdev_line(l, ln, &acc) < 0)
			return DL_EPROTO;
	}
	if (headers != 2)
		return DL_EPROTO;
	*out = acc;
	return 0;
}

/* ------------------------------------------------------------------ opening */

static int valid_id(const char *id)
{
	size_t n = strnlen(id, ID_MAX + 1);

	if (n == 0 || n > ID_MAX)
		return 0;
	/* no '.' and no '/': the id becomes a path component */
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* Opens root/sub/<layout> for the first layout that exists; -1 if none. */
static int open_container_dir(const char *root, const char *sub, const char *id)
{
	char path[PATH_MAX];
	int n, fd;

	for (int layout = 0; layout < 2; layout++) {
		if (layout == 0)
			n = snprintf(path, sizeof(path), "%s%s%s/docker/%s",
				     root, *sub ? "/" : "", sub, id);
		else
			n = snprintf(path, sizeof(path),
				     "%s%s%s/system.slice/docker-%s.scope",
				     root, *sub ? "/" : "", sub, id);
		if (n < 0 || (size_t)n >= sizeof(path))
			return -1;
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			DL_LOG_DEBUG(TAG, "container %.12s: %s", id, path);
			return fd;
		}
	}
	return -1;
}

static int open_in(int dirfd, const char *name)
{
	return openat(dirfd, name, O_RDONLY | O_CLOEXEC);
}

/* v1 controller mount names differ between distributions ("cpuacct" alone,
 * or co-mounted as "cpu,cpuacct"); the first that holds the container
 * wins. */
static void open_v1(dl_cgroup_t *cg, const char *root, const char *id)
{
	static const char *const cpu_dirs[] = {"cpuacct", "cpu,cpuacct",
					       "cpuacct,cpu"};
	int d;

	for (size_t i = 0; i < sizeof(cpu_dirs) / sizeof(cpu_dirs[0]); i++) {
		d = open_container_dir(root, cpu_dirs[i], id);
		if (d < 0)
			continue;
		cg->fd[F_CPU] = open_in(d, "cpuacct.usage");
		close(d);
		if (cg->fd[F_CPU] >= 0)
			break;
	}
	d = open_container_dir(root, "memory", id);
	if (d >= 0) {
		cg->fd[F_MEM_USAGE] = open_in(d, "memory.usage_in_bytes");
		cg->fd[F_MEM_STAT] = open_in(d, "memory.stat");
		cg->fd[F_MEM_LIMIT] = open_in(d, "memory.limit_in_bytes");
		close(d);
	}
	d = open_container_dir(root, "blkio", id);
	if (d >= 0) {
		/* _recursive includes child cgroups; old kernels lack it */
		cg->fd[F_BLKIO] =
			open_in(d, "blkio.throttle.io_service_bytes_recursive");
		if (cg->fd[F_BLKIO] < 0)
			cg->fd[F_BLKIO] =
				open_in(d, "blkio.throttle.io_service_bytes");
		close(d);
	}
	d = open_container_dir(root, "pids", id);
	if (d >= 0) {
		cg->fd[F_PIDS] = open_in(d, "pids.current");
		close(d);
	}
}

static void open_v2(dl_cgroup_t *cg, const char *root, const char *id)
{
	int d = open_container_dir(root, "", id);

	if (d < 0)
		return;
	cg->fd[F_CPU] = open_in(d, "cpu.stat");
	cg->fd[F_MEM_USAGE] = open_in(d, "memory.current");
	cg->fd[F_MEM_STAT] = open_in(d, "memory.stat");
	cg->fd[F_MEM_LIMIT] = open_in(d, "memory.max");
	cg->fd[F_BLKIO] = open_in(d, "io.stat");
	cg->fd[F_PIDS] = open_in(d, "pids.current");
	close(d);
}

static int is_v2(const char *root)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/cgroup.controllers", root);

	return n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0;
}

static void open_net(dl_cgroup_t *cg, int pid, const char *proc_root)
{
	char path[PATH_MAX];
	int n;

	if (pid <= 0 || !proc_root)
		return;
	n = snprintf(path, sizeof(path), "%s/%d/net/dev", proc_root, pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	cg->fd[F_NET] = open(path, O_RDONLY | O_CLOEXEC);
	if (cg->fd[F_NET] < 0)
		DL_LOG_DEBUG(TAG, "%s: %s (no network counters)", path,
			     strerror(errno));
}

dl_cgroup_t *dl_cgroup_open(const char *root, const char *container_id, int pid,
			    const char *proc_root, char *err, size_t errlen)
{
	dl_cgroup_t *cg = NULL;
	int any = 0;

	if (!root || !container_id || !valid_id(container_id)) {
		snprintf(err, errlen,
			 "container id is not 1-%d letters, digits, '_' or '-'",
			 ID_MAX);
		goto fail;
	}
	cg = malloc(sizeof(*cg));
	if (!cg) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < F_COUNT; i++)
		cg->fd[i] = -1;
	cg->buf = shared_buf;
	cg->version = is_v2(root) ? 2 : 1;
	if (cg->version == 2)
		open_v2(cg, root, container_id);
	else
		open_v1(cg, root, container_id);
	for (int i = 0; i < F_NET; i++)
		any |= cg->fd[i] >= 0;
	if (!any) {
		snprintf(err, errlen,
			 "no cgroup v%d of container %.12s under %s (tried "
			 "docker/<id> and system.slice/docker-<id>.scope)",
			 cg->version, container_id, root);
		goto fail;
	}
	open_net(cg, pid, proc_root);
	return cg;
fail:
	dl_cgroup_close(cg);
	return NULL;
}

int dl_cgroup_version(const dl_cgroup_t *cg)
{
	return cg->version;
}

void dl_cgroup_close(dl_cgroup_t *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < F_COUNT; i++)
		if (cg->fd[i] >= 0)
			close(cg->fd[i]);
	free(cg);
}

/* ------------------------------------------------------------------ reading */

ssize_t dl_cgroup_pread(int fd, char *buf, uint32_t *flags)
{
	ssize_t n;

	if (fd < 0)
		return -1;
	do
		n = pread(fd, buf, DL_CGROUP_READ_MAX + 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n > DL_CGROUP_READ_MAX) {
		const char *nl = memrchr(buf, '\n', DL_CGROUP_READ_MAX);

		*flags |= DL_CGROUP_F_TRUNCATED;
		n = nl ? nl - buf + 1 : 0;
	}
	return n;
}

static ssize_t read_slot(dl_cgroup_t *cg, int i, uint32_t *flags)
{
	return dl_cgroup_pread(cg->fd[i], cg->buf, flags);
}

static void read_cpu(dl_cgroup_t *cg, dl_cgroup_sample_t *s)
{
	ssize_t n = read_slot(cg, F_CPU, &s->flags);
	int rc;

	if (n < 0)
		return;
	if (cg->version == 2)
		rc = dl_cgroup_parse_cpustat(cg->buf, (size_t)n, &s->cpu_ns);
	else
		rc = dl_cgroup_parse_u64(cg->buf, (size_t)n, &s->cpu_ns);
	if (rc == 0)
		s->valid |= DL_CGROUP_HAVE_CPU;
}

static void read_mem(dl_cgroup_t *cg, dl_cgroup_sample_t *s)
{
	uint64_t usage, inactive = 0;
	ssize_t n = read_slot(cg, F_MEM_USAGE, &s->flags);
	int rc;

	if (n >= 0 && dl_cgroup_parse_u64(cg->buf, (size_t)n, &usage) == 0) {
		n = read_slot(cg, F_MEM_STAT, &s->flags);
		/* a memory.stat without the key means the CLI subtracts 0 */
		rc = n < 0 ? DL_EIO
			   : dl_cgroup_parse_memory_stat(cg->buf, (size_t)n,
							 &inactive);
		if (rc == 0 || rc == DL_ENOENT) {
			s->mem_usage = dl_cgroup_mem_usage(usage, inactive);
			s->valid |= DL_CGROUP_HAVE_MEM;
		}
	}
	n = read_slot(cg, F_MEM_LIMIT, &s->flags);
	if (n >= 0 &&
	    dl_cgroup_parse_limit(cg->buf, (size_t)n, &s->mem_limit) == 0)
		s->valid |= DL_CGROUP_HAVE_MEM_LIMIT;
}

static void read_rest(dl_cgroup_t *cg, dl_cgroup_sample_t *s)
{
	dl_cgroup_net_t net;
	ssize_t n;
	int rc;

	n = read_slot(cg, F_BLKIO, &s->flags);
	if (n >= 0) {
		if (cg->version == 2)
			rc = dl_cgroup_parse_iostat(cg->buf, (size_t)n,
						    &s->blk_read_bytes,
						    &s->blk_write_bytes);
		else
			rc = dl_cgroup_parse_blkio(cg->buf, (size_t)n,
						   &s->blk_read_bytes,
						   &s->blk_write_bytes);
		if (rc == 0)
			s->valid |= DL_CGROUP_HAVE_BLKIO;
	}
	n = read_slot(cg, F_PIDS, &s->flags);
	if (n >= 0 && dl_cgroup_parse_u64(cg->buf, (size_t)n, &s->pids) == 0)
		s->valid |= DL_CGROUP_HAVE_PIDS;
	n = read_slot(cg, F_NET, &s->flags);
	if (n >= 0 && dl_cgroup_parse_netdev(cg->buf, (size_t)n, &net) == 0) {
		s->net_rx_bytes = net.rx_bytes;
		s->net_tx_bytes = net.tx_bytes;
		s->net_rx_packets = net.rx_packets;
		s->net_tx_packets = net.tx_packets;
		s->valid |= DL_CGROUP_HAVE_NET;
	}
}

int dl_cgroup_read(dl_cgroup_t *cg, dl_cgroup_sample_t *out)
{
	memset(out, 0, sizeof(*out));
	read_cpu(cg, out);
	read_mem(cg, out);
	read_rest(cg, out);
	/* Once the container is gone its cgroup files fail with ENODEV, but a
	 * kept-open <pid>/net/dev still reads (an empty namespace with a
	 * zeroed lo): network counters alone would report a bogus reset. */
	if (!(out->valid & ~(uint32_t)DL_CGROUP_HAVE_NET)) {
		memset(out, 0, sizeof(*out));
		return DL_EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ rates */

double dl_cgroup_cpu_percent(uint64_t prev_container_ns,
			     uint64_t cur_container_ns, uint64_t prev_system_ns,
			     uint64_t cur_system_ns, unsigned online_cpus)
{
	if (cur_container_ns < prev_container_ns ||
	    cur_system_ns <= prev_system_ns || online_cpus == 0)
		return -1.0;
	return (double)(cur_container_ns - prev_container_ns) /
	       (double)(cur_system_ns - prev_system_ns) * online_cpus * 100.0;
}

uint64_t dl_cgroup_effective_mem_limit(uint64_t mem_limit,
				       uint64_t host_mem_total)
{
	if (host_mem_total && (mem_limit == 0 || mem_limit > host_mem_total))
		return host_mem_total;
	return mem_limit;
}
