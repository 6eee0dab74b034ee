/* relay.h - `dockline-collector admin-relay`: what `dockline -H
 * ssh://USER@HOST` runs on the collector host through ssh. It connects
 * to the admin socket as the user who logged in and copies bytes both
 * ways between stdin/stdout (the SSH session) and that socket, so serve
 * sees the SSH user's uid (SO_PEERCRED) exactly as for a local CLI. It
 * decides nothing: the admin socket's mode and group stay the one gate,
 * and serve audits the uid. */
#ifndef DL_COLLECTOR_RELAY_H
#define DL_COLLECTOR_RELAY_H

/* Written to stdout once the admin socket is connected, before any byte
 * of serve's: the CLI reads exactly these bytes to know that ssh logged
 * in and the relay runs (anything else is a login script's chatter or a
 * failure). */
#define DL_RELAY_BANNER "dockline-relay 1\n"

/* Exit codes (ssh passes them to the CLI, which names the cause). */
enum {
	DL_RELAY_EXIT_OK = 0,	   /* either side closed */
	DL_RELAY_EXIT_FAIL = 1,	   /* I/O error (sentence on stderr) */
	DL_RELAY_EXIT_USAGE = 2,   /* bad command line */
	DL_RELAY_EXIT_NOSERVE = 3, /* nobody serves the admin socket */
	DL_RELAY_EXIT_DENIED = 77, /* the socket's permissions refuse us */
};

/* Bytes buffered per direction (each is read only when empty). */
#define DL_RELAY_BUF (64u * 1024u)

/* Connects to socket_path, writes the banner to out_fd, then relays
 * until either side closes. Returns one of the exit codes above; errors
 * go to stderr as sentences starting "admin-relay: ". */
int dl_relay_run(const char *socket_path, int in_fd, int out_fd);

#endif
