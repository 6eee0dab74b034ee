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

/* Replays reach back ~2 s. The ring answers exact repeats; an event
 * older than every remembered one counts as seen too (dockerd replays in
 * time order), so bursts faster than the ring per replay window are
 * covered. */
#define DL_REPLAY_RING 64

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
