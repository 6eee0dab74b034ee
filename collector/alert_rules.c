/* alert_rules.c - [alert NAME] sections of collector.conf into rules,
 * every value checked with file:line. Keys that no section may carry are
 * refused by conf.c (its known list); here each value is read and a key
 * that does not apply to the rule's condition is refused too, so a rule
 * never silently ignores what its author wrote. */
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "collector/alerts.h"
#include "collector/conf.h"
#include "common/clock.h"
#include "common/config.h"
#include "common/err.h"

static const char *const cond_names[DL_COND_COUNT] = {
	[DL_COND_HOST_OFFLINE] = "host_offline",
	[DL_COND_DOCKER_DOWN] = "docker_down",
	[DL_COND_FRAMES_DROPPED] = "frames_dropped",
	[DL_COND_CONTAINER_EXIT] = "container_exit",
	[DL_COND_CONTAINER_OOM] = "container_oom",
	[DL_COND_CONTAINER_UNHEALTHY] = "container_unhealthy",
	[DL_COND_RESTART_LOOP] = "restart_loop",
	[DL_COND_CONTAINER_CPU] = "container_cpu",
	[DL_COND_CONTAINER_MEMORY] = "container_memory",
	[DL_COND_HOST_CPU] = "host_cpu",
	[DL_COND_HOST_MEMORY] = "host_memory",
	[DL_COND_HOST_DISK] = "host_disk",
	[DL_COND_HOST_LOAD] = "host_load",
};

static const char *const sev_names[] = {"info", "warning", "critical", NULL};

const char *dl_cond_name(dl_cond_t c)
{
	return c < DL_COND_COUNT ? cond_names[c] : "?";
}

const char *dl_severity_name(dl_severity_t s)
{
	return s <= DL_SEV_CRITICAL ? sev_names[s] : "?";
}

/* What a condition takes besides the common keys. */
enum { P_THRESHOLD = 1, P_COUNT = 2, P_WINDOW = 4, P_CONTAINERS = 8 };

static int cond_params(dl_cond_t c)
{
	switch (c) {
	case DL_COND_CONTAINER_EXIT:
	case DL_COND_CONTAINER_UNHEALTHY: return P_CONTAINERS;
	case DL_COND_CONTAINER_OOM: return P_CONTAINERS | P_WINDOW;
	case DL_COND_RESTART_LOOP: return P_CONTAINERS | P_COUNT | P_WINDOW;
	case DL_COND_CONTAINER_CPU:
	case DL_COND_CONTAINER_MEMORY: return P_CONTAINERS | P_THRESHOLD;
	case DL_COND_HOST_CPU:
	case DL_COND_HOST_MEMORY:
	case DL_COND_HOST_DISK:
	case DL_COND_HOST_LOAD: return P_THRESHOLD;
	case DL_COND_FRAMES_DROPPED: return P_WINDOW;
	default: return 0;
	}
}

static bool is_threshold(dl_cond_t c)
{
	return cond_params(c) & P_THRESHOLD;
}

typedef struct {
	const dl_conf_t *f;
	const char *sect;
	char *err;
	size_t errlen;
} ctx_t;

static int bad(ctx_t *x, const char *key, const char *why)
{
	int line = dl_conf_line(x->f, x->sect, key);

	snprintf(x->err, x->errlen, "%s:%d: [%s] %s %s", dl_conf_path(x->f),
		 line, x->sect, key ? key : "", why);
	return DL_ECONFIG;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DL_ALERT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum =
			(ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || !strchr("_.-", ch)))
			return false;
	}
	return true;
}

static bool glob_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > DL_ALERT_GLOB_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
			return false;
	return true;
}

static int parse_bool(ctx_t *x, const char *key, bool def, bool *out)
{
	const char *v = dl_conf_str(x->f, x->sect, key, NULL);

	if (!v) {
		*out = def;
		return 0;
	}
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on"))
		*out = true;
	else if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off"))
		*out = false;
	else
		return bad(x, key, "must be yes or no");
	return 0;
}

static int parse_dur(ctx_t *x, const char *key, int64_t def_s, int64_t min_s,
		     int64_t *out_ms)
{
	int64_t s;

	if (dl_conf_duration(x->f, x->sect, key, def_s, min_s, 30 * 86400, &s,
			     x->err, x->errlen))
		return DL_ECONFIG;
	*out_ms = s * 1000;
	return 0;
}

static int parse_notify(ctx_t *x, dl_alert_rule_t *r, dl_alerts_has_fn has,
			void *ud)
{
	const char *v = dl_conf_str(x->f, x->sect, "notify", "");
	char buf[DL_CONF_MAX_VALUE + 1], msg[160];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", v);
	for (char *tok = strtok_r(buf, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (r->nnotify == DL_ALERT_NOTIFY_MAX)
			return bad(x, "notify", "names more than 8 channels");
		if (!name_ok(tok)) {
			snprintf(msg, sizeof(msg),
				 "names \"%.64s\", not a channel name", tok);
			return bad(x, "notify", msg);
		}
		if (has && !has(ud, tok)) {
			snprintf(msg, sizeof(msg),
				 "names channel %s, but there is no [notify "
				 "%s]",
				 tok, tok);
			return bad(x, "notify", msg);
		}
		snprintf(r->notify[r->nnotify++], sizeof(r->notify[0]), "%s",
			 tok);
	}
	return 0;
}

static int parse_cond(ctx_t *x, dl_alert_rule_t *r)
{
	const char *v = dl_conf_str(x->f, x->sect, "condition", NULL);

	if (!v) {
		snprintf(x->err, x->errlen, "%s:%d: [%s] has no condition",
			 dl_conf_path(x->f), dl_conf_line(x->f, x->sect, NULL),
			 x->sect);
		return DL_ECONFIG;
	}
	for (int i = 0; i < DL_COND_COUNT; i++) {
		if (!strcmp(v, cond_names[i])) {
			r->cond = (dl_cond_t)i;
			return 0;
		}
	}
	return bad(x, "condition",
		   "is not one of host_offline, docker_down, frames_dropped, "
		   "container_exit, container_oom, container_unhealthy, "
		   "restart_loop, container_cpu, container_memory, host_cpu, "
		   "host_memory, host_disk, host_load");
}

/* A key the condition does not take is an error, not ignored. */
static int refuse_unused(ctx_t *x, int params)
{
	static const struct {
		const char *key;
		int p;
	} keys[] = {{"threshold", P_THRESHOLD},
		    {"count", P_COUNT},
		    {"window", P_WINDOW},
		    {"containers", P_CONTAINERS},
		    {"label", P_CONTAINERS}};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!(params & keys[i].p) &&
		    dl_conf_str(x->f, x->sect, keys[i].key, NULL))
			return bad(x, keys[i].key,
				   "does not apply to this condition");
	return 0;
}

static int parse_threshold(ctx_t *x, dl_alert_rule_t *r)
{
	const char *v = dl_conf_str(x->f, x->sect, "threshold", NULL);
	/* container CPU is % of one CPU: 250 = two and a half cores */
	double max = r->cond == DL_COND_HOST_LOAD	? 10000.0
		     : r->cond == DL_COND_CONTAINER_CPU ? 100000.0
							: 100.0;
	char *end;

	if (!v) {
		if (r->cond == DL_COND_HOST_LOAD)
			return bad(x, "condition",
				   "host_load needs a threshold (load1)");
		r->threshold = 90.0;
		return 0;
	}
	r->threshold = strtod(v, &end);
	if (end == v || *end || !(r->threshold > 0.0) || r->threshold > max)
		return bad(
			x, "threshold",
			r->cond == DL_COND_HOST_LOAD
				? "must be a number above 0"
				: "must be a percentage above 0 (at most 100, "
				  "container_cpu: % of one CPU)");
	return 0;
}

static int parse_rule(ctx_t *x, dl_alert_rule_t *r, dl_alerts_has_fn has,
		      void *ud)
{
	int params;
	int64_t def_for = 0, def_window = 0;
	const char *v;

	memset(r, 0, sizeof(*r));
	if (!name_ok(x->sect + 6))
		return bad(x, NULL,
			   "name wants [a-z0-9][a-z0-9_.-], at most 63 "
			   "characters");
	snprintf(r->name, sizeof(r->name), "%s", x->sect + 6);
	if (parse_cond(x, r))
		return DL_ECONFIG;
	params = cond_params(r->cond);
	if (refuse_unused(x, params) ||
	    parse_bool(x, "enabled", true, &r->enabled) ||
	    parse_bool(x, "resolve", true, &r->resolve))
		return DL_ECONFIG;
	v = dl_conf_str(x->f, x->sect, "hosts", "*");
	if (!glob_ok(v))
		return bad(x, "hosts", "must be a glob of 1 to 255 characters");
	snprintf(r->hosts, sizeof(r->hosts), "%s", v);
	v = dl_conf_str(x->f, x->sect, "containers", "*");
	if (!glob_ok(v))
		return bad(x, "containers",
			   "must be a glob of 1 to 255 characters");
	snprintf(r->containers, sizeof(r->containers), "%s", v);
	v = dl_conf_str(x->f, x->sect, "label", NULL);
	if (v && dl_label_filter_parse(v, &r->label) != 0)
		return bad(x, "label",
			   "must be K or K=V (key 1 to 128 bytes, value at "
			   "most 512)");
	r->has_label = v != NULL;
	v = dl_conf_str(x->f, x->sect, "severity", "warning");
	r->severity = (dl_severity_t)-1;
	for (int i = 0; sev_names[i]; i++)
		if (!strcmp(v, sev_names[i]))
			r->severity = (dl_severity_t)i;
	if ((int)r->severity < 0)
		return bad(x, "severity", "must be info, warning or critical");
	if (r->cond == DL_COND_HOST_OFFLINE)
		def_for = 120;
	else if (is_threshold(r->cond))
		def_for = 300;
	if (r->cond == DL_COND_CONTAINER_OOM)
		def_window = 300;
	else if (params & P_WINDOW)
		def_window = 600;
	if (parse_dur(x, "for", def_for, 0, &r->for_ms) ||
	    parse_dur(x, "repeat", 0, 0, &r->repeat_ms) ||
	    parse_dur(x, "window", def_window, 1, &r->window_ms))
		return DL_ECONFIG;
	if (r->repeat_ms && r->repeat_ms < 60000)
		return bad(x, "repeat", "must be 0 (never) or at least 1m");
	if ((params & P_COUNT) &&
	    dl_conf_int(x->f, x->sect, "count", 3, 2, 1000, &r->count, x->err,
			x->errlen))
		return DL_ECONFIG;
	if ((params & P_THRESHOLD) && parse_threshold(x, r))
		return DL_ECONFIG;
	return parse_notify(x, r, has, ud);
}

/* Every [alert NAME] section of every file, in order: collector.conf's,
 * then each included file's (sorted by name). */
typedef struct {
	dl_conf_t *files[DL_ALERT_FILES_MAX + 1];
	size_t nfiles;
	struct sect {
		const dl_conf_t *f;
		const char *sect;
	} * s;
	size_t n, cap;
	char *err;
	size_t errlen;
} set_t;

static int add_sect(void *ud, const char *sect, const char *name, int line)
{
	set_t *set = ud;
	const dl_conf_t *f = set->files[set->nfiles - 1];

	(void)name;
	for (size_t i = 0; i < set->n; i++) {
		if (strcmp(set->s[i].sect, sect))
			continue;
		snprintf(set->err, set->errlen,
			 "%s:%d: [%s] is already defined at %s:%d",
			 dl_conf_path(f), line, sect, dl_conf_path(set->s[i].f),
			 dl_conf_line(set->s[i].f, sect, NULL));
		return DL_ECONFIG;
	}
	if (set->n == DL_ALERT_RULES_MAX) {
		snprintf(set->err, set->errlen,
			 "%s:%d: [%s]: more than %d alert rules",
			 dl_conf_path(f), line, sect, DL_ALERT_RULES_MAX);
		return DL_ECONFIG;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 16;
		struct sect *s = realloc(set->s, cap * sizeof(*s));

		if (!s) {
			snprintf(set->err, set->errlen, "out of memory");
			return DL_ENOMEM;
		}
		set->s = s;
		set->cap = cap;
	}
	set->s[set->n++] = (struct sect){f, sect};
	return 0;
}

static int add_file(set_t *set, const char *path)
{
	dl_conf_t *f = dl_conf_load(path, set->err, set->errlen);

	if (!f)
		return DL_ECONFIG;
	set->files[set->nfiles++] = f;
	return dl_conf_sections(f, "alert", add_sect, set);
}

/* An included file holds [alert NAME] sections and nothing else. */
static int add_included(set_t *set, const char *path)
{
	static const char *const keys[] = {DL_ALERT_CONF_KEYS, NULL};
	struct stat st;

	if (stat(path, &st) || !S_ISREG(st.st_mode)) {
		snprintf(set->err, set->errlen,
			 "%s: included, but not a readable regular file", path);
		return DL_ECONFIG;
	}
	if (add_file(set, path))
		return DL_ECONFIG;
	return dl_conf_check_known(set->files[set->nfiles - 1], keys, set->err,
				   set->errlen);
}

/* glob(3) reports a directory it cannot read here: one that does not
 * exist is no files (no alerts.d), any other error stops the start
 * (rules silently missing would be worse). Start-up runs on one thread. */
static char glob_path[256];
static int glob_errno;

static int glob_fail(const char *path, int eno)
{
	if (eno == ENOENT || eno == ENOTDIR)
		return 0;
	snprintf(glob_path, sizeof(glob_path), "%s", path);
	glob_errno = eno;
	return 1;
}

/* collector.conf's `include`: a glob, matched in sorted order; none
 * matching is no rules, not an error (an empty or absent alerts.d). */
static int add_includes(set_t *set, const char *conf, const char *pattern)
{
	glob_t g;
	int rc;

	if (pattern[0] != '/') {
		snprintf(set->err, set->errlen,
			 "%s:%d: include must be an absolute path or glob",
			 conf,
			 dl_conf_line(set->files[0], "collector", "include"));
		return DL_ECONFIG;
	}
	glob_errno = 0;
	rc = glob(pattern, 0, glob_fail, &g);
	if (rc == GLOB_NOMATCH)
		return 0;
	if (rc == GLOB_NOSPACE)
		snprintf(set->err, set->errlen,
			 "%s:%d: include %s: out of memory", conf,
			 dl_conf_line(set->files[0], "collector", "include"),
			 pattern);
	else if (rc)
		snprintf(set->err, set->errlen,
			 "%s:%d: include %s: cannot read %s: %s", conf,
			 dl_conf_line(set->files[0], "collector", "include"),
			 pattern, glob_path,
			 strerror(glob_errno ? glob_errno : EIO));
	if (rc) {
		globfree(&g);
		return DL_ECONFIG;
	}
	if (g.gl_pathc > DL_ALERT_FILES_MAX) {
		snprintf(set->err, set->errlen,
			 "%s:%d: include %s matches %zu files, more than %d",
			 conf,
			 dl_conf_line(set->files[0], "collector", "include"),
			 pattern, (size_t)g.gl_pathc, DL_ALERT_FILES_MAX);
		globfree(&g);
		return DL_ECONFIG;
	}
	rc = 0;
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
		rc = add_included(set, g.gl_pathv[i]);
	globfree(&g);
	return rc;
}

int dl_alert_rules_load(const char *path, dl_alerts_has_fn has, void *has_ud,
			dl_alert_rule_t **rules, size_t *n, char *err,
			size_t errlen)
{
	set_t set = {.err = err, .errlen = errlen};
	dl_alert_rule_t *r = NULL;
	const char *inc;
	int rc = 0;

	*n = 0;
	*rules = NULL;
	if (path && (rc = add_file(&set, path)))
		goto out;
	inc = path ? dl_conf_str(set.files[0], "collector", "include", NULL)
		   : NULL;
	if (inc && (rc = add_includes(&set, path, inc)))
		goto out;
	if (!(r = calloc(set.n ? set.n : 1, sizeof(*r)))) {
		snprintf(err, errlen, "out of memory");
		rc = DL_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < set.n; i++) {
		ctx_t x = {set.s[i].f, set.s[i].sect, err, errlen};

		if ((rc = parse_rule(&x, &r[i], has, has_ud)))
			goto out;
	}
	*rules = r;
	*n = set.n;
	r = NULL;
	rc = 0;
out:
	free(r);
	for (size_t i = 0; i < set.nfiles; i++)
		dl_conf_free(set.files[i]);
	free(set.s);
	return rc;
}
