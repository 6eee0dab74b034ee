/* control.c - `dockline start|stop|...|logs|exec|images|prune ...`: control
 * requests through the collector to one host's agent.
 *
 * Arguments are checked here with the same rules the collector and the
 * agent apply (proto/control.h), so a typo fails fast with a usage error.
 * logs and exec print the host's output as it streams in, stdout to
 * stdout and stderr to stderr. Ctrl-C simply ends this process: the
 * collector sees the connection close and cancels the request on the
 * agent. Exit codes: see DL_CLI_EXIT_* in cli.h. */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "collector/conf.h"
#include "collector/fleet.h"
#include "collector/hostlabel.h"
#include "collector/store.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fdio.h"
#include "proto/admin.h"
#include "proto/control.h"

#define DEFAULT_TIMEOUT_S 30

typedef struct {
	const dl_op_t *op;
	char host[DL_HOST_MAX + 1];
	json_t *args;
	bool json;
	int64_t timeout_s; /* -1: the op's default */
	/* fleet-wide: --hosts GLOB and/or --label K=V (host labels; sel
	 * holds them, all must match), --parallel N, --rolling */
	const char *hosts;
	json_t *sel;
	/* a container name holding "{host}": each host's own, e.g.
	 * app-{host} is app-web-01 on web-01 */
	const char *ctr_tmpl;
	int parallel;
	bool rolling;
} req_t;

static int usage_error(const char *fmt, const char *a)
{
	fprintf(stderr, "dockline: ");
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\n");
	return DL_CLI_EXIT_USAGE;
}

/* Fleet-wide: hosts chosen by --hosts and/or --label instead of HOST. */
static bool fleet(const req_t *r)
{
	return r->hosts || json_array_size(r->sel) > 0;
}

/* --label K=V (or K: set to anything) choosing hosts by their labels. */
static int add_selector(req_t *r, const char *v)
{
	char err[256];

	if (!dl_hostlabel_selector_ok(v, err, sizeof(err)))
		return usage_error("--label: %s", err);
	if (!r->sel && !(r->sel = json_array()))
		return DL_CLI_EXIT_FAIL;
	if (json_array_size(r->sel) >= DL_HOSTLABEL_MAX)
		return usage_error("at most %s --label selectors", "32");
	return json_array_append_new(r->sel, json_string(v)) ? DL_CLI_EXIT_FAIL
							     : 0;
}

#define HOST_MARK "{host}"

/* The container of a fleet-wide request on host: r->ctr_tmpl with every
 * {host} replaced (checked like any name before the first host runs). */
static int set_container(req_t *r, const char *host)
{
	char name[DL_CTL_NAME_MAX + 2];
	const char *p = r->ctr_tmpl, *m;
	size_t used = 0;
	int w;

	while ((m = strstr(p, HOST_MARK))) {
		w = snprintf(name + used, sizeof(name) - used, "%.*s%s",
			     (int)(m - p), p, host);
		if (w < 0 || (size_t)w >= sizeof(name) - used)
			return usage_error("container name \"%s\" is too long",
					   r->ctr_tmpl);
		used += (size_t)w;
		p = m + strlen(HOST_MARK);
	}
	w = snprintf(name + used, sizeof(name) - used, "%s", p);
	if (w < 0 || (size_t)w >= sizeof(name) - used)
		return usage_error("container name \"%s\" is too long",
				   r->ctr_tmpl);
	json_object_set_new(r->args, "container", json_string(name));
	return 0;
}

/* HOST/CONTAINER for container ops, HOST for host ops. */
static int parse_target(req_t *r, const char *arg)
{
	if (fleet(r)) {
		/* --hosts, --label: the positional is the container alone */
		if (r->op->container && strstr(arg, HOST_MARK)) {
			r->ctr_tmpl = arg;
			return set_container(r, "h");
		}
		if (r->op->container)
			json_object_set_new(r->args, "container",
					    json_string(arg));
		return 0;
	}
	const char *slash = strchr(arg, '/');
	size_t hl = slash ? (size_t)(slash - arg) : strlen(arg);

	if (hl == 0 || hl > DL_HOST_MAX)
		return usage_error("invalid host in \"%s\"", arg);
	memcpy(r->host, arg, hl);
	r->host[hl] = '\0';
	if (!dl_host_name_valid(r->host))
		return usage_error("invalid host name \"%s\"", r->host);
	if (r->op->container != (slash != NULL))
		return usage_error(r->op->container ? "%s wants HOST/CONTAINER"
						    : "%s wants a HOST, not "
						      "HOST/CONTAINER",
				   r->op->name);
	if (slash)
		json_object_set_new(r->args, "container",
				    json_string(slash + 1));
	return 0;
}

static int set_int(req_t *r, const char *key, const char *v, int64_t max)
{
	int64_t n;

	if (dl_parse_int(v, 0, max, &n))
		return usage_error("invalid number \"%s\"", v);
	json_object_set_new(r->args, key, json_integer(n));
	return 0;
}

/* --since: a duration back from now (10m, 24h) or unix seconds. */
static int set_since(req_t *r, const char *v)
{
	int64_t s;

	if (dl_duration_parse(v, &s) == 0 && s < 1000000000)
		s = (int64_t)(dl_clock_wall_ns() / 1000000000ull) - s;
	else if (dl_parse_int(v, 0, INT64_C(1) << 40, &s))
		return usage_error("invalid --since \"%s\" (10m, 24h or unix "
				   "seconds)",
				   v);
	json_object_set_new(r->args, "since", json_integer(s < 0 ? 0 : s));
	return 0;
}

static int add_string(req_t *r, const char *key, const char *v)
{
	json_t *a = json_object_get(r->args, key);

	if (!a) {
		a = json_array();
		json_object_set_new(r->args, key, a);
	}
	return json_array_append_new(a, json_string(v)) ? DL_CLI_EXIT_FAIL : 0;
}

/* --memory 512m, 1g, 67108864 (bytes). */
static int set_memory(req_t *r, const char *v)
{
	char *end;
	unsigned long long n;
	int shift = 0;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (end != v && *end && !end[1]) {
		shift = *end == 'k' || *end == 'K'   ? 10
			: *end == 'm' || *end == 'M' ? 20
			: *end == 'g' || *end == 'G' ? 30
						     : -1;
		end++;
	}
	if (end == v || *end || errno || shift < 0 || n > (1ull << 40) ||
	    (n << shift) < (unsigned long long)DL_CTL_MEMORY_MIN ||
	    (n << shift) > (unsigned long long)DL_CTL_MEMORY_MAX)
		return usage_error("invalid --memory \"%s\" (6m to 1024g)", v);
	json_object_set_new(r->args, "memory",
			    json_integer((json_int_t)(n << shift)));
	return 0;
}

static int set_cpus(req_t *r, const char *v)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (end == v || *end || errno || !(d >= 0.01 && d <= DL_CTL_CPUS_MAX))
		return usage_error("invalid --cpus \"%s\" (0.01 to 1024)", v);
	json_object_set_new(r->args, "cpus", json_real(d));
	return 0;
}

static int parse_opt(req_t *r, int ch, const char *arg)
{
	int64_t s;

	switch (ch) {
	case 'j': r->json = true; return 0;
	case 'T':
		if (dl_duration_parse(arg, &s) || s > 7 * 86400)
			return usage_error("invalid --timeout \"%s\" (30s, 5m; "
					   "0 = none)",
					   arg);
		r->timeout_s = s;
		return 0;
	case 't':
		if (!strcmp(r->op->name, "logs")) {
			json_object_set_new(r->args, "timestamps", json_true());
			return 0;
		}
		return set_int(r, "t", arg, DL_CTL_TIMEOUT_MAX);
	case 's':
		json_object_set_new(r->args, "signal", json_string(arg));
		return 0;
	case 'f':
		json_object_set_new(
			r->args, strcmp(r->op->name, "rm") ? "follow" : "force",
			json_true());
		return 0;
	case 'v':
		if (!strcmp(r->op->name, "run"))
			return add_string(r, "volumes", arg);
		json_object_set_new(r->args, "volumes", json_true());
		return 0;
	case 'n': return set_int(r, "tail", arg, 100000000);
	case 'S': return set_since(r, arg);
	case 'e': return add_string(r, "env", arg);
	case 'p': return add_string(r, "ports", arg);
	case 'V': return add_string(r, "volumes", arg);
	case 'N':
		json_object_set_new(r->args, "name", json_string(arg));
		return 0;
	case 'R':
		json_object_set_new(r->args, "restart", json_string(arg));
		return 0;
	case 'W':
		json_object_set_new(r->args, "network", json_string(arg));
		return 0;
	case 'H':
		json_object_set_new(r->args, "health_cmd", json_string(arg));
		return 0;
	case 'I':
		if (dl_duration_parse(arg, &s) || s < 1 || s > 86400)
			return usage_error("invalid --health-interval \"%s\" "
					   "(1s to 24h)",
					   arg);
		json_object_set_new(r->args, "health_interval",
				    json_integer(s));
		return 0;
	case 'M': return set_memory(r, arg);
	case 'C': return set_cpus(r, arg);
	case 'P': json_object_set_new(r->args, "pull", json_true()); return 0;
	case 'G':
		json_object_set_new(r->args, "image", json_string(arg));
		return 0;
	case 'X':
		if (dl_duration_parse(arg, &s) || s < 1 || s > DL_CTL_WAIT_MAX)
			return usage_error("invalid --wait \"%s\" (1s to 1h)",
					   arg);
		json_object_set_new(r->args, "wait", json_integer(s));
		return 0;
	case 'A': r->hosts = arg; return 0;
	case 'Q':
		if (dl_parse_int(arg, 1, 64, &s))
			return usage_error("invalid --parallel \"%s\" (1 to "
					   "64)",
					   arg);
		r->parallel = (int)s;
		return 0;
	case 'O': r->rolling = true; return 0;
	case 'w':
		json_object_set_new(r->args, "workdir", json_string(arg));
		return 0;
	case 'u':
		json_object_set_new(r->args, "user", json_string(arg));
		return 0;
	case 'l':
		/* run's --label is the container's, prune's a filter of
		 * what it removes; everywhere else it chooses hosts */
		if (!strcmp(r->op->name, "run"))
			return add_string(r, "labels", arg);
		if (!strcmp(r->op->name, "prune")) {
			json_object_set_new(r->args, "label", json_string(arg));
			return 0;
		}
		return add_selector(r, arg);
	case 'B': return add_selector(r, arg);
	default: return DL_CLI_EXIT_USAGE;
	}
}

/* Which short options each op takes (getopt syntax). */
static const char *optstring(const dl_op_t *op)
{
	const char *n = op->name;

	if (!strcmp(n, "stop") || !strcmp(n, "restart"))
		return "t:";
	if (!strcmp(n, "kill"))
		return "s:";
	if (!strcmp(n, "rm"))
		return "fv";
	if (!strcmp(n, "logs"))
		return "ftn:";
	if (!strcmp(n, "exec"))
		return "+e:w:u:";
	if (!strcmp(n, "run"))
		return "e:p:v:l:";
	return "";
}

static int parse_args(req_t *r, int argc, char **argv, int *rest)
{
	static const struct option longs[] = {
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 'T'},
		{"tail", required_argument, NULL, 'n'},
		{"since", required_argument, NULL, 'S'},
		{"timestamps", no_argument, NULL, 't'},
		{"follow", no_argument, NULL, 'f'},
		{"force", no_argument, NULL, 'f'},
		{"volumes", no_argument, NULL, 'v'},
		{"signal", required_argument, NULL, 's'},
		{"time", required_argument, NULL, 't'},
		{"env", required_argument, NULL, 'e'},
		{"workdir", required_argument, NULL, 'w'},
		{"user", required_argument, NULL, 'u'},
		{"label", required_argument, NULL, 'l'},
		{"name", required_argument, NULL, 'N'},
		{"publish", required_argument, NULL, 'p'},
		{"volume", required_argument, NULL, 'V'},
		{"restart", required_argument, NULL, 'R'},
		{"network", required_argument, NULL, 'W'},
		{"health-cmd", required_argument, NULL, 'H'},
		{"health-interval", required_argument, NULL, 'I'},
		{"memory", required_argument, NULL, 'M'},
		{"cpus", required_argument, NULL, 'C'},
		{"pull", no_argument, NULL, 'P'},
		{"image", required_argument, NULL, 'G'},
		{"wait", required_argument, NULL, 'X'},
		{"hosts", required_argument, NULL, 'A'},
		{"parallel", required_argument, NULL, 'Q'},
		{"rolling", no_argument, NULL, 'O'},
		{"host-label", required_argument, NULL, 'B'},
		{NULL, 0, NULL, 0},
	};
	int ch, rc;

	optind = 0; /* glibc: full reset */
	opterr = 1;
	while ((ch = getopt_long(argc, argv, optstring(r->op), longs, NULL)) !=
	       -1) {
		if (ch == '?' || (rc = parse_opt(r, ch, optarg)))
			return ch == '?' ? DL_CLI_EXIT_USAGE : rc;
	}
	*rest = optind;
	return 0;
}

/* Positional arguments after HOST[/CONTAINER]. */
static int parse_rest(req_t *r, int n, char **v)
{
	const char *op = r->op->name;

	if (!strcmp(op, "rename")) {
		if (n != 1)
			return usage_error("%s wants HOST/CONTAINER NEWNAME",
					   op);
		json_object_set_new(r->args, "name", json_string(v[0]));
		return 0;
	}
	if (!strcmp(op, "prune")) {
		if (n != 1)
			return usage_error("%s wants HOST containers|images",
					   op);
		json_object_set_new(r->args, "what", json_string(v[0]));
		return 0;
	}
	if (!strcmp(op, "pull")) {
		if (n != 1)
			return usage_error("%s wants HOST IMAGE[:TAG]", op);
		json_object_set_new(r->args, "image", json_string(v[0]));
		return 0;
	}
	if (!strcmp(op, "run")) {
		if (n < 1)
			return usage_error("%s wants HOST IMAGE [-- CMD...]",
					   op);
		json_object_set_new(r->args, "image", json_string(v[0]));
		for (int i = 1; i < n; i++)
			if (strcmp(v[i], "--") && add_string(r, "cmd", v[i]))
				return DL_CLI_EXIT_FAIL;
		return 0;
	}
	if (!strcmp(op, "exec")) {
		if (n > 0 && !strcmp(v[0], "--")) {
			n--;
			v++;
		}
		if (n == 0)
			return usage_error("%s wants a command after "
					   "HOST/CONTAINER",
					   op);
		for (int i = 0; i < n; i++)
			if (add_string(r, "cmd", v[i]))
				return DL_CLI_EXIT_FAIL;
		return 0;
	}
	if (n)
		return usage_error("unexpected argument \"%s\"", v[0]);
	return 0;
}

/* ---- output -------------------------------------------------------- */

static void human_bytes(double b, char *out, size_t outlen)
{
	const char *u[] = {"B", "kB", "MB", "GB", "TB"};
	int i = 0;

	while (b >= 1000 && i < 4) {
		b /= 1000;
		i++;
	}
	snprintf(out, outlen, i ? "%.1f%s" : "%.0f%s", b, u[i]);
}

/* A string member of a row, "" when the data has another shape. */
static const char *sv(json_t *v)
{
	const char *s = json_string_value(v);

	return s ? s : "";
}

static void print_top(json_t *d)
{
	json_t *titles = json_object_get(d, "Titles"), *procs, *row, *v;
	size_t i, j;

	json_array_foreach(titles, i, v) printf("%s%s", i ? "\t" : "", sv(v));
	printf("\n");
	procs = json_object_get(d, "Processes");
	json_array_foreach(procs, i, row)
	{
		json_array_foreach(row, j, v)
			printf("%s%s", j ? "\t" : "", sv(v));
		printf("\n");
	}
}

static void print_images(json_t *d)
{
	json_t *img, *tags;
	size_t i, t;
	char size[32];

	printf("%-40s %-12s %10s\n", "REPOSITORY:TAG", "IMAGE ID", "SIZE");
	json_array_foreach(d, i, img)
	{
		const char *id = dl_cli_str(img, "Id");

		tags = json_object_get(img, "RepoTags");
		human_bytes((double)json_integer_value(
				    json_object_get(img, "Size")),
			    size, sizeof(size));
		if (!strncmp(id, "sha256:", 7))
			id += 7;
		/* one row per tag, as docker images prints them */
		t = 0;
		do
			printf("%-40s %-12.12s %10s\n",
			       t < json_array_size(tags)
				       ? sv(json_array_get(tags, t))
				       : "<none>",
			       id, size);
		while (++t < json_array_size(tags));
	}
}

static void print_networks(json_t *d)
{
	json_t *n;
	size_t i;

	printf("%-12s %-24s %-10s %s\n", "NETWORK ID", "NAME", "DRIVER",
	       "SCOPE");
	json_array_foreach(d, i, n)
		printf("%-12.12s %-24s %-10s %s\n", dl_cli_str(n, "Id"),
		       dl_cli_str(n, "Name"), dl_cli_str(n, "Driver"),
		       dl_cli_str(n, "Scope"));
}

static void print_volumes(json_t *d)
{
	json_t *v;
	size_t i;

	printf("%-10s %s\n", "DRIVER", "VOLUME NAME");
	json_array_foreach(json_object_get(d, "Volumes"), i, v) printf(
		"%-10s %s\n", dl_cli_str(v, "Driver"), dl_cli_str(v, "Name"));
}

/* info and version: the lines an administrator looks for first. */
static void print_keys(json_t *d, const char *const *keys)
{
	for (; *keys; keys++) {
		json_t *v = json_object_get(d, *keys);
		char *txt;

		if (!v)
			continue;
		txt = json_is_string(v)
			      ? NULL
			      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		printf("%-18s %s\n", *keys, txt ? txt : sv(v));
		free(txt);
	}
}

static void print_df(json_t *d)
{
	static const char *const parts[][2] = {{"Images", "Size"},
					       {"Containers", "SizeRw"},
					       {"Volumes", NULL}};
	char size[32];

	printf("%-12s %8s %12s\n", "TYPE", "TOTAL", "SIZE");
	for (size_t p = 0; p < 3; p++) {
		json_t *arr = json_object_get(d, parts[p][0]), *e;
		double total = 0;
		size_t i;

		json_array_foreach(arr, i, e)
		{
			json_t *sz = parts[p][1]
					     ? json_object_get(e, parts[p][1])
					     : json_object_get(
						       json_object_get(
							       e, "UsageData"),
						       "Size");

			if (json_integer_value(sz) > 0)
				total += (double)json_integer_value(sz);
		}
		human_bytes(total, size, sizeof(size));
		printf("%-12s %8zu %12s\n", parts[p][0], json_array_size(arr),
		       size);
	}
	human_bytes(
		(double)json_integer_value(json_object_get(d, "LayersSize")),
		size, sizeof(size));
	printf("%-12s %8s %12s\n", "Layers", "", size);
}

static void print_prune(json_t *d, const char *what)
{
	json_t *del = json_object_get(d, !strcmp(what, "images")
						 ? "ImagesDeleted"
						 : "ContainersDeleted");
	char size[32];

	human_bytes((double)json_integer_value(
			    json_object_get(d, "SpaceReclaimed")),
		    size, sizeof(size));
	printf("deleted %zu %s, reclaimed %s\n", json_array_size(del), what,
	       size);
}

static void print_result(const req_t *r, json_t *d)
{
	static const char *const info_keys[] = {
		"Name",
		"ServerVersion",
		"Containers",
		"ContainersRunning",
		"Images",
		"OperatingSystem",
		"KernelVersion",
		"NCPU",
		"MemTotal",
		"Driver",
		"CgroupVersion",
		"DockerRootDir",
		NULL,
	};
	static const char *const version_keys[] = {
		"Version",   "ApiVersion",    "MinAPIVersion",
		"GitCommit", "GoVersion",     "Os",
		"Arch",	     "KernelVersion", NULL,
	};
	const char *op = r->op->name;

	if (r->json || !strcmp(op, "inspect")) {
		dl_cli_print_json(d);
	} else if (!strcmp(op, "run")) {
		printf("%s\n", dl_cli_str(d, "id"));
	} else if (!strcmp(op, "recreate")) {
		printf("%s\n", dl_cli_str(d, "summary"));
	} else if (r->op->container && strcmp(op, "top")) {
		/* Lifecycle ops echo the container, as docker does. */
		printf("%s\n", dl_cli_str(r->args, "container"));
	} else if (!strcmp(op, "top")) {
		print_top(d);
	} else if (!strcmp(op, "images")) {
		print_images(d);
	} else if (!strcmp(op, "networks")) {
		print_networks(d);
	} else if (!strcmp(op, "volumes")) {
		print_volumes(d);
	} else if (!strcmp(op, "info")) {
		print_keys(d, info_keys);
	} else if (!strcmp(op, "version")) {
		print_keys(d, version_keys);
	} else if (!strcmp(op, "df")) {
		print_df(d);
	} else if (!strcmp(op, "prune")) {
		print_prune(d, dl_cli_str(r->args, "what"));
	}
}

/* ---- the call ------------------------------------------------------ */

static int exit_for(const req_t *r, const char *status)
{
	int code = DL_CLI_EXIT_FAIL;

	if (!strcmp(status, "offline"))
		code = DL_CLI_EXIT_OFFLINE;
	else if (!strcmp(status, "timeout") || !strcmp(status, "unknown"))
		code = DL_CLI_EXIT_UNKNOWN;
	else if (!strcmp(status, "refused"))
		code = DL_CLI_EXIT_REFUSED;
	/* exec's own codes belong to the command: ours move out of the way. */
	return !strcmp(r->op->name, "exec") ? DL_CLI_EXIT_EXEC : code;
}

/* Reads frames until the final JSON one; stream bytes go to 1 and 2. */
static int receive(const req_t *r, int fd)
{
	json_t *resp = NULL;
	const char *status;
	char *p;
	size_t n;
	int rc;

	for (;;) {
		rc = dl_admin_recv_frame(fd, DL_ADMIN_RESP_MAX, 0, &p, &n);
		if (rc) {
			fprintf(stderr,
				"dockline: lost the collector during %s: %s; "
				"the outcome is unknown\n",
				r->op->name, dl_strerror(rc));
			return exit_for(r, "unknown");
		}
		if (p[0] == DL_ADMIN_STDOUT || p[0] == DL_ADMIN_STDERR) {
			if (dl_write_all(p[0], p + 1, n - 1)) {
				free(p); /* our reader went away */
				return exit_for(r, "error");
			}
			free(p);
			continue;
		}
		rc = dl_admin_parse(p, n, &resp);
		free(p);
		break;
	}
	if (rc) {
		fprintf(stderr, "dockline: the collector sent an invalid "
				"answer\n");
		return exit_for(r, "error");
	}
	status = dl_cli_str(resp, "status");
	if (!json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "dockline: %s\n", dl_cli_str(resp, "error"));
		/* a token's role is not the host's policy: not exit 5 */
		rc = exit_for(r, strcmp(dl_cli_str(resp, "code"), "forbidden")
					 ? status
					 : "error");
	} else if (r->op->kind == DL_OPK_STREAM) {
		rc = (int)json_integer_value(json_object_get(
			json_object_get(resp, "data"), "exit_code"));
		rc = rc < 0 || rc > 255 ? DL_CLI_EXIT_EXEC : rc;
	} else {
		print_result(r, json_object_get(resp, "data"));
		rc = 0;
	}
	json_decref(resp);
	return rc;
}

static int run(const dl_cli_t *cli, req_t *r)
{
	json_t *req;
	int64_t t = r->timeout_s;
	int fd, rc;

	if (t < 0) {
		/* A log or a command runs as long as it runs (Ctrl-C ends
		 * it); everything else has a natural end. */
		t = r->op->kind == DL_OPK_STREAM ? 0 : DEFAULT_TIMEOUT_S;
		/* a pull or a recreate takes what the registry takes */
		if (!strcmp(r->op->name, "pull"))
			t = 600;
		else if (!strcmp(r->op->name, "recreate"))
			t = 300 + json_integer_value(
					  json_object_get(r->args, "wait"));
		else if (!strcmp(r->op->name, "run"))
			t = 120;
		/* stop -t 60 must not be cut off at 30 s */
		t += json_integer_value(json_object_get(r->args, "t"));
	}
	req = json_pack("{s:s,s:s,s:s,s:O,s:I}", "op", "control", "host",
			r->host, "action", r->op->name, "args", r->args,
			"timeout_ms", (json_int_t)(t * 1000));
	fd = dl_cli_connect(cli);
	if (fd < 0) {
		json_decref(req);
		return exit_for(r, "offline");
	}
	rc = req && !dl_cli_sign(cli, req)
		     ? dl_admin_send(fd, req, DL_ADMIN_REQ_MAX)
		     : DL_ENOMEM;
	json_decref(req);
	if (rc) {
		fprintf(stderr, "dockline: cannot send the request: %s\n",
			dl_strerror(rc));
		dl_cli_close(fd);
		return exit_for(r, "error");
	}
	rc = receive(r, fd);
	dl_cli_close(fd);
	return rc;
}

/* ---- fleet-wide ---------------------------------------------------- */

/* The names of the hosts matching glob (NULL: any) and carrying every
 * label of sel, as the collector lists them. */
static json_t *fleet_hosts(const dl_cli_t *cli, const char *glob,
			   const json_t *sel)
{
	json_t *data = dl_cli_call(cli, json_pack("{s:s}", "op", "hosts"));
	json_t *out = json_array(), *h;
	size_t i;

	if (!data || !out) {
		json_decref(data);
		json_decref(out);
		return NULL;
	}
	json_array_foreach(data, i, h)
	{
		const char *n = dl_cli_str(h, "name");

		if (*n && (!glob || fnmatch(glob, n, 0) == 0) &&
		    dl_hostlabel_match(json_object_get(h, "labels"), sel) &&
		    json_array_size(out) < DL_FLEET_HOSTS_MAX)
			json_array_append_new(out, json_string(n));
	}
	json_decref(data);
	return out;
}

/* A whole file, at most 64 KiB (the rest is cut). Caller frees. */
static char *slurp(FILE *f)
{
	char *buf = calloc(1, 65536);
	size_t n;

	if (!buf)
		return NULL;
	rewind(f);
	n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	return buf;
}

typedef struct {
	pid_t pid;
	FILE *out, *err;
	size_t idx;
} child_t;

/* Runs the one-host request for host in a child writing to out/err. */
static pid_t fleet_spawn(const dl_cli_t *cli, req_t *r, const char *host,
			 FILE *out, FILE *err)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid != 0)
		return pid;
	dup2(fileno(out), 1);
	dup2(fileno(err), 2);
	snprintf(r->host, sizeof(r->host), "%s", host);
	r->json = false;
	if (r->ctr_tmpl && set_container(r, host))
		_exit(DL_CLI_EXIT_USAGE);
	{
		int rc = run(cli, r);

		/* _exit flushes nothing: the ok row's message is stdout */
		fflush(stdout);
		fflush(stderr);
		_exit(rc);
	}
}

static void fleet_reap(child_t *kids, int *nk, dl_fleet_result_t *res,
		       bool exec_op)
{
	int status, code;
	pid_t pid = wait(&status);

	for (int k = 0; k < *nk; k++) {
		char *o, *e;

		if (kids[k].pid != pid)
			continue;
		code = WIFEXITED(status) ? WEXITSTATUS(status)
					 : DL_CLI_EXIT_FAIL;
		o = slurp(kids[k].out);
		e = slurp(kids[k].err);
		dl_fleet_classify(&res[kids[k].idx], code, exec_op, o ? o : "",
				  e ? e : "");
		free(o);
		free(e);
		fclose(kids[k].out);
		fclose(kids[k].err);
		kids[k] = kids[--*nk];
		return;
	}
}

/* "no host matches --hosts 'web-*' --label role=web". */
static void no_match(const req_t *r)
{
	json_t *v;
	size_t i;

	fprintf(stderr, "dockline: no host matches");
	if (r->hosts)
		fprintf(stderr, " --hosts '%s'", r->hosts);
	json_array_foreach(r->sel, i, v)
		fprintf(stderr, " --label %s", json_string_value(v));
	fprintf(stderr, "\n");
}

/* The request on every host matching r->hosts, r->parallel at a time
 * (one at a time with --rolling, which stops at the first failure). */
static int run_fleet(const dl_cli_t *cli, req_t *r)
{
	json_t *hosts = fleet_hosts(cli, r->hosts, r->sel);
	int par = r->rolling ? 1 : r->parallel ? r->parallel : 4, nk = 0;
	child_t kids[64];
	dl_fleet_result_t *res;
	size_t n, next = 0;
	bool stop = false;
	int rc;

	if (!hosts)
		return DL_CLI_EXIT_FAIL;
	n = json_array_size(hosts);
	if (n == 0) {
		json_decref(hosts);
		no_match(r);
		return DL_CLI_EXIT_FAIL;
	}
	res = calloc(n, sizeof(*res));
	if (!res) {
		json_decref(hosts);
		return DL_CLI_EXIT_FAIL;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(res[i].host, sizeof(res[i].host), "%s",
			 json_string_value(json_array_get(hosts, i)));
		res[i].result = "skipped";
		res[i].exit_code = -1;
		snprintf(res[i].message, sizeof(res[i].message),
			 "not run: an earlier host failed");
	}
	while (next < n || nk > 0) {
		while (!stop && next < n && nk < par) {
			FILE *o = tmpfile(), *e = tmpfile();
			pid_t pid = o && e ? fleet_spawn(cli, r, res[next].host,
							 o, e)
					   : -1;

			if (pid < 0) {
				if (o)
					fclose(o);
				if (e)
					fclose(e);
				dl_fleet_classify(&res[next++],
						  DL_CLI_EXIT_FAIL, false, "",
						  "cannot start a process");
				continue;
			}
			kids[nk++] = (child_t){pid, o, e, next++};
		}
		if (nk == 0)
			break;
		fleet_reap(kids, &nk, res, !strcmp(r->op->name, "exec"));
		if (r->rolling)
			for (size_t i = 0; i < next; i++)
				stop = stop ||
				       (strcmp(res[i].result, "ok") &&
					strcmp(res[i].result, "skipped"));
	}
	dl_fleet_print(stdout, res, n, r->json);
	rc = dl_fleet_exit(res, n);
	free(res);
	json_decref(hosts);
	return rc;
}

bool dl_cli_is_control(const char *cmd)
{
	return dl_control_op(cmd) != NULL;
}

int dl_cli_control(const dl_cli_t *cli, int argc, char **argv)
{
	req_t r = {.op = dl_control_op(argv[0]), .timeout_s = -1};
	char err[512];
	int rc, rest;

	if (!r.op)
		return usage_error("unknown command \"%s\"", argv[0]);
	r.args = json_object();
	if (!r.args)
		return DL_CLI_EXIT_FAIL;
	rc = parse_args(&r, argc, argv, &rest);
	if (rc == 0 && fleet(&r) && !r.op->container) {
		/* --hosts, --label replace HOST: nothing to take from argv */
		rc = parse_rest(&r, argc - rest, argv + rest);
		if (rc == 0 &&
		    dl_control_validate(r.op, r.args, err, sizeof(err)))
			rc = usage_error("%s", err);
		if (rc == 0)
			rc = run_fleet(cli, &r);
		json_decref(r.args);
		json_decref(r.sel);
		return rc;
	}
	if (rc == 0 && rest >= argc)
		rc = usage_error(r.op->container ? "%s wants HOST/CONTAINER"
						 : "%s wants a HOST",
				 r.op->name);
	if (rc == 0)
		rc = parse_target(&r, argv[rest]);
	if (rc == 0)
		rc = parse_rest(&r, argc - rest - 1, argv + rest + 1);
	if (rc == 0 && dl_control_validate(r.op, r.args, err, sizeof(err)))
		rc = usage_error("%s", err);
	if (rc == 0 && (r.parallel || r.rolling) && !fleet(&r))
		rc = usage_error("%s: --parallel and --rolling go with --hosts "
				 "or --label",
				 r.op->name);
	if (rc == 0 && r.rolling && strcmp(r.op->name, "recreate"))
		rc = usage_error("%s: --rolling is for recreate", r.op->name);
	if (rc == 0 && fleet(&r))
		rc = run_fleet(cli, &r);
	else if (rc == 0)
		rc = run(cli, &r);
	json_decref(r.args);
	json_decref(r.sel);
	return rc;
}
