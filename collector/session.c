/* session.c - one agent session, as relayed by `dockline-collector attach`.
 *
 *   attach --ATTACH{host}--> serve        (host bound by sshd's forced command)
 *   agent  --HELLO---------> serve --HELLO{last committed epoch,seq}--> agent
 *   agent  --data(epoch,seq)--> writer thread --COMMIT--> ACK --> agent
 *
 * Any malformed, oversized or out-of-order frame closes this session only,
 * with the reason logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/alerts.h"
#include "collector/invparts.h"
#include "collector/metrics.h"
#include "collector/notify.h"
#include "collector/serve_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"
#include "proto/msg.h"

#define TAG	   "session"
#define READ_CHUNK 65536
#define RETRY_MS   20
/* BYE's retry-after when serve stops on SIGTERM (a restart or an upgrade
 * takes seconds; the agent adds its fleet jitter). */
#define DL_SERVE_STOP_RETRY_S 10u

typedef enum { S_ATTACH, S_HELLO, S_LIVE, S_CLOSING } state_t;

struct dl_session {
	uv_pipe_t pipe;
	uv_timer_t timer; /* PING, dead-peer check, store back-pressure */
	dl_server_t *srv;
	dl_session_t *next, **pprev; /* srv->sessions */
	uint64_t sid;
	bool by_host; /* listed in srv->by_host */
	state_t state;
	int open_handles;
	uid_t uid;
	pid_t pid;
	char host[DL_HOST_MAX + 1];
	char software[DL_MAX_NAME + 1];
	bool control; /* HELLO caps announce "control" */
	bool resume;  /* attach keeps the channel and the agent can resume */
	bool attach_resume; /* ATTACH flags: DL_ATTACH_RESUME */
	bool bye;	    /* HELLO caps announce "bye" */
	bool said_last;	    /* ERROR or BYE already sent: nothing after it */
	char allow[64];	    /* and "allow=CLASSES": the agent's policy */
	dl_frame_reader_t rd;
	uint64_t last_rx_ns;
	uint64_t next_ping_ns; /* monotonic: PINGs go on under back-pressure */
	uint64_t nonce;
	/* A data frame the writer could not take yet (DL_EFULL). It points
	 * into rd, which is not fed while reading is stopped. */
	const uint8_t *pending;
	size_t pending_len;
	/* pending is a part 0 waiting for room among the inventories held
	 * (invparts.c): its part count; 0 otherwise. */
	uint32_t wait_parts;
	uint64_t frames_in;
	dl_invparts_t *inv; /* INVENTORY parts held; made at the first part */
	uint64_t inv_ns;    /* monotonic: the last part taken */
};

static void process(dl_session_t *s);
static void on_retry(uv_timer_t *t);

static const char *name_of(const dl_session_t *s)
{
	return s->host[0] ? s->host : "(unattached)";
}

static void on_handle_closed(uv_handle_t *h)
{
	dl_session_t *s = h->data;

	if (--s->open_handles == 0) {
		dl_frame_reader_free(&s->rd);
		dl_invparts_free(s->inv);
		free(s);
	}
}

/* Every state change goes through here: srv->nlive counts S_LIVE. */
static void set_state(dl_session_t *s, state_t st)
{
	s->srv->nlive += (st == S_LIVE) - (s->state == S_LIVE);
	s->state = st;
}

static void unlink_session(dl_session_t *s)
{
	dl_server_t *srv = s->srv;

	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	dl_hidx_del(&srv->by_sid, dl_hash_u64(s->sid), (uintptr_t)s);
	if (s->by_host)
		dl_hidx_del(&srv->by_host, dl_hash_str(s->host), (uintptr_t)s);
	s->by_host = false;
}

/* {"type":"host","action":"offline"|"online","host","time_ns",
 * "attributes":{...}} for [hook] on = host:... (not while stopping:
 * the collector going away is not the host going away). */
static void host_event(dl_session_t *s, const char *action, const char *k,
		       const char *v)
{
	json_t *e;

	if (!s->srv->notify || s->srv->stopping)
		return;
	e = json_pack("{s:s,s:s,s:s,s:I,s:{s:s}}", "type", "host", "action",
		      action, "host", s->host, "time_ns",
		      (json_int_t)dl_clock_wall_ns(), "attributes", k, v);
	dl_notify_event(s->srv->notify, e);
	json_decref(e);
}

static void session_close(dl_session_t *s, const char *why)
{
	if (s->state == S_CLOSING)
		return;
	if (s->state == S_LIVE) {
		DL_LOG_INFO(TAG, "%s disconnected: %s (%llu frames)",
			    name_of(s), why, (unsigned long long)s->frames_in);
		if (s->srv->store)
			dl_store_host_offline(s->srv->store, s->host,
					      dl_clock_wall_ns());
		host_event(s, "offline", "reason", why);
		/* A collector that stops says nothing about its hosts. */
		if (s->srv->alerts && !s->srv->stopping)
			dl_alerts_host(s->srv->alerts, s->host, false);
	} else {
		DL_LOG_WARN(TAG, "closing session of %s (pid %d): %s",
			    name_of(s), (int)s->pid, why);
	}
	set_state(s, S_CLOSING);
	unlink_session(s);
	dl_call_session_closed(s->srv, s->sid, why);
	uv_close((uv_handle_t *)&s->pipe, on_handle_closed);
	uv_close((uv_handle_t *)&s->timer, on_handle_closed);
}

static void on_written(uv_write_t *req, int status)
{
	free(req->data);
	free(req);
}

static int send_msg(dl_session_t *s, const dl_msg_t *m)
{
	dl_buf_t b;
	uv_write_t *req;
	uv_buf_t ub;
	int rc;

	if (s->state == S_CLOSING)
		return DL_ECLOSED;
	/* An agent that stops reading must not grow our memory. */
	if (uv_stream_get_write_queue_size((uv_stream_t *)&s->pipe) >
	    DL_FRAME_MAX) {
		session_close(s, "agent is not reading (send queue full)");
		return DL_EFULL;
	}
	dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
	rc = dl_msg_encode(&b, m);
	req = malloc(sizeof(*req));
	if (rc || !req) {
		free(req);
		dl_buf_free(&b);
		return rc ? rc : DL_ENOMEM;
	}
	req->data = b.data;
	ub = uv_buf_init((char *)dl_buf_head(&b), (unsigned)dl_buf_used(&b));
	rc = uv_write(req, (uv_stream_t *)&s->pipe, &ub, 1, on_written);
	if (rc) {
		free(req->data);
		free(req);
		session_close(s, uv_strerror(rc));
		return DL_EIO;
	}
	return 0;
}

static void send_error(dl_session_t *s, int code, const char *text)
{
	dl_msg_t m = {.type = DL_MSG_ERROR};

	m.u.error.code = code;
	m.u.error.message = DL_STR(text);
	send_msg(s, &m);
	s->said_last = true;
}

/* Closes a session on purpose. attach takes an EOF without an ERROR or
 * BYE before it for a crashed serve and would keep the session, so every
 * deliberate close says so first (our HELLO's "resume" cap promises it). */
static void session_end(dl_session_t *s, int code, const char *why)
{
	if (s->state != S_CLOSING && s->state != S_ATTACH && !s->said_last)
		send_error(s, code, why);
	session_close(s, why);
}

/* The host's session past ATTACH (at most one: a new ATTACH ends the
 * old), by hash: a connect storm of N hosts costs N lookups, not N^2/2
 * string compares. */
static dl_session_t *find_host(dl_server_t *srv, const char *host)
{
	uint64_t h = dl_hash_str(host);

	for (size_t i = dl_hidx_find(&srv->by_host, h); i != DL_HIDX_END;
	     i = dl_hidx_next(&srv->by_host, h, i)) {
		dl_session_t *s =
			(dl_session_t *)(uintptr_t)srv->by_host.s[i].v;

		if (!strcmp(s->host, host))
			return s;
	}
	return NULL;
}

static dl_session_t *find_sid(dl_server_t *srv, uint64_t sid)
{
	uint64_t h = dl_hash_u64(sid);

	for (size_t i = dl_hidx_find(&srv->by_sid, h); i != DL_HIDX_END;
	     i = dl_hidx_next(&srv->by_sid, h, i)) {
		dl_session_t *s = (dl_session_t *)(uintptr_t)srv->by_sid.s[i].v;

		if (s->sid == sid)
			return s;
	}
	return NULL;
}

static int on_attach(dl_session_t *s, const dl_msg_t *m, char *why,
		     size_t whylen)
{
	dl_session_t *old;

	if (m->type != DL_MSG_ATTACH) {
		snprintf(why, whylen, "expected ATTACH, got %s",
			 dl_msg_type_name(m->type));
		return DL_EPROTO;
	}
	dl_str_copy(s->host, sizeof(s->host), m->u.attach.host);
	s->attach_resume = (m->u.attach.flags & DL_ATTACH_RESUME) != 0;
	if (m->u.attach.host.n > DL_HOST_MAX || !dl_host_name_valid(s->host)) {
		snprintf(why, whylen, "invalid host name in ATTACH");
		s->host[0] = '\0';
		return DL_EPROTO;
	}
	old = find_host(s->srv, s->host);
	if (old) {
		DL_LOG_WARN(TAG,
			    "%s: a new session (pid %d) replaces the previous "
			    "one (pid %d)",
			    s->host, (int)s->pid, (int)old->pid);
		/* Not S_LIVE any more: the new session owns "online". */
		if (old->state == S_LIVE)
			set_state(old, S_HELLO);
		session_end(old, DL_ECLOSED, "replaced by a newer session");
	}
	if (dl_hidx_put(&s->srv->by_host, dl_hash_str(s->host), (uintptr_t)s)) {
		snprintf(why, whylen, "out of memory");
		return DL_ENOMEM;
	}
	s->by_host = true;
	set_state(s, S_HELLO);
	return 0;
}

/* Agent clock minus ours, ms. The HELLO's transit (SSH, the attach
 * relay) counts against the agent: a few ms, well under what matters. */
static int64_t skew_ms(uint64_t agent_ns, uint64_t now_ns)
{
	if (agent_ns >= now_ns)
		return (int64_t)((agent_ns - now_ns) / 1000000u);
	return -(int64_t)((now_ns - agent_ns) / 1000000u);
}

static int on_hello(dl_session_t *s, const dl_msg_t *m, char *why,
		    size_t whylen)
{
	const dl_hello_t *h = &m->u.hello;
	dl_msg_t r = {.type = DL_MSG_HELLO};
	char text[256], fleet[32];
	const char *caps[] = {"ack", "ping", DL_CAP_RESUME,
			      DL_CAP_INVENTORY_PARTS};
	size_t known;
	uint64_t now;

	if (m->type != DL_MSG_HELLO) {
		snprintf(why, whylen, "expected HELLO, got %s",
			 dl_msg_type_name(m->type));
		return DL_EPROTO;
	}
	dl_str_copy(s->software, sizeof(s->software), h->software);
	for (uint32_t i = 0; i < h->ncaps; i++)
		if (dl_str_eq(h->caps[i], "control"))
			s->control = true;
		else if (dl_str_eq(h->caps[i], DL_CAP_RESUME))
			s->resume = s->attach_resume;
		else if (dl_str_eq(h->caps[i], DL_CAP_BYE))
			s->bye = true;
		else if (h->caps[i].n > 6 && h->caps[i].n < sizeof(s->allow) &&
			 !memcmp(h->caps[i].p, "allow=", 6))
			dl_str_copy(
				s->allow, sizeof(s->allow),
				(dl_str_t){h->caps[i].p + 6, h->caps[i].n - 6});
	if (h->proto_version != DL_PROTO_VERSION) {
		snprintf(text, sizeof(text),
			 "collector speaks protocol version %d, agent %s (%s) "
			 "speaks version %u; upgrade the older side",
			 DL_PROTO_VERSION, s->host, s->software,
			 h->proto_version);
		send_error(s, DL_EVERSION, text);
		snprintf(why, whylen, "%s", text);
		return DL_EVERSION;
	}
	r.u.hello.proto_version = DL_PROTO_VERSION;
	r.u.hello.software = DL_STR("dockline-collector " DL_VERSION);
	dl_store_last(s->srv->store, s->host, &r.u.hello.last_epoch,
		      &r.u.hello.last_seq);
	r.u.hello.epoch = r.u.hello.last_epoch;
	/* fleet=N: agents spread their redials over N / 17 s (msg.h). */
	known = dl_store_hosts_known(s->srv->store);
	if (known < dl_session_live_count(s->srv) + 1)
		known = dl_session_live_count(s->srv) + 1;
	snprintf(fleet, sizeof(fleet), DL_CAP_FLEET "%zu", known);
	r.u.hello.ncaps = 5;
	r.u.hello.caps[0] = DL_STR(caps[0]);
	r.u.hello.caps[1] = DL_STR(caps[1]);
	r.u.hello.caps[2] = DL_STR(caps[2]);
	r.u.hello.caps[3] = DL_STR(caps[3]);
	r.u.hello.caps[4] = DL_STR(fleet);
	r.u.hello.host = DL_STR(s->host);
	snprintf(text, sizeof(text), "uid %d pid %d", (int)s->uid, (int)s->pid);
	dl_utf8_fix(s->allow);
	now = dl_clock_wall_ns();
	dl_store_host_online(s->srv->store, s->host, text, s->software,
			     s->control ? s->allow : NULL, now);
	dl_store_host_clock(s->srv->store, s->host, h->time_ns != 0,
			    skew_ms(h->time_ns, now));
	r.u.hello.time_ns = now;
	set_state(s, S_LIVE);
	dl_metrics_session_start(s->srv->metrics, s->host);
	host_event(s, "online", "software", s->software);
	if (s->srv->alerts)
		dl_alerts_host(s->srv->alerts, s->host, true);
	DL_LOG_INFO(TAG,
		    "%s connected (%s, epoch %llu); last committed %llu/%llu",
		    s->host, s->software, (unsigned long long)h->epoch,
		    (unsigned long long)r.u.hello.last_epoch,
		    (unsigned long long)r.u.hello.last_seq);
	return send_msg(s, &r) == 0 ? 0 : DL_EIO;
}

/* Host state and container labels the alert rules watch that no pushed
 * row carries. */
static void alert_inputs(dl_session_t *s, const dl_msg_t *m)
{
	char reason[256];

	if (!s->srv->alerts)
		return;
	if (m->type == DL_MSG_DOCKER) {
		dl_str_copy(reason, sizeof(reason), m->u.docker.reason);
		dl_utf8_fix(reason);
		dl_alerts_docker(s->srv->alerts, s->host, m->u.docker.up,
				 reason);
	} else if (m->type == DL_MSG_DROPPED) {
		dl_alerts_dropped(s->srv->alerts, s->host, m->u.dropped.frames);
	} else if (m->type == DL_MSG_INVENTORY) {
		dl_alerts_inventory(s->srv->alerts, s->host, m->u.inventory.v,
				    m->u.inventory.n);
	} else if (m->type == DL_MSG_CONTAINER) {
		dl_alerts_container(s->srv->alerts, s->host,
				    m->u.container.removed, &m->u.container.c);
	}
}

/* The alert rules see the whole container set once, as for a single
 * INVENTORY: every held part decoded again (they are ours, copied). */
static void alert_parts(dl_session_t *s, const dl_invpart_t *v, uint32_t k,
			uint32_t ncont)
{
	dl_container_t *all;
	dl_msg_t *m;
	uint32_t n = 0, done = 0;

	if (!s->srv->alerts)
		return;
	all = calloc(ncont ? ncont : 1, sizeof(*all));
	m = calloc(k, sizeof(*m));
	if (!all || !m)
		goto fail;
	for (; done < k; done++) {
		if (dl_msg_decode(&m[done], v[done].p, v[done].n, NULL, 0))
			goto fail;
		for (uint32_t i = 0; i < m[done].u.inventory.n && n < ncont;
		     i++)
			all[n++] = m[done].u.inventory.v[i];
	}
	dl_alerts_inventory(s->srv->alerts, s->host, all, n);
fail:
	for (uint32_t i = 0; i < done; i++)
		dl_msg_release(&m[i]);
	free(m);
	free(all);
}

/* The last part arrived: all parts go to the store as one item. */
static int submit_parts(dl_session_t *s)
{
	static const uint8_t *pp[DL_MAX_INVENTORY_PARTS];
	static size_t pn[DL_MAX_INVENTORY_PARTS];
	uint32_t k, ncont;
	const dl_invpart_t *v = dl_invparts_parts(s->inv, &k, &ncont);
	int rc;

	for (uint32_t i = 0; i < k; i++) {
		pp[i] = v[i].p;
		pn[i] = v[i].n;
	}
	rc = dl_store_submit_parts(s->srv->store, s->sid, s->host, pp, pn, k);
	if (rc)
		return rc; /* DL_EFULL: the last part is offered again */
	alert_parts(s, v, k, ncont);
	DL_LOG_INFO(TAG, "%s: inventory %llu: %u containers in %u parts",
		    s->host, (unsigned long long)dl_invparts_id(s->inv), ncont,
		    k);
	dl_invparts_reset(s->inv);
	return 0;
}

/* INVENTORY parts are held until the last one. Returns 1 for a frame
 * that is not a part (handled as usual), else 0 or an error. */
static int on_part(dl_session_t *s, const dl_msg_t *m, const uint8_t *p,
		   size_t n, char *why, size_t whylen)
{
	int rc;

	if (!s->inv) {
		if (m->type != DL_MSG_INVENTORY || !m->u.inventory.parts)
			return 1;
		if (!(s->inv = dl_invparts_new()))
			return DL_ENOMEM;
	}
	rc = dl_invparts_offer(s->inv, s->host, m, p, n, why, whylen);
	if (rc == DL_EFULL)
		s->wait_parts = m->u.inventory.parts;
	switch (rc) {
	case DL_INVP_NONE: return 1;
	case DL_INVP_HELD: s->inv_ns = dl_clock_mono_ns(); return 0;
	case DL_INVP_SKIP: return 0;
	case DL_INVP_DONE: return submit_parts(s);
	default: return rc;
	}
}

/* Returns 0, DL_EFULL (retry later, frame kept) or an error + why. */
static int on_live(dl_session_t *s, const dl_msg_t *m, const uint8_t *p,
		   size_t n, char *why, size_t whylen)
{
	dl_msg_t r = {0};
	int rc;

	switch (m->type) {
	case DL_MSG_PING:
		r.type = DL_MSG_PONG;
		r.u.nonce = m->u.nonce;
		return send_msg(s, &r) == 0 ? 0 : DL_EIO;
	case DL_MSG_PONG: return 0;
	case DL_MSG_RESPONSE:
	case DL_MSG_STREAM:
	case DL_MSG_END:
		return dl_call_from_agent(s->srv, s->sid, m, why, whylen);
	case DL_MSG_ERROR:
		snprintf(why, whylen, "agent reported error %d: %.*s",
			 m->u.error.code, (int)m->u.error.message.n,
			 m->u.error.message.p);
		return DL_ECLOSED;
	default: break;
	}
	if (!dl_msg_is_data(m->type)) {
		snprintf(why, whylen, "unexpected %s in a live session",
			 dl_msg_type_name(m->type));
		return DL_EPROTO;
	}
	if ((rc = on_part(s, m, p, n, why, whylen)) != 1)
		return rc;
	alert_inputs(s, m);
	return dl_store_submit(s->srv->store, s->sid, s->host, p, n);
}

static int handle_frame(dl_session_t *s, const uint8_t *p, size_t n, char *why,
			size_t whylen)
{
	dl_msg_t m;
	char reason[256];
	int rc;

	if (dl_msg_decode(&m, p, n, reason, sizeof(reason)) != 0) {
		snprintf(why, whylen, "malformed frame (%zu bytes): %s", n,
			 reason);
		return DL_EPROTO;
	}
	switch (s->state) {
	case S_ATTACH: rc = on_attach(s, &m, why, whylen); break;
	case S_HELLO: rc = on_hello(s, &m, why, whylen); break;
	case S_LIVE: rc = on_live(s, &m, p, n, why, whylen); break;
	default: rc = DL_ECLOSED; break;
	}
	dl_msg_release(&m);
	if (rc == 0)
		s->frames_in++;
	return rc;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	static char chunk[READ_CHUNK];

	/* One loop thread: a static chunk is copied into rd at once. */
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
	dl_session_t *s = st->data;

	if (nread == UV_EOF) {
		session_close(s, "connection closed");
		return;
	}
	if (nread < 0) {
		session_close(s, uv_strerror((int)nread));
		return;
	}
	if (nread == 0)
		return;
	s->last_rx_ns = dl_clock_mono_ns();
	if (dl_frame_reader_feed(&s->rd, buf->base, (size_t)nread) != 0) {
		session_end(s, DL_ETOOBIG, "receive buffer overflow");
		return;
	}
	process(s);
}

static void process(dl_session_t *s)
{
	char why[512];
	const uint8_t *p;
	size_t n;
	int rc;

	for (;;) {
		if (s->pending) {
			p = s->pending;
			n = s->pending_len;
			s->pending = NULL;
		} else {
			rc = dl_frame_reader_next(&s->rd, &p, &n);
			if (rc == 0)
				return;
			if (rc < 0) {
				uint32_t len = dl_frame_get_len(
					dl_buf_head(&s->rd.in));

				if (rc == DL_ETOOBIG)
					snprintf(why, sizeof(why),
						 "frame of %u bytes exceeds "
						 "the %u-byte maximum",
						 len, DL_FRAME_MAX);
				else
					snprintf(why, sizeof(why),
						 "invalid frame length %u",
						 len);
				session_end(s, rc, why);
				return;
			}
		}
		why[0] = '\0';
		rc = handle_frame(s, p, n, why, sizeof(why));
		if (rc == DL_EFULL) {
			/* Writer is behind: hold this frame, stop reading. */
			s->pending = p;
			s->pending_len = n;
			uv_read_stop((uv_stream_t *)&s->pipe);
			uv_timer_start(&s->timer, on_retry, RETRY_MS, 0);
			return;
		}
		if (rc) {
			session_end(s, rc, why[0] ? why : dl_strerror(rc));
			return;
		}
		if (s->state == S_CLOSING)
			return;
	}
}

static uint64_t ping_ns(const dl_session_t *s)
{
	return (uint64_t)s->srv->conf->ping_interval * 1000000000ull;
}

static void on_timer(uv_timer_t *t)
{
	dl_session_t *s = t->data;
	uint64_t idle = dl_clock_mono_ns() - s->last_rx_ns;
	uint64_t limit =
		3ull * (uint64_t)s->srv->conf->ping_interval * 1000000000ull;
	char why[128];
	dl_msg_t m = {.type = DL_MSG_PING};

	if (idle > limit) {
		snprintf(why, sizeof(why), "no traffic for %llu s",
			 (unsigned long long)(idle / 1000000000ull));
		session_end(s, DL_ETIMEDOUT, why);
		return;
	}
	/* Parts reserve room every host shares (invparts.h): an agent that
	 * started an inventory and sends no more of it while we read must
	 * not hold that room. It redials and sends the inventory again. */
	if (dl_invparts_partial(s->inv) && !s->pending &&
	    dl_clock_mono_ns() - s->inv_ns > limit) {
		snprintf(why, sizeof(why),
			 "INVENTORY %llu: no next part for %llu s",
			 (unsigned long long)dl_invparts_id(s->inv),
			 (unsigned long long)(limit / 1000000000ull));
		session_end(s, DL_ETIMEDOUT, why);
		return;
	}
	if (s->state == S_LIVE) {
		m.u.nonce = ++s->nonce;
		send_msg(s, &m);
	}
	s->next_ping_ns = dl_clock_mono_ns() + ping_ns(s);
}

static bool uid_allowed(const dl_server_t *srv, uid_t uid)
{
	if (uid == getuid())
		return true;
	for (size_t i = 0; i < srv->conf->nattach; i++)
		if (srv->conf->attach_uids[i] == uid)
			return true;
	return false;
}

void dl_session_accept(dl_server_t *srv)
{
	dl_session_t *s = calloc(1, sizeof(*s));
	uint64_t tick;

	if (!s)
		return;
	s->srv = srv;
	s->sid = srv->next_sid++;
	dl_frame_reader_init(&s->rd, DL_FRAME_MAX);
	uv_pipe_init(srv->loop, &s->pipe, 0);
	uv_timer_init(srv->loop, &s->timer);
	s->pipe.data = s->timer.data = s;
	s->open_handles = 2;
	s->state = S_ATTACH;
	s->next = srv->sessions;
	s->pprev = &srv->sessions;
	if (s->next)
		s->next->pprev = &s->next;
	srv->sessions = s;
	if (dl_hidx_put(&srv->by_sid, dl_hash_u64(s->sid), (uintptr_t)s)) {
		session_close(s, "out of memory");
		return;
	}
	if (uv_accept((uv_stream_t *)&srv->agent_listener,
		      (uv_stream_t *)&s->pipe) != 0) {
		session_close(s, "accept failed");
		return;
	}
	if (dl_peer_cred((uv_stream_t *)&s->pipe, &s->uid, &s->pid) != 0 ||
	    !uid_allowed(srv, s->uid)) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "refusing agent-socket connection from uid %d pid "
			  "%d: not the collector's uid nor in attach_users",
			  (int)s->uid, (int)s->pid);
		session_close(s, "peer not allowed");
		return;
	}
	s->last_rx_ns = dl_clock_mono_ns();
	s->next_ping_ns = s->last_rx_ns + ping_ns(s);
	/* The PING period doubles as the back-pressure retry when needed. */
	tick = (uint64_t)srv->conf->ping_interval * 1000u;
	uv_timer_start(&s->timer, on_timer, tick, tick);
	uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
}

static void on_retry(uv_timer_t *t)
{
	dl_session_t *s = t->data;
	uint64_t tick = (uint64_t)s->srv->conf->ping_interval * 1000u;

	/* Held back by us, not silent: not a dead peer, nor a stalled
	 * inventory. */
	s->last_rx_ns = s->inv_ns = dl_clock_mono_ns();
	/* A part 0 waiting for room among the inventories held: decoding
	 * it again (up to 1 MiB, milliseconds) every RETRY_MS would only
	 * answer "wait", and N such sessions would fill the loop. */
	if (!s->wait_parts || !dl_invparts_would_wait(s->wait_parts)) {
		s->wait_parts = 0;
		process(s);
		if (s->state == S_CLOSING)
			return;
	}
	/* The retry timer stands in for the PING timer: without PINGs a
	 * session held back for 3 ping periods (a writer behind under a
	 * fan-in of events) is dropped by its agent, which redials: a new
	 * SSH handshake for every held-back host, the storm feeding itself. */
	if (s->state == S_LIVE && dl_clock_mono_ns() >= s->next_ping_ns) {
		dl_msg_t m = {.type = DL_MSG_PING};

		m.u.nonce = ++s->nonce;
		send_msg(s, &m);
		s->next_ping_ns = dl_clock_mono_ns() + ping_ns(s);
		if (s->state == S_CLOSING)
			return;
	}
	if (s->pending) {
		uv_timer_start(&s->timer, on_retry, RETRY_MS, 0);
		return;
	}
	uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
	uv_timer_start(&s->timer, on_timer, tick, tick);
}

void dl_session_ack(dl_server_t *srv, uint64_t sid, uint64_t epoch,
		    uint64_t seq)
{
	dl_msg_t m = {.type = DL_MSG_ACK};

	m.u.ack.epoch = epoch;
	m.u.ack.seq = seq;
	dl_session_send(srv, sid, &m);
}

/* Shutdown. A session whose attach and agent can resume gets nothing:
 * the EOF tells attach to wait for the next serve (a restart costs no SSH
 * handshake). An agent that understands BYE is told when to come back;
 * older agents see the EOF as before. */
void dl_session_close_all(dl_server_t *srv, const char *why)
{
	while (srv->sessions) {
		dl_session_t *s = srv->sessions;

		if (s->state == S_LIVE && !s->resume && s->bye) {
			dl_msg_t m = {.type = DL_MSG_BYE};

			m.u.bye.retry_after_s = DL_SERVE_STOP_RETRY_S;
			m.u.bye.reason = DL_STR(why);
			send_msg(s, &m);
			s->said_last = true;
		}
		session_close(s, why);
	}
}

bool dl_session_drop(dl_server_t *srv, const char *host, const char *why)
{
	dl_session_t *s = find_host(srv, host);
	bool live = s && s->state == S_LIVE;

	if (!s)
		return false;
	set_state(s, S_HELLO); /* no offline row for a host being purged */
	session_end(s, DL_ECLOSED, why);
	return live;
}

uint64_t dl_session_live(dl_server_t *srv, const char *host,
			 const char **software)
{
	dl_session_t *s = find_host(srv, host);

	if (!s || s->state != S_LIVE)
		return 0;
	*software = s->control ? NULL : s->software;
	return s->sid;
}

int dl_session_send(dl_server_t *srv, uint64_t sid, const dl_msg_t *m)
{
	dl_session_t *s = find_sid(srv, sid);

	if (!s)
		return DL_ECLOSED;
	return s->state == S_LIVE ? send_msg(s, m) : DL_ECLOSED;
}

size_t dl_session_live_count(dl_server_t *srv)
{
	return srv->nlive;
}
