/* stats.c - `dockline stats|top|history`: container resource usage from
 * the collector's stored samples. Latest values as a table or --json, a
 * refreshing top view, and a terminal chart of one container's history.
 * It only reads through the admin socket; it never touches the database
 * itself. */
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
#include "collector/query.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"

#define TARGET_MAX	200
#define CHART_W		60
#define CHART_H		10
#define TOP_PERIOD_S	2
#define DEFAULT_SINCE_S (24 * 3600)

typedef struct {
	char host[64];
	char ctr[TARGET_MAX];
	bool has_host, has_ctr;
	bool json;
	const char *sort;   /* top: cpu|mem */
	const char *metric; /* history: cpu|mem|net|blk */
	int64_t since_s;
} opts_t;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* "HOST" or "HOST/CONTAINER"; the host part must be a valid name. */
static int parse_target(const char *arg, opts_t *o)
{
	const char *slash = strchr(arg, '/');
	size_t hl = slash ? (size_t)(slash - arg) : strlen(arg);

	if (hl == 0 || hl >= sizeof(o->host)) {
		fprintf(stderr, "dockline: invalid host in \"%s\"\n", arg);
		return 2;
	}
	memcpy(o->host, arg, hl);
	o->host[hl] = '\0';
	if (!dl_host_name_valid(o->host)) {
		fprintf(stderr, "dockline: invalid host name \"%s\"\n",
			o->host);
		return 2;
	}
	o->has_host = true;
	if (slash) {
		if (!slash[1] || strlen(slash + 1) >= sizeof(o->ctr)) {
			fprintf(stderr,
				"dockline: HOST/CONTAINER wants a container "
				"name or id after the slash\n");
			return 2;
		}
		snprintf(o->ctr, sizeof(o->ctr), "%s", slash + 1);
		o->has_ctr = true;
	}
	return 0;
}

static int parse_opts(const char *cmd, int argc, char **argv, opts_t *o)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"host", required_argument, NULL, 'H'},
		{"sort", required_argument, NULL, 'o'},
		{"metric", required_argument, NULL, 'm'},
		{"since", required_argument, NULL, 'S'},
		{NULL, 0, NULL, 0},
	};
	int ch, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "H:", opts, NULL)) != -1) {
		switch (ch) {
		case 'j': o->json = true; break;
		case 'H':
			if ((rc = parse_target(optarg, o)))
				return rc;
			break;
		case 'o':
			if (strcmp(optarg, "cpu") && strcmp(optarg, "mem")) {
				fprintf(stderr,
					"dockline: --sort wants cpu or mem\n");
				return 2;
			}
			o->sort = optarg;
			break;
		case 'm':
			if (strcmp(optarg, "cpu") && strcmp(optarg, "mem") &&
			    strcmp(optarg, "net") && strcmp(optarg, "blk")) {
				fprintf(stderr, "dockline: --metric wants cpu, "
						"mem, net or blk\n");
				return 2;
			}
			o->metric = optarg;
			break;
		case 'S':
			if (dl_cli_opt_since(optarg, false, &o->since_s))
				return 2;
			break;
		default: return 2;
		}
	}
	if (optind < argc && strcmp(cmd, "top")) {
		if ((rc = parse_target(argv[optind++], o)))
			return rc;
	}
	if (optind != argc) {
		fprintf(stderr, "dockline: unexpected argument %s\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* A JSON number as double; NAN for null or absent. */
static double num(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* "512B", "1.5KiB", "3.2GiB"; "-" when unknown. */
void dl_cli_human_bytes(double v, char *out, size_t n)
{
	static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	if (isnan(v)) {
		snprintf(out, n, "-");
		return;
	}
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.1f%s" : "%.0f%s", v, unit[u]);
}

static json_t *fetch_stats(const dl_cli_t *cli, const opts_t *o)
{
	json_t *req = json_pack("{s:s}", "op", "stats");

	if (o->has_host)
		json_object_set_new(req, "host", json_string(o->host));
	if (o->has_ctr)
		json_object_set_new(req, "container", json_string(o->ctr));
	return dl_cli_call(cli, req);
}

static void print_table(json_t *data)
{
	json_t *r;
	size_t i;

	printf("%-20s %-24s %7s %19s %6s %19s %19s %5s %s\n", "HOST", "NAME",
	       "CPU %", "MEM / LIMIT", "MEM %", "NET RX / TX", "BLOCK R / W",
	       "PIDS", "HEALTH");
	json_array_foreach(data, i, r)
	{
		char mu[16], ml[16], rx[16], tx[16], br[16], bw[16], mem[40],
			net[40], blk[40], cpu[16], mp[16], pids[16];
		double lim = num(r, "mem_limit"), m = num(r, "mem_bytes");

		dl_cli_human_bytes(m, mu, sizeof(mu));
		dl_cli_human_bytes(lim > 0 ? lim : NAN, ml, sizeof(ml));
		dl_cli_human_bytes(num(r, "net_rx_bytes"), rx, sizeof(rx));
		dl_cli_human_bytes(num(r, "net_tx_bytes"), tx, sizeof(tx));
		dl_cli_human_bytes(num(r, "blk_read_bytes"), br, sizeof(br));
		dl_cli_human_bytes(num(r, "blk_write_bytes"), bw, sizeof(bw));
		snprintf(mem, sizeof(mem), "%s / %s", mu, ml);
		snprintf(net, sizeof(net), "%s / %s", rx, tx);
		snprintf(blk, sizeof(blk), "%s / %s", br, bw);
		if (isnan(num(r, "cpu_percent")))
			snprintf(cpu, sizeof(cpu), "-");
		else
			snprintf(cpu, sizeof(cpu), "%.2f",
				 num(r, "cpu_percent"));
		if (lim > 0 && !isnan(m))
			snprintf(mp, sizeof(mp), "%.1f", m / lim * 100.0);
		else
			snprintf(mp, sizeof(mp), "-");
		if (isnan(num(r, "pids")))
			snprintf(pids, sizeof(pids), "-");
		else
			snprintf(pids, sizeof(pids), "%.0f", num(r, "pids"));
		printf("%-20s %-24.24s %7s %19s %6s %19s %19s %5s %s\n",
		       dl_cli_str(r, "host"), dl_cli_str(r, "name"), cpu, mem,
		       mp, net, blk, pids,
		       dl_cli_str(r, "health")[0] ? dl_cli_str(r, "health")
						  : "-");
	}
}

static int cmd_stats(const dl_cli_t *cli, const opts_t *o)
{
	json_t *data = fetch_stats(cli, o);

	if (!data)
		return 1;
	if (o->json)
		dl_cli_print_json(data);
	else
		print_table(data);
	json_decref(data);
	return 0;
}

static const char *sort_key;

/* Descending; unknown values last. */
static int by_key(const void *a, const void *b)
{
	double x = num(*(json_t *const *)a, sort_key);
	double y = num(*(json_t *const *)b, sort_key);

	if (isnan(x) || isnan(y))
		return isnan(x) - isnan(y);
	return (x < y) - (x > y);
}

static int cmd_top(const dl_cli_t *cli, const opts_t *o)
{
	bool tty = isatty(STDOUT_FILENO);

	sort_key = o->sort && !strcmp(o->sort, "mem") ? "mem_bytes"
						      : "cpu_percent";
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	do {
		json_t *data = fetch_stats(cli, o), *sorted, *r;
		size_t n, i;
		json_t **v;

		if (!data)
			return 1;
		n = json_array_size(data);
		v = calloc(n ? n : 1, sizeof(*v));
		sorted = json_array();
		if (!v || !sorted) {
			free(v);
			json_decref(sorted);
			json_decref(data);
			fprintf(stderr, "dockline: out of memory\n");
			return 1;
		}
		json_array_foreach(data, i, r)
		{
			v[i] = r;
		}
		qsort(v, n, sizeof(*v), by_key);
		for (i = 0; i < n; i++)
			json_array_append(sorted, v[i]);
		if (tty)
			printf("\033[H\033[2J");
		print_table(sorted);
		fflush(stdout);
		free(v);
		json_decref(sorted);
		json_decref(data);
		for (int t = 0; tty && t < TOP_PERIOD_S * 10 && !interrupted;
		     t++)
			usleep(100 * 1000);
	} while (tty && !interrupted);
	return 0;
}

/* The value history draws for sample i: cpu and mem directly, net and blk
 * as a rate from the previous sample (NAN across a counter reset). */
static double metric_at(json_t *data, size_t i, const char *metric)
{
	static const char *const pair[][2] = {
		{"net_rx_bytes", "net_tx_bytes"},
		{"blk_read_bytes", "blk_write_bytes"}};
	json_t *cur = json_array_get(data, i), *prev;
	double dt, a, b;
	int k;

	if (!strcmp(metric, "cpu"))
		return num(cur, "cpu_percent");
	if (!strcmp(metric, "mem"))
		return json_object_get(cur, "mem_bytes")
			       ? num(cur, "mem_bytes")
			       : num(cur, "mem_used_bytes");
	if (i == 0)
		return NAN;
	k = !strcmp(metric, "net") ? 0 : 1;
	prev = json_array_get(data, i - 1);
	dt = (num(cur, "time_ns") - num(prev, "time_ns")) / 1e9;
	a = num(cur, pair[k][0]) + num(cur, pair[k][1]);
	b = num(prev, pair[k][0]) + num(prev, pair[k][1]);
	if (!(dt > 0) || isnan(a) || isnan(b) || a < b)
		return NAN;
	return (a - b) / dt;
}

static void axis_label(const char *metric, double v, char *out, size_t n)
{
	char b[16];

	if (!strcmp(metric, "cpu")) {
		snprintf(out, n, "%.1f%%", v);
		return;
	}
	dl_cli_human_bytes(v, b, sizeof(b));
	snprintf(out, n, "%s%s", b, strcmp(metric, "mem") ? "/s" : "");
}

static void time_label(int64_t ns, bool day, char *out, size_t n)
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, n, day ? "%m-%d %H:%M" : "%H:%M:%S", &tm);
}

/* CHART_W columns over [from, to], each the average of its samples,
 * CHART_H rows from 0 to the maximum. */
static void draw_chart(json_t *data, const char *metric, int64_t from,
		       int64_t to)
{
	double col[CHART_W], max = 0;
	int cnt[CHART_W] = {0};
	char lab[3][24], t0[24], t1[24];
	size_t n = json_array_size(data);

	for (int c = 0; c < CHART_W; c++)
		col[c] = 0;
	for (size_t i = 0; i < n; i++) {
		double v = metric_at(data, i, metric);
		int64_t t = (int64_t)num(json_array_get(data, i), "time_ns");
		int c;

		if (isnan(v) || t < from || t > to)
			continue;
		/* the collector's bucket starts land exactly on column
		 * edges; the epsilon keeps rounding from moving them left */
		c = (int)((double)(t - from) / (double)(to - from) * CHART_W +
			  1e-6);
		c = c >= CHART_W ? CHART_W - 1 : c;
		col[c] += v;
		cnt[c]++;
	}
	for (int c = 0; c < CHART_W; c++) {
		col[c] = cnt[c] ? col[c] / cnt[c] : NAN;
		if (cnt[c] && col[c] > max)
			max = col[c];
	}
	if (max <= 0)
		max = !strcmp(metric, "cpu") ? 100 : 1;
	axis_label(metric, max, lab[0], sizeof(lab[0]));
	axis_label(metric, max / 2, lab[1], sizeof(lab[1]));
	axis_label(metric, 0, lab[2], sizeof(lab[2]));
	for (int r = CHART_H; r >= 1; r--) {
		const char *l = r == CHART_H		 ? lab[0]
				: r == (CHART_H + 1) / 2 ? lab[1]
							 : "";

		printf("%10s |", l);
		for (int c = 0; c < CHART_W; c++) {
			double h = isnan(col[c]) ? -1 : col[c] / max * CHART_H;

			putchar(h >= r - 0.5	     ? '#'
				: (h >= 0 && r == 1) ? '_'
						     : ' ');
		}
		putchar('\n');
	}
	printf("%10s +", lab[2]);
	for (int c = 0; c < CHART_W; c++)
		putchar('-');
	putchar('\n');
	time_label(from, to - from > 86400000000000ll, t0, sizeof(t0));
	time_label(to, to - from > 86400000000000ll, t1, sizeof(t1));
	printf("%10s  %-*s%s\n", "", CHART_W - (int)strlen(t1), t0, t1);
}

static int cmd_history(const dl_cli_t *cli, const opts_t *o)
{
	static const char *const tier_name[] = {
		"raw samples", "1-minute averages", "1-hour averages"};
	int64_t to = (int64_t)dl_clock_wall_ns();
	int64_t since = o->since_s ? o->since_s : DEFAULT_SINCE_S;
	int64_t from = to - since * 1000000000ll;
	const char *metric = o->metric ? o->metric : "cpu";
	int points = o->json ? 0 : CHART_W;
	int tier = dl_query_tier_points(since, points);
	json_t *req, *data;
	char span[32];

	if (!o->has_host) {
		fprintf(stderr,
			"dockline: history wants HOST or HOST/CONTAINER "
			"(e.g. app-01 or app-01/web)\n");
		return 2;
	}
	if (!o->has_ctr && !strcmp(metric, "blk")) {
		fprintf(stderr, "dockline: a host's history has cpu, mem and "
				"net, not blk\n");
		return 2;
	}
	/* The chart needs one point per column: the collector averages,
	 * so 24 h of samples cross the socket as 60 rows. */
	req = json_pack("{s:s,s:s,s:I,s:I,s:i,s:i}", "op", "history", "host",
			o->host, "since_ns", (json_int_t)from, "until_ns",
			(json_int_t)to, "tier", tier, "points", points);
	if (req && o->has_ctr)
		json_object_set_new(req, "container", json_string(o->ctr));
	if (!(data = dl_cli_call(cli, req)))
		return 1;
	if (o->json) {
		dl_cli_print_json(data);
		json_decref(data);
		return 0;
	}
	dl_duration_format(since, span, sizeof(span));
	printf("%s%s%s %s, last %s (%s, %zu points)\n", o->host,
	       o->has_ctr ? "/" : "", o->ctr,
	       !strcmp(metric, "cpu")	? "CPU %"
	       : !strcmp(metric, "mem") ? "memory"
	       : !strcmp(metric, "net") ? "network rx+tx"
					: "block read+write",
	       span, tier_name[tier], json_array_size(data));
	if (json_array_size(data) == 0)
		printf("no samples in this span\n");
	else
		draw_chart(data, metric, from, to);
	json_decref(data);
	return 0;
}

int dl_cli_stats(const dl_cli_t *cli, int argc, char **argv)
{
	opts_t o = {0};
	int rc = parse_opts(argv[0], argc, argv, &o);

	if (rc)
		return rc;
	signal(SIGPIPE, SIG_DFL);
	if (!strcmp(argv[0], "stats"))
		return cmd_stats(cli, &o);
	if (!strcmp(argv[0], "top"))
		return cmd_top(cli, &o);
	return cmd_history(cli, &o);
}
