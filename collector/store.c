/* store.c - the collector's SQLite store: the queue between the loop and
 * the writer thread, open and close, and what goes back to the loop
 * (acks, done callbacks, push reports) through a uv_async_t.
 *
 * The loop thread only copies payloads onto a mutex-protected queue; the
 * writer thread (store_writer.c) owns the one write connection and
 * applies whole batches in one transaction. Acks go back to the loop
 * thread only after COMMIT succeeded. The store is split by concern the
 * way Redis splits t_*.c: store_schema.c (migrations, statements),
 * store_writer.c (batches, dedupe, commit), store_inventory.c (hosts,
 * containers, events), store_stats.c (samples, rollups, retention),
 * store_audit.c, store_token.c; store_int.h holds what they share. */
#include "collector/store.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sqlite3.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "proto/msg.h"
#include "collector/store_int.h"

#define TAG "store"

const double dl_store_commit_bounds[DL_STORE_COMMIT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};

void *dl_store__vec_push(vec_t *a)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		void *v = realloc(a->v, cap * a->size);

		if (!v)
			return NULL;
		a->v = v;
		a->cap = cap;
	}
	return (char *)a->v + a->n++ * a->size;
}

void *dl_store__vec_at(const vec_t *a, size_t i)
{
	return (char *)a->v + i * a->size;
}

/* Binds text as is when it is clean UTF-8 (the common case, no copy: the
 * item outlives the step), else a repaired copy, so what is stored is
 * always valid UTF-8 that the JSON side can hand out. */
int dl_store__bind_str(sqlite3_stmt *st, int i, dl_str_t s)
{
	char *c;

	if (dl_utf8_valid(s.p, s.n))
		return sqlite3_bind_text(st, i, s.n ? s.p : "", (int)s.n,
					 SQLITE_STATIC);
	if (!(c = dl_utf8_dup(s.p, s.n)))
		return SQLITE_NOMEM;
	return sqlite3_bind_text(st, i, c, -1, free);
}

int dl_store__bind_cstr(sqlite3_stmt *st, int i, const char *s)
{
	return dl_store__bind_str(st, i, (dl_str_t){s, (uint32_t)strlen(s)});
}

int dl_store__run(dl_store_t *s, int which)
{
	sqlite3_stmt *st = s->st[which];
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Index of host in the sorted cache, or where it would go (*found
 * false). Caller holds cache_mu. */
static size_t cache_find(const dl_store_t *s, const char *host, bool *found)
{
	size_t lo = 0, hi = s->cache.n;

	*found = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(
			((deliv_t *)dl_store__vec_at(&s->cache, mid))->host,
			host);

		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int dl_store__cache_set(dl_store_t *s, const char *host, uint64_t epoch,
			uint64_t seq)
{
	bool found;
	size_t i;
	deliv_t *d;
	int rc = 0;

	pthread_mutex_lock(&s->cache_mu);
	i = cache_find(s, host, &found);
	if (!found) {
		if (!dl_store__vec_push(&s->cache)) {
			rc = DL_ENOMEM;
			goto fail;
		}
		memmove(dl_store__vec_at(&s->cache, i + 1),
			dl_store__vec_at(&s->cache, i),
			(s->cache.n - 1 - i) * sizeof(deliv_t));
		d = dl_store__vec_at(&s->cache, i);
		snprintf(d->host, sizeof(d->host), "%s", host);
	}
	d = dl_store__vec_at(&s->cache, i);
	d->epoch = epoch;
	d->seq = seq;
fail:
	pthread_mutex_unlock(&s->cache_mu);
	return rc;
}

size_t dl_store_hosts_known(dl_store_t *s)
{
	size_t n;

	if (!s)
		return 0;
	pthread_mutex_lock(&s->cache_mu);
	n = s->cache.n;
	pthread_mutex_unlock(&s->cache_mu);
	return n;
}

void dl_store_last(dl_store_t *s, const char *host, uint64_t *epoch,
		   uint64_t *seq)
{
	bool found;
	size_t i;

	*epoch = 0;
	*seq = 0;
	if (!s || !host)
		return;
	pthread_mutex_lock(&s->cache_mu);
	i = cache_find(s, host, &found);
	if (found) {
		*epoch = ((deliv_t *)dl_store__vec_at(&s->cache, i))->epoch;
		*seq = ((deliv_t *)dl_store__vec_at(&s->cache, i))->seq;
	}
	pthread_mutex_unlock(&s->cache_mu);
}

static int load_cache(dl_store_t *s, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT host, epoch, seq FROM delivery "
			       "ORDER BY host",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);

		if (h && dl_store__cache_set(
				 s, h, (uint64_t)sqlite3_column_int64(st, 1),
				 (uint64_t)sqlite3_column_int64(st, 2))) {
			sqlite3_finalize(st);
			snprintf(err, errlen, "out of memory");
			return DL_ENOMEM;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto fail;
	/* Subscribers get events after this row (pubsub.c). */
	if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(id), 0) FROM events",
			       -1, &st, NULL) != SQLITE_OK)
		goto fail;
	if (sqlite3_step(st) == SQLITE_ROW)
		atomic_store(&s->last_event, sqlite3_column_int64(st, 0));
	sqlite3_finalize(st);
	return 0;
fail:
	snprintf(err, errlen, "%s: reading delivery state: %s", s->path,
		 sqlite3_errmsg(s->db));
	return DL_EDB;
}

static void drain_acks(dl_store_t *s)
{
	vec_t acks, dones, hosts;
	bool push;
	const char **names = NULL;

	pthread_mutex_lock(&s->ack_mu);
	acks = s->acks;
	s->acks = (vec_t){.size = sizeof(ack_t)};
	dones = s->dones;
	s->dones = (vec_t){.size = sizeof(done_t)};
	push = s->push_pending;
	hosts = s->push_hosts;
	s->push_pending = false;
	s->push_hosts = (vec_t){.size = DL_HOST_MAX + 1};
	dl_hidx_clear(&s->acks_ix);
	dl_hidx_clear(&s->push_ix);
	pthread_mutex_unlock(&s->ack_mu);
	for (size_t i = 0; i < acks.n; i++) {
		ack_t *a = dl_store__vec_at(&acks, i);

		if (s->ack_cb)
			s->ack_cb(s->ud, a->sid, a->epoch, a->seq);
	}
	free(acks.v);
	for (size_t i = 0; i < dones.n; i++) {
		done_t *d = dl_store__vec_at(&dones, i);

		d->cb(d->ud, d->result);
	}
	free(dones.v);
	if (push && s->push_cb &&
	    (hosts.n == 0 || (names = calloc(hosts.n, sizeof(*names))))) {
		for (size_t i = 0; i < hosts.n; i++)
			names[i] = dl_store__vec_at(&hosts, i);
		s->push_cb(s->push_ud, atomic_load(&s->last_event), names,
			   hosts.n);
	}
	free(names);
	free(hosts.v);
}

void dl_store_on_push(dl_store_t *s, dl_store_push_cb cb, void *ud)
{
	s->push_cb = cb;
	s->push_ud = ud;
}

void dl_store_on_samples(dl_store_t *s, dl_store_tap_cb cb, void *ud)
{
	pthread_mutex_lock(&s->mu);
	s->tap_cb = cb;
	s->tap_ud = ud;
	pthread_mutex_unlock(&s->mu);
}

void dl_store_push_enable(dl_store_t *s, bool on)
{
	atomic_store(&s->push_on, on);
}

int64_t dl_store_last_event(dl_store_t *s)
{
	return atomic_load(&s->last_event);
}

void dl_store_counters(dl_store_t *s, dl_store_counters_t *out)
{
	uint64_t cum = 0;

	out->events = atomic_load(&s->n_events);
	out->samples = atomic_load(&s->n_samples);
	out->host_samples = atomic_load(&s->n_host_samples);
	for (size_t i = 0; i <= DL_STORE_COMMIT_BUCKETS; i++) {
		cum += atomic_load(&s->commit_le[i]);
		if (i < DL_STORE_COMMIT_BUCKETS)
			out->commit_le[i] = cum;
	}
	out->commits = cum;
	out->commit_seconds = (double)atomic_load(&s->commit_ns_sum) / 1e9;
}

/* A clean stop leaves everything in the main file and an empty -wal:
 * a copy of dockline.db alone is then the whole database. (The file
 * itself goes only when the last connection closes, and the read-only
 * query connections of the threadpool live until the process ends.) */
static void checkpoint(dl_store_t *s)
{
	int log = 0, done = 0;
	int rc = sqlite3_wal_checkpoint_v2(
		s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);

	if (rc == SQLITE_OK)
		DL_LOG_INFO(TAG, "%s: -wal checkpointed (%d pages) and emptied",
			    s->path, done);
	else
		DL_LOG_WARN(TAG,
			    "%s: checkpoint at close: %s (the -wal is "
			    "replayed at the next start)",
			    s->path, sqlite3_errmsg(s->db));
}

static void on_async(uv_async_t *h)
{
	drain_acks(h->data);
}

static void store_free(dl_store_t *s)
{
	for (int i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(s->st[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		DL_LOG_ERROR(TAG, "%s: close: %s", s->path,
			     sqlite3_errmsg(s->db));
	dl_store__free_items(s->head);
	free(s->b_acks.v);
	free(s->b_hosts.v);
	dl_hidx_free(&s->b_acks_ix);
	dl_hidx_free(&s->b_hosts_ix);
	dl_hidx_free(&s->acks_ix);
	dl_hidx_free(&s->push_ix);
	free(s->ctab);
	for (size_t i = 0; i < s->hstates.n; i++)
		free(((hstate_t *)dl_store__vec_at(&s->hstates, i))
			     ->cid_by_idx);
	free(s->hstates.v);
	free(s->acks.v);
	free(s->dones.v);
	free(s->cache.v);
	free(s->b_push_hosts.v);
	free(s->b_tap_c.v);
	free(s->b_tap_h.v);
	free(s->push_hosts.v);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->ack_mu);
	pthread_mutex_destroy(&s->cache_mu);
	free(s->path);
	free(s);
}

static void on_closed(uv_handle_t *h)
{
	store_free(h->data);
}

/* DL_TEST_STORE_BATCH_MAX=ITEMS (tests only: a backlog then takes many
 * COMMITs, so a kill can land between two of them): 1..DL_STORE_BATCH_MAX.
 * Anything else is ignored with a warning. */
static size_t test_batch_max(void)
{
	const char *e = getenv("DL_TEST_STORE_BATCH_MAX");
	int64_t v;

	if (!e || !*e)
		return DL_STORE_BATCH_MAX;
	if (dl_parse_int(e, 1, DL_STORE_BATCH_MAX, &v)) {
		DL_LOG_WARN(TAG,
			    "DL_TEST_STORE_BATCH_MAX=%.32s ignored: expected "
			    "1..%d items",
			    e, DL_STORE_BATCH_MAX);
		return DL_STORE_BATCH_MAX;
	}
	DL_LOG_WARN(TAG,
		    "DL_TEST_STORE_BATCH_MAX: at most %lld items per COMMIT "
		    "(a test setting)",
		    (long long)v);
	return (size_t)v;
}

dl_store_t *dl_store_open(uv_loop_t *loop, const char *path,
			  dl_store_ack_cb ack_cb, void *ud, char *err,
			  size_t errlen)
{
	dl_store_t *s = calloc(1, sizeof(*s));

	if (!s || !(s->path = strdup(path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->ack_cb = ack_cb;
	s->ud = ud;
	s->b_acks.size = s->acks.size = sizeof(ack_t);
	s->dones.size = sizeof(done_t);
	s->b_hosts.size = sizeof(bhost_t);
	s->cache.size = sizeof(deliv_t);
	s->hstates.size = sizeof(hstate_t);
	s->b_push_hosts.size = s->push_hosts.size = DL_HOST_MAX + 1;
	s->b_tap_c.size = sizeof(dl_store_csample_t);
	s->b_tap_h.size = sizeof(dl_store_hsample_t);
	s->ret_ns[0] = DL_STORE_RAW_DEFAULT * 1000000000ll;
	s->ret_ns[1] = DL_STORE_MINUTE_DEFAULT * 1000000000ll;
	s->ret_ns[2] = DL_STORE_HOUR_DEFAULT * 1000000000ll;
	s->ret_audit_ns = DL_STORE_AUDIT_DEFAULT * 1000000000ll;
	s->ret_next = dl_clock_mono_ns() + RET_PERIOD_NS;
	s->batch_max = test_batch_max();
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->ack_mu, NULL);
	pthread_mutex_init(&s->cache_mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	if (dl_store__setup_db(s, err, errlen) || load_cache(s, err, errlen))
		goto fail;
	if (uv_async_init(loop, &s->async, on_async) != 0) {
		snprintf(err, errlen, "uv_async_init failed");
		goto fail;
	}
	s->async.data = s;
	if (pthread_create(&s->thread, NULL, dl_store__writer_main, s) != 0) {
		snprintf(err, errlen, "cannot start the writer thread");
		uv_close((uv_handle_t *)&s->async, on_closed);
		return NULL;
	}
	s->thread_started = true;
	DL_LOG_INFO(TAG, "%s open (%zu hosts with delivery state)", path,
		    s->cache.n);
	return s;
fail:
	store_free(s);
	return NULL;
}

void dl_store_close(dl_store_t *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->thread_started)
		pthread_join(s->thread, NULL);
	/* The last batch's acks: deliver now, the async will not fire after
	 * uv_close. */
	drain_acks(s);
	for (int i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	checkpoint(s);
	if (sqlite3_close(s->db) != SQLITE_OK)
		DL_LOG_ERROR(TAG, "%s: close: %s", s->path,
			     sqlite3_errmsg(s->db));
	s->db = NULL;
	uv_close((uv_handle_t *)&s->async, on_closed);
}

/* Queues an item; host items bypass the byte cap (they are tiny and
 * must not be lost, or a host would stay "online"). */
int dl_store__enqueue(dl_store_t *s, item_t *it, bool capped)
{
	bool wake;

	pthread_mutex_lock(&s->mu);
	if (s->stopping ||
	    (capped && s->qbytes + it->len > DL_STORE_QUEUE_MAX)) {
		int rc = s->stopping ? DL_ECLOSED : DL_EFULL;

		pthread_mutex_unlock(&s->mu);
		free(it);
		return rc;
	}
	if (s->tail)
		s->tail->next = it;
	else
		s->head = it;
	s->tail = it;
	s->nitems++;
	s->qbytes += it->len;
	/* The writer sleeps only on an empty queue. */
	wake = s->nitems == 1;
	if (wake)
		pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

item_t *dl_store__item_alloc(item_kind_t kind, size_t len, uint64_t time_ns)
{
	item_t *it = malloc(sizeof(*it) + len);

	if (!it)
		return NULL;
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	it->time_ns = time_ns;
	it->len = len;
	return it;
}

static item_t *item_new(item_kind_t kind, uint64_t sid, const char *host,
			size_t len, uint64_t time_ns)
{
	size_t hl = host ? strlen(host) : 0;
	item_t *it;

	if (hl == 0 || hl > DL_HOST_MAX)
		return NULL;
	if (!(it = dl_store__item_alloc(kind, len, time_ns)))
		return NULL;
	it->sid = sid;
	memcpy(it->host, host, hl + 1);
	return it;
}

int dl_store_submit(dl_store_t *s, uint64_t sid, const char *host,
		    const uint8_t *payload, size_t len)
{
	item_t *it;

	if (!s || !payload || len == 0 || !host || !*host ||
	    strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_DATA, sid, host, len, dl_clock_wall_ns())))
		return DL_ENOMEM;
	memcpy(it->data, payload, len);
	return dl_store__enqueue(s, it, true);
}

int dl_store_submit_parts(dl_store_t *s, uint64_t sid, const char *host,
			  const uint8_t *const *payloads, const size_t *lens,
			  uint32_t n)
{
	size_t len = 4, off = 4;
	item_t *it;

	if (!s || !payloads || !lens || n == 0 || n > DL_MAX_INVENTORY_PARTS ||
	    !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (!payloads[i] || lens[i] == 0 || lens[i] > DL_FRAME_MAX)
			return DL_EINVAL;
		len += 4 + lens[i];
	}
	if (len > DL_MAX_INVENTORY_BYTES + 4u * (DL_MAX_INVENTORY_PARTS + 1))
		return DL_EINVAL;
	if (!(it = item_new(IT_INV_PARTS, sid, host, len, dl_clock_wall_ns())))
		return DL_ENOMEM;
	memcpy(it->data, &n, 4);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t l = (uint32_t)lens[i];

		memcpy(it->data + off, &l, 4);
		memcpy(it->data + off + 4, payloads[i], lens[i]);
		off += 4 + lens[i];
	}
	return dl_store__enqueue(s, it, true);
}

int dl_store_host_online(dl_store_t *s, const char *host, const char *peer,
			 const char *software, const char *control,
			 uint64_t time_ns)
{
	size_t pl, sl, cl;
	item_t *it;

	if (!peer)
		peer = "";
	if (!software)
		software = "";
	if (!control)
		control = "";
	pl = strnlen(peer, DL_MAX_TEXT);
	sl = strnlen(software, DL_MAX_TEXT);
	cl = strnlen(control, DL_MAX_NAME);
	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_ONLINE, 0, host, pl + sl + cl + 3, time_ns)))
		return DL_ENOMEM;
	memcpy(it->data, peer, pl);
	it->data[pl] = '\0';
	memcpy(it->data + pl + 1, software, sl);
	it->data[pl + 1 + sl] = '\0';
	memcpy(it->data + pl + sl + 2, control, cl);
	it->data[pl + sl + 2 + cl] = '\0';
	return dl_store__enqueue(s, it, false);
}

int dl_store_host_clock(dl_store_t *s, const char *host, bool known,
			int64_t skew_ms)
{
	item_t *it;

	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_CLOCK, 0, host, 0, dl_clock_wall_ns())))
		return DL_ENOMEM;
	it->au.skew_ms = known ? skew_ms : INT64_MIN;
	return dl_store__enqueue(s, it, false);
}

int dl_store_host_offline(dl_store_t *s, const char *host, uint64_t time_ns)
{
	item_t *it;

	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_OFFLINE, 0, host, 0, time_ns)))
		return DL_ENOMEM;
	return dl_store__enqueue(s, it, false);
}

int dl_store_forget(dl_store_t *s, const char *host)
{
	item_t *it;

	if (!s || !host || !*host || strlen(host) > DL_HOST_MAX)
		return DL_EINVAL;
	if (!(it = item_new(IT_FORGET, 0, host, 0, dl_clock_wall_ns())))
		return DL_ENOMEM;
	return dl_store__enqueue(s, it, false);
}

size_t dl_store_pending(dl_store_t *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nitems + s->inflight;
	pthread_mutex_unlock(&s->mu);
	return n;
}
