/* rw_proto.c - remote-write 1.0 protobuf, written by hand.
 *
 *   WriteRequest  { repeated TimeSeries timeseries = 1; }
 *   TimeSeries    { repeated Label labels = 1; repeated Sample samples = 2; }
 *   Label         { string name = 1; string value = 2; }
 *   Sample        { double value = 1; int64 timestamp = 2; }
 *
 * On the wire (one byte tags: field << 3 | wire type):
 *
 *   WriteRequest:  0x0a len TimeSeries  0x0a len TimeSeries ...
 *   TimeSeries:    0x0a len Label ... 0x12 len Sample
 *   Label:         0x0a len name  0x12 len value
 *   Sample:        0x09 <8 bytes LE double>  0x10 varint(ts_ms)
 *
 * Labels of one container are encoded once and copied into each of its
 * series, so a series costs a few memcpy and two varints. */
#include "collector/rw_proto.h"

#include <string.h>

#include <snappy-c.h>

#include "common/err.h"

#define TAG_LD(f)   ((uint8_t)((f) << 3 | 2)) /* length-delimited */
#define TAG_I64(f)  ((uint8_t)((f) << 3 | 1)) /* fixed 64 bits */
#define TAG_VAR(f)  ((uint8_t)((f) << 3 | 0)) /* varint */
#define VARINT_MAX  10
#define SAMPLE_SIZE (1 + 8 + 1 + VARINT_MAX)

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

int dl_rwp_varint(dl_buf_t *b, uint64_t v)
{
	uint8_t tmp[VARINT_MAX];

	return dl_buf_append(b, tmp, put_varint(tmp, v));
}

int dl_rwp_label(dl_buf_t *b, const char *name, const char *value)
{
	uint8_t tmp[DL_RWP_LABEL_MAX], *p = tmp;
	size_t nl = strlen(name), vl = strlen(value), inner;

	if (nl + vl + 2 * (1 + VARINT_MAX) + 1 + VARINT_MAX > sizeof(tmp))
		return DL_ETOOBIG;
	inner = 1 + (nl < 0x80 ? 1 : 2) + nl + 1 + (vl < 0x80 ? 1 : 2) + vl;
	*p++ = TAG_LD(1);
	p += put_varint(p, inner);
	*p++ = TAG_LD(1);
	p += put_varint(p, nl);
	memcpy(p, name, nl);
	p += nl;
	*p++ = TAG_LD(2);
	p += put_varint(p, vl);
	memcpy(p, value, vl);
	p += vl;
	return dl_buf_append(b, tmp, (size_t)(p - tmp));
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

int dl_rwp_series(dl_buf_t *b, const uint8_t *name_lab, size_t name_len,
		  const uint8_t *rest, size_t rest_len, double value,
		  int64_t ts_ms)
{
	uint8_t sample[SAMPLE_SIZE], *p = sample, *w;
	size_t slen, ts_len, total;
	uint64_t bits;

	*p++ = TAG_I64(1);
	memcpy(&bits, &value, 8);
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(bits >> (8 * i)); /* little-endian */
	*p++ = TAG_VAR(2);
	p += put_varint(p, (uint64_t)ts_ms); /* int64: two's complement */
	slen = (size_t)(p - sample);
	ts_len = name_len + rest_len + 1 + 1 + slen; /* slen < 0x80 */
	total = 1 + varint_len(ts_len) + ts_len;
	if (!(w = dl_buf_reserve(b, total)))
		return DL_ETOOBIG;
	p = w;
	*p++ = TAG_LD(1);
	p += put_varint(p, ts_len);
	memcpy(p, name_lab, name_len);
	p += name_len;
	if (rest_len)
		memcpy(p, rest, rest_len);
	p += rest_len;
	*p++ = TAG_LD(2);
	*p++ = (uint8_t)slen;
	memcpy(p, sample, slen);
	dl_buf_commit(b, total);
	return 0;
}

int dl_rwp_compress(const uint8_t *in, size_t len, dl_buf_t *out)
{
	size_t max = snappy_max_compressed_length(len), got = max;
	uint8_t *w;

	dl_buf_reset(out);
	if (!(w = dl_buf_reserve(out, max)))
		return DL_ETOOBIG;
	if (snappy_compress((const char *)in, len, (char *)w, &got) !=
	    SNAPPY_OK)
		return DL_EINVAL;
	dl_buf_commit(out, got);
	return 0;
}
