/* stats.c - container and host sampling on a timer in the agent's loop.
 *
 * Per container a small state machine:
 *   NEW --inspect--> INSPECTING --pid, cgroup opened--> CGROUP
 *                              \--cgroup cannot open--> API (auto) / OFF
 *   CGROUP --read fails (stopped, restarted: new cgroup)--> NEW
 * API containers get one one-shot stats call per tick at most, with
 * DL_STATS_API_INFLIGHT calls in flight over all; the latest answer that
 * arrived since the previous tick goes into the batch. Its counters are
 * cumulative, so a sample that is a little older than the tick only moves
 * a rate's window, never corrupts it. */
#include "agent/stats.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/cgroup.h"
#include "agent/conf.h"
#include "agent/docker.h"
#include "agent/hostmetrics.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define TAG		   "stats"
#define INSPECT_TIMEOUT_MS 10000L
#define INSPECT_MAX_BODY   (1024u * 1024u)
#define API_TIMEOUT_MS	   20000L
#define API_MAX_BODY	   (256u * 1024u)
#define DEFAULT_ROOT_DIR   "/var/lib/docker"
#define ID_MAX		   64 /* full hex id: the only thing put into a URL */
#define NBUCKETS	   1024

typedef enum { C_NEW, C_INSPECTING, C_CGROUP, C_API, C_OFF } cmode_t;

typedef struct cont {
	dl_sampler_t *s;
	struct cont *next; /* hash chain */
	uint32_t pos;	   /* in s->v */
	uint32_t idx;
	cmode_t mode;
	bool seen;	      /* in the latest inventory */
	bool have_api;	      /* api holds an answer not yet sent */
	dl_docker_req_t *req; /* inspect or stats in flight */
	dl_cgroup_t *cg;
	dl_sample_t api;
	char id[ID_MAX + 1];
} cont_t;

struct dl_sampler {
	uv_loop_t *loop;
	uv_timer_t timer;
	dl_watch_t *watch;
	dl_sampler_opts_t o;
	char cgroup_root[256];
	char proc_root[256];
	dl_sampler_emit_cb emit;
	void *ud;
	dl_hostmetrics_t *host;
	char host_root[1024];	   /* root dir host was opened with */
	cont_t **v;		   /* running containers */
	cont_t *buckets[NBUCKETS]; /* by id: inventories stay O(n) */
	uint32_t n, cap;
	dl_sample_t *batch; /* reused every tick */
	uint32_t batch_cap;
	uint32_t api_inflight, inspect_inflight;
	uint32_t pump_from; /* v[] before it need no inspect */
	uint32_t ncg;
	bool closing;
	void (*done)(void *);
	void *done_arg;
};

/* ---- parsers ---------------------------------------------------------- */

static bool get_u64(json_t *o, const char *key, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static void parse_blkio(json_t *blk, dl_sample_t *out)
{
	json_t *a = json_object_get(blk, "io_service_bytes_recursive");
	json_t *e;
	size_t i;

	if (!json_is_object(blk))
		return;
	/* null (cgroup v2, no I/O yet) or [] both mean nothing read yet. */
	if (a && !json_is_array(a) && !json_is_null(a))
		return;
	json_array_foreach(a, i, e)
	{
		const char *op = json_string_value(json_object_get(e, "op"));
		uint64_t val;

		if (!op || !get_u64(e, "value", &val))
			continue;
		if (strcasecmp(op, "read") == 0)
			out->blk_read_bytes += val;
		else if (strcasecmp(op, "write") == 0)
			out->blk_write_bytes += val;
	}
	out->valid |= DL_SV_BLK;
}

int dl_stats_parse_api(const char *json, size_t len, dl_sample_t *out,
		       uint64_t *system_cpu_ns)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	json_t *cpu, *mem, *nets, *nv;
	const char *read, *key;
	uint64_t u, inactive;
	int rc = DL_EPROTO;

	memset(out, 0, sizeof(*out));
	*system_cpu_ns = 0;
	if (!json_is_object(root))
		goto out;
	read = json_string_value(json_object_get(root, "read"));
	if (read && strncmp(read, "0001-01-01", 10) == 0) {
		rc = DL_ENOENT; /* dockerd's answer for a stopped container */
		goto out;
	}
	cpu = json_object_get(root, "cpu_stats");
	if (json_is_object(cpu)) {
		if (get_u64(json_object_get(cpu, "cpu_usage"), "total_usage",
			    &out->cpu_ns))
			out->valid |= DL_SV_CPU;
		get_u64(cpu, "system_cpu_usage", system_cpu_ns);
	}
	mem = json_object_get(root, "memory_stats");
	if (json_is_object(mem)) {
		json_t *st = json_object_get(mem, "stats");

		if (get_u64(mem, "usage", &u)) {
			/* The docker CLI's formula, as the cgroup path uses. */
			if (!get_u64(st, "total_inactive_file", &inactive) &&
			    !get_u64(st, "inactive_file", &inactive))
				inactive = 0;
			out->mem_usage = dl_cgroup_mem_usage(u, inactive);
			out->valid |= DL_SV_MEM;
		}
		if (get_u64(mem, "limit", &out->mem_limit))
			out->valid |= DL_SV_MEMLIMIT;
	}
	nets = json_object_get(root, "networks");
	if (json_is_object(nets)) {
		json_object_foreach(nets, key, nv)
		{
			if (get_u64(nv, "rx_bytes", &u))
				out->net_rx_bytes += u;
			if (get_u64(nv, "tx_bytes", &u))
				out->net_tx_bytes += u;
			if (get_u64(nv, "rx_packets", &u))
				out->net_rx_packets += u;
			if (get_u64(nv, "tx_packets", &u))
				out->net_tx_packets += u;
		}
		out->valid |= DL_SV_NET;
	}
	parse_blkio(json_object_get(root, "blkio_stats"), out);
	if (get_u64(json_object_get(root, "pids_stats"), "current", &out->pids))
		out->valid |= DL_SV_PIDS;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

int dl_stats_parse_inspect(const char *json, size_t len, int *pid)
{
	json_error_t jerr;
	json_t *root = json_loadb(json, len, 0, &jerr);
	json_t *st = json_object_get(root, "State");
	json_t *p = json_object_get(st, "Pid");
	json_t *run = json_object_get(st, "Running");
	int rc = DL_EPROTO;

	if (!json_is_object(st) || !json_is_integer(p) ||
	    json_integer_value(p) < 0 || json_integer_value(p) > INT32_MAX)
		goto out;
	rc = DL_ENOENT;
	if (!json_is_true(run) || json_integer_value(p) == 0)
		goto out;
	*pid = (int)json_integer_value(p);
	rc = 0;
out:
	json_decref(root);
	return rc;
}

uint32_t dl_stats_split(const dl_stats_t *batch, uint64_t time_ns,
			uint32_t per_frame, dl_sampler_emit_cb emit, void *ud)
{
	uint32_t off = 0, frames = 0;

	if (per_frame == 0 || per_frame > DL_STATS_PER_FRAME)
		per_frame = DL_STATS_PER_FRAME;
	do {
		dl_msg_t m = {.type = DL_MSG_STATS, .time_ns = time_ns};
		uint32_t k = batch->n - off;

		if (k > per_frame)
			k = per_frame;
		m.u.stats = *batch;
		m.u.stats.n = k;
		m.u.stats.v = k ? batch->v + off : NULL;
		emit(ud, &m);
		off += k;
		frames++;
	} while (off < batch->n);
	return frames;
}

/* ---- container table --------------------------------------------------- */

static void pump_inspects(dl_sampler_t *s);

static bool id_ok(const char *p, size_t n)
{
	if (n == 0 || n > ID_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((p[i] >= '0' && p[i] <= '9') ||
		      (p[i] >= 'a' && p[i] <= 'f')))
			return false;
	return true;
}

static uint32_t hash_id(const char *p, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h % NBUCKETS;
}

static cont_t *find(dl_sampler_t *s, dl_str_t id, uint32_t *pos)
{
	cont_t *c = s->buckets[hash_id(id.p, id.n)];

	while (c && !dl_str_eq(id, c->id))
		c = c->next;
	if (c && pos)
		*pos = c->pos;
	return c;
}

static void close_cg(cont_t *c)
{
	if (!c->cg)
		return;
	dl_cgroup_close(c->cg);
	c->cg = NULL;
	c->s->ncg--;
}

/* The done callback runs inside dl_docker_cancel and only clears c->req. */
static void cancel(cont_t *c)
{
	if (c->req)
		dl_docker_cancel(c->req);
}

static void drop(dl_sampler_t *s, uint32_t pos)
{
	cont_t *c = s->v[pos];
	cont_t **pp = &s->buckets[hash_id(c->id, strlen(c->id))];

	cancel(c);
	close_cg(c);
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	free(c);
	s->v[pos] = s->v[--s->n];
	if (pos < s->n)
		s->v[pos]->pos = pos;
	if (pos < s->pump_from)
		s->pump_from = pos; /* the moved one may still need one */
}

static cont_t *add(dl_sampler_t *s, const dl_container_t *dc)
{
	cont_t *c;

	if (!id_ok(dc->id.p, dc->id.n))
		return NULL;
	if (s->n == s->cap) {
		uint32_t cap = s->cap ? 2 * s->cap : 64;
		cont_t **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		s->v = v;
		s->cap = cap;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->s = s;
	c->idx = dc->idx;
	c->mode = s->o.source == DL_STATS_SRC_API ? C_API : C_NEW;
	dl_str_copy(c->id, sizeof(c->id), dc->id);
	c->pos = s->n;
	s->v[s->n++] = c;
	{
		uint32_t b = hash_id(c->id, strlen(c->id));

		c->next = s->buckets[b];
		s->buckets[b] = c;
	}
	/* Inspect now, not at the next tick: the first sample is one
	 * interval away, not two. */
	if (c->mode == C_NEW) {
		if (s->n - 1 < s->pump_from)
			s->pump_from = s->n - 1;
		pump_inspects(s);
	}
	return c;
}

static bool is_running(const dl_container_t *c)
{
	return dl_str_eq(c->state, "running");
}

void dl_sampler_inventory(dl_sampler_t *s, const dl_container_t *v, uint32_t n)
{
	uint32_t i;
	cont_t *c;

	if (!s || s->closing)
		return;
	for (i = 0; i < s->n; i++)
		s->v[i]->seen = false;
	for (i = 0; i < n; i++) {
		uint32_t pos = 0;

		if (!is_running(&v[i]))
			continue;
		c = find(s, v[i].id, &pos);
		if (c && c->idx != v[i].idx) {
			/* Should not happen (idx is stable per id): start over
			 * so no sample goes out under a stale number. */
			drop(s, pos);
			c = NULL;
		}
		if (!c)
			c = add(s, &v[i]);
		if (c)
			c->seen = true;
	}
	for (i = 0; i < s->n;)
		if (!s->v[i]->seen)
			drop(s, i);
		else
			i++;
}

void dl_sampler_container(dl_sampler_t *s, bool removed,
			  const dl_container_t *dc)
{
	uint32_t pos = 0;
	cont_t *c;

	if (!s || s->closing)
		return;
	c = find(s, dc->id, &pos);
	if (removed || !is_running(dc)) {
		if (c)
			drop(s, pos); /* closes its fds now */
		return;
	}
	if (!c)
		add(s, dc);
}

uint32_t dl_sampler_open_cgroups(const dl_sampler_t *s)
{
	return s ? s->ncg : 0;
}

uint32_t dl_sampler_count(const dl_sampler_t *s)
{
	return s ? s->n : 0;
}

/* ---- Docker requests ---------------------------------------------------- */

static void to_api(cont_t *c, const char *why)
{
	dl_sampler_t *s = c->s;

	close_cg(c);
	if (s->o.source == DL_STATS_SRC_CGROUP) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container %.12s not sampled: %s (stats_source = "
			  "cgroup)",
			  c->id, why);
		c->mode = C_OFF;
		return;
	}
	DL_LOG_RL(DL_LOG_LEVEL_INFO, TAG,
		  "container %.12s sampled through the Docker API: %s", c->id,
		  why);
	c->mode = C_API;
}

static void inspect_done(cont_t *c, int err, long status, const char *body,
			 size_t len);

static void on_inspect(void *ud, int err, long status, const char *body,
		       size_t len)
{
	cont_t *c = ud;
	dl_sampler_t *s = c->s;

	c->req = NULL;
	s->inspect_inflight--;
	if (err == DL_ECLOSED || s->closing)
		return;
	inspect_done(c, err, status, body, len);
	pump_inspects(s);
}

static void inspect_done(cont_t *c, int err, long status, const char *body,
			 size_t len)
{
	dl_sampler_t *s = c->s;
	char why[256];
	int pid = 0, rc;

	if (err || status != 200) {
		/* dockerd busy or the container just went: try next tick. */
		c->mode = C_NEW;
		return;
	}
	rc = dl_stats_parse_inspect(body, len, &pid);
	if (rc == DL_ENOENT) {
		c->mode = C_NEW; /* not running (yet); the watcher tells */
		return;
	}
	if (rc) {
		to_api(c, "its /json could not be parsed");
		return;
	}
	c->cg = dl_cgroup_open(s->cgroup_root, c->id, pid, s->proc_root, why,
			       sizeof(why));
	if (!c->cg) {
		to_api(c, why);
		return;
	}
	s->ncg++;
	c->mode = C_CGROUP;
	DL_LOG_DEBUG(TAG, "container %.12s (idx %u, pid %d): cgroup v%d", c->id,
		     c->idx, pid, dl_cgroup_version(c->cg));
}

static void start_inspect(cont_t *c)
{
	dl_sampler_t *s = c->s;
	dl_docker_t *d = dl_watch_docker(s->watch);
	char path[192];

	if (!d || s->inspect_inflight >= DL_STATS_INSPECT_INFLIGHT)
		return;
	snprintf(path, sizeof(path), "%s/containers/%s/json",
		 dl_watch_api(s->watch), c->id);
	c->req = dl_docker_request(d, "GET", path, NULL, INSPECT_MAX_BODY,
				   INSPECT_TIMEOUT_MS, on_inspect, c);
	if (c->req) {
		s->inspect_inflight++;
		c->mode = C_INSPECTING;
	}
}

/* Starts inspects of new containers while slots are free; called when one
 * is added and when an inspect finishes, so a big inventory drains
 * DL_STATS_INSPECT_INFLIGHT at a time without waiting for ticks. */
static void pump_inspects(dl_sampler_t *s)
{
	while (s->pump_from < s->n &&
	       s->inspect_inflight < DL_STATS_INSPECT_INFLIGHT && !s->closing) {
		cont_t *c = s->v[s->pump_from];

		if (c->mode == C_NEW) {
			start_inspect(c);
			if (c->mode == C_NEW)
				return; /* no client or no memory: next tick */
		}
		s->pump_from++;
	}
}

static void on_api_stats(void *ud, int err, long status, const char *body,
			 size_t len)
{
	cont_t *c = ud;
	dl_sampler_t *s = c->s;
	uint64_t sys;

	c->req = NULL;
	s->api_inflight--;
	if (err == DL_ECLOSED || s->closing)
		return;
	if (err || status != 200) {
		DL_LOG_RL(DL_LOG_LEVEL_DEBUG, TAG,
			  "stats of %.12s: %s (HTTP %ld)", c->id,
			  err ? dl_strerror(err) : "refused", status);
		return;
	}
	if (dl_stats_parse_api(body, len, &c->api, &sys) == 0) {
		c->api.idx = c->idx;
		c->have_api = true;
	}
}

static void start_api(cont_t *c)
{
	dl_sampler_t *s = c->s;
	dl_docker_t *d = dl_watch_docker(s->watch);
	char path[192];

	if (!d || c->req || s->api_inflight >= DL_STATS_API_INFLIGHT)
		return;
	snprintf(path, sizeof(path),
		 "%s/containers/%s/stats?stream=false&one-shot=true",
		 dl_watch_api(s->watch), c->id);
	c->req = dl_docker_request(d, "GET", path, NULL, API_MAX_BODY,
				   API_TIMEOUT_MS, on_api_stats, c);
	if (c->req)
		s->api_inflight++;
}

/* ---- the tick --------------------------------------------------------- */

static void to_sample(const dl_cgroup_sample_t *g, uint32_t idx, dl_sample_t *o)
{
	static const struct {
		uint32_t from, to;
	} bits[] = {
		{DL_CGROUP_HAVE_CPU, DL_SV_CPU},
		{DL_CGROUP_HAVE_MEM, DL_SV_MEM},
		{DL_CGROUP_HAVE_MEM_LIMIT, DL_SV_MEMLIMIT},
		{DL_CGROUP_HAVE_BLKIO, DL_SV_BLK},
		{DL_CGROUP_HAVE_PIDS, DL_SV_PIDS},
		{DL_CGROUP_HAVE_NET, DL_SV_NET},
	};

	o->idx = idx;
	o->valid = 0;
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (g->valid & bits[i].from)
			o->valid |= bits[i].to;
	o->cpu_ns = g->cpu_ns;
	o->mem_usage = g->mem_usage;
	o->mem_limit = g->mem_limit;
	o->net_rx_bytes = g->net_rx_bytes;
	o->net_tx_bytes = g->net_tx_bytes;
	o->net_rx_packets = g->net_rx_packets;
	o->net_tx_packets = g->net_tx_packets;
	o->blk_read_bytes = g->blk_read_bytes;
	o->blk_write_bytes = g->blk_write_bytes;
	o->pids = g->pids;
}

/* Opens (or reopens, when /info named another root dir) host metrics. */
static void host_open(dl_sampler_t *s)
{
	const char *root = dl_watch_root_dir(s->watch);
	char err[256];

	if (!root || !root[0])
		root = DEFAULT_ROOT_DIR;
	if (s->host && strcmp(root, s->host_root) == 0)
		return;
	dl_hostmetrics_close(s->host);
	snprintf(s->host_root, sizeof(s->host_root), "%s", root);
	s->host = dl_hostmetrics_open(s->proc_root, s->host_root, err,
				      sizeof(err));
	if (!s->host)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG, "no host metrics: %s", err);
}

static bool grow_batch(dl_sampler_t *s, uint32_t n)
{
	dl_sample_t *b;
	uint32_t cap;

	if (n <= s->batch_cap)
		return true;
	cap = s->batch_cap ? s->batch_cap : 64;
	while (cap < n)
		cap *= 2;
	b = realloc(s->batch, cap * sizeof(*b));
	if (!b)
		return false;
	s->batch = b;
	s->batch_cap = cap;
	return true;
}

static void emit_host(dl_sampler_t *s, const dl_hostmetrics_sample_t *h,
		      uint64_t now)
{
	dl_msg_t m = {.type = DL_MSG_HOSTSTATS, .time_ns = now};
	dl_hoststats_t *o = &m.u.hoststats;

	if (h->valid & DL_HOST_HAVE_CPU) {
		o->cpu_total_ns = h->cpu_user_ns + h->cpu_nice_ns +
				  h->cpu_system_ns + h->cpu_idle_ns +
				  h->cpu_iowait_ns + h->cpu_irq_ns +
				  h->cpu_softirq_ns + h->cpu_steal_ns;
		o->cpu_idle_ns = h->cpu_idle_ns + h->cpu_iowait_ns;
		o->online_cpus = h->online_cpus;
	}
	if (h->valid & DL_HOST_HAVE_MEM) {
		o->mem_total = h->mem_total;
		o->mem_used = h->mem_used;
		o->mem_available = h->mem_available;
		o->swap_total = h->swap_total;
		o->swap_used = h->swap_total > h->swap_free
				       ? h->swap_total - h->swap_free
				       : 0;
	}
	if (h->valid & DL_HOST_HAVE_LOAD) {
		/* Loads beyond 40 million are not real; clamp, never wrap. */
		o->load1_x100 = h->load1 < 4e7 ? (uint32_t)(h->load1 * 100 + .5)
					       : UINT32_MAX;
		o->load5_x100 = h->load5 < 4e7 ? (uint32_t)(h->load5 * 100 + .5)
					       : UINT32_MAX;
		o->load15_x100 = h->load15 < 4e7
					 ? (uint32_t)(h->load15 * 100 + .5)
					 : UINT32_MAX;
	}
	if (h->valid & DL_HOST_HAVE_DISK) {
		o->disk_used = h->disk_used;
		o->disk_total = h->disk_total;
	}
	if (h->valid & DL_HOST_HAVE_NET) {
		o->net_rx_bytes = h->net_rx_bytes;
		o->net_tx_bytes = h->net_tx_bytes;
	}
	s->emit(s->ud, &m);
}

static void on_tick(uv_timer_t *t)
{
	dl_sampler_t *s = t->data;
	dl_hostmetrics_sample_t h;
	dl_cgroup_sample_t g;
	dl_stats_t batch = {0};
	uint64_t now = dl_clock_wall_ns();
	uint32_t i, k = 0;
	bool have_host = false;

	if (s->closing)
		return;
	host_open(s);
	if (s->host && dl_hostmetrics_read(s->host, &h) == 0)
		have_host = true;
	if (have_host && (h.valid & DL_HOST_HAVE_CPU)) {
		batch.system_cpu_ns = h.system_cpu_ns;
		batch.online_cpus = h.online_cpus;
	}
	if (!grow_batch(s, s->n)) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "out of memory for %u samples", s->n);
		return;
	}
	for (i = 0; i < s->n; i++) {
		cont_t *c = s->v[i];

		switch (c->mode) {
		case C_NEW: /* pump_inspects below */ break;
		case C_CGROUP:
			if (dl_cgroup_read(c->cg, &g) == 0) {
				to_sample(&g, c->idx, &s->batch[k++]);
				break;
			}
			/* Gone or restarted (new cgroup, new pid): find it
			 * again; the watcher drops it if it stopped. */
			close_cg(c);
			c->mode = C_NEW;
			if (i < s->pump_from)
				s->pump_from = i;
			break;
		case C_API:
			if (c->have_api) {
				s->batch[k] = c->api;
				/* Docker says "host memory" for no limit. */
				if (have_host &&
				    s->batch[k].mem_limit >= h.mem_total &&
				    (h.valid & DL_HOST_HAVE_MEM))
					s->batch[k].mem_limit = 0;
				k++;
				c->have_api = false;
			}
			start_api(c);
			break;
		case C_INSPECTING:
		case C_OFF: break;
		}
	}
	s->pump_from = 0; /* retry what failed since: one scan per tick */
	pump_inspects(s);
	batch.n = k;
	batch.v = s->batch;
	dl_stats_split(&batch, now, 0, s->emit, s->ud);
	if (have_host)
		emit_host(s, &h, now);
}

/* ---- lifecycle ---------------------------------------------------------- */

dl_sampler_t *dl_sampler_new(uv_loop_t *loop, dl_watch_t *watch,
			     const dl_sampler_opts_t *opts,
			     dl_sampler_emit_cb emit, void *ud)
{
	dl_sampler_t *s;

	if (!loop || !watch || !opts || !emit || opts->interval_s < 1)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->loop = loop;
	s->watch = watch;
	s->o = *opts;
	snprintf(s->cgroup_root, sizeof(s->cgroup_root), "%s",
		 opts->cgroup_root ? opts->cgroup_root : "/sys/fs/cgroup");
	snprintf(s->proc_root, sizeof(s->proc_root), "%s",
		 opts->proc_root ? opts->proc_root : "/proc");
	s->o.cgroup_root = s->cgroup_root;
	s->o.proc_root = s->proc_root;
	s->emit = emit;
	s->ud = ud;
	uv_timer_init(loop, &s->timer);
	s->timer.data = s;
	return s;
}

int dl_sampler_start(dl_sampler_t *s)
{
	uint64_t ms;

	if (!s || s->closing)
		return DL_EINVAL;
	ms = (uint64_t)s->o.interval_s * 1000u;
	uv_timer_start(&s->timer, on_tick, ms, ms);
	return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
	dl_sampler_t *s = h->data;
	void (*done)(void *) = s->done;
	void *arg = s->done_arg;

	free(s->v);
	free(s->batch);
	free(s);
	if (done)
		done(arg);
}

void dl_sampler_close(dl_sampler_t *s, void (*done)(void *), void *arg)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->done = done;
	s->done_arg = arg;
	uv_timer_stop(&s->timer);
	while (s->n)
		drop(s, s->n - 1);
	dl_hostmetrics_close(s->host);
	s->host = NULL;
	uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}
