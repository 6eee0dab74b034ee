/* spool_write.c - appending: one record per frame (header, class,
 * frame) into the open segment, rotation into a new segment, the cap
 * (the oldest stats records dropped first, by rewriting their segment,
 * then whole oldest segments; both counted and reported), fdatasync, and
 * acks, which delete segments the collector has committed in full. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "agent/spool.h"
#include "agent/spool_int.h"
#include "common/clock.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/fdio.h"
#include "common/log.h"

#define TAG "spool"

/* ---- writing ----------------------------------------------------------- */

static int open_new_seg(dl_spool_t *sp)
{
	char path[PATH_MAX_ + 32];
	uint8_t h[SEG_HDR];
	uint64_t num = sp->nsegs ? sp->segs[sp->nsegs - 1].num + 1 : 1;
	int fd, rc;

	dl_spool__seg_path(sp->dir, num, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "cannot create %s: %s", path,
			  strerror(errno));
		return DL_EIO;
	}
	memcpy(h, "DLSP", 4);
	put32(h + 4, DL_SPOOL_VERSION);
	put64(h + 8, sp->epoch);
	if ((rc = dl_write_all(fd, h, SEG_HDR)) != 0 ||
	    (rc = dl_spool__add_seg(sp, num)) != 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	if (sp->o.sync != DL_SPOOL_SYNC_OFF)
		dl_spool__fsync_dir(sp->dir);
	sp->segs[sp->nsegs - 1].size = SEG_HDR;
	sp->total += SEG_HDR;
	sp->fd = fd;
	return 0;
}

/* Copies the non-stats records of segment i to a new file that replaces
 * it; counts what was left out. Empty result: the segment is deleted. */
static int rewrite_seg(dl_spool_t *sp, size_t i)
{
	char path[PATH_MAX_ + 32], tmp[PATH_MAX_ + 40];
	seg_t *g = &sp->segs[i], n = {.num = g->num, .size = SEG_HDR};
	uint8_t h[SEG_HDR], rh[REC_HDR];
	uint64_t off = SEG_HDR;
	rec_t r;
	int in = -1, out = -1, rc;

	dl_spool__seg_path(sp->dir, g->num, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (sp->rfd >= 0) { /* the rename would leave it on the old file */
		close(sp->rfd);
		sp->rfd = -1;
	}
	in = open(path, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = DL_EIO;
	if (in < 0 || out < 0 || dl_spool__pread_all(in, h, SEG_HDR, 0) != 0 ||
	    dl_write_all(out, h, SEG_HDR) != 0)
		goto fail;
	while ((rc = dl_spool__read_rec(in, off, g->size, &r, &sp->buf,
					&sp->bufcap)) == 1) {
		off += REC_HDR + r.len;
		if (r.payload[0] == DL_OUTBOX_STATS) {
			sp->dropped_frames++;
			sp->dropped_bytes += r.len - 1;
			continue;
		}
		put32(rh, r.len);
		put64(rh + 8, r.seq);
		put32(rh + 4, dl_spool__rec_crc(rh, r.payload, r.len));
		if ((rc = dl_write_all(out, rh, REC_HDR)) != 0 ||
		    (rc = dl_write_all(out, r.payload, r.len)) != 0)
			goto fail;
		if (!n.first)
			n.first = r.seq;
		n.last = r.seq;
		n.nrec++;
		n.size += REC_HDR + r.len;
	}
	if (rc != 0)
		goto fail;
	if (sp->o.sync != DL_SPOOL_SYNC_OFF && fdatasync(out) != 0)
		goto fail;
	close(in);
	close(out);
	if (n.nrec == 0) {
		unlink(tmp);
		unlink(path);
		dl_spool__remove_seg(sp, i);
	} else {
		if (rename(tmp, path) != 0)
			goto fail_names;
		sp->total = sp->total - g->size + n.size;
		*g = n;
	}
	if (sp->o.sync != DL_SPOOL_SYNC_OFF)
		dl_spool__fsync_dir(sp->dir);
	sp->rvalid = 0;
	return 0;
fail:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
fail_names:
	unlink(tmp);
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
		  "cannot drop stats from %s to make room: %s", path,
		  dl_strerror(rc ? rc : DL_EIO));
	return rc ? rc : DL_EIO;
}

/* Frees room for the cap: the stats records of the oldest segment that
 * has any, else the oldest segment whole. */
static int drop_oldest(dl_spool_t *sp)
{
	char path[PATH_MAX_ + 32];
	uint64_t frames = sp->dropped_frames;
	size_t i;
	seg_t g;
	int rc;

	for (i = 0; i < sp->nsegs && !sp->segs[i].nstats; i++)
		;
	if (i == sp->nsegs)
		i = 0;
	if (i + 1 == sp->nsegs)
		dl_spool__close_active(
			sp); /* the next append starts a new segment */
	g = sp->segs[i];
	if (g.nstats) {
		if ((rc = rewrite_seg(sp, i)) != 0)
			return rc;
	} else {
		dl_spool__seg_path(sp->dir, g.num, path, sizeof(path));
		if (unlink(path) != 0)
			return DL_EIO;
		/* whole records: their frame bytes, not the headers */
		sp->dropped_frames += g.nrec;
		sp->dropped_bytes +=
			g.size - SEG_HDR - (uint64_t)g.nrec * (REC_HDR + 1);
		dl_spool__remove_seg(sp, i);
	}
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
		  "spool full (%llu bytes): dropped %llu %s frames (seq %llu "
		  "to %llu)",
		  (unsigned long long)sp->o.max_bytes,
		  (unsigned long long)(sp->dropped_frames - frames),
		  g.nstats ? "stats" : "event/inventory",
		  (unsigned long long)g.first, (unsigned long long)g.last);
	dl_spool__save(sp); /* drop totals outlive the process */
	if (sp->o.on_drop && g.nrec)
		sp->o.on_drop(sp->o.ud, g.first, g.last, g.nstats != 0);
	return 0;
}

int dl_spool_append(dl_spool_t *sp, uint64_t seq, dl_outbox_class_t cls,
		    const uint8_t *frame, size_t len)
{
	uint8_t h[REC_HDR], c = (uint8_t)cls;
	uint64_t need = REC_HDR + 1 + (uint64_t)len;
	struct iovec iov[3];
	seg_t *g;
	ssize_t w;
	uint32_t crc;
	int rc;

	if (seq <= sp->last_seq)
		return DL_EINVAL;
	if (len == 0 || len + 1 > REC_MAX)
		return DL_ETOOBIG;
	while (sp->total + need + SEG_HDR > sp->o.max_bytes && sp->nsegs &&
	       (sp->nsegs > 1 || sp->segs[0].nrec))
		if (drop_oldest(sp) != 0)
			break; /* logged; the cap is passed by this record */
	if (sp->fd >= 0 && sp->segs[sp->nsegs - 1].nrec &&
	    sp->segs[sp->nsegs - 1].size + need > sp->o.seg_bytes)
		dl_spool__close_active(sp);
	if (sp->fd < 0 && (rc = open_new_seg(sp)) != 0)
		return rc;
	g = &sp->segs[sp->nsegs - 1];
	put32(h, (uint32_t)(len + 1));
	put64(h + 8, seq);
	crc = dl_crc32c(0, h, 4);
	crc = dl_crc32c(crc, h + 8, 8);
	crc = dl_crc32c(crc, &c, 1);
	put32(h + 4, dl_crc32c(crc, frame, len));
	iov[0] = (struct iovec){h, REC_HDR};
	iov[1] = (struct iovec){&c, 1};
	iov[2] = (struct iovec){(void *)frame, len};
	do
		w = writev(sp->fd, iov, 3);
	while (w < 0 && errno == EINTR);
	if (w != (ssize_t)need) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
			  "cannot append to the spool in %s: %s", sp->dir,
			  w < 0 ? strerror(errno) : "short write");
		if (w > 0 && ftruncate(sp->fd, (off_t)g->size) != 0)
			dl_spool__close_active(
				sp); /* recovery truncates the tail */
		return DL_EIO;
	}
	g->size += need;
	sp->total += need;
	if (!g->first)
		g->first = seq;
	g->last = seq;
	g->nrec++;
	g->nstats += cls == DL_OUTBOX_STATS;
	sp->last_seq = seq;
	sp->dirty = 1;
	/* A failed fdatasync is logged; the record is in the file, so it is
	 * not reported as a failed append (it would be counted as lost). */
	if (sp->o.sync == DL_SPOOL_SYNC_ALWAYS)
		dl_spool_sync(sp);
	return 0;
}

int dl_spool_sync(dl_spool_t *sp)
{
	if (sp->fd < 0 || !sp->dirty)
		return 0;
	sp->dirty = 0;
	if (fdatasync(sp->fd) != 0) {
		DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "fdatasync in %s: %s",
			  sp->dir, strerror(errno));
		return DL_EIO;
	}
	return 0;
}

/* ---- acks -------------------------------------------------------------- */

static void write_acked(dl_spool_t *sp)
{
	char path[PATH_MAX_ + 16];
	uint8_t b[16];
	uint64_t now = dl_clock_mono_ns();
	int fd;

	if (now - sp->acked_written_ns < 1000000000ull && sp->acked_written_ns)
		return;
	sp->acked_written_ns = now;
	snprintf(path, sizeof(path), "%s/acked", sp->dir);
	put64(b, sp->epoch);
	put64(b + 8, sp->acked);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (pwrite(fd, b, sizeof(b), 0) != (ssize_t)sizeof(b))
		DL_LOG_RL(DL_LOG_LEVEL_DEBUG, TAG, "cannot write %s", path);
	close(fd);
}

void dl_spool_ack(dl_spool_t *sp, uint64_t seq)
{
	char path[PATH_MAX_ + 32];

	if (seq <= sp->acked)
		return;
	sp->acked = seq;
	while (sp->nsegs && sp->segs[0].last <= seq) {
		seg_t *g = &sp->segs[0];

		if (sp->nsegs == 1 && sp->fd >= 0) {
			if (!g->nrec)
				break;
			/* the open segment: back to its header */
			if (ftruncate(sp->fd, SEG_HDR) != 0)
				break;
			sp->total -= g->size - SEG_HDR;
			*g = (seg_t){.num = g->num, .size = SEG_HDR};
			sp->rvalid = 0;
			break;
		}
		dl_spool__seg_path(sp->dir, g->num, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT) {
			DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
				  "cannot delete %s: %s", path,
				  strerror(errno));
			break;
		}
		dl_spool__remove_seg(sp, 0);
	}
	write_acked(sp);
}
