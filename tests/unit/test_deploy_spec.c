/* test_deploy_spec.c - agent/spec (run args -> create body, inspect ->
 * create body, image split), agent/regauth (Docker config auths ->
 * X-Registry-Auth, fixture file) and collector/fleet (per-host table). */
#include "agent/regauth.h"
#include "agent/spec.h"
#include "collector/fleet.h"
#include "common/base64.h"

#include "test.h"

static json_t *js(const char *t)
{
	json_error_t e;
	json_t *j = json_loads(t, 0, &e);

	if (!j)
		DL_FAIL_("bad test JSON %s: %s", t, e.text);
	return j;
}

/* args -> the create body, as a table. */
static const struct {
	const char *args, *body;
} bodies[] = {
	{"{\"image\":\"a:v1\"}", "{\"Image\":\"a:v1\",\"HostConfig\":{}}"},
	{"{\"image\":\"a\",\"env\":[\"A=1\"],\"cmd\":[\"sleep\",\"9\"]}",
	 "{\"Image\":\"a\",\"Env\":[\"A=1\"],\"Cmd\":[\"sleep\",\"9\"],"
	 "\"HostConfig\":{}}"},
	{"{\"image\":\"a\",\"ports\":[\"8080:80\",\"53:53/udp\",\"8081:80\"]}",
	 "{\"Image\":\"a\",\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{}},"
	 "\"HostConfig\":{\"PortBindings\":{\"80/"
	 "tcp\":[{\"HostPort\":\"8080\"},"
	 "{\"HostPort\":\"8081\"}],\"53/udp\":[{\"HostPort\":\"53\"}]}}}"},
	{"{\"image\":\"a\",\"volumes\":[\"/srv:/d:ro\"],\"network\":\"n1\","
	 "\"memory\":67108864,\"cpus\":1.5}",
	 "{\"Image\":\"a\",\"HostConfig\":{\"Binds\":[\"/srv:/d:ro\"],"
	 "\"NetworkMode\":\"n1\",\"Memory\":67108864,\"NanoCpus\":1500000000}"
	 "}"},
	{"{\"image\":\"a\",\"restart\":\"on-failure:3\",\"labels\":[\"k=v=w\"]"
	 "}",
	 "{\"Image\":\"a\",\"Labels\":{\"k\":\"v=w\"},\"HostConfig\":"
	 "{\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":3}}"
	 "}"},
	{"{\"image\":\"a\",\"health_cmd\":\"true\",\"health_interval\":5}",
	 "{\"Image\":\"a\",\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"true\"],"
	 "\"Interval\":5000000000},\"HostConfig\":{}}"},
};

static void test_from_args(void)
{
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *a = js(bodies[i].args), *want = js(bodies[i].body);
		json_t *got = dl_spec_from_args(a);

		if (!json_equal(got, want)) {
			char *g = json_dumps(got, JSON_COMPACT);

			DL_FAIL_("row %zu: got %s want %s", i, g,
				 bodies[i].body);
		}
		json_decref(a);
		json_decref(want);
		json_decref(got);
	}
}

static void test_from_inspect(void)
{
	json_t *ctr =
		js("{\"Id\":\"0123456789abcdef\",\"Config\":{\"Hostname\":"
		   "\"0123456789ab\",\"Image\":\"a:v1\",\"Env\":[\"PATH=/bin\","
		   "\"FOO=bar\"],\"Cmd\":[\"sleep\",\"9\"],\"Entrypoint\":null,"
		   "\"Labels\":{\"img\":\"1\",\"app\":\"x\"}},\"HostConfig\":"
		   "{\"NetworkMode\":\"n1\",\"Binds\":[\"/a:/b\"]},"
		   "\"NetworkSettings\":{\"Networks\":{\"n1\":{\"Aliases\":"
		   "[\"web\",\"0123456789ab\"],\"IPAMConfig\":null}}}}");
	json_t *img = js("{\"Config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":null,"
			 "\"Entrypoint\":null,\"Labels\":{\"img\":\"1\"}}}");
	json_t *want = js(
		"{\"Image\":\"a:v2\",\"Env\":[\"FOO=bar\"],\"Cmd\":[\"sleep\","
		"\"9\"],\"Labels\":{\"app\":\"x\"},\"HostConfig\":"
		"{\"NetworkMode\":\"n1\",\"Binds\":[\"/a:/b\"]},"
		"\"NetworkingConfig\":{\"EndpointsConfig\":{\"n1\":"
		"{\"Aliases\":[\"web\"]}}}}");
	json_t *got = dl_spec_from_inspect(ctr, img, "a:v2");

	if (!json_equal(got, want))
		DL_FAIL_("from_inspect: %s", json_dumps(got, JSON_COMPACT));
	json_decref(got);
	/* no image inspect: everything kept but the Hostname */
	got = dl_spec_from_inspect(ctr, NULL, "a:v2");
	ASSERT_EQ(json_array_size(json_object_get(got, "Env")), 2);
	ASSERT(json_object_get(got, "Hostname") == NULL);
	json_decref(got);
	ASSERT(dl_spec_from_inspect(img, NULL, "x") == NULL);
	json_decref(ctr);
	json_decref(img);
	json_decref(want);
}

static void test_split(void)
{
	static const char *const rows[][3] = {
		{"busybox", "busybox", "latest"},
		{"a/b:v1", "a/b", "v1"},
		{"127.0.0.1:5000/a/b:v2", "127.0.0.1:5000/a/b", "v2"},
		{"127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b", "latest"},
		{"a@sha256:00", "a@sha256:00", ""},
	};
	char from[256], tag[256];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		ASSERT_EQ(dl_spec_split_image(rows[i][0], from, sizeof(from),
					      tag, sizeof(tag)),
			  0);
		ASSERT_STR_EQ(from, rows[i][1]);
		ASSERT_STR_EQ(tag, rows[i][2]);
	}
	ASSERT(dl_spec_split_image("aaaa:b", from, 3, tag, sizeof(tag)) != 0);
}

/* The header decoded back to its JSON. */
static json_t *header_json(const char *path, const char *image, int *rc)
{
	char hdr[DL_REGAUTH_HDR_MAX];
	uint8_t dec[4096];
	int n;

	*rc = dl_regauth_header(path, image, hdr, sizeof(hdr));
	if (*rc != 1)
		return NULL;
	for (char *p = hdr; *p; p++)
		*p = *p == '-' ? '+' : *p == '_' ? '/' : *p;
	n = dl_base64_decode(hdr, strlen(hdr), dec, sizeof(dec));
	ASSERT(n > 0);
	return json_loadb((const char *)dec, (size_t)n, 0, NULL);
}

static void test_regauth(void)
{
	const char *fx = getenv("DL_FIXTURES");
	char path[1024], reg[256];
	json_t *j;
	int rc;

	dl_regauth_registry("busybox", reg, sizeof(reg));
	ASSERT_STR_EQ(reg, "docker.io");
	dl_regauth_registry("library/busybox:1", reg, sizeof(reg));
	ASSERT_STR_EQ(reg, "docker.io");
	dl_regauth_registry("localhost/a", reg, sizeof(reg));
	ASSERT_STR_EQ(reg, "localhost");
	dl_regauth_registry("127.0.0.1:5000/a/b:v1", reg, sizeof(reg));
	ASSERT_STR_EQ(reg, "127.0.0.1:5000");
	dl_regauth_registry("ghcr.io/o/r", reg, sizeof(reg));
	ASSERT_STR_EQ(reg, "ghcr.io");

	snprintf(path, sizeof(path), "%s/regauth/config.json",
		 fx ? fx : "tests/fixtures");
	j = header_json(path, "127.0.0.1:5000/a/b:v1", &rc);
	ASSERT_EQ(rc, 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "username")),
		      "alice");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "password")),
		      "s3cr:et");
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "serveraddress")),
		      "127.0.0.1:5000");
	json_decref(j);
	j = header_json(path, "busybox", &rc);
	ASSERT_EQ(rc, 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "username")), "hub");
	json_decref(j);
	j = header_json(path, "other.example:443/x", &rc);
	ASSERT_EQ(rc, 1);
	ASSERT_STR_EQ(json_string_value(json_object_get(j, "identitytoken")),
		      "tok");
	json_decref(j);
	/* no entry, no file: anonymous */
	ASSERT(header_json(path, "quay.io/x", &rc) == NULL);
	ASSERT_EQ(rc, 0);
	ASSERT(header_json("/nonexistent/config.json", "busybox", &rc) == NULL);
	ASSERT_EQ(rc, 0);
}

static void test_fleet(void)
{
	dl_fleet_result_t r[3] = {
		{.host = "web-1"}, {.host = "web-2"}, {.host = "web-3"}};
	char buf[2048] = "";
	FILE *f;

	dl_fleet_classify(&r[0], 0, false, "web\n", "");
	ASSERT_STR_EQ(r[0].result, "ok");
	ASSERT_STR_EQ(r[0].message, "web");
	dl_fleet_classify(&r[1], 3, false, "",
			  "dockline: web-2 is offline (last seen 5s ago)\n");
	ASSERT_STR_EQ(r[1].result, "offline");
	ASSERT_STR_EQ(r[1].message, "web-2 is offline (last seen 5s ago)");
	dl_fleet_classify(&r[2], 5, false, "",
			  "x\ndockline: web-3 policy does not "
			  "allow restart\n\n");
	ASSERT_STR_EQ(r[2].result, "refused");
	ASSERT_STR_EQ(r[2].message, "web-3 policy does not allow restart");
	ASSERT_EQ(dl_fleet_exit(r, 1), 0);
	ASSERT_EQ(dl_fleet_exit(r, 3), 1);
	/* exec: the command's 3 is not "offline"; a silent failure says
	 * its code */
	dl_fleet_classify(&r[1], 3, true, "", "");
	ASSERT_STR_EQ(r[1].result, "failed");
	ASSERT_STR_EQ(r[1].message, "exit code 3");
	dl_fleet_classify(&r[1], 125, true, "",
			  "dockline: web-2 is offline (last seen 5s ago)\n");
	ASSERT_STR_EQ(r[1].result, "failed");
	ASSERT_STR_EQ(r[1].message, "web-2 is offline (last seen 5s ago)");
	dl_fleet_classify(&r[1], 1, false, "", "dockline: boom");
	ASSERT_STR_EQ(r[1].result, "failed");
	f = fmemopen(buf, sizeof(buf), "w");
	dl_fleet_print(f, r, 3, false);
	fclose(f);
	ASSERT_STR_EQ(buf, "HOST  RESULT   MESSAGE\n"
			   "web-1 ok       web\n"
			   "web-2 failed   boom\n"
			   "web-3 refused  web-3 policy does not allow "
			   "restart\n");
}

int main(void)
{
	RUN(test_from_args);
	RUN(test_from_inspect);
	RUN(test_split);
	RUN(test_regauth);
	RUN(test_fleet);
	return 0;
}
