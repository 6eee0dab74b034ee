/* rw_series.c - what a sample becomes at the receiver: each container
 * and host sample as the series `/metrics` names (metrics.c), labelled
 * host, id, image, name, encoded by rw_proto.c. Pure apart from the
 * __name__ fields, encoded once. */
#include "collector/remote_write.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "collector/rw_int.h"
#include "collector/rw_proto.h"
#include "common/err.h"

/* ---- families: the names and meanings of metrics.c ---- */

static const char *const cname[F_CFAMILIES] = {
	[F_CPU] = "container_cpu_usage_seconds_total",
	[F_MEM] = "container_memory_usage_bytes",
	[F_WSET] = "container_memory_working_set_bytes",
	[F_LIMIT] = "container_spec_memory_limit_bytes",
	[F_RX] = "container_network_receive_bytes_total",
	[F_TX] = "container_network_transmit_bytes_total",
	[F_READ] = "container_fs_reads_bytes_total",
	[F_WRITE] = "container_fs_writes_bytes_total",
};
static const char *const hname[H_FAMILIES] = {
	[H_LOAD1] = "node_load1",
	[H_MEMTOTAL] = "node_memory_MemTotal_bytes",
	[H_MEMAVAIL] = "node_memory_MemAvailable_bytes",
	[H_FSSIZE] = "node_filesystem_size_bytes",
	[H_FSFREE] = "node_filesystem_free_bytes",
	[H_RX] = "node_network_receive_bytes_total",
	[H_TX] = "node_network_transmit_bytes_total",
	[H_SWAPTOTAL] = "node_memory_SwapTotal_bytes",
	[H_SWAPFREE] = "node_memory_SwapFree_bytes",
};

/* The __name__ label field of each family, encoded once. */
typedef struct {
	uint8_t b[128];
	size_t n;
} lab_t;
static lab_t clab[F_CFAMILIES], hlab[H_FAMILIES];
static pthread_once_t labs_once = PTHREAD_ONCE_INIT;

static void lab_make(lab_t *l, const char *name)
{
	dl_buf_t b;

	dl_buf_init(&b, sizeof(l->b));
	if (dl_rwp_label(&b, "__name__", name) == 0) {
		memcpy(l->b, dl_buf_head(&b), dl_buf_used(&b));
		l->n = dl_buf_used(&b);
	}
	dl_buf_free(&b);
}

static void labs_init(void)
{
	for (int f = 0; f < F_CFAMILIES; f++)
		lab_make(&clab[f], cname[f]);
	for (int f = 0; f < H_FAMILIES; f++)
		lab_make(&hlab[f], hname[f]);
}

static int64_t ms_of(int64_t ns)
{
	return ns / 1000000;
}

int dl_rw_container_labels(dl_buf_t *out, const char *host, const char *name,
			   const char *image, const char *id)
{
	return dl_rwp_label(out, "host", host) || dl_rwp_label(out, "id", id) ||
			       dl_rwp_label(out, "image",
					    image && image[0] ? image
							      : "unknown") ||
			       dl_rwp_label(out, "name", name ? name : "")
		       ? DL_ETOOBIG
		       : 0;
}

int dl_rw_encode_container(dl_buf_t *body, const dl_store_csample_t *c,
			   const uint8_t *labels, size_t llen)
{
	const dl_sample_t *v = &c->v;
	int64_t ts = ms_of(c->ts);
	double val[F_CFAMILIES];
	bool have[F_CFAMILIES] = {false};
	int n = 0;

	pthread_once(&labs_once, labs_init);
	have[F_CPU] = v->valid & DL_SV_CPU;
	val[F_CPU] = (double)v->cpu_ns / 1e9;
	have[F_MEM] = have[F_WSET] = v->valid & DL_SV_MEM;
	val[F_MEM] = val[F_WSET] = (double)v->mem_usage;
	have[F_LIMIT] = v->valid & DL_SV_MEMLIMIT;
	val[F_LIMIT] = (double)v->mem_limit;
	have[F_RX] = have[F_TX] = v->valid & DL_SV_NET;
	val[F_RX] = (double)v->net_rx_bytes;
	val[F_TX] = (double)v->net_tx_bytes;
	have[F_READ] = have[F_WRITE] = v->valid & DL_SV_BLK;
	val[F_READ] = (double)v->blk_read_bytes;
	val[F_WRITE] = (double)v->blk_write_bytes;
	for (int f = 0; f < F_CFAMILIES; f++) {
		if (!have[f])
			continue;
		if (dl_rwp_series(body, clab[f].b, clab[f].n, labels, llen,
				  val[f], ts))
			return DL_ETOOBIG;
		n++;
	}
	return n;
}

int dl_rw_encode_host(dl_buf_t *body, const dl_store_hsample_t *h)
{
	const dl_hoststats_t *v = &h->v;
	int64_t ts = ms_of(h->ts);
	double val[H_FAMILIES];
	uint8_t lb[DL_RWP_LABEL_MAX];
	dl_buf_t l;
	size_t ln;

	pthread_once(&labs_once, labs_init);
	dl_buf_init(&l, sizeof(lb));
	if (dl_rwp_label(&l, "host", h->host)) {
		dl_buf_free(&l);
		return DL_ETOOBIG;
	}
	ln = dl_buf_used(&l);
	memcpy(lb, dl_buf_head(&l), ln);
	dl_buf_free(&l);
	val[H_LOAD1] = v->load1_x100 / 100.0;
	val[H_MEMTOTAL] = (double)v->mem_total;
	val[H_MEMAVAIL] = (double)v->mem_available;
	val[H_FSSIZE] = (double)v->disk_total;
	val[H_FSFREE] = v->disk_total > v->disk_used
				? (double)(v->disk_total - v->disk_used)
				: 0;
	val[H_RX] = (double)v->net_rx_bytes;
	val[H_TX] = (double)v->net_tx_bytes;
	val[H_SWAPTOTAL] = (double)v->swap_total;
	val[H_SWAPFREE] = v->swap_total > v->swap_used
				  ? (double)(v->swap_total - v->swap_used)
				  : 0;
	for (int f = 0; f < H_FAMILIES; f++)
		if (dl_rwp_series(body, hlab[f].b, hlab[f].n, lb, ln, val[f],
				  ts))
			return DL_ETOOBIG;
	return H_FAMILIES;
}

void dl_rw__labs_init(void)
{
	pthread_once(&labs_once, labs_init);
}
