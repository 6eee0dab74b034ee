/* test_query_text.c - the text path (collector/query_text.c) against the
 * json_t path (query.c) over a store of awkward rows: the documents must
 * be equal (json_equal) for ps, stats and hosts, with and without a
 * token's host glob; cursors; paging while rows arrive. */
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/auth.h"
#include "collector/query.h"
#include "common/buf.h"
#include "common/err.h"
#include "store_fixture.h"

static sqlite3 *db; /* read-write, for the rows */
static dl_query_t *q;

static void exec(const char *s)
{
	char *e = NULL;

	if (sqlite3_exec(db, s, NULL, NULL, &e) != SQLITE_OK)
		DL_FAIL_("%s: %s", s, e);
}

static void fill(void)
{
	/* hosts: one online with a sample, one offline, one skewed */
	exec("INSERT INTO hosts(name, online, last_seen, peer, software, "
	     "docker_up, docker_version, control, clock_skew_ms, last_data, "
	     "dropped_frames) VALUES "
	     "('app-01', 1, 1700000000000000000, '10.0.0.1:22', 'dl 1.0', 1, "
	     "'27.1', 'read, lifecycle', 12, 1700000000000000000, 0),"
	     "('app-02', 0, 1600000000000000000, NULL, NULL, 0, NULL, NULL, "
	     "NULL, NULL, 3),"
	     "('db-\"1', 1, 1700000000000000000, 'p', 's\\x', 1, 'v', NULL, "
	     "-5000, NULL, 7)");
	exec("INSERT INTO host_samples(host, ts, cpu_percent, mem_used, "
	     "mem_total, load1, disk_used, disk_total) VALUES "
	     "('app-01', 1, 10.0, 1, 2, 0.5, 3, 4),"
	     "('app-01', 2, 12.345, 100, 200, 0.004, NULL, 400)");
	/* containers: quotes, backslashes, controls, unicode, invalid
	 * UTF-8, NULL and empty names, nullable columns both ways */
	exec("INSERT INTO containers(host, id, name, image, state, status, "
	     "health, created, updated_ns, started_at, finished_at, "
	     "exit_code, oom_killed, restarting, restart_count, "
	     "health_streak, health_output) VALUES "
	     "('app-01', 'a1', 'web', 'nginx:1', 'running', 'Up 2 hours', "
	     "'healthy', 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
	     "NULL),"
	     "('app-01', 'a2', 'we\"b\\\\x', 'img', 'exited', 'Exited (1)', "
	     "'', 2, 1, 1000000000, 2000000000, 1, 1, 0, 3, 2, 'ok\n\t'),"
	     "('app-01', 'a3', char(1, 10, 31), 'na' || char(239) || 've', "
	     "'running', 'Up', 'unhealthy', 3, 1, 1600000000000000000, 0, "
	     "NULL, 0, 1, 0, -1, 'x'),"
	     "('app-01', 'a4', NULL, NULL, 'running', NULL, NULL, NULL, 1, "
	     "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
	     "('app-01', 'a5', '', 'i', 'created', 's', 'h', 5, 1, NULL, "
	     "NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
	     "('app-02', 'b1', '☃😀', 'img', 'running', 'Up', NULL, 6, 1, "
	     "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),"
	     "('db-\"1', 'c1', 'pg', 'postgres', 'running', 'Up', NULL, 7, "
	     "1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)");
	exec("UPDATE containers SET name = CAST(X'61C3FF80' AS TEXT), "
	     "image = CAST(X'6100EDA080' AS TEXT) WHERE id = 'a5'");
	exec("INSERT INTO container_keys(host, id, name) SELECT host, id, "
	     "name FROM containers");
	exec("INSERT INTO container_samples(cid, ts, cpu_percent, mem_usage, "
	     "mem_limit, net_rx, net_tx, blk_read, blk_write, pids) "
	     "SELECT cid, 5, 33.336, 1000, NULL, 1, 2, 3, 4, 5 FROM "
	     "container_keys");
	exec("INSERT INTO container_samples(cid, ts, cpu_percent, mem_usage, "
	     "pids) SELECT cid, 1700000000123456789, cid - 0.004, cid * 7, "
	     "'12abc' FROM container_keys WHERE id != 'b1'");
}

static json_t *text_doc(int rc, dl_buf_t *b)
{
	json_error_t je;
	json_t *j;

	ASSERT_EQ(rc, 0);
	j = json_loadb((const char *)dl_buf_head(b), dl_buf_used(b),
		       JSON_ALLOW_NUL, &je);
	if (!j)
		DL_FAIL_("text does not parse: %s: %.*s", je.text,
			 (int)dl_buf_used(b), (const char *)dl_buf_head(b));
	dl_buf_reset(b);
	return j;
}

static void same(json_t *a, json_t *t, const char *what)
{
	ASSERT(a != NULL);
	if (!json_equal(a, t)) {
		char *x = json_dumps(a, JSON_COMPACT),
		     *y = json_dumps(t, JSON_COMPACT);

		DL_FAIL_("%s differs:\njson %s\ntext %s", what, x, y);
	}
	json_decref(a);
	json_decref(t);
}

static void test_equal(void)
{
	static const char *const globs[] = {NULL, "*", "app-*", "db-\"1",
					    "nothing"};
	char err[256];
	dl_buf_t b;

	dl_buf_init(&b, 1 << 24);
	for (size_t g = 0; g < sizeof(globs) / sizeof(globs[0]); g++) {
		dl_auth_t au = {.token = globs[g] != NULL};
		dl_page_t pg = {.glob = globs[g]};
		dl_ps_filter_t f = {.all = true};
		dl_stats_filter_t sf = {0};
		json_t *a;

		if (globs[g])
			snprintf(au.hosts, sizeof(au.hosts), "%s", globs[g]);
		/* ps, all and running, fleet and one host */
		for (int all = 0; all < 2; all++) {
			f.all = all;
			f.host = NULL;
			a = dl_query_ps_where(q, &f, err, sizeof(err));
			dl_auth_filter(&au, a, "host");
			same(a,
			     text_doc(dl_query_ps_text(q, &f, &pg, &b, NULL,
						       err, sizeof(err)),
				      &b),
			     "ps");
			f.host = "app-01";
			a = dl_query_ps_where(q, &f, err, sizeof(err));
			dl_auth_filter(&au, a, "host");
			same(a,
			     text_doc(dl_query_ps_text(q, &f, &pg, &b, NULL,
						       err, sizeof(err)),
				      &b),
			     "ps host");
		}
		f = (dl_ps_filter_t){.state = "exited", .name = "we*"};
		a = dl_query_ps_where(q, &f, err, sizeof(err));
		ASSERT_EQ(json_array_size(a), 1);
		dl_auth_filter(&au, a, "host");
		same(a,
		     text_doc(dl_query_ps_text(q, &f, &pg, &b, NULL, err,
					       sizeof(err)),
			      &b),
		     "ps filtered");
		/* stats: fleet, host, one container */
		a = dl_query_stats(q, NULL, NULL, err, sizeof(err));
		ASSERT_EQ(json_array_size(a), 7);
		dl_auth_filter(&au, a, "host");
		same(a,
		     text_doc(dl_query_stats_text(q, &sf, &pg, &b, NULL, err,
						  sizeof(err)),
			      &b),
		     "stats");
		sf.host = "app-01";
		a = dl_query_stats(q, "app-01", NULL, err, sizeof(err));
		dl_auth_filter(&au, a, "host");
		same(a,
		     text_doc(dl_query_stats_text(q, &sf, &pg, &b, NULL, err,
						  sizeof(err)),
			      &b),
		     "stats host");
		sf.ctr = "a2";
		a = dl_query_stats(q, "app-01", "a2", err, sizeof(err));
		dl_auth_filter(&au, a, "host");
		same(a,
		     text_doc(dl_query_stats_text(q, &sf, &pg, &b, NULL, err,
						  sizeof(err)),
			      &b),
		     "stats container");
		/* hosts */
		a = dl_query_hosts(q, err, sizeof(err));
		ASSERT_EQ(json_array_size(a), 3);
		dl_auth_filter(&au, a, "name");
		same(a,
		     text_doc(dl_query_hosts_text(q, NULL, globs[g], &b, NULL,
						  err, sizeof(err)),
			      &b),
		     "hosts");
	}
	/* hosts of one; unknown ones are errors on both paths */
	{
		size_t n = 9;
		json_t *t = text_doc(dl_query_hosts_text(q, "app-02", NULL, &b,
							 &n, err, sizeof(err)),
				     &b);

		ASSERT_EQ(n, 1);
		ASSERT_EQ(json_array_size(t), 1);
		json_decref(t);
		ASSERT_EQ(dl_query_hosts_text(q, "zz", NULL, &b, NULL, err,
					      sizeof(err)),
			  DL_ENOENT);
		ASSERT_STR_EQ(err, "no host named zz");
		ASSERT_EQ(dl_buf_used(&b), 0);
		ASSERT_EQ(dl_query_ps_text(q, &(dl_ps_filter_t){.host = "zz"},
					   NULL, &b, NULL, err, sizeof(err)),
			  DL_ENOENT);
		ASSERT_EQ(dl_query_stats_text(
				  q,
				  &(dl_stats_filter_t){.host = "app-01",
						       .ctr = "nope"},
				  NULL, &b, NULL, err, sizeof(err)),
			  DL_ENOENT);
		ASSERT_EQ(dl_buf_used(&b), 0);
	}
	/* a cap too small: DL_ETOOBIG, the buffer as it was */
	{
		dl_buf_t small;

		dl_buf_init(&small, 64);
		ASSERT_EQ(dl_buf_append(&small, "x", 1), 0);
		ASSERT_EQ(dl_query_ps_text(q, &(dl_ps_filter_t){.all = true},
					   NULL, &small, NULL, err,
					   sizeof(err)),
			  DL_ETOOBIG);
		ASSERT_EQ(dl_buf_used(&small), 1);
		dl_buf_free(&small);
	}
	dl_buf_free(&b);
}

static void test_cursor(void)
{
	char cur[DL_CURSOR_TEXT_MAX], bad[DL_CURSOR_TEXT_MAX];
	dl_cursor_t *c = malloc(sizeof(*c));
	size_t n;

	ASSERT_EQ(dl_cursor_encode("ps", "app-01", 6, "we\"b", 4, "a\0b", 3,
				   cur, sizeof(cur)),
		  0);
	ASSERT(strspn(cur,
		      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789-_") == strlen(cur));
	ASSERT_EQ(dl_cursor_decode("ps", cur, c), 0);
	ASSERT_EQ(c->host_len, 6);
	ASSERT(!memcmp(c->host, "app-01", 6));
	ASSERT_EQ(c->name_len, 4);
	ASSERT(!memcmp(c->name, "we\"b", 4));
	ASSERT_EQ(c->id_len, 3);
	ASSERT(!memcmp(c->id, "a\0b", 3));
	/* another op's, empty, garbage, padded, truncated */
	ASSERT_EQ(dl_cursor_decode("stats", cur, c), DL_EINVAL);
	ASSERT_EQ(dl_cursor_decode("ps", "", c), DL_EINVAL);
	ASSERT_EQ(dl_cursor_decode("ps", NULL, c), DL_EINVAL);
	ASSERT_EQ(dl_cursor_decode("ps", "not a cursor", c), DL_EINVAL);
	ASSERT_EQ(dl_cursor_decode("ps", "eyJoIjoiYSJ9", c), DL_EINVAL);
	n = strlen(cur);
	for (size_t len = 0; len < n; len++) {
		memcpy(bad, cur, len);
		bad[len] = '\0';
		ASSERT_EQ(dl_cursor_decode("ps", bad, c), DL_EINVAL);
	}
	snprintf(bad, sizeof(bad), "%s=", cur);
	ASSERT_EQ(dl_cursor_decode("ps", bad, c), DL_EINVAL);
	snprintf(bad, sizeof(bad), "%sA", cur);
	ASSERT_EQ(dl_cursor_decode("ps", bad, c), DL_EINVAL);
	/* every character changed to every other: never accepted */
	for (size_t i = 0; i < n; i++) {
		static const char alpha[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghij"
			"klmnopqrstuvwxyz0123456789-_+/=.";

		for (const char *a = alpha; *a; a++) {
			if (*a == cur[i])
				continue;
			memcpy(bad, cur, n + 1);
			bad[i] = *a;
			if (dl_cursor_decode("ps", bad, c) != DL_EINVAL)
				DL_FAIL_("tampered cursor %s accepted", bad);
		}
	}
	/* a Docker id travels as 32 bytes; the longest names still fit a
	 * query string value */
	{
		char host[64], name[256], id[65];

		memset(host, 'h', 63);
		memset(name, 'n', 255);
		for (int k = 0; k < 64; k++)
			id[k] = "0123456789abcdef"[(k * 7) % 16];
		ASSERT_EQ(dl_cursor_encode("stats", host, 63, name, 255, id, 64,
					   cur, sizeof(cur)),
			  0);
		ASSERT_LT(strlen(cur), 512);
		ASSERT_EQ(dl_cursor_decode("stats", cur, c), 0);
		ASSERT_EQ(c->id_len, 64);
		ASSERT(!memcmp(c->id, id, 64));
		ASSERT_EQ(c->name_len, 255);
		ASSERT(!memcmp(c->name, name, 255));
		/* upper-case hex is not a Docker id: kept as typed */
		id[0] = 'A';
		ASSERT_EQ(dl_cursor_encode("stats", "h", 1, "n", 1, id, 64, cur,
					   sizeof(cur)),
			  0);
		ASSERT_EQ(dl_cursor_decode("stats", cur, c), 0);
		ASSERT(c->id_len == 64 && !memcmp(c->id, id, 64));
	}
	/* too long to encode */
	{
		static char big[4000];

		memset(big, 'x', sizeof(big));
		ASSERT_EQ(dl_cursor_encode("ps", "h", 1, big, sizeof(big), "i",
					   1, cur, sizeof(cur)),
			  DL_ETOOBIG);
	}
	free(c);
}

/* The (host, name, id) keys of a ps page, appended to seen; the next
 * cursor in next (empty at the end). */
static size_t page(const char *cursor, size_t limit, const char *glob,
		   json_t *seen, char *next)
{
	char err[256];
	dl_buf_t b;
	dl_page_t pg = {.glob = glob, .limit = limit, .cursor = cursor};
	json_t *doc, *rows, *r, *nx;
	size_t i;

	dl_buf_init(&b, 1 << 20);
	doc = text_doc(dl_query_ps_text(q, &(dl_ps_filter_t){.all = true}, &pg,
					&b, NULL, err, sizeof(err)),
		       &b);
	rows = json_object_get(doc, "rows");
	nx = json_object_get(doc, "next");
	ASSERT(json_is_array(rows));
	ASSERT(json_is_null(nx) || json_is_string(nx));
	ASSERT_LE(json_array_size(rows), limit);
	json_array_foreach(rows, i, r)
	{
		json_array_append_new(
			seen,
			json_sprintf(
				"%s/%s",
				json_string_value(json_object_get(r, "host")),
				json_string_value(json_object_get(r, "id"))));
	}
	snprintf(next, DL_CURSOR_TEXT_MAX, "%s",
		 json_is_string(nx) ? json_string_value(nx) : "");
	i = json_array_size(rows);
	json_decref(doc);
	dl_buf_free(&b);
	return i;
}

static void test_paging(void)
{
	char next[DL_CURSOR_TEXT_MAX], err[256];
	json_t *all = dl_query_ps(q, NULL, true, err, sizeof(err));
	json_t *want = json_array(), *r;
	size_t i;

	json_array_foreach(all, i, r)
	{
		json_array_append_new(
			want,
			json_sprintf(
				"%s/%s",
				json_string_value(json_object_get(r, "host")),
				json_string_value(json_object_get(r, "id"))));
	}
	/* every page size: every row once, in order */
	for (size_t limit = 1; limit <= json_array_size(want) + 1; limit++) {
		json_t *seen = json_array();
		int pages = 0;

		page(NULL, limit, NULL, seen, next);
		pages++;
		while (next[0]) {
			char cur[DL_CURSOR_TEXT_MAX];

			snprintf(cur, sizeof(cur), "%s", next);
			page(cur, limit, NULL, seen, next);
			ASSERT_LT(++pages, 100);
		}
		if (!json_equal(seen, want))
			DL_FAIL_("limit %zu: %s", limit,
				 json_dumps(seen, JSON_COMPACT));
		json_decref(seen);
	}
	/* a glob: only its rows, limit counts them only */
	{
		json_t *seen = json_array();

		ASSERT_EQ(page(NULL, 2, "app-02", seen, next), 1);
		ASSERT_EQ(next[0], '\0');
		ASSERT_EQ(json_array_size(seen), 1);
		json_decref(seen);
	}
	/* rows arriving between pages: those after the cursor show up,
	 * those before do not, none twice */
	{
		json_t *seen = json_array();
		char cur[DL_CURSOR_TEXT_MAX];

		ASSERT_EQ(page(NULL, 2, NULL, seen, next), 2);
		exec("INSERT INTO containers(host, id, name, state, "
		     "updated_ns) VALUES ('app-01', 'a0', '', 'running', 1), "
		     "('db-\"1', 'c2', 'zz', 'running', 1)");
		while (next[0]) {
			snprintf(cur, sizeof(cur), "%s", next);
			page(cur, 2, NULL, seen, next);
		}
		/* 'a0' sorts before the first page's end; c2 after */
		ASSERT_EQ(json_array_size(seen), json_array_size(want) + 1);
		for (size_t k = 0; k < json_array_size(seen); k++)
			for (size_t m = k + 1; m < json_array_size(seen); m++)
				ASSERT(!json_equal(json_array_get(seen, k),
						   json_array_get(seen, m)));
		ASSERT_STR_EQ(json_string_value(json_array_get(
				      seen, json_array_size(seen) - 1)),
			      "db-\"1/c2");
		json_decref(seen);
		exec("DELETE FROM containers WHERE id IN ('a0', 'c2')");
	}
	/* limits and cursors refused */
	{
		dl_buf_t b;

		dl_buf_init(&b, 1 << 20);
		ASSERT_EQ(
			dl_query_ps_text(q, &(dl_ps_filter_t){0},
					 &(dl_page_t){.limit = DL_PAGE_MAX + 1},
					 &b, NULL, err, sizeof(err)),
			DL_EINVAL);
		ASSERT_EQ(dl_query_ps_text(q, &(dl_ps_filter_t){0},
					   &(dl_page_t){.cursor = "abcd"}, &b,
					   NULL, err, sizeof(err)),
			  DL_EINVAL);
		ASSERT(!strncmp(err, "invalid cursor", 14));
		ASSERT_EQ(dl_buf_used(&b), 0);
		dl_buf_free(&b);
	}
	json_decref(all);
	json_decref(want);
}

/* hosts' container counts: app-01 has a3 unhealthy and restarting (one
 * container, counted in both), a2 restarting = 0, a5 created; then b1 in
 * Docker's state "restarting" (not running) on app-02. Both paths. */
static void counts(const char *host, json_int_t total, json_int_t running,
		   json_int_t unhealthy, json_int_t restarting)
{
	char err[256];
	dl_buf_t b;
	json_t *t, *j, *h;
	size_t i;

	dl_buf_init(&b, 1u << 20);
	t = text_doc(
		dl_query_hosts_text(q, host, NULL, &b, NULL, err, sizeof(err)),
		&b);
	ASSERT_EQ(json_array_size(t), 1);
	j = dl_query_hosts(q, err, sizeof(err));
	ASSERT(j != NULL);
	json_array_foreach(j, i, h)
	{
		const char *name =
			json_string_value(json_object_get(h, "name"));

		if (!strcmp(name, host))
			same(json_incref(h), json_incref(json_array_get(t, 0)),
			     host);
	}
	h = json_array_get(t, 0);
	ASSERT_EQ(json_integer_value(json_object_get(h, "containers")), total);
	ASSERT_EQ(json_integer_value(json_object_get(h, "running")), running);
	ASSERT_EQ(json_integer_value(json_object_get(h, "unhealthy")),
		  unhealthy);
	ASSERT_EQ(json_integer_value(json_object_get(h, "restarting")),
		  restarting);
	json_decref(j);
	json_decref(t);
	dl_buf_free(&b);
}

static void test_host_counts(void)
{
	counts("app-01", 5, 3, 1, 1);
	counts("app-02", 1, 1, 0, 0);
	exec("UPDATE containers SET state = 'restarting' WHERE id = 'b1'");
	counts("app-02", 1, 0, 0, 1);
	exec("UPDATE containers SET state = 'running' WHERE id = 'b1'");
	/* a host without containers: zeros, not nulls */
	exec("INSERT INTO hosts(name, online, last_seen) VALUES ('empty', 1, "
	     "1)");
	counts("empty", 0, 0, 0, 0);
	exec("DELETE FROM hosts WHERE name = 'empty'");
}

int main(void)
{
	char tmpl[] = "/tmp/dl-test-qtext-XXXXXX", err[256];

	ASSERT(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s", tmpl);
	uv_loop_init(&loop);
	close_store(open_store("q"));
	ASSERT_EQ(sqlite3_open(dbpath, &db), SQLITE_OK);
	fill();
	ASSERT((q = dl_query_open(dbpath, err, sizeof(err))) != NULL);
	RUN(test_equal);
	RUN(test_cursor);
	RUN(test_paging);
	RUN(test_host_counts);
	dl_query_close(q);
	sqlite3_close(db);
	ASSERT_EQ(uv_loop_close(&loop), 0);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ASSERT_EQ(system(cmd), 0);
	}
	return 0;
}
