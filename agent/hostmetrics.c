#include "agent/hostmetrics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "agent/cgroup.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "hostmetrics"

enum { H_STAT, H_MEMINFO, H_LOADAVG, H_NETDEV, H_COUNT };

static const char *const h_files[H_COUNT] = {"stat", "meminfo", "loadavg",
					     "net/dev"};

struct dl_hostmetrics {
	int fd[H_COUNT];
	long clk_tck;
	char *docker_root; /* owned; NULL = no disk figures */
	char buf[DL_CGROUP_READ_MAX + 1];
};

/* Splits [*cur, end) at the next blank run; newlines end a token too. */
static int next_tok(const char **cur, const char *end, const char **tp,
		    size_t *tn)
{
	const char *p = *cur;

	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p >= end || *p == '\n') {
		*cur = p;
		return 0;
	}
	*tp = p;
	while (p < end && *p != ' ' && *p != '\t' && *p != '\n')
		p++;
	*tn = (size_t)(p - *tp);
	*cur = p;
	return 1;
}

static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl ? nl : end;
}

static int ticks_to_ns(uint64_t ticks, long clk_tck, uint64_t *ns)
{
	if (clk_tck <= 0 || __builtin_mul_overflow(ticks, 1000000000ull, ns))
		return DL_EPROTO;
	*ns /= (uint64_t)clk_tck;
	return 0;
}

/* /proc/stat, first line then the per-CPU ones:
 *
 *   cpu  user nice system idle iowait irq softirq steal guest guest_nice
 *   cpu0 ...
 */
int dl_hostmetrics_parse_stat(const char *buf, size_t len, long clk_tck,
			      dl_hostmetrics_sample_t *out)
{
	const char *cur = buf, *end = buf + len, *le, *t;
	uint64_t f[8] = {0}, sum = 0, ns[8], sys_ns;
	size_t n;
	unsigned cpus = 0;
	int k = 0;

	if (len == 0 || buf[len - 1] != '\n')
		return DL_EPROTO;
	le = line_end(cur, end);
	if (!next_tok(&cur, le, &t, &n) || n != 3 || memcmp(t, "cpu", 3))
		return DL_EPROTO;
	while (k < 8 && next_tok(&cur, le, &t, &n)) {
		if (dl_cgroup_parse_dec(t, n, &f[k]) < 0)
			return DL_EPROTO;
		k++;
	}
	if (k < 7) /* steal arrived in 2.6.11 */
		return DL_EPROTO;
	/* dockerd's getSystemCPUUsage sums user..softirq, not steal */
	for (int i = 0; i < 7; i++)
		if (__builtin_add_overflow(sum, f[i], &sum))
			return DL_EPROTO;
	if (ticks_to_ns(sum, clk_tck, &sys_ns) < 0)
		return DL_EPROTO;
	for (int i = 0; i < 8; i++)
		if (ticks_to_ns(f[i], clk_tck, &ns[i]) < 0)
			return DL_EPROTO;
	/* offline CPUs have no line: counting lines counts online CPUs */
	for (cur = le + 1; cur < end; cur = le + 1) {
		le = line_end(cur, end);
		if (le - cur > 3 && !memcmp(cur, "cpu", 3) && cur[3] >= '0' &&
		    cur[3] <= '9')
			cpus++;
	}
	if (cpus == 0)
		return DL_EPROTO;
	out->cpu_user_ns = ns[0];
	out->cpu_nice_ns = ns[1];
	out->cpu_system_ns = ns[2];
	out->cpu_idle_ns = ns[3];
	out->cpu_iowait_ns = ns[4];
	out->cpu_irq_ns = ns[5];
	out->cpu_softirq_ns = ns[6];
	out->cpu_steal_ns = ns[7];
	out->system_cpu_ns = sys_ns;
	out->online_cpus = cpus;
	return 0;
}

/* "Key:   123 kB" -> bytes; 0 found, DL_ENOENT absent, DL_EPROTO bad. */
static int meminfo_kb(const char *buf, size_t len, const char *key,
		      uint64_t *bytes)
{
	const char *cur = buf, *end = buf + len, *le, *t;
	size_t kl = strlen(key), n;
	uint64_t v;

	for (; cur < end; cur = le + 1) {
		le = line_end(cur, end);
		if ((size_t)(le - cur) <= kl || memcmp(cur, key, kl) ||
		    cur[kl] != ':')
			continue;
		cur += kl + 1;
		if (!next_tok(&cur, le, &t, &n) ||
		    dl_cgroup_parse_dec(t, n, &v) < 0)
			return DL_EPROTO;
		if (!next_tok(&cur, le, &t, &n) || n != 2 || memcmp(t, "kB", 2))
			return DL_EPROTO;
		if (__builtin_mul_overflow(v, 1024, bytes))
			return DL_EPROTO;
		return 0;
	}
	return DL_ENOENT;
}

int dl_hostmetrics_parse_meminfo(const char *buf, size_t len,
				 dl_hostmetrics_sample_t *out)
{
	uint64_t total, avail, swap_total, swap_free;

	if (len == 0 || buf[len - 1] != '\n')
		return DL_EPROTO;
	/* MemAvailable exists since 3.14; without it "used" is a guess */
	if (meminfo_kb(buf, len, "MemTotal", &total) < 0 ||
	    meminfo_kb(buf, len, "MemAvailable", &avail) < 0 ||
	    meminfo_kb(buf, len, "SwapTotal", &swap_total) < 0 ||
	    meminfo_kb(buf, len, "SwapFree", &swap_free) < 0)
		return DL_EPROTO;
	out->mem_total = total;
	out->mem_available = avail;
	out->mem_used = avail < total ? total - avail : 0;
	out->swap_total = swap_total;
	out->swap_free = swap_free;
	return 0;
}

/* "0.83 0.43 0.20 1/128 9587": the three load averages. */
int dl_hostmetrics_parse_loadavg(const char *buf, size_t len,
				 dl_hostmetrics_sample_t *out)
{
	const char *cur = buf, *end = buf + len, *t;
	char tmp[32];
	double l[3];
	size_t n;

	for (int i = 0; i < 3; i++) {
		char *e;

		if (!next_tok(&cur, end, &t, &n) || n >= sizeof(tmp))
			return DL_EPROTO;
		memcpy(tmp, t, n);
		tmp[n] = '\0';
		if (tmp[0] < '0' || tmp[0] > '9')
			return DL_EPROTO;
		errno = 0;
		l[i] = strtod(tmp, &e);
		if (errno || *e || !isfinite(l[i]))
			return DL_EPROTO;
	}
	if (!next_tok(&cur, end, &t, &n) || !memchr(t, '/', n))
		return DL_EPROTO;
	out->load1 = l[0];
	out->load5 = l[1];
	out->load15 = l[2];
	return 0;
}

/* ------------------------------------------------------------------ object */

dl_hostmetrics_t *dl_hostmetrics_open(const char *proc_root,
				      const char *docker_root_dir, char *err,
				      size_t errlen)
{
	dl_hostmetrics_t *h = calloc(1, sizeof(*h));
	char path[PATH_MAX];
	int any = 0, n;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	for (int i = 0; i < H_COUNT; i++)
		h->fd[i] = -1;
	h->clk_tck = sysconf(_SC_CLK_TCK);
	if (h->clk_tck <= 0)
		h->clk_tck = 100; /* USER_HZ on every Linux ABI */
	if (docker_root_dir) {
		h->docker_root = strdup(docker_root_dir);
		if (!h->docker_root) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	for (int i = 0; i < H_COUNT; i++) {
		n = snprintf(path, sizeof(path), "%s/%s", proc_root,
			     h_files[i]);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		h->fd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (h->fd[i] < 0)
			DL_LOG_WARN(TAG, "%s: %s", path, strerror(errno));
		any |= h->fd[i] >= 0;
	}
	if (!any) {
		snprintf(err, errlen,
			 "none of stat, meminfo, loadavg, net/dev "
			 "could be opened under %s",
			 proc_root);
		goto fail;
	}
	return h;
fail:
	dl_hostmetrics_close(h);
	return NULL;
}

void dl_hostmetrics_close(dl_hostmetrics_t *h)
{
	if (!h)
		return;
	for (int i = 0; i < H_COUNT; i++)
		if (h->fd[i] >= 0)
			close(h->fd[i]);
	free(h->docker_root);
	free(h);
}

static ssize_t read_slot(dl_hostmetrics_t *h, int i, uint32_t *flags)
{
	return dl_cgroup_pread(h->fd[i], h->buf, flags);
}

int dl_hostmetrics_system_cpu_ns(dl_hostmetrics_t *h, uint64_t *ns,
				 unsigned *online_cpus)
{
	dl_hostmetrics_sample_t s;
	uint32_t flags = 0;
	ssize_t n = read_slot(h, H_STAT, &flags);

	if (n < 0)
		return DL_EIO;
	if (dl_hostmetrics_parse_stat(h->buf, (size_t)n, h->clk_tck, &s) < 0)
		return DL_EPROTO;
	*ns = s.system_cpu_ns;
	if (online_cpus)
		*online_cpus = s.online_cpus;
	return 0;
}

static void read_disk(dl_hostmetrics_t *h, dl_hostmetrics_sample_t *s)
{
	struct statvfs v;

	if (!h->docker_root || statvfs(h->docker_root, &v) < 0)
		return;
	if (__builtin_mul_overflow((uint64_t)v.f_blocks, (uint64_t)v.f_frsize,
				   &s->disk_total) ||
	    v.f_bfree > v.f_blocks)
		return;
	s->disk_used = (uint64_t)(v.f_blocks - v.f_bfree) * v.f_frsize;
	s->valid |= DL_HOST_HAVE_DISK;
}

int dl_hostmetrics_read(dl_hostmetrics_t *h, dl_hostmetrics_sample_t *out)
{
	dl_cgroup_net_t net;
	ssize_t n;

	memset(out, 0, sizeof(*out));
	n = read_slot(h, H_STAT, &out->flags);
	if (n >= 0 &&
	    dl_hostmetrics_parse_stat(h->buf, (size_t)n, h->clk_tck, out) == 0)
		out->valid |= DL_HOST_HAVE_CPU;
	n = read_slot(h, H_MEMINFO, &out->flags);
	if (n >= 0 && dl_hostmetrics_parse_meminfo(h->buf, (size_t)n, out) == 0)
		out->valid |= DL_HOST_HAVE_MEM;
	n = read_slot(h, H_LOADAVG, &out->flags);
	if (n >= 0 && dl_hostmetrics_parse_loadavg(h->buf, (size_t)n, out) == 0)
		out->valid |= DL_HOST_HAVE_LOAD;
	n = read_slot(h, H_NETDEV, &out->flags);
	if (n >= 0 && dl_cgroup_parse_netdev(h->buf, (size_t)n, &net) == 0) {
		out->net_rx_bytes = net.rx_bytes;
		out->net_tx_bytes = net.tx_bytes;
		out->valid |= DL_HOST_HAVE_NET;
	}
	read_disk(h, out);
	return out->valid ? 0 : DL_EIO;
}
