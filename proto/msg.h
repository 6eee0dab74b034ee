/* msg.h - dockline protocol messages: typed structs, msgpack encode/decode.
 *
 * Every frame payload is one msgpack array whose first element is the
 * message type; the layout of each message is documented next to its
 * encoder in msg_*.c (msg.c lists which holds what) and in
 * proto/PROTOCOL.md. Decoding validates types, array lengths and string
 * sizes and never trusts a length from the wire beyond the frame it
 * arrived in. Decoded strings point into the
 * dl_msg_t's own zone and are valid until dl_msg_release(). */
#ifndef DL_PROTO_MSG_H
#define DL_PROTO_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <msgpack.h>

#include "common/buf.h"
#include "proto/frame.h"

#define DL_PROTO_VERSION 1

/* Hard maxima checked on decode (bytes / counts). */
#define DL_MAX_ID	     128
#define DL_MAX_NAME	     256
#define DL_MAX_TEXT	     1024
#define DL_MAX_CONTAINERS    20000 /* per INVENTORY, all its parts together */
#define DL_MAX_ATTRS	     64
#define DL_MAX_CAPS	     32
#define DL_MAX_OP	     32
#define DL_MAX_ARGS	     (64u * 1024u) /* REQUEST args, JSON text */
#define DL_MAX_CHUNK	     (64u * 1024u) /* STREAM data */
#define DL_MAX_HEALTH_OUTPUT 256	   /* last health check output */
/* Container labels: more, longer or beyond the total are dropped (and
 * counted in dl_labels_t.dropped) by whoever meets them, never a frame
 * error. */
#define DL_MAX_LABELS	   64
#define DL_MAX_LABEL_KEY   128
#define DL_MAX_LABEL_VALUE 512
#define DL_MAX_LABEL_TOTAL (8u * 1024u) /* keys + values, per container */
/* An INVENTORY too big for one frame travels in parts (elements 5..7):
 * at most this many parts, of at most this many payload bytes together.
 * The collector holds the parts until the last one, so this bounds its
 * memory per session. */
#define DL_MAX_INVENTORY_PARTS 1024
#define DL_MAX_INVENTORY_BYTES (16u * 1024u * 1024u)
/* Payload bytes of an INVENTORY part besides its containers: the head,
 * the containers array header and elements 5..7, rounded up. */
#define DL_INVENTORY_PART_HEAD 64u
/* RESPONSE body: what fits one frame with room for the header fields. */
#define DL_MAX_BODY (DL_FRAME_MAX - 64u)

/* Capabilities (HELLO caps) for the restart path. The agent announces
 * "resume" (it understands RESTART) and "bye" (BYE); serve announces
 * "resume" (it never ends a session on purpose without an ERROR or BYE
 * first, so attach may take a bare EOF for a crash) and "fleet=N". */
#define DL_CAP_RESUME "resume"
#define DL_CAP_BYE    "bye"
#define DL_CAP_FLEET  "fleet="
/* serve: it assembles INVENTORY parts (elements 5..7). An agent never
 * sends a part to a collector without it. */
#define DL_CAP_INVENTORY_PARTS "inventory-parts"

/* ATTACH flags (element 2). */
#define DL_ATTACH_RESUME 1u /* attach keeps the SSH channel across restarts */

/* How fast the collector host completes SSH handshakes (measured on the
 * reference machine: ~17/s with sshd's default MaxStartups). An agent
 * whose link drops spreads its first redial uniformly over
 * fleet / DL_FLEET_HANDSHAKES_PER_S seconds, at most DL_FLEET_SPREAD_MAX_S,
 * so a whole fleet comes back at about the rate the host can take. */
#define DL_FLEET_HANDSHAKES_PER_S 17u
#define DL_FLEET_SPREAD_MAX_S	  60u
/* BYE's retry_after_s is at most this (a peer sending more is capped). */
#define DL_BYE_RETRY_MAX_S 3600u

typedef enum {
	DL_MSG_HELLO = 1,
	DL_MSG_ERROR = 2,
	DL_MSG_PING = 3,
	DL_MSG_PONG = 4,
	DL_MSG_ACK = 5,
	/* Collector side -> agent, only to agents whose HELLO caps announce
	 * them (DL_CAP_RESUME, DL_CAP_BYE). */
	DL_MSG_RESTART = 6, /* serve restarted under attach: send HELLO */
	DL_MSG_BYE = 7,	    /* closing: come back in retry_after_s */
	/* Data frames: carry (epoch, seq), acked cumulatively. */
	DL_MSG_INVENTORY = 16,
	DL_MSG_CONTAINER = 17,
	DL_MSG_EVENT = 18,
	DL_MSG_DOCKER = 19,
	DL_MSG_DROPPED = 20,
	DL_MSG_STATS = 21,     /* container samples, compact */
	DL_MSG_HOSTSTATS = 22, /* host metrics */
	/* Local only: attach -> serve preamble naming the sshd-bound host. */
	DL_MSG_ATTACH = 32,
	/* Control: never queued in the outbox, never replayed. */
	DL_MSG_REQUEST = 48,  /* collector -> agent */
	DL_MSG_RESPONSE = 49, /* agent -> collector: the whole answer */
	DL_MSG_STREAM = 50,   /* agent -> collector: logs/exec output */
	DL_MSG_END = 51,      /* agent -> collector: a stream's outcome */
	DL_MSG_CANCEL = 52,   /* collector -> agent */
	DL_MSG_CREDIT = 53,   /* collector -> agent: stream bytes delivered */
} dl_msg_type_t;

#define DL_MSG_TYPE_MAX DL_MSG_CREDIT

/* Borrowed string: not NUL-terminated on decode. */
typedef struct {
	const char *p;
	uint32_t n;
} dl_str_t;

#define DL_STR(s) ((dl_str_t){(s), (uint32_t)strlen(s)})

typedef struct {
	uint32_t proto_version;
	dl_str_t software; /* "dockline-agent 0.1.0" */
	uint64_t epoch;	   /* agent: its epoch; collector: echo of last_epoch */
	uint32_t ncaps;
	dl_str_t caps[DL_MAX_CAPS];
	/* collector -> agent: last committed (epoch, seq) for this host;
	 * agent -> collector: 0, 0. */
	uint64_t last_epoch;
	uint64_t last_seq;
	dl_str_t host; /* collector -> agent: the name sshd bound; else "" */
	/* Optional trailing element 8: the sender's wall clock (ns) when it
	 * sent the HELLO; 0 = not sent (an older peer). The collector
	 * compares the agent's with its own for the host's clock skew. */
	uint64_t time_ns;
} dl_hello_t;

typedef struct {
	int32_t code; /* DL_E* */
	dl_str_t message;
} dl_error_t;

/* What only GET /containers/{id}/json tells: the state's times and facts,
 * so the collector can word the status at query time. Optional on the
 * wire (an older agent never sends it): has = false means unknown. */
typedef struct {
	bool has;
	uint64_t started_at;  /* State.StartedAt, unix ns; 0 = never */
	uint64_t finished_at; /* State.FinishedAt, unix ns; 0 = never */
	int32_t exit_code;
	bool oom_killed;
	bool restarting;
	uint32_t restart_count;
	uint32_t health_streak; /* State.Health.FailingStreak */
	dl_str_t health_output; /* last check's output, at most 256 bytes */
} dl_cdetail_t;

typedef struct {
	uint32_t retry_after_s; /* come back no sooner (plus jitter) */
	dl_str_t reason;	/* one sentence for the agent's log */
} dl_bye_t;

typedef struct {
	dl_str_t key;
	dl_str_t value;
} dl_attr_t;

/* A container's labels, within the DL_MAX_LABEL* bounds. has = false: not
 * sent (an older agent, or a frame without the inspect group): the
 * collector keeps what it knew. */
typedef struct {
	bool has;
	uint32_t n;
	dl_attr_t *v;
	uint32_t dropped; /* labels left out for the bounds */
} dl_labels_t;

/* Whether a label of klen/vlen bytes still fits after n labels of total
 * bytes; if so, adds it to *total. */
bool dl_label_fits(uint32_t n, uint32_t *total, size_t klen, size_t vlen);

typedef struct {
	uint32_t idx; /* per-session number, for compact stats */
	dl_str_t id;
	dl_str_t name;
	dl_str_t image;
	dl_str_t state;	 /* created|running|paused|restarting|exited|dead|... */
	dl_str_t status; /* "Up 3 minutes" */
	dl_str_t health; /* ""|starting|healthy|unhealthy */
	int64_t created; /* unix seconds */
	dl_cdetail_t d;	 /* trailing elements 8..15, when has */
	dl_labels_t labels; /* elements 16..17, sent only with d */
} dl_container_t;

typedef struct {
	dl_str_t type;	 /* container|image|network|volume|daemon|... */
	dl_str_t action; /* start|die|destroy|rename|health_status: healthy */
	dl_str_t id;
	dl_str_t name;
	uint32_t nattrs;
	dl_attr_t *attrs;
} dl_event_t;

typedef struct {
	bool up;
	dl_str_t version;
	dl_str_t api_version;
	dl_str_t os;
	dl_str_t kernel;
	uint32_t ncpu;
	uint64_t mem_total;
	dl_str_t
		reason; /* why down: "cannot connect to /var/run/docker.sock" */
} dl_dockerinfo_t;

typedef struct {
	uint64_t frames;
	uint64_t bytes;
} dl_dropped_t;

/* Bits of dl_sample_t.valid: which values were read this time. */
enum {
	DL_SV_CPU = 1 << 0,
	DL_SV_MEM = 1 << 1,
	DL_SV_MEMLIMIT = 1 << 2,
	DL_SV_NET = 1 << 3,
	DL_SV_BLK = 1 << 4,
	DL_SV_PIDS = 1 << 5,
};

#define DL_MAX_SAMPLES 20000

/* One container-sample. Counters are cumulative since the container
 * started (a lost or replayed sample never corrupts a rate); mem_* and
 * pids are gauges. mem_usage follows Docker's formula (usage minus
 * inactive file). */
typedef struct {
	uint32_t idx; /* the container's number from INVENTORY/CONTAINER */
	uint32_t valid;
	uint64_t cpu_ns;
	uint64_t mem_usage;
	uint64_t mem_limit; /* 0 = no limit */
	uint64_t net_rx_bytes, net_tx_bytes;
	uint64_t net_rx_packets, net_tx_packets;
	uint64_t blk_read_bytes, blk_write_bytes;
	uint64_t pids;
} dl_sample_t;

/* A batch of samples taken at one time (the frame's time_ns). The host's
 * cumulative CPU time and online CPUs let the collector compute the
 * container CPU percent the way docker stats does. */
typedef struct {
	uint64_t system_cpu_ns;
	uint32_t online_cpus;
	uint32_t n;
	dl_sample_t *v;
} dl_stats_t;

typedef struct {
	uint64_t cpu_total_ns; /* all jiffies, in ns (cumulative) */
	uint64_t cpu_idle_ns;  /* idle + iowait (cumulative) */
	uint32_t online_cpus;
	uint64_t mem_total, mem_used, mem_available;
	uint64_t swap_total, swap_used;
	uint32_t load1_x100, load5_x100, load15_x100;
	uint64_t disk_used, disk_total; /* Docker's root dir filesystem */
	uint64_t net_rx_bytes, net_tx_bytes;
} dl_hoststats_t;

/* Control. A request's id is the collector's, unique per session. */
typedef struct {
	uint32_t id;
	uint32_t timeout_ms; /* the agent gives up after this; 0 = none */
	dl_str_t op;	     /* "stop", "logs", ... (proto/control.h) */
	dl_str_t args;	     /* one JSON object, at most DL_MAX_ARGS */
} dl_request_t;

typedef struct {
	uint32_t id;
	int32_t status; /* 0, or a DL_E* code */
	dl_str_t body;	/* status 0: JSON text; else a sentence */
} dl_response_t;

typedef struct {
	uint32_t id;
	uint32_t fd;   /* 1 stdout, 2 stderr */
	dl_str_t data; /* binary, at most DL_MAX_CHUNK */
} dl_chunk_t;

typedef struct {
	uint32_t id;
	int32_t status;	   /* 0, or a DL_E* code */
	int32_t exit_code; /* exec: the command's; else 0 */
	dl_str_t message;  /* status != 0: a sentence */
} dl_end_t;

typedef struct {
	uint32_t id;
	uint32_t bytes; /* CREDIT only */
} dl_credit_t;

typedef struct {
	dl_msg_type_t type;
	/* Data frames only. */
	uint64_t epoch;
	uint64_t seq;
	uint64_t time_ns; /* wall clock at the agent when produced */
	union {
		dl_hello_t hello;
		dl_error_t error;
		uint64_t nonce; /* PING, PONG */
		struct {
			uint64_t epoch, seq;
		} ack;
		struct {
			uint32_t n;
			dl_container_t *v;
			/* Optional elements 5..7: parts = 0 is a whole
			 * inventory (5 elements); else this is part `part`
			 * (0-based) of `parts`, and id is the seq of part 0
			 * (so id + part == seq). */
			uint64_t id;
			uint32_t part, parts;
		} inventory;
		struct {
			bool removed;
			dl_container_t c;
		} container;
		dl_event_t event;
		dl_dockerinfo_t docker;
		dl_dropped_t dropped;
		dl_stats_t stats;
		dl_hoststats_t hoststats;
		struct {
			dl_str_t host;
			uint32_t flags; /* DL_ATTACH_*; 0 from older attach */
		} attach;
		dl_str_t restart_reason; /* RESTART */
		dl_bye_t bye;
		dl_request_t request;
		dl_response_t response;
		dl_chunk_t stream;
		dl_end_t end;
		dl_credit_t credit; /* CANCEL uses id only */
	} u;
	/* decode storage */
	msgpack_unpacked up_;
} dl_msg_t;

static inline bool dl_msg_is_data(dl_msg_type_t t)
{
	return t >= DL_MSG_INVENTORY && t < DL_MSG_ATTACH;
}

/* Appends one whole frame (header + payload) for m to out. Returns 0,
 * DL_ETOOBIG (frame would exceed DL_FRAME_MAX or out's cap; out is left
 * unchanged) or DL_EINVAL (string over its maximum). */
int dl_msg_encode(dl_buf_t *out, const dl_msg_t *m);

/* Decodes one frame payload. On success m owns its zone: call
 * dl_msg_release(m) when done. On failure returns DL_EPROTO (DL_ENOMEM when
 * memory runs out) and, if why is
 * given, a short reason ("EVENT: action longer than 1024 bytes"). */
int dl_msg_decode(dl_msg_t *m, const uint8_t *payload, size_t len, char *why,
		  size_t whylen);
void dl_msg_release(dl_msg_t *m);

const char *dl_msg_type_name(dl_msg_type_t t);

/* Bytes enc_container writes for c inside an INVENTORY (0: c breaks a
 * limit and cannot be encoded at all). */
size_t dl_msg_container_size(const dl_container_t *c);

/* Cuts v[0..n) into INVENTORY parts whose payloads are at most part_max
 * bytes each (DL_INVENTORY_PART_HEAD + their containers), in order.
 * starts[i] is the index in v of part i's first container; a part ends
 * where the next starts (the last at n). Returns 0 and *nparts (>= 1),
 * DL_ETOOBIG if one container does not fit part_max, more than max
 * parts would be needed or the parts together pass
 * DL_MAX_INVENTORY_BYTES, DL_EINVAL for a container that cannot be
 * encoded or n > DL_MAX_CONTAINERS. *total gets the payload bytes of all
 * parts (also on DL_ETOOBIG, as far as counted). */
int dl_msg_inventory_split(const dl_container_t *v, uint32_t n, size_t part_max,
			   uint32_t *starts, uint32_t max, uint32_t *nparts,
			   size_t *total);

/* True when an encoded frame (header + payload) is an INVENTORY part:
 * type 16 with more than 5 elements. Reads at most 6 bytes. */
bool dl_msg_frame_is_inventory_part(const uint8_t *frame, size_t len);

/* Copies s into out (NUL-terminated, truncated to outlen-1). */
void dl_str_copy(char *out, size_t outlen, dl_str_t s);
bool dl_str_eq(dl_str_t s, const char *c);

#endif
