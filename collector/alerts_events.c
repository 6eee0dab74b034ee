/* alerts_events.c - the engine's inputs that are not samples: container
 * event rows (exit, OOM, health, restart loops) and host conditions from
 * the sessions (offline, Docker down, dropped frames). Each finds the
 * rules whose condition and scope hold and drives their instances
 * through alerts.c's state machine; it never sends or stores itself. */
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alerts_int.h"

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

/* A container that stopped uses neither CPU nor memory and sends no
 * more samples: its threshold alerts resolve now (else they would fire
 * on until it is removed), and a new start begins a fresh mean. */
static void ev_stopped(dl_alerts_t *e, const ev_t *ev, int64_t now)
{
	for (size_t i = 0; i < e->nrules; i++) {
		dl_cond_t c = e->rules[i].cond;
		inst_t *in;

		if ((c != DL_COND_CONTAINER_CPU &&
		     c != DL_COND_CONTAINER_MEMORY) ||
		    !(in = dl_alerts__get(e, i, ev->host, ev->name, false)))
			continue;
		memset(in->b, 0, sizeof(in->b));
		in->wsum = 0;
		in->wn = 0;
		if (in->state != A_INACTIVE)
			dl_alerts__good(e, in, now);
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
	if (!ev.stale &&
	    (!strcmp(ev.action, "die") || !strcmp(ev.action, "destroy")))
		ev_stopped(e, &ev, now);
	for (size_t i = 0; i < e->nrules; i++) {
		const dl_alert_rule_t *r = &e->rules[i];

		if (r->cond >= DL_COND_CONTAINER_EXIT &&
		    r->cond <= DL_COND_RESTART_LOOP &&
		    rule_ctr(r, r->cond, ev.host, ev.name) &&
		    dl_alerts__rule_label(e, r, ev.host, ev.name, ev.attrs))
			ev_rule(e, i, &ev, crash, counted_start, now);
	}
}
