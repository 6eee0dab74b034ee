/* gateway.c - `dockline-collector http` (gateway.h): the lws context on
 * a libuv loop, its limits, TLS, and dropping root after binding. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libwebsockets.h>
#include <uv.h>

#include "collector/http/conn.h"
#include "collector/http/gateway.h"
#include "common/log.h"

#define TAG "http"

static struct lws_context *ctx;

static void on_signal(uv_signal_t *s, int signum)
{
	DL_LOG_INFO(TAG, "signal %d: stopping", signum);
	uv_stop(s->loop);
}

/* lws logs through ours: errors and warnings only. */
static void lws_logger(int level, const char *line)
{
	size_t n = strlen(line);

	while (n && line[n - 1] == '\n')
		n--;
	if (level & LLL_ERR)
		DL_LOG_WARN("lws", "%.*s", (int)n, line);
}

/* The config allows this listen address? Plain HTTP off loopback only
 * when `tls = off` says so: a token over plain HTTP is a token given
 * away. */
static int check_conf(const dl_http_conf_t *h)
{
	if (h->tls == DL_HTTP_TLS_OFF && !h->loopback && !h->tls_off_explicit) {
		DL_LOG_ERROR(TAG,
			     "[http] listen = %s is not loopback and there is "
			     "no tls_cert: set tls_cert/tls_key, or write "
			     "tls = off to serve plain HTTP there on purpose",
			     h->listen_host);
		return -1;
	}
	return 0;
}

/* Who we become. As root: the [http] user, which must exist. As anyone
 * else: we must already be it. serve asks for a token only from the
 * [http] user's uid, so a gateway running as another user (say a member
 * of the admin group) would pass every request on with that user's own
 * rights: refused, so the separation holds by construction. */
static int find_user(const dl_http_conf_t *h, struct passwd *pw, char *buf,
		     size_t buflen)
{
	struct passwd *res = NULL;
	uid_t me = geteuid();

	if (getpwnam_r(h->user, pw, buf, buflen, &res) != 0 || !res) {
		DL_LOG_ERROR(TAG,
			     "refusing to run%s: the [http] user %s does "
			     "not exist (create it, e.g. useradd --system %s, "
			     "or name another in [http] user)",
			     me == 0 ? " as root" : "", h->user, h->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		DL_LOG_ERROR(TAG,
			     "refusing to run as root: [http] user %s is "
			     "root",
			     h->user);
		return -1;
	}
	if (me == 0)
		return 1;
	if (me != pw->pw_uid || getuid() != pw->pw_uid) {
		DL_LOG_ERROR(TAG,
			     "refusing to run as uid %u: the gateway runs as "
			     "the [http] user %s (uid %u), or starts as root "
			     "and becomes it; serve asks only that user for "
			     "tokens",
			     (unsigned)me, h->user, (unsigned)pw->pw_uid);
		return -1;
	}
	return 0;
}

/* After the listening socket is bound (and the TLS key read). */
static int drop_root(const struct passwd *pw)
{
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		DL_LOG_ERROR(TAG, "cannot become %s: %s", pw->pw_name,
			     strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		DL_LOG_ERROR(TAG, "could regain root after dropping it");
		return -1;
	}
	DL_LOG_INFO(TAG, "running as %s (uid %u)", pw->pw_name,
		    (unsigned)pw->pw_uid);
	return 0;
}

/* 1,000 idle connections need more than the usual 1024 descriptors. */
static void raise_nofile(int want)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < (rlim_t)want) {
		r.rlim_cur =
			r.rlim_max < (rlim_t)want ? r.rlim_max : (rlim_t)want;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

static struct lws_context *make_context(const dl_cconf_t *conf, dl_gw_t *gw,
					uv_loop_t *loop)
{
	static struct lws_protocols protocols[2];
	static void *loops[1];
	const dl_http_conf_t *h = &conf->http;
	struct lws_context_creation_info info;

	memset(protocols, 0, sizeof(protocols));
	protocols[0].name = "dockline";
	protocols[0].callback = dl_conn_callback;
	protocols[0].per_session_data_size = dl_conn_size();
	protocols[0].rx_buffer_size = 4096;
	loops[0] = loop;

	memset(&info, 0, sizeof(info));
	/* Not LWS_SERVER_OPTION_HTTP_HEADERS_SECURITY_BEST_PRACTICES_ENFORCE:
	 * its CSP (default-src 'none', ws: wss:) would be a second policy
	 * next to the page's; conn.c sends web.h's headers on every answer
	 * instead. */
	info.options = LWS_SERVER_OPTION_LIBUV;
	info.foreign_loops = loops;
	info.port = h->listen_port;
	info.iface = h->listen_host;
	info.protocols = protocols;
	info.user = gw;
	info.uid = -1; /* we drop root ourselves, with a sentence */
	info.gid = -1;
	info.max_http_header_data =
		(unsigned short)(h->header_max > 65535 ? 65535 : h->header_max);
	/* a header table per connection that is still sending its head:
	 * header_max x max_connections is the most that costs */
	info.max_http_header_pool =
		(unsigned short)(h->max_connections > 65535
					 ? 65535
					 : h->max_connections);
	info.fd_limit_per_thread = (unsigned)h->max_connections + 64;
	info.timeout_secs = (unsigned)h->idle_timeout;
	info.timeout_secs_ah_idle = (unsigned)h->header_timeout;
	info.keepalive_timeout = h->idle_timeout;
	info.alpn = "http/1.1"; /* chunked streams are HTTP/1.1 framing */
	info.server_string = "dockline";
	if (h->tls == DL_HTTP_TLS_ON) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = h->tls_cert;
		info.ssl_private_key_filepath = h->tls_key;
	}
	return lws_create_context(&info);
}

int dl_http_run(const dl_cconf_t *conf)
{
	const dl_http_conf_t *h = &conf->http;
	uv_loop_t loop;
	uv_signal_t sterm, sint;
	dl_gw_t gw = {.conf = conf, .loop = &loop};
	struct passwd pw;
	char pwbuf[4096];
	int drop, rc = 1;

	if (check_conf(h) ||
	    (drop = find_user(h, &pw, pwbuf, sizeof(pwbuf))) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(2 * h->max_connections + 128);
	lws_set_log_level(LLL_ERR, lws_logger);
	if (uv_loop_init(&loop))
		return 1;
	ctx = make_context(conf, &gw, &loop);
	if (!ctx) {
		DL_LOG_ERROR(TAG, "cannot listen on %s:%d%s", h->listen_host,
			     h->listen_port,
			     h->tls == DL_HTTP_TLS_ON ? " (or load the TLS "
							"certificate/key)"
						      : "");
		goto out;
	}
	if (drop && drop_root(&pw))
		goto out;
	if (geteuid() == 0) {
		DL_LOG_ERROR(TAG, "refusing to serve HTTP as root");
		goto out;
	}
	uv_signal_init(&loop, &sterm);
	uv_signal_init(&loop, &sint);
	uv_signal_start(&sterm, on_signal, SIGTERM);
	uv_signal_start(&sint, on_signal, SIGINT);
	DL_LOG_INFO(TAG, "listening on %s://%s:%d, admin socket %s",
		    h->tls == DL_HTTP_TLS_ON ? "https" : "http", h->listen_host,
		    h->listen_port, conf->admin_socket);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&sterm, NULL);
	uv_close((uv_handle_t *)&sint, NULL);
	rc = 0;
out:
	if (ctx)
		lws_context_destroy(ctx);
	ctx = NULL;
	/* let lws and our handles finish closing on the loop */
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	return rc;
}
