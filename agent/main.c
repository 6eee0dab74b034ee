/* dockline-agent: watches the local Docker Engine and streams it to the
 * collector through an outbound SSH connection. */
#include <curl/curl.h>
#include <libssh2.h>
#include <stdio.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/enroll.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dockline-agent [-c FILE]          run (default %s)\n"
		"       dockline-agent enroll --collector ssh://HOST[:PORT] "
		"...\n"
		"       dockline-agent check [-c FILE]    say what is wrong\n"
		"       dockline-agent --version\n",
		DL_AGENT_CONF_DEFAULT);
}

int main(int argc, char **argv)
{
	const char *path = DL_AGENT_CONF_DEFAULT;
	char err[1024];
	dl_aconf_t conf;
	int rc;

	if (argc > 1 && !strcmp(argv[1], "enroll"))
		return dl_enroll_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "check"))
		return dl_check_main(argc - 1, argv + 1);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("dockline-agent %s\n", DL_VERSION);
			return 0;
		} else if (!strcmp(argv[i], "-h") ||
			   !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			path = argv[++i];
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (dl_aconf_load(&conf, path, err, sizeof(err)) != 0) {
		fprintf(stderr, "dockline-agent: %s\n", err);
		return 1;
	}
	dl_log_set_level((dl_log_level_t)conf.log_level);
	if (curl_global_init(CURL_GLOBAL_NOTHING) != 0 ||
	    libssh2_init(0) != 0) {
		fprintf(stderr,
			"dockline-agent: library initialisation failed\n");
		return 1;
	}
	rc = dl_agent_run(&conf);
	libssh2_exit();
	curl_global_cleanup();
	return rc;
}
