/* stack.c - the stack file of `dockline apply` (stack.h, docs/DEPLOY.md).
 *
 * Each container becomes the args object of a `run` request, checked by
 * the same table the collector and the agent check it with
 * (proto/control.c), so a file that parses here is one the agent takes. */
#include "collector/stack.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"
#include "proto/control.h"

#define PATH_MAX_ 48 /* "containers[63].depends_on[63]" */

typedef struct {
	const char *name;  /* in args */
	const char *image; /* in args */
	json_t *args;	   /* the run request's args */
	size_t deps[DL_STACK_MAX];
	size_t ndeps;
	bool needed;
} ctr_t;

struct dl_stack {
	size_t n;
	ctr_t c[DL_STACK_MAX];
	size_t order[DL_STACK_MAX];
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return DL_EINVAL;
}

/* ---- one container ------------------------------------------------- */

static bool strings(const json_t *v)
{
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return false;
	json_array_foreach(v, i, e)
	{
		if (!json_is_string(e))
			return false;
	}
	return true;
}

/* {"K": "V"} -> ["K=V"] (run's labels). */
static json_t *labels_list(const json_t *o)
{
	json_t *out = json_array(), *v;
	const char *k;
	char kv[DL_CTL_LABEL_KEY_MAX + DL_CTL_LABEL_VAL_MAX + 2];

	json_object_foreach((json_t *)o, k, v)
	{
		if (!json_is_string(v) ||
		    strlen(k) + strlen(json_string_value(v)) + 2 > sizeof(kv)) {
			json_decref(out);
			return NULL;
		}
		snprintf(kv, sizeof(kv), "%s=%s", k, json_string_value(v));
		json_array_append_new(out, json_string(kv));
	}
	return out;
}

/* health: {"cmd": "...", "interval": "10s" | 10}. */
static int health(const char *path, const json_t *h, json_t *args, char *err,
		  size_t errlen)
{
	const json_t *cmd = json_object_get(h, "cmd");
	const json_t *iv = json_object_get(h, "interval");
	const char *k;
	json_t *v;
	int64_t s = 0;

	if (!json_is_object(h))
		return fail(err, errlen, "%s.health: must be an object", path);
	json_object_foreach((json_t *)h, k, v)
	{
		if (strcmp(k, "cmd") && strcmp(k, "interval"))
			return fail(err, errlen, "%s.health.%.40s: unknown key",
				    path, k);
	}
	if (!json_is_string(cmd))
		return fail(err, errlen, "%s.health.cmd: must be a string",
			    path);
	json_object_set(args, "health_cmd", (json_t *)cmd);
	if (!iv)
		return 0;
	if (json_is_integer(iv))
		s = json_integer_value(iv);
	else if (!json_is_string(iv) ||
		 dl_duration_parse(json_string_value(iv), &s))
		s = -1;
	if (s < 1 || s > 86400)
		return fail(err, errlen,
			    "%s.health.interval: must be 1s to 24h (\"10s\" or "
			    "seconds)",
			    path);
	json_object_set_new(args, "health_interval", json_integer(s));
	return 0;
}

/* One member of a container object into args. */
static int member(const char *path, const char *k, json_t *v, json_t *args,
		  char *err, size_t errlen)
{
	static const char *const str[] = {"name", "image", "restart", "network",
					  NULL};
	static const char *const list[] = {"env", "ports", "volumes", "cmd",
					   NULL};

	for (const char *const *p = str; *p; p++) {
		if (strcmp(k, *p))
			continue;
		if (!json_is_string(v))
			return fail(err, errlen, "%s.%s: must be a string",
				    path, k);
		json_object_set(args, k, v);
		return 0;
	}
	for (const char *const *p = list; *p; p++) {
		if (strcmp(k, *p))
			continue;
		if (!strings(v))
			return fail(err, errlen,
				    "%s.%s: must be an array of strings", path,
				    k);
		if (json_array_size(v))
			json_object_set(args, k, v);
		return 0;
	}
	if (!strcmp(k, "labels")) {
		json_t *l = json_is_object(v) ? labels_list(v) : NULL;

		if (!l)
			return fail(err, errlen,
				    "%s.labels: must be an object of string "
				    "values",
				    path);
		if (json_array_size(l))
			json_object_set_new(args, "labels", l);
		else
			json_decref(l);
		return 0;
	}
	if (!strcmp(k, "health"))
		return health(path, v, args, err, errlen);
	if (!strcmp(k, "memory") || !strcmp(k, "cpus")) {
		if (!(!strcmp(k, "memory") ? json_is_integer(v)
					   : json_is_number(v)))
			return fail(err, errlen, "%s.%s: must be a number",
				    path, k);
		json_object_set(args, k, v);
		return 0;
	}
	if (!strcmp(k, "depends_on"))
		return strings(v) ? 0
				  : fail(err, errlen,
					 "%s.depends_on: must be an array of "
					 "names",
					 path);
	return fail(err, errlen, "%s.%.40s: unknown key", path, k);
}

static int container(dl_stack_t *s, size_t i, json_t *o, char *err,
		     size_t errlen)
{
	char path[PATH_MAX_], e[256];
	ctr_t *c = &s->c[i];
	const char *k;
	json_t *v;

	snprintf(path, sizeof(path), "containers[%zu]", i);
	if (!json_is_object(o))
		return fail(err, errlen, "%s: must be an object", path);
	if (!(c->args = json_object()))
		return DL_ENOMEM;
	json_object_foreach(o, k, v)
	{
		if (member(path, k, v, c->args, err, errlen))
			return DL_EINVAL;
	}
	c->name = json_string_value(json_object_get(c->args, "name"));
	c->image = json_string_value(json_object_get(c->args, "image"));
	if (!c->name || !c->image)
		return fail(err, errlen, "%s: needs a name and an image", path);
	if (dl_control_validate(dl_control_op("run"), c->args, e, sizeof(e)))
		return fail(err, errlen, "%s (%.64s): %s", path, c->name, e);
	for (size_t j = 0; j < i; j++)
		if (!strcmp(s->c[j].name, c->name))
			return fail(err, errlen,
				    "%s: the name %.64s is taken by "
				    "containers[%zu]",
				    path, c->name, j);
	return 0;
}

/* ---- dependencies ---------------------------------------------------- */

static int deps(dl_stack_t *s, size_t i, const json_t *list, char *err,
		size_t errlen)
{
	size_t j, d;
	json_t *v;

	json_array_foreach(list, j, v)
	{
		const char *n = json_string_value(v);

		for (d = 0; d < s->n && strcmp(s->c[d].name, n); d++)
			;
		if (d == s->n)
			return fail(err, errlen,
				    "containers[%zu].depends_on[%zu]: no "
				    "container named \"%.64s\" in the file",
				    i, j, n);
		for (size_t k = 0; k < s->c[i].ndeps; k++)
			if (s->c[i].deps[k] == d)
				return fail(err, errlen,
					    "containers[%zu].depends_on[%zu]: "
					    "%.64s is listed twice",
					    i, j, n);
		if (s->c[i].ndeps == DL_STACK_MAX)
			return fail(err, errlen,
				    "containers[%zu].depends_on: too many", i);
		s->c[i].deps[s->c[i].ndeps++] = d;
		s->c[d].needed = true;
	}
	return 0;
}

typedef struct {
	dl_stack_t *s;
	unsigned char state[DL_STACK_MAX]; /* 0 new, 1 on the path, 2 done */
	size_t path[DL_STACK_MAX];
	size_t depth, n;
	char *err;
	size_t errlen;
} walk_t;

/* "a -> b -> c -> a": the path from to's place on it, back to to. */
static int cycle(walk_t *w, size_t to)
{
	size_t from = 0, len;

	while (w->path[from] != to)
		from++;
	len = (size_t)snprintf(w->err, w->errlen, "depends_on has a cycle: ");
	for (size_t k = from; k < w->depth && len < w->errlen; k++)
		len += (size_t)snprintf(w->err + len, w->errlen - len,
					"%.64s -> ", w->s->c[w->path[k]].name);
	if (len < w->errlen)
		snprintf(w->err + len, w->errlen - len, "%.64s",
			 w->s->c[to].name);
	return DL_EINVAL;
}

/* Depth first: a container goes into the order after its dependencies. */
static int visit(walk_t *w, size_t i)
{
	const ctr_t *c = &w->s->c[i];

	w->state[i] = 1;
	w->path[w->depth++] = i;
	for (size_t k = 0; k < c->ndeps; k++) {
		size_t d = c->deps[k];

		if (w->state[d] == 1)
			return cycle(w, d);
		if (w->state[d] == 0 && visit(w, d))
			return DL_EINVAL;
	}
	w->depth--;
	w->state[i] = 2;
	w->s->order[w->n++] = i;
	return 0;
}

static int order(dl_stack_t *s, char *err, size_t errlen)
{
	walk_t w = {.s = s, .err = err, .errlen = errlen};

	for (size_t i = 0; i < s->n; i++)
		if (w.state[i] == 0 && visit(&w, i))
			return DL_EINVAL;
	return 0;
}

/* ---- the file -------------------------------------------------------- */

static int parse_list(dl_stack_t *s, json_t *list, char *err, size_t errlen)
{
	size_t i;
	json_t *o;
	int rc;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return fail(err, errlen,
			    "containers: must be a non-empty array");
	if (json_array_size(list) > DL_STACK_MAX)
		return fail(err, errlen, "containers: at most %d, not %zu",
			    DL_STACK_MAX, json_array_size(list));
	s->n = json_array_size(list);
	json_array_foreach(list, i, o)
	{
		if ((rc = container(s, i, o, err, errlen)))
			return rc;
	}
	json_array_foreach(list, i, o)
	{
		rc = deps(s, i, json_object_get(o, "depends_on"), err, errlen);
		if (rc)
			return rc;
	}
	return order(s, err, errlen);
}

int dl_stack_parse(const char *text, size_t len, dl_stack_t **out, char *err,
		   size_t errlen)
{
	dl_stack_t *s = NULL;
	json_error_t je;
	json_t *root = NULL;
	const char *k;
	json_t *v;
	int rc = DL_EINVAL;

	*out = NULL;
	if (len > DL_STACK_FILE_MAX)
		return fail(err, errlen, "the file is over %d bytes",
			    DL_STACK_FILE_MAX);
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, errlen, "line %d column %d: %s", je.line,
			    je.column, je.text);
	if (!json_is_object(root)) {
		rc = fail(err, errlen, "the file must be a JSON object");
		goto fail;
	}
	json_object_foreach(root, k, v)
	{
		if (strcmp(k, "containers")) {
			rc = fail(err, errlen, "%.40s: unknown key", k);
			goto fail;
		}
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		rc = DL_ENOMEM;
		goto fail;
	}
	rc = parse_list(s, json_object_get(root, "containers"), err, errlen);
	if (rc)
		goto fail;
	json_decref(root);
	*out = s;
	return 0;
fail:
	dl_stack_free(s);
	json_decref(root);
	return rc;
}

void dl_stack_free(dl_stack_t *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < DL_STACK_MAX; i++)
		json_decref(s->c[i].args);
	free(s);
}

size_t dl_stack_count(const dl_stack_t *s)
{
	return s->n;
}
size_t dl_stack_order(const dl_stack_t *s, size_t k)
{
	return s->order[k];
}
const char *dl_stack_name(const dl_stack_t *s, size_t i)
{
	return s->c[i].name;
}
const char *dl_stack_image(const dl_stack_t *s, size_t i)
{
	return s->c[i].image;
}
const json_t *dl_stack_args(const dl_stack_t *s, size_t i)
{
	return s->c[i].args;
}
size_t dl_stack_ndeps(const dl_stack_t *s, size_t i)
{
	return s->c[i].ndeps;
}
size_t dl_stack_dep(const dl_stack_t *s, size_t i, size_t j)
{
	return s->c[i].deps[j];
}
bool dl_stack_needed(const dl_stack_t *s, size_t i)
{
	return s->c[i].needed;
}
