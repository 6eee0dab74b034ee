/* test_alerts.c - alert rules: config errors with file:line, the state
 * machine (pending -> firing after `for`, hysteresis, resolve, repeat,
 * silences) on synthetic rows and a fake clock, and restart survival
 * through a real store file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collector/alerts.h"
#include "collector/alerts_int.h"
#include "collector/conf.h"
#include "common/err.h"
#include "store_fixture.h"

static int64_t now_ms = 1700000000000ll;
static json_t *sent; /* every message the sink got */

static int64_t fake_clock(void *ud)
{
	(void)ud;
	return now_ms;
}

static void sink(void *ud, const char *const *ch, size_t n, const json_t *m,
		 int64_t id)
{
	(void)ud;
	(void)id;
	(void)ch;
	(void)n;
	json_array_append_new(sent, json_deep_copy(m));
}

static const char *msg_str(size_t i, const char *k)
{
	return json_string_value(json_object_get(json_array_get(sent, i), k));
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ASSERT(f);
	fputs(text, f);
	fclose(f);
}

#define RULES_CAP 64

/* Loads path into rules (at most RULES_CAP of them). */
static int load_path(const char *path, dl_alerts_has_fn has,
		     dl_alert_rule_t *rules, size_t *n, char *err,
		     size_t errlen)
{
	dl_alert_rule_t *got;
	int rc = dl_alert_rules_load(path, has, NULL, &got, n, err, errlen);

	if (rc)
		return rc;
	ASSERT(*n <= RULES_CAP);
	memcpy(rules, got, *n * sizeof(*got));
	free(got);
	return 0;
}

static int load(const char *text, dl_alert_rule_t *rules, size_t *n, char *err,
		size_t errlen)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/c.conf", dir);
	write_file(path, text);
	return load_path(path, NULL, rules, n, err, errlen);
}

static bool no_channels(void *ud, const char *ch)
{
	(void)ud;
	return !strcmp(ch, "ops");
}

static void test_config(void)
{
	static dl_alert_rule_t r[RULES_CAP];
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"[alert a]\ncondition = host_offlin\n",
		 "c.conf:2: [alert a] condition"},
		{"[alert a]\ncondition = host_offline\nfor = 5x\n",
		 "c.conf:3: for must"},
		{"[alert a]\nhosts = *\n\ncondition = host_disk\nthreshold = "
		 "120\n",
		 "c.conf:5: [alert a] threshold"},
		{"[alert a]\ncondition = host_offline\nthreshold = 5\n",
		 "c.conf:3: [alert a] threshold does not apply"},
		{"[alert a]\ncondition = restart_loop\ncount = 1\n",
		 "c.conf:3: count"},
		{"[alert a]\nseverity = high\ncondition = docker_down\n",
		 "c.conf:2: [alert a] severity"},
		{"[alert a]\nhosts = web*\n",
		 "c.conf:2: [alert a] has no condition"},
		{"[alert Bad]\ncondition = docker_down\n",
		 "c.conf:2: [alert Bad]"},
		{"[alert a]\ncondition = host_load\n",
		 "c.conf:2: [alert a] condition host_load needs"},
		{"[alert a]\ncondition = docker_down\nrepeat = 10s\n",
		 "c.conf:3: [alert a] repeat"},
		{"[alert a]\ncondition = docker_down\nlabel = app=web\n",
		 "c.conf:3: [alert a] label does not apply"},
		{"[alert a]\ncondition = container_unhealthy\nlabel = =web\n",
		 "c.conf:3: [alert a] label must be K or K=V"},
	};
	char err[512], path[160];
	size_t n;
	dl_cconf_t conf;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		ASSERT_EQ(load(bad[i].text, r, &n, err, sizeof(err)),
			  DL_ECONFIG);
		if (!strstr(err, bad[i].want))
			DL_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, err,
				 bad[i].want);
	}
	/* a channel the registry does not know */
	snprintf(path, sizeof(path), "%s/c.conf", dir);
	write_file(path, "[alert a]\ncondition = docker_down\n"
			 "notify = ops, pager\n");
	ASSERT_EQ(load_path(path, no_channels, r, &n, err, sizeof(err)),
		  DL_ECONFIG);
	ASSERT(strstr(err, "c.conf:3: [alert a] notify names channel pager"));

	ASSERT_EQ(load("[alert disk]\ncondition = host_disk\nthreshold = 85\n"
		       "for = 10m\nseverity = critical\nnotify = ops, pager\n"
		       "repeat = 1h\nresolve = no\n[alert loop]\n"
		       "condition = restart_loop\ncontainers = web-*\n"
		       "enabled = no\n",
		       r, &n, err, sizeof(err)),
		  0);
	ASSERT_EQ(n, 2);
	ASSERT_STR_EQ(r[0].name, "disk");
	ASSERT_EQ(r[0].cond, DL_COND_HOST_DISK);
	ASSERT(r[0].threshold == 85.0);
	ASSERT_EQ(r[0].for_ms, 600000);
	ASSERT_EQ(r[0].repeat_ms, 3600000);
	ASSERT_EQ(r[0].severity, DL_SEV_CRITICAL);
	ASSERT_EQ(r[0].nnotify, 2);
	ASSERT_STR_EQ(r[0].notify[1], "pager");
	ASSERT(!r[0].resolve);
	ASSERT_EQ(r[1].count, 3);
	ASSERT_EQ(r[1].window_ms, 600000);
	ASSERT(!r[1].enabled);

	/* conf.c: a misspelt key of a rule is refused with its line, the
	 * prefix alone is not a section of rules */
	write_file(path, "[collector]\nlog_level = info\n[alert a]\n"
			 "condition = docker_down\ntreshold = 5\n");
	ASSERT_EQ(dl_cconf_load(&conf, path, err, sizeof(err)), DL_ECONFIG);
	ASSERT(strstr(err, "c.conf:5: unknown setting alert a.treshold"));
	write_file(path, "[alert]\ncondition = docker_down\n");
	ASSERT_EQ(dl_cconf_load(&conf, path, err, sizeof(err)), DL_ECONFIG);
	ASSERT(strstr(err, "c.conf:2: unknown setting alert.condition"));
	write_file(path, "[alert a]\ncondition = docker_down\n");
	ASSERT_EQ(dl_cconf_load(&conf, path, err, sizeof(err)), 0);
}

static dl_alerts_t *engine(const char *text, dl_store_t *store)
{
	static dl_alert_rule_t r[RULES_CAP];
	char err[512];
	size_t n;
	dl_alerts_t *e;

	if (load(text, r, &n, err, sizeof(err)))
		DL_FAIL_("%s", err);
	ASSERT((e = dl_alerts_new(r, n, store)));
	dl_alerts_set_clock(e, fake_clock, NULL);
	dl_alerts_set_sink(e, sink, NULL);
	json_array_clear(sent);
	return e;
}

static void advance(dl_alerts_t *e, int64_t ms)
{
	for (int64_t t = 0; t < ms; t += 1000) {
		now_ms += 1000;
		dl_alerts_tick(e);
	}
}

static size_t nalerts(dl_alerts_t *e, bool all, const char *state)
{
	json_t *l = dl_alerts_list(e, all, 0, NULL), *row;
	size_t i, n = 0;

	json_array_foreach(l, i, row) n +=
		!state ||
		!strcmp(json_string_value(json_object_get(row, "state")),
			state);
	json_decref(l);
	return n;
}

static void test_offline_repeat(void)
{
	dl_alerts_t *e = engine("[alert off]\ncondition = host_offline\n"
				"for = 2m\nrepeat = 10m\nnotify = ops\n",
				NULL);

	dl_alerts_host(e, "web-01", false);
	ASSERT_EQ(nalerts(e, false, "pending"), 1);
	advance(e, 119000);
	ASSERT_EQ(json_array_size(sent), 0);
	advance(e, 1000);
	ASSERT_EQ(json_array_size(sent), 1);
	ASSERT_STR_EQ(msg_str(0, "kind"), "alert");
	ASSERT_STR_EQ(msg_str(0, "status"), "firing");
	ASSERT_STR_EQ(msg_str(0, "rule"), "off");
	ASSERT_STR_EQ(msg_str(0, "severity"), "warning");
	ASSERT_STR_EQ(msg_str(0, "host"), "web-01");
	ASSERT_STR_EQ(msg_str(0, "summary"), "web-01 is offline");
	ASSERT(msg_str(0, "started_at"));
	ASSERT(!json_object_get(json_array_get(sent, 0), "container"));
	ASSERT(json_is_object(
		json_object_get(json_array_get(sent, 0), "labels")));
	/* repeat: once per 10 min while firing */
	advance(e, 599000);
	ASSERT_EQ(json_array_size(sent), 1);
	advance(e, 1000);
	ASSERT_EQ(json_array_size(sent), 2);
	dl_alerts_host(e, "web-01", true);
	ASSERT_EQ(json_array_size(sent), 3);
	ASSERT_STR_EQ(msg_str(2, "status"), "resolved");
	ASSERT(msg_str(2, "resolved_at"));
	ASSERT_EQ(nalerts(e, false, NULL), 0);
	ASSERT_EQ(nalerts(e, true, "resolved"), 1);
	/* a blip shorter than `for` never fires and leaves nothing */
	dl_alerts_host(e, "web-01", false);
	advance(e, 30000);
	dl_alerts_host(e, "web-01", true);
	advance(e, 200000);
	ASSERT_EQ(json_array_size(sent), 3);
	ASSERT_EQ(nalerts(e, true, NULL), 1);
	dl_alerts_free(e);
}

static void disk(dl_alerts_t *e, double pct)
{
	json_t *rows =
		json_pack("[{s:s,s:I,s:f,s:f}]", "host", "db-1", "time_ns",
			  (json_int_t)now_ms * 1000000, "disk_used_bytes", pct,
			  "disk_total_bytes", 100.0);

	dl_alerts_stats(e, "db-1", "host_stats", rows);
	json_decref(rows);
}

/* Samples every 10 s for ms. */
static void disk_for(dl_alerts_t *e, double pct, int64_t ms)
{
	for (int64_t t = 0; t < ms; t += 10000) {
		disk(e, pct);
		advance(e, 10000);
	}
}

static void test_threshold_hysteresis(void)
{
	dl_alerts_t *e = engine("[alert disk]\ncondition = host_disk\n"
				"threshold = 90\nfor = 5m\n",
				NULL);

	disk_for(e, 95, 290000);
	ASSERT_EQ(json_array_size(sent), 0);
	ASSERT_EQ(nalerts(e, false, "pending"), 1);
	disk_for(e, 95, 20000);
	ASSERT_EQ(json_array_size(sent), 1);
	ASSERT_STR_EQ(msg_str(0, "status"), "firing");
	ASSERT(json_real_value(json_object_get(json_array_get(sent, 0),
					       "value")) == 95.0);
	/* just under the line: the mean stays above 95% of 90 (85.5) */
	disk_for(e, 87, 900000);
	ASSERT_EQ(json_array_size(sent), 1);
	ASSERT_EQ(nalerts(e, false, "firing"), 1);
	/* a short dip keeps the mean above 85.5 */
	disk_for(e, 70, 20000);
	ASSERT_EQ(json_array_size(sent), 1);
	disk_for(e, 50, 300000);
	ASSERT_EQ(json_array_size(sent), 2);
	ASSERT_STR_EQ(msg_str(1, "status"), "resolved");
	/* a spike shorter than `for` is averaged away */
	disk_for(e, 50, 300000);
	disk_for(e, 100, 60000);
	disk_for(e, 50, 300000);
	ASSERT_EQ(json_array_size(sent), 2);
	dl_alerts_free(e);
}

static void event(dl_alerts_t *e, const char *name, const char *action,
		  const char *exit)
{
	json_t *row = json_pack("{s:s,s:s,s:s,s:s,s:I,s:{}}", "host", "app-1",
				"type", "container", "action", action, "name",
				name, "time_ns", (json_int_t)now_ms * 1000000,
				"attributes");

	if (exit)
		json_object_set_new(json_object_get(row, "attributes"),
				    "exitCode", json_string(exit));
	dl_alerts_event(e, row);
	json_decref(row);
}

/* `label = app=web`: the known labels decide (from INVENTORY or
 * CONTAINER), the message carries them; an unlabelled twin is out. */
static void test_label_scope(void)
{
	dl_alerts_t *e =
		engine("[alert sick]\ncondition = container_unhealthy\n"
		       "label = app=web\n[alert any]\n"
		       "condition = container_unhealthy\nlabel = tier\n",
		       NULL);
	dl_attr_t l[2] = {{DL_STR("app"), DL_STR("web")},
			  {DL_STR("tier"), DL_STR("front")}};
	dl_container_t v[2] = {{.name = DL_STR("web1")},
			       {.name = DL_STR("twin")}};

	ASSERT(e->rules[0].has_label);
	ASSERT_STR_EQ(e->rules[0].label.key, "app");
	ASSERT_STR_EQ(e->rules[0].label.value, "web");
	v[0].labels = (dl_labels_t){.has = true, .n = 2, .v = l};
	v[1].labels = (dl_labels_t){.has = true};
	dl_alerts_inventory(e, "app-1", v, 2);
	event(e, "twin", "health_status: unhealthy", NULL);
	ASSERT_EQ(json_array_size(sent), 0);
	event(e, "web1", "health_status: unhealthy", NULL);
	ASSERT_EQ(json_array_size(sent), 2);
	ASSERT_STR_EQ(msg_str(0, "container"), "web1");
	ASSERT_STR_EQ(
		json_string_value(json_object_get(
			json_object_get(json_array_get(sent, 0), "labels"),
			"tier")),
		"front");
	/* an INVENTORY without labels for web1 keeps the known ones */
	v[0].labels.has = false;
	dl_alerts_inventory(e, "app-1", v, 2);
	event(e, "web1", "health_status: healthy", NULL);
	ASSERT_EQ(json_array_size(sent), 4);
	ASSERT_STR_EQ(msg_str(2, "status"), "resolved");
	/* removed: forgotten, so the event's own attributes decide */
	dl_alerts_container(e, "app-1", true, &v[0]);
	json_array_clear(sent);
	event(e, "web1", "health_status: unhealthy", NULL);
	ASSERT_EQ(json_array_size(sent), 0);
	/* a failed send is kept on the alert, a later success clears it */
	dl_alerts_inventory(e, "app-1", v, 1);
	v[0].labels.has = true;
	dl_alerts_container(e, "app-1", false, &v[0]);
	event(e, "web1", "health_status: unhealthy", NULL);
	ASSERT_EQ(json_array_size(sent), 2);
	{
		json_t *lst = dl_alerts_list(e, false, 0, NULL);
		json_t *row = json_array_get(lst, 0);
		int64_t id = 0;
		size_t k;
		inst_t *in;

		ASSERT(json_is_null(json_object_get(row, "notify_error")));
		json_decref(lst);
		for (size_t b = 0; b < e->nbuckets && !id; b++)
			for (in = e->hash[b]; in; in = in->next)
				if (in->state == A_FIRING)
					id = in->id;
		ASSERT(id > 0);
		dl_alerts_notified(e, id, "ops", false, "HTTP 500");
		lst = dl_alerts_list(e, false, 0, NULL);
		ASSERT(nalerts(e, false, "firing") == 2);
		{
			bool seen = false;
			size_t i;

			json_array_foreach(lst, i, row) seen |=
				json_is_string(
					json_object_get(row, "notify_error")) &&
				!strcmp(json_string_value(json_object_get(
						row, "notify_error")),
					"ops: HTTP 500");
			ASSERT(seen);
		}
		json_decref(lst);
		dl_alerts_notified(e, id, "ops", true, "200");
		lst = dl_alerts_list(e, false, 0, NULL);
		json_array_foreach(lst, k, row) ASSERT(
			json_is_null(json_object_get(row, "notify_error")));
		json_decref(lst);
	}
	dl_alerts_free(e);
}

static void test_events(void)
{
	dl_alerts_t *e =
		engine("[alert exit]\ncondition = container_exit\n"
		       "containers = api*\n[alert sick]\n"
		       "condition = container_unhealthy\nfor = 1m\n"
		       "[alert loop]\ncondition = restart_loop\ncount = 3\n"
		       "window = 10m\n[alert oom]\ncondition = container_oom\n"
		       "window = 5m\n",
		       NULL);

	/* an admin's stop: kill, then die 137 */
	event(e, "api", "kill", NULL);
	now_ms += 500;
	event(e, "api", "die", "137");
	ASSERT_EQ(json_array_size(sent), 0);
	/* a crash fires at once (for = 0); the next start resolves */
	advance(e, 60000);
	event(e, "api", "die", "1");
	ASSERT_EQ(json_array_size(sent), 1);
	ASSERT_STR_EQ(msg_str(0, "rule"), "exit");
	ASSERT_STR_EQ(msg_str(0, "container"), "api");
	event(e, "api", "start", NULL);
	ASSERT_EQ(json_array_size(sent), 2);
	ASSERT_STR_EQ(msg_str(1, "status"), "resolved");
	/* outside the containers glob: nothing */
	event(e, "worker", "die", "2");
	ASSERT_EQ(json_array_size(sent), 2);

	/* unhealthy for a minute */
	event(e, "web", "health_status: unhealthy", NULL);
	advance(e, 59000);
	ASSERT_EQ(json_array_size(sent), 2);
	advance(e, 1000);
	ASSERT_EQ(json_array_size(sent), 3);
	ASSERT_STR_EQ(msg_str(2, "summary"), "app-1/web is unhealthy");
	event(e, "web", "health_status: healthy", NULL);
	ASSERT_EQ(json_array_size(sent), 4);

	/* three starts (with a restart after one: counted once) */
	event(e, "cron", "start", NULL);
	event(e, "cron", "restart", NULL);
	advance(e, 20000);
	event(e, "cron", "start", NULL);
	ASSERT_EQ(json_array_size(sent), 4);
	advance(e, 20000);
	event(e, "cron", "start", NULL);
	ASSERT_EQ(json_array_size(sent), 5);
	ASSERT_STR_EQ(msg_str(4, "rule"), "loop");
	/* quiet for the window: resolved */
	advance(e, 600000);
	ASSERT_EQ(json_array_size(sent), 6);
	ASSERT_STR_EQ(msg_str(5, "status"), "resolved");

	event(e, "db", "oom", NULL);
	ASSERT_EQ(json_array_size(sent), 7);
	advance(e, 301000);
	ASSERT_EQ(json_array_size(sent), 8);
	dl_alerts_free(e);
}

static void test_silence(void)
{
	dl_alerts_t *e = engine("[alert exit]\ncondition = container_exit\n"
				"[alert off]\ncondition = host_offline\n"
				"for = 0\n",
				NULL);
	dl_silence_req_t s = {.host = "app-*",
			      .container = "api",
			      .by = "uid 0",
			      .duration_ms = 3600000};
	json_t *l;

	ASSERT_GT(dl_alerts_silence_add(e, &s, NULL, NULL), 0);
	s.host = "bad host";
	ASSERT_EQ(dl_alerts_silence_add(e, &s, NULL, NULL), DL_EINVAL);
	event(e, "api", "die", "1");
	ASSERT_EQ(json_array_size(sent), 0);
	ASSERT_EQ(nalerts(e, false, "firing"), 1);
	l = dl_alerts_list(e, false, 0, NULL);
	ASSERT(json_is_true(json_object_get(json_array_get(l, 0), "silenced")));
	json_decref(l);
	/* the resolve of a silenced alert is not sent either */
	event(e, "api", "start", NULL);
	ASSERT_EQ(json_array_size(sent), 0);
	/* a container silence leaves the host's own alerts alone */
	dl_alerts_host(e, "app-1", false);
	ASSERT_EQ(json_array_size(sent), 1);
	/* after it ends, messages flow again */
	ASSERT_EQ(dl_alerts_silence_rm(e, 1, NULL, NULL), 0);
	ASSERT_EQ(dl_alerts_silence_rm(e, 1, NULL, NULL), DL_ENOENT);
	event(e, "api", "die", "1");
	ASSERT_EQ(json_array_size(sent), 2);
	dl_alerts_free(e);
}

static dl_alerts_t *reopen(dl_store_t *s)
{
	char err[256];
	dl_alerts_t *e = engine("[alert off]\ncondition = host_offline\n"
				"for = 2m\nrepeat = 10m\n",
				s);

	if (dl_alerts_load(e, dbpath, err, sizeof(err)))
		DL_FAIL_("%s", err);
	return e;
}

/* Pending survives a restart and fires once; firing does not repeat
 * before `repeat`. */
static void test_restart(void)
{
	dl_store_t *s = open_store("restart");
	dl_alerts_t *e = reopen(s);

	dl_alerts_host(e, "web-01", false);
	advance(e, 30000);
	wait_idle(s);
	dl_alerts_free(e);
	close_store(s);

	now_ms += 300000; /* down for 5 min: `for` elapsed meanwhile */
	s = open_store(NULL);
	e = reopen(s);
	ASSERT_EQ(nalerts(e, false, "pending"), 1);
	ASSERT_EQ(json_array_size(sent), 0);
	advance(e, 1000);
	ASSERT_EQ(json_array_size(sent), 1);
	advance(e, 5000);
	ASSERT_EQ(json_array_size(sent), 1);
	wait_idle(s);
	dl_alerts_free(e);
	close_store(s);

	now_ms += 60000;
	s = open_store(NULL);
	e = reopen(s);
	ASSERT_EQ(nalerts(e, false, "firing"), 1);
	advance(e, 500000); /* 10 min since the message: not yet */
	ASSERT_EQ(json_array_size(sent), 0);
	advance(e, 40000);
	ASSERT_EQ(json_array_size(sent), 1);
	/* resolved, stored, and shown after another restart */
	dl_alerts_host(e, "web-01", true);
	ASSERT_EQ(json_array_size(sent), 2);
	wait_idle(s);
	dl_alerts_free(e);
	close_store(s);

	s = open_store(NULL);
	e = reopen(s);
	ASSERT_EQ(nalerts(e, false, NULL), 0);
	ASSERT_EQ(nalerts(e, true, "resolved"), 1);
	/* silences are kept too */
	{
		dl_silence_req_t r = {.host = "web-01",
				      .by = "uid 0",
				      .duration_ms = 3600000};
		json_t *l;

		ASSERT_EQ(dl_alerts_silence_add(e, &r, NULL, NULL), 1);
		wait_idle(s);
		dl_alerts_free(e);
		close_store(s);
		s = open_store(NULL);
		e = reopen(s);
		l = dl_alerts_silence_list(e);
		ASSERT_EQ(json_array_size(l), 1);
		json_decref(l);
		r.host = "web-02";
		ASSERT_EQ(dl_alerts_silence_add(e, &r, NULL, NULL), 2);
	}
	wait_idle(s);
	dl_alerts_free(e);
	close_store(s);
}

/* collector.conf's `include`: files in sorted order, every error names
 * the included file and line, nothing but [alert NAME] in them, a name
 * defined twice is refused, no match is no rules. */
static void test_include(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"[alert y]\n\ncondition = host_offlin\n",
		 "inc/b.conf:3: [alert y] condition"},
		{"[alert y]\ncondition = docker_down\n\ntreshold = 5\n",
		 "inc/b.conf:4: unknown setting alert y.treshold"},
		{"[collector]\ndatabase = /tmp/x.db\n",
		 "inc/b.conf:2: unknown setting collector.database"},
		{"[alert x]\ncondition = docker_down\n",
		 "inc/b.conf:2: [alert x] is already defined at "},
		{"[alert y]\ncondition = host_disk\nthreshold = 101\n",
		 "inc/b.conf:3: [alert y] threshold"},
	};
	dl_alert_rule_t *r;
	char err[512], conf[160], inc[160], path[200];
	size_t n;

	snprintf(inc, sizeof(inc), "%s/inc", dir);
	ASSERT_EQ(mkdir(inc, 0700), 0);
	snprintf(conf, sizeof(conf), "%s/main.conf", dir);
	snprintf(path, sizeof(path),
		 "[collector]\ninclude = %s/*.conf\n"
		 "[alert first]\ncondition = docker_down\n",
		 inc);
	write_file(conf, path);
	/* an empty alerts.d: collector.conf's rules only */
	ASSERT_EQ(
		dl_alert_rules_load(conf, NULL, NULL, &r, &n, err, sizeof(err)),
		0);
	ASSERT_EQ(n, 1);
	free(r);
	snprintf(path, sizeof(path), "%s/a.conf", inc);
	write_file(path, "# a\n[alert x]\ncondition = host_offline\n");
	snprintf(path, sizeof(path), "%s/b.conf", inc);
	write_file(path, "[alert y]\ncondition = host_cpu\nthreshold = 80\n");
	snprintf(path, sizeof(path), "%s/b.conf.off", inc);
	write_file(path, "[alert z]\ncondition = nothing\n");
	ASSERT_EQ(
		dl_alert_rules_load(conf, NULL, NULL, &r, &n, err, sizeof(err)),
		0);
	ASSERT_EQ(n, 3);
	ASSERT_STR_EQ(r[0].name, "first");
	ASSERT_STR_EQ(r[1].name, "x");
	ASSERT_STR_EQ(r[2].name, "y");
	ASSERT(r[2].threshold == 80.0);
	free(r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "%s/b.conf", inc);
		write_file(path, bad[i].text);
		err[0] = '\0';
		ASSERT_EQ(dl_alert_rules_load(conf, NULL, NULL, &r, &n, err,
					      sizeof(err)),
			  DL_ECONFIG);
		ASSERT(r == NULL && n == 0);
		if (!strstr(err, bad[i].want))
			DL_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, err,
				 bad[i].want);
		if (i == 3)
			ASSERT(strstr(err, "already defined at ") &&
			       strstr(err, "/inc/a.conf:3"));
	}
	/* the channel check reaches included rules too */
	write_file(path,
		   "[alert y]\ncondition = docker_down\nnotify = pager\n");
	ASSERT_EQ(dl_alert_rules_load(conf, no_channels, NULL, &r, &n, err,
				      sizeof(err)),
		  DL_ECONFIG);
	ASSERT(strstr(err, "inc/b.conf:3: [alert y] notify names channel"));
	/* a directory matching the glob is refused, not read as empty */
	unlink(path);
	snprintf(path, sizeof(path), "%s/d.conf", inc);
	ASSERT_EQ(mkdir(path, 0700), 0);
	ASSERT_EQ(
		dl_alert_rules_load(conf, NULL, NULL, &r, &n, err, sizeof(err)),
		DL_ECONFIG);
	ASSERT(strstr(err, "d.conf: included, but not a readable regular"));
	rmdir(path);
	/* a directory that is not there is no files; one that cannot be
	 * read stops the start */
	snprintf(path, sizeof(path), "[collector]\ninclude = %s/none/*.conf\n",
		 dir);
	write_file(conf, path);
	ASSERT_EQ(
		dl_alert_rules_load(conf, NULL, NULL, &r, &n, err, sizeof(err)),
		0);
	ASSERT_EQ(n, 0);
	free(r);
	if (geteuid() != 0) {
		snprintf(path, sizeof(path),
			 "[collector]\ninclude = %s/inc/*.conf\n", dir);
		write_file(conf, path);
		ASSERT_EQ(chmod(inc, 0), 0);
		ASSERT_EQ(dl_alert_rules_load(conf, NULL, NULL, &r, &n, err,
					      sizeof(err)),
			  DL_ECONFIG);
		ASSERT(strstr(err, "main.conf:2: include ") &&
		       strstr(err, "Permission denied"));
		ASSERT_EQ(chmod(inc, 0700), 0);
	}
	/* conf.c: include must be absolute */
	{
		dl_cconf_t cc;

		write_file(conf, "[collector]\ninclude = alerts.d/*.conf\n");
		ASSERT_EQ(dl_cconf_load(&cc, conf, err, sizeof(err)),
			  DL_ECONFIG);
		ASSERT(strstr(err, "include must be an absolute path"));
	}
}

/* More rules than one file's old bound, up to DL_ALERT_RULES_MAX in
 * all; one more is refused naming where. */
static void test_many_rules(void)
{
	char err[512], conf[160], path[200];
	dl_alert_rule_t *r;
	size_t n;
	FILE *f = NULL;

	snprintf(conf, sizeof(conf), "%s/many.conf", dir);
	snprintf(path, sizeof(path), "[collector]\ninclude = %s/many/*.conf\n",
		 dir);
	write_file(conf, path);
	snprintf(path, sizeof(path), "%s/many", dir);
	ASSERT_EQ(mkdir(path, 0700), 0);
	for (int i = 0; i <= DL_ALERT_RULES_MAX; i++) {
		if (i % 200 == 0) {
			if (f)
				fclose(f);
			snprintf(path, sizeof(path), "%s/many/%04d.conf", dir,
				 i);
			ASSERT((f = fopen(path, "w")));
		}
		if (i == DL_ALERT_RULES_MAX) {
			fclose(f);
			ASSERT_EQ(dl_alert_rules_load(conf, NULL, NULL, &r, &n,
						      err, sizeof(err)),
				  0);
			ASSERT_EQ(n, DL_ALERT_RULES_MAX);
			ASSERT_STR_EQ(r[DL_ALERT_RULES_MAX - 1].name, "r1023");
			free(r);
			ASSERT((f = fopen(path, "a")));
		}
		fprintf(f,
			"[alert r%d]\ncondition = container_cpu\n"
			"containers = c%d\nthreshold = 50\nfor = 1m\n",
			i, i);
	}
	fclose(f);
	ASSERT_EQ(
		dl_alert_rules_load(conf, NULL, NULL, &r, &n, err, sizeof(err)),
		DL_ECONFIG);
	if (!strstr(err, "1000.conf:122: [alert r1024]: more than 1024"))
		DL_FAIL_("%s", err);
}

static void cpu(dl_alerts_t *e, const char *host, const char *ctr, double v)
{
	json_t *rows =
		json_pack("[{s:s,s:I,s:f}]", "name", ctr, "time_ns",
			  (json_int_t)now_ms * 1000000, "cpu_percent", v);

	dl_alerts_stats(e, host, "stats", rows);
	json_decref(rows);
}

/* Thresholds over many containers: the instance table grows past its
 * first size and every instance stays found; a rule's label scope
 * follows the host's labels; idle instances go and come back. */
static void test_stats_scope(void)
{
	dl_alerts_t *e = engine("[alert web]\ncondition = container_cpu\n"
				"label = app=web\nthreshold = 50\nfor = 1m\n"
				"[alert c7]\ncondition = container_cpu\n"
				"containers = c7*\nthreshold = 50\nfor = 1m\n",
				NULL);
	dl_attr_t l[1] = {{DL_STR("app"), DL_STR("web")}};
	dl_container_t v[1] = {{.name = DL_STR("/c1")}};
	char name[32];
	size_t nb0 = e->nbuckets;

	for (int i = 0; i < 3000; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		cpu(e, "app-1", name, 90);
	}
	ASSERT(e->nbuckets > nb0);
	ASSERT(e->ninst <= e->nbuckets);
	/* c7, c70..c79, c700..c799: 111 pending, the label rule none yet */
	ASSERT_EQ(nalerts(e, false, "pending"), 111);
	/* c1 gets app=web: its scope is worked out again */
	v[0].labels = (dl_labels_t){.has = true, .n = 1, .v = l};
	dl_alerts_container(e, "app-1", false, &v[0]);
	now_ms += 10000;
	cpu(e, "app-1", "c1", 90);
	ASSERT_EQ(nalerts(e, false, "pending"), 112);
	/* gone quiet, their instances are forgotten; then back */
	now_ms += 10000;
	cpu(e, "app-1", "c1", 1);
	for (int i = 700; i < 800; i++) {
		snprintf(name, sizeof(name), "c%d", i);
		cpu(e, "app-1", name, 1);
	}
	ASSERT_EQ(nalerts(e, false, "pending"), 11);
	advance(e, 2 * FORGET_MS);
	ASSERT_EQ(nalerts(e, false, "firing"), 11);
	cpu(e, "app-1", "c1", 95);
	cpu(e, "app-1", "c705", 95);
	ASSERT_EQ(nalerts(e, false, "pending"), 2);
	/* c1's rule instance goes idle and is freed while events keep its
	 * memory (which points at it): the slot is looked up again */
	now_ms += 10000;
	cpu(e, "app-1", "c1", 1);
	ASSERT(dl_alerts__get(e, 0, "app-1", "c1", false));
	for (int i = 0; i < 12; i++) {
		advance(e, 60000);
		event(e, "c1", "exec_create", NULL);
	}
	ASSERT(!dl_alerts__get(e, 0, "app-1", "c1", false));
	ASSERT(dl_alerts__get(e, e->nrules, "app-1", "c1", false));
	now_ms += 10000;
	cpu(e, "app-1", "c1", 95);
	ASSERT(dl_alerts__get(e, 0, "app-1", "c1", false));
	ASSERT_EQ(nalerts(e, false, "pending"), 1);
	dl_alerts_free(e);
}

/* The running mean over `for` equals the mean of every sample whose
 * bucket is within `for` of the newest, whatever the gaps between
 * samples (shorter than a bucket, longer than the whole window). */
static void test_mean_window(void)
{
	dl_alerts_t *e = engine("[alert c]\ncondition = container_cpu\n"
				"threshold = 1000\nfor = 100s\n",
				NULL);
	static int64_t ts[4000];
	static double vs[4000];
	int64_t w = 100000 / BUCKETS, t = now_ms;
	unsigned seed = 7;
	inst_t *in;

	for (int i = 0; i < 4000; i++) {
		double want = 0;
		int n = 0;

		seed = seed * 1103515245u + 12345u;
		t += 1 + (seed >> 8) % (i % 500 == 499 ? 300000 : 9000);
		seed = seed * 1103515245u + 12345u;
		ts[i] = t;
		vs[i] = (double)((seed >> 8) % 10000) / 100.0;
		now_ms = t;
		cpu(e, "app-1", "c", vs[i]);
		for (int k = 0; k <= i; k++)
			if (ts[k] / w > t / w - BUCKETS) {
				want += vs[k];
				n++;
			}
		want /= n;
		ASSERT((in = dl_alerts__get(e, 0, "app-1", "c", false)));
		if (fabs(in->value - want) > 1e-6)
			DL_FAIL_("sample %d: mean %.9f, want %.9f", i,
				 in->value, want);
	}
	dl_alerts_free(e);
}

/* A container that stops sends no more samples: its CPU alert resolves
 * on the die event, and a restart starts a fresh mean. */
static void test_stopped(void)
{
	dl_alerts_t *e = engine("[alert c]\ncondition = container_cpu\n"
				"threshold = 50\nfor = 20s\n",
				NULL);

	for (int i = 0; i < 4; i++) {
		now_ms += 10000;
		cpu(e, "app-1", "web1", 90);
		advance(e, 0);
		dl_alerts_tick(e);
	}
	ASSERT_EQ(nalerts(e, false, "firing"), 1);
	ASSERT_EQ(json_array_size(sent), 1);
	event(e, "web1", "die", "137");
	ASSERT_EQ(nalerts(e, false, "firing"), 0);
	ASSERT_EQ(json_array_size(sent), 2);
	ASSERT_STR_EQ(msg_str(1, "status"), "resolved");
	/* started again: one low sample is the whole mean */
	now_ms += 10000;
	cpu(e, "app-1", "web1", 10);
	ASSERT_EQ(nalerts(e, false, NULL), 0);
	dl_alerts_free(e);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/dl-alerts-XXXXXX");
	ASSERT(mkdtemp(dir));
	uv_loop_init(&loop);
	sent = json_array();
	test_config();
	test_offline_repeat();
	test_threshold_hysteresis();
	test_events();
	test_label_scope();
	test_silence();
	test_restart();
	test_include();
	test_many_rules();
	test_stats_scope();
	test_mean_window();
	test_stopped();
	json_decref(sent);
	uv_loop_close(&loop);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	printf("test_alerts: ok\n");
	return 0;
}
