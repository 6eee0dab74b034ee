/* spool_int.h - what spool.c, spool_recover.c, spool_write.c and
 * spool_read.c share: the spool's state (struct dl_spool, its segment
 * list), the record and header sizes, the little-endian helpers and the
 * internal calls one file makes in another (dl_spool__*). Private to
 * agent/spool*.c; the on-disk layout is drawn in spool.c. */
#ifndef DL_AGENT_SPOOL_INT_H
#define DL_AGENT_SPOOL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/spool.h"
#include "proto/frame.h"

#define SEG_HDR	  16u
#define REC_HDR	  16u
#define REC_MAX	  (1u + DL_FRAME_HDR + DL_FRAME_MAX) /* len field */
#define PATH_MAX_ 1200

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

typedef struct {
	uint64_t epoch, next_seq, dropped_frames, dropped_bytes;
} stream_t;

static inline void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* spool.c: the record codec */
/* crc32c over a record's len and seq fields and its payload. */
uint32_t dl_spool__rec_crc(const uint8_t *hdr, const uint8_t *payload,
			   uint32_t len);
/* out = dir/NNNNNNNNNNNN.seg */
void dl_spool__seg_path(const char *dir, uint64_t num, char *out, size_t n);
/* fsync of a directory (after a create, rename or unlink in it). 0 or
 * DL_EIO. */
int dl_spool__fsync_dir(const char *dir);
/* n bytes at off, retrying short reads. 0 or DL_EIO (an early end too). */
int dl_spool__pread_all(int fd, void *p, size_t n, uint64_t off);
/* Reads the record at off of a file of size bytes: 1 (r set, payload in
 * *buf), 0 at a clean end, DL_EPROTO, DL_EIO, DL_ENOMEM. */
int dl_spool__read_rec(int fd, uint64_t off, uint64_t size, rec_t *r,
		       uint8_t **buf, size_t *cap);

/* spool.c: the stream file */
/* 0, DL_ENOENT (no file), DL_EPROTO (unreadable: why says what). */
int dl_spool__stream_load(const char *state_dir, stream_t *s, char *why,
			  size_t whylen);
/* Persists epoch, the reservation and the drop totals. 0 or DL_EIO. */
int dl_spool__save(dl_spool_t *sp);

/* spool.c: the segment list */
int dl_spool__add_seg(dl_spool_t *sp, uint64_t num);
void dl_spool__remove_seg(dl_spool_t *sp, size_t i);
/* Lists *.seg into sp->segs, sorted; removes leftover *.tmp. */
int dl_spool__list_segs(dl_spool_t *sp);
/* Closes the segment open for append (fdatasync first unless OFF). */
void dl_spool__close_active(dl_spool_t *sp);

/* spool_recover.c: decides epoch and next seq from the stream file and
 * the segments (torn tail truncated, anything else corrupt moved aside). */
int dl_spool__recover(dl_spool_t *sp);

#endif
