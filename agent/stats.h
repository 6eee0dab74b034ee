/* stats.h - the agent's sampler: every stats_interval seconds one STATS
 * batch (every running container) and one HOSTSTATS frame.
 *
 * Containers are read from their cgroup files, opened once per container
 * (after one /containers/<id>/json to learn the init pid) and re-read with
 * pread; only containers whose cgroups cannot be opened (or all, with
 * stats_source = api) go through the Docker stats API, at most
 * DL_STATS_API_INFLIGHT calls at a time. It never blocks the loop, never
 * allocates per tick beyond growing its reused arrays, and never names a
 * container by anything but the idx the watcher gave it. */
#ifndef DL_AGENT_STATS_H
#define DL_AGENT_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "agent/watch.h"
#include "proto/msg.h"

#define DL_STATS_API_INFLIGHT	  4
#define DL_STATS_INSPECT_INFLIGHT 8

/* Worst-case msgpack size of one sample: array header, idx and valid as
 * u32 (5 each), ten u64 (9 each). */
#define DL_STATS_SAMPLE_MAX (1u + 5u + 5u + 10u * 9u)
/* Samples per STATS frame so that the worst case still fits DL_FRAME_MAX
 * (the frame's head and array header take under 64 bytes). */
#define DL_STATS_PER_FRAME 10000u

typedef struct dl_sampler dl_sampler_t;

typedef struct {
	int interval_s;		 /* 1..3600 */
	int source;		 /* DL_STATS_SRC_* (agent/conf.h) */
	const char *cgroup_root; /* NULL = "/sys/fs/cgroup" */
	const char *proc_root;	 /* NULL = "/proc" */
} dl_sampler_opts_t;

/* One frame to send: STATS or HOSTSTATS, with time_ns set (the sample
 * time; every frame of one tick carries the same). m and what it points to
 * are valid only during the call. */
typedef void (*dl_sampler_emit_cb)(void *ud, dl_msg_t *m);

/* watch: the Docker watcher whose client, API prefix and root dir are
 * used (must outlive the sampler or be closed after it). */
dl_sampler_t *dl_sampler_new(uv_loop_t *loop, dl_watch_t *watch,
			     const dl_sampler_opts_t *opts,
			     dl_sampler_emit_cb emit, void *ud);
int dl_sampler_start(dl_sampler_t *s);
/* Feed the watcher's callbacks through: which containers run, with idx. */
void dl_sampler_inventory(dl_sampler_t *s, const dl_container_t *v, uint32_t n);
void dl_sampler_container(dl_sampler_t *s, bool removed,
			  const dl_container_t *c);
/* Cancels requests, closes every fd; done(arg) once the timer closed. */
void dl_sampler_close(dl_sampler_t *s, void (*done)(void *), void *arg);

/* Open cgroup handles and running containers tracked (tests, checks). */
uint32_t dl_sampler_open_cgroups(const dl_sampler_t *s);
uint32_t dl_sampler_count(const dl_sampler_t *s);

/* Calls emit once per DL_STATS_PER_FRAME (per_frame, 0 = that) samples of
 * batch->v, each frame a STATS message with the same time_ns,
 * system_cpu_ns and online_cpus; an empty batch still makes one frame.
 * Returns the number of frames. */
uint32_t dl_stats_split(const dl_stats_t *batch, uint64_t time_ns,
			uint32_t per_frame, dl_sampler_emit_cb emit, void *ud);

/* Parses a /containers/<id>/stats?stream=false&one-shot=true body into
 * out (idx left 0) and Docker's system_cpu_usage (0 when absent).
 * Returns 0, DL_ENOENT (container not running: zero "read" time) or
 * DL_EPROTO. Fields absent from the body leave their valid bit clear. */
int dl_stats_parse_api(const char *json, size_t len, dl_sample_t *out,
		       uint64_t *system_cpu_ns);

/* /containers/<id>/json: State.Pid of a running container. 0, DL_ENOENT
 * (not running, pid 0) or DL_EPROTO. */
int dl_stats_parse_inspect(const char *json, size_t len, int *pid);

#endif
