/* attach.h - `dockline-collector attach --host=NAME`: the sshd forced
 * command. Relays the SSH channel (stdin/stdout) to the serve process's
 * agent socket, after an ATTACH frame naming the host. The host name
 * comes from this command line only (written by `dockline enroll` into
 * authorized_keys), never from the agent. */
#ifndef DL_COLLECTOR_ATTACH_H
#define DL_COLLECTOR_ATTACH_H

#include "collector/conf.h"

/* Returns a process exit code; errors go to stderr as sentences. */
int dl_attach_run(const dl_cconf_t *conf, const char *host, int in_fd,
		  int out_fd);

#endif
