/* notify_exec.c - the commands of exec channels and hooks, driven by
 * the notify worker thread without blocking it: posix_spawn (no shell,
 * its own process group, default signal dispositions, only fds 0-2,
 * a minimal environment), the message written to stdin and stdout+
 * stderr read through non-blocking pipes polled with the worker's curl
 * transfers, a deadline after which the whole process group is killed.
 * Output beyond DL_NOTIFY_OUTPUT_MAX is read and dropped (counted), so
 * a chatty command never blocks on a full pipe. */
#include "collector/notify_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

int dl_notify_proc_start(dl_notify_proc_t *p, char **argv, char **env,
			 const char *in, size_t in_len, int timeout_s,
			 uint64_t now_ms, char *err, size_t errlen)
{
	int inp[2] = {-1, -1}, outp[2] = {-1, -1};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, def;
	int rc;

	memset(p, 0, sizeof(*p));
	p->in_fd = p->out_fd = -1;
	p->in = in;
	p->in_len = in_len;
	p->deadline_ms = now_ms + (uint64_t)timeout_s * 1000u;
	dl_buf_init(&p->out, DL_NOTIFY_OUTPUT_MAX);
	if (pipe2(inp, O_CLOEXEC) || pipe2(outp, O_CLOEXEC)) {
		snprintf(err, errlen, "cannot make a pipe: %s",
			 strerror(errno));
		goto fail;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
	posix_spawn_file_actions_adddup2(&fa, outp[1], 2);
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawn_file_actions_addchdir_np(&fa, "/");
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigfillset(&def); /* serve ignores SIGPIPE: the command must not */
	sigdelset(&def, SIGKILL);
	sigdelset(&def, SIGSTOP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
					      POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(&p->pid, argv[0], &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc) {
		p->pid = 0;
		snprintf(err, errlen, "cannot run %s: %s", argv[0],
			 strerror(rc));
		goto fail;
	}
	close_fd(&inp[0]);
	close_fd(&outp[1]);
	p->in_fd = inp[1];
	p->out_fd = outp[0];
	fcntl(p->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(p->out_fd, F_SETFL, O_NONBLOCK);
	if (!in_len)
		close_fd(&p->in_fd);
	return 0;
fail:
	close_fd(&inp[0]);
	close_fd(&inp[1]);
	close_fd(&outp[0]);
	close_fd(&outp[1]);
	dl_buf_free(&p->out);
	return DL_EIO;
}

static void feed(dl_notify_proc_t *p)
{
	while (p->in_fd >= 0 && p->in_off < p->in_len) {
		ssize_t w = write(p->in_fd, p->in + p->in_off,
				  p->in_len - p->in_off);

		if (w > 0) {
			p->in_off += (size_t)w;
		} else if (w < 0 && errno == EINTR) {
			continue;
		} else if (w < 0 && errno == EAGAIN) {
			return;
		} else {
			break; /* EPIPE: the command does not read stdin */
		}
	}
	close_fd(&p->in_fd);
}

static void drain(dl_notify_proc_t *p)
{
	char chunk[4096];

	while (p->out_fd >= 0) {
		ssize_t r = read(p->out_fd, chunk, sizeof(chunk));
		size_t room = DL_NOTIFY_OUTPUT_MAX - dl_buf_used(&p->out);

		if (r > 0) {
			size_t keep = (size_t)r < room ? (size_t)r : room;

			dl_buf_append(&p->out, chunk, keep);
			p->out_dropped += (size_t)r - keep;
		} else if (r < 0 && errno == EINTR) {
			continue;
		} else if (r < 0 && errno == EAGAIN) {
			return;
		} else {
			close_fd(&p->out_fd); /* EOF */
		}
	}
}

bool dl_notify_proc_poll(dl_notify_proc_t *p, uint64_t now_ms)
{
	int st;

	feed(p);
	drain(p);
	if (!p->exited && p->pid > 0 &&
	    waitpid(p->pid, &st, WNOHANG) == p->pid) {
		p->exited = true;
		p->status = st;
	}
	if (!p->timed_out && now_ms >= p->deadline_ms &&
	    (!p->exited || p->out_fd >= 0)) {
		/* The command, or something it left holding the pipe. */
		p->timed_out = true;
		kill(-p->pid, SIGKILL);
	}
	if (p->exited && p->timed_out) {
		close_fd(&p->out_fd);
		close_fd(&p->in_fd);
	}
	if (p->exited && p->out_fd < 0) {
		close_fd(&p->in_fd);
		return true;
	}
	return false;
}

int dl_notify_proc_fds(const dl_notify_proc_t *p, struct curl_waitfd *fds)
{
	int n = 0;

	if (p->out_fd >= 0)
		fds[n++] = (struct curl_waitfd){p->out_fd, CURL_WAIT_POLLIN, 0};
	if (p->in_fd >= 0)
		fds[n++] = (struct curl_waitfd){p->in_fd, CURL_WAIT_POLLOUT, 0};
	return n;
}

void dl_notify_proc_kill(dl_notify_proc_t *p)
{
	int st;

	if (p->pid > 0 && !p->exited) {
		kill(-p->pid, SIGKILL);
		if (waitpid(p->pid, &st, 0) == p->pid) {
			p->exited = true;
			p->status = st;
		}
	}
	p->timed_out = true;
}

void dl_notify_proc_free(dl_notify_proc_t *p)
{
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	dl_buf_free(&p->out);
}

void dl_notify_proc_outcome(const dl_notify_proc_t *p, int timeout_s, char *out,
			    size_t outlen)
{
	if (p->timed_out && !(p->exited && WIFEXITED(p->status)))
		snprintf(out, outlen,
			 "timed out after %d s (process group killed)",
			 timeout_s);
	else if (WIFEXITED(p->status))
		snprintf(out, outlen, "exit %d", WEXITSTATUS(p->status));
	else if (WIFSIGNALED(p->status))
		snprintf(out, outlen, "killed by signal %d",
			 WTERMSIG(p->status));
	else
		snprintf(out, outlen, "ended (status %d)", p->status);
}
