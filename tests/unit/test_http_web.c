/* test_http_web.c - the compiled-in page (collector/http/web.c and the
 * table cmake/WebAssets.cmake generates): every asset hashed and found,
 * index.html naming only assets that exist, the budget, the caching and
 * security headers, the Origin rule, the cookie; and the /session routes. */
#include <jansson.h>
#include <stdbool.h>

#include "collector/http/route.h"
#include "collector/http/web.h"
#include "test.h"

#define BUDGET (150 * 1024) /* bytes of all assets, uncompressed */

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static void test_table(void)
{
	const dl_web_asset_t *idx = dl_web_find("/");
	size_t total = 0;

	ASSERT(idx != NULL);
	ASSERT(!idx->immutable);
	ASSERT(dl_web_find("/index.html") == idx);
	ASSERT_STR_EQ(idx->ctype, "text/html; charset=utf-8");
	ASSERT_GE(dl_web_nassets, 9); /* index, 7 of ours, uPlot js/css */
	for (size_t i = 0; i < dl_web_nassets; i++) {
		const dl_web_asset_t *a = &dl_web_assets[i];
		const char *dot, *prev;

		total += a->len;
		ASSERT(a->len > 0);
		ASSERT(dl_web_find(a->path) == a);
		if (a == idx)
			continue;
		/* /assets/<stem>.<12 hex>.<ext> */
		ASSERT(!strncmp(a->path, "/assets/", 8));
		ASSERT(a->immutable);
		dot = strrchr(a->path, '.');
		ASSERT(dot != NULL && dot - a->path > 21);
		prev = dot - 13;
		ASSERT_EQ(*prev, '.');
		ASSERT(is_hex(prev + 1, 12));
		/* the name index.html uses is the hashed one only */
		if (strstr(a->ctype, "javascript") || strstr(a->ctype, "css"))
			ASSERT(strstr((const char *)idx->data, a->path) !=
			       NULL);
	}
	ASSERT_EQ(total, dl_web_total);
	ASSERT_LE(dl_web_total, BUDGET);
	printf("web assets: %zu files, %zu bytes (budget %d)\n", dl_web_nassets,
	       dl_web_total, BUDGET);
	/* every /assets/ reference of index.html is in the table */
	for (const char *p = strstr((const char *)idx->data, "/assets/"); p;
	     p = strstr(p + 1, "/assets/")) {
		char ref[128];
		size_t n = strcspn(p, "\"");

		ASSERT_LT(n, sizeof(ref));
		memcpy(ref, p, n);
		ref[n] = '\0';
		if (!dl_web_find(ref))
			DL_FAIL_("index.html refers to %s, not in the table",
				 ref);
	}
	ASSERT(dl_web_find("/assets/app.js") == NULL); /* unhashed */
	ASSERT(dl_web_find("/assets/") == NULL);
	ASSERT(dl_web_find("/etc/passwd") == NULL);
	ASSERT(dl_web_find(NULL) == NULL);
	/* no inline script or style for the CSP to refuse */
	ASSERT(strstr((const char *)idx->data, "<script>") == NULL);
	ASSERT(strstr((const char *)idx->data, "<style") == NULL);
	ASSERT(strstr((const char *)idx->data, "style=") == NULL);
	ASSERT(strstr((const char *)idx->data, "onload=") == NULL);
}

static const char *header(const char *name)
{
	for (size_t i = 0; i < dl_web_nsecurity_headers; i++)
		if (!strcmp(dl_web_security_headers[i].name, name))
			return dl_web_security_headers[i].value;
	return NULL;
}

static void test_headers(void)
{
	const dl_web_asset_t *idx = dl_web_find("/");
	const char *csp = header("content-security-policy:");

	ASSERT_STR_EQ(dl_web_cache_control(idx), "no-cache");
	ASSERT_STR_EQ(dl_web_cache_control(&dl_web_assets[1]),
		      "public, max-age=31536000, immutable");
	ASSERT(csp != NULL);
	ASSERT_STR_EQ(csp, "default-src 'self'; script-src 'self'; "
			   "style-src 'self'; img-src 'self' data:; "
			   "connect-src 'self'; frame-ancestors 'none'; "
			   "base-uri 'none'; form-action 'self'");
	ASSERT(strstr(csp, "unsafe") == NULL);
	ASSERT_STR_EQ(header("x-content-type-options:"), "nosniff");
	ASSERT_STR_EQ(header("referrer-policy:"), "no-referrer");
}

static void test_origin(void)
{
	static const struct {
		const char *origin, *host;
		bool tls, ok;
	} t[] = {
		{"http://127.0.0.1:9810", "127.0.0.1:9810", false, true},
		{"http://Dock.Example:80", "dock.example:80", false, true},
		{"https://dock.example", "dock.example", true, true},
		{"http://dock.example", "dock.example", true, false},
		{"https://dock.example", "dock.example", false, false},
		{"http://evil.example", "127.0.0.1:9810", false, false},
		{"http://127.0.0.1:9810.evil", "127.0.0.1:9810", false, false},
		{"http://127.0.0.1:9811", "127.0.0.1:9810", false, false},
		{"null", "127.0.0.1:9810", false, false},
		{"", "127.0.0.1:9810", false, false},
		{NULL, "127.0.0.1:9810", false, false},
		{"http://", "", false, false},
		{"http://a", NULL, false, false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (dl_web_origin_ok(t[i].origin, t[i].host, t[i].tls) !=
		    t[i].ok)
			DL_FAIL_("origin %s host %s tls %d: want %d",
				 t[i].origin ? t[i].origin : "(null)",
				 t[i].host ? t[i].host : "(null)", t[i].tls,
				 t[i].ok);
}

static void test_cookie(void)
{
	char c[128];

	ASSERT_EQ(dl_web_cookie(c, sizeof(c), "dlt_x", false), 0);
	ASSERT_STR_EQ(c, "dl_token=dlt_x; HttpOnly; SameSite=Strict; Path=/");
	ASSERT_EQ(dl_web_cookie(c, sizeof(c), "dlt_x", true), 0);
	ASSERT_STR_EQ(c, "dl_token=dlt_x; HttpOnly; SameSite=Strict; Path=/; "
			 "Secure");
	ASSERT_EQ(dl_web_cookie(c, sizeof(c), NULL, false), 0);
	ASSERT_STR_EQ(c, "dl_token=; HttpOnly; SameSite=Strict; Path=/; "
			 "Max-Age=0");
	ASSERT_EQ(dl_web_cookie(c, 10, "dlt_x", false), -1);
}

static void test_session_routes(void)
{
	dl_route_t r;
	const char *b = "{\"token\":\"dlt_abc\"}";

	ASSERT_EQ(dl_route_request(DL_ROUTE_GET, "/api/v1/session", NULL, 0,
				   NULL, 0, false, 0, &r),
		  0);
	ASSERT_EQ(r.session, DL_ROUTE_SESSION_WHOAMI);
	ASSERT_STR_EQ(json_string_value(json_object_get(r.req, "op")),
		      "whoami");
	dl_route_clear(&r);
	/* head only: read the body */
	ASSERT_EQ(dl_route_request(DL_ROUTE_POST, "/api/v1/session", NULL, 0,
				   NULL, 0, false, 0, &r),
		  0);
	ASSERT(r.body && !r.req);
	ASSERT_EQ(r.session, DL_ROUTE_SESSION_SIGNIN);
	ASSERT_EQ(dl_route_request(DL_ROUTE_POST, "/api/v1/session", NULL, 0, b,
				   strlen(b), false, 0, &r),
		  0);
	ASSERT_STR_EQ(json_string_value(json_object_get(r.req, "token")),
		      "dlt_abc");
	ASSERT_STR_EQ(json_string_value(json_object_get(r.req, "op")),
		      "whoami");
	dl_route_clear(&r);
	b = "{\"token\":\"dlt_abc\",\"op\":\"token_create\"}";
	ASSERT_EQ(dl_route_request(DL_ROUTE_POST, "/api/v1/session", NULL, 0, b,
				   strlen(b), false, 0, &r),
		  400);
	b = "{\"token\":1}";
	ASSERT_EQ(dl_route_request(DL_ROUTE_POST, "/api/v1/session", NULL, 0, b,
				   strlen(b), false, 0, &r),
		  400);
	ASSERT_EQ(dl_route_request(DL_ROUTE_DELETE, "/api/v1/session", NULL, 0,
				   NULL, 0, false, 0, &r),
		  0);
	ASSERT_EQ(r.session, DL_ROUTE_SESSION_SIGNOUT);
	ASSERT(r.req == NULL);
	ASSERT_EQ(dl_route_request(DL_ROUTE_OTHER, "/api/v1/session", NULL, 0,
				   NULL, 0, false, 0, &r),
		  405);
	ASSERT_EQ(dl_route_request(DL_ROUTE_GET, "/api/v1/session/x", NULL, 0,
				   NULL, 0, false, 0, &r),
		  404);
}

int main(void)
{
	test_table();
	test_headers();
	test_origin();
	test_cookie();
	test_session_routes();
	printf("ok\n");
	return 0;
}
