/* test_http_route.c - the gateway's request table (collector/http/route.c)
 * and answer mapping (respond.c): path + method + query -> admin JSON or
 * an HTTP error, table-driven. */
#include <jansson.h>

#include "collector/http/respond.h"
#include "collector/http/route.h"
#include "test.h"

#define NOW 1700000000

typedef struct {
	dl_route_method_t m;
	const char *path;
	const char *query; /* "k=v&k2=v2" or NULL */
	const char *body;  /* NULL = none */
	bool upgrade;
	int status;	  /* expected HTTP error, 0 = routed */
	const char *want; /* expected admin JSON (keys compared), or NULL */
	dl_route_kind_t kind;
} case_t;

#define G  DL_ROUTE_GET
#define P  DL_ROUTE_POST
#define D  DL_ROUTE_DELETE
#define O  DL_ROUTE_OTHER
#define NS "000000000"

static const case_t cases[] = {
	{G, "/api/v1/hosts", NULL, NULL, 0, 0, "{\"op\":\"hosts\"}",
	 DL_ROUTE_PLAIN},
	{G, "/api/v1/hosts/", NULL, NULL, 0, 0, "{\"op\":\"hosts\"}",
	 DL_ROUTE_PLAIN},
	{G, "/api/v1/hosts/web-01", NULL, NULL, 0, 0,
	 "{\"op\":\"hosts\",\"host\":\"web-01\"}", DL_ROUTE_SINGLE},
	{G, "/api/v1/hosts/Web_01", NULL, NULL, 0, 400, NULL, 0},
	{G, "/api/v1/hosts/web-01/containers", "all=1", NULL, 0, 0,
	 "{\"op\":\"ps\",\"host\":\"web-01\",\"all\":true}", DL_ROUTE_PLAIN},
	{G, "/api/v1/containers", "host=a&state=running&name=web", NULL, 0, 0,
	 "{\"op\":\"ps\",\"host\":\"a\",\"all\":false,\"state\":\"running\","
	 "\"name\":\"web\"}",
	 DL_ROUTE_PLAIN},
	{G, "/api/v1/containers", "label=app=web", NULL, 0, 0,
	 "{\"op\":\"ps\",\"all\":false,\"label\":\"app=web\"}", DL_ROUTE_PLAIN},
	{G, "/api/v1/hosts/a/containers", "label=tier", NULL, 0, 0,
	 "{\"op\":\"ps\",\"host\":\"a\",\"all\":false,\"label\":"
	 "\"tier\"}",
	 DL_ROUTE_PLAIN},
	{G, "/api/v1/containers", "label==web", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/containers", "all=maybe", NULL, 0, 400, NULL, 0},
	/* paging: limit and cursor pass through; serve checks the cursor */
	{G, "/api/v1/containers", "all=1&limit=100&cursor=AbC-_9", NULL, 0, 0,
	 "{\"op\":\"ps\",\"all\":true,\"limit\":100,\"cursor\":\"AbC-_9\"}",
	 DL_ROUTE_PLAIN},
	{G, "/api/v1/hosts/a/containers", "limit=10000", NULL, 0, 0,
	 "{\"op\":\"ps\",\"all\":false,\"host\":\"a\",\"limit\":10000}",
	 DL_ROUTE_PLAIN},
	{G, "/api/v1/containers", "limit=0", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/containers", "limit=10001", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/containers", "limit=x", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/containers", "cursor=", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/containers", "cursor=a\x01", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/containers", "limit=5&limit=6", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/stats", "host=a&name=web*&state=running&limit=5&cursor=x",
	 NULL, 0, 0,
	 "{\"op\":\"stats\",\"host\":\"a\",\"name\":\"web*\",\"state\":"
	 "\"running\",\"limit\":5,\"cursor\":\"x\"}",
	 DL_ROUTE_PLAIN},
	{G, "/api/v1/stats", "limit=10001", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/containers", "host=a&host=b", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/hosts/a/containers/web", NULL, NULL, 0, 0,
	 "{\"op\":\"container\",\"host\":\"a\",\"container\":\"web\"}", 0},
	{G, "/api/v1/stats", "host=a", NULL, 0, 0,
	 "{\"op\":\"stats\",\"host\":\"a\"}", 0},
	{G, "/api/v1/hosts/a/containers/web/stats", NULL, NULL, 0, 0,
	 "{\"op\":\"stats\",\"host\":\"a\",\"container\":\"web\"}", 0},
	{G, "/api/v1/hosts/a/containers/web/history", "since=10m&points=60",
	 NULL, 0, 0,
	 "{\"op\":\"history\",\"host\":\"a\",\"container\":\"web\","
	 "\"since_ns\":1699999400" NS ",\"until_ns\":1700000000" NS
	 ",\"points\":60}",
	 0},
	{G, "/api/v1/hosts/a/history", "since=1699990000&until=1699999000",
	 NULL, 0, 0,
	 "{\"op\":\"history\",\"host\":\"a\",\"since_ns\":1699990000" NS
	 ",\"until_ns\":1699999000" NS ",\"points\":0}",
	 0},
	{G, "/api/v1/hosts/a/history", "points=10001", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/hosts/a/history", "since=1h&until=2h", NULL, 0, 400, NULL,
	 0},
	{G, "/api/v1/events",
	 "since=1h&host=a&type=container&action=stop&limit=5&after=7", NULL, 0,
	 0,
	 "{\"op\":\"events\",\"since_ns\":1699996400" NS ",\"limit\":5,"
	 "\"after\":7,\"host\":\"a\",\"type\":\"container\",\"action\":"
	 "\"stop\"}",
	 0},
	{G, "/api/v1/events", "limit=0", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/events", "token=dlt_x", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/audit", "host=a&limit=3", NULL, 0, 0,
	 "{\"op\":\"audit\",\"since_ns\":1699913600" NS ",\"limit\":3,"
	 "\"host\":\"a\"}",
	 0},
	{G, "/api/v1/hosts/a/images", NULL, NULL, 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"images\","
	 "\"args\":{},\"timeout_ms\":30000}",
	 0},
	{P, "/api/v1/hosts/a/images", NULL, "{}", 0, 405, NULL, 0},
	{P, "/api/v1/hosts/a/containers/web/stop", NULL, "{\"t\":5}", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"stop\",\"args\":"
	 "{\"t\":5,\"container\":\"web\"},\"timeout_ms\":35000}",
	 0},
	{P, "/api/v1/hosts/a/containers/web/stop", NULL, "", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"stop\",\"args\":"
	 "{\"container\":\"web\"},\"timeout_ms\":30000}",
	 0},
	{P, "/api/v1/hosts/a/containers/web/stop", NULL, "{bad", 0, 400, NULL,
	 0},
	{P, "/api/v1/hosts/a/containers/web/stop", NULL, "[]", 0, 400, NULL, 0},
	{P, "/api/v1/hosts/a/containers/web/stop", NULL, "{\"t\":\"x\"}", 0,
	 400, NULL, 0},
	{P, "/api/v1/hosts/a/containers/web/stop", NULL,
	 "{\"container\":\"other\"}", 0, 400, NULL, 0},
	{G, "/api/v1/hosts/a/containers/web/stop", NULL, NULL, 0, 405, NULL, 0},
	{G, "/api/v1/hosts/a/containers/web/inspect", NULL, NULL, 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"inspect\",\"args\":"
	 "{\"container\":\"web\"},\"timeout_ms\":30000}",
	 0},
	{P, "/api/v1/hosts/a/containers/web/frobnicate", NULL, "{}", 0, 404,
	 NULL, 0},
	{G, "/api/v1/hosts/a/containers/web/logs",
	 "follow=1&tail=10&timestamps=true", NULL, 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"logs\",\"args\":"
	 "{\"follow\":true,\"timestamps\":true,\"tail\":10,\"container\":"
	 "\"web\"},\"timeout_ms\":0}",
	 DL_ROUTE_NDJSON},
	{G, "/api/v1/hosts/a/containers/web/logs", "tail=-1", NULL, 0, 400,
	 NULL, 0},
	{P, "/api/v1/hosts/a/containers/web/exec", NULL,
	 "{\"cmd\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"A=1\"]}", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"exec\",\"args\":"
	 "{\"cmd\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"A=1\"],"
	 "\"container\":\"web\"},\"timeout_ms\":0}",
	 DL_ROUTE_NDJSON},
	{P, "/api/v1/hosts/a/containers/web/exec", NULL, "{}", 0, 400, NULL, 0},
	{P, "/api/v1/hosts/a/prune", NULL, "{\"what\":\"images\"}", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"prune\",\"args\":"
	 "{\"what\":\"images\"},\"timeout_ms\":30000}",
	 0},
	{P, "/api/v1/hosts/a/prune", NULL, "{\"what\":\"disks\"}", 0, 400, NULL,
	 0},
	/* deploy: the body is the CLI's args; pull streams like logs */
	{P, "/api/v1/hosts/a/pull", NULL, "{\"image\":\"nginx:1.25\"}", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"pull\",\"args\":"
	 "{\"image\":\"nginx:1.25\"},\"timeout_ms\":600000}",
	 DL_ROUTE_NDJSON},
	{P, "/api/v1/hosts/a/pull", NULL, "{}", 0, 400, NULL, 0},
	{P, "/api/v1/hosts/a/pull", NULL, "{\"image\":\"a//b\"}", 0, 400, NULL,
	 0},
	{P, "/api/v1/hosts/a/pull", "x=1", "{\"image\":\"nginx\"}", 0, 400,
	 NULL, 0},
	{G, "/api/v1/hosts/a/pull", NULL, NULL, 0, 405, NULL, 0},
	/* host labels: the body's set/remove, the path's host */
	{P, "/api/v1/hosts/a/labels", NULL,
	 "{\"set\":{\"role\":\"web\"},\"remove\":[\"zone\"]}", 0, 0,
	 "{\"op\":\"host_labels\",\"host\":\"a\",\"set\":{\"role\":"
	 "\"web\"},\"remove\":[\"zone\"]}",
	 DL_ROUTE_PLAIN},
	{P, "/api/v1/hosts/a/labels", NULL, "{\"host\":\"b\"}", 0, 400, NULL,
	 0},
	{P, "/api/v1/hosts/a/labels", NULL, "[1]", 0, 400, NULL, 0},
	{G, "/api/v1/hosts/a/labels", NULL, NULL, 0, 405, NULL, 0},
	{P, "/api/v1/hosts/A!/labels", NULL, "{}", 0, 400, NULL, 0},
	{P, "/api/v1/hosts/a/run", NULL,
	 "{\"image\":\"nginx\",\"name\":\"web\",\"env\":[\"A=1\"],"
	 "\"ports\":[\"8080:80\"],\"volumes\":[\"/srv:/data:ro\"],"
	 "\"restart\":\"always\",\"labels\":[\"app=web\"],\"network\":"
	 "\"bridge\",\"health_cmd\":\"true\",\"health_interval\":5,"
	 "\"memory\":67108864,\"cpus\":0.5,\"cmd\":[\"sleep\",\"9\"]}",
	 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"run\",\"args\":"
	 "{\"image\":\"nginx\",\"name\":\"web\",\"env\":[\"A=1\"],"
	 "\"ports\":[\"8080:80\"],\"volumes\":[\"/srv:/data:ro\"],"
	 "\"restart\":\"always\",\"labels\":[\"app=web\"],\"network\":"
	 "\"bridge\",\"health_cmd\":\"true\",\"health_interval\":5,"
	 "\"memory\":67108864,\"cpus\":0.5,\"cmd\":[\"sleep\",\"9\"]},"
	 "\"timeout_ms\":120000}",
	 DL_ROUTE_PLAIN},
	{P, "/api/v1/hosts/a/run", NULL,
	 "{\"image\":\"nginx\",\"ports\":"
	 "[\"70000:80\"]}",
	 0, 400, NULL, 0},
	{P, "/api/v1/hosts/a/run", NULL, "{\"image\":\"nginx\",\"envv\":[]}", 0,
	 400, NULL, 0},
	{P, "/api/v1/hosts/a/containers/web/run", NULL, "{\"image\":\"x\"}", 0,
	 404, NULL, 0},
	{P, "/api/v1/hosts/a/containers/web/update", NULL,
	 "{\"restart\":\"on-failure:3\",\"memory\":67108864}", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"update\","
	 "\"args\":{\"restart\":\"on-failure:3\",\"memory\":67108864,"
	 "\"container\":\"web\"},\"timeout_ms\":30000}",
	 DL_ROUTE_PLAIN},
	{P, "/api/v1/hosts/a/containers/web/update", NULL, "{}", 0, 400, NULL,
	 0},
	{P, "/api/v1/hosts/a/containers/web/update", NULL,
	 "{\"restart\":\"sometimes\"}", 0, 400, NULL, 0},
	{G, "/api/v1/hosts/a/containers/web/update", NULL, NULL, 0, 405, NULL,
	 0},
	{P, "/api/v1/hosts/a/containers/web/recreate", NULL,
	 "{\"pull\":true,\"image\":\"nginx:1.26\",\"wait\":20}", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"recreate\","
	 "\"args\":{\"pull\":true,\"image\":\"nginx:1.26\",\"wait\":20,"
	 "\"container\":\"web\"},\"timeout_ms\":320000}",
	 DL_ROUTE_PLAIN},
	{P, "/api/v1/hosts/a/containers/web/recreate", NULL, "", 0, 0,
	 "{\"op\":\"control\",\"host\":\"a\",\"action\":\"recreate\","
	 "\"args\":{\"container\":\"web\"},\"timeout_ms\":300000}",
	 DL_ROUTE_PLAIN},
	{P, "/api/v1/hosts/a/containers/web/recreate", NULL, "{\"wait\":0}", 0,
	 400, NULL, 0},
	{P, "/api/v1/hosts/a/containers/web/recreate", NULL,
	 "{\"container\":\"other\"}", 0, 400, NULL, 0},
	{G, "/api/v1/tokens", NULL, NULL, 0, 0, "{\"op\":\"token_list\"}", 0},
	{P, "/api/v1/tokens", NULL, "{\"name\":\"ci\",\"role\":\"read\"}", 0, 0,
	 "{\"op\":\"token_create\",\"name\":\"ci\",\"role\":\"read\"}", 0},
	{P, "/api/v1/tokens", NULL, "{\"op\":\"forget\"}", 0, 400, NULL, 0},
	{D, "/api/v1/tokens/ci", NULL, NULL, 0, 0,
	 "{\"op\":\"token_revoke\",\"name\":\"ci\"}", 0},
	{D, "/api/v1/tokens/CI!", NULL, NULL, 0, 400, NULL, 0},
	{G, "/api/v1/alerts", NULL, NULL, 0, 0,
	 "{\"op\":\"alerts\",\"all\":false,\"since_s\":86400}", 0},
	{G, "/api/v1/alerts", "all=1&since=2h", NULL, 0, 0,
	 "{\"op\":\"alerts\",\"all\":true,\"since_s\":7200}", 0},
	{G, "/api/v1/alerts", "since=0s", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/alerts", "host=a", NULL, 0, 400, NULL, 0},
	{P, "/api/v1/alerts", NULL, "{}", 0, 405, NULL, 0},
	{G, "/api/v1/silences", NULL, NULL, 0, 0, "{\"op\":\"silence_list\"}",
	 0},
	{P, "/api/v1/silences", NULL,
	 "{\"host\":\"a\",\"container\":\"web\",\"for_s\":7200}", 0, 0,
	 "{\"op\":\"silence_add\",\"host\":\"a\",\"container\":\"web\","
	 "\"for_s\":7200}",
	 0},
	{P, "/api/v1/silences", NULL, "{\"op\":\"forget\",\"host\":\"a\"}", 0,
	 400, NULL, 0},
	{P, "/api/v1/silences", NULL, "[1]", 0, 400, NULL, 0},
	{D, "/api/v1/silences/7", NULL, NULL, 0, 0,
	 "{\"op\":\"silence_rm\",\"id\":7}", 0},
	{D, "/api/v1/silences/x7", NULL, NULL, 0, 400, NULL, 0},
	{G, "/api/v1/silences/7", NULL, NULL, 0, 405, NULL, 0},
	{G, "/metrics", NULL, NULL, 0, 0, "{\"op\":\"metrics\"}",
	 DL_ROUTE_METRICS},
	{G, "/metrics", "x=1", NULL, 0, 400, NULL, 0},
	{G, "/api/v1/events/stream", "host=a&type=container", NULL, 1, 0,
	 "{\"op\":\"subscribe\",\"what\":\"events\",\"host\":\"a\",\"type\":"
	 "\"container\"}",
	 DL_ROUTE_WS},
	{G, "/api/v1/stats/stream", NULL, NULL, 1, 0,
	 "{\"op\":\"subscribe\",\"what\":\"stats\"}", DL_ROUTE_WS},
	{G, "/api/v1/stats/stream", "type=x", NULL, 1, 400, NULL, 0},
	{G, "/api/v1/events/stream", NULL, NULL, 0, 400, NULL, 0},
	{G, "/api/v1/hosts", NULL, NULL, 1, 400, NULL, 0},
	{G, "/api/v1/nothing", NULL, NULL, 0, 404, NULL, 0},
	{G, "/api/v2/hosts", NULL, NULL, 0, 404, NULL, 0},
	{G, "/", NULL, NULL, 0, 404, NULL, 0},
	{G, "/api/v1/hosts/../../etc", NULL, NULL, 0, 400, NULL, 0},
	{G, "/api/v1//hosts", NULL, NULL, 0, 400, NULL, 0},
	{G, "/api/v1/hosts/a%2Fb", NULL, NULL, 0, 400, NULL, 0},
	{G, "/api/v1/hosts/./a", NULL, NULL, 0, 400, NULL, 0},
	{G, "api/v1/hosts", NULL, NULL, 0, 400, NULL, 0},
	{O, "/api/v1/hosts", NULL, NULL, 0, 405, NULL, 0},
	{D, "/api/v1/hosts/a", NULL, NULL, 0, 405, NULL, 0},
};

/* "k=v&k2=v2" -> pairs, in buf. */
static size_t parse_query(const char *q, char *buf, size_t buflen,
			  dl_route_kv_t *kv)
{
	size_t n = 0;
	char *p, *save = NULL;

	if (!q)
		return 0;
	snprintf(buf, buflen, "%s", q);
	for (p = strtok_r(buf, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');

		if (eq)
			*eq++ = '\0';
		kv[n].key = p;
		kv[n].val = eq ? eq : "";
		n++;
	}
	return n;
}

static void test_routes(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const case_t *c = &cases[i];
		dl_route_kv_t kv[DL_ROUTE_QUERY_MAX];
		char qb[512];
		size_t nq = parse_query(c->query, qb, sizeof(qb), kv);
		dl_route_t r;
		int st;

		st = dl_route_request(c->m, c->path, kv, nq, c->body,
				      c->body ? strlen(c->body) : 0, c->upgrade,
				      NOW, &r);
		if (st != c->status)
			fprintf(stderr, "case %zu %s?%s: %s\n", i, c->path,
				c->query ? c->query : "", r.error);
		ASSERT_EQ(st, c->status);
		if (st) {
			ASSERT(r.code != NULL);
			ASSERT(r.error[0] != '\0');
			ASSERT(r.req == NULL);
			continue;
		}
		if (c->want) {
			json_t *w = json_loads(c->want, 0, NULL);
			char *got = json_dumps(r.req, JSON_SORT_KEYS);
			char *exp = json_dumps(w, JSON_SORT_KEYS);

			ASSERT(w != NULL);
			if (!json_equal(w, r.req))
				fprintf(stderr, "case %zu %s\n", i, c->path);
			ASSERT_STR_EQ(got, exp);
			ASSERT_EQ(r.kind, c->kind);
			free(got);
			free(exp);
			json_decref(w);
		}
		dl_route_clear(&r);
	}
}

/* A POST head without its body: routed, no request yet. */
static void test_head_only(void)
{
	dl_route_t r;

	ASSERT_EQ(dl_route_request(P, "/api/v1/hosts/a/containers/b/exec", NULL,
				   0, NULL, 0, false, NOW, &r),
		  0);
	ASSERT(r.body);
	ASSERT(r.req == NULL);
	ASSERT_EQ(dl_route_request(P, "/api/v1/nope", NULL, 0, NULL, 0, false,
				   NOW, &r),
		  404);
}

static void test_status(void)
{
	static const struct {
		const char *code;
		bool control;
		int status;
	} t[] = {
		{"invalid", 0, 400},   {"unauthorized", 0, 401},
		{"forbidden", 0, 403}, {"refused", 1, 403},
		{"not_found", 0, 404}, {"offline", 1, 503},
		{"busy", 0, 503},      {"timeout", 1, 504},
		{"unknown", 1, 504},   {"error", 1, 502},
		{"error", 0, 500},     {"whatever", 0, 500},
	};
	const char *code, *err;
	json_t *r;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ASSERT_EQ(dl_respond_status(t[i].code, t[i].control),
			  t[i].status);
	/* code wins over status; status stands in until serve sends code */
	r = json_pack("{s:b,s:s,s:s,s:s}", "ok", 0, "status", "error", "code",
		      "not_found", "error", "No such container");
	dl_respond_error_of(r, &code, &err);
	ASSERT_STR_EQ(code, "not_found");
	json_decref(r);
	r = json_pack("{s:b,s:s,s:s}", "ok", 0, "status", "offline", "error",
		      "a is offline");
	dl_respond_error_of(r, &code, &err);
	ASSERT_STR_EQ(code, "offline");
	ASSERT_STR_EQ(err, "a is offline");
	json_decref(r);
}

static void test_lines(void)
{
	static const uint8_t out[] = "\x01hi \xff\n";
	dl_buf_t b;
	json_t *r;

	dl_buf_init(&b, 4096);
	ASSERT_EQ(dl_respond_stream_line(&b, out, sizeof(out) - 1), 0);
	r = json_pack("{s:b,s:s,s:{s:i}}", "ok", 1, "status", "ok", "data",
		      "exit_code", 3);
	ASSERT_EQ(dl_respond_final_line(&b, r), 0);
	json_decref(r);
	ASSERT_EQ(dl_buf_append(&b, "", 1), 0);
	ASSERT_STR_EQ(
		(const char *)dl_buf_head(&b),
		"{\"stream\":\"stdout\",\"data\":\"hi \xef\xbf\xbd\\n\"}\n"
		"{\"status\":\"ok\",\"exit_code\":3}\n");
	dl_buf_free(&b);
}

int main(void)
{
	test_routes();
	test_head_only();
	test_status();
	test_lines();
	printf("test_http_route: ok (%zu routes)\n",
	       sizeof(cases) / sizeof(cases[0]));
	return 0;
}
