/* attach_exec.c - `dockline-collector attach` hands over to the small
 * dockline-attach binary. sshd starts one attach per agent session, so
 * what each of them maps and dirties counts a thousand times; the
 * collector binary also loads SQLite, OpenSSL, libwebsockets, libuv and
 * jansson, none of which a relay needs. Kept out of attach.c so the
 * small binary does not carry it. */
#include "collector/attach.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int try_exec(const char *dir, const char *rel, char **argv)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s" DL_ATTACH_BIN, dir, rel);

	if (n < 0 || (size_t)n >= sizeof(path) || access(path, X_OK) != 0)
		return -1;
	argv[0] = path;
	execv(path, argv);
	return -1; /* exec failed: run in this process */
}

void dl_attach_exec_small(char **argv)
{
	char self[PATH_MAX], *slash, *argv0 = argv[0];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n <= 0)
		return;
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (!slash)
		return;
	*slash = '\0';
	if (try_exec(self, "", argv) != 0)
		try_exec(self, "../libexec/dockline/", argv);
	argv[0] = argv0;
}
