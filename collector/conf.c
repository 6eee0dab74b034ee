#include "collector/conf.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/err.h"
#include "common/log.h"

static const char *const known[] = {
	"collector.database",	     "collector.agent_socket",
	"collector.admin_socket",    "collector.attach_users",
	"collector.log_level",	     "collector.ping_interval",
	"collector.authorized_keys", "collector.host_key",
	"collector.public_address",  "retention.raw",
	"retention.minute",	     "retention.hour",
	"retention.audit",	     NULL,
};

bool dl_host_name_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		bool alnum =
			(ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '.' && ch != '-')))
			return false;
	}
	return true;
}

static int copy_path(char *dst, const char *src, const char *key,
		     const char *file, char *err, size_t errlen)
{
	if (strlen(src) >= DL_PATH_MAX || src[0] != '/') {
		snprintf(err, errlen, "%s: %s must be an absolute path", file,
			 key);
		return DL_ECONFIG;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int parse_users(dl_cconf_t *c, const char *list, const char *file,
		       char *err, size_t errlen)
{
	char buf[1024];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		struct passwd *pw = getpwnam(tok);

		if (!pw) {
			snprintf(err, errlen,
				 "%s: attach_users names %s, which is not a "
				 "user on this host",
				 file, tok);
			return DL_ECONFIG;
		}
		if (c->nattach == DL_MAX_ATTACH_USERS) {
			snprintf(err, errlen, "%s: more than %d attach_users",
				 file, DL_MAX_ATTACH_USERS);
			return DL_ECONFIG;
		}
		c->attach_uids[c->nattach++] = pw->pw_uid;
	}
	return 0;
}

int dl_cconf_load(dl_cconf_t *c, const char *path, char *err, size_t errlen)
{
	dl_conf_t *f;
	dl_log_level_t lvl = DL_LOG_LEVEL_INFO;
	const char *file, *v;
	int64_t ping;
	int rc = DL_ECONFIG;

	memset(c, 0, sizeof(*c));
	snprintf(c->database, sizeof(c->database), "%s", DL_DATABASE_DEFAULT);
	snprintf(c->agent_socket, sizeof(c->agent_socket), "%s",
		 DL_AGENT_SOCKET_DEFAULT);
	snprintf(c->admin_socket, sizeof(c->admin_socket), "%s",
		 DL_ADMIN_SOCKET_DEFAULT);
	snprintf(c->host_key, sizeof(c->host_key), "%s", DL_HOST_KEY_DEFAULT);
	c->log_level = DL_LOG_LEVEL_INFO;
	c->ping_interval = 15;
	c->retention_raw = 48 * 3600;
	c->retention_minute = 30 * 86400;
	c->retention_hour = 365 * 86400;
	c->retention_audit = 400 * 86400;
	if (!path)
		return 0;
	if (dl_conf_abspath(path, c->path, sizeof(c->path), err, errlen))
		return DL_ECONFIG;
	f = dl_conf_load(c->path, err, errlen);
	if (!f)
		return DL_ECONFIG;
	file = c->path;
	if (dl_conf_check_known(f, known, err, errlen))
		goto out;
	if (copy_path(c->database,
		      dl_conf_str(f, "collector", "database", c->database),
		      "database", file, err, errlen) ||
	    copy_path(c->agent_socket,
		      dl_conf_str(f, "collector", "agent_socket",
				  c->agent_socket),
		      "agent_socket", file, err, errlen) ||
	    copy_path(c->admin_socket,
		      dl_conf_str(f, "collector", "admin_socket",
				  c->admin_socket),
		      "admin_socket", file, err, errlen))
		goto out;
	v = dl_conf_str(f, "collector", "authorized_keys", NULL);
	if (v && copy_path(c->authorized_keys, v, "authorized_keys", file, err,
			   errlen))
		goto out;
	if (copy_path(c->host_key,
		      dl_conf_str(f, "collector", "host_key", c->host_key),
		      "host_key", file, err, errlen))
		goto out;
	v = dl_conf_str(f, "collector", "public_address", "");
	if (strlen(v) >= sizeof(c->public_address) || strpbrk(v, " \t'\"")) {
		snprintf(err, errlen,
			 "%s: public_address must be host or host:port", file);
		goto out;
	}
	memcpy(c->public_address, v, strlen(v) + 1);
	if (parse_users(c, dl_conf_str(f, "collector", "attach_users", ""),
			file, err, errlen))
		goto out;
	if (dl_log_parse_level(dl_conf_str(f, "collector", "log_level", "info"),
			       &lvl)) {
		snprintf(err, errlen,
			 "%s: log_level must be error, warn, info or debug",
			 file);
		goto out;
	}
	c->log_level = (int)lvl;
	if (dl_conf_duration(f, "collector", "ping_interval", 15, 1, 600, &ping,
			     err, errlen))
		goto out;
	c->ping_interval = (int)ping;
	/* At least an hour each: shorter would delete what a query of the
	 * tier's own span is about to read. */
	if (dl_conf_duration(f, "retention", "raw", c->retention_raw, 3600,
			     3650 * 86400, &c->retention_raw, err, errlen) ||
	    dl_conf_duration(f, "retention", "minute", c->retention_minute,
			     3600, 3650 * 86400, &c->retention_minute, err,
			     errlen) ||
	    dl_conf_duration(f, "retention", "hour", c->retention_hour, 3600,
			     3650 * 86400, &c->retention_hour, err, errlen) ||
	    dl_conf_duration(f, "retention", "audit", c->retention_audit, 86400,
			     3650 * 86400, &c->retention_audit, err, errlen))
		goto out;
	rc = 0;
out:
	dl_conf_free(f);
	return rc;
}
