/* metrics.c - Prometheus text exposition (format 0.0.4).
 *
 * Containers: the newest sample of each current container, one query,
 * each row's label set escaped once and its values appended to one
 * buffer per family (a family's lines must stay together), then the
 * families are joined. 20 000 containers are ~3 MB of text. Hosts: the
 * newest host sample of each host. serve's own counters come from the
 * loop thread (dl_metrics_serve_text) before the query runs. */
#include "collector/metrics.h"
#include "collector/invparts.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "common/err.h"
#include "common/hidx.h"
#include "common/log.h"

#define TAG	  "metrics"
#define OPS_MAX	  256 /* (op, status) pairs kept; more are summed as "other" */
#define HOSTS_MAX 65536

static const double ctl_bounds[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1,
				    2.5,  5,	10,  30,   60,	300};
#define CTL_BUCKETS (sizeof(ctl_bounds) / sizeof(ctl_bounds[0]))
static const double q_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
				  0.1,	 0.25,	 0.5,	1,    2.5,   5};
#define Q_BUCKETS (sizeof(q_bounds) / sizeof(q_bounds[0]))

typedef struct {
	char op[33];
	char status[17];
	uint64_t n;
} ctl_count_t;

typedef struct {
	char host[DL_HOST_MAX + 1]; /* whole: the index hashes the whole name */
	uint64_t n;
} host_count_t;

struct dl_metrics {
	host_count_t *starts;
	size_t nstarts, cstarts;
	dl_hidx_t by_start; /* host name -> index + 1 into starts */
	ctl_count_t ctl[OPS_MAX];
	size_t nctl;
	uint64_t ctl_le[CTL_BUCKETS + 1]; /* per bucket, not cumulative */
	double ctl_sum;
	uint64_t q_le[Q_BUCKETS + 1]; /* admin queries, per bucket */
	double q_sum;
};

/* ---- text helpers ---- */

typedef struct {
	dl_buf_t *b;
	int rc;
} out_t;

static void put(out_t *o, const char *s, size_t n)
{
	if (!o->rc && dl_buf_append(o->b, s, n))
		o->rc = DL_ETOOBIG;
}

static void puts_(out_t *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(out_t *o, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		o->rc = DL_EINVAL;
		return;
	}
	put(o, tmp, (size_t)n);
}

static void put_u64(out_t *o, uint64_t v)
{
	char tmp[24], *p = tmp + sizeof(tmp);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, p, (size_t)(tmp + sizeof(tmp) - p));
}

int dl_metrics_label(dl_buf_t *b, const char *s)
{
	out_t o = {b, 0};
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\'   ? "\\\\"
				  : *s == '"'  ? "\\\""
				  : *s == '\n' ? "\\n"
					       : NULL;

		if (!esc)
			continue;
		put(&o, run, (size_t)(s - run));
		put(&o, esc, 2);
		run = s + 1;
	}
	put(&o, run, (size_t)(s - run));
	return o.rc;
}

static void put_label(out_t *o, const char *s)
{
	if (!o->rc && dl_metrics_label(o->b, s))
		o->rc = DL_ETOOBIG;
}

static void head(out_t *o, const char *name, const char *type, const char *help)
{
	putf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A histogram from per-bucket (not cumulative) counts; le[n] = +Inf. */
static void histogram(out_t *o, const char *name, const char *help,
		      const double *bounds, size_t n, const uint64_t *per,
		      double sum)
{
	uint64_t cum = 0;

	head(o, name, "histogram", help);
	for (size_t i = 0; i < n; i++) {
		cum += per[i];
		putf(o, "%s_bucket{le=\"%g\"} %llu\n", name, bounds[i],
		     (unsigned long long)cum);
	}
	cum += per[n];
	putf(o, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9f\n%s_count %llu\n",
	     name, (unsigned long long)cum, name, sum, name,
	     (unsigned long long)cum);
}

/* ---- serve's counters (loop thread) ---- */

dl_metrics_t *dl_metrics_new(void)
{
	return calloc(1, sizeof(dl_metrics_t));
}

void dl_metrics_free(dl_metrics_t *m)
{
	if (!m)
		return;
	free(m->starts);
	dl_hidx_free(&m->by_start);
	free(m);
}

void dl_metrics_session_start(dl_metrics_t *m, const char *host)
{
	uint64_t hash;
	host_count_t *h;
	size_t i;

	if (!m)
		return;
	/* Keyed: a storm of 10,000 HELLOs must not walk 10,000 names each. */
	hash = dl_hash_str(host);
	for (i = dl_hidx_find(&m->by_start, hash); i != DL_HIDX_END;
	     i = dl_hidx_next(&m->by_start, hash, i)) {
		h = &m->starts[m->by_start.s[i].v - 1];
		if (!strcmp(h->host, host)) {
			h->n++;
			return;
		}
	}
	if (m->nstarts == m->cstarts) {
		size_t cap = m->cstarts ? m->cstarts * 2 : 16;
		void *p;

		if (cap > HOSTS_MAX ||
		    !(p = realloc(m->starts, cap * sizeof(*m->starts))))
			return;
		m->starts = p;
		m->cstarts = cap;
	}
	if (dl_hidx_put(&m->by_start, hash, m->nstarts + 1))
		return;
	h = &m->starts[m->nstarts++];
	snprintf(h->host, sizeof(h->host), "%s", host);
	h->n = 1;
}

void dl_metrics_control(dl_metrics_t *m, const char *op, const char *status,
			double seconds)
{
	size_t i, k = 0;

	if (!m)
		return;
	for (i = 0; i < m->nctl; i++)
		if (!strcmp(m->ctl[i].op, op) &&
		    !strcmp(m->ctl[i].status, status))
			break;
	if (i == m->nctl) {
		if (m->nctl == OPS_MAX)
			i = OPS_MAX - 1; /* the op table is far smaller */
		else
			m->nctl++;
		snprintf(m->ctl[i].op, sizeof(m->ctl[i].op), "%s", op);
		snprintf(m->ctl[i].status, sizeof(m->ctl[i].status), "%s",
			 status);
	}
	m->ctl[i].n++;
	while (k < CTL_BUCKETS && seconds > ctl_bounds[k])
		k++;
	m->ctl_le[k]++;
	m->ctl_sum += seconds;
}

void dl_metrics_query(dl_metrics_t *m, double seconds)
{
	size_t k = 0;

	if (!m)
		return;
	while (k < Q_BUCKETS && seconds > q_bounds[k])
		k++;
	m->q_le[k]++;
	m->q_sum += seconds;
}

static void store_families(out_t *o, dl_store_t *store)
{
	dl_store_counters_t c;
	uint64_t per[DL_STORE_COMMIT_BUCKETS + 1], prev = 0;

	dl_store_counters(store, &c);
	head(o, "dockline_events_stored_total", "counter",
	     "Docker events stored since the collector started.");
	putf(o, "dockline_events_stored_total %llu\n",
	     (unsigned long long)c.events);
	head(o, "dockline_samples_stored_total", "counter",
	     "Container samples stored since the collector started.");
	putf(o, "dockline_samples_stored_total %llu\n",
	     (unsigned long long)c.samples);
	head(o, "dockline_host_samples_stored_total", "counter",
	     "Host samples stored since the collector started.");
	putf(o, "dockline_host_samples_stored_total %llu\n",
	     (unsigned long long)c.host_samples);
	for (size_t i = 0; i < DL_STORE_COMMIT_BUCKETS; i++) {
		per[i] = c.commit_le[i] - prev;
		prev = c.commit_le[i];
	}
	per[DL_STORE_COMMIT_BUCKETS] = c.commits - prev;
	histogram(o, "dockline_writer_commit_seconds",
		  "Duration of the writer thread's SQLite COMMITs.",
		  dl_store_commit_bounds, DL_STORE_COMMIT_BUCKETS, per,
		  c.commit_seconds);
}

dl_buf_t *dl_metrics_serve_text(const dl_metrics_t *m, size_t agents,
				size_t subscribers, dl_store_t *store)
{
	dl_buf_t *b = malloc(sizeof(*b));
	out_t o = {b, 0};

	if (!b)
		return NULL;
	dl_buf_init(b, DL_METRICS_MAX);
	head(&o, "dockline_agents_connected", "gauge",
	     "Agent sessions connected now.");
	putf(&o, "dockline_agents_connected %zu\n", agents);
	head(&o, "dockline_subscribers", "gauge",
	     "Admin connections subscribed to live push now.");
	putf(&o, "dockline_subscribers %zu\n", subscribers);
	head(&o, "dockline_inventory_parts_reserved_bytes", "gauge",
	     "Memory reserved now for INVENTORY parts held by all sessions "
	     "(at most 256 MiB).");
	putf(&o, "dockline_inventory_parts_reserved_bytes %zu\n",
	     dl_invparts_reserved());
	head(&o, "dockline_inventory_parts_waits_total", "counter",
	     "Times a host's INVENTORY part 0 waited for that room.");
	putf(&o, "dockline_inventory_parts_waits_total %llu\n",
	     (unsigned long long)dl_invparts_waits());
	head(&o, "dockline_reconnects_total", "counter",
	     "Agent sessions started per host since the collector started.");
	for (size_t i = 0; i < m->nstarts; i++) {
		puts_(&o, "dockline_reconnects_total{host=\"");
		put_label(&o, m->starts[i].host);
		puts_(&o, "\"} ");
		put_u64(&o, m->starts[i].n);
		puts_(&o, "\n");
	}
	head(&o, "dockline_control_requests_total", "counter",
	     "Control requests by operation and outcome.");
	for (size_t i = 0; i < m->nctl; i++) {
		puts_(&o, "dockline_control_requests_total{op=\"");
		put_label(&o, m->ctl[i].op);
		puts_(&o, "\",status=\"");
		put_label(&o, m->ctl[i].status);
		puts_(&o, "\"} ");
		put_u64(&o, m->ctl[i].n);
		puts_(&o, "\n");
	}
	histogram(&o, "dockline_control_duration_seconds",
		  "Duration of control requests, start to outcome.", ctl_bounds,
		  CTL_BUCKETS, m->ctl_le, m->ctl_sum);
	histogram(&o, "dockline_admin_query_seconds",
		  "Admin queries answered from the database (hosts, ps, "
		  "stats, events, metrics, ...): request read to answer ready.",
		  q_bounds, Q_BUCKETS, m->q_le, m->q_sum);
	if (store)
		store_families(&o, store);
	if (o.rc) {
		dl_metrics_buf_free(b);
		return NULL;
	}
	return b;
}

void dl_metrics_buf_free(dl_buf_t *b)
{
	if (!b)
		return;
	dl_buf_free(b);
	free(b);
}

/* ---- the store's half (threadpool) ---- */

enum {
	C_CPU,
	C_MEM,
	C_WSET,
	C_LIMIT,
	C_RX,
	C_TX,
	C_READ,
	C_WRITE,
	C_SEEN,
	C_HEALTH,
	C_FAMILIES
};

static const struct {
	const char *name, *type, *help;
	int col; /* the row's column, -1: computed */
} cfam[C_FAMILIES] = {
	[C_CPU] = {"container_cpu_usage_seconds_total", "counter",
		   "Cumulative CPU time consumed, seconds (the cgroup's "
		   "counter, since the container started).",
		   7},
	[C_MEM] = {"container_memory_usage_bytes", "gauge",
		   "Memory usage as docker stats and dockline stats show it: "
		   "usage minus inactive file.",
		   8},
	[C_WSET] = {"container_memory_working_set_bytes", "gauge",
		    "Working set: usage minus inactive file (cAdvisor's "
		    "definition; the same value dockline stores as usage).",
		    8},
	[C_LIMIT] = {"container_spec_memory_limit_bytes", "gauge",
		     "Memory limit, bytes (0: no limit).", 9},
	[C_RX] = {"container_network_receive_bytes_total", "counter",
		  "Cumulative bytes received over all interfaces.", 10},
	[C_TX] = {"container_network_transmit_bytes_total", "counter",
		  "Cumulative bytes transmitted over all interfaces.", 11},
	[C_READ] = {"container_fs_reads_bytes_total", "counter",
		    "Cumulative bytes read from block devices.", 12},
	[C_WRITE] = {"container_fs_writes_bytes_total", "counter",
		     "Cumulative bytes written to block devices.", 13},
	[C_SEEN] = {"container_last_seen", "gauge",
		    "Unix time of the container's newest sample, seconds.", -1},
	[C_HEALTH] = {"container_health_state", "gauge",
		      "Docker health check: 1 healthy, 0 unhealthy, 2 "
		      "starting, -1 no health check.",
		      -1},
};

#define CONTAINER_SQL                                                          \
	"SELECT c.host, c.name, c.image, c.id, c.health, s.ts, k.cid, "        \
	"s.cpu_ns, s.mem_usage, s.mem_usage, s.mem_limit, s.net_rx, "          \
	"s.net_tx, s.blk_read, s.blk_write FROM containers c JOIN "            \
	"container_keys k ON k.host = c.host AND k.id = c.id LEFT JOIN "       \
	"container_samples s ON s.cid = k.cid AND s.ts = (SELECT max(ts) "     \
	"FROM container_samples WHERE cid = k.cid) ORDER BY c.host, c.name, "  \
	"c.id"
#define HOST_SQL                                                               \
	"SELECT h.name, h.online, h.dropped_frames, s.load1, s.mem_total, "    \
	"s.mem_available, s.disk_total, s.disk_used, s.net_rx, s.net_tx, "     \
	"s.swap_total, s.swap_used, s.ts FROM hosts h LEFT JOIN host_samples " \
	"s ON s.host = h.name AND s.ts = (SELECT max(ts) FROM host_samples "   \
	"WHERE host = h.name) ORDER BY h.name"

typedef struct {
	sqlite3 *db;
	sqlite3_stmt *ctr, *host;
} mconn_t;

static __thread mconn_t *mc;

static mconn_t *mconn_open(const char *path, char *err, size_t errlen)
{
	mconn_t *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &c->db,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(c->db, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v3(c->db, CONTAINER_SQL, -1,
			       SQLITE_PREPARE_PERSISTENT, &c->ctr,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(c->db, HOST_SQL, -1, SQLITE_PREPARE_PERSISTENT,
			       &c->host, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "metrics: cannot read %s: %s", path,
			 c->db ? sqlite3_errmsg(c->db) : "out of memory");
		sqlite3_finalize(c->ctr);
		sqlite3_finalize(c->host);
		sqlite3_close(c->db);
		free(c);
		return NULL;
	}
	return c;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

static int health_value(const char *h)
{
	if (!strcmp(h, "healthy"))
		return 1;
	if (!strcmp(h, "unhealthy"))
		return 0;
	return !strcmp(h, "starting") ? 2 : -1;
}

/* {host="..",name="..",image="..",id=".."} of the current row. */
static void ctr_labels(out_t *o, sqlite3_stmt *st)
{
	const char *image = col(st, 2);

	puts_(o, "{host=\"");
	put_label(o, col(st, 0));
	puts_(o, "\",name=\"");
	put_label(o, col(st, 1));
	puts_(o, "\",image=\"");
	put_label(o, image[0] ? image : "unknown");
	puts_(o, "\",id=\"");
	put_label(o, col(st, 3));
	puts_(o, "\"}");
}

static void ctr_value(out_t *o, sqlite3_stmt *st, int f, const char *labels,
		      size_t llen)
{
	int c = cfam[f].col;
	int64_t v;

	if (c >= 0 && sqlite3_column_type(st, c) == SQLITE_NULL)
		return;
	if (f == C_SEEN && sqlite3_column_type(st, 5) == SQLITE_NULL)
		return;
	puts_(o, cfam[f].name);
	put(o, labels, llen);
	put(o, " ", 1);
	if (f == C_SEEN) {
		put_u64(o, (uint64_t)sqlite3_column_int64(st, 5) / 1000000000);
	} else if (f == C_HEALTH) {
		putf(o, "%d", health_value(col(st, 4)));
	} else if (f == C_CPU) {
		v = sqlite3_column_int64(st, c);
		putf(o, "%lld.%09lld", (long long)(v / 1000000000),
		     (long long)(v % 1000000000));
	} else {
		v = sqlite3_column_int64(st, c);
		put_u64(o, v < 0 ? 0 : (uint64_t)v);
	}
	put(o, "\n", 1);
}

static int containers(sqlite3_stmt *st, out_t *o, char *err, size_t errlen)
{
	dl_buf_t fam[C_FAMILIES], lab;
	out_t fo[C_FAMILIES], lo = {&lab, 0};
	int rc, f;

	dl_buf_init(&lab, 4096);
	for (f = 0; f < C_FAMILIES; f++) {
		dl_buf_init(&fam[f], DL_METRICS_MAX);
		fo[f] = (out_t){&fam[f], 0};
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dl_buf_reset(&lab);
		lo.rc = 0;
		ctr_labels(&lo, st);
		if (lo.rc)
			continue; /* names are capped far below this */
		for (f = 0; f < C_FAMILIES; f++)
			ctr_value(&fo[f], st, f,
				  (const char *)dl_buf_head(&lab),
				  dl_buf_used(&lab));
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		snprintf(err, errlen, "metrics: container query: %s",
			 sqlite3_errmsg(sqlite3_db_handle(st)));
	for (f = 0; f < C_FAMILIES; f++) {
		head(o, cfam[f].name, cfam[f].type, cfam[f].help);
		if (fo[f].rc)
			o->rc = fo[f].rc;
		put(o, (const char *)dl_buf_head(&fam[f]),
		    dl_buf_used(&fam[f]));
		dl_buf_free(&fam[f]);
	}
	dl_buf_free(&lab);
	return rc == SQLITE_DONE ? 0 : DL_EDB;
}

enum {
	H_ONLINE,
	H_DROPPED,
	H_LOAD1,
	H_MEMTOTAL,
	H_MEMAVAIL,
	H_FSSIZE,
	H_FSFREE,
	H_RX,
	H_TX,
	H_SWAPTOTAL,
	H_SWAPFREE,
	H_FAMILIES
};

static const struct {
	const char *name, *type, *help;
} hfam[H_FAMILIES] = {
	[H_ONLINE] = {"dockline_host_online", "gauge",
		      "1 while the host's agent is connected."},
	[H_DROPPED] = {"dockline_frames_dropped_total", "counter",
		       "Frames the host's agent dropped past its outbox cap "
		       "(reported by the agent)."},
	[H_LOAD1] = {"node_load1", "gauge", "1m load average."},
	[H_MEMTOTAL] = {"node_memory_MemTotal_bytes", "gauge",
			"Memory information field MemTotal_bytes."},
	[H_MEMAVAIL] = {"node_memory_MemAvailable_bytes", "gauge",
			"Memory information field MemAvailable_bytes."},
	[H_FSSIZE] = {"node_filesystem_size_bytes", "gauge",
		      "Size of the filesystem holding Docker's data root."},
	[H_FSFREE] = {"node_filesystem_free_bytes", "gauge",
		      "Free space (f_bfree, root's reserve included) on "
		      "Docker's data root filesystem."},
	[H_RX] = {"node_network_receive_bytes_total", "counter",
		  "Bytes received, all interfaces but lo summed."},
	[H_TX] = {"node_network_transmit_bytes_total", "counter",
		  "Bytes transmitted, all interfaces but lo summed."},
	[H_SWAPTOTAL] = {"node_memory_SwapTotal_bytes", "gauge",
			 "Memory information field SwapTotal_bytes."},
	[H_SWAPFREE] = {"node_memory_SwapFree_bytes", "gauge",
			"Memory information field SwapFree_bytes."},
};

static void host_value(out_t *o, sqlite3_stmt *st, int f)
{
	bool sample = sqlite3_column_type(st, 12) != SQLITE_NULL;
	int64_t a, b;

	if (f >= H_LOAD1 && !sample)
		return;
	puts_(o, hfam[f].name);
	puts_(o, "{host=\"");
	put_label(o, col(st, 0));
	puts_(o, "\"} ");
	switch (f) {
	case H_ONLINE: putf(o, "%d", sqlite3_column_int(st, 1) ? 1 : 0); break;
	case H_LOAD1: putf(o, "%.2f", sqlite3_column_double(st, 3)); break;
	case H_FSFREE:
	case H_SWAPFREE:
		/* total - used */
		a = sqlite3_column_int64(st, f == H_FSFREE ? 6 : 10);
		b = sqlite3_column_int64(st, f == H_FSFREE ? 7 : 11);
		put_u64(o, a > b ? (uint64_t)(a - b) : 0);
		break;
	default: {
		static const int cols[H_FAMILIES] = {
			[H_DROPPED] = 2,    [H_MEMTOTAL] = 4, [H_MEMAVAIL] = 5,
			[H_FSSIZE] = 6,	    [H_RX] = 8,	      [H_TX] = 9,
			[H_SWAPTOTAL] = 10,
		};
		int64_t v = sqlite3_column_int64(st, cols[f]);

		put_u64(o, v < 0 ? 0 : (uint64_t)v);
	}
	}
	put(o, "\n", 1);
}

static int hosts(sqlite3_stmt *st, out_t *o, char *err, size_t errlen)
{
	int rc = SQLITE_DONE;

	for (int f = 0; f < H_FAMILIES && rc == SQLITE_DONE; f++) {
		head(o, hfam[f].name, hfam[f].type, hfam[f].help);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW)
			host_value(o, st, f);
		sqlite3_reset(st);
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "metrics: host query: %s",
			 sqlite3_errmsg(sqlite3_db_handle(st)));
		return DL_EDB;
	}
	return 0;
}

int dl_metrics_store_text(const char *db, dl_buf_t *out, char *err,
			  size_t errlen)
{
	out_t o = {out, 0};
	int rc;

	if (!mc && !(mc = mconn_open(db, err, errlen)))
		return DL_EDB;
	/* One snapshot for both queries. */
	if (sqlite3_exec(mc->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "metrics: %s", sqlite3_errmsg(mc->db));
		return DL_EDB;
	}
	rc = containers(mc->ctr, &o, err, errlen);
	if (rc == 0)
		rc = hosts(mc->host, &o, err, errlen);
	sqlite3_exec(mc->db, "COMMIT", NULL, NULL, NULL);
	if (rc == 0 && o.rc) {
		snprintf(err, errlen, "metrics: exposition over %u MiB",
			 DL_METRICS_MAX >> 20);
		rc = o.rc;
	}
	return rc;
}
