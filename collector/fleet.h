/* fleet.h - the per-host results of a fleet-wide command (`dockline
 * restart --hosts 'web-*' ...`): each host's outcome from the CLI's exit
 * code and message, and the table or JSON that shows them. Pure: the
 * CLI runs the hosts, this module only words and prints the results. */
#ifndef DL_COLLECTOR_FLEET_H
#define DL_COLLECTOR_FLEET_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define DL_FLEET_MSG_MAX   512
#define DL_FLEET_HOSTS_MAX 10000

typedef struct {
	char host[256];
	const char *result; /* "ok", "failed", "offline", "refused",
			       "skipped" */
	int exit_code;	    /* the one-host command's */
	char message[DL_FLEET_MSG_MAX];
} dl_fleet_result_t;

/* Fills res's result and message from a one-host run: its exit code and
 * what it wrote (the last non-empty line of stderr without "dockline: ",
 * else of stdout). With cmd (exec), the exit code is the command's own:
 * 3 and 5 do not mean offline and refused, anything but 0 is failed. */
void dl_fleet_classify(dl_fleet_result_t *res, int exit_code, bool cmd,
		       const char *out, const char *err);

/* HOST RESULT MESSAGE rows, or with json a JSON array of {host, result,
 * exit_code, message}. */
void dl_fleet_print(FILE *f, const dl_fleet_result_t *res, size_t n, bool json);

/* 0 when every host is ok, else 1 (some host failed, was offline,
 * refused or skipped). */
int dl_fleet_exit(const dl_fleet_result_t *res, size_t n);

#endif
