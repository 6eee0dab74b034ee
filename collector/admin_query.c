/* admin_query.c - the admin requests answered on the libuv threadpool
 * from a read-only connection per worker (query.c, history.c), so a slow
 * query never stalls agent sessions; and the resolution of a control
 * request's host and container before it is routed. Never writes. */
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alerts.h"
#include "collector/auth.h"
#include "collector/metrics.h"
#include "collector/notify.h"
#include "collector/pubsub.h"
#include "collector/query.h"
#include "collector/serve_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/admin.h"
#include "proto/control.h"
#include "collector/admin_int.h"

#define TAG "admin"

static __thread dl_query_t *tq; /* one read-only connection per worker */

/* The code of a query's error sentence (query.c words them). */
static const char *err_code(const char *err)
{
	static const char *const missing[] = {"no host named ",
					      "no container "};
	static const char *const bad[] = {"invalid ", "stats:", "history",
					  "events:",  "audit:", "unknown "};

	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		if (!strncmp(err, missing[i], strlen(missing[i])))
			return "not_found";
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (!strncmp(err, bad[i], strlen(bad[i])))
			return "invalid";
	return strstr(err, " matches ") ? "invalid" : "error";
}

/* "stats" {host?, container?}. Errors are sentences in err. */
static json_t *run_stats(const char *host, json_t *req, char *err,
			 size_t errlen)
{
	const char *ctr = json_string_value(json_object_get(req, "container"));

	if (ctr && (!ctr[0] || strlen(ctr) > DL_QUERY_CTR_MAX)) {
		snprintf(err, errlen, "invalid container name or id");
		return NULL;
	}
	if (ctr && !host) {
		snprintf(err, errlen,
			 "stats: a container needs its "
			 "host (HOST/CONTAINER)");
		return NULL;
	}
	return dl_query_stats(tq, host, ctr, err, errlen);
}

typedef struct {
	const char *ctr;
	json_int_t since, until, tier, points;
} hist_args_t;

/* "history" {host, container?, since_ns, until_ns, tier?, points?}: no
 * container = the host's own metrics. tier defaults to the one the span
 * (and, for a chart, the points) call for. 0, or -1 with a sentence in
 * err. */
static int history_args(const char *host, json_t *req, hist_args_t *a,
			char *err, size_t errlen)
{
	json_t *jt = json_object_get(req, "tier");
	int64_t span_s;

	a->ctr = json_string_value(json_object_get(req, "container"));
	if (a->ctr && (!a->ctr[0] || strlen(a->ctr) > DL_QUERY_CTR_MAX)) {
		snprintf(err, errlen, "invalid container name or id");
		return -1;
	}
	a->since = json_integer_value(json_object_get(req, "since_ns"));
	a->until = json_integer_value(json_object_get(req, "until_ns"));
	if (!host) {
		snprintf(err, errlen, "history wants HOST or HOST/CONTAINER");
		return -1;
	}
	if (a->since < 0 || a->until <= a->since) {
		snprintf(err, errlen,
			 "history: since_ns/until_ns out of range");
		return -1;
	}
	a->points = json_integer_value(json_object_get(req, "points"));
	if (a->points < 0 || a->points > DL_QUERY_POINTS_MAX) {
		snprintf(err, errlen, "history: points out of range");
		return -1;
	}
	span_s = (a->until - a->since) / 1000000000;
	a->tier = jt ? json_integer_value(jt)
		     : dl_query_tier_points(span_s, (int)a->points);
	/* dl_query_history_text words a bad tier; just no int truncation
	 * that could turn one into a good one */
	if (a->tier < INT_MIN || a->tier > INT_MAX)
		a->tier = -1;
	return 0;
}

/* An optional string field of at most max bytes: 0 (absent: *out NULL),
 * or -1 with a sentence. */
static int opt_str(json_t *req, const char *key, size_t max, const char **out,
		   char *err, size_t errlen)
{
	json_t *v = json_object_get(req, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !json_string_length(v) ||
	    json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen,
			 "invalid %s: not a string of 1 to %zu bytes", key,
			 max);
		return -1;
	}
	*out = json_string_value(v);
	return 0;
}

/* "hosts" {host?}: every host, or the one named (an array of one). */
static json_t *run_hosts(const char *host, char *err, size_t errlen)
{
	json_t *all = dl_query_hosts(tq, err, errlen), *one;
	size_t i;
	json_t *h;

	if (!all || !host)
		return all;
	json_array_foreach(all, i, h)
	{
		const char *name =
			json_string_value(json_object_get(h, "name"));

		if (name && !strcmp(name, host)) {
			one = json_pack("[O]", h);
			json_decref(all);
			return one;
		}
	}
	json_decref(all);
	snprintf(err, errlen, "no host named %s", host);
	return NULL;
}

/* "ps" {host?, all?, state?, name? (glob), label? ("K" or "K=V")} */
static json_t *run_ps(const char *host, json_t *req, char *err, size_t errlen)
{
	dl_ps_filter_t f = {.host = host,
			    .all = json_is_true(json_object_get(req, "all"))};

	if (opt_str(req, "state", 32, &f.state, err, errlen) ||
	    opt_str(req, "name", 256, &f.name, err, errlen) ||
	    opt_str(req, "label", DL_MAX_LABEL_KEY + 1 + DL_MAX_LABEL_VALUE,
		    &f.label, err, errlen))
		return NULL;
	return dl_query_ps_where(tq, &f, err, errlen);
}

/* "events" {host?, since_ns, after, limit, type?, action?} */
static json_t *run_events(const char *host, json_t *req, char *err,
			  size_t errlen)
{
	json_int_t since = json_integer_value(json_object_get(req, "since_ns"));
	json_int_t after = json_integer_value(json_object_get(req, "after"));
	json_int_t limit = json_integer_value(json_object_get(req, "limit"));
	dl_event_filter_t f = {.host = host};

	if (since < 0 || after < 0 || limit < 1 || limit > 100000) {
		snprintf(err, errlen,
			 "events: since, after or limit out of "
			 "range");
		return NULL;
	}
	if (opt_str(req, "type", 32, &f.type, err, errlen) ||
	    opt_str(req, "action", 128, &f.action, err, errlen))
		return NULL;
	f.since_ns = (uint64_t)since;
	f.after_id = after;
	f.limit = (int)limit;
	return dl_query_events_where(tq, &f, err, errlen);
}

static json_t *run_query(const char *db, json_t *req, const dl_auth_t *au)
{
	const char *op = json_string_value(json_object_get(req, "op"));
	const char *host = json_string_value(json_object_get(req, "host"));
	char err[512] = "";
	json_t *data = NULL;

	if (!op)
		return dl_admin__fail("invalid", "request has no op%s", "");
	if (host && !dl_host_name_valid(host))
		return dl_admin__fail("invalid", "invalid host name \"%s\"",
				      host);
	if (!tq && !(tq = dl_query_open(db, err, sizeof(err))))
		return dl_admin__fail("error", "%s", err);
	/* A token for one host: the LIMIT of events and audit counts only
	 * rows it may see (neither asks whether the host exists). */
	if (!host && dl_auth_single_host(au) &&
	    (!strcmp(op, "events") || !strcmp(op, "audit")))
		host = dl_auth_single_host(au);
	if (!strcmp(op, "hosts")) {
		data = run_hosts(host, err, sizeof(err));
	} else if (!strcmp(op, "ps")) {
		data = run_ps(host, req, err, sizeof(err));
	} else if (!strcmp(op, "container")) {
		const char *ctr =
			json_string_value(json_object_get(req, "container"));

		if (!host || !ctr || !ctr[0] || strlen(ctr) > DL_QUERY_CTR_MAX)
			return dl_admin__fail(
				"invalid",
				"container wants a host and a container "
				"name or id%s",
				"");
		data = dl_query_container(tq, host, ctr, err, sizeof(err));
	} else if (!strcmp(op, "events")) {
		data = run_events(host, req, err, sizeof(err));
	} else if (!strcmp(op, "audit")) {
		json_int_t since =
			json_integer_value(json_object_get(req, "since_ns"));
		json_int_t limit =
			json_integer_value(json_object_get(req, "limit"));

		if (since < 0 || limit < 1 || limit > 100000)
			return dl_admin__fail(
				"invalid",
				"audit: since_ns or limit out of range%s", "");
		data = dl_query_audit(tq, host, (uint64_t)since, (int)limit,
				      err, sizeof(err));
	} else if (!strcmp(op, "stats")) {
		data = run_stats(host, req, err, sizeof(err));
	} else if (!strcmp(op, "ping")) {
		data = json_pack("{s:s}", "version", DL_VERSION);
	} else {
		return dl_admin__fail("invalid", "unknown request \"%s\"", op);
	}
	if (!data)
		return dl_admin__fail(err_code(err), "%s",
				      err[0] ? err : "query failed");
	dl_auth_filter(au, data, strcmp(op, "hosts") ? "host" : "name");
	return dl_admin__ok(data);
}

/* The text answers (history, ps, stats, hosts) are written straight
 * into a frame: text_begin checks the host, opens this worker's
 * connection and writes the frame's head, text_end closes the document
 * and the frame. Both leave c->resp set (and b freed) on failure. */
static const char text_head[] = "{\"ok\":true,\"data\":";

static bool text_begin(admin_conn_t *c, const char *host, dl_buf_t *b)
{
	char err[512] = "";

	if (host && !dl_host_name_valid(host)) {
		c->resp = dl_admin__fail("invalid", "invalid host name \"%s\"",
					 host);
		return false;
	}
	if (!tq &&
	    !(tq = dl_query_open(c->srv->conf->database, err, sizeof(err)))) {
		c->resp = dl_admin__fail("error", "%s", err);
		return false;
	}
	dl_buf_init(b, DL_FRAME_HDR + DL_ADMIN_RESP_MAX);
	if (dl_buf_append(b, "\0\0\0\0", DL_FRAME_HDR) ||
	    dl_buf_append(b, text_head, sizeof(text_head) - 1)) {
		dl_buf_free(b);
		c->resp = dl_admin__fail("error", "out of memory%s", "");
		return false;
	}
	return true;
}

/* rc: the query's; err its sentence. The frame, or NULL. */
static char *text_end(admin_conn_t *c, dl_buf_t *b, int rc, char *err,
		      size_t errlen, size_t *len)
{
	if (rc || dl_buf_append(b, "}", 1)) {
		if (!err[0])
			snprintf(err, errlen,
				 "response too large; narrow the query");
		dl_buf_free(b);
		c->resp = dl_admin__fail(err_code(err), "%s", err);
		return NULL;
	}
	dl_frame_put_header(dl_buf_head(b),
			    (uint32_t)(dl_buf_used(b) - DL_FRAME_HDR));
	*len = dl_buf_used(b);
	return (char *)b->data; /* off is 0: nothing was consumed */
}

/* "history": a day of raw samples is ~2 MB of JSON; building it as text
 * from the rows (no json_t per sample) is what keeps it fast. Errors go
 * the json path like every other op. Returns the frame, or NULL with
 * c->resp set. */
static char *run_history(admin_conn_t *c, size_t *len)
{
	const char *host = json_string_value(json_object_get(c->req, "host"));
	char err[512] = "";
	hist_args_t a;
	dl_buf_t b;
	int rc;

	if (history_args(host, c->req, &a, err, sizeof(err))) {
		c->resp = dl_admin__fail("invalid", "%s", err);
		return NULL;
	}
	if (!text_begin(c, host, &b))
		return NULL;
	rc = dl_query_history_text(tq, host, a.ctr, a.since, a.until,
				   (int)a.tier, (int)a.points, &b, NULL, err,
				   sizeof(err));
	return text_end(c, &b, rc, err, sizeof(err), len);
}

/* The json_t path for ps, stats and hosts, kept for the benchmarks'
 * baseline (DL_ADMIN_JSON_PATH=1 in serve's environment): same answers,
 * no paging. */
static bool json_path(void)
{
	static int v = -1;

	if (v < 0) {
		const char *e = getenv("DL_ADMIN_JSON_PATH");

		v = e && !strcmp(e, "1");
	}
	return v;
}

static bool text_op(const char *op)
{
	return op && !json_path() &&
	       (!strcmp(op, "ps") || !strcmp(op, "stats") ||
		!strcmp(op, "hosts"));
}

/* "limit" (1..DL_PAGE_MAX) and "cursor" of a ps or stats request. 0, or
 * -1 with a sentence. */
static int page_args(json_t *req, dl_page_t *pg, char *err, size_t errlen)
{
	json_t *l = json_object_get(req, "limit");

	if (l && !json_is_null(l)) {
		if (!json_is_integer(l) || json_integer_value(l) < 1 ||
		    json_integer_value(l) > DL_PAGE_MAX) {
			snprintf(err, errlen,
				 "invalid limit: an integer from 1 to %d",
				 DL_PAGE_MAX);
			return -1;
		}
		pg->limit = (size_t)json_integer_value(l);
	}
	return opt_str(req, "cursor", DL_CURSOR_TEXT_MAX - 1, &pg->cursor, err,
		       errlen);
}

/* ps {host?, all?, state?, name?, limit?, cursor?}, stats {host?,
 * container?, state?, name?, limit?, cursor?} and hosts {host?} written
 * as text from the rows (query_text.c); the token's host glob goes into
 * the query, so rows it hides are never written (and a limit counts only
 * the rest). Returns the frame, or NULL with c->resp set. */
static char *run_text(admin_conn_t *c, const char *op, size_t *len)
{
	json_t *req = c->req;
	const char *host = json_string_value(json_object_get(req, "host"));
	const char *glob = c->auth.token ? c->auth.hosts : NULL;
	dl_page_t pg = {.glob = glob};
	char err[512] = "";
	dl_buf_t b;
	int rc = DL_EINVAL;

	if (strcmp(op, "hosts") && page_args(req, &pg, err, sizeof(err))) {
		c->resp = dl_admin__fail("invalid", "%s", err);
		return NULL;
	}
	if (!text_begin(c, host, &b))
		return NULL;
	if (!strcmp(op, "ps")) {
		dl_ps_filter_t f = {
			.host = host,
			.all = json_is_true(json_object_get(req, "all"))};

		if (!opt_str(req, "state", 32, &f.state, err, sizeof(err)) &&
		    !opt_str(req, "name", 256, &f.name, err, sizeof(err)) &&
		    !opt_str(req, "label",
			     DL_MAX_LABEL_KEY + 1 + DL_MAX_LABEL_VALUE,
			     &f.label, err, sizeof(err)))
			rc = dl_query_ps_text(tq, &f, &pg, &b, NULL, err,
					      sizeof(err));
	} else if (!strcmp(op, "stats")) {
		dl_stats_filter_t f = {.host = host};

		f.ctr = json_string_value(json_object_get(req, "container"));
		if (f.ctr && (!f.ctr[0] || strlen(f.ctr) > DL_QUERY_CTR_MAX))
			snprintf(err, sizeof(err),
				 "invalid container name or id");
		else if (!opt_str(req, "state", 32, &f.state, err,
				  sizeof(err)) &&
			 !opt_str(req, "name", 256, &f.name, err, sizeof(err)))
			rc = dl_query_stats_text(tq, &f, &pg, &b, NULL, err,
						 sizeof(err));
	} else {
		rc = dl_query_hosts_text(tq, host, glob, &b, NULL, err,
					 sizeof(err));
	}
	return text_end(c, &b, rc, err, sizeof(err), len);
}

/* Control, on the threadpool: does the host exist, and which container
 * does the admin mean? A unique match travels as its full id; no match
 * goes to Docker as typed (it may be brand new, and Docker's "No such
 * container" is the answer the admin expects); several matches are an
 * error listing them. */
static void resolve_control(admin_conn_t *c)
{
	dl_call_req_t *r = &c->call;
	char err[512] = "";
	dl_ctr_ref_t ref;
	bool online;
	int rc;
	struct passwd pw, *res = NULL;
	char pwbuf[1024];

	/* NSS may ask LDAP: never on the loop thread. A token request
	 * is audited as the token. */
	if (!c->auth.token &&
	    getpwuid_r(c->uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		snprintf(c->ctl_user, sizeof(c->ctl_user), "%s", pw.pw_name);

	if (!tq &&
	    !(tq = dl_query_open(c->srv->conf->database, err, sizeof(err)))) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "%s", err);
		c->ctl_code = "error";
		return;
	}
	if (!dl_query_host(tq, r->host, &online, &r->last_seen)) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "no host named %s",
			 r->host);
		c->ctl_code = "not_found";
		return;
	}
	if (!r->op->container)
		return;
	/* Only current containers count: a removed one's history must not
	 * turn "web" into an id Docker has never heard of. */
	memset(&ref, 0, sizeof(ref));
	rc = dl_query_resolve(tq, r->host, r->target, &ref, err, sizeof(err));
	if (rc == DL_EINVAL && ref.live) {
		snprintf(c->ctl_error, sizeof(c->ctl_error), "%s", err);
		c->ctl_code = "invalid";
	} else if (rc == 0 && ref.live && !ref.stale &&
		   dl_control_name_ok(ref.id))
		json_object_set_new(r->args, "container", json_string(ref.id));
}

/* The fleet's `hosts` answer is what every dashboard polls, and it
 * costs ~3 ms (100 hosts) to query and encode; for token requests a copy
 * of the encoded frame is reused for up to HOSTS_TTL_NS, per token host
 * glob, so the answer may be that much stale (docs/API.md). Any
 * thread. */
#define HOSTS_TTL_NS  1000000000ull
#define HOSTS_CACHE_N 8

typedef struct {
	char glob[DL_TOKEN_HOSTS_MAX + 1];
	uint64_t at; /* monotonic ns; 0 = empty */
	char *frame;
	size_t len;
} hosts_cached_t;

static pthread_mutex_t hosts_mu = PTHREAD_MUTEX_INITIALIZER;
static hosts_cached_t hosts_cache[HOSTS_CACHE_N];

static const char *hosts_key(const admin_conn_t *c)
{
	return c->auth.hosts;
}

/* Only API clients (tokens) poll; an admin at the CLI who has just run
 * `forget` sees the fleet as it is now. */
static bool hosts_cacheable(const admin_conn_t *c, const char *op)
{
	return c->auth.token && op && !strcmp(op, "hosts") &&
	       !json_object_get(c->req, "host");
}

/* A fresh copy of the cached frame for c, or NULL. */
static char *hosts_get(const admin_conn_t *c, size_t *len)
{
	uint64_t now = dl_clock_mono_ns();
	char *copy = NULL;

	pthread_mutex_lock(&hosts_mu);
	for (int i = 0; i < HOSTS_CACHE_N; i++) {
		hosts_cached_t *h = &hosts_cache[i];

		if (!h->at || now - h->at > HOSTS_TTL_NS ||
		    strcmp(h->glob, hosts_key(c)))
			continue;
		if ((copy = malloc(h->len))) {
			memcpy(copy, h->frame, h->len);
			*len = h->len;
		}
		break;
	}
	pthread_mutex_unlock(&hosts_mu);
	return copy;
}

/* Keeps a copy of frame (the oldest slot goes). */
static void hosts_put(const admin_conn_t *c, const char *frame, size_t len)
{
	hosts_cached_t *slot = &hosts_cache[0];
	char *copy = malloc(len);

	if (!copy)
		return;
	memcpy(copy, frame, len);
	pthread_mutex_lock(&hosts_mu);
	for (int i = 0; i < HOSTS_CACHE_N; i++) {
		hosts_cached_t *h = &hosts_cache[i];

		if (!strcmp(h->glob, hosts_key(c)) || !h->at) {
			slot = h;
			break;
		}
		if (h->at < slot->at)
			slot = h;
	}
	free(slot->frame);
	snprintf(slot->glob, sizeof(slot->glob), "%s", hosts_key(c));
	slot->frame = copy;
	slot->len = len;
	slot->at = dl_clock_mono_ns();
	pthread_mutex_unlock(&hosts_mu);
}

/* Only answers are kept, never an error. */
static void hosts_keep(const admin_conn_t *c, const char *op)
{
	if (c->frame && hosts_cacheable(c, op) &&
	    !strncmp(c->frame + DL_FRAME_HDR, "{\"ok\":true", 10))
		hosts_put(c, c->frame, c->frame_len);
}

void dl_admin__work_cb(uv_work_t *w)
{
	admin_conn_t *c = w->data;
	const char *op = json_string_value(json_object_get(c->req, "op"));

	if (c->ctl) {
		resolve_control(c);
		return;
	}

	if (op && !strcmp(op, "history")) {
		c->frame = run_history(c, &c->frame_len);
		return;
	}
	if (c->metrics) {
		char err[512] = "";

		if (dl_metrics_store_text(c->srv->conf->database, c->metrics,
					  err, sizeof(err))) {
			dl_metrics_buf_free(c->metrics);
			c->metrics = NULL;
			c->resp = json_pack("{s:b,s:s,s:s}", "ok", 0, "error",
					    err, "code", "error");
		}
		return;
	}
	if (hosts_cacheable(c, op) && (c->frame = hosts_get(c, &c->frame_len)))
		return;
	if (text_op(op)) {
		c->frame = run_text(c, op, &c->frame_len);
		hosts_keep(c, op);
		return;
	}
	c->resp = run_query(c->srv->conf->database, c->req, &c->auth);
	/* Encoded and freed here, not on the loop thread: for 20,000
	 * containers that is most of the request's time, and on the loop it
	 * serialises every admin client and stalls agent sessions. Too
	 * large: resp stays, respond() answers the error. */
	if (c->resp && (c->frame = dl_admin_frame(c->resp, DL_ADMIN_RESP_MAX,
						  &c->frame_len))) {
		json_decref(c->resp);
		c->resp = NULL;
		hosts_keep(c, op);
	}
}
