/* alerts.c - the rule engine: inputs (event rows, stats pushes, host
 * state) into per-(rule, host[/container]) state, the pending -> firing
 * -> resolved machine, and messages to the sink. Every change of a
 * pending or firing alert is written through the store's writer, so
 * alerts_load.c can carry on after a restart. See docs/ALERTS.md. */
#include <fnmatch.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/alerts_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"

#define TAG "alerts"

static int64_t wall_ms(void *ud)
{
	(void)ud;
	return (int64_t)(dl_clock_wall_ns() / 1000000u);
}

int64_t dl_alerts__now(dl_alerts_t *e)
{
	return e->clock(e->clock_ud);
}

dl_alerts_t *dl_alerts_new(const dl_alert_rule_t *rules, size_t n,
			   dl_store_t *store)
{
	dl_alerts_t *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->rules = calloc(n ? n : 1, sizeof(*rules));
	e->hist = calloc(DL_ALERT_HISTORY_MAX, sizeof(*e->hist));
	e->sil = calloc(DL_SILENCES_MAX, sizeof(*e->sil));
	if (!e->rules || !e->hist || !e->sil) {
		dl_alerts_free(e);
		return NULL;
	}
	if (n)
		memcpy(e->rules, rules, n * sizeof(*rules));
	e->nrules = n;
	e->store = store;
	e->clock = wall_ms;
	e->next_id = 1;
	e->next_silence = 1;
	if (!(e->labels = json_object())) {
		dl_alerts_free(e);
		return NULL;
	}
	return e;
}

static void inst_free(inst_t *in)
{
	free(in->starts);
	free(in);
}

void dl_alerts_free(dl_alerts_t *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < HASH_SIZE; i++) {
		while (e->hash[i]) {
			inst_t *in = e->hash[i];

			e->hash[i] = in->next;
			inst_free(in);
		}
	}
	json_decref(e->labels);
	free(e->rules);
	free(e->hist);
	free(e->sil);
	free(e);
}

void dl_alerts_set_sink(dl_alerts_t *e, dl_alerts_sink_fn fn, void *ud)
{
	e->sink = fn;
	e->sink_ud = ud;
}

void dl_alerts_set_clock(dl_alerts_t *e, dl_alerts_clock_fn fn, void *ud)
{
	e->clock = fn ? fn : wall_ms;
	e->clock_ud = ud;
}

void dl_alerts_set_store(dl_alerts_t *e, dl_store_t *store)
{
	e->store = store;
}

/* ---- state per (rule, host, container) ---- */

static uint32_t hash_of(size_t rule, const char *host, const char *ctr)
{
	uint32_t h = 2166136261u ^ (uint32_t)rule;

	for (const char *p = host; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = ctr; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return h % HASH_SIZE;
}

inst_t *dl_alerts__get(dl_alerts_t *e, size_t rule, const char *host,
		       const char *ctr, bool create)
{
	uint32_t h = hash_of(rule, host, ctr);
	inst_t *in;

	for (in = e->hash[h]; in; in = in->next)
		if (in->rule == rule && !strcmp(in->host, host) &&
		    !strcmp(in->ctr, ctr))
			return in;
	if (!create || strlen(host) > DL_HOST_MAX || strlen(ctr) > CTR_MAX ||
	    !(in = calloc(1, sizeof(*in))))
		return NULL;
	in->rule = rule;
	snprintf(in->host, sizeof(in->host), "%s", host);
	snprintf(in->ctr, sizeof(in->ctr), "%s", ctr);
	in->next = e->hash[h];
	e->hash[h] = in;
	return in;
}

void dl_alerts__key(const char *host, const char *ctr, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s%s", host, ctr[0] ? "/" : "", ctr);
}

void dl_alerts__rfc3339(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *state_name(astate_t s)
{
	return s == A_FIRING ? "firing" : "pending";
}

void dl_alerts__save(dl_alerts_t *e, const inst_t *in)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];
	char key[DL_HOST_MAX + CTR_MAX + 2];
	dl_alert_row_t row;

	if (!e->store)
		return;
	dl_alerts__key(in->host, in->ctr, key, sizeof(key));
	row = (dl_alert_row_t){
		.id = in->id,
		.rule = r->name,
		.key = key,
		.host = in->host,
		.container = in->ctr,
		.severity = dl_severity_name(r->severity),
		.state = state_name(in->state),
		.summary = in->summary,
		.since = in->since,
		.fired_at = in->fired_at,
		.last_notified = in->notified,
		.has_value = in->has_value,
		.value = in->value,
		.notify_error = in->notify_error,
		.notify_failed_at = in->notify_failed_at,
	};
	if (dl_store_alert_put(e->store, &row))
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "%s %s: state not stored",
			  r->name, key);
}

bool dl_alerts__silenced(dl_alerts_t *e, const inst_t *in, int64_t now)
{
	const char *rule = e->rules[in->rule].name;

	for (size_t i = 0; i < e->nsil; i++) {
		const silence_t *s = &e->sil[i];

		if (s->expires <= now || fnmatch(s->host, in->host, 0) ||
		    (s->rule[0] && strcmp(s->rule, rule)))
			continue;
		if (!s->ctr[0] || (in->ctr[0] && !fnmatch(s->ctr, in->ctr, 0)))
			return true;
	}
	return false;
}

/* ---- labels ---- */

/* host/ctr's labels (a new reference), {} when none are known. */
static json_t *labels_of(dl_alerts_t *e, const char *host, const char *ctr)
{
	json_t *l =
		ctr[0] ? json_object_get(json_object_get(e->labels, host), ctr)
		       : NULL;

	return l ? json_incref(l) : json_object();
}

static json_t *labels_json(const dl_labels_t *l)
{
	json_t *o = json_object();
	char k[DL_MAX_LABEL_KEY + 1], v[DL_MAX_LABEL_VALUE + 1];

	for (uint32_t i = 0; o && i < l->n; i++) {
		dl_str_copy(k, sizeof(k), l->v[i].key);
		dl_str_copy(v, sizeof(v), l->v[i].value);
		dl_utf8_fix(k);
		dl_utf8_fix(v);
		json_object_set_new(o, k, json_string(v));
	}
	return o;
}

static const char *ctr_name(const dl_container_t *c, char *out, size_t len)
{
	dl_str_copy(out, len, c->name);
	dl_utf8_fix(out);
	return out[0] == '/' ? out + 1 : out;
}

void dl_alerts_set_labels(dl_alerts_t *e, const char *host, const char *ctr,
			  json_t *labels)
{
	json_t *h = json_object_get(e->labels, host);

	if (!h) {
		h = json_object();
		if (!h || json_object_set_new(e->labels, host, h))
			return;
	}
	json_object_set(h, ctr, labels);
}

void dl_alerts_inventory(dl_alerts_t *e, const char *host,
			 const dl_container_t *v, uint32_t n)
{
	json_t *old = json_object_get(e->labels, host);
	json_t *h = json_object();
	char buf[CTR_MAX + 2];

	if (!h)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const char *name = ctr_name(&v[i], buf, sizeof(buf));
		json_t *l = v[i].labels.has
				    ? labels_json(&v[i].labels)
				    : json_incref(json_object_get(old, name));

		if (l && name[0])
			json_object_set_new(h, name, l);
		else
			json_decref(l);
	}
	json_object_set_new(e->labels, host, h);
}

void dl_alerts_container(dl_alerts_t *e, const char *host, bool removed,
			 const dl_container_t *c)
{
	json_t *h = json_object_get(e->labels, host);
	char buf[CTR_MAX + 2];
	const char *name = ctr_name(c, buf, sizeof(buf));
	json_t *l;

	if (removed) {
		json_object_del(h, name);
		return;
	}
	if (!c->labels.has || !name[0] || !(l = labels_json(&c->labels)))
		return;
	dl_alerts_set_labels(e, host, name, l);
	json_decref(l);
}

/* Whether r's label scope (if any) holds for host/ctr: its known labels,
 * else what the event carries (Docker copies labels into a container
 * event's attributes). */
static bool rule_label(dl_alerts_t *e, const dl_alert_rule_t *r,
		       const char *host, const char *ctr, const json_t *attrs)
{
	json_t *l;

	if (!r->has_label)
		return true;
	l = json_object_get(json_object_get(e->labels, host), ctr);
	if (!l)
		l = (json_t *)attrs;
	return dl_label_filter_match(
		&r->label, json_string_value(json_object_get(l, r->label.key)));
}

/* ---- messages ---- */

static json_t *message(dl_alerts_t *e, const inst_t *in, bool resolved,
		       int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];
	char started[32], ended[32];
	json_t *m;

	dl_alerts__rfc3339(in->since, started, sizeof(started));
	m = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "kind", "alert",
		      "status", resolved ? "resolved" : "firing", "rule",
		      r->name, "severity", dl_severity_name(r->severity),
		      "host", in->host, "summary", in->summary, "started_at",
		      started, "labels", labels_of(e, in->host, in->ctr));
	if (!m)
		return NULL;
	if (in->ctr[0])
		json_object_set_new(m, "container", json_string(in->ctr));
	if (resolved) {
		dl_alerts__rfc3339(now, ended, sizeof(ended));
		json_object_set_new(m, "resolved_at", json_string(ended));
	}
	if (in->has_value)
		json_object_set_new(m, "value",
				    json_real(round(in->value * 100) / 100));
	return m;
}

static void send_msg(dl_alerts_t *e, const inst_t *in, bool resolved,
		     int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];
	const char *chans[DL_ALERT_NOTIFY_MAX];
	json_t *m;

	if (!e->sink)
		return;
	if (!(m = message(e, in, resolved, now))) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "out of memory: %s not notified", r->name);
		return;
	}
	for (size_t i = 0; i < r->nnotify; i++)
		chans[i] = r->notify[i];
	e->sink(e->sink_ud, chans, r->nnotify, m, in->id);
	json_decref(m);
}

/* ---- the state machine ---- */

static void fire(dl_alerts_t *e, inst_t *in, int64_t now)
{
	in->state = A_FIRING;
	in->fired_at = now;
	if (!dl_alerts__silenced(e, in, now)) {
		send_msg(e, in, false, now);
		in->notified = now;
	} else {
		DL_LOG_INFO(TAG, "%s %s%s%s firing (silenced): %s",
			    e->rules[in->rule].name, in->host,
			    in->ctr[0] ? "/" : "", in->ctr, in->summary);
	}
	dl_alerts__save(e, in);
}

void dl_alerts_notified(dl_alerts_t *e, int64_t alert_id, const char *channel,
			bool ok, const char *detail)
{
	int64_t now = dl_alerts__now(e);
	inst_t *in;

	for (size_t b = 0; b < HASH_SIZE; b++)
		for (in = e->hash[b]; in; in = in->next) {
			if (in->id != alert_id || in->state == A_INACTIVE)
				continue;
			if (ok && !in->notify_error[0])
				return;
			if (ok)
				in->notify_error[0] = '\0';
			else
				snprintf(in->notify_error,
					 sizeof(in->notify_error), "%s: %s",
					 channel, detail ? detail : "failed");
			in->notify_failed_at = ok ? 0 : now;
			dl_alerts__save(e, in);
			return;
		}
	/* resolved meanwhile: the history keeps the mark, in memory */
	for (size_t i = 0; i < e->nhist; i++) {
		hist_t *h = &e->hist[i];

		if (h->id != alert_id)
			continue;
		if (ok)
			h->notify_error[0] = '\0';
		else
			snprintf(h->notify_error, sizeof(h->notify_error),
				 "%s: %s", channel, detail ? detail : "failed");
		h->notify_failed_at = ok ? 0 : now;
		return;
	}
}

void dl_alerts__bad(dl_alerts_t *e, inst_t *in, int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];

	in->bad = true;
	if (!r->enabled)
		return;
	if (in->state == A_INACTIVE) {
		in->state = A_PENDING;
		in->id = e->next_id++;
		in->since = now;
		in->fired_at = in->notified = 0;
		in->notify_error[0] = '\0';
		in->notify_failed_at = 0;
		if (r->for_ms > 0) {
			dl_alerts__save(e, in);
			return;
		}
	}
	if (in->state == A_PENDING && now - in->since >= r->for_ms)
		fire(e, in, now);
}

void dl_alerts__hist_add(dl_alerts_t *e, const hist_t *h)
{
	e->hist[e->histpos] = *h;
	e->histpos = (e->histpos + 1) % DL_ALERT_HISTORY_MAX;
	if (e->nhist < DL_ALERT_HISTORY_MAX)
		e->nhist++;
}

static void resolve(dl_alerts_t *e, inst_t *in, int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];
	char key[DL_HOST_MAX + CTR_MAX + 2];
	hist_t h = {0};
	dl_alert_row_t row;

	if (r->resolve && in->notified && !dl_alerts__silenced(e, in, now))
		send_msg(e, in, true, now);
	h.id = in->id;
	snprintf(h.rule, sizeof(h.rule), "%s", r->name);
	h.severity = r->severity;
	snprintf(h.host, sizeof(h.host), "%s", in->host);
	snprintf(h.ctr, sizeof(h.ctr), "%s", in->ctr);
	h.since = in->since;
	h.fired_at = in->fired_at;
	h.resolved_at = now;
	h.has_value = in->has_value;
	h.value = in->value;
	snprintf(h.summary, sizeof(h.summary), "%s", in->summary);
	snprintf(h.notify_error, sizeof(h.notify_error), "%s",
		 in->notify_error);
	h.notify_failed_at = in->notify_failed_at;
	dl_alerts__hist_add(e, &h);
	if (e->store) {
		dl_alerts__key(in->host, in->ctr, key, sizeof(key));
		row = (dl_alert_row_t){
			.id = in->id,
			.rule = r->name,
			.key = key,
			.host = in->host,
			.container = in->ctr,
			.severity = dl_severity_name(r->severity),
			.state = "resolved",
			.summary = in->summary,
			.since = in->since,
			.fired_at = in->fired_at,
			.resolved_at = now,
			.last_notified = in->notified,
			.has_value = in->has_value,
			.value = in->value,
		};
		if (dl_store_alert_put(e->store, &row))
			DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
				  "%s %s: resolution not stored", r->name, key);
	}
}

void dl_alerts__good(dl_alerts_t *e, inst_t *in, int64_t now)
{
	in->bad = false;
	if (in->state == A_PENDING && e->store)
		dl_store_alert_delete(e->store, in->id);
	else if (in->state == A_FIRING)
		resolve(e, in, now);
	in->state = A_INACTIVE;
	in->id = 0;
}

/* ---- which rules look at what ---- */

static bool rule_hosts(const dl_alert_rule_t *r, dl_cond_t c, const char *host)
{
	return r->cond == c && !fnmatch(r->hosts, host, 0);
}

static bool rule_ctr(const dl_alert_rule_t *r, dl_cond_t c, const char *host,
		     const char *ctr)
{
	return rule_hosts(r, c, host) && !fnmatch(r->containers, ctr, 0);
}

/* Host-level conditions: every matching rule goes bad or good. */
static void host_cond(dl_alerts_t *e, dl_cond_t c, const char *host, bool bad,
		      const char *summary)
{
	int64_t now = dl_alerts__now(e);

	for (size_t i = 0; i < e->nrules; i++) {
		inst_t *in;

		if (!rule_hosts(&e->rules[i], c, host) ||
		    !(in = dl_alerts__get(e, i, host, "", bad)))
			continue;
		in->last_input = now;
		if (bad) {
			snprintf(in->summary, sizeof(in->summary), "%s",
				 summary);
			dl_alerts__bad(e, in, now);
		} else {
			dl_alerts__good(e, in, now);
		}
	}
}

void dl_alerts_host(dl_alerts_t *e, const char *host, bool online)
{
	char sum[DL_ALERT_SUMMARY_MAX + 1];

	snprintf(sum, sizeof(sum), "%s is offline", host);
	host_cond(e, DL_COND_HOST_OFFLINE, host, !online, sum);
}

void dl_alerts_docker(dl_alerts_t *e, const char *host, bool up,
		      const char *reason)
{
	char sum[DL_ALERT_SUMMARY_MAX + 1];

	snprintf(sum, sizeof(sum), "Docker on %s is down%s%.160s%s", host,
		 reason && reason[0] ? " (" : "", reason ? reason : "",
		 reason && reason[0] ? ")" : "");
	host_cond(e, DL_COND_DOCKER_DOWN, host, !up, sum);
}

/* The host's own memory: the dropped-frame total last seen. */
void dl_alerts_dropped(dl_alerts_t *e, const char *host, uint64_t frames)
{
	inst_t *mem = dl_alerts__get(e, e->nrules, host, "", true);
	int64_t now = dl_alerts__now(e);
	uint64_t prev;

	if (!mem)
		return;
	prev = mem->dropped;
	mem->last_input = now;
	mem->dropped = frames;
	if (!mem->have_dropped || frames <= prev) {
		mem->have_dropped = true;
		return; /* a baseline, or an agent that started afresh */
	}
	for (size_t i = 0; i < e->nrules; i++) {
		const dl_alert_rule_t *r = &e->rules[i];
		inst_t *in;

		if (!rule_hosts(r, DL_COND_FRAMES_DROPPED, host) ||
		    !(in = dl_alerts__get(e, i, host, "", true)))
			continue;
		in->last_input = now;
		in->until = now + r->window_ms;
		in->has_value = true;
		in->value = (double)(frames - prev);
		snprintf(in->summary, sizeof(in->summary),
			 "%s dropped %" PRIu64 " frames (%" PRIu64
			 " in all): its agent's spool was full",
			 host, frames - prev, frames);
		dl_alerts__bad(e, in, now);
	}
}

/* ---- events ---- */

typedef struct {
	const char *host, *action, *name;
	const json_t *attrs;
	int64_t time; /* unix ms of the event */
	bool stale;
} ev_t;

static int64_t exit_code(const ev_t *ev)
{
	const char *v =
		json_string_value(json_object_get(ev->attrs, "exitCode"));
	char *end;
	long long c;

	if (!v)
		return 0;
	c = strtoll(v, &end, 10);
	return *end ? 0 : c;
}

/* "health_status: unhealthy" (Docker's action text) -> "unhealthy". */
static const char *health_of(const ev_t *ev)
{
	const char *p = ev->action + strlen("health_status");

	if (*p == ':') {
		p++;
		while (*p == ' ')
			p++;
		return p;
	}
	return json_string_value(json_object_get(ev->attrs, "health_status"));
}

static void ev_bad(dl_alerts_t *e, inst_t *in, const ev_t *ev, int64_t now)
{
	in->last_input = now;
	if (ev->stale && in->state == A_INACTIVE)
		return;
	dl_alerts__bad(e, in, now);
}

static void restart_count(dl_alerts_t *e, inst_t *in, const ev_t *ev,
			  int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];
	size_t cap = (size_t)r->count, live = 0;

	if (!in->starts && !(in->starts = calloc(cap, sizeof(int64_t))))
		return;
	in->starts[in->startpos] = ev->time;
	in->startpos = (in->startpos + 1) % cap;
	if (in->nstarts < cap)
		in->nstarts++;
	for (size_t i = 0; i < in->nstarts; i++)
		if (in->starts[i] > now - r->window_ms)
			live++;
	in->last_input = now;
	if (live < cap)
		return;
	in->has_value = true;
	in->value = (double)live;
	snprintf(in->summary, sizeof(in->summary),
		 "%s/%s started %zu times within %" PRId64 "s", ev->host,
		 ev->name, live, r->window_ms / 1000);
	ev_bad(e, in, ev, now);
}

/* One container event against one rule. */
static void ev_rule(dl_alerts_t *e, size_t i, const ev_t *ev, bool crash,
		    bool counted_start, int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[i];
	const char *a = ev->action;
	bool ending = !strcmp(a, "destroy");
	inst_t *in;

	switch (r->cond) {
	case DL_COND_CONTAINER_EXIT:
		if (crash &&
		    (in = dl_alerts__get(e, i, ev->host, ev->name, true))) {
			in->has_value = true;
			in->value = (double)exit_code(ev);
			snprintf(in->summary, sizeof(in->summary),
				 "%s/%s exited with code %" PRId64
				 " (not stopped by anyone)",
				 ev->host, ev->name, exit_code(ev));
			ev_bad(e, in, ev, now);
		} else if ((!strcmp(a, "start") || ending) &&
			   (in = dl_alerts__get(e, i, ev->host, ev->name,
						false))) {
			dl_alerts__good(e, in, now);
		}
		break;
	case DL_COND_CONTAINER_OOM:
		if (!strcmp(a, "oom") &&
		    (in = dl_alerts__get(e, i, ev->host, ev->name, true))) {
			in->until = now + r->window_ms;
			snprintf(in->summary, sizeof(in->summary),
				 "%s/%s ran out of memory (OOM kill)", ev->host,
				 ev->name);
			ev_bad(e, in, ev, now);
		}
		break;
	case DL_COND_CONTAINER_UNHEALTHY:
		if (!strncmp(a, "health_status", 13)) {
			const char *hs = health_of(ev);
			bool sick = hs && !strcmp(hs, "unhealthy");

			if (!(in = dl_alerts__get(e, i, ev->host, ev->name,
						  sick)))
				break;
			snprintf(in->summary, sizeof(in->summary),
				 "%s/%s is unhealthy", ev->host, ev->name);
			if (sick)
				ev_bad(e, in, ev, now);
			else if (hs && !strcmp(hs, "healthy"))
				dl_alerts__good(e, in, now);
		} else if ((ending || !strcmp(a, "die")) &&
			   (in = dl_alerts__get(e, i, ev->host, ev->name,
						false))) {
			dl_alerts__good(e, in, now);
		}
		break;
	case DL_COND_RESTART_LOOP:
		if (counted_start &&
		    (in = dl_alerts__get(e, i, ev->host, ev->name, true)))
			restart_count(e, in, ev, now);
		break;
	default: break;
	}
}

/* Per container memory: a kill/stop shortly before a die means someone
 * stopped it; a restart right after a start is the same start. */
static void ev_memory(dl_alerts_t *e, const ev_t *ev, bool *crash,
		      bool *counted_start)
{
	inst_t *mem = dl_alerts__get(e, e->nrules, ev->host, ev->name, true);
	const char *a = ev->action;

	*crash = false;
	*counted_start = false;
	if (!mem)
		return;
	mem->last_input = dl_alerts__now(e);
	if (!strcmp(a, "kill") || !strcmp(a, "stop")) {
		mem->last_kill = ev->time;
	} else if (!strcmp(a, "die")) {
		*crash = exit_code(ev) != 0 &&
			 ev->time - mem->last_kill > DL_ALERT_STOP_WINDOW_MS;
	} else if (!strcmp(a, "start")) {
		*counted_start = true;
		mem->last_start = ev->time;
	} else if (!strcmp(a, "restart")) {
		*counted_start = ev->time - mem->last_start > 5000;
	}
}

void dl_alerts_event(dl_alerts_t *e, const json_t *row)
{
	const char *type = json_string_value(json_object_get(row, "type"));
	int64_t now = dl_alerts__now(e);
	bool crash, counted_start;
	ev_t ev;

	if (!type || strcmp(type, "container"))
		return;
	ev.host = json_string_value(json_object_get(row, "host"));
	ev.action = json_string_value(json_object_get(row, "action"));
	ev.name = json_string_value(json_object_get(row, "name"));
	ev.attrs = json_object_get(row, "attributes");
	ev.time =
		(int64_t)(json_integer_value(json_object_get(row, "time_ns")) /
			  1000000);
	if (!ev.host || !ev.action || !ev.name || !ev.name[0] ||
	    strlen(ev.name) > CTR_MAX)
		return;
	if (ev.name[0] == '/')
		ev.name++;
	ev.stale = now - ev.time > DL_ALERT_STALE_MS;
	ev_memory(e, &ev, &crash, &counted_start);
	for (size_t i = 0; i < e->nrules; i++) {
		const dl_alert_rule_t *r = &e->rules[i];

		if (r->cond >= DL_COND_CONTAINER_EXIT &&
		    r->cond <= DL_COND_RESTART_LOOP &&
		    rule_ctr(r, r->cond, ev.host, ev.name) &&
		    rule_label(e, r, ev.host, ev.name, ev.attrs))
			ev_rule(e, i, &ev, crash, counted_start, now);
	}
}

/* ---- thresholds ---- */

static int64_t bucket_width(const dl_alert_rule_t *r)
{
	int64_t w = r->for_ms / BUCKETS;

	return w < 1000 ? 1000 : w;
}

/* Adds a sample at t (unix ms); returns the mean over the last `for`
 * (at least the newest bucket). */
static double mean_add(const dl_alert_rule_t *r, inst_t *in, int64_t t,
		       double v)
{
	int64_t w = bucket_width(r), idx = t / w;
	int64_t span = (r->for_ms + w - 1) / w;
	bucket_t *b = &in->b[idx % BUCKETS];
	double sum = 0;
	uint32_t n = 0;

	if (span < 1)
		span = 1;
	if (span > BUCKETS)
		span = BUCKETS;
	if (b->idx != idx) {
		b->idx = idx;
		b->sum = 0;
		b->n = 0;
	}
	b->sum += v;
	b->n++;
	for (int k = 0; k < BUCKETS; k++)
		if (in->b[k].n && in->b[k].idx > idx - span &&
		    in->b[k].idx <= idx) {
			sum += in->b[k].sum;
			n += in->b[k].n;
		}
	return sum / n;
}

static const char *what_of(dl_cond_t c)
{
	switch (c) {
	case DL_COND_CONTAINER_CPU:
	case DL_COND_HOST_CPU: return "CPU";
	case DL_COND_CONTAINER_MEMORY:
	case DL_COND_HOST_MEMORY: return "memory";
	case DL_COND_HOST_DISK: return "disk";
	default: return "load";
	}
}

/* Pending when the mean over `for` is above the threshold, firing when
 * it stayed there for `for` (the timer), resolved once the mean drops
 * below HYSTERESIS x threshold: a value hovering at the line neither
 * flaps nor re-notifies. */
static void threshold(dl_alerts_t *e, size_t i, const char *host,
		      const char *ctr, int64_t t, double v)
{
	const dl_alert_rule_t *r = &e->rules[i];
	int64_t now = dl_alerts__now(e);
	const char *pct = r->cond == DL_COND_HOST_LOAD ? "" : "%";
	inst_t *in = dl_alerts__get(e, i, host, ctr, true);
	double mean;
	char dur[32];

	if (!in || t <= in->last_sample)
		return;
	in->last_sample = t;
	in->last_input = now;
	mean = mean_add(r, in, t, v);
	in->has_value = true;
	in->value = mean;
	dl_duration_format(r->for_ms / 1000, dur, sizeof(dur));
	snprintf(in->summary, sizeof(in->summary),
		 "%s%s%s %s %.1f%s (above %g%s for %s)", host,
		 ctr[0] ? "/" : "", ctr, what_of(r->cond), mean, pct,
		 r->threshold, pct, dur);
	if (mean > r->threshold)
		dl_alerts__bad(e, in, now);
	else if (in->state == A_PENDING)
		dl_alerts__good(e, in, now);
	else if (in->state == A_FIRING && mean < r->threshold * HYSTERESIS)
		dl_alerts__good(e, in, now);
	else
		in->bad = in->state == A_FIRING;
}

static bool num(const json_t *row, const char *key, double *v)
{
	const json_t *j = json_object_get(row, key);

	if (!json_is_number(j))
		return false;
	*v = json_number_value(j);
	return true;
}

static bool ratio(const json_t *row, const char *a, const char *b, double *v)
{
	double x, y;

	if (!num(row, a, &x) || !num(row, b, &y) || y <= 0)
		return false;
	*v = x / y * 100.0;
	return true;
}

/* The value a threshold rule watches in a row; false when absent. */
static bool value_of(dl_cond_t c, const json_t *row, double *v)
{
	switch (c) {
	case DL_COND_CONTAINER_CPU:
	case DL_COND_HOST_CPU: return num(row, "cpu_percent", v);
	case DL_COND_CONTAINER_MEMORY:
		return ratio(row, "mem_bytes", "mem_limit", v);
	case DL_COND_HOST_MEMORY:
		return ratio(row, "mem_used_bytes", "mem_total_bytes", v);
	case DL_COND_HOST_DISK:
		return ratio(row, "disk_used_bytes", "disk_total_bytes", v);
	case DL_COND_HOST_LOAD: return num(row, "load1", v);
	default: return false;
	}
}

void dl_alerts_stats(dl_alerts_t *e, const char *host, const char *key,
		     const json_t *rows)
{
	bool hostrows = !strcmp(key, "host_stats");
	size_t k;
	json_t *row;

	for (size_t i = 0; i < e->nrules; i++) {
		const dl_alert_rule_t *r = &e->rules[i];
		bool hostrule = r->cond >= DL_COND_HOST_CPU;

		if (r->cond < DL_COND_CONTAINER_CPU || hostrule != hostrows ||
		    fnmatch(r->hosts, host, 0))
			continue;
		json_array_foreach(rows, k, row)
		{
			const char *name =
				hostrows ? ""
					 : json_string_value(json_object_get(
						   row, "name"));
			int64_t t =
				(int64_t)(json_integer_value(json_object_get(
						  row, "time_ns")) /
					  1000000);
			double v;

			if (!name ||
			    (!hostrows &&
			     (!name[0] || fnmatch(r->containers, name, 0) ||
			      !rule_label(e, r, host, name, NULL))))
				continue;
			if (value_of(r->cond, row, &v))
				threshold(e, i, host, name, t, v);
		}
	}
}

/* ---- the timer ---- */

/* Conditions that end with time: the restart count falls out of its
 * window, an OOM or a drop is `window` old. */
static void timed_clear(dl_alerts_t *e, inst_t *in, int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];
	size_t live = 0;

	if (in->state == A_INACTIVE)
		return;
	switch (r->cond) {
	case DL_COND_CONTAINER_OOM:
	case DL_COND_FRAMES_DROPPED:
		if (in->until && now >= in->until)
			dl_alerts__good(e, in, now);
		break;
	case DL_COND_RESTART_LOOP:
		for (size_t i = 0; i < in->nstarts; i++)
			if (in->starts[i] > now - r->window_ms)
				live++;
		/* restored from the table: no history, one window to go */
		if (!in->nstarts && now - in->since < r->window_ms)
			live = (size_t)r->count;
		if (live < (size_t)r->count)
			dl_alerts__good(e, in, now);
		break;
	default: break;
	}
}

static void tick_one(dl_alerts_t *e, inst_t *in, int64_t now)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];

	timed_clear(e, in, now);
	if (in->state == A_PENDING && in->bad && now - in->since >= r->for_ms)
		fire(e, in, now);
	else if (in->state == A_FIRING && r->repeat_ms &&
		 now - in->notified >= r->repeat_ms &&
		 !dl_alerts__silenced(e, in, now)) {
		send_msg(e, in, false, now);
		in->notified = now;
		dl_alerts__save(e, in);
	}
}

/* Inactive state nobody fed for a while goes (a removed container). */
static bool idle(const dl_alerts_t *e, const inst_t *in, int64_t now)
{
	int64_t keep = FORGET_MS;

	if (in->state != A_INACTIVE)
		return false;
	if (in->rule < e->nrules)
		keep += e->rules[in->rule].for_ms +
			e->rules[in->rule].window_ms;
	else if (!in->ctr[0])
		return false; /* a host's dropped total: the baseline */
	return now - in->last_input > keep;
}

void dl_alerts_tick(dl_alerts_t *e)
{
	int64_t now = dl_alerts__now(e);
	size_t n = 0;

	for (size_t h = 0; h < HASH_SIZE; h++) {
		for (inst_t **pp = &e->hash[h]; *pp;) {
			inst_t *in = *pp;

			if (in->rule < e->nrules)
				tick_one(e, in, now);
			if (idle(e, in, now)) {
				*pp = in->next;
				inst_free(in);
				continue;
			}
			pp = &in->next;
		}
	}
	for (size_t i = 0; i < e->nsil; i++)
		if (e->sil[i].expires > now)
			e->sil[n++] = e->sil[i];
	e->nsil = n;
	if (now >= e->next_prune) {
		e->next_prune = now + PRUNE_EVERY;
		if (e->store)
			dl_store_alert_prune(e->store,
					     now - (int64_t)DL_ALERT_KEEP_S *
							     1000);
	}
}

void dl_alerts_forget(dl_alerts_t *e, const char *host)
{
	for (size_t h = 0; h < HASH_SIZE; h++) {
		for (inst_t **pp = &e->hash[h]; *pp;) {
			inst_t *in = *pp;

			if (strcmp(in->host, host)) {
				pp = &in->next;
				continue;
			}
			*pp = in->next;
			inst_free(in);
		}
	}
	for (size_t i = 0; i < e->nhist; i++)
		if (!strcmp(e->hist[i].host, host))
			e->hist[i].host[0] = '\0'; /* skipped by lists */
}
