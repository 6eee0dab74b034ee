/* watch_parse.c - Docker's JSON as the watcher reads it: the body of
 * /containers/json and one /events line into dl_container_t / dl_event_t
 * (strings malloc'ed, cut to the protocol's limits on a UTF-8 boundary),
 * and the string helpers the watcher shares. Pure functions: no I/O, no
 * loop, no state (tests/unit/test_watch.c feeds them fixtures). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/watch.h"
#include "agent/watch_int.h"
#include "common/err.h"
#include "common/log.h"
#include "common/utf8.h"

#define TAG "watch"

/* ---- string helpers -------------------------------------------------- */

int dl_watch__set_str(dl_str_t *out, const char *s, size_t n, size_t max)
{
	char *p;

	n = dl_utf8_cut(s, n, max);
	p = malloc(n + 1);
	if (!p)
		return DL_ENOMEM;
	memcpy(p, s, n);
	p[n] = '\0';
	out->p = p;
	out->n = (uint32_t)n;
	return 0;
}

void dl_watch__free_str(dl_str_t *s)
{
	free((void *)s->p);
	s->p = NULL;
	s->n = 0;
}

/* Optional string member: missing or wrong type gives "". Sets *cut when
 * the value was longer than max and got truncated. */
static int get_str(json_t *o, const char *key, dl_str_t *out, size_t max,
		   bool *cut)
{
	json_t *v = json_object_get(o, key);
	const char *s = "";
	size_t n = 0;

	if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
	}
	if (n > max && cut)
		*cut = true;
	return dl_watch__set_str(out, s, n, max);
}

void dl_watch__copy_fixed(char *dst, size_t dstlen, json_t *v)
{
	size_t n;

	dst[0] = '\0';
	if (!json_is_string(v))
		return;
	n = dl_utf8_cut(json_string_value(v), json_string_length(v),
			dstlen - 1);
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
}

/* ---- /containers/json ------------------------------------------------ */

static const char *health_of(const char *status)
{
	if (strstr(status, "(healthy)"))
		return "healthy";
	if (strstr(status, "(unhealthy)"))
		return "unhealthy";
	if (strstr(status, "(health: starting)"))
		return "starting";
	return "";
}

/* Docker lists "/web" and, for links, "/other/alias": take the first name
 * that is the container's own (one leading slash, no other). */
static int pick_name(json_t *names, dl_str_t *out, bool *cut)
{
	const char *best = "";
	size_t bestn = 0, i;
	json_t *v;

	if (json_is_array(names)) {
		json_array_foreach(names, i, v)
		{
			const char *s = json_string_value(v);
			size_t n = json_string_length(v);

			if (!s)
				continue;
			if (n > 0 && s[0] == '/') {
				s++;
				n--;
			}
			if (!*best || !memchr(s, '/', n)) {
				best = s;
				bestn = n;
			}
			if (!memchr(s, '/', n))
				break;
		}
	}
	if (bestn > DL_MAX_NAME)
		*cut = true;
	return dl_watch__set_str(out, best, bestn, DL_MAX_NAME);
}

static void free_labels(dl_labels_t *l)
{
	for (uint32_t i = 0; i < l->n; i++) {
		dl_watch__free_str(&l->v[i].key);
		dl_watch__free_str(&l->v[i].value);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Labels (an object of strings) within the DL_MAX_LABEL* bounds; what
 * does not fit is dropped and counted, never cut: a cut value would
 * match a filter it should not. */
static int parse_labels(json_t *o, dl_labels_t *l)
{
	uint32_t total = 0;
	const char *key;
	json_t *val;
	size_t n = json_object_size(o);

	memset(l, 0, sizeof(*l));
	l->has = true;
	if (!json_is_object(o) || n == 0)
		return 0;
	l->v = calloc(n < DL_MAX_LABELS ? n : DL_MAX_LABELS, sizeof(*l->v));
	if (!l->v)
		return DL_ENOMEM;
	json_object_foreach(o, key, val)
	{
		dl_attr_t *a = &l->v[l->n];
		size_t klen = strlen(key);

		if (!json_is_string(val) ||
		    !dl_label_fits(l->n, &total, klen,
				   json_string_length(val))) {
			l->dropped++;
			continue;
		}
		if (dl_watch__set_str(&a->key, key, klen, DL_MAX_LABEL_KEY))
			return DL_ENOMEM;
		if (dl_watch__set_str(&a->value, json_string_value(val),
				      json_string_length(val),
				      DL_MAX_LABEL_VALUE)) {
			dl_watch__free_str(&a->key);
			return DL_ENOMEM;
		}
		l->n++;
	}
	return 0;
}

void dl_watch__free_container(dl_container_t *c)
{
	free_labels(&c->labels);
	dl_watch__free_str(&c->id);
	dl_watch__free_str(&c->name);
	dl_watch__free_str(&c->image);
	dl_watch__free_str(&c->state);
	dl_watch__free_str(&c->status);
	dl_watch__free_str(&c->health);
}

/* 0, DL_ENOMEM, or DL_EPROTO with *why set (entry skipped). */
static int parse_container(json_t *o, dl_container_t *c, const char **why)
{
	json_t *id = json_object_get(o, "Id");
	json_t *created;
	bool cut = false;
	int rc;

	memset(c, 0, sizeof(*c));
	if (!json_is_object(o)) {
		*why = "entry is not an object";
		return DL_EPROTO;
	}
	if (!json_is_string(id) || json_string_length(id) == 0) {
		*why = "Id missing or not a string";
		return DL_EPROTO;
	}
	if (json_string_length(id) > DL_MAX_ID) {
		*why = "Id too long";
		return DL_EPROTO;
	}
	rc = dl_watch__set_str(&c->id, json_string_value(id),
			       json_string_length(id), DL_MAX_ID);
	if (!rc)
		rc = pick_name(json_object_get(o, "Names"), &c->name, &cut);
	if (!rc)
		rc = get_str(o, "Image", &c->image, DL_MAX_TEXT, &cut);
	if (!rc)
		rc = get_str(o, "State", &c->state, DL_MAX_NAME, &cut);
	if (!rc)
		rc = get_str(o, "Status", &c->status, DL_MAX_TEXT, &cut);
	if (!rc) {
		const char *h = health_of(c->status.p);

		rc = dl_watch__set_str(&c->health, h, strlen(h), DL_MAX_NAME);
	}
	if (!rc)
		rc = parse_labels(json_object_get(o, "Labels"), &c->labels);
	if (rc) {
		dl_watch__free_container(c);
		return rc;
	}
	created = json_object_get(o, "Created");
	if (json_is_integer(created))
		c->created = json_integer_value(created);
	if (cut)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container %.12s: over-long field truncated",
			  c->id.p);
	if (c->labels.dropped)
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container %.12s: %u labels dropped (at most %u, "
			  "key %u B, value %u B, %u B in all)",
			  c->id.p, c->labels.dropped, DL_MAX_LABELS,
			  DL_MAX_LABEL_KEY, DL_MAX_LABEL_VALUE,
			  DL_MAX_LABEL_TOTAL);
	return 0;
}

int dl_watch_parse_containers(const char *json, size_t len,
			      dl_container_t **out, uint32_t *n)
{
	dl_container_t *v = NULL;
	json_error_t jerr;
	json_t *root = NULL, *item;
	size_t i, count;
	uint32_t k = 0;
	int rc = DL_EPROTO;

	*out = NULL;
	*n = 0;
	if (!json)
		return DL_EINVAL;
	if (len > DL_DOCKER_MAX_BODY)
		return DL_ETOOBIG;
	root = json_loadb(json, len, 0, &jerr);
	if (!root) {
		DL_LOG_WARN(TAG, "/containers/json: not JSON: %s", jerr.text);
		goto fail;
	}
	if (!json_is_array(root)) {
		DL_LOG_WARN(TAG, "/containers/json: not an array");
		goto fail;
	}
	count = json_array_size(root);
	if (count > DL_MAX_CONTAINERS)
		DL_LOG_WARN(TAG,
			    "%zu containers, only the first %u are watched",
			    count, DL_MAX_CONTAINERS);
	v = calloc(
		count ? (count < DL_MAX_CONTAINERS ? count : DL_MAX_CONTAINERS)
		      : 1,
		sizeof(*v));
	if (!v) {
		rc = DL_ENOMEM;
		goto fail;
	}
	json_array_foreach(root, i, item)
	{
		const char *why = "";

		if (k == DL_MAX_CONTAINERS)
			break;
		rc = parse_container(item, &v[k], &why);
		if (rc == DL_ENOMEM)
			goto fail;
		if (rc == 0)
			k++;
		else
			DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
				  "/containers/json entry %zu skipped: %s", i,
				  why);
	}
	json_decref(root);
	*out = v;
	*n = k;
	return 0;
fail:
	dl_watch_free_containers(v, k);
	json_decref(root);
	return rc;
}

void dl_watch_free_containers(dl_container_t *v, uint32_t n)
{
	uint32_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		dl_watch__free_container(&v[i]);
	free(v);
}

/* ---- /events --------------------------------------------------------- */

static int parse_attrs(json_t *attrs, dl_event_t *ev)
{
	const char *key;
	json_t *val;
	size_t n = json_object_size(attrs);

	if (!json_is_object(attrs) || n == 0)
		return 0;
	ev->attrs =
		calloc(n < DL_MAX_ATTRS ? n : DL_MAX_ATTRS, sizeof(*ev->attrs));
	if (!ev->attrs)
		return DL_ENOMEM;
	json_object_foreach(attrs, key, val)
	{
		dl_attr_t *a = &ev->attrs[ev->nattrs];
		size_t klen = strlen(key);

		if (ev->nattrs == DL_MAX_ATTRS)
			break;
		/* Labels can be anything: skip what does not fit. */
		if (!json_is_string(val) || klen > DL_MAX_NAME ||
		    json_string_length(val) > DL_MAX_TEXT)
			continue;
		if (dl_watch__set_str(&a->key, key, klen, DL_MAX_NAME))
			return DL_ENOMEM;
		if (dl_watch__set_str(&a->value, json_string_value(val),
				      json_string_length(val), DL_MAX_TEXT)) {
			dl_watch__free_str(&a->key);
			return DL_ENOMEM;
		}
		ev->nattrs++;
	}
	return 0;
}

static int parse_event_obj(json_t *root, dl_event_t *ev, uint64_t *time_ns)
{
	json_t *type = json_object_get(root, "Type");
	json_t *action = json_object_get(root, "Action");
	json_t *actor = json_object_get(root, "Actor");
	json_t *id = json_object_get(actor, "ID");
	json_t *attrs = json_object_get(actor, "Attributes");
	json_t *t;
	int rc;

	if (!json_is_string(type) || !json_is_string(action)) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "event without Type/Action skipped");
		return DL_EPROTO;
	}
	if (json_is_string(id) && json_string_length(id) > DL_MAX_ID &&
	    strcmp(json_string_value(type), "container") == 0) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
			  "container event with an over-long id skipped");
		return DL_EPROTO;
	}
	rc = get_str(root, "Type", &ev->type, DL_MAX_NAME, NULL);
	if (!rc)
		rc = get_str(root, "Action", &ev->action, DL_MAX_TEXT, NULL);
	if (!rc)
		rc = get_str(actor, "ID", &ev->id, DL_MAX_ID, NULL);
	if (!rc)
		rc = get_str(attrs, "name", &ev->name, DL_MAX_NAME, NULL);
	if (!rc)
		rc = parse_attrs(attrs, ev);
	if (rc)
		return rc;
	t = json_object_get(root, "timeNano");
	if (json_is_integer(t) && json_integer_value(t) > 0) {
		*time_ns = (uint64_t)json_integer_value(t);
	} else {
		t = json_object_get(root, "time");
		if (json_is_integer(t) && json_integer_value(t) > 0 &&
		    json_integer_value(t) < INT64_MAX / 1000000000)
			*time_ns =
				(uint64_t)json_integer_value(t) * 1000000000u;
	}
	return 0;
}

int dl_watch_parse_event(const char *json, size_t len, dl_event_t *ev,
			 uint64_t *time_ns)
{
	json_error_t jerr;
	json_t *root;
	int rc;

	memset(ev, 0, sizeof(*ev));
	*time_ns = 0;
	if (!json)
		return DL_EINVAL;
	if (len > DL_DOCKER_MAX_LINE)
		return DL_ETOOBIG;
	root = json_loadb(json, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG, "event line skipped: %s",
			  root ? "not an object" : jerr.text);
		json_decref(root);
		return DL_EPROTO;
	}
	rc = parse_event_obj(root, ev, time_ns);
	json_decref(root);
	if (rc)
		dl_watch_free_event(ev);
	return rc;
}

void dl_watch_free_event(dl_event_t *ev)
{
	uint32_t i;

	if (!ev)
		return;
	dl_watch__free_str(&ev->type);
	dl_watch__free_str(&ev->action);
	dl_watch__free_str(&ev->id);
	dl_watch__free_str(&ev->name);
	for (i = 0; i < ev->nattrs; i++) {
		dl_watch__free_str(&ev->attrs[i].key);
		dl_watch__free_str(&ev->attrs[i].value);
	}
	free(ev->attrs);
	ev->attrs = NULL;
	ev->nattrs = 0;
}
