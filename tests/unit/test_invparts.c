/* test_invparts.c - INVENTORY parts: the session's assembler
 * (collector/invparts.c) fed real encoded parts, and what it hands over
 * applied through the real store (SQLite file): a partial inventory
 * never touches the stored set, the last part replaces it whole, a
 * replay is deduped, and out-of-order or over-bound parts are errors. */
#include "collector/invparts.h"

#include <sqlite3.h>

#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "store_fixture.h"

#define NEW 300
#define OLD 10

static char ids[NEW + OLD][65], names[NEW + OLD][32];
static dl_container_t cs[NEW + OLD];

static dl_container_t mk(uint32_t i, const char *prefix)
{
	snprintf(ids[i], sizeof(ids[i]), "%s%061u", prefix, i);
	snprintf(names[i], sizeof(names[i]), "%s-%u", prefix, i);
	return (dl_container_t){.idx = i,
				.id = DL_STR(ids[i]),
				.name = DL_STR(names[i]),
				.image = DL_STR("busybox:1.36"),
				.state = DL_STR("created"),
				.status = DL_STR("Created"),
				.health = DL_STR(""),
				.created = 1700000000 + i};
}

static int64_t sql_int(const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	ASSERT_EQ(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
		  SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

#define COUNT_ALL "SELECT count(*) FROM containers WHERE host = 'h1'"
#define COUNT_OLD                                                              \
	"SELECT count(*) FROM containers WHERE host = 'h1' AND name LIKE "     \
	"'old-%'"
#define COUNT_NEW                                                              \
	"SELECT count(*) FROM containers WHERE host = 'h1' AND name LIKE "     \
	"'new-%'"

/* One encoded frame's payload, in b. */
static void enc(dl_buf_t *b, const dl_msg_t *m)
{
	dl_buf_init(b, DL_FRAME_MAX + DL_FRAME_HDR);
	ASSERT_EQ(dl_msg_encode(b, m), 0);
}

static dl_msg_t part_msg(dl_container_t *v, uint32_t n, uint64_t id,
			 uint32_t part, uint32_t parts)
{
	dl_msg_t m = {.type = DL_MSG_INVENTORY,
		      .epoch = 7,
		      .seq = id + part,
		      .time_ns = 1};

	m.u.inventory.v = v;
	m.u.inventory.n = n;
	m.u.inventory.id = id;
	m.u.inventory.part = part;
	m.u.inventory.parts = parts;
	return m;
}

/* Encodes m, decodes it back (as session.c does) and offers it. */
static int offer(dl_invparts_t *a, const dl_msg_t *m, char *why, size_t wl)
{
	dl_buf_t b;
	dl_msg_t d;
	int rc;

	enc(&b, m);
	ASSERT_EQ(dl_msg_decode(&d, dl_buf_head(&b) + DL_FRAME_HDR,
				dl_buf_used(&b) - DL_FRAME_HDR, why, wl),
		  0);
	why[0] = '\0';
	rc = dl_invparts_offer(a, "h1", &d, dl_buf_head(&b) + DL_FRAME_HDR,
			       dl_buf_used(&b) - DL_FRAME_HDR, why, wl);
	dl_msg_release(&d);
	dl_buf_free(&b);
	return rc;
}

static void submit_held(dl_store_t *s, dl_invparts_t *a)
{
	static const uint8_t *pp[DL_MAX_INVENTORY_PARTS];
	static size_t pn[DL_MAX_INVENTORY_PARTS];
	uint32_t k, nc;
	const dl_invpart_t *v = dl_invparts_parts(a, &k, &nc);

	for (uint32_t i = 0; i < k; i++) {
		pp[i] = v[i].p;
		pn[i] = v[i].n;
	}
	ASSERT_EQ(dl_store_submit_parts(s, 1, "h1", pp, pn, k), 0);
}

/* Parts held, the stored set untouched until the last; then replaced. */
static void test_apply_through_store(void)
{
	static uint32_t starts[DL_MAX_INVENTORY_PARTS];
	dl_store_t *s = open_store("apply");
	dl_invparts_t *a = dl_invparts_new();
	dl_msg_t m = {.type = DL_MSG_INVENTORY, .epoch = 7, .seq = 1};
	uint32_t k = 0, nc = 0;
	size_t total;
	char why[256];
	dl_buf_t b;

	ASSERT(a);
	for (uint32_t i = 0; i < OLD; i++)
		cs[NEW + i] = mk(NEW + i, "old");
	for (uint32_t i = 0; i < NEW; i++)
		cs[i] = mk(i, "new");
	m.u.inventory.v = cs + NEW;
	m.u.inventory.n = OLD;
	enc(&b, &m);
	ASSERT_EQ(dl_store_submit(s, 1, "h1", dl_buf_head(&b) + DL_FRAME_HDR,
				  dl_buf_used(&b) - DL_FRAME_HDR),
		  0);
	dl_buf_free(&b);
	wait_idle(s);
	ASSERT_EQ(sql_int(COUNT_ALL), OLD);
	ASSERT_EQ(acked_seq, 1);

	/* A plain frame with nothing held is not a part. */
	ASSERT_EQ(offer(a, &m, why, sizeof(why)), DL_INVP_NONE);

	ASSERT_EQ(dl_msg_inventory_split(cs, NEW, 4096, starts,
					 DL_MAX_INVENTORY_PARTS, &k, &total),
		  0);
	ASSERT_GE(k, 5);
	for (uint32_t i = 0; i < k; i++) {
		uint32_t end = i + 1 < k ? starts[i + 1] : NEW;
		dl_msg_t p = part_msg(cs + starts[i], end - starts[i], 2, i, k);
		int rc = offer(a, &p, why, sizeof(why));

		if (i + 1 < k) {
			ASSERT_EQ(rc, DL_INVP_HELD);
			/* Nothing reaches the store before the last part:
			 * the old set stands, nothing new, nothing acked. */
			wait_idle(s);
			ASSERT_EQ(sql_int(COUNT_OLD), OLD);
			ASSERT_EQ(sql_int(COUNT_NEW), 0);
			ASSERT_EQ(acked_seq, 1);
		} else {
			ASSERT_EQ(rc, DL_INVP_DONE);
			/* The store was full: the same part again. */
			ASSERT_EQ(offer(a, &p, why, sizeof(why)), DL_INVP_DONE);
		}
	}
	dl_invparts_parts(a, &k, &nc);
	ASSERT_EQ(nc, NEW);
	ASSERT_EQ(dl_invparts_id(a), 2);
	submit_held(s, a);
	wait_idle(s);
	ASSERT_EQ(sql_int(COUNT_NEW), NEW);
	ASSERT_EQ(sql_int(COUNT_OLD), 0);
	ASSERT_EQ(acked_seq, 2 + k - 1);
	/* Keys and idx of every container, as a single INVENTORY writes. */
	ASSERT_EQ(sql_int("SELECT count(*) FROM container_keys WHERE host = "
			  "'h1' AND name LIKE 'new-%'"),
		  NEW);
	ASSERT_EQ(sql_int("SELECT max(idx) FROM containers WHERE host = 'h1'"),
		  NEW - 1);

	/* A replay (reconnect before the ack) is deduped and acked. */
	acked_seq = 0;
	submit_held(s, a);
	wait_idle(s);
	ASSERT_EQ(sql_int(COUNT_ALL), NEW);
	ASSERT_EQ(acked_seq, 2 + k - 1);
	dl_invparts_reset(a);

	/* An inventory whose tail never came changes nothing: the seq gap
	 * (a later frame) drops what is held. */
	{
		dl_msg_t p0 = part_msg(cs + NEW, 5, 100, 0, 2);
		dl_msg_t ev = {.type = DL_MSG_DROPPED, .epoch = 7, .seq = 105};

		ASSERT_EQ(offer(a, &p0, why, sizeof(why)), DL_INVP_HELD);
		ASSERT_EQ(offer(a, &ev, why, sizeof(why)), DL_INVP_NONE);
		dl_invparts_parts(a, &k, &nc);
		ASSERT_EQ(k, 0);
	}
	/* One whose head never came: its parts are skipped, to the last. */
	{
		dl_msg_t p1 = part_msg(cs + NEW, 5, 200, 1, 3);
		dl_msg_t p2 = part_msg(cs + NEW + 5, 5, 200, 2, 3);

		ASSERT_EQ(offer(a, &p1, why, sizeof(why)), DL_INVP_SKIP);
		ASSERT_EQ(offer(a, &p2, why, sizeof(why)), DL_INVP_SKIP);
	}
	/* A gap inside: part 0 then part 2. */
	{
		dl_msg_t p0 = part_msg(cs + NEW, 5, 300, 0, 3);
		dl_msg_t p2 = part_msg(cs + NEW + 5, 5, 300, 2, 3);

		ASSERT_EQ(offer(a, &p0, why, sizeof(why)), DL_INVP_HELD);
		ASSERT_EQ(offer(a, &p2, why, sizeof(why)), DL_INVP_SKIP);
	}
	wait_idle(s);
	ASSERT_EQ(sql_int(COUNT_NEW), NEW);
	ASSERT_EQ(sql_int(COUNT_OLD), 0);
	dl_invparts_free(a);
	close_store(s);
}

/* What closes the session: a frame in a part's place, a part again,
 * another part count, the bounds of all parts together. */
static void test_protocol_errors(void)
{
	static dl_container_t big[DL_MAX_CONTAINERS / 2 + 1];
	char why[256];
	struct {
		dl_msg_t next;
		const char *want;
	} rows[4];
	dl_msg_t p0 = part_msg(cs, 3, 50, 0, 3);

	rows[0].next =
		(dl_msg_t){.type = DL_MSG_DROPPED, .epoch = 7, .seq = 51};
	rows[0].want = "DROPPED seq 51 where part 1 of 3 of INVENTORY 50";
	rows[1].next = part_msg(cs, 3, 50, 0, 3);
	rows[1].want = "seqs went backwards";
	rows[2].next = part_msg(cs, 3, 50, 1, 4);
	rows[2].want = "part 1 says 4 parts, part 0 said 3";
	rows[3].next = part_msg(cs, 3, 51, 0, 3);
	rows[3].want = "another INVENTORY's part seq 51";
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		dl_invparts_t *a = dl_invparts_new();

		ASSERT_EQ(offer(a, &p0, why, sizeof(why)), DL_INVP_HELD);
		ASSERT_EQ(offer(a, &rows[i].next, why, sizeof(why)), DL_EPROTO);
		if (!strstr(why, rows[i].want))
			DL_FAIL_("row %zu: \"%s\" lacks \"%s\"", i, why,
				 rows[i].want);
		dl_invparts_free(a);
	}
	/* 20,001 containers in two parts: over DL_MAX_CONTAINERS. */
	{
		dl_invparts_t *a = dl_invparts_new();
		dl_msg_t q0, q1;

		for (uint32_t i = 0; i < DL_MAX_CONTAINERS / 2 + 1; i++)
			big[i] = (dl_container_t){.id = DL_STR("x"),
						  .name = DL_STR("y"),
						  .image = DL_STR("z")};
		q0 = part_msg(big, DL_MAX_CONTAINERS / 2, 60, 0, 2);
		q1 = part_msg(big, DL_MAX_CONTAINERS / 2 + 1, 60, 1, 2);
		ASSERT_EQ(offer(a, &q0, why, sizeof(why)), DL_INVP_HELD);
		ASSERT_EQ(offer(a, &q1, why, sizeof(why)), DL_EPROTO);
		ASSERT(strstr(why, "passes the bounds of 20000 containers"));
		dl_invparts_free(a);
	}
	dl_invparts_free(NULL);
	ASSERT_EQ(dl_invparts_reserved(), 0);
}

/* Across sessions: each part 0 reserves its inventory's worst case (16
 * parts: 16 MiB); the 17th such inventory waits (DL_EFULL, nothing
 * held) until one is done, while those started run to their end. */
static void test_reservation(void)
{
	enum { K = DL_INVPARTS_RESERVE_MAX / DL_MAX_INVENTORY_BYTES };
	dl_invparts_t *a[K + 1];
	dl_msg_t m;
	char why[256];
	uint32_t k, nc;
	uint64_t waits;

	ASSERT_EQ(K, 16);
	for (int i = 0; i <= K; i++)
		ASSERT((a[i] = dl_invparts_new()) != NULL);
	for (int i = 0; i < K; i++) {
		m = part_msg(cs, 2, 1000 * (i + 1), 0, 16);
		ASSERT_EQ(offer(a[i], &m, why, sizeof(why)), DL_INVP_HELD);
	}
	ASSERT_EQ(dl_invparts_reserved(), DL_INVPARTS_RESERVE_MAX);
	m = part_msg(cs, 2, 90000, 0, 16);
	waits = dl_invparts_waits();
	ASSERT_EQ(offer(a[K], &m, why, sizeof(why)), DL_EFULL);
	ASSERT_EQ(offer(a[K], &m, why, sizeof(why)), DL_EFULL);
	ASSERT_EQ(dl_invparts_waits(), waits + 2);
	/* what a waiting session asks before decoding its part 0 again */
	ASSERT(dl_invparts_would_wait(16));
	ASSERT(dl_invparts_would_wait(1));
	ASSERT(dl_invparts_parts(a[K], &k, &nc) && k == 0);
	/* a started inventory still takes its remaining 15 parts */
	for (uint32_t p = 1; p < 16; p++) {
		dl_msg_t q = part_msg(cs, 2, 1000, p, 16);

		ASSERT_EQ(offer(a[0], &q, why, sizeof(why)),
			  p == 15 ? DL_INVP_DONE : DL_INVP_HELD);
	}
	dl_invparts_parts(a[0], &k, &nc);
	ASSERT_EQ(k, 16);
	ASSERT_EQ(nc, 32);
	/* done and applied: its 16 MiB go back, and the waiting one fits */
	dl_invparts_reset(a[0]);
	ASSERT_EQ(dl_invparts_reserved(),
		  DL_INVPARTS_RESERVE_MAX - DL_MAX_INVENTORY_BYTES);
	ASSERT(!dl_invparts_would_wait(16));
	ASSERT(!dl_invparts_would_wait(DL_MAX_INVENTORY_PARTS));
	ASSERT_EQ(offer(a[K], &m, why, sizeof(why)), DL_INVP_HELD);
	ASSERT(dl_invparts_would_wait(1));
	/* a 2-part inventory reserves 2 frames, not 16 MiB */
	dl_invparts_reset(a[1]);
	m = part_msg(cs, 2, 95000, 0, 2);
	ASSERT_EQ(offer(a[1], &m, why, sizeof(why)), DL_INVP_HELD);
	ASSERT_EQ(dl_invparts_reserved(), DL_INVPARTS_RESERVE_MAX -
						  DL_MAX_INVENTORY_BYTES +
						  2 * DL_FRAME_MAX);
	for (int i = 0; i <= K; i++)
		dl_invparts_free(a[i]);
	ASSERT_EQ(dl_invparts_reserved(), 0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/dl-invparts-XXXXXX");
	ASSERT(mkdtemp(dir) != NULL);
	uv_loop_init(&loop);
	RUN(test_apply_through_store);
	RUN(test_protocol_errors);
	RUN(test_reservation);
	ASSERT_EQ(uv_loop_close(&loop), 0);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		ASSERT_EQ(system(cmd), 0);
	}
	return 0;
}
