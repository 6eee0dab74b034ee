/* relay: dl_relay_run against a real unix socket in a child process:
 * the banner comes first, bytes cross both ways (more than one buffer's
 * worth, so the bounded buffers refill), stdin at EOF ends the relay
 * with exit 0 and closes the admin connection; the socket closing first
 * ends it after what was sent has arrived; no socket is exit 3. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/relay.h"
#include "test.h"

#define BIG (3 * DL_RELAY_BUF + 123)

static char sock_path[108];

static int listen_at(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	ASSERT(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	ASSERT_EQ(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ASSERT_EQ(listen(fd, 4), 0);
	return fd;
}

/* The relay in a child with pipes for its stdin (*in: we write) and
 * stdout (*out: we read). */
static pid_t start_relay(const char *path, int *in, int *out)
{
	int a[2], b[2];
	pid_t pid;

	ASSERT_EQ(pipe(a), 0);
	ASSERT_EQ(pipe(b), 0);
	pid = fork();
	ASSERT(pid >= 0);
	if (pid == 0) {
		close(a[1]);
		close(b[0]);
		_exit(dl_relay_run(path, a[0], b[1]));
	}
	close(a[0]);
	close(b[1]);
	*in = a[1];
	*out = b[0];
	return pid;
}

static void read_n(int fd, char *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		ASSERT(r > 0);
		p += r;
		n -= (size_t)r;
	}
}

static void write_n(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		ASSERT(w > 0);
		p += w;
		n -= (size_t)w;
	}
}

static int exit_of(pid_t pid)
{
	int st;

	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	ASSERT(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static char *pattern(char seed)
{
	char *p = malloc(BIG);

	ASSERT(p != NULL);
	for (size_t i = 0; i < BIG; i++)
		p[i] = (char)(seed + i % 251);
	return p;
}

static void test_both_ways_then_stdin_eof(void)
{
	int lfd = listen_at(sock_path), in, out, afd;
	char banner[32], *up = pattern(1), *down = pattern(7);
	char *got = malloc(BIG), c;
	pid_t pid = start_relay(sock_path, &in, &out), w1, w2;
	size_t n = strlen(DL_RELAY_BANNER);

	afd = accept(lfd, NULL, NULL);
	ASSERT(afd >= 0);
	read_n(out, banner, n);
	ASSERT(memcmp(banner, DL_RELAY_BANNER, n) == 0);
	/* Both ways at once from two writer processes; we read serve's
	 * side to the end before the session's: the down direction stuck
	 * (nobody reads stdout yet) must not stop the up one. */
	if ((w1 = fork()) == 0) {
		write_n(afd, down, BIG);
		_exit(0);
	}
	if ((w2 = fork()) == 0) {
		write_n(in, up, BIG);
		_exit(0);
	}
	read_n(afd, got, BIG);
	ASSERT(memcmp(got, up, BIG) == 0);
	read_n(out, got, BIG);
	ASSERT(memcmp(got, down, BIG) == 0);
	ASSERT_EQ(exit_of(w1), 0);
	ASSERT_EQ(exit_of(w2), 0);
	close(in); /* the CLI went away */
	ASSERT_EQ(exit_of(pid), DL_RELAY_EXIT_OK);
	ASSERT_EQ(read(afd, &c, 1), 0); /* serve sees EOF */
	close(afd);
	close(out);
	close(lfd);
	free(up);
	free(down);
	free(got);
}

static void test_serve_closes_after_answer(void)
{
	int lfd = listen_at(sock_path), in, out, afd;
	char buf[64];
	pid_t pid = start_relay(sock_path, &in, &out);
	size_t n = strlen(DL_RELAY_BANNER);

	afd = accept(lfd, NULL, NULL);
	ASSERT(afd >= 0);
	write_n(afd, "last words", 10);
	close(afd);
	read_n(out, buf, n + 10);
	ASSERT(memcmp(buf + n, "last words", 10) == 0);
	ASSERT_EQ(exit_of(pid), DL_RELAY_EXIT_OK);
	ASSERT_EQ(read(out, buf, 1), 0);
	close(in);
	close(out);
	close(lfd);
}

static void test_no_collector(void)
{
	int in, out;
	char c;
	pid_t pid;

	unlink(sock_path);
	pid = start_relay(sock_path, &in, &out);
	ASSERT_EQ(exit_of(pid), DL_RELAY_EXIT_NOSERVE);
	ASSERT_EQ(read(out, &c, 1), 0); /* no banner */
	close(in);
	close(out);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	snprintf(sock_path, sizeof(sock_path), "/tmp/dl-test-relay.%d.sock",
		 (int)getpid());
	test_both_ways_then_stdin_eof();
	test_serve_closes_after_answer();
	test_no_collector();
	unlink(sock_path);
	printf("ok\n");
	return 0;
}
