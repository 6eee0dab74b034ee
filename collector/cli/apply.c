/* apply.c - `dockline apply HOST FILE [--down] [--wait 60s]`: a stack file
 * (collector/stack.h, docs/DEPLOY.md) made real on one host with the
 * ordinary control ops: inspect, run, start, rm.
 *
 * Everything is inspected before anything changes, so a container that
 * exists under another image stops the apply with the host untouched.
 * A container that exists with the file's image is left alone (started
 * if it is stopped): applying twice changes nothing. Each container that
 * others depend on must run (be healthy, when it has a health check)
 * before the next one starts. --down removes in reverse order. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "collector/conf.h"
#include "collector/stack.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "proto/admin.h"
#include "proto/control.h"

#define WAIT_DEFAULT_S 60
#define CALL_TIMEOUT_S 30
#define RUN_TIMEOUT_S  120
#define POLL_MS	       500

/* The end of one control call that failed: for the sentence and the
 * exit code. */
typedef struct {
	char status[32];
	char code[32];
	char error[512];
} answer_t;

enum { MISSING, STOPPED, RUNNING }; /* what inspect found */

typedef struct {
	const dl_cli_t *cli;
	const char *host;
	dl_stack_t *s;
	int64_t wait_s;
	int state[DL_STACK_MAX];
} apply_t;

static int usage_error(const char *msg)
{
	fprintf(stderr, "dockline: %s\n", msg);
	return DL_CLI_EXIT_USAGE;
}

/* One control request on host; its data (caller owns) or NULL with a. */
static json_t *ctl(const apply_t *ap, const char *action, json_t *args,
		   int64_t timeout_s, answer_t *a)
{
	json_t *req =
		json_pack("{s:s,s:s,s:s,s:o,s:I}", "op", "control", "host",
			  ap->host, "action", action, "args", args,
			  "timeout_ms", (json_int_t)(timeout_s * 1000));
	json_t *resp = NULL, *data = NULL;
	int fd, rc;

	memset(a, 0, sizeof(*a));
	snprintf(a->status, sizeof(a->status), "error");
	if (!req || dl_cli_sign(ap->cli, req)) {
		json_decref(req);
		snprintf(a->error, sizeof(a->error), "out of memory");
		return NULL;
	}
	if ((fd = dl_cli_connect(ap->cli)) < 0) {
		json_decref(req);
		snprintf(a->status, sizeof(a->status), "offline");
		snprintf(a->error, sizeof(a->error), "no collector");
		return NULL;
	}
	rc = dl_admin_send(fd, req, DL_ADMIN_REQ_MAX);
	if (rc == 0)
		rc = dl_admin_recv(fd, DL_ADMIN_RESP_MAX,
				   (int)(timeout_s * 1000 + 5000), &resp);
	dl_cli_close(fd);
	json_decref(req);
	if (rc) {
		snprintf(a->status, sizeof(a->status), "unknown");
		snprintf(a->error, sizeof(a->error),
			 "lost the collector during %s: %s; the outcome is "
			 "unknown",
			 action, dl_strerror(rc));
		return NULL;
	}
	if (json_is_true(json_object_get(resp, "ok"))) {
		data = json_incref(json_object_get(resp, "data"));
		json_decref(resp);
		return data ? data : json_object();
	}
	snprintf(a->status, sizeof(a->status), "%s",
		 dl_cli_str(resp, "status"));
	snprintf(a->code, sizeof(a->code), "%s", dl_cli_str(resp, "code"));
	snprintf(a->error, sizeof(a->error), "%s", dl_cli_str(resp, "error"));
	json_decref(resp);
	return NULL;
}

static int exit_for(const answer_t *a)
{
	if (!strcmp(a->code, "forbidden"))
		return DL_CLI_EXIT_FAIL;
	if (!strcmp(a->status, "offline"))
		return DL_CLI_EXIT_OFFLINE;
	if (!strcmp(a->status, "timeout") || !strcmp(a->status, "unknown"))
		return DL_CLI_EXIT_UNKNOWN;
	if (!strcmp(a->status, "refused"))
		return DL_CLI_EXIT_REFUSED;
	return DL_CLI_EXIT_FAIL;
}

static int failed(const answer_t *a)
{
	fprintf(stderr, "dockline: %s\n", a->error);
	return exit_for(a);
}

static bool no_such(const answer_t *a)
{
	return !strcmp(a->code, "not_found") ||
	       strstr(a->error, "No such container") != NULL;
}

/* Docker's inspect of name, NULL when it does not exist (*rc 0) or the
 * call failed (*rc the exit code, after a sentence). */
static json_t *inspect(const apply_t *ap, const char *name, int *rc)
{
	answer_t a;
	json_t *d = ctl(ap, "inspect", json_pack("{s:s}", "container", name),
			CALL_TIMEOUT_S, &a);

	*rc = d || no_such(&a) ? 0 : failed(&a);
	return d;
}

static const char *image_of(json_t *d)
{
	return dl_cli_str(json_object_get(d, "Config"), "Image");
}

/* Before anything changes: what exists, and nothing under another image. */
static int survey(apply_t *ap)
{
	size_t n = dl_stack_count(ap->s);
	int rc, bad = 0;

	for (size_t i = 0; i < n; i++) {
		const char *name = dl_stack_name(ap->s, i);
		json_t *d = inspect(ap, name, &rc);

		if (rc)
			return rc;
		ap->state[i] =
			!d ? MISSING
			: json_is_true(json_object_get(
				  json_object_get(d, "State"), "Running"))
				? RUNNING
				: STOPPED;
		if (d && strcmp(image_of(d), dl_stack_image(ap->s, i))) {
			fprintf(stderr,
				"dockline: %s/%s exists with image %s, not %s "
				"(dockline recreate %s/%s --image %s moves "
				"it)\n",
				ap->host, name, image_of(d),
				dl_stack_image(ap->s, i), ap->host, name,
				dl_stack_image(ap->s, i));
			bad = 1;
		}
		json_decref(d);
	}
	if (bad)
		fprintf(stderr, "dockline: nothing was changed on %s\n",
			ap->host);
	return bad ? DL_CLI_EXIT_FAIL : 0;
}

static void nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Polls name until it runs (is healthy, with a health check). 0, or an
 * exit code after a sentence: exited, unhealthy, or not by the deadline. */
static int wait_ready(const apply_t *ap, const char *name)
{
	uint64_t end = dl_clock_mono_ns() + (uint64_t)ap->wait_s * 1000000000u;
	const char *why = "did not start";
	int rc;

	do {
		json_t *d = inspect(ap, name, &rc), *st, *h;
		const char *hs;

		if (rc)
			return rc;
		st = json_object_get(d, "State");
		h = json_object_get(st, "Health");
		hs = dl_cli_str(h, "Status");
		if (!d) {
			fprintf(stderr, "dockline: %s/%s is gone\n", ap->host,
				name);
			return DL_CLI_EXIT_FAIL;
		}
		if (json_is_true(json_object_get(st, "Running")) &&
		    (!h || !strcmp(hs, "healthy"))) {
			json_decref(d);
			return 0;
		}
		if (!json_is_true(json_object_get(st, "Running")) &&
		    (!strcmp(dl_cli_str(st, "Status"), "exited") ||
		     !strcmp(dl_cli_str(st, "Status"), "dead")))
			hs = dl_cli_str(st, "Status");
		if (!strcmp(hs, "unhealthy") || !strcmp(hs, "exited") ||
		    !strcmp(hs, "dead")) {
			fprintf(stderr,
				"dockline: %s/%s is %s (exit code %lld); its "
				"dependents were not started\n",
				ap->host, name, hs,
				(long long)json_integer_value(
					json_object_get(st, "ExitCode")));
			json_decref(d);
			return DL_CLI_EXIT_FAIL;
		}
		why = h ? "is not healthy" : "is not running";
		json_decref(d);
		nap(POLL_MS);
	} while (dl_clock_mono_ns() < end);
	fprintf(stderr,
		"dockline: %s/%s %s after %llds; its dependents were not "
		"started\n",
		ap->host, name, why, (long long)ap->wait_s);
	return DL_CLI_EXIT_FAIL;
}

/* Brings container i up: run, start, or nothing. */
static int up_one(apply_t *ap, size_t i)
{
	const char *name = dl_stack_name(ap->s, i);
	answer_t a;
	json_t *d;

	if (ap->state[i] == RUNNING) {
		printf("%s: unchanged\n", name);
	} else if (ap->state[i] == STOPPED) {
		d = ctl(ap, "start", json_pack("{s:s}", "container", name),
			CALL_TIMEOUT_S, &a);
		if (!d)
			return failed(&a);
		json_decref(d);
		printf("%s: started\n", name);
	} else {
		d = ctl(ap, "run", json_deep_copy(dl_stack_args(ap->s, i)),
			RUN_TIMEOUT_S, &a);
		if (!d)
			return failed(&a);
		printf("%s: created %.12s\n", name, dl_cli_str(d, "id"));
		json_decref(d);
	}
	fflush(stdout);
	return dl_stack_needed(ap->s, i) ? wait_ready(ap, name) : 0;
}

static int up(apply_t *ap)
{
	int rc = survey(ap);

	for (size_t k = 0; rc == 0 && k < dl_stack_count(ap->s); k++)
		rc = up_one(ap, dl_stack_order(ap->s, k));
	return rc;
}

/* Reverse order: what depends on a container goes before it. */
static int down(apply_t *ap)
{
	size_t n = dl_stack_count(ap->s);
	answer_t a;
	int rc;

	for (size_t k = n; k-- > 0;) {
		const char *name =
			dl_stack_name(ap->s, dl_stack_order(ap->s, k));
		json_t *d = inspect(ap, name, &rc);

		if (rc)
			return rc;
		if (!d) {
			printf("%s: absent\n", name);
			continue;
		}
		json_decref(d);
		d = ctl(ap, "rm",
			json_pack("{s:s,s:b}", "container", name, "force", 1),
			CALL_TIMEOUT_S, &a);
		if (!d && !no_such(&a))
			return failed(&a);
		json_decref(d);
		printf("%s: removed\n", name);
		fflush(stdout);
	}
	return 0;
}

/* The file, at most DL_STACK_FILE_MAX bytes; caller frees. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(DL_STACK_FILE_MAX + 1) : NULL;

	*len = 0;
	if (buf)
		*len = fread(buf, 1, DL_STACK_FILE_MAX + 1, f);
	if (f && ferror(f)) {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	return buf;
}

static int parse_opts(int argc, char **argv, bool *is_down, int64_t *wait_s)
{
	static const struct option longs[] = {
		{"down", no_argument, NULL, 'd'},
		{"wait", required_argument, NULL, 'w'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	optind = 0;
	opterr = 1;
	while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		if (ch == 'd') {
			*is_down = true;
		} else if (ch == 'w') {
			if (dl_duration_parse(optarg, wait_s) || *wait_s < 1 ||
			    *wait_s > DL_CTL_WAIT_MAX)
				return usage_error("invalid --wait (1s to 1h)");
		} else {
			return DL_CLI_EXIT_USAGE;
		}
	}
	if (argc - optind != 2)
		return usage_error("apply wants HOST FILE [--down] [--wait "
				   "60s]");
	if (!dl_host_name_valid(argv[optind]))
		return usage_error("apply: invalid host name");
	return 0;
}

int dl_cli_apply(const dl_cli_t *cli, int argc, char **argv)
{
	apply_t ap = {.cli = cli, .wait_s = WAIT_DEFAULT_S};
	bool is_down = false;
	char err[512], *text;
	size_t len;
	int rc;

	if ((rc = parse_opts(argc, argv, &is_down, &ap.wait_s)))
		return rc;
	ap.host = argv[optind];
	if (!(text = read_file(argv[optind + 1], &len))) {
		fprintf(stderr, "dockline: cannot read %s\n", argv[optind + 1]);
		return DL_CLI_EXIT_USAGE;
	}
	rc = dl_stack_parse(text, len, &ap.s, err, sizeof(err));
	free(text);
	if (rc) {
		fprintf(stderr, "dockline: %s: %s\n", argv[optind + 1], err);
		return DL_CLI_EXIT_USAGE;
	}
	rc = is_down ? down(&ap) : up(&ap);
	dl_stack_free(ap.s);
	return rc;
}
