/* test_stack.c - `dockline apply`'s stack file (collector/stack.c): what
 * parses, the error sentence (with its path) of what does not, the start
 * order by depends_on and its cycles, table-driven. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "collector/stack.h"
#include "common/err.h"
#include "test.h"

/* Single quotes stand for double ones: the table stays readable. */
static void unquote(const char *in, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < outlen; i++)
		out[i] = in[i] == '\'' ? '"' : in[i];
	out[i] = '\0';
}

static const struct {
	const char *file;
	const char *order; /* names in start order, or NULL: an error */
	const char *err;   /* a part of the error sentence */
} cases[] = {
	{"{'containers':[{'name':'a','image':'busybox'}]}", "a", NULL},
	/* dependencies first, file order among the free */
	{"{'containers':[{'name':'web','image':'x','depends_on':['api']},"
	 "{'name':'api','image':'x','depends_on':['db','cache']},"
	 "{'name':'db','image':'x'},{'name':'cache','image':'x'}]}",
	 "db cache api web", NULL},
	{"{'containers':[{'name':'a','image':'x'},{'name':'b','image':'x'},"
	 "{'name':'c','image':'x','depends_on':['a']}]}",
	 "a b c", NULL},
	/* diamond: d once */
	{"{'containers':[{'name':'top','image':'x','depends_on':['l','r']},"
	 "{'name':'l','image':'x','depends_on':['d']},"
	 "{'name':'r','image':'x','depends_on':['d']},"
	 "{'name':'d','image':'x'}]}",
	 "d l r top", NULL},
	/* every key */
	{"{'containers':[{'name':'db','image':'postgres:16','env':['A=1'],"
	 "'ports':['5432:5432'],'volumes':['/srv/db:/var/lib/db'],"
	 "'labels':{'tier':'db'},'restart':'unless-stopped','network':"
	 "'bridge','health':{'cmd':'pg_isready','interval':'5s'},"
	 "'cmd':['postgres'],'depends_on':[],'memory':67108864,"
	 "'cpus':0.5}]}",
	 "db", NULL},
	/* cycles */
	{"{'containers':[{'name':'a','image':'x','depends_on':['b']},"
	 "{'name':'b','image':'x','depends_on':['a']}]}",
	 NULL, "cycle: a -> b -> a"},
	{"{'containers':[{'name':'a','image':'x','depends_on':['a']}]}", NULL,
	 "cycle: a -> a"},
	{"{'containers':[{'name':'z','image':'x'},"
	 "{'name':'a','image':'x','depends_on':['z','b']},"
	 "{'name':'b','image':'x','depends_on':['c']},"
	 "{'name':'c','image':'x','depends_on':['a']}]}",
	 NULL, "cycle: a -> b -> c -> a"},
	/* missing and repeated dependencies */
	{"{'containers':[{'name':'a','image':'x','depends_on':['nope']}]}",
	 NULL, "containers[0].depends_on[0]: no container named \"nope\""},
	{"{'containers':[{'name':'b','image':'x'},{'name':'a','image':'x',"
	 "'depends_on':['b','b']}]}",
	 NULL, "containers[1].depends_on[1]: b is listed twice"},
	{"{'containers':[{'name':'a','image':'x','depends_on':'b'}]}", NULL,
	 "containers[0].depends_on: must be an array"},
	/* unknown keys, with their path */
	{"{'containers':[{'name':'a','image':'x'},{'name':'b','image':'x'},"
	 "{'name':'c','image':'x','envv':[]}]}",
	 NULL, "containers[2].envv: unknown key"},
	{"{'containers':[{'name':'a','image':'x','health':{'cmd':'true',"
	 "'retries':3}}]}",
	 NULL, "containers[0].health.retries: unknown key"},
	{"{'version':1,'containers':[{'name':'a','image':'x'}]}", NULL,
	 "version: unknown key"},
	/* values */
	{"{'containers':[{'name':'a b','image':'x'}]}", NULL,
	 "containers[0] (a b): run: name"},
	{"{'containers':[{'image':'x'}]}", NULL, "needs a name and an image"},
	{"{'containers':[{'name':'a'}]}", NULL, "needs a name and an image"},
	{"{'containers':[{'name':'a','image':'x','ports':['70000:80']}]}", NULL,
	 "containers[0] (a): run: ports"},
	{"{'containers':[{'name':'a','image':'x','env':'A=1'}]}", NULL,
	 "containers[0].env: must be an array of strings"},
	{"{'containers':[{'name':'a','image':'x','labels':['a=b']}]}", NULL,
	 "containers[0].labels: must be an object"},
	{"{'containers':[{'name':'a','image':'x','health':{'cmd':'true',"
	 "'interval':'0s'}}]}",
	 NULL, "containers[0].health.interval"},
	{"{'containers':[{'name':'a','image':'x','restart':'sometimes'}]}",
	 NULL, "run: restart"},
	{"{'containers':[{'name':'a','image':'x'},{'name':'a','image':'y'}]}",
	 NULL, "containers[1]: the name a is taken by containers[0]"},
	/* the file */
	{"{'containers':[]}", NULL, "containers: must be a non-empty array"},
	{"{}", NULL, "containers: must be a non-empty array"},
	{"[]", NULL, "must be a JSON object"},
	{"{'containers':[1]}", NULL, "containers[0]: must be an object"},
	{"{'containers':[{'name':'a','image':'x'}", NULL, "line 1"},
	{"{'containers':[],'containers':[]}", NULL, "line 1"},
};

static void test_table(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char file[1024], err[256] = "", got[256] = "";
		dl_stack_t *s = NULL;
		int rc;

		unquote(cases[i].file, file, sizeof(file));
		rc = dl_stack_parse(file, strlen(file), &s, err, sizeof(err));
		if ((rc == 0) != (cases[i].order != NULL) ||
		    (cases[i].err && !strstr(err, cases[i].err)))
			fprintf(stderr, "case %zu: rc %d: %s\n", i, rc, err);
		if (!cases[i].order) {
			ASSERT_EQ(rc, DL_EINVAL);
			ASSERT(s == NULL);
			ASSERT(strstr(err, cases[i].err) != NULL);
			continue;
		}
		ASSERT_EQ(rc, 0);
		for (size_t k = 0; k < dl_stack_count(s); k++) {
			size_t n = strlen(got);

			snprintf(got + n, sizeof(got) - n, "%s%s", k ? " " : "",
				 dl_stack_name(s, dl_stack_order(s, k)));
		}
		ASSERT_STR_EQ(got, cases[i].order);
		dl_stack_free(s);
	}
}

/* The run args a container becomes: labels as K=V, health split. */
static void test_args(void)
{
	const char *f = "{\"containers\":[{\"name\":\"db\",\"image\":\"pg\","
			"\"labels\":{\"tier\":\"db\"},\"health\":{\"cmd\":"
			"\"true\",\"interval\":7},\"env\":[],\"cmd\":[\"x\"]},"
			"{\"name\":\"app\",\"image\":\"a\",\"depends_on\":"
			"[\"db\"]}]}";
	json_t *want =
		json_pack("{s:s,s:s,s:[s],s:s,s:i,s:[s]}", "name", "db",
			  "image", "pg", "labels", "tier=db", "health_cmd",
			  "true", "health_interval", 7, "cmd", "x");
	char err[256];
	dl_stack_t *s;

	ASSERT_EQ(dl_stack_parse(f, strlen(f), &s, err, sizeof(err)), 0);
	ASSERT(json_equal(dl_stack_args(s, 0), want));
	ASSERT_STR_EQ(dl_stack_image(s, 1), "a");
	ASSERT(dl_stack_needed(s, 0));
	ASSERT(!dl_stack_needed(s, 1));
	ASSERT_EQ(dl_stack_ndeps(s, 1), 1);
	ASSERT_EQ(dl_stack_dep(s, 1, 0), 0);
	dl_stack_free(s);
	json_decref(want);
}

/* At most DL_STACK_MAX containers; a chain that long orders. */
static void test_bounds(void)
{
	static char f[DL_STACK_FILE_MAX + 2];
	char err[256];
	dl_stack_t *s;
	size_t n;

	for (int max = DL_STACK_MAX; max <= DL_STACK_MAX + 1; max++) {
		n = (size_t)snprintf(f, sizeof(f), "{\"containers\":[");
		for (int i = 0; i < max; i++)
			n += (size_t)(i ? snprintf(f + n, sizeof(f) - n,
						   ",{\"name\":\"c%d\","
						   "\"image\":"
						   "\"x\",\"depends_on\":[\"c%"
						   "d\"]}",
						   i, i - 1)
					: snprintf(f + n, sizeof(f) - n,
						   "{\"name\":\"c0\",\"image\":"
						   "\"x\"}"));
		snprintf(f + n, sizeof(f) - n, "]}");
		s = NULL;
		if (max == DL_STACK_MAX) {
			ASSERT_EQ(dl_stack_parse(f, strlen(f), &s, err,
						 sizeof(err)),
				  0);
			ASSERT_EQ(dl_stack_count(s), DL_STACK_MAX);
			ASSERT_STR_EQ(dl_stack_name(s, dl_stack_order(s, 63)),
				      "c63");
			dl_stack_free(s);
		} else {
			ASSERT_EQ(dl_stack_parse(f, strlen(f), &s, err,
						 sizeof(err)),
				  DL_EINVAL);
			ASSERT(strstr(err, "at most 64") != NULL);
		}
	}
	memset(f, ' ', DL_STACK_FILE_MAX + 1);
	ASSERT_EQ(
		dl_stack_parse(f, DL_STACK_FILE_MAX + 1, &s, err, sizeof(err)),
		DL_EINVAL);
	dl_stack_free(NULL);
}

int main(void)
{
	test_table();
	test_args();
	test_bounds();
	printf("test_stack: ok (%zu cases)\n",
	       sizeof(cases) / sizeof(cases[0]));
	return 0;
}
