/* cli.h - pieces of the `dockline` CLI shared between its files. */
#ifndef DL_CLI_H
#define DL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct {
	const char *socket;    /* admin socket path */
	const char *conf_path; /* collector.conf, may be NULL */
} dl_cli_t;

/* Sends req (stolen) and returns the "data" member (caller owns), or
 * NULL after printing a sentence to stderr. */
json_t *dl_cli_call(const dl_cli_t *cli, json_t *req);

int dl_cli_enroll(const dl_cli_t *cli, int argc, char **argv);

/* `stats`, `top` and `history` (argv[0] names which); exit code. */
int dl_cli_stats(const dl_cli_t *cli, int argc, char **argv);
int dl_cli_forget(const dl_cli_t *cli, int argc, char **argv);

/* Validates an OpenSSH "ssh-ed25519 BASE64 [comment]" line; on success
 * writes "ssh-ed25519 BASE64" into out. 0 or a negative code with a
 * sentence in err. */
int dl_cli_parse_ed25519(const char *line, char *out, size_t outlen, char *err,
			 size_t errlen);

#endif
