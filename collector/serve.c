#include "collector/serve.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "collector/alerts.h"
#include "collector/metrics.h"
#include "collector/notify.h"
#include "collector/pubsub.h"
#include "collector/remote_write.h"
#include "collector/serve_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/sdnotify.h"

#define TAG "serve"

int dl_peer_cred(uv_stream_t *s, uid_t *uid, pid_t *pid)
{
	uv_os_fd_t fd;
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (uv_fileno((uv_handle_t *)s, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return DL_EIO;
	*uid = cred.uid;
	*pid = cred.pid;
	return 0;
}

/* A socket file can outlive a kill -9. Connecting tells a live listener
 * (refuse to start twice) from a stale file (remove it). */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return DL_EEXIST;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return DL_EIO;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen,
			 "another dockline-collector is already serving %s",
			 path);
		return DL_EEXIST;
	}
	DL_LOG_INFO(TAG, "removing stale socket %s", path);
	unlink(path);
	return 0;
}

static void mkdir_parent(const char *path)
{
	char dir[DL_PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
	}
	mkdir(dir, 0755);
}

int dl_serve_listen_unix(uv_pipe_t *pipe, const char *path, int mode, char *err,
			 size_t errlen)
{
	int rc;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		snprintf(err, errlen, "socket path %s is too long", path);
		return DL_EINVAL;
	}
	mkdir_parent(path);
	rc = clear_stale(path, err, errlen);
	if (rc)
		return rc;
	rc = uv_pipe_bind(pipe, path);
	if (rc == 0)
		rc = chmod(path, (mode_t)mode) == 0
			     ? 0
			     : uv_translate_sys_error(errno);
	if (rc) {
		snprintf(err, errlen, "cannot listen on %s: %s", path,
			 uv_strerror(rc));
		return DL_EIO;
	}
	return 0;
}

static void on_agent_conn(uv_stream_t *l, int status)
{
	dl_server_t *srv = l->data;

	if (status == 0)
		dl_session_accept(srv);
}

static void on_admin_conn(uv_stream_t *l, int status)
{
	dl_server_t *srv = l->data;

	if (status == 0)
		dl_admin_accept(srv);
}

static void on_ack(void *ud, uint64_t sid, uint64_t epoch, uint64_t seq)
{
	dl_session_ack(ud, sid, epoch, seq);
}

/* ---- alert rules: inputs from pubsub, sessions and a 1 s timer ---- */

static void alert_event(void *ud, const json_t *row)
{
	dl_alerts_event(ud, row);
}

static void alert_stats(void *ud, const char *host, const char *key,
			const json_t *rows)
{
	dl_alerts_stats(ud, host, key, rows);
}

static void alert_tick(uv_timer_t *t)
{
	dl_server_t *srv = t->data;

	dl_alerts_tick(srv->alerts);
}

/* Which alert a send was for (one per channel, freed by alert_sent). */
typedef struct {
	dl_server_t *srv;
	int64_t id;
} sent_t;

static void alert_sent(void *ud, const char *channel, bool delivered,
		       const char *detail)
{
	sent_t *s = ud;

	if (!delivered)
		DL_LOG_WARN("alerts", "alert not delivered to %s: %s", channel,
			    detail);
	if (s->srv->alerts && !s->srv->stopping)
		dl_alerts_notified(s->srv->alerts, s->id, channel, delivered,
				   detail);
	free(s);
}

/* Every message is logged, so an alert is never silent even without a
 * channel, then handed to each of its rule's channels (notify.c sends
 * on its worker; this never blocks). */
static void alert_sink(void *ud, const char *const *channels, size_t n,
		       const json_t *msg, int64_t id)
{
	dl_server_t *srv = ud;
	const char *status = json_string_value(json_object_get(msg, "status"));
	char *text = json_dumps(msg, JSON_COMPACT | JSON_SORT_KEYS);

	DL_LOG_INFO("alerts", "alert %s: %s (%zu channel(s))",
		    status ? status : "?", text ? text : "?", n);
	free(text);
	for (size_t i = 0; i < n; i++) {
		sent_t *s = malloc(sizeof(*s));
		int rc = DL_ENOMEM;

		if (s) {
			*s = (sent_t){srv, id};
			rc = dl_notify_send(srv->notify, channels[i], msg,
					    alert_sent, s);
		}
		if (rc) {
			free(s);
			dl_alerts_notified(srv->alerts, id, channels[i], false,
					   dl_strerror(rc));
		}
		if (rc)
			DL_LOG_WARN("alerts", "alert not queued to %s: %s",
				    channels[i], dl_strerror(rc));
	}
}

static bool has_channel(void *ud, const char *channel)
{
	return dl_notify_has(ud, channel);
}

/* Rules come from collector.conf; a bad rule refuses the start. */
static int alerts_start(dl_server_t *srv)
{
	dl_alert_rule_t *rules = NULL;
	const dl_cconf_t *conf = srv->conf;
	dl_listener_t l = {alert_event, alert_stats, NULL};
	char err[512];
	size_t n = 0;

	/* A rule naming a channel that is not configured refuses the
	 * start, with its file:line. */
	if (dl_alert_rules_load(conf->path[0] ? conf->path : NULL, has_channel,
				srv->notify, &rules, &n, err, sizeof(err))) {
		DL_LOG_ERROR(TAG, "%s", err);
		return DL_ECONFIG;
	}
	srv->alerts = dl_alerts_new(rules, n, srv->store);
	free(rules);
	if (!srv->alerts ||
	    dl_alerts_load(srv->alerts, conf->database, err, sizeof(err))) {
		DL_LOG_ERROR(TAG, "%s", srv->alerts ? err : "out of memory");
		return DL_EDB;
	}
	dl_alerts_set_sink(srv->alerts, alert_sink, srv);
	l.ud = srv->alerts;
	/* Without rules nothing needs the committed rows: no fan-out query
	 * after every commit (bench_rules: ingest x0.69 for nothing). */
	if (n && (!srv->pubsub || dl_pubsub_listen(srv->pubsub, &l))) {
		DL_LOG_ERROR(TAG, "alert rules cannot listen to commits");
		return DL_EFULL;
	}
	uv_timer_init(srv->loop, &srv->alert_timer);
	srv->alert_timer.data = srv;
	uv_timer_start(&srv->alert_timer, alert_tick, 1000, 1000);
	return 0;
}

/* One descriptor per agent session: the soft limit (often 1024) goes up
 * to the hard one, or the 1,000th agent's accept fails with EMFILE. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	DL_LOG_INFO(TAG, "open files: up to %llu (about as many agents)",
		    (unsigned long long)rl.rlim_cur);
}

/* The watchdog is fed from the loop itself, so a stuck loop (not only a
 * dead process) gets the collector restarted. */
static void on_watchdog(uv_timer_t *t)
{
	dl_sd_notify("WATCHDOG=1");
}

static void start_watchdog(dl_server_t *srv)
{
	uint64_t ms = dl_sd_watchdog_ms();

	uv_timer_init(srv->loop, &srv->watchdog);
	if (ms)
		uv_timer_start(&srv->watchdog, on_watchdog, ms / 2, ms / 2);
}

static void on_signal(uv_signal_t *h, int signum)
{
	dl_server_t *srv = h->data;

	if (srv->stopping)
		return;
	srv->stopping = true;
	dl_sd_notify("STOPPING=1");
	uv_close((uv_handle_t *)&srv->watchdog, NULL);
	DL_LOG_INFO(TAG, "signal %d: stopping", signum);
	dl_session_close_all(srv, "collector is stopping");
	dl_router_close(srv);
	/* In-flight sends get a few seconds; the loop ends after them. */
	dl_notify_stop(srv->notify);
	/* Before the store goes: subscribers hold no store, pubsub does. */
	dl_pubsub_stop(srv->pubsub);
	if (srv->alerts) {
		dl_alerts_set_store(srv->alerts, NULL);
		uv_close((uv_handle_t *)&srv->alert_timer, NULL);
	}
	uv_close((uv_handle_t *)&srv->agent_listener, NULL);
	uv_close((uv_handle_t *)&srv->admin_listener, NULL);
	uv_close((uv_handle_t *)&srv->sigterm, NULL);
	uv_close((uv_handle_t *)&srv->sigint, NULL);
	unlink(srv->conf->agent_socket);
	unlink(srv->conf->admin_socket);
	/* Commits what is queued, then the loop ends when handles close. */
	dl_store_close(srv->store);
	srv->store = NULL;
}

static int start_listener(dl_server_t *srv, uv_pipe_t *p, const char *path,
			  int mode, uv_connection_cb cb)
{
	char err[512];
	int rc;

	uv_pipe_init(srv->loop, p, 0);
	p->data = srv;
	rc = dl_serve_listen_unix(p, path, mode, err, sizeof(err));
	/* The whole fleet's attach processes dial the agent socket at once
	 * when serve comes back: let them queue (the kernel caps it at
	 * net.core.somaxconn) instead of 128 at a time. */
	if (rc == 0 && (rc = uv_listen((uv_stream_t *)p, SOMAXCONN, cb)) != 0)
		snprintf(err, sizeof(err), "cannot listen on %s: %s", path,
			 uv_strerror(rc));
	if (rc) {
		DL_LOG_ERROR(TAG, "%s", err);
		return DL_EIO;
	}
	DL_LOG_INFO(TAG, "listening on %s", path);
	return 0;
}

/* Every committed event, on the loop thread: hooks. */
static void on_event_row(void *ud, const json_t *row)
{
	dl_notify_event(ud, row);
}

static void start_notify(dl_server_t *srv)
{
	dl_listener_t l = {.event = on_event_row, .ud = srv->notify};

	if (dl_notify_start(srv->notify, srv->loop))
		DL_LOG_ERROR(TAG, "cannot start the notify worker: no "
				  "notifications or hooks");
	else if (dl_notify_has_hooks(srv->notify) &&
		 (!srv->pubsub || dl_pubsub_listen(srv->pubsub, &l)))
		DL_LOG_ERROR(TAG, "cannot listen to commits: hooks will not "
				  "run");
}

int dl_serve_run(const dl_cconf_t *conf)
{
	dl_server_t srv = {0};
	char err[512];
	uv_loop_t loop;

	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	/* The database holds the fleet's history: never world-readable, and
	 * only ever tighten what the service manager set (UMask=0077). */
	umask(umask(027) | 027);
	uv_loop_init(&loop);
	srv.loop = &loop;
	srv.conf = conf;
	srv.next_sid = 1;
	/* Channels and hooks first: a bad section refuses to start. */
	srv.notify = dl_notify_load(conf->path[0] ? conf->path : NULL, err,
				    sizeof(err));
	if (!srv.notify) {
		DL_LOG_ERROR(TAG, "%s", err);
		uv_loop_close(&loop);
		return 1;
	}
	/* [remote_write]: the token file is read here, so a bad one
	 * refuses to start too. */
	if (conf->rw.enabled && !(srv.rw = dl_rw_new(&conf->rw, conf->database,
						     err, sizeof(err)))) {
		DL_LOG_ERROR(TAG, "%s", err);
		dl_notify_free(srv.notify);
		uv_loop_close(&loop);
		return 1;
	}
	mkdir_parent(conf->database);
	srv.store = dl_store_open(&loop, conf->database, on_ack, &srv, err,
				  sizeof(err));
	if (!srv.store) {
		DL_LOG_ERROR(TAG, "%s", err);
		dl_notify_free(srv.notify);
		dl_rw_free(srv.rw);
		uv_loop_close(&loop);
		return 1;
	}
	/* After dl_store_open: migrations have made the table. */
	if (!(srv.tokens = dl_tokens_new()) ||
	    dl_tokens_load(srv.tokens, conf->database, err, sizeof(err))) {
		DL_LOG_ERROR(TAG, "%s", srv.tokens ? err : "out of memory");
		dl_tokens_free(srv.tokens);
		dl_store_close(srv.store);
		uv_run(&loop, UV_RUN_DEFAULT);
		uv_loop_close(&loop);
		dl_notify_free(srv.notify);
		dl_rw_free(srv.rw);
		return 1;
	}
	DL_LOG_INFO(TAG, "%zu API token(s) loaded",
		    dl_tokens_count(srv.tokens));
	srv.pubsub = dl_pubsub_new(&loop, srv.store, conf->database);
	srv.metrics = dl_metrics_new();
	if (!srv.pubsub || !srv.metrics)
		DL_LOG_ERROR(TAG, "out of memory: no live push or metrics");
	if (alerts_start(&srv)) {
		srv.stopping = true;
		dl_pubsub_stop(srv.pubsub);
		dl_store_close(srv.store);
		uv_run(&loop, UV_RUN_DEFAULT);
		dl_pubsub_free(srv.pubsub);
		dl_metrics_free(srv.metrics);
		dl_alerts_free(srv.alerts);
		uv_loop_close(&loop);
		dl_tokens_free(srv.tokens);
		dl_notify_free(srv.notify);
		dl_rw_free(srv.rw);
		return 1;
	}
	dl_store_set_retention(srv.store, conf->retention_raw,
			       conf->retention_minute, conf->retention_hour,
			       conf->retention_audit);
	/* The agent socket is reachable by attach processes of other uids
	 * (sshd runs them as the collector's ssh user); SO_PEERCRED decides.
	 * The admin socket's file mode decides who may administer. */
	if (start_listener(&srv, &srv.agent_listener, conf->agent_socket, 0666,
			   on_agent_conn) ||
	    start_listener(&srv, &srv.admin_listener, conf->admin_socket, 0660,
			   on_admin_conn)) {
		srv.stopping = true;
		uv_close((uv_handle_t *)&srv.agent_listener, NULL);
		uv_close((uv_handle_t *)&srv.admin_listener, NULL);
		uv_close((uv_handle_t *)&srv.alert_timer, NULL);
		dl_alerts_set_store(srv.alerts, NULL);
		dl_pubsub_stop(srv.pubsub);
		dl_store_close(srv.store);
		uv_run(&loop, UV_RUN_DEFAULT);
		dl_pubsub_free(srv.pubsub);
		dl_metrics_free(srv.metrics);
		dl_alerts_free(srv.alerts);
		uv_loop_close(&loop);
		dl_tokens_free(srv.tokens);
		dl_notify_free(srv.notify);
		dl_rw_free(srv.rw);
		return 1;
	}
	dl_router_init(&srv);
	start_notify(&srv);
	if (srv.rw && dl_rw_start(srv.rw) == 0)
		dl_store_on_samples(srv.store, dl_rw_tap, srv.rw);
	else if (srv.rw)
		DL_LOG_ERROR(TAG, "cannot start the remote-write worker: "
				  "samples are not sent");
	uv_signal_init(&loop, &srv.sigterm);
	uv_signal_init(&loop, &srv.sigint);
	srv.sigterm.data = srv.sigint.data = &srv;
	uv_signal_start(&srv.sigterm, on_signal, SIGTERM);
	uv_signal_start(&srv.sigint, on_signal, SIGINT);
	DL_LOG_INFO(TAG, "dockline-collector %s serving, database %s",
		    DL_VERSION, conf->database);
	start_watchdog(&srv);
	dl_sd_notify("READY=1\nSTATUS=serving");
	uv_run(&loop, UV_RUN_DEFAULT);
	dl_hidx_free(&srv.by_sid);
	dl_hidx_free(&srv.by_host);
	dl_pubsub_free(srv.pubsub);
	dl_metrics_free(srv.metrics);
	dl_alerts_free(srv.alerts);
	uv_loop_close(&loop);
	dl_tokens_free(srv.tokens);
	dl_notify_free(srv.notify);
	/* The store is closed: its last COMMITs are queued; they get a
	 * few seconds to reach the receiver. */
	dl_rw_free(srv.rw);
	DL_LOG_INFO(TAG, "stopped");
	return 0;
}
