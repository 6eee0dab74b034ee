/* admin_ops.c - admin requests answered on the loop thread from
 * collector state that is not a query: API tokens (answered after the
 * writer's COMMIT), notification tests (after the send), alerts and
 * silences (the alert engine's memory; silence writes after the COMMIT). */
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/alerts.h"
#include "collector/auth.h"
#include "collector/hostlabel.h"
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

/* ---- tokens: the cache is updated on the loop thread, the answer
 * waits for the writer's COMMIT (c stays busy meanwhile) ---- */

#define TOKEN_EXPIRES_MAX (100ll * 365 * 86400)

static json_t *time_or_null(int64_t s)
{
	return s > 0 ? json_integer(s) : json_null();
}

static void token_created(void *ud, int result)
{
	admin_conn_t *c = ud;
	const dl_token_t *k = &c->tok;
	json_t *resp;

	c->busy = false;
	if (result == 0 && dl_tokens_add(c->srv->tokens, k) == 0) {
		DL_LOG_INFO(TAG, "uid %d created token %s (role %s, hosts %s)",
			    (int)c->uid, k->name, dl_token_role_name(k->role),
			    k->hosts);
		resp = dl_admin__ok(json_pack(
			"{s:s,s:s,s:s,s:I,s:o,s:s}", "name", k->name, "role",
			dl_token_role_name(k->role), "hosts", k->hosts,
			"created", (json_int_t)k->created, "expires",
			time_or_null(k->expires), "secret", c->tok_secret));
	} else if (result == DL_EEXIST) {
		resp = dl_admin__fail(
			"invalid", "a token named %s already exists", k->name);
	} else {
		resp = dl_admin__fail("error", "cannot store token %s",
				      k->name);
	}
	explicit_bzero(c->tok_secret, sizeof(c->tok_secret));
	dl_admin__respond(c, resp);
}

static void token_revoked(void *ud, int result)
{
	admin_conn_t *c = ud;

	c->busy = false;
	if (result == 0)
		DL_LOG_INFO(TAG, "uid %d revoked token %s", (int)c->uid,
			    c->tok.name);
	dl_admin__respond(
		c, result == 0
			   ? dl_admin__ok(json_pack("{s:s,s:b}", "name",
						    c->tok.name, "revoked", 1))
		   : result == DL_ENOENT
			   ? dl_admin__fail("not_found", "no token named %s",
					    c->tok.name)
			   : dl_admin__fail("error", "cannot revoke token %s",
					    c->tok.name));
}

/* token_create {name, role, hosts?, expires_s?}: NULL when queued. */
static json_t *token_create(admin_conn_t *c, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	const char *role = json_string_value(json_object_get(req, "role"));
	json_t *jh = json_object_get(req, "hosts");
	json_t *je = json_object_get(req, "expires_s");
	const char *hosts = jh ? json_string_value(jh) : "*";
	dl_token_t *k = &c->tok;
	dl_token_row_t row;

	if (!dl_token_name_valid(name))
		return dl_admin__fail(
			"invalid",
			"token_create: name wants [a-z0-9][a-z0-9._-], at "
			"most 63 characters%s",
			"");
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "%s", name);
	if ((k->role = dl_token_role_parse(role)) == DL_ROLE_NONE)
		return dl_admin__fail(
			"invalid",
			"token_create: role must be read, operate or "
			"admin%s",
			"");
	if (!dl_token_hosts_valid(hosts))
		return dl_admin__fail(
			"invalid",
			"token_create: hosts must be a glob of 1 to 255 "
			"printable characters%s",
			"");
	if (je && (!json_is_integer(je) || json_integer_value(je) < 1 ||
		   json_integer_value(je) > TOKEN_EXPIRES_MAX))
		return dl_admin__fail(
			"invalid",
			"token_create: expires_s must be from 1 s to 100 "
			"years%s",
			"");
	if (dl_tokens_get(c->srv->tokens, name))
		return dl_admin__fail("invalid",
				      "a token named %s already exists", name);
	snprintf(k->hosts, sizeof(k->hosts), "%s", hosts);
	k->created = (int64_t)(dl_clock_wall_ns() / 1000000000ull);
	k->expires = je ? k->created + json_integer_value(je) : 0;
	k->last_written = k->created; /* a first use is written at once */
	k->last_written -= DL_TOKEN_USED_PERIOD_S;
	if (dl_token_generate(c->tok_secret, sizeof(c->tok_secret)) ||
	    dl_token_hash(c->tok_secret, k->hash, sizeof(k->hash)))
		return dl_admin__fail("error", "cannot make a secret for %s",
				      name);
	row = (dl_token_row_t){
		k->name,  k->hash,    dl_token_role_name(k->role),
		k->hosts, k->created, k->expires};
	if (!c->srv->store ||
	    dl_store_token_create(c->srv->store, &row, token_created, c)) {
		explicit_bzero(c->tok_secret, sizeof(c->tok_secret));
		return dl_admin__fail("error", "cannot store token %s", name);
	}
	c->busy = true;
	return NULL;
}

/* token_revoke {name}: out of the cache at once, answered after the
 * COMMIT. NULL when queued. */
static json_t *token_revoke(admin_conn_t *c, json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));

	if (!dl_token_name_valid(name) ||
	    !dl_tokens_remove(c->srv->tokens, name))
		return dl_admin__fail("not_found", "no token named %.64s",
				      name ? name : "");
	snprintf(c->tok.name, sizeof(c->tok.name), "%s", name);
	if (!c->srv->store ||
	    dl_store_token_revoke(c->srv->store, name,
				  (int64_t)(dl_clock_wall_ns() / 1000000000ull),
				  token_revoked, c))
		return dl_admin__fail("error", "cannot revoke token %s", name);
	c->busy = true;
	return NULL;
}

/* token_*: the answer, or NULL when the writer will give it. */
json_t *dl_admin__run_token(admin_conn_t *c, const char *op, json_t *req)
{
	json_t *list;

	if (!strcmp(op, "token_create"))
		return token_create(c, req);
	if (!strcmp(op, "token_revoke"))
		return token_revoke(c, req);
	if (!strcmp(op, "token_list"))
		return (list = dl_tokens_list(c->srv->tokens))
			       ? dl_admin__ok(list)
			       : dl_admin__fail("error", "out of memory%s", "");
	return dl_admin__fail("invalid", "unknown request \"%s\"", op);
}

/* ---- notifications: notify_test waits for the send's outcome (c stays
 * busy meanwhile, like a token op) ---- */

static void notify_tested(void *ud, const char *channel, bool delivered,
			  const char *detail)
{
	admin_conn_t *c = ud;
	char text[1024];

	c->busy = false;
	DL_LOG_INFO(TAG, "uid %d tested channel %s: %s", (int)c->uid, channel,
		    delivered ? "delivered" : "not delivered");
	if (delivered) {
		dl_admin__respond(
			c, dl_admin__ok(json_pack("{s:s,s:b,s:s}", "channel",
						  channel, "delivered", 1,
						  "detail", detail)));
		return;
	}
	snprintf(text, sizeof(text), "%s: %s", channel, detail);
	dl_admin__respond(c, json_pack("{s:b,s:s,s:s,s:{s:s,s:b,s:s}}", "ok", 0,
				       "error", text, "code", "error", "data",
				       "channel", channel, "delivered", 0,
				       "detail", detail));
}

/* notify_test {channel} | notify_list: the answer, or NULL when the
 * send's outcome will give it. */
json_t *dl_admin__run_notify(admin_conn_t *c, const char *op, json_t *req)
{
	const char *ch = json_string_value(json_object_get(req, "channel"));
	json_t *list;
	int rc;

	if (!strcmp(op, "notify_list"))
		return (list = dl_notify_list(c->srv->notify))
			       ? dl_admin__ok(list)
			       : dl_admin__fail("error", "out of memory%s", "");
	if (strcmp(op, "notify_test"))
		return dl_admin__fail("invalid", "unknown request \"%s\"", op);
	if (!ch || !dl_notify_has(c->srv->notify, ch))
		return dl_admin__fail("not_found", "no [notify %.64s] channel",
				      ch ? ch : "");
	rc = dl_notify_test(c->srv->notify, ch, notify_tested, c);
	if (rc == DL_EFULL)
		return dl_admin__fail("busy", "the send queue of %s is full",
				      ch);
	if (rc)
		return dl_admin__fail("error", "cannot send: %s",
				      dl_strerror(rc));
	c->busy = true;
	return NULL;
}

/* ---- alerts and silences: the engine's memory, on the loop thread;
 * silence writes are answered after the COMMIT ---- */

static void who_of(const admin_conn_t *c, char *out, size_t outlen)
{
	if (c->auth.token)
		snprintf(out, outlen, "token %s", c->auth.name);
	else
		snprintf(out, outlen, "uid %u", (unsigned)c->uid);
}

static void silence_added(void *ud, int result)
{
	admin_conn_t *c = ud;
	json_t *s;

	c->busy = false;
	s = result == 0 ? dl_alerts_silence_get(c->srv->alerts, c->silence_id)
			: NULL;
	dl_admin__respond(
		c,
		s ? dl_admin__ok(s)
		  : dl_admin__fail("error", "cannot store the silence%s", ""));
}

static void silence_removed(void *ud, int result)
{
	admin_conn_t *c = ud;

	c->busy = false;
	dl_admin__respond(
		c, result == 0
			   ? dl_admin__ok(json_pack("{s:I,s:b}", "id",
						    (json_int_t)c->silence_id,
						    "removed", 1))
			   : dl_admin__fail("error",
					    "cannot remove the silence%s", ""));
}

/* silence_add {host, container?, rule?, comment?, for_s}: NULL when
 * queued. A token limited to some hosts may silence a host it sees, by
 * name (not a glob). */
static json_t *silence_add(admin_conn_t *c, json_t *req)
{
	json_t *jf = json_object_get(req, "for_s");
	char who[96];
	dl_silence_req_t r = {
		.host = json_string_value(json_object_get(req, "host")),
		.container =
			json_string_value(json_object_get(req, "container")),
		.rule = json_string_value(json_object_get(req, "rule")),
		.comment = json_string_value(json_object_get(req, "comment")),
		.by = who,
	};
	int64_t id;

	who_of(c, who, sizeof(who));
	if (!r.host || !json_is_integer(jf))
		return dl_admin__fail("invalid",
				      "silence_add wants host and for_s%s", "");
	if (c->auth.token && strcmp(c->auth.hosts, "*") &&
	    (strpbrk(r.host, "*?[\\") || !dl_auth_host_ok(&c->auth, r.host)))
		return dl_admin__fail("forbidden",
				      "token may not silence %.64s", r.host);
	r.duration_ms = (int64_t)json_integer_value(jf) * 1000;
	id = dl_alerts_silence_add(c->srv->alerts, &r, silence_added, c);
	if (id == DL_EFULL)
		return dl_admin__fail("busy", "too many silences%s", "");
	if (id < 0)
		return dl_admin__fail(
			"invalid",
			"silence_add: host/container must be globs, rule a "
			"rule name, comment printable, for_s from 1 s to a "
			"year%s",
			"");
	c->silence_id = id;
	c->busy = true;
	return NULL;
}

json_t *dl_admin__run_alerts(admin_conn_t *c, const char *op, json_t *req)
{
	dl_alerts_t *e = c->srv->alerts;
	json_t *data, *jid;
	char idtext[24];
	int64_t now_ms = (int64_t)(dl_clock_wall_ns() / 1000000u);

	if (!e || !c->srv->store)
		return dl_admin__fail("error", "collector is stopping%s", "");
	if (!strcmp(op, "alerts")) {
		json_int_t since =
			json_integer_value(json_object_get(req, "since_s"));

		if (since < 0 || since > 366ll * 86400)
			return dl_admin__fail("invalid",
					      "alerts: since_s out of range%s",
					      "");
		data = dl_alerts_list(
			e, json_is_true(json_object_get(req, "all")),
			now_ms - (since ? since : 86400) * 1000, NULL);
	} else if (!strcmp(op, "silence_list")) {
		data = dl_alerts_silence_list(e);
	} else if (!strcmp(op, "silence_add")) {
		return silence_add(c, req);
	} else {
		jid = json_object_get(req, "id");
		if (!json_is_integer(jid))
			return dl_admin__fail("invalid",
					      "silence_rm wants an id%s", "");
		c->silence_id = json_integer_value(jid);
		snprintf(idtext, sizeof(idtext), "%lld",
			 (long long)c->silence_id);
		if (dl_alerts_silence_rm(e, c->silence_id, silence_removed, c))
			return dl_admin__fail("not_found",
					      "no active silence %s", idtext);
		c->busy = true;
		return NULL;
	}
	if (!data)
		return dl_admin__fail("error", "out of memory%s", "");
	dl_auth_filter(&c->auth, data, "host");
	return dl_admin__ok(data);
}

bool dl_admin__alerts_op(const char *op)
{
	return op && (!strcmp(op, "alerts") || !strncmp(op, "silence_", 8));
}

/* ---- host labels: checked here, applied by the writer (which reads
 * the row inside its transaction), answered after the COMMIT, and
 * audited like a control request (op "label") ---- */

static void labels_done(void *ud, int result)
{
	admin_conn_t *c = ud;
	const char *status = result == 0 ? "ok" : "error";
	json_t *labels = NULL, *resp;

	c->busy = false;
	if (result == 0)
		labels = json_loads(c->labels_out, 0, NULL);
	if (result == 0 && json_is_object(labels)) {
		DL_LOG_INFO(TAG, "%s: labels of %s are now %s", c->labels_req,
			    c->ctl_host, c->labels_out);
		resp = dl_admin__ok(json_pack("{s:s,s:o}", "host", c->ctl_host,
					      "labels", labels));
		labels = NULL;
	} else if (result == DL_ENOENT) {
		snprintf(c->labels_out, DL_STORE_LABELS_TEXT_MAX,
			 "no host named %s", c->ctl_host);
		resp = dl_admin__fail("not_found", "%s", c->labels_out);
	} else if (result == DL_EINVAL) {
		resp = dl_admin__fail("invalid", "%s", c->labels_out);
	} else {
		snprintf(c->labels_out, DL_STORE_LABELS_TEXT_MAX,
			 "cannot store the labels of %s", c->ctl_host);
		resp = dl_admin__fail("error", "%s", c->labels_out);
	}
	json_decref(labels);
	if (c->srv->store &&
	    dl_store_audit_end(
		    c->srv->store, c->labels_req, status,
		    result == 0
			    ? c->labels_out
			    : json_string_value(json_object_get(resp, "error")),
		    INT_MIN,
		    (int64_t)((dl_clock_mono_ns() - c->labels_start_ns) /
			      1000000u)) != 0)
		DL_LOG_ERROR(TAG,
			     "%s: cannot record the outcome in the audit "
			     "log",
			     c->labels_req);
	free(c->labels_out);
	c->labels_out = NULL;
	dl_admin__respond(c, resp);
}

/* The audit row of an edit: who, which host, the edit as sent. */
static int labels_audit(admin_conn_t *c, const char *host, const char *edit)
{
	static unsigned seq;
	dl_audit_t a = {0};

	snprintf(c->ctl_user, sizeof(c->ctl_user), "uid %u", (unsigned)c->uid);
	if (c->auth.token)
		dl_auth_user(&c->auth, c->ctl_user, sizeof(c->ctl_user));
	snprintf(c->labels_req, sizeof(c->labels_req), "label-%llu-%u",
		 (unsigned long long)c->srv->boot_ns, ++seq);
	c->labels_start_ns = dl_clock_mono_ns();
	a.req = c->labels_req;
	a.time_ns = dl_clock_wall_ns();
	a.uid = (uint32_t)c->uid;
	a.user = c->ctl_user;
	a.host = host;
	a.op = "label";
	a.target = "";
	a.args = edit;
	return dl_store_audit_start(c->srv->store, &a);
}

/* host_labels {host, set?: {K: V}, remove?: [K]}: NULL when queued. */
json_t *dl_admin__run_labels(admin_conn_t *c, json_t *req)
{
	const char *host = json_string_value(json_object_get(req, "host"));
	json_t *set = json_object_get(req, "set"),
	       *rm = json_object_get(req, "remove");
	json_t *edit;
	char err[256], *st = NULL, *rt = NULL, *et = NULL;
	int rc = DL_ENOMEM;

	if (!host || !dl_host_name_valid(host))
		return dl_admin__fail(
			"invalid", "host_labels needs a valid host name%s", "");
	if (dl_hostlabel_edit_check(set, rm, err, sizeof(err)))
		return dl_admin__fail("invalid", "%s", err);
	if (!c->srv->store)
		return dl_admin__fail("error", "collector is stopping%s", "");
	set = set ? json_incref(set) : json_object();
	rm = rm ? json_incref(rm) : json_array();
	edit = json_pack("{s:O,s:O}", "set", set, "remove", rm);
	st = set ? json_dumps(set, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	rt = rm ? json_dumps(rm, JSON_COMPACT) : NULL;
	et = edit ? json_dumps(edit, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(edit);
	json_decref(set);
	json_decref(rm);
	snprintf(c->ctl_host, sizeof(c->ctl_host), "%s", host);
	if (st && rt && et &&
	    (c->labels_out = malloc(DL_STORE_LABELS_TEXT_MAX + 1))) {
		c->labels_out[0] = '\0';
		if (labels_audit(c, host, et))
			DL_LOG_ERROR(TAG,
				     "cannot record labels of %s in the "
				     "audit log",
				     host);
		rc = dl_store_host_labels(
			c->srv->store, host, st, rt, c->labels_out,
			DL_STORE_LABELS_TEXT_MAX + 1, labels_done, c);
	}
	free(st);
	free(rt);
	free(et);
	if (rc) {
		if (c->labels_out && c->srv->store)
			dl_store_audit_end(c->srv->store, c->labels_req,
					   "error", "not queued", INT_MIN, 0);
		free(c->labels_out);
		c->labels_out = NULL;
		return dl_admin__fail("error", "cannot store the labels%s", "");
	}
	c->busy = true;
	return NULL;
}
