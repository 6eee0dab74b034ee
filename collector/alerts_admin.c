/* alerts_admin.c - what the admin ops see of the engine: the alerts list
 * (ops `alerts`) and silences (silence_add/list/rm). Loop thread; read
 * from memory, written through the store. */
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alerts_int.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "alerts"

static json_t *secs(int64_t ms)
{
	return ms ? json_integer(ms / 1000) : json_null();
}

static json_t *row(const char *rule, dl_severity_t sev, const char *host,
		   const char *ctr, const char *state, int64_t since,
		   int64_t fired, int64_t resolved, bool has_value,
		   double value, const char *summary, bool silenced,
		   const char *notify_error, int64_t notify_failed_at)
{
	return json_pack(
		"{s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:o,s:o,s:s,s:b,s:o,s:o}", "rule",
		rule, "severity", dl_severity_name(sev), "host", host,
		"container", ctr[0] ? json_string(ctr) : json_null(), "state",
		state, "since", secs(since), "fired_at", secs(fired),
		"resolved_at", secs(resolved), "value",
		has_value ? json_real(round(value * 100) / 100) : json_null(),
		"summary", summary, "silenced", silenced, "notify_error",
		notify_error[0] ? json_string(notify_error) : json_null(),
		"notify_failed_at", secs(notify_failed_at));
}

static int by_since(const void *a, const void *b)
{
	json_int_t x = json_integer_value(
		json_object_get(*(json_t *const *)a, "since"));
	json_int_t y = json_integer_value(
		json_object_get(*(json_t *const *)b, "since"));

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Firing first, then pending, then resolved; newest first in each. */
static json_t *sorted(json_t *rows[3])
{
	json_t *out = json_array();

	for (int k = 0; k < 3; k++) {
		size_t n = json_array_size(rows[k]);
		json_t **v = calloc(n ? n : 1, sizeof(*v));

		for (size_t i = 0; v && i < n; i++)
			v[i] = json_array_get(rows[k], i);
		if (v)
			qsort(v, n, sizeof(*v), by_since);
		for (size_t i = 0; out && v && i < n; i++)
			json_array_append(out, v[i]);
		free(v);
		json_decref(rows[k]);
	}
	return out;
}

json_t *dl_alerts_list(dl_alerts_t *e, bool all, int64_t since_ms,
		       const char *host_glob)
{
	int64_t now = dl_alerts__now(e);
	json_t *rows[3] = {json_array(), json_array(), json_array()};

	for (size_t h = 0; h < e->nbuckets; h++) {
		for (inst_t *in = e->hash[h]; in; in = in->next) {
			const dl_alert_rule_t *r;

			if (in->rule >= e->nrules || in->state == A_INACTIVE ||
			    (host_glob && fnmatch(host_glob, in->host, 0)))
				continue;
			r = &e->rules[in->rule];
			json_array_append_new(
				rows[in->state == A_FIRING ? 0 : 1],
				row(r->name, r->severity, in->host, in->ctr,
				    in->state == A_FIRING ? "firing"
							  : "pending",
				    in->since, in->fired_at, 0, in->has_value,
				    in->value, in->summary,
				    dl_alerts__silenced(e, in, now),
				    in->notify_error, in->notify_failed_at));
		}
	}
	for (size_t i = 0; all && i < e->nhist; i++) {
		const hist_t *x = &e->hist[i];

		if (!x->host[0] || x->resolved_at < since_ms ||
		    (host_glob && fnmatch(host_glob, x->host, 0)))
			continue;
		json_array_append_new(
			rows[2],
			row(x->rule, x->severity, x->host, x->ctr, "resolved",
			    x->since, x->fired_at, x->resolved_at, x->has_value,
			    x->value, x->summary, false, x->notify_error,
			    x->notify_failed_at));
	}
	return sorted(rows);
}

/* ---- silences ---- */

static json_t *silence_json(const silence_t *s)
{
	return json_pack("{s:I,s:s,s:o,s:o,s:s,s:s,s:I,s:I}", "id",
			 (json_int_t)s->id, "host", s->host, "container",
			 s->ctr[0] ? json_string(s->ctr) : json_null(), "rule",
			 s->rule[0] ? json_string(s->rule) : json_null(),
			 "comment", s->comment, "by", s->by, "created",
			 (json_int_t)(s->created / 1000), "expires",
			 (json_int_t)(s->expires / 1000));
}

static bool text_ok(const char *s, size_t max, bool glob)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, max + 1);
	if (n > max || (glob && n == 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f ||
		    (glob && s[i] == ' '))
			return false;
	return true;
}

int64_t dl_alerts_silence_add(dl_alerts_t *e, const dl_silence_req_t *r,
			      dl_store_done_cb done, void *ud)
{
	int64_t now = dl_alerts__now(e);
	silence_t *s;
	dl_silence_row_t row;
	int rc;

	if (!text_ok(r->host, DL_ALERT_GLOB_MAX, true) ||
	    (r->container && !text_ok(r->container, DL_ALERT_GLOB_MAX, true)) ||
	    (r->rule && !text_ok(r->rule, DL_ALERT_NAME_MAX, true)) ||
	    (r->comment && !text_ok(r->comment, DL_SILENCE_TEXT_MAX, false)) ||
	    !text_ok(r->by, DL_SILENCE_TEXT_MAX, false) ||
	    r->duration_ms < 1000 || r->duration_ms > 366ll * 86400 * 1000)
		return DL_EINVAL;
	if (e->nsil == DL_SILENCES_MAX)
		return DL_EFULL;
	s = &e->sil[e->nsil];
	memset(s, 0, sizeof(*s));
	s->id = e->next_silence;
	snprintf(s->host, sizeof(s->host), "%s", r->host);
	snprintf(s->ctr, sizeof(s->ctr), "%s",
		 r->container ? r->container : "");
	snprintf(s->rule, sizeof(s->rule), "%s", r->rule ? r->rule : "");
	snprintf(s->comment, sizeof(s->comment), "%s",
		 r->comment ? r->comment : "");
	snprintf(s->by, sizeof(s->by), "%s", r->by);
	s->created = now;
	s->expires = now + r->duration_ms;
	if (e->store) {
		row = (dl_silence_row_t){s->id,	     s->host,	 s->ctr,
					 s->rule,    s->comment, s->by,
					 s->created, s->expires};
		if ((rc = dl_store_silence_put(e->store, &row, done, ud)))
			return rc;
	}
	e->nsil++;
	e->next_silence++;
	DL_LOG_INFO(TAG, "silence %lld by %s: %s%s%s%s%s until +%llds",
		    (long long)s->id, s->by, s->host, s->ctr[0] ? "/" : "",
		    s->ctr, s->rule[0] ? " rule " : "", s->rule,
		    (long long)(r->duration_ms / 1000));
	return s->id;
}

json_t *dl_alerts_silence_list(dl_alerts_t *e)
{
	int64_t now = dl_alerts__now(e);
	json_t *arr = json_array();

	for (size_t i = 0; arr && i < e->nsil; i++)
		if (e->sil[i].expires > now)
			json_array_append_new(arr, silence_json(&e->sil[i]));
	return arr;
}

json_t *dl_alerts_silence_get(dl_alerts_t *e, int64_t id)
{
	for (size_t i = 0; i < e->nsil; i++)
		if (e->sil[i].id == id)
			return silence_json(&e->sil[i]);
	return NULL;
}

int dl_alerts_silence_rm(dl_alerts_t *e, int64_t id, dl_store_done_cb done,
			 void *ud)
{
	int64_t now = dl_alerts__now(e);

	for (size_t i = 0; i < e->nsil; i++) {
		if (e->sil[i].id != id || e->sil[i].expires <= now)
			continue;
		e->sil[i] = e->sil[--e->nsil];
		DL_LOG_INFO(TAG, "silence %lld removed", (long long)id);
		if (e->store)
			return dl_store_silence_end(e->store, id, now, done,
						    ud);
		return 0;
	}
	return DL_ENOENT;
}
