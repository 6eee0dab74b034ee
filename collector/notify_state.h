/* notify_state.h - the notifier object and its jobs, shared by
 * notify.c (the loop side: sends, hooks, counters, start and stop),
 * notify_conf.c (channels and hooks from the configuration) and
 * notify_worker.c (the worker thread: transfers, retries, commands).
 * Fields under "shared" are read and written under mu only. Private to
 * collector/notify*.c. */
#ifndef DL_COLLECTOR_NOTIFY_STATE_H
#define DL_COLLECTOR_NOTIFY_STATE_H

#include <curl/curl.h>
#include <pthread.h>

#include "collector/notify.h"
#include "collector/notify_exec.h"
#include "collector/notify_int.h"
#include "common/clock.h"

#define STOP_GRACE_MS 3000 /* in-flight sends when stopping */
#define CONNECT_MAX_S 10
#define IDLE_POLL_MS  1000
#define PROC_POLL_MS  100

typedef struct job job_t;
struct job {
	job_t *next;
	int chan; /* channel index, or -1: a hook command */
	int hook; /* the hook behind it, or -1 */
	json_t *msg;
	dl_notify_done_cb done;
	void *ud;
	int attempt;	 /* attempts started */
	uint64_t due_ms; /* of the next attempt (waiting) */
	dl_notify_body_t body;
	char *stdin_json; /* hook commands */
	size_t up_off;	  /* email upload */
	CURL *easy;
	struct curl_slist *hdrs, *rcpt;
	dl_buf_t answer;
	char errbuf[CURL_ERROR_SIZE];
	bool is_proc;
	dl_notify_proc_t proc;
	char *env[DL_NOTIFY_ENV_MAX];
	bool ok;
	char detail[DL_NOTIFY_ANSWER_MAX + 160];
	char *output; /* a command's output, for the log */
};

typedef struct {
	job_t *head, *tail;
} jobq_t;

struct dl_notify {
	dl_notify_chan_t *chans;
	int nchans;
	dl_notify_hook_t *hooks;
	int nhooks;
	char hostname[256];
	uint64_t uniq;
	/* shared with the worker, under mu */
	pthread_mutex_t mu;
	jobq_t inq, hookq, doneq;
	size_t nsends;	      /* accepted, not yet done */
	size_t nhook_waiting; /* hook commands queued or running */
	bool stopping, exited;
	/* loop side */
	uv_loop_t *loop;
	uv_async_t *async;
	bool started, closed;
	pthread_t thread;
	CURLM *multi;
	uint64_t hook_dropped_logged;
	/* worker side */
	jobq_t ready, ready_hooks, waiting;
	job_t *active;
	int run_http, run_exec, run_hooks;
	bool stop_seen;
	uint64_t stop_deadline;
};

/* ---- queues (FIFO, intrusive) ---- */

static inline void q_push(jobq_t *q, job_t *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static inline job_t *q_pop(jobq_t *q)
{
	job_t *j = q->head;

	if (j && !(q->head = j->next))
		q->tail = NULL;
	return j;
}

static inline void q_append(jobq_t *dst, jobq_t *src)
{
	job_t *j;

	while ((j = q_pop(src)))
		q_push(dst, j);
}

static inline uint64_t mono_ms(void)
{
	return dl_clock_mono_ns() / 1000000u;
}

/* Index of channel name, or -1. */
int dl_notify__find_chan(const dl_notify_t *n, const char *name);
/* Frees a job and what it holds (message, body, handles, env). */
void dl_notify__job_free(job_t *j);
/* The channel or hook a job is for, for logs. */
const char *dl_notify__job_name(const dl_notify_t *n, const job_t *j);
/* The worker thread (arg: the notifier). */
void *dl_notify__worker_main(void *arg);

#endif
