/* Spool: round trip across reopen, rotation, acks deleting segments, a torn
 * tail truncated, corruption in the middle moved aside, the stream file
 * (atomic, never behind a seq handed out) and the cap (stats before
 * events). Each test works in its own temporary state dir. */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/spool.h"
#include "common/err.h"
#include "common/log.h"
#include "test.h"

static char dir[256];

static void fresh_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/dl-spool-test.XXXXXX");
	ASSERT(mkdtemp(dir) != NULL);
}

static void rm_tree(const char *path)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	ASSERT_EQ(system(cmd), 0);
}

typedef struct {
	uint64_t calls, lo, hi;
	int stats_only;
} drops_t;

static void on_drop(void *ud, uint64_t lo, uint64_t hi, int stats_only)
{
	drops_t *d = ud;

	d->calls++;
	d->lo = lo;
	d->hi = hi;
	d->stats_only = stats_only;
}

static drops_t drops;

static dl_spool_t *open_sp(size_t max, size_t seg, uint64_t new_epoch)
{
	dl_spool_opts_t o = {.state_dir = dir,
			     .max_bytes = max,
			     .seg_bytes = seg,
			     .sync = DL_SPOOL_SYNC_OFF,
			     .new_epoch = new_epoch,
			     .on_drop = on_drop,
			     .ud = &drops};
	dl_spool_t *sp;

	ASSERT_EQ(dl_spool_open(&o, &sp), 0);
	return sp;
}

/* Frame of seq: len bytes, each (seq + i) & 0xff. */
static size_t frame_len(uint64_t seq)
{
	return 20 + (size_t)(seq * 37 % 500);
}

static void append(dl_spool_t *sp, uint64_t n, dl_outbox_class_t cls,
		   uint64_t *last)
{
	uint8_t f[1024];

	for (uint64_t i = 0; i < n; i++) {
		uint64_t seq;
		size_t len;

		ASSERT_EQ(dl_spool_take_seq(sp, &seq), 0);
		len = frame_len(seq);
		for (size_t j = 0; j < len; j++)
			f[j] = (uint8_t)(seq + j);
		ASSERT_EQ(dl_spool_append(sp, seq, cls, f, len), 0);
		*last = seq;
	}
}

static void check_rec(const dl_spool_rec_t *r)
{
	ASSERT_EQ(r->len, frame_len(r->seq));
	for (size_t j = 0; j < r->len; j++)
		if (r->frame[j] != (uint8_t)(r->seq + j))
			DL_FAIL_("seq %llu byte %zu differs",
				 (unsigned long long)r->seq, j);
}

/* Reads everything after `after`; returns the count, checks order. */
static uint64_t read_all(dl_spool_t *sp, uint64_t after, uint64_t *first,
			 uint64_t *last, uint64_t *nstats)
{
	dl_spool_rec_t r;
	uint64_t n = 0;

	*first = *last = 0;
	if (nstats)
		*nstats = 0;
	while (dl_spool_next(sp, after, &r) == 1) {
		ASSERT_GT(r.seq, after);
		check_rec(&r);
		if (!n)
			*first = r.seq;
		if (nstats && r.cls == DL_OUTBOX_STATS)
			(*nstats)++;
		*last = after = r.seq;
		n++;
	}
	return n;
}

static int count_files(const char *sub, const char *suffix)
{
	char path[512];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), k = strlen(suffix);

		if (l >= k && strcmp(e->d_name + l - k, suffix) == 0 &&
		    e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static void seg_file(uint64_t num, char *out, size_t n)
{
	snprintf(out, n, "%s/spool/%012llu.seg", dir, (unsigned long long)num);
}

static off_t file_size(const char *path)
{
	struct stat st;

	ASSERT_EQ(stat(path, &st), 0);
	return st.st_size;
}

static void test_round_trip(void)
{
	dl_spool_t *sp;
	uint64_t last, first, end, epoch, n, seq;
	dl_spool_rec_t r;

	fresh_dir();
	sp = open_sp(0, 0, 111);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_NEW);
	ASSERT_EQ(dl_spool_epoch(sp), 111);
	append(sp, 200, DL_OUTBOX_KEEP, &last);
	ASSERT_EQ(last, 200);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 200);
	ASSERT_EQ(first, 1);
	/* Same `after` twice returns the same record (not consumed). */
	ASSERT_EQ(dl_spool_next(sp, 50, &r), 1);
	ASSERT_EQ(r.seq, 51);
	ASSERT_EQ(dl_spool_next(sp, 50, &r), 1);
	ASSERT_EQ(r.seq, 51);
	ASSERT_EQ(dl_spool_next(sp, 51, &r), 1);
	ASSERT_EQ(r.seq, 52);
	ASSERT_EQ(dl_spool_next(sp, 200, &r), 0);
	/* Appending below the last seq is refused. */
	ASSERT_EQ(dl_spool_append(sp, 200, DL_OUTBOX_KEEP, (const uint8_t *)"x",
				  1),
		  DL_EINVAL);
	epoch = dl_spool_epoch(sp);
	dl_spool_free(sp); /* then as after kill -9: nothing else runs */

	sp = open_sp(0, 0, 222);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_CONTINUED);
	ASSERT_EQ(dl_spool_epoch(sp), epoch);
	ASSERT_EQ(dl_spool_last_seq(sp), 200);
	n = read_all(sp, 0, &first, &end, NULL);
	ASSERT_EQ(n, 200);
	ASSERT_EQ(end, 200);
	ASSERT_EQ(dl_spool_take_seq(sp, &seq), 0);
	ASSERT_GT(seq, 200);
	dl_spool_free(sp);
	rm_tree(dir);
}

static void test_rotation_and_ack(void)
{
	dl_spool_t *sp;
	uint64_t last, first, end;
	int nseg;

	fresh_dir();
	/* 1 MiB cap, 16 KiB segments: ~300 B records, ~50 per segment. */
	sp = open_sp(1 << 20, 16 << 10, 0);
	append(sp, 1000, DL_OUTBOX_KEEP, &last);
	nseg = count_files("spool", ".seg");
	ASSERT_GE(nseg, 15);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 1000);
	/* Half acked: the segments holding only acked seqs are gone. */
	dl_spool_ack(sp, 500);
	ASSERT_LT(count_files("spool", ".seg"), nseg);
	ASSERT_GE(count_files("spool", ".seg"), nseg / 2 - 1);
	ASSERT_EQ(read_all(sp, 500, &first, &end, NULL), 500);
	ASSERT_EQ(first, 501);
	/* Reading from before the ack still yields only what is on disk, in
	 * order: at most one partly acked segment's worth before 501. */
	ASSERT_LE(read_all(sp, 0, &first, &end, NULL), 600);
	ASSERT_EQ(end, 1000);
	/* Everything acked: one segment left, the open one, empty. */
	dl_spool_ack(sp, 1000);
	ASSERT_EQ(count_files("spool", ".seg"), 1);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 0);
	append(sp, 10, DL_OUTBOX_KEEP, &last);
	ASSERT_EQ(read_all(sp, 1000, &first, &end, NULL), 10);
	ASSERT_EQ(first, 1001);
	dl_spool_free(sp);
	/* Reopened: only the unacked ten come back. */
	sp = open_sp(1 << 20, 16 << 10, 0);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 10);
	ASSERT_EQ(first, 1001);
	dl_spool_free(sp);
	rm_tree(dir);
}

static void append_raw(const char *path, const void *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, p, n), (ssize_t)n);
	close(fd);
}

static void flip_byte(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	ASSERT(fd >= 0);
	ASSERT_EQ(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	ASSERT_EQ(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void test_torn_tail(void)
{
	static const uint8_t half[] = {200, 0, 0, 0, 1, 2, 3, 4, 9, 9};
	dl_spool_t *sp;
	uint64_t last, first, end, epoch;
	char path[512];
	off_t good;

	fresh_dir();
	sp = open_sp(0, 0, 0);
	append(sp, 50, DL_OUTBOX_KEEP, &last);
	epoch = dl_spool_epoch(sp);
	dl_spool_free(sp);
	seg_file(1, path, sizeof(path));
	good = file_size(path);
	/* A record cut short by the crash. */
	append_raw(path, half, sizeof(half));
	sp = open_sp(0, 0, 0);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_CONTINUED);
	ASSERT_EQ(dl_spool_epoch(sp), epoch);
	ASSERT_EQ(file_size(path), good);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 50);
	dl_spool_free(sp);

	/* A last record whose bytes did not all reach the disk (CRC). */
	flip_byte(path, good - 3);
	sp = open_sp(0, 0, 0);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_CONTINUED);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 49);
	ASSERT_EQ(end, 49);
	ASSERT_LT(file_size(path), good);
	/* The seq of the lost record is not handed out again. */
	append(sp, 1, DL_OUTBOX_KEEP, &last);
	ASSERT_GT(last, 50);
	dl_spool_free(sp);

	/* Zeros after the last good record (extended, never written), in
	 * the last segment: a reopened spool appends to a new one. */
	seg_file(2, path, sizeof(path));
	good = file_size(path);
	append_raw(path, (uint8_t[64]){0}, 64);
	sp = open_sp(0, 0, 0);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_CONTINUED);
	ASSERT_EQ(file_size(path), good);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 50);
	dl_spool_free(sp);
	rm_tree(dir);
}

static void test_corrupt_moved_aside(void)
{
	dl_spool_t *sp;
	uint64_t last, first, end, epoch;
	char path[512];
	int nseg;

	fresh_dir();
	sp = open_sp(1 << 20, 16 << 10, 0);
	append(sp, 300, DL_OUTBOX_KEEP, &last);
	epoch = dl_spool_epoch(sp);
	dl_spool_free(sp);
	nseg = count_files("spool", ".seg");
	ASSERT_GE(nseg, 3);
	/* A flipped byte inside the first (not the last) segment. */
	seg_file(1, path, sizeof(path));
	flip_byte(path, 100);
	sp = open_sp(1 << 20, 16 << 10, 777);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_RESET);
	ASSERT_EQ(dl_spool_epoch(sp), 777);
	ASSERT_NE(dl_spool_epoch(sp), epoch);
	ASSERT_EQ(read_all(sp, 0, &first, &end, NULL), 0);
	ASSERT_EQ(count_files("spool", ".seg"), 0);
	dl_spool_free(sp);
	/* Moved whole, nothing deleted. */
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		int found = 0;
		char sub[300];

		ASSERT(d);
		while ((e = readdir(d)) != NULL)
			if (!strncmp(e->d_name, "spool.corrupt-", 14)) {
				found++;
				snprintf(sub, sizeof(sub), "%s", e->d_name);
			}
		closedir(d);
		ASSERT_EQ(found, 1);
		ASSERT_EQ(count_files(sub, ".seg"), nseg);
	}
	rm_tree(dir);

	/* A wrong version in a segment header: same treatment. */
	fresh_dir();
	sp = open_sp(0, 0, 0);
	append(sp, 5, DL_OUTBOX_KEEP, &last);
	dl_spool_free(sp);
	seg_file(1, path, sizeof(path));
	flip_byte(path, 4);
	sp = open_sp(0, 0, 888);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_RESET);
	ASSERT_EQ(dl_spool_epoch(sp), 888);
	dl_spool_free(sp);
	rm_tree(dir);
}

static void read_stream_next(uint64_t *next)
{
	char path[512], text[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/stream", dir);
	f = fopen(path, "r");
	ASSERT(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	p = strstr(text, "next_seq ");
	ASSERT(p);
	*next = strtoull(p + 9, NULL, 10);
}

static void test_stream_never_behind(void)
{
	dl_spool_t *sp;
	uint64_t seq = 0, on_disk, epoch, last;

	fresh_dir();
	sp = open_sp(0, 0, 5);
	/* Seqs handed out without records (frames not spooled yet): the
	 * stream file's reservation is always ahead of them. */
	for (int i = 0; i < 25000; i++) {
		ASSERT_EQ(dl_spool_take_seq(sp, &seq), 0);
		read_stream_next(&on_disk);
		if (on_disk <= seq)
			DL_FAIL_("stream file next_seq %llu <= seq %llu",
				 (unsigned long long)on_disk,
				 (unsigned long long)seq);
	}
	ASSERT_EQ(count_files(".", ".tmp"), 0);
	epoch = dl_spool_epoch(sp);
	/* "kill -9": no free, no sync; a new instance reads the files. */
	{
		dl_spool_t *again = open_sp(0, 0, 6);

		ASSERT_EQ(dl_spool_start(again), DL_SPOOL_CONTINUED);
		ASSERT_EQ(dl_spool_epoch(again), epoch);
		ASSERT_EQ(dl_spool_take_seq(again, &last), 0);
		ASSERT_GT(last, seq);
		dl_spool_free(again);
	}
	dl_spool_free(sp);

	/* Records beyond what the stream file says (an old file restored,
	 * say): the spool's last record wins. */
	rm_tree(dir);
	fresh_dir();
	sp = open_sp(0, 0, 9);
	append(sp, 20, DL_OUTBOX_KEEP, &last);
	ASSERT_EQ(dl_spool_bump_seq(sp, 50000), 0);
	append(sp, 1, DL_OUTBOX_KEEP, &last);
	ASSERT_EQ(last, 50000);
	dl_spool_free(sp);
	{
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/stream", dir);
		f = fopen(path, "w");
		ASSERT(f);
		fprintf(f, "dockline-stream 1\nepoch 9\nnext_seq 3\n"
			   "dropped_frames 0\ndropped_bytes 0\n");
		fclose(f);
	}
	sp = open_sp(0, 0, 10);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_CONTINUED);
	ASSERT_EQ(dl_spool_take_seq(sp, &seq), 0);
	ASSERT_EQ(seq, 50001);
	dl_spool_free(sp);

	/* A stream file that does not parse, with records: moved aside. */
	{
		char path[512];
		FILE *f;

		snprintf(path, sizeof(path), "%s/stream", dir);
		f = fopen(path, "w");
		ASSERT(f);
		fprintf(f, "dockline-stream 1\nepoch 9\nnext_seq x\n");
		fclose(f);
	}
	sp = open_sp(0, 0, 11);
	ASSERT_EQ(dl_spool_start(sp), DL_SPOOL_RESET);
	ASSERT_EQ(dl_spool_epoch(sp), 11);
	dl_spool_free(sp);
	rm_tree(dir);
}

static void test_cap_stats_first(void)
{
	dl_spool_t *sp;
	dl_spool_stat_t st;
	uint64_t last, first, end, nstats, n, events = 0, ev_last = 0;

	fresh_dir();
	memset(&drops, 0, sizeof(drops));
	/* 256 KiB cap, 16 KiB segments. 1 event per 9 stats frames, ~290 B
	 * each: 1.45 MB written, ~145 KB of it events. */
	sp = open_sp(256 << 10, 16 << 10, 0);
	for (int i = 0; i < 500; i++) {
		append(sp, 9, DL_OUTBOX_STATS, &last);
		append(sp, 1, DL_OUTBOX_KEEP, &last);
		events++;
		ev_last = last;
	}
	dl_spool_stat(sp, &st);
	ASSERT_LE(st.bytes, 256 << 10);
	ASSERT_GT(st.dropped_frames, 2000);
	ASSERT_GT(drops.calls, 0);
	ASSERT(drops.stats_only);
	/* Every event is still there, in order; only stats were dropped. */
	n = read_all(sp, 0, &first, &end, &nstats);
	ASSERT_EQ(n - nstats, events);
	ASSERT_EQ(end, ev_last);
	ASSERT_EQ(n + st.dropped_frames, 5000);
	/* The newest stats are kept: the last record before the end is one. */
	ASSERT_GT(nstats, 0);

	/* Only events now: once no segment holds stats, the oldest events
	 * go, whole segments at a time. */
	memset(&drops, 0, sizeof(drops));
	append(sp, 3000, DL_OUTBOX_KEEP, &last);
	dl_spool_stat(sp, &st);
	ASSERT_LE(st.bytes, 256 << 10);
	ASSERT_GT(drops.calls, 0);
	ASSERT(!drops.stats_only);
	n = read_all(sp, 0, &first, &end, &nstats);
	ASSERT_EQ(nstats, 0);
	ASSERT_EQ(end, last);
	ASSERT_EQ(n, last - first + 1); /* the newest, without a gap */
	dl_spool_free(sp);

	/* The drop totals outlive the process. */
	sp = open_sp(256 << 10, 16 << 10, 0);
	{
		dl_spool_stat_t again;

		dl_spool_stat(sp, &again);
		ASSERT_GE(again.dropped_frames, st.dropped_frames);
		ASSERT_GT(again.dropped_bytes, 0);
	}
	dl_spool_free(sp);
	rm_tree(dir);
}

static void test_inspect(void)
{
	dl_spool_t *sp;
	dl_spool_stat_t st;
	uint64_t last;
	char why[256];

	fresh_dir();
	ASSERT_EQ(dl_spool_inspect(dir, &st, why, sizeof(why)), DL_ENOENT);
	sp = open_sp(0, 0, 0);
	append(sp, 30, DL_OUTBOX_KEEP, &last);
	dl_spool_ack(sp, 10); /* first ack: written at once */
	ASSERT_EQ(dl_spool_inspect(dir, &st, why, sizeof(why)), 0);
	ASSERT_EQ(st.epoch, dl_spool_epoch(sp));
	ASSERT_EQ(st.acked, 10);
	ASSERT_EQ(st.oldest_seq, 11);
	ASSERT_GT(st.bytes, 30 * 20);
	ASSERT_EQ(st.segments, 1);
	dl_spool_free(sp);
	rm_tree(dir);
}

int main(void)
{
	dl_log_level =
		getenv("DL_TEST_LOG") ? DL_LOG_LEVEL_DEBUG : DL_LOG_LEVEL_ERROR;
	RUN(test_round_trip);
	RUN(test_rotation_and_ack);
	RUN(test_torn_tail);
	RUN(test_corrupt_moved_aside);
	RUN(test_stream_never_behind);
	RUN(test_cap_stats_first);
	RUN(test_inspect);
	return 0;
}
