/* audit.c - `dockline audit`: who asked the fleet to do what, and how it
 * ended, from the collector's audit log. A table for people or --json
 * for scripts. It only reads through the admin socket; it never touches
 * the database itself. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "common/clock.h"
#include "common/config.h"

#define HOST_MAX	255 /* audit rows keep any name a request used */
#define DEFAULT_LIMIT	100
#define DEFAULT_SINCE_S (24 * 3600)
#define MSG_MIN		20  /* message column, at the least */
#define MSG_PIPED	200 /* message bytes when stdout is not a terminal */
#define MSG_BUF		1024

typedef struct {
	const char *host; /* NULL = all hosts */
	int64_t since_s;
	int limit;
	bool json;
} opts_t;

static int parse_opts(int argc, char **argv, opts_t *o)
{
	static const struct option opts[] = {
		{"host", required_argument, NULL, 'H'},
		{"since", required_argument, NULL, 'S'},
		{"limit", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "H:n:", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (!optarg[0] || strlen(optarg) > HOST_MAX) {
				fprintf(stderr,
					"dockline: --host wants a host name "
					"of 1 to %d bytes\n",
					HOST_MAX);
				return 2;
			}
			o->host = optarg;
			break;
		case 'S':
			if (dl_cli_opt_since(optarg, false, &o->since_s))
				return 2;
			break;
		case 'n':
			if (dl_cli_opt_limit(optarg, &o->limit))
				return 2;
			break;
		case 'j': o->json = true; break;
		default: return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "dockline: unexpected argument %s\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* s for one table cell of at most max bytes (max >= 4): control
 * characters become spaces (a message may hold a newline), and a longer
 * s is cut on a UTF-8 boundary and ends in "...". */
static void cell(const char *s, size_t max, char *out, size_t outlen)
{
	size_t n = strlen(s), keep = n, o = 0;

	if (max >= outlen)
		max = outlen - 1;
	if (n > max) {
		keep = max - 3;
		while (keep > 0 && ((unsigned char)s[keep] & 0xc0) == 0x80)
			keep--;
	}
	for (size_t i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	if (keep < n) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* "12ms", "3.4s", "2m05s", "1h02m"; "-" while running (null). */
static void duration(json_t *v, char *out, size_t outlen)
{
	json_int_t ms = json_integer_value(v);

	if (!json_is_integer(v) || ms < 0)
		snprintf(out, outlen, "-");
	else if (ms < 1000)
		snprintf(out, outlen, "%lldms", (long long)ms);
	else if (ms < 60000) /* tenths cut, not rounded: never "60.0s" */
		snprintf(out, outlen, "%lld.%llds", (long long)(ms / 1000),
			 (long long)(ms % 1000 / 100));
	else if (ms < 3600000)
		snprintf(out, outlen, "%lldm%02llds", (long long)(ms / 60000),
			 (long long)(ms / 1000 % 60));
	else
		snprintf(out, outlen, "%lldh%02lldm", (long long)(ms / 3600000),
			 (long long)(ms / 60000 % 60));
}

/* Local "YYYY-MM-DD HH:MM:SS". */
static void local_time(json_t *v, char *out, size_t outlen)
{
	time_t t = (time_t)(json_integer_value(v) / 1000000000);
	struct tm tm;

	if (!localtime_r(&t, &tm) ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, outlen, "-");
}

/* What the MESSAGE column can hold: the rest of a terminal line, or a
 * fixed amount when piped. */
static size_t message_width(int used)
{
	struct winsize ws;

	if (!isatty(STDOUT_FILENO) ||
	    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
		return MSG_PIPED;
	return ws.ws_col > used + MSG_MIN ? (size_t)(ws.ws_col - used)
					  : MSG_MIN;
}

#define ROW_FMT "%-19s  %-12s %-20s %-10s %-24s %-9s %8s"
#define ROW_W	(19 + 2 + 13 + 21 + 11 + 25 + 10 + 8 + 2)

static void print_row(json_t *r, size_t msg_w)
{
	char when[32], user[16], host[24], op[16], target[28], status[16],
		dur[24], msg[MSG_BUF], text[MSG_BUF];
	json_t *code = json_object_get(r, "exit_code");
	const char *m = dl_cli_str(r, "message");

	local_time(json_object_get(r, "time_ns"), when, sizeof(when));
	cell(dl_cli_str(r, "user"), 12, user, sizeof(user));
	cell(dl_cli_str(r, "host"), 20, host, sizeof(host));
	cell(dl_cli_str(r, "op"), 10, op, sizeof(op));
	cell(*dl_cli_str(r, "target") ? dl_cli_str(r, "target") : "-", 24,
	     target, sizeof(target));
	cell(dl_cli_str(r, "status"), 9, status, sizeof(status));
	duration(json_object_get(r, "duration_ms"), dur, sizeof(dur));
	/* A command's non-zero exit is part of the outcome. */
	if (json_is_integer(code) && json_integer_value(code) != 0)
		snprintf(text, sizeof(text), "exit %lld%s%s",
			 (long long)json_integer_value(code), *m ? ": " : "",
			 m);
	else
		snprintf(text, sizeof(text), "%s", m);
	cell(text, msg_w, msg, sizeof(msg));
	printf(ROW_FMT, when, user, host, op, target, status, dur);
	printf(*msg ? "  %s\n" : "\n", msg);
}

static void print_table(json_t *data, const opts_t *o)
{
	size_t msg_w = message_width(ROW_W), i;
	char span[32];
	json_t *r;

	if (json_array_size(data) == 0) {
		dl_duration_format(o->since_s, span, sizeof(span));
		printf("no control requests in the last %s%s%s\n", span,
		       o->host ? " on " : "", o->host ? o->host : "");
		return;
	}
	printf(ROW_FMT "  MESSAGE\n", "TIME", "USER", "HOST", "OP", "TARGET",
	       "STATUS", "DURATION");
	json_array_foreach(data, i, r)
	{
		print_row(r, msg_w);
	}
}

int dl_cli_audit(const dl_cli_t *cli, int argc, char **argv)
{
	opts_t o = {.since_s = DEFAULT_SINCE_S, .limit = DEFAULT_LIMIT};
	uint64_t now = dl_clock_wall_ns(), span;
	json_t *req, *data;
	int rc = parse_opts(argc, argv, &o);

	if (rc)
		return rc;
	/* --since is at most 100 years, which is more than now: clamp. */
	span = (uint64_t)o.since_s * 1000000000u;
	req = json_pack("{s:s,s:I,s:i}", "op", "audit", "since_ns",
			(json_int_t)(span < now ? now - span : 0), "limit",
			o.limit);
	if (req && o.host &&
	    json_object_set_new(req, "host", json_string(o.host))) {
		json_decref(req);
		req = NULL;
	}
	if (!req) {
		fprintf(stderr, "dockline: out of memory\n");
		return 1;
	}
	if (!(data = dl_cli_call(cli, req)))
		return 1;
	signal(SIGPIPE, SIG_DFL);
	if (o.json)
		dl_cli_print_json(data);
	else
		print_table(data, &o);
	json_decref(data);
	return 0;
}
