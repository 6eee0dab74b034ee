#include "common/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/config.h"
#include "common/err.h"

int dl_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t plen, slen = strlen(state);
	socklen_t alen;
	ssize_t n;
	int fd;

	if (!path || !path[0])
		return 0;
	plen = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || plen >= sizeof(sa.sun_path))
		return DL_EINVAL;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return DL_EIO;
	n = sendto(fd, state, slen, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (struct sockaddr *)&sa, alen);
	close(fd);
	return n == (ssize_t)slen ? 1 : DL_EIO;
}

uint64_t dl_sd_watchdog_ms(void)
{
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	int64_t us, p;

	if (!usec || dl_parse_int(usec, 1, INT64_MAX, &us))
		return 0;
	if (pid && (dl_parse_int(pid, 1, INT32_MAX, &p) || p != getpid()))
		return 0;
	return (uint64_t)us / 1000;
}
