/* dockline-attach: the relay alone (attach.c), linked without serve's
 * libraries; run by `dockline-collector attach` (attach_exec.c) with the
 * same arguments: attach --host=NAME [-c FILE]. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/attach.h"
#include "common/log.h"

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"host", required_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	const char *conf_path = NULL, *host = NULL;
	char err[1024];
	dl_cconf_t conf;
	int ch;

	if (argc < 2 || strcmp(argv[1], "attach") != 0) {
		fprintf(stderr,
			"usage: %s attach --host=NAME [-c FILE] (run "
			"by dockline-collector attach)\n",
			argv[0]);
		return 2;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 'H': host = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc || !host) {
		fprintf(stderr, "dockline-collector: attach needs --host=NAME "
				"and no other argument\n");
		return 2;
	}
	if (!conf_path && access(DL_COLLECTOR_CONF_DEFAULT, R_OK) == 0)
		conf_path = DL_COLLECTOR_CONF_DEFAULT;
	if (dl_cconf_load(&conf, conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "dockline-collector: %s\n", err);
		return 1;
	}
	dl_log_set_level((dl_log_level_t)conf.log_level);
	return dl_attach_run(&conf, host, STDIN_FILENO, STDOUT_FILENO);
}
