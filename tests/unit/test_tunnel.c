/* test_tunnel.c - agent/tunnel.c without an sshd: option checks, the API
 * while down, refused connections and a peer that does not speak SSH,
 * each ending in a clean close (every uv handle closed, done called once).
 * The full path against a real sshd is exercised by the integration
 * tests. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "agent/tunnel.h"
#include "common/err.h"
#include "common/log.h"
#include "test.h"

typedef struct {
	uv_loop_t loop;
	dl_tunnel_t *t;
	int ups, downs, done;
	int err;
	char reason[512];
	uint64_t delay;
} fix_t;

static void on_up(void *ud)
{
	((fix_t *)ud)->ups++;
}

static void on_data(void *ud, const uint8_t *p, size_t n)
{
}

static void on_closed(void *arg)
{
	((fix_t *)arg)->done++;
}

/* First failure: record it and close from inside the callback, which is
 * how the agent shuts down while a reconnect is scheduled. */
static void on_down(void *ud, int err, const char *reason, uint64_t delay)
{
	fix_t *f = ud;

	f->downs++;
	f->err = err;
	f->delay = delay;
	snprintf(f->reason, sizeof(f->reason), "%s", reason);
	dl_tunnel_close(f->t, on_closed, f);
}

static const dl_tunnel_cbs_t cbs = {on_up, on_data, on_down, NULL};

static void fix_init(fix_t *f)
{
	memset(f, 0, sizeof(*f));
	ASSERT_EQ(uv_loop_init(&f->loop), 0);
}

/* backoff 0/0 means the defaults (1 s to 60 s). */
static dl_tunnel_t *make(fix_t *f, uint16_t port, uint64_t lo, uint64_t hi)
{
	dl_tunnel_opts_t o = {
		.host = "127.0.0.1",
		.port = port,
		.user = "dockline",
		.identity = "/nonexistent/id_ed25519",
		.known_hosts = "/nonexistent/known_hosts",
		.command = "dockline-collector attach",
		.backoff_min_ms = lo,
		.backoff_max_ms = hi,
	};

	f->t = dl_tunnel_new(&f->loop, &o, &cbs, f);
	ASSERT(f->t);
	return f->t;
}

static void finish(fix_t *f)
{
	ASSERT_EQ(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	ASSERT_EQ(f->done, 1);
	ASSERT_EQ(uv_loop_close(&f->loop), 0); /* no handle left open */
}

static void test_new_rejects_bad_opts(void)
{
	uv_loop_t loop;
	char longhost[300];
	dl_tunnel_opts_t o = {
		.host = NULL,
		.user = "u",
		.identity = "/k",
		.known_hosts = "/kh",
		.command = "c",
	};

	ASSERT_EQ(uv_loop_init(&loop), 0);
	ASSERT(dl_tunnel_new(&loop, &o, &cbs, NULL) == NULL);
	memset(longhost, 'a', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	o.host = longhost;
	ASSERT(dl_tunnel_new(&loop, &o, &cbs, NULL) == NULL);
	o.host = "";
	ASSERT(dl_tunnel_new(&loop, &o, &cbs, NULL) == NULL);
	ASSERT_EQ(uv_loop_close(&loop), 0);
}

static void test_api_while_down(void)
{
	fix_t f;
	dl_tunnel_t *t;

	fix_init(&f);
	t = make(&f, 22, 200, 400);

	ASSERT_EQ(dl_tunnel_is_up(t), 0);
	ASSERT_EQ(dl_tunnel_write(t, "x", 1), DL_ECLOSED);
	ASSERT_EQ(dl_tunnel_queued(t), 0);
	dl_tunnel_reset(t, DL_EPROTO, "ignored while idle");
	ASSERT_EQ(f.downs, 0);
	dl_tunnel_close(t, on_closed, &f);
	ASSERT_EQ(f.done, 0); /* never synchronous: handles close later */
	finish(&f);
	ASSERT_EQ(f.ups + f.downs, 0);
}

/* A bound socket that does not listen refuses connections. */
static int refusing_port(int *fd)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	*fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT(*fd >= 0);
	ASSERT_EQ(bind(*fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ASSERT_EQ(getsockname(*fd, (struct sockaddr *)&a, &len), 0);
	return ntohs(a.sin_port);
}

static void test_refused(void)
{
	fix_t f;
	char want[64];
	int fd, port = refusing_port(&fd);
	dl_tunnel_t *t;

	fix_init(&f);
	t = make(&f, (uint16_t)port, 200, 400);
	ASSERT_EQ(dl_tunnel_start(t), 0);
	finish(&f);
	close(fd);
	ASSERT_EQ(f.downs, 1);
	ASSERT_EQ(f.err, DL_ECONNREFUSED);
	snprintf(want, sizeof(want), "connection to 127.0.0.1:%d refused",
		 port);
	ASSERT_STR_EQ(f.reason, want);
	ASSERT_GE(f.delay, 200); /* jitter never goes below the minimum */
	ASSERT_LE(f.delay, 400);
}

/* A peer that answers with something other than an SSH banner. */
static void srv_written(uv_write_t *w, int status)
{
	uv_close((uv_handle_t *)w->handle, (uv_close_cb)free);
	free(w);
}

static void srv_conn(uv_stream_t *srv, int status)
{
	static char junk[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
	uv_tcp_t *c = malloc(sizeof(*c));
	uv_write_t *w = malloc(sizeof(*w));
	uv_buf_t b = uv_buf_init(junk, sizeof(junk) - 1);

	ASSERT(c && w);
	ASSERT_EQ(status, 0);
	uv_tcp_init(srv->loop, c);
	ASSERT_EQ(uv_accept(srv, (uv_stream_t *)c), 0);
	ASSERT_EQ(uv_write(w, (uv_stream_t *)c, &b, 1, srv_written), 0);
	uv_close((uv_handle_t *)srv, NULL);
}

static void test_not_ssh(void)
{
	fix_t f;
	uv_tcp_t srv;
	struct sockaddr_in a;
	int len = sizeof(a);

	fix_init(&f);
	ASSERT_EQ(uv_ip4_addr("127.0.0.1", 0, &a), 0);
	ASSERT_EQ(uv_tcp_init(&f.loop, &srv), 0);
	ASSERT_EQ(uv_tcp_bind(&srv, (struct sockaddr *)&a, 0), 0);
	ASSERT_EQ(uv_listen((uv_stream_t *)&srv, 4, srv_conn), 0);
	ASSERT_EQ(uv_tcp_getsockname(&srv, (struct sockaddr *)&a, &len), 0);
	make(&f, ntohs(a.sin_port), 0, 0);
	ASSERT_EQ(dl_tunnel_start(f.t), 0);
	finish(&f);
	ASSERT_EQ(f.ups, 0);
	ASSERT_EQ(f.downs, 1);
	ASSERT(f.err == DL_ESSH || f.err == DL_ECLOSED);
	ASSERT(strstr(f.reason, "SSH handshake with collector 127.0.0.1:"));
	ASSERT_GE(f.delay, 500); /* defaults: 1 s, jittered down to half */
	ASSERT_LE(f.delay, 1000);
	fprintf(stderr, "  reason: %s\n", f.reason);
}

int main(void)
{
	dl_log_set_level(DL_LOG_LEVEL_ERROR);
	RUN(test_new_rejects_bad_opts);
	RUN(test_api_while_down);
	RUN(test_refused);
	RUN(test_not_ssh);
	return 0;
}
