#include "collector/conf.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/err.h"
#include "common/log.h"

static const char *const known[] = {
	"collector.database",
	"collector.agent_socket",
	"collector.admin_socket",
	"collector.attach_users",
	"collector.log_level",
	"collector.ping_interval",
	"collector.attach_wait",
	"collector.authorized_keys",
	"collector.host_key",
	"collector.public_address",
	"collector.include",
	"retention.raw",
	"retention.minute",
	"retention.hour",
	"retention.audit",
	"http.listen",
	"http.tls",
	"http.tls_cert",
	"http.tls_key",
	"http.user",
	"http.metrics_auth",
	"http.max_connections",
	"http.header_max",
	"http.body_max",
	"http.idle_timeout",
	"http.header_timeout",
	"http.client_buffer",
	"remote_write.url",
	"remote_write.bearer_token_file",
	"remote_write.ca_file",
	"remote_write.header1",
	"remote_write.header2",
	"remote_write.header3",
	"remote_write.header4",
	"remote_write.timeout",
	"remote_write.batch",
	"remote_write.queue",
	"remote_write.connections",
	/* checked by collector/notify.c */
	"notify *",
	"hook *",
	/* [alert NAME]: read by alert_rules.c */
	DL_ALERT_CONF_KEYS,
	NULL,
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

/* "HOST:PORT" or "[V6]:PORT" into h. */
static int parse_listen(dl_http_conf_t *h, const char *v, const char *file,
			char *err, size_t errlen)
{
	const char *colon = strrchr(v, ':');
	const char *host = v;
	size_t hlen;
	int64_t port;

	if (!colon || dl_parse_int(colon + 1, 1, 65535, &port))
		goto bad;
	hlen = (size_t)(colon - v);
	if (v[0] == '[') {
		if (hlen < 3 || v[hlen - 1] != ']')
			goto bad;
		host = v + 1;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(h->listen_host) ||
	    memchr(host, ' ', hlen))
		goto bad;
	memcpy(h->listen_host, host, hlen);
	h->listen_host[hlen] = '\0';
	h->listen_port = (int)port;
	h->loopback = !strncmp(h->listen_host, "127.", 4) ||
		      !strcmp(h->listen_host, "::1") ||
		      !strcmp(h->listen_host, "localhost");
	return 0;
bad:
	snprintf(err, errlen,
		 "%s: [http] listen must be HOST:PORT or [V6]:PORT, not "
		 "\"%.64s\"",
		 file, v);
	return DL_ECONFIG;
}

static void http_defaults(dl_http_conf_t *h)
{
	parse_listen(h, DL_HTTP_LISTEN_DEFAULT, "", NULL, 0);
	h->tls = DL_HTTP_TLS_AUTO;
	snprintf(h->user, sizeof(h->user), "%s", DL_HTTP_USER_DEFAULT);
	h->metrics_auth = true;
	h->max_connections = 1024;
	h->header_max = 8192;
	h->body_max = 64 * 1024;
	h->idle_timeout = 60;
	h->header_timeout = 10;
	h->client_buffer = 1024 * 1024;
}

static int parse_word(const char *v, const char *const *words, int *out)
{
	for (int i = 0; words[i]; i++) {
		if (!strcmp(v, words[i])) {
			*out = i;
			return 0;
		}
	}
	return DL_EINVAL;
}

static int parse_http(dl_http_conf_t *h, dl_conf_t *f, const char *file,
		      char *err, size_t errlen)
{
	static const char *const tls_words[] = {"auto", "on", "off", NULL};
	static const char *const auth_words[] = {"none", "token", NULL};
	const char *v;
	int64_t n;
	int w;

	if (parse_listen(
		    h, dl_conf_str(f, "http", "listen", DL_HTTP_LISTEN_DEFAULT),
		    file, err, errlen))
		return DL_ECONFIG;
	if (parse_word(dl_conf_str(f, "http", "tls", "auto"), tls_words,
		       &h->tls)) {
		snprintf(err, errlen, "%s: [http] tls must be auto, on or off",
			 file);
		return DL_ECONFIG;
	}
	v = dl_conf_str(f, "http", "tls_cert", NULL);
	if (v && copy_path(h->tls_cert, v, "tls_cert", file, err, errlen))
		return DL_ECONFIG;
	v = dl_conf_str(f, "http", "tls_key", NULL);
	if (v && copy_path(h->tls_key, v, "tls_key", file, err, errlen))
		return DL_ECONFIG;
	if (!h->tls_cert[0] != !h->tls_key[0]) {
		snprintf(err, errlen,
			 "%s: [http] tls_cert and tls_key go together", file);
		return DL_ECONFIG;
	}
	if (h->tls == DL_HTTP_TLS_ON && !h->tls_cert[0]) {
		snprintf(err, errlen,
			 "%s: [http] tls = on needs tls_cert and tls_key",
			 file);
		return DL_ECONFIG;
	}
	/* The gateway refuses plain HTTP off loopback unless asked. */
	h->tls_off_explicit = h->tls == DL_HTTP_TLS_OFF;
	if (h->tls == DL_HTTP_TLS_AUTO)
		h->tls = h->tls_cert[0] ? DL_HTTP_TLS_ON : DL_HTTP_TLS_OFF;
	else if (h->tls == DL_HTTP_TLS_OFF)
		h->tls_cert[0] = h->tls_key[0] = '\0';
	v = dl_conf_str(f, "http", "user", DL_HTTP_USER_DEFAULT);
	if (!v[0] || strlen(v) >= sizeof(h->user)) {
		snprintf(err, errlen, "%s: [http] user is not a user name",
			 file);
		return DL_ECONFIG;
	}
	snprintf(h->user, sizeof(h->user), "%s", v);
	if (!strcmp(v, "root")) {
		snprintf(err, errlen,
			 "%s: [http] user must not be root: the gateway "
			 "parses network input and runs unprivileged",
			 file);
		return DL_ECONFIG;
	}
	if (parse_word(dl_conf_str(f, "http", "metrics_auth", "token"),
		       auth_words, &w)) {
		snprintf(err, errlen,
			 "%s: [http] metrics_auth must be token or none", file);
		return DL_ECONFIG;
	}
	h->metrics_auth = w == 1;
	if (dl_conf_int(f, "http", "max_connections", h->max_connections, 1,
			100000, &n, err, errlen))
		return DL_ECONFIG;
	h->max_connections = (int)n;
	if (dl_conf_int(f, "http", "header_max", h->header_max, 1024, 65536,
			&h->header_max, err, errlen) ||
	    dl_conf_int(f, "http", "body_max", h->body_max, 1024, 1024 * 1024,
			&h->body_max, err, errlen) ||
	    dl_conf_int(f, "http", "client_buffer", h->client_buffer, 64 * 1024,
			64 * 1024 * 1024, &h->client_buffer, err, errlen))
		return DL_ECONFIG;
	if (dl_conf_duration(f, "http", "idle_timeout", h->idle_timeout, 1,
			     86400, &n, err, errlen))
		return DL_ECONFIG;
	h->idle_timeout = (int)n;
	if (dl_conf_duration(f, "http", "header_timeout", h->header_timeout, 1,
			     600, &n, err, errlen))
		return DL_ECONFIG;
	h->header_timeout = (int)n;
	return 0;
}

static int rw_bad(dl_conf_t *f, const char *file, const char *key, char *err,
		  size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s:%d: [remote_write] %s %s", file,
		 dl_conf_line(f, "remote_write", key), key, what);
	return DL_ECONFIG;
}

/* Headers dockline sets itself (or that carry a secret in the file). */
static bool rw_reserved(const char *name, size_t n)
{
	static const char *const r[] = {"authorization",
					"content-type",
					"content-encoding",
					"content-length",
					"host",
					"x-prometheus-remote-write-version",
					"user-agent",
					NULL};

	for (int i = 0; r[i]; i++)
		if (strlen(r[i]) == n && !strncasecmp(name, r[i], n))
			return true;
	return false;
}

static int rw_header(dl_rw_conf_t *rw, dl_conf_t *f, const char *file,
		     const char *key, const char *v, char *err, size_t errlen)
{
	const char *colon = strchr(v, ':');
	size_t n = colon ? (size_t)(colon - v) : 0;

	if (!n || strlen(v) >= DL_RW_HEADER_MAX ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789-_") != n)
		return rw_bad(f, file, key, err, errlen,
			      "must be \"Name: value\" (at most 255 bytes)");
	for (const char *p = colon + 1; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return rw_bad(f, file, key, err, errlen,
				      "has a control character");
	if (rw_reserved(v, n))
		return rw_bad(f, file, key, err, errlen,
			      "names a header dockline sets itself (a token "
			      "goes in bearer_token_file)");
	snprintf(rw->headers[rw->nheaders++], DL_RW_HEADER_MAX, "%s", v);
	return 0;
}

static int rw_url(dl_rw_conf_t *rw, dl_conf_t *f, const char *file,
		  const char *v, char *err, size_t errlen)
{
	const char *rest = !strncmp(v, "http://", 7)	? v + 7
			   : !strncmp(v, "https://", 8) ? v + 8
							: NULL;
	size_t auth;

	if (!rest || !rest[0] || strlen(v) >= DL_RW_URL_MAX)
		return rw_bad(f, file, "url", err, errlen,
			      "must be http://HOST[:PORT]/PATH or https://...");
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f)
			return rw_bad(f, file, "url", err, errlen,
				      "must not hold spaces or control "
				      "characters");
	/* user:password@ would end up in log lines: the url is logged. */
	auth = strcspn(rest, "/?#");
	if (memchr(rest, '@', auth))
		return rw_bad(f, file, "url", err, errlen,
			      "must not hold credentials (user@): they would "
			      "be logged; use bearer_token_file");
	snprintf(rw->url, sizeof(rw->url), "%s", v);
	return 0;
}

static int parse_rw(dl_rw_conf_t *rw, dl_conf_t *f, const char *file, char *err,
		    size_t errlen)
{
	const char *v;
	int64_t n;

	rw->timeout_s = DL_RW_TIMEOUT_DEF;
	rw->batch = DL_RW_BATCH_DEF;
	rw->queue = DL_RW_QUEUE_DEF;
	rw->connections = DL_RW_CONN_DEF;
	if (!dl_conf_line(f, "remote_write", NULL))
		return 0;
	if (!(v = dl_conf_str(f, "remote_write", "url", NULL))) {
		snprintf(err, errlen, "%s:%d: [remote_write] needs url", file,
			 dl_conf_line(f, "remote_write", NULL));
		return DL_ECONFIG;
	}
	if (rw_url(rw, f, file, v, err, errlen))
		return DL_ECONFIG;
	v = dl_conf_str(f, "remote_write", "bearer_token_file", NULL);
	if (v && (v[0] != '/' || strlen(v) >= DL_PATH_MAX))
		return rw_bad(f, file, "bearer_token_file", err, errlen,
			      "must be an absolute path");
	if (v)
		snprintf(rw->bearer_token_file, DL_PATH_MAX, "%s", v);
	v = dl_conf_str(f, "remote_write", "ca_file", NULL);
	if (v && (v[0] != '/' || strlen(v) >= DL_PATH_MAX))
		return rw_bad(f, file, "ca_file", err, errlen,
			      "must be an absolute path");
	if (v)
		snprintf(rw->ca_file, DL_PATH_MAX, "%s", v);
	for (int i = 1; i <= DL_RW_HEADERS; i++) {
		char key[16];

		snprintf(key, sizeof(key), "header%d", i);
		if ((v = dl_conf_str(f, "remote_write", key, NULL)) &&
		    rw_header(rw, f, file, key, v, err, errlen))
			return DL_ECONFIG;
	}
	if (dl_conf_duration(f, "remote_write", "timeout", DL_RW_TIMEOUT_DEF, 1,
			     300, &n, err, errlen) ||
	    dl_conf_int(f, "remote_write", "batch", DL_RW_BATCH_DEF, 100,
			DL_RW_BATCH_MAX, &rw->batch, err, errlen) ||
	    dl_conf_int(f, "remote_write", "queue", DL_RW_QUEUE_DEF, 1000,
			DL_RW_QUEUE_MAX, &rw->queue, err, errlen))
		return DL_ECONFIG;
	rw->timeout_s = (int)n;
	if (dl_conf_int(f, "remote_write", "connections", DL_RW_CONN_DEF, 1,
			DL_RW_CONN_MAX, &n, err, errlen))
		return DL_ECONFIG;
	rw->connections = (int)n;
	if (rw->queue < rw->batch * rw->connections)
		return rw_bad(f, file, "queue", err, errlen,
			      "must be at least batch x connections");
	rw->enabled = true;
	return 0;
}

/* The gateway's uid, when its user exists here: requests from it must
 * carry a token. Looked up after the file, so a default user that is
 * not installed (a collector without the gateway) costs nothing. */
static void http_uid(dl_http_conf_t *h)
{
	struct passwd *pw = getpwnam(h->user);

	h->have_uid = pw != NULL;
	h->uid = pw ? pw->pw_uid : 0;
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
	c->attach_wait = DL_ATTACH_WAIT_DEFAULT;
	c->retention_raw = 48 * 3600;
	c->retention_minute = 30 * 86400;
	c->retention_hour = 365 * 86400;
	c->retention_audit = 400 * 86400;
	http_defaults(&c->http);
	if (!path) {
		http_uid(&c->http);
		return 0;
	}
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
	/* alert_rules.c reads the files; here only the pattern's shape */
	v = dl_conf_str(f, "collector", "include", NULL);
	if (v && copy_path(c->include, v, "include", file, err, errlen))
		goto out;
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
	/* 0 turns resuming off: attach exits with serve, as before. */
	if (dl_conf_duration(f, "collector", "attach_wait",
			     DL_ATTACH_WAIT_DEFAULT, 0, 3600, &ping, err,
			     errlen))
		goto out;
	c->attach_wait = (int)ping;
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
	if (parse_http(&c->http, f, file, err, errlen) ||
	    parse_rw(&c->rw, f, file, err, errlen))
		goto out;
	http_uid(&c->http);
	rc = 0;
out:
	dl_conf_free(f);
	return rc;
}
