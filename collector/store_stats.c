/* store_stats.c - container and host samples: the idx -> cid map,
 * cpu_percent at ingest, minute/hour rollups, and retention in small
 * steps between batches (writer thread). docs/ARCHITECTURE.md "Stats"
 * says why each piece is the way it is. */

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

void dl_store__idx_forget(dl_store_t *s, const char *host);

static hstate_t *hstate_get(dl_store_t *s, const char *host)
{
	size_t lo = 0, hi = s->hstates.n;
	hstate_t *h;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(
			((hstate_t *)dl_store__vec_at(&s->hstates, mid))->host,
			host);

		if (c == 0)
			return dl_store__vec_at(&s->hstates, mid);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!dl_store__vec_push(&s->hstates))
		return NULL;
	memmove(dl_store__vec_at(&s->hstates, lo + 1),
		dl_store__vec_at(&s->hstates, lo),
		(s->hstates.n - 1 - lo) * sizeof(hstate_t));
	h = dl_store__vec_at(&s->hstates, lo);
	memset(h, 0, sizeof(*h));
	snprintf(h->host, sizeof(h->host), "%s", host);
	return h;
}

/* The agent numbers containers per session: any INVENTORY, CONTAINER or
 * reconnect may renumber, so the map is dropped and rebuilt lazily. */
void dl_store__idx_forget(dl_store_t *s, const char *host)
{
	hstate_t *h = hstate_get(s, host);

	if (h)
		h->loaded = false;
	if (h && h->nidx)
		memset(h->cid_by_idx, 0, h->nidx * sizeof(int64_t));
}

/* Grows h's map to hold idx; false when idx is too large to cache or
 * memory is short (lookups then go to SQL each time, still correct). */
static bool idx_room(hstate_t *h, uint32_t idx)
{
	size_t n = h->nidx ? h->nidx : 64;
	int64_t *v;

	if (idx < h->nidx)
		return true;
	if (idx >= IDX_CACHE_MAX)
		return false;
	while (n <= idx)
		n *= 2;
	if (!(v = realloc(h->cid_by_idx, n * sizeof(*v))))
		return false;
	memset(v + h->nidx, 0, (n - h->nidx) * sizeof(*v));
	h->cid_by_idx = v;
	h->nidx = n;
	return true;
}

/* Loads the host's whole idx -> cid map: one statement instead of one
 * per container after every (re)connect. */
static int idx_load(dl_store_t *s, hstate_t *h)
{
	sqlite3_stmt *st = s->st[ST_IDX_ALL];
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, h->host)))
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t idx = sqlite3_column_int64(st, 0);

		if (idx >= 0 && idx < IDX_CACHE_MAX &&
		    idx_room(h, (uint32_t)idx))
			h->cid_by_idx[idx] = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int idx_cid(dl_store_t *s, hstate_t *h, uint32_t idx, int64_t *cid)
{
	sqlite3_stmt *st = s->st[ST_IDX_CID];
	int rc;

	if (idx < h->nidx && h->cid_by_idx[idx]) {
		*cid = h->cid_by_idx[idx];
		return SQLITE_OK;
	}
	if (!h->loaded) {
		h->loaded = true;
		if ((rc = idx_load(s, h)))
			return rc;
		if (idx < h->nidx && h->cid_by_idx[idx]) {
			*cid = h->cid_by_idx[idx];
			return SQLITE_OK;
		}
	}
	if ((rc = dl_store__bind_cstr(st, 1, h->host)) ||
	    (rc = sqlite3_bind_int64(st, 2, idx)))
		return rc;
	rc = sqlite3_step(st);
	*cid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return rc;
	if (idx_room(h, idx))
		h->cid_by_idx[idx] = *cid;
	return SQLITE_OK;
}

static size_t cslot(int64_t cid, size_t cap)
{
	return (size_t)((uint64_t)cid * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static void acc_reset(acc_t *a, int64_t bucket)
{
	memset(a, 0, sizeof(*a));
	a->bucket = bucket;
}

/* The container's state, created on first sight; NULL when out of
 * memory. Kept at most half full. */
static cstate_t *cstate_get(dl_store_t *s, int64_t cid)
{
	size_t i;

	if (2 * (s->cn + 1) > s->ccap) {
		size_t cap = s->ccap ? 2 * s->ccap : 1024;
		cstate_t *t = calloc(cap, sizeof(*t));

		if (!t)
			return NULL;
		for (size_t k = 0; k < s->ccap; k++) {
			if (!s->ctab[k].cid)
				continue;
			for (i = cslot(s->ctab[k].cid, cap); t[i].cid;
			     i = (i + 1) & (cap - 1))
				;
			t[i] = s->ctab[k];
		}
		free(s->ctab);
		s->ctab = t;
		s->ccap = cap;
	}
	for (i = cslot(cid, s->ccap); s->ctab[i].cid;
	     i = (i + 1) & (s->ccap - 1))
		if (s->ctab[i].cid == cid)
			return &s->ctab[i];
	memset(&s->ctab[i], 0, sizeof(s->ctab[i]));
	s->ctab[i].cid = cid;
	for (int t = 0; t < TIERS; t++)
		s->ctab[i].open[t] = -1;
	s->cn++;
	return &s->ctab[i];
}

/* After a failed transaction memory no longer matches the database:
 * forget it all. The cost is one unknown cpu_percent per container. */
void dl_store__stats_forget(dl_store_t *s)
{
	free(s->ctab);
	s->ctab = NULL;
	s->ccap = s->cn = 0;
	for (size_t i = 0; i < s->hstates.n; i++) {
		hstate_t *h = dl_store__vec_at(&s->hstates, i);

		h->have_prev = false;
		h->loaded = false;
		if (h->nidx)
			memset(h->cid_by_idx, 0, h->nidx * sizeof(int64_t));
	}
}

static int bind_opt_u64(sqlite3_stmt *st, int i, bool valid, uint64_t v)
{
	if (!valid)
		return sqlite3_bind_null(st, i);
	return sqlite3_bind_int64(st, i,
				  v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

static int bind_opt_f(sqlite3_stmt *st, int i, bool valid, double v)
{
	return valid ? sqlite3_bind_double(st, i, v) : sqlite3_bind_null(st, i);
}

/* Merges a filled bucket into its rollup row. The key is a cid (host
 * NULL) or a host name. */
static int acc_flush(dl_store_t *s, int which, int64_t cid, const char *host,
		     const acc_t *a)
{
	sqlite3_stmt *st = s->st[which];
	uint32_t v = a->last.valid;
	int rc;

	if (a->n == 0)
		return SQLITE_OK;
	if ((rc = host ? dl_store__bind_cstr(st, 1, host)
		       : sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, a->bucket)) ||
	    (rc = sqlite3_bind_int64(st, 3, a->n)) ||
	    (rc = sqlite3_bind_double(st, 4, a->cpu_sum)) ||
	    (rc = sqlite3_bind_int64(st, 5, a->cpu_n)) ||
	    (rc = bind_opt_f(st, 6, a->cpu_any, a->cpu_max)) ||
	    (rc = sqlite3_bind_double(st, 7, a->mem_sum)) ||
	    (rc = sqlite3_bind_int64(st, 8, a->mem_n)) ||
	    (rc = bind_opt_u64(st, 9, a->mem_any, a->mem_max)) ||
	    (rc = sqlite3_bind_int64(st, 10, a->last_ts)) ||
	    (rc = bind_opt_u64(st, 11, v & DL_SV_MEMLIMIT,
			       a->last.mem_limit)) ||
	    (rc = bind_opt_u64(st, 12, v & DL_SV_NET, a->last.net_rx_bytes)) ||
	    (rc = bind_opt_u64(st, 13, v & DL_SV_NET, a->last.net_tx_bytes)) ||
	    (rc = bind_opt_u64(st, 14, v & DL_SV_BLK,
			       a->last.blk_read_bytes)) ||
	    (rc = bind_opt_u64(st, 15, v & DL_SV_BLK,
			       a->last.blk_write_bytes)) ||
	    (rc = bind_opt_u64(st, 16, v & DL_SV_PIDS, a->last.pids)))
		return rc;
	return dl_store__run(s, which);
}

static void acc_add(acc_t *a, int64_t ts, const dl_sample_t *v, double pct)
{
	a->n++;
	if (pct >= 0) {
		a->cpu_sum += pct;
		a->cpu_n++;
		if (!a->cpu_any || pct > a->cpu_max)
			a->cpu_max = pct;
		a->cpu_any = true;
	}
	if (v->valid & DL_SV_MEM) {
		a->mem_sum += (double)v->mem_usage;
		a->mem_n++;
		if (!a->mem_any || v->mem_usage > a->mem_max)
			a->mem_max = v->mem_usage;
		a->mem_any = true;
	}
	if (ts >= a->last_ts) {
		a->last_ts = ts;
		a->last = *v;
	}
}

static const int64_t tier_ns[TIERS] = {MINUTE_NS, HOUR_NS};

static int close_bucket(dl_store_t *s, int tier, int64_t cid, int64_t b)
{
	int which = tier == TIER_MIN ? ST_CLOSE_1M : ST_CLOSE_1H;
	sqlite3_stmt *st = s->st[which];
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, b)) ||
	    (rc = sqlite3_bind_int64(st, 3, tier_ns[tier])))
		return rc;
	return dl_store__run(s, which);
}

/* Closes the minute, then the hour, that the sample at ts leaves behind.
 * On first sight this run, the container's newest earlier sample tells
 * which buckets a previous run (or crash) may have left open. A late
 * sample re-closes its own buckets. */
static int roll(dl_store_t *s, cstate_t *c, int64_t ts)
{
	int64_t b[TIERS], prev = -1;
	int rc;

	for (int t = 0; t < TIERS; t++)
		b[t] = ts - ts % tier_ns[t];
	if (c->open[TIER_MIN] < 0) {
		sqlite3_stmt *st = s->st[ST_PREV_TS];

		if ((rc = sqlite3_bind_int64(st, 1, c->cid)) ||
		    (rc = sqlite3_bind_int64(st, 2, b[TIER_MIN])))
			return rc;
		if (sqlite3_step(st) == SQLITE_ROW &&
		    sqlite3_column_type(st, 0) != SQLITE_NULL)
			prev = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		for (int t = 0; t < TIERS; t++)
			c->open[t] =
				prev >= 0 ? prev - prev % tier_ns[t] : b[t];
	}
	for (int t = 0; t < TIERS; t++) {
		if (b[t] < c->open[t]) {
			if ((rc = close_bucket(s, t, c->cid, b[t])))
				return rc;
		} else if (b[t] > c->open[t]) {
			if ((rc = close_bucket(s, t, c->cid, c->open[t])))
				return rc;
			c->open[t] = b[t];
		}
	}
	return SQLITE_OK;
}

/* docker stats' formula: the container's share of all CPU time since the
 * previous sample, times the CPUs online. -1 (stored NULL) without a
 * previous sample or when a counter went backwards (restart, agent
 * change), so a reset never shows as a negative or huge percentage. */
double dl_store_cpu_percent(uint64_t prev_cpu, uint64_t prev_sys, uint64_t cpu,
			    uint64_t sys, uint32_t online)
{
	double pct;

	if (cpu < prev_cpu || sys <= prev_sys || online == 0)
		return -1;
	pct = (double)(cpu - prev_cpu) / (double)(sys - prev_sys) * online *
	      100.0;
	/* More than every CPU busy: the two counters do not belong
	 * together (e.g. a host counter reset). */
	return pct > online * 100.0 * 1.05 ? -1 : pct;
}

static int insert_sample(dl_store_t *s, int64_t cid, int64_t ts,
			 const dl_sample_t *v, double pct)
{
	sqlite3_stmt *st = s->st[ST_CS_INSERT];
	uint32_t f = v->valid;
	int rc;

	if ((rc = sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, ts)) ||
	    (rc = bind_opt_u64(st, 3, f & DL_SV_CPU, v->cpu_ns)) ||
	    (rc = bind_opt_f(st, 4, pct >= 0, pct)) ||
	    (rc = bind_opt_u64(st, 5, f & DL_SV_MEM, v->mem_usage)) ||
	    (rc = bind_opt_u64(st, 6, f & DL_SV_MEMLIMIT, v->mem_limit)) ||
	    (rc = bind_opt_u64(st, 7, f & DL_SV_NET, v->net_rx_bytes)) ||
	    (rc = bind_opt_u64(st, 8, f & DL_SV_NET, v->net_tx_bytes)) ||
	    (rc = bind_opt_u64(st, 9, f & DL_SV_BLK, v->blk_read_bytes)) ||
	    (rc = bind_opt_u64(st, 10, f & DL_SV_BLK, v->blk_write_bytes)) ||
	    (rc = bind_opt_u64(st, 11, f & DL_SV_PIDS, v->pids)))
		return rc;
	return dl_store__run(s, ST_CS_INSERT);
}

static int apply_sample(dl_store_t *s, hstate_t *h, const dl_msg_t *m,
			const dl_sample_t *v)
{
	const dl_stats_t *b = &m->u.stats;
	int64_t ts = (int64_t)m->time_ns, cid;
	double pct = -1;
	cstate_t *c;
	int rc;

	if ((rc = idx_cid(s, h, v->idx, &cid)))
		return rc;
	if (cid <= 0) {
		DL_LOG_RL(DL_LOG_LEVEL_DEBUG, TAG,
			  "%s: STATS for unknown container #%u skipped",
			  h->host, v->idx);
		return SQLITE_OK;
	}
	if (!(c = cstate_get(s, cid)))
		return SQLITE_NOMEM;
	if (v->valid & DL_SV_CPU) {
		if (c->have_prev && m->time_ns > c->prev_ts)
			pct = dl_store_cpu_percent(c->prev_cpu, c->prev_sys,
						   v->cpu_ns, b->system_cpu_ns,
						   b->online_cpus);
		if (!c->have_prev || m->time_ns > c->prev_ts) {
			c->have_prev = true;
			c->prev_ts = m->time_ns;
			c->prev_cpu = v->cpu_ns;
			c->prev_sys = b->system_cpu_ns;
		}
	}
	if ((rc = insert_sample(s, cid, ts, v, pct)))
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return SQLITE_OK; /* this instant is stored already */
	s->b_samples_n++;
	return roll(s, c, ts);
}

/* Remembers host for the subscribers of this batch's samples (only while
 * someone listens: the loop turns push_on). */
static int push_note_host(dl_store_t *s, const char *host)
{
	char *slot;

	if (!atomic_load_explicit(&s->push_on, memory_order_relaxed))
		return SQLITE_OK;
	for (size_t i = 0; i < s->b_push_hosts.n; i++)
		if (!strcmp(dl_store__vec_at(&s->b_push_hosts, i), host))
			return SQLITE_OK;
	if (!(slot = dl_store__vec_push(&s->b_push_hosts)))
		return SQLITE_NOMEM;
	snprintf(slot, DL_HOST_MAX + 1, "%s", host);
	return SQLITE_OK;
}

int dl_store__apply_stats(dl_store_t *s, const item_t *it, const dl_msg_t *m)
{
	hstate_t *h = hstate_get(s, it->host);
	int rc;

	if (!h)
		return SQLITE_NOMEM;
	if (m->time_ns > (uint64_t)INT64_MAX)
		return SQLITE_OK;
	for (uint32_t i = 0; i < m->u.stats.n; i++)
		if ((rc = apply_sample(s, h, m, &m->u.stats.v[i])))
			return rc;
	return push_note_host(s, it->host);
}

/* Host CPU busy percent from cumulative total and idle time; -1 when
 * unknown (first sample, counters reset). */
double dl_store_host_cpu_percent(uint64_t prev_total, uint64_t prev_idle,
				 uint64_t total, uint64_t idle)
{
	uint64_t dt, di;

	if (total <= prev_total || idle < prev_idle)
		return -1;
	dt = total - prev_total;
	di = idle - prev_idle;
	return di > dt ? -1 : 100.0 * (double)(dt - di) / (double)dt;
}

static int insert_host_sample(dl_store_t *s, const char *host, int64_t ts,
			      const dl_hoststats_t *v, double pct)
{
	sqlite3_stmt *st = s->st[ST_HS_INSERT];
	int rc;

	if ((rc = dl_store__bind_cstr(st, 1, host)) ||
	    (rc = sqlite3_bind_int64(st, 2, ts)) ||
	    (rc = bind_opt_f(st, 3, pct >= 0, pct)) ||
	    (rc = bind_opt_u64(st, 4, true, v->mem_used)) ||
	    (rc = bind_opt_u64(st, 5, true, v->mem_total)) ||
	    (rc = bind_opt_u64(st, 6, true, v->mem_available)) ||
	    (rc = bind_opt_u64(st, 7, true, v->swap_used)) ||
	    (rc = bind_opt_u64(st, 8, true, v->swap_total)) ||
	    (rc = sqlite3_bind_double(st, 9, v->load1_x100 / 100.0)) ||
	    (rc = sqlite3_bind_double(st, 10, v->load5_x100 / 100.0)) ||
	    (rc = sqlite3_bind_double(st, 11, v->load15_x100 / 100.0)) ||
	    (rc = bind_opt_u64(st, 12, true, v->disk_used)) ||
	    (rc = bind_opt_u64(st, 13, true, v->disk_total)) ||
	    (rc = bind_opt_u64(st, 14, true, v->net_rx_bytes)) ||
	    (rc = bind_opt_u64(st, 15, true, v->net_tx_bytes)))
		return rc;
	return dl_store__run(s, ST_HS_INSERT);
}

/* Hosts send one sample per interval, so their rollups are merged
 * straight away instead of being accumulated. */
int dl_store__apply_hoststats(dl_store_t *s, const item_t *it,
			      const dl_msg_t *m)
{
	const dl_hoststats_t *v = &m->u.hoststats;
	hstate_t *h = hstate_get(s, it->host);
	int64_t ts = (int64_t)m->time_ns;
	dl_sample_t as = {0};
	double pct = -1;
	acc_t a;
	int rc;

	if (!h)
		return SQLITE_NOMEM;
	if (m->time_ns > (uint64_t)INT64_MAX)
		return SQLITE_OK;
	if (h->have_prev && m->time_ns > h->prev_ts)
		pct = dl_store_host_cpu_percent(h->prev_total, h->prev_idle,
						v->cpu_total_ns,
						v->cpu_idle_ns);
	if (!h->have_prev || m->time_ns > h->prev_ts) {
		h->have_prev = true;
		h->prev_ts = m->time_ns;
		h->prev_total = v->cpu_total_ns;
		h->prev_idle = v->cpu_idle_ns;
	}
	if ((rc = insert_host_sample(s, it->host, ts, v, pct)))
		return rc;
	if (sqlite3_changes(s->db) == 0)
		return SQLITE_OK;
	s->b_hsamples_n++;
	if ((rc = push_note_host(s, it->host)))
		return rc;
	as.valid = DL_SV_MEM | DL_SV_MEMLIMIT | DL_SV_NET;
	as.mem_usage = v->mem_used;
	as.mem_limit = v->mem_total;
	as.net_rx_bytes = v->net_rx_bytes;
	as.net_tx_bytes = v->net_tx_bytes;
	acc_reset(&a, ts - ts % MINUTE_NS);
	acc_add(&a, ts, &as, pct);
	if ((rc = acc_flush(s, ST_H1M, 0, it->host, &a)))
		return rc;
	a.bucket = ts - ts % HOUR_NS;
	return acc_flush(s, ST_H1H, 0, it->host, &a);
}

/* Deletes at most what is left of *budget of key's rows older than
 * cutoff in table `which`. */
static int ret_delete(dl_store_t *s, int which, int64_t cid, const char *host,
		      int64_t cutoff, int64_t *budget)
{
	sqlite3_stmt *st = s->st[which];
	int rc;

	if (*budget <= 0)
		return SQLITE_OK;
	if ((rc = host ? dl_store__bind_cstr(st, 1, host)
		       : sqlite3_bind_int64(st, 1, cid)) ||
	    (rc = sqlite3_bind_int64(st, 2, cutoff)) ||
	    (rc = sqlite3_bind_int64(st, 3, *budget)) ||
	    (rc = dl_store__run(s, which)))
		return rc;
	*budget -= sqlite3_changes(s->db);
	return SQLITE_OK;
}

static int ret_hosts(dl_store_t *s, const int64_t cut[3], int64_t *budget)
{
	sqlite3_stmt *st = s->st[ST_RET_HOSTS];
	vec_t names = {.size = DL_HOST_MAX + 1};
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *h = (const char *)sqlite3_column_text(st, 0);
		char *slot;

		if (!h || strlen(h) > DL_HOST_MAX)
			continue;
		if (!(slot = dl_store__vec_push(&names))) {
			rc = SQLITE_NOMEM;
			break;
		}
		snprintf(slot, DL_HOST_MAX + 1, "%s", h);
	}
	sqlite3_reset(st);
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	for (size_t i = 0; i < names.n && !rc; i++) {
		const char *h = dl_store__vec_at(&names, i);

		if ((rc = ret_delete(s, ST_DEL_HS, 0, h, cut[0], budget)) ||
		    (rc = ret_delete(s, ST_DEL_H1M, 0, h, cut[1], budget)))
			break;
		rc = ret_delete(s, ST_DEL_H1H, 0, h, cut[2], budget);
	}
	free(names.v);
	return rc;
}

/* One step: the next RET_STEP_KEYS containers after the cursor, at most
 * RET_STEP_ROWS rows in all, in one short transaction; after the last
 * container, the hosts, then from the start again. Only rows older than
 * their tier's window go. */
static int retention_step(dl_store_t *s, int64_t *deleted)
{
	sqlite3_stmt *st = s->st[ST_RET_CIDS];
	int64_t cids[RET_STEP_KEYS], cut[3], audit_cut, budget = RET_STEP_ROWS;
	int64_t now = (int64_t)dl_clock_wall_ns();
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < 3; i++)
		cut[i] = now - s->ret_ns[i];
	audit_cut = now - s->ret_audit_ns;
	pthread_mutex_unlock(&s->mu);
	if ((rc = dl_store__run(s, ST_BEGIN)))
		return rc;
	if ((rc = sqlite3_bind_int64(st, 1, s->ret_cursor)) ||
	    (rc = sqlite3_bind_int(st, 2, RET_STEP_KEYS)))
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < RET_STEP_KEYS)
		cids[n++] = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		goto fail;
	rc = SQLITE_OK;
	for (size_t i = 0; i < n && budget > 0; i++) {
		if ((rc = ret_delete(s, ST_DEL_CS, cids[i], NULL, cut[0],
				     &budget)) ||
		    (rc = ret_delete(s, ST_DEL_C1M, cids[i], NULL, cut[1],
				     &budget)) ||
		    (rc = ret_delete(s, ST_DEL_C1H, cids[i], NULL, cut[2],
				     &budget)))
			goto fail;
		/* A container with more old rows than the budget is
		 * visited again next step. */
		if (budget > 0)
			s->ret_cursor = cids[i];
	}
	if (n < RET_STEP_KEYS && budget > 0) {
		if ((rc = ret_hosts(s, cut, &budget)) ||
		    (rc = ret_delete(s, ST_DEL_AUDIT, 0, NULL, audit_cut,
				     &budget)))
			goto fail;
		if (budget > 0)
			s->ret_cursor = 0;
	}
	if ((rc = dl_store__run(s, ST_COMMIT)))
		goto fail;
	*deleted = RET_STEP_ROWS - budget;
	return SQLITE_OK;
fail:
	/* An unavailable database is reported once by the writer when data
	 * is held (store_writer.c); a skipped step is tried again later. */
	if (dl_store__unavailable(rc))
		DL_LOG_DEBUG(TAG, "%s: retention step skipped: %s", s->path,
			     sqlite3_errmsg(s->db));
	else
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "%s: retention step failed: %s", s->path,
			  sqlite3_errmsg(s->db));
	if (!sqlite3_get_autocommit(s->db))
		dl_store__run(s, ST_ROLLBACK);
	return rc;
}

bool dl_store__retention_due(dl_store_t *s)
{
	return s->ret_kick || dl_clock_mono_ns() >= s->ret_next;
}

/* Called holding mu; drops it while the step runs. A step that used
 * its whole budget leaves a backlog (ingest of 10k samples/s expires
 * 10k rows/s): the next one is due at once, still one step between two
 * batches, so deleting keeps pace without holding ingest up. */
void dl_store__retention_run(dl_store_t *s)
{
	int64_t deleted = 0;

	s->ret_kick = false;
	pthread_mutex_unlock(&s->mu);
	retention_step(s, &deleted);
	pthread_mutex_lock(&s->mu);
	s->ret_next = dl_clock_mono_ns() +
		      (deleted >= RET_STEP_ROWS ? 0 : RET_PERIOD_NS);
}

void dl_store_set_retention(dl_store_t *s, int64_t raw_s, int64_t minute_s,
			    int64_t hour_s, int64_t audit_s)
{
	const int64_t w[4] = {raw_s, minute_s, hour_s, audit_s};
	int64_t *ns[4] = {&s->ret_ns[0], &s->ret_ns[1], &s->ret_ns[2],
			  &s->ret_audit_ns};

	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < 4; i++)
		if (w[i] > 0 && w[i] < INT64_MAX / 1000000000)
			*ns[i] = w[i] * 1000000000;
	s->ret_kick = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}
