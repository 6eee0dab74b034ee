#include "agent/agent.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/executor.h"
#include "agent/outbox.h"
#include "agent/stats.h"
#include "agent/tunnel.h"
#include "agent/watch.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/control.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define TAG "agent"

typedef enum { LINK_DOWN, LINK_HELLO, LINK_LIVE } link_t;

typedef struct {
	uv_loop_t *loop;
	const dl_aconf_t *conf;
	dl_tunnel_t *tunnel;
	dl_watch_t *watch;
	dl_sampler_t *sampler;
	dl_outbox_t *outbox;
	dl_executor_t *exec;
	dl_frame_reader_t rd;
	uint64_t epoch;
	uint64_t next_seq;
	link_t link;
	uint64_t last_rx_ns;
	uint64_t nonce;
	uint64_t reported_drops; /* dropped frames already reported */
	uv_timer_t ping;
	uv_signal_t sigterm, sigint;
	int closing;
} agent_t;

/* Session and control frames bypass the outbox: they are never
 * replayed. 0, or DL_EFULL / DL_ECLOSED from the tunnel, or the
 * encoder's error (logged). */
static int send_now(agent_t *a, const dl_msg_t *m)
{
	dl_buf_t b;
	int rc;

	dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
	rc = dl_msg_encode(&b, m);
	if (rc == 0)
		rc = dl_tunnel_write(a->tunnel, dl_buf_head(&b),
				     dl_buf_used(&b));
	else
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "cannot encode %s: %s",
			  dl_msg_type_name(m->type), dl_strerror(rc));
	dl_buf_free(&b);
	return rc;
}

/* ---- control executor I/O ---- */

static int ctl_send(void *ud, const dl_msg_t *m)
{
	agent_t *a = ud;

	return a->link == LINK_LIVE ? send_now(a, m) : DL_ECLOSED;
}

static size_t ctl_queued(void *ud)
{
	agent_t *a = ud;

	return dl_tunnel_queued(a->tunnel);
}

static void ctl_want_drain(void *ud)
{
	agent_t *a = ud;

	dl_tunnel_want_drain(a->tunnel);
}

static void pump(agent_t *a)
{
	const uint8_t *p;
	size_t n;
	uint64_t seq;

	while (a->link == LINK_LIVE &&
	       dl_outbox_peek(a->outbox, &p, &n, &seq)) {
		int rc = dl_tunnel_write(a->tunnel, p, n);

		if (rc == DL_EFULL)
			return; /* on_drain resumes */
		if (rc)
			return;
		dl_outbox_sent(a->outbox);
	}
}

static void push_data(agent_t *a, dl_msg_t *m);

static void report_drops(agent_t *a)
{
	uint64_t frames, bytes;
	dl_msg_t m = {.type = DL_MSG_DROPPED};

	dl_outbox_dropped(a->outbox, &frames, &bytes);
	if (frames == a->reported_drops)
		return;
	a->reported_drops = frames;
	m.u.dropped.frames = frames;
	m.u.dropped.bytes = bytes;
	DL_LOG_WARN(TAG,
		    "%llu frames (%llu bytes) dropped so far: the outbox "
		    "(%zu bytes) was full while the collector was unreachable",
		    (unsigned long long)frames, (unsigned long long)bytes,
		    a->conf->outbox_max);
	push_data(a, &m);
}

/* Stamps (epoch, seq, time), encodes once, queues until acked. A time
 * set by the producer (the sample time of a stats batch, shared by all
 * its frames) is kept. */
static void push_data(agent_t *a, dl_msg_t *m)
{
	dl_buf_t b;
	uint64_t frames_before, frames_after, bytes;
	int rc;

	m->epoch = a->epoch;
	m->seq = a->next_seq;
	if (!m->time_ns)
		m->time_ns = dl_clock_wall_ns();
	dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
	rc = dl_msg_encode(&b, m);
	if (rc) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "cannot encode %s frame: %s",
			  dl_msg_type_name(m->type), dl_strerror(rc));
		dl_buf_free(&b);
		return;
	}
	a->next_seq++;
	dl_outbox_dropped(a->outbox, &frames_before, &bytes);
	dl_outbox_push(a->outbox, m->seq, dl_buf_head(&b), dl_buf_used(&b),
		       m->type == DL_MSG_STATS || m->type == DL_MSG_HOSTSTATS
			       ? DL_OUTBOX_STATS
			       : DL_OUTBOX_KEEP);
	dl_buf_free(&b);
	dl_outbox_dropped(a->outbox, &frames_after, &bytes);
	if (frames_after != frames_before && m->type != DL_MSG_DROPPED)
		report_drops(a);
	pump(a);
}

/* ---- Docker watcher callbacks ---- */

static void on_docker(void *ud, const dl_dockerinfo_t *info)
{
	agent_t *a = ud;
	dl_msg_t m = {.type = DL_MSG_DOCKER};

	m.u.docker = *info;
	push_data(a, &m);
}

static void on_inventory(void *ud, const dl_container_t *v, uint32_t n)
{
	agent_t *a = ud;
	dl_msg_t m = {.type = DL_MSG_INVENTORY};

	m.u.inventory.n = n;
	m.u.inventory.v = (dl_container_t *)v;
	push_data(a, &m);
	dl_sampler_inventory(a->sampler, v, n);
}

static void on_container(void *ud, bool removed, const dl_container_t *c)
{
	agent_t *a = ud;
	dl_msg_t m = {.type = DL_MSG_CONTAINER};

	m.u.container.removed = removed;
	m.u.container.c = *c;
	push_data(a, &m);
	dl_sampler_container(a->sampler, removed, c);
}

static void on_stats(void *ud, dl_msg_t *m)
{
	agent_t *a = ud;

	if (m->type == DL_MSG_STATS)
		DL_LOG_DEBUG(TAG, "STATS: %u samples", m->u.stats.n);
	push_data(a, m);
}

static void on_event(void *ud, const dl_event_t *ev, uint64_t time_ns)
{
	agent_t *a = ud;
	dl_msg_t m = {.type = DL_MSG_EVENT};

	m.u.event = *ev;
	push_data(a, &m);
	(void)time_ns;
}

/* ---- collector link ---- */

static void send_hello(agent_t *a)
{
	dl_msg_t m = {.type = DL_MSG_HELLO};
	static const char *caps[] = {"ack",    "ping",	"inventory",
				     "events", "stats", "control"};
	char allow[80];

	m.u.hello.proto_version = DL_PROTO_VERSION;
	m.u.hello.software = DL_STR("dockline-agent " DL_VERSION);
	m.u.hello.epoch = a->epoch;
	m.u.hello.ncaps = 7;
	for (int i = 0; i < 6; i++)
		m.u.hello.caps[i] = DL_STR(caps[i]);
	/* Shown by `dockline hosts`; the agent enforces it either way. */
	memcpy(allow, "allow=", 6);
	dl_control_policy_str(a->conf->control_allow, allow + 6,
			      sizeof(allow) - 6);
	m.u.hello.caps[6] = DL_STR(allow);
	m.u.hello.host = DL_STR("");
	send_now(a, &m);
}

static void on_up(void *ud)
{
	agent_t *a = ud;

	dl_frame_reader_free(&a->rd);
	dl_frame_reader_init(&a->rd, DL_FRAME_MAX);
	a->link = LINK_HELLO;
	a->last_rx_ns = dl_clock_mono_ns();
	send_hello(a);
}

static int on_hello(agent_t *a, const dl_hello_t *h)
{
	char host[DL_MAX_NAME + 1], sw[DL_MAX_NAME + 1];

	dl_str_copy(host, sizeof(host), h->host);
	dl_str_copy(sw, sizeof(sw), h->software);
	if (h->proto_version != DL_PROTO_VERSION) {
		DL_LOG_ERROR(TAG,
			     "collector (%s) speaks protocol version %u, this "
			     "agent speaks %d; upgrade the older side",
			     sw, h->proto_version, DL_PROTO_VERSION);
		return DL_EVERSION;
	}
	/* Frames the collector already committed need not travel again. */
	if (h->last_epoch == a->epoch)
		dl_outbox_ack(a->outbox, h->last_seq);
	dl_outbox_rewind(a->outbox);
	DL_LOG_INFO(TAG,
		    "connected to %s as host %s; %zu frames (%zu bytes) to "
		    "(re)send",
		    sw, host, dl_outbox_count(a->outbox),
		    dl_outbox_bytes(a->outbox));
	a->link = LINK_LIVE;
	report_drops(a);
	pump(a);
	return 0;
}

static int on_frame(agent_t *a, const dl_msg_t *m, char *why, size_t whylen)
{
	dl_msg_t r = {0};

	if (m->type == DL_MSG_ERROR) {
		snprintf(why, whylen, "collector refused the session: %.*s",
			 (int)m->u.error.message.n, m->u.error.message.p);
		return DL_EPROTO;
	}
	if (a->link == LINK_HELLO) {
		if (m->type != DL_MSG_HELLO) {
			snprintf(why, whylen,
				 "expected HELLO from collector, "
				 "got %s",
				 dl_msg_type_name(m->type));
			return DL_EPROTO;
		}
		if (on_hello(a, &m->u.hello) != 0) {
			snprintf(why, whylen, "incompatible collector");
			return DL_EVERSION;
		}
		return 0;
	}
	switch (m->type) {
	case DL_MSG_ACK:
		if (m->u.ack.epoch == a->epoch)
			dl_outbox_ack(a->outbox, m->u.ack.seq);
		return 0;
	case DL_MSG_PING:
		r.type = DL_MSG_PONG;
		r.u.nonce = m->u.nonce;
		send_now(a, &r);
		return 0;
	case DL_MSG_PONG: return 0;
	case DL_MSG_REQUEST:
		dl_executor_request(a->exec, &m->u.request);
		return 0;
	case DL_MSG_CANCEL:
		dl_executor_cancel(a->exec, m->u.credit.id);
		return 0;
	case DL_MSG_CREDIT:
		dl_executor_credit(a->exec, m->u.credit.id, m->u.credit.bytes);
		return 0;
	default:
		snprintf(why, whylen, "unexpected %s from collector",
			 dl_msg_type_name(m->type));
		return DL_EPROTO;
	}
}

static void on_data(void *ud, const uint8_t *p, size_t n)
{
	agent_t *a = ud;
	const uint8_t *payload;
	size_t len;
	char why[512], reason[256];
	dl_msg_t m;
	int rc;

	a->last_rx_ns = dl_clock_mono_ns();
	if (dl_frame_reader_feed(&a->rd, p, n) != 0) {
		dl_tunnel_reset(a->tunnel, DL_ETOOBIG,
				"collector sent more than one frame can hold");
		return;
	}
	while (a->link != LINK_DOWN &&
	       (rc = dl_frame_reader_next(&a->rd, &payload, &len)) != 0) {
		if (rc < 0) {
			snprintf(why, sizeof(why),
				 "invalid frame from collector: %s",
				 dl_strerror(rc));
			dl_tunnel_reset(a->tunnel, rc, why);
			return;
		}
		if (dl_msg_decode(&m, payload, len, reason, sizeof(reason))) {
			snprintf(why, sizeof(why),
				 "malformed frame from collector: %s", reason);
			dl_tunnel_reset(a->tunnel, DL_EPROTO, why);
			return;
		}
		why[0] = '\0';
		rc = on_frame(a, &m, why, sizeof(why));
		dl_msg_release(&m);
		if (rc) {
			DL_LOG_ERROR(TAG, "%s", why);
			dl_tunnel_reset(a->tunnel, rc, why);
			return;
		}
	}
}

static void on_down(void *ud, int err, const char *reason, uint64_t delay_ms)
{
	agent_t *a = ud;

	a->link = LINK_DOWN;
	/* Never replayed: the collector tells its admins the outcome is
	 * unknown. */
	dl_executor_reset(a->exec);
	DL_LOG_WARN(TAG,
		    "collector link down: %s; retrying in %.1f s (%zu frames "
		    "kept)",
		    reason, (double)delay_ms / 1000.0,
		    dl_outbox_count(a->outbox));
	(void)err;
}

static void on_drain(void *ud)
{
	agent_t *a = ud;

	/* Streams first: the outbox would fill the queue again. */
	dl_executor_drain(a->exec);
	pump(a);
}

static void on_ping(uv_timer_t *t)
{
	agent_t *a = t->data;
	uint64_t limit =
		3ull * (uint64_t)a->conf->ping_interval * 1000000000ull;
	dl_msg_t m = {.type = DL_MSG_PING};
	char why[128];

	if (a->link == LINK_DOWN)
		return;
	if (dl_clock_mono_ns() - a->last_rx_ns > limit) {
		snprintf(why, sizeof(why),
			 "no data from the collector for %d s",
			 3 * a->conf->ping_interval);
		a->link = LINK_DOWN;
		dl_tunnel_reset(a->tunnel, DL_ETIMEDOUT, why);
		return;
	}
	m.u.nonce = ++a->nonce;
	send_now(a, &m);
}

/* ---- lifecycle ---- */

static void on_closed_part(void *arg)
{
	agent_t *a = arg;

	if (--a->closing == 0)
		uv_stop(a->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
	agent_t *a = h->data;

	if (a->closing)
		return;
	DL_LOG_INFO(TAG, "signal %d: stopping (%zu unacked frames dropped)",
		    signum, dl_outbox_count(a->outbox));
	a->closing = 3;
	uv_timer_stop(&a->ping);
	uv_signal_stop(&a->sigterm);
	uv_signal_stop(&a->sigint);
	/* Before the watcher: its Docker client carries our requests. */
	dl_executor_free(a->exec);
	a->exec = NULL;
	dl_sampler_close(a->sampler, on_closed_part, a);
	dl_watch_close(a->watch, on_closed_part, a);
	dl_tunnel_close(a->tunnel, on_closed_part, a);
}

int dl_agent_run(const dl_aconf_t *conf)
{
	static const dl_watch_cbs_t wcbs = {on_docker, on_inventory,
					    on_container, on_event};
	static const dl_tunnel_cbs_t tcbs = {on_up, on_data, on_down, on_drain};
	static const dl_executor_io_t xio = {ctl_send, ctl_queued,
					     ctl_want_drain};
	char allow[64];
	dl_tunnel_opts_t topts = {
		.host = conf->host,
		.port = conf->port,
		.user = conf->user,
		.identity = conf->identity,
		.known_hosts = conf->known_hosts,
		.command = conf->command,
	};
	dl_sampler_opts_t sopts = {
		.interval_s = conf->stats_interval,
		.source = conf->stats_source,
	};
	agent_t a = {0};
	uv_loop_t loop;
	uint64_t tick = (uint64_t)conf->ping_interval * 1000u;

	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	a.loop = &loop;
	a.conf = conf;
	/* A new epoch per process: the outbox does not outlive it. */
	a.epoch = dl_clock_wall_ns();
	a.next_seq = 1;
	dl_frame_reader_init(&a.rd, DL_FRAME_MAX);
	a.outbox = dl_outbox_new(conf->outbox_max);
	a.tunnel = dl_tunnel_new(&loop, &topts, &tcbs, &a);
	a.watch = dl_watch_new(&loop, conf->docker_socket, &wcbs, &a);
	a.sampler =
		a.watch ? dl_sampler_new(&loop, a.watch, &sopts, on_stats, &a)
			: NULL;
	a.exec = a.watch ? dl_executor_new(&loop, dl_watch_docker(a.watch),
					   conf->control_allow, &xio, &a)
			 : NULL;
	if (!a.outbox || !a.tunnel || !a.watch || !a.sampler || !a.exec) {
		DL_LOG_ERROR(TAG, "out of memory at start");
		return 1;
	}
	uv_timer_init(&loop, &a.ping);
	a.ping.data = &a;
	uv_timer_start(&a.ping, on_ping, tick, tick);
	uv_signal_init(&loop, &a.sigterm);
	uv_signal_init(&loop, &a.sigint);
	a.sigterm.data = a.sigint.data = &a;
	uv_signal_start(&a.sigterm, on_signal, SIGTERM);
	uv_signal_start(&a.sigint, on_signal, SIGINT);
	dl_control_policy_str(conf->control_allow, allow, sizeof(allow));
	DL_LOG_INFO(TAG,
		    "dockline-agent %s starting: collector %s@%s:%u, docker "
		    "%s, control allows %s",
		    DL_VERSION, conf->user, conf->host, conf->port,
		    conf->docker_socket, allow);
	dl_watch_start(a.watch);
	dl_sampler_start(a.sampler);
	dl_tunnel_start(a.tunnel);
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Close what is left (timer, signals) and let callbacks finish. */
	uv_close((uv_handle_t *)&a.ping, NULL);
	uv_close((uv_handle_t *)&a.sigterm, NULL);
	uv_close((uv_handle_t *)&a.sigint, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_outbox_free(a.outbox);
	dl_frame_reader_free(&a.rd);
	DL_LOG_INFO(TAG, "stopped");
	return 0;
}
