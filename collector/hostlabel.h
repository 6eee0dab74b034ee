/* hostlabel.h - host labels (`dockline label HOST K=V K-`): the rules a
 * key and a value follow, the edit of a host's label object, and the
 * `--label K=V` selection of fleet-wide commands. Pure: no store, no
 * socket; the admin socket, the store writer and the CLI all check with
 * these same functions, so a label one accepts the others accept. */
#ifndef DL_COLLECTOR_HOSTLABEL_H
#define DL_COLLECTOR_HOSTLABEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DL_HOSTLABEL_KEY_MAX   63  /* bytes */
#define DL_HOSTLABEL_VALUE_MAX 128 /* bytes */
#define DL_HOSTLABEL_MAX       32  /* labels per host */
#define DL_HOSTLABEL_EDITS_MAX 64  /* K=V and K- in one request */

/* Key: [A-Za-z0-9] first and last, [A-Za-z0-9._/-] between, at most
 * DL_HOSTLABEL_KEY_MAX (so "K-" always means "remove K"). Value: 0 to
 * DL_HOSTLABEL_VALUE_MAX bytes of printable ASCII. true when valid, else
 * a sentence naming the key in err. */
bool dl_hostlabel_key_ok(const char *k, char *err, size_t errlen);
bool dl_hostlabel_value_ok(const char *k, const char *v, char *err,
			   size_t errlen);

/* One command-line word, "K=V" (into set) or "K-" (into remove). 0, or
 * -1 with a sentence in err. set is an object, remove an array. */
int dl_hostlabel_parse_word(const char *w, json_t *set, json_t *remove,
			    char *err, size_t errlen);

/* Checks an edit as the admin socket receives it: set an object of
 * string values, remove an array of keys (either may be NULL, not both
 * empty), every key and value valid, a key not both set and removed, at
 * most DL_HOSTLABEL_EDITS_MAX entries. 0, or -1 with a sentence. */
int dl_hostlabel_edit_check(const json_t *set, const json_t *remove, char *err,
			    size_t errlen);

/* Applies a checked edit to labels (an object, changed in place): the
 * removals, then the sets. -1 with a sentence when the result would hold
 * more than DL_HOSTLABEL_MAX labels (labels is then unchanged). */
int dl_hostlabel_apply(json_t *labels, const json_t *set, const json_t *remove,
		       char *err, size_t errlen);

/* Whether v is a selector dl_hostlabel_match can meet: "K=V" or "K"
 * with a valid key (and value); else false with err set. */
bool dl_hostlabel_selector_ok(const char *v, char *err, size_t errlen);

/* Whether labels (an object, or NULL: none) hold every "K=V" (or "K":
 * set to anything) of sel, an array of strings. An empty sel matches. */
bool dl_hostlabel_match(const json_t *labels, const json_t *sel);

#endif
