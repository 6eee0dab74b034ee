/* test_rw.c - remote write: the remote-write body (collector/rw_proto.c,
 * rw_series.c's encoders) decoded back by a small protobuf reader
 * written here from the prompb messages, snappy round trips, the queue's
 * drop-oldest bound, and the [remote_write] section of collector.conf. */
#include "collector/remote_write.h"
#include "collector/rw_proto.h"

#include <fcntl.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/conf.h"
#include "common/err.h"
#include "common/log.h"
#include "test.h"

/* ---- a protobuf reader, only for these four messages ---- */

typedef struct {
	const uint8_t *p, *end;
} rd_t;

static uint64_t rd_varint(rd_t *r)
{
	uint64_t v = 0;

	for (int s = 0; s < 64; s += 7) {
		ASSERT(r->p < r->end);
		v |= (uint64_t)(*r->p & 0x7f) << s;
		if (!(*r->p++ & 0x80))
			return v;
	}
	DL_FAIL_("varint longer than 10 bytes");
	return 0;
}

/* A length-delimited field's bytes. */
static rd_t rd_sub(rd_t *r)
{
	uint64_t n = rd_varint(r);
	rd_t s = {r->p, r->p + n};

	ASSERT(n <= (uint64_t)(r->end - r->p));
	r->p += n;
	return s;
}

#define MAXL 8
typedef struct {
	char name[MAXL][128], value[MAXL][1100];
	int nl;
	double v;
	int64_t ts;
	int ns;
} series_t;

static void copy_str(char *dst, size_t cap, rd_t s)
{
	size_t n = (size_t)(s.end - s.p);

	ASSERT(n < cap);
	memcpy(dst, s.p, n);
	dst[n] = '\0';
}

static void rd_label(rd_t r, series_t *o)
{
	ASSERT(o->nl < MAXL);
	while (r.p < r.end) {
		uint64_t tag = rd_varint(&r);
		rd_t s = rd_sub(&r);

		if (tag == (1 << 3 | 2))
			copy_str(o->name[o->nl], sizeof(o->name[0]), s);
		else if (tag == (2 << 3 | 2))
			copy_str(o->value[o->nl], sizeof(o->value[0]), s);
		else
			DL_FAIL_("Label field tag %llu",
				 (unsigned long long)tag);
	}
	o->nl++;
}

static void rd_sample(rd_t r, series_t *o)
{
	while (r.p < r.end) {
		uint64_t tag = rd_varint(&r), bits = 0;

		if (tag == (1 << 3 | 1)) {
			ASSERT(r.end - r.p >= 8);
			for (int i = 0; i < 8; i++)
				bits |= (uint64_t)r.p[i] << (8 * i);
			r.p += 8;
			memcpy(&o->v, &bits, 8);
		} else if (tag == (2 << 3 | 0)) {
			o->ts = (int64_t)rd_varint(&r);
		} else {
			DL_FAIL_("Sample field tag %llu",
				 (unsigned long long)tag);
		}
	}
	o->ns++;
}

/* WriteRequest -> series; returns how many. */
static int rd_request(const uint8_t *p, size_t n, series_t *out, int max)
{
	rd_t r = {p, p + n};
	int k = 0;

	while (r.p < r.end) {
		rd_t ts;

		ASSERT_EQ(rd_varint(&r), 1 << 3 | 2);
		ts = rd_sub(&r);
		ASSERT(k < max);
		memset(&out[k], 0, sizeof(out[k]));
		while (ts.p < ts.end) {
			uint64_t tag = rd_varint(&ts);
			rd_t s = rd_sub(&ts);

			if (tag == (1 << 3 | 2))
				rd_label(s, &out[k]);
			else if (tag == (2 << 3 | 2))
				rd_sample(s, &out[k]);
			else
				DL_FAIL_("TimeSeries tag %llu",
					 (unsigned long long)tag);
		}
		k++;
	}
	return k;
}

static const char *label(const series_t *s, const char *name)
{
	for (int i = 0; i < s->nl; i++)
		if (!strcmp(s->name[i], name))
			return s->value[i];
	return "";
}

/* Labels in strictly increasing name order, __name__ first. */
static void assert_sorted(const series_t *s)
{
	ASSERT_STR_EQ(s->name[0], "__name__");
	for (int i = 1; i < s->nl; i++)
		ASSERT(strcmp(s->name[i - 1], s->name[i]) < 0);
}

/* ---- tests ---- */

static void test_varint(void)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} t[] = {
		{0, "00"},
		{1, "01"},
		{127, "7f"},
		{128, "8001"},
		{300, "ac02"},
		{16384, "808001"},
		{1732412345678ull, "ce9acadeb532"},
		{UINT64_MAX, "ffffffffffffffffff01"},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		dl_buf_t b;
		char hex[64] = "";
		rd_t r;

		dl_buf_init(&b, 64);
		ASSERT_EQ(dl_rwp_varint(&b, t[i].v), 0);
		for (size_t k = 0; k < dl_buf_used(&b); k++)
			snprintf(hex + 2 * k, 3, "%02x", dl_buf_head(&b)[k]);
		ASSERT_STR_EQ(hex, t[i].hex);
		r = (rd_t){dl_buf_head(&b), dl_buf_head(&b) + dl_buf_used(&b)};
		ASSERT(rd_varint(&r) == t[i].v);
		dl_buf_free(&b);
	}
}

static dl_store_csample_t full_sample(void)
{
	dl_store_csample_t c = {.cid = 7, .ts = 1732412345678901234ll};

	c.v.valid = DL_SV_CPU | DL_SV_MEM | DL_SV_MEMLIMIT | DL_SV_NET |
		    DL_SV_BLK | DL_SV_PIDS;
	c.v.cpu_ns = 1500000000ull + 7; /* 1.500000007 s */
	c.v.mem_usage = 52428800;
	c.v.mem_limit = 1ull << 30;
	c.v.net_rx_bytes = 1234567;
	c.v.net_tx_bytes = 7654321;
	c.v.blk_read_bytes = 4096;
	c.v.blk_write_bytes = 8192;
	c.v.pids = 3;
	return c;
}

static void test_container_series(void)
{
	static const struct {
		const char *name;
		double v;
	} want[] = {
		{"container_cpu_usage_seconds_total", 1.500000007},
		{"container_memory_usage_bytes", 52428800},
		{"container_memory_working_set_bytes", 52428800},
		{"container_spec_memory_limit_bytes", 1073741824},
		{"container_network_receive_bytes_total", 1234567},
		{"container_network_transmit_bytes_total", 7654321},
		{"container_fs_reads_bytes_total", 4096},
		{"container_fs_writes_bytes_total", 8192},
	};
	dl_store_csample_t c = full_sample();
	dl_buf_t lab, body;
	series_t s[16];
	int n;

	dl_buf_init(&lab, 8192);
	dl_buf_init(&body, 1 << 20);
	ASSERT_EQ(dl_rw_container_labels(&lab, "web-01", "api \"v2\"\n",
					 "nginx:1.25", "abcdef0123456789"),
		  0);
	n = dl_rw_encode_container(&body, &c, dl_buf_head(&lab),
				   dl_buf_used(&lab));
	ASSERT_EQ(n, 8);
	ASSERT_EQ(rd_request(dl_buf_head(&body), dl_buf_used(&body), s, 16), 8);
	for (int i = 0; i < 8; i++) {
		ASSERT_EQ(s[i].nl, 5);
		assert_sorted(&s[i]);
		ASSERT_STR_EQ(label(&s[i], "__name__"), want[i].name);
		ASSERT_STR_EQ(label(&s[i], "host"), "web-01");
		/* raw bytes: no text-format escaping in protobuf */
		ASSERT_STR_EQ(label(&s[i], "name"), "api \"v2\"\n");
		ASSERT_STR_EQ(label(&s[i], "image"), "nginx:1.25");
		ASSERT_STR_EQ(label(&s[i], "id"), "abcdef0123456789");
		ASSERT_EQ(s[i].ns, 1);
		ASSERT(s[i].v == want[i].v);
		ASSERT_EQ(s[i].ts, 1732412345678ll);
	}
	/* only memory known: two series */
	c.v.valid = DL_SV_MEM;
	dl_buf_reset(&body);
	ASSERT_EQ(dl_rw_encode_container(&body, &c, dl_buf_head(&lab),
					 dl_buf_used(&lab)),
		  2);
	ASSERT_EQ(rd_request(dl_buf_head(&body), dl_buf_used(&body), s, 16), 2);
	ASSERT_STR_EQ(label(&s[0], "__name__"), "container_memory_usage_bytes");
	ASSERT_STR_EQ(label(&s[1], "__name__"),
		      "container_memory_working_set_bytes");
	/* no image: "unknown", as /metrics says */
	dl_buf_reset(&lab);
	ASSERT_EQ(dl_rw_container_labels(&lab, "h", "n", "", "i"), 0);
	dl_buf_reset(&body);
	ASSERT_EQ(dl_rw_encode_container(&body, &c, dl_buf_head(&lab),
					 dl_buf_used(&lab)),
		  2);
	rd_request(dl_buf_head(&body), dl_buf_used(&body), s, 16);
	ASSERT_STR_EQ(label(&s[0], "image"), "unknown");
	dl_buf_free(&lab);
	dl_buf_free(&body);
}

static void test_host_series(void)
{
	dl_store_hsample_t h = {.host = "db-7", .ts = 5000000000ll};
	series_t s[16];
	dl_buf_t body;

	h.v.load1_x100 = 123;
	h.v.mem_total = 16ull << 30;
	h.v.mem_available = 9ull << 30;
	h.v.disk_total = 100ull << 30;
	h.v.disk_used = 40ull << 30;
	h.v.swap_total = 2ull << 30;
	h.v.swap_used = 3ull << 30; /* more than total: free 0, not huge */
	h.v.net_rx_bytes = 11;
	h.v.net_tx_bytes = 22;
	dl_buf_init(&body, 1 << 20);
	ASSERT_EQ(dl_rw_encode_host(&body, &h), 9);
	ASSERT_EQ(rd_request(dl_buf_head(&body), dl_buf_used(&body), s, 16), 9);
	for (int i = 0; i < 9; i++) {
		ASSERT_EQ(s[i].nl, 2);
		assert_sorted(&s[i]);
		ASSERT_STR_EQ(label(&s[i], "host"), "db-7");
		ASSERT_EQ(s[i].ts, 5000);
	}
	ASSERT_STR_EQ(label(&s[0], "__name__"), "node_load1");
	ASSERT(s[0].v == 1.23);
	ASSERT_STR_EQ(label(&s[1], "__name__"), "node_memory_MemTotal_bytes");
	ASSERT(s[1].v == (double)(16ull << 30));
	ASSERT_STR_EQ(label(&s[2], "__name__"),
		      "node_memory_MemAvailable_bytes");
	ASSERT_STR_EQ(label(&s[4], "__name__"), "node_filesystem_free_bytes");
	ASSERT(s[4].v == (double)(60ull << 30));
	ASSERT_STR_EQ(label(&s[8], "__name__"), "node_memory_SwapFree_bytes");
	ASSERT(s[8].v == 0);
	dl_buf_free(&body);
}

static void test_label_bounds(void)
{
	char big[1200];
	dl_buf_t b;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	dl_buf_init(&b, 1 << 16);
	ASSERT_EQ(dl_rwp_label(&b, "name", big), DL_ETOOBIG);
	ASSERT_EQ(dl_buf_used(&b), 0);
	big[200] = '\0'; /* two-byte lengths */
	ASSERT_EQ(dl_rwp_label(&b, "name", big), 0);
	{
		series_t s = {0};
		rd_t r = {dl_buf_head(&b), dl_buf_head(&b) + dl_buf_used(&b)};

		ASSERT_EQ(rd_varint(&r), 1 << 3 | 2);
		rd_label(rd_sub(&r), &s);
		ASSERT_EQ(strlen(s.value[0]), 200);
	}
	/* a full buffer refuses the series whole */
	dl_buf_free(&b);
	dl_buf_init(&b, 16);
	ASSERT_EQ(dl_rwp_series(&b, (const uint8_t *)"0123456789", 10, NULL, 0,
				1.0, 1),
		  DL_ETOOBIG);
	ASSERT_EQ(dl_buf_used(&b), 0);
	dl_buf_free(&b);
}

static void test_snappy_round_trip(void)
{
	dl_store_csample_t c = full_sample();
	dl_buf_t lab, body, z;
	size_t n;
	char *back;

	dl_buf_init(&lab, 8192);
	dl_buf_init(&body, 8u << 20);
	dl_buf_init(&z, 16u << 20);
	ASSERT_EQ(dl_rw_container_labels(&lab, "web-01", "api", "nginx:1",
					 "0123456789abcdef"),
		  0);
	for (int i = 0; i < 5000; i++) {
		c.cid = i;
		c.ts += 1000000000ll;
		c.v.mem_usage += (uint64_t)i * 4096;
		ASSERT_EQ(dl_rw_encode_container(&body, &c, dl_buf_head(&lab),
						 dl_buf_used(&lab)),
			  8);
	}
	ASSERT_EQ(dl_rwp_compress(dl_buf_head(&body), dl_buf_used(&body), &z),
		  0);
	ASSERT_LT(dl_buf_used(&z), dl_buf_used(&body) / 4);
	ASSERT_EQ(snappy_validate_compressed_buffer(
			  (const char *)dl_buf_head(&z), dl_buf_used(&z)),
		  SNAPPY_OK);
	ASSERT_EQ(snappy_uncompressed_length((const char *)dl_buf_head(&z),
					     dl_buf_used(&z), &n),
		  SNAPPY_OK);
	ASSERT_EQ(n, dl_buf_used(&body));
	back = malloc(n);
	ASSERT(back != NULL);
	ASSERT_EQ(snappy_uncompress((const char *)dl_buf_head(&z),
				    dl_buf_used(&z), back, &n),
		  SNAPPY_OK);
	ASSERT_EQ(memcmp(back, dl_buf_head(&body), n), 0);
	{
		series_t *s = malloc(40000 * sizeof(*s));

		ASSERT(s != NULL);
		ASSERT_EQ(rd_request((const uint8_t *)back, n, s, 40000),
			  40000);
		ASSERT(s[39999].v ==
		       (double)c.v.blk_write_bytes); /* the last one */
		free(s);
	}
	/* a cap too small for the compressed form */
	dl_buf_free(&z);
	dl_buf_init(&z, 1024);
	ASSERT_EQ(dl_rwp_compress(dl_buf_head(&body), dl_buf_used(&body), &z),
		  DL_ETOOBIG);
	free(back);
	dl_buf_free(&lab);
	dl_buf_free(&body);
	dl_buf_free(&z);
}

/* The worker never runs here: the tap fills the ring, which keeps the
 * newest `queue` samples. */
static void test_queue_drops_oldest(void)
{
	dl_rw_conf_t conf = {.enabled = true,
			     .url = "http://127.0.0.1:9/api/v1/write",
			     .timeout_s = 1,
			     .batch = 100,
			     .queue = 1000};
	dl_store_csample_t c[100];
	dl_store_hsample_t h = {.host = "a"};
	dl_rw_counters_t k;
	char err[256];
	dl_rw_t *rw = dl_rw_new(&conf, "/nonexistent.db", err, sizeof(err));

	ASSERT(rw != NULL);
	for (int i = 0; i < 100; i++)
		c[i] = full_sample(); /* 8 series each */
	dl_rw_tap(rw, c, 100, &h, 1); /* 809 */
	dl_rw_counters(rw, &k);
	ASSERT_EQ(k.queued, 809);
	ASSERT_EQ(k.dropped_full, 0);
	dl_rw_tap(rw, c, 100, NULL, 0); /* 1609: the oldest rows go */
	dl_rw_counters(rw, &k);
	/* 77 of the oldest container rows (8 each) make room; the host
	 * row, newer than them, stays */
	ASSERT_EQ(k.queued, 1609 - 77 * 8);
	ASSERT_EQ(k.dropped_full, 77 * 8);
	ASSERT_EQ(k.sent, 0);
	dl_rw_free(rw);

	/* two connections: each ring holds half the bound, and what is
	 * kept plus what was dropped is what came */
	conf.connections = 2;
	ASSERT((rw = dl_rw_new(&conf, "/nonexistent.db", err, sizeof(err))));
	for (int i = 0; i < 100; i++)
		c[i].cid = i + 1; /* spread over both */
	dl_rw_tap(rw, c, 100, &h, 1);
	dl_rw_tap(rw, c, 100, NULL, 0);
	dl_rw_counters(rw, &k);
	ASSERT_LE(k.queued, 1000);
	ASSERT_GT(k.queued, 1000 - 2 * 8);
	ASSERT_GT(k.dropped_full, 0);
	ASSERT_EQ(k.queued + k.dropped_full, 1609);
	dl_rw_free(rw);
}

static void test_token_file(void)
{
	char path[] = "/tmp/dl-rw-token-XXXXXX", err[256];
	dl_rw_conf_t conf = {.enabled = true,
			     .url = "http://127.0.0.1:9/w",
			     .timeout_s = 1,
			     .batch = 100,
			     .queue = 1000};
	int fd = mkstemp(path);
	dl_rw_t *rw;

	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, "s3cret token\n", 13), 13);
	close(fd);
	snprintf(conf.bearer_token_file, sizeof(conf.bearer_token_file), "%s",
		 path);
	ASSERT(dl_rw_new(&conf, "/x.db", err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "bearer_token_file") != NULL);
	ASSERT(strstr(err, "s3cret") == NULL);
	fd = open(path, O_WRONLY | O_TRUNC);
	ASSERT_EQ(write(fd, "s3cret\n", 7), 7);
	close(fd);
	ASSERT((rw = dl_rw_new(&conf, "/x.db", err, sizeof(err))) != NULL);
	dl_rw_free(rw);
	unlink(path);
	snprintf(conf.bearer_token_file, sizeof(conf.bearer_token_file),
		 "/nonexistent/token");
	ASSERT(dl_rw_new(&conf, "/x.db", err, sizeof(err)) == NULL);
	ASSERT(strstr(err, "/nonexistent/token") != NULL);
}

/* ---- collector.conf [remote_write] ---- */

static int load(const char *body, dl_cconf_t *c, char *err, size_t n)
{
	char path[] = "/tmp/dl-rw-conf-XXXXXX";
	int fd = mkstemp(path), rc;
	size_t len = strlen(body);

	ASSERT(fd >= 0);
	ASSERT_EQ(write(fd, body, len), (long)len);
	close(fd);
	rc = dl_cconf_load(c, path, err, n);
	unlink(path);
	return rc;
}

static void test_conf(void)
{
	static const struct {
		const char *body, *want; /* want NULL: loads */
	} t[] = {
		{"[remote_write]\nurl = http://127.0.0.1:9090/api/v1/write\n",
		 NULL},
		{"[remote_write]\nurl = https://m.example/api/v1/push\n"
		 "bearer_token_file = /etc/dockline/rw.token\n"
		 "header1 = X-Scope-OrgID: fleet-a\ntimeout = 10s\n"
		 "batch = 5000\nqueue = 500000\nconnections = 8\n",
		 NULL},
		{"[remote_write]\nbatch = 5000\n",
		 ":2: [remote_write] needs url"},
		{"[remote_write]\nurl = ftp://x/y\n", ":2: [remote_write] url"},
		{"[remote_write]\nurl = http://\n", ":2: [remote_write] url"},
		{"[remote_write]\n\nurl = http://u:p@h/w\n",
		 ":3: [remote_write] url must not hold credentials"},
		{"[remote_write]\nurl = http://h/w\nheader2 = Authorization: "
		 "x\n",
		 ":3: [remote_write] header2 names a header"},
		{"[remote_write]\nurl = http://h/w\nheader1 = no colon\n",
		 ":3: [remote_write] header1 must be"},
		{"[remote_write]\nurl = http://h/w\nbatch = 50000\nqueue = "
		 "2000\n",
		 ":4: [remote_write] queue must be at least batch"},
		{"[remote_write]\nurl = http://h/w\nconnections = 33\n",
		 "connections"},
		{"[remote_write]\nurl = http://h/w\nbatch = 10\n", "batch"},
		{"[remote_write]\nurl = http://h/w\nbearer_token_file = t\n",
		 ":3: [remote_write] bearer_token_file must be an absolute"},
		{"[remote_write]\nurl = http://h/w\nheader5 = A: b\n",
		 "header5"},
	};
	char err[512];
	dl_cconf_t c;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = load(t[i].body, &c, err, sizeof(err));

		if (!t[i].want) {
			if (rc)
				DL_FAIL_("case %zu: %s", i, err);
			ASSERT(c.rw.enabled);
			continue;
		}
		ASSERT_EQ(rc, DL_ECONFIG);
		if (!strstr(err, t[i].want))
			DL_FAIL_("case %zu: \"%s\" lacks \"%s\"", i, err,
				 t[i].want);
	}
	ASSERT_EQ(load(t[1].body, &c, err, sizeof(err)), 0);
	ASSERT_STR_EQ(c.rw.url, "https://m.example/api/v1/push");
	ASSERT_STR_EQ(c.rw.bearer_token_file, "/etc/dockline/rw.token");
	ASSERT_EQ(c.rw.nheaders, 1);
	ASSERT_STR_EQ(c.rw.headers[0], "X-Scope-OrgID: fleet-a");
	ASSERT_EQ(c.rw.timeout_s, 10);
	ASSERT_EQ(c.rw.batch, 5000);
	ASSERT_EQ(c.rw.queue, 500000);
	ASSERT_EQ(c.rw.connections, 8);
	/* no section: off, defaults */
	ASSERT_EQ(load("[collector]\nlog_level = warn\n", &c, err, sizeof(err)),
		  0);
	ASSERT(!c.rw.enabled);
}

int main(void)
{
	dl_log_set_level(DL_LOG_LEVEL_ERROR);
	RUN(test_varint);
	RUN(test_container_series);
	RUN(test_host_series);
	RUN(test_label_bounds);
	RUN(test_snappy_round_trip);
	RUN(test_queue_drops_oldest);
	RUN(test_token_file);
	RUN(test_conf);
	return 0;
}
