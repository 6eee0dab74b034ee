/* fuzz_spool.c - libFuzzer target for the agent's spool recovery
 * (agent/spool_recover.c): whatever a crash, a full disk or a bad block
 * leaves in state_dir/spool/NNN.seg, opening the spool and reading every
 * record back must end in records, a truncated torn tail or the spool
 * moved aside, never a crash. Byte 0: bit 0 = keep the CRCs as given (else the harness
 * repairs them, so the fuzzer reaches past the checksum), bit 1 = a
 * second segment (the input split at byte 1's position).
 * Input after byte 1: one segment file, header included. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/spool.h"
#include "common/crc32c.h"
#include "common/log.h"

static char dir[64];

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* Writes the CRC each record claims to have (see the layout in spool.c). */
static void repair(uint8_t *p, size_t n)
{
	size_t off = 16;

	while (off + 16 <= n) {
		uint32_t len = le32(p + off), c;

		if (len == 0 || len > n - off - 16)
			break;
		c = dl_crc32c(0, p + off, 4);
		c = dl_crc32c(c, p + off + 8, 8);
		c = dl_crc32c(c, p + off + 16, len);
		for (int i = 0; i < 4; i++)
			p[off + 4 + i] = (uint8_t)(c >> (8 * i));
		off += 16 + (size_t)len;
	}
}

static void put(const char *name, const uint8_t *p, size_t n)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/spool/%s", dir, name);
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (n && fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

/* Empties dir (the spool may have been moved aside under a new name). */
static void wipe(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	char path[400];
	struct stat st;

	if (!dp)
		return;
	while ((e = readdir(dp))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", d, e->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			wipe(path);
			rmdir(path);
		} else {
			unlink(path);
		}
	}
	closedir(dp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char stream[] =
		"dockline-stream 1\nepoch 77\nnext_seq 1\n";
	dl_spool_opts_t o;
	dl_spool_t *sp = NULL;
	dl_spool_rec_t rec;
	uint8_t *seg;
	size_t n, cut;
	uint64_t after = 0;
	char path[160];
	FILE *f;

	if (size < 2 || size > 1 << 20)
		return 0;
	dl_log_set_level((dl_log_level_t)-1);
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/dl-fuzz-spool.%d",
			 (int)getpid());
		mkdir(dir, 0700);
	}
	wipe(dir);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/spool", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/stream", dir);
	f = fopen(path, "wb");
	if (!f)
		abort();
	fputs(stream, f);
	fclose(f);
	n = size - 2;
	seg = malloc(n ? n : 1);
	if (!seg)
		return 0;
	memcpy(seg, data + 2, n);
	if (!(data[0] & 1))
		repair(seg, n);
	cut = (data[0] & 2) ? (size_t)data[1] * n / 255 : n;
	put("000000000001.seg", seg, cut);
	if (cut < n)
		put("000000000002.seg", seg + cut, n - cut);
	free(seg);
	memset(&o, 0, sizeof(o));
	o.state_dir = dir;
	o.new_epoch = 99;
	o.sync = DL_SPOOL_SYNC_OFF;
	if (dl_spool_open(&o, &sp) == 0) {
		for (int i = 0;
		     i < 100000 && dl_spool_next(sp, after, &rec) == 1; i++) {
			if (rec.seq <= after)
				abort(); /* seqs strictly increase */
			after = rec.seq;
		}
		dl_spool_free(sp);
	}
	return 0;
}
