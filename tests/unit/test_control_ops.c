/* test_control_ops.c - proto/control: the op table and its policy classes,
 * policy strings, the argument rules of every op, audit redaction and
 * container names. */
#include "proto/control.h"

#include "common/err.h"
#include "test.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                             */

/* Expands "<N*text>" to text repeated N times, so long names, long
 * entries and long lists read as one table row:
 *   "<129*x>"          129 x's
 *   [<255*"a",>"a"]    256 entries */
static char *expand(const char *t)
{
	size_t cap = 64, len = 0;
	char *out = malloc(cap);

	ASSERT(out);
	while (*t) {
		const char *piece = t;
		size_t plen = 1, rep = 1;

		if (*t == '<') {
			char *end;

			rep = strtoul(t + 1, &end, 10);
			ASSERT(*end == '*');
			piece = end + 1;
			end = strchr(piece, '>');
			ASSERT(end);
			plen = (size_t)(end - piece);
			t = end + 1;
		} else {
			t++;
		}
		for (size_t i = 0; i < rep; i++) {
			if (len + plen + 1 > cap) {
				cap = 2 * (len + plen + 1);
				out = realloc(out, cap);
				ASSERT(out);
			}
			memcpy(out + len, piece, plen);
			len += plen;
		}
	}
	out[len] = '\0';
	return out;
}

/* Parses a (possibly templated) JSON text; any JSON value, NUL allowed
 * inside strings so the rules themselves must catch "\u0000". */
static json_t *js(const char *text)
{
	char *s = expand(text);
	json_error_t jerr;
	json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	if (!j)
		DL_FAIL_("bad test JSON %s: %s", s, jerr.text);
	free(s);
	return j;
}

static const dl_op_t *op_named(const char *name)
{
	const dl_op_t *op = dl_control_op(name);

	if (!op)
		DL_FAIL_("no op \"%s\"", name);
	return op;
}

static size_t nops(void)
{
	size_t n = 0;

	while (dl_control_op_at(n))
		n++;
	return n;
}

/* ------------------------------------------------------------------ */
/* The op table                                                        */

#define RD DL_CLASS_READ
#define LC DL_CLASS_LIFECYCLE
#define EX DL_CLASS_EXEC
#define DS DL_CLASS_DESTRUCTIVE
#define DP DL_CLASS_DEPLOY

/* The table, every op once. */
static const struct {
	const char *name;
	unsigned cls;
	bool container;
	dl_op_kind_t kind;
} want_ops[] = {
	{"inspect", RD, true, DL_OPK_PLAIN},
	{"logs", RD, true, DL_OPK_STREAM},
	{"top", RD, true, DL_OPK_PLAIN},
	{"images", RD, false, DL_OPK_PLAIN},
	{"networks", RD, false, DL_OPK_PLAIN},
	{"volumes", RD, false, DL_OPK_PLAIN},
	{"info", RD, false, DL_OPK_PLAIN},
	{"version", RD, false, DL_OPK_PLAIN},
	{"df", RD, false, DL_OPK_PLAIN},
	{"start", LC, true, DL_OPK_PLAIN},
	{"stop", LC, true, DL_OPK_PLAIN},
	{"restart", LC, true, DL_OPK_PLAIN},
	{"kill", LC, true, DL_OPK_PLAIN},
	{"pause", LC, true, DL_OPK_PLAIN},
	{"unpause", LC, true, DL_OPK_PLAIN},
	{"rename", LC, true, DL_OPK_PLAIN},
	{"exec", EX, true, DL_OPK_STREAM},
	{"rm", DS, true, DL_OPK_PLAIN},
	{"prune", DS, false, DL_OPK_PLAIN},
	{"pull", DP, false, DL_OPK_STREAM},
	{"run", DP, false, DL_OPK_PLAIN},
	{"update", DP, true, DL_OPK_PLAIN},
	{"recreate", DP, true, DL_OPK_PLAIN},
};

#define NWANT (sizeof(want_ops) / sizeof(want_ops[0]))

static void test_op_table(void)
{
	unsigned seen[NWANT] = {0};
	unsigned per_class[DL_CLASS_COUNT] = {0};

	ASSERT_EQ(nops(), NWANT);
	ASSERT(dl_control_op_at(NWANT) == NULL);
	ASSERT(dl_control_op_at((size_t)-1) == NULL);
	for (size_t i = 0; i < nops(); i++) {
		const dl_op_t *op = dl_control_op_at(i);
		size_t w;

		ASSERT(op && op->name);
		/* exactly one known class bit */
		ASSERT_NE(op->cls, 0);
		ASSERT_EQ(op->cls & (op->cls - 1), 0);
		ASSERT_EQ(op->cls & ~(unsigned)DL_CLASS_ALL, 0);
		ASSERT(strcmp(dl_control_class_name(op->cls), "?") != 0);
		for (unsigned b = 0; b < DL_CLASS_COUNT; b++)
			if (op->cls == 1u << b)
				per_class[b]++;
		/* and it is the class, container flag and kind */
		for (w = 0; w < NWANT; w++)
			if (!strcmp(want_ops[w].name, op->name))
				break;
		if (w == NWANT)
			DL_FAIL_("op \"%s\" is not in the issue's table",
				 op->name);
		seen[w]++;
		if (op->cls != want_ops[w].cls ||
		    op->container != want_ops[w].container ||
		    op->kind != want_ops[w].kind)
			DL_FAIL_("op %s: class %s container %d kind %d, want "
				 "%s %d %d",
				 op->name, dl_control_class_name(op->cls),
				 op->container, op->kind,
				 dl_control_class_name(want_ops[w].cls),
				 want_ops[w].container, want_ops[w].kind);
		ASSERT(dl_control_op(op->name) == op);
	}
	for (size_t w = 0; w < NWANT; w++)
		if (seen[w] != 1)
			DL_FAIL_("op %s listed %u times", want_ops[w].name,
				 seen[w]);
	ASSERT_EQ(per_class[0], 9); /* read */
	ASSERT_EQ(per_class[1], 7); /* lifecycle */
	ASSERT_EQ(per_class[2], 1); /* exec */
	ASSERT_EQ(per_class[3], 2); /* destructive */
	ASSERT_EQ(per_class[4], 4); /* deploy */

	ASSERT(dl_control_op(NULL) == NULL);
	ASSERT(dl_control_op("") == NULL);
	ASSERT(dl_control_op("STOP") == NULL);
	ASSERT(dl_control_op("sto") == NULL);
	ASSERT(dl_control_op("stop ") == NULL);

	ASSERT_STR_EQ(dl_control_class_name(RD), "read");
	ASSERT_STR_EQ(dl_control_class_name(LC), "lifecycle");
	ASSERT_STR_EQ(dl_control_class_name(EX), "exec");
	ASSERT_STR_EQ(dl_control_class_name(DS), "destructive");
	ASSERT_STR_EQ(dl_control_class_name(0), "?");
	ASSERT_STR_EQ(dl_control_class_name(RD | LC), "?");
	ASSERT_STR_EQ(dl_control_class_name(DP), "deploy");
	ASSERT_STR_EQ(dl_control_class_name(1u << 5), "?");
	ASSERT_EQ(DL_CLASS_DEFAULT, RD | LC);
	ASSERT_EQ(DL_CLASS_ALL, RD | LC | EX | DS | DP);
	/* deploy is never in the default policy */
	ASSERT_EQ(DL_CLASS_DEFAULT & DP, 0);
}

/* The container flag agrees with the argument rules: an op that needs a
 * container refuses {} for want of one, and one that does not refuses a
 * container as an unknown argument. */
static void test_op_container_rules(void)
{
	json_t *empty = js("{}"), *web = js("{\"container\": \"web\"}");

	for (size_t i = 0; i < nops(); i++) {
		const dl_op_t *op = dl_control_op_at(i);
		char err[256] = "", want[128];
		int rc = dl_control_validate(op, empty, err, sizeof(err));

		if (op->container) {
			snprintf(want, sizeof(want),
				 "%s: container is required", op->name);
			ASSERT_EQ(rc, DL_EINVAL);
			ASSERT_STR_EQ(err, want);
		} else {
			snprintf(want, sizeof(want),
				 "%s: unknown argument \"container\"",
				 op->name);
			ASSERT_EQ(
				dl_control_validate(op, web, err, sizeof(err)),
				DL_EINVAL);
			ASSERT_STR_EQ(err, want);
		}
	}
	json_decref(empty);
	json_decref(web);
}

/* ------------------------------------------------------------------ */
/* Policy                                                              */

static const struct {
	const char *s;
	int rc;
	unsigned mask;	  /* rc 0 */
	const char *word; /* rc != 0: quoted in the sentence */
} policies[] = {
	{"read, lifecycle", 0, RD | LC, NULL},
	{"read,lifecycle", 0, RD | LC, NULL},
	{"read lifecycle", 0, RD | LC, NULL},
	{"\tread\t,\t lifecycle ,", 0, RD | LC, NULL},
	{",,read,,,exec,,", 0, RD | EX, NULL},
	{"destructive", 0, DS, NULL},
	{"exec", 0, EX, NULL},
	{"read, read", 0, RD, NULL},
	{"read, lifecycle, exec, destructive", 0, RD | LC | EX | DS, NULL},
	{"read, lifecycle, exec, destructive, deploy", 0, DL_CLASS_ALL, NULL},
	{"deploy", 0, DP, NULL},
	{"deploys", DL_EINVAL, 0, "\"deploys\""},
	{"all", 0, DL_CLASS_ALL, NULL},
	{"  all  ", 0, DL_CLASS_ALL, NULL},
	{"read, all", 0, DL_CLASS_ALL, NULL},
	{"none", 0, 0, NULL},
	{" none ", 0, 0, NULL},
	{"none, none", 0, 0, NULL},
	{"", 0, 0, NULL},
	{" \t, ", 0, 0, NULL},
	/* errors */
	{"reed", DL_EINVAL, 0, "\"reed\""},
	{"read, reed", DL_EINVAL, 0, "\"reed\""},
	{"rea", DL_EINVAL, 0, "\"rea\""},
	{"reads", DL_EINVAL, 0, "\"reads\""},
	{"READ", DL_EINVAL, 0, "\"READ\""}, /* case-sensitive */
	{"read, Exec", DL_EINVAL, 0, "\"Exec\""},
	{"All", DL_EINVAL, 0, "\"All\""},
	{"NONE", DL_EINVAL, 0, "\"NONE\""},
	{"read;exec", DL_EINVAL, 0, "\"read;exec\""},
	{"read|exec", DL_EINVAL, 0, "\"read|exec\""},
	{"read\nexec", DL_EINVAL, 0, "\"read\nexec\""},
	{"none, read", DL_EINVAL, 0, "\"none\""},
	{"exec none", DL_EINVAL, 0, "\"none\""},
	{"all, none", DL_EINVAL, 0, "\"none\""},
};

static void test_policy_parse(void)
{
	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		unsigned mask = 0xdead;
		char err[256] = "";
		int rc = dl_control_policy_parse(policies[i].s, &mask, err,
						 sizeof(err));

		if (rc != policies[i].rc)
			DL_FAIL_("row %zu \"%s\": rc %d, want %d (%s)", i,
				 policies[i].s, rc, policies[i].rc, err);
		if (rc == 0) {
			if (mask != policies[i].mask)
				DL_FAIL_("row %zu \"%s\": mask %#x, want %#x",
					 i, policies[i].s, mask,
					 policies[i].mask);
			ASSERT_STR_EQ(err, "");
		} else if (!strstr(err, policies[i].word)) {
			DL_FAIL_("row %zu \"%s\": \"%s\" does not name %s", i,
				 policies[i].s, err, policies[i].word);
		}
	}

	/* The whole sentences. */
	unsigned mask = 0;
	char err[256];

	ASSERT_EQ(dl_control_policy_parse("reed", &mask, err, sizeof(err)),
		  DL_EINVAL);
	ASSERT_STR_EQ(err, "unknown control class \"reed\" (classes: read, "
			   "lifecycle, exec, destructive, deploy; or all, "
			   "none)");
	ASSERT_EQ(
		dl_control_policy_parse("none, read", &mask, err, sizeof(err)),
		DL_EINVAL);
	ASSERT_STR_EQ(err, "\"none\" cannot be combined with other control "
			   "classes");
	/* A long bad word is cut to 32 bytes in the sentence. */
	char *longw = expand("read, <40*z>");

	ASSERT_EQ(dl_control_policy_parse(longw, &mask, err, sizeof(err)),
		  DL_EINVAL);
	free(longw);
	longw = expand("\"<32*z>\"");
	ASSERT(strstr(err, longw) != NULL);
	free(longw);
	/* A short err buffer still ends in NUL. */
	memset(err, 'X', sizeof(err));
	ASSERT_EQ(dl_control_policy_parse("bad", &mask, err, 8), DL_EINVAL);
	ASSERT_STR_EQ(err, "unknown");
	/* NULL reads as empty. */
	mask = 0xdead;
	ASSERT_EQ(dl_control_policy_parse(NULL, &mask, err, sizeof(err)), 0);
	ASSERT_EQ(mask, 0);
}

static void test_policy_str(void)
{
	char out[64], err[256];

	dl_control_policy_str(0, out, sizeof(out));
	ASSERT_STR_EQ(out, "none");
	dl_control_policy_str(RD | LC, out, sizeof(out));
	ASSERT_STR_EQ(out, "read, lifecycle");
	dl_control_policy_str(DL_CLASS_ALL, out, sizeof(out));
	ASSERT_STR_EQ(out, "read, lifecycle, exec, destructive, deploy");
	dl_control_policy_str(EX | DS, out, sizeof(out));
	ASSERT_STR_EQ(out, "exec, destructive");
	dl_control_policy_str(1u << 5, out, sizeof(out)); /* no such class */
	ASSERT_STR_EQ(out, "none");

	/* Every mask survives str -> parse. */
	for (unsigned m = 0; m <= DL_CLASS_ALL; m++) {
		unsigned back = 0xdead;

		dl_control_policy_str(m, out, sizeof(out));
		ASSERT_EQ(dl_control_policy_parse(out, &back, err, sizeof(err)),
			  0);
		ASSERT_EQ(back, m);
	}

	/* A short buffer: a NUL-terminated prefix, never an overrun. */
	memset(out, 'X', sizeof(out));
	dl_control_policy_str(DL_CLASS_ALL, out, 10);
	ASSERT_LT(strlen(out), 10);
	ASSERT(!strncmp(out, "read, lifecycle", strlen(out)));
	ASSERT_EQ(out[10], 'X');
	dl_control_policy_str(0, out, 3);
	ASSERT_STR_EQ(out, "no");
}

/* ------------------------------------------------------------------ */
/* Arguments                                                           */

/* why: "" for valid args; else the error sentence's expected start
 * (which always begins with the op name). */
static const struct {
	const char *op;
	const char *args;
	const char *why;
} argrows[] = {
	/* not an object */
	{"start", "[]", "start: arguments must be a JSON object"},
	{"start", "\"web\"", "start: arguments must be a JSON object"},
	{"start", "null", "start: arguments must be a JSON object"},
	{"images", "1", "images: arguments must be a JSON object"},
	{"prune", "[\"images\"]", "prune: arguments must be a JSON object"},
	/* container names */
	{"start", "{}", "start: container is required"},
	{"start", "{\"container\": \"web\"}", ""},
	{"start", "{\"container\": \"a.b-c_d\"}", ""},
	{"start", "{\"container\": \"<16*0a1b>\"}", ""}, /* 64-hex id */
	{"start", "{\"container\": \"4f3c\"}", ""},	 /* id prefix */
	{"start", "{\"container\": \"<128*x>\"}", ""},
	{"start", "{\"container\": \"<129*x>\"}",
	 "start: container must be a container name or id ([a-zA-Z0-9]"
	 "[a-zA-Z0-9_.-]*, at most 128 bytes)"},
	{"start", "{\"container\": \"\"}", "start: container must be a"},
	{"start", "{\"container\": \"-web\"}", "start: container must be a"},
	{"start", "{\"container\": \".web\"}", "start: container must be a"},
	{"start", "{\"container\": \"_web\"}", "start: container must be a"},
	{"start", "{\"container\": \"web/x\"}", "start: container must be a"},
	{"start", "{\"container\": \"/web\"}", "start: container must be a"},
	{"start", "{\"container\": \"we b\"}", "start: container must be a"},
	{"start", "{\"container\": \"web\\u0000x\"}",
	 "start: container must be a"},
	{"start", "{\"container\": \"w\\u00e9b\"}", "start: container must be"},
	{"start", "{\"container\": 5}", "start: container must be a"},
	{"start", "{\"container\": null}", "start: container must be a"},
	{"start", "{\"container\": true}", "start: container must be a"},
	{"start", "{\"container\": [\"web\"]}", "start: container must be a"},
	{"start", "{\"container\": {\"name\": \"web\"}}",
	 "start: container must be a"},
	{"pause", "{\"container\": \"web\"}", ""},
	{"pause", "{}", "pause: container is required"},
	{"unpause", "{\"container\": \"-\"}", "unpause: container must be"},
	{"inspect", "{\"container\": \"web\"}", ""},
	{"top", "{\"container\": \"we b\"}", "top: container must be"},
	/* unknown keys, case-sensitive */
	{"start", "{\"container\": \"web\", \"t\": 1}",
	 "start: unknown argument \"t\""},
	{"start", "{\"Container\": \"web\"}",
	 "start: unknown argument \"Container\""},
	{"stop", "{\"container\": \"web\", \"T\": 1}",
	 "stop: unknown argument \"T\""},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"id\"], \"tty\": true}",
	 "exec: unknown argument \"tty\""},
	/* stop / restart: t */
	{"stop", "{\"container\": \"web\"}", ""},
	{"stop", "{\"container\": \"web\", \"t\": 0}", ""},
	{"stop", "{\"container\": \"web\", \"t\": 30}", ""},
	{"stop", "{\"container\": \"web\", \"t\": 86400}", ""},
	{"stop", "{\"container\": \"web\", \"t\": 86401}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"container\": \"web\", \"t\": -1}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"container\": \"web\", \"t\": 9223372036854775807}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"container\": \"web\", \"t\": 1.5}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"container\": \"web\", \"t\": 10.0}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"container\": \"web\", \"t\": \"10\"}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"container\": \"web\", \"t\": true}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"container\": \"web\", \"t\": null}",
	 "stop: t must be an integer from 0 to 86400"},
	{"stop", "{\"t\": 5}", "stop: container is required"},
	{"restart", "{\"container\": \"web\", \"t\": 86400}", ""},
	{"restart", "{\"container\": \"web\", \"t\": 86401}",
	 "restart: t must be an integer from 0 to 86400"},
	{"restart", "{}", "restart: container is required"},
	/* kill: signal */
	{"kill", "{\"container\": \"web\"}", ""},
	{"kill", "{\"container\": \"web\", \"signal\": \"KILL\"}", ""},
	{"kill", "{\"container\": \"web\", \"signal\": \"SIGHUP\"}", ""},
	{"kill", "{\"container\": \"web\", \"signal\": \"SIGRTMIN+3\"}", ""},
	{"kill", "{\"container\": \"web\", \"signal\": \"9\"}", ""},
	{"kill", "{\"container\": \"web\", \"signal\": \"<16*A>\"}", ""},
	{"kill", "{\"container\": \"web\", \"signal\": \"<17*A>\"}",
	 "kill: signal must be a signal name or number (KILL, SIGHUP, 9)"},
	{"kill", "{\"container\": \"web\", \"signal\": \"KI LL\"}",
	 "kill: signal must be a signal name or number"},
	{"kill", "{\"container\": \"web\", \"signal\": \"\"}",
	 "kill: signal must be a signal name or number"},
	{"kill", "{\"container\": \"web\", \"signal\": \"SIG-HUP\"}",
	 "kill: signal must be a signal name or number"},
	{"kill", "{\"container\": \"web\", \"signal\": \"KILL;id\"}",
	 "kill: signal must be a signal name or number"},
	{"kill", "{\"container\": \"web\", \"signal\": \"KILL\\u0000x\"}",
	 "kill: signal must be a signal name or number"},
	{"kill", "{\"container\": \"web\", \"signal\": 9}",
	 "kill: signal must be a signal name or number"},
	/* rename: name */
	{"rename", "{\"container\": \"web\", \"name\": \"web2\"}", ""},
	{"rename", "{\"container\": \"web\"}", "rename: name is required"},
	{"rename", "{\"name\": \"web2\"}", "rename: container is required"},
	{"rename", "{\"container\": \"web\", \"name\": \"\"}",
	 "rename: name must be a container name or id"},
	{"rename", "{\"container\": \"web\", \"name\": \"-x\"}",
	 "rename: name must be a container name or id"},
	{"rename", "{\"container\": \"web\", \"name\": \"<129*n>\"}",
	 "rename: name must be a container name or id"},
	{"rename", "{\"container\": \"web\", \"name\": null}",
	 "rename: name must be a container name or id"},
	/* rm: force, volumes */
	{"rm", "{\"container\": \"web\"}", ""},
	{"rm", "{\"container\": \"web\", \"force\": true, \"volumes\": false}",
	 ""},
	{"rm", "{\"container\": \"web\", \"force\": \"yes\"}",
	 "rm: force must be true or false"},
	{"rm", "{\"container\": \"web\", \"force\": 1}",
	 "rm: force must be true or false"},
	{"rm", "{\"container\": \"web\", \"force\": null}",
	 "rm: force must be true or false"},
	{"rm", "{\"container\": \"web\", \"volumes\": 0}",
	 "rm: volumes must be true or false"},
	{"rm", "{\"container\": \"web\", \"volumes\": \"true\"}",
	 "rm: volumes must be true or false"},
	/* logs */
	{"logs", "{\"container\": \"web\"}", ""},
	{"logs",
	 "{\"container\": \"web\", \"follow\": true, \"tail\": 100, "
	 "\"since\": 1700000000, \"timestamps\": false}",
	 ""},
	{"logs", "{\"container\": \"web\", \"tail\": 0}", ""},
	{"logs", "{\"container\": \"web\", \"tail\": 100000000}", ""},
	{"logs", "{\"container\": \"web\", \"tail\": 100000001}",
	 "logs: tail must be an integer from 0 to 100000000"},
	{"logs", "{\"container\": \"web\", \"tail\": -1}",
	 "logs: tail must be an integer from 0 to 100000000"},
	{"logs", "{\"container\": \"web\", \"tail\": \"all\"}",
	 "logs: tail must be an integer from 0 to 100000000"},
	{"logs", "{\"container\": \"web\", \"since\": 0}", ""},
	{"logs", "{\"container\": \"web\", \"since\": 1099511627776}", ""},
	{"logs", "{\"container\": \"web\", \"since\": 1099511627777}",
	 "logs: since must be an integer from 0 to 1099511627776"},
	{"logs", "{\"container\": \"web\", \"since\": -5}",
	 "logs: since must be an integer from 0 to 1099511627776"},
	{"logs", "{\"container\": \"web\", \"since\": 1.0}",
	 "logs: since must be an integer from 0 to 1099511627776"},
	{"logs", "{\"container\": \"web\", \"since\": \"1h\"}",
	 "logs: since must be an integer from 0 to 1099511627776"},
	{"logs", "{\"container\": \"web\", \"follow\": \"true\"}",
	 "logs: follow must be true or false"},
	{"logs", "{\"container\": \"web\", \"follow\": null}",
	 "logs: follow must be true or false"},
	{"logs", "{\"container\": \"web\", \"timestamps\": 1}",
	 "logs: timestamps must be true or false"},
	{"logs", "{\"tail\": 10}", "logs: container is required"},
	/* exec: cmd */
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"sh\", \"-c\", \"echo\"]}", ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"sh\", \"-c\", \"a\\nb\"]}", ""},
	{"exec", "{\"container\": \"web\"}", "exec: cmd is required"},
	{"exec", "{\"cmd\": [\"id\"]}", "exec: container is required"},
	{"exec", "{\"container\": \"web\", \"cmd\": []}",
	 "exec: cmd must be a list of 1 to 256 strings"},
	{"exec", "{\"container\": \"web\", \"cmd\": \"sh\"}",
	 "exec: cmd must be a list of 1 to 256 strings"},
	{"exec", "{\"container\": \"web\", \"cmd\": null}",
	 "exec: cmd must be a list of 1 to 256 strings"},
	{"exec", "{\"container\": \"web\", \"cmd\": [<255*\"a\",>\"a\"]}", ""},
	{"exec", "{\"container\": \"web\", \"cmd\": [<256*\"a\",>\"a\"]}",
	 "exec: cmd must be a list of 1 to 256 strings"},
	{"exec", "{\"container\": \"web\", \"cmd\": [1]}",
	 "exec: cmd entries must be strings of at most 4096 bytes without "
	 "NUL"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"id\", null]}",
	 "exec: cmd entries must be strings of at most 4096 bytes"},
	{"exec", "{\"container\": \"web\", \"cmd\": [[\"id\"]]}",
	 "exec: cmd entries must be strings of at most 4096 bytes"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"<4096*x>\"]}", ""},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"<4097*x>\"]}",
	 "exec: cmd entries must be strings of at most 4096 bytes"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"a\\u0000b\"]}",
	 "exec: cmd entries must be strings of at most 4096 bytes without "
	 "NUL"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"id\", \"\\u0000\"]}",
	 "exec: cmd entries must be strings"},
	/* exec: env */
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [\"A=1\", "
	 "\"_X=\", \"PATH=/bin:/usr/bin\", \"a1=b=c\", \"Z9_z=x y\"]}",
	 ""},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": []}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [\"=x\"]}",
	 "exec: env entries must look like KEY=value"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[\"noequals\"]}",
	 "exec: env entries must look like KEY=value"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [\"\"]}",
	 "exec: env entries must look like KEY=value"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [\"1A=b\"]}",
	 "exec: env names must be letters, digits and _, not starting with a "
	 "digit"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [\"A-B=c\"]}",
	 "exec: env names must be letters, digits and _"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [\"A B=c\"]}",
	 "exec: env names must be letters, digits and _"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [\"A=1\", "
	 "\"A.B=c\"]}",
	 "exec: env names must be letters, digits and _"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[\"<255*K>=v\"]}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[\"<256*K>=v\"]}",
	 "exec: env entries must look like KEY=value"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[\"A=<4094*x>\"]}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[\"A=<4095*x>\"]}",
	 "exec: env entries must be strings of at most 4096 bytes"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[\"A=b\\u0000c\"]}",
	 "exec: env entries must be strings of at most 4096 bytes without "
	 "NUL"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": [7]}",
	 "exec: env entries must be strings"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": \"A=1\"}",
	 "exec: env must be a list of at most 128 strings"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": {\"A\": "
	 "\"1\"}}",
	 "exec: env must be a list of at most 128 strings"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[<127*\"A=1\",>\"A=1\"]}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[<128*\"A=1\",>\"A=1\"]}",
	 "exec: env must be a list of at most 128 strings"},
	/* exec: workdir */
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": \"/\"}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": \"/srv/my "
	 "app\"}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/donn\\u00e9es\"}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/<4095*x>\"}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/<4096*x>\"}",
	 "exec: workdir must be an absolute path"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": \"app\"}",
	 "exec: workdir must be an absolute path"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": \"\"}",
	 "exec: workdir must be an absolute path"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/a\\nb\"}",
	 "exec: workdir must be an absolute path"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/a\\tb\"}",
	 "exec: workdir must be an absolute path"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/a\\u001bb\"}",
	 "exec: workdir must be an absolute path"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/a\\u007fb\"}",
	 "exec: workdir must be an absolute path"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": "
	 "\"/a\\u0000b\"}",
	 "exec: workdir must be an absolute path"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"pwd\"], \"workdir\": 1}",
	 "exec: workdir must be an absolute path"},
	/* exec: user */
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"root\"}", ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"1000\"}", ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": "
	 "\"1000:1000\"}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": "
	 "\"www-data:app.grp_1\"}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"<64*u>\"}",
	 ""},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"<65*u>\"}",
	 "exec: user must be user[:group] (names or ids)"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"\"}",
	 "exec: user must be user[:group] (names or ids)"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"root "
	 "user\"}",
	 "exec: user must be user[:group]"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"root;id\"}",
	 "exec: user must be user[:group]"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": \"$(id)\"}",
	 "exec: user must be user[:group]"},
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": "
	 "\"root\\u0000x\"}",
	 "exec: user must be user[:group]"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"id\"], \"user\": 0}",
	 "exec: user must be user[:group]"},
	/* prune: what */
	{"prune", "{\"what\": \"containers\"}", ""},
	{"prune", "{\"what\": \"images\"}", ""},
	{"prune", "{}", "prune: what is required"},
	{"prune", "{\"what\": \"volumes\"}",
	 "prune: what must be containers or images"},
	{"prune", "{\"what\": \"Images\"}",
	 "prune: what must be containers or images"},
	{"prune", "{\"what\": \"image\"}",
	 "prune: what must be containers or images"},
	{"prune", "{\"what\": \"\"}",
	 "prune: what must be containers or images"},
	{"prune", "{\"what\": 1}", "prune: what must be containers or images"},
	{"prune", "{\"what\": [\"images\"]}",
	 "prune: what must be containers or images"},
	{"prune", "{\"what\": \"images\", \"all\": true}",
	 "prune: unknown argument \"all\""},
	/* prune: label filter, spliced into Docker's query string */
	{"prune", "{\"what\": \"containers\", \"label\": \"team\"}", ""},
	{"prune", "{\"what\": \"containers\", \"label\": \"t=/tmp/dl.x:1\"}",
	 ""},
	{"prune", "{\"what\": \"containers\", \"label\": \"a&b\"}",
	 "prune: label must be key or key=value"},
	{"prune", "{\"what\": \"containers\", \"label\": \"a\\\"b\"}",
	 "prune: label must be key or key=value"},
	{"prune", "{\"what\": \"containers\", \"label\": \"a b\"}",
	 "prune: label must be key or key=value"},
	{"prune", "{\"what\": \"containers\", \"label\": \"\"}",
	 "prune: label must be key or key=value"},
	{"prune", "{\"what\": \"containers\", \"label\": 1}",
	 "prune: label must be key or key=value"},
	/* ops without arguments */
	{"images", "{}", ""},
	{"networks", "{}", ""},
	{"volumes", "{}", ""},
	{"info", "{}", ""},
	{"version", "{}", ""},
	{"df", "{}", ""},
	{"images", "{\"all\": true}", "images: unknown argument \"all\""},
	{"df", "{\"verbose\": true}", "df: unknown argument \"verbose\""},
	{"info", "[]", "info: arguments must be a JSON object"},
	/* pull */
	{"pull", "{\"image\": \"busybox\"}", ""},
	{"pull", "{\"image\": \"127.0.0.1:5000/dltest/app:v1\"}", ""},
	{"pull", "{\"image\": \"a/b@sha256:0123abcd\"}", ""},
	{"pull", "{}", "pull: image is required"},
	{"pull", "{\"image\": \"\"}", "pull: image must be an image"},
	{"pull", "{\"image\": \"-x\"}", "pull: image must be an image"},
	{"pull", "{\"image\": \"a//b\"}", "pull: image must be an image"},
	{"pull", "{\"image\": \"a:\"}", "pull: image must be an image"},
	{"pull", "{\"image\": \"a b\"}", "pull: image must be an image"},
	{"pull", "{\"image\": \"a?b=1\"}", "pull: image must be an image"},
	{"pull", "{\"image\": \"<255*a>\"}", ""},
	{"pull", "{\"image\": \"<256*a>\"}", "pull: image must be an image"},
	/* run: every flag at its bounds */
	{"run",
	 "{\"image\": \"app:v1\", \"name\": \"web\", \"env\": "
	 "[\"A=1\"], \"ports\": [\"8080:80\", \"53:53/udp\"], "
	 "\"volumes\": [\"/srv:/data:ro\", \"vol1:/x\"], \"restart\": "
	 "\"on-failure:5\", \"labels\": [\"a.b/c=d e\"], \"network\": "
	 "\"net1\", \"health_cmd\": \"true\", \"health_interval\": 5, "
	 "\"memory\": 67108864, \"cpus\": 1.5, \"cmd\": [\"sleep\", "
	 "\"9\"]}",
	 ""},
	{"run", "{}", "run: image is required"},
	{"run", "{\"image\": \"a\", \"ports\": [\"0:80\"]}",
	 "run: ports must be a list"},
	{"run", "{\"image\": \"a\", \"ports\": [\"65536:80\"]}",
	 "run: ports must be a list"},
	{"run", "{\"image\": \"a\", \"ports\": [\"65535:65535/sctp\"]}", ""},
	{"run", "{\"image\": \"a\", \"ports\": [\"80\"]}",
	 "run: ports must be a list"},
	{"run", "{\"image\": \"a\", \"ports\": [\"80:80/icmp\"]}",
	 "run: ports must be a list"},
	{"run", "{\"image\": \"a\", \"ports\": [\"1.2.3.4:80:80\"]}",
	 "run: ports must be a list"},
	{"run", "{\"image\": \"a\", \"ports\": [\"8o:80\"]}",
	 "run: ports must be a list"},
	{"run", "{\"image\": \"a\", \"ports\": \"80:80\"}",
	 "run: ports must be a list"},
	{"run", "{\"image\": \"a\", \"ports\": [<64*\"1:1\",>\"1:1\"]}",
	 "run: ports must be a list of at most 64"},
	{"run", "{\"image\": \"a\", \"volumes\": [\"/a:b\"]}",
	 "run: volumes must be a list"},
	{"run", "{\"image\": \"a\", \"volumes\": [\"/a\"]}",
	 "run: volumes must be a list"},
	{"run", "{\"image\": \"a\", \"volumes\": [\"/a:/b:rx\"]}",
	 "run: volumes must be a list"},
	{"run", "{\"image\": \"a\", \"volumes\": [\"/a:/b:rw\"]}", ""},
	{"run", "{\"image\": \"a\", \"volumes\": [\"../a:/b\"]}",
	 "run: volumes must be a list"},
	{"run", "{\"image\": \"a\", \"volumes\": [\":/b\"]}",
	 "run: volumes must be a list"},
	{"run", "{\"image\": \"a\", \"volumes\": [\"/a:/b\\n\"]}",
	 "run: volumes must be a list"},
	{"run", "{\"image\": \"a\", \"restart\": \"always\"}", ""},
	{"run", "{\"image\": \"a\", \"restart\": \"unless-stopped\"}", ""},
	{"run", "{\"image\": \"a\", \"restart\": \"no\"}", ""},
	{"run", "{\"image\": \"a\", \"restart\": \"on-failure\"}", ""},
	{"run", "{\"image\": \"a\", \"restart\": \"on-failure:1000\"}", ""},
	{"run", "{\"image\": \"a\", \"restart\": \"on-failure:1001\"}",
	 "run: restart must be no, always"},
	{"run", "{\"image\": \"a\", \"restart\": \"on-failure:\"}",
	 "run: restart must be no, always"},
	{"run", "{\"image\": \"a\", \"restart\": \"on-failure:-1\"}",
	 "run: restart must be no, always"},
	{"run", "{\"image\": \"a\", \"restart\": \"sometimes\"}",
	 "run: restart must be no, always"},
	{"run", "{\"image\": \"a\", \"restart\": \"Always\"}",
	 "run: restart must be no, always"},
	{"run", "{\"image\": \"a\", \"labels\": [\"nokey\"]}",
	 "run: labels must be a list"},
	{"run", "{\"image\": \"a\", \"labels\": [\"=v\"]}",
	 "run: labels must be a list"},
	{"run", "{\"image\": \"a\", \"labels\": [\"k k=v\"]}",
	 "run: labels must be a list"},
	{"run", "{\"image\": \"a\", \"labels\": [\"<128*k>=v\"]}", ""},
	{"run", "{\"image\": \"a\", \"labels\": [\"<129*k>=v\"]}",
	 "run: labels must be a list"},
	{"run", "{\"image\": \"a\", \"labels\": [\"k=<1025*v>\"]}",
	 "run: labels must be a list"},
	{"run", "{\"image\": \"a\", \"memory\": 6291455}",
	 "run: memory must be an integer from 6291456"},
	{"run", "{\"image\": \"a\", \"memory\": 6291456}", ""},
	{"run", "{\"image\": \"a\", \"cpus\": 0}",
	 "run: cpus must be a number from 0.01 to 1024"},
	{"run", "{\"image\": \"a\", \"cpus\": 1025}",
	 "run: cpus must be a number from 0.01 to 1024"},
	{"run", "{\"image\": \"a\", \"cpus\": \"1\"}",
	 "run: cpus must be a number from 0.01 to 1024"},
	{"run", "{\"image\": \"a\", \"cpus\": 2}", ""},
	{"run", "{\"image\": \"a\", \"health_interval\": 5}",
	 "run: health_interval needs health_cmd"},
	{"run", "{\"image\": \"a\", \"health_cmd\": \"\"}",
	 "run: health_cmd must be 1 to 1024 bytes"},
	{"run", "{\"image\": \"a\", \"health_cmd\": \"<1025*x>\"}",
	 "run: health_cmd must be 1 to 1024 bytes"},
	{"run",
	 "{\"image\": \"a\", \"health_cmd\": \"x\", "
	 "\"health_interval\": 0}",
	 "run: health_interval must be an integer from 1 to 86400"},
	{"run", "{\"image\": \"a\", \"network\": \"a b\"}",
	 "run: network must be a container name"},
	{"run", "{\"image\": \"a\", \"name\": \"/web\"}",
	 "run: name must be a container name"},
	{"run", "{\"image\": \"a\", \"cmd\": []}",
	 "run: cmd must be a list of 1 to 256"},
	{"run", "{\"image\": \"a\", \"privileged\": true}",
	 "run: unknown argument \"privileged\""},
	/* update */
	{"update", "{\"container\": \"web\", \"restart\": \"always\"}", ""},
	{"update",
	 "{\"container\": \"web\", \"memory\": 67108864, "
	 "\"cpus\": 0.5}",
	 ""},
	{"update", "{\"container\": \"web\"}",
	 "update: give at least one of restart, memory, cpus"},
	{"update", "{\"restart\": \"always\"}",
	 "update: container is required"},
	{"update", "{\"container\": \"web\", \"restart\": \"never\"}",
	 "update: restart must be"},
	/* recreate */
	{"recreate", "{\"container\": \"web\"}", ""},
	{"recreate",
	 "{\"container\": \"web\", \"pull\": true, \"image\": "
	 "\"r:5000/a:v2\", \"wait\": 3600}",
	 ""},
	{"recreate", "{\"container\": \"web\", \"wait\": 3601}",
	 "recreate: wait must be an integer from 1 to 3600"},
	{"recreate", "{\"container\": \"web\", \"pull\": 1}",
	 "recreate: pull must be true or false"},
	{"recreate", "{\"container\": \"web\", \"image\": \":v2\"}",
	 "recreate: image must be an image"},
};

static void test_validate_table(void)
{
	for (size_t i = 0; i < sizeof(argrows) / sizeof(argrows[0]); i++) {
		const dl_op_t *op = op_named(argrows[i].op);
		json_t *args = js(argrows[i].args);
		char err[512] = "";
		int rc = dl_control_validate(op, args, err, sizeof(err));
		int want = argrows[i].why[0] ? DL_EINVAL : 0;
		size_t on = strlen(op->name);

		if (rc != want ||
		    strncmp(err, argrows[i].why, strlen(argrows[i].why)))
			DL_FAIL_("row %zu %s %.200s: rc %d \"%s\", want %d "
				 "\"%s\"",
				 i, argrows[i].op, argrows[i].args, rc, err,
				 want, argrows[i].why);
		if (rc) {
			/* "<op>: ..." */
			ASSERT(!strncmp(err, op->name, on));
			ASSERT(err[on] == ':' && err[on + 1] == ' ');
		} else {
			ASSERT_STR_EQ(err, "");
		}
		json_decref(args);
	}
}

static void test_validate_edges(void)
{
	const dl_op_t *stop = op_named("stop");
	json_t *args;
	char err[256], *want;

	/* No op: the sentence names the request. */
	args = js("{}");
	ASSERT_EQ(dl_control_validate(NULL, args, err, sizeof(err)), DL_EINVAL);
	ASSERT_STR_EQ(err, "request: arguments must be a JSON object");
	ASSERT_EQ(dl_control_validate(stop, NULL, err, sizeof(err)), DL_EINVAL);
	ASSERT_STR_EQ(err, "stop: arguments must be a JSON object");
	json_decref(args);

	/* A long unknown key is cut to 64 bytes in the sentence. */
	args = js("{\"<100*k>\": 1}");
	ASSERT_EQ(dl_control_validate(stop, args, err, sizeof(err)), DL_EINVAL);
	want = expand("stop: unknown argument \"<64*k>\"");
	ASSERT_STR_EQ(err, want);
	free(want);
	json_decref(args);

	/* A short err buffer is cut, still NUL-terminated. */
	args = js("{\"container\": \"web\", \"t\": -1}");
	memset(err, 'X', sizeof(err));
	ASSERT_EQ(dl_control_validate(stop, args, err, 8), DL_EINVAL);
	ASSERT_STR_EQ(err, "stop: t");
	json_decref(args);

	/* Validation does not change the arguments. */
	args = js("{\"container\": \"web\", \"cmd\": [\"id\"], \"env\": "
		  "[\"A=1\"], \"workdir\": \"/\"}");
	json_t *copy = json_deep_copy(args);

	ASSERT_EQ(dl_control_validate(op_named("exec"), args, err, sizeof(err)),
		  0);
	ASSERT(json_equal(args, copy));
	json_decref(copy);
	json_decref(args);
}

/* ------------------------------------------------------------------ */
/* Redaction                                                           */

static const struct {
	const char *op;
	const char *in;
	const char *out;
} redactions[] = {
	{"exec",
	 "{\"container\": \"web\", \"cmd\": [\"env\"], \"env\": "
	 "[\"TOKEN=s3cr3t\", \"EMPTY=\", \"URL=a=b=c\"], \"workdir\": "
	 "\"/app\", "
	 "\"user\": \"1000\"}",
	 "{\"cmd\": [\"env\"], \"env\": [\"TOKEN=***\", \"EMPTY=***\", "
	 "\"URL=***\"], \"workdir\": \"/app\", \"user\": \"1000\"}"},
	{"exec", "{\"container\": \"web\", \"cmd\": [\"A=1\"]}",
	 "{\"cmd\": [\"A=1\"]}"}, /* only env is secret */
	{"exec", "{\"container\": \"web\", \"cmd\": [\"id\"], \"env\": []}",
	 "{\"cmd\": [\"id\"], \"env\": []}"},
	{"stop", "{\"container\": \"web\", \"t\": 5}", "{\"t\": 5}"},
	{"kill", "{\"signal\": \"KILL\", \"container\": \"web\"}",
	 "{\"signal\": \"KILL\"}"},
	{"logs",
	 "{\"container\": \"web\", \"follow\": true, \"tail\": 10, "
	 "\"since\": 0, \"timestamps\": false}",
	 "{\"follow\": true, \"tail\": 10, \"since\": 0, \"timestamps\": "
	 "false}"},
	{"rename", "{\"container\": \"web\", \"name\": \"web2\"}",
	 "{\"name\": \"web2\"}"},
	{"start", "{\"container\": \"web\"}", "{}"},
	{"prune", "{\"what\": \"images\"}", "{\"what\": \"images\"}"},
	{"info", "{}", "{}"},
	/* A key longer than 256 bytes is cut; the value never shows. */
	{"exec", "{\"env\": [\"<300*K>=v\"]}", "{\"env\": [\"<256*K>=***\"]}"},
};

static void test_redact(void)
{
	for (size_t i = 0; i < sizeof(redactions) / sizeof(redactions[0]);
	     i++) {
		const dl_op_t *op = op_named(redactions[i].op);
		json_t *in = js(redactions[i].in),
		       *want = js(redactions[i].out);
		json_t *before = json_deep_copy(in);
		json_t *out = dl_control_redact(op, in);

		ASSERT(out != NULL && out != in);
		if (!json_equal(out, want)) {
			char *got = json_dumps(out, JSON_COMPACT);

			DL_FAIL_("row %zu: got %.300s", i, got);
		}
		ASSERT(json_equal(in, before)); /* input untouched */
		json_decref(out);
		json_decref(before);
		json_decref(want);
		json_decref(in);
	}
	/* The redacted copy shares nothing with the input. */
	json_t *in = js("{\"container\": \"web\", \"cmd\": [\"id\"], \"env\": "
			"[\"A=1\"]}");
	json_t *out = dl_control_redact(op_named("exec"), in);

	ASSERT(out);
	ASSERT(json_object_get(out, "env") != json_object_get(in, "env"));
	ASSERT_STR_EQ(json_string_value(
			      json_array_get(json_object_get(in, "env"), 0)),
		      "A=1");
	json_decref(out);
	json_decref(in);
}

/* ------------------------------------------------------------------ */
/* Container names                                                     */

static const struct {
	const char *s;
	bool ok;
} names[] = {
	{"a", true},
	{"Z", true},
	{"0", true},
	{"web", true},
	{"a.b-c_d", true},
	{"web-", true},
	{"web.", true},
	{"a..b", true},
	{"a__b", true},
	{"My-App_1.2", true},
	{"<16*0a1b>", true}, /* 64-hex id */
	{"<128*x>", true},
	{"<129*x>", false},
	{"<1000*x>", false},
	{"", false},
	{"-web", false},
	{".web", false},
	{"_web", false},
	{"/web", false},
	{"web/x", false},
	{"we b", false},
	{" web", false},
	{"web ", false},
	{"web:1", false},
	{"web@x", false},
	{"web\n", false},
	{"web\t", false},
	{"w\xc3\xa9"
	 "b",
	 false},
	{"\xff", false},
	{"web*", false},
	{"../etc", false},
};

static void test_name_ok(void)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *s = expand(names[i].s);

		if (dl_control_name_ok(s) != names[i].ok)
			DL_FAIL_("row %zu \"%.40s\" (%zu bytes): want %d", i, s,
				 strlen(s), names[i].ok);
		free(s);
	}
	ASSERT(!dl_control_name_ok(NULL));
}

int main(void)
{
	RUN(test_op_table);
	RUN(test_op_container_rules);
	RUN(test_policy_parse);
	RUN(test_policy_str);
	RUN(test_validate_table);
	RUN(test_validate_edges);
	RUN(test_redact);
	RUN(test_name_ok);
	return 0;
}
