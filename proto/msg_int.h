/* msg_int.h - what the message files (msg.c, msg_*.c) share: the
 * encoder's and decoder's cursors, their element helpers (static inline:
 * every file gets its own copy, so nothing on the hot path becomes a call
 * across files) and each message family's encode/decode entry, called by
 * the dispatch in msg.c (dl_msg__*). Private to proto/msg*.c. */
#ifndef DL_PROTO_MSG_INT_H
#define DL_PROTO_MSG_INT_H

#include <stdarg.h>
#include <stdio.h>

#include "common/err.h"
#include "proto/frame.h"
#include "proto/msg.h"

/* ------------------------------------------------------------------ */
/* Encoding                                                            */

typedef struct {
	msgpack_packer pk;
	dl_buf_t *b;
	size_t start; /* unread bytes in b before this frame */
	int err;      /* first error; later writes are dropped */
} enc_t;

static inline void put_str(enc_t *e, dl_str_t s, uint32_t max)
{
	if (e->err)
		return;
	if (s.n > max || (s.n > 0 && !s.p)) {
		e->err = DL_EINVAL;
		return;
	}
	msgpack_pack_str(&e->pk, s.n);
	msgpack_pack_str_body(&e->pk, s.p ? s.p : "", s.n);
}

static inline void put_u64(enc_t *e, uint64_t v)
{
	msgpack_pack_uint64(&e->pk, v);
}

static inline void put_bool(enc_t *e, bool v)
{
	if (v)
		msgpack_pack_true(&e->pk);
	else
		msgpack_pack_false(&e->pk);
}

/* Opens the payload array: [type, ...] with n elements in all. */
static inline void put_head(enc_t *e, dl_msg_type_t t, size_t n)
{
	msgpack_pack_array(&e->pk, n);
	msgpack_pack_uint32(&e->pk, (uint32_t)t);
}

/* Data frames share their first four elements:
 *
 *   +------+-------+-----+---------+------------------------+
 *   | 0    | 1     | 2   | 3       | 4 ...                  |
 *   | type | epoch | seq | time_ns | message fields         |
 *   | int  | u64   | u64 | u64     |                        |
 *   +------+-------+-----+---------+------------------------+ */
static inline void put_data_head(enc_t *e, const dl_msg_t *m, size_t n)
{
	put_head(e, m->type, n);
	put_u64(e, m->epoch);
	put_u64(e, m->seq);
	put_u64(e, m->time_ns);
}

/* ------------------------------------------------------------------ */
/* Decoding                                                            */

typedef struct {
	const char *what; /* "EVENT" */
	const char *sub;  /* "container", "attr" or NULL at top level */
	uint32_t subi;	  /* index of the nested thing */
	const msgpack_object *el;
	uint32_t n;
	msgpack_zone *z;
	char *why;
	size_t whylen;
} dec_t;

static inline int dfail(const dec_t *d, uint32_t i, const char *name,
			const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define NO_IDX UINT32_MAX

/* Where in the message we are: "EVENT", "INVENTORY: container 3",
 * "HELLO: caps". */
static inline void where(const dec_t *d, char *out, size_t outlen)
{
	if (!d->sub)
		snprintf(out, outlen, "%s:", d->what);
	else if (d->subi == NO_IDX)
		snprintf(out, outlen, "%s: %s", d->what, d->sub);
	else
		snprintf(out, outlen, "%s: %s %u", d->what, d->sub, d->subi);
}

/* "EVENT: element 5 (action) is not a string", or inside a nested array
 * "INVENTORY: container 3 element 2 (name) is not a string". */
static inline int dfail(const dec_t *d, uint32_t i, const char *name,
			const char *fmt, ...)
{
	char at[64], tail[96];
	va_list ap;

	if (!d->why || d->whylen == 0)
		return DL_EPROTO;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	where(d, at, sizeof(at));
	snprintf(d->why, d->whylen, "%s element %u (%s) %s", at, i, name, tail);
	return DL_EPROTO;
}

static inline int need(const dec_t *d, uint32_t n)
{
	char at[64];

	if (d->n >= n)
		return 0;
	if (d->why && d->whylen) {
		where(d, at, sizeof(at));
		snprintf(d->why, d->whylen,
			 "%s%s has %u elements, expected at least %u", at,
			 d->sub ? "" : " array", d->n, n);
	}
	return DL_EPROTO;
}

static inline int get_uint(const dec_t *d, uint32_t i, const char *name,
			   uint64_t max, uint64_t *out)
{
	const msgpack_object *o = &d->el[i];

	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return dfail(d, i, name, "is not a non-negative integer");
	if (o->via.u64 > max)
		return dfail(d, i, name, "is out of range");
	*out = o->via.u64;
	return 0;
}

static inline int get_u64(const dec_t *d, uint32_t i, const char *name,
			  uint64_t *out)
{
	return get_uint(d, i, name, UINT64_MAX, out);
}

static inline int get_u32(const dec_t *d, uint32_t i, const char *name,
			  uint32_t *out)
{
	uint64_t v = 0;
	int rc = get_uint(d, i, name, UINT32_MAX, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

static inline int get_int(const dec_t *d, uint32_t i, const char *name,
			  int64_t min, int64_t max, int64_t *out)
{
	const msgpack_object *o = &d->el[i];

	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > (uint64_t)max)
			return dfail(d, i, name, "is out of range");
		*out = (int64_t)o->via.u64;
	} else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		if (o->via.i64 < min)
			return dfail(d, i, name, "is out of range");
		*out = o->via.i64;
	} else {
		return dfail(d, i, name, "is not an integer");
	}
	return 0;
}

static inline int get_bool(const dec_t *d, uint32_t i, const char *name,
			   bool *out)
{
	if (d->el[i].type != MSGPACK_OBJECT_BOOLEAN)
		return dfail(d, i, name, "is not a boolean");
	*out = d->el[i].via.boolean;
	return 0;
}

static inline int get_str(const dec_t *d, uint32_t i, const char *name,
			  uint32_t max, dl_str_t *out)
{
	const msgpack_object *o = &d->el[i];

	if (o->type != MSGPACK_OBJECT_STR)
		return dfail(d, i, name, "is not a string");
	if (o->via.str.size > max)
		return dfail(d, i, name, "is longer than %u bytes", max);
	out->n = o->via.str.size;
	out->p = out->n ? o->via.str.ptr : "";
	return 0;
}

/* Element i as a nested array of at most max elements. */
static inline int get_arr(const dec_t *d, uint32_t i, const char *name,
			  uint32_t max, const msgpack_object_array **out)
{
	const msgpack_object *o = &d->el[i];

	if (o->type != MSGPACK_OBJECT_ARRAY)
		return dfail(d, i, name, "is not an array");
	if (o->via.array.size > max)
		return dfail(d, i, name, "has more than %u entries", max);
	*out = &o->via.array;
	return 0;
}

/* A dec_t over a nested array, errors prefixed "<sub> <subi>". */
static inline dec_t dec_sub(const dec_t *d, const msgpack_object *o,
			    const char *sub, uint32_t subi)
{
	dec_t s = *d;

	s.sub = sub;
	s.subi = subi;
	s.el = o->via.array.ptr;
	s.n = o->via.array.size;
	return s;
}

static inline int dec_data_head(const dec_t *d, dl_msg_t *m, uint32_t n)
{
	int rc;

	if ((rc = need(d, n)) || (rc = get_u64(d, 1, "epoch", &m->epoch)) ||
	    (rc = get_u64(d, 2, "seq", &m->seq)) ||
	    (rc = get_u64(d, 3, "time_ns", &m->time_ns)))
		return rc;
	return 0;
}

static inline void *zalloc(const dec_t *d, size_t size)
{
	return msgpack_zone_malloc(d->z, size);
}

/* ------------------------------------------------------------------ */
/* Message families                                                    */

/* Each encodes m (m->type one of the family's) into e, errors in e->err;
 * each decodes the top-level array d as message type into m. */

/* msg_session.c: HELLO, ERROR, PING, PONG, ACK, RESTART, BYE, ATTACH. */
void dl_msg__enc_session(enc_t *e, const dl_msg_t *m);
int dl_msg__dec_session(const dec_t *d, dl_msg_t *m, uint64_t type);

/* msg_inventory.c: INVENTORY (whole or in parts) and CONTAINER. */
void dl_msg__enc_inventory(enc_t *e, const dl_msg_t *m);
int dl_msg__dec_inventory(const dec_t *d, dl_msg_t *m, uint64_t type);

/* msg_event.c: EVENT, DOCKER and DROPPED. */
void dl_msg__enc_event(enc_t *e, const dl_msg_t *m);
int dl_msg__dec_event(const dec_t *d, dl_msg_t *m, uint64_t type);

/* msg_stats.c: STATS and HOSTSTATS. */
void dl_msg__enc_stats(enc_t *e, const dl_msg_t *m);
int dl_msg__dec_stats(const dec_t *d, dl_msg_t *m, uint64_t type);

/* msg_control.c: REQUEST, RESPONSE, STREAM, END, CANCEL, CREDIT. */
void dl_msg__enc_control(enc_t *e, const dl_msg_t *m);
int dl_msg__dec_control(const dec_t *d, dl_msg_t *m, uint64_t type);

#endif
