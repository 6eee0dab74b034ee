/* test_notify_render.c - [notify]/[hook] configuration errors (file:line), the
 * body of every channel kind for one alert (table-driven), email
 * headers and encodings, a command's environment and words, the retry
 * schedule, URL redaction, hook matching. No network: the worker is
 * exercised by tests/integration/test_notify.sh. */
#include "collector/notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/notify_int.h"
#include "common/err.h"
#include "test.h"

static char dir[64];

static const char *write_conf(const char *name, const char *text)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ASSERT(f != NULL);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Loading text fails with an error containing want (or loads, want
 * NULL). */
static void load_case(const char *text, const char *want)
{
	char err[512] = "";
	const char *path = write_conf("c.conf", text);
	dl_notify_t *n = dl_notify_load(path, err, sizeof(err));

	if (!want) {
		if (!n)
			DL_FAIL_("unexpected error: %s", err);
		dl_notify_free(n);
		return;
	}
	if (n)
		DL_FAIL_("loaded, wanted an error with \"%s\"", want);
	if (!strstr(err, want))
		DL_FAIL_("error \"%s\" lacks \"%s\"", err, want);
}

static void test_config(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"[notify a]\nkind = webhook\nurl = https://x/y\n", NULL},
		{"[notify a]\nkind = webhook\nurl = https://x/y\ncolour = 1\n",
		 "c.conf:4: unknown setting [notify a] colour"},
		{"[notify a]\nkind = pager\nurl = https://x/y\n",
		 "c.conf:2: [notify a] kind \"pager\" is not webhook"},
		{"[notify a]\nurl = https://x/y\n",
		 "c.conf:2: [notify a] needs kind"},
		{"[notify a]\nkind = slack\n",
		 "c.conf:2: [notify a] kind = slack needs url"},
		{"[notify a]\nkind = discord\nurl = ftp://x\n",
		 "c.conf:3: [notify a] kind = discord needs url"},
		{"[notify a]\nkind = webhook\nurl = http://x\nheader1 = "
		 "nocolon\n",
		 "c.conf:4: [notify a] header1 must be"},
		{"[notify a]\nkind = slack\nurl = http://x\nheader1 = A: b\n",
		 "c.conf:4: unknown setting [notify a] header1"},
		{"[notify a]\nkind = gotify\nurl = http://x/message\n",
		 "[notify a] kind = gotify needs token_file"},
		{"[notify a]\nkind = ntfy\nurl = http://x/t\ntoken_file = "
		 "/nonexistent/t\n",
		 "c.conf:4: [notify a] cannot read /nonexistent/t"},
		{"[notify a]\nkind = email\nsmtp_url = smtp://h:25\nfrom = "
		 "a@b\n",
		 "[notify a] email needs to ="},
		{"[notify a]\nkind = email\nsmtp_url = smtp://h:25\nfrom = "
		 "a@b\nto = x@y, not an address\n",
		 "c.conf:5: [notify a] to: \"not an address\""},
		{"[notify a]\nkind = email\nsmtp_url = http://h\nfrom = "
		 "a@b\nto "
		 "= x@y\n",
		 "c.conf:3: [notify a] email needs smtp_url"},
		{"[notify a]\nkind = email\nsmtp_url = smtp://h\nfrom = "
		 "a@b\nto "
		 "= x@y\nstarttls = maybe\n",
		 "c.conf:6: [notify a] starttls must be yes or no"},
		{"[notify a]\nkind = exec\ncommand = notify-send x\n",
		 "c.conf:3: [notify a] command must start with an absolute"},
		{"[notify a]\nkind = exec\ncommand = /bin/echo 'x\n",
		 "unterminated '"},
		{"[notify a]\nkind = webhook\nurl = http://x\ntimeout = 0\n",
		 "c.conf:4: timeout must be a duration"},
		{"[notify a]\nkind = webhook\nurl = http://x\nretries = 11\n",
		 "c.conf:4: retries must be an integer between 0 and 10"},
		{"[notify a]\nkind = teams\nurl = http://x\ncard = hero\n",
		 "c.conf:4: [notify a] card must be adaptive or messagecard"},
		{"[notify a b]\nkind = webhook\nurl = http://x\n",
		 "\"a b\" is not a channel name"},
		{"[hook h]\non = container:die\nnotify = nope\n",
		 "c.conf:3: [hook h] notify = nope names no [notify ...]"},
		{"[hook h]\non = container\ncommand = /bin/true\n",
		 "c.conf:2: [hook h] on: \"container\" is not type:action"},
		{"[hook h]\ncommand = /bin/true\n", "[hook h] needs on ="},
		{"[hook h]\non = container:die\n",
		 "[hook h] needs either notify = CHANNEL or command"},
		{"[hook h]\non = container:die\ncommand = /bin/true\nnotifyy = "
		 "x\n",
		 "c.conf:4: unknown setting [hook h] notifyy"},
		{"[notify a]\nkind = webhook\nurl = http://x\n[hook h]\non = "
		 "container:die, host:*\nnotify = a\nhosts = web-*\n",
		 NULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		load_case(cases[i].text, cases[i].want);
}

static void test_has_list(void)
{
	char err[512];
	char secret[128];
	const char *tok;
	dl_notify_t *n;
	json_t *l;
	char *s;

	snprintf(secret, sizeof(secret), "%s/token", dir);
	tok = write_conf("token", "tk-SECRET-123\n");
	(void)tok;
	snprintf(err, sizeof(err),
		 "[notify g]\nkind = gotify\nurl = "
		 "https://u:pw@gotify.example:8443/message?x=1\ntoken_file = "
		 "%s\n[notify w]\nkind = webhook\nurl = "
		 "http://h/hooks/SECRETPATH\nheader1 = X-Key: HEADERSECRET\n",
		 secret);
	n = dl_notify_load(write_conf("c.conf", err), err, sizeof(err));
	if (!n)
		DL_FAIL_("%s", err);
	ASSERT(dl_notify_has(n, "g"));
	ASSERT(dl_notify_has(n, "w"));
	ASSERT(!dl_notify_has(n, "x"));
	ASSERT(!dl_notify_has_hooks(n));
	/* not started: nothing is accepted */
	l = json_object();
	ASSERT_EQ(dl_notify_send(n, "x", l, NULL, NULL), DL_ENOENT);
	ASSERT_EQ(dl_notify_send(n, "g", l, NULL, NULL), DL_ECLOSED);
	json_decref(l);
	l = dl_notify_list(n);
	s = json_dumps(l, JSON_COMPACT);
	ASSERT(strstr(s, "\"target\":\"https://gotify.example:8443\""));
	ASSERT(!strstr(s, "SECRET"));
	ASSERT(!strstr(s, "pw"));
	free(s);
	json_decref(l);
	dl_notify_free(n);
	dl_notify_free(NULL);
}

static json_t *alert(void)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:{s:s}}",
			 "kind", "alert", "status", "firing", "rule",
			 "cpu-high", "severity", "critical", "host", "web-01",
			 "container", "app", "summary", "CPU above 90% for 5m",
			 "started_at", "2026-11-30T20:00:00Z", "value", 97.5,
			 "labels", "team", "ops");
}

/* "a.0.b" into j. */
static const char *at(json_t *j, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = strtok_r(buf, ".", &save); p && j;
	     p = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, strtoul(p, NULL, 10))
				     : json_object_get(j, p);
	if (json_is_integer(j)) {
		static char num[32];

		snprintf(num, sizeof(num), "%lld",
			 (long long)json_integer_value(j));
		return num;
	}
	return j ? json_string_value(j) : NULL;
}

static void test_render(void)
{
	static const struct {
		dl_notify_kind_t kind;
		bool adaptive;
		const char *path, *want; /* want is a prefix */
	} cases[] = {
		{DL_NK_WEBHOOK, 0, "rule", "cpu-high"},
		{DL_NK_WEBHOOK, 0, "labels.team", "ops"},
		{DL_NK_SLACK, 0, "text",
		 "[FIRING] cpu-high on web-01/app\nCPU above 90% for 5m\n\n"
		 "status: firing\nrule: cpu-high\n"},
		{DL_NK_SLACK, 0, "blocks.0.type", "header"},
		{DL_NK_SLACK, 0, "blocks.0.text.text",
		 "[FIRING] cpu-high on web-01/app"},
		{DL_NK_SLACK, 0, "blocks.1.text.type", "mrkdwn"},
		{DL_NK_SLACK, 0, "blocks.1.text.text", "CPU above 90% for 5m"},
		{DL_NK_DISCORD, 0, "content",
		 "**[FIRING] cpu-high on web-01/app**\nCPU above 90% for 5m\n"},
		{DL_NK_GOTIFY, 0, "title", "[FIRING] cpu-high on web-01/app"},
		{DL_NK_GOTIFY, 0, "message", "CPU above 90% for 5m\n"},
		{DL_NK_GOTIFY, 0, "priority", "8"},
		{DL_NK_TEAMS, 1, "type", "message"},
		{DL_NK_TEAMS, 1, "attachments.0.contentType",
		 "application/vnd.microsoft.card.adaptive"},
		{DL_NK_TEAMS, 1, "attachments.0.content.type", "AdaptiveCard"},
		{DL_NK_TEAMS, 1, "attachments.0.content.body.0.text",
		 "[FIRING] cpu-high on web-01/app"},
		{DL_NK_TEAMS, 1, "attachments.0.content.body.0.color",
		 "Attention"},
		{DL_NK_TEAMS, 1, "attachments.0.content.body.1.text",
		 "CPU above 90% for 5m"},
		{DL_NK_TEAMS, 1, "attachments.0.content.body.2.facts.1.title",
		 "rule"},
		{DL_NK_TEAMS, 1, "attachments.0.content.body.2.facts.7.value",
		 "ops"},
		{DL_NK_TEAMS, 0, "@type", "MessageCard"},
		{DL_NK_TEAMS, 0, "themeColor", "D70000"},
		{DL_NK_TEAMS, 0, "title", "[FIRING] cpu-high on web-01/app"},
		{DL_NK_TEAMS, 0, "text", "CPU above 90% for 5m"},
		{DL_NK_TEAMS, 0, "sections.0.facts.0.name", "status"},
		{DL_NK_TEAMS, 0, "sections.0.facts.6.value", "97.5"},
		{DL_NK_EXEC, 0, "summary", "CPU above 90% for 5m"},
	};
	dl_notify_ctx_t ctx = {0, "collector.test", 7};
	json_t *msg = alert();

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dl_notify_chan_t ch = {.kind = cases[i].kind,
				       .adaptive = cases[i].adaptive};
		dl_notify_body_t b;
		json_t *j;
		const char *got;

		ASSERT_EQ(dl_notify_render(&ch, msg, &ctx, &b), 0);
		ASSERT_STR_EQ(b.content_type, "application/json");
		j = json_loadb(b.body, b.len, 0, NULL);
		ASSERT(j != NULL);
		got = at(j, cases[i].path);
		if (!got || strncmp(got, cases[i].want, strlen(cases[i].want)))
			DL_FAIL_("%s %s: got \"%s\", want \"%s\"",
				 dl_notify_kind_name(cases[i].kind),
				 cases[i].path, got ? got : "(none)",
				 cases[i].want);
		if (cases[i].kind == DL_NK_WEBHOOK)
			ASSERT(json_equal(j, msg));
		json_decref(j);
		dl_notify_body_free(&b);
	}
	json_decref(msg);
}

static void test_render_ntfy_email(void)
{
	dl_notify_ctx_t ctx = {86400 * 3 + 3661, "collector.test", 7};
	dl_notify_chan_t ntfy = {.kind = DL_NK_NTFY};
	dl_notify_chan_t mail = {.kind = DL_NK_EMAIL,
				 .from = "Dockline <d@example.test>",
				 .to = {"a@example.test", "B <b@example.test>"},
				 .nto = 2};
	json_t *msg = alert();
	dl_notify_body_t b;

	ASSERT_EQ(dl_notify_render(&ntfy, msg, &ctx, &b), 0);
	ASSERT_STR_EQ(b.content_type, "text/plain; charset=utf-8");
	ASSERT(!strncmp(b.body,
			"CPU above 90% for 5m\n\nstatus: firing\nrule: "
			"cpu-high\nseverity: critical\nhost: web-01\n",
			60));
	ASSERT(strstr(b.body, "\nlabels.team: ops\n"));
	ASSERT_EQ(b.nheaders, 3);
	ASSERT_STR_EQ(b.headers[0], "Title: [FIRING] cpu-high on web-01/app");
	ASSERT_STR_EQ(b.headers[1], "Priority: 5");
	ASSERT_STR_EQ(b.headers[2], "Tags: rotating_light");
	dl_notify_body_free(&b);

	ASSERT_EQ(dl_notify_render(&mail, msg, &ctx, &b), 0);
	ASSERT(b.content_type == NULL);
	ASSERT(!strncmp(b.body, "Date: Sun, 04 Jan 1970 01:01:01 +0000\r\n",
			39));
	ASSERT(strstr(b.body, "\r\nFrom: Dockline <d@example.test>\r\n"));
	ASSERT(strstr(b.body,
		      "\r\nTo: a@example.test, B <b@example.test>\r\n"));
	ASSERT(strstr(b.body,
		      "\r\nSubject: [FIRING] cpu-high on web-01/app\r\n"));
	ASSERT(strstr(
		b.body,
		"\r\nMessage-ID: <dockline.262861.7@collector.test>\r\n"));
	ASSERT(strstr(b.body, "\r\nMIME-Version: 1.0\r\nContent-Type: "
			      "text/plain; charset=UTF-8\r\n"));
	ASSERT(strstr(b.body, "Content-Transfer-Encoding: 7bit\r\n\r\nCPU "
			      "above 90% for 5m\r\n\r\nstatus: firing\r\n"));
	ASSERT(!strstr(b.body, "\n\n")); /* CRLF only */
	dl_notify_body_free(&b);

	/* non-ASCII: an encoded-word subject, a base64 body */
	json_object_set_new(msg, "rule", json_string("d\xc3\xa9j\xc3\xa0"));
	ASSERT_EQ(dl_notify_render(&mail, msg, &ctx, &b), 0);
	ASSERT(strstr(b.body, "\r\nSubject: =?UTF-8?B?"));
	ASSERT(strstr(b.body, "Content-Transfer-Encoding: base64\r\n\r\n"));
	dl_notify_body_free(&b);
	ASSERT_EQ(dl_notify_render(&ntfy, msg, &ctx, &b), 0);
	ASSERT(!strncmp(b.headers[0], "Title: =?UTF-8?B?", 17));
	dl_notify_body_free(&b);
	json_decref(msg);
}

static void test_titles(void)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{"{\"kind\":\"alert\",\"status\":\"resolved\",\"rule\":\"r\","
		 "\"host\":\"h\"}",
		 "[RESOLVED] r on h"},
		{"{\"kind\":\"test\",\"summary\":\"x\"}",
		 "dockline test message"},
		{"{\"kind\":\"event\",\"type\":\"container\",\"action\":"
		 "\"die\","
		 "\"host\":\"h\",\"name\":\"web\"}",
		 "[EVENT] container die on h/web"},
		{"{\"type\":\"host\",\"action\":\"offline\",\"host\":\"h\"}",
		 "[EVENT] host offline on h"},
	};
	char t[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *m = json_loads(cases[i].json, 0, NULL);

		dl_notify_title(m, t, sizeof(t));
		ASSERT_STR_EQ(t, cases[i].want);
		json_decref(m);
	}
}

static bool has(char **env, const char *kv)
{
	for (size_t i = 0; env[i]; i++)
		if (!strcmp(env[i], kv))
			return true;
	return false;
}

static void test_env(void)
{
	char *env[DL_NOTIFY_ENV_MAX];
	json_t *msg = alert();
	json_t *ev = json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s}}", "seq",
			       (json_int_t)12, "host", "web-01", "type",
			       "container", "action", "die", "id", "abc",
			       "name", "app", "attributes", "exitCode", "137",
			       "com.docker.compose.project", "shop");
	size_t n = 0;

	ASSERT_EQ(dl_notify_env(msg, "DL_CHANNEL=ops", env, DL_NOTIFY_ENV_MAX),
		  0);
	ASSERT(has(env, "DL_CHANNEL=ops"));
	ASSERT(has(env, "DL_KIND=alert"));
	ASSERT(has(env, "DL_ALERT_STATUS=firing"));
	ASSERT(has(env, "DL_ALERT_RULE=cpu-high"));
	ASSERT(has(env, "DL_ALERT_SEVERITY=critical"));
	ASSERT(has(env, "DL_ALERT_HOST=web-01"));
	ASSERT(has(env, "DL_ALERT_CONTAINER=app"));
	ASSERT(has(env, "DL_ALERT_SUMMARY=CPU above 90% for 5m"));
	ASSERT(has(env, "DL_ALERT_VALUE=97.5"));
	ASSERT(has(env, "DL_ALERT_LABEL_TEAM=ops"));
	ASSERT(!strncmp(env[0], "PATH=/", 6));
	dl_notify_env_free(env);

	ASSERT_EQ(dl_notify_env(ev, "DL_HOOK=die", env, DL_NOTIFY_ENV_MAX), 0);
	ASSERT(has(env, "DL_HOOK=die"));
	ASSERT(has(env, "DL_KIND=event"));
	ASSERT(has(env, "DL_EVENT_SEQ=12"));
	ASSERT(has(env, "DL_EVENT_ACTION=die"));
	ASSERT(has(env, "DL_EVENT_NAME=app"));
	ASSERT(has(env, "DL_EVENT_ATTR_EXITCODE=137"));
	ASSERT(has(env, "DL_EVENT_ATTR_COM_DOCKER_COMPOSE_PROJECT=shop"));
	ASSERT(has(env,
		   "DL_EVENT_SUMMARY=[EVENT] container die on web-01/app"));
	dl_notify_env_free(env);

	/* bounded: max - 1 variables, NULL-terminated */
	ASSERT_EQ(dl_notify_env(ev, "DL_HOOK=die", env, 5), 0);
	while (env[n])
		n++;
	ASSERT_EQ(n, 4);
	dl_notify_env_free(env);
	json_decref(ev);
	json_decref(msg);
}

static void test_argv(void)
{
	char err[256];
	char **a = dl_notify_argv(
		"/bin/sh -c 'echo \"$X\" > /tmp/f'  \"a b\\\"c\" d\\ e", err,
		sizeof(err));

	ASSERT(a != NULL);
	ASSERT_STR_EQ(a[0], "/bin/sh");
	ASSERT_STR_EQ(a[1], "-c");
	ASSERT_STR_EQ(a[2], "echo \"$X\" > /tmp/f");
	ASSERT_STR_EQ(a[3], "a b\"c");
	ASSERT_STR_EQ(a[4], "d e");
	ASSERT(a[5] == NULL);
	dl_notify_argv_free(a);
	ASSERT(dl_notify_argv("sh -c x", err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "absolute path"));
	ASSERT(dl_notify_argv("   ", err, sizeof(err)) == NULL);
	ASSERT(dl_notify_argv("/bin/x \"open", err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "unterminated"));
}

static void test_backoff_redact_addr(void)
{
	static const uint64_t want[] = {1000,  2000,  4000,  8000,
					16000, 32000, 60000, 60000};
	char out[256];

	for (int i = 0; i < 8; i++)
		ASSERT_EQ(dl_notify_backoff_ms(i + 1), want[i]);
	ASSERT_EQ(dl_notify_backoff_ms(100), 60000);
	dl_notify_url_redact(
		"https://user:pw@hooks.slack.com/services/T/B/X?a=1", out,
		sizeof(out));
	ASSERT_STR_EQ(out, "https://hooks.slack.com");
	dl_notify_url_redact("http://127.0.0.1:8080?x#y", out, sizeof(out));
	ASSERT_STR_EQ(out, "http://127.0.0.1:8080");
	dl_notify_url_redact("nonsense", out, sizeof(out));
	ASSERT_STR_EQ(out, "(not a URL)");
	ASSERT_EQ(
		dl_notify_addr_spec("Ops Team <ops@x.test>", out, sizeof(out)),
		0);
	ASSERT_STR_EQ(out, "<ops@x.test>");
	ASSERT_EQ(dl_notify_addr_spec("  a@b ", out, sizeof(out)), 0);
	ASSERT_STR_EQ(out, "<a@b>");
	ASSERT_EQ(dl_notify_addr_spec("no-at", out, sizeof(out)), DL_EINVAL);
	ASSERT_EQ(dl_notify_addr_spec("a b@c", out, sizeof(out)), DL_EINVAL);
	ASSERT_EQ(dl_notify_addr_spec("<a@b", out, sizeof(out)), DL_EINVAL);
}

static void test_hook_match(void)
{
	dl_notify_hook_t h = {.non = 3,
			      .on = {{"container", "die"},
				     {"container", "exec_start"},
				     {"host", "*"}},
			      .hosts = "web-*",
			      .chan = -1};
	static const struct {
		const char *json;
		bool want;
	} cases[] = {
		{"{\"type\":\"container\",\"action\":\"die\",\"host\":\"web-"
		 "1\","
		 "\"name\":\"app\"}",
		 true},
		{"{\"type\":\"container\",\"action\":\"die\",\"host\":\"db-"
		 "1\"}",
		 false},
		{"{\"type\":\"container\",\"action\":\"start\",\"host\":"
		 "\"web-1\"}",
		 false},
		{"{\"type\":\"container\",\"action\":\"exec_start: sh -c x\","
		 "\"host\":\"web-1\"}",
		 true},
		{"{\"type\":\"container\",\"action\":\"exec_started\","
		 "\"host\":\"web-1\"}",
		 false},
		{"{\"type\":\"host\",\"action\":\"offline\",\"host\":\"web-"
		 "2\"}",
		 true},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *e = json_loads(cases[i].json, 0, NULL);

		if (dl_notify_hook_match(&h, e) != cases[i].want)
			DL_FAIL_("case %zu (%s): want %d", i, cases[i].json,
				 cases[i].want);
		json_decref(e);
	}
	/* a containers glob: only container events of that name */
	h.containers = "app*";
	{
		json_t *a = json_loads("{\"type\":\"container\",\"action\":"
				       "\"die\",\"host\":\"web-1\",\"name\":"
				       "\"app-2\"}",
				       0, NULL);
		json_t *b = json_loads("{\"type\":\"host\",\"action\":"
				       "\"offline\",\"host\":\"web-1\"}",
				       0, NULL);

		ASSERT(dl_notify_hook_match(&h, a));
		ASSERT(!dl_notify_hook_match(&h, b));
		json_decref(a);
		json_decref(b);
	}
}

int main(void)
{
	char tmpl[] = "/tmp/dl-test-notify-XXXXXX";
	char cmd[128];

	ASSERT(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s", tmpl);
	RUN(test_config);
	RUN(test_has_list);
	RUN(test_render);
	RUN(test_render_ntfy_email);
	RUN(test_titles);
	RUN(test_env);
	RUN(test_argv);
	RUN(test_backoff_redact_addr);
	RUN(test_hook_match);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return 0;
}
