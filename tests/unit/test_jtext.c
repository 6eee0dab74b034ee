/* test_jtext.c - the JSON text helpers (collector/jtext.c): the string
 * escaper against a table and against jansson, numbers and stamps. */
#include "collector/jtext.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/utf8.h"
#include "test.h"

static char out[4096];

static const char *esc(const char *s, size_t n)
{
	char *e = dl_jt_str(out, s, n);

	ASSERT(e - out <= (long)dl_jt_str_max(n));
	*e = '\0';
	return out;
}

static void test_escape_table(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} t[] = {
		{"", 0, "\"\""},
		{"web", 3, "\"web\""},
		{"we\"b", 4, "\"we\\\"b\""},
		{"a\\b", 3, "\"a\\\\b\""},
		{"/x", 2, "\"/x\""},
		{"\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\""},
		{"\x01\x1f", 2, "\"\\u0001\\u001f\""},
		{"a\0b", 3, "\"a\\u0000b\""},
		{"\x7f", 1, "\"\x7f\""},
		/* valid multibyte: copied */
		{"na\xc3\xafve", 6, "\"na\xc3\xafve\""},
		{"\xe2\x98\x83", 3, "\"\xe2\x98\x83\""},
		{"\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\""},
		{"\xf4\x8f\xbf\xbf", 4, "\"\xf4\x8f\xbf\xbf\""},
		/* invalid bytes: each one U+FFFD */
		{"\xff", 1, "\"\xef\xbf\xbd\""},
		{"a\xc3", 2, "\"a\xef\xbf\xbd\""},		 /* cut */
		{"\xc0\xaf", 2, "\"\xef\xbf\xbd\xef\xbf\xbd\""}, /* overlong */
		{"\xed\xa0\x80", 3,
		 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
		 "\""}, /* surrogate */
		{"\xf4\x90\x80\x80", 4,
		 "\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef"
		 "\xbf\xbd\""}, /* > U+10FFFF */
		{"\x80x", 2, "\"\xef\xbf\xbdx\""},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ASSERT_STR_EQ(esc(t[i].in, t[i].n), t[i].want);
	ASSERT_STR_EQ(esc(NULL, 5), "\"\"");
	/* the worst case is what dl_jt_str_max allows */
	{
		char ctl[64];

		memset(ctl, 1, sizeof(ctl));
		ASSERT_EQ(strlen(esc(ctl, sizeof(ctl))), dl_jt_str_max(64));
	}
}

/* Every string of up to 3 bytes from an alphabet of awkward bytes: the
 * text parses, and means what jansson would hold (after the per-byte
 * U+FFFD repair for invalid input). */
static void test_escape_vs_jansson(void)
{
	static const unsigned char alpha[] = {0x00, 0x01, 0x1f, '"',  '\\',
					      'a',  0x7f, 0x80, 0xbf, 0xc3,
					      0xa9, 0xe2, 0xf0, 0xff, 0x9f};
	size_t na = sizeof(alpha);
	unsigned char s[3];
	size_t count = 0;

	for (size_t len = 0; len <= 3; len++) {
		size_t total = 1;

		for (size_t k = 0; k < len; k++)
			total *= na;
		for (size_t v = 0; v < total; v++) {
			size_t x = v;
			json_t *got, *want;
			json_error_t je;
			char *fixed;

			for (size_t k = 0; k < len; k++, x /= na)
				s[k] = alpha[x % na];
			esc((const char *)s, len);
			got = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL,
					 &je);
			if (!got)
				DL_FAIL_("does not parse: %s (%s)", out,
					 je.text);
			want = json_stringn((const char *)s, len);
			if (!want) {
				/* query.c's col_str repair: NUL kept */
				size_t o = 0;

				fixed = malloc(3 * len + 1);
				for (size_t i = 0, k; i < len; i += k) {
					k = s[i] ? dl_utf8_seq(s + i, len - i)
						 : 1;
					if (k) {
						memcpy(fixed + o, s + i, k);
						o += k;
					} else {
						memcpy(fixed + o,
						       "\xef\xbf\xbd", 3);
						o += 3;
						k = 1;
					}
				}
				want = json_stringn(fixed, o);
				free(fixed);
			}
			ASSERT(want != NULL);
			if (!json_equal(got, want))
				DL_FAIL_("len %zu %02x %02x %02x: %s", len,
					 s[0], len > 1 ? s[1] : 0,
					 len > 2 ? s[2] : 0, out);
			json_decref(got);
			json_decref(want);
			count++;
		}
	}
	ASSERT_GT(count, 3000);
}

static void test_numbers(void)
{
	static const struct {
		double v;
		const char *want;
	} r[] = {
		{0, "0.00"},	    {12.345, "12.35"}, {12.344, "12.34"},
		{99.999, "100.00"}, {0.004, "0.00"},   {-1.5, "-1.49"},
		{1e300, "null"},
	};
	char *e;

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		e = dl_jt_real(out, r[i].v);
		*e = '\0';
		ASSERT_STR_EQ(out, r[i].want);
		if (strcmp(r[i].want, "null")) {
			/* the same double as the json_t path's */
			double j =
				(double)(int64_t)(r[i].v * 100.0 + 0.5) / 100.0;

			ASSERT(strtod(out, NULL) == j);
		}
	}
	e = dl_jt_i64(out, INT64_MIN);
	*e = '\0';
	ASSERT_STR_EQ(out, "-9223372036854775808");
	e = dl_jt_u64(out, UINT64_MAX);
	*e = '\0';
	ASSERT_STR_EQ(out, "18446744073709551615");
	{
		dl_jt_day_t dc = {.day = -1};

		e = dl_jt_stamp(out, 1700000000123456789LL, &dc);
		*e = '\0';
		ASSERT_STR_EQ(out, "2023-11-14T22:13:20.123456789Z");
	}
}

int main(void)
{
	RUN(test_escape_table);
	RUN(test_escape_vs_jansson);
	RUN(test_numbers);
	return 0;
}
