/* alerts.c - `dockline alerts` (what fires now, and with --all what
 * resolved lately) and `dockline silence` (add, list, rm): the engine in
 * serve answers from memory; a silence is answered once it is stored. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/cli/cli.h"
#include "common/clock.h"

static void alerts_usage(void)
{
	fprintf(stderr, "usage: dockline alerts [--all] [--since 24h] "
			"[--json]\n");
}

static void silence_usage(void)
{
	fprintf(stderr,
		"usage: dockline silence HOST[/CONTAINER] --for 2h [--rule "
		"NAME] [--comment TEXT]\n"
		"       dockline silence list [--json]\n"
		"       dockline silence rm ID\n");
}

/* "5m ago" from unix s; "-" when null. */
static void ago(json_t *v, char *out, size_t outlen)
{
	int64_t t = json_integer_value(v);
	int64_t now = (int64_t)(dl_clock_wall_ns() / 1000000000u);
	char d[32];

	if (!json_is_integer(v) || t <= 0) {
		snprintf(out, outlen, "-");
		return;
	}
	dl_duration_format(now > t ? now - t : 0, d, sizeof(d));
	snprintf(out, outlen, "%s ago", d);
}

/* "2026-11-30 20:26" (local time) into out, returned. */
static const char *until(json_t *v, char *out, size_t outlen)
{
	time_t t = (time_t)json_integer_value(v);
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    !strftime(out, outlen, "%Y-%m-%d %H:%M", &tm))
		snprintf(out, outlen, "?");
	return out;
}

static void key_of(json_t *row, char *out, size_t outlen)
{
	const char *c = dl_cli_str(row, "container");

	snprintf(out, outlen, "%s%s%s", dl_cli_str(row, "host"),
		 c[0] ? "/" : "", c);
}

int dl_cli_alerts(const dl_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"all", no_argument, NULL, 'a'},
		{"since", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	bool all = false, json = false;
	int64_t since = 86400;
	json_t *data, *row;
	size_t i, nunsent = 0;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'a': all = true; break;
		case 'j': json = true; break;
		case 's':
			if (dl_cli_opt_since(optarg, false, &since))
				return 2;
			break;
		default: alerts_usage(); return 2;
		}
	}
	if (optind != argc) {
		alerts_usage();
		return 2;
	}
	data = dl_cli_call(cli,
			   json_pack("{s:s,s:b,s:I}", "op", "alerts", "all",
				     all, "since_s", (json_int_t)since));
	if (!data)
		return 1;
	if (json) {
		dl_cli_print_json(data);
		json_decref(data);
		return 0;
	}
	if (!json_array_size(data))
		printf("no alerts %s\n", all ? "in that time" : "firing");
	else
		printf("%-20s %-8s %-30s %-9s %-12s %s\n", "RULE", "SEVERITY",
		       "HOST/CONTAINER", "STATE", "SINCE", "SUMMARY");
	json_array_foreach(data, i, row)
	{
		char key[320], since_s[48], state[24];
		bool sil = json_is_true(json_object_get(row, "silenced"));
		bool unsent =
			json_is_string(json_object_get(row, "notify_error"));

		key_of(row, key, sizeof(key));
		ago(json_object_get(row, "since"), since_s, sizeof(since_s));
		/* "!": its last notification failed after the retries */
		snprintf(state, sizeof(state), "%s%s", dl_cli_str(row, "state"),
			 unsent ? "!" : "");
		nunsent += unsent;
		printf("%-20s %-8s %-30s %-9s %-12s %s%s\n",
		       dl_cli_str(row, "rule"), dl_cli_str(row, "severity"),
		       key, state, since_s, dl_cli_str(row, "summary"),
		       sil ? " (silenced)" : "");
	}
	if (nunsent)
		printf("! = its notification failed after retries "
		       "(notify_error in --json)\n");
	json_decref(data);
	return 0;
}

static int silence_list(const dl_cli_t *cli, int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	json_t *data, *s;
	size_t i;

	if (argc > 2 || (argc == 2 && !json)) {
		silence_usage();
		return 2;
	}
	if (!(data = dl_cli_call(cli,
				 json_pack("{s:s}", "op", "silence_list"))))
		return 1;
	if (json) {
		dl_cli_print_json(data);
		json_decref(data);
		return 0;
	}
	if (!json_array_size(data))
		printf("no active silences\n");
	else
		printf("%-5s %-30s %-16s %-10s %-16s %s\n", "ID",
		       "HOST/CONTAINER", "RULE", "LEFT", "BY", "COMMENT");
	json_array_foreach(data, i, s)
	{
		int64_t now = (int64_t)(dl_clock_wall_ns() / 1000000000u);
		int64_t exp = json_integer_value(json_object_get(s, "expires"));
		char key[320], left[32];
		const char *rule = dl_cli_str(s, "rule");

		key_of(s, key, sizeof(key));
		dl_duration_format(exp > now ? exp - now : 0, left,
				   sizeof(left));
		printf("%-5lld %-30s %-16s %-10s %-16s %s\n",
		       (long long)json_integer_value(json_object_get(s, "id")),
		       key, rule[0] ? rule : "*", left, dl_cli_str(s, "by"),
		       dl_cli_str(s, "comment"));
	}
	json_decref(data);
	return 0;
}

static int silence_rm(const dl_cli_t *cli, int argc, char **argv)
{
	int64_t id;
	char *end;
	json_t *data;

	if (argc != 2) {
		silence_usage();
		return 2;
	}
	id = strtoll(argv[1], &end, 10);
	if (*end || id <= 0) {
		fprintf(stderr, "dockline: silence rm wants a numeric id\n");
		return 2;
	}
	if (!(data = dl_cli_call(cli, json_pack("{s:s,s:I}", "op", "silence_rm",
						"id", (json_int_t)id))))
		return 1;
	printf("silence %lld removed\n", (long long)id);
	json_decref(data);
	return 0;
}

static int silence_add(const dl_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"for", required_argument, NULL, 'f'},
		{"rule", required_argument, NULL, 'r'},
		{"comment", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	const char *rule = NULL, *comment = NULL;
	char target[600], *slash;
	int64_t dur = 0;
	json_t *req, *data;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (dl_duration_parse(optarg, &dur) || dur <= 0) {
				fprintf(stderr,
					"dockline: --for wants a duration such "
					"as 30m, 2h (got \"%s\")\n",
					optarg);
				return 2;
			}
			break;
		case 'r': rule = optarg; break;
		case 'c': comment = optarg; break;
		default: silence_usage(); return 2;
		}
	}
	if (optind + 1 != argc || !dur ||
	    strlen(argv[optind]) >= sizeof(target)) {
		silence_usage();
		return 2;
	}
	snprintf(target, sizeof(target), "%s", argv[optind]);
	if ((slash = strchr(target, '/')))
		*slash++ = '\0';
	req = json_pack("{s:s,s:s,s:I}", "op", "silence_add", "host", target,
			"for_s", (json_int_t)dur);
	if (req && slash && *slash)
		json_object_set_new(req, "container", json_string(slash));
	if (req && rule)
		json_object_set_new(req, "rule", json_string(rule));
	if (req && comment)
		json_object_set_new(req, "comment", json_string(comment));
	if (!(data = dl_cli_call(cli, req)))
		return 1;
	printf("silence %lld: %s%s%s until %s\n",
	       (long long)json_integer_value(json_object_get(data, "id")),
	       argv[optind], rule ? " rule " : "", rule ? rule : "",
	       until(json_object_get(data, "expires"), target, sizeof(target)));
	json_decref(data);
	return 0;
}

int dl_cli_silence(const dl_cli_t *cli, int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "list"))
		return silence_list(cli, argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "rm"))
		return silence_rm(cli, argc - 1, argv + 1);
	if (argc < 2) {
		silence_usage();
		return 2;
	}
	return silence_add(cli, argc, argv);
}
