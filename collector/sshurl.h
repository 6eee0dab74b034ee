/* sshurl.h - what `dockline -H ssh://USER@HOST[:PORT]` needs before it
 * starts ssh: the URL checked part by part, DOCKLINE_SSH_COMMAND split
 * into words without a shell, and the remote paths (-s, -c) that travel
 * on the remote command line. Pure functions: no I/O, nothing run here.
 * Nothing that reaches ssh's argv or the remote shell may start with '-'
 * or hold a character a shell would interpret. */
#ifndef DL_COLLECTOR_SSHURL_H
#define DL_COLLECTOR_SSHURL_H

#include <stddef.h>

#define DL_SSH_USER_MAX 32  /* Linux login names (useradd's limit) */
#define DL_SSH_HOST_MAX 253 /* a DNS name */
#define DL_SSH_ARGV_MAX 64  /* words of DOCKLINE_SSH_COMMAND */
#define DL_SSH_CMD_MAX	4096

typedef struct {
	char user[DL_SSH_USER_MAX + 1]; /* "" = ssh's default */
	char host[DL_SSH_HOST_MAX + 1]; /* IPv6 without its brackets */
	unsigned port;			/* 0 = ssh's default */
} dl_ssh_url_t;

/* Parses "ssh://[USER@]HOST[:PORT]" (HOST a name, an IPv4 address or an
 * [IPv6] address; nothing after the port, no password). 0, or DL_EINVAL
 * with a sentence in err. */
int dl_ssh_url_parse(const char *s, dl_ssh_url_t *u, char *err, size_t errlen);

/* Splits cmd into at most max words into buf (cmd is copied there;
 * words point into it): blanks separate, '...' and "..." group (no
 * escapes, no expansion). The number of words (>= 1), or DL_EINVAL
 * with a sentence in err (empty, unbalanced quote, too many words, too
 * long). */
int dl_ssh_split_command(const char *cmd, char *buf, size_t buflen,
			 char **words, int max, char *err, size_t errlen);

/* A path the remote shell takes as one plain word: absolute, at most
 * 255 bytes of [A-Za-z0-9/._+-]. */
int dl_ssh_remote_path_ok(const char *path);

#endif
