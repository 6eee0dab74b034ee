/* dockline-collector: `serve` (the central service), `attach` (the
 * sshd forced command that relays one agent session to serve) and
 * `admin-relay` (what `dockline -H ssh://...` runs through ssh). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "collector/attach.h"
#include "collector/backup.h"
#include "collector/http/gateway.h"
#include "collector/relay.h"
#include "collector/serve.h"
#include "common/log.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dockline-collector serve [-c FILE]\n"
		"       dockline-collector attach --host=NAME [-c FILE]\n"
		"       dockline-collector http [-c FILE]\n"
		"       dockline-collector backup FILE [-c FILE]\n"
		"       dockline-collector admin-relay [-c FILE] [-s SOCKET]\n"
		"       dockline-collector --version\n"
		"\n"
		"  serve   run the collector: store agent data in SQLite and "
		"answer the dockline CLI\n"
		"  attach  relay one agent session (run by sshd as the forced "
		"command\n"
		"          written by `dockline enroll`; not for interactive "
		"use)\n"
		"  http    the HTTP/WebSocket API gateway ([http] in the "
		"config)\n"
		"  backup  a consistent copy of the live database into FILE "
		"(new), ingest\n"
		"          goes on meanwhile (docs/INSTALL.md: restoring)\n"
		"  admin-relay  the admin socket over stdin/stdout, as the "
		"calling user\n"
		"          (run through ssh by `dockline -H ssh://USER@HOST`; "
		"group\n"
		"          dockline-admin decides, as for the local CLI)\n"
		"  -s SOCKET the admin socket (default: admin_socket from the "
		"config)\n"
		"  -c FILE configuration (default %s if it exists)\n",
		DL_COLLECTOR_CONF_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"host", required_argument, NULL, 'H'},
		{"socket", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *conf_path = NULL, *host = NULL, *cmd, *dest = NULL;
	const char *sock = NULL;
	char err[1024];
	dl_cconf_t conf;
	int ch;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("dockline-collector %s\n", DL_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return 0;
	}
	cmd = argv[1];
	/* One attach runs per agent session: the small dockline-attach
	 * binary does the same job without serve's libraries. */
	if (!strcmp(cmd, "attach"))
		dl_attach_exec_small(argv);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:hs:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 'H': host = optarg; break;
		case 's': sock = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	/* backup takes its destination; nothing else takes an argument */
	if (!strcmp(cmd, "backup") && optind < argc)
		dest = argv[optind++];
	if (optind != argc) {
		fprintf(stderr, "dockline-collector: unexpected argument %s\n",
			argv[optind]);
		return 2;
	}
	if (sock && strcmp(cmd, "admin-relay")) {
		fprintf(stderr, "dockline-collector: only admin-relay takes "
				"-s SOCKET\n");
		return 2;
	}
	if (!conf_path && access(DL_COLLECTOR_CONF_DEFAULT, R_OK) == 0)
		conf_path = DL_COLLECTOR_CONF_DEFAULT;
	if (dl_cconf_load(&conf, conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "dockline-collector: %s\n", err);
		return 1;
	}
	dl_log_set_level((dl_log_level_t)conf.log_level);
	if (!strcmp(cmd, "serve")) {
		if (host) {
			fprintf(stderr, "dockline-collector: serve takes no "
					"--host\n");
			return 2;
		}
		return dl_serve_run(&conf);
	}
	if (!strcmp(cmd, "http")) {
		if (host) {
			fprintf(stderr, "dockline-collector: http takes no "
					"--host\n");
			return 2;
		}
		return dl_http_run(&conf);
	}
	if (!strcmp(cmd, "backup")) {
		if (!dest) {
			fprintf(stderr, "dockline-collector: backup needs the "
					"file to write (it must not exist)\n");
			return 2;
		}
		return dl_backup_run(&conf, dest);
	}
	if (!strcmp(cmd, "admin-relay")) {
		if (host) {
			fprintf(stderr, "dockline-collector: admin-relay takes "
					"no --host\n");
			return 2;
		}
		return dl_relay_run(sock ? sock : conf.admin_socket,
				    STDIN_FILENO, STDOUT_FILENO);
	}
	if (!strcmp(cmd, "attach")) {
		if (!host) {
			fprintf(stderr, "dockline-collector: attach needs "
					"--host=NAME\n");
			return 2;
		}
		return dl_attach_run(&conf, host, STDIN_FILENO, STDOUT_FILENO);
	}
	fprintf(stderr, "dockline-collector: unknown command %s\n", cmd);
	usage(stderr);
	return 2;
}
