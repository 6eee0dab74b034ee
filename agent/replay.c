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
 * the newest noted event (absent in files of older agents: 0). Rewritten
 * whole in place. */
#define OLD_BYTES  (DL_REPLAY_RING * 12 + 4)
#define FILE_BYTES (OLD_BYTES + 8)

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

static void load(dl_replay_t *r)
{
	uint8_t b[FILE_BYTES];
	int fd = open(r->path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, b, sizeof(b));
	close(fd);
	if (n != (ssize_t)sizeof(b) && n != OLD_BYTES)
		return;
	for (int i = 0; i < DL_REPLAY_RING; i++) {
		uint64_t t = 0;
		uint32_t k = 0;

		for (int j = 7; j >= 0; j--)
			t = (t << 8) | b[i * 12 + j];
		for (int j = 3; j >= 0; j--)
			k = (k << 8) | b[i * 12 + 8 + j];
		r->ring[i] = (seen_t){t, k};
	}
	r->next = (uint32_t)b[OLD_BYTES - 4] % DL_REPLAY_RING;
	for (int j = 7; n == (ssize_t)sizeof(b) && j >= 0; j--)
		r->seq = (r->seq << 8) | b[OLD_BYTES + j];
}

static void save(const dl_replay_t *r)
{
	uint8_t b[FILE_BYTES];
	int fd;

	for (int i = 0; i < DL_REPLAY_RING; i++) {
		for (int j = 0; j < 8; j++)
			b[i * 12 + j] =
				(uint8_t)(r->ring[i].time_ns >> (8 * j));
		for (int j = 0; j < 4; j++)
			b[i * 12 + 8 + j] =
				(uint8_t)(r->ring[i].key >> (8 * j));
	}
	memset(b + OLD_BYTES - 4, 0, 4);
	b[OLD_BYTES - 4] = (uint8_t)r->next;
	for (int j = 0; j < 8; j++)
		b[OLD_BYTES + j] = (uint8_t)(r->seq >> (8 * j));
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
