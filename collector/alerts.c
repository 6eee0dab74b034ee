/* alerts.c - the rule engine's core: the table of per-(rule,
 * host[/container]) instances, the pending -> firing -> resolved
 * machine, messages to the sink and the 1 s timer. The inputs that drive
 * it are alerts_events.c (events, host conditions) and alerts_stats.c
 * (thresholds). Every change of a pending or firing alert is written
 * through the store's writer, so alerts_load.c can carry on after a
 * restart. See docs/ALERTS.md. */
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
	e->hash = calloc(HASH_MIN, sizeof(*e->hash));
	e->nbuckets = HASH_MIN;
	if (!e->rules || !e->hist || !e->sil || !e->hash) {
		dl_alerts_free(e);
		return NULL;
	}
	if (n)
		memcpy(e->rules, rules, n * sizeof(*rules));
	e->nrules = n;
	for (size_t i = 0; i < n; i++)
		if (rules[i].cond >= DL_COND_CONTAINER_CPU)
			e->nthreshold[rules[i].cond >= DL_COND_HOST_CPU]++;
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
	free(in->match);
	free(in->mi);
	free(in);
}

void dl_alerts__drop(dl_alerts_t *e, inst_t **pp)
{
	inst_t *in = *pp;
	inst_t *mem;

	*pp = in->next;
	/* the memory of its host or container may point at it
	 * (alerts_stats.c): that slot is looked up again on next use */
	if (in->rule < e->nrules &&
	    (mem = dl_alerts__get(e, e->nrules, in->host, in->ctr, false)))
		for (size_t j = 0; mem->mi && j < mem->nmatch; j++)
			if (mem->mi[j] == in)
				mem->mi[j] = NULL;
	inst_free(in);
	e->ninst--;
}

void dl_alerts_free(dl_alerts_t *e)
{
	if (!e)
		return;
	for (size_t i = 0; e->hash && i < e->nbuckets; i++)
		while (e->hash[i])
			dl_alerts__drop(e, &e->hash[i]);
	free(e->hash);
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
	uint32_t h = 2166136261u;

	for (const char *p = host; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (const char *p = ctr; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	/* the rule last, mixed: rules of one container spread out */
	h = (h ^ (uint32_t)rule) * 16777619u;
	return h ^ (h >> 15);
}

/* Doubles the chains once instances outnumber them. Out of memory keeps
 * the table as it is: longer chains, still correct. */
static void grow(dl_alerts_t *e)
{
	size_t n = e->nbuckets * 2;
	inst_t **t;

	if (e->ninst <= e->nbuckets || n > SIZE_MAX / sizeof(*t) ||
	    !(t = calloc(n, sizeof(*t))))
		return;
	for (size_t b = 0; b < e->nbuckets; b++)
		while (e->hash[b]) {
			inst_t *in = e->hash[b];

			e->hash[b] = in->next;
			in->next = t[in->hv & (n - 1)];
			t[in->hv & (n - 1)] = in;
		}
	free(e->hash);
	e->hash = t;
	e->nbuckets = n;
}

inst_t *dl_alerts__get(dl_alerts_t *e, size_t rule, const char *host,
		       const char *ctr, bool create)
{
	uint32_t hv = hash_of(rule, host, ctr);
	inst_t **head = &e->hash[hv & (e->nbuckets - 1)];
	inst_t *in;

	for (in = *head; in; in = in->next)
		if (in->hv == hv && in->rule == rule &&
		    !strcmp(in->host, host) && !strcmp(in->ctr, ctr))
			return in;
	if (!create || strlen(host) > DL_HOST_MAX || strlen(ctr) > CTR_MAX ||
	    !(in = calloc(1, sizeof(*in))))
		return NULL;
	in->hv = hv;
	in->rule = rule;
	snprintf(in->host, sizeof(in->host), "%s", host);
	snprintf(in->ctr, sizeof(in->ctr), "%s", ctr);
	in->next = *head;
	*head = in;
	e->ninst++;
	grow(e);
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
		      started, "labels",
		      dl_alerts__labels_of(e, in->host, in->ctr));
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

void dl_alerts__send(dl_alerts_t *e, const inst_t *in, bool resolved,
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
		dl_alerts__send(e, in, false, now);
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

	for (size_t b = 0; b < e->nbuckets; b++)
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
		dl_alerts__send(e, in, true, now);
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
		dl_alerts__send(e, in, false, now);
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

	for (size_t h = 0; h < e->nbuckets; h++) {
		for (inst_t **pp = &e->hash[h]; *pp;) {
			inst_t *in = *pp;

			if (in->rule < e->nrules)
				tick_one(e, in, now);
			if (idle(e, in, now)) {
				dl_alerts__drop(e, pp);
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
	for (size_t h = 0; h < e->nbuckets; h++) {
		for (inst_t **pp = &e->hash[h]; *pp;) {
			if (strcmp((*pp)->host, host))
				pp = &(*pp)->next;
			else
				dl_alerts__drop(e, pp);
		}
	}
	for (size_t i = 0; i < e->nhist; i++)
		if (!strcmp(e->hist[i].host, host))
			e->hist[i].host[0] = '\0'; /* skipped by lists */
}
