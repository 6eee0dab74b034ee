/* test_token.c - API tokens: secret format, hash, constant-time
 * compare, expiry, host globs, the role -> class table, authorization
 * decisions, and the tokens table written through the store's writer
 * with its done callback (create, duplicate, revoke, reuse, last_used),
 * read back by dl_tokens_load. */
#include "collector/auth.h"
#include "collector/token.h"

#include <sqlite3.h>

#include "common/err.h"
#include "proto/control.h"
#include "store_fixture.h"
#include "test.h"

static void test_secret(void)
{
	char a[DL_TOKEN_SECRET_LEN + 1], b[DL_TOKEN_SECRET_LEN + 1];
	char ha[DL_TOKEN_HASH_LEN + 1], hb[DL_TOKEN_HASH_LEN + 1];

	ASSERT_EQ(dl_token_generate(a, sizeof(a)), 0);
	ASSERT_EQ(dl_token_generate(b, sizeof(b)), 0);
	ASSERT_EQ(strlen(a), DL_TOKEN_SECRET_LEN);
	ASSERT(!strncmp(a, "dlt_", 4));
	ASSERT(strcmp(a, b) != 0);
	for (size_t i = 4; i < strlen(a); i++)
		ASSERT(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstu"
			      "vwxyz0123456789-_",
			      a[i]) != NULL);
	ASSERT_EQ(dl_token_generate(a, DL_TOKEN_SECRET_LEN), DL_EINVAL);
	/* SHA-256 of the whole string, hex: a known vector */
	ASSERT_EQ(dl_token_hash("abc", ha, sizeof(ha)), 0);
	ASSERT_STR_EQ(ha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb4"
			  "10ff61f20015ad");
	ASSERT_EQ(dl_token_hash(b, hb, sizeof(hb)), 0);
	ASSERT(dl_token_hash_eq(ha, ha));
	ASSERT(!dl_token_hash_eq(ha, hb));
	ASSERT(!dl_token_hash_eq(ha, "ba78"));
}

static void test_names_roles_globs(void)
{
	static const struct {
		const char *role;
		dl_role_t r;
		unsigned cls;
	} roles[] = {
		{"read", DL_ROLE_READ, DL_CLASS_READ},
		{"operate", DL_ROLE_OPERATE,
		 DL_CLASS_READ | DL_CLASS_LIFECYCLE},
		{"admin", DL_ROLE_ADMIN, DL_CLASS_ALL},
		{"root", DL_ROLE_NONE, 0},
		{"", DL_ROLE_NONE, 0},
	};

	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		ASSERT_EQ(dl_token_role_parse(roles[i].role), roles[i].r);
		ASSERT_EQ(dl_token_role_classes(roles[i].r), roles[i].cls);
	}
	ASSERT_STR_EQ(dl_token_role_name(DL_ROLE_OPERATE), "operate");
	ASSERT(dl_token_name_valid("ci-deploy.2"));
	ASSERT(dl_token_name_valid("a"));
	ASSERT(!dl_token_name_valid("-a"));
	ASSERT(!dl_token_name_valid("A"));
	ASSERT(!dl_token_name_valid(""));
	ASSERT(!dl_token_name_valid(NULL));
	ASSERT(!dl_token_name_valid(
		"a123456789012345678901234567890123456789012345678901234567890"
		"123"));
	ASSERT(dl_token_host_ok("*", "app-01"));
	ASSERT(dl_token_host_ok("web-*", "web-02"));
	ASSERT(!dl_token_host_ok("web-*", "db-01"));
	ASSERT(dl_token_host_ok("app-0[12]", "app-02"));
	ASSERT(!dl_token_host_ok("app-0[12]", "app-03"));
	ASSERT(dl_token_hosts_valid("web-*"));
	ASSERT(!dl_token_hosts_valid("web *"));
	ASSERT(!dl_token_hosts_valid(""));
}

static void test_table_expiry(void)
{
	dl_tokens_t *t = dl_tokens_new();
	dl_token_t k = {.name = "ro",
			.role = DL_ROLE_READ,
			.hosts = "*",
			.created = 100,
			.expires = 200};
	char secret[DL_TOKEN_SECRET_LEN + 1], other[DL_TOKEN_SECRET_LEN + 1];
	dl_token_why_t why;
	json_t *l;

	ASSERT_EQ(dl_token_generate(secret, sizeof(secret)), 0);
	ASSERT_EQ(dl_token_generate(other, sizeof(other)), 0);
	ASSERT_EQ(dl_token_hash(secret, k.hash, sizeof(k.hash)), 0);
	ASSERT_EQ(dl_tokens_add(t, &k), 0);
	ASSERT(dl_tokens_check(t, secret, 150, &why) != NULL);
	ASSERT_EQ(why, DL_TOKEN_OK);
	ASSERT(dl_tokens_check(t, secret, 200, &why) == NULL);
	ASSERT_EQ(why, DL_TOKEN_EXPIRED);
	ASSERT(dl_tokens_check(t, other, 150, &why) == NULL);
	ASSERT_EQ(why, DL_TOKEN_UNKNOWN);
	ASSERT(dl_tokens_check(t, "dlt_short", 150, &why) == NULL);
	ASSERT(dl_tokens_check(t, NULL, 150, &why) == NULL);
	l = dl_tokens_list(t);
	ASSERT_EQ(json_array_size(l), 1);
	ASSERT(json_object_get(json_array_get(l, 0), "hash") == NULL);
	ASSERT(json_is_null(
		json_object_get(json_array_get(l, 0), "last_used")));
	json_decref(l);
	ASSERT(dl_tokens_remove(t, "ro"));
	ASSERT(!dl_tokens_remove(t, "ro"));
	ASSERT(dl_tokens_check(t, secret, 150, &why) == NULL);
	dl_tokens_free(t);
}

static void test_allow(void)
{
	dl_auth_t local = {0};
	dl_auth_t ro = {.token = true,
			.name = "ro",
			.role = DL_ROLE_READ,
			.hosts = "web-*"};
	dl_auth_t op = ro, adm = ro;
	char err[256];
	json_t *rows;

	op.role = DL_ROLE_OPERATE;
	adm.role = DL_ROLE_ADMIN;
	ASSERT_EQ(dl_auth_allow(&local, "token_create", NULL, err, 256), 0);
	ASSERT_EQ(dl_auth_allow(&ro, "ps", NULL, err, 256), 0);
	ASSERT_EQ(dl_auth_allow(&ro, "metrics", NULL, err, 256), 0);
	ASSERT_EQ(dl_auth_allow(&ro, "control", dl_control_op("inspect"), err,
				256),
		  0);
	ASSERT_EQ(
		dl_auth_allow(&ro, "control", dl_control_op("stop"), err, 256),
		DL_EPERM);
	ASSERT_STR_EQ(err, "token ro (role read) may not stop");
	ASSERT_EQ(
		dl_auth_allow(&op, "control", dl_control_op("stop"), err, 256),
		0);
	ASSERT_EQ(
		dl_auth_allow(&op, "control", dl_control_op("exec"), err, 256),
		DL_EPERM);
	ASSERT_EQ(dl_auth_allow(&op, "token_list", NULL, err, 256), DL_EPERM);
	ASSERT_EQ(dl_auth_allow(&op, "forget", NULL, err, 256), DL_EPERM);
	ASSERT_EQ(dl_auth_allow(&adm, "control", dl_control_op("rm"), err, 256),
		  0);
	ASSERT_EQ(dl_auth_allow(&adm, "token_revoke", NULL, err, 256), 0);
	/* deploy (pull, run, update, recreate): admin only */
	{
		static const char *const deploy[] = {"pull", "run", "update",
						     "recreate"};

		for (size_t i = 0; i < 4; i++) {
			const dl_op_t *o = dl_control_op(deploy[i]);

			ASSERT(o != NULL);
			ASSERT_EQ(o->cls, DL_CLASS_DEPLOY);
			ASSERT_EQ(dl_auth_allow(&ro, "control", o, err, 256),
				  DL_EPERM);
			ASSERT_EQ(dl_auth_allow(&op, "control", o, err, 256),
				  DL_EPERM);
			ASSERT_EQ(dl_auth_allow(&adm, "control", o, err, 256),
				  0);
		}
	}
	/* host scope */
	ASSERT(dl_auth_host_ok(&local, "db-01"));
	ASSERT(!dl_auth_host_ok(&ro, "db-01"));
	ASSERT(dl_auth_single_host(&ro) == NULL);
	rows = json_pack("[{s:s},{s:s},{s:s}]", "host", "web-01", "host",
			 "db-01", "host", "web-02");
	dl_auth_filter(&ro, rows, "host");
	ASSERT_EQ(json_array_size(rows), 2);
	ASSERT_STR_EQ(json_string_value(
			      json_object_get(json_array_get(rows, 1), "host")),
		      "web-02");
	json_decref(rows);
}

static void test_identify(void)
{
	dl_cconf_t conf;
	dl_tokens_t *t = dl_tokens_new();
	dl_token_t k = {.name = "ci",
			.role = DL_ROLE_OPERATE,
			.hosts = "app-01",
			.created = 1};
	char secret[DL_TOKEN_SECRET_LEN + 1], err[256];
	dl_auth_t a;
	json_t *req;

	memset(&conf, 0, sizeof(conf));
	conf.http.have_uid = true;
	conf.http.uid = 999;
	conf.http.metrics_auth = true;
	ASSERT_EQ(dl_token_generate(secret, sizeof(secret)), 0);
	ASSERT_EQ(dl_token_hash(secret, k.hash, sizeof(k.hash)), 0);
	ASSERT_EQ(dl_tokens_add(t, &k), 0);
	req = json_pack("{s:s}", "op", "ps");
	/* local admin without a token: full rights */
	ASSERT_EQ(dl_auth_identify(t, NULL, &conf, 1000, req, "ps", 5, &a, err,
				   256),
		  0);
	ASSERT(!a.token);
	/* the gateway without one: refused, metrics too unless opened */
	ASSERT_EQ(dl_auth_identify(t, NULL, &conf, 999, req, "ps", 5, &a, err,
				   256),
		  DL_EAUTH);
	ASSERT_STR_EQ(err, "a token is required");
	ASSERT_EQ(dl_auth_identify(t, NULL, &conf, 999, req, "metrics", 5, &a,
				   err, 256),
		  DL_EAUTH);
	conf.http.metrics_auth = false;
	ASSERT_EQ(dl_auth_identify(t, NULL, &conf, 999, req, "metrics", 5, &a,
				   err, 256),
		  0);
	ASSERT(a.token && a.role == DL_ROLE_READ);
	/* a token is checked whatever the uid */
	json_object_set_new(req, "token", json_string(secret));
	ASSERT_EQ(dl_auth_identify(t, NULL, &conf, 999, req, "ps", 5, &a, err,
				   256),
		  0);
	ASSERT(a.token);
	ASSERT_STR_EQ(a.name, "ci");
	ASSERT_STR_EQ(dl_auth_single_host(&a), "app-01");
	ASSERT_EQ(dl_tokens_get(t, "ci")->last_used, 5);
	json_object_set_new(req, "token", json_string("dlt_nope"));
	ASSERT_EQ(dl_auth_identify(t, NULL, &conf, 1000, req, "ps", 5, &a, err,
				   256),
		  DL_EAUTH);
	ASSERT_STR_EQ(err, "invalid or revoked token");
	json_decref(req);
	dl_tokens_free(t);
}

/* ---- the table, through the writer ---- */

static int last_result;
static int ndone;

static void on_done(void *ud, int result)
{
	last_result = result;
	ndone++;
}

static int wait_done(dl_store_t *s, int before)
{
	wait_idle(s);
	ASSERT_EQ(ndone, before + 1);
	return last_result;
}

static int64_t sql_int(const char *q)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	ASSERT_EQ(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL),
		  SQLITE_OK);
	ASSERT_EQ(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void test_store(void)
{
	dl_store_t *s = open_store("tokens");
	dl_token_row_t r = {"ro", "", "read", "web-*", 1000, 0};
	char h1[DL_TOKEN_HASH_LEN + 1], h2[DL_TOKEN_HASH_LEN + 1], err[256];
	dl_tokens_t *t;
	int n = 0;

	ASSERT_EQ(dl_token_hash("dlt_one", h1, sizeof(h1)), 0);
	ASSERT_EQ(dl_token_hash("dlt_two", h2, sizeof(h2)), 0);
	r.hash = h1;
	ASSERT_EQ(dl_store_token_create(s, &r, on_done, NULL), 0);
	ASSERT_EQ(wait_done(s, n++), 0);
	/* a live name twice */
	r.hash = h2;
	ASSERT_EQ(dl_store_token_create(s, &r, on_done, NULL), 0);
	ASSERT_EQ(wait_done(s, n++), DL_EEXIST);
	/* a second name with the same hash */
	r.name = "ro2";
	r.hash = h1;
	r.expires = 5000;
	ASSERT_EQ(dl_store_token_create(s, &r, on_done, NULL), 0);
	ASSERT_EQ(wait_done(s, n++), DL_EEXIST);
	r.hash = h2;
	ASSERT_EQ(dl_store_token_create(s, &r, on_done, NULL), 0);
	ASSERT_EQ(wait_done(s, n++), 0);
	ASSERT_EQ(dl_store_token_used(s, "ro2", 3000), 0);
	ASSERT_EQ(dl_store_token_revoke(s, "ro", 2000, on_done, NULL), 0);
	ASSERT_EQ(wait_done(s, n++), 0);
	ASSERT_EQ(dl_store_token_revoke(s, "ro", 2001, on_done, NULL), 0);
	ASSERT_EQ(wait_done(s, n++), DL_ENOENT);
	ASSERT_EQ(dl_store_token_revoke(s, NULL, 2001, on_done, NULL),
		  DL_EINVAL);
	ASSERT_EQ(sql_int("SELECT revoked FROM tokens WHERE name = 'ro'"),
		  2000);
	ASSERT_EQ(sql_int("SELECT last_used FROM tokens WHERE name = 'ro2'"),
		  3000);
	ASSERT_EQ(sql_int("SELECT count(*) FROM tokens WHERE hash = 'dlt_one'"),
		  0); /* never the secret */
	/* the live table: revoked rows stay out */
	t = dl_tokens_new();
	ASSERT_EQ(dl_tokens_load(t, dbpath, err, sizeof(err)), 0);
	ASSERT_EQ(dl_tokens_count(t), 1);
	ASSERT_EQ(dl_tokens_get(t, "ro2")->expires, 5000);
	ASSERT_EQ(dl_tokens_get(t, "ro2")->last_used, 3000);
	ASSERT_STR_EQ(dl_tokens_get(t, "ro2")->hosts, "web-*");
	dl_tokens_free(t);
	/* a revoked name can be made again, with a new secret */
	ASSERT_EQ(dl_token_hash("dlt_three", h1, sizeof(h1)), 0);
	r.name = "ro";
	r.hash = h1;
	ASSERT_EQ(dl_store_token_create(s, &r, on_done, NULL), 0);
	ASSERT_EQ(wait_done(s, n++), 0);
	ASSERT_EQ(sql_int("SELECT count(*) FROM tokens WHERE name = 'ro' AND "
			  "revoked IS NULL"),
		  1);
	/* a done pending at close still runs, before close returns */
	ASSERT_EQ(dl_store_token_revoke(s, "ro", 2002, on_done, NULL), 0);
	close_store(s);
	ASSERT_EQ(ndone, n + 1);
	ASSERT_EQ(last_result, 0);
}

int main(void)
{
	char tmpl[] = "/tmp/dl-test-token-XXXXXX";
	char cmd[128];

	ASSERT(mkdtemp(tmpl) != NULL);
	snprintf(dir, sizeof(dir), "%s", tmpl);
	uv_loop_init(&loop);
	RUN(test_secret);
	RUN(test_names_roles_globs);
	RUN(test_table_expiry);
	RUN(test_allow);
	RUN(test_identify);
	RUN(test_store);
	ASSERT_EQ(uv_loop_close(&loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ASSERT_EQ(system(cmd), 0);
	return 0;
}
