/* agent.h - the agent's core: ties the Docker watcher, the outbox and the
 * SSH tunnel together in one libuv loop, speaking proto/PROTOCOL.md.
 * It never blocks the loop and never holds more than outbox_max bytes of
 * unacknowledged data. */
#ifndef DL_AGENT_AGENT_H
#define DL_AGENT_AGENT_H

#include "agent/conf.h"

/* Runs until SIGTERM/SIGINT; returns a process exit code. */
int dl_agent_run(const dl_aconf_t *conf);

#endif
