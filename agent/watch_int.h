/* watch_int.h - what watch.c, watch_parse.c and watch_inspect.c share:
 * the watcher's state (struct dl_watch, the container table's entries)
 * and the internal calls (dl_watch__*). Private to agent/watch*.c. */
#ifndef DL_AGENT_WATCH_INT_H
#define DL_AGENT_WATCH_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "agent/docker.h"
#include "agent/inspect.h"
#include "agent/watch.h"
#include "common/backoff.h"
#include "proto/msg.h"

#define MAX_DEFERRED  256
#define NBUCKETS      4096
#define MAX_DOCKER_ID 64 /* full hex id; refresh URLs take nothing else */
/* dockerd 20.10 logs "die" before /containers/json shows the exit (the
 * list is served from a view updated afterwards), so a refresh right
 * after "die" often still says running. Such a container is refreshed
 * again every SETTLE_MS, up to SETTLE_TRIES times. */
#define SETTLE_MS    100
#define SETTLE_TRIES 10
#define MAX_SETTLE   64
/* Inspects in flight at once; the rest wait in a FIFO. */
#define MAX_INSPECT	   4
#define INSPECT_TIMEOUT_MS 20000L

typedef enum {
	ST_IDLE,
	ST_PING,
	ST_VERSION,
	ST_INFO,
	ST_LIST,
	ST_RUNNING,
	ST_WAIT,
	ST_CLOSED,
} state_t;

typedef struct cent {
	struct cent *next;  /* hash chain */
	struct cent *qnext; /* inspect queue */
	dl_watch_t *w;
	dl_docker_req_t *refresh;
	dl_docker_req_t *inspect;
	/* The last list answer (owned strings), so an inspect answer can be
	 * reported with it; facts: the last inspect (NULL: none valid). */
	dl_container_t last;
	bool has_last;
	dl_inspect_t *facts;
	bool queued;	    /* in the inspect queue */
	bool want_facts;    /* an event asked for fresh facts */
	bool inspect_again; /* ... while an inspect was in flight */
	uint32_t idx;
	bool seen;	     /* in the latest list */
	bool reported;	     /* the consumer has been told about it */
	bool dirty;	     /* another event came during the refresh */
	bool expect_stopped; /* "die" seen: running is a stale answer */
	uint8_t settle_tries;
	char id[DL_MAX_ID + 1];
	char name[DL_MAX_NAME + 1];
} cent_t;

typedef struct {
	char id[DL_MAX_ID + 1];
	char name[DL_MAX_NAME + 1];
	int kind;   /* EV_*: the strongest seen (destroy > die > other) */
	bool facts; /* one of them changes what inspect says */
} deferred_t;

struct dl_watch {
	uv_timer_t retry;  /* WAIT state */
	uv_timer_t settle; /* re-refresh after a stale "die" answer */
	uv_timer_t fin;	   /* closed last; its close callback frees w */
	uv_loop_t *loop;
	char *sock;
	dl_docker_t *docker;
	dl_watch_cbs_t cbs;
	void *ud;
	dl_backoff_t bo;
	state_t st;
	int up; /* -1 nothing reported yet, 0 down, 1 up */
	bool cancelling;
	dl_docker_req_t *req;	 /* discovery request in flight */
	dl_docker_req_t *events; /* the /events stream */
	char api[16];		 /* "/v1.41" or lower after negotiation */
	char filter[320]; /* "" or "&filters={"label":["L"]}", URL-encoded */
	char version[DL_MAX_NAME + 1];
	char api_version[DL_MAX_NAME + 1];
	char os[DL_MAX_NAME + 1];
	char kernel[DL_MAX_NAME + 1];
	uint32_t ncpu;
	uint64_t mem_total;
	char root_dir[1024]; /* DockerRootDir, for the stats sampler */
	cent_t *buckets[NBUCKETS];
	uint32_t ncont;
	uint32_t next_idx;
	deferred_t deferred[MAX_DEFERRED];
	uint32_t ndeferred;
	bool relist; /* deferred overflowed: list again */
	char settle_ids[MAX_SETTLE][DL_MAX_ID + 1];
	uint32_t nsettle;
	cent_t *qhead, *qtail; /* containers waiting for an inspect */
	uint32_t ninspect;     /* inspects in flight */
	void (*close_done)(void *);
	void *close_arg;
};

/* watch.c: the table entry of a full id (NULL: none); whether id is a
 * full hex Docker id (the only thing request paths take). */
cent_t *dl_watch__cent_find(dl_watch_t *w, const char *id);
bool dl_watch__id_ok(const char *id);

/* watch_inspect.c */
/* Takes c's strings (c is left empty) as e's last list answer. */
void dl_watch__set_last(cent_t *e, dl_container_t *c);
/* Tells the consumer e's last list answer with the facts known now. */
void dl_watch__report(dl_watch_t *w, cent_t *e);
/* Inventory entries get the facts already known. */
void dl_watch__attach_facts(dl_watch_t *w, dl_container_t *v, uint32_t n);
/* After an inventory: keep each answer, inspect what is not known. */
void dl_watch__keep_last(dl_watch_t *w, dl_container_t *v, uint32_t n);
/* Queues an inspect of e (one in flight per container). */
void dl_watch__want_facts(dl_watch_t *w, cent_t *e);

/* *out = a malloc'ed copy of s[0..n) cut to max bytes on a UTF-8
 * boundary. 0 or DL_ENOMEM. */
int dl_watch__set_str(dl_str_t *out, const char *s, size_t n, size_t max);
/* Frees what dl_watch__set_str made; *s becomes empty. */
void dl_watch__free_str(dl_str_t *s);
/* dst = v's string cut to dstlen - 1 bytes, "" if v is not a string. */
void dl_watch__copy_fixed(char *dst, size_t dstlen, json_t *v);
/* Frees a container's strings and labels (not c itself). */
void dl_watch__free_container(dl_container_t *c);

#endif
