/* deploy.c - pull, run, update and recreate as Docker call sequences.
 *
 *   pull:     POST /images/create (X-Registry-Auth) -> JSON lines -> text
 *   run:      create -> start (a start failure removes what was created)
 *   update:   POST /containers/ID/update
 *   recreate: inspect old -> inspect its image -> [pull] -> create new
 *             under NAME-new-TS with restart policy "no" -> stop old ->
 *             rename old NAME-old-TS -> rename new NAME -> start new ->
 *             wait running (healthy) -> update new to the old's restart
 *             policy -> remove old.
 *   rollback (any step from create on): remove new -> rename old back
 *             -> start old if it ran; the answer says what happened.
 *
 * One Docker call at a time; every completion goes through on_docker,
 * which dispatches on the step it was made for. */
#include "agent/deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/regauth.h"
#include "agent/spec.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/control.h"

#define TAG	     "deploy"
#define LINE_MAX_    (64u * 1024u) /* one pull progress line */
#define BODY_MAX     (4u * 1024u * 1024u)
#define POLL_MS	     500
#define RB_TIMEOUT   30000L /* each rollback call, deadline or not */
#define PATH_LEN     1024
#define NAME_LEN     (DL_CTL_NAME_MAX + 32)
#define STOP_TIMEOUT 10 /* seconds the old container gets to stop */

typedef enum {
	S_PULL,
	S_RUN_CREATE,
	S_RUN_START,
	S_RUN_UNDO,
	S_UPDATE,
	S_INSPECT,
	S_IMAGE,
	S_CREATE,
	S_STOP_OLD,
	S_RENAME_OLD,
	S_RENAME_NEW,
	S_START_NEW,
	S_WAIT,
	S_POLICY,
	S_REMOVE_OLD,
	S_RB_REMOVE_NEW,
	S_RB_RENAME_OLD,
	S_RB_START_OLD,
} step_t;

struct dl_deploy {
	uv_loop_t *loop;
	dl_docker_t *docker;
	dl_docker_req_t *dreq;
	uv_timer_t timer; /* data = this; freed in its close callback */
	dl_deploy_io_t io;
	void *ud;
	bool detached;
	char op[16];
	json_t *args;
	uint64_t deadline_ns; /* 0 = none */
	step_t step;
	/* pull */
	char *line;
	size_t line_n;
	bool line_drop;
	char pull_err[512];
	/* run, recreate */
	char name[NAME_LEN];
	char old_id[80], new_id[80];
	char tmp_new[NAME_LEN], tmp_old[NAME_LEN];
	char img_before[DL_CTL_IMAGE_MAX + 1], img_after[DL_CTL_IMAGE_MAX + 1];
	json_t *old, *img;
	json_t *policy; /* the old's RestartPolicy, given back after probation */
	bool old_running, has_health;
	bool created, stopped, renamed_old, renamed_new;
	uint64_t started_ns, wait_end_ns;
	char why[1024];	   /* the forward path's failure */
	char rb_err[1024]; /* what the rollback could not do */
};

static void on_docker(void *ud, int err, long status, const char *body,
		      size_t len);

static void on_closed(uv_handle_t *h)
{
	dl_deploy_t *dp = h->data;

	json_decref(dp->args);
	json_decref(dp->old);
	json_decref(dp->img);
	json_decref(dp->policy);
	free(dp->line);
	free(dp);
}

/* The end: the answer (unless detached), then the memory. */
static void finish(dl_deploy_t *dp, int status, const char *text)
{
	if (!dp->detached)
		dp->io.done(dp->ud, status, text);
	dp->detached = true;
	uv_close((uv_handle_t *)&dp->timer, on_closed);
}

static void finish_json(dl_deploy_t *dp, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (text)
		finish(dp, 0, text);
	else
		finish(dp, DL_ENOMEM, "out of memory building the answer");
	free(text);
}

static long remaining_ms(const dl_deploy_t *dp)
{
	uint64_t now = dl_clock_mono_ns();

	if (!dp->deadline_ns)
		return 0;
	return now >= dp->deadline_ns
		       ? 1
		       : (long)((dp->deadline_ns - now) / 1000000 + 1);
}

/* Docker's sentence for a failed call ({"message"} or the transport). */
static void docker_why(const dl_deploy_t *dp, int err, long status,
		       const char *body, size_t len, char *out, size_t outlen)
{
	json_t *j;
	const char *msg;

	if (err == DL_ETIMEDOUT) {
		snprintf(out, outlen, "Docker did not answer in time");
		return;
	}
	if (err) {
		snprintf(out, outlen, "%s", dl_docker_last_error(dp->docker));
		return;
	}
	j = body ? json_loadb(body, len, 0, NULL) : NULL;
	msg = json_string_value(json_object_get(j, "message"));
	if (msg)
		snprintf(out, outlen, "%s", msg);
	else
		snprintf(out, outlen, "Docker answered HTTP %ld", status);
	json_decref(j);
}

static bool http_ok(long status)
{
	return (status >= 200 && status < 300) || status == 304;
}

/* One Docker call for step; false (dp untouched) when it cannot start. */
static bool call(dl_deploy_t *dp, step_t step, const char *method,
		 const char *path, const char *body)
{
	bool rb = step >= S_RB_REMOVE_NEW;
	long t = rb ? RB_TIMEOUT : remaining_ms(dp);

	dp->step = step;
	dp->dreq = dl_docker_request(dp->docker, method, path, body, BODY_MAX,
				     t, on_docker, dp);
	return dp->dreq != NULL;
}

/* ---- pull ---------------------------------------------------------- */

/* One JSON progress line: errors kept, status lines shown. */
static void pull_line(dl_deploy_t *dp, const char *p, size_t n)
{
	json_t *j = json_loadb(p, n, 0, NULL);
	const char *e = json_string_value(json_object_get(j, "error"));
	const char *st = json_string_value(json_object_get(j, "status"));
	const char *id = json_string_value(json_object_get(j, "id"));
	const char *pr = json_string_value(json_object_get(j, "progress"));
	char out[1024];
	int w;

	if (e)
		snprintf(dp->pull_err, sizeof(dp->pull_err), "%s", e);
	else if (st && !dp->detached && !strcmp(dp->op, "pull")) {
		w = snprintf(out, sizeof(out), "%s%s%s%s%s\n", id ? id : "",
			     id ? ": " : "", st, pr ? " " : "", pr ? pr : "");
		if (w > 0)
			dp->io.progress(dp->ud, out,
					(size_t)w < sizeof(out)
						? (size_t)w
						: sizeof(out) - 1);
	}
	json_decref(j);
}

static int on_pull_data(void *ud, const char *p, size_t n)
{
	dl_deploy_t *dp = ud;

	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\n') {
			if (!dp->line_drop && dp->line_n)
				pull_line(dp, dp->line, dp->line_n);
			dp->line_n = 0;
			dp->line_drop = false;
		} else if (dp->line_n < LINE_MAX_) {
			dp->line[dp->line_n++] = p[i];
		} else {
			dp->line_drop = true; /* a line this long is noise */
		}
	}
	return 0;
}

static bool start_pull(dl_deploy_t *dp, const char *image)
{
	char from[DL_CTL_IMAGE_MAX + 1], tag[DL_CTL_IMAGE_MAX + 1];
	char path[PATH_LEN], cfg[1024], hdr[DL_REGAUTH_HDR_MAX + 32];
	char auth[DL_REGAUTH_HDR_MAX];
	int rc;

	if (dl_spec_split_image(image, from, sizeof(from), tag, sizeof(tag)))
		return false;
	if (!dp->line && !(dp->line = malloc(LINE_MAX_)))
		return false;
	snprintf(path, sizeof(path),
		 DL_DOCKER_API "/images/create?fromImage=%s%s%s", from,
		 tag[0] ? "&tag=" : "", tag);
	dl_regauth_config_path(cfg, sizeof(cfg));
	rc = dl_regauth_header(cfg, image, auth, sizeof(auth));
	if (rc < 0)
		DL_LOG_WARN(TAG, "%s: %s; pulling without credentials", cfg,
			    dl_strerror(rc));
	if (rc == 1)
		snprintf(hdr, sizeof(hdr), "X-Registry-Auth: %s", auth);
	memset(auth, 0, sizeof(auth));
	dp->step = S_PULL;
	dp->pull_err[0] = '\0';
	dp->dreq = dl_docker_raw_hdr(dp->docker, "POST", path, NULL,
				     rc == 1 ? hdr : NULL, remaining_ms(dp),
				     on_pull_data, on_docker, dp);
	memset(hdr, 0, sizeof(hdr));
	return dp->dreq != NULL;
}

/* ---- recreate ------------------------------------------------------ */

static void rollback(dl_deploy_t *dp);

/* The forward path failed at some step: roll back what was done. */
static void fail_forward(dl_deploy_t *dp, const char *fmt, const char *what)
{
	snprintf(dp->why, sizeof(dp->why), fmt, what);
	DL_LOG_WARN(TAG, "recreate %s: %s; rolling back", dp->name, dp->why);
	rollback(dp);
}

static void rb_note(dl_deploy_t *dp, const char *what, const char *why)
{
	size_t u = strlen(dp->rb_err);

	snprintf(dp->rb_err + u, sizeof(dp->rb_err) - u, "%s%s: %s",
		 u ? "; " : "", what, why);
}

/* The next rollback step still to do, from the flags. */
static void rollback(dl_deploy_t *dp)
{
	char path[PATH_LEN], text[2600];

	if (dp->created) {
		dp->created = false;
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s?force=1&v=1",
			 dp->new_id);
		if (call(dp, S_RB_REMOVE_NEW, "DELETE", path, NULL))
			return;
		rb_note(dp, "removing the new container", "cannot start");
	}
	if (dp->renamed_old) {
		dp->renamed_old = false;
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/rename?name=%s",
			 dp->old_id, dp->name);
		if (call(dp, S_RB_RENAME_OLD, "POST", path, NULL))
			return;
		rb_note(dp, "renaming the old container back", "cannot start");
	}
	if (dp->stopped && dp->old_running) {
		dp->stopped = false;
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/start", dp->old_id);
		if (call(dp, S_RB_START_OLD, "POST", path, NULL))
			return;
		rb_note(dp, "starting the old container", "cannot start");
	}
	if (dp->rb_err[0])
		snprintf(text, sizeof(text),
			 "recreate %s (%s -> %s) failed: %s; rollback "
			 "incomplete: %s",
			 dp->name, dp->img_before, dp->img_after, dp->why,
			 dp->rb_err);
	else
		snprintf(text, sizeof(text),
			 "recreate %s (%s -> %s) failed: %s; rolled back: %s "
			 "runs %s as before",
			 dp->name, dp->img_before, dp->img_after, dp->why,
			 dp->name, dp->img_before);
	finish(dp, DL_EDOCKER, text);
}

/* The create body: the old's configuration with restart policy "no", so
 * a new container that exits during probation stays exited and shows its
 * own exit code instead of being restarted behind our back. */
static json_t *probation_body(dl_deploy_t *dp)
{
	json_t *body = dl_spec_from_inspect(dp->old, dp->img, dp->img_after);
	json_t *hc = json_deep_copy(json_object_get(body, "HostConfig"));
	json_t *rp = json_object_get(json_object_get(dp->old, "HostConfig"),
				     "RestartPolicy");
	const char *name = json_string_value(json_object_get(rp, "Name"));

	if (!body || !hc) {
		json_decref(body);
		json_decref(hc);
		return NULL;
	}
	json_decref(dp->policy);
	dp->policy = name && name[0] && strcmp(name, "no") ? json_deep_copy(rp)
							   : NULL;
	json_object_set_new(
		hc, "RestartPolicy",
		json_pack("{s:s,s:i}", "Name", "no", "MaximumRetryCount", 0));
	json_object_set_new(body, "HostConfig", hc);
	return body;
}

static void start_create(dl_deploy_t *dp)
{
	json_t *body = probation_body(dp);
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	char path[PATH_LEN];

	json_decref(body);
	snprintf(dp->tmp_new, sizeof(dp->tmp_new), "%s-new-%llu", dp->name,
		 (unsigned long long)(dl_clock_wall_ns() / 1000000000ull));
	snprintf(path, sizeof(path), DL_DOCKER_API "/containers/create?name=%s",
		 dp->tmp_new);
	if (!text || !call(dp, S_CREATE, "POST", path, text))
		finish(dp, DL_ENOMEM,
		       "recreate: cannot start the create request; nothing "
		       "was changed");
	free(text);
}

static void poll_new(uv_timer_t *t)
{
	dl_deploy_t *dp = t->data;
	char path[PATH_LEN];

	snprintf(path, sizeof(path), DL_DOCKER_API "/containers/%s/json",
		 dp->new_id);
	if (!call(dp, S_WAIT, "GET", path, NULL))
		fail_forward(dp, "%s", "cannot inspect the new container");
}

static void remove_old(dl_deploy_t *dp)
{
	char path[PATH_LEN];

	snprintf(path, sizeof(path), DL_DOCKER_API "/containers/%s?v=0",
		 dp->old_id);
	if (!call(dp, S_REMOVE_OLD, "DELETE", path, NULL))
		fail_forward(dp, "%s", "cannot remove the old container");
}

/* Probation passed: the old's restart policy (Docker's container update),
 * then the old goes. */
static void passed(dl_deploy_t *dp)
{
	json_t *b;
	char *text;
	char path[PATH_LEN];
	bool ok;

	if (!dp->policy) {
		remove_old(dp);
		return;
	}
	b = json_pack("{s:O}", "RestartPolicy", dp->policy);
	text = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	snprintf(path, sizeof(path), DL_DOCKER_API "/containers/%s/update",
		 dp->new_id);
	ok = text && call(dp, S_POLICY, "POST", path, text);
	free(text);
	if (!ok)
		fail_forward(dp, "%s",
			     "cannot give the new container its restart "
			     "policy");
}

/* The new container's state: done (remove old), failed, or poll again. */
static void judge_new(dl_deploy_t *dp, const json_t *j)
{
	json_t *st = json_object_get(j, "State");
	const char *status = json_string_value(json_object_get(st, "Status"));
	const char *health = json_string_value(
		json_object_get(json_object_get(st, "Health"), "Status"));
	uint64_t now = dl_clock_mono_ns();
	char why[512];

	if (!status || strcmp(status, "running")) {
		snprintf(why, sizeof(why),
			 "the new container stopped (%s, exit code %lld%s%s)",
			 status ? status : "?",
			 (long long)json_integer_value(
				 json_object_get(st, "ExitCode")),
			 json_string_length(json_object_get(st, "Error")) ? ": "
									  : "",
			 json_string_value(json_object_get(st, "Error"))
				 ? json_string_value(
					   json_object_get(st, "Error"))
				 : "");
		fail_forward(dp, "%s", why);
		return;
	}
	if (health && !strcmp(health, "unhealthy")) {
		fail_forward(dp, "%s", "the new container is unhealthy");
		return;
	}
	if ((health && !strcmp(health, "healthy")) ||
	    (!health &&
	     now - dp->started_ns >= DL_DEPLOY_SETTLE_MS * 1000000ull)) {
		passed(dp);
		return;
	}
	if (now >= dp->wait_end_ns) {
		snprintf(why, sizeof(why),
			 "the new container was not %s within %.0f s",
			 health ? "healthy" : "running",
			 (double)(dp->wait_end_ns - dp->started_ns) / 1e9);
		fail_forward(dp, "%s", why);
		return;
	}
	uv_timer_start(&dp->timer, poll_new, POLL_MS, 0);
}

static void done_ok(dl_deploy_t *dp, const char *note)
{
	char summary[1200];

	snprintf(summary, sizeof(summary), "recreated %s: %s -> %s%s%s",
		 dp->name, dp->img_before, dp->img_after, note ? "; " : "",
		 note ? note : "");
	DL_LOG_INFO(TAG, "%s", summary);
	finish_json(dp, json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", dp->new_id,
				  "name", dp->name, "image_before",
				  dp->img_before, "image_after", dp->img_after,
				  "summary", summary));
}

static void wait_ms_set(dl_deploy_t *dp)
{
	json_int_t w = json_integer_value(json_object_get(dp->args, "wait"));
	long ms = (long)(w ? w : DL_DEPLOY_WAIT_S) * 1000,
	     rem = remaining_ms(dp);

	if (rem && rem - DL_DEPLOY_ROLLBACK_MS < ms)
		ms = rem - DL_DEPLOY_ROLLBACK_MS;
	if (ms < DL_DEPLOY_SETTLE_MS + 1000)
		ms = DL_DEPLOY_SETTLE_MS + 1000;
	dp->started_ns = dl_clock_mono_ns();
	dp->wait_end_ns = dp->started_ns + (uint64_t)ms * 1000000ull;
}

/* A recreate step went well: the next one. */
static void recreate_next(dl_deploy_t *dp, const char *body, size_t len)
{
	char path[PATH_LEN];
	json_t *j;
	const char *s;

	switch (dp->step) {
	case S_INSPECT:
		if (!(dp->old = json_loadb(body, len, 0, NULL)) ||
		    !(s = json_string_value(json_object_get(dp->old, "Id"))) ||
		    strlen(s) >= sizeof(dp->old_id)) {
			finish(dp, DL_EDOCKER,
			       "recreate: Docker's inspect answer has no Id");
			return;
		}
		snprintf(dp->old_id, sizeof(dp->old_id), "%s", s);
		s = json_string_value(json_object_get(dp->old, "Name"));
		snprintf(dp->name, sizeof(dp->name), "%s",
			 s ? (s[0] == '/' ? s + 1 : s) : dp->old_id);
		s = json_string_value(json_object_get(
			json_object_get(dp->old, "Config"), "Image"));
		snprintf(dp->img_before, sizeof(dp->img_before), "%s",
			 s ? s : "?");
		s = json_string_value(json_object_get(dp->args, "image"));
		snprintf(dp->img_after, sizeof(dp->img_after), "%s",
			 s ? s : dp->img_before);
		dp->old_running = json_is_true(json_object_get(
			json_object_get(dp->old, "State"), "Running"));
		snprintf(path, sizeof(path), DL_DOCKER_API "/images/%s/json",
			 json_string_value(json_object_get(dp->old, "Image"))
				 ? json_string_value(
					   json_object_get(dp->old, "Image"))
				 : "none");
		if (!call(dp, S_IMAGE, "GET", path, NULL))
			finish(dp, DL_ENOMEM, "recreate: out of memory");
		return;
	case S_IMAGE:
		dp->img = json_loadb(body, len, JSON_DECODE_ANY, NULL);
		if (json_is_true(json_object_get(dp->args, "pull"))) {
			if (!start_pull(dp, dp->img_after))
				finish(dp, DL_ENOMEM,
				       "recreate: cannot start the pull");
			return;
		}
		start_create(dp);
		return;
	case S_PULL: start_create(dp); return;
	case S_CREATE:
		j = json_loadb(body, len, 0, NULL);
		s = json_string_value(json_object_get(j, "Id"));
		if (s && strlen(s) < sizeof(dp->new_id) &&
		    dl_control_name_ok(s)) {
			snprintf(dp->new_id, sizeof(dp->new_id), "%s", s);
			dp->created = true;
		}
		json_decref(j);
		if (!dp->created) {
			finish(dp, DL_EDOCKER,
			       "recreate: Docker's create answer has no Id");
			return;
		}
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/stop?t=%d", dp->old_id,
			 STOP_TIMEOUT);
		if (!call(dp, S_STOP_OLD, "POST", path, NULL))
			fail_forward(dp, "%s", "cannot stop the old container");
		return;
	case S_STOP_OLD:
		dp->stopped = true;
		snprintf(dp->tmp_old, sizeof(dp->tmp_old), "%s-old-%llu",
			 dp->name,
			 (unsigned long long)(dl_clock_wall_ns() /
					      1000000000ull));
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/rename?name=%s",
			 dp->old_id, dp->tmp_old);
		if (!call(dp, S_RENAME_OLD, "POST", path, NULL))
			fail_forward(dp, "%s",
				     "cannot rename the old container");
		return;
	case S_RENAME_OLD:
		dp->renamed_old = true;
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/rename?name=%s",
			 dp->new_id, dp->name);
		if (!call(dp, S_RENAME_NEW, "POST", path, NULL))
			fail_forward(dp, "%s",
				     "cannot rename the new container");
		return;
	case S_RENAME_NEW:
		dp->renamed_new = true;
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/start", dp->new_id);
		if (!call(dp, S_START_NEW, "POST", path, NULL))
			fail_forward(dp, "%s",
				     "cannot start the new container");
		return;
	case S_START_NEW:
		wait_ms_set(dp);
		uv_timer_start(&dp->timer, poll_new, POLL_MS, 0);
		return;
	case S_WAIT:
		j = json_loadb(body, len, 0, NULL);
		judge_new(dp, j);
		json_decref(j);
		return;
	case S_POLICY: remove_old(dp); return;
	default: return;
	}
}

/* A forward recreate step failed with Docker's words in why. */
static void recreate_failed(dl_deploy_t *dp, const char *why)
{
	static const char *const what[] = {
		[S_PULL] = "pulling the image",
		[S_CREATE] = "creating the new container",
		[S_STOP_OLD] = "stopping the old container",
		[S_RENAME_OLD] = "renaming the old container",
		[S_RENAME_NEW] = "renaming the new container",
		[S_START_NEW] = "starting the new container",
		[S_WAIT] = "inspecting the new container",
		[S_POLICY] = "giving the new container its restart policy",
	};
	char text[1400];

	if (dp->step == S_INSPECT || dp->step == S_PULL ||
	    (dp->step == S_CREATE && !dp->created)) {
		snprintf(text, sizeof(text),
			 "recreate%s%s: %s%s%s; nothing was changed",
			 dp->name[0] ? " " : "", dp->name,
			 dp->step == S_INSPECT ? "" : what[dp->step],
			 dp->step == S_INSPECT ? "" : ": ", why);
		finish(dp, DL_EDOCKER, text);
		return;
	}
	snprintf(text, sizeof(text), "%s: %s",
		 what[dp->step] ? what[dp->step] : "a step", why);
	fail_forward(dp, "%s", text);
}

static void rollback_step_done(dl_deploy_t *dp, bool ok, const char *why)
{
	static const char *const what[] = {
		[S_RB_REMOVE_NEW] = "removing the new container",
		[S_RB_RENAME_OLD] = "renaming the old container back",
		[S_RB_START_OLD] = "starting the old container",
	};

	if (!ok)
		rb_note(dp, what[dp->step], why);
	rollback(dp);
}

/* ---- the one completion -------------------------------------------- */

static void on_docker(void *ud, int err, long status, const char *body,
		      size_t len)
{
	dl_deploy_t *dp = ud;
	bool ok = !err && http_ok(status);
	char why[1024] = "", text[1400];
	json_t *j;

	/* DL_ECLOSED (a lost Docker connection, or dl_docker_free) is a
	 * failure like any other: a rollback whose calls cannot start says
	 * so and ends. */
	dp->dreq = NULL;
	if (dp->step == S_IMAGE && !ok) {
		/* The old image is gone: no defaults to leave out. */
		recreate_next(dp, "null", 4);
		return;
	}
	if (!ok)
		docker_why(dp, err, status, body, len, why, sizeof(why));
	else if (dp->step == S_PULL && dp->pull_err[0])
		snprintf(why, sizeof(why), "%s", dp->pull_err), ok = false;
	if (dp->step >= S_RB_REMOVE_NEW) {
		rollback_step_done(dp, ok, why);
		return;
	}
	switch (dp->step) {
	case S_PULL:
		if (strcmp(dp->op, "pull"))
			break;
		if (!ok) {
			snprintf(text, sizeof(text), "pull %s: %s",
				 json_string_value(
					 json_object_get(dp->args, "image")),
				 why);
			finish(dp, status == 404 ? DL_ENOENT : DL_EDOCKER,
			       text);
		} else {
			finish(dp, 0, "");
		}
		return;
	case S_UPDATE:
		if (!ok)
			finish(dp, status == 404 ? DL_ENOENT : DL_EDOCKER, why);
		else
			finish(dp, 0, len ? body : "{\"changed\":true}");
		return;
	case S_RUN_CREATE:
		j = ok ? json_loadb(body, len, 0, NULL) : NULL;
		if (!ok || !json_string_value(json_object_get(j, "Id")) ||
		    !dl_control_name_ok(
			    json_string_value(json_object_get(j, "Id")))) {
			json_decref(j);
			snprintf(text, sizeof(text), "run: %s",
				 ok ? "Docker's answer has no Id" : why);
			finish(dp, status == 404 ? DL_ENOENT : DL_EDOCKER,
			       text);
			return;
		}
		snprintf(dp->new_id, sizeof(dp->new_id), "%s",
			 json_string_value(json_object_get(j, "Id")));
		json_decref(j);
		snprintf(text, sizeof(text),
			 DL_DOCKER_API "/containers/%s/start", dp->new_id);
		if (!call(dp, S_RUN_START, "POST", text, NULL))
			finish(dp, DL_ENOMEM, "run: cannot start the request");
		return;
	case S_RUN_START:
		if (ok) {
			finish_json(dp, json_pack("{s:s,s:s}", "id", dp->new_id,
						  "name", dp->name));
			return;
		}
		snprintf(dp->why, sizeof(dp->why), "%s", why);
		snprintf(text, sizeof(text),
			 DL_DOCKER_API "/containers/%s?force=1&v=1",
			 dp->new_id);
		if (!call(dp, S_RUN_UNDO, "DELETE", text, NULL))
			finish(dp, DL_EDOCKER, dp->why);
		return;
	case S_RUN_UNDO:
		snprintf(text, sizeof(text),
			 "run: starting the container failed: %s; %s", dp->why,
			 ok ? "the container was removed"
			    : "removing it failed too");
		finish(dp, DL_EDOCKER, text);
		return;
	case S_REMOVE_OLD:
		if (ok) {
			done_ok(dp, NULL);
		} else {
			snprintf(text, sizeof(text),
				 "the old container is kept as %s (%s)",
				 dp->tmp_old, why);
			done_ok(dp, text);
		}
		return;
	default: break;
	}
	if (ok)
		recreate_next(dp, body, len);
	else
		recreate_failed(dp, why);
}

/* ---- start --------------------------------------------------------- */

static bool begin(dl_deploy_t *dp)
{
	const json_t *a = dp->args;
	const char *ctr = json_string_value(json_object_get(a, "container"));
	char path[PATH_LEN];
	json_t *b = NULL, *rp;
	char *text;
	bool ok;

	if (!strcmp(dp->op, "pull"))
		return start_pull(
			dp, json_string_value(json_object_get(a, "image")));
	if (!strcmp(dp->op, "recreate")) {
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/json", ctr);
		return call(dp, S_INSPECT, "GET", path, NULL);
	}
	if (!strcmp(dp->op, "run")) {
		const char *name =
			json_string_value(json_object_get(a, "name"));

		snprintf(dp->name, sizeof(dp->name), "%s", name ? name : "");
		b = dl_spec_from_args(a);
		if (name)
			snprintf(path, sizeof(path),
				 DL_DOCKER_API "/containers/create?name=%s",
				 name);
		else
			snprintf(path, sizeof(path),
				 DL_DOCKER_API "/containers/create");
	} else { /* update */
		b = json_object();
		rp = json_object_get(a, "restart");
		if (rp)
			json_object_set_new(
				b, "RestartPolicy",
				dl_spec_restart(json_string_value(rp)));
		if (json_object_get(a, "memory")) {
			json_int_t m = json_integer_value(
				json_object_get(a, "memory"));

			/* Docker refuses a limit above the old swap limit
			 * unless both change: swap goes to twice the
			 * memory, what `docker run --memory` gives. */
			json_object_set_new(b, "Memory", json_integer(m));
			json_object_set_new(b, "MemorySwap",
					    json_integer(2 * m));
		}
		if (json_object_get(a, "cpus"))
			json_object_set_new(
				b, "NanoCpus",
				json_integer(
					(json_int_t)(json_number_value(
							     json_object_get(
								     a,
								     "cpus")) *
							     1e9 +
						     0.5)));
		snprintf(path, sizeof(path),
			 DL_DOCKER_API "/containers/%s/update", ctr);
	}
	text = b ? json_dumps(b, JSON_COMPACT) : NULL;
	json_decref(b);
	ok = text && call(dp, !strcmp(dp->op, "run") ? S_RUN_CREATE : S_UPDATE,
			  "POST", path, text);
	free(text);
	return ok;
}

dl_deploy_t *dl_deploy_start(uv_loop_t *loop, dl_docker_t *docker,
			     const char *op, const json_t *args,
			     long timeout_ms, const dl_deploy_io_t *io,
			     void *ud)
{
	dl_deploy_t *dp = calloc(1, sizeof(*dp));

	if (!dp)
		return NULL;
	if (!(dp->args = json_deep_copy(args))) {
		free(dp);
		return NULL;
	}
	dp->loop = loop;
	dp->docker = docker;
	dp->io = *io;
	dp->ud = ud;
	snprintf(dp->op, sizeof(dp->op), "%s", op);
	if (timeout_ms > 0)
		dp->deadline_ns =
			dl_clock_mono_ns() + (uint64_t)timeout_ms * 1000000ull;
	uv_timer_init(loop, &dp->timer);
	dp->timer.data = dp;
	if (!begin(dp)) {
		dp->detached = true; /* the caller answers: NULL */
		uv_close((uv_handle_t *)&dp->timer, on_closed);
		return NULL;
	}
	return dp;
}

void dl_deploy_detach(dl_deploy_t *dp)
{
	if (!dp)
		return;
	dp->detached = true;
	/* pull alone has nothing to finish: stop it. A recreate or a run
	 * goes on so the host is never left half changed. */
	if (!strcmp(dp->op, "pull") && dp->dreq)
		dl_docker_cancel(dp->dreq);
}
