/* token.c - `dockline token create|list|revoke`: API tokens for the HTTP
 * gateway (and for `dockline --token`). The secret is printed once, by
 * create; serve keeps only its hash. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/cli/cli.h"
#include "collector/token.h"
#include "common/clock.h"

static void token_usage(void)
{
	fprintf(stderr,
		"usage: dockline token create NAME --role read|operate|admin "
		"[--hosts GLOB] [--expires 90d]\n"
		"       dockline token list [--json]\n"
		"       dockline token revoke NAME\n");
}

/* "2026-11-30 20:26" (local time), or "-" / never. */
static void when(json_t *v, const char *none, char *out, size_t outlen)
{
	time_t t = (time_t)json_integer_value(v);
	struct tm tm;

	if (!json_is_integer(v) || t <= 0 || !localtime_r(&t, &tm)) {
		snprintf(out, outlen, "%s", none);
		return;
	}
	strftime(out, outlen, "%Y-%m-%d %H:%M", &tm);
}

static int cmd_create(const dl_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"role", required_argument, NULL, 'r'},
		{"hosts", required_argument, NULL, 'H'},
		{"expires", required_argument, NULL, 'e'},
		{NULL, 0, NULL, 0},
	};
	const char *role = NULL, *hosts = NULL;
	int64_t expires = 0;
	json_t *req, *data;
	char exp[32];
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'r': role = optarg; break;
		case 'H': hosts = optarg; break;
		case 'e':
			if (dl_duration_parse(optarg, &expires) ||
			    expires <= 0) {
				fprintf(stderr,
					"dockline: --expires wants a duration "
					"such as 12h, 90d (got \"%s\")\n",
					optarg);
				return 2;
			}
			break;
		default: token_usage(); return 2;
		}
	}
	if (optind + 1 != argc || !role) {
		token_usage();
		return 2;
	}
	if (!dl_token_name_valid(argv[optind])) {
		fprintf(stderr,
			"dockline: invalid token name \"%s\" (wants "
			"[a-z0-9][a-z0-9._-], at most 63 characters)\n",
			argv[optind]);
		return 2;
	}
	if (dl_token_role_parse(role) == DL_ROLE_NONE) {
		fprintf(stderr,
			"dockline: --role must be read, operate or admin (got "
			"\"%s\")\n",
			role);
		return 2;
	}
	req = json_pack("{s:s,s:s,s:s}", "op", "token_create", "name",
			argv[optind], "role", role);
	if (req && hosts)
		json_object_set_new(req, "hosts", json_string(hosts));
	if (req && expires)
		json_object_set_new(req, "expires_s",
				    json_integer((json_int_t)expires));
	if (!(data = dl_cli_call(cli, req)))
		return 1;
	when(json_object_get(data, "expires"), "never", exp, sizeof(exp));
	printf("token %s created (role %s, hosts %s, expires %s)\n",
	       dl_cli_str(data, "name"), dl_cli_str(data, "role"),
	       dl_cli_str(data, "hosts"), exp);
	printf("%s\n", dl_cli_str(data, "secret"));
	printf("Keep this secret now: it is not shown again.\n");
	json_decref(data);
	return 0;
}

static int cmd_list(const dl_cli_t *cli, int argc, char **argv)
{
	bool json = argc == 2 && !strcmp(argv[1], "--json");
	json_t *data, *t;
	size_t i;

	if (argc > 2 || (argc == 2 && !json)) {
		token_usage();
		return 2;
	}
	if (!(data = dl_cli_call(cli, json_pack("{s:s}", "op", "token_list"))))
		return 1;
	if (json) {
		dl_cli_print_json(data);
		json_decref(data);
		return 0;
	}
	printf("%-24s %-8s %-20s %-16s %-16s %s\n", "NAME", "ROLE", "HOSTS",
	       "CREATED", "EXPIRES", "LAST USED");
	json_array_foreach(data, i, t)
	{
		char created[32], exp[32], used[32];

		when(json_object_get(t, "created"), "-", created,
		     sizeof(created));
		when(json_object_get(t, "expires"), "never", exp, sizeof(exp));
		when(json_object_get(t, "last_used"), "never", used,
		     sizeof(used));
		printf("%-24s %-8s %-20s %-16s %-16s %s\n",
		       dl_cli_str(t, "name"), dl_cli_str(t, "role"),
		       dl_cli_str(t, "hosts"), created, exp, used);
	}
	json_decref(data);
	return 0;
}

static int cmd_revoke(const dl_cli_t *cli, int argc, char **argv)
{
	json_t *data;

	if (argc != 2) {
		token_usage();
		return 2;
	}
	data = dl_cli_call(cli, json_pack("{s:s,s:s}", "op", "token_revoke",
					  "name", argv[1]));
	if (!data)
		return 1;
	printf("token %s revoked\n", dl_cli_str(data, "name"));
	json_decref(data);
	return 0;
}

int dl_cli_token(const dl_cli_t *cli, int argc, char **argv)
{
	if (argc < 2) {
		token_usage();
		return 2;
	}
	if (!strcmp(argv[1], "create"))
		return cmd_create(cli, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list(cli, argc - 1, argv + 1);
	if (!strcmp(argv[1], "revoke"))
		return cmd_revoke(cli, argc - 1, argv + 1);
	token_usage();
	return 2;
}
