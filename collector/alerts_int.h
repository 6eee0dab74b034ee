/* alerts_int.h - what alerts.c (instances, states, messages, timer),
 * alerts_events.c (events and host conditions), alerts_stats.c
 * (thresholds), alerts_labels.c (container labels), alerts_admin.c
 * (lists, silences) and alerts_load.c (start-up) share. Private to
 * collector/alerts*.c. */
#ifndef DL_COLLECTOR_ALERTS_INT_H
#define DL_COLLECTOR_ALERTS_INT_H

#include "collector/alerts.h"

/* Instances are rule x host[/container]: 100 rules over 20,000
 * containers make ~225,000 of them (bench_rules). The table doubles
 * whenever instances outnumber chains, so a chain stays about one long
 * (a fixed 4,096 chains averaged 55 entries: a quarter of the process in
 * the chain walk). It never shrinks: the peak's chains stay. */
#define HASH_MIN    1024
#define BUCKETS	    32	   /* threshold means: buckets over `for` */
#define CTR_MAX	    255	   /* container name */
#define HYSTERESIS  0.95   /* firing thresholds resolve below 95% */
#define FORGET_MS   600000 /* idle inactive state is dropped after this */
#define PRUNE_EVERY 3600000

typedef enum { A_INACTIVE, A_PENDING, A_FIRING } astate_t;

typedef struct {
	int64_t idx; /* sample time / width: which slice of time */
	double sum;
	uint32_t n;
} bucket_t;

/* One rule's view of one host or container. rule == nrules: not a rule
 * but the container's (or host's) own memory: last kill, dropped total. */
typedef struct inst {
	struct inst *next; /* hash chain */
	uint32_t hv;	   /* hash of (rule, host, ctr) */
	size_t rule;
	/* what a sample touches first, together (one or two cache lines:
	 * a row of a fleet of instances is bound by memory, not by work) */
	astate_t state;
	bool bad; /* the condition holds now */
	bool has_value;
	int64_t last_sample;
	int64_t last_input; /* unix ms, for forgetting idle state */
	double value;
	int64_t widx; /* newest bucket index; wsum, wn: the buckets within
			 `for` of it, kept as they come and go */
	double wsum;
	uint32_t wn;
	int64_t id;	  /* row id while pending or firing */
	int64_t since;	  /* unix ms the condition began */
	int64_t fired_at; /* unix ms, 0 = not yet */
	int64_t notified; /* unix ms of the last message, 0 = none */
	int64_t until;	  /* oom, frames_dropped: clears at this time */
	bucket_t b[BUCKETS];
	char host[DL_HOST_MAX + 1];
	char ctr[CTR_MAX + 1]; /* "" = the host itself */
	char summary[DL_ALERT_SUMMARY_MAX + 1];
	char notify_error[DL_ALERT_SUMMARY_MAX + 1]; /* "" = none */
	int64_t notify_failed_at;
	int64_t *starts; /* restart_loop: start times, ring of count */
	size_t nstarts, startpos;
	/* memory (rule == nrules) */
	int64_t last_kill, last_start;
	uint64_t dropped;
	bool have_dropped;
	/* memory: the threshold rules whose scope (hosts, containers,
	 * label) holds for this host (ctr "") or container, and their
	 * instances (NULL: not looked up yet, or freed since), worked out
	 * once per scope_gen rather than per row (alerts_stats.c); a
	 * host's memory counts its label changes */
	bool scoped;
	uint32_t scope_gen, labels_gen;
	size_t *match;
	struct inst **mi;
	size_t nmatch;
} inst_t;

/* A resolved alert, for `alerts --all`. */
typedef struct {
	int64_t id;
	char rule[DL_ALERT_NAME_MAX + 1];
	dl_severity_t severity;
	char host[DL_HOST_MAX + 1];
	char ctr[CTR_MAX + 1];
	int64_t since, fired_at, resolved_at;
	bool has_value;
	double value;
	char summary[DL_ALERT_SUMMARY_MAX + 1];
	char notify_error[DL_ALERT_SUMMARY_MAX + 1];
	int64_t notify_failed_at;
} hist_t;

typedef struct {
	int64_t id;
	char host[DL_ALERT_GLOB_MAX + 1];
	char ctr[DL_ALERT_GLOB_MAX + 1];  /* "" = any, host-level too */
	char rule[DL_ALERT_NAME_MAX + 1]; /* "" = any */
	char comment[DL_SILENCE_TEXT_MAX + 1];
	char by[DL_SILENCE_TEXT_MAX + 1];
	int64_t created, expires;
} silence_t;

struct dl_alerts {
	dl_alert_rule_t *rules;
	size_t nrules;
	dl_store_t *store;
	dl_alerts_sink_fn sink;
	void *sink_ud;
	dl_alerts_clock_fn clock;
	void *clock_ud;
	inst_t **hash;
	size_t nbuckets; /* a power of two */
	size_t ninst;
	size_t nthreshold[2]; /* threshold rules over containers, hosts */
	int64_t next_id, next_silence;
	hist_t *hist; /* ring of DL_ALERT_HISTORY_MAX */
	size_t nhist, histpos;
	silence_t *sil;
	size_t nsil;
	int64_t next_prune;
	json_t *labels; /* {host: {container name: {K: V}}} */
};

int64_t dl_alerts__now(dl_alerts_t *e);
inst_t *dl_alerts__get(dl_alerts_t *e, size_t rule, const char *host,
		       const char *ctr, bool create);
/* Unlinks *pp (a chain link) and frees the instance. */
void dl_alerts__drop(dl_alerts_t *e, inst_t **pp);
void dl_alerts__save(dl_alerts_t *e, const inst_t *in);
void dl_alerts__hist_add(dl_alerts_t *e, const hist_t *h);
/* Marks in bad (pending, perhaps firing at once) or good. */
void dl_alerts__bad(dl_alerts_t *e, inst_t *in, int64_t now);
void dl_alerts__good(dl_alerts_t *e, inst_t *in, int64_t now);
bool dl_alerts__silenced(dl_alerts_t *e, const inst_t *in, int64_t now);
void dl_alerts__rfc3339(int64_t ms, char *out, size_t outlen);
/* Sends (resolved: the resolution of) in's alert to the sink. */
void dl_alerts__send(dl_alerts_t *e, const inst_t *in, bool resolved,
		     int64_t now);
/* host/ctr's labels (a new reference), {} when none are known. */
json_t *dl_alerts__labels_of(dl_alerts_t *e, const char *host, const char *ctr);
/* Whether r's label scope (if any) holds for host/ctr: its known
 * labels, else attrs (an event's attributes; may be NULL). */
bool dl_alerts__rule_label(dl_alerts_t *e, const dl_alert_rule_t *r,
			   const char *host, const char *ctr,
			   const json_t *attrs);
/* "host" or "host/ctr" into out. */
void dl_alerts__key(const char *host, const char *ctr, char *out,
		    size_t outlen);

#endif
