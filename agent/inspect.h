/* inspect.h - what GET /containers/{id}/json says about a container's
 * state that /containers/json does not: start and finish times, exit
 * code, OOM, restarts, the health check's streak and last output.
 *
 * A pure parser (no I/O), bounded like every Docker input: the body is
 * capped before it gets here, strings are cut to their wire limits. */
#ifndef DL_AGENT_INSPECT_H
#define DL_AGENT_INSPECT_H

#include <stddef.h>
#include <stdint.h>

#include "proto/msg.h"

/* Most of an inspect body is config (env, labels, mounts); the cap only
 * keeps a pathological one from costing memory. */
#define DL_INSPECT_MAX_BODY (4u * 1024u * 1024u)

typedef struct {
	dl_cdetail_t d;		      /* d.health_output points into output */
	char state[DL_MAX_NAME + 1];  /* State.Status: running, exited, ... */
	char health[DL_MAX_NAME + 1]; /* State.Health.Status, "" if none */
	char output[DL_MAX_HEALTH_OUTPUT + 1];
} dl_inspect_t;

/* Parses an inspect body into out (d.has set). Returns 0, DL_EPROTO (not
 * an object with a State object) or DL_ETOOBIG. */
int dl_inspect_parse(const char *json, size_t len, dl_inspect_t *out);

/* "2026-11-30T20:55:01.123456789Z" (or with a +hh:mm offset) as unix ns;
 * 0 for Docker's "0001-01-01T00:00:00Z" (never), anything before 1970
 * or unparsable. */
uint64_t dl_inspect_time_ns(const char *s);

#endif
