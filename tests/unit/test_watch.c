/* test_watch.c - Docker JSON parsers on bodies captured from dockerd 20.10
 * (tests/fixtures/docker/) and on hand-made odd ones; the docker client's
 * body cap and line splitting against a fake dockerd on a unix socket. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/docker.h"
#include "agent/inspect.h"
#include "agent/watch.h"
#include "common/err.h"
#include "common/log.h"
#include "test.h"

static char *slurp(const char *name, size_t *len)
{
	return dl_test_fixture("docker", name, len);
}

static const dl_container_t *by_name(const dl_container_t *v, uint32_t n,
				     const char *name)
{
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(v[i].name.p, name) == 0)
			return &v[i];
	DL_FAIL_("no container named %s", name);
	return NULL;
}

static void test_containers_fixture(void)
{
	size_t len;
	char *json = slurp("containers.json", &len);
	dl_container_t *v;
	const dl_container_t *c;
	uint32_t n;

	ASSERT_EQ(dl_watch_parse_containers(json, len, &v, &n), 0);
	ASSERT_EQ(n, 6);
	c = by_name(v, n, "dl-fix-web2"); /* "/dl-fix-web2": slash gone */
	ASSERT_EQ(c->id.n, 64);
	ASSERT_EQ(strlen(c->id.p), 64);
	ASSERT_STR_EQ(c->image.p, "dockline-test/busybox:1");
	ASSERT_STR_EQ(c->state.p, "running");
	ASSERT_STR_EQ(c->health.p, "");
	ASSERT_GT(c->created, 1700000000);
	ASSERT_STR_EQ(by_name(v, n, "dl-fix-health")->health.p, "healthy");
	ASSERT_STR_EQ(by_name(v, n, "dl-fix-unhealthy")->health.p, "unhealthy");
	ASSERT_STR_EQ(by_name(v, n, "dl-fix-paused")->state.p, "paused");
	ASSERT_STR_EQ(by_name(v, n, "dl-fix-created")->state.p, "created");
	c = by_name(v, n, "dl-fix-exited");
	ASSERT_STR_EQ(c->state.p, "exited");
	ASSERT(strncmp(c->status.p, "Exited (3)", 10) == 0);
	ASSERT_EQ(c->status.n, strlen(c->status.p));
	dl_watch_free_containers(v, n);
	free(json);
}

static void test_containers_odd(void)
{
	static const struct {
		const char *json;
		int rc;
		uint32_t n;
	} t[] = {
		{"[]", 0, 0},
		{"", DL_EPROTO, 0},
		{"not json", DL_EPROTO, 0},
		{"{\"Id\":\"abc\"}", DL_EPROTO, 0}, /* object, not array */
		{"[1, \"x\", null, []]", 0, 0},	    /* entries skipped */
		{"[{}]", 0, 0},			    /* no Id */
		{"[{\"Id\":42}]", 0, 0},	    /* Id wrong type */
		{"[{\"Id\":\"\"}]", 0, 0},
		{"[{\"Id\":\"ab\"},{\"Id\":\"cd\",\"Names\":7}]", 0, 2},
		{"[{\"Id\":\"ab\"", DL_EPROTO, 0}, /* truncated */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		dl_container_t *v = NULL;
		uint32_t n = 99;
		int rc = dl_watch_parse_containers(t[i].json, strlen(t[i].json),
						   &v, &n);

		if (rc != t[i].rc || (rc == 0 && n != t[i].n))
			DL_FAIL_("case %zu (%s): rc %d n %u", i, t[i].json, rc,
				 n);
		if (rc != 0)
			ASSERT(v == NULL);
		dl_watch_free_containers(v, n);
	}
}

static void test_containers_wrong_types(void)
{
	const char *json =
		"[{\"Id\":\"0123\",\"Names\":[\"/a/link\",\"/real\"],"
		"\"Image\":5,\"State\":null,\"Status\":[],\"Created\":\"x\"}]";
	dl_container_t *v;
	uint32_t n;

	ASSERT_EQ(dl_watch_parse_containers(json, strlen(json), &v, &n), 0);
	ASSERT_EQ(n, 1);
	ASSERT_STR_EQ(v[0].id.p, "0123");
	ASSERT_STR_EQ(v[0].name.p, "real"); /* link alias skipped */
	ASSERT_STR_EQ(v[0].image.p, "");
	ASSERT_STR_EQ(v[0].state.p, "");
	ASSERT_STR_EQ(v[0].status.p, "");
	ASSERT_STR_EQ(v[0].health.p, "");
	ASSERT_EQ(v[0].created, 0);
	dl_watch_free_containers(v, n);
}

/* A 3 MB body: one container whose name is 3 MB, plus a long id. */
static void test_containers_huge(void)
{
	size_t big = 3u * 1024u * 1024u;
	char *json = malloc(big + 512);
	dl_container_t *v;
	uint32_t n;
	size_t k;

	ASSERT(json != NULL);
	k = (size_t)snprintf(json, 512,
			     "[{\"Id\":\"%0200d\"},"
			     "{\"Id\":\"beef\",\"Names\":[\"/",
			     0);
	memset(json + k, 'x', big);
	k += big;
	k += (size_t)snprintf(json + k, 512,
			      "\"],\"Status\":\"Up (healthy)\"}]");
	ASSERT_GT(k, big);
	ASSERT_EQ(dl_watch_parse_containers(json, k, &v, &n), 0);
	ASSERT_EQ(n, 1); /* 200-byte id skipped, huge name truncated */
	ASSERT_STR_EQ(v[0].id.p, "beef");
	ASSERT_EQ(v[0].name.n, DL_MAX_NAME);
	ASSERT_EQ(strlen(v[0].name.p), DL_MAX_NAME);
	ASSERT_STR_EQ(v[0].health.p, "healthy");
	dl_watch_free_containers(v, n);
	/* Over the client's body cap: refused before parsing. */
	ASSERT_EQ(
		dl_watch_parse_containers(json, DL_DOCKER_MAX_BODY + 1, &v, &n),
		DL_ETOOBIG);
	free(json);
}

static void test_events_fixture(void)
{
	size_t len;
	char *all = slurp("events.jsonl", &len);
	char *line = all, *nl;
	int ncontainer = 0, nother = 0, saw_health = 0, saw_rename = 0;

	while ((nl = memchr(line, '\n', len - (size_t)(line - all)))) {
		dl_event_t ev;
		uint64_t t;

		ASSERT_EQ(dl_watch_parse_event(line, (size_t)(nl - line), &ev,
					       &t),
			  0);
		ASSERT_GT(t, 1700000000ull * 1000000000ull);
		ASSERT_GT(ev.type.n, 0);
		ASSERT_GT(ev.action.n, 0);
		ASSERT_EQ(strlen(ev.action.p), ev.action.n);
		if (strcmp(ev.type.p, "container") == 0) {
			ncontainer++;
			ASSERT_EQ(ev.id.n, 64);
			ASSERT(strncmp(ev.name.p, "dl-fix-", 7) == 0);
			ASSERT_GE(ev.nattrs, 2);
		} else {
			nother++;
		}
		if (strcmp(ev.action.p, "health_status: healthy") == 0)
			saw_health = 1;
		if (strcmp(ev.action.p, "rename") == 0) {
			bool old = false;

			for (uint32_t i = 0; i < ev.nattrs; i++)
				if (strcmp(ev.attrs[i].key.p, "oldName") == 0)
					old = strcmp(ev.attrs[i].value.p,
						     "/dl-fix-web") == 0;
			ASSERT(old);
			ASSERT_STR_EQ(ev.name.p, "dl-fix-web2");
			saw_rename = 1;
		}
		dl_watch_free_event(&ev);
		line = nl + 1;
	}
	ASSERT_GE(ncontainer, 10);
	ASSERT_GE(nother, 3); /* network, volume */
	ASSERT(saw_health && saw_rename);
	free(all);
}

static void test_events_odd(void)
{
	static const struct {
		const char *json;
		int rc;
		uint64_t t;
	} t[] = {
		{"", DL_EPROTO, 0},
		{"[]", DL_EPROTO, 0},
		{"{}", DL_EPROTO, 0},
		{"{\"Type\":\"container\"}", DL_EPROTO, 0},
		{"{\"Type\":1,\"Action\":\"start\"}", DL_EPROTO, 0},
		{"{\"Type\":\"daemon\",\"Action\":\"reload\"}", 0, 0},
		{"{\"Type\":\"image\",\"Action\":\"pull\",\"time\":5}", 0,
		 5000000000ull},
		{"{\"Type\":\"x\",\"Action\":\"y\",\"timeNano\":-3}", 0, 0},
		{"{\"Type\":\"x\",\"Action\":\"y\",\"Actor\":[]}", 0, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		dl_event_t ev;
		uint64_t ts = 77;
		int rc = dl_watch_parse_event(t[i].json, strlen(t[i].json), &ev,
					      &ts);

		if (rc != t[i].rc || (rc == 0 && ts != t[i].t))
			DL_FAIL_("case %zu (%s): rc %d t %llu", i, t[i].json,
				 rc, (unsigned long long)ts);
		if (rc == 0) {
			ASSERT_STR_EQ(ev.id.p, "");
			ASSERT_STR_EQ(ev.name.p, "");
		}
		dl_watch_free_event(&ev);
	}
}

/* Attributes: over-long and non-string ones skipped, at most DL_MAX_ATTRS
 * kept; an over-long container id rejects the event. */
static void test_event_attrs(void)
{
	char *json = malloc(64 * 1024);
	size_t k = 0, cap = 64 * 1024;
	dl_event_t ev;
	uint64_t t;
	int i;

	ASSERT(json != NULL);
	k += (size_t)snprintf(json + k, cap - k,
			      "{\"Type\":\"container\",\"Action\":\"start\","
			      "\"Actor\":{\"ID\":\"ab12\",\"Attributes\":{"
			      "\"num\":3,\"long\":\"");
	memset(json + k, 'v', DL_MAX_TEXT + 1);
	k += DL_MAX_TEXT + 1;
	k += (size_t)snprintf(json + k, cap - k, "\",\"name\":\"web\"");
	for (i = 0; i < 100; i++)
		k += (size_t)snprintf(json + k, cap - k, ",\"k%d\":\"v%d\"", i,
				      i);
	k += (size_t)snprintf(json + k, cap - k, "}},\"timeNano\":42}");
	ASSERT_EQ(dl_watch_parse_event(json, k, &ev, &t), 0);
	ASSERT_EQ(t, 42);
	ASSERT_STR_EQ(ev.id.p, "ab12");
	ASSERT_STR_EQ(ev.name.p, "web");
	ASSERT_EQ(ev.nattrs, DL_MAX_ATTRS);
	ASSERT_STR_EQ(ev.attrs[0].key.p, "name");
	ASSERT_STR_EQ(ev.attrs[1].key.p, "k0");
	for (i = 0; i < (int)ev.nattrs; i++)
		ASSERT(strcmp(ev.attrs[i].key.p, "long") != 0 &&
		       strcmp(ev.attrs[i].key.p, "num") != 0);
	dl_watch_free_event(&ev);

	k = (size_t)snprintf(json, cap,
			     "{\"Type\":\"container\",\"Action\":\"die\","
			     "\"Actor\":{\"ID\":\"%0300d\"}}",
			     1);
	ASSERT_EQ(dl_watch_parse_event(json, k, &ev, &t), DL_EPROTO);
	/* Other types keep the event, id truncated. */
	k = (size_t)snprintf(json, cap,
			     "{\"Type\":\"volume\",\"Action\":\"create\","
			     "\"Actor\":{\"ID\":\"%0300d\"}}",
			     1);
	ASSERT_EQ(dl_watch_parse_event(json, k, &ev, &t), 0);
	ASSERT_EQ(ev.id.n, DL_MAX_ID);
	dl_watch_free_event(&ev);
	free(json);
}

/* ---- docker client against a fake dockerd ---------------------------- */

typedef struct {
	int done;
	int err;
	long status;
	size_t len;
	int lines;
	size_t line_len[8];
	char first[64];
} result_t;

static void rec_done(void *ud, int err, long status, const char *body,
		     size_t len)
{
	result_t *r = ud;

	r->done++;
	r->err = err;
	r->status = status;
	r->len = len;
	if (body)
		snprintf(r->first, sizeof(r->first), "%s", body);
}

static void rec_line(void *ud, const char *line, size_t len)
{
	result_t *r = ud;

	ASSERT_EQ(strlen(line), len); /* NUL-terminated, no newline */
	if (r->lines < 8)
		r->line_len[r->lines] = len;
	r->lines++;
}

static const char *fake_reply;
static size_t fake_reply_len;

static void on_fake_write(uv_write_t *wr, int status)
{
	uv_close((uv_handle_t *)wr->handle, (uv_close_cb)free);
	free(wr);
}

static void fake_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
	static char buf[4096];

	b->base = buf;
	b->len = sizeof(buf);
}

static void fake_read(uv_stream_t *c, ssize_t n, const uv_buf_t *b)
{
	uv_write_t *wr;
	uv_buf_t out;

	if (n <= 0 || !memmem(b->base, (size_t)n, "\r\n\r\n", 4))
		return; /* requests here fit one read */
	uv_read_stop(c);
	wr = malloc(sizeof(*wr));
	out = uv_buf_init((char *)fake_reply, (unsigned)fake_reply_len);
	uv_write(wr, c, &out, 1, on_fake_write);
}

static void fake_conn(uv_stream_t *srv, int status)
{
	uv_pipe_t *c = malloc(sizeof(*c));

	uv_pipe_init(srv->loop, c, 0);
	ASSERT_EQ(uv_accept(srv, (uv_stream_t *)c), 0);
	uv_read_start((uv_stream_t *)c, fake_alloc, fake_read);
}

static void run_fake(const char *reply, size_t reply_len, bool stream,
		     size_t max_body, result_t *r)
{
	char sock[64];
	uv_loop_t loop;
	uv_pipe_t srv;
	dl_docker_t *d;

	snprintf(sock, sizeof(sock), "/tmp/dl-test-watch-%d.sock",
		 (int)getpid());
	unlink(sock);
	fake_reply = reply;
	fake_reply_len = reply_len;
	memset(r, 0, sizeof(*r));
	ASSERT_EQ(uv_loop_init(&loop), 0);
	uv_pipe_init(&loop, &srv, 0);
	ASSERT_EQ(uv_pipe_bind(&srv, sock), 0);
	ASSERT_EQ(uv_listen((uv_stream_t *)&srv, 8, fake_conn), 0);
	d = dl_docker_new(&loop, sock);
	ASSERT(d != NULL);
	if (stream)
		ASSERT(dl_docker_stream(d, "/v1.41/events", rec_line, rec_done,
					r) != NULL);
	else
		ASSERT(dl_docker_request(d, "GET", "/v1.41/info", NULL,
					 max_body, 5000, rec_done, r) != NULL);
	while (!r->done)
		uv_run(&loop, UV_RUN_ONCE);
	dl_docker_free(d);
	uv_close((uv_handle_t *)&srv, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(uv_loop_close(&loop), 0); /* every handle closed */
	unlink(sock);
}

static void test_inspect_times(void)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} t[] = {
		{"2026-11-30T20:55:53.94334435Z", 1796072153943344350ull},
		{"2026-11-30T20:55:53Z", 1796072153000000000ull},
		{"2026-11-30T20:55:53.123456789123Z", 1796072153123456789ull},
		{"2026-11-30T21:55:53.5+01:00", 1796072153500000000ull},
		{"2026-11-30T19:25:53-01:30", 1796072153000000000ull},
		{"1970-01-01T00:00:01Z", 1000000000ull},
		{"2000-02-29T00:00:00Z", 951782400000000000ull},
		{"0001-01-01T00:00:00Z", 0}, /* Docker's "never" */
		{"1969-12-31T23:59:59Z", 0},
		{"", 0},
		{"2026-11-30 20:55:53Z", 0},
		{"2026-13-30T20:55:53Z", 0},
		{"2026-11-30T20:55:53", 0},
		{"2026-11-30T20:55:53Zjunk", 0},
		{"2026-11-30T20:55:53+1:00", 0},
		{"2026-1x-30T20:55:53Z", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (dl_inspect_time_ns(t[i].s) != t[i].ns)
			DL_FAIL_("row %zu %s: %llu, want %llu", i, t[i].s,
				 (unsigned long long)dl_inspect_time_ns(t[i].s),
				 (unsigned long long)t[i].ns);
	ASSERT_EQ(dl_inspect_time_ns(NULL), 0);
}

static void test_inspect_fixtures(void)
{
	size_t len;
	char *json = slurp("inspect_unhealthy.json", &len);
	dl_inspect_t f;

	ASSERT_EQ(dl_inspect_parse(json, len, &f), 0);
	ASSERT(f.d.has);
	ASSERT_STR_EQ(f.state, "running");
	ASSERT_STR_EQ(f.health, "unhealthy");
	ASSERT(f.d.started_at == 1796072153943344350ull);
	ASSERT_EQ(f.d.finished_at, 0);
	ASSERT_EQ(f.d.exit_code, 0);
	ASSERT_EQ(f.d.health_streak, 3);
	ASSERT_STR_EQ(f.output, "boom"); /* the newest, newline trimmed */
	ASSERT(f.d.health_output.p == f.output);
	ASSERT_EQ(f.d.health_output.n, 4);
	ASSERT(!f.d.oom_killed && !f.d.restarting);
	ASSERT_EQ(f.d.restart_count, 0);
	free(json);

	json = slurp("inspect_exited.json", &len);
	ASSERT_EQ(dl_inspect_parse(json, len, &f), 0);
	ASSERT_STR_EQ(f.state, "exited");
	ASSERT_EQ(f.d.exit_code, 137);
	ASSERT(f.d.finished_at > f.d.started_at);
	free(json);
}

static void test_inspect_odd(void)
{
	static const char *const bad[] = {
		"", "[]", "{}", "{\"State\":1}", "{\"State\":{}", "nope"};
	dl_inspect_t f;
	char big[2 * DL_MAX_HEALTH_OUTPUT], json[4 * DL_MAX_HEALTH_OUTPUT];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(dl_inspect_parse(bad[i], strlen(bad[i]), &f),
			  DL_EPROTO);
	ASSERT_EQ(dl_inspect_parse("{}", DL_INSPECT_MAX_BODY + 1, &f),
		  DL_ETOOBIG);
	/* Wrong types read as unknown; out-of-range numbers are clamped. */
	snprintf(json, sizeof(json),
		 "{\"RestartCount\":-4,\"State\":{\"Status\":7,\"ExitCode\":"
		 "99999999999,\"StartedAt\":5,\"OOMKilled\":true,"
		 "\"Health\":{\"Status\":\"starting\",\"FailingStreak\":\"x\","
		 "\"Log\":{}}}}");
	ASSERT_EQ(dl_inspect_parse(json, strlen(json), &f), 0);
	ASSERT_STR_EQ(f.state, "");
	ASSERT_EQ(f.d.exit_code, INT32_MAX);
	ASSERT_EQ(f.d.started_at, 0);
	ASSERT(f.d.oom_killed);
	ASSERT_EQ(f.d.restart_count, 0);
	ASSERT_STR_EQ(f.health, "starting");
	ASSERT_EQ(f.d.health_streak, 0);
	ASSERT_STR_EQ(f.output, "");
	/* An output over 256 bytes is cut on a character boundary (é is 2
	 * bytes, so 255 is where it must stop). */
	memset(big, 'a', sizeof(big));
	big[0] = 'x';
	for (size_t i = 1; i + 1 < sizeof(big); i += 2) {
		big[i] = (char)0xc3;
		big[i + 1] = (char)0xa9;
	}
	big[sizeof(big) - 1] = '\0';
	snprintf(json, sizeof(json),
		 "{\"State\":{\"Health\":{\"Log\":[{\"Output\":\"%s\"}]}}}",
		 big);
	ASSERT_EQ(dl_inspect_parse(json, strlen(json), &f), 0);
	ASSERT_EQ(strlen(f.output), 255);
	ASSERT_EQ(f.d.health_output.n, 255);
	snprintf(json, sizeof(json),
		 "{\"State\":{\"Health\":{\"Log\":[{\"Output\":\"ab\\u0000cd\"}"
		 "]}}}");
	/* jansson refuses \u0000 without JSON_ALLOW_NUL: the whole body. */
	ASSERT_EQ(dl_inspect_parse(json, strlen(json), &f), DL_EPROTO);
}

static void test_docker_body_cap(void)
{
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n"
				 "Connection: close\r\n\r\n{\"a\":\"bc\"}";
	result_t r;

	run_fake(ok, sizeof(ok) - 1, false, 0, &r);
	ASSERT_EQ(r.done, 1);
	ASSERT_EQ(r.err, 0);
	ASSERT_EQ(r.status, 200);
	ASSERT_EQ(r.len, 10);
	ASSERT_STR_EQ(r.first, "{\"a\":\"bc\"}");
	run_fake(ok, sizeof(ok) - 1, false, 9, &r);
	ASSERT_EQ(r.done, 1);
	ASSERT_EQ(r.err, DL_ETOOBIG);
}

static void test_docker_lines(void)
{
	size_t big = DL_DOCKER_MAX_LINE + 10, k;
	char *reply = malloc(big + 512);
	result_t r;

	ASSERT(reply != NULL);
	k = (size_t)snprintf(reply, 512,
			     "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
			     "one\r\n\ntwo\n");
	memset(reply + k, 'x', big); /* over-long: dropped, not fatal */
	k += big;
	k += (size_t)snprintf(reply + k, 512, "\nthree\nlast");
	run_fake(reply, k, true, 0, &r);
	ASSERT_EQ(r.done, 1);
	ASSERT_EQ(r.err, 0);
	ASSERT_EQ(r.lines, 4); /* one, two, three, last; empty one skipped */
	ASSERT_EQ(r.line_len[0], 3);
	ASSERT_EQ(r.line_len[2], 5);
	ASSERT_EQ(r.line_len[3], 4);
	free(reply);
}

static void test_docker_refused(void)
{
	uv_loop_t loop;
	dl_docker_t *d;
	result_t r = {0};

	ASSERT_EQ(uv_loop_init(&loop), 0);
	d = dl_docker_new(&loop, "/tmp/dl-test-no-such.sock");
	ASSERT(dl_docker_request(d, "GET", "/_ping", NULL, 0, 1000, rec_done,
				 &r) != NULL);
	ASSERT(dl_docker_request(d, "GET", "bad path", NULL, 0, 0, rec_done,
				 &r) == NULL);
	while (!r.done)
		uv_run(&loop, UV_RUN_ONCE);
	ASSERT_EQ(r.err, DL_ECONNREFUSED);
	ASSERT(strstr(dl_docker_last_error(d),
		      "cannot connect to Docker at "
		      "/tmp/dl-test-no-such.sock") != NULL);
	/* A request cancelled by free gets its callback exactly once. */
	memset(&r, 0, sizeof(r));
	ASSERT(dl_docker_stream(d, "/events", rec_line, rec_done, &r) != NULL);
	dl_docker_free(d);
	ASSERT_EQ(r.done, 1);
	ASSERT_EQ(r.err, DL_ECLOSED);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
	dl_log_set_level(DL_LOG_LEVEL_ERROR);
	RUN(test_containers_fixture);
	RUN(test_containers_odd);
	RUN(test_containers_wrong_types);
	RUN(test_containers_huge);
	RUN(test_events_fixture);
	RUN(test_events_odd);
	RUN(test_event_attrs);
	RUN(test_inspect_times);
	RUN(test_inspect_fixtures);
	RUN(test_inspect_odd);
	RUN(test_docker_body_cap);
	RUN(test_docker_lines);
	RUN(test_docker_refused);
	return 0;
}
