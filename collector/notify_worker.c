/* notify_worker.c - the notifier's one worker thread: renders each
 * send, runs it as a libcurl multi transfer (HTTP, SMTP) or a child
 * process (exec channels, hook commands, at most 4 at once), retries
 * with backoff, and hands outcomes back through doneq. It owns every
 * network byte, timer and child; it never touches the loop. */
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

void dl_notify__job_free(job_t *j)
{
	if (!j)
		return;
	json_decref(j->msg);
	dl_notify_body_free(&j->body);
	free(j->stdin_json);
	if (j->easy)
		curl_easy_cleanup(j->easy);
	curl_slist_free_all(j->hdrs);
	curl_slist_free_all(j->rcpt);
	dl_buf_free(&j->answer);
	if (j->is_proc)
		dl_notify_proc_free(&j->proc);
	dl_notify_env_free(j->env);
	free(j->output);
	free(j);
}

const char *dl_notify__job_name(const dl_notify_t *n, const job_t *j)
{
	return j->chan >= 0 ? n->chans[j->chan].name : n->hooks[j->hook].name;
}

/* Worker: the job is over; the loop hears of it. */
static void finish(dl_notify_t *n, job_t *j, bool ok, const char *detail)
{
	if (j->easy) {
		curl_multi_remove_handle(n->multi, j->easy);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	j->ok = ok;
	if (detail != j->detail)
		snprintf(j->detail, sizeof(j->detail), "%s", detail);
	pthread_mutex_lock(&n->mu);
	if (j->chan < 0)
		n->nhook_waiting--;
	q_push(&n->doneq, j);
	uv_async_send(
		n->async); /* under mu: see dl_notify__worker_main's end */
	pthread_mutex_unlock(&n->mu);
}

static void unlink_active(dl_notify_t *n, job_t *j)
{
	for (job_t **pp = &n->active; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	if (j->chan < 0)
		n->run_hooks--;
	else if (j->is_proc)
		n->run_exec--;
	else
		n->run_http--;
}

/* An attempt ended: retried later, or finished. */
static void attempt_end(dl_notify_t *n, job_t *j, bool ok, bool retry)
{
	const dl_notify_chan_t *ch = j->chan >= 0 ? &n->chans[j->chan] : NULL;

	unlink_active(n, j);
	if (!ok && retry && ch && j->attempt <= ch->retries && !n->stop_seen) {
		uint64_t ms = dl_notify_backoff_ms(j->attempt);

		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "%s: %s; retry %d of %d in %llu s", ch->name,
			  j->detail, j->attempt, ch->retries,
			  (unsigned long long)(ms / 1000));
		if (j->easy) {
			curl_multi_remove_handle(n->multi, j->easy);
			curl_easy_cleanup(j->easy);
			j->easy = NULL;
		}
		curl_slist_free_all(j->hdrs);
		curl_slist_free_all(j->rcpt);
		j->hdrs = j->rcpt = NULL;
		j->due_ms = mono_ms() + ms;
		q_push(&n->waiting, j);
		return;
	}
	finish(n, j, ok, j->detail);
}

static size_t on_answer(char *p, size_t size, size_t nmemb, void *ud)
{
	job_t *j = ud;
	size_t n = size * nmemb,
	       room = DL_NOTIFY_ANSWER_MAX - dl_buf_used(&j->answer);

	dl_buf_append(&j->answer, p, n < room ? n : room);
	return n; /* the rest is read and dropped */
}

static size_t on_upload(char *p, size_t size, size_t nmemb, void *ud)
{
	job_t *j = ud;
	size_t n = size * nmemb, left = j->body.len - j->up_off;

	if (n > left)
		n = left;
	memcpy(p, j->body.body + j->up_off, n);
	j->up_off += n;
	return n;
}

static int add_header(job_t *j, const char *h)
{
	struct curl_slist *s = curl_slist_append(j->hdrs, h);

	if (!s)
		return DL_ENOMEM;
	j->hdrs = s;
	return 0;
}

static int setup_http(const dl_notify_chan_t *ch, job_t *j)
{
	char h[DL_NOTIFY_SECRET_MAX + 64];
	int rc = 0;

	snprintf(h, sizeof(h), "Content-Type: %s", j->body.content_type);
	rc |= add_header(j, h);
	rc |= add_header(j, "User-Agent: dockline-collector/" DL_VERSION);
	rc |= add_header(j, "Expect:");
	for (int i = 0; i < j->body.nheaders; i++)
		rc |= add_header(j, j->body.headers[i]);
	for (int i = 0; i < ch->nheaders; i++)
		rc |= add_header(j, ch->headers[i]);
	if (ch->token) {
		snprintf(h, sizeof(h), "%s%s",
			 ch->kind == DL_NK_GOTIFY ? "X-Gotify-Key: "
						  : "Authorization: Bearer ",
			 ch->token);
		rc |= add_header(j, h);
		explicit_bzero(h, sizeof(h));
	}
	if (rc)
		return DL_ENOMEM;
	curl_easy_setopt(j->easy, CURLOPT_URL, ch->url);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(j->easy, CURLOPT_HTTPHEADER, j->hdrs);
	curl_easy_setopt(j->easy, CURLOPT_POSTFIELDS, j->body.body);
	curl_easy_setopt(j->easy, CURLOPT_POSTFIELDSIZE, (long)j->body.len);
	return 0;
}

static int setup_smtp(const dl_notify_chan_t *ch, job_t *j)
{
	char spec[320];
	struct curl_slist *s;

	if (dl_notify_addr_spec(ch->from, spec, sizeof(spec)))
		return DL_EINVAL;
	curl_easy_setopt(j->easy, CURLOPT_MAIL_FROM, spec);
	for (int i = 0; i < ch->nto; i++) {
		if (dl_notify_addr_spec(ch->to[i], spec, sizeof(spec)) ||
		    !(s = curl_slist_append(j->rcpt, spec)))
			return DL_ENOMEM;
		j->rcpt = s;
	}
	j->up_off = 0;
	curl_easy_setopt(j->easy, CURLOPT_URL, ch->smtp_url);
	curl_easy_setopt(j->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(j->easy, CURLOPT_MAIL_RCPT, j->rcpt);
	curl_easy_setopt(j->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(j->easy, CURLOPT_READFUNCTION, on_upload);
	curl_easy_setopt(j->easy, CURLOPT_READDATA, j);
	curl_easy_setopt(j->easy, CURLOPT_INFILESIZE_LARGE,
			 (curl_off_t)j->body.len);
	curl_easy_setopt(j->easy, CURLOPT_USE_SSL,
			 ch->starttls ? (long)CURLUSESSL_ALL
				      : (long)CURLUSESSL_NONE);
	if (ch->username)
		curl_easy_setopt(j->easy, CURLOPT_USERNAME, ch->username);
	if (ch->password)
		curl_easy_setopt(j->easy, CURLOPT_PASSWORD, ch->password);
	return 0;
}

static int start_transfer(dl_notify_t *n, job_t *j)
{
	const dl_notify_chan_t *ch = &n->chans[j->chan];
	int rc;

	if (!(j->easy = curl_easy_init()))
		return DL_ENOMEM;
	dl_buf_free(&j->answer);
	dl_buf_init(&j->answer, DL_NOTIFY_ANSWER_MAX);
	j->errbuf[0] = '\0';
	curl_easy_setopt(j->easy, CURLOPT_PRIVATE, j);
	curl_easy_setopt(j->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(j->easy, CURLOPT_ERRORBUFFER, j->errbuf);
	curl_easy_setopt(j->easy, CURLOPT_TIMEOUT_MS,
			 (long)ch->timeout_s * 1000L);
	curl_easy_setopt(j->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(ch->timeout_s < CONNECT_MAX_S ? ch->timeout_s
							      : CONNECT_MAX_S) *
				 1000L);
	curl_easy_setopt(j->easy, CURLOPT_WRITEFUNCTION, on_answer);
	curl_easy_setopt(j->easy, CURLOPT_WRITEDATA, j);
	rc = ch->kind == DL_NK_EMAIL ? setup_smtp(ch, j) : setup_http(ch, j);
	if (rc == 0 && curl_multi_add_handle(n->multi, j->easy) != CURLM_OK)
		rc = DL_ENOMEM;
	return rc;
}

static int start_proc(dl_notify_t *n, job_t *j)
{
	char who[DL_NOTIFY_NAME_MAX + 16];
	char **argv;
	const char *in;
	size_t in_len;
	int timeout;

	if (j->chan >= 0) {
		snprintf(who, sizeof(who), "DL_CHANNEL=%s",
			 n->chans[j->chan].name);
		argv = n->chans[j->chan].argv;
		timeout = n->chans[j->chan].timeout_s;
		in = j->body.body;
		in_len = j->body.len;
	} else {
		snprintf(who, sizeof(who), "DL_HOOK=%s",
			 n->hooks[j->hook].name);
		argv = n->hooks[j->hook].argv;
		timeout = n->hooks[j->hook].timeout_s;
		in = j->stdin_json;
		in_len = strlen(j->stdin_json);
	}
	dl_notify_env_free(j->env);
	if (dl_notify_env(j->msg, who, j->env, DL_NOTIFY_ENV_MAX)) {
		snprintf(j->detail, sizeof(j->detail), "out of memory");
		return DL_ENOMEM;
	}
	j->is_proc = true;
	return dl_notify_proc_start(&j->proc, argv, j->env, in, in_len, timeout,
				    mono_ms(), j->detail, sizeof(j->detail));
}

/* Renders once, at the first attempt, then starts this attempt. */
static void start_job(dl_notify_t *n, job_t *j)
{
	const dl_notify_chan_t *ch = j->chan >= 0 ? &n->chans[j->chan] : NULL;
	dl_notify_ctx_t ctx = {time(NULL), n->hostname, n->uniq++};
	int rc = 0;

	j->attempt++;
	j->detail[0] = '\0';
	if (ch && !j->body.body &&
	    (rc = dl_notify_render(ch, j->msg, &ctx, &j->body))) {
		snprintf(j->detail, sizeof(j->detail),
			 "cannot render the message: %s", dl_strerror(rc));
		finish(n, j, false, j->detail);
		return;
	}
	if (!ch && !j->stdin_json &&
	    !(j->stdin_json = json_dumps(j->msg, JSON_COMPACT))) {
		finish(n, j, false, "out of memory");
		return;
	}
	j->next = n->active;
	n->active = j;
	if (!ch) {
		n->run_hooks++;
		rc = start_proc(n, j);
	} else if (ch->kind == DL_NK_EXEC) {
		n->run_exec++;
		rc = start_proc(n, j);
	} else {
		n->run_http++;
		rc = start_transfer(n, j);
		if (rc)
			snprintf(j->detail, sizeof(j->detail),
				 "cannot start the transfer: %s",
				 dl_strerror(rc));
	}
	if (rc)
		attempt_end(n, j, false, false);
}

/* Starts what waits, within the concurrency bounds. */
static void start_ready(dl_notify_t *n)
{
	jobq_t keep = {0};
	job_t *j;

	while ((j = q_pop(&n->ready))) {
		bool exec = n->chans[j->chan].kind == DL_NK_EXEC;

		if ((exec && n->run_exec >= DL_NOTIFY_EXEC_RUN) ||
		    (!exec && n->run_http >= DL_NOTIFY_HTTP_RUN))
			q_push(&keep, j);
		else
			start_job(n, j);
	}
	n->ready = keep;
	while (n->run_hooks < DL_NOTIFY_HOOK_RUN &&
	       (j = q_pop(&n->ready_hooks)))
		start_job(n, j);
}

static bool retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR: return true;
	default: return false;
	}
}

/* The receiver's answer, printable, into detail after prefix. */
static void answer_detail(job_t *j, const char *prefix)
{
	size_t n = dl_buf_used(&j->answer), o;
	const uint8_t *p = dl_buf_head(&j->answer);

	o = (size_t)snprintf(j->detail, sizeof(j->detail), "%s%s", prefix,
			     n ? ": " : "");
	for (size_t i = 0; i < n && o + 1 < sizeof(j->detail); i++)
		j->detail[o++] = p[i] < 0x20 || p[i] == 0x7f ? ' ' : (char)p[i];
	j->detail[o < sizeof(j->detail) ? o : sizeof(j->detail) - 1] = '\0';
}

static void transfer_done(dl_notify_t *n, job_t *j, CURLcode rc)
{
	bool smtp = n->chans[j->chan].kind == DL_NK_EMAIL;
	long code = 0;
	char prefix[64];

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	if (rc != CURLE_OK) {
		snprintf(j->detail, sizeof(j->detail), "%s%s%s",
			 j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc),
			 smtp && code ? "; server said " : "", "");
		if (smtp && code)
			snprintf(j->detail + strlen(j->detail),
				 sizeof(j->detail) - strlen(j->detail), "%ld",
				 code);
		attempt_end(n, j, false,
			    retryable_curl(rc) ||
				    (smtp && code >= 400 && code < 500));
		return;
	}
	snprintf(prefix, sizeof(prefix), "%s %ld", smtp ? "SMTP" : "HTTP",
		 code);
	answer_detail(j, prefix);
	if (smtp || (code >= 200 && code < 300))
		attempt_end(n, j, true, false);
	else
		attempt_end(n, j, false, code >= 500 || code == 429);
}

static void reap_transfers(dl_notify_t *n)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(n->multi, &left))) {
		char *priv = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
		transfer_done(n, (job_t *)priv, m->data.result);
	}
}

static void proc_done(dl_notify_t *n, job_t *j)
{
	int timeout = j->chan >= 0 ? n->chans[j->chan].timeout_s
				   : n->hooks[j->hook].timeout_s;
	const dl_notify_proc_t *p = &j->proc;
	char what[96];
	size_t len = dl_buf_used(&p->out);

	dl_notify_proc_outcome(p, timeout, what, sizeof(what));
	if ((j->output = malloc(len + 64))) {
		memcpy(j->output, dl_buf_head(&p->out), len);
		j->output[len] = '\0';
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)j->output[i] < 0x20)
				j->output[i] = ' ';
		if (p->out_dropped)
			snprintf(j->output + len, 64, " (+%zu bytes dropped)",
				 p->out_dropped);
	}
	snprintf(j->detail, sizeof(j->detail), "%s%s%.*s", what,
		 len ? ": " : "", DL_NOTIFY_ANSWER_MAX,
		 j->output ? j->output : "");
	attempt_end(n, j,
		    !p->timed_out && WIFEXITED(p->status) &&
			    WEXITSTATUS(p->status) == 0,
		    false);
}

static void poll_procs(dl_notify_t *n, uint64_t now)
{
	job_t *j = n->active, *next;

	for (; j; j = next) {
		next = j->next;
		if (j->is_proc && dl_notify_proc_poll(&j->proc, now))
			proc_done(n, j);
	}
}

/* Stopping: nothing new starts, waiting retries end now, what runs
 * gets STOP_GRACE_MS. */
static void stop_work(dl_notify_t *n, uint64_t now)
{
	job_t *j;

	while ((j = q_pop(&n->waiting)))
		finish(n, j, false,
		       j->detail[0] ? j->detail : "collector is stopping");
	while ((j = q_pop(&n->ready)) || (j = q_pop(&n->ready_hooks)))
		finish(n, j, false, "collector is stopping");
	if (now < n->stop_deadline)
		return;
	while ((j = n->active)) {
		if (j->is_proc)
			dl_notify_proc_kill(&j->proc);
		unlink_active(n, j);
		finish(n, j, false, "collector is stopping (send abandoned)");
	}
}

static int wait_ms(dl_notify_t *n, uint64_t now)
{
	long cto = -1;
	uint64_t ms = IDLE_POLL_MS;

	curl_multi_timeout(n->multi, &cto);
	if (cto >= 0 && (uint64_t)cto < ms)
		ms = (uint64_t)cto;
	for (job_t *j = n->waiting.head; j; j = j->next)
		ms = j->due_ms <= now
			     ? 0
			     : (j->due_ms - now < ms ? j->due_ms - now : ms);
	for (job_t *j = n->active; j; j = j->next)
		if (j->is_proc && ms > PROC_POLL_MS)
			ms = PROC_POLL_MS;
	return (int)ms;
}

/* Waiting retries that are due go first. */
static void take_due(dl_notify_t *n, uint64_t now)
{
	jobq_t keep = {0}, due = {0};
	job_t *j;

	while ((j = q_pop(&n->waiting)))
		q_push(j->due_ms <= now ? &due : &keep, j);
	n->waiting = keep;
	q_append(&due, &n->ready);
	n->ready = due;
}

void *dl_notify__worker_main(void *arg)
{
	dl_notify_t *n = arg;
	struct curl_waitfd fds[2 * (DL_NOTIFY_EXEC_RUN + DL_NOTIFY_HOOK_RUN)];

	for (;;) {
		uint64_t now = mono_ms();
		int running, nfds = 0;

		pthread_mutex_lock(&n->mu);
		if (n->stopping && !n->stop_seen) {
			n->stop_seen = true;
			n->stop_deadline = now + STOP_GRACE_MS;
		}
		q_append(&n->ready, &n->inq);
		q_append(&n->ready_hooks, &n->hookq);
		pthread_mutex_unlock(&n->mu);
		if (n->stop_seen) {
			stop_work(n, now);
			if (!n->active)
				break;
		} else {
			take_due(n, now);
			start_ready(n);
		}
		curl_multi_perform(n->multi, &running);
		reap_transfers(n);
		poll_procs(n, now);
		for (job_t *j = n->active; j; j = j->next)
			if (j->is_proc &&
			    nfds + 2 <= (int)(sizeof(fds) / sizeof(fds[0])))
				nfds += dl_notify_proc_fds(&j->proc,
							   fds + nfds);
		curl_multi_poll(n->multi, fds, (unsigned)nfds, wait_ms(n, now),
				NULL);
	}
	/* The loop closes the async handle once it reads exited, so the
	 * last send happens before it can. */
	pthread_mutex_lock(&n->mu);
	n->exited = true;
	uv_async_send(n->async);
	pthread_mutex_unlock(&n->mu);
	return NULL;
}
