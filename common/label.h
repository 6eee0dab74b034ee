/* label.h - a container label filter as users write it: "K" (the label
 * is set, any value) or "K=V" (set to exactly V), in `ps --label`, the
 * API's ?label= and an alert rule's `label =`.
 *
 * Pure parsing, bounded by the wire's label limits; never allocates. */
#ifndef DL_COMMON_LABEL_H
#define DL_COMMON_LABEL_H

#include <stdbool.h>

#include "proto/msg.h"

typedef struct {
	char key[DL_MAX_LABEL_KEY + 1];
	char value[DL_MAX_LABEL_VALUE + 1];
	bool has_value; /* "K=V" (V may be empty: "K=") */
} dl_label_filter_t;

/* 0, or DL_EINVAL (NULL, empty key, key or value too long, a control
 * character in the key). The first '=' splits: "a=b=c" is key a, value
 * "b=c". */
int dl_label_filter_parse(const char *s, dl_label_filter_t *out);

/* Whether a label key/value pair satisfies f (value NULL: no such
 * label). */
bool dl_label_filter_match(const dl_label_filter_t *f, const char *value);

#endif
