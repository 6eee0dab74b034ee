/* spool_read.c - reading back: the oldest record after a seq, one pread
 * per record when read in order (the reader remembers where the last one
 * ended), statistics, and dl_spool_inspect, the read-only look `check`
 * takes at a spool another process may be writing. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/spool.h"
#include "agent/spool_int.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define TAG "spool"

/* ---- reading back ------------------------------------------------------ */

static size_t seg_index(const dl_spool_t *sp, uint64_t num)
{
	size_t i;

	for (i = 0; i < sp->nsegs && sp->segs[i].num != num; i++)
		;
	return i;
}

/* Positions the reader at the first record with seq > after. */
static void seek(dl_spool_t *sp, uint64_t after)
{
	size_t i;

	for (i = 0;
	     i < sp->nsegs && sp->segs[i].nrec && sp->segs[i].last <= after;
	     i++)
		;
	if (i == sp->nsegs && sp->nsegs)
		i = sp->nsegs - 1; /* after the newest: wait at its end */
	sp->rnum = sp->nsegs ? sp->segs[i].num : 0;
	sp->roff = SEG_HDR;
	sp->pos_after = after;
	sp->rvalid = sp->nsegs != 0;
	sp->ret_seq = sp->ret_end = 0;
}

static int open_reader(dl_spool_t *sp)
{
	char path[PATH_MAX_ + 32];

	if (sp->rfd >= 0 && sp->rfd_num == sp->rnum)
		return 0;
	if (sp->rfd >= 0)
		close(sp->rfd);
	dl_spool__seg_path(sp->dir, sp->rnum, path, sizeof(path));
	sp->rfd = open(path, O_RDONLY | O_CLOEXEC);
	sp->rfd_num = sp->rnum;
	return sp->rfd >= 0 ? 0 : DL_EIO;
}

int dl_spool_next(dl_spool_t *sp, uint64_t after, dl_spool_rec_t *rec)
{
	rec_t r;
	size_t i;
	int rc;

	if (sp->rvalid && sp->ret_seq && after == sp->ret_seq) {
		sp->roff = sp->ret_end;
		sp->pos_after = after;
		sp->ret_seq = 0;
	} else if (!sp->rvalid || after != sp->pos_after) {
		seek(sp, after);
	}
	if (!sp->rvalid)
		return 0;
	for (;;) {
		i = seg_index(sp, sp->rnum);
		if (i == sp->nsegs) {
			seek(sp, after); /* its segment went away */
			if (!sp->rvalid)
				return 0;
			continue;
		}
		if (sp->roff >= sp->segs[i].size) {
			if (i + 1 == sp->nsegs)
				return 0; /* caught up with the writer */
			sp->rnum = sp->segs[i + 1].num;
			sp->roff = SEG_HDR;
			continue;
		}
		if ((rc = open_reader(sp)) != 0)
			return rc;
		rc = dl_spool__read_rec(sp->rfd, sp->roff, sp->segs[i].size, &r,
					&sp->buf, &sp->bufcap);
		if (rc <= 0) {
			DL_LOG_RL(
				DL_LOG_LEVEL_ERROR, TAG,
				"segment %llu unreadable at offset %llu (%s): "
				"skipping the rest of it",
				(unsigned long long)sp->rnum,
				(unsigned long long)sp->roff,
				dl_strerror(rc ? rc : DL_EIO));
			sp->roff = sp->segs[i].size;
			continue;
		}
		if (r.seq <= after) {
			sp->roff += REC_HDR + r.len;
			continue;
		}
		rec->seq = r.seq;
		rec->cls = (dl_outbox_class_t)r.payload[0];
		rec->frame = r.payload + 1;
		rec->len = r.len - 1;
		sp->ret_seq = r.seq;
		sp->ret_end = sp->roff + REC_HDR + r.len;
		return 1;
	}
}

/* ---- statistics -------------------------------------------------------- */

void dl_spool_stat(const dl_spool_t *sp, dl_spool_stat_t *st)
{
	memset(st, 0, sizeof(*st));
	st->bytes = sp->total;
	st->segments = sp->nsegs;
	st->epoch = sp->epoch;
	st->next_seq = sp->next_seq;
	st->acked = sp->acked;
	st->dropped_frames = sp->dropped_frames;
	st->dropped_bytes = sp->dropped_bytes;
	for (size_t i = 0; i < sp->nsegs && !st->oldest_seq; i++)
		if (sp->segs[i].last > sp->acked)
			st->oldest_seq = sp->segs[i].first > sp->acked
						 ? sp->segs[i].first
						 : sp->acked + 1;
}

/* The time of the first record with seq > after in the segments. */
static void oldest_time(dl_spool_t *sp, uint64_t after, dl_spool_stat_t *st)
{
	dl_spool_rec_t r;
	dl_msg_t m;

	if (dl_spool_next(sp, after, &r) != 1 || r.len < DL_FRAME_HDR)
		return;
	st->oldest_seq = r.seq;
	if (dl_msg_decode(&m, r.frame + DL_FRAME_HDR, r.len - DL_FRAME_HDR,
			  NULL, 0) == 0) {
		st->oldest_time_ns = m.time_ns;
		dl_msg_release(&m);
	}
}

int dl_spool_inspect(const char *state_dir, dl_spool_stat_t *st, char *why,
		     size_t whylen)
{
	dl_spool_t *sp = calloc(1, sizeof(*sp));
	char path[PATH_MAX_ + 16];
	stream_t s = {0};
	uint8_t b[16];
	struct stat fst;
	int rc, fd;

	memset(st, 0, sizeof(*st));
	if (!sp)
		return DL_ENOMEM;
	sp->fd = sp->rfd = -1;
	snprintf(sp->state_dir, sizeof(sp->state_dir), "%s", state_dir);
	snprintf(sp->dir, sizeof(sp->dir), "%s/spool", state_dir);
	if ((rc = dl_spool__stream_load(state_dir, &s, why, whylen)) != 0)
		goto out;
	st->epoch = s.epoch;
	st->next_seq = s.next_seq;
	st->dropped_frames = s.dropped_frames;
	st->dropped_bytes = s.dropped_bytes;
	snprintf(path, sizeof(path), "%s/acked", sp->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && dl_spool__pread_all(fd, b, 16, 0) == 0 &&
	    get64(b) == s.epoch)
		st->acked = get64(b + 8);
	if (fd >= 0)
		close(fd);
	if (dl_spool__list_segs(sp) != 0) {
		snprintf(why, whylen, "cannot list %s: %s", sp->dir,
			 strerror(errno));
		rc = DL_EIO;
		goto out;
	}
	for (size_t i = 0; i < sp->nsegs; i++) {
		dl_spool__seg_path(sp->dir, sp->segs[i].num, path,
				   sizeof(path));
		if (stat(path, &fst) == 0)
			sp->segs[i].size = (uint64_t)fst.st_size;
		sp->segs[i].nrec = 1; /* unknown: let seek() read them */
		sp->segs[i].last = UINT64_MAX;
		st->bytes += sp->segs[i].size;
	}
	st->segments = sp->nsegs;
	oldest_time(sp, st->acked, st);
out:
	dl_spool_free(sp);
	return rc;
}
