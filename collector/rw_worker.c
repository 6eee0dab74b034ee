/* rw_worker.c - the remote-write worker thread: each connection's ring
 * -> a batch of series (container labels from its own read-only
 * connection, cached) -> snappy body -> sent (rw_send.c) when due; at
 * stop, DL_RW_STOP_GRACE to drain, then what is left is counted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/rw_int.h"
#include "collector/rw_proto.h"
#include "common/err.h"
#include "common/log.h"

#define IDLE_WAIT_MS 1000
#define LABELS_MAX   (1u << 20) /* cached containers; past it: cleared */

/* ---- labels (worker) ---- */

#define LABEL_SQL                                                              \
	"SELECT k.host, coalesce(c.name, k.name, ''), k.id, c.image FROM "     \
	"container_keys k LEFT JOIN containers c ON c.host = k.host AND "      \
	"c.id = k.id WHERE k.cid = ?1"

static size_t lslot(int64_t cid, size_t cap)
{
	return (size_t)((uint64_t)cid * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

void dl_rw__labels_clear(dl_rw_t *rw)
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
		dl_rw__labels_clear(rw);
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
		dl_rw__batch_done(s);
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
			dl_rw__start_request(rw, s);
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

void *dl_rw__worker_main(void *arg)
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
			dl_rw__request_done(rw, (shard_t *)priv, m->data.result,
					    stopping);
		}
		if (stopping && all_done(rw))
			break;
		curl_multi_poll(rw->multi, NULL, 0, wait_ms(rw, mono_ms()),
				NULL);
	}
	return NULL;
}
