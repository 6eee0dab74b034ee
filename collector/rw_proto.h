/* rw_proto.h - Prometheus remote-write 1.0 bodies, encoded by hand.
 *
 * Four messages (prompb WriteRequest, TimeSeries, Label, Sample) are
 * all remote write 1.0 needs; their wire form is written here directly
 * (docs/ARCHITECTURE.md, "Remote write", says why not protobuf-c), then
 * the whole body is snappy-compressed (block format, not framed). Pure:
 * no I/O, no clock, no globals. Every append either writes all its bytes
 * or fails with DL_ETOOBIG and leaves the buffer as it was. */
#ifndef DL_COLLECTOR_RW_PROTO_H
#define DL_COLLECTOR_RW_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Bytes one label field can take at most (tag + length + name + value). */
#define DL_RWP_LABEL_MAX 1024

/* Appends Label{name, value} as TimeSeries field 1 (the bytes that
 * dl_rwp_series takes as its label fields). Callers append a series'
 * labels sorted by name, "__name__" first, as the spec requires. */
int dl_rwp_label(dl_buf_t *b, const char *name, const char *value);

/* Appends one TimeSeries as WriteRequest field 1: the label fields
 * name_lab (the __name__ label) then rest (the others, both already
 * encoded by dl_rwp_label), and one Sample{value, ts_ms}. */
int dl_rwp_series(dl_buf_t *b, const uint8_t *name_lab, size_t name_len,
		  const uint8_t *rest, size_t rest_len, double value,
		  int64_t ts_ms);

/* Snappy (block format) of in into out (reset first). 0, DL_ETOOBIG
 * (out's cap) or DL_EINVAL. */
int dl_rwp_compress(const uint8_t *in, size_t len, dl_buf_t *out);

/* Appends v as a protobuf base-128 varint; exposed for tests. */
int dl_rwp_varint(dl_buf_t *b, uint64_t v);

#endif
