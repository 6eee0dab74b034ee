/* auth.h - who is asking on the admin socket, and what they may do.
 *
 * A request from the gateway's uid ([http] user) must carry a valid
 * token; one from any other uid without a token is a local admin with
 * full rights (the socket's file mode let it in); a token, when given,
 * is always checked. Roles map to control classes; a token's host glob
 * hides every other host. Runs on the loop thread: one SHA-256 and a
 * table lookup per request. Never logs a secret. */
#ifndef DL_COLLECTOR_AUTH_H
#define DL_COLLECTOR_AUTH_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "collector/conf.h"
#include "collector/store.h"
#include "collector/token.h"
#include "proto/control.h"

typedef struct {
	bool token; /* limited to name's role and hosts; else full rights */
	char name[DL_TOKEN_NAME_MAX + 1];
	dl_role_t role;
	char hosts[DL_TOKEN_HOSTS_MAX + 1];
} dl_auth_t;

/* Decides who sends req (op op) from uid at now (unix s). 0 with *a
 * filled, or DL_EAUTH with a sentence for the client in err (the
 * refusal is logged here, rate-limited, with req's "client"). A good
 * token's last_used is queued to store at most once a minute. */
int dl_auth_identify(dl_tokens_t *t, dl_store_t *store, const dl_cconf_t *conf,
		     uid_t uid, const json_t *req, const char *op, int64_t now,
		     dl_auth_t *a, char *err, size_t errlen);

/* May a run op (ctl: the control op for op "control", else NULL)? 0, or
 * DL_EPERM with "token NAME (role read) may not stop" in err. */
int dl_auth_allow(const dl_auth_t *a, const char *op, const dl_op_t *ctl,
		  char *err, size_t errlen);

/* Whether a may see host. */
bool dl_auth_host_ok(const dl_auth_t *a, const char *host);
/* The one host a's glob names when it has no wildcard, else NULL. */
const char *dl_auth_single_host(const dl_auth_t *a);
/* Drops from array arr every object whose key (a host name) a may not
 * see. */
void dl_auth_filter(const dl_auth_t *a, json_t *arr, const char *key);
/* {"name","role","hosts"} of a, for op whoami (the web page's sign-in
 * asks it to check a token and learn what to offer). NULL on ENOMEM;
 * the caller owns it. Never holds the secret. */
json_t *dl_auth_whoami(const dl_auth_t *a);
/* "token:NAME" for the audit log. */
void dl_auth_user(const dl_auth_t *a, char *out, size_t outlen);

#endif
