/* replay.h - the newest Docker events the agent accepted, remembered
 * across restarts in state_dir/events.seen, so the events dockerd replays
 * when the agent (re)subscribes with since = now - 1 s (watch.c) are not
 * queued a second time under new seqs, which the collector could not
 * dedupe. Keyed on Docker's timeNano and a CRC of type, action and id.
 * Advisory: a lost or unreadable file only lets duplicates through. */
#ifndef DL_AGENT_REPLAY_H
#define DL_AGENT_REPLAY_H

#include <stdint.h>

#include "proto/msg.h"

/* A replay can only hold what dockerd still buffers: its last 256 events
 * (daemon/events eventsLimit). The ring holds twice that, so every
 * accepted event dockerd can replay is answered by an exact match. An
 * event older than every remembered one counts as seen too. With 64 the
 * floor was the only answer for most of a burst, and Docker publishes
 * concurrent events slightly out of time order: an event evicted from
 * the ring could be newer than the floor and went out twice
 * (tests/faults/case_agent_kill.sh, 1 of 1,000). */
#define DL_REPLAY_RING 512

typedef struct dl_replay dl_replay_t;

/* Loads state_dir/events.seen if it is there. NULL only without memory. */
dl_replay_t *dl_replay_new(const char *state_dir);
void dl_replay_free(dl_replay_t *r);
/* 1: ev (Docker time time_ns) was accepted before (remembered, or older
 * than the oldest remembered event), skip it; 0: new.
 * An event without a Docker time (0) is always new. */
int dl_replay_seen(const dl_replay_t *r, const dl_event_t *ev,
		   uint64_t time_ns);
/* ev was queued (spooled) under seq: remember it, rewriting the file in
 * place without fsync. Called after the spool took it, so a crash in
 * between can only repeat an event, never lose one; and the agent closes
 * that window at start: every EVENT spooled after dl_replay_seq() is
 * noted from the spool (agent.c replay_catch_up). */
void dl_replay_note(dl_replay_t *r, const dl_event_t *ev, uint64_t time_ns,
		    uint64_t seq);
/* Spool seq of the newest noted event, 0 if none (or an old file). */
uint64_t dl_replay_seq(const dl_replay_t *r);
/* Docker time of the newest remembered event, 0 if none. */
uint64_t dl_replay_newest(const dl_replay_t *r);

#endif
