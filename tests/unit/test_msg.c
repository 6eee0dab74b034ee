/* test_msg.c - message codec: round trips of every type, table-driven
 * malformed payloads, truncation at every offset and a garbage loop. */
#include "proto/msg.h"

#include "common/err.h"
#include "proto/frame.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

#define ASSERT_STR_IS(s, c)                                                    \
	do {                                                                   \
		char tmp_[DL_MAX_TEXT + 1];                                    \
		dl_str_copy(tmp_, sizeof(tmp_), (s));                          \
		ASSERT_STR_EQ(tmp_, (c));                                      \
	} while (0)

static uint64_t rng_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

/* Encodes m as one frame and checks the header against the payload. */
static void encode(dl_buf_t *b, const dl_msg_t *m)
{
	dl_buf_init(b, 64u * 1024 * 1024);
	ASSERT_EQ(dl_msg_encode(b, m), 0);
	ASSERT_GT(dl_buf_used(b), DL_FRAME_HDR);
	ASSERT_EQ(dl_frame_get_len(dl_buf_head(b)),
		  dl_buf_used(b) - DL_FRAME_HDR);
}

/* Encodes and decodes m into out; the payload is scribbled over before
 * out is checked, so decoded strings must not point into it. */
static void round_trip(const dl_msg_t *m, dl_msg_t *out)
{
	dl_buf_t b;
	char why[256];

	encode(&b, m);
	ASSERT_EQ(dl_msg_decode(out, dl_buf_head(&b) + DL_FRAME_HDR,
				dl_buf_used(&b) - DL_FRAME_HDR, why,
				sizeof(why)),
		  0);
	ASSERT_STR_EQ(why, "");
	ASSERT_EQ(out->type, m->type);
	memset(dl_buf_head(&b), 0xee, dl_buf_used(&b));
	dl_buf_free(&b);
}

static int decode_raw(const void *p, size_t n, char *why, size_t whylen)
{
	dl_msg_t m;
	int rc = dl_msg_decode(&m, p, n, why, whylen);

	dl_msg_release(&m);
	return rc;
}

/* ------------------------------------------------------------------ */
/* A tiny text notation for msgpack, so malformed inputs read as a table:
 *   123 -5        integers (unsigned when positive)
 *   "abc"         str (no escapes)
 *   s300          str of 300 'x'     b4   bin of 4 bytes
 *   t f n d       true false nil 1.5
 *   m             the map {1: 2}
 *   [a, b]        array
 *   *65[...]      the next value repeated 65 times in the enclosing array */

typedef struct {
	const char *p;
	msgpack_packer pk;
} txt_t;

static void skip_ws(txt_t *t)
{
	while (*t->p == ' ' || *t->p == ',')
		t->p++;
}

static unsigned long num(txt_t *t)
{
	char *end;
	unsigned long v = strtoul(t->p, &end, 10);

	t->p = end;
	return v;
}

static void pack_value(txt_t *t, msgpack_packer *pk);

/* Packs the elements of an array into a side buffer to count them. */
static void pack_array(txt_t *t, msgpack_packer *pk)
{
	msgpack_sbuffer sb;
	msgpack_packer sub;
	size_t n = 0;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&sub, &sb, msgpack_sbuffer_write);
	t->p++; /* '[' */
	for (skip_ws(t); *t->p != ']'; skip_ws(t)) {
		unsigned long rep = 1;

		ASSERT(*t->p != '\0');
		if (*t->p == '*') {
			t->p++;
			rep = num(t);
		}
		const char *start = t->p;
		for (unsigned long i = 0; i < rep; i++) {
			t->p = start;
			pack_value(t, &sub);
			n++;
		}
	}
	t->p++;
	msgpack_pack_array(pk, n);
	msgpack_pack_str_body(pk, sb.data, sb.size); /* raw bytes */
	msgpack_sbuffer_destroy(&sb);
}

static void pack_value(txt_t *t, msgpack_packer *pk)
{
	static char x[DL_FRAME_MAX];
	char c;

	skip_ws(t);
	c = *t->p;
	if (c == '[') {
		pack_array(t, pk);
	} else if (c == '"') {
		const char *end = strchr(t->p + 1, '"');

		ASSERT(end);
		msgpack_pack_str_with_body(pk, t->p + 1, end - t->p - 1);
		t->p = end + 1;
	} else if (c == '-') {
		char *end;
		long long v = strtoll(t->p, &end, 10);

		msgpack_pack_int64(pk, v);
		t->p = end;
	} else if (c >= '0' && c <= '9') {
		char *end;
		unsigned long long v = strtoull(t->p, &end, 10);

		msgpack_pack_uint64(pk, v);
		t->p = end;
	} else if (c == 's' || c == 'b') {
		unsigned long n;

		t->p++;
		n = num(t);
		ASSERT(n <= sizeof(x));
		memset(x, 'x', n);
		if (c == 's')
			msgpack_pack_str_with_body(pk, x, n);
		else
			msgpack_pack_bin_with_body(pk, x, n);
	} else {
		t->p++;
		switch (c) {
		case 't': msgpack_pack_true(pk); break;
		case 'f': msgpack_pack_false(pk); break;
		case 'n': msgpack_pack_nil(pk); break;
		case 'd': msgpack_pack_double(pk, 1.5); break;
		case 'm':
			msgpack_pack_map(pk, 1);
			msgpack_pack_int(pk, 1);
			msgpack_pack_int(pk, 2);
			break;
		default: DL_FAIL_("bad notation at \"%s\"", t->p - 1);
		}
	}
}

static void pack_text(const char *text, msgpack_sbuffer *sb)
{
	txt_t t = {.p = text};
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	pack_value(&t, &pk);
	skip_ws(&t);
	ASSERT(*t.p == '\0');
}

/* ------------------------------------------------------------------ */
/* Round trips                                                         */

static void test_hello(void)
{
	dl_msg_t m = {.type = DL_MSG_HELLO}, d;

	m.u.hello.proto_version = DL_PROTO_VERSION;
	m.u.hello.software = DL_STR("dockline-agent 0.1.0");
	m.u.hello.epoch = 0x1122334455667788ull;
	m.u.hello.ncaps = DL_MAX_CAPS;
	for (int i = 0; i < DL_MAX_CAPS; i++)
		m.u.hello.caps[i] = i % 2 ? DL_STR("stats") : DL_STR("events");
	m.u.hello.last_epoch = UINT64_MAX;
	m.u.hello.last_seq = 42;
	m.u.hello.host = DL_STR("web-01");
	round_trip(&m, &d);
	ASSERT_EQ(d.u.hello.proto_version, DL_PROTO_VERSION);
	ASSERT_STR_IS(d.u.hello.software, "dockline-agent 0.1.0");
	ASSERT(d.u.hello.epoch == 0x1122334455667788ull);
	ASSERT_EQ(d.u.hello.ncaps, DL_MAX_CAPS);
	ASSERT_STR_IS(d.u.hello.caps[0], "events");
	ASSERT_STR_IS(d.u.hello.caps[31], "stats");
	ASSERT(d.u.hello.last_epoch == UINT64_MAX);
	ASSERT_EQ(d.u.hello.last_seq, 42);
	ASSERT_STR_IS(d.u.hello.host, "web-01");
	dl_msg_release(&d);

	/* No caps, empty host: the agent's side of the greeting. */
	m.u.hello.ncaps = 0;
	m.u.hello.host = (dl_str_t){NULL, 0};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.hello.ncaps, 0);
	ASSERT_EQ(d.u.hello.host.n, 0);
	ASSERT(d.u.hello.host.p != NULL);
	ASSERT_EQ(d.u.hello.time_ns, 0); /* not sent: an older peer */
	dl_msg_release(&d);

	/* The optional trailing clock, for the collector's skew figure. */
	m.u.hello.time_ns = 1764540000123456789ull;
	round_trip(&m, &d);
	ASSERT(d.u.hello.time_ns == 1764540000123456789ull);
	dl_msg_release(&d);
}

static void test_small(void)
{
	dl_msg_t m = {.type = DL_MSG_ERROR}, d;

	m.u.error.code = DL_EVERSION;
	m.u.error.message = DL_STR("collector speaks version 1, agent 2");
	round_trip(&m, &d);
	ASSERT_EQ(d.u.error.code, DL_EVERSION);
	ASSERT_STR_IS(d.u.error.message, "collector speaks version 1, agent 2");
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_ERROR};
	m.u.error.code = INT32_MIN;
	round_trip(&m, &d);
	ASSERT_EQ(d.u.error.code, INT32_MIN);
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_PING, .u.nonce = UINT64_MAX - 1};
	round_trip(&m, &d);
	ASSERT(d.u.nonce == UINT64_MAX - 1);
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_PONG, .u.nonce = 7};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.nonce, 7);
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_ACK};
	m.u.ack.epoch = 1700000000123456789ull;
	m.u.ack.seq = 99;
	round_trip(&m, &d);
	ASSERT(d.u.ack.epoch == 1700000000123456789ull);
	ASSERT_EQ(d.u.ack.seq, 99);
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_ATTACH};
	m.u.attach.host = DL_STR("db-7");
	m.u.attach.flags = DL_ATTACH_RESUME;
	round_trip(&m, &d);
	ASSERT_STR_IS(d.u.attach.host, "db-7");
	ASSERT_EQ(d.u.attach.flags, DL_ATTACH_RESUME);
	ASSERT(!dl_msg_is_data(d.type));
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_RESTART};
	m.u.restart_reason = DL_STR("serve came back after 2.1 s");
	round_trip(&m, &d);
	ASSERT_STR_IS(d.u.restart_reason, "serve came back after 2.1 s");
	ASSERT(!dl_msg_is_data(d.type));
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_BYE};
	m.u.bye.retry_after_s = UINT32_MAX;
	m.u.bye.reason = DL_STR("collector is stopping");
	round_trip(&m, &d);
	ASSERT_EQ(d.u.bye.retry_after_s, UINT32_MAX);
	ASSERT_STR_IS(d.u.bye.reason, "collector is stopping");
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_BYE}; /* empty reason */
	round_trip(&m, &d);
	ASSERT_EQ(d.u.bye.retry_after_s, 0);
	ASSERT_EQ(d.u.bye.reason.n, 0);
	dl_msg_release(&d);

	m = (dl_msg_t){
		.type = DL_MSG_DROPPED, .epoch = 5, .seq = 6, .time_ns = 7};
	m.u.dropped.frames = 1234;
	m.u.dropped.bytes = 1ull << 40;
	round_trip(&m, &d);
	ASSERT(dl_msg_is_data(d.type));
	ASSERT_EQ(d.epoch, 5);
	ASSERT_EQ(d.seq, 6);
	ASSERT_EQ(d.time_ns, 7);
	ASSERT_EQ(d.u.dropped.frames, 1234);
	ASSERT(d.u.dropped.bytes == 1ull << 40);
	dl_msg_release(&d);
}

static void fill_container(dl_container_t *c, uint32_t i, char *name,
			   size_t namelen)
{
	snprintf(name, namelen, "svc-%u", i);
	c->idx = i;
	c->id = DL_STR("4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7"
		       "f6e5d4c3b");
	c->name = DL_STR(name);
	c->image = DL_STR("registry.example.com/team/app:1.2.3");
	c->state = DL_STR("running");
	c->status = DL_STR("Up 3 minutes (healthy)");
	c->health = DL_STR("healthy");
	c->created = i == 0 ? INT64_MIN : 1700000000 + i;
	c->d = (dl_cdetail_t){0};
}

static void check_container(const dl_container_t *c, uint32_t i)
{
	char name[32];

	snprintf(name, sizeof(name), "svc-%u", i);
	ASSERT_EQ(c->idx, i);
	ASSERT_EQ(c->id.n, 64);
	ASSERT_STR_IS(c->name, name);
	ASSERT_STR_IS(c->image, "registry.example.com/team/app:1.2.3");
	ASSERT_STR_IS(c->state, "running");
	ASSERT_STR_IS(c->status, "Up 3 minutes (healthy)");
	ASSERT_STR_IS(c->health, "healthy");
	ASSERT_EQ(c->created, i == 0 ? INT64_MIN : 1700000000 + (int64_t)i);
}

static void test_inventory(void)
{
	dl_container_t v[50];
	char names[50][32];
	dl_msg_t m = {.type = DL_MSG_INVENTORY,
		      .epoch = 11,
		      .seq = 12,
		      .time_ns = 13},
		 d;

	for (uint32_t i = 0; i < 50; i++)
		fill_container(&v[i], i, names[i], sizeof(names[i]));
	m.u.inventory.n = 50;
	m.u.inventory.v = v;
	round_trip(&m, &d);
	ASSERT_EQ(d.epoch, 11);
	ASSERT_EQ(d.seq, 12);
	ASSERT_EQ(d.time_ns, 13);
	ASSERT_EQ(d.u.inventory.n, 50);
	for (uint32_t i = 0; i < 50; i++)
		check_container(&d.u.inventory.v[i], i);
	dl_msg_release(&d);

	m.u.inventory.n = 0;
	m.u.inventory.v = NULL;
	round_trip(&m, &d);
	ASSERT_EQ(d.u.inventory.n, 0);
	dl_msg_release(&d);

	m = (dl_msg_t){
		.type = DL_MSG_CONTAINER, .epoch = 1, .seq = 2, .time_ns = 3};
	m.u.container.removed = true;
	fill_container(&m.u.container.c, 7, names[0], sizeof(names[0]));
	round_trip(&m, &d);
	ASSERT(d.u.container.removed);
	check_container(&d.u.container.c, 7);
	dl_msg_release(&d);
}

/* An inventory over a frame: split, each part encoded under its own seq
 * (id + part), decoded back, the containers in order and none lost; a
 * part of the split stays within the limit it was cut for. */
static void test_inventory_parts(void)
{
	enum { N = 20000 };
	static dl_container_t v[N];
	static char names[N][32];
	static uint32_t starts[DL_MAX_INVENTORY_PARTS];
	uint32_t k = 0, seen = 0;
	size_t total = 0, one, sum = 0;
	dl_buf_t b;
	dl_msg_t d;

	for (uint32_t i = 0; i < N; i++)
		fill_container(&v[i], i, names[i], sizeof(names[i]));
	one = dl_msg_container_size(&v[1]);
	ASSERT_GT(one, 100);
	/* 20000 of them pass 1 MiB: one frame refuses them. */
	{
		dl_msg_t m = {.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 9};

		m.u.inventory.n = N;
		m.u.inventory.v = v;
		dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
		ASSERT_EQ(dl_msg_encode(&b, &m), DL_ETOOBIG);
		dl_buf_free(&b);
	}
	ASSERT_EQ(dl_msg_inventory_split(v, N, DL_FRAME_MAX, starts,
					 DL_MAX_INVENTORY_PARTS, &k, &total),
		  0);
	ASSERT_GE(k, 2);
	ASSERT_LE(k, 4);
	ASSERT_EQ(starts[0], 0);
	for (uint32_t i = 0; i < k; i++) {
		uint32_t end = i + 1 < k ? starts[i + 1] : N;
		dl_msg_t m = {.type = DL_MSG_INVENTORY,
			      .epoch = 5,
			      .seq = 100 + i,
			      .time_ns = 7};

		ASSERT_LT(starts[i], end);
		m.u.inventory.v = v + starts[i];
		m.u.inventory.n = end - starts[i];
		m.u.inventory.id = 100;
		m.u.inventory.part = i;
		m.u.inventory.parts = k;
		dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
		ASSERT_EQ(dl_msg_encode(&b, &m), 0);
		ASSERT(dl_msg_frame_is_inventory_part(dl_buf_head(&b),
						      dl_buf_used(&b)));
		ASSERT_LE(dl_buf_used(&b) - DL_FRAME_HDR, DL_FRAME_MAX);
		sum += dl_buf_used(&b) - DL_FRAME_HDR;
		ASSERT_EQ(dl_msg_decode(&d, dl_buf_head(&b) + DL_FRAME_HDR,
					dl_buf_used(&b) - DL_FRAME_HDR, NULL,
					0),
			  0);
		ASSERT_EQ(d.u.inventory.id, 100);
		ASSERT_EQ(d.u.inventory.part, i);
		ASSERT_EQ(d.u.inventory.parts, k);
		for (uint32_t j = 0; j < d.u.inventory.n; j++)
			check_container(&d.u.inventory.v[j], seen++);
		dl_msg_release(&d);
		dl_buf_free(&b);
	}
	ASSERT_EQ(seen, N);
	ASSERT_LE(sum, total); /* the head is counted generously */

	/* A small limit: many parts, each cut where the next container
	 * would pass it. */
	ASSERT_EQ(dl_msg_inventory_split(v, 120, 4096, starts,
					 DL_MAX_INVENTORY_PARTS, &k, &total),
		  0);
	ASSERT_EQ(k, (120 * one + (4096 - DL_INVENTORY_PART_HEAD) / one * one -
		      1) / ((4096 - DL_INVENTORY_PART_HEAD) / one * one));
	/* Fits one part: one. Empty: one. */
	ASSERT_EQ(dl_msg_inventory_split(v, 3, DL_FRAME_MAX, starts, 8, &k,
					 &total),
		  0);
	ASSERT_EQ(k, 1);
	ASSERT_EQ(dl_msg_inventory_split(v, 0, DL_FRAME_MAX, starts, 8, &k,
					 &total),
		  0);
	ASSERT_EQ(k, 1);
	/* Refusals: too few parts allowed, a container over the limit,
	 * more than the containers' bound. */
	ASSERT_EQ(dl_msg_inventory_split(v, 120, 4096, starts, 2, &k, &total),
		  DL_ETOOBIG);
	ASSERT_EQ(dl_msg_inventory_split(v, 3, DL_INVENTORY_PART_HEAD + one - 1,
					 starts, 8, &k, &total),
		  DL_ETOOBIG);
	ASSERT_EQ(dl_msg_inventory_split(v, N + 1, DL_FRAME_MAX, starts, 8, &k,
					 &total),
		  DL_EINVAL);

	/* The encoder refuses what the decoder would: id + part != seq,
	 * part >= parts. A whole inventory is not a part. */
	{
		dl_msg_t m = {.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 10};

		m.u.inventory.v = v;
		m.u.inventory.n = 2;
		m.u.inventory.id = 9;
		m.u.inventory.part = 0;
		m.u.inventory.parts = 2;
		dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
		ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
		m.u.inventory.part = 2;
		m.u.inventory.id = 8;
		ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
		m.u.inventory.parts = 0;
		ASSERT_EQ(dl_msg_encode(&b, &m), 0);
		ASSERT(!dl_msg_frame_is_inventory_part(dl_buf_head(&b),
						       dl_buf_used(&b)));
		dl_buf_free(&b);
	}
}

static void fill_detail(dl_container_t *c)
{
	c->d.has = true;
	c->d.started_at = 1764540000123456789ull;
	c->d.finished_at = UINT64_MAX;
	c->d.exit_code = INT32_MIN;
	c->d.oom_killed = true;
	c->d.restarting = false;
	c->d.restart_count = UINT32_MAX;
	c->d.health_streak = 3;
	c->d.health_output = DL_STR("curl: (7) Failed to connect\n");
}

/* The inspect facts ride as elements 8..15; without them a container
 * encodes as the 8 elements an older agent sends. */
static void test_container_detail(void)
{
	dl_container_t v[3];
	char names[3][32];
	char out[DL_MAX_HEALTH_OUTPUT];
	dl_msg_t m = {.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 2}, d;

	memset(v, 0, sizeof(v));
	for (uint32_t i = 0; i < 3; i++)
		fill_container(&v[i], i, names[i], sizeof(names[i]));
	fill_detail(&v[1]);
	memset(out, 'x', sizeof(out));
	v[2].d.has = true; /* zeros: never started, no output */
	v[2].d.health_output = (dl_str_t){out, sizeof(out)};
	m.u.inventory.n = 3;
	m.u.inventory.v = v;
	round_trip(&m, &d);
	ASSERT_EQ(d.u.inventory.n, 3);
	for (uint32_t i = 0; i < 3; i++)
		check_container(&d.u.inventory.v[i], i);
	ASSERT(!d.u.inventory.v[0].d.has);
	ASSERT_EQ(d.u.inventory.v[0].d.started_at, 0);
	ASSERT(d.u.inventory.v[1].d.has);
	ASSERT(d.u.inventory.v[1].d.started_at == 1764540000123456789ull);
	ASSERT(d.u.inventory.v[1].d.finished_at == UINT64_MAX);
	ASSERT_EQ(d.u.inventory.v[1].d.exit_code, INT32_MIN);
	ASSERT(d.u.inventory.v[1].d.oom_killed);
	ASSERT(!d.u.inventory.v[1].d.restarting);
	ASSERT_EQ(d.u.inventory.v[1].d.restart_count, UINT32_MAX);
	ASSERT_EQ(d.u.inventory.v[1].d.health_streak, 3);
	ASSERT_STR_IS(d.u.inventory.v[1].d.health_output,
		      "curl: (7) Failed to connect\n");
	ASSERT(d.u.inventory.v[2].d.has);
	ASSERT_EQ(d.u.inventory.v[2].d.started_at, 0);
	ASSERT_EQ(d.u.inventory.v[2].d.health_output.n, DL_MAX_HEALTH_OUTPUT);
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_CONTAINER, .seq = 3};
	fill_container(&m.u.container.c, 9, names[0], sizeof(names[0]));
	fill_detail(&m.u.container.c);
	m.u.container.c.d.exit_code = 137;
	round_trip(&m, &d);
	check_container(&d.u.container.c, 9);
	ASSERT(d.u.container.c.d.has);
	ASSERT_EQ(d.u.container.c.d.exit_code, 137);
	dl_msg_release(&d);

	/* The encoder refuses an output the decoder would reject. */
	{
		char big[DL_MAX_HEALTH_OUTPUT + 1];
		dl_buf_t b;

		memset(big, 'y', sizeof(big));
		m.u.container.c.d.health_output = (dl_str_t){big, sizeof(big)};
		dl_buf_init(&b, DL_FRAME_MAX + DL_FRAME_HDR);
		ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
		ASSERT_EQ(dl_buf_used(&b), 0);
		dl_buf_free(&b);
	}
}

/* Labels ride as elements 16..17 after the inspect group; bounds drop
 * and count, never fail. */
static void test_container_labels(void)
{
	static dl_attr_t l[70];
	static char keys[70][16], bigk[DL_MAX_LABEL_KEY + 2];
	char name[32];
	dl_msg_t m = {.type = DL_MSG_CONTAINER, .seq = 1}, d;

	for (int i = 0; i < 70; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%02d", i);
		l[i].key = DL_STR(keys[i]);
		l[i].value = DL_STR(i ? "v" : "");
	}
	fill_container(&m.u.container.c, 4, name, sizeof(name));
	fill_detail(&m.u.container.c);
	m.u.container.c.labels = (dl_labels_t){.has = true, .n = 2, .v = l};
	round_trip(&m, &d);
	check_container(&d.u.container.c, 4);
	ASSERT(d.u.container.c.d.has);
	ASSERT(d.u.container.c.labels.has);
	ASSERT_EQ(d.u.container.c.labels.n, 2);
	ASSERT_EQ(d.u.container.c.labels.dropped, 0);
	ASSERT_STR_IS(d.u.container.c.labels.v[0].key, "k00");
	ASSERT_STR_IS(d.u.container.c.labels.v[0].value, "");
	ASSERT_STR_IS(d.u.container.c.labels.v[1].value, "v");
	dl_msg_release(&d);

	/* 70 labels and an over-long key: 64 sent, the rest counted */
	memset(bigk, 'K', sizeof(bigk) - 1);
	bigk[sizeof(bigk) - 1] = '\0';
	l[3].key = DL_STR(bigk);
	m.u.container.c.labels =
		(dl_labels_t){.has = true, .n = 70, .v = l, .dropped = 2};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.container.c.labels.n, DL_MAX_LABELS);
	ASSERT_EQ(d.u.container.c.labels.dropped, 2 + 6);
	ASSERT_STR_IS(d.u.container.c.labels.v[3].key, "k04");
	dl_msg_release(&d);

	/* without the inspect group no labels go (an older layout) */
	m.u.container.c.d.has = false;
	round_trip(&m, &d);
	ASSERT(!d.u.container.c.d.has);
	ASSERT(!d.u.container.c.labels.has);
	dl_msg_release(&d);

	/* an older agent's 16 elements: labels unknown, not empty */
	fill_detail(&m.u.container.c);
	m.u.container.c.labels.has = false;
	round_trip(&m, &d);
	ASSERT(d.u.container.c.d.has);
	ASSERT(!d.u.container.c.labels.has);
	ASSERT_EQ(d.u.container.c.labels.n, 0);
	dl_msg_release(&d);
}

/* A hand-made frame beyond the bounds (a peer that does not cap): the
 * decoder keeps what fits and counts the rest. */
static void test_labels_decode_bounds(void)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char big[DL_MAX_LABEL_VALUE + 1], key[16], why[256];
	dl_msg_t d;

	memset(big, 'v', sizeof(big));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint32(&pk, DL_MSG_CONTAINER);
	for (int i = 0; i < 3; i++)
		msgpack_pack_uint64(&pk, 1);
	msgpack_pack_false(&pk);
	msgpack_pack_array(&pk, 18);
	msgpack_pack_uint32(&pk, 1);
	for (int i = 0; i < 6; i++)
		msgpack_pack_str_with_body(&pk, "x", 1);
	msgpack_pack_int64(&pk, 0);
	for (int i = 0; i < 2; i++)
		msgpack_pack_uint64(&pk, 0);
	msgpack_pack_int32(&pk, 0);
	msgpack_pack_false(&pk);
	msgpack_pack_false(&pk);
	for (int i = 0; i < 2; i++)
		msgpack_pack_uint32(&pk, 0);
	msgpack_pack_str_with_body(&pk, "", 0);
	msgpack_pack_array(&pk, 80);
	for (int i = 0; i < 80; i++) {
		int n = snprintf(key, sizeof(key), "k%d", i);

		if (i == 0) { /* not a pair */
			msgpack_pack_uint32(&pk, 7);
			continue;
		}
		msgpack_pack_array(&pk, 2);
		msgpack_pack_str_with_body(&pk, key, (size_t)n);
		/* label 1: value one byte too long */
		msgpack_pack_str_with_body(&pk, big, i == 1 ? sizeof(big) : 3);
	}
	msgpack_pack_uint32(&pk, 5);
	ASSERT_EQ(dl_msg_decode(&d, (const uint8_t *)sb.data, sb.size, why,
				sizeof(why)),
		  0);
	ASSERT(d.u.container.c.labels.has);
	ASSERT_EQ(d.u.container.c.labels.n, DL_MAX_LABELS);
	ASSERT_STR_IS(d.u.container.c.labels.v[0].key, "k2");
	ASSERT_EQ(d.u.container.c.labels.dropped, 5 + 2 + (78 - 64));
	dl_msg_release(&d);
	msgpack_sbuffer_destroy(&sb);
}

static void test_event_docker(void)
{
	dl_attr_t at[DL_MAX_ATTRS];
	dl_msg_t m = {.type = DL_MSG_EVENT, .epoch = 1, .seq = 2, .time_ns = 3},
		 d;

	for (int i = 0; i < DL_MAX_ATTRS; i++) {
		at[i].key = DL_STR(i % 2 ? "exitCode" : "image");
		at[i].value = DL_STR(i % 2 ? "137" : "nginx:1.25");
	}
	m.u.event.type = DL_STR("container");
	m.u.event.action = DL_STR("health_status: healthy");
	m.u.event.id = DL_STR("abc123");
	m.u.event.name = DL_STR("web");
	m.u.event.nattrs = DL_MAX_ATTRS;
	m.u.event.attrs = at;
	round_trip(&m, &d);
	ASSERT_STR_IS(d.u.event.type, "container");
	ASSERT(dl_str_eq(d.u.event.action, "health_status: healthy"));
	ASSERT(!dl_str_eq(d.u.event.action, "health_status: healthy!"));
	ASSERT(!dl_str_eq(d.u.event.action, "health_status"));
	ASSERT_STR_IS(d.u.event.id, "abc123");
	ASSERT_STR_IS(d.u.event.name, "web");
	ASSERT_EQ(d.u.event.nattrs, DL_MAX_ATTRS);
	ASSERT_STR_IS(d.u.event.attrs[0].key, "image");
	ASSERT_STR_IS(d.u.event.attrs[0].value, "nginx:1.25");
	ASSERT_STR_IS(d.u.event.attrs[63].key, "exitCode");
	ASSERT_STR_IS(d.u.event.attrs[63].value, "137");
	dl_msg_release(&d);

	m = (dl_msg_t){
		.type = DL_MSG_DOCKER, .epoch = 4, .seq = 5, .time_ns = 6};
	m.u.docker.up = true;
	m.u.docker.version = DL_STR("24.0.7");
	m.u.docker.api_version = DL_STR("1.43");
	m.u.docker.os = DL_STR("Debian GNU/Linux 12 (bookworm)");
	m.u.docker.kernel = DL_STR("6.1.0-13-amd64");
	m.u.docker.ncpu = UINT32_MAX;
	m.u.docker.mem_total = 33554432000ull;
	m.u.docker.reason = DL_STR("");
	round_trip(&m, &d);
	ASSERT(d.u.docker.up);
	ASSERT_STR_IS(d.u.docker.version, "24.0.7");
	ASSERT_STR_IS(d.u.docker.api_version, "1.43");
	ASSERT_STR_IS(d.u.docker.os, "Debian GNU/Linux 12 (bookworm)");
	ASSERT_STR_IS(d.u.docker.kernel, "6.1.0-13-amd64");
	ASSERT(d.u.docker.ncpu == UINT32_MAX);
	ASSERT(d.u.docker.mem_total == 33554432000ull);
	ASSERT_EQ(d.u.docker.reason.n, 0);
	dl_msg_release(&d);
}

static void test_stats(void)
{
	static dl_sample_t v[DL_MAX_SAMPLES];
	dl_msg_t m = {.type = DL_MSG_STATS,
		      .epoch = 9,
		      .seq = 10,
		      .time_ns = 1700000000000000000ull},
		 d;
	dl_buf_t b;

	for (uint32_t i = 0; i < 100; i++) {
		v[i] = (dl_sample_t){.idx = i + 1,
				     .valid = (uint32_t)(i % 64),
				     .cpu_ns = rnd(),
				     .mem_usage = rnd() >> (i % 64),
				     .mem_limit = i ? 0 : UINT64_MAX,
				     .net_rx_bytes = rnd(),
				     .net_tx_bytes = rnd() >> 3,
				     .net_rx_packets = i,
				     .net_tx_packets = 1ull << (i % 64),
				     .blk_read_bytes = rnd(),
				     .blk_write_bytes = 0,
				     .pids = i * 7};
	}
	m.u.stats.system_cpu_ns = UINT64_MAX;
	m.u.stats.online_cpus = 64;
	m.u.stats.n = 100;
	m.u.stats.v = v;
	round_trip(&m, &d);
	ASSERT_EQ(d.epoch, 9);
	ASSERT_EQ(d.seq, 10);
	ASSERT(d.time_ns == 1700000000000000000ull);
	ASSERT(d.u.stats.system_cpu_ns == UINT64_MAX);
	ASSERT_EQ(d.u.stats.online_cpus, 64);
	ASSERT_EQ(d.u.stats.n, 100);
	ASSERT(memcmp(d.u.stats.v, v, 100 * sizeof(v[0])) == 0);
	dl_msg_release(&d);

	/* empty batch */
	m.u.stats.n = 0;
	m.u.stats.v = NULL;
	round_trip(&m, &d);
	ASSERT_EQ(d.u.stats.n, 0);
	dl_msg_release(&d);

	/* small values take one byte each: 1 (array) + 12 */
	v[0] = (dl_sample_t){.idx = 1, .valid = 63, .pids = 1};
	m.u.stats.n = 1;
	m.u.stats.v = v;
	m.u.stats.system_cpu_ns = 0;
	encode(&b, &m);
	/* hdr 4 + [21,9,10,time(9),0,64] 1+1+1+1+9+1+1 + samples 1 + 13 */
	ASSERT_EQ(dl_buf_used(&b), 4 + 15 + 1 + 13);
	dl_buf_free(&b);

	/* refusals: over the count, and a batch over the frame cap */
	m.u.stats.n = DL_MAX_SAMPLES + 1;
	dl_buf_init(&b, 64u * 1024 * 1024);
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
	ASSERT_EQ(dl_buf_used(&b), 0);
	m.u.stats.n = 2;
	m.u.stats.v = NULL;
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
	for (uint32_t i = 0; i < DL_MAX_SAMPLES; i++) {
		memset(&v[i], 0xff, sizeof(v[i]));
		v[i].idx = i;
	}
	m.u.stats.n = DL_MAX_SAMPLES;
	m.u.stats.v = v;
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_ETOOBIG);
	ASSERT_EQ(dl_buf_used(&b), 0);
	dl_buf_free(&b);
}

static void test_hoststats(void)
{
	dl_msg_t m = {.type = DL_MSG_HOSTSTATS,
		      .epoch = 1,
		      .seq = 2,
		      .time_ns = 3},
		 d;
	dl_hoststats_t *h = &m.u.hoststats;

	*h = (dl_hoststats_t){.cpu_total_ns = 123456789012345ull,
			      .cpu_idle_ns = 100000000000ull,
			      .online_cpus = 8,
			      .mem_total = 16ull << 30,
			      .mem_used = 5ull << 30,
			      .mem_available = 11ull << 30,
			      .swap_total = UINT64_MAX,
			      .swap_used = 0,
			      .load1_x100 = 123,
			      .load5_x100 = UINT32_MAX,
			      .load15_x100 = 1,
			      .disk_used = 1ull << 40,
			      .disk_total = 2ull << 40,
			      .net_rx_bytes = 42,
			      .net_tx_bytes = 43};
	round_trip(&m, &d);
	ASSERT_EQ(d.seq, 2);
	ASSERT(memcmp(&d.u.hoststats, h, sizeof(*h)) == 0);
	dl_msg_release(&d);
}

static void test_str_helpers(void)
{
	char out[4];

	dl_str_copy(out, sizeof(out), DL_STR("abcdef"));
	ASSERT_STR_EQ(out, "abc");
	dl_str_copy(out, sizeof(out), (dl_str_t){NULL, 5});
	ASSERT_STR_EQ(out, "");
	dl_str_copy(out, 1, DL_STR("x"));
	ASSERT_STR_EQ(out, "");
	ASSERT(dl_str_eq((dl_str_t){NULL, 0}, ""));
	ASSERT(!dl_str_eq(DL_STR("a"), NULL));
	ASSERT_STR_EQ(dl_msg_type_name(DL_MSG_INVENTORY), "INVENTORY");
	ASSERT_STR_EQ(dl_msg_type_name((dl_msg_type_t)99), "UNKNOWN");
}

/* ------------------------------------------------------------------ */
/* Encoding refusals                                                   */

static void test_encode_refusals(void)
{
	static char big[DL_MAX_TEXT + 1];
	static dl_container_t many[DL_MAX_CONTAINERS];
	static dl_attr_t attrs[DL_MAX_ATTRS + 1];
	char name[16];
	dl_msg_t m = {.type = DL_MSG_ATTACH};
	dl_buf_t b;
	size_t before;

	memset(big, 'x', sizeof(big));
	dl_buf_init(&b, 8u * 1024 * 1024);
	/* Leave consumed bytes at the front so a compaction during the
	 * failed encode would show up as a wrong rollback. */
	ASSERT_EQ(dl_buf_append(&b, "0123456789", 10), 0);
	dl_buf_consume(&b, 3);
	before = dl_buf_used(&b);

	m.u.attach.host = (dl_str_t){big, DL_MAX_NAME + 1};
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
	ASSERT_EQ(dl_buf_used(&b), before);
	m.u.attach.host = (dl_str_t){big, DL_MAX_NAME};
	ASSERT_EQ(dl_msg_encode(&b, &m), 0);

	m = (dl_msg_t){.type = DL_MSG_CONTAINER};
	fill_container(&m.u.container.c, 1, name, sizeof(name));
	m.u.container.c.id = (dl_str_t){big, DL_MAX_ID + 1};
	before = dl_buf_used(&b);
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
	ASSERT_EQ(dl_buf_used(&b), before);

	m = (dl_msg_t){.type = DL_MSG_EVENT};
	m.u.event.nattrs = DL_MAX_ATTRS + 1;
	m.u.event.attrs = attrs;
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
	m = (dl_msg_t){.type = DL_MSG_HELLO};
	m.u.hello.ncaps = DL_MAX_CAPS + 1;
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
	m = (dl_msg_t){.type = (dl_msg_type_t)9};
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_EINVAL);
	ASSERT_EQ(dl_buf_used(&b), before);

	/* 20000 containers with 1 KiB images: far past DL_FRAME_MAX. */
	for (int i = 0; i < DL_MAX_CONTAINERS; i++) {
		many[i].image = (dl_str_t){big, DL_MAX_TEXT};
		many[i].id = DL_STR("id");
	}
	m = (dl_msg_t){.type = DL_MSG_INVENTORY};
	m.u.inventory.n = DL_MAX_CONTAINERS;
	m.u.inventory.v = many;
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_ETOOBIG);
	ASSERT_EQ(dl_buf_used(&b), before);
	ASSERT(memcmp(dl_buf_head(&b), "3456789", 7) == 0);

	/* The buffer's own cap. */
	dl_buf_free(&b);
	dl_buf_init(&b, 20);
	m = (dl_msg_t){.type = DL_MSG_ATTACH};
	m.u.attach.host = DL_STR("h");
	ASSERT_EQ(dl_msg_encode(&b, &m), 0);
	before = dl_buf_used(&b);
	m.u.attach.host = DL_STR("a-much-longer-host");
	ASSERT_EQ(dl_msg_encode(&b, &m), DL_ETOOBIG);
	ASSERT_EQ(dl_buf_used(&b), before);
	dl_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* Control messages                                                    */

static void test_control_round_trip(void)
{
	static char big[DL_MAX_BODY];
	static const char bin[] = {'a', 0, 'b', 0, 0, (char)0xff, '\n', 0};
	dl_msg_t m, d;
	dl_buf_t b;

	memset(big, 'j', sizeof(big));

	m = (dl_msg_t){.type = DL_MSG_REQUEST};
	m.u.request.id = UINT32_MAX;
	m.u.request.timeout_ms = 30000;
	m.u.request.op = DL_STR("stop");
	m.u.request.args = DL_STR("{\"container\":\"web\",\"t\":5}");
	round_trip(&m, &d);
	ASSERT(!dl_msg_is_data(d.type));
	ASSERT(d.u.request.id == UINT32_MAX);
	ASSERT_EQ(d.u.request.timeout_ms, 30000);
	ASSERT_STR_IS(d.u.request.op, "stop");
	ASSERT_STR_IS(d.u.request.args, "{\"container\":\"web\",\"t\":5}");
	dl_msg_release(&d);
	/* at the maxima */
	m.u.request.timeout_ms = UINT32_MAX;
	m.u.request.op = (dl_str_t){big, DL_MAX_OP};
	m.u.request.args = (dl_str_t){big, DL_MAX_ARGS};
	round_trip(&m, &d);
	ASSERT(d.u.request.timeout_ms == UINT32_MAX);
	ASSERT_EQ(d.u.request.op.n, DL_MAX_OP);
	ASSERT_EQ(d.u.request.args.n, DL_MAX_ARGS);
	ASSERT(memcmp(d.u.request.args.p, big, DL_MAX_ARGS) == 0);
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_RESPONSE};
	m.u.response.id = 7;
	m.u.response.body = DL_STR("{\"Id\":\"abc\",\"State\":{}}");
	round_trip(&m, &d);
	ASSERT_EQ(d.u.response.id, 7);
	ASSERT_EQ(d.u.response.status, 0);
	ASSERT_STR_IS(d.u.response.body, "{\"Id\":\"abc\",\"State\":{}}");
	dl_msg_release(&d);
	m.u.response.status = DL_ENOENT;
	m.u.response.body = DL_STR("stop: no such container: web");
	round_trip(&m, &d);
	ASSERT_EQ(d.u.response.status, DL_ENOENT);
	ASSERT_STR_IS(d.u.response.body, "stop: no such container: web");
	dl_msg_release(&d);
	m.u.response.status = INT32_MIN;
	m.u.response.body = (dl_str_t){NULL, 0};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.response.status, INT32_MIN);
	ASSERT_EQ(d.u.response.body.n, 0);
	ASSERT(d.u.response.body.p != NULL);
	dl_msg_release(&d);
	m.u.response.status = 0;
	m.u.response.body = (dl_str_t){big, DL_MAX_BODY};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.response.body.n, DL_MAX_BODY);
	ASSERT(memcmp(d.u.response.body.p, big, DL_MAX_BODY) == 0);
	dl_msg_release(&d);

	/* STREAM data is binary: zero bytes survive, fd 1 and 2. */
	for (uint32_t fd = 1; fd <= 2; fd++) {
		m = (dl_msg_t){.type = DL_MSG_STREAM};
		m.u.stream.id = 99;
		m.u.stream.fd = fd;
		m.u.stream.data = (dl_str_t){bin, sizeof(bin)};
		round_trip(&m, &d);
		ASSERT_EQ(d.u.stream.id, 99);
		ASSERT_EQ(d.u.stream.fd, fd);
		ASSERT_EQ(d.u.stream.data.n, sizeof(bin));
		ASSERT(memcmp(d.u.stream.data.p, bin, sizeof(bin)) == 0);
		dl_msg_release(&d);
	}
	/* the bytes on the wire: [50, 99, 2, bin8 8 ...] */
	encode(&b, &m);
	ASSERT_EQ(dl_buf_used(&b), DL_FRAME_HDR + 4 + 2 + sizeof(bin));
	ASSERT(memcmp(dl_buf_head(&b) + DL_FRAME_HDR,
		      "\x94\x32\x63\x02\xc4\x08", 6) == 0);
	dl_buf_free(&b);
	m.u.stream.data = (dl_str_t){NULL, 0};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.stream.data.n, 0);
	ASSERT(d.u.stream.data.p != NULL);
	dl_msg_release(&d);
	m.u.stream.data = (dl_str_t){big, DL_MAX_CHUNK};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.stream.data.n, DL_MAX_CHUNK);
	ASSERT(memcmp(d.u.stream.data.p, big, DL_MAX_CHUNK) == 0);
	dl_msg_release(&d);

	m = (dl_msg_t){.type = DL_MSG_END};
	m.u.end.id = 12;
	m.u.end.status = DL_EDOCKER;
	m.u.end.exit_code = 137;
	m.u.end.message = DL_STR("exec: the container stopped");
	round_trip(&m, &d);
	ASSERT_EQ(d.u.end.id, 12);
	ASSERT_EQ(d.u.end.status, DL_EDOCKER);
	ASSERT_EQ(d.u.end.exit_code, 137);
	ASSERT_STR_IS(d.u.end.message, "exec: the container stopped");
	dl_msg_release(&d);
	m.u.end.status = 0;
	m.u.end.exit_code = INT32_MIN;
	m.u.end.message = (dl_str_t){big, DL_MAX_TEXT};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.end.status, 0);
	ASSERT_EQ(d.u.end.exit_code, INT32_MIN);
	ASSERT_EQ(d.u.end.message.n, DL_MAX_TEXT);
	dl_msg_release(&d);
	m.u.end.status = INT32_MIN;
	m.u.end.exit_code = -1;
	m.u.end.message = (dl_str_t){NULL, 0};
	round_trip(&m, &d);
	ASSERT_EQ(d.u.end.status, INT32_MIN);
	ASSERT_EQ(d.u.end.exit_code, -1);
	ASSERT_EQ(d.u.end.message.n, 0);
	dl_msg_release(&d);

	/* CANCEL is [52, id]; CREDIT [53, id, bytes]. */
	m = (dl_msg_t){.type = DL_MSG_CANCEL};
	m.u.credit.id = 5;
	m.u.credit.bytes = 77; /* not sent */
	round_trip(&m, &d);
	ASSERT_EQ(d.u.credit.id, 5);
	ASSERT_EQ(d.u.credit.bytes, 0);
	dl_msg_release(&d);
	encode(&b, &m);
	ASSERT_EQ(dl_buf_used(&b), DL_FRAME_HDR + 3);
	ASSERT(memcmp(dl_buf_head(&b) + DL_FRAME_HDR, "\x92\x34\x05", 3) == 0);
	dl_buf_free(&b);
	m = (dl_msg_t){.type = DL_MSG_CREDIT};
	m.u.credit.id = UINT32_MAX;
	m.u.credit.bytes = 512u * 1024u;
	round_trip(&m, &d);
	ASSERT(d.u.credit.id == UINT32_MAX);
	ASSERT_EQ(d.u.credit.bytes, 512u * 1024u);
	dl_msg_release(&d);
	m.u.credit.bytes = UINT32_MAX;
	round_trip(&m, &d);
	ASSERT(d.u.credit.bytes == UINT32_MAX);
	dl_msg_release(&d);

	ASSERT_STR_EQ(dl_msg_type_name(DL_MSG_REQUEST), "REQUEST");
	ASSERT_STR_EQ(dl_msg_type_name(DL_MSG_RESPONSE), "RESPONSE");
	ASSERT_STR_EQ(dl_msg_type_name(DL_MSG_STREAM), "STREAM");
	ASSERT_STR_EQ(dl_msg_type_name(DL_MSG_END), "END");
	ASSERT_STR_EQ(dl_msg_type_name(DL_MSG_CANCEL), "CANCEL");
	ASSERT_STR_EQ(dl_msg_type_name(DL_MSG_CREDIT), "CREDIT");
	ASSERT(!dl_msg_is_data(DL_MSG_CANCEL));
	ASSERT(!dl_msg_is_data(DL_MSG_CREDIT));
}

/* Encodes m expecting rc; a refusal leaves the buffer as it was. */
static void refuse(dl_buf_t *b, const dl_msg_t *m, int rc)
{
	size_t before = dl_buf_used(b);

	ASSERT_EQ(dl_msg_encode(b, m), rc);
	if (rc != 0)
		ASSERT_EQ(dl_buf_used(b), before);
	else
		ASSERT_GT(dl_buf_used(b), before);
}

static void test_control_refusals(void)
{
	static char big[DL_MAX_BODY + 1];
	dl_msg_t m;
	dl_buf_t b;

	memset(big, 'r', sizeof(big));
	dl_buf_init(&b, 8u * 1024 * 1024);
	ASSERT_EQ(dl_buf_append(&b, "0123456789", 10), 0);
	dl_buf_consume(&b, 3);

	m = (dl_msg_t){.type = DL_MSG_STREAM};
	m.u.stream.id = 1;
	m.u.stream.data = DL_STR("x");
	for (uint32_t fd = 0; fd < 5; fd++) {
		m.u.stream.fd = fd;
		refuse(&b, &m, fd == 1 || fd == 2 ? 0 : DL_EINVAL);
	}
	m.u.stream.fd = 1;
	m.u.stream.data = (dl_str_t){big, DL_MAX_CHUNK + 1};
	refuse(&b, &m, DL_EINVAL);
	m.u.stream.fd = 3;
	m.u.stream.data = (dl_str_t){big, DL_MAX_CHUNK};
	refuse(&b, &m, DL_EINVAL);
	m.u.stream.fd = 1;
	m.u.stream.data = (dl_str_t){NULL, 100}; /* a length without bytes */
	refuse(&b, &m, DL_EINVAL);

	m = (dl_msg_t){.type = DL_MSG_RESPONSE};
	m.u.response.body = (dl_str_t){big, DL_MAX_BODY + 1};
	refuse(&b, &m, DL_EINVAL);
	m.u.response.body = (dl_str_t){NULL, 1};
	refuse(&b, &m, DL_EINVAL);

	m = (dl_msg_t){.type = DL_MSG_REQUEST};
	m.u.request.op = (dl_str_t){big, DL_MAX_OP + 1};
	m.u.request.args = DL_STR("{}");
	refuse(&b, &m, DL_EINVAL);
	m.u.request.op = DL_STR("stop");
	m.u.request.args = (dl_str_t){big, DL_MAX_ARGS + 1};
	refuse(&b, &m, DL_EINVAL);

	m = (dl_msg_t){.type = DL_MSG_END};
	m.u.end.message = (dl_str_t){big, DL_MAX_TEXT + 1};
	refuse(&b, &m, DL_EINVAL);

	ASSERT(memcmp(dl_buf_head(&b), "3456789", 7) == 0);
	dl_buf_free(&b);
}

/* Every strict prefix of every control message is refused. */
static void test_truncated_control(void)
{
	static const char bin[] = {0, 1, 0, 2};
	dl_msg_t ms[7] = {
		{.type = DL_MSG_REQUEST}, {.type = DL_MSG_RESPONSE},
		{.type = DL_MSG_STREAM},  {.type = DL_MSG_STREAM},
		{.type = DL_MSG_END},	  {.type = DL_MSG_CANCEL},
		{.type = DL_MSG_CREDIT},
	};
	char why[256];

	ms[0].u.request = (dl_request_t){70000, 1000, DL_STR("logs"),
					 DL_STR("{\"container\":\"web\"}")};
	ms[1].u.response = (dl_response_t){70000, -2, DL_STR("bad args")};
	ms[2].u.stream = (dl_chunk_t){3, 1, (dl_str_t){bin, sizeof(bin)}};
	ms[3].u.stream = (dl_chunk_t){3, 2, (dl_str_t){bin, 0}};
	ms[4].u.end = (dl_end_t){3, -19, 255, DL_STR("gone")};
	ms[5].u.credit = (dl_credit_t){300, 0};
	ms[6].u.credit = (dl_credit_t){300, 65536};
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		dl_buf_t b;
		dl_msg_t d;
		const uint8_t *p;
		size_t n;

		encode(&b, &ms[i]);
		p = dl_buf_head(&b) + DL_FRAME_HDR;
		n = dl_buf_used(&b) - DL_FRAME_HDR;
		for (size_t k = 0; k < n; k++) {
			uint8_t *cut = malloc(k ? k : 1);

			ASSERT(cut);
			memcpy(cut, p, k);
			if (dl_msg_decode(&d, cut, k, why, sizeof(why)) !=
			    DL_EPROTO)
				DL_FAIL_("message %zu cut at %zu decoded", i,
					 k);
			ASSERT(why[0] != '\0');
			dl_msg_release(&d);
			free(cut);
		}
		ASSERT_EQ(dl_msg_decode(&d, p, n, why, sizeof(why)), 0);
		ASSERT_EQ(d.type, ms[i].type);
		dl_msg_release(&d);
		dl_buf_free(&b);
	}
}

/* ------------------------------------------------------------------ */
/* Malformed payloads                                                  */

static const struct {
	const char *text;
	int rc;
	const char *why; /* expected prefix of the reason */
} bad[] = {
	/* shape */
	{"1", DL_EPROTO, "payload: not an array"},
	{"\"hello\"", DL_EPROTO, "payload: not an array"},
	{"m", DL_EPROTO, "payload: not an array"},
	{"[]", DL_EPROTO, "payload: empty array"},
	{"[99]", DL_EPROTO, "unknown message type 99"},
	{"[0, 1]", DL_EPROTO, "unknown message type 0"},
	{"[-3, 1]", DL_EPROTO, "message: element 0 (type) is not"},
	{"[\"PING\", 1]", DL_EPROTO, "message: element 0 (type) is not"},
	/* too short */
	{"[3]", DL_EPROTO, "PING: array has 1 elements, expected at least 2"},
	{"[5, 1]", DL_EPROTO, "ACK: array has 2 elements, expected at least 3"},
	{"[1, 1, \"a\", 1, [], 0, 0]", DL_EPROTO,
	 "HELLO: array has 7 elements"},
	{"[18, 1, 2, 3, \"container\", \"start\", \"id\", \"n\"]", DL_EPROTO,
	 "EVENT: array has 8 elements, expected at least 9"},
	{"[16, 1, 2, 3, [[1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\"]]]",
	 DL_EPROTO, "INVENTORY: container 0 has 7 elements"},
	{"[18, 1, 2, 3, \"c\", \"a\", \"i\", \"n\", [[\"k\"]]]", DL_EPROTO,
	 "EVENT: attr 0 has 1 elements, expected at least 2"},
	/* wrong types */
	{"[3, -1]", DL_EPROTO, "PING: element 1 (nonce) is not a non-negative"},
	{"[3, d]", DL_EPROTO, "PING: element 1 (nonce) is not a non-negative"},
	{"[3, \"1\"]", DL_EPROTO, "PING: element 1 (nonce) is not"},
	{"[18, 1, 2, 3, \"container\", 5, \"id\", \"n\", []]", DL_EPROTO,
	 "EVENT: element 5 (action) is not a string"},
	{"[18, 1, 2, 3, \"c\", b3, \"id\", \"n\", []]", DL_EPROTO,
	 "EVENT: element 5 (action) is not a string"},
	{"[18, 1, 2, 3, \"c\", \"a\", \"id\", \"n\", m]", DL_EPROTO,
	 "EVENT: element 8 (attrs) is not an array"},
	{"[18, 1, 2, 3, \"c\", \"a\", \"id\", \"n\", [n]]", DL_EPROTO,
	 "EVENT: attrs element 0 (attr) is not an array"},
	{"[18, 1, 2, 3, \"c\", \"a\", \"id\", \"n\", [[\"k\", 1]]]", DL_EPROTO,
	 "EVENT: attr 0 element 1 (value) is not a string"},
	{"[17, 1, 2, 3, 1, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0]]",
	 DL_EPROTO, "CONTAINER: element 4 (removed) is not a boolean"},
	{"[17, 1, 2, 3, t, n]", DL_EPROTO,
	 "CONTAINER: element 5 (container) is not an array"},
	{"[17, 1, 2, 3, t, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", d]]",
	 DL_EPROTO, "CONTAINER: container element 7 (created) is not an int"},
	{"[16, 1, 2, 3, [[1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0], "
	 "4]]",
	 DL_EPROTO, "INVENTORY: containers element 1 (container) is not an"},
	{"[16, 1, 2, 3, [[-1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0]]]",
	 DL_EPROTO, "INVENTORY: container 0 element 0 (idx) is not a non-neg"},
	{"[1, 1, \"sw\", 1, [\"a\", 2], 0, 0, \"\"]", DL_EPROTO,
	 "HELLO: caps element 1 (cap) is not a string"},
	{"[1, 1, \"sw\", 1, \"caps\", 0, 0, \"\"]", DL_EPROTO,
	 "HELLO: element 4 (caps) is not an array"},
	{"[19, 1, 2, 3, 1, \"v\", \"a\", \"o\", \"k\", 1, 1, \"\"]", DL_EPROTO,
	 "DOCKER: element 4 (up) is not a boolean"},
	{"[20, -1, 2, 3, 4, 5]", DL_EPROTO, "DROPPED: element 1 (epoch)"},
	{"[32, 7]", DL_EPROTO, "ATTACH: element 1 (host) is not a string"},
	{"[32, \"h\"]", 0, ""}, /* an attach that predates flags */
	{"[32, \"h\", 1, 9]", 0, ""},
	{"[32, \"h\", \"resume\"]", DL_EPROTO,
	 "ATTACH: element 2 (flags) is not"},
	{"[32, \"h\", 4294967296]", DL_EPROTO,
	 "ATTACH: element 2 (flags) is out of range"},
	/* RESTART / BYE */
	{"[6, \"\"]", 0, ""},
	{"[6, \"why\", 1]", 0, ""},
	{"[6]", DL_EPROTO,
	 "RESTART: array has 1 elements, expected at least 2"},
	{"[6, 1]", DL_EPROTO, "RESTART: element 1 (reason) is not a string"},
	{"[6, s1025]", DL_EPROTO, "RESTART: element 1 (reason) is longer"},
	{"[7, 30, \"gone\"]", 0, ""},
	{"[7, 30]", DL_EPROTO,
	 "BYE: array has 2 elements, expected at least 3"},
	{"[7, -1, \"x\"]", DL_EPROTO, "BYE: element 1 (retry_after_s)"},
	{"[7, 4294967296, \"x\"]", DL_EPROTO,
	 "BYE: element 1 (retry_after_s) is out of range"},
	{"[7, 1, s1025]", DL_EPROTO, "BYE: element 2 (reason) is longer"},
	/* STATS / HOSTSTATS */
	{"[21, 1, 2, 3, 4, 5, []]", 0, ""},
	{"[21, 1, 2, 3, 4, 5]", DL_EPROTO,
	 "STATS: array has 6 elements, expected at least 7"},
	{"[21, 1, 2, 3, 4, 5, [[1, 63, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]]", 0,
	 ""},
	{"[21, 1, 2, 3, 4, 5, [[1, 63, 1, 2, 3, 4, 5, 6, 7, 8, 9]]]", DL_EPROTO,
	 "STATS: sample 0 has 11 elements, expected at least 12"},
	{"[21, 1, 2, 3, 4, 5, [[1, 63, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1]]]",
	 DL_EPROTO, "STATS: sample 0 element 11 (pids) is not a non-negative"},
	{"[21, 1, 2, 3, 4, 5, [[4294967296, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0]]]",
	 DL_EPROTO, "STATS: sample 0 element 0 (idx) is out of range"},
	{"[21, 1, 2, 3, 4, 5, [[1, 0, d, 2, 3, 4, 5, 6, 7, 8, 9, 0]]]",
	 DL_EPROTO, "STATS: sample 0 element 2 (cpu_ns) is not a non-negative"},
	{"[21, 1, 2, 3, 4, 5, [7]]", DL_EPROTO,
	 "STATS: samples element 0 (sample) is not an array"},
	{"[21, 1, 2, 3, 4, 5, m]", DL_EPROTO,
	 "STATS: element 6 (samples) is not an array"},
	{"[21, 1, 2, 3, 4, 4294967296, []]", DL_EPROTO,
	 "STATS: element 5 (online_cpus) is out of range"},
	{"[21, 1, 2, 3, \"4\", 5, []]", DL_EPROTO,
	 "STATS: element 4 (system_cpu_ns) is not a non-negative"},
	{"[21, 1, 2, 3, 4, 5, [*20001n]]", DL_EPROTO,
	 "STATS: element 6 (samples) has more than 20000"},
	{"[21, 1, 2, 3, 4, 5, [[1, 63, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]], 0]",
	 0, ""},
	{"[22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18]",
	 0, ""},
	{"[22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]",
	 DL_EPROTO, "HOSTSTATS: array has 18 elements, expected at least 19"},
	{"[22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 4294967296, 13, 14, 15, 16, "
	 "17, 18]",
	 DL_EPROTO, "HOSTSTATS: element 12 (load1_x100) is out of range"},
	{"[22, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, t]",
	 DL_EPROTO, "HOSTSTATS: element 18 (net_tx_bytes) is not a non-neg"},
	/* integer ranges */
	{"[2, 2147483648, \"x\"]", DL_EPROTO, "ERROR: element 1 (code) is out"},
	{"[2, -2147483649, \"x\"]", DL_EPROTO,
	 "ERROR: element 1 (code) is out"},
	{"[2, -2147483648, \"x\"]", 0, ""},
	{"[1, 4294967296, \"sw\", 1, [], 0, 0, \"\"]", DL_EPROTO,
	 "HELLO: element 1 (proto_version) is out of range"},
	{"[19, 1, 2, 3, t, \"v\", \"a\", \"o\", \"k\", 4294967296, 1, \"\"]",
	 DL_EPROTO, "DOCKER: element 9 (ncpu) is out of range"},
	{"[17, 1, 2, 3, t, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", "
	 "9223372036854775808]]",
	 DL_EPROTO, "CONTAINER: container element 7 (created) is out of range"},
	/* string and count limits */
	{"[32, s256]", 0, ""},
	{"[32, s257]", DL_EPROTO,
	 "ATTACH: element 1 (host) is longer than 256"},
	{"[2, 1, s1024]", 0, ""},
	{"[2, 1, s1025]", DL_EPROTO, "ERROR: element 2 (message) is longer"},
	{"[18, 1, 2, 3, \"c\", \"a\", s129, \"n\", []]", DL_EPROTO,
	 "EVENT: element 6 (id) is longer than 128 bytes"},
	{"[18, 1, 2, 3, \"c\", \"a\", \"i\", \"n\", [[s257, \"v\"]]]",
	 DL_EPROTO, "EVENT: attr 0 element 0 (key) is longer than 256"},
	{"[18, 1, 2, 3, \"c\", \"a\", \"i\", \"n\", [*64[\"k\", \"v\"]]]", 0,
	 ""},
	{"[18, 1, 2, 3, \"c\", \"a\", \"i\", \"n\", [*65[\"k\", \"v\"]]]",
	 DL_EPROTO, "EVENT: element 8 (attrs) has more than 64 entries"},
	{"[1, 1, \"sw\", 1, [*33\"c\"], 0, 0, \"\"]", DL_EPROTO,
	 "HELLO: element 4 (caps) has more than 32 entries"},
	{"[1, 1, \"sw\", 1, [s257], 0, 0, \"\"]", DL_EPROTO,
	 "HELLO: caps element 0 (cap) is longer than 256"},
	/* INVENTORY parts: elements 5..7 all or none, inventory = seq -
	 * part, part < parts <= 1024. */
	{"[16, 1, 12, 3, [], 10, 2, 3]", 0, ""},
	{"[16, 1, 12, 3, [], 12, 0, 1]", 0, ""},
	{"[16, 1, 12, 3, [], 10, 2, 3, \"later\"]", 0, ""},
	{"[16, 1, 12, 3, [], 10]", DL_EPROTO,
	 "INVENTORY: array has 6 elements, expected at least 8"},
	{"[16, 1, 12, 3, [], 10, 2]", DL_EPROTO,
	 "INVENTORY: array has 7 elements, expected at least 8"},
	{"[16, 1, 12, 3, [], 11, 2, 3]", DL_EPROTO,
	 "INVENTORY: element 5 (inventory) is not the seq of part 0"},
	{"[16, 1, 1, 3, [], 0, 2, 3]", DL_EPROTO,
	 "INVENTORY: element 5 (inventory) is not the seq of part 0"},
	{"[16, 1, 12, 3, [], 9, 3, 3]", DL_EPROTO,
	 "INVENTORY: element 6 (part) is not below parts (3)"},
	{"[16, 1, 12, 3, [], 12, 0, 0]", DL_EPROTO,
	 "INVENTORY: element 7 (parts) is not 1..1024"},
	{"[16, 1, 12, 3, [], 12, 0, 1025]", DL_EPROTO,
	 "INVENTORY: element 7 (parts) is not 1..1024"},
	{"[16, 1, 12, 3, [], \"10\", 2, 3]", DL_EPROTO,
	 "INVENTORY: element 5 (inventory) is not a non-negative"},
	{"[16, 1, 12, 3, [], 10, -2, 3]", DL_EPROTO,
	 "INVENTORY: element 6 (part) is not a non-negative"},
	{"[16, 1, 2, 3, [*20001n]]", DL_EPROTO,
	 "INVENTORY: element 4 (containers) has more than 20000"},
	/* control: REQUEST */
	{"[48, 1, 0, \"stop\", \"{}\"]", 0, ""},
	{"[48, 1, 0, s32, s65536]", 0, ""},
	{"[48, 1, 0, s33, \"{}\"]", DL_EPROTO,
	 "REQUEST: element 3 (op) is longer than 32 bytes"},
	{"[48, 1, 0, \"stop\", s65537]", DL_EPROTO,
	 "REQUEST: element 4 (args) is longer than 65536 bytes"},
	{"[48, 1, 0, \"stop\"]", DL_EPROTO,
	 "REQUEST: array has 4 elements, expected at least 5"},
	{"[48]", DL_EPROTO,
	 "REQUEST: array has 1 elements, expected at least 5"},
	{"[48, 4294967296, 0, \"stop\", \"{}\"]", DL_EPROTO,
	 "REQUEST: element 1 (id) is out of range"},
	{"[48, 1, -1, \"stop\", \"{}\"]", DL_EPROTO,
	 "REQUEST: element 2 (timeout_ms) is not a non-negative integer"},
	{"[48, 1, 0, b4, \"{}\"]", DL_EPROTO,
	 "REQUEST: element 3 (op) is not a string"},
	{"[48, 1, 0, \"stop\", b2]", DL_EPROTO,
	 "REQUEST: element 4 (args) is not a string"},
	{"[48, 1, 0, \"stop\", m]", DL_EPROTO,
	 "REQUEST: element 4 (args) is not a string"},
	/* control: RESPONSE */
	{"[49, 1, -2147483648, \"x\"]", 0, ""},
	{"[49, 1, 0, s1048512]", 0, ""},
	{"[49, 1, 0, s1048513]", DL_EPROTO,
	 "RESPONSE: element 3 (body) is longer than 1048512 bytes"},
	{"[49, 1, 0]", DL_EPROTO,
	 "RESPONSE: array has 3 elements, expected at least 4"},
	{"[49, 1, 2147483648, \"x\"]", DL_EPROTO,
	 "RESPONSE: element 2 (status) is out of range"},
	{"[49, 1, d, \"x\"]", DL_EPROTO,
	 "RESPONSE: element 2 (status) is not an integer"},
	{"[49, 1, 0, b2]", DL_EPROTO,
	 "RESPONSE: element 3 (body) is not a string"},
	/* control: STREAM */
	{"[50, 1, 1, b0]", 0, ""},
	{"[50, 1, 2, b65536]", 0, ""},
	{"[50, 1, 0, b3]", DL_EPROTO, "STREAM: element 2 (fd) is not 1 or 2"},
	{"[50, 1, 3, b3]", DL_EPROTO, "STREAM: element 2 (fd) is not 1 or 2"},
	{"[50, 1, 4294967297, b3]", DL_EPROTO,
	 "STREAM: element 2 (fd) is out of range"},
	{"[50, 1, -1, b3]", DL_EPROTO,
	 "STREAM: element 2 (fd) is not a non-negative integer"},
	{"[50, 1, 1, \"abc\"]", DL_EPROTO,
	 "STREAM: element 3 (data) is not binary"},
	{"[50, 1, 1, n]", DL_EPROTO, "STREAM: element 3 (data) is not binary"},
	{"[50, 1, 1, b65537]", DL_EPROTO,
	 "STREAM: element 3 (data) is longer than 65536 bytes"},
	{"[50, 1, 1]", DL_EPROTO,
	 "STREAM: array has 3 elements, expected at least 4"},
	/* control: END */
	{"[51, 1, -19, -1, \"x\"]", 0, ""},
	{"[51, 1, 0, 0]", DL_EPROTO,
	 "END: array has 4 elements, expected at least 5"},
	{"[51, 1, -2147483649, 0, \"\"]", DL_EPROTO,
	 "END: element 2 (status) is out of range"},
	{"[51, 1, 0, 2147483648, \"\"]", DL_EPROTO,
	 "END: element 3 (exit_code) is out of range"},
	{"[51, 1, 0, t, \"\"]", DL_EPROTO,
	 "END: element 3 (exit_code) is not an integer"},
	{"[51, 1, 0, 0, s1025]", DL_EPROTO,
	 "END: element 4 (message) is longer than 1024 bytes"},
	/* control: CANCEL, CREDIT */
	{"[52, 4294967295]", 0, ""},
	{"[52]", DL_EPROTO,
	 "CANCEL: array has 1 elements, expected at least 2"},
	{"[52, \"1\"]", DL_EPROTO,
	 "CANCEL: element 1 (id) is not a non-negative integer"},
	{"[53, 1, 4294967295]", 0, ""},
	{"[53, 1]", DL_EPROTO,
	 "CREDIT: array has 2 elements, expected at least 3"},
	{"[53, 1, -1]", DL_EPROTO,
	 "CREDIT: element 2 (bytes) is not a non-negative integer"},
	{"[53, 1, 4294967296]", DL_EPROTO,
	 "CREDIT: element 2 (bytes) is out of range"},
	{"[54, 1, 2]", DL_EPROTO, "unknown message type 54"},
	/* forward compatibility: extra trailing elements are ignored */
	{"[3, 1, \"future\", [1, 2], m]", 0, ""},
	{"[16, 1, 2, 3, [[1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 3, t, f, 4, 5, \"out\", 9]], 2, 0, 1, \"x\"]",
	 0, ""},
	{"[1, 1, \"sw\", 1, [], 0, 0, \"\", 5, \"future\"]", 0, ""},
	/* container detail (elements 8..15): all of them or none */
	{"[16, 1, 2, 3, [[1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "9]]]",
	 DL_EPROTO,
	 "INVENTORY: container 0 has 9 elements, expected at least 16"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 3, t, f, 4, 5]]",
	 DL_EPROTO,
	 "CONTAINER: container has 15 elements, expected at least 16"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "-1, 2, 3, t, f, 4, 5, \"\"]]",
	 DL_EPROTO,
	 "CONTAINER: container element 8 (started_at) is not a non-neg"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 2147483648, t, f, 4, 5, \"\"]]",
	 DL_EPROTO,
	 "CONTAINER: container element 10 (exit_code) is out of range"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, -2147483648, 1, f, 4, 5, \"\"]]",
	 DL_EPROTO,
	 "CONTAINER: container element 11 (oom_killed) is not a bool"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 3, t, n, 4, 5, \"\"]]",
	 DL_EPROTO,
	 "CONTAINER: container element 12 (restarting) is not a bool"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 3, t, f, 4294967296, 5, \"\"]]",
	 DL_EPROTO,
	 "CONTAINER: container element 13 (restart_count) is out of"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 3, t, f, 4, \"5\", \"\"]]",
	 DL_EPROTO, "CONTAINER: container element 14 (health_streak) is not a"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 3, t, f, 4, 5, s257]]",
	 DL_EPROTO,
	 "CONTAINER: container element 15 (health_output) is longer than 256"},
	{"[17, 1, 2, 3, f, [1, \"id\", \"n\", \"i\", \"s\", \"st\", \"h\", 0, "
	 "1, 2, 3, t, f, 4, 5, b3]]",
	 DL_EPROTO,
	 "CONTAINER: container element 15 (health_output) is not a str"},
	{"[1, 1, \"sw\", 1, [], 0, 0, \"\", -5]", DL_EPROTO,
	 "HELLO: element 8 (time_ns) is not a non-negative"},
	{"[18, 1, 2, 3, \"c\", \"a\", \"i\", \"n\", [[\"k\", \"v\", 3]], t]", 0,
	 ""},
	{"[50, 1, 2, b1, 9]", 0, ""},
	{"[52, 1, \"future\"]", 0, ""},
};

static void test_malformed_table(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		msgpack_sbuffer sb;
		char why[256];
		int rc;

		pack_text(bad[i].text, &sb);
		rc = decode_raw(sb.data, sb.size, why, sizeof(why));
		if (rc != bad[i].rc ||
		    strncmp(why, bad[i].why, strlen(bad[i].why)) != 0)
			DL_FAIL_("row %zu %s: rc %d why \"%s\", want %d \"%s\"",
				 i, bad[i].text, rc, why, bad[i].rc,
				 bad[i].why);
		msgpack_sbuffer_destroy(&sb);
	}
}

static void test_malformed_bytes(void)
{
	/* PING [3, 1] followed by one more value. */
	static const uint8_t trailing[] = {0x92, 0x03, 0x01, 0xc0};
	/* array32 announcing 4 billion elements in a 5-byte payload. */
	static const uint8_t huge_array[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
	static const uint8_t huge_str[] = {0x92, 0x20, 0xdb, 0xff,
					   0xff, 0xff, 0xff, 'a'};
	static const uint8_t huge_map[] = {0x92, 0x03, 0xdf, 0x7f, 0xff,
					   0xff, 0xff, 0x01, 0x02};
	static const uint8_t c1[] = {0x92, 0x03, 0xc1};
	uint8_t deep[64];
	char why[256];

	ASSERT_EQ(decode_raw(trailing, sizeof(trailing), why, sizeof(why)),
		  DL_EPROTO);
	ASSERT_STR_EQ(why, "payload: trailing bytes after the message");
	ASSERT_EQ(decode_raw(trailing, 3, why, sizeof(why)), 0);
	ASSERT_EQ(decode_raw(huge_array, sizeof(huge_array), why, sizeof(why)),
		  DL_EPROTO);
	ASSERT_STR_EQ(why, "payload: array or map count larger than the frame");
	ASSERT_EQ(decode_raw(huge_str, sizeof(huge_str), why, sizeof(why)),
		  DL_EPROTO);
	ASSERT_STR_EQ(why, "payload: truncated msgpack value");
	ASSERT_EQ(decode_raw(huge_map, sizeof(huge_map), why, sizeof(why)),
		  DL_EPROTO);
	ASSERT_EQ(decode_raw(c1, sizeof(c1), why, sizeof(why)), DL_EPROTO);
	ASSERT_EQ(decode_raw(c1, 0, why, sizeof(why)), DL_EPROTO);
	ASSERT_STR_EQ(why, "payload: empty");
	/* 64 nested arrays: deeper than msgpack-c's stack, must not crash. */
	memset(deep, 0x91, sizeof(deep));
	deep[63] = 0x01;
	ASSERT_EQ(decode_raw(deep, sizeof(deep), why, sizeof(why)), DL_EPROTO);
	ASSERT_STR_EQ(why, "payload: arrays nested too deep");
	/* 16 levels is still fine for the walk; the type check rejects it. */
	ASSERT_EQ(decode_raw(deep + 48, 16, why, sizeof(why)), DL_EPROTO);
	ASSERT_STR_EQ(why, "message: element 0 (type) is not a non-negative "
			   "integer");
	/* why may be NULL. */
	ASSERT_EQ(decode_raw(trailing, sizeof(trailing), NULL, 0), DL_EPROTO);
}

static void test_truncated_inventory(void)
{
	dl_container_t v[5];
	char names[5][32];
	dl_msg_t m = {.type = DL_MSG_INVENTORY, .epoch = 1, .seq = 2}, d;
	dl_buf_t b;
	const uint8_t *p;
	size_t n;
	char why[256];

	for (uint32_t i = 0; i < 5; i++)
		fill_container(&v[i], i, names[i], sizeof(names[i]));
	m.u.inventory.n = 5;
	m.u.inventory.v = v;
	encode(&b, &m);
	p = dl_buf_head(&b) + DL_FRAME_HDR;
	n = dl_buf_used(&b) - DL_FRAME_HDR;
	for (size_t k = 0; k < n; k++) {
		/* A heap copy of exactly k bytes, so ASan sees overreads. */
		uint8_t *cut = malloc(k ? k : 1);

		ASSERT(cut);
		memcpy(cut, p, k);
		ASSERT_EQ(dl_msg_decode(&d, cut, k, why, sizeof(why)),
			  DL_EPROTO);
		ASSERT(why[0] != '\0');
		dl_msg_release(&d);
		dl_msg_release(&d); /* twice is harmless */
		free(cut);
	}
	ASSERT_EQ(dl_msg_decode(&d, p, n, why, sizeof(why)), 0);
	ASSERT_EQ(d.u.inventory.n, 5);
	dl_msg_release(&d);
	dl_buf_free(&b);
}

/* Random bytes, and valid messages with a few bytes changed: decode must
 * return 0 or DL_EPROTO, and never read or leak outside its input. */
static void test_garbage(void)
{
	static const uint8_t seeds[][20] = {
		{0x92, 0x03, 0x07},
		{0x93, 0x05, 0x01, 0x02},
		{0x99, 0x12, 0x01, 0x02, 0x03, 0xa1, 'c', 0xa1, 'a', 0xa1, 'i',
		 0xa1, 'n', 0x91, 0x92, 0xa1, 'k'},
		/* control: STREAM, REQUEST, END, CREDIT */
		{0x94, 0x32, 0x01, 0x02, 0xc4, 0x03, 0x00, 'x', 0x00},
		{0x95, 0x30, 0x01, 0x00, 0xa4, 's', 't', 'o', 'p', 0xa2, '{',
		 '}'},
		{0x95, 0x33, 0x01, 0xed, 0xff, 0xa1, 'x'},
		{0x93, 0x35, 0x01, 0xcd, 0x10, 0x00},
	};
	const size_t nseeds = sizeof(seeds) / sizeof(seeds[0]);
	dl_attr_t at[3] = {{DL_STR("a"), DL_STR("1")},
			   {DL_STR("bb"), DL_STR("22")},
			   {DL_STR("ccc"), DL_STR("333")}};
	dl_msg_t m = {.type = DL_MSG_EVENT};
	dl_buf_t ev;
	uint8_t buf[256];
	char why[128];
	unsigned ok = 0;

	m.u.event.type = DL_STR("container");
	m.u.event.action = DL_STR("start");
	m.u.event.nattrs = 3;
	m.u.event.attrs = at;
	encode(&ev, &m);
	rng_state = 12345;
	for (int it = 0; it < 100000; it++) {
		size_t n;
		dl_msg_t d;
		int rc;

		switch (it % 3) {
		case 0: /* pure noise */
			n = rnd() % sizeof(buf) + 1;
			for (size_t i = 0; i < n; i++)
				buf[i] = (uint8_t)rnd();
			break;
		case 1: /* a valid EVENT with 1-4 bytes changed */
			n = dl_buf_used(&ev) - DL_FRAME_HDR;
			memcpy(buf, dl_buf_head(&ev) + DL_FRAME_HDR, n);
			for (int k = rnd() % 4; k >= 0; k--)
				buf[rnd() % n] = (uint8_t)rnd();
			break;
		default: /* a short seed with noise appended */
			n = sizeof(seeds[0]);
			memcpy(buf, seeds[rnd() % nseeds], n);
			buf[rnd() % n] = (uint8_t)rnd();
			n = rnd() % n + 1;
			break;
		}
		uint8_t *heap = malloc(n);

		ASSERT(heap);
		memcpy(heap, buf, n);
		rc = dl_msg_decode(&d, heap, n, why, sizeof(why));
		if (rc != 0 && rc != DL_EPROTO)
			DL_FAIL_("iteration %d: rc %d", it, rc);
		if (rc == 0) {
			ok++;
			ASSERT(d.type > 0);
		} else {
			ASSERT(why[0] != '\0');
		}
		dl_msg_release(&d);
		free(heap);
	}
	/* The mutations must sometimes still decode, or the loop only
	 * exercises the first check. */
	ASSERT_GT(ok, 100);
	dl_buf_free(&ev);
}

/* Encoded frames go through the frame reader and decode again. */
static void test_through_reader(void)
{
	dl_frame_reader_t r;
	dl_buf_t b;
	dl_msg_t m, d;
	const uint8_t *p;
	size_t n;
	char why[128];

	dl_buf_init(&b, 1 << 20);
	for (uint64_t i = 0; i < 3; i++) {
		m = (dl_msg_t){.type = DL_MSG_PING, .u.nonce = 100 + i};
		ASSERT_EQ(dl_msg_encode(&b, &m), 0);
	}
	dl_frame_reader_init(&r, DL_FRAME_MAX);
	ASSERT_EQ(dl_frame_reader_feed(&r, dl_buf_head(&b), dl_buf_used(&b)),
		  0);
	for (uint64_t i = 0; i < 3; i++) {
		ASSERT_EQ(dl_frame_reader_next(&r, &p, &n), 1);
		ASSERT_EQ(dl_msg_decode(&d, p, n, why, sizeof(why)), 0);
		ASSERT_EQ(d.u.nonce, 100 + i);
		dl_msg_release(&d);
	}
	ASSERT_EQ(dl_frame_reader_next(&r, &p, &n), 0);
	dl_frame_reader_free(&r);
	dl_buf_free(&b);
}

int main(void)
{
	RUN(test_hello);
	RUN(test_small);
	RUN(test_inventory);
	RUN(test_inventory_parts);
	RUN(test_container_detail);
	RUN(test_container_labels);
	RUN(test_labels_decode_bounds);
	RUN(test_event_docker);
	RUN(test_stats);
	RUN(test_hoststats);
	RUN(test_str_helpers);
	RUN(test_encode_refusals);
	RUN(test_control_round_trip);
	RUN(test_control_refusals);
	RUN(test_malformed_table);
	RUN(test_malformed_bytes);
	RUN(test_truncated_inventory);
	RUN(test_truncated_control);
	RUN(test_garbage);
	RUN(test_through_reader);
	return 0;
}
