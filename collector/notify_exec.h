/* notify_exec.h - one command of an exec channel or a hook, run by the
 * notify worker thread without blocking it (notify_exec.c). Never
 * through a shell; never longer than its timeout (then its whole
 * process group is killed); never more than DL_NOTIFY_OUTPUT_MAX bytes
 * of output kept. Worker thread only. */
#ifndef DL_COLLECTOR_NOTIFY_EXEC_H
#define DL_COLLECTOR_NOTIFY_EXEC_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "collector/notify_int.h"
#include "common/buf.h"

typedef struct {
	pid_t pid;
	int in_fd, out_fd; /* -1 when closed */
	const char *in;	   /* stdin bytes, borrowed until the end */
	size_t in_len, in_off;
	dl_buf_t out; /* stdout + stderr, the first DL_NOTIFY_OUTPUT_MAX */
	size_t out_dropped;
	uint64_t deadline_ms;
	bool timed_out, exited;
	int status; /* waitpid's */
} dl_notify_proc_t;

/* Spawns argv with env (both NULL-terminated, borrowed for the call).
 * 0, or DL_EIO with a sentence in err. */
int dl_notify_proc_start(dl_notify_proc_t *p, char **argv, char **env,
			 const char *in, size_t in_len, int timeout_s,
			 uint64_t now_ms, char *err, size_t errlen);
/* Moves stdin and output along, reaps, enforces the deadline. Whether
 * the command is over (exited, output read to EOF or given up). */
bool dl_notify_proc_poll(dl_notify_proc_t *p, uint64_t now_ms);
/* Its fds to wait on (at most 2 written). */
int dl_notify_proc_fds(const dl_notify_proc_t *p, struct curl_waitfd *fds);
/* Kills the process group now and reaps (stopping). */
void dl_notify_proc_kill(dl_notify_proc_t *p);
void dl_notify_proc_free(dl_notify_proc_t *p);
/* "exit 0", "killed by signal 9", "timed out after 10 s (...)". */
void dl_notify_proc_outcome(const dl_notify_proc_t *p, int timeout_s, char *out,
			    size_t outlen);

#endif
