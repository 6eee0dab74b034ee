/* test_stats.c - the sampler's parts that need no dockerd: the Docker
 * stats API parser on a captured answer (tests/fixtures/docker/stats.json,
 * Docker 20.10, cgroup v1) and odd ones, the inspect parser, batch
 * splitting at the 1 MiB frame cap, and a sampler lifecycle against a
 * Docker socket that does not exist. */
#include "agent/stats.h"

#include "agent/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/frame.h"
#include "test.h"

#include <unistd.h>

static char *slurp(const char *name, size_t *len)
{
	return dl_test_fixture("docker", name, len);
}

static int parse(const char *json, dl_sample_t *s, uint64_t *sys)
{
	return dl_stats_parse_api(json, strlen(json), s, sys);
}

static void test_parse_fixture(void)
{
	size_t len;
	char *j = slurp("stats.json", &len);
	dl_sample_t s;
	uint64_t sys = 0;

	ASSERT_EQ(dl_stats_parse_api(j, len, &s, &sys), 0);
	ASSERT_EQ(s.valid, DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT | DL_SV_NET |
				   DL_SV_BLK | DL_SV_PIDS);
	ASSERT_EQ(s.cpu_ns, 88533396);
	ASSERT(sys == 5336160000000ull);
	/* usage 2531328 - total_inactive_file 2097152 */
	ASSERT_EQ(s.mem_usage, 2531328 - 2097152);
	ASSERT_EQ(s.mem_limit, 25276026880ll);
	ASSERT_EQ(s.net_rx_bytes, 558);
	ASSERT_EQ(s.net_rx_packets, 7);
	ASSERT_EQ(s.net_tx_bytes, 0);
	ASSERT_EQ(s.blk_read_bytes, 0);
	ASSERT_EQ(s.pids, 1);
	ASSERT_EQ(s.idx, 0);
	free(j);
}

static void test_parse_odd(void)
{
	dl_sample_t s;
	uint64_t sys = 7;

	/* cgroup v2 style: inactive_file only, lowercase blkio ops, two
	 * networks summed, several devices summed */
	ASSERT_EQ(
		parse("{\"read\":\"2026-01-01T00:00:00Z\","
		      "\"memory_stats\":{\"usage\":1000,\"limit\":5,"
		      "\"stats\":{\"inactive_file\":300}},"
		      "\"networks\":{\"eth0\":{\"rx_bytes\":1,\"tx_bytes\":2,"
		      "\"rx_packets\":3,\"tx_packets\":4},"
		      "\"eth1\":{\"rx_bytes\":10,\"tx_bytes\":20,"
		      "\"rx_packets\":30,\"tx_packets\":40}},"
		      "\"blkio_stats\":{\"io_service_bytes_recursive\":["
		      "{\"major\":8,\"minor\":0,\"op\":\"read\",\"value\":5},"
		      "{\"major\":8,\"minor\":0,\"op\":\"write\",\"value\":6},"
		      "{\"major\":8,\"minor\":16,\"op\":\"Read\",\"value\":7},"
		      "{\"major\":8,\"minor\":16,\"op\":\"Total\",\"value\":9}"
		      "]}}",
		      &s, &sys),
		0);
	ASSERT_EQ(sys, 0);
	ASSERT_EQ(s.valid, DL_SV_MEM | DL_SV_MEMLIMIT | DL_SV_NET | DL_SV_BLK);
	ASSERT_EQ(s.mem_usage, 700);
	ASSERT_EQ(s.net_rx_bytes, 11);
	ASSERT_EQ(s.net_tx_bytes, 22);
	ASSERT_EQ(s.net_rx_packets, 33);
	ASSERT_EQ(s.net_tx_packets, 44);
	ASSERT_EQ(s.blk_read_bytes, 12);
	ASSERT_EQ(s.blk_write_bytes, 6);

	/* inactive above usage: usage as is (docker CLI) */
	ASSERT_EQ(parse("{\"memory_stats\":{\"usage\":100,\"stats\":"
			"{\"total_inactive_file\":300}}}",
			&s, &sys),
		  0);
	ASSERT_EQ(s.mem_usage, 100);
	ASSERT_EQ(s.valid, DL_SV_MEM);

	/* v2 with no I/O yet: null list still means 0 bytes read */
	ASSERT_EQ(parse("{\"blkio_stats\":{\"io_service_bytes_recursive\":"
			"null},\"pids_stats\":{}}",
			&s, &sys),
		  0);
	ASSERT_EQ(s.valid, DL_SV_BLK);

	/* wrong types leave fields unknown rather than guessed */
	ASSERT_EQ(parse("{\"cpu_stats\":{\"cpu_usage\":{\"total_usage\":-5}},"
			"\"memory_stats\":{\"usage\":\"1\"},"
			"\"pids_stats\":{\"current\":1.5},\"networks\":[]}",
			&s, &sys),
		  0);
	ASSERT_EQ(s.valid, 0);

	/* a stopped container */
	ASSERT_EQ(parse("{\"read\":\"0001-01-01T00:00:00Z\"}", &s, &sys),
		  DL_ENOENT);
	ASSERT_EQ(parse("[1]", &s, &sys), DL_EPROTO);
	ASSERT_EQ(parse("{\"read\":", &s, &sys), DL_EPROTO);
	ASSERT_EQ(parse("", &s, &sys), DL_EPROTO);
}

static void test_parse_inspect(void)
{
	int pid = -1;

#define INSPECT(j) dl_stats_parse_inspect((j), strlen(j), &pid)
	ASSERT_EQ(INSPECT("{\"State\":{\"Running\":true,\"Pid\":4790}}"), 0);
	ASSERT_EQ(pid, 4790);
	pid = -1;
	ASSERT_EQ(INSPECT("{\"State\":{\"Running\":false,\"Pid\":0}}"),
		  DL_ENOENT);
	ASSERT_EQ(INSPECT("{\"State\":{\"Running\":true,\"Pid\":0}}"),
		  DL_ENOENT);
	ASSERT_EQ(INSPECT("{\"State\":{\"Running\":true,\"Pid\":-3}}"),
		  DL_EPROTO);
	ASSERT_EQ(INSPECT("{\"State\":{\"Running\":true,\"Pid\":4294967296}}"),
		  DL_EPROTO);
	ASSERT_EQ(INSPECT("{\"State\":{\"Running\":true,\"Pid\":\"12\"}}"),
		  DL_EPROTO);
	ASSERT_EQ(INSPECT("{\"State\":[]}"), DL_EPROTO);
	ASSERT_EQ(INSPECT("{}"), DL_EPROTO);
	ASSERT_EQ(pid, -1);
#undef INSPECT
}

/* ---- splitting ---- */

typedef struct {
	uint32_t frames;
	uint32_t samples;
	uint32_t next_idx; /* samples arrive in order, none twice */
	uint64_t time_ns;
	size_t max_frame;
} split_t;

static void on_emit(void *ud, dl_msg_t *m)
{
	split_t *sp = ud;
	dl_buf_t b;

	ASSERT_EQ(m->type, DL_MSG_STATS);
	ASSERT(m->time_ns == sp->time_ns);
	ASSERT(m->u.stats.system_cpu_ns == 123456789ull);
	ASSERT_EQ(m->u.stats.online_cpus, 16);
	for (uint32_t i = 0; i < m->u.stats.n; i++)
		ASSERT_EQ(m->u.stats.v[i].idx, sp->next_idx++);
	/* Every frame must encode: worst-case values, full-size seq. */
	m->epoch = UINT64_MAX;
	m->seq = UINT64_MAX;
	dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
	ASSERT_EQ(dl_msg_encode(&b, m), 0);
	if (dl_buf_used(&b) > sp->max_frame)
		sp->max_frame = dl_buf_used(&b);
	dl_buf_free(&b);
	sp->frames++;
	sp->samples += m->u.stats.n;
}

static void test_split(void)
{
	static dl_sample_t v[DL_MAX_SAMPLES];
	dl_stats_t batch = {
		.system_cpu_ns = 123456789ull, .online_cpus = 16, .v = v};
	split_t sp;

	/* The bound the split relies on. */
	ASSERT_LE((uint64_t)DL_STATS_PER_FRAME * DL_STATS_SAMPLE_MAX + 64,
		  DL_FRAME_MAX);
	for (uint32_t i = 0; i < DL_MAX_SAMPLES; i++) {
		memset(&v[i], 0xff, sizeof(v[i]));
		v[i].idx = 0xffff0000u + i; /* 5-byte encoding */
	}
	/* All of them at once would not fit one frame. */
	{
		dl_msg_t m = {.type = DL_MSG_STATS};
		dl_buf_t b;

		m.u.stats = batch;
		m.u.stats.n = DL_MAX_SAMPLES;
		dl_buf_init(&b, 64u * 1024 * 1024);
		ASSERT_EQ(dl_msg_encode(&b, &m), DL_ETOOBIG);
		dl_buf_free(&b);
	}
	sp = (split_t){.next_idx = 0xffff0000u, .time_ns = 42};
	batch.n = DL_MAX_SAMPLES;
	ASSERT_EQ(dl_stats_split(&batch, 42, 0, on_emit, &sp), 2);
	ASSERT_EQ(sp.frames, 2);
	ASSERT_EQ(sp.samples, DL_MAX_SAMPLES);
	ASSERT_LE(sp.max_frame, DL_FRAME_MAX + DL_FRAME_HDR);
	ASSERT_GT(sp.max_frame, DL_FRAME_MAX * 9 / 10);

	sp = (split_t){.next_idx = 0xffff0000u, .time_ns = 43};
	batch.n = DL_STATS_PER_FRAME + 1;
	ASSERT_EQ(dl_stats_split(&batch, 43, 0, on_emit, &sp), 2);
	ASSERT_EQ(sp.samples, DL_STATS_PER_FRAME + 1);

	sp = (split_t){.next_idx = 0xffff0000u, .time_ns = 44};
	batch.n = DL_STATS_PER_FRAME;
	ASSERT_EQ(dl_stats_split(&batch, 44, 0, on_emit, &sp), 1);

	sp = (split_t){.next_idx = 0xffff0000u, .time_ns = 45};
	batch.n = 10;
	ASSERT_EQ(dl_stats_split(&batch, 45, 3, on_emit, &sp), 4);
	ASSERT_EQ(sp.samples, 10);

	/* nothing running: still one (empty) frame, the host's CPU time */
	sp = (split_t){.time_ns = 46};
	batch.n = 0;
	ASSERT_EQ(dl_stats_split(&batch, 46, 0, on_emit, &sp), 1);
	ASSERT_EQ(sp.samples, 0);
}

/* ---- lifecycle without dockerd ---- */

typedef struct {
	uv_loop_t *loop;
	dl_sampler_t *s;
	dl_watch_t *w;
	int stats, host, closed;
	uint64_t host_mem;
} life_t;

static void life_emit(void *ud, dl_msg_t *m)
{
	life_t *l = ud;

	if (m->type == DL_MSG_STATS) {
		l->stats++;
		/* the containers could not be inspected: no samples */
		ASSERT_EQ(m->u.stats.n, 0);
		ASSERT_GT(m->u.stats.online_cpus, 0);
		ASSERT_GT(m->u.stats.system_cpu_ns, 0);
	} else {
		ASSERT_EQ(m->type, DL_MSG_HOSTSTATS);
		l->host++;
		l->host_mem = m->u.hoststats.mem_total;
	}
	ASSERT_GT(m->time_ns, 0);
}

static void life_closed(void *arg)
{
	((life_t *)arg)->closed++;
}

static void life_stop(uv_timer_t *t)
{
	life_t *l = t->data;

	dl_sampler_close(l->s, life_closed, l);
	dl_watch_close(l->w, life_closed, l);
	uv_close((uv_handle_t *)t, NULL);
}

static void test_lifecycle(void)
{
	static const dl_watch_cbs_t cbs = {0};
	dl_sampler_opts_t o = {.interval_s = 1, .source = DL_STATS_SRC_AUTO};
	dl_container_t c[2] = {
		{.idx = 1, .id = DL_STR("aaaa"), .state = DL_STR("running")},
		{.idx = 2, .id = DL_STR("bbbb"), .state = DL_STR("exited")},
	};
	uv_loop_t loop;
	uv_timer_t stop;
	life_t l = {.loop = &loop};

	dl_log_set_level(DL_LOG_LEVEL_ERROR);
	uv_loop_init(&loop);
	l.w = dl_watch_new(&loop, "/nonexistent/docker.sock", &cbs, NULL);
	ASSERT(l.w != NULL);
	ASSERT(dl_sampler_new(&loop, l.w, &(dl_sampler_opts_t){0}, life_emit,
			      &l) == NULL);
	l.s = dl_sampler_new(&loop, l.w, &o, life_emit, &l);
	ASSERT(l.s != NULL);
	ASSERT_EQ(dl_sampler_start(l.s), 0);
	dl_sampler_inventory(l.s, c, 2);
	/* a removal of something never seen, then a malformed id */
	dl_sampler_container(l.s, true, &c[1]);
	c[1].id = DL_STR("../../etc");
	c[1].state = DL_STR("running");
	dl_sampler_container(l.s, false, &c[1]);
	uv_timer_init(&loop, &stop);
	stop.data = &l;
	uv_timer_start(&stop, life_stop, 2500, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(l.closed, 2);
	ASSERT_EQ(l.stats, 2);
	ASSERT_EQ(l.host, 2);
	ASSERT_GT(l.host_mem, 0);
	ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* ---- the container table: adds, removals, inventories ---- */

static void set_id(char (*ids)[65], uint32_t i)
{
	snprintf(ids[i], 65, "%064x", i * 2654435761u);
}

static void count_closed(void *arg)
{
	(*(int *)arg)++;
}

static void stop_loop(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* source auto: every add starts an inspect that fails (no dockerd);
 * source api: nothing is requested before the first tick. */
static void table(int source)
{
	static const dl_watch_cbs_t cbs = {0};
	static char ids[400][65];
	static dl_container_t v[400];
	dl_sampler_opts_t o = {.interval_s = 3600, .source = source};
	uv_timer_t stop;
	uv_loop_t loop;
	dl_watch_t *w;
	dl_sampler_t *s;
	int closed = 0;

	uv_loop_init(&loop);
	w = dl_watch_new(&loop, "/nonexistent/docker.sock", &cbs, NULL);
	s = dl_sampler_new(&loop, w, &o, life_emit, NULL);
	ASSERT(s != NULL);
	for (uint32_t i = 0; i < 400; i++) {
		set_id(ids, i);
		v[i] = (dl_container_t){
			.idx = i + 1,
			.id = DL_STR(ids[i]),
			.state = DL_STR(i % 4 ? "running" : "exited")};
	}
	dl_sampler_inventory(s, v, 400);
	ASSERT_EQ(dl_sampler_count(s), 300);
	/* let failed inspects come back and more start */
	uv_timer_init(&loop, &stop);
	uv_timer_start(&stop, stop_loop, 300, 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&stop, NULL);
	ASSERT_EQ(dl_sampler_open_cgroups(s), 0);
	dl_sampler_inventory(s, v, 400); /* same again: nothing changes */
	ASSERT_EQ(dl_sampler_count(s), 300);
	/* removals, in an order that moves entries around */
	for (uint32_t i = 1; i < 400; i += 2) {
		v[i].state = DL_STR("exited");
		dl_sampler_container(s, i % 3 == 0, &v[i]);
	}
	ASSERT_EQ(dl_sampler_count(s), 100);
	for (uint32_t i = 1; i < 400; i += 2)
		dl_sampler_container(s, true, &v[i]); /* twice: no-op */
	ASSERT_EQ(dl_sampler_count(s), 100);
	/* a start of one gone, then a new inventory keeping 50 */
	v[1].state = DL_STR("running");
	dl_sampler_container(s, false, &v[1]);
	dl_sampler_container(s, false, &v[1]);
	ASSERT_EQ(dl_sampler_count(s), 101);
	dl_sampler_inventory(s, v + 100, 100);
	ASSERT_EQ(dl_sampler_count(s), 25); /* i = 102, 106, ... 198 */
	dl_sampler_inventory(s, NULL, 0);
	ASSERT_EQ(dl_sampler_count(s), 0);
	dl_sampler_inventory(s, v, 4);
	ASSERT_EQ(dl_sampler_count(s), 2); /* 1 (restarted) and 2 */
	dl_sampler_close(s, count_closed, &closed);
	dl_watch_close(w, count_closed, &closed);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ(closed, 2);
	ASSERT_EQ(uv_loop_close(&loop), 0);
}

static void test_table_auto(void)
{
	table(DL_STATS_SRC_AUTO);
}

static void test_table_api(void)
{
	table(DL_STATS_SRC_API);
}

/* ---- [agent] stats_source ---- */

static int load_conf(const char *agent_section, dl_aconf_t *c, char *err,
		     size_t errlen)
{
	char path[] = "/tmp/dl-test-stats-XXXXXX";
	int fd = mkstemp(path);
	FILE *f;
	int rc;

	ASSERT(fd >= 0);
	f = fdopen(fd, "w");
	ASSERT(f != NULL);
	fprintf(f, "[collector]\naddress = c.example:2222\n[agent]\n%s",
		agent_section);
	fclose(f);
	rc = dl_aconf_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

static void test_conf_source(void)
{
	static dl_aconf_t c;
	char err[512];

	ASSERT_EQ(load_conf("", &c, err, sizeof(err)), 0);
	ASSERT_EQ(c.stats_source, DL_STATS_SRC_AUTO);
	ASSERT_EQ(c.stats_interval, 10);
	ASSERT_EQ(load_conf("stats_source = api\nstats_interval = 1\n", &c, err,
			    sizeof(err)),
		  0);
	ASSERT_EQ(c.stats_source, DL_STATS_SRC_API);
	ASSERT_EQ(c.stats_interval, 1);
	ASSERT_EQ(load_conf("stats_source = cgroup\n", &c, err, sizeof(err)),
		  0);
	ASSERT_EQ(c.stats_source, DL_STATS_SRC_CGROUP);
	ASSERT_EQ(load_conf("stats_source = API\n", &c, err, sizeof(err)),
		  DL_ECONFIG);
	ASSERT(strstr(err, "stats_source must be auto, cgroup or api"));
	ASSERT_EQ(load_conf("stats_interval = 0\n", &c, err, sizeof(err)),
		  DL_ECONFIG);
}

/* [docker] label: KEY or KEY=VALUE from [A-Za-z0-9_.:/=-], or absent. */
static void test_conf_label(void)
{
	static dl_aconf_t c;
	char err[512];

	ASSERT_EQ(load_conf("", &c, err, sizeof(err)), 0);
	ASSERT_STR_EQ(c.docker_label, "");
	ASSERT_EQ(load_conf("[docker]\nlabel = dockline.test=/tmp/dl.Ab1-x_\n",
			    &c, err, sizeof(err)),
		  0);
	ASSERT_STR_EQ(c.docker_label, "dockline.test=/tmp/dl.Ab1-x_");
	ASSERT_EQ(load_conf("[docker]\nlabel = a&filters=x\n", &c, err,
			    sizeof(err)),
		  DL_ECONFIG);
	ASSERT(strstr(err, "[docker] label must be KEY or KEY=VALUE"));
	ASSERT_EQ(load_conf("[docker]\nlabel = =v\n", &c, err, sizeof(err)),
		  DL_ECONFIG);
	ASSERT_EQ(load_conf("[docker]\nlabel = a\"b\n", &c, err, sizeof(err)),
		  DL_ECONFIG);
}

int main(void)
{
	RUN(test_parse_fixture);
	RUN(test_parse_odd);
	RUN(test_parse_inspect);
	RUN(test_split);
	RUN(test_lifecycle);
	RUN(test_table_auto);
	RUN(test_table_api);
	RUN(test_conf_source);
	RUN(test_conf_label);
	return 0;
}
