/* attach.h - `dockline-collector attach --host=NAME`: the sshd forced
 * command. Relays the SSH channel (stdin/stdout) to the serve process's
 * agent socket, after an ATTACH frame naming the host. The host name
 * comes from this command line only (written by `dockline enroll` into
 * authorized_keys), never from the agent. */
#ifndef DL_COLLECTOR_ATTACH_H
#define DL_COLLECTOR_ATTACH_H

#include "collector/conf.h"

/* The small relay binary, installed next to dockline-collector (build
 * tree) or in ../libexec/dockline/. */
#define DL_ATTACH_BIN "dockline-attach"

/* Replaces this process with DL_ATTACH_BIN (same arguments) when it is
 * installed; returns when it is not, and the caller runs attach itself. */
void dl_attach_exec_small(char **argv);

/* Returns a process exit code; errors go to stderr as sentences. */
int dl_attach_run(const dl_cconf_t *conf, const char *host, int in_fd,
		  int out_fd);

#endif
