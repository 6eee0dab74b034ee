#include "agent/conf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/spool.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/control.h"

static const char *const known[] = {
	"collector.address",
	"collector.user",
	"collector.identity",
	"collector.known_hosts",
	"collector.command",
	"docker.socket",
	"docker.label",
	"agent.state_dir",
	"agent.stats_interval",
	"agent.ping_interval",
	"agent.outbox_max",
	"agent.log_level",
	"agent.stats_source",
	"agent.spool_max",
	"agent.spool_sync",
	"control.allow",
	NULL,
};

int dl_aconf_parse_address(const char *s, char *host, size_t hostlen,
			   uint16_t *port)
{
	const char *colon, *hend;
	int64_t p = 22;

	if (!s || !*s)
		return DL_EINVAL;
	if (s[0] == '[') {
		hend = strchr(s, ']');
		if (!hend)
			return DL_EINVAL;
		colon = hend[1] == ':' ? hend + 1 : NULL;
		if (!colon && hend[1])
			return DL_EINVAL;
		s++;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			return DL_EINVAL; /* bare IPv6 needs [] */
		hend = colon ? colon : s + strlen(s);
	}
	if (hend == s || (size_t)(hend - s) >= hostlen)
		return DL_EINVAL;
	if (colon && dl_parse_int(colon + 1, 1, 65535, &p) != 0)
		return DL_EINVAL;
	memcpy(host, s, (size_t)(hend - s));
	host[hend - s] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int copy(char *dst, size_t dstlen, const char *src, const char *key,
		int need_abs, const char *file, char *err, size_t errlen)
{
	if (strlen(src) >= dstlen || (need_abs && src[0] != '/')) {
		snprintf(err, errlen, "%s: %s must be %s", file, key,
			 need_abs ? "an absolute path" : "shorter");
		return DL_ECONFIG;
	}
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/* spool_sync = always | off | a duration (default 1s): how often the
 * spool is fdatasynced. */
static int parse_sync(const dl_conf_t *f, dl_aconf_t *c, char *err,
		      size_t errlen)
{
	const char *v = dl_conf_str(f, "agent", "spool_sync", "1s");
	int64_t n;

	c->spool_sync_s = 0;
	if (strcmp(v, "always") == 0) {
		c->spool_sync = DL_SPOOL_SYNC_ALWAYS;
		return 0;
	}
	if (strcmp(v, "off") == 0) {
		c->spool_sync = DL_SPOOL_SYNC_OFF;
		return 0;
	}
	if (dl_conf_duration(f, "agent", "spool_sync", 1, 1, 3600, &n, err,
			     errlen)) {
		size_t k = strlen(err);

		snprintf(err + k, errlen - k, " (or always, off)");
		return DL_ECONFIG;
	}
	c->spool_sync = DL_SPOOL_SYNC_INTERVAL;
	c->spool_sync_s = (int)n;
	return 0;
}

/* [docker] label = KEY or KEY=VALUE: only containers carrying it are
 * watched (Docker's label filter). Bounded and limited to [\w.:/=-] so
 * it goes into a URL as it is. */
static int parse_label(const dl_conf_t *f, dl_aconf_t *c, const char *file,
		       char *err, size_t errlen)
{
	const char *v = dl_conf_str(f, "docker", "label", "");

	c->docker_label[0] = '\0';
	if (!v[0])
		return 0;
	if (strlen(v) >= sizeof(c->docker_label) ||
	    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789_.:/=-") != strlen(v) ||
	    v[0] == '=') {
		snprintf(err, errlen,
			 "%s: [docker] label must be KEY or KEY=VALUE of at "
			 "most %zu characters from [A-Za-z0-9_.:/=-]",
			 file, sizeof(c->docker_label) - 1);
		return DL_ECONFIG;
	}
	memcpy(c->docker_label, v, strlen(v) + 1);
	return 0;
}

int dl_aconf_load(dl_aconf_t *c, const char *path, char *err, size_t errlen)
{
	dl_conf_t *f;
	const char *v, *file;
	char def[DL_APATH_MAX + 32];
	dl_log_level_t lvl;
	int64_t n;
	int rc = DL_ECONFIG;
	char why[256];

	memset(c, 0, sizeof(*c));
	if (dl_conf_abspath(path, c->path, sizeof(c->path), err, errlen))
		return DL_ECONFIG;
	f = dl_conf_load(c->path, err, errlen);
	if (!f)
		return DL_ECONFIG;
	file = c->path;
	if (dl_conf_check_known(f, known, err, errlen))
		goto out;
	v = dl_conf_str(f, "collector", "address", NULL);
	if (!v) {
		snprintf(err, errlen,
			 "%s: [collector] address is required (host:port)",
			 file);
		goto out;
	}
	if (dl_aconf_parse_address(v, c->host, sizeof(c->host), &c->port)) {
		snprintf(err, errlen,
			 "%s: collector address \"%s\" is not host, host:port "
			 "or [v6]:port",
			 file, v);
		goto out;
	}
	if (copy(c->state_dir, sizeof(c->state_dir),
		 dl_conf_str(f, "agent", "state_dir",
			     "/var/lib/dockline-agent"),
		 "state_dir", 1, file, err, errlen))
		goto out;
	snprintf(def, sizeof(def), "%s/id_ed25519", c->state_dir);
	if (copy(c->identity, sizeof(c->identity),
		 dl_conf_str(f, "collector", "identity", def), "identity", 1,
		 file, err, errlen))
		goto out;
	snprintf(def, sizeof(def), "%s/known_hosts", c->state_dir);
	if (copy(c->known_hosts, sizeof(c->known_hosts),
		 dl_conf_str(f, "collector", "known_hosts", def), "known_hosts",
		 1, file, err, errlen) ||
	    copy(c->user, sizeof(c->user),
		 dl_conf_str(f, "collector", "user", "dockline"), "user", 0,
		 file, err, errlen) ||
	    copy(c->command, sizeof(c->command),
		 dl_conf_str(f, "collector", "command",
			     "dockline-collector attach"),
		 "command", 0, file, err, errlen) ||
	    copy(c->docker_socket, sizeof(c->docker_socket),
		 dl_conf_str(f, "docker", "socket", "/var/run/docker.sock"),
		 "socket", 1, file, err, errlen))
		goto out;
	if (dl_conf_duration(f, "agent", "stats_interval", 10, 1, 3600, &n, err,
			     errlen))
		goto out;
	c->stats_interval = (int)n;
	v = dl_conf_str(f, "agent", "stats_source", "auto");
	if (strcmp(v, "auto") == 0) {
		c->stats_source = DL_STATS_SRC_AUTO;
	} else if (strcmp(v, "cgroup") == 0) {
		c->stats_source = DL_STATS_SRC_CGROUP;
	} else if (strcmp(v, "api") == 0) {
		c->stats_source = DL_STATS_SRC_API;
	} else {
		snprintf(err, errlen,
			 "%s: stats_source must be auto, cgroup or api", file);
		goto out;
	}
	if (dl_conf_duration(f, "agent", "ping_interval", 15, 1, 600, &n, err,
			     errlen))
		goto out;
	c->ping_interval = (int)n;
	if (dl_conf_int(f, "agent", "outbox_max", 16 * 1024 * 1024, 1024 * 1024,
			1024LL * 1024 * 1024, &n, err, errlen))
		goto out;
	c->outbox_max = (size_t)n;
	if (dl_conf_int(f, "agent", "spool_max", DL_SPOOL_DEFAULT_MAX,
			8 * 1024 * 1024, 64LL * 1024 * 1024 * 1024, &n, err,
			errlen))
		goto out;
	c->spool_max = (size_t)n;
	if (parse_sync(f, c, err, errlen))
		goto out;
	if (dl_log_parse_level(dl_conf_str(f, "agent", "log_level", "info"),
			       &lvl)) {
		snprintf(err, errlen,
			 "%s: log_level must be error, warn, info or debug",
			 file);
		goto out;
	}
	c->log_level = (int)lvl;
	if (parse_label(f, c, file, err, errlen))
		goto out;
	if (dl_control_policy_parse(
		    dl_conf_str(f, "control", "allow", "read, lifecycle"),
		    &c->control_allow, why, sizeof(why))) {
		snprintf(err, errlen, "%s: [control] allow: %s", file, why);
		goto out;
	}
	rc = 0;
out:
	dl_conf_free(f);
	return rc;
}
