/* spool_recover.c - what dl_spool_open finds on disk: every segment
 * read back and checked (header, epoch, CRC, seq order), a torn tail (the
 * agent stopped while writing it) truncated with a log line, anything else
 * that does not read back moved aside whole to spool.corrupt-<unix time>,
 * and the stream file and the segments reconciled into the epoch and next
 * seq to continue with. Never deletes a record it could read. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/spool.h"
#include "agent/spool_int.h"
#include "common/clock.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "spool"

/* ---- recovery ---------------------------------------------------------- */

/* Nothing but zeros from off to size: what a crash between extending a
 * file and writing its data leaves. */
static int zero_tail(int fd, uint64_t off, uint64_t size)
{
	uint8_t b[4096];

	while (off < size) {
		size_t n = size - off < sizeof(b) ? (size_t)(size - off)
						  : sizeof(b);

		if (dl_spool__pread_all(fd, b, n, off) != 0)
			return 0;
		for (size_t i = 0; i < n; i++)
			if (b[i])
				return 0;
		off += n;
	}
	return 1;
}

/* A bad record at off is a torn tail if it runs past the end of the file,
 * ends exactly at it, or only zeros follow. */
static int torn_tail(int fd, uint64_t off, uint64_t size)
{
	uint8_t h[4];
	uint64_t len;

	if (size - off < REC_HDR)
		return 1;
	if (dl_spool__pread_all(fd, h, 4, off) != 0)
		return 0;
	len = get32(h);
	if (off + REC_HDR + len >= size)
		return 1;
	return zero_tail(fd, off, size);
}

/* Validates one segment; fills g. 0; 1 = torn tail handled (truncated or
 * removed: g says what is left); DL_EPROTO = corrupt (why); DL_EIO. */
static int scan_seg(dl_spool_t *sp, seg_t *g, int is_last, uint64_t *prev,
		    uint64_t *epoch, char *why, size_t whylen)
{
	char path[PATH_MAX_ + 32];
	uint8_t h[SEG_HDR];
	struct stat st;
	uint64_t off = SEG_HDR;
	rec_t r;
	int fd, rc = 0;

	dl_spool__seg_path(sp->dir, g->num, path, sizeof(path));
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		snprintf(why, whylen, "cannot open %s: %s", path,
			 strerror(errno));
		rc = DL_EIO;
		goto out;
	}
	g->size = (uint64_t)st.st_size;
	if (g->size < SEG_HDR) {
		if (!is_last) {
			snprintf(why, whylen, "%s: shorter than its header",
				 path);
			rc = DL_EPROTO;
			goto out;
		}
		DL_LOG_WARN(TAG,
			    "%s: torn header (crash while creating it), "
			    "removed",
			    path);
		unlink(path);
		g->size = 0;
		rc = 1;
		goto out;
	}
	if ((rc = dl_spool__pread_all(fd, h, SEG_HDR, 0)) != 0)
		goto out;
	if (memcmp(h, "DLSP", 4) != 0 || get32(h + 4) != DL_SPOOL_VERSION) {
		snprintf(why, whylen,
			 "%s: not a version %u spool segment (header)", path,
			 DL_SPOOL_VERSION);
		rc = DL_EPROTO;
		goto out;
	}
	if (*epoch && get64(h + 8) != *epoch) {
		snprintf(why, whylen, "%s: epoch %llu, expected %llu", path,
			 (unsigned long long)get64(h + 8),
			 (unsigned long long)*epoch);
		rc = DL_EPROTO;
		goto out;
	}
	*epoch = get64(h + 8);
	while ((rc = dl_spool__read_rec(fd, off, g->size, &r, &sp->buf,
					&sp->bufcap)) == 1) {
		if (r.seq <= *prev) {
			snprintf(why, whylen,
				 "%s: seq %llu at offset %llu after %llu", path,
				 (unsigned long long)r.seq,
				 (unsigned long long)off,
				 (unsigned long long)*prev);
			rc = DL_EPROTO;
			goto out;
		}
		*prev = r.seq;
		if (!g->first)
			g->first = r.seq;
		g->last = r.seq;
		g->nrec++;
		g->nstats += r.payload[0] == DL_OUTBOX_STATS;
		off += REC_HDR + r.len;
	}
	if (rc == DL_EPROTO && is_last && torn_tail(fd, off, g->size)) {
		DL_LOG_WARN(TAG,
			    "%s: torn record at offset %llu (of %llu bytes) "
			    "truncated: the agent stopped while writing it",
			    path, (unsigned long long)off,
			    (unsigned long long)g->size);
		if (ftruncate(fd, (off_t)off) != 0 || fsync(fd) != 0) {
			snprintf(why, whylen, "cannot truncate %s: %s", path,
				 strerror(errno));
			rc = DL_EIO;
			goto out;
		}
		g->size = off;
		rc = 1;
	} else if (rc == DL_EPROTO) {
		snprintf(why, whylen, "%s: bad record at offset %llu", path,
			 (unsigned long long)off);
	}
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Renames spool/ to spool.corrupt-<unix time> and makes a new one. */
static int move_aside(dl_spool_t *sp, const char *why)
{
	char to[PATH_MAX_ + 64];
	long long now = (long long)time(NULL);

	snprintf(to, sizeof(to), "%s/spool.corrupt-%lld", sp->state_dir, now);
	for (int i = 1; access(to, F_OK) == 0 && i < 100; i++)
		snprintf(to, sizeof(to), "%s/spool.corrupt-%lld.%d",
			 sp->state_dir, now, i);
	if (rename(sp->dir, to) != 0) {
		DL_LOG_ERROR(TAG, "cannot move %s aside to %s: %s", sp->dir, to,
			     strerror(errno));
		return DL_EIO;
	}
	DL_LOG_WARN(TAG,
		    "spool unreadable (%s): moved whole to %s, nothing "
		    "deleted; starting a new epoch. Frames in it were not "
		    "delivered.",
		    why, to);
	sp->nsegs = 0;
	sp->total = 0;
	if (mkdir(sp->dir, 0700) != 0 ||
	    dl_spool__fsync_dir(sp->state_dir) != 0)
		return DL_EIO;
	return 0;
}

/* 0 = segments valid (torn tails fixed); DL_EPROTO = corrupt (why). */
static int scan_all(dl_spool_t *sp, uint64_t *epoch, char *why, size_t wl)
{
	uint64_t prev = 0;
	int rc = 0;

	*epoch = 0;
	for (size_t i = 0; i < sp->nsegs; i++) {
		rc = scan_seg(sp, &sp->segs[i], i + 1 == sp->nsegs, &prev,
			      epoch, why, wl);
		if (rc < 0)
			return rc;
		sp->total += sp->segs[i].size;
	}
	sp->last_seq = prev;
	/* Empty segments (all acked, or a torn header) are only in the way. */
	for (size_t i = sp->nsegs; i-- > 0;) {
		char path[PATH_MAX_ + 32];

		if (sp->segs[i].nrec)
			continue;
		dl_spool__seg_path(sp->dir, sp->segs[i].num, path,
				   sizeof(path));
		unlink(path);
		dl_spool__remove_seg(sp, i);
	}
	return 0;
}

/* Decides epoch and next seq from the stream file and the segments. */
int dl_spool__recover(dl_spool_t *sp)
{
	char why[PATH_MAX_ + 128] = "", swhy[PATH_MAX_ + 64] = "";
	stream_t s = {0};
	uint64_t segepoch = 0;
	int rc, src;

	if ((rc = dl_spool__list_segs(sp)) != 0)
		return rc;
	src = dl_spool__stream_load(sp->state_dir, &s, swhy, sizeof(swhy));
	rc = scan_all(sp, &segepoch, why, sizeof(why));
	if (rc < 0 && rc != DL_EPROTO)
		return rc;
	if (rc == 0 && src == 0 && sp->nsegs && segepoch != s.epoch) {
		snprintf(why, sizeof(why),
			 "segments of epoch %llu, stream file epoch %llu",
			 (unsigned long long)segepoch,
			 (unsigned long long)s.epoch);
		rc = DL_EPROTO;
	}
	if (rc == 0 && src != 0 && sp->nsegs) {
		snprintf(why, sizeof(why), "%s", swhy);
		rc = DL_EPROTO;
	}
	if (rc == DL_EPROTO) {
		if ((rc = move_aside(sp, why)) != 0)
			return rc;
		sp->start = DL_SPOOL_RESET;
	} else if (src == 0) {
		sp->epoch = s.epoch;
		sp->next_seq = s.next_seq > sp->last_seq ? s.next_seq
							 : sp->last_seq + 1;
		sp->dropped_frames = s.dropped_frames;
		sp->dropped_bytes = s.dropped_bytes;
		sp->start = DL_SPOOL_CONTINUED;
		return 0;
	} else if (src == DL_EPROTO) {
		DL_LOG_WARN(TAG, "%s (no spooled frames): starting a new epoch",
			    swhy);
		sp->start = DL_SPOOL_RESET;
	}
	sp->epoch = sp->o.new_epoch ? sp->o.new_epoch : dl_clock_wall_ns();
	sp->next_seq = 1;
	sp->last_seq = 0;
	return 0;
}
