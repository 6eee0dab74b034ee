/* store_fixture.h - a collector store on a temp file for unit tests that
 * need only its last ack: open by name under dir, run the loop until the
 * writer is idle, close. One test executable per .c, so the state here is
 * that executable's own. The test sets dir (mkdtemp) before opening. */
#ifndef DL_TEST_STORE_FIXTURE_H
#define DL_TEST_STORE_FIXTURE_H

#include <stdio.h>
#include <unistd.h>
#include <uv.h>

#include "collector/store.h"
#include "common/clock.h"
#include "test.h"

static uv_loop_t loop;
static char dir[64];
static char dbpath[128];
static uint64_t acked_seq; /* seq of the latest ack, any session */

static inline void on_ack(void *ud, uint64_t sid, uint64_t epoch, uint64_t seq)
{
	acked_seq = seq;
}

#define CENTURY_S (100ll * 365 * 86400)

/* name NULL reopens the previous database. */

static inline dl_store_t *open_store(const char *name)
{
	char err[256] = "";
	dl_store_t *s;

	if (name)
		snprintf(dbpath, sizeof(dbpath), "%s/%s.db", dir, name);
	acked_seq = 0;
	s = dl_store_open(&loop, dbpath, on_ack, NULL, err, sizeof(err));
	if (!s)
		DL_FAIL_("dl_store_open: %s", err);
	/* Fixtures carry fixed dates (T0 in 2024 or 2026) that the default
	 * windows would expire as the calendar moves on: keep everything
	 * for a century. A test of retention sets its own windows. */
	dl_store_set_retention(s, CENTURY_S, CENTURY_S, CENTURY_S, CENTURY_S);
	return s;
}

static inline void close_store(dl_store_t *s)
{
	dl_store_close(s);
	ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
}

/* Runs the loop until the writer has committed everything queued. */
static inline void wait_idle(dl_store_t *s)
{
	uint64_t end = dl_clock_mono_ns() + 10000000000ull;

	while (dl_store_pending(s) && dl_clock_mono_ns() < end) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(dl_store_pending(s), 0);
}

#endif
