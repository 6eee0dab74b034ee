/* web.c - lookups and headers for the compiled-in page (web.h). */
#include "collector/http/web.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

const dl_web_header_t dl_web_security_headers[] = {
	{"content-security-policy:", DL_WEB_CSP},
	{"x-content-type-options:", "nosniff"},
	{"referrer-policy:", "no-referrer"},
	{"x-frame-options:", "DENY"},
};
const size_t dl_web_nsecurity_headers =
	sizeof(dl_web_security_headers) / sizeof(dl_web_security_headers[0]);

const dl_web_asset_t *dl_web_find(const char *path)
{
	if (!path)
		return NULL;
	if (!strcmp(path, "/index.html"))
		path = "/";
	for (size_t i = 0; i < dl_web_nassets; i++)
		if (!strcmp(dl_web_assets[i].path, path))
			return &dl_web_assets[i];
	return NULL;
}

const char *dl_web_cache_control(const dl_web_asset_t *a)
{
	return a && a->immutable ? "public, max-age=31536000, immutable"
				 : "no-cache";
}

bool dl_web_origin_ok(const char *origin, const char *host, bool tls)
{
	const char *scheme = tls ? "https://" : "http://";
	size_t n = strlen(scheme);

	if (!origin || !host || !host[0] || strncasecmp(origin, scheme, n))
		return false;
	/* host names are case-insensitive; "null" and other schemes never
	 * match */
	return !strcasecmp(origin + n, host);
}

int dl_web_cookie(char *out, size_t outlen, const char *secret, bool tls)
{
	int n = snprintf(out, outlen,
			 "dl_token=%s; HttpOnly; SameSite=Strict; Path=/%s%s",
			 secret ? secret : "", secret ? "" : "; Max-Age=0",
			 tls ? "; Secure" : "");

	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}
