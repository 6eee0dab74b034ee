/* control.c - the control op table and its argument rules. */
#include "proto/control.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

typedef enum {
	A_BOOL,
	A_INT,	   /* min..max */
	A_NAME,	   /* dl_control_name_ok */
	A_SIGNAL,  /* KILL, SIGHUP, 9 */
	A_ARGV,	   /* non-empty array of strings */
	A_ENV,	   /* array of "KEY=value" */
	A_PATH,	   /* absolute path */
	A_USER,	   /* user[:group], names or numbers */
	A_PRUNE,   /* containers | images */
	A_LABEL,   /* key or key=value, for prune filters */
	A_IMAGE,   /* dl_control_image_ok */
	A_PORTS,   /* array of dl_control_port_ok */
	A_MOUNTS,  /* array of dl_control_mount_ok */
	A_LABELS,  /* array of "key=value" */
	A_RESTART, /* dl_control_restart_ok */
	A_TEXT,	   /* 1..DL_CTL_HEALTH_MAX bytes without control bytes */
	A_CPUS,	   /* number 0.01..DL_CTL_CPUS_MAX */
} atype_t;

typedef struct {
	const char *key;
	atype_t type;
	bool required;
	int64_t min, max; /* A_INT */
} arg_t;

#define END_ARGS                                                               \
	{                                                                      \
		NULL, A_BOOL, false, 0, 0                                      \
	}

static const arg_t no_args[] = {END_ARGS};
static const arg_t ctr_args[] = {{"container", A_NAME, true, 0, 0}, END_ARGS};
static const arg_t stop_args[] = {
	{"container", A_NAME, true, 0, 0},
	{"t", A_INT, false, 0, DL_CTL_TIMEOUT_MAX},
	END_ARGS,
};
static const arg_t kill_args[] = {
	{"container", A_NAME, true, 0, 0},
	{"signal", A_SIGNAL, false, 0, 0},
	END_ARGS,
};
static const arg_t rename_args[] = {
	{"container", A_NAME, true, 0, 0},
	{"name", A_NAME, true, 0, 0},
	END_ARGS,
};
static const arg_t rm_args[] = {
	{"container", A_NAME, true, 0, 0},
	{"force", A_BOOL, false, 0, 0},
	{"volumes", A_BOOL, false, 0, 0},
	END_ARGS,
};
static const arg_t logs_args[] = {
	{"container", A_NAME, true, 0, 0},
	{"follow", A_BOOL, false, 0, 0},
	{"tail", A_INT, false, 0, 100000000},
	{"since", A_INT, false, 0, INT64_C(1) << 40}, /* unix seconds */
	{"timestamps", A_BOOL, false, 0, 0},
	END_ARGS,
};
static const arg_t exec_args[] = {
	{"container", A_NAME, true, 0, 0}, {"cmd", A_ARGV, true, 0, 0},
	{"env", A_ENV, false, 0, 0},	   {"workdir", A_PATH, false, 0, 0},
	{"user", A_USER, false, 0, 0},	   END_ARGS,
};
static const arg_t prune_args[] = {
	{"what", A_PRUNE, true, 0, 0},
	{"label", A_LABEL, false, 0, 0},
	END_ARGS,
};

static const arg_t pull_args[] = {{"image", A_IMAGE, true, 0, 0}, END_ARGS};
static const arg_t run_args[] = {
	{"image", A_IMAGE, true, 0, 0},
	{"name", A_NAME, false, 0, 0},
	{"env", A_ENV, false, 0, 0},
	{"ports", A_PORTS, false, 0, 0},
	{"volumes", A_MOUNTS, false, 0, 0},
	{"restart", A_RESTART, false, 0, 0},
	{"labels", A_LABELS, false, 0, 0},
	{"network", A_NAME, false, 0, 0},
	{"health_cmd", A_TEXT, false, 0, 0},
	{"health_interval", A_INT, false, 1, 86400},
	{"memory", A_INT, false, DL_CTL_MEMORY_MIN, DL_CTL_MEMORY_MAX},
	{"cpus", A_CPUS, false, 0, 0},
	{"cmd", A_ARGV, false, 0, 0},
	END_ARGS,
};
static const arg_t update_args[] = {
	{"container", A_NAME, true, 0, 0},
	{"restart", A_RESTART, false, 0, 0},
	{"memory", A_INT, false, DL_CTL_MEMORY_MIN, DL_CTL_MEMORY_MAX},
	{"cpus", A_CPUS, false, 0, 0},
	END_ARGS,
};
static const arg_t recreate_args[] = {
	{"container", A_NAME, true, 0, 0},
	{"pull", A_BOOL, false, 0, 0},
	{"image", A_IMAGE, false, 0, 0},
	{"wait", A_INT, false, 1, DL_CTL_WAIT_MAX},
	END_ARGS,
};

typedef struct {
	dl_op_t op;
	const arg_t *args;
} op_def_t;

#define RD  DL_CLASS_READ
#define LC  DL_CLASS_LIFECYCLE
#define EX  DL_CLASS_EXEC
#define DS  DL_CLASS_DESTRUCTIVE
#define DP  DL_CLASS_DEPLOY
#define PL  DL_OPK_PLAIN
#define STR DL_OPK_STREAM

static const op_def_t ops[] = {
	{{"start", LC, true, PL}, ctr_args},
	{{"stop", LC, true, PL}, stop_args},
	{{"restart", LC, true, PL}, stop_args},
	{{"kill", LC, true, PL}, kill_args},
	{{"pause", LC, true, PL}, ctr_args},
	{{"unpause", LC, true, PL}, ctr_args},
	{{"rename", LC, true, PL}, rename_args},
	{{"rm", DS, true, PL}, rm_args},
	{{"inspect", RD, true, PL}, ctr_args},
	{{"logs", RD, true, STR}, logs_args},
	{{"top", RD, true, PL}, ctr_args},
	{{"exec", EX, true, STR}, exec_args},
	{{"images", RD, false, PL}, no_args},
	{{"networks", RD, false, PL}, no_args},
	{{"volumes", RD, false, PL}, no_args},
	{{"info", RD, false, PL}, no_args},
	{{"version", RD, false, PL}, no_args},
	{{"df", RD, false, PL}, no_args},
	{{"prune", DS, false, PL}, prune_args},
	{{"pull", DP, false, STR}, pull_args},
	{{"run", DP, false, PL}, run_args},
	{{"update", DP, true, PL}, update_args},
	{{"recreate", DP, true, PL}, recreate_args},
	{{NULL, 0, false, PL}, NULL},
};

#define NOPS (sizeof(ops) / sizeof(ops[0]) - 1)

static const op_def_t *def_of(const dl_op_t *op)
{
	/* dl_op_t is the first member: op points into ops[]. */
	return (const op_def_t *)op;
}

const dl_op_t *dl_control_op(const char *name)
{
	for (size_t i = 0; name && i < NOPS; i++)
		if (!strcmp(ops[i].op.name, name))
			return &ops[i].op;
	return NULL;
}

const dl_op_t *dl_control_op_at(size_t i)
{
	return i < NOPS ? &ops[i].op : NULL;
}

/* ---- value rules --------------------------------------------------- */

bool dl_control_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > DL_CTL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

/* Every byte from set, or alnum; length 1..max. */
static bool word_ok(const char *s, const char *set, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || strchr(set, c)))
			return false;
	}
	return true;
}

static bool isalnum_(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

static int bad(char *err, size_t errlen, const dl_op_t *op, const char *key,
	       const char *what);

/* Printable UTF-8 or ASCII text without control bytes (a NUL would cut
 * it short on the way to Docker). */
static bool text_ok(const char *s, size_t n, size_t max)
{
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

bool dl_control_image_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!word_ok(s, "._/:@-", DL_CTL_IMAGE_MAX) || !isalnum_(s[0]) ||
	    strstr(s, "//") || s[n - 1] == ':' || s[n - 1] == '/')
		return false;
	return true;
}

/* Decimal 0..max, all of s. */
static bool num_ok(const char *s, size_t n, long max, long *out)
{
	long v = 0;

	if (n == 0 || n > 6)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return false;
	if (out)
		*out = v;
	return true;
}

bool dl_control_restart_ok(const char *s, char *name, size_t namelen,
			   int *retries)
{
	static const char *const plain[] = {"no", "always", "unless-stopped"};
	long n = 0;

	if (!s)
		return false;
	for (size_t i = 0; i < 3; i++) {
		if (!strcmp(s, plain[i])) {
			if (name)
				snprintf(name, namelen, "%s", s);
			if (retries)
				*retries = 0;
			return true;
		}
	}
	if (strncmp(s, "on-failure", 10) ||
	    (s[10] && (s[10] != ':' || !num_ok(s + 11, strlen(s + 11),
					       DL_CTL_RETRIES_MAX, &n))))
		return false;
	if (name)
		snprintf(name, namelen, "on-failure");
	if (retries)
		*retries = (int)n;
	return true;
}

bool dl_control_port_ok(const char *s)
{
	const char *colon = s ? strchr(s, ':') : NULL, *slash;
	size_t cl;
	long p;

	if (!colon || !num_ok(s, (size_t)(colon - s), 65535, &p) || p == 0)
		return false;
	slash = strchr(colon + 1, '/');
	cl = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
	if (!num_ok(colon + 1, cl, 65535, &p) || p == 0)
		return false;
	return !slash || !strcmp(slash + 1, "tcp") ||
	       !strcmp(slash + 1, "udp") || !strcmp(slash + 1, "sctp");
}

bool dl_control_mount_ok(const char *s)
{
	const char *c1 = s ? strchr(s, ':') : NULL, *c2;
	char src[DL_CTL_NAME_MAX + 1];
	size_t sl;

	if (!c1 || c1 == s || !text_ok(s, strlen(s), DL_CTL_STR_MAX))
		return false;
	sl = (size_t)(c1 - s);
	c2 = strchr(c1 + 1, ':');
	if (c1[1] != '/' || (c2 && c2 == c1 + 1))
		return false;
	if (c2 && strcmp(c2 + 1, "ro") && strcmp(c2 + 1, "rw"))
		return false;
	if (s[0] == '/')
		return true;
	/* a named volume */
	if (sl > DL_CTL_NAME_MAX)
		return false;
	memcpy(src, s, sl);
	src[sl] = '\0';
	return dl_control_name_ok(src);
}

/* "key=value": key [a-zA-Z0-9._/-] up to 128 bytes, value text. */
static bool label_kv_ok(const char *s, size_t n)
{
	const char *eq = memchr(s, '=', n);
	char key[DL_CTL_LABEL_KEY_MAX + 1];
	size_t kl;

	if (!eq || eq == s || strlen(s) != n)
		return false;
	kl = (size_t)(eq - s);
	if (kl > DL_CTL_LABEL_KEY_MAX)
		return false;
	memcpy(key, s, kl);
	key[kl] = '\0';
	return word_ok(key, "._/-", DL_CTL_LABEL_KEY_MAX) &&
	       text_ok(eq + 1, n - kl - 1, DL_CTL_LABEL_VAL_MAX);
}

/* A list of at most max strings each passing ok. */
static int check_list(const dl_op_t *op, const arg_t *a, const json_t *v,
		      size_t max, bool (*ok)(const char *, size_t),
		      const char *what, char *err, size_t errlen)
{
	char msg[160];
	size_t i;
	json_t *e;

	snprintf(msg, sizeof(msg), "must be a list of at most %zu %s", max,
		 what);
	if (!json_is_array(v) || json_array_size(v) > max)
		return bad(err, errlen, op, a->key, msg);
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);

		if (!s || !ok(s, json_string_length(e)))
			return bad(err, errlen, op, a->key, msg);
	}
	return 0;
}

static bool port_n_ok(const char *s, size_t n)
{
	return strlen(s) == n && n <= 32 && dl_control_port_ok(s);
}

static bool mount_n_ok(const char *s, size_t n)
{
	return strlen(s) == n && dl_control_mount_ok(s);
}

static int bad(char *err, size_t errlen, const dl_op_t *op, const char *key,
	       const char *what)
{
	snprintf(err, errlen, "%s: %s %s", op->name, key, what);
	return DL_EINVAL;
}

static int check_strings(const dl_op_t *op, const arg_t *a, const json_t *v,
			 char *err, size_t errlen)
{
	size_t max = a->type == A_ARGV ? DL_CTL_CMD_MAX : DL_CTL_ENV_MAX;
	size_t i;
	json_t *e;

	if (!json_is_array(v) || json_array_size(v) > max ||
	    (a->type == A_ARGV && json_array_size(v) == 0))
		return bad(err, errlen, op, a->key,
			   a->type == A_ARGV
				   ? "must be a list of 1 to 256 strings"
				   : "must be a list of at most 128 strings");
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		size_t n = s ? json_string_length(e) : 0;

		if (!s || strlen(s) != n || n > DL_CTL_STR_MAX)
			return bad(err, errlen, op, a->key,
				   "entries must be strings of at most 4096 "
				   "bytes without NUL");
		if (a->type == A_ENV) {
			const char *eq = strchr(s, '=');
			char key[256];

			if (!eq || eq == s || (size_t)(eq - s) >= sizeof(key))
				return bad(err, errlen, op, a->key,
					   "entries must look like KEY=value");
			memcpy(key, s, (size_t)(eq - s));
			key[eq - s] = '\0';
			if (!word_ok(key, "_", sizeof(key)) ||
			    (key[0] >= '0' && key[0] <= '9'))
				return bad(err, errlen, op, a->key,
					   "names must be letters, digits and "
					   "_, not starting with a digit");
		}
	}
	return 0;
}

static int check_value(const dl_op_t *op, const arg_t *a, const json_t *v,
		       char *err, size_t errlen)
{
	const char *s = json_string_value(v);
	size_t n = s ? json_string_length(v) : 0;
	char what[96];

	switch (a->type) {
	case A_BOOL:
		return json_is_boolean(v) ? 0
					  : bad(err, errlen, op, a->key,
						"must be true "
						"or false");
	case A_INT:
		if (json_is_integer(v) && json_integer_value(v) >= a->min &&
		    json_integer_value(v) <= a->max)
			return 0;
		snprintf(what, sizeof(what),
			 "must be an integer from %lld to %lld",
			 (long long)a->min, (long long)a->max);
		return bad(err, errlen, op, a->key, what);
	case A_NAME:
		return s && strlen(s) == n && dl_control_name_ok(s)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be a container name or id "
				     "([a-zA-Z0-9][a-zA-Z0-9_.-]*, at most "
				     "128 bytes)");
	case A_SIGNAL:
		return s && strlen(s) == n && word_ok(s, "+", 16)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be a signal name or number "
				     "(KILL, SIGHUP, 9)");
	case A_ARGV:
	case A_ENV: return check_strings(op, a, v, err, errlen);
	case A_PATH:
		return s && strlen(s) == n && s[0] == '/' &&
				       text_ok(s, n, DL_CTL_STR_MAX)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be an absolute path");
	case A_USER:
		return s && strlen(s) == n && word_ok(s, "_.:-", 64)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be user[:group] (names or ids)");
	case A_LABEL:
		return s && strlen(s) == n && word_ok(s, "_.:/=-", 256)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be key or key=value (letters, "
				     "digits and _.:/=-)");
	case A_PRUNE:
		return s && strlen(s) == n &&
				       (!strcmp(s, "containers") ||
					!strcmp(s, "images"))
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be containers or images");
	case A_IMAGE:
		return s && strlen(s) == n && dl_control_image_ok(s)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be an image reference "
				     "([REGISTRY/]REPO[:TAG], at most 255 "
				     "bytes)");
	case A_PORTS:
		return check_list(op, a, v, DL_CTL_PORTS_MAX, port_n_ok,
				  "HOST:CONTAINER[/tcp|udp|sctp] with ports "
				  "1 to 65535",
				  err, errlen);
	case A_MOUNTS:
		return check_list(op, a, v, DL_CTL_MOUNTS_MAX, mount_n_ok,
				  "SRC:DST[:ro|:rw] with DST an absolute path "
				  "and SRC an absolute path or a volume name",
				  err, errlen);
	case A_LABELS:
		return check_list(op, a, v, DL_CTL_LABELS_MAX, label_kv_ok,
				  "key=value (key [a-zA-Z0-9._/-], at most "
				  "128 bytes; value at most 1024)",
				  err, errlen);
	case A_RESTART:
		return s && strlen(s) == n &&
				       dl_control_restart_ok(s, NULL, 0, NULL)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be no, always, unless-stopped or "
				     "on-failure[:N] (N at most 1000)");
	case A_TEXT:
		return s && strlen(s) == n && n > 0 &&
				       text_ok(s, n, DL_CTL_HEALTH_MAX)
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be 1 to 1024 bytes of text without "
				     "control characters");
	case A_CPUS:
		return json_is_number(v) && json_number_value(v) >= 0.01 &&
				       json_number_value(v) <= DL_CTL_CPUS_MAX
			       ? 0
			       : bad(err, errlen, op, a->key,
				     "must be a number from 0.01 to 1024");
	}
	return DL_EINVAL;
}

/* Rules across arguments. */
static int check_together(const dl_op_t *op, const json_t *args, char *err,
			  size_t errlen)
{
	if (!strcmp(op->name, "update") && !json_object_get(args, "restart") &&
	    !json_object_get(args, "memory") &&
	    !json_object_get(args, "cpus")) {
		snprintf(err, errlen,
			 "update: give at least one of restart, memory, cpus");
		return DL_EINVAL;
	}
	if (json_object_get(args, "health_interval") &&
	    !json_object_get(args, "health_cmd"))
		return bad(err, errlen, op, "health_interval",
			   "needs health_cmd");
	return 0;
}

int dl_control_validate(const dl_op_t *op, const json_t *args, char *err,
			size_t errlen)
{
	const arg_t *rules;
	const char *key;
	json_t *v;

	if (!op || !json_is_object(args)) {
		snprintf(err, errlen, "%s: arguments must be a JSON object",
			 op ? op->name : "request");
		return DL_EINVAL;
	}
	rules = def_of(op)->args;
	json_object_foreach((json_t *)args, key, v)
	{
		const arg_t *a = rules;
		int rc;

		while (a->key && strcmp(a->key, key))
			a++;
		if (!a->key) {
			snprintf(err, errlen, "%s: unknown argument \"%.64s\"",
				 op->name, key);
			return DL_EINVAL;
		}
		if ((rc = check_value(op, a, v, err, errlen)))
			return rc;
	}
	for (const arg_t *a = rules; a->key; a++) {
		if (a->required && !json_object_get(args, a->key))
			return bad(err, errlen, op, a->key, "is required");
	}
	return check_together(op, args, err, errlen);
}

json_t *dl_control_redact(const dl_op_t *op, const json_t *args)
{
	json_t *out = json_deep_copy(args), *env;
	size_t i;
	json_t *e;

	if (!out)
		return NULL;
	json_object_del(out, "container");
	env = json_object_get(out, "env");
	json_array_foreach(env, i, e)
	{
		const char *s = json_string_value(e);
		const char *eq = s ? strchr(s, '=') : NULL;
		char red[300];

		if (!eq)
			continue;
		snprintf(red, sizeof(red), "%.*s=***",
			 (int)((eq - s) > 256 ? 256 : (eq - s)), s);
		json_array_set_new(env, i, json_string(red));
	}
	(void)op;
	return out;
}

/* ---- policy -------------------------------------------------------- */

static const char *const class_names[DL_CLASS_COUNT] = {
	"read", "lifecycle", "exec", "destructive", "deploy"};

const char *dl_control_class_name(unsigned cls)
{
	for (unsigned i = 0; i < DL_CLASS_COUNT; i++)
		if (cls == 1u << i)
			return class_names[i];
	return "?";
}

int dl_control_policy_parse(const char *s, unsigned *mask, char *err,
			    size_t errlen)
{
	unsigned m = 0;
	bool none = false;

	while (s && *s) {
		size_t n;
		unsigned i;

		while (*s == ' ' || *s == '\t' || *s == ',')
			s++;
		n = strcspn(s, " \t,");
		if (n == 0)
			break;
		for (i = 0; i < DL_CLASS_COUNT; i++)
			if (strlen(class_names[i]) == n &&
			    !strncmp(s, class_names[i], n))
				break;
		if (i < DL_CLASS_COUNT)
			m |= 1u << i;
		else if (n == 3 && !strncmp(s, "all", 3))
			m |= DL_CLASS_ALL;
		else if (n == 4 && !strncmp(s, "none", 4))
			none = true;
		else {
			snprintf(err, errlen,
				 "unknown control class \"%.*s\" (classes: "
				 "read, lifecycle, exec, destructive, deploy; "
				 "or all, none)",
				 (int)(n > 32 ? 32 : n), s);
			return DL_EINVAL;
		}
		s += n;
	}
	if (none && m) {
		snprintf(err, errlen,
			 "\"none\" cannot be combined with other "
			 "control classes");
		return DL_EINVAL;
	}
	*mask = m;
	return 0;
}

void dl_control_policy_str(unsigned mask, char *out, size_t outlen)
{
	size_t used = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < DL_CLASS_COUNT; i++) {
		int w;

		if (!(mask & (1u << i)))
			continue;
		w = snprintf(out + used, outlen - used, "%s%s",
			     used ? ", " : "", class_names[i]);
		if (w < 0 || (size_t)w >= outlen - used)
			return;
		used += (size_t)w;
	}
	if (!used)
		snprintf(out, outlen, "none");
}
