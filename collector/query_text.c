/* query_text.c - `ps`, `stats` and `hosts` written as JSON text straight
 * from the rows (query.h, "the text path"), with the token's host glob
 * applied per row and keyset paging.
 *
 * For 20,000 containers the json_t path spent most of a request building
 * and freeing a json_t per value; here a row is one reservation in the
 * output buffer and a handful of memcpy. Every value is written as
 * query.c's json_t path would hold it: col_str (NULL is ""), col_int,
 * col_bool and col_num (type-driven, two-decimal reals) have their text
 * twins below. Only reads. */
#include <fnmatch.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "collector/jtext.h"
#include "collector/query.h"
#include "collector/query_int.h"
#include "common/base64.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/dstatus.h"
#include "common/err.h"
#include "common/label.h"

enum {
	T_PS_ALL,
	T_PS_HOST,
	T_STATS_ALL,
	T_STATS_HOST,
	T_STATS_CID,
	T_HOSTS,
	T_COUNT
};

/* Keyset: rows after the cursor's (host, name, id); ?5 NULL = from the
 * first. NULL names sort as '' (query.c orders the same way). */
#define AFTER(h, n, i)                                                         \
	"(?5 IS NULL OR (" h ", ifnull(" n ", ''), " i ") > (?5, ?6, ?7))"

/* Columns as query.c's PS_COLS and STATS_COLS (ps_put/stats_put read
 * them by position). */
#define PS_COLS                                                                \
	"SELECT host, id, name, image, state, status, health, created, "       \
	"started_at, finished_at, exit_code, oom_killed, restarting, "         \
	"restart_count, health_streak, health_output, labels FROM containers "
/* A label filter (?8 key, ?9 value) is a primary-key probe of
 * container_labels per row, as in query.c. */
#define PS_WHERE                                                               \
	"(?2 OR state = 'running') AND (?3 IS NULL OR state = ?3) AND "        \
	"(?4 IS NULL OR name GLOB ?4) AND "                                    \
	"(?8 IS NULL OR EXISTS (SELECT 1 FROM container_labels l WHERE "       \
	"l.host = containers.host AND l.id = containers.id AND l.key = ?8 "    \
	"AND (?9 IS NULL OR l.value = ?9))) AND " AFTER("host", "name", "id")
#define STATS_COLS                                                             \
	"SELECT c.host, c.name, c.id, s.ts, s.cpu_percent, s.mem_usage, "      \
	"s.mem_limit, s.net_rx, s.net_tx, s.blk_read, s.blk_write, s.pids, "   \
	"c.state, c.status, c.health, c.started_at, c.finished_at, "           \
	"c.exit_code, c.health_streak "                                        \
	"FROM containers c JOIN container_keys k ON k.host = c.host AND "      \
	"k.id = c.id JOIN container_samples s ON s.cid = k.cid AND s.ts = "    \
	"(SELECT max(ts) FROM container_samples WHERE cid = k.cid) "
#define STATS_WHERE                                                            \
	"(?3 IS NULL OR c.state = ?3) AND (?4 IS NULL OR c.name GLOB ?4) "     \
	"AND " AFTER("c.host", "c.name", "c.id")

static const char *const sql[T_COUNT] = {
	[T_PS_ALL] = PS_COLS "WHERE " PS_WHERE
			     " ORDER BY host, ifnull(name, ''), id",
	[T_PS_HOST] = PS_COLS "WHERE host = ?1 AND " PS_WHERE
			      " ORDER BY ifnull(name, ''), id",
	[T_STATS_ALL] = STATS_COLS "WHERE " STATS_WHERE
				   " ORDER BY c.host, ifnull(c.name, ''), c.id",
	[T_STATS_HOST] = STATS_COLS "WHERE c.host = ?1 AND " STATS_WHERE
				    " ORDER BY ifnull(c.name, ''), c.id",
	[T_STATS_CID] = STATS_COLS "WHERE k.cid = ?2 AND " STATS_WHERE,
	/* query.c's Q_HOSTS, with ?1 naming one host (NULL = all) */
	[T_HOSTS] = DL_QUERY_HOSTS_COLS "WHERE (?1 IS NULL OR h.name = ?1) "
					"ORDER BY h.name",
};

static sqlite3_stmt *stmt(dl_query_t *q, int which, char *err, size_t errlen)
{
	return dl_query_slot(q, DL_QSLOT_TEXT + which, sql[which], err, errlen);
}

/* ---- values, as query.c's col_* hold them ---- */

static size_t col_len(sqlite3_stmt *st, int i)
{
	return (size_t)sqlite3_column_bytes(st, i);
}

/* col_str: NULL is "". */
static char *put_str(char *p, sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	return dl_jt_str(p, s, s ? col_len(st, i) : 0);
}

/* A nullable text column (health_output, control). */
static char *put_str_or_null(char *p, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return JT_PUT(p, "null");
	return put_str(p, st, i);
}

static char *put_int(char *p, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return JT_PUT(p, "null");
	return dl_jt_i64(p, sqlite3_column_int64(st, i));
}

static char *put_bool(char *p, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return JT_PUT(p, "null");
	return sqlite3_column_int(st, i) ? JT_PUT(p, "true")
					 : JT_PUT(p, "false");
}

/* col_num: the stored type decides (a REAL gets two decimals). */
static char *put_num(char *p, sqlite3_stmt *st, int i)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL: return JT_PUT(p, "null");
	case SQLITE_FLOAT: return dl_jt_real(p, sqlite3_column_double(st, i));
	default: return dl_jt_i64(p, sqlite3_column_int64(st, i));
	}
}

/* query.c's status_now. */
static char *put_status(char *p, sqlite3_stmt *st, int state_i, int status_i,
			int health_i, int t, uint64_t now_ns)
{
	char out[DL_DOCKER_STATUS_MAX];

	if (sqlite3_column_type(st, t) == SQLITE_NULL)
		return put_str(p, st, status_i);
	dl_docker_status(now_ns, (const char *)sqlite3_column_text(st, state_i),
			 (uint64_t)sqlite3_column_int64(st, t),
			 (uint64_t)sqlite3_column_int64(st, t + 1),
			 (int32_t)sqlite3_column_int64(st, t + 2),
			 (const char *)sqlite3_column_text(st, health_i), out,
			 sizeof(out));
	return dl_jt_str(p, out, strlen(out));
}

/* ---- rows ---- */

typedef struct {
	uint64_t now_ns;
	int64_t now_s;
	dl_jt_day_t dc;
} ctx_t;

/* Room for a row: every text column escaped at worst, plus the keys,
 * numbers and a computed status. */
static size_t row_size(sqlite3_stmt *st, const int *text_cols, int n)
{
	size_t sz = 1024 + dl_jt_str_max(DL_DOCKER_STATUS_MAX);

	for (int k = 0; k < n; k++)
		sz += dl_jt_str_max(col_len(st, text_cols[k]));
	return sz;
}

/* The labels column is a JSON object the writer made from the wire
 * (store_inventory.c): copied as it is; anything that is not an object
 * (NULL: an agent older than labels) is null, as in query.c. */
static char *put_labels(char *p, sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);
	size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;

	if (n < 2 || t[0] != '{' || t[n - 1] != '}' || memchr(t, '\n', n))
		return JT_PUT(p, "null");
	memcpy(p, t, n);
	return p + n;
}

static size_t ps_size(sqlite3_stmt *st)
{
	static const int cols[] = {0, 1, 2, 3, 4, 5, 6, 15, 16};

	return row_size(st, cols, (int)(sizeof(cols) / sizeof(cols[0])));
}

static char *ps_put(char *p, sqlite3_stmt *st, ctx_t *cx)
{
	p = JT_PUT(p, "{\"host\":");
	p = put_str(p, st, 0);
	p = JT_PUT(p, ",\"id\":");
	p = put_str(p, st, 1);
	p = JT_PUT(p, ",\"name\":");
	p = put_str(p, st, 2);
	p = JT_PUT(p, ",\"image\":");
	p = put_str(p, st, 3);
	p = JT_PUT(p, ",\"state\":");
	p = put_str(p, st, 4);
	p = JT_PUT(p, ",\"status\":");
	p = put_status(p, st, 4, 5, 6, 8, cx->now_ns);
	p = JT_PUT(p, ",\"health\":");
	p = put_str(p, st, 6);
	p = JT_PUT(p, ",\"created\":");
	p = dl_jt_i64(p, sqlite3_column_int64(st, 7));
	p = JT_PUT(p, ",\"started_at\":");
	p = put_int(p, st, 8);
	p = JT_PUT(p, ",\"finished_at\":");
	p = put_int(p, st, 9);
	p = JT_PUT(p, ",\"exit_code\":");
	p = put_int(p, st, 10);
	p = JT_PUT(p, ",\"oom_killed\":");
	p = put_bool(p, st, 11);
	p = JT_PUT(p, ",\"restarting\":");
	p = put_bool(p, st, 12);
	p = JT_PUT(p, ",\"restart_count\":");
	p = put_int(p, st, 13);
	p = JT_PUT(p, ",\"health_streak\":");
	p = put_int(p, st, 14);
	p = JT_PUT(p, ",\"health_output\":");
	p = put_str_or_null(p, st, 15);
	p = JT_PUT(p, ",\"labels\":");
	p = put_labels(p, st, 16);
	*p++ = '}';
	return p;
}

static size_t stats_size(sqlite3_stmt *st)
{
	static const int cols[] = {0, 1, 2, 12, 13, 14};

	return row_size(st, cols, (int)(sizeof(cols) / sizeof(cols[0])));
}

static char *stats_put(char *p, sqlite3_stmt *st, ctx_t *cx)
{
	static const char *const keys[] = {
		",\"cpu_percent\":",	 ",\"mem_bytes\":",
		",\"mem_limit\":",	 ",\"net_rx_bytes\":",
		",\"net_tx_bytes\":",	 ",\"blk_read_bytes\":",
		",\"blk_write_bytes\":", ",\"pids\":",
	};
	int64_t ns = sqlite3_column_int64(st, 3);

	p = JT_PUT(p, "{\"host\":");
	p = put_str(p, st, 0);
	p = JT_PUT(p, ",\"name\":");
	p = put_str(p, st, 1);
	p = JT_PUT(p, ",\"id\":");
	p = put_str(p, st, 2);
	p = JT_PUT(p, ",\"time\":\"");
	p = dl_jt_stamp(p, ns, &cx->dc);
	p = JT_PUT(p, "\",\"time_ns\":");
	p = dl_jt_i64(p, ns);
	p = JT_PUT(p, ",\"state\":");
	p = put_str(p, st, 12);
	p = JT_PUT(p, ",\"status\":");
	p = put_status(p, st, 12, 13, 14, 15, cx->now_ns);
	p = JT_PUT(p, ",\"health\":");
	p = put_str(p, st, 14);
	p = JT_PUT(p, ",\"health_streak\":");
	p = put_int(p, st, 18);
	for (int k = 0; k < 8; k++) {
		size_t n = strlen(keys[k]);

		memcpy(p, keys[k], n);
		p = put_num(p + n, st, 4 + k);
	}
	*p++ = '}';
	return p;
}

static size_t hosts_size(sqlite3_stmt *st)
{
	static const int cols[] = {0, 4, 5, 6, 15, 21};

	/* + the health words hosts_put writes (at most 95 bytes) */
	return row_size(st, cols, (int)(sizeof(cols) / sizeof(cols[0]))) +
	       dl_jt_str_max(96);
}

/* query.c's host_row, key for key. */
static char *hosts_put(char *p, sqlite3_stmt *st, ctx_t *cx)
{
	int64_t last_s = sqlite3_column_int64(st, 2) / 1000000000;
	int64_t ago = cx->now_s > last_s ? cx->now_s - last_s : 0;
	int64_t data_s = sqlite3_column_int64(st, 17) / 1000000000;
	char health[96];

	dl_query__host_health(st, ago, health, sizeof(health));
	p = JT_PUT(p, "{\"control\":");
	p = put_str_or_null(p, st, 15);
	p = JT_PUT(p, ",\"cpu_percent\":");
	p = put_num(p, st, 9);
	p = JT_PUT(p, ",\"mem_used_bytes\":");
	p = put_num(p, st, 10);
	p = JT_PUT(p, ",\"mem_total_bytes\":");
	p = put_num(p, st, 11);
	p = JT_PUT(p, ",\"load1\":");
	p = put_num(p, st, 12);
	p = JT_PUT(p, ",\"disk_used_bytes\":");
	p = put_num(p, st, 13);
	p = JT_PUT(p, ",\"disk_total_bytes\":");
	p = put_num(p, st, 14);
	p = JT_PUT(p, ",\"name\":");
	p = put_str(p, st, 0);
	p = JT_PUT(p, ",\"online\":");
	p = sqlite3_column_int(st, 1) ? JT_PUT(p, "true") : JT_PUT(p, "false");
	p = JT_PUT(p, ",\"last_seen\":");
	p = dl_jt_i64(p, last_s);
	p = JT_PUT(p, ",\"last_seen_ago\":");
	p = dl_jt_i64(p, ago);
	p = JT_PUT(p, ",\"docker_up\":");
	p = sqlite3_column_int(st, 3) ? JT_PUT(p, "true") : JT_PUT(p, "false");
	p = JT_PUT(p, ",\"docker_version\":");
	p = put_str(p, st, 4);
	p = JT_PUT(p, ",\"containers\":");
	p = dl_jt_i64(p, sqlite3_column_int64(st, 7));
	p = JT_PUT(p, ",\"running\":");
	p = dl_jt_i64(p, sqlite3_column_int64(st, 8));
	p = JT_PUT(p, ",\"peer\":");
	p = put_str(p, st, 5);
	p = JT_PUT(p, ",\"software\":");
	p = put_str(p, st, 6);
	p = JT_PUT(p, ",\"clock_skew_ms\":");
	p = put_num(p, st, 16);
	p = JT_PUT(p, ",\"last_data_ago\":");
	if (sqlite3_column_type(st, 17) == SQLITE_NULL)
		p = JT_PUT(p, "null");
	else
		p = dl_jt_i64(p, cx->now_s > data_s ? cx->now_s - data_s : 0);
	p = JT_PUT(p, ",\"dropped_frames\":");
	p = dl_jt_i64(p, sqlite3_column_int64(st, 18));
	p = JT_PUT(p, ",\"unhealthy\":");
	p = dl_jt_i64(p, sqlite3_column_int64(st, 19));
	p = JT_PUT(p, ",\"restarting\":");
	p = dl_jt_i64(p, sqlite3_column_int64(st, 20));
	p = JT_PUT(p, ",\"health\":");
	p = dl_jt_str(p, health, strlen(health));
	p = JT_PUT(p, ",\"labels\":");
	p = sqlite3_column_type(st, 21) == SQLITE_NULL ? JT_PUT(p, "{}")
						       : put_labels(p, st, 21);
	*p++ = '}';
	return p;
}

typedef struct {
	char op; /* cursor op: 'p' ps, 's' stats, 0 = no paging (hosts) */
	int host_col, name_col, id_col;
	size_t (*size)(sqlite3_stmt *);
	char *(*put)(char *, sqlite3_stmt *, ctx_t *);
} kind_t;

static const kind_t ps_kind = {'p', 0, 2, 1, ps_size, ps_put};
static const kind_t stats_kind = {'s', 0, 1, 2, stats_size, stats_put};
static const kind_t hosts_kind = {0, 0, -1, -1, hosts_size, hosts_put};

/* ---- cursors ---- */

/* Small enough for a query string (the gateway takes values of up to
 * DL_ROUTE_VALUE_MAX, 512): one-byte field lengths, and a Docker id (64
 * lowercase hex digits) as its 32 bytes. */
#define CURSOR_V      1 /* id as typed */
#define CURSOR_V_HEX  2 /* id as 32 bytes of a 64-digit hex id */
#define CURSOR_RAWMAX ((DL_CURSOR_TEXT_MAX - 1) / 4 * 3)
#define CURSOR_HEAD   6 /* version, crc32c (4, big-endian), op */

static const char *op_name(char op)
{
	return op == 'p' ? "ps" : "stats";
}

static unsigned char *put_field(unsigned char *p, const char *s, size_t n)
{
	*p++ = (unsigned char)n;
	if (n)
		memcpy(p, s, n);
	return p + n;
}

static int hexval(char ch)
{
	return ch >= '0' && ch <= '9'	? ch - '0'
	       : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
					: -1;
}

static bool hex64(const char *id, size_t n)
{
	if (n != 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (hexval(id[i]) < 0)
			return false;
	return true;
}

int dl_cursor_encode(const char *op, const char *host, size_t host_len,
		     const char *name, size_t name_len, const char *id,
		     size_t id_len, char *out, size_t outlen)
{
	unsigned char raw[CURSOR_RAWMAX], *p = raw + CURSOR_HEAD;
	bool hex = hex64(id, id_len);
	size_t idn = hex ? 32 : id_len;
	uint32_t crc;
	int n;

	if (strcmp(op, "ps") && strcmp(op, "stats"))
		return DL_EINVAL;
	if (host_len > 255 || name_len > 255 || idn > 255 ||
	    CURSOR_HEAD + 3 + host_len + name_len + idn > sizeof(raw))
		return DL_ETOOBIG;
	raw[0] = hex ? CURSOR_V_HEX : CURSOR_V;
	raw[5] = (unsigned char)op[0];
	p = put_field(p, host, host_len);
	p = put_field(p, name, name_len);
	if (hex) {
		*p++ = 32;
		for (size_t i = 0; i < 32; i++)
			*p++ = (unsigned char)(hexval(id[2 * i]) << 4 |
					       hexval(id[2 * i + 1]));
	} else {
		p = put_field(p, id, id_len);
	}
	crc = dl_crc32c(0, raw, 1);
	crc = dl_crc32c(crc, raw + 5, (size_t)(p - raw) - 5);
	raw[1] = (unsigned char)(crc >> 24);
	raw[2] = (unsigned char)(crc >> 16);
	raw[3] = (unsigned char)(crc >> 8);
	raw[4] = (unsigned char)crc;
	n = dl_base64_encode(raw, (size_t)(p - raw), false, out, outlen);
	if (n < 0)
		return DL_ETOOBIG;
	/* base64url: no '+' or '/' to escape in a query string */
	for (int i = 0; i < n; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
	return 0;
}

static const unsigned char *get_field(const unsigned char *p,
				      const unsigned char *end, const char **s,
				      size_t *n)
{
	if (!p || end - p < 1)
		return NULL;
	*n = p[0];
	p++;
	if ((size_t)(end - p) < *n)
		return NULL;
	*s = (const char *)p;
	return p + *n;
}

int dl_cursor_decode(const char *op, const char *text, dl_cursor_t *c)
{
	static const char hexd[] = "0123456789abcdef";
	char b64[DL_CURSOR_TEXT_MAX + 4];
	size_t n = text ? strnlen(text, DL_CURSOR_TEXT_MAX) : 0;
	const unsigned char *p, *end;
	const char *id;
	uint32_t crc;
	int len;

	memset(c, 0, offsetof(dl_cursor_t, raw));
	if (!n || n >= DL_CURSOR_TEXT_MAX || n % 4 == 1)
		return DL_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char ch = text[i];

		if (ch == '-')
			ch = '+';
		else if (ch == '_')
			ch = '/';
		else if (!((ch >= 'A' && ch <= 'Z') ||
			   (ch >= 'a' && ch <= 'z') ||
			   (ch >= '0' && ch <= '9')))
			return DL_EINVAL; /* '+', '/', '=' and the rest */
		b64[i] = ch;
	}
	while (n % 4)
		b64[n++] = '=';
	len = dl_base64_decode(b64, n, c->raw, CURSOR_RAWMAX);
	if (len < CURSOR_HEAD + 3 ||
	    (c->raw[0] != CURSOR_V && c->raw[0] != CURSOR_V_HEX) ||
	    c->raw[5] != (unsigned char)op[0] ||
	    strcmp(op, op_name((char)c->raw[5])))
		return DL_EINVAL;
	end = c->raw + len;
	crc = (uint32_t)c->raw[1] << 24 | (uint32_t)c->raw[2] << 16 |
	      (uint32_t)c->raw[3] << 8 | c->raw[4];
	if (crc !=
	    dl_crc32c(dl_crc32c(0, c->raw, 1), c->raw + 5, (size_t)len - 5))
		return DL_EINVAL;
	p = get_field(c->raw + CURSOR_HEAD, end, &c->host, &c->host_len);
	p = get_field(p, end, &c->name, &c->name_len);
	p = get_field(p, end, &id, &c->id_len);
	if (p != end || !c->host_len || !c->id_len)
		return DL_EINVAL;
	/* one text per cursor: stray bits in the last character decode to
	 * the same bytes, so a tampered one must not pass as the original */
	if (dl_base64_encode(c->raw, (size_t)len, false, b64, sizeof(b64)) < 0)
		return DL_EINVAL;
	for (size_t i = 0; b64[i]; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	if (strcmp(b64, text))
		return DL_EINVAL;
	if (c->raw[0] == CURSOR_V_HEX) {
		/* spelled out after the raw bytes */
		char *x = (char *)c->raw + len;

		if (c->id_len != 32 || len + 64 > (int)sizeof(c->raw))
			return DL_EINVAL;
		for (size_t i = 0; i < 32; i++) {
			x[2 * i] = hexd[(unsigned char)id[i] >> 4];
			x[2 * i + 1] = hexd[(unsigned char)id[i] & 15];
		}
		id = x;
		c->id_len = 64;
	}
	c->id = id;
	c->op = (char)c->raw[5];
	return 0;
}

/* ---- the scan ---- */

static bool host_visible(const char *glob, sqlite3_stmt *st, int col)
{
	const char *h = (const char *)sqlite3_column_text(st, col);

	return !glob || (h && fnmatch(glob, h, 0) == 0);
}

/* Binds the cursor's key to ?5..?7 (unbound = from the start). */
static int bind_cursor(sqlite3_stmt *st, const dl_cursor_t *c)
{
	return sqlite3_bind_text(st, 5, c->host, (int)c->host_len,
				 SQLITE_STATIC) ||
	       sqlite3_bind_text(st, 6, c->name, (int)c->name_len,
				 SQLITE_STATIC) ||
	       sqlite3_bind_text(st, 7, c->id, (int)c->id_len, SQLITE_STATIC);
}

/* Steps the bound st to its end (or the page's), writing the visible
 * rows; resets it. */
static int scan(dl_query_t *q, sqlite3_stmt *st, const kind_t *k,
		const dl_page_t *pg, dl_buf_t *out, size_t *rows, char *err,
		size_t errlen)
{
	const char *glob =
		pg && pg->glob && strcmp(pg->glob, "*") ? pg->glob : NULL;
	bool paged = pg && k->op && (pg->limit || pg->cursor);
	size_t limit = paged ? pg->limit : 0, n = 0, start = dl_buf_used(out);
	ctx_t cx = {.now_ns = dl_clock_wall_ns(), .dc = {.day = -1}};
	char *last = NULL; /* the last row's key, for next */
	size_t lh = 0, ln = 0, li = 0;
	bool more = false;
	int rc = 0, step;

	cx.now_s = (int64_t)(cx.now_ns / 1000000000u);
	if (dl_buf_append(out, paged ? "{\"rows\":[" : "[", paged ? 9 : 1))
		goto toobig;
	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		char *p, *e;

		if (!host_visible(glob, st, k->host_col))
			continue;
		if (limit && n == limit) {
			more = true;
			break;
		}
		if (!(p = (char *)dl_buf_reserve(out, k->size(st) + 1)))
			goto toobig;
		e = p;
		if (n++)
			*e++ = ',';
		e = k->put(e, st, &cx);
		dl_buf_commit(out, (size_t)(e - p));
		if (limit) {
			/* keep the key: the row is gone after the next step */
			lh = col_len(st, k->host_col);
			ln = col_len(st, k->name_col);
			li = col_len(st, k->id_col);
			free(last);
			if (!(last = malloc(lh + ln + li + 1)))
				goto toobig;
			memcpy(last, sqlite3_column_text(st, k->host_col), lh);
			if (ln)
				memcpy(last + lh,
				       sqlite3_column_text(st, k->name_col),
				       ln);
			memcpy(last + lh + ln,
			       sqlite3_column_text(st, k->id_col), li);
		}
	}
	if (!more && step != SQLITE_DONE) {
		snprintf(err, errlen, "%s query failed: %s",
			 k->op ? op_name(k->op) : "hosts",
			 sqlite3_errmsg(dl_query_db(q)));
		rc = DL_EDB;
		goto fail;
	}
	if (dl_buf_append(out, "]", 1))
		goto toobig;
	if (paged) {
		char cur[DL_CURSOR_TEXT_MAX];

		if (!more) {
			if (dl_buf_append(out, ",\"next\":null}", 13))
				goto toobig;
		} else if (dl_cursor_encode(op_name(k->op), last, lh, last + lh,
					    ln, last + lh + ln, li, cur,
					    sizeof(cur))) {
			snprintf(err, errlen,
				 "%s: a row's name is too long to page past",
				 op_name(k->op));
			rc = DL_EINVAL;
			goto fail;
		} else if (dl_buf_append(out, ",\"next\":\"", 9) ||
			   dl_buf_append(out, cur, strlen(cur)) ||
			   dl_buf_append(out, "\"}", 2)) {
			goto toobig;
		}
	}
	free(last);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rows)
		*rows = n;
	return 0;
toobig:
	snprintf(err, errlen, "response too large; narrow the query");
	rc = DL_ETOOBIG;
fail:
	free(last);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	out->len = out->off + start;
	return rc;
}

static bool bind_opt(sqlite3_stmt *st, int i, const char *v)
{
	return v && sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC) != SQLITE_OK;
}

static int bind_fail(dl_query_t *q, sqlite3_stmt *st, const char *what,
		     char *err, size_t errlen)
{
	snprintf(err, errlen, "%s query failed: %s", what,
		 sqlite3_errmsg(dl_query_db(q)));
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return DL_EDB;
}

/* The page's cursor decoded into c (0 without one), or DL_EINVAL with
 * the sentence. */
static int page_cursor(const char *op, const dl_page_t *pg, dl_cursor_t *c,
		       bool *has, char *err, size_t errlen)
{
	*has = pg && pg->cursor;
	if (pg && pg->limit > DL_PAGE_MAX) {
		snprintf(err, errlen, "invalid limit: 1 to %d", DL_PAGE_MAX);
		return DL_EINVAL;
	}
	if (*has && dl_cursor_decode(op, pg->cursor, c)) {
		snprintf(err, errlen,
			 "invalid cursor: not one this %s answer "
			 "gave",
			 op);
		return DL_EINVAL;
	}
	return 0;
}

int dl_query_ps_text(dl_query_t *q, const dl_ps_filter_t *f,
		     const dl_page_t *pg, dl_buf_t *out, size_t *rows,
		     char *err, size_t errlen)
{
	dl_label_filter_t lf;
	dl_cursor_t *c;
	sqlite3_stmt *st;
	bool online, has;
	int64_t seen;
	int rc;

	if (!(c = malloc(sizeof(*c)))) {
		snprintf(err, errlen, "out of memory");
		return DL_ENOMEM;
	}
	if ((rc = page_cursor("ps", pg, c, &has, err, errlen)))
		goto done;
	if (f->host && !dl_query_host(q, f->host, &online, &seen)) {
		snprintf(err, errlen, "no host named %s", f->host);
		rc = DL_ENOENT;
		goto done;
	}
	if (!(st = stmt(q, f->host ? T_PS_HOST : T_PS_ALL, err, errlen))) {
		rc = DL_EDB;
		goto done;
	}
	/* naming a state asks for it, running or not */
	if (f->label && dl_label_filter_parse(f->label, &lf) != 0) {
		snprintf(err, errlen, "label: expected K or K=V");
		rc = DL_EINVAL;
		goto done;
	}
	if (bind_opt(st, 1, f->host) ||
	    sqlite3_bind_int(st, 2, f->all || f->state ? 1 : 0) ||
	    bind_opt(st, 3, f->state) || bind_opt(st, 4, f->name) ||
	    bind_opt(st, 8, f->label ? lf.key : NULL) ||
	    bind_opt(st, 9, f->label && lf.has_value ? lf.value : NULL) ||
	    (has && bind_cursor(st, c))) {
		rc = bind_fail(q, st, "ps", err, errlen);
		goto done;
	}
	rc = scan(q, st, &ps_kind, pg, out, rows, err, errlen);
done:
	free(c);
	return rc;
}

int dl_query_stats_text(dl_query_t *q, const dl_stats_filter_t *f,
			const dl_page_t *pg, dl_buf_t *out, size_t *rows,
			char *err, size_t errlen)
{
	dl_cursor_t *c = malloc(sizeof(*c));
	dl_ctr_ref_t ref;
	sqlite3_stmt *st;
	bool online, has;
	int64_t seen;
	int rc, which = T_STATS_ALL;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return DL_ENOMEM;
	}
	if ((rc = page_cursor("stats", pg, c, &has, err, errlen)))
		goto done;
	if (f->ctr && !f->host) {
		snprintf(err, errlen,
			 "stats: a container needs its host (HOST/CONTAINER)");
		rc = DL_EINVAL;
		goto done;
	}
	if (f->host && f->ctr) {
		if ((rc = dl_query_resolve(q, f->host, f->ctr, &ref, err,
					   errlen)))
			goto done;
		which = T_STATS_CID;
	} else if (f->host) {
		if (!dl_query_host(q, f->host, &online, &seen)) {
			snprintf(err, errlen, "no host named %s", f->host);
			rc = DL_ENOENT;
			goto done;
		}
		which = T_STATS_HOST;
	}
	if (!(st = stmt(q, which, err, errlen))) {
		rc = DL_EDB;
		goto done;
	}
	if ((which == T_STATS_HOST && bind_opt(st, 1, f->host)) ||
	    (which == T_STATS_CID && sqlite3_bind_int64(st, 2, ref.cid)) ||
	    bind_opt(st, 3, f->state) || bind_opt(st, 4, f->name) ||
	    (has && bind_cursor(st, c))) {
		rc = bind_fail(q, st, "stats", err, errlen);
		goto done;
	}
	rc = scan(q, st, &stats_kind, pg, out, rows, err, errlen);
done:
	free(c);
	return rc;
}

int dl_query_hosts_text(dl_query_t *q, const char *host, const char *glob,
			dl_buf_t *out, size_t *rows, char *err, size_t errlen)
{
	dl_page_t pg = {.glob = glob};
	sqlite3_stmt *st = stmt(q, T_HOSTS, err, errlen);
	size_t n = 0;
	int rc;

	if (!st)
		return DL_EDB;
	if (bind_opt(st, 1, host))
		return bind_fail(q, st, "hosts", err, errlen);
	if ((rc = scan(q, st, &hosts_kind, &pg, out, &n, err, errlen)))
		return rc;
	if (host && !n) {
		/* as run_hosts: an unknown host is an error, one the glob
		 * hides an empty answer (admin.c refused it before) */
		bool online;
		int64_t seen;

		if (!dl_query_host(q, host, &online, &seen)) {
			out->len -= 2;
			snprintf(err, errlen, "no host named %s", host);
			return DL_ENOENT;
		}
	}
	if (rows)
		*rows = n;
	return 0;
}
