/* msg.c - dockline protocol messages: msgpack encode and strict decode.
 *
 * Every payload is one msgpack array, element 0 the message type, the
 * rest positional (layouts drawn next to each encoder below and in
 * PROTOCOL.md). Decoding must never trust a count or length from the wire
 * beyond the bytes of the frame: a cheap header walk (prescan) bounds every
 * array/map/str size by what is left of the payload before msgpack-c,
 * which reserves memory for a declared array size up front, sees it. */
#include "proto/msg.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/err.h"
#include "proto/frame.h"

/* ------------------------------------------------------------------ */
/* Names and borrowed strings                                          */

const char *dl_msg_type_name(dl_msg_type_t t)
{
	switch (t) {
	case DL_MSG_HELLO: return "HELLO";
	case DL_MSG_ERROR: return "ERROR";
	case DL_MSG_PING: return "PING";
	case DL_MSG_PONG: return "PONG";
	case DL_MSG_ACK: return "ACK";
	case DL_MSG_RESTART: return "RESTART";
	case DL_MSG_BYE: return "BYE";
	case DL_MSG_INVENTORY: return "INVENTORY";
	case DL_MSG_CONTAINER: return "CONTAINER";
	case DL_MSG_EVENT: return "EVENT";
	case DL_MSG_DOCKER: return "DOCKER";
	case DL_MSG_DROPPED: return "DROPPED";
	case DL_MSG_STATS: return "STATS";
	case DL_MSG_HOSTSTATS: return "HOSTSTATS";
	case DL_MSG_ATTACH: return "ATTACH";
	case DL_MSG_REQUEST: return "REQUEST";
	case DL_MSG_RESPONSE: return "RESPONSE";
	case DL_MSG_STREAM: return "STREAM";
	case DL_MSG_END: return "END";
	case DL_MSG_CANCEL: return "CANCEL";
	case DL_MSG_CREDIT: return "CREDIT";
	}
	return "UNKNOWN";
}

void dl_str_copy(char *out, size_t outlen, dl_str_t s)
{
	size_t n = s.n;

	if (!out || outlen == 0)
		return;
	if (!s.p)
		n = 0;
	if (n > outlen - 1)
		n = outlen - 1;
	if (n)
		memcpy(out, s.p, n);
	out[n] = '\0';
}

bool dl_str_eq(dl_str_t s, const char *c)
{
	size_t n;

	if (!c)
		return false;
	n = strlen(c);
	if (n != s.n)
		return false;
	return n == 0 || memcmp(s.p, c, n) == 0;
}

/* ------------------------------------------------------------------ */
/* Encoding                                                            */

typedef struct {
	msgpack_packer pk;
	dl_buf_t *b;
	size_t start; /* unread bytes in b before this frame */
	int err;      /* first error; later writes are dropped */
} enc_t;

/* msgpack_packer write callback: appends to the frame's buffer, stops the
 * moment the payload would pass DL_FRAME_MAX so a huge message never
 * grows the buffer first and fails afterwards. */
static int enc_write(void *data, const char *p, size_t n)
{
	enc_t *e = data;
	size_t payload = dl_buf_used(e->b) - e->start - DL_FRAME_HDR;

	if (e->err)
		return -1;
	if (n > DL_FRAME_MAX || payload > DL_FRAME_MAX - n) {
		e->err = DL_ETOOBIG;
		return -1;
	}
	if (dl_buf_append(e->b, p, n) != 0) {
		e->err = DL_ETOOBIG;
		return -1;
	}
	return 0;
}

static void put_str(enc_t *e, dl_str_t s, uint32_t max)
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

static void put_u64(enc_t *e, uint64_t v)
{
	msgpack_pack_uint64(&e->pk, v);
}

static void put_bool(enc_t *e, bool v)
{
	if (v)
		msgpack_pack_true(&e->pk);
	else
		msgpack_pack_false(&e->pk);
}

/* Opens the payload array: [type, ...] with n elements in all. */
static void put_head(enc_t *e, dl_msg_type_t t, size_t n)
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
static void put_data_head(enc_t *e, const dl_msg_t *m, size_t n)
{
	put_head(e, m->type, n);
	put_u64(e, m->epoch);
	put_u64(e, m->seq);
	put_u64(e, m->time_ns);
}

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

/* One container, nested in INVENTORY and CONTAINER:
 *
 *   +-----+-----+------+-------+-------+--------+--------+---------+
 *   | 0   | 1   | 2    | 3     | 4     | 5      | 6      | 7       |
 *   | idx | id  | name | image | state | status | health | created |
 *   | u32 | 128 | 256  | 1024  | 256   | 1024   | 256    | i64     |
 *   +-----+-----+------+-------+-------+--------+--------+---------+
 *
 * then, only when the agent inspected the container (d.has), all of:
 *
 *   +------------+-------------+-----------+------------+------------+
 *   | 8          | 9           | 10        | 11         | 12         |
 *   | started_at | finished_at | exit_code | oom_killed | restarting |
 *   | u64 ns     | u64 ns      | i32       | bool       | bool       |
 *   +------------+-------------+-----------+------------+------------+
 *   +---------------+---------------+---------------+
 *   | 13            | 14            | 15            |
 *   | restart_count | health_streak | health_output |
 *   | u32           | u32           | str 256       |
 *   +---------------+---------------+---------------+
 *
 * then, with the inspect group only, the labels (docker run --label):
 *
 *   +----------------------------+----------------+
 *   | 16                         | 17             |
 *   | labels [[key, value]...]   | labels_dropped |
 *   | <= 64 x (str 128, str 512) | u32            |
 *   +----------------------------+----------------+
 *
 * at most DL_MAX_LABEL_TOTAL bytes of keys and values; labels_dropped
 * says how many the sender left out for these bounds. A reader drops
 * (and counts) what breaks them instead of failing the frame.
 *
 * An older reader ignores 8..17 (or 16..17); an older writer sends 8 or
 * 16 elements, which leaves the labels unknown (labels.has = false). */
static void enc_labels(enc_t *e, const dl_labels_t *l)
{
	uint32_t n = 0, total = 0, dropped = l->dropped;

	for (uint32_t i = 0; i < l->n; i++)
		if (dl_label_fits(n, &total, l->v[i].key.n, l->v[i].value.n))
			n++;
	dropped += l->n - n;
	msgpack_pack_array(&e->pk, n);
	total = 0;
	for (uint32_t i = 0, k = 0; i < l->n && k < n; i++) {
		if (!dl_label_fits(k, &total, l->v[i].key.n, l->v[i].value.n))
			continue;
		msgpack_pack_array(&e->pk, 2);
		put_str(e, l->v[i].key, DL_MAX_LABEL_KEY);
		put_str(e, l->v[i].value, DL_MAX_LABEL_VALUE);
		k++;
	}
	msgpack_pack_uint32(&e->pk, dropped);
}

static void enc_container(enc_t *e, const dl_container_t *c)
{
	msgpack_pack_array(&e->pk, !c->d.has ? 8 : c->labels.has ? 18 : 16);
	msgpack_pack_uint32(&e->pk, c->idx);
	put_str(e, c->id, DL_MAX_ID);
	put_str(e, c->name, DL_MAX_NAME);
	put_str(e, c->image, DL_MAX_TEXT);
	put_str(e, c->state, DL_MAX_NAME);
	put_str(e, c->status, DL_MAX_TEXT);
	put_str(e, c->health, DL_MAX_NAME);
	msgpack_pack_int64(&e->pk, c->created);
	if (!c->d.has)
		return;
	put_u64(e, c->d.started_at);
	put_u64(e, c->d.finished_at);
	msgpack_pack_int32(&e->pk, c->d.exit_code);
	put_bool(e, c->d.oom_killed);
	put_bool(e, c->d.restarting);
	msgpack_pack_uint32(&e->pk, c->d.restart_count);
	msgpack_pack_uint32(&e->pk, c->d.health_streak);
	put_str(e, c->d.health_output, DL_MAX_HEALTH_OUTPUT);
	if (c->labels.has)
		enc_labels(e, &c->labels);
}

/* INVENTORY: the full container list, replaces what the collector knew.
 *
 *   +----+-------+-----+---------+---------------------------+
 *   | 0  | 1     | 2   | 3       | 4                         |
 *   | 16 | epoch | seq | time_ns | [container...]            |
 *   +----+-------+-----+---------+---------------------------+
 *   at most DL_MAX_CONTAINERS containers.
 *
 * One too big for a frame goes in parts, each with three more elements:
 *
 *   +-----------+------+-------+
 *   | 5         | 6    | 7     |
 *   | inventory | part | parts |
 *   | u64       | u32  | u32   |
 *   +-----------+------+-------+
 *   inventory = seq of part 0 (so inventory + part == seq), part < parts
 *   <= DL_MAX_INVENTORY_PARTS; all parts together at most
 *   DL_MAX_CONTAINERS containers and DL_MAX_INVENTORY_BYTES. An older
 *   reader would take each part for the whole list: parts go only to a
 *   collector that announced DL_CAP_INVENTORY_PARTS. */
static void enc_inventory(enc_t *e, const dl_msg_t *m)
{
	uint32_t n = m->u.inventory.n, parts = m->u.inventory.parts;

	if (n > DL_MAX_CONTAINERS || (n > 0 && !m->u.inventory.v) ||
	    parts > DL_MAX_INVENTORY_PARTS ||
	    (parts && (m->u.inventory.part >= parts ||
		       m->u.inventory.id + m->u.inventory.part != m->seq))) {
		e->err = DL_EINVAL;
		return;
	}
	put_data_head(e, m, parts ? 8 : 5);
	msgpack_pack_array(&e->pk, n);
	for (uint32_t i = 0; i < n && !e->err; i++)
		enc_container(e, &m->u.inventory.v[i]);
	if (!parts)
		return;
	put_u64(e, m->u.inventory.id);
	msgpack_pack_uint32(&e->pk, m->u.inventory.part);
	msgpack_pack_uint32(&e->pk, parts);
}

static int count_write(void *data, const char *p, size_t n)
{
	(void)p;
	*(size_t *)data += n;
	return 0;
}

size_t dl_msg_container_size(const dl_container_t *c)
{
	size_t n = 0;
	enc_t e = {0};

	msgpack_packer_init(&e.pk, &n, count_write);
	enc_container(&e, c);
	return e.err ? 0 : n;
}

int dl_msg_inventory_split(const dl_container_t *v, uint32_t n, size_t part_max,
			   uint32_t *starts, uint32_t max, uint32_t *nparts,
			   size_t *total)
{
	size_t cur = DL_INVENTORY_PART_HEAD;
	uint32_t k = 0;

	*total = 0;
	*nparts = 0;
	if (n > DL_MAX_CONTAINERS || max == 0 ||
	    part_max <= DL_INVENTORY_PART_HEAD)
		return DL_EINVAL;
	starts[k++] = 0;
	for (uint32_t i = 0; i < n; i++) {
		size_t sz = dl_msg_container_size(&v[i]);

		if (sz == 0)
			return DL_EINVAL;
		if (sz > part_max - DL_INVENTORY_PART_HEAD)
			return DL_ETOOBIG;
		if (cur + sz > part_max) {
			*total += cur;
			if (k == max || k == DL_MAX_INVENTORY_PARTS)
				return DL_ETOOBIG;
			starts[k++] = i;
			cur = DL_INVENTORY_PART_HEAD;
		}
		cur += sz;
		if (*total + cur > DL_MAX_INVENTORY_BYTES)
			return DL_ETOOBIG;
	}
	*total += cur;
	*nparts = k;
	return 0;
}

bool dl_msg_frame_is_inventory_part(const uint8_t *frame, size_t len)
{
	const uint8_t *p = frame + DL_FRAME_HDR;

	if (len < DL_FRAME_HDR + 2)
		return false;
	/* Our encoder writes the 8-element array as a fixarray; a larger
	 * array16 header (0xdc) is accepted too. */
	if ((p[0] & 0xf0) == 0x90)
		return (p[0] & 0x0f) > 5 && p[1] == DL_MSG_INVENTORY;
	if (p[0] == 0xdc && len >= DL_FRAME_HDR + 4)
		return ((uint32_t)p[1] << 8 | p[2]) > 5 &&
		       p[3] == DL_MSG_INVENTORY;
	return false;
}

/* CONTAINER: one container changed or went away.
 *
 *   +----+-------+-----+---------+---------+-----------+
 *   | 0  | 1     | 2   | 3       | 4       | 5         |
 *   | 17 | epoch | seq | time_ns | removed | container |
 *   |    |       |     |         | bool    |           |
 *   +----+-------+-----+---------+---------+-----------+ */
static void enc_container_msg(enc_t *e, const dl_msg_t *m)
{
	put_data_head(e, m, 6);
	put_bool(e, m->u.container.removed);
	enc_container(e, &m->u.container.c);
}

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

/* STATS: container samples taken at time_ns, one per container.
 *
 *   +----+-------+-----+---------+---------------+-------------+-----------+
 *   | 0  | 1     | 2   | 3       | 4             | 5           | 6         |
 *   | 21 | epoch | seq | time_ns | system_cpu_ns | online_cpus | [sample..]|
 *   |    |       |     |         | u64           | u32         |           |
 *   +----+-------+-----+---------+---------------+-------------+-----------+
 *   sample, all unsigned, each in its smallest msgpack encoding:
 *   [idx, valid, cpu_ns, mem_usage, mem_limit, net_rx_bytes, net_tx_bytes,
 *    net_rx_packets, net_tx_packets, blk_read_bytes, blk_write_bytes, pids]
 *   at most DL_MAX_SAMPLES samples; a value whose DL_SV_* bit is clear is
 *   sent (as 0 normally) but means nothing. */
static void enc_stats(enc_t *e, const dl_msg_t *m)
{
	const dl_stats_t *st = &m->u.stats;

	if (st->n > DL_MAX_SAMPLES || (st->n > 0 && !st->v)) {
		e->err = DL_EINVAL;
		return;
	}
	put_data_head(e, m, 7);
	put_u64(e, st->system_cpu_ns);
	msgpack_pack_uint32(&e->pk, st->online_cpus);
	msgpack_pack_array(&e->pk, st->n);
	for (uint32_t i = 0; i < st->n && !e->err; i++) {
		const dl_sample_t *s = &st->v[i];

		msgpack_pack_array(&e->pk, 12);
		msgpack_pack_uint32(&e->pk, s->idx);
		msgpack_pack_uint32(&e->pk, s->valid);
		put_u64(e, s->cpu_ns);
		put_u64(e, s->mem_usage);
		put_u64(e, s->mem_limit);
		put_u64(e, s->net_rx_bytes);
		put_u64(e, s->net_tx_bytes);
		put_u64(e, s->net_rx_packets);
		put_u64(e, s->net_tx_packets);
		put_u64(e, s->blk_read_bytes);
		put_u64(e, s->blk_write_bytes);
		put_u64(e, s->pids);
	}
}

/* HOSTSTATS: the host's own metrics at time_ns.
 *
 *   +----+-----------+--------------+-------------+-------------+
 *   | 0  | 1-3       | 4            | 5           | 6           |
 *   | 22 | e, s, t   | cpu_total_ns | cpu_idle_ns | online_cpus |
 *   +----+-----------+--------------+-------------+-------------+
 *   +-----------+----------+---------------+------------+-----------+
 *   | 7         | 8        | 9             | 10         | 11        |
 *   | mem_total | mem_used | mem_available | swap_total | swap_used |
 *   +-----------+----------+---------------+------------+-----------+
 *   +------------+------------+-------------+-----------+------------+
 *   | 12         | 13         | 14          | 15        | 16         |
 *   | load1_x100 | load5_x100 | load15_x100 | disk_used | disk_total |
 *   +------------+------------+-------------+-----------+------------+
 *   +--------------+--------------+
 *   | 17           | 18           |
 *   | net_rx_bytes | net_tx_bytes |
 *   +--------------+--------------+
 *   all unsigned; online_cpus and load*_x100 fit u32. */
static void enc_hoststats(enc_t *e, const dl_msg_t *m)
{
	const dl_hoststats_t *h = &m->u.hoststats;

	put_data_head(e, m, 19);
	put_u64(e, h->cpu_total_ns);
	put_u64(e, h->cpu_idle_ns);
	msgpack_pack_uint32(&e->pk, h->online_cpus);
	put_u64(e, h->mem_total);
	put_u64(e, h->mem_used);
	put_u64(e, h->mem_available);
	put_u64(e, h->swap_total);
	put_u64(e, h->swap_used);
	msgpack_pack_uint32(&e->pk, h->load1_x100);
	msgpack_pack_uint32(&e->pk, h->load5_x100);
	msgpack_pack_uint32(&e->pk, h->load15_x100);
	put_u64(e, h->disk_used);
	put_u64(e, h->disk_total);
	put_u64(e, h->net_rx_bytes);
	put_u64(e, h->net_tx_bytes);
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

/* ---- control (never in the outbox, never replayed) ---- */

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

static int enc_body(enc_t *e, const dl_msg_t *m)
{
	switch (m->type) {
	case DL_MSG_HELLO: enc_hello(e, &m->u.hello); break;
	case DL_MSG_ERROR: enc_error(e, &m->u.error); break;
	case DL_MSG_PING:
	case DL_MSG_PONG: enc_nonce(e, m->type, m->u.nonce); break;
	case DL_MSG_ACK: enc_ack(e, m->u.ack.epoch, m->u.ack.seq); break;
	case DL_MSG_INVENTORY: enc_inventory(e, m); break;
	case DL_MSG_CONTAINER: enc_container_msg(e, m); break;
	case DL_MSG_EVENT: enc_event(e, m); break;
	case DL_MSG_DOCKER: enc_docker(e, m); break;
	case DL_MSG_DROPPED: enc_dropped(e, m); break;
	case DL_MSG_STATS: enc_stats(e, m); break;
	case DL_MSG_HOSTSTATS: enc_hoststats(e, m); break;
	case DL_MSG_RESTART: enc_restart(e, m->u.restart_reason); break;
	case DL_MSG_BYE: enc_bye(e, &m->u.bye); break;
	case DL_MSG_ATTACH:
		enc_attach(e, m->u.attach.host, m->u.attach.flags);
		break;
	case DL_MSG_REQUEST: enc_request(e, &m->u.request); break;
	case DL_MSG_RESPONSE: enc_response(e, &m->u.response); break;
	case DL_MSG_STREAM: enc_stream(e, &m->u.stream); break;
	case DL_MSG_END: enc_end(e, &m->u.end); break;
	case DL_MSG_CANCEL:
	case DL_MSG_CREDIT: enc_credit(e, m->type, &m->u.credit); break;
	default: return DL_EINVAL;
	}
	return e->err;
}

int dl_msg_encode(dl_buf_t *out, const dl_msg_t *m)
{
	static const uint8_t zero[DL_FRAME_HDR];
	enc_t e = {.b = out, .start = dl_buf_used(out)};
	size_t payload;
	int rc;

	/* Header first, patched once the payload size is known. The buffer
	 * may compact (move its data to offset 0) while growing, so positions
	 * are kept relative to the unread head, never as b->len. */
	rc = dl_buf_append(out, zero, sizeof(zero));
	if (rc != 0)
		return DL_ETOOBIG;
	msgpack_packer_init(&e.pk, &e, enc_write);
	rc = enc_body(&e, m);
	if (rc != 0)
		goto fail;
	payload = dl_buf_used(out) - e.start - DL_FRAME_HDR;
	dl_frame_put_header(dl_buf_head(out) + e.start, (uint32_t)payload);
	return 0;
fail:
	out->len = out->off + e.start;
	return rc;
}

/* ------------------------------------------------------------------ */
/* Prescan: bound every size in the msgpack headers by the frame        */

static uint64_t be_read(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Our layouts nest three deep; msgpack-c itself gives up past 32. */
#define MAX_DEPTH 16

/* Walks the value headers of one msgpack value without building anything.
 * Every array/map element and every str/bin/ext byte must fit in what is
 * left of the payload, so msgpack-c's up-front zone reservations are at
 * most ~24 bytes per payload byte. Returns NULL or a reason. */
static const char *prescan(const uint8_t *p, size_t len)
{
	uint64_t left[MAX_DEPTH + 1]; /* values still to read per level */
	uint64_t pending = 1;	      /* their sum */
	size_t pos = 0;
	int depth = 0;

	left[0] = 1;
	while (pending > 0) {
		uint8_t t;
		unsigned lenb = 0; /* size of a length/count field */
		uint64_t skip = 0; /* fixed bytes after the type byte */
		uint64_t nval = 0; /* nested values announced */
		int kind = 0;	   /* 0 scalar, 1 str/bin/ext, 2 arr, 3 map */

		if (left[depth] == 0) {
			depth--;
			continue;
		}
		if (pos >= len)
			return "truncated msgpack value";
		t = p[pos++];
		pending--;
		left[depth]--;
		if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 ||
		    t == 0xc3) {
			continue;
		} else if (t <= 0x8f) {
			nval = 2u * (t & 0x0fu);
		} else if (t <= 0x9f) {
			nval = t & 0x0fu;
		} else if (t <= 0xbf) {
			skip = t & 0x1fu;
		} else {
			/* One line per msgpack type byte. */
			/* clang-format off */
			switch (t) {
			case 0xc4: case 0xd9: lenb = 1; kind = 1; break;
			case 0xc5: case 0xda: lenb = 2; kind = 1; break;
			case 0xc6: case 0xdb: lenb = 4; kind = 1; break;
			case 0xc7: lenb = 1; kind = 1; skip = 1; break;
			case 0xc8: lenb = 2; kind = 1; skip = 1; break;
			case 0xc9: lenb = 4; kind = 1; skip = 1; break;
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xca: case 0xce: case 0xd2: skip = 4; break;
			case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xdc: lenb = 2; kind = 2; break;
			case 0xdd: lenb = 4; kind = 2; break;
			case 0xde: lenb = 2; kind = 3; break;
			case 0xdf: lenb = 4; kind = 3; break;
			default: return "invalid msgpack type byte 0xc1";
			}
			/* clang-format on */
		}
		if (lenb) {
			uint64_t n;

			if (len - pos < lenb)
				return "truncated msgpack value";
			n = be_read(p + pos, lenb);
			pos += lenb;
			if (kind == 1)
				skip += n;
			else
				nval = kind == 3 ? 2 * n : n;
		}
		if (skip > len - pos)
			return "truncated msgpack value";
		pos += skip;
		if (nval == 0)
			continue;
		pending += nval;
		if (pending > len - pos)
			return "array or map count larger than the frame";
		if (depth == MAX_DEPTH)
			return "arrays nested too deep";
		left[++depth] = nval;
	}
	if (pos != len)
		return "trailing bytes after the message";
	return NULL;
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

static int dfail(const dec_t *d, uint32_t i, const char *name, const char *fmt,
		 ...) __attribute__((format(printf, 4, 5)));

#define NO_IDX UINT32_MAX

/* Where in the message we are: "EVENT", "INVENTORY: container 3",
 * "HELLO: caps". */
static void where(const dec_t *d, char *out, size_t outlen)
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
static int dfail(const dec_t *d, uint32_t i, const char *name, const char *fmt,
		 ...)
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

static int need(const dec_t *d, uint32_t n)
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

static int get_uint(const dec_t *d, uint32_t i, const char *name, uint64_t max,
		    uint64_t *out)
{
	const msgpack_object *o = &d->el[i];

	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return dfail(d, i, name, "is not a non-negative integer");
	if (o->via.u64 > max)
		return dfail(d, i, name, "is out of range");
	*out = o->via.u64;
	return 0;
}

static int get_u64(const dec_t *d, uint32_t i, const char *name, uint64_t *out)
{
	return get_uint(d, i, name, UINT64_MAX, out);
}

static int get_u32(const dec_t *d, uint32_t i, const char *name, uint32_t *out)
{
	uint64_t v = 0;
	int rc = get_uint(d, i, name, UINT32_MAX, &v);

	if (rc == 0)
		*out = (uint32_t)v;
	return rc;
}

static int get_int(const dec_t *d, uint32_t i, const char *name, int64_t min,
		   int64_t max, int64_t *out)
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

static int get_bool(const dec_t *d, uint32_t i, const char *name, bool *out)
{
	if (d->el[i].type != MSGPACK_OBJECT_BOOLEAN)
		return dfail(d, i, name, "is not a boolean");
	*out = d->el[i].via.boolean;
	return 0;
}

static int get_str(const dec_t *d, uint32_t i, const char *name, uint32_t max,
		   dl_str_t *out)
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
static int get_arr(const dec_t *d, uint32_t i, const char *name, uint32_t max,
		   const msgpack_object_array **out)
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
static dec_t dec_sub(const dec_t *d, const msgpack_object *o, const char *sub,
		     uint32_t subi)
{
	dec_t s = *d;

	s.sub = sub;
	s.subi = subi;
	s.el = o->via.array.ptr;
	s.n = o->via.array.size;
	return s;
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

static int dec_data_head(const dec_t *d, dl_msg_t *m, uint32_t n)
{
	int rc;

	if ((rc = need(d, n)) || (rc = get_u64(d, 1, "epoch", &m->epoch)) ||
	    (rc = get_u64(d, 2, "seq", &m->seq)) ||
	    (rc = get_u64(d, 3, "time_ns", &m->time_ns)))
		return rc;
	return 0;
}

/* Elements 8..15 of a container: all of them or none (a partial group is
 * no layout any version writes). */
static int dec_detail(const dec_t *s, dl_cdetail_t *dt)
{
	int64_t code = 0;
	int rc;

	memset(dt, 0, sizeof(*dt));
	if (s->n == 8)
		return 0;
	if ((rc = need(s, 16)) ||
	    (rc = get_u64(s, 8, "started_at", &dt->started_at)) ||
	    (rc = get_u64(s, 9, "finished_at", &dt->finished_at)) ||
	    (rc = get_int(s, 10, "exit_code", INT32_MIN, INT32_MAX, &code)) ||
	    (rc = get_bool(s, 11, "oom_killed", &dt->oom_killed)) ||
	    (rc = get_bool(s, 12, "restarting", &dt->restarting)) ||
	    (rc = get_u32(s, 13, "restart_count", &dt->restart_count)) ||
	    (rc = get_u32(s, 14, "health_streak", &dt->health_streak)) ||
	    (rc = get_str(s, 15, "health_output", DL_MAX_HEALTH_OUTPUT,
			  &dt->health_output)))
		return rc;
	dt->exit_code = (int32_t)code;
	dt->has = true;
	return 0;
}

static void *zalloc(const dec_t *d, size_t size)
{
	return msgpack_zone_malloc(d->z, size);
}

bool dl_label_fits(uint32_t n, uint32_t *total, size_t klen, size_t vlen)
{
	if (n >= DL_MAX_LABELS || klen == 0 || klen > DL_MAX_LABEL_KEY ||
	    vlen > DL_MAX_LABEL_VALUE ||
	    klen + vlen > DL_MAX_LABEL_TOTAL - *total)
		return false;
	*total += (uint32_t)(klen + vlen);
	return true;
}

/* Elements 16..17: labels that break the bounds (too many, too long, an
 * entry that is not two strings) are dropped and counted, never a frame
 * error; only element 16 not being an array is. */
static int dec_labels(const dec_t *s, dl_labels_t *l)
{
	const msgpack_object_array *a;
	uint32_t total = 0, sent_dropped = 0;
	int rc;

	memset(l, 0, sizeof(*l));
	if (s->n < 18)
		return 0;
	if (s->el[16].type != MSGPACK_OBJECT_ARRAY)
		return dfail(s, 16, "labels", "is not an array");
	if ((rc = get_u32(s, 17, "labels_dropped", &sent_dropped)))
		return rc;
	a = &s->el[16].via.array;
	l->has = true;
	l->dropped = sent_dropped;
	if (a->size == 0)
		return 0;
	l->v = zalloc(s, (a->size < DL_MAX_LABELS ? a->size : DL_MAX_LABELS) *
				 sizeof(dl_attr_t));
	if (!l->v)
		return DL_ENOMEM;
	for (uint32_t k = 0; k < a->size; k++) {
		const msgpack_object *o = &a->ptr[k];
		const msgpack_object *kv = o->via.array.ptr;

		if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2 ||
		    kv[0].type != MSGPACK_OBJECT_STR ||
		    kv[1].type != MSGPACK_OBJECT_STR ||
		    !dl_label_fits(l->n, &total, kv[0].via.str.size,
				   kv[1].via.str.size)) {
			if (l->dropped < UINT32_MAX)
				l->dropped++;
			continue;
		}
		l->v[l->n].key =
			(dl_str_t){kv[0].via.str.ptr, kv[0].via.str.size};
		l->v[l->n].value =
			(dl_str_t){kv[1].via.str.size ? kv[1].via.str.ptr : "",
				   kv[1].via.str.size};
		l->n++;
	}
	return 0;
}

/* Element i of d as a container; subi numbers it inside an INVENTORY. */
static int dec_container(const dec_t *d, uint32_t i, uint32_t subi,
			 dl_container_t *c)
{
	dec_t s;
	int64_t created = 0;
	int rc;

	if (d->el[i].type != MSGPACK_OBJECT_ARRAY)
		return dfail(d, i, "container", "is not an array");
	s = dec_sub(d, &d->el[i], "container", subi);
	if ((rc = need(&s, 8)) || (rc = get_u32(&s, 0, "idx", &c->idx)) ||
	    (rc = get_str(&s, 1, "id", DL_MAX_ID, &c->id)) ||
	    (rc = get_str(&s, 2, "name", DL_MAX_NAME, &c->name)) ||
	    (rc = get_str(&s, 3, "image", DL_MAX_TEXT, &c->image)) ||
	    (rc = get_str(&s, 4, "state", DL_MAX_NAME, &c->state)) ||
	    (rc = get_str(&s, 5, "status", DL_MAX_TEXT, &c->status)) ||
	    (rc = get_str(&s, 6, "health", DL_MAX_NAME, &c->health)) ||
	    (rc = get_int(&s, 7, "created", INT64_MIN, INT64_MAX, &created)) ||
	    (rc = dec_detail(&s, &c->d)) || (rc = dec_labels(&s, &c->labels)))
		return rc;
	c->created = created;
	return 0;
}

/* Elements 5..7 of a part: all three or none; the part must name the
 * seq of its part 0 (inventory + part == seq). */
static int dec_inventory_part(const dec_t *d, dl_msg_t *m)
{
	uint64_t id = 0;
	uint32_t part = 0, parts = 0;
	int rc;

	if (d->n == 5)
		return 0;
	if ((rc = need(d, 8)) || (rc = get_u64(d, 5, "inventory", &id)) ||
	    (rc = get_u32(d, 6, "part", &part)) ||
	    (rc = get_u32(d, 7, "parts", &parts)))
		return rc;
	if (parts == 0 || parts > DL_MAX_INVENTORY_PARTS)
		return dfail(d, 7, "parts", "is not 1..%u",
			     DL_MAX_INVENTORY_PARTS);
	if (part >= parts)
		return dfail(d, 6, "part", "is not below parts (%u)", parts);
	if (m->seq < part || id != m->seq - part)
		return dfail(d, 5, "inventory",
			     "is not the seq of part 0 (seq - part)");
	m->u.inventory.id = id;
	m->u.inventory.part = part;
	m->u.inventory.parts = parts;
	return 0;
}

static int dec_inventory(const dec_t *d, dl_msg_t *m)
{
	const msgpack_object_array *a = NULL;
	dec_t s;
	int rc;

	if ((rc = dec_data_head(d, m, 5)) ||
	    (rc = get_arr(d, 4, "containers", DL_MAX_CONTAINERS, &a)) ||
	    (rc = dec_inventory_part(d, m)))
		return rc;
	m->u.inventory.n = a->size;
	if (a->size == 0)
		return 0;
	m->u.inventory.v = zalloc(d, a->size * sizeof(dl_container_t));
	if (!m->u.inventory.v)
		return DL_ENOMEM;
	s = dec_sub(d, &d->el[4], "containers", NO_IDX);
	for (uint32_t i = 0; i < a->size; i++)
		if ((rc = dec_container(&s, i, i, &m->u.inventory.v[i])))
			return rc;
	return 0;
}

static int dec_container_msg(const dec_t *d, dl_msg_t *m)
{
	int rc;

	if ((rc = dec_data_head(d, m, 6)) ||
	    (rc = get_bool(d, 4, "removed", &m->u.container.removed)) ||
	    (rc = dec_container(d, 5, NO_IDX, &m->u.container.c)))
		return rc;
	return 0;
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

static int dec_stats(const dec_t *d, dl_msg_t *m)
{
	dl_stats_t *st = &m->u.stats;
	const msgpack_object_array *a = NULL;
	dec_t sub;
	int rc;

	if ((rc = dec_data_head(d, m, 7)) ||
	    (rc = get_u64(d, 4, "system_cpu_ns", &st->system_cpu_ns)) ||
	    (rc = get_u32(d, 5, "online_cpus", &st->online_cpus)) ||
	    (rc = get_arr(d, 6, "samples", DL_MAX_SAMPLES, &a)))
		return rc;
	st->n = a->size;
	if (a->size == 0)
		return 0;
	st->v = zalloc(d, a->size * sizeof(dl_sample_t));
	if (!st->v)
		return DL_ENOMEM;
	sub = dec_sub(d, &d->el[6], "samples", NO_IDX);
	for (uint32_t i = 0; i < a->size; i++) {
		dl_sample_t *v = &st->v[i];
		dec_t s;

		if (a->ptr[i].type != MSGPACK_OBJECT_ARRAY)
			return dfail(&sub, i, "sample", "is not an array");
		s = dec_sub(d, &a->ptr[i], "sample", i);
		if ((rc = need(&s, 12)) ||
		    (rc = get_u32(&s, 0, "idx", &v->idx)) ||
		    (rc = get_u32(&s, 1, "valid", &v->valid)) ||
		    (rc = get_u64(&s, 2, "cpu_ns", &v->cpu_ns)) ||
		    (rc = get_u64(&s, 3, "mem_usage", &v->mem_usage)) ||
		    (rc = get_u64(&s, 4, "mem_limit", &v->mem_limit)) ||
		    (rc = get_u64(&s, 5, "net_rx_bytes", &v->net_rx_bytes)) ||
		    (rc = get_u64(&s, 6, "net_tx_bytes", &v->net_tx_bytes)) ||
		    (rc = get_u64(&s, 7, "net_rx_packets",
				  &v->net_rx_packets)) ||
		    (rc = get_u64(&s, 8, "net_tx_packets",
				  &v->net_tx_packets)) ||
		    (rc = get_u64(&s, 9, "blk_read_bytes",
				  &v->blk_read_bytes)) ||
		    (rc = get_u64(&s, 10, "blk_write_bytes",
				  &v->blk_write_bytes)) ||
		    (rc = get_u64(&s, 11, "pids", &v->pids)))
			return rc;
	}
	return 0;
}

static int dec_hoststats(const dec_t *d, dl_msg_t *m)
{
	dl_hoststats_t *h = &m->u.hoststats;
	int rc;

	if ((rc = dec_data_head(d, m, 19)) ||
	    (rc = get_u64(d, 4, "cpu_total_ns", &h->cpu_total_ns)) ||
	    (rc = get_u64(d, 5, "cpu_idle_ns", &h->cpu_idle_ns)) ||
	    (rc = get_u32(d, 6, "online_cpus", &h->online_cpus)) ||
	    (rc = get_u64(d, 7, "mem_total", &h->mem_total)) ||
	    (rc = get_u64(d, 8, "mem_used", &h->mem_used)) ||
	    (rc = get_u64(d, 9, "mem_available", &h->mem_available)) ||
	    (rc = get_u64(d, 10, "swap_total", &h->swap_total)) ||
	    (rc = get_u64(d, 11, "swap_used", &h->swap_used)) ||
	    (rc = get_u32(d, 12, "load1_x100", &h->load1_x100)) ||
	    (rc = get_u32(d, 13, "load5_x100", &h->load5_x100)) ||
	    (rc = get_u32(d, 14, "load15_x100", &h->load15_x100)) ||
	    (rc = get_u64(d, 15, "disk_used", &h->disk_used)) ||
	    (rc = get_u64(d, 16, "disk_total", &h->disk_total)) ||
	    (rc = get_u64(d, 17, "net_rx_bytes", &h->net_rx_bytes)) ||
	    (rc = get_u64(d, 18, "net_tx_bytes", &h->net_tx_bytes)))
		return rc;
	return 0;
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

static int dec_control(const dec_t *d, dl_msg_t *m, uint64_t type)
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

static int dec_body(dec_t *d, dl_msg_t *m, uint64_t type)
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
	case DL_MSG_INVENTORY: return dec_inventory(d, m);
	case DL_MSG_CONTAINER: return dec_container_msg(d, m);
	case DL_MSG_EVENT: return dec_event(d, m);
	case DL_MSG_DOCKER: return dec_docker(d, m);
	case DL_MSG_DROPPED:
		if ((rc = dec_data_head(d, m, 6)) ||
		    (rc = get_u64(d, 4, "frames", &m->u.dropped.frames)))
			return rc;
		return get_u64(d, 5, "bytes", &m->u.dropped.bytes);
	case DL_MSG_STATS: return dec_stats(d, m);
	case DL_MSG_HOSTSTATS: return dec_hoststats(d, m);
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
	case DL_MSG_ATTACH:
		if ((rc = need(d, 2)) ||
		    (rc = get_str(d, 1, "host", DL_MAX_NAME,
				  &m->u.attach.host)))
			return rc;
		if (d->n < 3) /* an attach that predates flags */
			return 0;
		return get_u32(d, 2, "flags", &m->u.attach.flags);
	case DL_MSG_REQUEST:
	case DL_MSG_RESPONSE:
	case DL_MSG_STREAM:
	case DL_MSG_END:
	case DL_MSG_CANCEL:
	case DL_MSG_CREDIT: return dec_control(d, m, type);
	}
	if (d->why && d->whylen)
		snprintf(d->why, d->whylen, "unknown message type %llu",
			 (unsigned long long)type);
	return DL_EPROTO;
}

static int why_set(char *why, size_t whylen, const char *s)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", s);
	return DL_EPROTO;
}

/* Unpacks a private copy of the payload so the decoded strings (which
 * msgpack-c leaves pointing into its input) live as long as the zone,
 * not as long as the caller's receive buffer. */
static int unpack_copy(dl_msg_t *m, const uint8_t *payload, size_t len,
		       char *why, size_t whylen)
{
	char *copy = malloc(len);
	size_t off = 0;
	msgpack_unpack_return ur;

	if (!copy)
		return DL_ENOMEM;
	memcpy(copy, payload, len);
	ur = msgpack_unpack_next(&m->up_, copy, len, &off);
	if (ur != MSGPACK_UNPACK_SUCCESS || off != len) {
		free(copy);
		/* The prescan already accepted it, so this is memory. */
		if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
			return DL_ENOMEM;
		return why_set(why, whylen, "payload: not valid msgpack");
	}
	if (!m->up_.zone) /* scalar payloads need no zone of their own */
		m->up_.zone = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
	if (!m->up_.zone ||
	    !msgpack_zone_push_finalizer(m->up_.zone, free, copy)) {
		free(copy);
		return DL_ENOMEM;
	}
	return 0;
}

int dl_msg_decode(dl_msg_t *m, const uint8_t *payload, size_t len, char *why,
		  size_t whylen)
{
	const msgpack_object *root;
	const char *bad;
	uint64_t type;
	dec_t d;
	int rc;

	memset(m, 0, sizeof(*m));
	msgpack_unpacked_init(&m->up_);
	if (why && whylen)
		why[0] = '\0';
	if (len == 0) {
		rc = why_set(why, whylen, "payload: empty");
		goto fail;
	}
	if (len > DL_FRAME_MAX) {
		rc = why_set(why, whylen, "payload: larger than DL_FRAME_MAX");
		goto fail;
	}
	if ((bad = prescan(payload, len))) {
		if (why && whylen)
			snprintf(why, whylen, "payload: %s", bad);
		rc = DL_EPROTO;
		goto fail;
	}
	if ((rc = unpack_copy(m, payload, len, why, whylen)))
		goto fail;
	root = &m->up_.data;
	if (root->type != MSGPACK_OBJECT_ARRAY) {
		rc = why_set(why, whylen, "payload: not an array");
		goto fail;
	}
	if (root->via.array.size == 0) {
		rc = why_set(why, whylen, "payload: empty array");
		goto fail;
	}
	d = (dec_t){.what = "message",
		    .el = root->via.array.ptr,
		    .n = root->via.array.size,
		    .z = m->up_.zone,
		    .why = why,
		    .whylen = whylen};
	if (d.el[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		rc = dfail(&d, 0, "type", "is not a non-negative integer");
		goto fail;
	}
	type = d.el[0].via.u64;
	d.what = dl_msg_type_name(type <= DL_MSG_TYPE_MAX ? (dl_msg_type_t)type
							  : (dl_msg_type_t)0);
	if ((rc = dec_body(&d, m, type)))
		goto fail;
	m->type = (dl_msg_type_t)type;
	return 0;
fail:
	dl_msg_release(m);
	return rc;
}

void dl_msg_release(dl_msg_t *m)
{
	if (!m)
		return;
	/* Frees every decoded array and, through its finalizer, the copy
	 * of the payload the strings point into. */
	msgpack_zone_free(m->up_.zone);
	memset(m, 0, sizeof(*m));
}
