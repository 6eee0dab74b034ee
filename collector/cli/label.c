/* label.c - `dockline label HOST [K=V ...] [K- ...] [--json]`: a host's
 * labels, kept by the collector (schema v8), set and removed by an
 * admin; without K=V or K- it lists them. Words are checked here with
 * the collector's own rules (collector/hostlabel.h) before anything is
 * sent, so a typo changes nothing. */
#include <stdio.h>
#include <string.h>

#include "collector/cli/cli.h"
#include "collector/hostlabel.h"
#include "collector/conf.h"

static void print_labels(json_t *labels, bool json)
{
	const char *k;
	json_t *v;

	if (json) {
		dl_cli_print_json(labels);
		return;
	}
	json_object_foreach(labels, k, v)
		printf("%s=%s\n", k, json_string_value(v));
}

/* The host's labels as the hosts list has them. */
static int list(const dl_cli_t *cli, const char *host, bool json)
{
	json_t *data = dl_cli_call(
		cli, json_pack("{s:s,s:s}", "op", "hosts", "host", host));
	json_t *h;
	size_t i;

	if (!data)
		return DL_CLI_EXIT_FAIL;
	json_array_foreach(data, i, h)
	{
		if (strcmp(dl_cli_str(h, "name"), host))
			continue;
		print_labels(json_object_get(h, "labels"), json);
		json_decref(data);
		return 0;
	}
	json_decref(data);
	fprintf(stderr, "dockline: no host named %s\n", host);
	return DL_CLI_EXIT_FAIL;
}

int dl_cli_label(const dl_cli_t *cli, int argc, char **argv)
{
	json_t *set = json_object(), *rm = json_array(), *data;
	const char *host = NULL;
	bool json = false;
	char err[256];
	int rc = 0;

	for (int i = 1; i < argc && rc == 0; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!host)
			host = argv[i];
		else if (dl_hostlabel_parse_word(argv[i], set, rm, err,
						 sizeof(err))) {
			fprintf(stderr, "dockline: label: %s\n", err);
			rc = DL_CLI_EXIT_USAGE;
		}
	}
	if (rc == 0 && !host) {
		fprintf(stderr, "usage: dockline label HOST [K=V ...] [K- ...] "
				"[--json]\n");
		rc = DL_CLI_EXIT_USAGE;
	} else if (rc == 0 && !dl_host_name_valid(host)) {
		fprintf(stderr, "dockline: invalid host name \"%s\"\n", host);
		rc = DL_CLI_EXIT_USAGE;
	} else if (rc == 0 && json_object_size(set) + json_array_size(rm) &&
		   dl_hostlabel_edit_check(set, rm, err, sizeof(err))) {
		fprintf(stderr, "dockline: label: %s\n", err);
		rc = DL_CLI_EXIT_USAGE;
	}
	if (rc == 0 && json_object_size(set) + json_array_size(rm) == 0)
		rc = list(cli, host, json);
	else if (rc == 0) {
		data = dl_cli_call(cli, json_pack("{s:s,s:s,s:O,s:O}", "op",
						  "host_labels", "host", host,
						  "set", set, "remove", rm));
		if (data)
			print_labels(json_object_get(data, "labels"), json);
		rc = data ? 0 : DL_CLI_EXIT_FAIL;
		json_decref(data);
	}
	json_decref(set);
	json_decref(rm);
	return rc;
}
