/* notify.c - [notify NAME] channels and [hook NAME] hooks: the
 * configuration, the bounded queues and the one worker thread.
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
#include "collector/notify.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/metrics.h"
#include "collector/notify_exec.h"
#include "collector/notify_int.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/log.h"

#define TAG	      "notify"
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

/* ------------------------------------------------------------ queues */

static void q_push(jobq_t *q, job_t *j)
{
	j->next = NULL;
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
}

static job_t *q_pop(jobq_t *q)
{
	job_t *j = q->head;

	if (j && !(q->head = j->next))
		q->tail = NULL;
	return j;
}

static void q_append(jobq_t *dst, jobq_t *src)
{
	job_t *j;

	while ((j = q_pop(src)))
		q_push(dst, j);
}

static uint64_t mono_ms(void)
{
	return dl_clock_mono_ns() / 1000000u;
}

/* ------------------------------------------------------------ config */

typedef struct {
	dl_notify_t *n;
	const dl_conf_t *c;
	const char *file;
	char *err;
	size_t errlen;
} load_t;

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > DL_NOTIFY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') ||
		      (i && (s[i] == '-' || s[i] == '_' || s[i] == '.'))))
			return false;
	return true;
}

static int bad(load_t *l, const char *sect, const char *key, int line,
	       const char *fmt, const char *a)
{
	char what[512];
	int kl = key ? dl_conf_line(l->c, sect, key) : 0;

	snprintf(what, sizeof(what), fmt, a);
	snprintf(l->err, l->errlen, "%s:%d: [%s] %s", l->file, kl ? kl : line,
		 sect, what);
	return DL_ECONFIG;
}

/* The first line of a small file, trimmed. */
static int read_secret(load_t *l, const char *sect, const char *key, char **out)
{
	const char *path = dl_conf_str(l->c, sect, key, NULL);
	char buf[DL_NOTIFY_SECRET_MAX + 1];
	size_t n = 0;
	ssize_t r;
	int fd;

	if (!path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bad(l, sect, key, 0, "cannot read %s",
			   path); /* errno in the sentence below */
	while (n < sizeof(buf) - 1 &&
	       (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	n = strlen(buf);
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (!n) {
		explicit_bzero(buf, sizeof(buf));
		return bad(l, sect, key, 0, "%s is empty", path);
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : DL_ENOMEM;
}

static int dup_str(char **dst, const char *v)
{
	return v && !(*dst = strdup(v)) ? DL_ENOMEM : 0;
}

static bool url_ok(const char *u, const char *const *schemes)
{
	for (; *schemes; schemes++)
		if (!strncmp(u, *schemes, strlen(*schemes)) &&
		    u[strlen(*schemes)] && !strpbrk(u, " \t\r\n"))
			return true;
	return false;
}

static const char *const chan_common[] = {"kind", "timeout", "retries", NULL};
static const char *const chan_keys[DL_NK__COUNT][16] = {
	[DL_NK_WEBHOOK] = {"url", "header1", "header2", "header3", "header4",
			   "header5", "header6", "header7", "header8",
			   "header9"},
	[DL_NK_SLACK] = {"url"},
	[DL_NK_DISCORD] = {"url"},
	[DL_NK_NTFY] = {"url", "token_file"},
	[DL_NK_GOTIFY] = {"url", "token_file"},
	[DL_NK_TEAMS] = {"url", "card"},
	[DL_NK_EMAIL] = {"smtp_url", "starttls", "from", "to", "username",
			 "password_file"},
	[DL_NK_EXEC] = {"command"},
};

static int check_chan_keys(load_t *l, const char *sect, int kind)
{
	const char *keys[24];
	int k = 0;

	for (int i = 0; chan_common[i]; i++)
		keys[k++] = chan_common[i];
	for (int i = 0; chan_keys[kind][i]; i++)
		keys[k++] = chan_keys[kind][i];
	keys[k] = NULL;
	return dl_conf_check_section(l->c, sect, keys, l->err, l->errlen);
}

static int load_headers(load_t *l, const char *sect, dl_notify_chan_t *ch)
{
	for (int i = 1; i <= DL_NOTIFY_HEADERS; i++) {
		char key[16];
		const char *v, *colon;

		snprintf(key, sizeof(key), "header%d", i);
		if (!(v = dl_conf_str(l->c, sect, key, NULL)))
			continue;
		colon = strchr(v, ':');
		if (!colon || colon == v ||
		    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			      "wxyz"
			      "0123456789-_") != (size_t)(colon - v))
			return bad(l, sect, key, 0,
				   "%s must be \"Name: value\"", key);
		if (dup_str(&ch->headers[ch->nheaders++], v))
			return DL_ENOMEM;
	}
	return 0;
}

static int load_email(load_t *l, const char *sect, dl_notify_chan_t *ch)
{
	static const char *const schemes[] = {"smtp://", "smtps://", NULL};
	const char *v = dl_conf_str(l->c, sect, "smtp_url", NULL);
	const char *st = dl_conf_str(l->c, sect, "starttls", "yes");
	char spec[320], buf[DL_CONF_MAX_VALUE + 1], *save = NULL;

	if (!v || !url_ok(v, schemes))
		return bad(l, sect, "smtp_url", ch->line,
			   "%s needs smtp_url = smtp://HOST:PORT (or smtps://)",
			   "email");
	if (strcmp(st, "yes") && strcmp(st, "no"))
		return bad(l, sect, "starttls", 0,
			   "starttls must be yes or no%s", "");
	ch->starttls = !strcmp(st, "yes");
	v = dl_conf_str(l->c, sect, "from", NULL);
	if (!v || dl_notify_addr_spec(v, spec, sizeof(spec)))
		return bad(l, sect, "from", ch->line,
			   "%s needs from = an address (Name <a@b> or a@b)",
			   "email");
	if (dup_str(&ch->smtp_url, dl_conf_str(l->c, sect, "smtp_url", NULL)) ||
	    dup_str(&ch->from, v) ||
	    dup_str(&ch->username, dl_conf_str(l->c, sect, "username", NULL)) ||
	    read_secret(l, sect, "password_file", &ch->password))
		return l->err[0] ? DL_ECONFIG : DL_ENOMEM;
	v = dl_conf_str(l->c, sect, "to", NULL);
	if (!v)
		return bad(l, sect, NULL, ch->line,
			   "%s needs to = address[, address...]", "email");
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *a = strtok_r(buf, ",", &save); a;
	     a = strtok_r(NULL, ",", &save)) {
		while (*a == ' ')
			a++;
		if (dl_notify_addr_spec(a, spec, sizeof(spec)))
			return bad(l, sect, "to", 0,
				   "to: \"%.128s\" is not an address", a);
		if (ch->nto == DL_NOTIFY_TO_MAX)
			return bad(l, sect, "to", 0,
				   "to: more than %s addresses", "16");
		if (dup_str(&ch->to[ch->nto++], a))
			return DL_ENOMEM;
	}
	if (!ch->nto)
		return bad(l, sect, "to", 0, "to names no address%s", "");
	return 0;
}

static int load_kind(load_t *l, const char *sect, dl_notify_chan_t *ch)
{
	static const char *const http[] = {"http://", "https://", NULL};
	const char *v;
	char err[256];

	switch (ch->kind) {
	case DL_NK_EMAIL: return load_email(l, sect, ch);
	case DL_NK_EXEC:
		v = dl_conf_str(l->c, sect, "command", NULL);
		if (!v)
			return bad(l, sect, NULL, ch->line,
				   "kind = exec needs command = /path args%s",
				   "");
		if (!(ch->argv = dl_notify_argv(v, err, sizeof(err))))
			return bad(l, sect, "command", 0, "%s", err);
		return 0;
	default: break;
	}
	v = dl_conf_str(l->c, sect, "url", NULL);
	if (!v || !url_ok(v, http))
		return bad(l, sect, "url", ch->line,
			   "kind = %s needs url = http(s)://...",
			   dl_notify_kind_name(ch->kind));
	if (dup_str(&ch->url, v))
		return DL_ENOMEM;
	if (ch->kind == DL_NK_WEBHOOK)
		return load_headers(l, sect, ch);
	if (ch->kind == DL_NK_TEAMS) {
		v = dl_conf_str(l->c, sect, "card", "adaptive");
		if (strcmp(v, "adaptive") && strcmp(v, "messagecard"))
			return bad(l, sect, "card", 0,
				   "card must be adaptive or messagecard%s",
				   "");
		ch->adaptive = !strcmp(v, "adaptive");
	}
	if (read_secret(l, sect, "token_file", &ch->token))
		return l->err[0] ? DL_ECONFIG : DL_ENOMEM;
	if (ch->kind == DL_NK_GOTIFY && !ch->token)
		return bad(l, sect, NULL, ch->line,
			   "kind = gotify needs token_file (the app token)%s",
			   "");
	return 0;
}

static int load_chan(void *ud, const char *sect, const char *name, int line)
{
	load_t *l = ud;
	dl_notify_t *n = l->n;
	dl_notify_chan_t *ch, *arr;
	const char *kind = dl_conf_str(l->c, sect, "kind", NULL);
	int64_t v;

	if (!name_ok(name))
		return bad(l, sect, NULL, line,
			   "\"%s\" is not a channel name "
			   "([A-Za-z0-9][A-Za-z0-9._-], at most 63)",
			   name);
	if (!kind)
		return bad(l, sect, NULL, line,
			   "needs kind = webhook, slack, discord, ntfy, "
			   "gotify, teams, email or exec%s",
			   "");
	if (dl_notify_kind_parse(kind) < 0)
		return bad(l, sect, "kind", line,
			   "kind \"%.32s\" is not webhook, slack, discord, "
			   "ntfy, gotify, teams, email or exec",
			   kind);
	if (!(arr = realloc(n->chans, (size_t)(n->nchans + 1) * sizeof(*arr))))
		return DL_ENOMEM;
	n->chans = arr;
	ch = &arr[n->nchans++];
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->line = line;
	ch->kind = (dl_notify_kind_t)dl_notify_kind_parse(kind);
	if (check_chan_keys(l, sect, ch->kind))
		return DL_ECONFIG;
	if (dl_conf_duration(l->c, sect, "timeout", 10, 1, 300, &v, l->err,
			     l->errlen))
		return DL_ECONFIG;
	ch->timeout_s = (int)v;
	if (dl_conf_int(l->c, sect, "retries", 5, 0, 10, &v, l->err, l->errlen))
		return DL_ECONFIG;
	ch->retries = (int)v;
	return load_kind(l, sect, ch);
}

static int find_chan(const dl_notify_t *n, const char *name)
{
	for (int i = 0; n && name && i < n->nchans; i++)
		if (!strcmp(n->chans[i].name, name))
			return i;
	return -1;
}

static int parse_on(load_t *l, const char *sect, dl_notify_hook_t *h)
{
	const char *v = dl_conf_str(l->c, sect, "on", NULL);
	char buf[DL_CONF_MAX_VALUE + 1], *save = NULL;

	if (!v)
		return bad(l, sect, NULL, h->line,
			   "needs on = type:action[, ...] (e.g. "
			   "container:die, host:offline)%s",
			   "");
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = strtok_r(buf, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		char *colon, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		colon = strchr(p, ':');
		if (!colon || colon == p || !colon[1] ||
		    (size_t)(colon - p) >= sizeof(h->on[0].type) ||
		    strlen(colon + 1) >= sizeof(h->on[0].action))
			return bad(l, sect, "on", 0,
				   "on: \"%.64s\" is not type:action (use * "
				   "for any action)",
				   p);
		if (h->non == DL_NOTIFY_ON_MAX)
			return bad(l, sect, "on", 0, "on: more than %s pairs",
				   "32");
		*colon = '\0';
		snprintf(h->on[h->non].type, sizeof(h->on[0].type), "%s", p);
		snprintf(h->on[h->non].action, sizeof(h->on[0].action), "%s",
			 colon + 1);
		h->non++;
	}
	return h->non ? 0
		      : bad(l, sect, "on", 0, "on names no type:action%s", "");
}

static int load_hook(void *ud, const char *sect, const char *name, int line)
{
	static const char *const keys[] = {"on",     "hosts",	"containers",
					   "notify", "command", "timeout",
					   NULL};
	load_t *l = ud;
	dl_notify_t *n = l->n;
	dl_notify_hook_t *h, *arr;
	const char *chan = dl_conf_str(l->c, sect, "notify", NULL);
	const char *cmd = dl_conf_str(l->c, sect, "command", NULL);
	char err[256];
	int64_t v;

	if (!name_ok(name))
		return bad(l, sect, NULL, line,
			   "\"%s\" is not a hook name "
			   "([A-Za-z0-9][A-Za-z0-9._-], at most 63)",
			   name);
	if (dl_conf_check_section(l->c, sect, keys, l->err, l->errlen))
		return DL_ECONFIG;
	if (!(arr = realloc(n->hooks, (size_t)(n->nhooks + 1) * sizeof(*arr))))
		return DL_ENOMEM;
	n->hooks = arr;
	h = &arr[n->nhooks++];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->line = line;
	h->chan = -1;
	if (parse_on(l, sect, h))
		return DL_ECONFIG;
	if (!chan == !cmd)
		return bad(l, sect, NULL, line,
			   "needs either notify = CHANNEL or command = /path "
			   "args%s",
			   "");
	if (chan && (h->chan = find_chan(n, chan)) < 0)
		return bad(l, sect, "notify", 0,
			   "notify = %.64s names no [notify ...] section",
			   chan);
	if (cmd && !(h->argv = dl_notify_argv(cmd, err, sizeof(err))))
		return bad(l, sect, "command", 0, "%s", err);
	if (dup_str(&h->hosts, dl_conf_str(l->c, sect, "hosts", NULL)) ||
	    dup_str(&h->containers,
		    dl_conf_str(l->c, sect, "containers", NULL)))
		return DL_ENOMEM;
	if (dl_conf_duration(l->c, sect, "timeout", 10, 1, 3600, &v, l->err,
			     l->errlen))
		return DL_ECONFIG;
	h->timeout_s = (int)v;
	return 0;
}

static dl_notify_t *notify_new(void)
{
	dl_notify_t *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	pthread_mutex_init(&n->mu, NULL);
	if (gethostname(n->hostname, sizeof(n->hostname) - 1) ||
	    !n->hostname[0])
		snprintf(n->hostname, sizeof(n->hostname), "localhost");
	n->uniq = dl_clock_wall_ns();
	return n;
}

dl_notify_t *dl_notify_load(const char *path, char *err, size_t errlen)
{
	dl_notify_t *n = notify_new();
	dl_conf_t *c;
	load_t l;
	int rc;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!path)
		return n;
	if (!(c = dl_conf_load(path, err, errlen))) {
		dl_notify_free(n);
		return NULL;
	}
	err[0] = '\0';
	l = (load_t){n, c, dl_conf_path(c), err, errlen};
	rc = dl_conf_sections(c, "notify", load_chan, &l);
	if (!rc)
		rc = dl_conf_sections(c, "hook", load_hook, &l);
	dl_conf_free(c);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, dl_strerror(rc));
		dl_notify_free(n);
		return NULL;
	}
	return n;
}

bool dl_notify_has(const dl_notify_t *n, const char *channel)
{
	return find_chan(n, channel) >= 0;
}

/* ------------------------------------------------------------ worker */

static void job_free(job_t *j)
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

static const char *job_name(const dl_notify_t *n, const job_t *j)
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
	uv_async_send(n->async); /* under mu: see worker_main's end */
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

static void *worker_main(void *arg)
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

/* ------------------------------------------------------------ loop side */

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
	const char *name = job_name(n, j);

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
			j->done(j->ud, job_name(n, j), j->ok, j->detail);
		job_free(j);
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
	if (pthread_create(&n->thread, NULL, worker_main, n)) {
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
			job_free(j);
	}
	while ((j = q_pop(&n->inq)) || (j = q_pop(&n->hookq)))
		job_free(j);
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
	return send_as(n, find_chan(n, channel), -1, msg, done, ud);
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
