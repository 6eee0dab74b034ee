/* remote_write.c - the sample tap, the bounded queue, and the life of
 * remote write (new, start, stop, free, counters). The rest is in
 * rw_series.c (samples -> series), rw_worker.c (the worker thread) and
 * rw_send.c (HTTP), sharing rw_int.h.
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

#include <curl/curl.h>
#include <sqlite3.h>

#include "collector/rw_int.h"
#include "common/err.h"
#include "common/fdio.h"
#include "common/log.h"

/* ---- the queue: one ring per connection ---- */

/* Series one container sample becomes (the queue's bound counts them). */
static unsigned csample_series(const dl_store_csample_t *c)
{
	uint32_t f = c->v.valid;

	return !!(f & DL_SV_CPU) + 2 * !!(f & DL_SV_MEM) +
	       !!(f & DL_SV_MEMLIMIT) + 2 * !!(f & DL_SV_NET) +
	       2 * !!(f & DL_SV_BLK);
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
	    dl_rw__build_headers(rw) || !(rw->multi = curl_multi_init()))
		goto fail;
	for (int i = 0; i < n; i++)
		if (dl_rw__setup_easy(rw, &rw->shards[i]))
			goto fail;
	dl_rw__labs_init();
	return rw;
fail:
	if (!err[0])
		snprintf(err, errlen, "remote write: out of memory");
	dl_rw_free(rw);
	return NULL;
}

int dl_rw_start(dl_rw_t *rw)
{
	if (pthread_create(&rw->thread, NULL, dl_rw__worker_main, rw))
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
	dl_rw__labels_clear(rw);
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
