/* live.c - `dockline events -f` over a subscription, and `dockline
 * metrics`.
 *
 * events -f: subscribe first, then query the backlog, then print pushed
 * events whose seq (row id) is above the last one the backlog printed:
 * whatever commits between the two is in the backlog or pushed (or
 * both, and then printed once), so there is no gap and no duplicate. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "common/err.h"
#include "common/fdio.h"
#include "proto/admin.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

/* Sends req (consumed) on a new connection and checks the first answer.
 * fd, or -1 after a sentence on stderr. */
static int open_request(const dl_cli_t *cli, json_t *req)
{
	json_t *resp = NULL;
	int fd = dl_cli_connect(cli);
	int rc;

	if (fd < 0) {
		json_decref(req);
		return -1;
	}
	rc = dl_admin_send(fd, req, DL_ADMIN_REQ_MAX);
	json_decref(req);
	if (rc == 0)
		rc = dl_admin_recv(fd, DL_ADMIN_RESP_MAX, 60000, &resp);
	if (rc) {
		fprintf(stderr, "dockline: no answer from the collector: %s\n",
			dl_strerror(rc));
		goto fail;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "dockline: %s\n", dl_cli_str(resp, "error"));
		goto fail;
	}
	json_decref(resp);
	return fd;
fail:
	json_decref(resp);
	dl_cli_close(fd);
	return -1;
}

/* Waits for the next pushed frame, 0 = stop asked. 1 with *out, or -1
 * after a sentence (the collector went away). */
static int next_push(int fd, json_t **out)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	int rc;

	while (!stop) {
		rc = poll(&pfd, 1, 500);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		rc = dl_admin_recv(fd, DL_ADMIN_RESP_MAX, 0, out);
		if (rc == 0)
			return 1;
		fprintf(stderr, "dockline: lost the collector: %s\n",
			dl_strerror(rc));
		return -1;
	}
	return stop ? 0 : -1;
}

int dl_cli_events_follow(const dl_cli_t *cli, const char *host,
			 uint64_t since_ns, int limit, bool json,
			 void (*print)(json_t *e, bool json))
{
	json_t *sub =
		json_pack("{s:s,s:s}", "op", "subscribe", "what", "events");
	json_t *req, *data, *e, *msg;
	json_int_t last = 0;
	size_t i;
	int fd, rc = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_DFL);
	if (host)
		json_object_set_new(sub, "host", json_string(host));
	if ((fd = open_request(cli, sub)) < 0)
		return 1;
	req = json_pack("{s:s,s:I,s:I,s:i}", "op", "events", "since_ns",
			(json_int_t)since_ns, "after", (json_int_t)0, "limit",
			limit);
	if (host)
		json_object_set_new(req, "host", json_string(host));
	if (!(data = dl_cli_call(cli, req))) {
		dl_cli_close(fd);
		return 1;
	}
	if (!json)
		printf("%-19s  %-20s %-9s %-24s %-12s %s\n", "TIME", "HOST",
		       "TYPE", "ACTION", "ID", "NAME");
	json_array_foreach(data, i, e)
	{
		json_int_t seq = json_integer_value(json_object_get(e, "seq"));

		print(e, json);
		if (seq > last)
			last = seq;
	}
	json_decref(data);
	fflush(stdout);
	while ((rc = next_push(fd, &msg)) > 0) {
		e = json_object_get(msg, "event");
		if (e && json_integer_value(json_object_get(e, "seq")) > last) {
			last = json_integer_value(json_object_get(e, "seq"));
			print(e, json);
			fflush(stdout);
		}
		json_decref(msg);
	}
	dl_cli_close(fd);
	return rc < 0 ? 1 : 0;
}

/* `dockline metrics`: the collector's Prometheus exposition on stdout. */
int dl_cli_metrics(const dl_cli_t *cli, int argc, char **argv)
{
	json_t *req = json_pack("{s:s}", "op", "metrics");
	json_t *resp = NULL;
	char *p;
	size_t n;
	int fd, rc;

	if (argc > 1) {
		fprintf(stderr, "dockline: metrics takes no arguments\n");
		json_decref(req);
		return DL_CLI_EXIT_USAGE;
	}
	(void)argv;
	if ((fd = dl_cli_connect(cli)) < 0) {
		json_decref(req);
		return DL_CLI_EXIT_FAIL;
	}
	rc = dl_admin_send(fd, req, DL_ADMIN_REQ_MAX);
	json_decref(req);
	while (rc == 0 && (rc = dl_admin_recv_frame(fd, DL_ADMIN_RESP_MAX,
						    60000, &p, &n)) == 0) {
		if (n && p[0] == DL_ADMIN_STDOUT) {
			if (dl_write_all(1, p + 1, n - 1)) {
				free(p);
				dl_cli_close(fd);
				return DL_CLI_EXIT_FAIL;
			}
			free(p);
			continue;
		}
		rc = dl_admin_parse(p, n, &resp);
		free(p);
		break;
	}
	dl_cli_close(fd);
	if (rc) {
		fprintf(stderr, "dockline: no answer from the collector: %s\n",
			dl_strerror(rc));
		return DL_CLI_EXIT_FAIL;
	}
	rc = json_is_true(json_object_get(resp, "ok")) ? 0 : DL_CLI_EXIT_FAIL;
	if (rc)
		fprintf(stderr, "dockline: %s\n", dl_cli_str(resp, "error"));
	json_decref(resp);
	return rc;
}
