/* alerts_stats.c - threshold rules (container_cpu, container_memory,
 * host_cpu, host_memory, host_disk, host_load) over the stats rows the
 * pubsub listener hands the engine: the mean over `for` per instance,
 * pending above the threshold, resolved below HYSTERESIS x it. Which
 * rules' scope holds for a host or container is worked out once (again
 * when the host's labels change) and kept on its memory instance, so a
 * row costs one lookup plus the rules that watch it, not a glob match
 * per rule. Never sends or stores itself (alerts.c does). */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alerts_int.h"
#include "common/clock.h"
#include "common/err.h"

static int64_t bucket_width(const dl_alert_rule_t *r)
{
	int64_t w = r->for_ms / BUCKETS;

	return w < 1000 ? 1000 : w;
}

/* The window's sum from its buckets: once every BUCKETS buckets, so the
 * rounding of adding and subtracting never accumulates. */
static void resum(inst_t *in, int64_t idx, int64_t span)
{
	in->wsum = 0;
	in->wn = 0;
	for (int64_t k = idx - span + 1; k <= idx; k++) {
		const bucket_t *o = &in->b[k % BUCKETS];

		if (o->idx == k) {
			in->wsum += o->sum;
			in->wn += o->n;
		}
	}
}

/* Adds a sample at t (unix ms, after the last); returns the mean over
 * the last `for` (at least the newest bucket). The window's sum and
 * count follow its buckets as they enter and leave, so a sample reads
 * the one or two buckets that change, not all BUCKETS of them. */
static double mean_add(const dl_alert_rule_t *r, inst_t *in, int64_t t,
		       double v)
{
	int64_t w = bucket_width(r), idx = t / w;
	int64_t span = (r->for_ms + w - 1) / w;
	bucket_t *b = &in->b[idx % BUCKETS];

	if (span < 1)
		span = 1;
	if (span > BUCKETS)
		span = BUCKETS;
	if (!in->wn || idx - in->widx >= span) {
		in->wsum = 0; /* every bucket counted has left */
		in->wn = 0;
	} else {
		for (int64_t k = in->widx - span + 1; k <= idx - span; k++) {
			const bucket_t *o = &in->b[k % BUCKETS];

			if (o->idx == k) {
				in->wsum -= o->sum;
				in->wn -= o->n;
			}
		}
	}
	in->widx = idx;
	if (b->idx != idx) {
		b->idx = idx;
		b->sum = 0;
		b->n = 0;
		if (idx % BUCKETS == 0)
			resum(in, idx, span);
	}
	b->sum += v;
	b->n++;
	in->wsum += v;
	in->wn++;
	return in->wsum / in->wn;
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

static void summarize(const dl_alert_rule_t *r, inst_t *in)
{
	const char *pct = r->cond == DL_COND_HOST_LOAD ? "" : "%";
	char dur[32];

	dl_duration_format(r->for_ms / 1000, dur, sizeof(dur));
	snprintf(in->summary, sizeof(in->summary),
		 "%s%s%s %s %.1f%s (above %g%s for %s)", in->host,
		 in->ctr[0] ? "/" : "", in->ctr, what_of(r->cond), in->value,
		 pct, r->threshold, pct, dur);
}

/* Pending when the mean over `for` is above the threshold, firing when
 * it stayed there for `for` (the timer), resolved once the mean drops
 * below HYSTERESIS x threshold: a value hovering at the line neither
 * flaps nor re-notifies. */
static void threshold(dl_alerts_t *e, inst_t *in, int64_t now, int64_t t,
		      double v)
{
	const dl_alert_rule_t *r = &e->rules[in->rule];
	double mean;

	if (t <= in->last_sample)
		return;
	in->last_sample = t;
	in->last_input = now;
	mean = mean_add(r, in, t, v);
	in->has_value = true;
	in->value = mean;
	/* the summary is read once there is an alert: formatting it for
	 * every quiet sample was a fifth of the engine's time */
	if (in->state != A_INACTIVE || mean > r->threshold)
		summarize(r, in);
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

/* The threshold rules over host rows (hostrows) or container rows
 * whose hosts, containers and label scopes hold for mem's host or
 * container, into mem->match; their instances are looked up on first
 * use (mem->mi). 0 or DL_ENOMEM. */
static int scope(dl_alerts_t *e, inst_t *mem, bool hostrows, uint32_t gen)
{
	size_t max = e->nthreshold[hostrows], n = 0;
	size_t *m = malloc(max * sizeof(*m));
	inst_t **mi = calloc(max, sizeof(*mi));

	if (!m || !mi) {
		free(m);
		free(mi);
		return DL_ENOMEM;
	}
	for (size_t i = 0; i < e->nrules; i++) {
		const dl_alert_rule_t *r = &e->rules[i];

		if (r->cond < DL_COND_CONTAINER_CPU ||
		    (r->cond >= DL_COND_HOST_CPU) != hostrows ||
		    fnmatch(r->hosts, mem->host, 0))
			continue;
		if (!hostrows &&
		    (fnmatch(r->containers, mem->ctr, 0) ||
		     !dl_alerts__rule_label(e, r, mem->host, mem->ctr, NULL)))
			continue;
		m[n++] = i;
	}
	free(mem->match);
	free(mem->mi);
	mem->match = m;
	mem->mi = mi;
	mem->nmatch = n;
	mem->scoped = true;
	mem->scope_gen = gen;
	return 0;
}

/* mem's rules, worked out again when the host's labels changed (an
 * instance freed clears its own slot: dl_alerts__drop). */
static bool rules_of(dl_alerts_t *e, inst_t *mem, bool hostrows, uint32_t gen)
{
	if (!mem->scoped || mem->scope_gen != gen)
		return scope(e, mem, hostrows, gen) == 0;
	return true;
}

/* One row against mem's rules; each value read once whatever the
 * number of rules that watch it. */
static void row_rules(dl_alerts_t *e, inst_t *mem, const json_t *row,
		      int64_t now)
{
	int64_t t =
		(int64_t)(json_integer_value(json_object_get(row, "time_ns")) /
			  1000000);
	signed char have[DL_COND_COUNT] = {0}; /* 0 unread, 1 yes, -1 no */
	double val[DL_COND_COUNT];

	mem->last_input = now;
	for (size_t j = 0; j < mem->nmatch; j++) {
		size_t i = mem->match[j];
		dl_cond_t c = e->rules[i].cond;

		if (!have[c])
			have[c] = value_of(c, row, &val[c]) ? 1 : -1;
		if (have[c] < 0)
			continue;
		if (!mem->mi[j] && !(mem->mi[j] = dl_alerts__get(
					     e, i, mem->host, mem->ctr, true)))
			continue;
		threshold(e, mem->mi[j], now, t, val[c]);
	}
}

void dl_alerts_stats(dl_alerts_t *e, const char *host, const char *key,
		     const json_t *rows)
{
	bool hostrows = !strcmp(key, "host_stats");
	int64_t now;
	inst_t *hm;
	size_t k;
	json_t *row;

	if (!e->nthreshold[hostrows] ||
	    !(hm = dl_alerts__get(e, e->nrules, host, "", true)))
		return;
	now = dl_alerts__now(e);
	json_array_foreach(rows, k, row)
	{
		const char *name = hostrows ? ""
					    : json_string_value(json_object_get(
						      row, "name"));
		inst_t *mem;

		if (!name || (!hostrows && !name[0]))
			continue;
		mem = hostrows ? hm
			       : dl_alerts__get(e, e->nrules, host, name, true);
		if (mem && rules_of(e, mem, hostrows, hm->labels_gen))
			row_rules(e, mem, row, now);
	}
}
