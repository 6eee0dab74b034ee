/* jtext.c - JSON text helpers (jtext.h), shared by history.c and
 * query_text.c. */
#include "collector/jtext.h"

#include <time.h>

#include "common/err.h"
#include "common/utf8.h"

static const char digits2[201] = "0001020304050607080910111213141516171819"
				 "2021222324252627282930313233343536373839"
				 "4041424344454647484950515253545556575859"
				 "6061626364656667686970717273747576777879"
				 "8081828384858687888990919293949596979899";

/* Two digits per division: most values here are 8-12 digits long. */
char *dl_jt_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 20;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;

		v /= 100;
		tmp[--n] = digits2[d + 1];
		tmp[--n] = digits2[d];
	}
	if (v >= 10) {
		tmp[--n] = digits2[v * 2 + 1];
		tmp[--n] = digits2[v * 2];
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(p, tmp + n, (size_t)(20 - n));
	return p + (20 - n);
}

char *dl_jt_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return dl_jt_u64(p, (uint64_t)0 - (uint64_t)v);
	}
	return dl_jt_u64(p, (uint64_t)v);
}

char *dl_jt_fixed(char *p, uint32_t n, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		p[i] = (char)('0' + n % 10);
		n /= 10;
	}
	return p + digits;
}

/* Two decimals are all a percentage or a load needs. k / 100.0 (what the
 * json_t path holds) and the decimal text "k/100.k%100" read back as the
 * same double: both are the double nearest to the exact quotient. */
char *dl_jt_real(char *p, double v)
{
	double r = v * 100.0 + 0.5;
	int64_t k;
	uint64_t a;

	/* NaN and values past 2^53 have no exact two-decimal form */
	if (!(r > -9e15 && r < 9e15))
		return JT_PUT(p, "null");
	k = (int64_t)r;
	if (k < 0)
		*p++ = '-';
	a = k < 0 ? (uint64_t)0 - (uint64_t)k : (uint64_t)k;
	p = dl_jt_u64(p, a / 100);
	*p++ = '.';
	return dl_jt_fixed(p, (uint32_t)(a % 100), 2);
}

char *dl_jt_stamp(char *p, int64_t ns, dl_jt_day_t *dc)
{
	int64_t secs, day;
	uint32_t sod;

	if (ns < 0)
		ns = 0;
	secs = ns / 1000000000;
	day = secs / 86400;
	sod = (uint32_t)(secs % 86400);
	if (day != dc->day) {
		time_t t = (time_t)(day * 86400);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(dc->ymd, sizeof(dc->ymd), "%Y-%m-%dT", &tm);
		dc->day = day;
	}
	for (const char *s = dc->ymd; *s; s++)
		*p++ = *s;
	p = dl_jt_fixed(p, sod / 3600, 2);
	*p++ = ':';
	p = dl_jt_fixed(p, sod / 60 % 60, 2);
	*p++ = ':';
	p = dl_jt_fixed(p, sod % 60, 2);
	*p++ = '.';
	p = dl_jt_fixed(p, (uint32_t)(ns % 1000000000), 9);
	*p++ = 'Z';
	return p;
}

char *dl_jt_str(char *p, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	*p++ = '"';
	while (s && i < n) {
		unsigned c = u[i];
		size_t k;

		/* printable ASCII (DEL too, as jansson) */
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			*p++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0x80) {
			k = dl_utf8_seq(u + i, n - i);
			if (k) {
				memcpy(p, u + i, k);
				p += k;
				i += k;
			} else {
				p = JT_PUT(p, "\xef\xbf\xbd");
				i++;
			}
			continue;
		}
		*p++ = '\\';
		switch (c) {
		case '"': *p++ = '"'; break;
		case '\\': *p++ = '\\'; break;
		case '\b': *p++ = 'b'; break;
		case '\f': *p++ = 'f'; break;
		case '\n': *p++ = 'n'; break;
		case '\r': *p++ = 'r'; break;
		case '\t': *p++ = 't'; break;
		default:
			p = JT_PUT(p, "u00");
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
		i++;
	}
	*p++ = '"';
	return p;
}

int dl_jt_buf_str(dl_buf_t *out, const char *s, size_t n)
{
	char *p = (char *)dl_buf_reserve(out, dl_jt_str_max(n));

	if (!p)
		return DL_ETOOBIG;
	dl_buf_commit(out, (size_t)(dl_jt_str(p, s, n) - p));
	return 0;
}
