/* spool.c - segment files and the stream file; see spool.h.
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
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/crc32c.h"
#include "common/err.h"
#include "common/fdio.h"
#include "common/log.h"
#include "proto/frame.h"
#include "proto/msg.h"

#define TAG	     "spool"
#define SEG_HDR	     16u
#define REC_HDR	     16u
#define REC_MAX	     (1u + DL_FRAME_HDR + DL_FRAME_MAX) /* len field */
#define PATH_MAX_    1200
#define STREAM_MAX   4096
#define SEG_NAME_LEN 16 /* 12 digits + ".seg" */

typedef struct {
	uint64_t num;
	uint64_t first, last; /* seqs; 0 = no records */
	uint64_t size;	      /* file bytes, header included */
	uint32_t nrec, nstats;
} seg_t;

typedef struct {
	uint64_t seq;
	uint32_t len; /* payload: cls + frame */
	uint8_t *payload;
} rec_t;

struct dl_spool {
	char state_dir[PATH_MAX_];
	char dir[PATH_MAX_];
	dl_spool_opts_t o;
	seg_t *segs;
	size_t nsegs, segs_alloc;
	int fd; /* segs[nsegs - 1] open for append; -1 = none */
	uint64_t total;
	uint64_t epoch, next_seq, reserved, last_seq;
	uint64_t dropped_frames, dropped_bytes;
	uint64_t acked, acked_written_ns;
	int dirty;
	dl_spool_start_t start;
	/* reader: the first record with seq > pos_after is at (rnum, roff) */
	int rfd;
	uint64_t rfd_num;
	int rvalid;
	uint64_t rnum, roff, pos_after;
	uint64_t ret_seq, ret_end; /* last returned record and its end */
	uint8_t *buf;
	size_t bufcap;
};

/* ---- little helpers ---------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t rec_crc(const uint8_t *hdr, const uint8_t *payload,
			uint32_t len)
{
	uint32_t c = dl_crc32c(0, hdr, 4);

	c = dl_crc32c(c, hdr + 8, 8);
	return dl_crc32c(c, payload, len);
}

static void seg_path(const char *dir, uint64_t num, char *out, size_t n)
{
	snprintf(out, n, "%s/%012llu.seg", dir, (unsigned long long)num);
}

static int fsync_dir(const char *dir)
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

static int pread_all(int fd, void *p, size_t n, uint64_t off)
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
static int read_rec(int fd, uint64_t off, uint64_t size, rec_t *r,
		    uint8_t **buf, size_t *cap)
{
	uint8_t h[REC_HDR];
	int rc;

	if (off == size)
		return 0;
	if (size - off < REC_HDR)
		return DL_EPROTO;
	if ((rc = pread_all(fd, h, REC_HDR, off)) != 0)
		return rc;
	r->len = get32(h);
	r->seq = get64(h + 8);
	if (r->len < 2 || r->len > REC_MAX || size - off - REC_HDR < r->len)
		return DL_EPROTO;
	if ((rc = grow_buf(buf, cap, r->len)) != 0 ||
	    (rc = pread_all(fd, *buf, r->len, off + REC_HDR)) != 0)
		return rc;
	r->payload = *buf;
	if (rec_crc(h, r->payload, r->len) != get32(h + 4) || r->payload[0] > 1)
		return DL_EPROTO;
	return 1;
}

/* ---- the stream file --------------------------------------------------- */

typedef struct {
	uint64_t epoch, next_seq, dropped_frames, dropped_bytes;
} stream_t;

/* 0, DL_ENOENT (no file), DL_EPROTO (unreadable: why says what). */
static int stream_load(const char *state_dir, stream_t *s, char *why,
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
	if (rename(tmp, path) != 0 || fsync_dir(state_dir) != 0)
		goto fail;
	return 0;
fail:
	DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG, "cannot write %s: %s", path,
		  strerror(errno));
	unlink(tmp);
	return rc;
}

static int save(dl_spool_t *sp)
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

static int add_seg(dl_spool_t *sp, uint64_t num)
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

static void remove_seg(dl_spool_t *sp, size_t i)
{
	sp->total -= sp->segs[i].size;
	memmove(&sp->segs[i], &sp->segs[i + 1],
		(sp->nsegs - i - 1) * sizeof(seg_t));
	sp->nsegs--;
	sp->rvalid = 0;
}

/* Lists *.seg into sp->segs, sorted; removes leftover *.tmp. */
static int list_segs(dl_spool_t *sp)
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
			rc = add_seg(sp, num);
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

/* ---- recovery ---------------------------------------------------------- */

/* Nothing but zeros from off to size: what a crash between extending a
 * file and writing its data leaves. */
static int zero_tail(int fd, uint64_t off, uint64_t size)
{
	uint8_t b[4096];

	while (off < size) {
		size_t n = size - off < sizeof(b) ? (size_t)(size - off)
						  : sizeof(b);

		if (pread_all(fd, b, n, off) != 0)
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
	if (pread_all(fd, h, 4, off) != 0)
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

	seg_path(sp->dir, g->num, path, sizeof(path));
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
	if ((rc = pread_all(fd, h, SEG_HDR, 0)) != 0)
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
	while ((rc = read_rec(fd, off, g->size, &r, &sp->buf, &sp->bufcap)) ==
	       1) {
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
	if (mkdir(sp->dir, 0700) != 0 || fsync_dir(sp->state_dir) != 0)
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
		seg_path(sp->dir, sp->segs[i].num, path, sizeof(path));
		unlink(path);
		remove_seg(sp, i);
	}
	return 0;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) == 0 || errno == EEXIST)
		return 0;
	DL_LOG_ERROR(TAG, "cannot create %s: %s", path, strerror(errno));
	return DL_EIO;
}

/* Decides epoch and next seq from the stream file and the segments. */
static int recover(dl_spool_t *sp)
{
	char why[PATH_MAX_ + 128] = "", swhy[PATH_MAX_ + 64] = "";
	stream_t s = {0};
	uint64_t segepoch = 0;
	int rc, src;

	if ((rc = list_segs(sp)) != 0)
		return rc;
	src = stream_load(sp->state_dir, &s, swhy, sizeof(swhy));
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
	    (rc = make_dir(sp->dir)) != 0 || (rc = recover(sp)) != 0)
		goto fail;
	sp->reserved = sp->next_seq + DL_SPOOL_RESERVE;
	if ((rc = save(sp)) != 0)
		goto fail;
	*out = sp;
	return 0;
fail:
	DL_LOG_ERROR(TAG, "cannot open the spool in %s: %s", o->state_dir,
		     dl_strerror(rc));
	dl_spool_free(sp);
	return rc;
}

static void close_active(dl_spool_t *sp)
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
	close_active(sp);
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
		rc = save(sp);
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
	return save(sp);
}

/* ---- writing ----------------------------------------------------------- */

static int open_new_seg(dl_spool_t *sp)
{
	char path[PATH_MAX_ + 32];
	uint8_t h[SEG_HDR];
	uint64_t num = sp->nsegs ? sp->segs[sp->nsegs - 1].num + 1 : 1;
	int fd, rc;

	seg_path(sp->dir, num, path, sizeof(path));
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
	    (rc = add_seg(sp, num)) != 0) {
		close(fd);
		unlink(path);
		return rc;
	}
	if (sp->o.sync != DL_SPOOL_SYNC_OFF)
		fsync_dir(sp->dir);
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

	seg_path(sp->dir, g->num, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (sp->rfd >= 0) { /* the rename would leave it on the old file */
		close(sp->rfd);
		sp->rfd = -1;
	}
	in = open(path, O_RDONLY | O_CLOEXEC);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = DL_EIO;
	if (in < 0 || out < 0 || pread_all(in, h, SEG_HDR, 0) != 0 ||
	    dl_write_all(out, h, SEG_HDR) != 0)
		goto fail;
	while ((rc = read_rec(in, off, g->size, &r, &sp->buf, &sp->bufcap)) ==
	       1) {
		off += REC_HDR + r.len;
		if (r.payload[0] == DL_OUTBOX_STATS) {
			sp->dropped_frames++;
			sp->dropped_bytes += r.len - 1;
			continue;
		}
		put32(rh, r.len);
		put64(rh + 8, r.seq);
		put32(rh + 4, rec_crc(rh, r.payload, r.len));
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
		remove_seg(sp, i);
	} else {
		if (rename(tmp, path) != 0)
			goto fail_names;
		sp->total = sp->total - g->size + n.size;
		*g = n;
	}
	if (sp->o.sync != DL_SPOOL_SYNC_OFF)
		fsync_dir(sp->dir);
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
		close_active(sp); /* the next append starts a new segment */
	g = sp->segs[i];
	if (g.nstats) {
		if ((rc = rewrite_seg(sp, i)) != 0)
			return rc;
	} else {
		seg_path(sp->dir, g.num, path, sizeof(path));
		if (unlink(path) != 0)
			return DL_EIO;
		/* whole records: their frame bytes, not the headers */
		sp->dropped_frames += g.nrec;
		sp->dropped_bytes +=
			g.size - SEG_HDR - (uint64_t)g.nrec * (REC_HDR + 1);
		remove_seg(sp, i);
	}
	DL_LOG_RL(DL_LOG_LEVEL_WARN, TAG,
		  "spool full (%llu bytes): dropped %llu %s frames (seq %llu "
		  "to %llu)",
		  (unsigned long long)sp->o.max_bytes,
		  (unsigned long long)(sp->dropped_frames - frames),
		  g.nstats ? "stats" : "event/inventory",
		  (unsigned long long)g.first, (unsigned long long)g.last);
	save(sp); /* drop totals outlive the process */
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
		close_active(sp);
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
			close_active(sp); /* recovery truncates the tail */
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
		seg_path(sp->dir, g->num, path, sizeof(path));
		if (unlink(path) != 0 && errno != ENOENT) {
			DL_LOG_RL(DL_LOG_LEVEL_ERROR, TAG,
				  "cannot delete %s: %s", path,
				  strerror(errno));
			break;
		}
		remove_seg(sp, 0);
	}
	write_acked(sp);
}

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
	seg_path(sp->dir, sp->rnum, path, sizeof(path));
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
		rc = read_rec(sp->rfd, sp->roff, sp->segs[i].size, &r, &sp->buf,
			      &sp->bufcap);
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
	if ((rc = stream_load(state_dir, &s, why, whylen)) != 0)
		goto out;
	st->epoch = s.epoch;
	st->next_seq = s.next_seq;
	st->dropped_frames = s.dropped_frames;
	st->dropped_bytes = s.dropped_bytes;
	snprintf(path, sizeof(path), "%s/acked", sp->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && pread_all(fd, b, 16, 0) == 0 && get64(b) == s.epoch)
		st->acked = get64(b + 8);
	if (fd >= 0)
		close(fd);
	if (list_segs(sp) != 0) {
		snprintf(why, whylen, "cannot list %s: %s", sp->dir,
			 strerror(errno));
		rc = DL_EIO;
		goto out;
	}
	for (size_t i = 0; i < sp->nsegs; i++) {
		seg_path(sp->dir, sp->segs[i].num, path, sizeof(path));
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
