/* history.c - `history` of a container or a host: its samples over a
 * span, read from the tier the span calls for, every row or averaged into
 * at most N points for a chart.
 *
 * A day of raw samples is ~2 MB of JSON, and a json_t per sample costs
 * ~10x the SQLite read, so the answer is written as JSON text straight
 * from the columns. Downsampling runs in the same single pass over the
 * primary-key range (rows arrive in time order, so a bucket is finished
 * when the next one starts): no GROUP BY, no temporary b-tree, which is
 * what made a 60-point answer slower than the 8,640 rows it summarised.
 * Everything here only reads. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "collector/query.h"
#include "collector/jtext.h"
#include "collector/query_int.h"
#include "common/err.h"

/* How a column folds into a downsampled bucket. */
typedef enum { AGG_AVG, AGG_MAX } agg_t;

typedef struct {
	const char *key; /* ",\"key\":" as written */
	bool real;	 /* two-decimal number, else an integer */
	agg_t agg;
} hcol_t;

#define NCOL_MAX 12

/* One series: which columns a row has, and the SQL of each tier. Every
 * statement selects the time first, then the columns in this order; the
 * last two are the maxima (the raw tier repeats the value columns, so a
 * downsampled raw bucket has maxima too). ?1 key, ?2 since, ?3 until. */
typedef struct {
	const hcol_t *cols;
	int ncols;
	bool key_text; /* ?1 is the host name, else the container's cid */
	const char *sql[3];
} series_t;

static const hcol_t ctr_cols[] = {
	{",\"cpu_percent\":", true, AGG_AVG},
	{",\"mem_bytes\":", false, AGG_AVG},
	{",\"mem_limit\":", false, AGG_MAX},
	{",\"net_rx_bytes\":", false, AGG_MAX},
	{",\"net_tx_bytes\":", false, AGG_MAX},
	{",\"blk_read_bytes\":", false, AGG_MAX},
	{",\"blk_write_bytes\":", false, AGG_MAX},
	{",\"pids\":", false, AGG_MAX},
	{",\"cpu_percent_max\":", true, AGG_MAX},
	{",\"mem_bytes_max\":", false, AGG_MAX},
};

static const hcol_t host_cols[] = {
	{",\"cpu_percent\":", true, AGG_AVG},
	{",\"mem_used_bytes\":", false, AGG_AVG},
	{",\"mem_total_bytes\":", false, AGG_MAX},
	{",\"mem_available_bytes\":", false, AGG_AVG},
	{",\"load1\":", true, AGG_AVG},
	{",\"disk_used_bytes\":", false, AGG_AVG},
	{",\"disk_total_bytes\":", false, AGG_MAX},
	{",\"net_rx_bytes\":", false, AGG_MAX},
	{",\"net_tx_bytes\":", false, AGG_MAX},
	{",\"cpu_percent_max\":", true, AGG_MAX},
	{",\"mem_used_bytes_max\":", false, AGG_MAX},
};

/* Rollups keep sums and counts: the bucket's average is sum / count. */
#define ROLLUP_AVGS                                                            \
	"CASE WHEN cpu_n > 0 THEN cpu_sum / cpu_n END, "                       \
	"CASE WHEN mem_n > 0 THEN mem_sum / mem_n END, "
#define ROLLUP_WHERE                                                           \
	" WHERE k = ?1 AND bucket >= ?2 AND bucket <= ?3 ORDER BY bucket"
#define CTR_ROLLUP(t)                                                          \
	"SELECT bucket, " ROLLUP_AVGS "mem_limit, net_rx, net_tx, blk_read, "  \
	"blk_write, pids, cpu_max, mem_max FROM " t ROLLUP_WHERE
/* Host rollups hold CPU, memory and network only. */
#define HOST_ROLLUP(t)                                                         \
	"SELECT bucket, " ROLLUP_AVGS "mem_limit, NULL, NULL, NULL, NULL, "    \
	"net_rx, net_tx, cpu_max, mem_max FROM " t ROLLUP_WHERE

static const series_t ctr_series = {
	ctr_cols,
	(int)(sizeof(ctr_cols) / sizeof(ctr_cols[0])),
	false,
	{
		"SELECT ts, cpu_percent, mem_usage, mem_limit, net_rx, "
		"net_tx, blk_read, blk_write, pids, cpu_percent, mem_usage "
		"FROM container_samples WHERE cid = ?1 AND ts >= ?2 AND "
		"ts <= ?3 ORDER BY ts",
		CTR_ROLLUP("container_1m"),
		CTR_ROLLUP("container_1h"),
	},
};

static const series_t host_series = {
	host_cols,
	(int)(sizeof(host_cols) / sizeof(host_cols[0])),
	true,
	{
		"SELECT ts, cpu_percent, mem_used, mem_total, mem_available, "
		"load1, disk_used, disk_total, net_rx, net_tx, cpu_percent, "
		"mem_used FROM host_samples WHERE host = ?1 AND ts >= ?2 AND "
		"ts <= ?3 ORDER BY ts",
		HOST_ROLLUP("host_1m"),
		HOST_ROLLUP("host_1h"),
	},
};

int dl_query_tier(int64_t span_s)
{
	if (span_s <= 6 * 3600)
		return DL_TIER_RAW;
	return span_s <= 7 * 86400 ? DL_TIER_MINUTE : DL_TIER_HOUR;
}

/* A chart needs points, not rows: the finest tier that stays within
 * ~1,500 rows (4 h of 10 s samples, 25 h of minutes) is precise enough
 * for any chart width and reads in about a millisecond
 * (tests/bench/bench_history.c). */
#define CHART_ROWS 1500

int dl_query_tier_points(int64_t span_s, int points)
{
	if (points <= 0)
		return dl_query_tier(span_s);
	if (span_s / 10 <= CHART_ROWS)
		return DL_TIER_RAW;
	return span_s / 60 <= CHART_ROWS ? DL_TIER_MINUTE : DL_TIER_HOUR;
}

/* ---- text: jtext.h ---- */

#define PUT(p, lit) JT_PUT(p, lit)
typedef dl_jt_day_t day_cache_t;

/* ---- rows and buckets ---- */

typedef struct {
	bool has;
	double d;  /* real columns and averages */
	int64_t i; /* integer maxima */
} val_t;

typedef struct {
	int64_t t;
	val_t v[NCOL_MAX];
	uint32_t n[NCOL_MAX]; /* values summed into an average */
} row_t;

/* The longest row: 12 keys of <= 25 chars, numbers of <= 21, a stamp. */
#define ROW_TEXT_MAX 1024

static void read_row(sqlite3_stmt *st, const series_t *s, row_t *r)
{
	r->t = sqlite3_column_int64(st, 0);
	for (int c = 0; c < s->ncols; c++) {
		val_t *v = &r->v[c];

		v->has = sqlite3_column_type(st, c + 1) != SQLITE_NULL;
		if (!v->has)
			continue;
		if (s->cols[c].real || s->cols[c].agg == AGG_AVG)
			v->d = sqlite3_column_double(st, c + 1);
		else
			v->i = sqlite3_column_int64(st, c + 1);
	}
}

/* Folds row r into bucket b (b->t already set). */
static void fold(const series_t *s, row_t *b, const row_t *r)
{
	for (int c = 0; c < s->ncols; c++) {
		const val_t *x = &r->v[c];
		val_t *y = &b->v[c];

		if (!x->has)
			continue;
		if (s->cols[c].agg == AGG_AVG) {
			y->d = b->n[c]++ ? y->d + x->d : x->d;
		} else if (s->cols[c].real) {
			if (!y->has || x->d > y->d)
				y->d = x->d;
		} else if (!y->has || x->i > y->i) {
			y->i = x->i;
		}
		y->has = true;
	}
}

static char *put_row(char *p, const series_t *s, int ncols, const row_t *r,
		     day_cache_t *dc)
{
	p = PUT(p, "{\"time\":\"");
	p = dl_jt_stamp(p, r->t, dc);
	p = PUT(p, "\",\"time_ns\":");
	p = dl_jt_i64(p, r->t);
	for (int c = 0; c < ncols; c++) {
		const hcol_t *col = &s->cols[c];
		const val_t *v = &r->v[c];
		size_t klen = strlen(col->key);
		double d;

		memcpy(p, col->key, klen);
		p += klen;
		if (!v->has) {
			p = PUT(p, "null");
			continue;
		}
		d = v->d;
		if (col->agg == AGG_AVG && r->n[c] > 1)
			d /= r->n[c];
		if (col->real)
			p = dl_jt_real(p, d);
		else if (col->agg == AGG_AVG)
			p = d > -9e18 && d < 9e18 ? dl_jt_i64(p, llround(d))
						  : PUT(p, "null");
		else
			p = dl_jt_i64(p, v->i);
	}
	*p++ = '}';
	return p;
}

/* ---- the query ---- */

typedef struct {
	dl_buf_t *out;
	size_t rows;
	day_cache_t dc;
} emit_t;

static int emit(emit_t *e, const series_t *s, int ncols, const row_t *r)
{
	char *p = (char *)dl_buf_reserve(e->out, ROW_TEXT_MAX + 1);
	char *q;

	if (!p)
		return DL_ETOOBIG;
	q = p;
	if (e->rows++)
		*q++ = ',';
	q = put_row(q, s, ncols, r, &e->dc);
	dl_buf_commit(e->out, (size_t)(q - p));
	return 0;
}

/* Binds the series' statement for (key, span); NULL + err on failure. */
static sqlite3_stmt *bind(dl_query_t *q, const series_t *s, int tier,
			  const char *host, int64_t cid, int64_t since,
			  int64_t until, char *err, size_t errlen)
{
	int slot = DL_QSLOT_HISTORY + (s == &host_series ? 3 : 0) + tier;
	sqlite3_stmt *st = dl_query_slot(q, slot, s->sql[tier], err, errlen);

	if (!st)
		return NULL;
	if ((s->key_text ? sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC)
			 : sqlite3_bind_int64(st, 1, cid)) ||
	    sqlite3_bind_int64(st, 2, since) ||
	    sqlite3_bind_int64(st, 3, until)) {
		snprintf(err, errlen, "history query failed: %s",
			 sqlite3_errmsg(dl_query_db(q)));
		sqlite3_reset(st);
		return NULL;
	}
	return st;
}

/* Steps st to its end, writing every row, or one per bucket of width
 * ns from since when width > 0. */
static int scan(sqlite3_stmt *st, const series_t *s, int ncols, int64_t since,
		int64_t width, emit_t *e)
{
	row_t r, b;
	int64_t bi = -1;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&r, 0, sizeof(r));
		read_row(st, s, &r);
		if (!width) {
			if (emit(e, s, ncols, &r))
				return DL_ETOOBIG;
			continue;
		}
		if ((r.t - since) / width != bi) {
			if (bi >= 0 && emit(e, s, ncols, &b))
				return DL_ETOOBIG;
			bi = (r.t - since) / width;
			memset(&b, 0, sizeof(b));
			b.t = since + bi * width;
		}
		fold(s, &b, &r);
	}
	if (rc != SQLITE_DONE)
		return DL_EDB;
	if (bi >= 0 && emit(e, s, ncols, &b))
		return DL_ETOOBIG;
	return 0;
}

int dl_query_history_text(dl_query_t *q, const char *host, const char *ctr,
			  int64_t since_ns, int64_t until_ns, int tier,
			  int points, dl_buf_t *out, size_t *rows, char *err,
			  size_t errlen)
{
	const series_t *s = ctr ? &ctr_series : &host_series;
	size_t start = dl_buf_used(out);
	emit_t e = {.out = out, .dc = {.day = -1}};
	dl_ctr_ref_t ref = {0};
	bool online;
	int64_t seen, width;
	sqlite3_stmt *st;
	int ncols, rc;

	if (tier < DL_TIER_RAW || tier > DL_TIER_HOUR) {
		snprintf(err, errlen, "unknown history tier %d", tier);
		return DL_EINVAL;
	}
	if (ctr ? dl_query_resolve(q, host, ctr, &ref, err, errlen) != 0
		: !dl_query_host(q, host, &online, &seen)) {
		if (!ctr)
			snprintf(err, errlen, "no host named %s", host);
		return DL_ENOENT;
	}
	if (points < 0 || points > DL_QUERY_POINTS_MAX || since_ns < 0 ||
	    until_ns < since_ns) {
		snprintf(err, errlen, "history: span or points out of range");
		return DL_EINVAL;
	}
	st = bind(q, s, tier, host, ref.cid, since_ns, until_ns, err, errlen);
	if (!st)
		return DL_EDB;
	/* Raw rows carry no maxima of their own; buckets and rollups do. */
	ncols = tier == DL_TIER_RAW && !points ? s->ncols - 2 : s->ncols;
	width = points ? (until_ns - since_ns) / points + 1 : 0;
	rc = dl_buf_append(out, "[", 1)
		     ? DL_ETOOBIG
		     : scan(st, s, ncols, since_ns, width, &e);
	if (rc == DL_EDB)
		snprintf(err, errlen, "history query failed: %s",
			 sqlite3_errmsg(dl_query_db(q)));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (!rc && dl_buf_append(out, "]", 1))
		rc = DL_ETOOBIG;
	if (rc) {
		/* the buffer's cap, or memory: the answer is too big */
		if (rc == DL_ETOOBIG)
			snprintf(err, errlen,
				 "response too large; narrow the query");
		out->len = out->off + start;
		return rc;
	}
	if (rows)
		*rows = e.rows;
	return 0;
}

json_t *dl_query_history(dl_query_t *q, const char *host, const char *ctr,
			 int64_t since_ns, int64_t until_ns, int tier,
			 int points, char *err, size_t errlen)
{
	dl_buf_t b;
	json_t *a = NULL;

	dl_buf_init(&b, DL_QUERY_HISTORY_MAX);
	if (dl_query_history_text(q, host, ctr, since_ns, until_ns, tier,
				  points, &b, NULL, err, errlen) == 0) {
		a = json_loadb((const char *)dl_buf_head(&b), dl_buf_used(&b),
			       0, NULL);
		if (!a)
			snprintf(err, errlen, "out of memory");
	}
	dl_buf_free(&b);
	return a;
}
