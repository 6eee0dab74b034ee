/* relay.c - the admin relay: poll() over three descriptors, one fixed
 * buffer per direction (DL_RELAY_BUF), read only into an empty buffer,
 * so memory stays at 2 x 64 KiB whatever the peers do. No threads, no
 * libuv: one connection, one process, started by sshd.
 *
 *   stdin  (ssh session) --up-->   admin socket (serve)
 *   stdout (ssh session) <--down-- admin socket
 *
 * stdin at EOF (the CLI closed, was interrupted, or ssh died) ends the
 * relay at once: closing the admin connection is what makes serve stop
 * a log stream or drop a subscriber. The admin socket at EOF ends it
 * after what serve sent has been written out. */
#include "collector/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fdio.h"
#include "proto/admin.h"

typedef struct {
	char b[DL_RELAY_BUF];
	size_t off, len;
} half_t;

static void user_name(char *out, size_t n)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, n, "%s", pw.pw_name);
	else
		snprintf(out, n, "uid %u", (unsigned)getuid());
}

static void group_name(gid_t gid, char *out, size_t n)
{
	struct group gr, *res = NULL;
	char buf[4096];

	if (getgrgid_r(gid, &gr, buf, sizeof(buf), &res) == 0 && res)
		snprintf(out, n, "%s", gr.gr_name);
	else
		snprintf(out, n, "gid %u", (unsigned)gid);
}

static bool in_group(gid_t gid)
{
	gid_t groups[256];
	int n = getgroups(256, groups);

	if (getegid() == gid)
		return true;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* EACCES: says which group the socket (or, when even that cannot be
 * looked at, its directory) belongs to, and whether we are in it. */
static void explain_denied(const char *path)
{
	char user[64], group[64], owner[64], dir[1024];
	struct stat st;
	const char *what = "admin socket";
	char *slash;

	user_name(user, sizeof(user));
	if (stat(path, &st) != 0) {
		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash && slash != dir)
			*slash = '\0';
		if (stat(dir, &st) != 0) {
			fprintf(stderr,
				"admin-relay: %s may not reach the admin "
				"socket "
				"%s (permission denied)\n",
				user, path);
			return;
		}
		what = "directory of the admin socket";
		path = dir;
	}
	group_name(st.st_gid, group, sizeof(group));
	{
		struct passwd pw, *res = NULL;
		char buf[1024];

		if (getpwuid_r(st.st_uid, &pw, buf, sizeof(buf), &res) == 0 &&
		    res)
			snprintf(owner, sizeof(owner), "%s", pw.pw_name);
		else
			snprintf(owner, sizeof(owner), "%u",
				 (unsigned)st.st_uid);
	}
	if (!in_group(st.st_gid))
		fprintf(stderr,
			"admin-relay: %s is not in group %s (the %s %s is "
			"%04o %s:%s); whoever administers the collector adds "
			"%s to %s\n",
			user, group, what, path, (unsigned)(st.st_mode & 07777),
			owner, group, user, group);
	else
		fprintf(stderr,
			"admin-relay: %s is in group %s but may not open %s "
			"(%04o %s:%s)\n",
			user, group, path, (unsigned)(st.st_mode & 07777),
			owner, group);
}

static int connect_admin(const char *path)
{
	int fd = dl_admin_connect(path);

	if (fd >= 0)
		return fd;
	if (fd == DL_EAUTH) {
		explain_denied(path);
		return -DL_RELAY_EXIT_DENIED;
	}
	if (fd == DL_ENOENT || fd == DL_ECONNREFUSED) {
		fprintf(stderr,
			"admin-relay: the collector is not running (%s at "
			"%s)\n",
			fd == DL_ENOENT ? "no socket" : "nothing listens",
			path);
		return -DL_RELAY_EXIT_NOSERVE;
	}
	fprintf(stderr, "admin-relay: cannot connect to %s: %s\n", path,
		dl_strerror(fd));
	return -DL_RELAY_EXIT_FAIL;
}

/* 1 moved bytes (or nothing to do yet), 0 EOF, -1 error. */
static int fill(half_t *h, int fd)
{
	ssize_t r = read(fd, h->b, sizeof(h->b));

	if (r < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	if (r == 0)
		return 0;
	h->off = 0;
	h->len = (size_t)r;
	return 1;
}

static int drain(half_t *h, int fd)
{
	ssize_t w = write(fd, h->b + h->off, h->len - h->off);

	if (w < 0)
		return errno == EAGAIN || errno == EINTR ? 1 : -1;
	h->off += (size_t)w;
	if (h->off == h->len)
		h->off = h->len = 0;
	return 1;
}

/* Both directions until one side ends. A descriptor with nothing to do
 * is left out of poll() (fd -1): a hang-up is reported whatever the
 * events, and would spin while the other side drains. */
static int pump(int in_fd, int out_fd, int afd, half_t *up, half_t *down)
{
	struct pollfd p[3];
	short aev;
	int rc;

	for (;;) {
		aev = (short)((up->len ? POLLOUT : 0) |
			      (down->len ? 0 : POLLIN));
		p[0] = (struct pollfd){.fd = up->len ? -1 : in_fd,
				       .events = POLLIN};
		p[1] = (struct pollfd){.fd = aev ? afd : -1, .events = aev};
		p[2] = (struct pollfd){.fd = down->len ? out_fd : -1,
				       .events = POLLOUT};
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return DL_RELAY_EXIT_FAIL;
		}
		if (p[0].revents) {
			rc = fill(up, in_fd);
			if (rc <= 0)
				return rc ? DL_RELAY_EXIT_FAIL
					  : DL_RELAY_EXIT_OK;
		}
		if ((p[1].revents & (POLLOUT | POLLERR | POLLHUP)) && up->len &&
		    drain(up, afd) < 0)
			return DL_RELAY_EXIT_OK; /* serve closed */
		if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    !down->len && fill(down, afd) <= 0)
			return DL_RELAY_EXIT_OK; /* serve closed */
		/* (the session's reader gone: write fails, the relay ends) */
		if (p[2].revents && down->len && drain(down, out_fd) < 0)
			return DL_RELAY_EXIT_OK;
	}
}

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl >= 0)
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

int dl_relay_run(const char *socket_path, int in_fd, int out_fd)
{
	half_t *up = calloc(1, sizeof(*up)), *down = calloc(1, sizeof(*down));
	int afd, rc;

	signal(SIGPIPE, SIG_IGN);
	if (!up || !down) {
		free(up);
		free(down);
		fprintf(stderr, "admin-relay: out of memory\n");
		return DL_RELAY_EXIT_FAIL;
	}
	afd = connect_admin(socket_path);
	if (afd < 0) {
		free(up);
		free(down);
		return -afd;
	}
	if (dl_write_all(out_fd, DL_RELAY_BANNER, strlen(DL_RELAY_BANNER))) {
		close(afd);
		free(up);
		free(down);
		return DL_RELAY_EXIT_OK; /* the session is already gone */
	}
	set_nonblock(in_fd);
	set_nonblock(out_fd);
	set_nonblock(afd);
	rc = pump(in_fd, out_fd, afd, up, down);
	close(afd);
	free(up);
	free(down);
	return rc;
}
