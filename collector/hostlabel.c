/* hostlabel.c - host label rules and edits (see hostlabel.h). */
#include "collector/hostlabel.h"

#include <stdio.h>
#include <string.h>

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

bool dl_hostlabel_key_ok(const char *k, char *err, size_t errlen)
{
	size_t n = k ? strnlen(k, DL_HOSTLABEL_KEY_MAX + 1) : 0;

	if (n == 0) {
		snprintf(err, errlen, "a label key is empty");
		return false;
	}
	if (n > DL_HOSTLABEL_KEY_MAX) {
		snprintf(err, errlen, "label key \"%.16s...\" is over %d bytes",
			 k, DL_HOSTLABEL_KEY_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		bool inner = k[i] == '.' || k[i] == '_' || k[i] == '/' ||
			     k[i] == '-';

		if (alnum(k[i]) || (inner && i > 0 && i + 1 < n))
			continue;
		snprintf(err, errlen,
			 "label key \"%.*s\": letters, digits and . _ / - "
			 "(a letter or digit first and last)",
			 (int)n, k);
		for (char *p = err; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		return false;
	}
	return true;
}

bool dl_hostlabel_value_ok(const char *k, const char *v, char *err,
			   size_t errlen)
{
	size_t n = v ? strnlen(v, DL_HOSTLABEL_VALUE_MAX + 1) : 0;

	if (!v) {
		snprintf(err, errlen, "label %s: the value is not a string", k);
		return false;
	}
	if (n > DL_HOSTLABEL_VALUE_MAX) {
		snprintf(err, errlen, "label %s: the value is over %d bytes", k,
			 DL_HOSTLABEL_VALUE_MAX);
		return false;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e) {
			snprintf(err, errlen,
				 "label %s: the value must be printable "
				 "ASCII",
				 k);
			return false;
		}
	return true;
}

int dl_hostlabel_parse_word(const char *w, json_t *set, json_t *remove,
			    char *err, size_t errlen)
{
	const char *eq = strchr(w, '=');
	size_t n = strlen(w);
	char key[DL_HOSTLABEL_KEY_MAX + 2];

	if (!eq && n > 1 && w[n - 1] == '-') {
		snprintf(key, sizeof(key), "%.*s",
			 (int)(n - 1 > DL_HOSTLABEL_KEY_MAX + 1
				       ? DL_HOSTLABEL_KEY_MAX + 1
				       : n - 1),
			 w);
		if (!dl_hostlabel_key_ok(key, err, errlen))
			return -1;
		return json_array_append_new(remove, json_string(key));
	}
	if (!eq) {
		snprintf(err, errlen,
			 "\"%.64s\": K=V sets a label, K- removes it", w);
		return -1;
	}
	n = (size_t)(eq - w);
	snprintf(key, sizeof(key), "%.*s",
		 (int)(n > DL_HOSTLABEL_KEY_MAX + 1 ? DL_HOSTLABEL_KEY_MAX + 1
						    : n),
		 w);
	if (!dl_hostlabel_key_ok(key, err, errlen) ||
	    !dl_hostlabel_value_ok(key, eq + 1, err, errlen))
		return -1;
	return json_object_set_new(set, key, json_string(eq + 1));
}

int dl_hostlabel_edit_check(const json_t *set, const json_t *remove, char *err,
			    size_t errlen)
{
	const char *k;
	json_t *v;
	size_t i;

	if ((set && !json_is_object(set)) ||
	    (remove && !json_is_array(remove))) {
		snprintf(err, errlen,
			 "labels: set is an object of strings, remove an "
			 "array of keys");
		return -1;
	}
	if (json_object_size(set) + json_array_size(remove) == 0) {
		snprintf(err, errlen, "labels: nothing to set or remove");
		return -1;
	}
	if (json_object_size(set) + json_array_size(remove) >
	    DL_HOSTLABEL_EDITS_MAX) {
		snprintf(err, errlen, "labels: at most %d changes at once",
			 DL_HOSTLABEL_EDITS_MAX);
		return -1;
	}
	json_object_foreach((json_t *)set, k, v)
	{
		if (!dl_hostlabel_key_ok(k, err, errlen) ||
		    !dl_hostlabel_value_ok(k, json_string_value(v), err,
					   errlen))
			return -1;
	}
	json_array_foreach(remove, i, v)
	{
		k = json_string_value(v);
		if (!dl_hostlabel_key_ok(k, err, errlen))
			return -1;
		if (json_object_get(set, k)) {
			snprintf(err, errlen,
				 "label %s is both set and removed", k);
			return -1;
		}
	}
	return 0;
}

int dl_hostlabel_apply(json_t *labels, const json_t *set, const json_t *remove,
		       char *err, size_t errlen)
{
	json_t *next = json_copy(labels), *v;
	const char *k;
	size_t i;

	if (!next) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	json_array_foreach(remove, i, v)
		json_object_del(next, json_string_value(v));
	json_object_foreach((json_t *)set, k, v) json_object_set(next, k, v);
	if (json_object_size(next) > DL_HOSTLABEL_MAX) {
		snprintf(err, errlen,
			 "a host has at most %d labels (this would make "
			 "%zu)",
			 DL_HOSTLABEL_MAX, json_object_size(next));
		json_decref(next);
		return -1;
	}
	json_object_clear(labels);
	json_object_update(labels, next);
	json_decref(next);
	return 0;
}

bool dl_hostlabel_selector_ok(const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	char key[DL_HOSTLABEL_KEY_MAX + 2];
	size_t kl = eq ? (size_t)(eq - v) : strlen(v);

	/* One byte more than a key may have: an overlong one still fails. */
	snprintf(key, sizeof(key), "%.*s",
		 (int)(kl > DL_HOSTLABEL_KEY_MAX + 1 ? DL_HOSTLABEL_KEY_MAX + 1
						     : kl),
		 v);
	return dl_hostlabel_key_ok(key, err, errlen) &&
	       (!eq || dl_hostlabel_value_ok(key, eq + 1, err, errlen));
}

bool dl_hostlabel_match(const json_t *labels, const json_t *sel)
{
	json_t *s;
	size_t i;

	json_array_foreach(sel, i, s)
	{
		const char *w = json_string_value(s), *eq;
		const char *have;
		size_t kl;
		char key[DL_HOSTLABEL_KEY_MAX + 1];

		if (!w)
			return false;
		eq = strchr(w, '=');
		kl = eq ? (size_t)(eq - w) : strlen(w);
		if (kl == 0 || kl > DL_HOSTLABEL_KEY_MAX)
			return false;
		memcpy(key, w, kl);
		key[kl] = '\0';
		have = json_string_value(json_object_get(labels, key));
		if (!have || (eq && strcmp(have, eq + 1)))
			return false;
	}
	return true;
}
