/* check.c - `dockline-agent check`: walks config, key, pinned host key,
 * Docker access and the collector session in order, and says in plain
 * words what is wrong with the first thing that fails. */
#include <curl/curl.h>
#include <libssh2.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/conf.h"
#include "agent/enroll.h"
#include "agent/spool.h"
#include "agent/tunnel.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define CHECK_TIMEOUT_MS 30000

typedef struct {
	dl_tunnel_t *tunnel;
	dl_frame_reader_t rd;
	uv_timer_t timer;
	int result; /* 0 ok, 1 failed, -1 pending */
	char what[512];
} check_t;

static void report(const char *item, int ok, const char *detail)
{
	printf("%-12s %s  %s\n", item, ok ? "ok  " : "FAIL", detail);
}

static void stop(check_t *c, int result, const char *what)
{
	if (c->result != -1)
		return;
	c->result = result;
	snprintf(c->what, sizeof(c->what), "%s", what);
	uv_timer_stop(&c->timer);
	dl_tunnel_close(c->tunnel, NULL, NULL);
	uv_close((uv_handle_t *)&c->timer, NULL);
}

static void on_up(void *ud)
{
	check_t *c = ud;
	dl_msg_t m = {.type = DL_MSG_HELLO};
	dl_buf_t b;

	m.u.hello.proto_version = DL_PROTO_VERSION;
	m.u.hello.software = DL_STR("dockline-agent " DL_VERSION " (check)");
	m.u.hello.host = DL_STR("");
	dl_buf_init(&b, 4096);
	if (dl_msg_encode(&b, &m) == 0)
		dl_tunnel_write(c->tunnel, dl_buf_head(&b), dl_buf_used(&b));
	dl_buf_free(&b);
}

static void on_data(void *ud, const uint8_t *p, size_t n)
{
	check_t *c = ud;
	const uint8_t *payload;
	size_t len;
	char text[512], host[DL_MAX_NAME + 1], sw[DL_MAX_NAME + 1];
	dl_msg_t m;

	if (dl_frame_reader_feed(&c->rd, p, n) != 0 ||
	    dl_frame_reader_next(&c->rd, &payload, &len) < 0) {
		stop(c, 1, "the collector sent something that is not dockline");
		return;
	}
	if (!payload || dl_msg_decode(&m, payload, len, NULL, 0) != 0)
		return;
	if (m.type == DL_MSG_HELLO) {
		dl_str_copy(host, sizeof(host), m.u.hello.host);
		dl_str_copy(sw, sizeof(sw), m.u.hello.software);
		snprintf(text, sizeof(text),
			 "the collector (%s) accepts this host as \"%s\"", sw,
			 host);
		stop(c, 0, text);
	} else if (m.type == DL_MSG_ERROR) {
		dl_str_copy(sw, sizeof(sw), m.u.error.message);
		snprintf(text, sizeof(text), "the collector refused: %s", sw);
		stop(c, 1, text);
	}
	dl_msg_release(&m);
}

static void on_down(void *ud, int err, const char *reason, uint64_t delay)
{
	stop(ud, 1, reason);
}

static void on_timeout(uv_timer_t *t)
{
	stop(t->data, 1, "no answer from the collector within 30 s");
}

static int check_collector(const dl_aconf_t *conf)
{
	static const dl_tunnel_cbs_t cbs = {on_up, on_data, on_down, NULL};
	dl_tunnel_opts_t o = {
		.host = conf->host,
		.port = conf->port,
		.user = conf->user,
		.identity = conf->identity,
		.known_hosts = conf->known_hosts,
		.command = conf->command,
	};
	check_t c = {.result = -1};
	uv_loop_t loop;

	uv_loop_init(&loop);
	dl_frame_reader_init(&c.rd, DL_FRAME_MAX);
	c.tunnel = dl_tunnel_new(&loop, &o, &cbs, &c);
	uv_timer_init(&loop, &c.timer);
	c.timer.data = &c;
	uv_timer_start(&c.timer, on_timeout, CHECK_TIMEOUT_MS, 0);
	dl_tunnel_start(c.tunnel);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	dl_frame_reader_free(&c.rd);
	report("collector", c.result == 0, c.what);
	return c.result == 0 ? 0 : 1;
}

static size_t sink(char *p, size_t sz, size_t n, void *ud)
{
	return sz * n;
}

static int check_docker(const dl_aconf_t *conf)
{
	CURL *h = curl_easy_init();
	char errbuf[CURL_ERROR_SIZE] = "", text[1024];
	long status = 0;
	CURLcode rc;

	if (!h)
		return 1;
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, conf->docker_socket);
	curl_easy_setopt(h, CURLOPT_URL, "http://docker/_ping");
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	if (rc == CURLE_OK && status == 200) {
		snprintf(text, sizeof(text), "Docker answers at %s",
			 conf->docker_socket);
		report("docker", 1, text);
		return 0;
	}
	if (access(conf->docker_socket, F_OK) == 0 &&
	    access(conf->docker_socket, R_OK | W_OK) != 0)
		snprintf(text, sizeof(text),
			 "permission denied on %s: the agent's user must be in "
			 "the docker group",
			 conf->docker_socket);
	else
		snprintf(text, sizeof(text), "cannot reach Docker at %s: %s",
			 conf->docker_socket,
			 rc != CURLE_OK
				 ? (errbuf[0] ? errbuf : curl_easy_strerror(rc))
				 : "unexpected HTTP status");
	report("docker", 0, text);
	return 1;
}

static int check_files(const dl_aconf_t *conf)
{
	char text[1500], line[2048], want[300];
	FILE *f;
	int found = 0;

	if (access(conf->identity, R_OK) != 0) {
		snprintf(
			text, sizeof(text),
			"cannot read the key %s (run dockline-agent enroll, or "
			"check its owner)",
			conf->identity);
		report("key", 0, text);
		return 1;
	}
	report("key", 1, conf->identity);
	if (conf->port == 22)
		snprintf(want, sizeof(want), "%s ", conf->host);
	else
		snprintf(want, sizeof(want), "[%s]:%u ", conf->host,
			 conf->port);
	f = fopen(conf->known_hosts, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want)) || line[0] == '|')
			found = 1;
	if (f)
		fclose(f);
	if (!found) {
		snprintf(text, sizeof(text),
			 "no host key for %s pinned in %s (run dockline-agent "
			 "enroll)",
			 want, conf->known_hosts);
		report("host key", 0, text);
		return 1;
	}
	snprintf(text, sizeof(text), "pinned in %s", conf->known_hosts);
	report("host key", 1, text);
	return 0;
}

/* What waits in the spool, read-only (the agent may be running). */
static int check_spool(const dl_aconf_t *conf)
{
	char text[1500], why[1100], age[64] = "none";
	dl_spool_stat_t st;
	uint64_t now = dl_clock_wall_ns();
	int rc = dl_spool_inspect(conf->state_dir, &st, why, sizeof(why));

	if (rc == DL_ENOENT) {
		snprintf(text, sizeof(text),
			 "no spool in %s yet (the agent has not run)",
			 conf->state_dir);
		report("spool", 1, text);
		return 0;
	}
	if (rc != 0) {
		snprintf(text, sizeof(text),
			 "%s (the agent moves an unreadable spool aside and "
			 "starts a new epoch)",
			 why);
		report("spool", 0, text);
		return 1;
	}
	if (st.oldest_seq && st.oldest_time_ns && now > st.oldest_time_ns)
		snprintf(age, sizeof(age), "%.0f s old (seq %llu)",
			 (double)(now - st.oldest_time_ns) / 1e9,
			 (unsigned long long)st.oldest_seq);
	else if (st.oldest_seq)
		snprintf(age, sizeof(age), "seq %llu",
			 (unsigned long long)st.oldest_seq);
	snprintf(text, sizeof(text),
		 "%llu bytes in %llu segments (cap %zu); oldest unsent frame: "
		 "%s; dropped for the cap: %llu frames (%llu bytes); epoch "
		 "%llu",
		 (unsigned long long)st.bytes, (unsigned long long)st.segments,
		 conf->spool_max, age, (unsigned long long)st.dropped_frames,
		 (unsigned long long)st.dropped_bytes,
		 (unsigned long long)st.epoch);
	report("spool", 1, text);
	return 0;
}

int dl_check_main(int argc, char **argv)
{
	const char *path = DL_AGENT_CONF_DEFAULT;
	char err[1024];
	dl_aconf_t conf;
	int bad = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			path = argv[++i];
		} else {
			fprintf(stderr,
				"usage: dockline-agent check [-c FILE]\n");
			return 2;
		}
	}
	if (dl_aconf_load(&conf, path, err, sizeof(err)) != 0) {
		report("config", 0, err);
		return 1;
	}
	report("config", 1, conf.path);
	/* Failures are reported once, as sentences, below; module logs only
	 * when the config asks for debug. */
	dl_log_level =
		conf.log_level == DL_LOG_LEVEL_DEBUG ? DL_LOG_LEVEL_DEBUG : -1;
	curl_global_init(CURL_GLOBAL_NOTHING);
	libssh2_init(0);
	bad |= check_files(&conf);
	bad |= check_spool(&conf);
	bad |= check_docker(&conf);
	if (!bad)
		bad |= check_collector(&conf);
	libssh2_exit();
	curl_global_cleanup();
	printf("%s\n", bad ? "dockline-agent check: something needs fixing "
			     "(see FAIL above)"
			   : "dockline-agent check: all good");
	return bad ? 1 : 0;
}
