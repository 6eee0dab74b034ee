/* spec.h - container specs for the deploy ops: the Engine API create
 * body from `run`'s arguments, and from an existing container's inspect
 * (for `recreate`). Pure functions over JSON: no Docker, no I/O, so the
 * mapping is tested as a table. They never check arguments: callers pass
 * what dl_control_validate accepted. */
#ifndef DL_AGENT_SPEC_H
#define DL_AGENT_SPEC_H

#include <jansson.h>
#include <stddef.h>

/* The POST /containers/create body for run's args (validated). Caller
 * owns the result; NULL on ENOMEM. */
json_t *dl_spec_from_args(const json_t *args);

/* The create body for a new container like ctr (a GET /containers/ID/json
 * answer) but from image. What ctr only has because its old image said
 * so (img: that image's inspect, may be NULL) is left out, so the new
 * image's own defaults apply: Env entries and Labels equal to the old
 * image's, and Cmd, Entrypoint, WorkingDir, User, Healthcheck equal to
 * its values. Hostname is dropped when it is the old id's prefix (Docker
 * chose it). Caller owns the result; NULL on ENOMEM or a ctr without
 * Config/HostConfig. */
json_t *dl_spec_from_inspect(const json_t *ctr, const json_t *img,
			     const char *image);

/* {"Name", "MaximumRetryCount"} for a restart policy ("on-failure:3");
 * NULL when it is not one. Caller owns the result. */
json_t *dl_spec_restart(const char *policy);

/* Splits an image reference for /images/create: "reg:5000/a/b:v1" ->
 * from "reg:5000/a/b", tag "v1"; no tag -> "latest"; a digest
 * ("a@sha256:...") -> from the whole reference, tag "". 0, or DL_EINVAL
 * when a part does not fit. */
int dl_spec_split_image(const char *image, char *from, size_t fromlen,
			char *tag, size_t taglen);

#endif
