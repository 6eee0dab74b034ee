#include "collector/attach.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "proto/admin.h"
#include "proto/msg.h"

#define RELAY_BUF 65536

static int write_all(int fd, const void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t w = write(fd, (const char *)p + off, n - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return DL_EIO;
		off += (size_t)w;
	}
	return 0;
}

static int send_attach(int sock, const char *host)
{
	dl_msg_t m = {.type = DL_MSG_ATTACH};
	dl_buf_t b;
	int rc;

	m.u.attach_host = DL_STR(host);
	dl_buf_init(&b, 4096);
	rc = dl_msg_encode(&b, &m);
	if (rc == 0)
		rc = write_all(sock, dl_buf_head(&b), dl_buf_used(&b));
	dl_buf_free(&b);
	return rc;
}

/* Moves one read's worth from -> to. 1 moved, 0 EOF, <0 error. */
static int pump(int from, int to, char *buf)
{
	ssize_t r = read(from, buf, RELAY_BUF);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return 1;
	if (r <= 0)
		return (int)r;
	return write_all(to, buf, (size_t)r) == 0 ? 1 : -1;
}

static void relay(int in_fd, int out_fd, int sock)
{
	static char buf[RELAY_BUF];
	struct pollfd p[2] = {{.fd = in_fd, .events = POLLIN},
			      {.fd = sock, .events = POLLIN}};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pump(in_fd, sock, buf) <= 0) {
				/* Agent gone: tell serve, let it finish. */
				shutdown(sock, SHUT_WR);
				p[0].fd = -1;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (pump(sock, out_fd, buf) <= 0)
				return;
		}
	}
}

int dl_attach_run(const dl_cconf_t *conf, const char *host, int in_fd,
		  int out_fd)
{
	int sock;

	signal(SIGPIPE, SIG_IGN);
	if (!dl_host_name_valid(host)) {
		fprintf(stderr,
			"dockline-collector attach: invalid host name \"%s\" "
			"(allowed: [a-z0-9][a-z0-9.-]{0,62})\n",
			host);
		return 2;
	}
	sock = dl_admin_connect(conf->agent_socket);
	if (sock < 0) {
		fprintf(stderr,
			"dockline-collector attach: collector is not running "
			"(cannot connect to %s: %s)\n",
			conf->agent_socket, dl_strerror(sock));
		return 1;
	}
	if (send_attach(sock, host) != 0) {
		fprintf(stderr, "dockline-collector attach: collector closed "
				"the connection\n");
		close(sock);
		return 1;
	}
	relay(in_fd, out_fd, sock);
	close(sock);
	return 0;
}
