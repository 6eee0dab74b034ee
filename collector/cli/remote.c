/* remote.c - `dockline -H ssh://USER@HOST[:PORT]` (or DOCKLINE_HOST): each
 * admin connection is an ssh child running `dockline-collector
 * admin-relay` on the collector host, the docker -H ssh:// model. The
 * CLI keeps one end of a socketpair, ssh gets the other as stdin and
 * stdout, so every command speaks the admin protocol unchanged.
 *
 * ssh's argv is built word by word (execvp, never a shell):
 *   DOCKLINE_SSH_COMMAND words (default "ssh") -T -o ConnectTimeout=30
 *   -o ServerAliveInterval=15
 *   [-l USER] [-p PORT] -- HOST exec dockline-collector admin-relay
 *   [-s P] [-c P]
 * The user's words come first, and ssh keeps the first value it gets for
 * an option, so theirs win. What reaches the remote shell is checked to
 * be plain words (sshurl.c).
 *
 * The relay writes DL_RELAY_BANNER once it holds the admin socket; the
 * CLI reads exactly those bytes before it hands out the descriptor. EOF
 * instead means ssh or the relay failed: ssh's (or the relay's) own
 * words are already on stderr (inherited), this file adds one sentence
 * from ssh's exit status and the CLI exits with DL_CLI_EXIT_SSH (3 when
 * the relay found no collector, as locally).
 *
 * ssh stays in the CLI's process group (a passphrase prompt needs the
 * terminal); it dies with the CLI (PR_SET_PDEATHSIG), so a Ctrl-C that
 * kills the CLI ends ssh, sshd closes the relay's stdin and the relay
 * closes its admin connection: serve stops the stream. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "common/clock.h"
#include "collector/relay.h"
#include "collector/sshurl.h"

#define REMOTE_MAX   16 /* connections open at once (events -f holds 2) */
#define REAP_WAIT_MS 10000
/* ssh connected, relay banner not yet read: a slow passphrase fits */
#define BANNER_WAIT_MS 120000

static struct {
	int fd;
	pid_t pid;
} conns[REMOTE_MAX];
static int nconns;
static int remote_exit; /* 0, or the exit code a failed session asks */

int dl_cli_remote_setup(dl_cli_t *cli, const char *url)
{
	char err[512];

	if (dl_ssh_url_parse(url, &cli->remote, err, sizeof(err))) {
		fprintf(stderr, "dockline: %s\n", err);
		return DL_CLI_EXIT_USAGE;
	}
	if ((cli->socket && !dl_ssh_remote_path_ok(cli->socket)) ||
	    (cli->conf_path && !dl_ssh_remote_path_ok(cli->conf_path))) {
		fprintf(stderr,
			"dockline: with -H, -s and -c name paths on the "
			"collector host: absolute, letters, digits and "
			"/._+- only\n");
		return DL_CLI_EXIT_USAGE;
	}
	cli->is_remote = true;
	return 0;
}

/* "USER@HOST:PORT" as the user wrote it, for sentences. */
static void target(const dl_cli_t *cli, char *out, size_t n)
{
	const dl_ssh_url_t *u = &cli->remote;
	char port[16] = "";

	if (u->port)
		snprintf(port, sizeof(port), ":%u", u->port);
	snprintf(out, n, "%s%s%s%s", u->user, u->user[0] ? "@" : "", u->host,
		 port);
}

/* The whole argv (pointers into words and cli); count, or -1 after a
 * sentence. */
static int build_argv(const dl_cli_t *cli, char *buf, size_t buflen,
		      char **argv, char *port)
{
	const char *cmd = getenv("DOCKLINE_SSH_COMMAND");
	char err[256];
	int n;

	if (!cmd || !*cmd)
		cmd = "ssh";
	n = dl_ssh_split_command(cmd, buf, buflen, argv, DL_SSH_ARGV_MAX, err,
				 sizeof(err));
	if (n < 0) {
		fprintf(stderr, "dockline: %s\n", err);
		return -1;
	}
	argv[n++] = "-T";
	argv[n++] = "-o";
	argv[n++] = "ConnectTimeout=30";
	/* a link that dies under `logs -f` ends it instead of hanging */
	argv[n++] = "-o";
	argv[n++] = "ServerAliveInterval=15";
	if (cli->remote.user[0]) {
		argv[n++] = "-l";
		argv[n++] = (char *)cli->remote.user;
	}
	if (cli->remote.port) {
		snprintf(port, 8, "%u", cli->remote.port);
		argv[n++] = "-p";
		argv[n++] = port;
	}
	argv[n++] = "--";
	argv[n++] = (char *)cli->remote.host;
	/* sshd runs the command through the login shell: exec leaves no
	 * shell process waiting around the relay */
	argv[n++] = "exec";
	argv[n++] = "dockline-collector";
	argv[n++] = "admin-relay";
	if (cli->socket) {
		argv[n++] = "-s";
		argv[n++] = (char *)cli->socket;
	}
	if (cli->conf_path) {
		argv[n++] = "-c";
		argv[n++] = (char *)cli->conf_path;
	}
	argv[n] = NULL;
	return n;
}

/* In the child: ssh's stdin and stdout are sock; an exec failure goes
 * back through report (close-on-exec) as errno. */
static void child(int sock, int report, char **argv, pid_t parent)
{
	int e;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	signal(SIGPIPE, SIG_DFL);
	if (dup2(sock, 0) < 0 || dup2(sock, 1) < 0)
		_exit(1);
	if (sock > 1)
		close(sock);
	execvp(argv[0], argv);
	e = errno;
	(void)!write(report, &e, sizeof(e));
	_exit(127);
}

/* Waits for pid at most ms (then SIGTERM and waits): the wait status,
 * or -1. */
static int reap(pid_t pid, int ms)
{
	struct timespec ts = {0, 10 * 1000000};
	int st;

	for (int t = 0; t < ms; t += 10) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGTERM);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return st;
}

/* One sentence for a session that ended before the banner. */
static void explain(const dl_cli_t *cli, int st)
{
	char t[400];
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;

	target(cli, t, sizeof(t));
	remote_exit = DL_CLI_EXIT_SSH;
	if (st < 0 || WIFSIGNALED(st))
		fprintf(stderr, "dockline: ssh to %s ended by signal %d\n", t,
			st < 0 ? 0 : WTERMSIG(st));
	else if (code == 255)
		fprintf(stderr,
			"dockline: ssh could not connect or log in to %s "
			"(ssh's message above)\n",
			t);
	else if (code == 127 || code == 126)
		fprintf(stderr,
			"dockline: dockline-collector is %s on %s (it must be "
			"on the PATH of the ssh user's login)\n",
			code == 127 ? "not found" : "not executable", t);
	else if (code == DL_RELAY_EXIT_DENIED)
		fprintf(stderr,
			"dockline: the collector at %s refused this user "
			"(see above)\n",
			t);
	else if (code == DL_RELAY_EXIT_NOSERVE)
		remote_exit = DL_CLI_EXIT_OFFLINE; /* the relay said it */
	else if (code == DL_RELAY_EXIT_USAGE)
		fprintf(stderr,
			"dockline: the relay on %s does not understand the "
			"command line (an older dockline-collector?)\n",
			t);
	else
		fprintf(stderr,
			"dockline: the relay on %s ended with status %d before "
			"it answered\n",
			t, code);
}

/* Reads the banner: 0, or -1 (EOF or other bytes). */
static int read_banner(const dl_cli_t *cli, int fd)
{
	const size_t n = strlen(DL_RELAY_BANNER);
	char got[32];
	size_t have = 0;

	uint64_t end = dl_clock_mono_ns() + BANNER_WAIT_MS * 1000000ull;

	while (have < n) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = dl_clock_mono_ns();
		ssize_t r;

		if (now >= end ||
		    (poll(&p, 1, (int)((end - now) / 1000000 + 1)) == 0)) {
			char t[400];

			target(cli, t, sizeof(t));
			fprintf(stderr,
				"dockline: %s: no answer from the relay "
				"within %d s (a login that waits: a "
				"passphrase prompt, a shell startup file?)\n",
				t, BANNER_WAIT_MS / 1000);
			remote_exit = DL_CLI_EXIT_SSH;
			return -2;
		}
		r = read(fd, got + have, n - have);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	if (memcmp(got, DL_RELAY_BANNER, n) == 0)
		return 0;
	{
		char t[400];

		target(cli, t, sizeof(t));
		for (size_t i = 0; i < n; i++)
			if (got[i] < 0x20 || got[i] > 0x7e)
				got[i] = '.';
		fprintf(stderr,
			"dockline: %s sent \"%.*s\" before the relay "
			"answered: something in the login (a shell startup "
			"file?) writes to stdout\n",
			t, (int)n, got);
		remote_exit = DL_CLI_EXIT_SSH;
	}
	return -2;
}

static int spawn_failed(int sv[2], int rep[2], const char *what, int e)
{
	fprintf(stderr, "dockline: cannot start %s: %s\n", what, strerror(e));
	remote_exit = DL_CLI_EXIT_SSH;
	close(sv[0]);
	close(sv[1]);
	if (rep[0] >= 0)
		close(rep[0]);
	if (rep[1] >= 0)
		close(rep[1]);
	return -1;
}

int dl_cli_remote_connect(const dl_cli_t *cli)
{
	char buf[DL_SSH_CMD_MAX + 1], port[8];
	char *argv[DL_SSH_ARGV_MAX + 24];
	int sv[2], rep[2] = {-1, -1}, e = 0, rc;
	pid_t pid, me = getpid();
	ssize_t r;

	if (nconns == REMOTE_MAX) {
		fprintf(stderr, "dockline: too many ssh sessions at once\n");
		return -1;
	}
	if (build_argv(cli, buf, sizeof(buf), argv, port) < 0) {
		remote_exit = DL_CLI_EXIT_USAGE;
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return spawn_failed(sv, rep, "ssh", errno);
	if (pipe2(rep, O_CLOEXEC))
		return spawn_failed(sv, rep, "ssh", errno);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return spawn_failed(sv, rep, "ssh", errno);
	if (pid == 0)
		child(sv[1], rep[1], argv, me);
	close(sv[1]);
	close(rep[1]);
	while ((r = read(rep[0], &e, sizeof(e))) < 0 && errno == EINTR)
		;
	close(rep[0]);
	if (r == (ssize_t)sizeof(e)) {
		reap(pid, REAP_WAIT_MS);
		fprintf(stderr,
			"dockline: cannot run %s: %s (DOCKLINE_SSH_COMMAND "
			"names the ssh program)\n",
			argv[0], strerror(e));
		remote_exit = DL_CLI_EXIT_SSH;
		close(sv[0]);
		return -1;
	}
	rc = read_banner(cli, sv[0]);
	if (rc) {
		close(sv[0]);
		if (rc == -1)
			explain(cli, reap(pid, REAP_WAIT_MS));
		else
			reap(pid, REAP_WAIT_MS);
		return -1;
	}
	conns[nconns].fd = sv[0];
	conns[nconns++].pid = pid;
	return sv[0];
}

void dl_cli_close(int fd)
{
	close(fd);
	for (int i = 0; i < nconns; i++) {
		if (conns[i].fd != fd)
			continue;
		/* ssh sees EOF, the relay ends, then ssh */
		reap(conns[i].pid, REAP_WAIT_MS);
		conns[i] = conns[--nconns];
		return;
	}
}

void dl_cli_session_failed(int code)
{
	remote_exit = code;
}

int dl_cli_exit(int rc)
{
	/* exec's 125 already says "dockline failed", and 3 or 6 could be
	 * the command's own code. */
	return remote_exit && rc && rc != DL_CLI_EXIT_EXEC ? remote_exit : rc;
}
