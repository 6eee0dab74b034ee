/* notify.c - [notify NAME] channels and [hook NAME] hooks, the loop
 * side: sends and hook events into bounded queues, outcomes back to
 * their callbacks, counters, start and stop. notify_conf.c reads the
 * configuration, notify_worker.c is the worker thread.
 *
 *   loop thread                      worker thread (libcurl multi)
 *   dl_notify_send ---> inq (<= 1000 sends) --> render, transfer, retry
 *   dl_notify_event --> hookq (<= 256 commands, 4 at once) --> spawn
 *        ^                                                 |
 *        +---- uv_async <---- doneq (outcome, detail) <-----+
 *
 * The loop thread only ever copies a message and takes a mutex; every
 * network byte, every retry timer and every child process belongs to
 * the worker. Each accepted send gets exactly one done callback, on the
 * loop thread, before dl_notify_stop lets the loop end. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/metrics.h"
#include "collector/notify_state.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "notify"

static void count(dl_notify_t *n, job_t *j)
{
	uint64_t *ok, *failed;

	if (j->chan >= 0) {
		ok = &n->chans[j->chan].n_ok;
		failed = &n->chans[j->chan].n_failed;
	} else {
		ok = &n->hooks[j->hook].n_ok;
		failed = &n->hooks[j->hook].n_failed;
	}
	(*(j->ok ? ok : failed))++;
	if (j->hook >= 0 && j->chan >= 0) /* a hook's notify = CHANNEL */
		(*(j->ok ? &n->hooks[j->hook].n_ok
			 : &n->hooks[j->hook].n_failed))++;
}

static void report(dl_notify_t *n, job_t *j)
{
	const char *name = dl_notify__job_name(n, j);

	if (j->chan < 0) {
		if (j->ok)
			DL_LOG_INFO(TAG, "hook %s: %s", name, j->detail);
		else
			DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG, "hook %s: %s", name,
				  j->detail);
		if (j->output && strlen(j->output) > DL_NOTIFY_ANSWER_MAX)
			DL_LOG_INFO(TAG, "hook %s output: %s", name, j->output);
		return;
	}
	if (j->ok)
		DL_LOG_INFO(TAG, "%s: delivered (%s)", name, j->detail);
	else
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "%s: not delivered after %d attempt(s): %s", name,
			  j->attempt, j->detail);
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static void on_async(uv_async_t *a)
{
	dl_notify_t *n = a->data;
	jobq_t done;
	bool exited;
	job_t *j;

	pthread_mutex_lock(&n->mu);
	done = n->doneq;
	n->doneq = (jobq_t){0};
	for (j = done.head; j; j = j->next)
		if (j->chan >= 0)
			n->nsends--;
	exited = n->exited;
	pthread_mutex_unlock(&n->mu);
	while ((j = q_pop(&done))) {
		count(n, j);
		report(n, j);
		if (j->done)
			j->done(j->ud, dl_notify__job_name(n, j), j->ok,
				j->detail);
		dl_notify__job_free(j);
	}
	if (exited && !n->closed) {
		n->closed = true;
		uv_close((uv_handle_t *)a, free_handle);
	}
}

int dl_notify_start(dl_notify_t *n, uv_loop_t *loop)
{
	if (!n || n->started || (!n->nchans && !n->nhooks))
		return 0;
	n->loop = loop;
	if (!(n->multi = curl_multi_init()) ||
	    !(n->async = calloc(1, sizeof(*n->async))))
		return DL_ENOMEM;
	uv_async_init(loop, n->async, on_async);
	n->async->data = n;
	if (pthread_create(&n->thread, NULL, dl_notify__worker_main, n)) {
		uv_close((uv_handle_t *)n->async, free_handle);
		n->async = NULL;
		n->closed = true;
		return DL_EIO;
	}
	n->started = true;
	DL_LOG_INFO(TAG, "%d channel(s), %d hook(s)", n->nchans, n->nhooks);
	return 0;
}

void dl_notify_stop(dl_notify_t *n)
{
	if (!n || !n->started)
		return;
	pthread_mutex_lock(&n->mu);
	n->stopping = true;
	pthread_mutex_unlock(&n->mu);
	curl_multi_wakeup(n->multi);
}

void dl_notify_free(dl_notify_t *n)
{
	job_t *j;

	if (!n)
		return;
	if (n->started) {
		dl_notify_stop(n);
		pthread_join(n->thread, NULL);
		/* the loop has ended: what it did not deliver is dropped */
		while ((j = q_pop(&n->doneq)))
			dl_notify__job_free(j);
	}
	while ((j = q_pop(&n->inq)) || (j = q_pop(&n->hookq)))
		dl_notify__job_free(j);
	if (n->multi)
		curl_multi_cleanup(n->multi);
	for (int i = 0; i < n->nchans; i++) {
		dl_notify_chan_t *ch = &n->chans[i];

		free(ch->url);
		for (int k = 0; k < ch->nheaders; k++)
			free(ch->headers[k]);
		if (ch->token)
			explicit_bzero(ch->token, strlen(ch->token));
		if (ch->password)
			explicit_bzero(ch->password, strlen(ch->password));
		free(ch->token);
		free(ch->password);
		free(ch->smtp_url);
		free(ch->from);
		free(ch->username);
		for (int k = 0; k < ch->nto; k++)
			free(ch->to[k]);
		dl_notify_argv_free(ch->argv);
	}
	for (int i = 0; i < n->nhooks; i++) {
		free(n->hooks[i].hosts);
		free(n->hooks[i].containers);
		dl_notify_argv_free(n->hooks[i].argv);
	}
	free(n->chans);
	free(n->hooks);
	pthread_mutex_destroy(&n->mu);
	free(n);
}

static job_t *job_new(int chan, int hook, const json_t *msg)
{
	job_t *j = calloc(1, sizeof(*j));

	if (!j || !(j->msg = json_deep_copy(msg))) {
		free(j);
		return NULL;
	}
	j->chan = chan;
	j->hook = hook;
	return j;
}

static int send_as(dl_notify_t *n, int chan, int hook, const json_t *msg,
		   dl_notify_done_cb done, void *ud)
{
	size_t size = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	job_t *j;

	if (chan < 0)
		return DL_ENOENT;
	if (!json_is_object(msg) || size == 0)
		return DL_EINVAL;
	if (size > DL_NOTIFY_MSG_MAX)
		return DL_ETOOBIG;
	pthread_mutex_lock(&n->mu);
	if (n->stopping || !n->started) {
		pthread_mutex_unlock(&n->mu);
		return DL_ECLOSED;
	}
	if (n->nsends >= DL_NOTIFY_QUEUE) {
		pthread_mutex_unlock(&n->mu);
		n->chans[chan].n_dropped++;
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "%s: send queue full (%d messages): message dropped",
			  n->chans[chan].name, DL_NOTIFY_QUEUE);
		return DL_EFULL;
	}
	pthread_mutex_unlock(&n->mu);
	if (!(j = job_new(chan, hook, msg)))
		return DL_ENOMEM;
	j->done = done;
	j->ud = ud;
	pthread_mutex_lock(&n->mu);
	n->nsends++;
	q_push(&n->inq, j);
	pthread_mutex_unlock(&n->mu);
	curl_multi_wakeup(n->multi);
	return 0;
}

int dl_notify_send(dl_notify_t *n, const char *channel, const json_t *msg,
		   dl_notify_done_cb done, void *ud)
{
	if (!n)
		return DL_ENOENT;
	return send_as(n, dl_notify__find_chan(n, channel), -1, msg, done, ud);
}

int dl_notify_test(dl_notify_t *n, const char *channel, dl_notify_done_cb done,
		   void *ud)
{
	char sum[320];
	json_t *msg;
	int rc;

	if (!n)
		return DL_ENOENT;
	snprintf(sum, sizeof(sum), "dockline test message from %s",
		 n->hostname);
	if (!(msg = json_pack("{s:s,s:s}", "kind", "test", "summary", sum)))
		return DL_ENOMEM;
	rc = dl_notify_send(n, channel, msg, done, ud);
	json_decref(msg);
	return rc;
}

/* {"kind":"event", ...the row..., "hook", "summary"}: docs/ALERTS.md. */
static void hook_notify(dl_notify_t *n, int h, const json_t *event)
{
	json_t *msg = json_deep_copy(event);
	char title[256];
	int rc;

	if (!msg)
		return;
	dl_notify_title(event, title, sizeof(title));
	json_object_set_new(msg, "kind", json_string("event"));
	json_object_set_new(msg, "hook", json_string(n->hooks[h].name));
	json_object_set_new(msg, "summary", json_string(title + 8));
	rc = send_as(n, n->hooks[h].chan, h, msg, NULL, NULL);
	if (rc && rc != DL_ECLOSED) {
		n->hooks[h].n_dropped++;
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "hook %s: cannot send to %s: %s", n->hooks[h].name,
			  n->chans[n->hooks[h].chan].name, dl_strerror(rc));
	}
	json_decref(msg);
}

static void hook_command(dl_notify_t *n, int h, const json_t *event)
{
	job_t *j;
	bool full;

	pthread_mutex_lock(&n->mu);
	full = n->nhook_waiting >= DL_NOTIFY_HOOK_QUEUE;
	if (!full && !n->stopping && n->started &&
	    (j = job_new(-1, h, event))) {
		n->nhook_waiting++;
		q_push(&n->hookq, j);
	} else {
		full = !n->stopping;
	}
	pthread_mutex_unlock(&n->mu);
	if (full) {
		n->hooks[h].n_dropped++;
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "hook %s: %d commands already wait: event %s:%s "
			  "dropped",
			  n->hooks[h].name, DL_NOTIFY_HOOK_QUEUE,
			  json_string_value(json_object_get(event, "type")),
			  json_string_value(json_object_get(event, "action")));
		return;
	}
	curl_multi_wakeup(n->multi);
}

void dl_notify_event(dl_notify_t *n, const json_t *event)
{
	if (!n || !json_is_object(event))
		return;
	for (int h = 0; h < n->nhooks; h++) {
		if (!dl_notify_hook_match(&n->hooks[h], event))
			continue;
		if (n->hooks[h].chan >= 0)
			hook_notify(n, h, event);
		else
			hook_command(n, h, event);
	}
}

bool dl_notify_has_hooks(const dl_notify_t *n)
{
	return n && n->nhooks > 0;
}

/* ------------------------------------------------------------ admin */

static json_t *chan_json(const dl_notify_chan_t *ch)
{
	char target[512] = "";

	if (ch->url)
		dl_notify_url_redact(ch->url, target, sizeof(target));
	else if (ch->smtp_url)
		dl_notify_url_redact(ch->smtp_url, target, sizeof(target));
	else if (ch->argv)
		snprintf(target, sizeof(target), "%s", ch->argv[0]);
	return json_pack("{s:s,s:s,s:s,s:i,s:i,s:I,s:I,s:I}", "name", ch->name,
			 "kind", dl_notify_kind_name(ch->kind), "target",
			 target, "timeout_s", ch->timeout_s, "retries",
			 ch->retries, "sent", (json_int_t)ch->n_ok, "failed",
			 (json_int_t)ch->n_failed, "dropped",
			 (json_int_t)ch->n_dropped);
}

static json_t *hook_json(const dl_notify_t *n, const dl_notify_hook_t *h)
{
	json_t *on = json_array(), *o;
	char pair[160];

	for (int i = 0; on && i < h->non; i++) {
		snprintf(pair, sizeof(pair), "%s:%s", h->on[i].type,
			 h->on[i].action);
		json_array_append_new(on, json_string(pair));
	}
	o = json_pack("{s:s,s:o,s:s,s:s,s:I,s:I,s:I}", "name", h->name, "on",
		      on, "hosts", h->hosts ? h->hosts : "*", "containers",
		      h->containers ? h->containers : "*", "ok",
		      (json_int_t)h->n_ok, "failed", (json_int_t)h->n_failed,
		      "dropped", (json_int_t)h->n_dropped);
	if (o && h->chan >= 0)
		json_object_set_new(o, "notify",
				    json_string(n->chans[h->chan].name));
	else if (o)
		json_object_set_new(o, "command", json_string(h->argv[0]));
	return o;
}

json_t *dl_notify_list(const dl_notify_t *n)
{
	json_t *chans = json_array(), *hooks = json_array();

	for (int i = 0; n && chans && i < n->nchans; i++)
		json_array_append_new(chans, chan_json(&n->chans[i]));
	for (int i = 0; n && hooks && i < n->nhooks; i++)
		json_array_append_new(hooks, hook_json(n, &n->hooks[i]));
	return json_pack("{s:o*,s:o*}", "channels", chans, "hooks", hooks);
}

static int family(dl_buf_t *b, const char *name, const char *help,
		  const char *label, int count,
		  const char *(*nm)(const dl_notify_t *, int),
		  const uint64_t *(*ctr)(const dl_notify_t *, int),
		  const dl_notify_t *n)
{
	static const char *const results[] = {"ok", "failed", "dropped"};
	char line[128];
	int rc = 0;

	snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s counter\n", name,
		 help, name);
	rc |= dl_buf_append(b, line, strlen(line));
	for (int i = 0; i < count; i++) {
		const uint64_t *c = ctr(n, i);

		for (int r = 0; r < 3; r++) {
			snprintf(line, sizeof(line), "%s{%s=\"", name, label);
			rc |= dl_buf_append(b, line, strlen(line));
			rc |= dl_metrics_label(b, nm(n, i));
			snprintf(line, sizeof(line), "\",result=\"%s\"} %llu\n",
				 results[r], (unsigned long long)c[r]);
			rc |= dl_buf_append(b, line, strlen(line));
		}
	}
	return rc ? DL_ETOOBIG : 0;
}

static const char *chan_nm(const dl_notify_t *n, int i)
{
	return n->chans[i].name;
}

static const uint64_t *chan_ctr(const dl_notify_t *n, int i)
{
	return &n->chans[i].n_ok;
}

static const char *hook_nm(const dl_notify_t *n, int i)
{
	return n->hooks[i].name;
}

static const uint64_t *hook_ctr(const dl_notify_t *n, int i)
{
	return &n->hooks[i].n_ok;
}

int dl_notify_metrics(const dl_notify_t *n, dl_buf_t *b)
{
	if (!n || (!n->nchans && !n->nhooks))
		return 0;
	return family(b, "dockline_notifications_total",
		      "Notifications by channel and final outcome", "channel",
		      n->nchans, chan_nm, chan_ctr, n) ||
			       family(b, "dockline_hook_runs_total",
				      "Hook runs by hook and final outcome",
				      "hook", n->nhooks, hook_nm, hook_ctr, n)
		       ? DL_ETOOBIG
		       : 0;
}
