/* control.h - the control operations: names, policy classes, arguments.
 *
 * One table shared by the CLI (checks before sending), the collector
 * (checks again, audits a redacted summary) and the agent (checks again,
 * applies its own policy, then calls Docker). Nobody trusts the hop before
 * it: every argument is validated against the same rules at each end.
 * Arguments travel as one JSON object; unknown keys are an error. */
#ifndef DL_PROTO_CONTROL_H
#define DL_PROTO_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Policy classes (bits). The agent's [control] allow names them. */
enum {
	DL_CLASS_READ = 1 << 0, /* inspect, logs, top, images, info, ... */
	DL_CLASS_LIFECYCLE = 1
			     << 1, /* start, stop, restart, kill, pause, ... */
	DL_CLASS_EXEC = 1 << 2,	   /* exec */
	DL_CLASS_DESTRUCTIVE = 1 << 3, /* rm, prune */
	DL_CLASS_DEPLOY = 1 << 4,      /* pull, run, update, recreate */
};
#define DL_CLASS_DEFAULT (DL_CLASS_READ | DL_CLASS_LIFECYCLE)
#define DL_CLASS_ALL	 0x1f
#define DL_CLASS_COUNT	 5

/* How the answer travels. */
typedef enum {
	DL_OPK_PLAIN,  /* one RESPONSE */
	DL_OPK_STREAM, /* STREAM chunks, then END */
} dl_op_kind_t;

typedef struct {
	const char *name;
	unsigned cls;	   /* one DL_CLASS_* bit */
	bool container;	   /* args carry "container" (HOST/CONTAINER ops) */
	dl_op_kind_t kind; /* logs and exec stream */
} dl_op_t;

/* A stream (logs, exec) may run this many bytes ahead of the CREDITs
 * the collector returns as its admin client reads: the most a stream
 * can hold in the collector's memory. */
#define DL_CONTROL_WINDOW (512u * 1024u)

/* Caps on argument values. */
#define DL_CTL_NAME_MAX	   128 /* container name or id (prefix) */
#define DL_CTL_CMD_MAX	   256 /* exec argv entries */
#define DL_CTL_ENV_MAX	   128 /* exec environment entries */
#define DL_CTL_STR_MAX	   4096
#define DL_CTL_TIMEOUT_MAX (24 * 3600) /* seconds, stop/restart -t */
/* deploy: run/update/recreate */
#define DL_CTL_IMAGE_MAX     255 /* [registry[:port]/]repo[:tag][@digest] */
#define DL_CTL_PORTS_MAX     64	 /* -p entries */
#define DL_CTL_MOUNTS_MAX    64	 /* -v entries */
#define DL_CTL_LABELS_MAX    128 /* --label entries */
#define DL_CTL_LABEL_KEY_MAX 128
#define DL_CTL_LABEL_VAL_MAX 1024
#define DL_CTL_HEALTH_MAX    1024	 /* --health-cmd bytes */
#define DL_CTL_MEMORY_MIN    (6ll << 20) /* Docker's own minimum */
#define DL_CTL_MEMORY_MAX    (1ll << 40)
#define DL_CTL_CPUS_MAX	     1024
#define DL_CTL_WAIT_MAX	     3600 /* seconds recreate waits for running */
#define DL_CTL_RETRIES_MAX   1000 /* on-failure:N */

/* The op called name, or NULL. */
const dl_op_t *dl_control_op(const char *name);
/* The i-th op, NULL past the last (for help and tests). */
const dl_op_t *dl_control_op_at(size_t i);

/* Checks args (a JSON object) against op's rules. 0, or DL_EINVAL with a
 * sentence in err ("stop: t must be an integer from 0 to 86400"). */
int dl_control_validate(const dl_op_t *op, const json_t *args, char *err,
			size_t errlen);

/* A copy of args for the audit log with secrets removed: exec
 * environment values become "***" and "container" is left out (the
 * audit row has it as target). Caller owns the result; NULL on ENOMEM. */
json_t *dl_control_redact(const dl_op_t *op, const json_t *args);

/* "read", "lifecycle", "exec", "destructive", "deploy" for one bit. */
const char *dl_control_class_name(unsigned cls);
/* Parses "read, lifecycle" ("none" = nothing allowed; "all" = every
 * class). 0, or DL_EINVAL with a sentence naming the bad word. */
int dl_control_policy_parse(const char *s, unsigned *mask, char *err,
			    size_t errlen);
/* "read, lifecycle" or "none". */
void dl_control_policy_str(unsigned mask, char *out, size_t outlen);

/* A container name as Docker accepts it, or an id prefix:
 * [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most DL_CTL_NAME_MAX bytes. */
bool dl_control_name_ok(const char *s);

/* An image reference: alnum first, then [a-zA-Z0-9._/:@-], at most
 * DL_CTL_IMAGE_MAX bytes, no "//" and no trailing ':' or '/'. */
bool dl_control_image_ok(const char *s);
/* "no", "always", "unless-stopped", "on-failure[:N]" (N <= 1000); the
 * name and the count (0 when absent) go to name/retries if not NULL. */
bool dl_control_restart_ok(const char *s, char *name, size_t namelen,
			   int *retries);
/* "HOST:CTR[/tcp|udp|sctp]", ports 1..65535. */
bool dl_control_port_ok(const char *s);
/* "SRC:DST[:ro|:rw]": SRC an absolute path or a volume name, DST an
 * absolute path, neither with ':' or control bytes. */
bool dl_control_mount_ok(const char *s);

#endif
