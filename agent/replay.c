#include "agent/replay.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/crc32c.h"
#include "common/log.h"

/* events.seen: DL_REPLAY_RING entries of 12 bytes, little-endian
 * time_ns u64 + key u32; then u32 next slot; then u64 the spool seq of
 * the newest noted event. Rewritten whole in place. Older agents wrote
 * 64 entries and the next slot only (OLD_BYTES): still read. */
#define FILE_BYTES (DL_REPLAY_RING * 12 + 4 + 8)
#define OLD_RING   64
#define OLD_BYTES  (OLD_RING * 12 + 4)

typedef struct {
	uint64_t time_ns;
	uint32_t key;
} seen_t;

struct dl_replay {
	char path[1100];
	seen_t ring[DL_REPLAY_RING];
	uint32_t next;
	uint64_t seq;
};

static uint32_t key_of(const dl_event_t *ev)
{
	static const uint8_t sep = 0;
	uint32_t c = dl_crc32c(0, ev->type.p, ev->type.n);

	c = dl_crc32c(c, &sep, 1);
	c = dl_crc32c(c, ev->action.p, ev->action.n);
	c = dl_crc32c(c, &sep, 1);
	return dl_crc32c(c, ev->id.p, ev->id.n);
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;

	while (n-- > 0)
		v = (v << 8) | p[n];
	return v;
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int j = 0; j < n; j++)
		p[j] = (uint8_t)(v >> (8 * j));
}

static void load(dl_replay_t *r)
{
	uint8_t b[FILE_BYTES];
	int fd = open(r->path, O_RDONLY | O_CLOEXEC);
	ssize_t n;
	int cnt;

	if (fd < 0)
		return;
	n = read(fd, b, sizeof(b));
	close(fd);
	if (n == (ssize_t)sizeof(b))
		cnt = DL_REPLAY_RING;
	else if (n == OLD_BYTES)
		cnt = OLD_RING;
	else
		return;
	for (int i = 0; i < cnt; i++)
		r->ring[i] = (seen_t){le(b + i * 12, 8),
				      (uint32_t)le(b + i * 12 + 8, 4)};
	if (cnt == OLD_RING) { /* the old ring's order does not matter */
		r->next = OLD_RING;
		return;
	}
	r->next = (uint32_t)(le(b + cnt * 12, 4) % DL_REPLAY_RING);
	r->seq = le(b + cnt * 12 + 4, 8);
}

static void save(const dl_replay_t *r)
{
	uint8_t b[FILE_BYTES];
	int fd;

	for (int i = 0; i < DL_REPLAY_RING; i++) {
		put_le(b + i * 12, r->ring[i].time_ns, 8);
		put_le(b + i * 12 + 8, r->ring[i].key, 4);
	}
	put_le(b + DL_REPLAY_RING * 12, r->next, 4);
	put_le(b + DL_REPLAY_RING * 12 + 4, r->seq, 8);
	fd = open(r->path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		DL_LOG_RL(DL_LOG_LEVEL_WARN, "replay", "cannot write %s",
			  r->path);
	if (fd >= 0)
		close(fd);
}

dl_replay_t *dl_replay_new(const char *state_dir)
{
	dl_replay_t *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	snprintf(r->path, sizeof(r->path), "%s/events.seen", state_dir);
	load(r);
	return r;
}

void dl_replay_free(dl_replay_t *r)
{
	free(r);
}

int dl_replay_seen(const dl_replay_t *r, const dl_event_t *ev, uint64_t time_ns)
{
	uint64_t floor = UINT64_MAX;
	uint32_t k;

	if (!time_ns)
		return 0;
	k = key_of(ev);
	for (int i = 0; i < DL_REPLAY_RING; i++) {
		if (r->ring[i].time_ns == time_ns && r->ring[i].key == k)
			return 1;
		if (r->ring[i].time_ns && r->ring[i].time_ns < floor)
			floor = r->ring[i].time_ns;
	}
	/* dockerd replays in time order, and everything since the oldest
	 * remembered event was accepted (the ring holds the newest ones in
	 * arrival order): an event older than all of them was accepted
	 * before them. Without this a burst of more than the ring per
	 * replay window (1 s + the time the agent was down) went out twice
	 * (tests/faults/case_agent_kill.sh: 174 of 1,000). */
	return floor != UINT64_MAX && time_ns < floor;
}

void dl_replay_note(dl_replay_t *r, const dl_event_t *ev, uint64_t time_ns,
		    uint64_t seq)
{
	if (!time_ns)
		return;
	r->ring[r->next] = (seen_t){time_ns, key_of(ev)};
	r->next = (r->next + 1) % DL_REPLAY_RING;
	if (seq > r->seq)
		r->seq = seq;
	save(r);
}

uint64_t dl_replay_seq(const dl_replay_t *r)
{
	return r->seq;
}

uint64_t dl_replay_newest(const dl_replay_t *r)
{
	uint64_t t = 0;

	for (int i = 0; i < DL_REPLAY_RING; i++)
		if (r->ring[i].time_ns > t)
			t = r->ring[i].time_ns;
	return t;
}
