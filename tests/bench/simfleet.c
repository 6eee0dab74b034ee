/* simfleet - N simulated agents in one process against one serve, to
 * find serve's limits without N SSH handshakes and N agent processes.
 *
 * Each simulated agent connects to serve's agent socket the way
 * dockline-attach does, one connection per session: ATTACH{host} (the
 * host sshd's forced command would bind), then the agent's HELLO. After
 * serve's HELLO it sends one INVENTORY of C containers, then one STATS
 * frame of C samples every INTERVAL s (the first at a random offset, as
 * real agents drift apart), answers PINGs, and times each data frame
 * from its send to the ACK that covers it (serve acks after COMMIT, so
 * an acked sample is a stored row). A thread meanwhile asks the admin
 * socket for "hosts" every 200 ms, during the connect storm and after.
 *
 * usage: simfleet AGENT_SOCKET ADMIN_SOCKET N STEADY_S
 *                 [CONTAINERS [INTERVAL_S [CONNECTS_PER_S]]]
 * Prints one table; the caller (tests/bench/simfleet.sh) adds serve's
 * memory. Nothing here asserts on time. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "proto/admin.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define RING	  64
#define LAT_MAX	  (4u << 20)
#define RETRY_MS  250
#define HOSTS_MAX 200000

enum { A_IDLE, A_CONNECTING, A_HELLO, A_LIVE };

typedef struct fleet fleet_t;

typedef struct {
	uv_pipe_t pipe;
	uv_connect_t creq;
	uv_timer_t timer;
	fleet_t *fl;
	int i, state, handles;
	bool ever_live;
	dl_frame_reader_t rd;
	uint64_t epoch, seq, acked;
	uint64_t sent_ns[RING];
	uint64_t cpu;
} agent_t;

typedef struct {
	uint32_t *v;
	size_t n;
} lat_t;

struct fleet {
	uv_loop_t *loop;
	const char *sock;
	agent_t *a;
	int n, containers, interval_s, rate;
	int next; /* next agent to connect the first time */
	int *retry;
	size_t nretry;
	uv_timer_t tick;
	int live, ever_live;
	uint64_t t0, all_online_ns, steady_end_ns;
	int steady_s;
	atomic_int phase; /* 0 storm, 1 steady, 2 done */
	/* counters */
	uint64_t frames_sent, samples_sent, samples_acked;
	uint64_t steady_sent, steady_acked; /* samples in the window */
	uint64_t connect_fail, closed, errors;
	lat_t lat[2]; /* ack latency, storm / steady, us */
};

static lat_t hosts_lat[2];
static uint64_t hosts_fail, hosts_rows_last;

static void lat_add(lat_t *l, uint64_t ns)
{
	if (!l->v)
		l->v = malloc(LAT_MAX * sizeof(*l->v));
	if (l->v && l->n < LAT_MAX)
		l->v[l->n++] = (uint32_t)(ns / 1000u > UINT32_MAX ? UINT32_MAX
								  : ns / 1000u);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void lat_print(const char *what, lat_t *l)
{
	if (!l->n) {
		printf("%-32s %10s\n", what, "(none)");
		return;
	}
	qsort(l->v, l->n, sizeof(*l->v), cmp_u32);
	printf("%-32s n=%-8zu p50 %8.1f ms  p99 %8.1f ms  max %8.1f ms\n", what,
	       l->n, l->v[l->n / 2] / 1000.0, l->v[l->n * 99 / 100] / 1000.0,
	       l->v[l->n - 1] / 1000.0);
}

/* ---- sending ---- */

static void on_written(uv_write_t *w, int status)
{
	free(w->data);
	free(w);
}

static int send_msg(agent_t *a, const dl_msg_t *m)
{
	dl_buf_t b;
	uv_write_t *w = malloc(sizeof(*w));
	uv_buf_t ub;

	dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
	if (!w || dl_msg_encode(&b, m)) {
		free(w);
		dl_buf_free(&b);
		return -1;
	}
	w->data = b.data;
	ub = uv_buf_init((char *)dl_buf_head(&b), (unsigned)dl_buf_used(&b));
	if (uv_write(w, (uv_stream_t *)&a->pipe, &ub, 1, on_written)) {
		free(b.data);
		free(w);
		return -1;
	}
	return 0;
}

static void host_name(int i, char *out, size_t n)
{
	snprintf(out, n, "sim-%05d", i);
}

static void send_data(agent_t *a, dl_msg_t *m)
{
	fleet_t *fl = a->fl;

	m->epoch = a->epoch;
	m->seq = ++a->seq;
	m->time_ns = dl_clock_wall_ns();
	a->sent_ns[a->seq % RING] = dl_clock_mono_ns();
	if (send_msg(a, m) == 0)
		fl->frames_sent++;
}

static void send_inventory(agent_t *a)
{
	int n = a->fl->containers;
	dl_container_t *v = calloc((size_t)n, sizeof(*v));
	char(*ids)[65] = calloc((size_t)n, 65);
	char(*names)[32] = calloc((size_t)n, 32);
	dl_msg_t m = {.type = DL_MSG_INVENTORY};

	for (int j = 0; v && ids && names && j < n; j++) {
		snprintf(ids[j], 65, "%016x%016x%032x", (unsigned)a->i,
			 (unsigned)j, 0u);
		snprintf(names[j], 32, "sim-c%02d", j);
		v[j].idx = (uint32_t)j;
		v[j].id = DL_STR(ids[j]);
		v[j].name = DL_STR(names[j]);
		v[j].image = DL_STR("busybox:latest");
		v[j].state = DL_STR("running");
		v[j].status = DL_STR("Up 5 minutes");
		v[j].health = DL_STR("");
		v[j].created = 1700000000;
	}
	if (v && ids && names) {
		m.u.inventory.n = (uint32_t)n;
		m.u.inventory.v = v;
		send_data(a, &m);
	}
	free(v);
	free(ids);
	free(names);
}

static void send_stats(agent_t *a)
{
	fleet_t *fl = a->fl;
	int n = fl->containers;
	dl_sample_t *v = calloc((size_t)n, sizeof(*v));
	dl_msg_t m = {.type = DL_MSG_STATS};

	if (!v)
		return;
	a->cpu += 10000000ull;
	for (int j = 0; j < n; j++) {
		v[j].idx = (uint32_t)j;
		v[j].valid = DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT |
			     DL_SV_NET | DL_SV_PIDS;
		v[j].cpu_ns = a->cpu * (uint64_t)(j + 1);
		v[j].mem_usage = (uint64_t)(10 + j) << 20;
		v[j].net_rx_bytes = a->cpu / 1000u;
		v[j].net_tx_bytes = a->cpu / 2000u;
		v[j].pids = 3;
	}
	m.u.stats.system_cpu_ns = a->cpu * 1000u;
	m.u.stats.online_cpus = 2;
	m.u.stats.n = (uint32_t)n;
	m.u.stats.v = v;
	send_data(a, &m);
	fl->samples_sent += (uint64_t)n;
	if (atomic_load(&fl->phase) == 1)
		fl->steady_sent += (uint64_t)n;
	free(v);
}

static void on_stats_timer(uv_timer_t *t)
{
	agent_t *a = t->data;

	if (a->state == A_LIVE)
		send_stats(a);
}

/* ---- connecting ---- */

static void start_connect(agent_t *a);

static void on_closed(uv_handle_t *h)
{
	agent_t *a = h->data;

	if (--a->handles)
		return;
	dl_frame_reader_free(&a->rd);
	a->state = A_IDLE;
	if (atomic_load(&a->fl->phase) < 2) {
		a->fl->retry[a->fl->nretry++] = a->i;
	}
}

static void agent_close(agent_t *a)
{
	if (a->state == A_LIVE)
		a->fl->live--;
	a->state = A_CONNECTING; /* until the handles are closed */
	a->handles = 2;
	uv_close((uv_handle_t *)&a->pipe, on_closed);
	uv_close((uv_handle_t *)&a->timer, on_closed);
}

static void on_ack(agent_t *a, uint64_t epoch, uint64_t seq)
{
	fleet_t *fl = a->fl;
	uint64_t now = dl_clock_mono_ns();
	int ph = atomic_load(&fl->phase);

	if (epoch != a->epoch || seq > a->seq)
		return;
	for (uint64_t s = a->acked + 1; s <= seq; s++) {
		if (a->seq - s < RING) {
			lat_add(&fl->lat[ph ? 1 : 0],
				now - a->sent_ns[s % RING]);
			/* seq 1 is the INVENTORY; the rest are STATS */
			if (s > 1) {
				fl->samples_acked += (uint64_t)fl->containers;
				if (ph == 1)
					fl->steady_acked +=
						(uint64_t)fl->containers;
			}
		}
	}
	if (seq > a->acked)
		a->acked = seq;
}

static void on_hello(agent_t *a, const dl_msg_t *m)
{
	fleet_t *fl = a->fl;
	uint64_t first = (uint64_t)(rand() % (fl->interval_s * 1000));

	/* A fresh epoch per session: nothing to resume, all stored. */
	a->state = A_LIVE;
	fl->live++;
	if (!a->ever_live) {
		a->ever_live = true;
		if (++fl->ever_live == fl->n)
			fl->all_online_ns = dl_clock_mono_ns();
	}
	send_inventory(a);
	uv_timer_start(&a->timer, on_stats_timer, first,
		       (uint64_t)fl->interval_s * 1000u);
}

static void handle(agent_t *a, const dl_msg_t *m)
{
	dl_msg_t r = {0};

	switch (m->type) {
	case DL_MSG_HELLO:
		if (a->state == A_HELLO)
			on_hello(a, m);
		break;
	case DL_MSG_PING:
		r.type = DL_MSG_PONG;
		r.u.nonce = m->u.nonce;
		send_msg(a, &r);
		break;
	case DL_MSG_ACK: on_ack(a, m->u.ack.epoch, m->u.ack.seq); break;
	case DL_MSG_ERROR:
	case DL_MSG_BYE:
		a->fl->errors++;
		if (a->fl->errors <= 5)
			fprintf(stderr, "simfleet: sim-%05d: %s %.*s\n", a->i,
				dl_msg_type_name(m->type),
				m->type == DL_MSG_ERROR
					? (int)m->u.error.message.n
					: 0,
				m->type == DL_MSG_ERROR ? m->u.error.message.p
							: "");
		break;
	default: break;
	}
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char chunk[65536];

	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	agent_t *a = st->data;
	const uint8_t *p;
	size_t n;
	int rc;

	if (nread < 0) {
		a->fl->closed++;
		agent_close(a);
		return;
	}
	if (nread == 0 ||
	    dl_frame_reader_feed(&a->rd, buf->base, (size_t)nread) != 0)
		return;
	while ((rc = dl_frame_reader_next(&a->rd, &p, &n)) == 1) {
		dl_msg_t m;

		if (dl_msg_decode(&m, p, n, NULL, 0) != 0)
			continue;
		handle(a, &m);
		dl_msg_release(&m);
		if (a->state != A_HELLO && a->state != A_LIVE)
			return;
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	agent_t *a = req->data;
	dl_msg_t m = {.type = DL_MSG_ATTACH};
	char host[32];
	static const char *caps[] = {"ack", "ping", "inventory", "stats"};

	if (status) {
		a->fl->connect_fail++;
		agent_close(a);
		return;
	}
	host_name(a->i, host, sizeof(host));
	m.u.attach.host = DL_STR(host);
	m.u.attach.flags = 0;
	send_msg(a, &m);
	memset(&m, 0, sizeof(m));
	m.type = DL_MSG_HELLO;
	m.u.hello.proto_version = DL_PROTO_VERSION;
	m.u.hello.software = DL_STR("simfleet " DL_VERSION);
	a->epoch = dl_clock_wall_ns() + (uint64_t)a->i;
	a->seq = a->acked = 0;
	m.u.hello.epoch = a->epoch;
	m.u.hello.ncaps = 4;
	for (int k = 0; k < 4; k++)
		m.u.hello.caps[k] = DL_STR(caps[k]);
	m.u.hello.host = DL_STR("");
	m.u.hello.time_ns = dl_clock_wall_ns();
	a->state = A_HELLO;
	send_msg(a, &m);
	uv_read_start((uv_stream_t *)&a->pipe, on_alloc, on_read);
}

static void start_connect(agent_t *a)
{
	fleet_t *fl = a->fl;

	a->state = A_CONNECTING;
	dl_frame_reader_init(&a->rd, DL_FRAME_MAX);
	uv_pipe_init(fl->loop, &a->pipe, 0);
	uv_timer_init(fl->loop, &a->timer);
	a->pipe.data = a->timer.data = a->creq.data = a;
	uv_pipe_connect(&a->creq, &a->pipe, fl->sock, on_connect);
}

/* Every 10 ms: rate/100 first connects, and the retries. */
static void on_tick(uv_timer_t *t)
{
	fleet_t *fl = t->data;
	int k = fl->rate / 100 > 0 ? fl->rate / 100 : 1;
	uint64_t now = dl_clock_mono_ns();
	size_t nr = fl->nretry;

	for (; k > 0 && fl->next < fl->n; k--, fl->next++)
		start_connect(&fl->a[fl->next]);
	/* Retries wait one tick at least: serve's backlog drains. */
	fl->nretry = 0;
	for (size_t i = 0; i < nr; i++)
		start_connect(&fl->a[fl->retry[i]]);
	if (atomic_load(&fl->phase) == 0 && fl->all_online_ns) {
		atomic_store(&fl->phase, 1);
		fl->steady_end_ns =
			now + (uint64_t)fl->steady_s * 1000000000ull;
	}
	if (atomic_load(&fl->phase) == 1 && now >= fl->steady_end_ns) {
		atomic_store(&fl->phase, 2);
		uv_stop(fl->loop);
	}
}

/* ---- admin "hosts" poller ---- */

typedef struct {
	const char *sock;
	fleet_t *fl;
} poller_t;

/* Occurrences of needle in p[0..n): the rows of an answer, counted
 * without parsing it (the client's JSON parse is not serve's latency). */
static size_t count_of(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), c = 0;
	const char *q = p, *end = p + n;

	while ((q = memmem(q, (size_t)(end - q), needle, k))) {
		c++;
		q += k;
	}
	return c;
}

static void *poll_hosts(void *arg)
{
	poller_t *p = arg;
	json_t *req = json_pack("{s:s}", "op", "hosts");

	while (atomic_load(&p->fl->phase) < 2) {
		uint64_t t0 = dl_clock_mono_ns();
		int ph = atomic_load(&p->fl->phase);
		char *frame = NULL;
		size_t len = 0;
		int fd = dl_admin_connect(p->sock);

		if (fd >= 0 && dl_admin_send(fd, req, DL_ADMIN_REQ_MAX) == 0 &&
		    dl_admin_recv_frame(fd, DL_ADMIN_RESP_MAX, 120000, &frame,
					&len) == 0 &&
		    len >= 10 && !memcmp(frame, "{\"ok\":true", 10)) {
			lat_add(&hosts_lat[ph], dl_clock_mono_ns() - t0);
			hosts_rows_last = count_of(frame, len, "\"online\":");
		} else {
			hosts_fail++;
		}
		free(frame);
		if (fd >= 0)
			close(fd);
		usleep(200000);
	}
	json_decref(req);
	return NULL;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int main(int argc, char **argv)
{
	int64_t n, steady, c = 20, iv = 10, rate = 2000;
	fleet_t fl = {0};
	poller_t pp;
	pthread_t th;
	uv_loop_t loop;
	double dur;

	if (argc < 5 || argc > 8 || dl_parse_int(argv[3], 1, 100000, &n) ||
	    dl_parse_int(argv[4], 1, 3600, &steady) ||
	    (argc > 5 && dl_parse_int(argv[5], 1, 1000, &c)) ||
	    (argc > 6 && dl_parse_int(argv[6], 1, 3600, &iv)) ||
	    (argc > 7 && dl_parse_int(argv[7], 100, 1000000, &rate))) {
		fprintf(stderr,
			"usage: %s AGENT_SOCKET ADMIN_SOCKET N STEADY_S "
			"[CONTAINERS [INTERVAL_S [CONNECTS_PER_S]]]\n",
			argv[0]);
		return 2;
	}
	srand(1);
	uv_loop_init(&loop);
	fl.loop = &loop;
	fl.sock = argv[1];
	fl.n = (int)n;
	fl.steady_s = (int)steady;
	fl.containers = (int)c;
	fl.interval_s = (int)iv;
	fl.rate = (int)rate;
	fl.a = calloc((size_t)n, sizeof(*fl.a));
	fl.retry = calloc((size_t)n, sizeof(*fl.retry));
	if (!fl.a || !fl.retry)
		return 1;
	for (int i = 0; i < fl.n; i++) {
		fl.a[i].fl = &fl;
		fl.a[i].i = i;
	}
	fl.t0 = dl_clock_mono_ns();
	pp = (poller_t){argv[2], &fl};
	pthread_create(&th, NULL, poll_hosts, &pp);
	uv_timer_init(&loop, &fl.tick);
	fl.tick.data = &fl;
	uv_timer_start(&fl.tick, on_tick, 0, 10);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);

	dur = (double)fl.steady_s;
	printf("simulated agents                 %d (%lld containers, stats "
	       "every %lld s, %lld connects/s)\n",
	       fl.n, (long long)c, (long long)iv, (long long)rate);
	printf("time to all online               %.2f s\n",
	       fl.all_online_ns ? (double)(fl.all_online_ns - fl.t0) / 1e9
				: -1.0);
	printf("live at the end                  %d\n", fl.live);
	printf("connect failures/retries         %llu, closed by serve %llu, "
	       "ERROR/BYE %llu\n",
	       (unsigned long long)fl.connect_fail,
	       (unsigned long long)fl.closed, (unsigned long long)fl.errors);
	printf("ingest expected                  %.0f rows/s\n",
	       (double)fl.n * (double)c / (double)iv);
	printf("ingest sent (steady %.0f s)       %.0f rows/s\n", dur,
	       (double)fl.steady_sent / dur);
	printf("ingest acked=stored (steady)     %.0f rows/s\n",
	       (double)fl.steady_acked / dur);
	printf("samples sent/acked (whole run)   %llu / %llu\n",
	       (unsigned long long)fl.samples_sent,
	       (unsigned long long)fl.samples_acked);
	lat_print("ack latency, connect storm", &fl.lat[0]);
	lat_print("ack latency, steady", &fl.lat[1]);
	lat_print("admin hosts, connect storm", &hosts_lat[0]);
	lat_print("admin hosts, steady", &hosts_lat[1]);
	printf("admin hosts failures             %llu; rows in the last "
	       "answer %llu\n",
	       (unsigned long long)hosts_fail,
	       (unsigned long long)hosts_rows_last);
	fflush(stdout);
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	return 0;
}
