/* remote_write.c - the sample tap, the bounded queue and the worker.
 *
 *   writer thread: COMMIT -> dl_rw_tap: rows copied into the ring (mu),
 *                  oldest dropped past `queue` samples, wake the worker
 *   worker thread: ring -> up to `batch` samples -> series (labels of a
 *                  container from its own read-only connection, cached
 *                  DL_RW_LABELS_TTL) -> protobuf -> snappy -> one POST
 *                  (libcurl multi, one connection kept alive) -> 2xx:
 *                  sent; 5xx, 429, network: same body again after
 *                  500 ms, 1 s, 2 s .. 5 s; other 4xx: dropped, logged
 *
 * One request at a time keeps each series' samples in time order at the
 * receiver (Prometheus refuses out-of-order samples); while it is out,
 * the next batch gathers in the ring (group commit, no timer). */
#include "collector/remote_write.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "collector/rw_proto.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/fdio.h"
#include "common/log.h"

#define TAG	     "remote_write"
#define BODY_MAX     (64u * 1024u * 1024u) /* one request, uncompressed */
#define IDLE_WAIT_MS 1000
#define LABELS_MAX   (1u << 20) /* cached containers; past it: cleared */

/* ---- families: the names and meanings of metrics.c ---- */

enum {
	F_CPU,
	F_MEM,
	F_WSET,
	F_LIMIT,
	F_RX,
	F_TX,
	F_READ,
	F_WRITE,
	F_CFAMILIES
};
enum {
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

static const char *const cname[F_CFAMILIES] = {
	[F_CPU] = "container_cpu_usage_seconds_total",
	[F_MEM] = "container_memory_usage_bytes",
	[F_WSET] = "container_memory_working_set_bytes",
	[F_LIMIT] = "container_spec_memory_limit_bytes",
	[F_RX] = "container_network_receive_bytes_total",
	[F_TX] = "container_network_transmit_bytes_total",
	[F_READ] = "container_fs_reads_bytes_total",
	[F_WRITE] = "container_fs_writes_bytes_total",
};
static const char *const hname[H_FAMILIES] = {
	[H_LOAD1] = "node_load1",
	[H_MEMTOTAL] = "node_memory_MemTotal_bytes",
	[H_MEMAVAIL] = "node_memory_MemAvailable_bytes",
	[H_FSSIZE] = "node_filesystem_size_bytes",
	[H_FSFREE] = "node_filesystem_free_bytes",
	[H_RX] = "node_network_receive_bytes_total",
	[H_TX] = "node_network_transmit_bytes_total",
	[H_SWAPTOTAL] = "node_memory_SwapTotal_bytes",
	[H_SWAPFREE] = "node_memory_SwapFree_bytes",
};

/* The __name__ label field of each family, encoded once. */
typedef struct {
	uint8_t b[128];
	size_t n;
} lab_t;
static lab_t clab[F_CFAMILIES], hlab[H_FAMILIES];
static pthread_once_t labs_once = PTHREAD_ONCE_INIT;

static void lab_make(lab_t *l, const char *name)
{
	dl_buf_t b;

	dl_buf_init(&b, sizeof(l->b));
	if (dl_rwp_label(&b, "__name__", name) == 0) {
		memcpy(l->b, dl_buf_head(&b), dl_buf_used(&b));
		l->n = dl_buf_used(&b);
	}
	dl_buf_free(&b);
}

static void labs_init(void)
{
	for (int f = 0; f < F_CFAMILIES; f++)
		lab_make(&clab[f], cname[f]);
	for (int f = 0; f < H_FAMILIES; f++)
		lab_make(&hlab[f], hname[f]);
}

static int64_t ms_of(int64_t ns)
{
	return ns / 1000000;
}

int dl_rw_container_labels(dl_buf_t *out, const char *host, const char *name,
			   const char *image, const char *id)
{
	return dl_rwp_label(out, "host", host) || dl_rwp_label(out, "id", id) ||
			       dl_rwp_label(out, "image",
					    image && image[0] ? image
							      : "unknown") ||
			       dl_rwp_label(out, "name", name ? name : "")
		       ? DL_ETOOBIG
		       : 0;
}

/* Series one container sample becomes (the queue's bound counts them). */
static unsigned csample_series(const dl_store_csample_t *c)
{
	uint32_t f = c->v.valid;

	return !!(f & DL_SV_CPU) + 2 * !!(f & DL_SV_MEM) +
	       !!(f & DL_SV_MEMLIMIT) + 2 * !!(f & DL_SV_NET) +
	       2 * !!(f & DL_SV_BLK);
}

int dl_rw_encode_container(dl_buf_t *body, const dl_store_csample_t *c,
			   const uint8_t *labels, size_t llen)
{
	const dl_sample_t *v = &c->v;
	int64_t ts = ms_of(c->ts);
	double val[F_CFAMILIES];
	bool have[F_CFAMILIES] = {false};
	int n = 0;

	pthread_once(&labs_once, labs_init);
	have[F_CPU] = v->valid & DL_SV_CPU;
	val[F_CPU] = (double)v->cpu_ns / 1e9;
	have[F_MEM] = have[F_WSET] = v->valid & DL_SV_MEM;
	val[F_MEM] = val[F_WSET] = (double)v->mem_usage;
	have[F_LIMIT] = v->valid & DL_SV_MEMLIMIT;
	val[F_LIMIT] = (double)v->mem_limit;
	have[F_RX] = have[F_TX] = v->valid & DL_SV_NET;
	val[F_RX] = (double)v->net_rx_bytes;
	val[F_TX] = (double)v->net_tx_bytes;
	have[F_READ] = have[F_WRITE] = v->valid & DL_SV_BLK;
	val[F_READ] = (double)v->blk_read_bytes;
	val[F_WRITE] = (double)v->blk_write_bytes;
	for (int f = 0; f < F_CFAMILIES; f++) {
		if (!have[f])
			continue;
		if (dl_rwp_series(body, clab[f].b, clab[f].n, labels, llen,
				  val[f], ts))
			return DL_ETOOBIG;
		n++;
	}
	return n;
}

int dl_rw_encode_host(dl_buf_t *body, const dl_store_hsample_t *h)
{
	const dl_hoststats_t *v = &h->v;
	int64_t ts = ms_of(h->ts);
	double val[H_FAMILIES];
	uint8_t lb[DL_RWP_LABEL_MAX];
	dl_buf_t l;
	size_t ln;

	pthread_once(&labs_once, labs_init);
	dl_buf_init(&l, sizeof(lb));
	if (dl_rwp_label(&l, "host", h->host)) {
		dl_buf_free(&l);
		return DL_ETOOBIG;
	}
	ln = dl_buf_used(&l);
	memcpy(lb, dl_buf_head(&l), ln);
	dl_buf_free(&l);
	val[H_LOAD1] = v->load1_x100 / 100.0;
	val[H_MEMTOTAL] = (double)v->mem_total;
	val[H_MEMAVAIL] = (double)v->mem_available;
	val[H_FSSIZE] = (double)v->disk_total;
	val[H_FSFREE] = v->disk_total > v->disk_used
				? (double)(v->disk_total - v->disk_used)
				: 0;
	val[H_RX] = (double)v->net_rx_bytes;
	val[H_TX] = (double)v->net_tx_bytes;
	val[H_SWAPTOTAL] = (double)v->swap_total;
	val[H_SWAPFREE] = v->swap_total > v->swap_used
				  ? (double)(v->swap_total - v->swap_used)
				  : 0;
	for (int f = 0; f < H_FAMILIES; f++)
		if (dl_rwp_series(body, hlab[f].b, hlab[f].n, lb, ln, val[f],
				  ts))
			return DL_ETOOBIG;
	return H_FAMILIES;
}

/* ---- the queue: one ring per connection ---- */

typedef struct {
	bool host;
	uint8_t nval; /* series this row becomes */
	union {
		dl_store_csample_t c;
		dl_store_hsample_t h;
	} u;
} row_t;

/* A container's label fields (host, id, image, name), cached. */
typedef struct {
	int64_t cid; /* 0: free */
	uint64_t loaded_ms;
	uint8_t *lab; /* NULL: no such container */
	size_t len;
} clabel_t;

/* One connection: its share of the queue (every series of a container
 * or of a host always goes to the same one, so each series stays in
 * time order) and the request it has out or waiting for a retry. */
typedef struct {
	int idx;
	/* under rw->mu */
	row_t *ring;
	size_t rcap, rhead, rn, rmax;
	uint64_t qsamples, qmax;
	/* worker only */
	CURL *easy;
	dl_buf_t body, answer;
	char errbuf[CURL_ERROR_SIZE];
	size_t cur_n;	 /* samples in body; 0: no batch */
	bool inflight;	 /* body is being sent */
	uint64_t due_ms; /* next attempt (monotonic) */
	int attempts;	 /* failed attempts of this body */
	bool failing;	 /* the last attempt failed (for the log) */
	atomic_uint_least64_t inflight_n;
} shard_t;

struct dl_rw {
	dl_rw_conf_t conf;
	char *db;
	char *auth; /* "Authorization: Bearer ..." or NULL; never logged */

	pthread_mutex_t mu;
	shard_t *shards;
	int nshards;
	bool stopping, started; /* under mu */
	pthread_t thread;

	/* worker only */
	CURLM *multi;
	struct curl_slist *hdrs;
	sqlite3 *rdb;
	sqlite3_stmt *lq;
	clabel_t *lt;
	size_t lcap, ln;
	row_t *take;
	size_t take_cap;
	dl_buf_t raw;

	/* counters (any thread) */
	atomic_uint_least64_t sent, retried, d_full, d_rej, d_stop, d_unk;
	atomic_uint_least64_t req_ok, req_fail, last_ok_ms;
};

static uint64_t mono_ms(void)
{
	return dl_clock_mono_ns() / 1000000u;
}

/* Drops rows from the head until `need` more samples fit (mu held). */
static void make_room(dl_rw_t *rw, shard_t *s, uint64_t need)
{
	uint64_t dropped = 0;

	while (s->rn && s->qsamples + need > s->qmax) {
		row_t *r = &s->ring[s->rhead];

		s->qsamples -= r->nval;
		dropped += r->nval;
		s->rhead = (s->rhead + 1) % s->rcap;
		s->rn--;
	}
	if (dropped) {
		atomic_fetch_add(&rw->d_full, dropped);
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "queue full (%lld samples): dropped the %llu "
			  "oldest, %llu so far",
			  (long long)rw->conf.queue,
			  (unsigned long long)dropped,
			  (unsigned long long)atomic_load(&rw->d_full));
	}
}

/* A free slot at the tail (mu held), growing the ring up to rmax rows;
 * NULL when out of memory. */
static row_t *ring_slot(shard_t *s)
{
	if (s->rn == s->rcap) {
		size_t cap = s->rcap ? s->rcap * 2 : 256;
		row_t *r;

		if (cap > s->rmax)
			cap = s->rmax;
		if (cap <= s->rcap || !(r = malloc(cap * sizeof(*r))))
			return NULL;
		for (size_t i = 0; i < s->rn; i++)
			r[i] = s->ring[(s->rhead + i) % s->rcap];
		free(s->ring);
		s->ring = r;
		s->rcap = cap;
		s->rhead = 0;
	}
	return &s->ring[(s->rhead + s->rn) % s->rcap];
}

static void push_row(dl_rw_t *rw, shard_t *s, const row_t *r)
{
	row_t *slot;

	if (!r->nval)
		return;
	make_room(rw, s, r->nval);
	if (!(slot = ring_slot(s))) {
		/* Only out of memory gets here (rmax rows hold qmax). */
		atomic_fetch_add(&rw->d_full, r->nval);
		return;
	}
	*slot = *r;
	s->rn++;
	s->qsamples += r->nval;
}

static shard_t *shard_of_cid(dl_rw_t *rw, int64_t cid)
{
	uint64_t h = (uint64_t)cid * 0x9e3779b97f4a7c15ull;

	return &rw->shards[(h >> 32) % (uint64_t)rw->nshards];
}

static shard_t *shard_of_host(dl_rw_t *rw, const char *host)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *host; host++)
		h = (h ^ (uint8_t)*host) * 1099511628211ull;
	return &rw->shards[h % (uint64_t)rw->nshards];
}

void dl_rw_tap(void *ud, const dl_store_csample_t *c, size_t nc,
	       const dl_store_hsample_t *h, size_t nh)
{
	dl_rw_t *rw = ud;
	row_t r;

	pthread_mutex_lock(&rw->mu);
	for (size_t i = 0; i < nc; i++) {
		r.host = false;
		r.u.c = c[i];
		r.nval = (uint8_t)csample_series(&c[i]);
		push_row(rw, shard_of_cid(rw, c[i].cid), &r);
	}
	for (size_t i = 0; i < nh; i++) {
		r.host = true;
		r.u.h = h[i];
		r.nval = H_FAMILIES;
		push_row(rw, shard_of_host(rw, h[i].host), &r);
	}
	pthread_mutex_unlock(&rw->mu);
	if (rw->multi)
		curl_multi_wakeup(rw->multi);
}

/* ---- labels (worker) ---- */

#define LABEL_SQL                                                              \
	"SELECT k.host, coalesce(c.name, k.name, ''), k.id, c.image FROM "     \
	"container_keys k LEFT JOIN containers c ON c.host = k.host AND "      \
	"c.id = k.id WHERE k.cid = ?1"

static size_t lslot(int64_t cid, size_t cap)
{
	return (size_t)((uint64_t)cid * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static void labels_clear(dl_rw_t *rw)
{
	for (size_t i = 0; i < rw->lcap; i++)
		free(rw->lt[i].lab);
	free(rw->lt);
	rw->lt = NULL;
	rw->lcap = rw->ln = 0;
}

static clabel_t *label_slot(dl_rw_t *rw, int64_t cid)
{
	size_t i;

	if (rw->ln >= LABELS_MAX)
		labels_clear(rw);
	if (2 * (rw->ln + 1) > rw->lcap) {
		size_t cap = rw->lcap ? 2 * rw->lcap : 1024;
		clabel_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return NULL;
		for (size_t k = 0; k < rw->lcap; k++) {
			if (!rw->lt[k].cid)
				continue;
			for (i = lslot(rw->lt[k].cid, cap); t[i].cid;
			     i = (i + 1) & (cap - 1))
				;
			t[i] = rw->lt[k];
		}
		free(rw->lt);
		rw->lt = t;
		rw->lcap = cap;
	}
	for (i = lslot(cid, rw->lcap); rw->lt[i].cid;
	     i = (i + 1) & (rw->lcap - 1))
		if (rw->lt[i].cid == cid)
			return &rw->lt[i];
	rw->lt[i].cid = cid;
	rw->ln++;
	return &rw->lt[i];
}

static int labels_open(dl_rw_t *rw)
{
	if (rw->lq)
		return 0;
	if (sqlite3_open_v2(rw->db, &rw->rdb,
			    SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(rw->rdb, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v3(rw->rdb, LABEL_SQL, -1,
			       SQLITE_PREPARE_PERSISTENT, &rw->lq,
			       NULL) != SQLITE_OK) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "cannot read %s: %s", rw->db,
			  rw->rdb ? sqlite3_errmsg(rw->rdb) : "out of memory");
		sqlite3_close(rw->rdb);
		rw->rdb = NULL;
		return DL_EDB;
	}
	return 0;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return s ? s : "";
}

/* The label fields of cid; NULL when the container is unknown (purged)
 * or the database cannot be read. */
static const clabel_t *labels_of(dl_rw_t *rw, int64_t cid, uint64_t now)
{
	clabel_t *e = label_slot(rw, cid);
	dl_buf_t b;
	int rc;

	if (!e)
		return NULL;
	if (e->loaded_ms && now - e->loaded_ms < DL_RW_LABELS_TTL)
		return e->lab ? e : NULL;
	if (labels_open(rw))
		return NULL;
	free(e->lab);
	e->lab = NULL;
	e->len = 0;
	e->loaded_ms = now;
	sqlite3_bind_int64(rw->lq, 1, cid);
	if ((rc = sqlite3_step(rw->lq)) == SQLITE_ROW) {
		dl_buf_init(&b, 4 * DL_RWP_LABEL_MAX);
		if (dl_rw_container_labels(&b, col(rw->lq, 0), col(rw->lq, 1),
					   col(rw->lq, 3),
					   col(rw->lq, 2)) == 0 &&
		    (e->lab = malloc(dl_buf_used(&b)))) {
			e->len = dl_buf_used(&b);
			memcpy(e->lab, dl_buf_head(&b), e->len);
		}
		dl_buf_free(&b);
	} else if (rc != SQLITE_DONE) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "labels of #%lld: %s",
			  (long long)cid, sqlite3_errmsg(rw->rdb));
		e->loaded_ms = 0; /* ask again next time */
	}
	sqlite3_reset(rw->lq);
	return e->lab ? e : NULL;
}

/* ---- one batch (worker) ---- */

/* Moves up to `batch` samples' rows out of s's ring. */
static size_t take_rows(dl_rw_t *rw, shard_t *s, uint64_t *samples)
{
	size_t n = 0;

	*samples = 0;
	pthread_mutex_lock(&rw->mu);
	while (s->rn) {
		row_t *r = &s->ring[s->rhead];

		if (n && *samples + r->nval > (uint64_t)rw->conf.batch)
			break;
		if (n == rw->take_cap) {
			size_t cap = rw->take_cap ? 2 * rw->take_cap : 256;
			row_t *t = realloc(rw->take, cap * sizeof(*t));

			if (!t)
				break;
			rw->take = t;
			rw->take_cap = cap;
		}
		rw->take[n++] = *r;
		*samples += r->nval;
		s->qsamples -= r->nval;
		s->rhead = (s->rhead + 1) % s->rcap;
		s->rn--;
	}
	atomic_store(&s->inflight_n, *samples);
	pthread_mutex_unlock(&rw->mu);
	return n;
}

/* Encodes s's next batch into its body: 1, 0 when nothing is queued, -1
 * when every row taken was dropped (take more). */
static int next_batch(dl_rw_t *rw, shard_t *s, uint64_t now)
{
	uint64_t samples, unknown = 0;
	size_t n = take_rows(rw, s, &samples);
	int got = 0;

	if (!n)
		return 0;
	dl_buf_reset(&rw->raw);
	for (size_t i = 0; i < n; i++) {
		const row_t *r = &rw->take[i];
		const clabel_t *l;
		int k;

		if (r->host) {
			k = dl_rw_encode_host(&rw->raw, &r->u.h);
		} else if (!(l = labels_of(rw, r->u.c.cid, now))) {
			unknown += r->nval;
			continue;
		} else {
			k = dl_rw_encode_container(&rw->raw, &r->u.c, l->lab,
						   l->len);
		}
		if (k < 0) { /* BODY_MAX: far above any batch */
			unknown += r->nval;
			continue;
		}
		got += k;
	}
	if (unknown) {
		atomic_fetch_add(&rw->d_unk, unknown);
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "%llu samples of containers no longer known dropped",
			  (unsigned long long)unknown);
	}
	if (!got || dl_rwp_compress(dl_buf_head(&rw->raw),
				    dl_buf_used(&rw->raw), &s->body)) {
		if (got) {
			atomic_fetch_add(&rw->d_unk, (uint64_t)got);
			DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
				  "cannot compress a batch of %d samples", got);
		}
		atomic_store(&s->inflight_n, 0);
		return -1;
	}
	s->cur_n = (size_t)got;
	atomic_store(&s->inflight_n, (uint64_t)got);
	s->attempts = 0;
	s->due_ms = now;
	return 1;
}

/* ---- HTTP (worker) ---- */

static size_t on_answer(char *p, size_t size, size_t nmemb, void *ud)
{
	shard_t *s = ud;
	size_t n = size * nmemb,
	       room = DL_RW_ANSWER_MAX - dl_buf_used(&s->answer);

	dl_buf_append(&s->answer, p, n < room ? n : room);
	return n;
}

static int build_headers(dl_rw_t *rw)
{
	static const char *const fixed[] = {
		"Content-Encoding: snappy",
		"Content-Type: application/x-protobuf",
		"X-Prometheus-Remote-Write-Version: 0.1.0",
		("User-Agent: dockline/" DL_VERSION), /* () : one element */
		"Expect:", /* no 100-continue round trip */
	};
	struct curl_slist *s;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (!(s = curl_slist_append(rw->hdrs, fixed[i])))
			return DL_ENOMEM;
		rw->hdrs = s;
	}
	for (int i = 0; i < rw->conf.nheaders; i++) {
		if (!(s = curl_slist_append(rw->hdrs, rw->conf.headers[i])))
			return DL_ENOMEM;
		rw->hdrs = s;
	}
	if (rw->auth) {
		if (!(s = curl_slist_append(rw->hdrs, rw->auth)))
			return DL_ENOMEM;
		rw->hdrs = s;
	}
	return 0;
}

/* One easy handle per connection, kept (and its connection kept alive)
 * for every request it sends. */
static int setup_easy(dl_rw_t *rw, shard_t *s)
{
	long t = rw->conf.timeout_s * 1000L;
	CURL *e;

	if (!(e = s->easy = curl_easy_init()))
		return DL_ENOMEM;
	curl_easy_setopt(e, CURLOPT_URL, rw->conf.url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)s);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, s->errbuf);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t < 10000 ? t : 10000L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, rw->hdrs);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_POST, 1L);
	if (rw->conf.ca_file[0])
		curl_easy_setopt(e, CURLOPT_CAINFO, rw->conf.ca_file);
	return 0;
}

static void start_request(dl_rw_t *rw, shard_t *s)
{
	dl_buf_reset(&s->answer);
	s->errbuf[0] = '\0';
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, dl_buf_head(&s->body));
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)dl_buf_used(&s->body));
	if (curl_multi_add_handle(rw->multi, s->easy) == CURLM_OK)
		s->inflight = true;
	else
		s->due_ms = mono_ms() + DL_RW_BACKOFF_MAX;
}

/* What the receiver said, printable, for a log line. */
static void answer_text(shard_t *s, char *out, size_t n)
{
	size_t k = 0, len = dl_buf_used(&s->answer);
	const uint8_t *p = dl_buf_head(&s->answer);

	for (size_t i = 0; i < len && k + 1 < n; i++)
		out[k++] = p[i] < 0x20 || p[i] >= 0x7f ? ' ' : (char)p[i];
	while (k && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
}

static void batch_done(shard_t *s)
{
	s->cur_n = 0;
	atomic_store(&s->inflight_n, 0);
}

static void request_ok(dl_rw_t *rw, shard_t *s)
{
	atomic_fetch_add(&rw->sent, s->cur_n);
	atomic_fetch_add(&rw->req_ok, 1);
	atomic_store(&rw->last_ok_ms, dl_clock_wall_ns() / 1000000u);
	if (s->failing)
		DL_LOG_INFO(TAG,
			    "%s accepts samples again after %d failed "
			    "attempts (connection %d; sent %llu, retried "
			    "%llu, dropped %llu so far)",
			    rw->conf.url, s->attempts, s->idx + 1,
			    (unsigned long long)atomic_load(&rw->sent),
			    (unsigned long long)atomic_load(&rw->retried),
			    (unsigned long long)(atomic_load(&rw->d_full) +
						 atomic_load(&rw->d_rej)));
	s->failing = false;
	batch_done(s);
}

static void request_done(dl_rw_t *rw, shard_t *s, CURLcode rc, bool stopping)
{
	char why[DL_RW_ANSWER_MAX + 64], ans[DL_RW_ANSWER_MAX + 1];
	long code = 0;
	uint64_t backoff;

	curl_multi_remove_handle(rw->multi, s->easy);
	s->inflight = false;
	curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK && code >= 200 && code < 300) {
		request_ok(rw, s);
		return;
	}
	answer_text(s, ans, sizeof(ans));
	atomic_fetch_add(&rw->req_fail, 1);
	if (rc != CURLE_OK)
		snprintf(why, sizeof(why), "%s",
			 s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc));
	else
		snprintf(why, sizeof(why), "HTTP %ld%s%s", code,
			 ans[0] ? ": " : "", ans);
	if (rc == CURLE_OK && code != 429 && code < 500) {
		/* The receiver refuses this body: sending it again would
		 * be refused again. */
		atomic_fetch_add(&rw->d_rej, s->cur_n);
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s refused %zu samples, dropped: %s", rw->conf.url,
			  s->cur_n, why);
		batch_done(s);
		return;
	}
	if (stopping) {
		atomic_fetch_add(&rw->d_stop, s->cur_n);
		batch_done(s);
		return;
	}
	atomic_fetch_add(&rw->retried, s->cur_n);
	backoff = (uint64_t)DL_RW_BACKOFF_MIN
		  << (s->attempts < 8 ? s->attempts : 8);
	if (backoff > DL_RW_BACKOFF_MAX)
		backoff = DL_RW_BACKOFF_MAX;
	s->attempts++;
	s->due_ms = mono_ms() + backoff;
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
		  "%s: %s; %zu samples retried in %llu ms (connection %d, "
		  "attempt %d)",
		  rw->conf.url, why, s->cur_n, (unsigned long long)backoff,
		  s->idx + 1, s->attempts);
	s->failing = true;
}

/* ---- the worker ---- */

/* Stopping and out of time: what is left is counted, not sent. */
static void drop_all(dl_rw_t *rw)
{
	uint64_t n = 0;

	pthread_mutex_lock(&rw->mu);
	for (int i = 0; i < rw->nshards; i++) {
		shard_t *s = &rw->shards[i];

		if (s->inflight) {
			curl_multi_remove_handle(rw->multi, s->easy);
			s->inflight = false;
		}
		n += s->cur_n + s->qsamples;
		s->qsamples = 0;
		s->rn = s->rhead = 0;
		batch_done(s);
	}
	pthread_mutex_unlock(&rw->mu);
	atomic_fetch_add(&rw->d_stop, n);
	if (n)
		DL_LOG_WARN(TAG, "stopping: %llu samples not sent to %s",
			    (unsigned long long)n, rw->conf.url);
}

/* Every connection without a batch takes its next one; every batch that
 * is due and not out is sent. */
static void start_due(dl_rw_t *rw, uint64_t now)
{
	for (int i = 0; i < rw->nshards; i++) {
		shard_t *s = &rw->shards[i];

		while (!s->cur_n && next_batch(rw, s, now) < 0)
			;
		if (s->cur_n && !s->inflight && s->due_ms <= now)
			start_request(rw, s);
	}
}

/* ms until something is due; 0 when a connection with nothing out has
 * rows waiting. */
static int wait_ms(dl_rw_t *rw, uint64_t now)
{
	long cto = -1, ms = IDLE_WAIT_MS;
	bool any_inflight = false;

	pthread_mutex_lock(&rw->mu);
	for (int i = 0; i < rw->nshards; i++) {
		shard_t *s = &rw->shards[i];

		if (s->inflight)
			any_inflight = true;
		else if (!s->cur_n && s->rn)
			ms = 0;
		else if (s->cur_n)
			ms = s->due_ms <= now ? 0
			     : (long)(s->due_ms - now) < ms
				     ? (long)(s->due_ms - now)
				     : ms;
	}
	pthread_mutex_unlock(&rw->mu);
	if (any_inflight) {
		curl_multi_timeout(rw->multi, &cto);
		if (cto >= 0 && cto < ms)
			ms = cto;
	}
	return (int)ms;
}

static bool all_done(dl_rw_t *rw)
{
	bool done = true;

	pthread_mutex_lock(&rw->mu);
	for (int i = 0; i < rw->nshards; i++)
		if (rw->shards[i].rn || rw->shards[i].cur_n)
			done = false;
	pthread_mutex_unlock(&rw->mu);
	return done;
}

static void *worker_main(void *arg)
{
	dl_rw_t *rw = arg;
	uint64_t deadline = 0;

	for (;;) {
		uint64_t now = mono_ms();
		bool stopping;
		CURLMsg *m;
		int running, left;

		pthread_mutex_lock(&rw->mu);
		stopping = rw->stopping;
		pthread_mutex_unlock(&rw->mu);
		if (stopping && !deadline)
			deadline = now + DL_RW_STOP_GRACE;
		if (stopping && now >= deadline) {
			drop_all(rw);
			break;
		}
		start_due(rw, now);
		curl_multi_perform(rw->multi, &running);
		while ((m = curl_multi_info_read(rw->multi, &left))) {
			char *priv = NULL;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE,
					  &priv);
			request_done(rw, (shard_t *)priv, m->data.result,
				     stopping);
		}
		if (stopping && all_done(rw))
			break;
		curl_multi_poll(rw->multi, NULL, 0, wait_ms(rw, mono_ms()),
				NULL);
	}
	return NULL;
}

/* ---- life ---- */

/* The token's first line, trimmed; *out = "Authorization: Bearer T". */
static int read_token(const char *path, char **out, char *err, size_t errlen)
{
	char buf[DL_RW_TOKEN_MAX + 1], *p;
	long len = dl_read_first_line(path, O_NOFOLLOW, buf, sizeof(buf));
	size_t n = len > 0 ? (size_t)len : 0;

	if (len < 0) {
		snprintf(err, errlen,
			 "[remote_write] cannot read bearer_token_file %s: %s",
			 path, strerror(errno));
		return DL_ECONFIG;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f)
			n = 0;
	if (!n) {
		explicit_bzero(buf, sizeof(buf));
		snprintf(err, errlen,
			 "[remote_write] bearer_token_file %s is empty or "
			 "holds spaces or control characters",
			 path);
		return DL_ECONFIG;
	}
	if (!(p = malloc(n + 32))) {
		explicit_bzero(buf, sizeof(buf));
		return DL_ENOMEM;
	}
	snprintf(p, n + 32, "Authorization: Bearer %s", buf);
	explicit_bzero(buf, sizeof(buf));
	*out = p;
	return 0;
}

dl_rw_t *dl_rw_new(const dl_rw_conf_t *conf, const char *db, char *err,
		   size_t errlen)
{
	dl_rw_t *rw = calloc(1, sizeof(*rw));
	int n = conf->connections > 0 ? conf->connections : 1;

	err[0] = '\0';
	if (!rw || !(rw->db = strdup(db)) ||
	    !(rw->shards = calloc((size_t)n, sizeof(*rw->shards)))) {
		snprintf(err, errlen, "out of memory");
		if (rw)
			free(rw->db);
		free(rw);
		return NULL;
	}
	rw->conf = *conf;
	rw->nshards = n;
	pthread_mutex_init(&rw->mu, NULL);
	dl_buf_init(&rw->raw, BODY_MAX);
	for (int i = 0; i < n; i++) {
		shard_t *s = &rw->shards[i];

		s->idx = i;
		/* each connection its share; every row is >= 1 sample */
		s->qmax = (uint64_t)conf->queue / (uint64_t)n;
		s->rmax = (size_t)s->qmax;
		dl_buf_init(&s->body, BODY_MAX + BODY_MAX / 6 + 64);
		dl_buf_init(&s->answer, DL_RW_ANSWER_MAX);
	}
	if ((conf->bearer_token_file[0] &&
	     read_token(conf->bearer_token_file, &rw->auth, err, errlen)) ||
	    build_headers(rw) || !(rw->multi = curl_multi_init()))
		goto fail;
	for (int i = 0; i < n; i++)
		if (setup_easy(rw, &rw->shards[i]))
			goto fail;
	pthread_once(&labs_once, labs_init);
	return rw;
fail:
	if (!err[0])
		snprintf(err, errlen, "remote write: out of memory");
	dl_rw_free(rw);
	return NULL;
}

int dl_rw_start(dl_rw_t *rw)
{
	if (pthread_create(&rw->thread, NULL, worker_main, rw))
		return DL_EIO;
	rw->started = true;
	DL_LOG_INFO(TAG,
		    "samples go to %s (%d connection%s, batch %lld, queue "
		    "%lld samples, timeout %d s%s)",
		    rw->conf.url, rw->nshards, rw->nshards == 1 ? "" : "s",
		    (long long)rw->conf.batch, (long long)rw->conf.queue,
		    rw->conf.timeout_s, rw->auth ? ", bearer token" : "");
	return 0;
}

void dl_rw_stop(dl_rw_t *rw)
{
	if (!rw)
		return;
	pthread_mutex_lock(&rw->mu);
	rw->stopping = true;
	pthread_mutex_unlock(&rw->mu);
	if (rw->multi)
		curl_multi_wakeup(rw->multi);
}

void dl_rw_free(dl_rw_t *rw)
{
	if (!rw)
		return;
	if (rw->started) {
		dl_rw_stop(rw);
		pthread_join(rw->thread, NULL);
		DL_LOG_INFO(TAG,
			    "stopped: sent %llu, retried %llu, dropped %llu "
			    "samples",
			    (unsigned long long)atomic_load(&rw->sent),
			    (unsigned long long)atomic_load(&rw->retried),
			    (unsigned long long)(atomic_load(&rw->d_full) +
						 atomic_load(&rw->d_rej) +
						 atomic_load(&rw->d_stop) +
						 atomic_load(&rw->d_unk)));
	}
	for (int i = 0; i < rw->nshards; i++) {
		shard_t *s = &rw->shards[i];

		if (s->easy) {
			if (s->inflight)
				curl_multi_remove_handle(rw->multi, s->easy);
			curl_easy_cleanup(s->easy);
		}
		free(s->ring);
		dl_buf_free(&s->body);
		dl_buf_free(&s->answer);
	}
	free(rw->shards);
	if (rw->multi)
		curl_multi_cleanup(rw->multi);
	curl_slist_free_all(rw->hdrs);
	if (rw->auth) {
		explicit_bzero(rw->auth, strlen(rw->auth));
		free(rw->auth);
	}
	sqlite3_finalize(rw->lq);
	sqlite3_close(rw->rdb);
	labels_clear(rw);
	free(rw->take);
	dl_buf_free(&rw->raw);
	pthread_mutex_destroy(&rw->mu);
	free(rw->db);
	free(rw);
}

void dl_rw_counters(dl_rw_t *rw, dl_rw_counters_t *o)
{
	memset(o, 0, sizeof(*o));
	if (!rw)
		return;
	o->sent = atomic_load(&rw->sent);
	o->retried = atomic_load(&rw->retried);
	o->dropped_full = atomic_load(&rw->d_full);
	o->dropped_rejected = atomic_load(&rw->d_rej);
	o->dropped_stopping = atomic_load(&rw->d_stop);
	o->dropped_unknown = atomic_load(&rw->d_unk);
	o->requests_ok = atomic_load(&rw->req_ok);
	o->requests_failed = atomic_load(&rw->req_fail);
	o->last_ok_ms = atomic_load(&rw->last_ok_ms);
	pthread_mutex_lock(&rw->mu);
	for (int i = 0; i < rw->nshards; i++)
		o->queued += rw->shards[i].qsamples +
			     atomic_load(&rw->shards[i].inflight_n);
	pthread_mutex_unlock(&rw->mu);
}

int dl_rw_metrics(dl_rw_t *rw, dl_buf_t *b)
{
	dl_rw_counters_t c;
	char t[2048];
	int n;

	if (!rw)
		return 0;
	dl_rw_counters(rw, &c);
	n = snprintf(
		t, sizeof(t),
		"# HELP dockline_remote_write_samples_sent_total Samples the "
		"remote-write receiver accepted.\n"
		"# TYPE dockline_remote_write_samples_sent_total counter\n"
		"dockline_remote_write_samples_sent_total %llu\n"
		"# HELP dockline_remote_write_samples_retried_total Samples in "
		"requests that failed (5xx, 429, network) and were sent "
		"again.\n"
		"# TYPE dockline_remote_write_samples_retried_total counter\n"
		"dockline_remote_write_samples_retried_total %llu\n"
		"# HELP dockline_remote_write_samples_dropped_total Samples "
		"never delivered, by reason.\n"
		"# TYPE dockline_remote_write_samples_dropped_total counter\n"
		"dockline_remote_write_samples_dropped_total"
		"{reason=\"queue_full\"} %llu\n"
		"dockline_remote_write_samples_dropped_total"
		"{reason=\"rejected\"} %llu\n"
		"dockline_remote_write_samples_dropped_total"
		"{reason=\"stopping\"} %llu\n"
		"dockline_remote_write_samples_dropped_total"
		"{reason=\"unknown_container\"} %llu\n"
		"# HELP dockline_remote_write_requests_total Remote-write "
		"requests by outcome.\n"
		"# TYPE dockline_remote_write_requests_total counter\n"
		"dockline_remote_write_requests_total{outcome=\"ok\"} %llu\n"
		"dockline_remote_write_requests_total{outcome=\"failed\"} "
		"%llu\n"
		"# HELP dockline_remote_write_queue_samples Samples waiting to "
		"be sent, the request in flight included.\n"
		"# TYPE dockline_remote_write_queue_samples gauge\n"
		"dockline_remote_write_queue_samples %llu\n"
		"# HELP dockline_remote_write_last_success_timestamp_seconds "
		"Unix time of the last accepted request (0: none yet).\n"
		"# TYPE dockline_remote_write_last_success_timestamp_seconds "
		"gauge\n"
		"dockline_remote_write_last_success_timestamp_seconds "
		"%.3f\n",
		(unsigned long long)c.sent, (unsigned long long)c.retried,
		(unsigned long long)c.dropped_full,
		(unsigned long long)c.dropped_rejected,
		(unsigned long long)c.dropped_stopping,
		(unsigned long long)c.dropped_unknown,
		(unsigned long long)c.requests_ok,
		(unsigned long long)c.requests_failed,
		(unsigned long long)c.queued, c.last_ok_ms / 1000.0);
	if (n < 0 || (size_t)n >= sizeof(t))
		return DL_ETOOBIG;
	return dl_buf_append(b, t, (size_t)n) ? DL_ETOOBIG : 0;
}
