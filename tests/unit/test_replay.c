/* Replay filter: an event dockerd replays (same Docker time, type, action
 * and id) is recognised, also by a new instance reading the file (agent
 * restart); other events are not. */
#include <unistd.h>

#include "agent/replay.h"
#include "test.h"

static dl_event_t ev(const char *action, const char *id)
{
	dl_event_t e = {0};

	e.type = DL_STR("container");
	e.action = (dl_str_t){action, strlen(action)};
	e.id = (dl_str_t){id, strlen(id)};
	return e;
}

static void test_replay(void)
{
	char dir[] = "/tmp/dl-replay-test.XXXXXX", path[64];
	dl_replay_t *r;
	dl_event_t die = ev("die", "abc"), stop = ev("stop", "abc");

	ASSERT(mkdtemp(dir) != NULL);
	r = dl_replay_new(dir);
	ASSERT(r);
	ASSERT_EQ(dl_replay_seen(r, &die, 1000), 0);
	dl_replay_note(r, &die, 1000, 7);
	ASSERT_EQ(dl_replay_seen(r, &die, 1000), 1);
	ASSERT_EQ(dl_replay_seen(r, &stop, 1000), 0); /* other action */
	ASSERT_EQ(dl_replay_seen(r, &die, 1001), 0);  /* other time */
	ASSERT_EQ(dl_replay_seen(r, &die, 0), 0);     /* no Docker time */
	dl_replay_free(r);
	/* A new process: the file remembers. */
	r = dl_replay_new(dir);
	ASSERT_EQ(dl_replay_seen(r, &die, 1000), 1);
	ASSERT_EQ(dl_replay_seq(r), 7); /* the spool seq it was queued under */
	/* A burst of 4 rings: replayed in order, every event is still
	 * seen (older than all remembered = accepted before them), and the
	 * next new one is new, also at the newest time (other action). */
	for (uint64_t t = 2000; t < 2000 + 4 * DL_REPLAY_RING; t++)
		dl_replay_note(r, &stop, t, 8 + t);
	ASSERT_EQ(dl_replay_seen(r, &die, 1000), 1);
	for (uint64_t t = 2000; t < 2000 + 4 * DL_REPLAY_RING; t++)
		ASSERT_EQ(dl_replay_seen(r, &stop, t), 1);
	ASSERT_EQ(dl_replay_seen(r, &stop, 2000 + 4 * DL_REPLAY_RING), 0);
	ASSERT_EQ(dl_replay_seen(r, &die, 2000 + 4 * DL_REPLAY_RING - 1), 0);
	ASSERT_EQ(dl_replay_seq(r), 8 + 2000 + 4 * DL_REPLAY_RING - 1);
	dl_replay_free(r);
	/* A file of an older agent (64 entries, no seq) still loads: its
	 * events are remembered and the seq is 0 (catch up from the
	 * start). Its first entry is the one a fresh ring notes first. */
	snprintf(path, sizeof(path), "%s/events.seen", dir);
	ASSERT_EQ(unlink(path), 0);
	r = dl_replay_new(dir);
	dl_replay_note(r, &die, 5000, 9);
	dl_replay_free(r);
	{
		uint8_t old[64 * 12 + 4] = {0};
		FILE *f = fopen(path, "r+");

		ASSERT(f && fread(old, 1, 12, f) == 12);
		old[64 * 12] = 1; /* next slot */
		ASSERT(freopen(path, "w", f) != NULL);
		ASSERT_EQ(fwrite(old, 1, sizeof(old), f), sizeof(old));
		fclose(f);
	}
	r = dl_replay_new(dir);
	ASSERT_EQ(dl_replay_seen(r, &die, 5000), 1);
	ASSERT_EQ(dl_replay_seen(r, &stop, 5000), 0);
	ASSERT_EQ(dl_replay_seq(r), 0);
	dl_replay_free(r);
	ASSERT_EQ(unlink(path), 0);
	ASSERT_EQ(rmdir(dir), 0);
}

int main(void)
{
	RUN(test_replay);
	return 0;
}
