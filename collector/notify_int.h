/* notify_int.h - what notify.c (config, queue, worker), notify_render.c
 * (bodies, environment: pure, unit-tested) and notify_exec.c (commands)
 * share. Private to the collector; tests include it. */
#ifndef DL_COLLECTOR_NOTIFY_INT_H
#define DL_COLLECTOR_NOTIFY_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/buf.h"

#define DL_NOTIFY_NAME_MAX	 63	     /* [notify NAME], [hook NAME] */
#define DL_NOTIFY_HEADERS	 9	     /* header1 .. header9 */
#define DL_NOTIFY_ARGS		 32	     /* command words */
#define DL_NOTIFY_TO_MAX	 16	     /* email recipients */
#define DL_NOTIFY_ON_MAX	 32	     /* hook type:action pairs */
#define DL_NOTIFY_QUEUE		 1000	     /* sends queued or in flight */
#define DL_NOTIFY_HOOK_QUEUE	 256	     /* hook commands waiting */
#define DL_NOTIFY_HOOK_RUN	 4	     /* hook commands running at once */
#define DL_NOTIFY_EXEC_RUN	 4	     /* exec channel commands at once */
#define DL_NOTIFY_HTTP_RUN	 32	     /* transfers at once */
#define DL_NOTIFY_MSG_MAX	 (64 * 1024) /* a message as JSON */
#define DL_NOTIFY_ANSWER_MAX	 512	     /* receiver's answer kept */
#define DL_NOTIFY_OUTPUT_MAX	 4096 /* command output kept and logged */
#define DL_NOTIFY_ENV_MAX	 64   /* DL_* variables per command */
#define DL_NOTIFY_SECRET_MAX	 4096 /* token_file, password_file */
#define DL_NOTIFY_BACKOFF_MIN_MS 1000
#define DL_NOTIFY_BACKOFF_MAX_MS 60000

typedef enum {
	DL_NK_WEBHOOK,
	DL_NK_SLACK,
	DL_NK_DISCORD,
	DL_NK_NTFY,
	DL_NK_GOTIFY,
	DL_NK_TEAMS,
	DL_NK_EMAIL,
	DL_NK_EXEC,
	DL_NK__COUNT
} dl_notify_kind_t;

/* One [notify NAME]. Strings are owned; secrets are wiped on free. */
typedef struct {
	char name[DL_NOTIFY_NAME_MAX + 1];
	dl_notify_kind_t kind;
	int line;			  /* of the section's first entry */
	char *url;			  /* HTTP kinds */
	char *headers[DL_NOTIFY_HEADERS]; /* "Name: value" (webhook) */
	int nheaders;
	char *token;   /* gotify, ntfy: from token_file (secret) */
	bool adaptive; /* teams: Adaptive Card (default) or MessageCard */
	/* email */
	char *smtp_url, *from, *username, *password; /* password: secret */
	char *to[DL_NOTIFY_TO_MAX];
	int nto;
	bool starttls;
	/* exec */
	char **argv;
	int timeout_s;
	int retries;
	/* outcomes (loop thread) */
	uint64_t n_ok, n_failed, n_dropped;
} dl_notify_chan_t;

typedef struct {
	char type[32];
	char action[96]; /* "*" = any */
} dl_notify_on_t;

/* One [hook NAME]. */
typedef struct {
	char name[DL_NOTIFY_NAME_MAX + 1];
	int line;
	dl_notify_on_t on[DL_NOTIFY_ON_MAX];
	int non;
	char *hosts, *containers; /* fnmatch globs, NULL = any */
	int chan;		  /* notify = CHANNEL: its index, else -1 */
	char **argv;		  /* or command = ... */
	int timeout_s;
	uint64_t n_ok, n_failed, n_dropped; /* loop thread */
} dl_notify_hook_t;

/* ---- notify_render.c: pure functions ---- */

const char *dl_notify_kind_name(dl_notify_kind_t k);
/* "webhook" -> DL_NK_WEBHOOK; -1 when unknown. */
int dl_notify_kind_parse(const char *s);

/* What the renderer needs besides the message: fixed in tests. */
typedef struct {
	time_t now;	      /* Date: of an email */
	const char *hostname; /* Message-ID domain */
	uint64_t uniq;	      /* Message-ID local part */
} dl_notify_ctx_t;

/* A rendered body. All owned; dl_notify_body_free releases. */
typedef struct {
	char *body;
	size_t len;
	const char *content_type; /* static; NULL for email and exec */
	char *headers[4];	  /* extra "Name: value" (ntfy) */
	int nheaders;
} dl_notify_body_t;

/* Renders msg in ch's body shape (docs/ALERTS.md "Channels"). 0, or
 * DL_ENOMEM / DL_ETOOBIG. */
int dl_notify_render(const dl_notify_chan_t *ch, const json_t *msg,
		     const dl_notify_ctx_t *ctx, dl_notify_body_t *out);
void dl_notify_body_free(dl_notify_body_t *b);

/* One line naming the message: "[FIRING] cpu-high on web-01/app". */
void dl_notify_title(const json_t *msg, char *out, size_t outlen);
/* The message as plain text lines (summary, then key: value). */
int dl_notify_text(const json_t *msg, dl_buf_t *out);

/* The environment of a command: "NAME=value" strings, NULL-terminated,
 * in out (at most max - 1 of them; the caller frees each and out's
 * strings with dl_notify_env_free). who is "DL_CHANNEL=x" or
 * "DL_HOOK=x". 0 or DL_ENOMEM. */
int dl_notify_env(const json_t *msg, const char *who, char **out, size_t max);
void dl_notify_env_free(char **env);

/* Splits a command line into words: blanks separate, '...' is literal,
 * "..." keeps blanks and takes \" and \\, a backslash outside quotes
 * escapes the next character. No shell, no variables, no globbing. The
 * first word must be an absolute path. NULL-terminated array (free with
 * dl_notify_argv_free), or NULL with a sentence in err. */
char **dl_notify_argv(const char *cmd, char *err, size_t errlen);
void dl_notify_argv_free(char **argv);

/* Delay before retry number attempt (1 = the first retry): 1 s, 2 s,
 * 4 s, ... capped at 60 s. */
uint64_t dl_notify_backoff_ms(int attempt);

/* The URL as logs show it: scheme://host[:port] (userinfo, path, query
 * and fragment dropped: the path of a Slack, Discord or Teams webhook
 * is its secret). */
void dl_notify_url_redact(const char *url, char *out, size_t outlen);

/* "Name <a@b>" or "a@b" -> "<a@b>" for SMTP. 0 or DL_EINVAL. */
int dl_notify_addr_spec(const char *addr, char *out, size_t outlen);

/* Whether hook h wants event (type, action, host, name). */
bool dl_notify_hook_match(const dl_notify_hook_t *h, const json_t *event);

#endif
