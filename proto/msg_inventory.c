/* msg_inventory.c - containers on the wire: the nested container array
 * (with its inspect group and labels), INVENTORY whole or in parts (and
 * the arithmetic that cuts one into parts) and CONTAINER. */
#include "proto/msg_int.h"

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

void dl_msg__enc_inventory(enc_t *e, const dl_msg_t *m)
{
	if (m->type == DL_MSG_INVENTORY)
		enc_inventory(e, m);
	else /* DL_MSG_CONTAINER */
		enc_container_msg(e, m);
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

int dl_msg__dec_inventory(const dec_t *d, dl_msg_t *m, uint64_t type)
{
	if (type == DL_MSG_INVENTORY)
		return dec_inventory(d, m);
	return dec_container_msg(d, m); /* DL_MSG_CONTAINER */
}
