/* msg_stats.c - metrics on the wire: STATS (one compact sample per
 * container, taken at the frame's time) and HOSTSTATS (the host's own). */
#include "proto/msg_int.h"

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

void dl_msg__enc_stats(enc_t *e, const dl_msg_t *m)
{
	if (m->type == DL_MSG_STATS)
		enc_stats(e, m);
	else /* DL_MSG_HOSTSTATS */
		enc_hoststats(e, m);
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

int dl_msg__dec_stats(const dec_t *d, dl_msg_t *m, uint64_t type)
{
	if (type == DL_MSG_STATS)
		return dec_stats(d, m);
	return dec_hoststats(d, m); /* DL_MSG_HOSTSTATS */
}
