#include "agent/agent.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/executor.h"
#include "agent/outbox.h"
#include "agent/replay.h"
#include "agent/spool.h"
#include "agent/stats.h"
#include "agent/tunnel.h"
#include "agent/watch.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sdnotify.h"
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
	dl_outbox_t *outbox; /* memory: the oldest unacked frames, to send */
	dl_spool_t *spool;   /* disk: every unacked frame */
	dl_replay_t *replay; /* Docker events already queued */
	dl_executor_t *exec;
	dl_frame_reader_t rd;
	uint64_t epoch;
	/* Every spooled seq <= mem_upto is in the outbox, acked or dropped;
	 * the ones above it are only on disk (backlog). */
	uint64_t mem_upto;
	uint64_t lost_frames, lost_bytes; /* neither spooled nor queued */
	link_t link;
	uint64_t last_rx_ns;
	uint64_t nonce;
	uint64_t reported_drops; /* dropped frames already reported */
	uint64_t spread_ms;	 /* from the collector's fleet=N */
	uv_timer_t ping;
	uv_timer_t sync; /* spool_sync = DURATION */
	uv_signal_t sigterm, sigint;
	uv_timer_t watchdog; /* systemd's, when it asks for one */
	int closing;
	/* The collector's HELLO announced DL_CAP_INVENTORY_PARTS. */
	bool inv_parts;
	/* Pushing INVENTORY parts: their seqs must follow each other, so a
	 * DROPPED waits until the last one is queued. */
	bool in_parts;
	/* An INVENTORY payload over this goes in parts: DL_FRAME_MAX, or
	 * DL_TEST_INVENTORY_PART_MAX (tests only). */
	size_t inv_part_max;
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
		int rc;

		/* An older collector would take each part for the whole
		 * list and mark the rest gone: it gets none (as before
		 * parts existed); the acks of later frames cover them. */
		if (!a->inv_parts && dl_msg_frame_is_inventory_part(p, n)) {
			DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
				  "collector does not assemble inventory "
				  "parts (older than this agent): INVENTORY "
				  "seq %llu not sent; upgrade the collector",
				  (unsigned long long)seq);
			dl_outbox_sent(a->outbox);
			continue;
		}
		rc = dl_tunnel_write(a->tunnel, p, n);

		if (rc == DL_EFULL)
			return; /* on_drain resumes */
		if (rc)
			return;
		dl_outbox_sent(a->outbox);
	}
}

static void push_data(agent_t *a, dl_msg_t *m);

/* Dropped so far: memory cap (only when the spool failed), spool cap
 * (all runs), and frames neither could take. */
static void drop_totals(agent_t *a, uint64_t *frames, uint64_t *bytes)
{
	dl_spool_stat_t st;

	dl_outbox_dropped(a->outbox, frames, bytes);
	dl_spool_stat(a->spool, &st);
	*frames += st.dropped_frames + a->lost_frames;
	*bytes += st.dropped_bytes + a->lost_bytes;
}

/* Moves spooled frames into the outbox while it is at most half full, up
 * to its cap: after hours offline the backlog streams from disk at the
 * pace of acks, outbox_max / 2 at a time, never the whole spool at
 * once, so the loop keeps reading Docker meanwhile. */
static void refill(agent_t *a)
{
	dl_spool_rec_t r;
	int rc;

	if (dl_outbox_bytes(a->outbox) > a->conf->outbox_max / 2)
		return;
	while (a->mem_upto < dl_spool_last_seq(a->spool)) {
		rc = dl_spool_next(a->spool, a->mem_upto, &r);
		if (rc <= 0) { /* nothing left above mem_upto */
			a->mem_upto = dl_spool_last_seq(a->spool);
			break;
		}
		if (dl_outbox_count(a->outbox) &&
		    !dl_outbox_fits(a->outbox, r.len))
			break;
		dl_outbox_push(a->outbox, r.seq, r.frame, r.len, r.cls);
		a->mem_upto = r.seq;
	}
}

/* The collector committed everything <= seq of our epoch. */
static void acked(agent_t *a, uint64_t seq)
{
	dl_outbox_ack(a->outbox, seq);
	dl_spool_ack(a->spool, seq);
	if (seq > a->mem_upto)
		a->mem_upto = seq;
	refill(a);
}

static void on_spool_drop(void *ud, uint64_t lo, uint64_t hi, int stats_only)
{
	agent_t *a = ud;

	dl_outbox_discard(a->outbox, lo, hi, stats_only);
}

static void report_drops(agent_t *a)
{
	uint64_t frames, bytes;
	dl_msg_t m = {.type = DL_MSG_DROPPED};

	drop_totals(a, &frames, &bytes);
	if (frames == a->reported_drops)
		return;
	a->reported_drops = frames;
	m.u.dropped.frames = frames;
	m.u.dropped.bytes = bytes;
	DL_LOG_WARN(TAG,
		    "%llu frames (%llu bytes) dropped so far: the spool "
		    "(%zu bytes) was full while the collector was unreachable",
		    (unsigned long long)frames, (unsigned long long)bytes,
		    a->conf->spool_max);
	push_data(a, &m);
}

/* Queues one encoded frame: to the spool first (before it can be sent),
 * then to the outbox unless older frames wait on disk only. A frame the
 * spool cannot take stays in memory alone (logged), unless that would
 * put it ahead of spooled ones: then it is dropped and counted. */
static void queue_frame(agent_t *a, uint64_t seq, const uint8_t *p, size_t n,
			dl_outbox_class_t cls)
{
	int backlog = a->mem_upto < dl_spool_last_seq(a->spool);

	if (dl_spool_append(a->spool, seq, cls, p, n) != 0) {
		if (backlog) {
			a->lost_frames++;
			a->lost_bytes += n;
			return;
		}
		dl_outbox_push(a->outbox, seq, p, n, cls);
		a->mem_upto = seq;
		return;
	}
	if (!backlog && dl_outbox_fits(a->outbox, n)) {
		dl_outbox_push(a->outbox, seq, p, n, cls);
		a->mem_upto = seq;
	} else {
		refill(a);
	}
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
	if (!m->seq) /* INVENTORY parts take theirs first (their id) */
		dl_spool_take_seq(a->spool, &m->seq); /* logs its failure */
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
	drop_totals(a, &frames_before, &bytes);
	queue_frame(a, m->seq, dl_buf_head(&b), dl_buf_used(&b),
		    m->type == DL_MSG_STATS || m->type == DL_MSG_HOSTSTATS
			    ? DL_OUTBOX_STATS
			    : DL_OUTBOX_KEEP);
	dl_buf_free(&b);
	drop_totals(a, &frames_after, &bytes);
	if (frames_after != frames_before && m->type != DL_MSG_DROPPED &&
	    !a->in_parts)
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

/* An inventory over one frame goes as parts with consecutive seqs, the
 * first one's seq naming them all. They must all fit in the outbox at
 * once: the collector acks none of them before the last arrives, and
 * the outbox refills from the spool only while at most half full. */
static void push_inventory_parts(agent_t *a, const dl_container_t *v,
				 uint32_t n, const uint32_t *starts,
				 uint32_t nparts, size_t total)
{
	size_t cap = a->conf->outbox_max / 2;
	uint64_t id = 0;

	if (total > cap) {
		DL_LOG_ERROR(TAG,
			     "inventory of %u containers (%zu bytes in %u "
			     "parts) is larger than half of outbox_max (%zu "
			     "bytes): not sent; raise outbox_max",
			     n, total, nparts, a->conf->outbox_max);
		return;
	}
	DL_LOG_INFO(TAG, "inventory: %u containers in %u parts (%zu bytes)", n,
		    nparts, total);
	for (uint32_t i = 0; i < nparts; i++) {
		uint32_t end = i + 1 < nparts ? starts[i + 1] : n;
		dl_msg_t m = {.type = DL_MSG_INVENTORY};

		dl_spool_take_seq(a->spool, &m.seq);
		if (i == 0)
			id = m.seq;
		m.u.inventory.v = (dl_container_t *)v + starts[i];
		m.u.inventory.n = end - starts[i];
		m.u.inventory.id = id;
		m.u.inventory.part = i;
		m.u.inventory.parts = nparts;
		a->in_parts = true;
		push_data(a, &m);
		a->in_parts = false;
	}
	report_drops(a);
}

static void on_inventory(void *ud, const dl_container_t *v, uint32_t n)
{
	static uint32_t starts[DL_MAX_INVENTORY_PARTS];
	agent_t *a = ud;
	dl_msg_t m = {.type = DL_MSG_INVENTORY};
	uint32_t nparts = 0;
	size_t total = 0;
	int rc;

	rc = dl_msg_inventory_split(v, n, a->inv_part_max, starts,
				    DL_MAX_INVENTORY_PARTS, &nparts, &total);
	if (rc == 0 && nparts > 1) {
		push_inventory_parts(a, v, n, starts, nparts, total);
	} else if (rc == DL_ETOOBIG) {
		DL_LOG_ERROR(TAG,
			     "inventory of %u containers does not fit %u "
			     "parts of %zu bytes (%u bytes in all at most): "
			     "not sent",
			     n, DL_MAX_INVENTORY_PARTS, a->inv_part_max,
			     DL_MAX_INVENTORY_BYTES);
	} else {
		/* One frame (or a container the encoder refuses, which
		 * push_data logs). */
		m.u.inventory.n = n;
		m.u.inventory.v = (dl_container_t *)v;
		push_data(a, &m);
	}
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

	/* dockerd replays the last second on every subscribe, this run's
	 * or the last one's: queued once, under one seq. */
	if (dl_replay_seen(a->replay, ev, time_ns)) {
		DL_LOG_DEBUG(TAG, "replayed event %.*s %.*s skipped",
			     (int)ev->type.n, ev->type.p, (int)ev->action.n,
			     ev->action.p);
		return;
	}
	m.u.event = *ev;
	/* Docker's time: also what replay_catch_up finds in the spool */
	m.time_ns = time_ns;
	push_data(a, &m);
	dl_replay_note(a->replay, ev, time_ns, m.seq);
}

/* A crash between the spool append and the replay note above leaves the
 * newest event spooled but not remembered, and dockerd replays it at the
 * next subscribe: it would be queued again under a new seq, which the
 * collector cannot dedupe (tests/faults/case_agent_kill.sh saw one in
 * 10). Every EVENT in the spool was accepted: the ones after the last
 * noted seq are noted now, before the watcher subscribes. */
static void replay_catch_up(agent_t *a)
{
	uint64_t after = dl_replay_seq(a->replay);
	dl_spool_rec_t r;
	unsigned n = 0;

	while (dl_spool_next(a->spool, after, &r) > 0) {
		dl_msg_t m;

		after = r.seq;
		if (r.cls != DL_OUTBOX_KEEP || r.len <= DL_FRAME_HDR ||
		    dl_msg_decode(&m, r.frame + DL_FRAME_HDR,
				  r.len - DL_FRAME_HDR, NULL, 0) != 0)
			continue;
		if (m.type == DL_MSG_EVENT &&
		    !dl_replay_seen(a->replay, &m.u.event, m.time_ns)) {
			dl_replay_note(a->replay, &m.u.event, m.time_ns, r.seq);
			n++;
		}
		dl_msg_release(&m);
	}
	if (n)
		DL_LOG_INFO(TAG,
			    "%u spooled event(s) were not yet remembered as "
			    "accepted (the agent stopped in between): noted",
			    n);
}

/* Events dockerd made while the agent was down are still in its replay
 * buffer (the last 256): the stream starts from the newest one accepted. */
static uint64_t on_resume_ns(void *ud)
{
	agent_t *a = ud;

	return a->replay ? dl_replay_newest(a->replay) : 0;
}

/* ---- collector link ---- */

static void send_hello(agent_t *a)
{
	dl_msg_t m = {.type = DL_MSG_HELLO};
	/* resume: RESTART understood; bye: BYE{retry_after} understood. */
	static const char *caps[] = {"ack",	    "ping",    "inventory",
				     "events",	    "stats",   "control",
				     DL_CAP_RESUME, DL_CAP_BYE};
	const uint32_t ncaps = sizeof(caps) / sizeof(caps[0]);
	char allow[80];

	m.u.hello.proto_version = DL_PROTO_VERSION;
	m.u.hello.software = DL_STR("dockline-agent " DL_VERSION);
	m.u.hello.epoch = a->epoch;
	m.u.hello.ncaps = ncaps + 1;
	for (uint32_t i = 0; i < ncaps; i++)
		m.u.hello.caps[i] = DL_STR(caps[i]);
	/* Shown by `dockline hosts`; the agent enforces it either way. */
	memcpy(allow, "allow=", 6);
	dl_control_policy_str(a->conf->control_allow, allow + 6,
			      sizeof(allow) - 6);
	m.u.hello.caps[ncaps] = DL_STR(allow);
	m.u.hello.host = DL_STR("");
	m.u.hello.time_ns = dl_clock_wall_ns(); /* the collector's skew */
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

/* fleet=N in the collector's caps: how long a redial after a lost link
 * is spread, N / DL_FLEET_HANDSHAKES_PER_S s, at most
 * DL_FLEET_SPREAD_MAX_S. */
static uint64_t fleet_spread_ms(const dl_hello_t *h)
{
	const size_t k = sizeof(DL_CAP_FLEET) - 1;

	for (uint32_t i = 0; i < h->ncaps; i++) {
		char num[24], *end;
		unsigned long long n;

		if (h->caps[i].n <= k || h->caps[i].n - k >= sizeof(num) ||
		    memcmp(h->caps[i].p, DL_CAP_FLEET, k) != 0)
			continue;
		dl_str_copy(num, sizeof(num),
			    (dl_str_t){h->caps[i].p + k, h->caps[i].n - k});
		errno = 0;
		n = strtoull(num, &end, 10);
		if (errno || *end || n > UINT32_MAX)
			return 0;
		n = n * 1000u / DL_FLEET_HANDSHAKES_PER_S;
		return n > DL_FLEET_SPREAD_MAX_S * 1000u
			       ? DL_FLEET_SPREAD_MAX_S * 1000u
			       : n;
	}
	return 0;
}

static int on_hello(agent_t *a, const dl_hello_t *h)
{
	char host[DL_MAX_NAME + 1], sw[DL_MAX_NAME + 1], backlog[96];

	dl_str_copy(host, sizeof(host), h->host);
	dl_str_copy(sw, sizeof(sw), h->software);
	if (h->proto_version != DL_PROTO_VERSION) {
		DL_LOG_ERROR(TAG,
			     "collector (%s) speaks protocol version %u, this "
			     "agent speaks %d; upgrade the older side",
			     sw, h->proto_version, DL_PROTO_VERSION);
		return DL_EVERSION;
	}
	a->spread_ms = fleet_spread_ms(h);
	a->inv_parts = false;
	for (uint32_t i = 0; i < h->ncaps; i++)
		if (dl_str_eq(h->caps[i], DL_CAP_INVENTORY_PARTS))
			a->inv_parts = true;
	dl_tunnel_set_spread(a->tunnel, a->spread_ms);
	/* Frames the collector already committed need not travel again. */
	if (h->last_epoch == a->epoch) {
		dl_spool_stat_t st;

		dl_spool_stat(a->spool, &st);
		if (h->last_seq >= st.next_seq) {
			/* It has seqs we would hand out again (a state dir
			 * restored from a backup?): they would be deduped
			 * away, so skip past them. */
			DL_LOG_WARN(TAG,
				    "collector committed seq %llu of this "
				    "epoch, beyond our next %llu: skipping "
				    "ahead",
				    (unsigned long long)h->last_seq,
				    (unsigned long long)st.next_seq);
			dl_spool_bump_seq(a->spool, h->last_seq + 1);
		}
		acked(a, h->last_seq);
	}
	dl_outbox_rewind(a->outbox);
	backlog[0] = '\0';
	if (a->mem_upto < dl_spool_last_seq(a->spool))
		snprintf(backlog, sizeof(backlog),
			 ", then seqs %llu..%llu from the spool",
			 (unsigned long long)a->mem_upto + 1,
			 (unsigned long long)dl_spool_last_seq(a->spool));
	DL_LOG_INFO(TAG,
		    "connected to %s as host %s; %zu frames (%zu bytes) to "
		    "(re)send%s",
		    sw, host, dl_outbox_count(a->outbox),
		    dl_outbox_bytes(a->outbox), backlog);
	a->link = LINK_LIVE;
	report_drops(a);
	pump(a);
	return 0;
}

/* RESTART: serve restarted behind the same SSH channel (attach kept it).
 * The session starts over as after a reconnect, without a handshake. */
static void on_restart(agent_t *a, const dl_msg_t *m)
{
	DL_LOG_INFO(TAG,
		    "collector restarted (%.*s): starting the session again "
		    "on the same SSH connection",
		    (int)m->u.restart_reason.n, m->u.restart_reason.p);
	/* Calls in flight end as "unknown" at the collector's side. */
	dl_executor_reset(a->exec);
	a->link = LINK_HELLO;
	a->last_rx_ns = dl_clock_mono_ns();
	send_hello(a);
}

/* BYE{retry_after}: the collector closes and says when to come back. */
static void on_bye(agent_t *a, const dl_msg_t *m)
{
	uint64_t s = m->u.bye.retry_after_s, jitter, ms;
	char why[256];

	if (s > DL_BYE_RETRY_MAX_S)
		s = DL_BYE_RETRY_MAX_S;
	/* At least a tenth of the wait, or the fleet's spread if larger. */
	jitter = a->spread_ms > s * 100u ? a->spread_ms : s * 100u;
	ms = s * 1000u + dl_tunnel_jitter(a->tunnel, jitter);
	DL_LOG_WARN(TAG,
		    "collector said goodbye (%.*s): retry after %llu s, "
		    "redialling in %.1f s",
		    (int)m->u.bye.reason.n, m->u.bye.reason.p,
		    (unsigned long long)s, (double)ms / 1000.0);
	snprintf(why, sizeof(why),
		 "collector said goodbye (retry after %llu s)",
		 (unsigned long long)s);
	a->link = LINK_DOWN;
	dl_tunnel_reset_after(a->tunnel, DL_ECLOSED, why, ms);
}

static int on_frame(agent_t *a, const dl_msg_t *m, char *why, size_t whylen)
{
	dl_msg_t r = {0};

	if (m->type == DL_MSG_RESTART) {
		on_restart(a, m);
		return 0;
	}
	if (m->type == DL_MSG_BYE) {
		on_bye(a, m);
		return 0;
	}
	if (m->type == DL_MSG_ERROR) {
		snprintf(why, whylen, "collector refused the session: %.*s",
			 (int)m->u.error.message.n, m->u.error.message.p);
		return DL_EPROTO;
	}
	/* Before HELLO too: attach PINGs while it waits for a serve that
	 * went away again between its RESTART and serve's HELLO. */
	if (m->type == DL_MSG_PING) {
		r.type = DL_MSG_PONG;
		r.u.nonce = m->u.nonce;
		send_now(a, &r);
		return 0;
	}
	if (m->type == DL_MSG_PONG)
		return 0;
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
		if (m->u.ack.epoch == a->epoch) {
			acked(a, m->u.ack.seq);
			pump(a);
		}
		return 0;
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

static void on_sync(uv_timer_t *t)
{
	agent_t *a = t->data;

	dl_spool_sync(a->spool);
}

/* The stream continues where the last run stopped: same epoch, seqs
 * after every seq it may have used, unacked frames back in the outbox. */
static int open_spool(agent_t *a, const dl_aconf_t *conf)
{
	dl_spool_opts_t o = {
		.state_dir = conf->state_dir,
		.max_bytes = conf->spool_max,
		.sync = (dl_spool_sync_t)conf->spool_sync,
		.on_drop = on_spool_drop,
		.ud = a,
	};
	static const char *const how[] = {"new epoch", "continued",
					  "new epoch (old spool moved aside)"};
	dl_spool_stat_t st;

	if (dl_spool_open(&o, &a->spool) != 0)
		return -1;
	a->epoch = dl_spool_epoch(a->spool);
	dl_spool_stat(a->spool, &st);
	a->reported_drops = st.dropped_frames;
	DL_LOG_INFO(TAG,
		    "stream %s: epoch %llu, next seq %llu; spool %s holds "
		    "%llu bytes in %llu segments",
		    how[dl_spool_start(a->spool)], (unsigned long long)a->epoch,
		    (unsigned long long)st.next_seq, conf->state_dir,
		    (unsigned long long)st.bytes,
		    (unsigned long long)st.segments);
	return 0;
}

static void on_closed_part(void *arg)
{
	agent_t *a = arg;

	if (--a->closing == 0)
		uv_stop(a->loop);
}

/* Fed from the loop itself: a stuck loop gets the agent restarted. */
static void on_watchdog(uv_timer_t *t)
{
	dl_sd_notify("WATCHDOG=1");
}

static void on_signal(uv_signal_t *h, int signum)
{
	agent_t *a = h->data;

	if (a->closing)
		return;
	dl_sd_notify("STOPPING=1");
	uv_timer_stop(&a->watchdog);
	dl_spool_sync(a->spool);
	DL_LOG_INFO(TAG,
		    "signal %d: stopping (unacked frames up to seq %llu kept "
		    "in the spool)",
		    signum, (unsigned long long)dl_spool_last_seq(a->spool));
	a->closing = 3;
	uv_timer_stop(&a->ping);
	uv_timer_stop(&a->sync);
	uv_signal_stop(&a->sigterm);
	uv_signal_stop(&a->sigint);
	/* Before the watcher: its Docker client carries our requests. */
	dl_executor_free(a->exec);
	a->exec = NULL;
	dl_sampler_close(a->sampler, on_closed_part, a);
	dl_watch_close(a->watch, on_closed_part, a);
	dl_tunnel_close(a->tunnel, on_closed_part, a);
}

/* DL_TEST_INVENTORY_PART_MAX=BYTES (tests only: it makes a host of ~100
 * containers send its inventory in parts): 4096..DL_FRAME_MAX. */
static int test_part_max(size_t *out)
{
	const char *e = getenv("DL_TEST_INVENTORY_PART_MAX");
	int64_t v;

	*out = DL_FRAME_MAX;
	if (!e || !*e)
		return 0;
	if (dl_parse_int(e, 4096, DL_FRAME_MAX, &v)) {
		DL_LOG_ERROR(TAG,
			     "DL_TEST_INVENTORY_PART_MAX=%.32s: expected "
			     "4096..%u bytes",
			     e, DL_FRAME_MAX);
		return DL_EINVAL;
	}
	*out = (size_t)v;
	DL_LOG_WARN(TAG,
		    "DL_TEST_INVENTORY_PART_MAX: inventories over %zu bytes "
		    "go in parts (a test setting)",
		    *out);
	return 0;
}

int dl_agent_run(const dl_aconf_t *conf)
{
	static const dl_watch_cbs_t wcbs = {
		on_docker, on_inventory, on_container, on_event, on_resume_ns};
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

	if (test_part_max(&a.inv_part_max) != 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&loop);
	a.loop = &loop;
	a.conf = conf;
	dl_frame_reader_init(&a.rd, DL_FRAME_MAX);
	a.outbox = dl_outbox_new(conf->outbox_max);
	a.replay = dl_replay_new(conf->state_dir);
	if (!a.outbox || !a.replay || open_spool(&a, conf) != 0) {
		DL_LOG_ERROR(TAG, "cannot start without the spool in %s",
			     conf->state_dir);
		dl_outbox_free(a.outbox);
		dl_replay_free(a.replay);
		uv_loop_close(&loop);
		return 1;
	}
	replay_catch_up(&a);
	refill(&a);
	a.tunnel = dl_tunnel_new(&loop, &topts, &tcbs, &a);
	a.watch = dl_watch_new(&loop, conf->docker_socket, &wcbs, &a);
	if (a.watch)
		dl_watch_set_label(a.watch, conf->docker_label); /* checked */
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
	uv_timer_init(&loop, &a.sync);
	a.sync.data = &a;
	if (conf->spool_sync == DL_SPOOL_SYNC_INTERVAL)
		uv_timer_start(&a.sync, on_sync,
			       (uint64_t)conf->spool_sync_s * 1000u,
			       (uint64_t)conf->spool_sync_s * 1000u);
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
	uv_timer_init(&loop, &a.watchdog);
	if (dl_sd_watchdog_ms())
		uv_timer_start(&a.watchdog, on_watchdog,
			       dl_sd_watchdog_ms() / 2,
			       dl_sd_watchdog_ms() / 2);
	/* Ready once the spool is read back and the loop runs: the
	 * collector link comes and goes on its own. */
	dl_sd_notify("READY=1\nSTATUS=running");
	uv_run(&loop, UV_RUN_DEFAULT);
	/* Close what is left (timer, signals) and let callbacks finish. */
	uv_close((uv_handle_t *)&a.watchdog, NULL);
	uv_close((uv_handle_t *)&a.ping, NULL);
	uv_close((uv_handle_t *)&a.sync, NULL);
	uv_close((uv_handle_t *)&a.sigterm, NULL);
	uv_close((uv_handle_t *)&a.sigint, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_outbox_free(a.outbox);
	dl_spool_free(a.spool);
	dl_replay_free(a.replay);
	dl_frame_reader_free(&a.rd);
	DL_LOG_INFO(TAG, "stopped");
	return 0;
}
