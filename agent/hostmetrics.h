/* hostmetrics.h - the Docker host's own CPU, memory, load, disk and network
 * counters, read from /proc (or a fixture tree) with files kept open.
 *
 * Also the "system CPU" counter that container CPU percentages are divided
 * by, computed exactly as dockerd does so percentages match `docker stats`.
 * Never writes anything, never allocates per sample; a file it cannot parse
 * makes its fields unknown (valid mask), never a guess. */
#ifndef DL_AGENT_HOSTMETRICS_H
#define DL_AGENT_HOSTMETRICS_H

#include <stddef.h>
#include <stdint.h>

/* Bits of dl_hostmetrics_sample_t.valid. */
enum {
	DL_HOST_HAVE_CPU = 1u << 0,  /* cpu_*_ns, online_cpus, system_cpu_ns */
	DL_HOST_HAVE_MEM = 1u << 1,  /* mem_*, swap_* */
	DL_HOST_HAVE_LOAD = 1u << 2, /* load1/5/15 */
	DL_HOST_HAVE_DISK = 1u << 3, /* disk_* */
	DL_HOST_HAVE_NET = 1u << 4,  /* net_* */
};

typedef struct {
	uint32_t valid; /* DL_HOST_HAVE_* */
	uint32_t flags; /* DL_CGROUP_F_TRUNCATED when a file did not fit */
	/* cumulative since boot, all CPUs, ns (first line of /proc/stat) */
	uint64_t cpu_user_ns, cpu_nice_ns, cpu_system_ns, cpu_idle_ns;
	uint64_t cpu_iowait_ns, cpu_irq_ns, cpu_softirq_ns, cpu_steal_ns;
	/* dockerd's SystemUsage: user..softirq (steal left out, as dockerd
	 * does), the divisor of dl_cgroup_cpu_percent() */
	uint64_t system_cpu_ns;
	unsigned online_cpus; /* "cpuN" lines of /proc/stat */
	uint64_t mem_total, mem_available,
		mem_used;		/* bytes; used = total-avail */
	uint64_t swap_total, swap_free; /* bytes */
	double load1, load5, load15;
	uint64_t disk_total, disk_used; /* bytes, of Docker's root dir fs */
	uint64_t net_rx_bytes, net_tx_bytes; /* all interfaces but lo */
} dl_hostmetrics_sample_t;

typedef struct dl_hostmetrics dl_hostmetrics_t;

/* Opens proc_root/{stat,meminfo,loadavg,net/dev} ("/proc" or a fixture
 * dir). docker_root_dir (e.g. /var/lib/docker; NULL = no disk figures) is
 * copied and statvfs()ed on each read. Files that cannot be opened only
 * leave their fields unknown; NULL with a sentence in err when none can.
 * Caller owns the result; free with dl_hostmetrics_close(). */
dl_hostmetrics_t *dl_hostmetrics_open(const char *proc_root,
				      const char *docker_root_dir, char *err,
				      size_t errlen);

/* Reads every source once; out is always fully written. Returns 0 when at
 * least one field is valid, DL_EIO otherwise. */
int dl_hostmetrics_read(dl_hostmetrics_t *h, dl_hostmetrics_sample_t *out);

/* Only /proc/stat: dockerd's system CPU counter (ns) and online CPUs, for
 * callers sampling containers more often than the host. Returns 0 or
 * DL_EIO / DL_EPROTO. */
int dl_hostmetrics_system_cpu_ns(dl_hostmetrics_t *h, uint64_t *ns,
				 unsigned *online_cpus);

void dl_hostmetrics_close(dl_hostmetrics_t *h);

/* Parsers, exposed for unit tests: 0 or DL_EPROTO; out fields written
 * only on success. clk_tck: ticks per second (sysconf(_SC_CLK_TCK)). */
int dl_hostmetrics_parse_stat(const char *buf, size_t len, long clk_tck,
			      dl_hostmetrics_sample_t *out);
int dl_hostmetrics_parse_meminfo(const char *buf, size_t len,
				 dl_hostmetrics_sample_t *out);
int dl_hostmetrics_parse_loadavg(const char *buf, size_t len,
				 dl_hostmetrics_sample_t *out);

#endif
