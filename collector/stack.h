/* stack.h - `dockline apply`'s stack file: parse, validate, order.
 *
 * Pure: JSON text in, per container the `run` arguments the CLI would
 * send and the start order by depends_on out (docs/DEPLOY.md). It never
 * talks to a collector or an agent, and accepts nothing it does not know:
 * an unknown key is an error naming its path ("containers[2].envv"). */
#ifndef DL_STACK_H
#define DL_STACK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define DL_STACK_MAX	  64	       /* containers in one file */
#define DL_STACK_FILE_MAX (256 * 1024) /* bytes of the file */

typedef struct dl_stack dl_stack_t;

/* Parses and checks a stack file, and orders it so every container comes
 * after what it depends on (a cycle is an error naming it: "a -> b ->
 * a"). *out is the caller's (dl_stack_free). 0, or DL_EINVAL with a
 * sentence in err. */
int dl_stack_parse(const char *text, size_t len, dl_stack_t **out, char *err,
		   size_t errlen);
void dl_stack_free(dl_stack_t *s);

/* How many containers. */
size_t dl_stack_count(const dl_stack_t *s);
/* The index (into the file's order) of the k-th container to start. */
size_t dl_stack_order(const dl_stack_t *s, size_t k);
/* Container i's name and image (owned by s). */
const char *dl_stack_name(const dl_stack_t *s, size_t i);
const char *dl_stack_image(const dl_stack_t *s, size_t i);
/* Container i's `run` args (owned by s: json_deep_copy to change). */
const json_t *dl_stack_args(const dl_stack_t *s, size_t i);
/* Container i's dependencies: how many, and the j-th as an index. */
size_t dl_stack_ndeps(const dl_stack_t *s, size_t i);
size_t dl_stack_dep(const dl_stack_t *s, size_t i, size_t j);
/* Whether some other container depends on container i. */
bool dl_stack_needed(const dl_stack_t *s, size_t i);

#endif
