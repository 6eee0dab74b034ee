/* bench_rules - what alert rules cost ingest: container and host samples
 * through the real store (dl_store_submit of STATS and HOSTSTATS frames,
 * as bench_ingest does), the real pubsub (its read-only fan-out query on
 * the threadpool after each COMMIT) and the real rule engine on its
 * listener, wired as serve wires them (collector/serve.c alerts_start),
 * with the engine writing its pending rows through the same store. Four
 * variants in the same run, alternated, best of RUNS:
 *
 *   no listener            pubsub has nobody to tell: no fan-out query
 *   engine, 0 rules        serve without [alert] sections (the listener
 *                          stays, so the fan-out query runs)
 *   engine, rules, quiet   N rules (default 100, read by
 *                          dl_alert_rules_load), no sample crosses one
 *   engine, rules, 10% low the same, a tenth with threshold 1: their
 *                          instances go pending (rows through the store)
 *
 * The figure is the wall time from the first submit until every frame is
 * committed and acked and the engine has been handed every host's last
 * round (container and host rows); CPU is getrusage of the process (loop,
 * writer and threadpool threads together) over that time; engine s is
 * the loop thread's CPU time inside dl_alerts_stats (CPU, not wall: on a
 * loaded machine wall time there counts other processes' turns).
 *
 *   bench_rules [hosts] [containers] [rounds] [rules]  (1000 20 12 100)
 *
 * The N rules are written in files of at most 50, included by one
 * collector configuration (`include = DIR/rulesN*.conf`) and read by
 * dl_alert_rules_load as serve reads them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench_feed.h"
#include "collector/alerts.h"
#include "collector/pubsub.h"
#include "collector/store.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"

#define SEC	   1000000000ull
#define RUNS	   3
#define RULES_FILE 50
#define RULES_MAX  1000

enum { V_NONE, V_EMPTY, V_QUIET, V_RULES, V_COUNT };
static const char *const vname[V_COUNT] = {"no listener", "engine, 0 rules",
					   "engine, rules, quiet",
					   "engine, rules, 10% low"};

static uint32_t H = 1000, C = 20, R = 12, NR = 100;
static uint64_t t0_ns;
static dl_alert_rule_t *rules, *quiet_rules;

typedef struct {
	dl_alerts_t *alerts;
	int64_t last_ms; /* the last round's time, in ms */
	uint8_t *seen;	 /* per host: bit 0 stats, bit 1 host_stats */
	uint32_t done;	 /* hosts with both */
	uint64_t rows;	 /* rows handed to the engine */
	uint64_t ns;	 /* loop-thread CPU time inside dl_alerts_stats */
} sink_t;

/* ---- the rules: a mix of container and host thresholds, globs that
 * match everything, a tenth, a hundredth or nothing of the fleet ---- */

static const char *const host_globs[] = {
	"*",	   "host-0*", "host-00[0-4]*",	  "host-1?5*",
	"host-*7", "db-*",    "host-09[0-9][0-9]"};
static const char *const ctr_globs[] = {"*",	  "svc-1*", "svc-[0-4]",
					"svc-1?", "nginx*", "*-9"};
static const char *const ctr_conds[] = {"container_cpu", "container_memory"};
static const char *const host_conds[] = {"host_cpu", "host_memory", "host_disk",
					 "host_load"};

static void write_rule(FILE *f, uint32_t i, bool quiet)
{
	bool host = i % 4 == 3; /* a quarter over hosts */
	const char *cond = host ? host_conds[(i / 4) % 4] : ctr_conds[i % 2];
	/* not quiet: a tenth with a low threshold, so their instances go
	 * pending (and the engine writes their rows through the store);
	 * quiet: no sample ever crosses one (load1 is 1..5) */
	bool low = !quiet && i % 10 == 0;
	int thr = low ? 1 : 90;

	if (!strcmp(cond, "host_load"))
		thr = low ? 1 : 10;
	fprintf(f, "[alert r%03u]\ncondition = %s\nhosts = %s\n", i, cond,
		host_globs[i % (sizeof(host_globs) / sizeof(*host_globs))]);
	if (!host)
		fprintf(f, "containers = %s\n",
			ctr_globs[(i / 2) %
				  (sizeof(ctr_globs) / sizeof(*ctr_globs))]);
	fprintf(f, "threshold = %d\nfor = 5m\n\n", thr);
}

static dl_alert_rule_t *load_rules(const char *dir, bool quiet)
{
	char path[256], err[512];
	size_t got = 0;
	dl_alert_rule_t *set;
	FILE *f;

	for (uint32_t first = 0; first < NR; first += RULES_FILE) {
		snprintf(path, sizeof(path), "%s/rules%s%04u.conf", dir,
			 quiet ? "q" : "l", first);
		if (!(f = fopen(path, "w")))
			die("cannot write the rules file");
		for (uint32_t i = first; i < NR && i < first + RULES_FILE; i++)
			write_rule(f, i, quiet);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/collector%s.conf", dir,
		 quiet ? "q" : "l");
	if (!(f = fopen(path, "w")))
		die("cannot write the configuration");
	fprintf(f, "[collector]\ninclude = %s/rules%s*.conf\n", dir,
		quiet ? "q" : "l");
	fclose(f);
	if (dl_alert_rules_load(path, NULL, NULL, &set, &got, err, sizeof(err)))
		die(err);
	if (got != NR)
		die("the rules files did not give every rule");
	return set;
}

/* ---- frames ---- */

static void encode_hoststats(dl_buf_t *b, uint32_t h, uint32_t r)
{
	dl_msg_t m = {.type = DL_MSG_HOSTSTATS,
		      .epoch = 1,
		      .seq = 3 + 2 * r,
		      .time_ns = t0_ns + r * 10 * SEC};

	m.u.hoststats = (dl_hoststats_t){
		.cpu_total_ns = (uint64_t)r * 10 * 8 * SEC,
		.cpu_idle_ns = (uint64_t)r * 10 * (6 + h % 2) * SEC,
		.online_cpus = 8,
		.mem_total = 16ull << 30,
		.mem_used = (4ull << 30) + h * 1048576ull,
		.mem_available = 12ull << 30,
		.load1_x100 = 100 + h % 400,
		.load5_x100 = 100,
		.load15_x100 = 100,
		.disk_used = 40ull << 30,
		.disk_total = 100ull << 30,
		.net_rx_bytes = (uint64_t)r * 1000000,
		.net_tx_bytes = (uint64_t)r * 500000};
	bench_encode(b, &m);
}

/* ---- the listener: hands rows to the engine, notes the last round ---- */

/* CPU time, not wall time: on a shared machine the loop thread is
 * preempted, and wall time inside the engine would count the others. */
static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_event(void *ud, const json_t *row)
{
	sink_t *k = ud;

	dl_alerts_event(k->alerts, row);
}

static void on_stats(void *ud, const char *host, const char *key,
		     const json_t *rows)
{
	sink_t *k = ud;
	uint8_t bit = strcmp(key, "host_stats") ? 1 : 2;
	long h = strtol(host + 5, NULL, 10);
	size_t i;
	json_t *row;

	uint64_t t0 = thread_cpu_ns();

	dl_alerts_stats(k->alerts, host, key, rows);
	k->ns += thread_cpu_ns() - t0;
	k->rows += json_array_size(rows);
	if (h < 0 || h >= (long)H || (k->seen[h] & bit))
		return;
	json_array_foreach(rows, i, row)
	{
		int64_t t =
			json_integer_value(json_object_get(row, "time_ns")) /
			1000000;

		if (t >= k->last_ms) {
			k->seen[h] |= bit;
			if (k->seen[h] == 3)
				k->done++;
			break;
		}
	}
}

static double cpu_s(void)
{
	struct rusage u;

	getrusage(RUSAGE_SELF, &u);
	return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
	       (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

typedef struct {
	double wall, cpu;
	uint64_t rows, engine_ns;
	size_t pending; /* alerts pending or firing at the end */
} result_t;

static void one(const char *dir, int variant, int k, dl_buf_t *frames,
		result_t *out)
{
	char path[256], err[256];
	uv_loop_t loop;
	dl_store_t *s;
	dl_pubsub_t *ps;
	sink_t sink = {0};
	double c0;
	uint64_t t0;
	json_t *list;

	snprintf(path, sizeof(path), "%s/v%d-%d.db", dir, variant, k);
	uv_loop_init(&loop);
	if (!(s = dl_store_open(&loop, path, bench_on_ack, NULL, err,
				sizeof(err))))
		die(err);
	if (!(ps = dl_pubsub_new(&loop, s, path)))
		die("pubsub");
	sink.alerts = dl_alerts_new(variant == V_QUIET ? quiet_rules : rules,
				    variant >= V_QUIET ? NR : 0, s);
	sink.seen = calloc(H, 1);
	sink.last_ms = (int64_t)((t0_ns + (R - 1) * 10 * SEC) / 1000000);
	if (!sink.alerts || !sink.seen)
		die("out of memory");
	/* untimed: hosts online with their inventories */
	bench_hosts_online(&loop, s, "", H, C, t0_ns);
	if (variant != V_NONE) {
		dl_listener_t l = {on_event, on_stats, &sink};

		if (dl_pubsub_listen(ps, &l))
			die("listen");
	}
	c0 = cpu_s();
	t0 = dl_clock_mono_ns();
	bench_feed(&loop, s, "", frames, H, R, 2);
	/* acks and fan-outs come back through uv_async */
	while (dl_store_pending(s) || (variant != V_NONE && sink.done < H))
		bench_spin(&loop, 200);
	out->wall = (double)(dl_clock_mono_ns() - t0) / 1e9;
	out->cpu = cpu_s() - c0;
	out->rows = sink.rows;
	out->engine_ns = sink.ns;
	list = dl_alerts_list(sink.alerts, false, 0, NULL);
	out->pending = json_array_size(list);
	json_decref(list);
	dl_alerts_set_store(sink.alerts, NULL);
	dl_pubsub_stop(ps);
	dl_store_close(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	dl_pubsub_free(ps);
	uv_loop_close(&loop);
	dl_alerts_free(sink.alerts);
	free(sink.seen);
}

static uint32_t arg(char **argv, int argc, int i, uint32_t def, uint32_t max)
{
	char *end;
	long v = argc > i ? strtol(argv[i], &end, 10) : (long)def;

	if (argc > i && (*end || v < 0 || v > (long)max))
		die("usage: bench_rules [hosts] [containers<=64] [rounds] "
		    "[rules<=1000]");
	return (uint32_t)v;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/dl-bench-rules-XXXXXX", cmd[160];
	result_t best[V_COUNT];
	dl_buf_t *frames;
	uint64_t samples;

	H = arg(argv, argc, 1, H, 100000);
	C = arg(argv, argc, 2, C, 64);
	R = arg(argv, argc, 3, R, 1000);
	NR = arg(argv, argc, 4, NR, RULES_MAX);
	if (!H || !C || !R || !mkdtemp(dir))
		return 2;
	dl_log_set_level(DL_LOG_LEVEL_WARN);
	t0_ns = dl_clock_wall_ns() - 3600 * SEC;
	t0_ns -= t0_ns % (60 * SEC);
	rules = load_rules(dir, false);
	quiet_rules = load_rules(dir, true);
	frames = bench_frames_new(H, R, 2, 1u << 20);
	for (uint32_t r = 0; r < R; r++)
		for (uint32_t h = 0; h < H; h++) {
			dl_buf_t *f = &frames[(r * H + h) * 2];

			bench_encode_stats(&f[0], h, r, C, 2 + 2 * r,
					   t0_ns + r * 10 * SEC, bench_sample);
			encode_hoststats(&f[1], h, r);
		}
	samples = (uint64_t)H * R * (C + 1);
	for (int v = 0; v < V_COUNT; v++)
		best[v].wall = 1e9;
	/* alternated, best of each: the machine's load swings more than
	 * the difference being measured */
	for (int k = 0; k < RUNS; k++)
		for (int v = 0; v < V_COUNT; v++) {
			result_t x;

			one(dir, v, k, frames, &x);
			if (x.wall < best[v].wall)
				best[v] = x;
		}
	printf("%-24s %8s %10s %8s %8s %9s %8s %9s %7s\n",
	       "variant (best of 3)", "samples", "samples/s", "CPU s/s",
	       "CPU us/s", "rows seen", "engine s", "us/row", "alerts");
	for (int v = 0; v < V_COUNT; v++)
		printf("%-24s %8llu %10.0f %8.2f %8.2f %9llu %8.3f %9.2f "
		       "%7zu\n",
		       vname[v], (unsigned long long)samples,
		       samples / best[v].wall, best[v].cpu / best[v].wall,
		       best[v].cpu * 1e6 / (double)samples,
		       (unsigned long long)best[v].rows,
		       best[v].engine_ns / 1e9,
		       best[v].rows ? best[v].engine_ns / 1e3 / best[v].rows
				    : 0.0,
		       best[v].pending);
	printf("(CPU us/s: CPU microseconds per committed sample; engine s: "
	       "loop-thread CPU time inside dl_alerts_stats)\n");
	printf("%u rules; %u hosts x %u containers (+1 host sample) x %u "
	       "rounds\n",
	       NR, H, C, R);
	for (int v = V_QUIET; v <= V_RULES; v++)
		printf("%-24s vs 0 rules: ingest %.3f (loss %.1f %%, goal < 10 "
		       "%%), CPU per sample %.2fx; vs no listener: ingest "
		       "%.3f\n",
		       vname[v], best[V_EMPTY].wall / best[v].wall,
		       100.0 * (1.0 - best[V_EMPTY].wall / best[v].wall),
		       best[v].cpu / best[V_EMPTY].cpu,
		       best[V_NONE].wall / best[v].wall);
	printf("rows seen < samples: pubsub hands the engine each host's "
	       "latest rows per fan-out, so commits that land during one "
	       "fan-out are seen once\n");
	free(quiet_rules);
	bench_frames_free(frames, (size_t)H * R * 2);
	free(rules);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : 1;
}
