/* test_hostlabel.c - host label rules (collector/hostlabel.c): which
 * words `dockline label` takes and the sentence for the others, edits
 * and their cap, and the --label selection of fleet-wide commands,
 * table-driven. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "collector/hostlabel.h"
#include "test.h"

static const struct {
	const char *word;
	const char *set_key, *set_value; /* or */
	const char *removed;		 /* or NULL + err */
	const char *err;		 /* part of the sentence */
} words[] = {
	{"role=web", "role", "web", NULL, NULL},
	{"role=", "role", "", NULL, NULL},
	{"a.b/c_d-e=x=y", "a.b/c_d-e", "x=y", NULL, NULL},
	{"role-", NULL, NULL, "role", NULL},
	{"dc/zone-", NULL, NULL, "dc/zone", NULL},
	{"role", NULL, NULL, NULL, "K=V sets a label, K- removes it"},
	{"-", NULL, NULL, NULL, "K=V sets a label"},
	{"=web", NULL, NULL, NULL, "a label key is empty"},
	{"-role=web", NULL, NULL, NULL, "a letter or digit first and last"},
	{"role.=web", NULL, NULL, NULL, "a letter or digit first and last"},
	{"ro le=web", NULL, NULL, NULL, "letters, digits and . _ / -"},
	{"r\x01=web", NULL, NULL, NULL, "label key \"r?\""},
	{"role=w\teb", NULL, NULL, NULL,
	 "label role: the value must be "
	 "printable ASCII"},
	{"role=\xc3\xa9", NULL, NULL, NULL, "printable ASCII"},
	{"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=v",
	 NULL, NULL, NULL, "is over 63 bytes"},
	{"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk=v",
	 "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk", "v",
	 NULL, NULL},
};

static void test_words(void)
{
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		json_t *set = json_object(), *rm = json_array();
		char err[256] = "";
		int rc = dl_hostlabel_parse_word(words[i].word, set, rm, err,
						 sizeof(err));

		if (words[i].err) {
			ASSERT_EQ(rc, -1);
			if (!strstr(err, words[i].err)) {
				fprintf(stderr, "%s: \"%s\" lacks \"%s\"\n",
					words[i].word, err, words[i].err);
				ASSERT(0);
			}
		} else if (words[i].removed) {
			ASSERT_EQ(rc, 0);
			ASSERT_STR_EQ(json_string_value(json_array_get(rm, 0)),
				      words[i].removed);
		} else {
			ASSERT_EQ(rc, 0);
			ASSERT_STR_EQ(json_string_value(json_object_get(
					      set, words[i].set_key)),
				      words[i].set_value);
		}
		json_decref(set);
		json_decref(rm);
	}
}

static void test_values(void)
{
	char v[DL_HOSTLABEL_VALUE_MAX + 2], err[256];

	memset(v, 'a', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	ASSERT(!dl_hostlabel_value_ok("k", v, err, sizeof(err)));
	ASSERT(strstr(err, "over 128 bytes") != NULL);
	v[DL_HOSTLABEL_VALUE_MAX] = '\0';
	ASSERT(dl_hostlabel_value_ok("k", v, err, sizeof(err)));
	ASSERT(!dl_hostlabel_value_ok("k", NULL, err, sizeof(err)));
}

static void test_edit_check(void)
{
	static const struct {
		const char *set, *rm, *err;
	} c[] = {
		{"{\"a\":\"1\"}", "[\"b\"]", NULL},
		{"{}", "[]", "nothing to set or remove"},
		{"{\"a\":1}", "[]", "label a: the value is not a string"},
		{"{\"a\":\"1\"}", "[\"a\"]", "label a is both set and removed"},
		{"{\"a b\":\"1\"}", "[]", "label key \"a b\""},
		{"{}", "[7]", "a label key is empty"},
		{"[]", "[]", "set is an object of strings"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		json_t *set = json_loads(c[i].set, 0, NULL),
		       *rm = json_loads(c[i].rm, 0, NULL);
		int rc = dl_hostlabel_edit_check(set, rm, err, sizeof(err));

		ASSERT_EQ(rc, c[i].err ? -1 : 0);
		if (c[i].err && !strstr(err, c[i].err)) {
			fprintf(stderr, "case %zu: \"%s\"\n", i, err);
			ASSERT(0);
		}
		json_decref(set);
		json_decref(rm);
	}
	/* more than DL_HOSTLABEL_EDITS_MAX changes at once */
	{
		json_t *set = json_object(), *rm = json_array();
		char k[16];

		for (int i = 0; i <= DL_HOSTLABEL_EDITS_MAX; i++) {
			snprintf(k, sizeof(k), "k%d", i);
			json_object_set_new(set, k, json_string("v"));
		}
		ASSERT_EQ(dl_hostlabel_edit_check(set, rm, err, sizeof(err)),
			  -1);
		ASSERT(strstr(err, "at most 64 changes") != NULL);
		json_decref(set);
		json_decref(rm);
	}
}

static void test_apply(void)
{
	json_t *l = json_pack("{s:s,s:s}", "role", "web", "zone", "a");
	json_t *set = json_pack("{s:s}", "tier", "1"),
	       *rm = json_pack("[s,s]", "zone", "absent");
	json_t *many = json_object();
	char err[256], k[16];

	ASSERT_EQ(dl_hostlabel_apply(l, set, rm, err, sizeof(err)), 0);
	ASSERT_EQ(json_object_size(l), 2);
	ASSERT_STR_EQ(json_string_value(json_object_get(l, "tier")), "1");
	ASSERT(json_object_get(l, "zone") == NULL);
	for (int i = 0; i < DL_HOSTLABEL_MAX - 1; i++) {
		snprintf(k, sizeof(k), "k%d", i);
		json_object_set_new(many, k, json_string("v"));
	}
	/* 2 + 31 = 33: refused, l unchanged */
	ASSERT_EQ(dl_hostlabel_apply(l, many, NULL, err, sizeof(err)), -1);
	ASSERT(strstr(err, "at most 32 labels (this would make 33)") != NULL);
	ASSERT_EQ(json_object_size(l), 2);
	/* replacing a value does not count twice; removing makes room */
	json_object_set_new(many, "role", json_string("db"));
	json_decref(rm);
	ASSERT_EQ(dl_hostlabel_apply(l, many, rm = json_pack("[s]", "tier"),
				     err, sizeof(err)),
		  0);
	ASSERT_EQ(json_object_size(l), 32);
	ASSERT_STR_EQ(json_string_value(json_object_get(l, "role")), "db");
	json_decref(l);
	json_decref(set);
	json_decref(rm);
	json_decref(many);
}

static void test_match(void)
{
	static const struct {
		const char *sel;
		bool want;
	} c[] = {
		{"[]", true},
		{"[\"role=web\"]", true},
		{"[\"role\"]", true},
		{"[\"role=web\",\"zone=a\"]", true},
		{"[\"role=web\",\"zone=b\"]", false},
		{"[\"role=db\"]", false},
		{"[\"rack\"]", false},
		{"[\"role=\"]", false},
		{"[\"=web\"]", false},
	};
	json_t *l = json_pack("{s:s,s:s}", "role", "web", "zone", "a");

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		json_t *sel = json_loads(c[i].sel, 0, NULL);

		if (dl_hostlabel_match(l, sel) != c[i].want) {
			fprintf(stderr, "match %s\n", c[i].sel);
			ASSERT(0);
		}
		/* a host without labels matches only the empty selection */
		ASSERT_EQ(dl_hostlabel_match(NULL, sel),
			  json_array_size(sel) == 0);
		json_decref(sel);
	}
	json_decref(l);
}

int main(void)
{
	RUN(test_words);
	RUN(test_values);
	RUN(test_edit_check);
	RUN(test_apply);
	RUN(test_match);
	return 0;
}
