/* auth.c - admin request authorization (see auth.h). */
#include "collector/auth.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "common/log.h"

#define TAG "auth"

/* Ops outside control: the least role that may run them. Unlisted ops
 * (answered "unknown request" further on) need no more than read. */
static const struct {
	const char *op;
	dl_role_t role;
} op_roles[] = {
	{"hosts", DL_ROLE_READ},	  {"ps", DL_ROLE_READ},
	{"events", DL_ROLE_READ},	  {"stats", DL_ROLE_READ},
	{"history", DL_ROLE_READ},	  {"audit", DL_ROLE_READ},
	{"metrics", DL_ROLE_READ},	  {"subscribe", DL_ROLE_READ},
	{"ping", DL_ROLE_READ},		  {"forget", DL_ROLE_ADMIN},
	{"token_create", DL_ROLE_ADMIN},  {"token_list", DL_ROLE_ADMIN},
	{"token_revoke", DL_ROLE_ADMIN},  {"notify_test", DL_ROLE_ADMIN},
	{"notify_list", DL_ROLE_ADMIN},	  {"whoami", DL_ROLE_READ},
	{"alerts", DL_ROLE_READ},	  {"silence_list", DL_ROLE_READ},
	{"silence_add", DL_ROLE_OPERATE}, {"silence_rm", DL_ROLE_OPERATE},
	{"host_labels", DL_ROLE_ADMIN},
};

static void refused(const json_t *req, uid_t uid, const char *what)
{
	const char *client = json_string_value(json_object_get(req, "client"));
	char where[80] = "";

	/* informational only: whoever connects may claim any client */
	if (client)
		snprintf(where, sizeof(where), " for client %.60s", client);
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG, "uid %u%s: %s", (unsigned)uid, where,
		  what);
}

static void note_use(dl_store_t *store, dl_token_t *k, int64_t now)
{
	k->last_used = now;
	if (now - k->last_written < DL_TOKEN_USED_PERIOD_S)
		return;
	k->last_written = now;
	if (store && dl_store_token_used(store, k->name, now) != 0)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "token %s: last use not recorded", k->name);
}

int dl_auth_identify(dl_tokens_t *t, dl_store_t *store, const dl_cconf_t *conf,
		     uid_t uid, const json_t *req, const char *op, int64_t now,
		     dl_auth_t *a, char *err, size_t errlen)
{
	json_t *jt = json_object_get(req, "token");
	bool gateway = conf->http.have_uid && uid == conf->http.uid;
	dl_token_why_t why;
	dl_token_t *k;

	memset(a, 0, sizeof(*a));
	if (!jt) {
		/* /metrics may be open to the network by choice. */
		if (gateway && !(op && !strcmp(op, "metrics") &&
				 !conf->http.metrics_auth)) {
			refused(req, uid, "request without a token refused");
			snprintf(err, errlen, "a token is required");
			return DL_EAUTH;
		}
		if (gateway) {
			a->token = true;
			snprintf(a->name, sizeof(a->name), "anonymous");
			a->role = DL_ROLE_READ;
			snprintf(a->hosts, sizeof(a->hosts), "*");
		}
		return 0;
	}
	k = dl_tokens_check(t, json_string_value(jt), now, &why);
	if (!k) {
		refused(req, uid,
			why == DL_TOKEN_EXPIRED ? "expired token refused"
						: "invalid or revoked token "
						  "refused");
		snprintf(err, errlen, "%s",
			 why == DL_TOKEN_EXPIRED ? "the token has expired"
						 : "invalid or revoked token");
		return DL_EAUTH;
	}
	note_use(store, k, now);
	a->token = true;
	snprintf(a->name, sizeof(a->name), "%s", k->name);
	a->role = k->role;
	snprintf(a->hosts, sizeof(a->hosts), "%s", k->hosts);
	return 0;
}

int dl_auth_allow(const dl_auth_t *a, const char *op, const dl_op_t *ctl,
		  char *err, size_t errlen)
{
	dl_role_t need = DL_ROLE_READ;
	const char *what = op;

	if (!a->token)
		return 0;
	if (ctl) {
		if (dl_token_role_classes(a->role) & ctl->cls)
			return 0;
		what = ctl->name;
		goto fail;
	}
	for (size_t i = 0; op && i < sizeof(op_roles) / sizeof(op_roles[0]);
	     i++)
		if (!strcmp(op, op_roles[i].op))
			need = op_roles[i].role;
	if (a->role >= need)
		return 0;
fail:
	snprintf(err, errlen, "token %s (role %s) may not %s", a->name,
		 dl_token_role_name(a->role), what ? what : "do that");
	return DL_EPERM;
}

bool dl_auth_host_ok(const dl_auth_t *a, const char *host)
{
	return !a->token || dl_token_host_ok(a->hosts, host);
}

const char *dl_auth_single_host(const dl_auth_t *a)
{
	if (!a->token || strpbrk(a->hosts, "*?[\\"))
		return NULL;
	return a->hosts;
}

void dl_auth_filter(const dl_auth_t *a, json_t *arr, const char *key)
{
	json_t *keep, *row;
	size_t i;

	if (!a->token || !strcmp(a->hosts, "*") || !json_is_array(arr))
		return;
	/* Rebuilt, not removed from one by one: 100k events stay linear. */
	if (!(keep = json_array())) {
		json_array_clear(arr); /* seeing nothing beats seeing all */
		return;
	}
	json_array_foreach(arr, i, row)
	{
		const char *h = json_string_value(json_object_get(row, key));

		if (h && dl_token_host_ok(a->hosts, h))
			json_array_append(keep, row);
	}
	json_array_clear(arr);
	json_array_extend(arr, keep);
	json_decref(keep);
}

void dl_auth_user(const dl_auth_t *a, char *out, size_t outlen)
{
	snprintf(out, outlen, "token:%s", a->name);
}

json_t *dl_auth_whoami(const dl_auth_t *a)
{
	/* a caller without a token is a local admin (the socket's mode let
	 * it in) */
	if (!a->token)
		return json_pack("{s:s,s:s,s:s}", "name", "local", "role",
				 "admin", "hosts", "*");
	return json_pack("{s:s,s:s,s:s}", "name", a->name, "role",
			 dl_token_role_name(a->role), "hosts", a->hosts);
}
