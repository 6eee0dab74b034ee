/* notify.c - `dockline notify test CHANNEL` (sends a test message through
 * a [notify] channel and prints what the receiver answered) and
 * `dockline notify list` (channels and hooks, never a secret). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "common/err.h"
#include "proto/admin.h"

/* A send may take (retries + 1) x timeout plus its backoff: at most
 * 11 x 300 s + 10 min in the extreme; the usual is seconds. */
#define TEST_WAIT_MS (60 * 60 * 1000)

static void notify_usage(void)
{
	fprintf(stderr, "usage: dockline notify test CHANNEL [--json]\n"
			"       dockline notify list [--json]\n");
}

static int cmd_test(const dl_cli_t *cli, const char *channel, bool json)
{
	json_t *req = json_pack("{s:s,s:s}", "op", "notify_test", "channel",
				channel),
	       *resp = NULL, *data;
	int fd = dl_cli_connect(cli), rc;

	if (fd < 0) {
		json_decref(req);
		return 1;
	}
	rc = !req || dl_cli_sign(cli, req)
		     ? DL_ENOMEM
		     : dl_admin_send(fd, req, DL_ADMIN_REQ_MAX);
	if (rc == 0)
		rc = dl_admin_recv(fd, DL_ADMIN_RESP_MAX, TEST_WAIT_MS, &resp);
	dl_cli_close(fd);
	json_decref(req);
	if (rc) {
		fprintf(stderr, "dockline: no answer from the collector: %s\n",
			dl_strerror(rc));
		return 1;
	}
	data = json_object_get(resp, "data");
	if (json) {
		dl_cli_print_json(resp);
	} else if (json_is_true(json_object_get(resp, "ok"))) {
		printf("%s: delivered: %s\n", dl_cli_str(data, "channel"),
		       dl_cli_str(data, "detail"));
	} else {
		const char *e =
			json_string_value(json_object_get(resp, "error"));

		fprintf(stderr, "dockline: %s\n", e ? e : "request failed");
	}
	rc = json_is_true(json_object_get(resp, "ok")) ? 0 : 1;
	json_decref(resp);
	return rc;
}

static int cmd_list(const dl_cli_t *cli, bool json)
{
	json_t *data =
		dl_cli_call(cli, json_pack("{s:s}", "op", "notify_list"));
	json_t *v;
	size_t i;

	if (!data)
		return 1;
	if (json) {
		dl_cli_print_json(data);
		json_decref(data);
		return 0;
	}
	printf("%-20s %-8s %-40s %8s %8s %8s\n", "CHANNEL", "KIND", "TARGET",
	       "SENT", "FAILED", "DROPPED");
	json_array_foreach(json_object_get(data, "channels"), i, v)
	{
		printf("%-20s %-8s %-40s %8lld %8lld %8lld\n",
		       dl_cli_str(v, "name"), dl_cli_str(v, "kind"),
		       dl_cli_str(v, "target"),
		       (long long)json_integer_value(
			       json_object_get(v, "sent")),
		       (long long)json_integer_value(
			       json_object_get(v, "failed")),
		       (long long)json_integer_value(
			       json_object_get(v, "dropped")));
	}
	printf("\n%-20s %-32s %-24s %8s %8s %8s\n", "HOOK", "ON", "DOES", "OK",
	       "FAILED", "DROPPED");
	json_array_foreach(json_object_get(data, "hooks"), i, v)
	{
		char on[256] = "", does[160];
		json_t *p;
		size_t k;

		json_array_foreach(json_object_get(v, "on"), k, p)
		{
			size_t o = strlen(on);

			snprintf(on + o, sizeof(on) - o, "%s%s", k ? "," : "",
				 json_string_value(p));
		}
		if (*dl_cli_str(v, "notify"))
			snprintf(does, sizeof(does), "notify %s",
				 dl_cli_str(v, "notify"));
		else
			snprintf(does, sizeof(does), "run %s",
				 dl_cli_str(v, "command"));
		printf("%-20s %-32s %-24s %8lld %8lld %8lld\n",
		       dl_cli_str(v, "name"), on, does,
		       (long long)json_integer_value(json_object_get(v, "ok")),
		       (long long)json_integer_value(
			       json_object_get(v, "failed")),
		       (long long)json_integer_value(
			       json_object_get(v, "dropped")));
	}
	json_decref(data);
	return 0;
}

int dl_cli_notify(const dl_cli_t *cli, int argc, char **argv)
{
	bool json = argc > 0 && !strcmp(argv[argc - 1], "--json");

	if (json)
		argc--;
	if (argc == 3 && !strcmp(argv[1], "test"))
		return cmd_test(cli, argv[2], json);
	if (argc == 2 && !strcmp(argv[1], "list"))
		return cmd_list(cli, json);
	notify_usage();
	return 2;
}
