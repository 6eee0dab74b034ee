/* store_writer.c - the writer thread: takes whole batches off the queue,
 * applies them in one transaction (deduplicating data frames on the
 * per-host delivery (epoch, seq) in that same transaction), commits, and
 * hands acks, done callbacks and push reports to the loop. The only code
 * that writes the database. Never blocks the loop beyond a mutex hold. */

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
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "proto/msg.h"
#include "collector/store_int.h"

#define TAG "store"

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int apply_msg(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	switch (m->type) {
	case DL_MSG_INVENTORY: return dl_store__apply_inventory(s, it, m);
	case DL_MSG_CONTAINER: return dl_store__apply_container(s, it, m);
	case DL_MSG_EVENT: return dl_store__apply_event(s, it, m);
	case DL_MSG_DOCKER: return dl_store__apply_docker(s, it, m);
	case DL_MSG_DROPPED: return dl_store__apply_dropped(s, it, m);
	case DL_MSG_STATS: return dl_store__apply_stats(s, it, m);
	case DL_MSG_HOSTSTATS: return dl_store__apply_hoststats(s, it, m);
	default: return SQLITE_OK; /* a data type this version ignores */
	}
}

static int deliv_get(dl_store_t *s, bhost_t *h)
{
	sqlite3_stmt *st = s->st[ST_DELIV_GET];
	int rc;

	h->have = false;
	if ((rc = dl_store__bind_cstr(st, 1, h->host)))
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		h->have = true;
		h->epoch = (uint64_t)sqlite3_column_int64(st, 0);
		h->seq = (uint64_t)sqlite3_column_int64(st, 1);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

static int host_touch(dl_store_t *s, const char *host, uint64_t time_ns)
{
	sqlite3_stmt *st = s->st[ST_HOST_TOUCH];
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)time_ns)))
		return rc;
	return dl_store__run(s, ST_HOST_TOUCH);
}

/* The batch's view of host: on first sight the hosts row is made to
 * exist (foreign keys) and the delivery row is read; later items of the
 * batch use and advance the copy, written back once before COMMIT.
 * Found by hash: a batch may hold thousands of hosts. */
static int batch_host(dl_store_t *s, const item_t *it, bhost_t **out)
{
	uint64_t hh = dl_hash_str(it->host);
	bhost_t *h;
	int rc;

	for (size_t i = dl_hidx_find(&s->b_hosts_ix, hh); i != DL_HIDX_END;
	     i = dl_hidx_next(&s->b_hosts_ix, hh, i)) {
		h = dl_store__vec_at(&s->b_hosts, s->b_hosts_ix.s[i].v - 1);
		if (!strcmp(h->host, it->host)) {
			if (it->time_ns > h->last_ns)
				h->last_ns = it->time_ns;
			*out = h;
			return SQLITE_OK;
		}
	}
	if (!(h = dl_store__vec_push(&s->b_hosts)))
		return SQLITE_NOMEM;
	if (dl_hidx_put(&s->b_hosts_ix, hh, s->b_hosts.n)) {
		s->b_hosts.n--;
		return SQLITE_NOMEM;
	}
	memset(h, 0, sizeof(*h));
	memcpy(h->host, it->host, sizeof(h->host));
	h->touched_ns = h->last_ns = it->time_ns;
	*out = h;
	if ((rc = host_touch(s, it->host, it->time_ns)))
		return rc;
	return deliv_get(s, h);
}

static int batch_flush(dl_store_t *s)
{
	sqlite3_stmt *st = s->st[ST_DELIV_SET];
	int rc;

	for (size_t i = 0; i < s->b_hosts.n; i++) {
		bhost_t *h = dl_store__vec_at(&s->b_hosts, i);

		if (h->last_ns > h->touched_ns &&
		    (rc = host_touch(s, h->host, h->last_ns)))
			return rc;
		if (!h->dirty)
			continue;
		if ((rc = dl_store__bind_cstr(st, 1, h->host)) ||
		    (rc = sqlite3_bind_int64(st, 2, (int64_t)h->epoch)) ||
		    (rc = sqlite3_bind_int64(st, 3, (int64_t)h->seq)) ||
		    (rc = sqlite3_bind_int64(st, 4, (int64_t)h->last_ns)) ||
		    (rc = dl_store__run(s, ST_DELIV_SET)))
			return rc;
	}
	return SQLITE_OK;
}

/* The ack of sid in v (indexed by ix), or NULL. */
static ack_t *ack_of(vec_t *v, const dl_hidx_t *ix, uint64_t sid)
{
	uint64_t h = dl_hash_u64(sid);

	for (size_t i = dl_hidx_find(ix, h); i != DL_HIDX_END;
	     i = dl_hidx_next(ix, h, i)) {
		ack_t *a = dl_store__vec_at(v, ix->s[i].v - 1);

		if (a->sid == sid)
			return a;
	}
	return NULL;
}

/* Keeps one ack per session in v: same epoch, the highest seq wins; a
 * new epoch (the agent restarted) replaces. 0 or DL_ENOMEM. */
static int ack_merge(vec_t *v, dl_hidx_t *ix, const ack_t *b)
{
	ack_t *a = ack_of(v, ix, b->sid);

	if (!a) {
		if (!(a = dl_store__vec_push(v)))
			return DL_ENOMEM;
		if (dl_hidx_put(ix, dl_hash_u64(b->sid), v->n)) {
			v->n--;
			return DL_ENOMEM;
		}
		*a = *b;
	} else if (a->epoch != b->epoch || b->seq > a->seq) {
		*a = *b;
	}
	return 0;
}

static int note_ack(dl_store_t *s, uint64_t sid, uint64_t epoch, uint64_t seq)
{
	ack_t b = {sid, epoch, seq};

	return ack_merge(&s->b_acks, &s->b_acks_ix, &b) ? SQLITE_NOMEM
							: SQLITE_OK;
}

/* SQLite codes that say "the item is bad", not "the database is". Such an
 * item is dropped (and acked) instead of blocking its agent forever. */
static bool item_fault(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE: return true;
	default: return false;
	}
}

/* Applies one data item unless the host's delivery already covers it.
 * Returns an SQLite code; non-OK aborts the batch. */
static int apply_data(dl_store_t *s, const item_t *it)
{
	char why[160];
	bhost_t *h;
	bool multi;
	dl_msg_t m;
	int rc;

	if (dl_msg_decode(&m, it->data, it->len, why, sizeof(why)) != 0) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s: undecodable frame dropped: %s", it->host, why);
		return SQLITE_OK;
	}
	if (!dl_msg_is_data(m.type)) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "%s: %s is not a data frame",
			  it->host, dl_msg_type_name(m.type));
		rc = SQLITE_OK;
		goto fail;
	}
	if ((rc = batch_host(s, it, &h)))
		goto fail;
	if (h->have && h->epoch == m.epoch && m.seq <= h->seq)
		goto done; /* a resend: stored already, only acked again */
	/* A failed statement undoes itself; an INVENTORY is many, so it
	 * gets a savepoint to fail as a whole. */
	multi = m.type == DL_MSG_INVENTORY;
	if (multi && (rc = dl_store__run(s, ST_SAVE)))
		goto fail;
	rc = apply_msg(s, it, &m);
	if (rc != SQLITE_OK) {
		if (multi)
			dl_store__run(s, ST_ROLLTO);
		if (!item_fault(rc))
			goto fail;
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s: %s %llu/%llu not stored: %s", it->host,
			  dl_msg_type_name(m.type), (unsigned long long)m.epoch,
			  (unsigned long long)m.seq, sqlite3_errstr(rc));
	}
	if (multi && (rc = dl_store__run(s, ST_RELEASE)))
		goto fail;
	h->have = h->dirty = true;
	h->epoch = m.epoch;
	h->seq = m.seq;
done:
	rc = note_ack(s, it->sid, m.epoch, m.seq);
fail:
	dl_msg_release(&m);
	return rc;
}

/* Part i of an IT_INV_PARTS item (built by dl_store_submit_parts, so
 * well formed; checked anyway). */
static bool part_at(const item_t *it, uint32_t want, const uint8_t **p,
		    size_t *n)
{
	size_t off = 4;
	uint32_t cnt, len;

	if (it->len < 4)
		return false;
	memcpy(&cnt, it->data, 4);
	for (uint32_t i = 0; i < cnt && off + 4 <= it->len; i++) {
		memcpy(&len, it->data + off, 4);
		if (len > it->len - off - 4)
			return false;
		if (i == want) {
			*p = it->data + off + 4;
			*n = len;
			return true;
		}
		off += 4 + (size_t)len;
	}
	return false;
}

static uint32_t part_count(const item_t *it)
{
	uint32_t cnt = 0;

	if (it->len >= 4)
		memcpy(&cnt, it->data, 4);
	return cnt;
}

/* Adds part i's containers; a part that no longer decodes (it did on
 * the loop thread) fails the whole inventory. */
static int apply_part(dl_store_t *s, const item_t *it, uint32_t i,
		      uint64_t stamp)
{
	char why[160];
	const uint8_t *p;
	size_t n;
	dl_msg_t m;
	int rc;

	if (!part_at(it, i, &p, &n) ||
	    dl_msg_decode(&m, p, n, why, sizeof(why)) != 0)
		return SQLITE_MISMATCH;
	rc = m.type == DL_MSG_INVENTORY
		     ? dl_store__inventory_add(s, it, &m, stamp)
		     : SQLITE_MISMATCH;
	dl_msg_release(&m);
	return rc;
}

/* One INVENTORY's parts, applied as one: every container upserted under
 * one stamp, then the host's other rows pruned, in one savepoint, so a
 * reader never sees part of the set and a part never marks the rest
 * gone. Deduped and acked as the last part's (epoch, seq). */
static int apply_parts(dl_store_t *s, const item_t *it)
{
	uint32_t cnt = part_count(it);
	const uint8_t *p;
	uint64_t stamp;
	char why[160];
	bhost_t *h;
	dl_msg_t last;
	size_t n;
	int rc;

	if (cnt == 0 || !part_at(it, cnt - 1, &p, &n) ||
	    dl_msg_decode(&last, p, n, why, sizeof(why)) != 0) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s: undecodable inventory parts dropped", it->host);
		return SQLITE_OK;
	}
	if ((rc = batch_host(s, it, &h)))
		goto fail;
	if (h->have && h->epoch == last.epoch && last.seq <= h->seq)
		goto done;
	if ((rc = dl_store__run(s, ST_SAVE)))
		goto fail;
	stamp = dl_store__inventory_begin(s, it);
	for (uint32_t i = 0; i < cnt && rc == SQLITE_OK; i++)
		rc = apply_part(s, it, i, stamp);
	if (rc == SQLITE_OK)
		rc = dl_store__inventory_end(s, it, stamp);
	if (rc != SQLITE_OK) {
		dl_store__run(s, ST_ROLLTO);
		if (!item_fault(rc))
			goto fail;
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s: INVENTORY %llu/%llu (%u parts) not stored: %s",
			  it->host, (unsigned long long)last.epoch,
			  (unsigned long long)last.seq, cnt,
			  sqlite3_errstr(rc));
	}
	if ((rc = dl_store__run(s, ST_RELEASE)))
		goto fail;
	h->have = h->dirty = true;
	h->epoch = last.epoch;
	h->seq = last.seq;
done:
	rc = note_ack(s, it->sid, last.epoch, last.seq);
fail:
	dl_msg_release(&last);
	return rc;
}

static int apply_host(dl_store_t *s, const item_t *it)
{
	int which = it->kind == IT_ONLINE ? ST_HOST_ONLINE : ST_HOST_OFFLINE;
	sqlite3_stmt *st = s->st[which];
	int rc;

	dl_store__idx_forget(s, it->host); /* a new session numbers afresh */

	if ((rc = dl_store__bind_cstr(st, 1, it->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, (int64_t)it->time_ns)))
		return rc;
	if (it->kind == IT_ONLINE) {
		const char *peer = (const char *)it->data;
		const char *sw = peer + strlen(peer) + 1;
		const char *ctl = sw + strlen(sw) + 1;

		if ((rc = dl_store__bind_cstr(st, 3, peer)) ||
		    (rc = dl_store__bind_cstr(st, 4, sw)) ||
		    (rc = ctl[0] ? dl_store__bind_cstr(st, 5, ctl)
				 : sqlite3_bind_null(st, 5)))
			return rc;
	}
	return dl_store__run(s, which);
}

/* The batch forgets its view of host: written back after a FORGET it
 * would put a delivery row back for a host that has no row (a foreign
 * key failure that held the whole batch, every host's data with it,
 * retrying forever) and the old delivery back into the cache. A later
 * item of the host in this batch makes the row exist again. */
static void batch_host_drop(dl_store_t *s, const char *host)
{
	uint64_t hh = dl_hash_str(host);

	for (size_t i = 0; i < s->b_hosts.n; i++) {
		bhost_t *h = dl_store__vec_at(&s->b_hosts, i);
		size_t last = s->b_hosts.n - 1;

		if (strcmp(h->host, host))
			continue;
		/* The last entry moves into the hole: its index entry
		 * moves with it (index + 1 values). */
		dl_hidx_del(&s->b_hosts_ix, hh, i + 1);
		if (i < last) {
			bhost_t *m = dl_store__vec_at(&s->b_hosts, last);
			uint64_t mh = dl_hash_str(m->host);

			dl_hidx_del(&s->b_hosts_ix, mh, last + 1);
			memcpy(h, m, sizeof(*h));
			/* cannot fail: a slot was just freed */
			(void)dl_hidx_put(&s->b_hosts_ix, mh, i + 1);
		}
		s->b_hosts.n--;
		return; /* batch_host keeps one entry per host */
	}
}

/* `dockline forget --purge`: every row keyed by this host. Every table
 * that stores per-host data must be listed here. Rare, so statements are
 * prepared on the spot. The audit table is left out on purpose: who did
 * what to a host must stay on record after the host is gone. */
static int apply_forget(dl_store_t *s, const item_t *it)
{
#define CIDS "(SELECT cid FROM container_keys WHERE host = ?1)"
	static const char *const q[] = {
		"DELETE FROM container_samples WHERE cid IN " CIDS,
		"DELETE FROM container_1m WHERE k IN " CIDS,
		"DELETE FROM container_1h WHERE k IN " CIDS,
		"DELETE FROM container_keys WHERE host = ?1",
		"DELETE FROM host_samples WHERE host = ?1",
		"DELETE FROM host_1m WHERE k = ?1",
		"DELETE FROM host_1h WHERE k = ?1",
		"DELETE FROM events WHERE host = ?1",
		"DELETE FROM containers WHERE host = ?1",
		"DELETE FROM delivery WHERE host = ?1",
		"DELETE FROM hosts WHERE name = ?1",
		"DELETE FROM alerts WHERE host = ?1",
	};
#undef CIDS
	int rc = SQLITE_OK;

	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && rc == SQLITE_OK;
	     i++) {
		sqlite3_stmt *st;

		rc = sqlite3_prepare_v2(s->db, q[i], -1, &st, NULL);
		if (rc != SQLITE_OK)
			break;
		rc = dl_store__bind_cstr(st, 1, it->host);
		if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
			rc = SQLITE_OK;
		sqlite3_finalize(st);
	}
	if (rc == SQLITE_OK) {
		batch_host_drop(s, it->host);
		/* A later HELLO from this name starts from nothing. */
		dl_store__cache_set(s, it->host, 0, 0);
		DL_LOG_INFO(TAG, "%s: history purged", it->host);
	}
	return rc;
}

static int apply_item(dl_store_t *s, item_t *it)
{
	switch (it->kind) {
	case IT_DATA: return apply_data(s, it);
	case IT_INV_PARTS: return apply_parts(s, it);
	case IT_FORGET: return apply_forget(s, it);
	case IT_CLOCK: return dl_store__apply_clock(s, it);
	case IT_AUDIT_START: return dl_store__apply_audit_start(s, it);
	case IT_AUDIT_END: return dl_store__apply_audit_end(s, it);
	case IT_TOKEN_CREATE:
	case IT_TOKEN_REVOKE:
	case IT_TOKEN_USED: return dl_store__apply_token(s, it);
	case IT_ALERT_PUT:
	case IT_ALERT_DEL:
	case IT_ALERT_PRUNE:
	case IT_SILENCE_PUT:
	case IT_SILENCE_END: return dl_store__apply_alert(s, it);
	case IT_HOST_LABELS: return dl_store__apply_host_labels(s, it);
	default: return apply_host(s, it);
	}
}

/* The COMMIT's duration into the histogram (cumulative buckets are made
 * when read: here one bucket per observation). */
static void observe_commit(dl_store_t *s, uint64_t ns)
{
	double sec = (double)ns / 1e9;
	size_t i = 0;

	while (i < DL_STORE_COMMIT_BUCKETS && sec > dl_store_commit_bounds[i])
		i++;
	atomic_fetch_add(&s->commit_le[i], 1);
	atomic_fetch_add(&s->commit_ns_sum, ns);
}

static void batch_reset(dl_store_t *s)
{
	s->b_acks.n = 0;
	s->b_hosts.n = 0;
	dl_hidx_clear(&s->b_acks_ix);
	dl_hidx_clear(&s->b_hosts_ix);
	s->b_push_hosts.n = 0;
	s->b_tap_c.n = s->b_tap_h.n = 0;
	s->b_event = 0;
}

/* One transaction for the batch. Returns an SQLite code; on failure the
 * transaction is rolled back and nothing of the batch counts. */
static int commit_batch(dl_store_t *s, item_t *batch, size_t n)
{
	item_t *it;
	int rc;

	uint64_t t0;

	batch_reset(s);
	s->b_events_n = s->b_samples_n = s->b_hsamples_n = 0;
	if ((rc = dl_store__run(s, ST_BEGIN)))
		goto fail;
	for (it = batch; it; it = it->next) {
		rc = apply_item(s, it);
		if (rc != SQLITE_OK)
			goto fail;
	}
	if ((rc = batch_flush(s)))
		goto fail;
	t0 = dl_clock_mono_ns();
	if ((rc = dl_store__run(s, ST_COMMIT)))
		goto fail;
	observe_commit(s, dl_clock_mono_ns() - t0);
	atomic_fetch_add(&s->n_events, s->b_events_n);
	atomic_fetch_add(&s->n_samples, s->b_samples_n);
	atomic_fetch_add(&s->n_host_samples, s->b_hsamples_n);
	return SQLITE_OK;
fail:
	dl_store__stats_forget(s);
	/* One line per episode comes from the writer loop (hold_begin). */
	DL_LOG_DEBUG(TAG,
		     "%s: batch of %zu items not committed (%s: %s); nothing "
		     "acked, retrying",
		     s->path, n, sqlite3_errstr(rc), sqlite3_errmsg(s->db));
	if (!sqlite3_get_autocommit(s->db))
		dl_store__run(s, ST_ROLLBACK);
	return rc;
}

static void push_merge_host(dl_store_t *s, const char *host)
{
	uint64_t h = dl_hash_str(host);
	char *slot;

	for (size_t i = dl_hidx_find(&s->push_ix, h); i != DL_HIDX_END;
	     i = dl_hidx_next(&s->push_ix, h, i))
		if (!strcmp(dl_store__vec_at(&s->push_hosts,
					     s->push_ix.s[i].v - 1),
			    host))
			return;
	if (!(slot = dl_store__vec_push(&s->push_hosts)) ||
	    dl_hidx_put(&s->push_ix, h, s->push_hosts.n)) {
		if (slot)
			s->push_hosts.n--;
		DL_LOG_ERROR(TAG, "out of memory queueing a push");
		return;
	}
	snprintf(slot, DL_HOST_MAX + 1, "%s", host);
}

/* After COMMIT: the cache learns the new deliveries, the loop thread
 * gets the acks (and, with subscribers, what to push). */
static void publish(dl_store_t *s)
{
	bool posted = false;

	if (s->b_tap_cb && (s->b_tap_c.n || s->b_tap_h.n))
		s->b_tap_cb(s->b_tap_ud, s->b_tap_c.v, s->b_tap_c.n,
			    s->b_tap_h.v, s->b_tap_h.n);
	s->b_tap_c.n = s->b_tap_h.n = 0;
	for (size_t i = 0; i < s->b_hosts.n; i++) {
		bhost_t *d = dl_store__vec_at(&s->b_hosts, i);

		if (d->dirty &&
		    dl_store__cache_set(s, d->host, d->epoch, d->seq) != 0)
			DL_LOG_ERROR(TAG, "out of memory caching delivery");
	}
	pthread_mutex_lock(&s->ack_mu);
	/* The loop may not have taken the last batch's acks yet: merged by
	 * sid through acks_ix, not compared against every queued one. */
	for (size_t i = 0; i < s->b_acks.n; i++) {
		if (ack_merge(&s->acks, &s->acks_ix,
			      dl_store__vec_at(&s->b_acks, i))) {
			DL_LOG_ERROR(TAG, "out of memory queueing an ack");
			continue;
		}
		posted = true;
	}
	if (s->b_event)
		atomic_store(&s->last_event, s->b_event);
	if (atomic_load(&s->push_on) && (s->b_event || s->b_push_hosts.n)) {
		for (size_t i = 0; i < s->b_push_hosts.n; i++)
			push_merge_host(s,
					dl_store__vec_at(&s->b_push_hosts, i));
		s->push_pending = true;
		posted = true;
	}
	s->b_event = 0;
	s->b_push_hosts.n = 0;
	pthread_mutex_unlock(&s->ack_mu);
	if (posted)
		uv_async_send(&s->async);
}

/* Waits (holding mu) for work. Group commit: a batch is whatever queued
 * up while the previous COMMIT ran (at most DL_STORE_BATCH_MAX items), so
 * an idle collector commits a lone event at once and a busy one commits
 * in large batches, with no timer adding latency. false = stop. */
static bool wait_batch(dl_store_t *s)
{
	for (;;) {
		struct timespec ts;

		/* Retention runs only in the gaps between batches. */
		if (!s->head && !s->stopping && dl_store__retention_due(s))
			dl_store__retention_run(s);
		if (s->head || s->stopping)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&s->cv, &s->mu, &ts);
	}
	return s->head != NULL;
}

static item_t *take_batch(dl_store_t *s, size_t *bytes, size_t *count)
{
	item_t *batch = s->head, *last = NULL, *it = s->head;
	size_t n = 0;

	*bytes = 0;
	while (it && n < s->batch_max) {
		*bytes += it->len;
		last = it;
		it = it->next;
		n++;
	}
	last->next = NULL;
	s->head = it;
	if (!it)
		s->tail = NULL;
	s->nitems -= n;
	s->inflight = n;
	*count = n;
	return batch;
}

void dl_store__free_items(item_t *it)
{
	while (it) {
		item_t *next = it->next;

		free(it);
		it = next;
	}
}

/* The outcomes of items that asked for one, to the loop thread. A
 * batch given up (closing) reports DL_EDB for all of them. */
static void publish_dones(dl_store_t *s, const item_t *batch, bool stored)
{
	bool posted = false;

	pthread_mutex_lock(&s->ack_mu);
	for (const item_t *it = batch; it; it = it->next) {
		done_t *d;

		if (!it->done)
			continue;
		if (!(d = dl_store__vec_push(&s->dones))) {
			DL_LOG_ERROR(TAG, "out of memory queueing an outcome");
			continue;
		}
		*d = (done_t){it->done, it->done_ud,
			      stored ? it->result : DL_EDB};
		posted = true;
	}
	pthread_mutex_unlock(&s->ack_mu);
	if (posted)
		uv_async_send(&s->async);
}

bool dl_store__unavailable(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_FULL:
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
	case SQLITE_IOERR:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY: return true;
	default: return false;
	}
}

/* Items held by the writer: the batch plus what queued up behind it. */
static size_t held_items(dl_store_t *s, size_t batch)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = batch + s->nitems;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* The first failed COMMIT of an episode: one line that says why and what
 * it means. Nothing is acked while it lasts, so the agents keep their
 * frames spooled; the store's queue is bounded (DL_STORE_QUEUE_MAX),
 * past it the sessions stop reading. */
static void hold_begin(dl_store_t *s, int rc, size_t batch)
{
	size_t n = held_items(s, batch);
	const char *pl = n == 1 ? "" : "s";

	switch (rc & 0xff) {
	case SQLITE_FULL:
		DL_LOG_ERROR(
			TAG,
			"database disk is full at %s; holding %zu frame%s, "
			"agents keep spooling",
			s->path, n, pl);
		break;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		DL_LOG_ERROR(TAG,
			     "database %s is locked by another process (%s); "
			     "holding %zu frame%s, agents keep spooling",
			     s->path, sqlite3_errstr(rc), n, pl);
		break;
	default:
		DL_LOG_ERROR(TAG,
			     "cannot write database %s (%s, code %d); holding "
			     "%zu frame%s, agents keep spooling",
			     s->path, sqlite3_errstr(rc), rc, n, pl);
		break;
	}
}

static void hold_end(dl_store_t *s, uint64_t since_ns, unsigned tries)
{
	DL_LOG_WARN(TAG,
		    "database %s is writable again after %.1f s (%u tries); "
		    "held frames committed",
		    s->path, (double)(dl_clock_mono_ns() - since_ns) / 1e9,
		    tries);
}

void *dl_store__writer_main(void *arg)
{
	dl_store_t *s = arg;

	pthread_mutex_lock(&s->mu);
	while (wait_batch(s)) {
		size_t bytes, count;
		item_t *batch = take_batch(s, &bytes, &count);
		unsigned failed = 0, wait_ms = RETRY_SLEEP_MS;
		uint64_t since = 0;
		int tries = 0, rc;

		s->b_tap_cb = s->tap_cb; /* under mu */
		s->b_tap_ud = s->tap_ud;

		pthread_mutex_unlock(&s->mu);
		/* Nothing is acked before COMMIT, so giving up only costs
		 * a resend; but while running, keep trying (backing off up
		 * to RETRY_MAX_MS): the agent is waiting for exactly these
		 * frames. One line when the episode starts, one when it
		 * ends. */
		while ((rc = commit_batch(s, batch, count)) != SQLITE_OK) {
			bool stopping;

			if (failed++ == 0) {
				since = dl_clock_mono_ns();
				hold_begin(s, rc, count);
			}
			pthread_mutex_lock(&s->mu);
			stopping = s->stopping;
			pthread_mutex_unlock(&s->mu);
			if (stopping && ++tries >= CLOSE_RETRIES) {
				DL_LOG_ERROR(TAG,
					     "closing with %zu items not "
					     "stored (agents will resend)",
					     count);
				batch_reset(s);
				break;
			}
			sleep_ms(stopping ? RETRY_SLEEP_MS : wait_ms);
			wait_ms = wait_ms * 2 < RETRY_MAX_MS ? wait_ms * 2
							     : RETRY_MAX_MS;
		}
		if (failed && rc == SQLITE_OK)
			hold_end(s, since, failed + 1);
		publish(s);
		publish_dones(s, batch, tries < CLOSE_RETRIES);
		dl_store__free_items(batch);
		pthread_mutex_lock(&s->mu);
		s->inflight = 0;
		s->qbytes -= bytes;
		/* Under sustained load the queue is never empty: a step
		 * still runs once per period, between two batches. */
		if (s->head && dl_store__retention_due(s))
			dl_store__retention_run(s);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}
