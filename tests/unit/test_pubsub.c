/* test_pubsub.c - live push against a real store and real sockets: every
 * committed event reaches a reading subscriber once and in order; the
 * action filter and the token host glob (the visibility hook) narrow
 * what is pushed; a subscriber that never reads is closed once more than
 * 1 MiB is unsent, while the others keep receiving; the cap answers
 * busy. */
#include "collector/pubsub.h"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector/store.h"
#include "common/clock.h"
#include "proto/admin.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "test.h"

#define N 6000 /* events: ~700 B a frame, ~4 MB in all */

static uv_loop_t loop;
static char dir[64];
static char dbpath[128];

static void on_ack(void *ud, uint64_t sid, uint64_t epoch, uint64_t seq)
{
}

typedef struct {
	uv_pipe_t pipe;
	int peer; /* the client's end */
	dl_sub_t *sub;
	dl_pubsub_t *ps;
	bool closed;
} conn_t;

typedef struct {
	int fd;
	int want;
	int got;
	int64_t first, last;
	bool ordered; /* each seq above the previous one */
	bool gapless; /* each seq exactly the previous + 1 */
	char action[16];
	bool other_action;
	char host[16];
	bool other_host;
} reader_t;

static void on_conn_closed(uv_handle_t *h)
{
}

static void sub_close(void *ud)
{
	conn_t *c = ud;

	c->closed = true;
	dl_pubsub_remove(c->ps, c->sub);
	c->sub = NULL;
	uv_close((uv_handle_t *)&c->pipe, on_conn_closed);
}

static void conn_open(conn_t *c, dl_pubsub_t *ps, const char *req_text,
		      const char *glob)
{
	int sv[2];
	char err[256];
	const char *code;
	json_t *req = json_loads(req_text, 0, NULL);
	dl_sub_conf_t sc = {.uid = 0,
			    .host_glob = glob,
			    .who = "test",
			    .close = sub_close,
			    .ud = c};

	ASSERT(req);
	ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ASSERT_EQ(uv_pipe_init(&loop, &c->pipe, 0), 0);
	ASSERT_EQ(uv_pipe_open(&c->pipe, sv[0]), 0);
	c->peer = sv[1];
	c->ps = ps;
	sc.stream = (uv_stream_t *)&c->pipe;
	c->sub = dl_pubsub_add(ps, req, &sc, err, sizeof(err), &code);
	if (!c->sub)
		DL_FAIL_("dl_pubsub_add: %s", err);
	json_decref(req);
}

static int read_full(int fd, void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t r = read(fd, (char *)p + off, n - off);

		if (r <= 0)
			return -1;
		off += (size_t)r;
	}
	return 0;
}

static void *reader_main(void *arg)
{
	reader_t *r = arg;
	uint8_t hdr[DL_FRAME_HDR];

	r->ordered = r->gapless = true;
	while (r->got < r->want && read_full(r->fd, hdr, sizeof(hdr)) == 0) {
		uint32_t n = ((uint32_t)hdr[0] << 24) | (hdr[1] << 16) |
			     (hdr[2] << 8) | hdr[3];
		char *p = malloc(n);
		json_t *o, *e;
		int64_t seq;
		const char *a, *h;

		ASSERT(p);
		if (read_full(r->fd, p, n)) {
			free(p);
			break;
		}
		o = json_loadb(p, n, 0, NULL);
		free(p);
		ASSERT(o);
		e = json_object_get(o, "event");
		ASSERT(e);
		seq = json_integer_value(json_object_get(e, "seq"));
		if (r->got && seq <= r->last)
			r->ordered = false;
		if (r->got && seq != r->last + 1)
			r->gapless = false;
		if (!r->got)
			r->first = seq;
		r->last = seq;
		a = json_string_value(json_object_get(e, "action"));
		h = json_string_value(json_object_get(e, "host"));
		if (r->action[0] && (!a || strcmp(a, r->action)))
			r->other_action = true;
		if (r->host[0] && (!h || strcmp(h, r->host)))
			r->other_host = true;
		json_decref(o);
		r->got++;
	}
	return NULL;
}

static int submit_event(dl_store_t *s, const char *host, uint64_t seq,
			const char *action)
{
	static char pad[400];
	dl_attr_t attrs[1] = {{DL_STR("pad"), {pad, sizeof(pad)}}};
	dl_msg_t m = {.type = DL_MSG_EVENT,
		      .epoch = 1,
		      .seq = seq,
		      .time_ns = 1700000000000000000ull + seq};
	dl_buf_t b;
	int rc;

	memset(pad, 'x', sizeof(pad));
	m.u.event.type = DL_STR("container");
	m.u.event.action = (dl_str_t){action, strlen(action)};
	m.u.event.id = DL_STR("c0ffee");
	m.u.event.name = DL_STR("web");
	m.u.event.nattrs = 1;
	m.u.event.attrs = attrs;
	dl_buf_init(&b, 1u << 20);
	ASSERT_EQ(dl_msg_encode(&b, &m), 0);
	rc = dl_store_submit(s, seq % 2 ? 1 : 2, host,
			     dl_buf_head(&b) + DL_FRAME_HDR,
			     dl_buf_used(&b) - DL_FRAME_HDR);
	dl_buf_free(&b);
	return rc;
}

static void on_tick(uv_timer_t *t)
{
}

static void test_push(void)
{
	char err[256] = "";
	dl_store_t *s;
	dl_pubsub_t *ps;
	conn_t all = {0}, stops = {0}, web = {0}, stuck = {0};
	reader_t rall = {0}, rstops = {0}, rweb = {0};
	pthread_t t1, t2, t3;
	uv_timer_t tick;
	uint64_t end;

	snprintf(dbpath, sizeof(dbpath), "%s/push.db", dir);
	s = dl_store_open(&loop, dbpath, on_ack, NULL, err, sizeof(err));
	if (!s)
		DL_FAIL_("dl_store_open: %s", err);
	/* One event before anyone listens: never pushed. */
	ASSERT_EQ(submit_event(s, "web-01", 1, "create"), 0);
	while (dl_store_pending(s) || dl_store_last_event(s) < 1)
		uv_run(&loop, UV_RUN_NOWAIT);

	ps = dl_pubsub_new(&loop, s, dbpath);
	ASSERT(ps);
	conn_open(&all, ps, "{\"what\":\"events\"}", NULL);
	conn_open(&stops, ps, "{\"what\":\"events\",\"action\":\"stop\"}",
		  NULL);
	conn_open(&web, ps, "{\"what\":\"events\"}", "web-*");
	conn_open(&stuck, ps, "{\"what\":\"events\"}", NULL);
	ASSERT_EQ(dl_pubsub_count(ps), 4);

	rall = (reader_t){.fd = all.peer, .want = N};
	rstops = (reader_t){.fd = stops.peer, .want = N / 2};
	snprintf(rstops.action, sizeof(rstops.action), "stop");
	rweb = (reader_t){.fd = web.peer, .want = N / 2};
	snprintf(rweb.host, sizeof(rweb.host), "web-01");
	ASSERT_EQ(pthread_create(&t1, NULL, reader_main, &rall), 0);
	ASSERT_EQ(pthread_create(&t2, NULL, reader_main, &rstops), 0);
	ASSERT_EQ(pthread_create(&t3, NULL, reader_main, &rweb), 0);

	uv_timer_init(&loop, &tick);
	uv_timer_start(&tick, on_tick, 2, 2);
	/* seq 2..N+1: even seq from db-01, odd from web-01; stop on every
	 * other pair. */
	for (uint64_t i = 2; i < N + 2; i++) {
		ASSERT_EQ(submit_event(s, i % 2 ? "web-01" : "db-01", i,
				       (i / 2) % 2 ? "stop" : "start"),
			  0);
		if (i % 200 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
		/* Readers are threads on a shared, loaded machine: let them
		 * catch up between bursts, so only the stuck one (which never
		 * reads) can pass the 1 MiB bound. */
		end = dl_clock_mono_ns() + 30000000000ull;
		while (i % 500 == 0 && (int)i - 2 - rall.got > 500 &&
		       dl_clock_mono_ns() < end)
			uv_run(&loop, UV_RUN_ONCE);
	}
	end = dl_clock_mono_ns() + 60000000000ull;
	while ((rall.got < N || rstops.got < N / 2 || rweb.got < N / 2 ||
		!stuck.closed) &&
	       dl_clock_mono_ns() < end)
		uv_run(&loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&tick, NULL);

	ASSERT(stuck.closed);
	ASSERT_EQ(rall.got, N);
	ASSERT_EQ(rall.first, 2);
	ASSERT(rall.gapless);
	ASSERT_EQ(rstops.got, N / 2);
	ASSERT(rstops.ordered);
	ASSERT(!rstops.other_action);
	ASSERT_EQ(rweb.got, N / 2);
	ASSERT(!rweb.other_host);
	ASSERT_EQ(dl_pubsub_count(ps), 3);

	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	pthread_join(t3, NULL);
	dl_pubsub_stop(ps);
	ASSERT(all.closed && stops.closed && web.closed);
	ASSERT_EQ(dl_pubsub_count(ps), 0);
	close(all.peer);
	close(stops.peer);
	close(web.peer);
	close(stuck.peer);
	dl_store_close(s);
	ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
	dl_pubsub_free(ps);
}

typedef struct {
	int events;
	json_int_t last_seq;
	bool gapless;
} heard_t;

static void heard_event(void *ud, const json_t *row)
{
	heard_t *h = ud;
	json_int_t seq = json_integer_value(json_object_get(row, "seq"));

	if (h->events && seq != h->last_seq + 1)
		h->gapless = false;
	h->last_seq = seq;
	h->events++;
}

/* A listener with no subscriber at all still hears every event committed
 * after it registered, once, in order (what alert rules depend on). */
static void test_listener(void)
{
	char err[256] = "";
	heard_t h = {.gapless = true};
	dl_listener_t l = {.event = heard_event, .ud = &h};
	dl_store_t *s;
	dl_pubsub_t *ps;
	uint64_t end;

	snprintf(dbpath, sizeof(dbpath), "%s/listen.db", dir);
	s = dl_store_open(&loop, dbpath, on_ack, NULL, err, sizeof(err));
	ASSERT(s);
	ASSERT_EQ(submit_event(s, "web-01", 1, "create"), 0);
	while (dl_store_pending(s) || dl_store_last_event(s) < 1)
		uv_run(&loop, UV_RUN_NOWAIT);
	ps = dl_pubsub_new(&loop, s, dbpath);
	ASSERT(ps);
	ASSERT_EQ(dl_pubsub_listen(ps, &l), 0);
	for (uint64_t i = 2; i < 1002; i++) {
		ASSERT_EQ(submit_event(s, "web-01", i, "start"), 0);
		if (i % 100 == 0)
			uv_run(&loop, UV_RUN_NOWAIT);
	}
	end = dl_clock_mono_ns() + 30000000000ull;
	while (h.events < 1000 && dl_clock_mono_ns() < end)
		uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(h.events, 1000);
	ASSERT(h.gapless);
	ASSERT_EQ(h.last_seq, 1001);
	ASSERT_EQ(dl_pubsub_count(ps), 0);
	dl_pubsub_stop(ps);
	dl_store_close(s);
	ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
	dl_pubsub_free(ps);
}

static void test_cap_and_invalid(void)
{
	char err[256] = "";
	const char *code = NULL;
	dl_store_t *s;
	dl_pubsub_t *ps;
	json_t *bad = json_loads("{\"what\":\"logs\"}", 0, NULL);
	json_t *good = json_loads("{\"what\":\"stats\"}", 0, NULL);
	dl_sub_t **subs = calloc(DL_PUBSUB_MAX, sizeof(*subs));
	uv_pipe_t p;
	dl_sub_conf_t sc = {.who = "test", .close = sub_close};

	snprintf(dbpath, sizeof(dbpath), "%s/cap.db", dir);
	s = dl_store_open(&loop, dbpath, on_ack, NULL, err, sizeof(err));
	ASSERT(s && subs);
	ps = dl_pubsub_new(&loop, s, dbpath);
	uv_pipe_init(&loop, &p, 0);
	sc.stream = (uv_stream_t *)&p;
	ASSERT(!dl_pubsub_add(ps, bad, &sc, err, sizeof(err), &code));
	ASSERT_STR_EQ(code, "invalid");
	for (int i = 0; i < DL_PUBSUB_MAX; i++)
		ASSERT((subs[i] = dl_pubsub_add(ps, good, &sc, err, sizeof(err),
						&code)));
	ASSERT(!dl_pubsub_add(ps, good, &sc, err, sizeof(err), &code));
	ASSERT_STR_EQ(code, "busy");
	for (int i = 0; i < DL_PUBSUB_MAX; i++)
		dl_pubsub_remove(ps, subs[i]);
	ASSERT_EQ(dl_pubsub_count(ps), 0);
	free(subs);
	json_decref(bad);
	json_decref(good);
	uv_close((uv_handle_t *)&p, NULL);
	dl_store_close(s);
	ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
	dl_pubsub_free(ps);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/dl-pubsub-XXXXXX");
	ASSERT(mkdtemp(dir));
	uv_loop_init(&loop);
	test_push();
	test_cap_and_invalid();
	test_listener();
	uv_loop_close(&loop);
	printf("test_pubsub: ok\n");
	return 0;
}
