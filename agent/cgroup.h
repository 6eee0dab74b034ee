/* cgroup.h - cheap per-container samples read straight from cgroup files.
 *
 * The Docker stats API costs dockerd milliseconds of CPU per container and
 * about a second per call on Docker < 25; reading the container's cgroup
 * files with descriptors opened once costs microseconds. This module finds
 * a container's cgroup directories (v1 and v2, cgroupfs and systemd
 * layouts) once, keeps the files open and pread()s them on every sample.
 * It never writes to a cgroup file, never allocates per sample and never
 * trusts a file's content: anything it cannot parse is reported as unknown
 * through the valid mask, not guessed.
 *
 * Not thread-safe: all handles share one read buffer (the agent samples
 * on its single loop thread).
 */
#ifndef DL_AGENT_CGROUP_H
#define DL_AGENT_CGROUP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest part of one cgroup or /proc file that is looked at. Bigger files
 * are cut at the last whole line that fits and flagged truncated. */
#define DL_CGROUP_READ_MAX (64u * 1024u)

/* Bits of dl_cgroup_sample_t.valid: a field is meaningful only when its
 * bit is set. */
enum {
	DL_CGROUP_HAVE_CPU = 1u << 0,	    /* cpu_ns */
	DL_CGROUP_HAVE_MEM = 1u << 1,	    /* mem_usage */
	DL_CGROUP_HAVE_MEM_LIMIT = 1u << 2, /* mem_limit */
	DL_CGROUP_HAVE_BLKIO = 1u << 3,	    /* blk_read/write_bytes */
	DL_CGROUP_HAVE_PIDS = 1u << 4,	    /* pids */
	DL_CGROUP_HAVE_NET = 1u << 5,	    /* net_* */
};

/* Bits of dl_cgroup_sample_t.flags. */
enum {
	/* A file was larger than DL_CGROUP_READ_MAX; its fields come from the
	 * part that fit. */
	DL_CGROUP_F_TRUNCATED = 1u << 0,
};

/* One sample. Counters are cumulative since the container started, so a
 * lost or repeated sample never corrupts a rate. */
typedef struct {
	uint32_t valid;	 /* DL_CGROUP_HAVE_* */
	uint32_t flags;	 /* DL_CGROUP_F_* */
	uint64_t cpu_ns; /* CPU time used, all CPUs, ns */
	uint64_t
		mem_usage; /* bytes, Docker CLI formula (usage - inactive file) */
	uint64_t mem_limit; /* bytes; 0 = no limit set */
	uint64_t blk_read_bytes;
	uint64_t blk_write_bytes;
	uint64_t pids;
	uint64_t net_rx_bytes; /* all interfaces but lo */
	uint64_t net_tx_bytes;
	uint64_t net_rx_packets;
	uint64_t net_tx_packets;
} dl_cgroup_sample_t;

typedef struct dl_cgroup dl_cgroup_t;

/* Finds the cgroup of container_id under root ("/sys/fs/cgroup" or a
 * fixture tree) and opens the files it samples (O_RDONLY|O_CLOEXEC). v2 is
 * used when root/cgroup.controllers exists, v1 otherwise. Layouts tried:
 * docker/<id> (cgroupfs driver) and system.slice/docker-<id>.scope
 * (systemd driver); for v1 each controller (cpuacct, memory, blkio, pids)
 * on its own, so a missing controller only makes its fields unknown.
 * pid > 0: the container's init pid, whose proc_root/<pid>/net/dev gives
 * the network counters (0 = no network counters). container_id: 1-128 of
 * [A-Za-z0-9_-]. Returns NULL with a sentence in err when the id is bad or
 * no cgroup file of the container could be opened. Caller owns the result
 * and frees it with dl_cgroup_close(). */
dl_cgroup_t *dl_cgroup_open(const char *root, const char *container_id, int pid,
			    const char *proc_root, char *err, size_t errlen);

/* Reads every open file once. out is always fully written. Returns 0 when
 * at least one cgroup field is valid, DL_EIO (and valid = 0) when none is:
 * typically the container is gone and its cgroup was removed; network
 * counters alone do not count, since a dead task's net/dev still reads.
 * A container that restarted has a new cgroup and pid: reopen. */
int dl_cgroup_read(dl_cgroup_t *cg, dl_cgroup_sample_t *out);

/* 1 or 2. */
int dl_cgroup_version(const dl_cgroup_t *cg);

/* Closes every descriptor and frees cg; NULL is a no-op. */
void dl_cgroup_close(dl_cgroup_t *cg);

/* CPU percent the way the Docker CLI computes it:
 * (container delta / system delta) * online_cpus * 100, where the system
 * counter comes from dl_hostmetrics_system_cpu_ns(). Returns -1 (unknown)
 * when a counter went backwards (container restarted, host rebooted), when
 * no system time passed or online_cpus is 0; never a garbage value. */
double dl_cgroup_cpu_percent(uint64_t prev_container_ns,
			     uint64_t cur_container_ns, uint64_t prev_system_ns,
			     uint64_t cur_system_ns, unsigned online_cpus);

/* What the Docker daemon reports as the limit: the host's memory when the
 * container has no limit or one above the host's memory. */
uint64_t dl_cgroup_effective_mem_limit(uint64_t mem_limit,
				       uint64_t host_mem_total);

/* ------------------------------------------------------------------------
 * Parsers, exposed for unit tests. Each takes the file content (buf, len,
 * not necessarily NUL-terminated) and returns 0, DL_ENOENT (key absent) or
 * DL_EPROTO (anything malformed: garbage, truncated line, value out of
 * range). Outputs are written only on success. */

/* A file holding one decimal number ("123\n"), as pids.current. */
int dl_cgroup_parse_u64(const char *buf, size_t len, uint64_t *out);

/* A memory limit: v1 memory.limit_in_bytes or v2 memory.max. "max" and
 * values >= 2^62 (v1 prints PAGE_COUNTER_MAX pages, 9223372036854771712)
 * mean no limit: *out = 0. */
int dl_cgroup_parse_limit(const char *buf, size_t len, uint64_t *out);

/* Flat keyed file ("key value" per line): the value of key. */
int dl_cgroup_parse_keyed(const char *buf, size_t len, const char *key,
			  uint64_t *out);

/* memory.stat: the inactive file bytes the Docker CLI subtracts from the
 * usage: total_inactive_file (v1, hierarchical) if present, else
 * inactive_file (v2, or a v1 kernel without total_*). */
int dl_cgroup_parse_memory_stat(const char *buf, size_t len,
				uint64_t *inactive_file);

/* Docker CLI memory usage: usage - inactive_file when inactive < usage,
 * else usage. */
uint64_t dl_cgroup_mem_usage(uint64_t usage, uint64_t inactive_file);

/* v2 cpu.stat: usage_usec * 1000. */
int dl_cgroup_parse_cpustat(const char *buf, size_t len, uint64_t *cpu_ns);

/* v1 blkio.throttle.io_service_bytes: "MAJ:MIN Op N" lines plus a final
 * "Total N"; Read and Write summed over devices. An empty file is 0/0. */
int dl_cgroup_parse_blkio(const char *buf, size_t len, uint64_t *rd,
			  uint64_t *wr);

/* v2 io.stat: "MAJ:MIN rbytes=N wbytes=N rios=N ..." per device; rbytes
 * and wbytes summed. An empty file is 0/0. */
int dl_cgroup_parse_iostat(const char *buf, size_t len, uint64_t *rd,
			   uint64_t *wr);

typedef struct {
	uint64_t rx_bytes;
	uint64_t rx_packets;
	uint64_t tx_bytes;
	uint64_t tx_packets;
} dl_cgroup_net_t;

/* /proc/<pid>/net/dev or /proc/net/dev: two header lines, then
 * "iface: 16 numbers"; summed over every interface but lo. */
int dl_cgroup_parse_netdev(const char *buf, size_t len, dl_cgroup_net_t *out);

/* Strict decimal u64 of exactly n bytes: digits only, no sign, no
 * blanks, no overflow. 0 or DL_EPROTO. */
int dl_cgroup_parse_dec(const char *p, size_t n, uint64_t *out);

/* Reads a kept-open /proc or cgroup file from offset 0 into buf (which
 * holds DL_CGROUP_READ_MAX + 1 bytes). A file that does not fit is cut at
 * its last whole line and DL_CGROUP_F_TRUNCATED set in *flags. Returns
 * the length, or -1 (fd < 0 or read error). */
ssize_t dl_cgroup_pread(int fd, char *buf, uint32_t *flags);

#endif
