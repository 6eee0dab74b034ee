/* jtext.h - JSON text written straight from SQLite columns, for the
 * answers too big for a json_t per row (history, ps, stats, hosts).
 *
 * The put_* helpers write at p and return the new end; the caller has
 * reserved room (JT_NUM_MAX per number, JT_STAMP_MAX per stamp,
 * dl_jt_str_max(n) per string). The documents they make equal, value for
 * value, what the json_t path (query.c) builds: tests/unit/test_jtext.c
 * and test_query_text.c hold both to that. */
#ifndef DL_COLLECTOR_JTEXT_H
#define DL_COLLECTOR_JTEXT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"

/* A string literal, without its NUL. */
#define JT_PUT(p, lit)                                                         \
	(memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

#define JT_NUM_MAX   24 /* "-9223372036854775808", "null", "-90071992547409.92" */
#define JT_STAMP_MAX 32 /* "2026-11-23T22:01:02.123456789Z" */

char *dl_jt_u64(char *p, uint64_t v);
char *dl_jt_i64(char *p, int64_t v);
/* n as exactly `digits` decimal digits, zero padded. */
char *dl_jt_fixed(char *p, uint32_t n, int digits);
/* v rounded to two decimals as query.c's col_num() rounds
 * ((int64_t)(v * 100 + 0.5) / 100); null when that has no exact form
 * (NaN, |v| past 9e13). */
char *dl_jt_real(char *p, double v);

/* RFC 3339 with ns; the date part is cached per day since rows of one
 * answer mostly share it. Start with {.day = -1}. */
typedef struct {
	int64_t day;
	char ymd[16]; /* "2026-11-23T" */
} dl_jt_day_t;
char *dl_jt_stamp(char *p, int64_t ns, dl_jt_day_t *dc);

/* The most a string of n bytes takes quoted and escaped: every byte may
 * become "\u00XX" (6), or an invalid byte U+FFFD (3 bytes). */
static inline size_t dl_jt_str_max(size_t n)
{
	return 6 * n + 2;
}
/* s[0..n) as a quoted JSON string: '"' '\\' escaped, control characters
 * as \b \f \n \r \t or \u00XX (NUL too: jansson keeps it as \u0000),
 * valid UTF-8 copied as is (no \u escapes above 0x7f), and each byte
 * that is not part of valid UTF-8 (common/utf8.c's rules: no overlongs,
 * surrogates or code points past U+10FFFF) replaced by U+FFFD, as
 * dl_utf8_dup does (but a NUL stays \u0000, as in valid text; query.c's
 * col_str repairs the same way). s NULL is "". */
char *dl_jt_str(char *p, const char *s, size_t n);

/* Appends what fits into a buffer: the same, growing out. 0 or
 * DL_ETOOBIG (out's cap or memory). */
int dl_jt_buf_str(dl_buf_t *out, const char *s, size_t n);

#endif
