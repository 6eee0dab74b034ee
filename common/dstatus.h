/* dstatus.h - Docker's container status sentence ("Up 3 minutes
 * (healthy)", "Exited (3) 2 hours ago"), worded at the time asked.
 *
 * Pure functions: the caller gives "now", so the collector can word a
 * status long after the agent's last event, and tests can pin every
 * boundary. Never reads a clock, never allocates. */
#ifndef DL_COMMON_DSTATUS_H
#define DL_COMMON_DSTATUS_H

#include <stddef.h>
#include <stdint.h>

/* Longest sentence dl_docker_status writes, NUL included. */
#define DL_DOCKER_STATUS_MAX 64

/* Docker's units.HumanDuration of d_ns ("Less than a second", "1 second",
 * "About a minute", "3 hours", "2 weeks", ...) into out. A negative
 * duration (clocks apart) reads as "Less than a second", as in Docker. */
void dl_human_duration(int64_t d_ns, char *out, size_t outlen);

/* The sentence `docker ps` shows for a container in state (Docker's
 * State.Status: created, running, paused, restarting, removing, exited,
 * dead) started and finished at the given unix ns (0 = never) with the
 * given exit code and health ("", starting, healthy, unhealthy), as of
 * now_ns. Mirrors moby's container State.String(). out gets "" for a
 * state Docker itself has no words for. Returns out. */
const char *dl_docker_status(uint64_t now_ns, const char *state,
			     uint64_t started_ns, uint64_t finished_ns,
			     int32_t exit_code, const char *health, char *out,
			     size_t outlen);

#endif
