/* msg_session.c - the session's own messages: HELLO both ways, ERROR,
 * PING/PONG, ACK, the collector side's RESTART and BYE, and the local
 * ATTACH preamble (attach -> serve). Layouts next to each encoder. */
#include "proto/msg_int.h"

/* HELLO, both ways:
 *
 *   +---+---------+----------+-------+--------+------------+----------+------+
 *   | 0 | 1       | 2        | 3     | 4      | 5          | 6        | 7    |
 *   | 1 | version | software | epoch | caps   | last_epoch | last_seq | host |
 *   |   | u32     | str 1024 | u64   | [str]  | u64        | u64      | str  |
 *   +---+---------+----------+-------+--------+------------+----------+------+
 *   caps: at most DL_MAX_CAPS strings of at most DL_MAX_NAME bytes.
 *   Optional element 8: time_ns (u64, sender's wall clock), sent when
 *   non-zero; an older reader ignores it. */
static void enc_hello(enc_t *e, const dl_hello_t *h)
{
	if (h->ncaps > DL_MAX_CAPS) {
		e->err = DL_EINVAL;
		return;
	}
	put_head(e, DL_MSG_HELLO, h->time_ns ? 9 : 8);
	msgpack_pack_uint32(&e->pk, h->proto_version);
	put_str(e, h->software, DL_MAX_TEXT);
	put_u64(e, h->epoch);
	msgpack_pack_array(&e->pk, h->ncaps);
	for (uint32_t i = 0; i < h->ncaps; i++)
		put_str(e, h->caps[i], DL_MAX_NAME);
	put_u64(e, h->last_epoch);
	put_u64(e, h->last_seq);
	put_str(e, h->host, DL_MAX_NAME);
	if (h->time_ns)
		put_u64(e, h->time_ns);
}

/* ERROR, then the sender closes:
 *
 *   +---+------+----------+
 *   | 0 | 1    | 2        |
 *   | 2 | code | message  |
 *   |   | i32  | str 1024 |
 *   +---+------+----------+ */
static void enc_error(enc_t *e, const dl_error_t *er)
{
	put_head(e, DL_MSG_ERROR, 3);
	msgpack_pack_int32(&e->pk, er->code);
	put_str(e, er->message, DL_MAX_TEXT);
}

/* PING / PONG (the PONG echoes the nonce):
 *
 *   +-------+-------+
 *   | 0     | 1     |
 *   | 3 / 4 | nonce |
 *   |       | u64   |
 *   +-------+-------+ */
static void enc_nonce(enc_t *e, dl_msg_type_t t, uint64_t nonce)
{
	put_head(e, t, 2);
	put_u64(e, nonce);
}

/* ACK, cumulative: everything up to and including (epoch, seq) is
 * committed.
 *
 *   +---+-------+-----+
 *   | 0 | 1     | 2   |
 *   | 5 | epoch | seq |
 *   |   | u64   | u64 |
 *   +---+-------+-----+ */
static void enc_ack(enc_t *e, uint64_t epoch, uint64_t seq)
{
	put_head(e, DL_MSG_ACK, 3);
	put_u64(e, epoch);
	put_u64(e, seq);
}

/* RESTART, collector side -> agent, only to an agent whose HELLO caps hold
 * "resume". Written by attach itself, at a frame boundary, when serve
 * went away and a new serve took the session over: the agent starts the
 * session again (HELLO both ways, outbox resent from the new HELLO's
 * last_seq) on the same SSH channel.
 *
 *   +---+----------+
 *   | 0 | 1        |
 *   | 6 | reason   |
 *   |   | str 1024 |
 *   +---+----------+ */
static void enc_restart(enc_t *e, dl_str_t reason)
{
	put_head(e, DL_MSG_RESTART, 2);
	put_str(e, reason, DL_MAX_TEXT);
}

/* BYE, collector side -> agent, only to an agent whose HELLO caps hold
 * "bye"; the sender closes after it. The agent redials no sooner than
 * retry_after_s (plus jitter), instead of its own backoff.
 *
 *   +---+---------------+----------+
 *   | 0 | 1             | 2        |
 *   | 7 | retry_after_s | reason   |
 *   |   | u32           | str 1024 |
 *   +---+---------------+----------+ */
static void enc_bye(enc_t *e, const dl_bye_t *b)
{
	put_head(e, DL_MSG_BYE, 3);
	msgpack_pack_uint32(&e->pk, b->retry_after_s);
	put_str(e, b->reason, DL_MAX_TEXT);
}

/* ATTACH, local unix socket only (attach -> serve). flags (optional on
 * decode: an older attach sends two elements) bit 1 = DL_ATTACH_RESUME.
 *
 *   +----+------+-------+
 *   | 0  | 1    | 2     |
 *   | 32 | host | flags |
 *   |    | 256  | u32   |
 *   +----+------+-------+ */
static void enc_attach(enc_t *e, dl_str_t host, uint32_t flags)
{
	put_head(e, DL_MSG_ATTACH, 3);
	put_str(e, host, DL_MAX_NAME);
	msgpack_pack_uint32(&e->pk, flags);
}

void dl_msg__enc_session(enc_t *e, const dl_msg_t *m)
{
	switch (m->type) {
	case DL_MSG_HELLO: enc_hello(e, &m->u.hello); break;
	case DL_MSG_ERROR: enc_error(e, &m->u.error); break;
	case DL_MSG_PING:
	case DL_MSG_PONG: enc_nonce(e, m->type, m->u.nonce); break;
	case DL_MSG_ACK: enc_ack(e, m->u.ack.epoch, m->u.ack.seq); break;
	case DL_MSG_RESTART: enc_restart(e, m->u.restart_reason); break;
	case DL_MSG_BYE: enc_bye(e, &m->u.bye); break;
	default: /* DL_MSG_ATTACH */
		enc_attach(e, m->u.attach.host, m->u.attach.flags);
		break;
	}
}

static int dec_hello(const dec_t *d, dl_hello_t *h)
{
	const msgpack_object_array *caps = NULL;
	int rc;

	if ((rc = need(d, 8)) ||
	    (rc = get_u32(d, 1, "proto_version", &h->proto_version)) ||
	    (rc = get_str(d, 2, "software", DL_MAX_TEXT, &h->software)) ||
	    (rc = get_u64(d, 3, "epoch", &h->epoch)) ||
	    (rc = get_arr(d, 4, "caps", DL_MAX_CAPS, &caps)))
		return rc;
	h->ncaps = caps->size;
	for (uint32_t i = 0; i < caps->size; i++) {
		dec_t s = dec_sub(d, &d->el[4], "caps", NO_IDX);

		if ((rc = get_str(&s, i, "cap", DL_MAX_NAME, &h->caps[i])))
			return rc;
	}
	if ((rc = get_u64(d, 5, "last_epoch", &h->last_epoch)) ||
	    (rc = get_u64(d, 6, "last_seq", &h->last_seq)) ||
	    (rc = get_str(d, 7, "host", DL_MAX_NAME, &h->host)))
		return rc;
	h->time_ns = 0;
	if (d->n > 8 && (rc = get_u64(d, 8, "time_ns", &h->time_ns)))
		return rc;
	return 0;
}

static int dec_error(const dec_t *d, dl_error_t *er)
{
	int64_t code = 0;
	int rc;

	if ((rc = need(d, 3)) ||
	    (rc = get_int(d, 1, "code", INT32_MIN, INT32_MAX, &code)) ||
	    (rc = get_str(d, 2, "message", DL_MAX_TEXT, &er->message)))
		return rc;
	er->code = (int32_t)code;
	return 0;
}

int dl_msg__dec_session(const dec_t *d, dl_msg_t *m, uint64_t type)
{
	int rc;

	switch (type) {
	case DL_MSG_HELLO: return dec_hello(d, &m->u.hello);
	case DL_MSG_ERROR: return dec_error(d, &m->u.error);
	case DL_MSG_PING:
	case DL_MSG_PONG:
		if ((rc = need(d, 2)))
			return rc;
		return get_u64(d, 1, "nonce", &m->u.nonce);
	case DL_MSG_ACK:
		if ((rc = need(d, 3)) ||
		    (rc = get_u64(d, 1, "epoch", &m->u.ack.epoch)))
			return rc;
		return get_u64(d, 2, "seq", &m->u.ack.seq);
	case DL_MSG_RESTART:
		if ((rc = need(d, 2)))
			return rc;
		return get_str(d, 1, "reason", DL_MAX_TEXT,
			       &m->u.restart_reason);
	case DL_MSG_BYE:
		if ((rc = need(d, 3)) ||
		    (rc = get_u32(d, 1, "retry_after_s",
				  &m->u.bye.retry_after_s)))
			return rc;
		return get_str(d, 2, "reason", DL_MAX_TEXT, &m->u.bye.reason);
	default: /* DL_MSG_ATTACH */
		if ((rc = need(d, 2)) ||
		    (rc = get_str(d, 1, "host", DL_MAX_NAME,
				  &m->u.attach.host)))
			return rc;
		if (d->n < 3) /* an attach that predates flags */
			return 0;
		return get_u32(d, 2, "flags", &m->u.attach.flags);
	}
}
