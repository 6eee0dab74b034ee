/* cli.h - pieces of the `dockline` CLI shared between its files. */
#ifndef DL_CLI_H
#define DL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector/sshurl.h"

typedef struct {
	const char *socket;    /* admin socket path (remote: may be NULL) */
	const char *conf_path; /* collector.conf, may be NULL */
	const char *token;     /* --token or DOCKLINE_TOKEN, may be NULL */
	bool is_remote;	       /* -H ssh://... (socket, conf_path: there) */
	dl_ssh_url_t remote;
} dl_cli_t;

/* Adds cli's token, if any, to req (every request carries it). 0, or
 * -1 out of memory. */
int dl_cli_sign(const dl_cli_t *cli, json_t *req);

/* Exit codes of every command (documented in usage and README). exec
 * exits with the command's own code, and with DL_CLI_EXIT_EXEC when
 * dockline itself failed. */
enum {
	DL_CLI_EXIT_OK = 0,
	DL_CLI_EXIT_FAIL = 1,	 /* the request failed (message on stderr) */
	DL_CLI_EXIT_USAGE = 2,	 /* bad command line */
	DL_CLI_EXIT_OFFLINE = 3, /* host offline, or no collector running */
	DL_CLI_EXIT_UNKNOWN = 4, /* no answer in time or link lost: the
				    outcome is unknown */
	DL_CLI_EXIT_REFUSED = 5, /* the host's policy refused */
	DL_CLI_EXIT_SSH = 6,	 /* -H ssh://: ssh or the relay failed
				    before the collector answered */
	DL_CLI_EXIT_EXEC = 125,
};

/* Connects to the admin socket (through ssh with -H): fd, or -1 after
 * printing why. Close it with dl_cli_close. */
int dl_cli_connect(const dl_cli_t *cli);
void dl_cli_close(int fd);

/* remote.c: -H ssh://USER@HOST[:PORT]. setup checks the URL and that -s
 * and -c are plain remote paths: 0 or DL_CLI_EXIT_USAGE after a
 * sentence. connect: fd once the relay answered, or -1 after ssh's words
 * and one sentence. dl_cli_exit(rc): the exit code, DL_CLI_EXIT_SSH (or
 * DL_CLI_EXIT_OFFLINE) instead of rc when a session failed that way,
 * except exec's DL_CLI_EXIT_EXEC. */
int dl_cli_remote_setup(dl_cli_t *cli, const char *url);
int dl_cli_remote_connect(const dl_cli_t *cli);
int dl_cli_exit(int rc);
/* The local side of the same: the admin socket is missing or nobody
 * listens, so any failure exits with code (DL_CLI_EXIT_OFFLINE). */
void dl_cli_session_failed(int code);

/* Control ops (start, stop, logs, exec, images, ...): argv[0] names it. */
bool dl_cli_is_control(const char *cmd);
int dl_cli_control(const dl_cli_t *cli, int argc, char **argv);

/* Option values shared by several commands: 0, or 2 (usage) after a
 * sentence on stderr. --since: a duration (10m, 24h, 7d), above zero
 * unless zero_ok. --limit: 1 to DL_CLI_LIMIT_MAX. */
#define DL_CLI_LIMIT_MAX 100000
int dl_cli_opt_since(const char *arg, bool zero_ok, int64_t *out);
int dl_cli_opt_limit(const char *arg, int *out);

/* o[k] as a string, "" when absent or not a string. */
const char *dl_cli_str(json_t *o, const char *k);
/* "512B", "1.5KiB", "3.2GiB"; "-" for NAN (unknown). */
void dl_cli_human_bytes(double v, char *out, size_t n);
/* v as indented JSON on stdout. */
void dl_cli_print_json(json_t *v);

/* Sends req (stolen) and returns the "data" member (caller owns), or
 * NULL after printing a sentence to stderr. */
json_t *dl_cli_call(const dl_cli_t *cli, json_t *req);

int dl_cli_enroll(const dl_cli_t *cli, int argc, char **argv);

/* `stats`, `top` and `history` (argv[0] names which); exit code. */
int dl_cli_stats(const dl_cli_t *cli, int argc, char **argv);
int dl_cli_audit(const dl_cli_t *cli, int argc, char **argv);
int dl_cli_forget(const dl_cli_t *cli, int argc, char **argv);
/* `alerts`, `silence [list|rm]`; exit codes. */
int dl_cli_alerts(const dl_cli_t *cli, int argc, char **argv);
int dl_cli_silence(const dl_cli_t *cli, int argc, char **argv);
/* `apply HOST FILE [--down] [--wait 60s]`: a stack file; exit code. */
int dl_cli_apply(const dl_cli_t *cli, int argc, char **argv);
/* `label HOST [K=V ...] [K- ...]`: a host's labels; exit code. */
int dl_cli_label(const dl_cli_t *cli, int argc, char **argv);
/* `token create|list|revoke`; exit code. */
int dl_cli_token(const dl_cli_t *cli, int argc, char **argv);
/* `notify test CHANNEL|list`; exit code. */
int dl_cli_notify(const dl_cli_t *cli, int argc, char **argv);

/* live.c: `events -f` over a subscription (the backlog since since_ns,
 * at most limit rows, printed with print, then pushed events), and
 * `metrics`. Exit codes. */
int dl_cli_events_follow(const dl_cli_t *cli, const char *host,
			 uint64_t since_ns, int limit, bool json,
			 void (*print)(json_t *e, bool json));
int dl_cli_metrics(const dl_cli_t *cli, int argc, char **argv);

/* Validates an OpenSSH "ssh-ed25519 BASE64 [comment]" line; on success
 * writes "ssh-ed25519 BASE64" into out. 0 or a negative code with a
 * sentence in err. */
int dl_cli_parse_ed25519(const char *line, char *out, size_t outlen, char *err,
			 size_t errlen);

#endif
