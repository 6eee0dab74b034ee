/* dockline - the administrator's CLI. Talks to `dockline-collector serve`
 * over its admin socket (proto/admin.h); prints tables for people and
 * --json for scripts. Errors are sentences on stderr with exit code 1
 * (2 for usage errors). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "collector/conf.h"
#include "collector/hostlabel.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/label.h"
#include "proto/admin.h"

#define DEFAULT_EVENT_LIMIT 100

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dockline [-H ssh://USER@HOST[:PORT]] [-s ADMIN_SOCKET] "
		"[-c collector.conf]\n"
		"                [--token SECRET] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  hosts [--label K[=V]] [--labels] [--json]\n"
		"                                          hosts, online "
		"state, "
		"Docker version\n"
		"  label HOST [K=V ...] [K- ...] [--json] a host's labels: "
		"set, remove,\n"
		"                                          or list (admin)\n"
		"  ps [--host H] [-a] [--label K[=V]] [--labels] [--json]\n"
		"                                          containers across "
		"the fleet\n"
		"     [--limit N [--cursor C]] [--all-rows] (over 500 rows "
		"without --host: a summary per host)\n"
		"  events [--host H] [--since 10m] [--limit N] [-f] [--json]\n"
		"                                          Docker events, "
		"oldest first\n"
		"  stats [HOST[/CONTAINER]] [--json]      latest CPU, memory, "
		"network, block I/O\n"
		"  top [--host H] [--sort cpu|mem]         live view, every 2 "
		"s "
		"(Ctrl-C ends)\n"
		"  history HOST[/CONTAINER] [--since 24h] [--metric "
		"cpu|mem|net|blk] [--json]\n"
		"                                          chart of stored "
		"samples (a host's own: cpu|mem|net)\n"
		"  enroll NAME --key FILE.pub|'ssh-ed25519 ...'\n"
		"                                          bind an agent's "
		"key to NAME (appends to\n"
		"                                          authorized_keys "
		"from collector.conf, or prints)\n"
		"  forget NAME [--purge]                   remove NAME's key; "
		"--purge also deletes its history\n"
		"  audit [--host H] [--since 24h] [--limit N] [--json]\n"
		"                                          control requests: "
		"who, what, outcome\n"
		"  token create NAME --role read|operate|admin [--hosts GLOB] "
		"[--expires 90d]\n"
		"                                          API token (the "
		"secret is shown once)\n"
		"  token list [--json] | token revoke NAME API tokens\n"
		"  notify test CHANNEL [--json]            send a test message "
		"through a [notify]\n"
		"                                          channel, print the "
		"receiver's answer\n"
		"  notify list [--json]                    channels and hooks "
		"with their counts\n"
		"  alerts [--all] [--since 24h] [--json]   firing alerts "
		"(--all: and resolved ones)\n"
		"  silence HOST[/CONTAINER] --for 2h [--rule NAME] [--comment "
		"TEXT]\n"
		"  silence list [--json] | silence rm ID   mute an alert's "
		"messages (it still changes state)\n"
		"  metrics                                 Prometheus "
		"exposition (containers, hosts,\n"
		"                                          the collector "
		"itself)\n"
		"\n"
		"control (through the host's agent; [--timeout 30s, none for "
		"logs and exec] [--json]):\n"
		"  start|pause|unpause|inspect HOST/CONTAINER\n"
		"  top HOST/CONTAINER                      its processes\n"
		"  stop|restart HOST/CONTAINER [-t SECONDS]\n"
		"  kill HOST/CONTAINER [-s SIGNAL]\n"
		"  rename HOST/CONTAINER NEWNAME\n"
		"  rm HOST/CONTAINER [-f] [-v]\n"
		"  logs HOST/CONTAINER [-f] [--tail N] [--since 10m] "
		"[-t|--timestamps]\n"
		"  exec [-e K=V] [-w DIR] [-u USER] HOST/CONTAINER [--] CMD "
		"[ARG...]\n"
		"  images|networks|volumes|info|version|df HOST\n"
		"  prune HOST containers|images [--label K[=V]]\n"
		"deploy (the host's policy must allow the deploy class):\n"
		"  pull HOST IMAGE[:TAG]                   progress as it "
		"happens; credentials\n"
		"                                          stay on the host "
		"(its Docker config)\n"
		"  run HOST IMAGE [--name N] [-e K=V] [-p HOST:CTR[/proto]]\n"
		"      [-v SRC:DST[:ro]] [--restart POLICY] [--label K=V] "
		"[--network NET]\n"
		"      [--health-cmd CMD [--health-interval 30s]] [--memory "
		"512m] [--cpus 1.5]\n"
		"      [-- CMD...]                         create and start; "
		"prints the id\n"
		"  update HOST/CONTAINER [--restart POLICY] [--memory M] "
		"[--cpus N]\n"
		"  recreate HOST/CONTAINER [--pull] [--image IMAGE:TAG] "
		"[--wait 60s]\n"
		"                                          same config, new "
		"container; rolls\n"
		"                                          back if it does not "
		"run (healthy)\n"
		"  apply HOST FILE [--down] [--wait 60s]   a stack file "
		"(docs/DEPLOY.md): run\n"
		"                                          in depends_on "
		"order, each after its\n"
		"                                          dependencies run "
		"(healthy); existing\n"
		"                                          ones left alone; "
		"--down removes, reversed\n"
		"fleet-wide: any control or deploy command with --hosts GLOB "
		"and/or\n"
		"  --label K=V (host labels; repeatable; --host-label K=V for "
		"run and\n"
		"  prune, whose --label is the container's) instead of HOST;\n"
		"  {host} in CONTAINER is each host's name\n"
		"  (restart --hosts 'web-*' CONTAINER) [--parallel 4] "
		"[--json]; recreate\n"
		"  --rolling goes host by host and stops at the first "
		"failure; a table\n"
		"  HOST RESULT MESSAGE, exit 1 if any host is not ok\n"
		"  CONTAINER is a name or a unique id prefix. What a host "
		"allows is\n"
		"  its own choice: agent.conf [control] allow.\n"
		"\n"
		"exit codes: 0 ok, 1 the request failed (message on stderr), "
		"2 usage,\n"
		"  3 host offline or collector not running, 4 outcome unknown "
		"(no\n"
		"  answer in time, connection lost), 5 refused by the host's "
		"policy;\n"
		"  6 (-H) ssh or the relay failed before the collector "
		"answered;\n"
		"  exec exits with the command's code, or 125 when dockline "
		"failed\n"
		"default socket: %s (or admin_socket from %s)\n"
		"--token (or the environment's DOCKLINE_TOKEN, which ps "
		"cannot show)\n"
		"  sends every request as that API token, with its role and "
		"hosts\n"
		"-H ssh://USER@HOST[:PORT] (or DOCKLINE_HOST): every request "
		"goes through\n"
		"  ssh to `dockline-collector admin-relay` on HOST, as USER "
		"(who must be in\n"
		"  group dockline-admin there); -s and -c then name paths on "
		"HOST;\n"
		"  DOCKLINE_SSH_COMMAND replaces \"ssh\" (words, quotes "
		"group, no shell),\n"
		"  e.g. \"ssh -i ~/.ssh/admin -o "
		"UserKnownHostsFile=~/.ssh/kh\"\n",
		DL_ADMIN_SOCKET_DEFAULT, DL_COLLECTOR_CONF_DEFAULT);
}

int dl_cli_connect(const dl_cli_t *cli)
{
	int fd;

	if (cli->is_remote)
		return dl_cli_remote_connect(cli);
	fd = dl_admin_connect(cli->socket);
	if (fd >= 0)
		return fd;
	/* "collector not running" is exit 3 for every command, as with -H */
	if (fd == DL_ENOENT || fd == DL_ECONNREFUSED)
		dl_cli_session_failed(DL_CLI_EXIT_OFFLINE);
	if (fd == DL_ENOENT)
		fprintf(stderr,
			"dockline: collector is not running (no socket at "
			"%s)\n",
			cli->socket);
	else if (fd == DL_ECONNREFUSED)
		fprintf(stderr,
			"dockline: collector is not running (nothing listens "
			"on %s)\n",
			cli->socket);
	else if (fd == DL_EAUTH)
		fprintf(stderr,
			"dockline: permission denied on %s (are you in the "
			"dockline-admin group?)\n",
			cli->socket);
	else
		fprintf(stderr, "dockline: cannot connect to %s: %s\n",
			cli->socket, dl_strerror(fd));
	return -1;
}

json_t *dl_cli_call(const dl_cli_t *cli, json_t *req)
{
	json_t *resp = NULL, *data = NULL;
	int fd = dl_cli_connect(cli);
	int rc;

	if (fd < 0) {
		json_decref(req);
		return NULL;
	}
	rc = dl_cli_sign(cli, req) ? DL_ENOMEM
				   : dl_admin_send(fd, req, DL_ADMIN_REQ_MAX);
	if (rc == 0)
		rc = dl_admin_recv(fd, DL_ADMIN_RESP_MAX, 60000, &resp);
	dl_cli_close(fd);
	json_decref(req);
	if (rc) {
		fprintf(stderr, "dockline: no answer from the collector: %s\n",
			dl_strerror(rc));
		return NULL;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		const char *e =
			json_string_value(json_object_get(resp, "error"));

		fprintf(stderr, "dockline: %s\n", e ? e : "request failed");
		json_decref(resp);
		return NULL;
	}
	data = json_incref(json_object_get(resp, "data"));
	json_decref(resp);
	return data;
}

int dl_cli_sign(const dl_cli_t *cli, json_t *req)
{
	if (!cli->token || !req)
		return 0;
	return json_object_set_new(req, "token", json_string(cli->token)) ? -1
									  : 0;
}

int dl_cli_opt_since(const char *arg, bool zero_ok, int64_t *out)
{
	if (dl_duration_parse(arg, out) == 0 && (zero_ok || *out > 0))
		return 0;
	fprintf(stderr,
		"dockline: --since wants a duration such as 90s, 10m, 24h or "
		"7d (got \"%s\")\n",
		arg);
	return 2;
}

int dl_cli_opt_limit(const char *arg, int *out)
{
	int64_t v;

	if (dl_parse_int(arg, 1, DL_CLI_LIMIT_MAX, &v) == 0) {
		*out = (int)v;
		return 0;
	}
	fprintf(stderr,
		"dockline: --limit wants a number from 1 to %d (got \"%s\")\n",
		DL_CLI_LIMIT_MAX, arg);
	return 2;
}

const char *dl_cli_str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

void dl_cli_print_json(json_t *v)
{
	char *txt = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (txt)
		printf("%s\n", txt);
	free(txt);
}

static void ago(int64_t unix_s, char *out, size_t outlen)
{
	int64_t now = (int64_t)(dl_clock_wall_ns() / 1000000000u);
	char d[32];

	if (unix_s <= 0) {
		snprintf(out, outlen, "never");
		return;
	}
	dl_duration_format(now - unix_s, d, sizeof(d));
	snprintf(out, outlen, "%s ago", d);
}

static double jnum(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The newest host sample as "12.5", "1.2GiB / 7.8GiB", "41"; "-" before
 * the first HOSTSTATS. */
static void host_metrics(json_t *h, char *cpu, size_t cpulen, char *mem,
			 size_t memlen, char *disk, size_t disklen)
{
	double c = jnum(h, "cpu_percent"), mu = jnum(h, "mem_used_bytes");
	double mt = jnum(h, "mem_total_bytes"), du = jnum(h, "disk_used_bytes");
	double dt = jnum(h, "disk_total_bytes");
	char a[16], b[16];

	if (isnan(c))
		snprintf(cpu, cpulen, "-");
	else
		snprintf(cpu, cpulen, "%.1f", c);
	if (isnan(mu) || isnan(mt) || mt <= 0) {
		snprintf(mem, memlen, "-");
	} else {
		dl_cli_human_bytes(mu, a, sizeof(a));
		dl_cli_human_bytes(mt, b, sizeof(b));
		snprintf(mem, memlen, "%s / %s", a, b);
	}
	if (isnan(du) || isnan(dt) || dt <= 0)
		snprintf(disk, disklen, "-");
	else
		snprintf(disk, disklen, "%.0f", du / dt * 100.0);
}

/* "k=v,k2=v2" of a host's labels object, "-" when none. */
static void host_labels_text(json_t *labels, char *out, size_t outlen)
{
	const char *k;
	json_t *v;
	size_t used = 0;
	int w;

	snprintf(out, outlen, "-");
	json_object_foreach(labels, k, v)
	{
		w = snprintf(out + used, outlen - used, "%s%s=%s",
			     used ? "," : "", k, json_string_value(v));
		if (w < 0 || (size_t)w >= outlen - used)
			break;
		used += (size_t)w;
	}
}

/* hosts [--label K[=V]] [--labels] [--json]. */
static int cmd_hosts(const dl_cli_t *cli, bool json, const char *label,
		     bool show_labels)
{
	json_t *data, *sel, *h;
	char err[256];
	size_t i;

	/* the fleet-wide commands' --label rules: a typo is not "no hosts" */
	if (label && !dl_hostlabel_selector_ok(label, err, sizeof(err))) {
		fprintf(stderr, "dockline: hosts --label: %s\n", err);
		return 2;
	}
	data = dl_cli_call(cli, json_pack("{s:s}", "op", "hosts"));
	sel = label ? json_pack("[s]", label) : NULL;
	if (!data) {
		json_decref(sel);
		return 1;
	}
	for (i = json_array_size(data); sel && i-- > 0;)
		if (!dl_hostlabel_match(
			    json_object_get(json_array_get(data, i), "labels"),
			    sel))
			json_array_remove(data, i);
	json_decref(sel);
	if (json) {
		dl_cli_print_json(data);
		json_decref(data);
		return 0;
	}
	printf("%-24s %-8s %-10s %-14s %-10s %-7s %6s %-19s %6s %-20s %s%s\n",
	       "NAME", "STATUS", "LAST SEEN", "DOCKER", "CONTAINERS", "RUNNING",
	       "CPU %", "MEM", "DISK %", "HEALTH", "CONTROL",
	       show_labels ? "  LABELS" : "");
	json_array_foreach(data, i, h)
	{
		char seen[32], cpu[16], mem[40], disk[16], labels[2048] = "";
		bool online = json_is_true(json_object_get(h, "online"));
		bool dup = json_is_true(json_object_get(h, "docker_up"));

		ago(json_integer_value(json_object_get(h, "last_seen")), seen,
		    sizeof(seen));
		host_metrics(h, cpu, sizeof(cpu), mem, sizeof(mem), disk,
			     sizeof(disk));
		if (show_labels)
			host_labels_text(json_object_get(h, "labels"), labels,
					 sizeof(labels));
		printf("%-24s %-8s %-10s %-14s %-10lld %-7lld %6s %-19s %6s "
		       "%-20s %s%s%s\n",
		       dl_cli_str(h, "name"), online ? "online" : "offline",
		       online ? "now" : seen,
		       !online ? dl_cli_str(h, "docker_version")
		       : dup   ? dl_cli_str(h, "docker_version")
			       : "down",
		       (long long)json_integer_value(
			       json_object_get(h, "containers")),
		       (long long)json_integer_value(
			       json_object_get(h, "running")),
		       cpu, mem, disk, dl_cli_str(h, "health"),
		       json_is_string(json_object_get(h, "control"))
			       ? dl_cli_str(h, "control")
			       : "-",
		       show_labels ? "  " : "", labels);
	}
	json_decref(data);
	return 0;
}

/* More rows than this without --host print a summary per host. */
#define PS_SUMMARY_ROWS 500

typedef struct {
	bool all, json, all_rows;
	int limit; /* 0 = every row */
	const char *cursor;
	const char *label; /* --label K[=V] */
	bool labels;	   /* --labels: the LABELS column */
	bool is_hosts;	   /* hosts: --label K[=V] selects, --labels shows */
	bool is_ps;	   /* the options above are ps's alone */
} ps_opts_t;

/* One line per host: HOST RUNNING/TOTAL and what the others are doing
 * (rows come in host order). */
static void ps_summary(json_t *rows, bool all)
{
	size_t i = 0, n = json_array_size(rows), hosts = 0;

	printf("%-24s %-15s %s\n", "HOST", "RUNNING/TOTAL", "NOT RUNNING");
	while (i < n) {
		const char *h = dl_cli_str(json_array_get(rows, i), "host");
		size_t total = 0, running = 0, exited = 0, other = 0;

		for (; i < n &&
		       !strcmp(dl_cli_str(json_array_get(rows, i), "host"), h);
		     i++) {
			const char *st =
				dl_cli_str(json_array_get(rows, i), "state");

			total++;
			if (!strcmp(st, "running"))
				running++;
			else if (!strcmp(st, "exited"))
				exited++;
			else
				other++;
		}
		printf("%-24s %6zu/%-8zu %s%zu exited, %zu other\n", h, running,
		       total, "", exited, other);
		hosts++;
	}
	printf("%zu containers%s on %zu hosts: a summary. Every row: dockline "
	       "ps%s --all-rows, one host: --host H, pages: --limit N\n",
	       n, all ? "" : " running", hosts, all ? " -a" : "");
}

/* "k=v,k2=v2" into out (cut to fit), "-" when none or unknown. */
static void labels_text(json_t *labels, char *out, size_t outlen)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	snprintf(out, outlen, "-");
	json_object_foreach(labels, k, v)
	{
		int w = snprintf(
			out + n, outlen - n, "%s%s=%s", n ? "," : "", k,
			json_string_value(v) ? json_string_value(v) : "");

		if (w < 0 || (size_t)w >= outlen - n)
			break;
		n += (size_t)w;
	}
}

static void ps_table(json_t *rows, const ps_opts_t *ps)
{
	char labels[1024];
	json_t *c;
	size_t i;

	/* STATUS is the last column unless LABELS follows it */
	printf("%-20s %-12s %-24s %-24s %-10s %-*s%s\n", "HOST", "CONTAINER ID",
	       "NAME", "IMAGE", "STATE", ps->labels ? 28 : 0, "STATUS",
	       ps->labels ? " LABELS" : "");
	json_array_foreach(rows, i, c)
	{
		labels[0] = '\0';
		if (ps->labels)
			labels_text(json_object_get(c, "labels"), labels,
				    sizeof(labels));
		printf("%-20s %-12.12s %-24s %-24s %-10s %-*s%s%s\n",
		       dl_cli_str(c, "host"), dl_cli_str(c, "id"),
		       dl_cli_str(c, "name"), dl_cli_str(c, "image"),
		       dl_cli_str(c, "state"), ps->labels ? 28 : 0,
		       dl_cli_str(c, "status"), ps->labels ? " " : "", labels);
	}
}

static int cmd_ps(const dl_cli_t *cli, const char *host, const ps_opts_t *o)
{
	json_t *req = json_pack("{s:s,s:b}", "op", "ps", "all", o->all);
	json_t *data, *rows;
	bool paged = o->limit || o->cursor;

	if (host)
		json_object_set_new(req, "host", json_string(host));
	if (o->limit)
		json_object_set_new(req, "limit", json_integer(o->limit));
	if (o->cursor)
		json_object_set_new(req, "cursor", json_string(o->cursor));
	if (o->label)
		json_object_set_new(req, "label", json_string(o->label));
	data = dl_cli_call(cli, req);
	if (!data)
		return 1;
	if (o->json) {
		dl_cli_print_json(data);
		json_decref(data);
		return 0;
	}
	rows = paged ? json_object_get(data, "rows") : data;
	if (!paged && !host && !o->all_rows &&
	    json_array_size(rows) > PS_SUMMARY_ROWS)
		ps_summary(rows, o->all);
	else
		ps_table(rows, o);
	if (paged && json_is_string(json_object_get(data, "next")))
		printf("more: dockline ps%s%s%s --limit %d --cursor %s\n",
		       o->all ? " -a" : "", host ? " --host " : "",
		       host ? host : "", o->limit ? o->limit : PS_SUMMARY_ROWS,
		       dl_cli_str(data, "next"));
	json_decref(data);
	return 0;
}

static void print_event(json_t *e, bool json)
{
	char stamp[32];
	int64_t ns = json_integer_value(json_object_get(e, "time_ns"));
	time_t secs = (time_t)(ns / 1000000000);
	struct tm tm;

	if (json) {
		char *txt = json_dumps(e, JSON_COMPACT);

		if (txt)
			printf("%s\n", txt);
		free(txt);
		return;
	}
	localtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s  %-20s %-9s %-24s %-12.12s %s\n", stamp,
	       dl_cli_str(e, "host"), dl_cli_str(e, "type"),
	       dl_cli_str(e, "action"), dl_cli_str(e, "id"),
	       dl_cli_str(e, "name"));
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	interrupted = 1;
}

static int cmd_events(const dl_cli_t *cli, const char *host, int64_t since_s,
		      int limit, bool follow, bool json)
{
	uint64_t since_ns = 0;
	json_int_t after = 0;
	bool first = true;

	if (since_s > 0)
		since_ns = dl_clock_wall_ns() - (uint64_t)since_s * 1000000000u;
	if (follow)
		return dl_cli_events_follow(cli, host, since_ns, limit, json,
					    print_event);
	signal(SIGINT, on_sigint);
	signal(SIGPIPE, SIG_DFL);
	do {
		json_t *req =
			json_pack("{s:s,s:I,s:I,s:i}", "op", "events",
				  "since_ns", (json_int_t)since_ns, "after",
				  after, "limit", first ? limit : 100000);
		json_t *data, *e;
		size_t i;

		if (host)
			json_object_set_new(req, "host", json_string(host));
		data = dl_cli_call(cli, req);
		if (!data)
			return 1;
		if (json && !follow) {
			dl_cli_print_json(data);
		} else {
			if (first && !json)
				printf("%-19s  %-20s %-9s %-24s %-12s %s\n",
				       "TIME", "HOST", "TYPE", "ACTION", "ID",
				       "NAME");
			json_array_foreach(data, i, e)
			{
				print_event(e, json);
			}
		}
		json_array_foreach(data, i, e)
		{
			json_int_t seq =
				json_integer_value(json_object_get(e, "seq"));

			if (seq > after)
				after = seq;
		}
		json_decref(data);
		fflush(stdout);
		first = false;
	} while (follow && !interrupted);
	return 0;
}

static int parse_cmd_opts(int argc, char **argv, const char **host, bool *all,
			  bool *json, bool *follow, int64_t *since_s,
			  int *limit, ps_opts_t *ps)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},
		{"all", no_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{"follow", no_argument, NULL, 'f'},
		{"since", required_argument, NULL, 'S'},
		{"limit", required_argument, NULL, 'n'},
		{"cursor", required_argument, NULL, 'C'},
		{"all-rows", no_argument, NULL, 'R'},
		{"label", required_argument, NULL, 'l'},
		{"labels", no_argument, NULL, 'L'},
		{NULL, 0, NULL, 0},
	};
	dl_label_filter_t lf;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "H:afn:", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (!dl_host_name_valid(optarg)) {
				fprintf(stderr,
					"dockline: invalid host name \"%s\"\n",
					optarg);
				return 2;
			}
			*host = optarg;
			break;
		case 'a': *all = true; break;
		case 'j': *json = true; break;
		case 'f': *follow = true; break;
		case 'S':
			if (dl_cli_opt_since(optarg, true, since_s))
				return 2;
			break;
		case 'n':
			if (dl_cli_opt_limit(optarg, limit))
				return 2;
			ps->limit = *limit;
			break;
		case 'C': ps->cursor = optarg; break;
		case 'R': ps->all_rows = true; break;
		case 'l':
			if (!(ps->is_ps || ps->is_hosts) ||
			    dl_label_filter_parse(optarg, &lf) != 0) {
				fprintf(stderr, "dockline: %s\n",
					ps->is_ps || ps->is_hosts
						? "--label takes K or K=V"
						: "--label is for ps and "
						  "hosts");
				return 2;
			}
			ps->label = optarg;
			break;
		case 'L':
			if (!ps->is_ps && !ps->is_hosts) {
				fprintf(stderr, "dockline: --labels is for ps "
						"and hosts\n");
				return 2;
			}
			ps->labels = true;
			break;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dockline: unexpected argument %s\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

static int resolve_socket(dl_cli_t *cli, const char *sock_opt)
{
	static dl_cconf_t conf;
	char err[1024];

	/* the relay reads the collector host's own config */
	if (cli->is_remote) {
		cli->socket = sock_opt;
		return 0;
	}
	if (sock_opt) {
		cli->socket = sock_opt;
		return 0;
	}
	if (!cli->conf_path && access(DL_COLLECTOR_CONF_DEFAULT, R_OK) == 0)
		cli->conf_path = DL_COLLECTOR_CONF_DEFAULT;
	if (dl_cconf_load(&conf, cli->conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "dockline: %s\n", err);
		return 1;
	}
	cli->socket = conf.admin_socket;
	return 0;
}

/* Any argument (not an option) of the form HOST/CONTAINER. */
static bool names_container(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (argv[i][0] != '-' && strchr(argv[i], '/'))
			return true;
	return false;
}

static int cli_main(int argc, char **argv)
{
	dl_cli_t cli = {0};
	const char *sock = NULL, *host = NULL, *cmd, *url = NULL;
	bool all = false, json = false, follow = false;
	int64_t since_s = 0;
	int limit = DEFAULT_EVENT_LIMIT;
	ps_opts_t pso = {0};
	int i = 1, rc;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--version")) {
			printf("dockline %s\n", DL_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-s") && i + 1 < argc) {
			sock = argv[++i];
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			cli.conf_path = argv[++i];
		} else if (!strcmp(argv[i], "--token") && i + 1 < argc) {
			cli.token = argv[++i];
		} else if (!strcmp(argv[i], "-H") && i + 1 < argc) {
			url = argv[++i];
		} else {
			fprintf(stderr, "dockline: unknown option %s\n",
				argv[i]);
			usage(stderr);
			return 2;
		}
	}
	if (i == argc) {
		usage(stderr);
		return 2;
	}
	if (!cli.token && getenv("DOCKLINE_TOKEN") &&
	    getenv("DOCKLINE_TOKEN")[0])
		cli.token = getenv("DOCKLINE_TOKEN");
	if (cli.token && strlen(cli.token) > 256) {
		fprintf(stderr, "dockline: the token is too long\n");
		return 2;
	}
	if (!url && getenv("DOCKLINE_HOST") && getenv("DOCKLINE_HOST")[0])
		url = getenv("DOCKLINE_HOST");
	if (url) {
		cli.socket = sock;
		rc = dl_cli_remote_setup(&cli, url);
		if (rc)
			return rc;
	}
	cmd = argv[i];
	argc -= i;
	argv += i;
	/* both edit authorized_keys on the collector host */
	if (url && (!strcmp(cmd, "enroll") || !strcmp(cmd, "forget"))) {
		fprintf(stderr,
			"dockline: %s edits files on the collector host: run "
			"it there (without -H or DOCKLINE_HOST)\n",
			cmd);
		return DL_CLI_EXIT_USAGE;
	}
	if (!strcmp(cmd, "enroll"))
		return dl_cli_enroll(&cli, argc, argv);
	/* `top HOST/CONTAINER` lists processes; `top` is the live view. */
	if (!strcmp(cmd, "top") && names_container(argc, argv))
		return resolve_socket(&cli, sock)
			       ? DL_CLI_EXIT_FAIL
			       : dl_cli_control(&cli, argc, argv);
	if (!strcmp(cmd, "stats") || !strcmp(cmd, "top") ||
	    !strcmp(cmd, "history"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_stats(&cli, argc, argv);
	if (!strcmp(cmd, "forget")) {
		if (resolve_socket(&cli, sock))
			return 1;
		return dl_cli_forget(&cli, argc, argv);
	}
	if (!strcmp(cmd, "apply"))
		return resolve_socket(&cli, sock)
			       ? DL_CLI_EXIT_FAIL
			       : dl_cli_apply(&cli, argc, argv);
	if (!strcmp(cmd, "label"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_label(&cli, argc, argv);
	if (!strcmp(cmd, "token"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_token(&cli, argc, argv);
	if (!strcmp(cmd, "notify"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_notify(&cli, argc, argv);
	if (!strcmp(cmd, "metrics"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_metrics(&cli, argc, argv);
	if (!strcmp(cmd, "alerts"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_alerts(&cli, argc, argv);
	if (!strcmp(cmd, "silence"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_silence(&cli, argc, argv);
	if (!strcmp(cmd, "audit"))
		return resolve_socket(&cli, sock)
			       ? 1
			       : dl_cli_audit(&cli, argc, argv);
	if (dl_cli_is_control(cmd))
		return resolve_socket(&cli, sock)
			       ? DL_CLI_EXIT_FAIL
			       : dl_cli_control(&cli, argc, argv);
	if (strcmp(cmd, "hosts") && strcmp(cmd, "ps") &&
	    strcmp(cmd, "events")) {
		fprintf(stderr, "dockline: unknown command %s\n", cmd);
		usage(stderr);
		return 2;
	}
	pso.is_ps = !strcmp(cmd, "ps");
	pso.is_hosts = !strcmp(cmd, "hosts");
	rc = parse_cmd_opts(argc, argv, &host, &all, &json, &follow, &since_s,
			    &limit, &pso);
	if (rc)
		return rc;
	if (resolve_socket(&cli, sock))
		return 1;
	if (!strcmp(cmd, "hosts"))
		return cmd_hosts(&cli, json, pso.label, pso.labels);
	if (!strcmp(cmd, "ps")) {
		pso.all = all;
		pso.json = json;
		if (pso.limit > 10000) {
			fprintf(stderr, "dockline: ps --limit: 1 to 10000\n");
			return 2;
		}
		return cmd_ps(&cli, host, &pso);
	}
	return cmd_events(&cli, host, since_s, limit, follow, json);
}

int main(int argc, char **argv)
{
	return dl_cli_exit(cli_main(argc, argv));
}
