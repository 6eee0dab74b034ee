/* msg_control.c - control messages: REQUEST, RESPONSE, STREAM, END,
 * CANCEL and CREDIT. Never in the outbox, never replayed; what the ops
 * mean is proto/control.c's. */
#include "proto/msg_int.h"

/* REQUEST, collector -> agent:
 *
 *   +----+-----+------------+-------+----------------+
 *   | 0  | 1   | 2          | 3     | 4              |
 *   | 48 | id  | timeout_ms | op    | args           |
 *   |    | u32 | u32        | str32 | str 64K (JSON) |
 *   +----+-----+------------+-------+----------------+ */
static void enc_request(enc_t *e, const dl_request_t *r)
{
	put_head(e, DL_MSG_REQUEST, 5);
	msgpack_pack_uint32(&e->pk, r->id);
	msgpack_pack_uint32(&e->pk, r->timeout_ms);
	put_str(e, r->op, DL_MAX_OP);
	put_str(e, r->args, DL_MAX_ARGS);
}

/* RESPONSE, agent -> collector; ends the request:
 *
 *   +----+-----+--------+--------------------------------+
 *   | 0  | 1   | 2      | 3                              |
 *   | 49 | id  | status | body                           |
 *   |    | u32 | i32    | str: JSON if status 0, else    |
 *   |    |     |        | a sentence                     |
 *   +----+-----+--------+--------------------------------+ */
static void enc_response(enc_t *e, const dl_response_t *r)
{
	put_head(e, DL_MSG_RESPONSE, 4);
	msgpack_pack_uint32(&e->pk, r->id);
	msgpack_pack_int32(&e->pk, r->status);
	put_str(e, r->body, DL_MAX_BODY);
}

/* STREAM, agent -> collector: output of logs or exec, in order:
 *
 *   +----+-----+----------+---------+
 *   | 0  | 1   | 2        | 3       |
 *   | 50 | id  | fd       | data    |
 *   |    | u32 | u8 (1|2) | bin 64K |
 *   +----+-----+----------+---------+ */
static void enc_stream(enc_t *e, const dl_chunk_t *c)
{
	if (c->data.n > DL_MAX_CHUNK || (c->fd != 1 && c->fd != 2) ||
	    (c->data.n > 0 && !c->data.p)) {
		e->err = DL_EINVAL;
		return;
	}
	put_head(e, DL_MSG_STREAM, 4);
	msgpack_pack_uint32(&e->pk, c->id);
	msgpack_pack_uint32(&e->pk, c->fd);
	msgpack_pack_bin(&e->pk, c->data.n);
	msgpack_pack_bin_body(&e->pk, c->data.p ? c->data.p : "", c->data.n);
}

/* END, agent -> collector; ends a streamed request:
 *
 *   +----+-----+--------+-----------+----------+
 *   | 0  | 1   | 2      | 3         | 4        |
 *   | 51 | id  | status | exit_code | message  |
 *   |    | u32 | i32    | i32       | str 1024 |
 *   +----+-----+--------+-----------+----------+ */
static void enc_end(enc_t *e, const dl_end_t *en)
{
	put_head(e, DL_MSG_END, 5);
	msgpack_pack_uint32(&e->pk, en->id);
	msgpack_pack_int32(&e->pk, en->status);
	msgpack_pack_int32(&e->pk, en->exit_code);
	put_str(e, en->message, DL_MAX_TEXT);
}

/* CANCEL [52, id] and CREDIT [53, id, bytes], collector -> agent. A
 * stream may run DL_CONTROL_WINDOW bytes ahead of its credits. */
static void enc_credit(enc_t *e, dl_msg_type_t t, const dl_credit_t *c)
{
	put_head(e, t, t == DL_MSG_CREDIT ? 3 : 2);
	msgpack_pack_uint32(&e->pk, c->id);
	if (t == DL_MSG_CREDIT)
		msgpack_pack_uint32(&e->pk, c->bytes);
}

void dl_msg__enc_control(enc_t *e, const dl_msg_t *m)
{
	switch (m->type) {
	case DL_MSG_REQUEST: enc_request(e, &m->u.request); break;
	case DL_MSG_RESPONSE: enc_response(e, &m->u.response); break;
	case DL_MSG_STREAM: enc_stream(e, &m->u.stream); break;
	case DL_MSG_END: enc_end(e, &m->u.end); break;
	default: /* DL_MSG_CANCEL, DL_MSG_CREDIT */
		enc_credit(e, m->type, &m->u.credit);
		break;
	}
}

static int get_bin(const dec_t *d, uint32_t i, const char *name, uint32_t max,
		   dl_str_t *out)
{
	const msgpack_object *o = &d->el[i];

	if (o->type != MSGPACK_OBJECT_BIN)
		return dfail(d, i, name, "is not binary");
	if (o->via.bin.size > max)
		return dfail(d, i, name, "is longer than %u bytes", max);
	out->n = o->via.bin.size;
	out->p = out->n ? o->via.bin.ptr : "";
	return 0;
}

static int get_i32(const dec_t *d, uint32_t i, const char *name, int32_t *out)
{
	int64_t v = 0;
	int rc = get_int(d, i, name, INT32_MIN, INT32_MAX, &v);

	if (rc == 0)
		*out = (int32_t)v;
	return rc;
}

int dl_msg__dec_control(const dec_t *d, dl_msg_t *m, uint64_t type)
{
	dl_request_t *r = &m->u.request;
	dl_response_t *re = &m->u.response;
	dl_chunk_t *c = &m->u.stream;
	dl_end_t *en = &m->u.end;
	int rc;

	switch (type) {
	case DL_MSG_REQUEST:
		if ((rc = need(d, 5)) || (rc = get_u32(d, 1, "id", &r->id)) ||
		    (rc = get_u32(d, 2, "timeout_ms", &r->timeout_ms)) ||
		    (rc = get_str(d, 3, "op", DL_MAX_OP, &r->op)))
			return rc;
		return get_str(d, 4, "args", DL_MAX_ARGS, &r->args);
	case DL_MSG_RESPONSE:
		if ((rc = need(d, 4)) || (rc = get_u32(d, 1, "id", &re->id)) ||
		    (rc = get_i32(d, 2, "status", &re->status)))
			return rc;
		return get_str(d, 3, "body", DL_MAX_BODY, &re->body);
	case DL_MSG_STREAM:
		if ((rc = need(d, 4)) || (rc = get_u32(d, 1, "id", &c->id)) ||
		    (rc = get_u32(d, 2, "fd", &c->fd)))
			return rc;
		if (c->fd != 1 && c->fd != 2)
			return dfail(d, 2, "fd", "is not 1 or 2");
		return get_bin(d, 3, "data", DL_MAX_CHUNK, &c->data);
	case DL_MSG_END:
		if ((rc = need(d, 5)) || (rc = get_u32(d, 1, "id", &en->id)) ||
		    (rc = get_i32(d, 2, "status", &en->status)) ||
		    (rc = get_i32(d, 3, "exit_code", &en->exit_code)))
			return rc;
		return get_str(d, 4, "message", DL_MAX_TEXT, &en->message);
	case DL_MSG_CANCEL:
		if ((rc = need(d, 2)))
			return rc;
		return get_u32(d, 1, "id", &m->u.credit.id);
	default: /* DL_MSG_CREDIT */
		if ((rc = need(d, 3)) ||
		    (rc = get_u32(d, 1, "id", &m->u.credit.id)))
			return rc;
		return get_u32(d, 2, "bytes", &m->u.credit.bytes);
	}
}
