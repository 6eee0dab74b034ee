/* sdnotify.h - the systemd notification protocol (sd_notify(3)): one
 * datagram of "KEY=VALUE\n" lines to the unix socket named by
 * $NOTIFY_SOCKET (a path, or "@name" in the abstract namespace). Written
 * here instead of linking libsystemd for three messages. Without
 * $NOTIFY_SOCKET every call is a no-op, so the daemons behave the same
 * under any other supervisor. Never blocks (MSG_DONTWAIT). */
#ifndef DL_COMMON_SDNOTIFY_H
#define DL_COMMON_SDNOTIFY_H

#include <stdint.h>

/* Sends state ("READY=1", "STOPPING=1", "WATCHDOG=1", "STATUS=..."):
 * 1 sent, 0 no $NOTIFY_SOCKET, or a negative DL_E* code. */
int dl_sd_notify(const char *state);

/* The watchdog period systemd asks for ($WATCHDOG_USEC, honoured only
 * when $WATCHDOG_PID is unset or ours), in ms; 0 = no watchdog. Ping at
 * half of it. */
uint64_t dl_sd_watchdog_ms(void);

#endif
