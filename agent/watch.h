/* watch.h - keeps the agent's view of the local Docker Engine current.
 *
 * Discovery: /_ping, /version, /info, /containers/json?all=1 (never
 * size=1: it makes dockerd walk every layer), then /events kept open all
 * the time. Each container event refreshes that one container; destroy
 * removes it. Containers are inspected (4 at once) when first listed and
 * after events that change their state facts (start, die, health, ...);
 * on_container then reports them with dl_container_t.d filled in. When
 * dockerd goes away the watcher reports it down and retries with backoff
 * (1 s to 30 s); after every reconnect it lists everything again and
 * reports a fresh inventory. It never pauses the event stream: dockerd
 * drops events for slow readers.
 *
 * All dl_str_t fields passed to callbacks are valid only during the call.
 */
#ifndef DL_AGENT_WATCH_H
#define DL_AGENT_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "agent/docker.h"
#include "proto/msg.h"

typedef struct dl_watch dl_watch_t;

typedef struct {
	/* dockerd state changed (up with version info, or down with a
	 * reason). Called on every transition, and once at first contact. */
	void (*on_docker)(void *ud, const dl_dockerinfo_t *info);
	/* Full list after (re)connecting to dockerd. */
	void (*on_inventory)(void *ud, const dl_container_t *v, uint32_t n);
	/* One container created/changed (removed=false) or destroyed. */
	void (*on_container)(void *ud, bool removed, const dl_container_t *c);
	/* Every Docker event, all types; time_ns from Docker's timeNano. */
	void (*on_event)(void *ud, const dl_event_t *ev, uint64_t time_ns);
	/* Optional: Docker time (ns) of the newest event already accepted,
	 * this run or the last, 0 if none. The event stream is opened from
	 * that second when it is older than now - 1 s, so the events dockerd
	 * still holds from while the agent (or its stream) was down are not
	 * lost; on_event must skip the ones it had (agent/replay.h). */
	uint64_t (*resume_ns)(void *ud);
} dl_watch_cbs_t;

dl_watch_t *dl_watch_new(uv_loop_t *loop, const char *socket_path,
			 const dl_watch_cbs_t *cbs, void *ud);
/* Before dl_watch_start: only containers with this label (KEY or
 * KEY=VALUE, [\w.:/=-] only) are listed and followed; their events are
 * the only ones streamed. NULL or "" = all. DL_EINVAL for another
 * character or more than 255. */
int dl_watch_set_label(dl_watch_t *w, const char *label);
int dl_watch_start(dl_watch_t *w);
/* Stops requests and timers; done(arg) after handles are closed. */
void dl_watch_close(dl_watch_t *w, void (*done)(void *), void *arg);

/* For the stats sampler, which sends its own requests on the watcher's
 * Docker client rather than opening a second one. The client is NULL
 * after dl_watch_close() (which cancels every request on it). api: the
 * negotiated prefix ("/v1.41"). root_dir: /info's DockerRootDir, "" until
 * known. All valid until dl_watch_close(). */
dl_docker_t *dl_watch_docker(dl_watch_t *w);
const char *dl_watch_api(const dl_watch_t *w);
const char *dl_watch_root_dir(const dl_watch_t *w);

/* Parsers, exposed for unit tests on captured Docker JSON. They validate
 * types and sizes and skip (with a reason) entries that do not fit.
 * dl_watch_parse_containers: body of /containers/json; fills *out
 * (malloc'ed array, strings malloc'ed too; free with
 * dl_watch_free_containers). */
int dl_watch_parse_containers(const char *json, size_t len,
			      dl_container_t **out, uint32_t *n);
void dl_watch_free_containers(dl_container_t *v, uint32_t n);
/* One /events line into ev (strings malloc'ed; dl_watch_free_event). */
int dl_watch_parse_event(const char *json, size_t len, dl_event_t *ev,
			 uint64_t *time_ns);
void dl_watch_free_event(dl_event_t *ev);

#endif
