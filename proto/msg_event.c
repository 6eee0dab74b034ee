/* msg_event.c - what happened on the host besides its containers' list:
 * EVENT (one Docker event), DOCKER (the Engine up or down) and DROPPED
 * (what the agent's outbox threw away). */
#include "proto/msg_int.h"

/* EVENT: one Docker event, attributes as [key, value] pairs.
 *
 *   +----+-------+-----+---------+------+--------+-----+------+---------------+
 *   | 0  | 1     | 2   | 3       | 4    | 5      | 6   | 7    | 8             |
 *   | 18 | epoch | seq | time_ns | type | action | id  | name | [[key, val]..]|
 *   |    |       |     |         | 256  | 1024   | 128 | 256  | 256, 1024     |
 *   +----+-------+-----+---------+------+--------+-----+------+---------------+
 *   at most DL_MAX_ATTRS pairs. */
static void enc_event(enc_t *e, const dl_msg_t *m)
{
	const dl_event_t *ev = &m->u.event;

	if (ev->nattrs > DL_MAX_ATTRS || (ev->nattrs > 0 && !ev->attrs)) {
		e->err = DL_EINVAL;
		return;
	}
	put_data_head(e, m, 9);
	put_str(e, ev->type, DL_MAX_NAME);
	put_str(e, ev->action, DL_MAX_TEXT);
	put_str(e, ev->id, DL_MAX_ID);
	put_str(e, ev->name, DL_MAX_NAME);
	msgpack_pack_array(&e->pk, ev->nattrs);
	for (uint32_t i = 0; i < ev->nattrs && !e->err; i++) {
		msgpack_pack_array(&e->pk, 2);
		put_str(e, ev->attrs[i].key, DL_MAX_NAME);
		put_str(e, ev->attrs[i].value, DL_MAX_TEXT);
	}
}

/* DOCKER: the Engine went up (with its identity) or down (with a reason).
 *
 *   +----+-----+-----+------+----+---------+-------------+----+--------+
 *   | 0  | 1-3 |     |      | 4  | 5       | 6           | 7  | 8      |
 *   | 19 | epoch, seq, time | up | version | api_version | os | kernel |
 *   |    |                  |bool| 1024    | 1024        |1024| 1024   |
 *   +----+------------------+----+---------+-------------+----+--------+
 *   +------+-----------+--------+
 *   | 9    | 10        | 11     |
 *   | ncpu | mem_total | reason |
 *   | u32  | u64       | 1024   |
 *   +------+-----------+--------+ */
static void enc_docker(enc_t *e, const dl_msg_t *m)
{
	const dl_dockerinfo_t *d = &m->u.docker;

	put_data_head(e, m, 12);
	put_bool(e, d->up);
	put_str(e, d->version, DL_MAX_TEXT);
	put_str(e, d->api_version, DL_MAX_TEXT);
	put_str(e, d->os, DL_MAX_TEXT);
	put_str(e, d->kernel, DL_MAX_TEXT);
	msgpack_pack_uint32(&e->pk, d->ncpu);
	put_u64(e, d->mem_total);
	put_str(e, d->reason, DL_MAX_TEXT);
}

/* DROPPED: what the agent's outbox had to throw away since the last one.
 *
 *   +----+-------+-----+---------+--------+-------+
 *   | 0  | 1     | 2   | 3       | 4      | 5     |
 *   | 20 | epoch | seq | time_ns | frames | bytes |
 *   |    |       |     |         | u64    | u64   |
 *   +----+-------+-----+---------+--------+-------+ */
static void enc_dropped(enc_t *e, const dl_msg_t *m)
{
	put_data_head(e, m, 6);
	put_u64(e, m->u.dropped.frames);
	put_u64(e, m->u.dropped.bytes);
}

void dl_msg__enc_event(enc_t *e, const dl_msg_t *m)
{
	switch (m->type) {
	case DL_MSG_EVENT: enc_event(e, m); break;
	case DL_MSG_DOCKER: enc_docker(e, m); break;
	default: /* DL_MSG_DROPPED */ enc_dropped(e, m); break;
	}
}

static int dec_attrs(const dec_t *d, uint32_t i, dl_event_t *ev)
{
	const msgpack_object_array *a = NULL;
	int rc;

	if ((rc = get_arr(d, i, "attrs", DL_MAX_ATTRS, &a)))
		return rc;
	ev->nattrs = a->size;
	if (a->size == 0)
		return 0;
	ev->attrs = zalloc(d, a->size * sizeof(dl_attr_t));
	if (!ev->attrs)
		return DL_ENOMEM;
	for (uint32_t k = 0; k < a->size; k++) {
		dec_t s;

		if (a->ptr[k].type != MSGPACK_OBJECT_ARRAY) {
			s = dec_sub(d, &d->el[i], "attrs", NO_IDX);
			return dfail(&s, k, "attr", "is not an array");
		}
		s = dec_sub(d, &a->ptr[k], "attr", k);
		if ((rc = need(&s, 2)) ||
		    (rc = get_str(&s, 0, "key", DL_MAX_NAME,
				  &ev->attrs[k].key)) ||
		    (rc = get_str(&s, 1, "value", DL_MAX_TEXT,
				  &ev->attrs[k].value)))
			return rc;
	}
	return 0;
}

static int dec_event(const dec_t *d, dl_msg_t *m)
{
	dl_event_t *ev = &m->u.event;
	int rc;

	if ((rc = dec_data_head(d, m, 9)) ||
	    (rc = get_str(d, 4, "type", DL_MAX_NAME, &ev->type)) ||
	    (rc = get_str(d, 5, "action", DL_MAX_TEXT, &ev->action)) ||
	    (rc = get_str(d, 6, "id", DL_MAX_ID, &ev->id)) ||
	    (rc = get_str(d, 7, "name", DL_MAX_NAME, &ev->name)) ||
	    (rc = dec_attrs(d, 8, ev)))
		return rc;
	return 0;
}

static int dec_docker(const dec_t *d, dl_msg_t *m)
{
	dl_dockerinfo_t *k = &m->u.docker;
	int rc;

	if ((rc = dec_data_head(d, m, 12)) ||
	    (rc = get_bool(d, 4, "up", &k->up)) ||
	    (rc = get_str(d, 5, "version", DL_MAX_TEXT, &k->version)) ||
	    (rc = get_str(d, 6, "api_version", DL_MAX_TEXT, &k->api_version)) ||
	    (rc = get_str(d, 7, "os", DL_MAX_TEXT, &k->os)) ||
	    (rc = get_str(d, 8, "kernel", DL_MAX_TEXT, &k->kernel)) ||
	    (rc = get_u32(d, 9, "ncpu", &k->ncpu)) ||
	    (rc = get_u64(d, 10, "mem_total", &k->mem_total)) ||
	    (rc = get_str(d, 11, "reason", DL_MAX_TEXT, &k->reason)))
		return rc;
	return 0;
}

int dl_msg__dec_event(const dec_t *d, dl_msg_t *m, uint64_t type)
{
	int rc;

	switch (type) {
	case DL_MSG_EVENT: return dec_event(d, m);
	case DL_MSG_DOCKER: return dec_docker(d, m);
	default: /* DL_MSG_DROPPED */
		if ((rc = dec_data_head(d, m, 6)) ||
		    (rc = get_u64(d, 4, "frames", &m->u.dropped.frames)))
			return rc;
		return get_u64(d, 5, "bytes", &m->u.dropped.bytes);
	}
}
