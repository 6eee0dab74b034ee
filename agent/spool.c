/* spool.c - the spool's on-disk layout (below), the record codec, the
 * stream file, the segment list, opening and closing, and sequence
 * numbers. Recovery at open is in spool_recover.c, appending, the cap and
 * acks in spool_write.c, reading back and statistics in spool_read.c; see
 * spool.h.
 *
 * state_dir/stream (text, replaced atomically: temp, fsync, rename, fsync
 * of the directory):
 *
 *   dockline-stream 1
 *   epoch 1718000000123456789
 *   next_seq 120001          <- every seq below this may have been used
 *   dropped_frames 0         <- dropped for the spool cap, all runs
 *   dropped_bytes 0
 *
 * state_dir/spool/NNNNNNNNNNNN.seg (12 decimal digits, increasing), all
 * integers little-endian:
 *
 *   segment header, 16 bytes
 *   +--------+--------+--------+--------+--------------------------------+
 *   |  'D'   |  'L'   |  'S'   |  'P'   | version u32 (1)                |
 *   +--------+--------+--------+--------+--------------------------------+
 *   | epoch u64                                                           |
 *   +---------------------------------------------------------------------+
 *   then records, back to back, seq strictly increasing across segments:
 *   +-----------------+-----------------+-----------------------------------+
 *   | len u32         | crc32c u32      | seq u64                           |
 *   +-----------------+-----------------+-----------------------------------+
 *   | cls u8 (0 keep, 1 stats) | frame: len - 1 bytes (header + msgpack) |
 *   +--------------------------+-----------------------------------------+
 *   crc32c covers len (4 bytes), seq (8 bytes) and the len payload bytes.
 *
 * state_dir/spool/acked: 16 bytes, epoch u64 + seq u64, the last ack,
 * rewritten in place at most once a second and never synced. Advisory
 * only (`check` uses it to find the oldest unsent record); the collector's
 * HELLO is what decides what is resent. */
#include "agent/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/spool_int.h"
#include "common/config.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/fdio.h"
#include "common/log.h"

#define TAG "spool"

#define STREAM_MAX   4096
#define SEG_NAME_LEN 16 /* 12 digits + ".seg" */

/* ---- little helpers ---------------------------------------------------- */

uint32_t dl_spool__rec_crc(const uint8_t *hdr, const uint8_t *payload,
			   uint32_t len)
{
	uint32_t c = dl_crc32c(0, hdr, 4);

	c = dl_crc32c(c, hdr + 8, 8);
	return dl_crc32c(c, payload, len);
}

void dl_spool__seg_path(const char *dir, uint64_t num, char *out, size_t n)
{
	snprintf(out, n, "%s/%012llu.seg", dir, (unsigned long long)num);
}

int dl_spool__fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return DL_EIO;
	if (fsync(fd) != 0)
		rc = DL_EIO;
	close(fd);
	return rc;
}

int dl_spool__pread_all(int fd, void *p, size_t n, uint64_t off)
{
	uint8_t *b = p;

	while (n > 0) {
		ssize_t r = pread(fd, b, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return DL_EIO;
		b += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int grow_buf(uint8_t **buf, size_t *cap, size_t n)
{
	uint8_t *p;

	if (*cap >= n)
		return 0;
	p = realloc(*buf, n);
	if (!p)
		return DL_ENOMEM;
	*buf = p;
	*cap = n;
	return 0;
}

/* Reads the record at off of a file of size bytes: 1 (r set, payload in
 * *buf), 0 at a clean end, DL_EPROTO (short, length out of range, CRC
 * mismatch), DL_EIO, DL_ENOMEM. */
int dl_spool__read_rec(int fd, uint64_t off, uint64_t size, rec_t *r,
		       uint8_t **buf, size_t *cap)
{
	uint8_t h[REC_HDR];
	int rc;

	if (off == size)
		return 0;
	if (size - off < REC_HDR)
		return DL_EPROTO;
	if ((rc = dl_spool__pread_all(fd, h, REC_HDR, off)) != 0)
		return rc;
	r->len = get32(h);
	r->seq = get64(h + 8);
	if (r->len < 2 || r->len > REC_MAX || size - off - REC_HDR < r->len)
		return DL_EPROTO;
	if ((rc = grow_buf(buf, cap, r->len)) != 0 ||
	    (rc = dl_spool__pread_all(fd, *buf, r->len, off + REC_HDR)) != 0)
		return rc;
	r->payload = *buf;
	if (dl_spool__rec_crc(h, r->payload, r->len) != get32(h + 4) ||
	    r->payload[0] > 1)
		return DL_EPROTO;
	return 1;
}

/* ---- the stream file --------------------------------------------------- */

/* 0, DL_ENOENT (no file), DL_EPROTO (unreadable: why says what). */
int dl_spool__stream_load(const char *state_dir, stream_t *s, char *why,
			  size_t whylen)
{
	static const char *const keys[] = {"epoch", "next_seq",
					   "dropped_frames", "dropped_bytes"};
	char path[PATH_MAX_], text[STREAM_MAX + 1], *line, *end;
	uint64_t *vals[] = {&s->epoch, &s->next_seq, &s->dropped_frames,
			    &s->dropped_bytes};
	int fd, seen = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/stream", state_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", path,
			 strerror(errno));
		return errno == ENOENT ? DL_ENOENT : DL_EPROTO;
	}
	n = read(fd, text, STREAM_MAX + 1);
	close(fd);
	if (n < 0 || n > STREAM_MAX) {
		snprintf(why, whylen, "%s: unreadable or over %u bytes", path,
			 STREAM_MAX);
		return DL_EPROTO;
	}
	text[n] = '\0';
	line = text;
	end = strchr(line, '\n');
	if (!end || strncmp(line, "dockline-stream 1\n", 18) != 0) {
		snprintf(why, whylen, "%s: not a version %u stream file", path,
			 DL_SPOOL_VERSION);
		return DL_EPROTO;
	}
	for (line = end + 1; *line; line = end + 1) {
		char *sp = strchr(line, ' ');
		int64_t v;
		size_t k;

		end = strchr(line, '\n');
		if (!end || !sp || sp > end)
			break;
		*end = '\0';
		*sp = '\0';
		for (k = 0; k < 4 && strcmp(line, keys[k]) != 0; k++)
			;
		if (k == 4 || dl_parse_int(sp + 1, 0, INT64_MAX, &v) != 0)
			break;
		*vals[k] = (uint64_t)v;
		seen |= 1 << k;
	}
	if (*line || seen != 15 || s->epoch == 0 || s->next_seq == 0) {
		snprintf(why, whylen, "%s: malformed", path);
		return DL_EPROTO;
	}
	return 0;
}

static int stream_save(const char *state_dir, const stream_t *s)
{
	char path[PATH_MAX_], tmp[PATH_MAX_ + 8], text[512];
	int fd, n, rc = DL_EIO;

	snprintf(path, sizeof(path), "%s/stream", state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(text, sizeof(text),
		     "dockline-stream 1\nepoch %llu\nnext_seq %llu\n"
		     "dropped_frames %llu\ndropped_bytes %llu\n",
		     (unsigned long long)s->epoch,
		     (unsigned long long)s->next_seq,
		     (unsigned long long)s->dropped_frames,
		     (unsigned long long)s->dropped_bytes);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto fail;
	if (dl_write_all(fd, text, (size_t)n) != 0 || fsync(fd) != 0) {
		close(fd);
		goto fail;
	}
	close(fd);
	if (rename(tmp, path) != 0 || dl_spool__fsync_dir(state_dir) != 0)
		goto fail;
	return 0;
fail:
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "cannot write %s: %s", path,
		  strerror(errno));
	unlink(tmp);
	return rc;
}

int dl_spool__save(dl_spool_t *sp)
{
	stream_t s = {sp->epoch, sp->reserved, sp->dropped_frames,
		      sp->dropped_bytes};

	return stream_save(sp->state_dir, &s);
}

/* ---- segment list ------------------------------------------------------ */

static int parse_seg_name(const char *name, uint64_t *num)
{
	uint64_t v = 0;

	if (strlen(name) != SEG_NAME_LEN || strcmp(name + 12, ".seg") != 0)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (name[i] < '0' || name[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(name[i] - '0');
	}
	*num = v;
	return v ? 0 : -1;
}

static int cmp_seg(const void *a, const void *b)
{
	const seg_t *x = a, *y = b;

	return x->num < y->num ? -1 : x->num > y->num;
}

int dl_spool__add_seg(dl_spool_t *sp, uint64_t num)
{
	if (sp->nsegs == sp->segs_alloc) {
		size_t n = sp->segs_alloc ? sp->segs_alloc * 2 : 16;
		seg_t *p = realloc(sp->segs, n * sizeof(*p));

		if (!p)
			return DL_ENOMEM;
		sp->segs = p;
		sp->segs_alloc = n;
	}
	sp->segs[sp->nsegs++] = (seg_t){.num = num};
	return 0;
}

void dl_spool__remove_seg(dl_spool_t *sp, size_t i)
{
	sp->total -= sp->segs[i].size;
	memmove(&sp->segs[i], &sp->segs[i + 1],
		(sp->nsegs - i - 1) * sizeof(seg_t));
	sp->nsegs--;
	sp->rvalid = 0;
}

/* Lists *.seg into sp->segs, sorted; removes leftover *.tmp. */
int dl_spool__list_segs(dl_spool_t *sp)
{
	DIR *d = opendir(sp->dir);
	struct dirent *e;
	uint64_t num;
	char path[PATH_MAX_ + 300];
	int rc = 0;

	if (!d)
		return DL_EIO;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);

		if (parse_seg_name(e->d_name, &num) == 0) {
			rc = dl_spool__add_seg(sp, num);
		} else if (n > 4 && strcmp(e->d_name + n - 4, ".tmp") == 0) {
			snprintf(path, sizeof(path), "%s/%s", sp->dir,
				 e->d_name);
			unlink(path); /* a rewrite that did not finish */
		}
	}
	closedir(d);
	if (sp->nsegs)
		qsort(sp->segs, sp->nsegs, sizeof(seg_t), cmp_seg);
	return rc;
}

/* ---- open and close --------------------------------------------------- */

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	DL_LOG_ERROR(TAG, "cannot create %s: %s", path, strerror(errno));
	return DL_EIO;
}

int dl_spool_open(const dl_spool_opts_t *o, dl_spool_t **out)
{
	dl_spool_t *sp = calloc(1, sizeof(*sp));
	int rc = DL_ENOMEM;

	*out = NULL;
	if (!sp)
		return rc;
	sp->fd = sp->rfd = -1;
	sp->o = *o;
	if (!sp->o.max_bytes)
		sp->o.max_bytes = DL_SPOOL_DEFAULT_MAX;
	if (!sp->o.seg_bytes)
		sp->o.seg_bytes = sp->o.max_bytes / 4 < DL_SPOOL_SEG_MAX
					  ? sp->o.max_bytes / 4
					  : DL_SPOOL_SEG_MAX;
	rc = DL_EINVAL;
	if (strlen(o->state_dir) + 16 >= sizeof(sp->dir))
		goto fail;
	snprintf(sp->state_dir, sizeof(sp->state_dir), "%s", o->state_dir);
	snprintf(sp->dir, sizeof(sp->dir), "%s/spool", o->state_dir);
	sp->o.state_dir = sp->state_dir;
	if ((rc = make_dir(sp->state_dir)) != 0 ||
	    (rc = make_dir(sp->dir)) != 0 || (rc = dl_spool__recover(sp)) != 0)
		goto fail;
	sp->reserved = sp->next_seq + DL_SPOOL_RESERVE;
	if ((rc = dl_spool__save(sp)) != 0)
		goto fail;
	*out = sp;
	return 0;
fail:
	DL_LOG_ERROR(TAG, "cannot open the spool in %s: %s", o->state_dir,
		     dl_strerror(rc));
	dl_spool_free(sp);
	return rc;
}

void dl_spool__close_active(dl_spool_t *sp)
{
	if (sp->fd < 0)
		return;
	if (sp->o.sync != DL_SPOOL_SYNC_OFF && sp->dirty)
		fdatasync(sp->fd);
	close(sp->fd);
	sp->fd = -1;
	sp->dirty = 0;
}

void dl_spool_free(dl_spool_t *sp)
{
	if (!sp)
		return;
	dl_spool__close_active(sp);
	if (sp->rfd >= 0)
		close(sp->rfd);
	free(sp->segs);
	free(sp->buf);
	free(sp);
}

dl_spool_start_t dl_spool_start(const dl_spool_t *sp)
{
	return sp->start;
}

uint64_t dl_spool_epoch(const dl_spool_t *sp)
{
	return sp->epoch;
}

uint64_t dl_spool_last_seq(const dl_spool_t *sp)
{
	return sp->last_seq;
}

/* ---- sequence numbers -------------------------------------------------- */

int dl_spool_take_seq(dl_spool_t *sp, uint64_t *seq)
{
	int rc = 0;

	if (sp->next_seq >= sp->reserved) {
		sp->reserved = sp->next_seq + DL_SPOOL_RESERVE;
		rc = dl_spool__save(sp);
		if (rc) /* retried with the next seq */
			sp->reserved = sp->next_seq + 1;
	}
	*seq = sp->next_seq++;
	return rc;
}

int dl_spool_bump_seq(dl_spool_t *sp, uint64_t next)
{
	if (next <= sp->next_seq)
		return 0;
	sp->next_seq = next;
	sp->reserved = next + DL_SPOOL_RESERVE;
	return dl_spool__save(sp);
}
