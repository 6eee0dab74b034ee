/* regauth.c - Docker config `auths` -> X-Registry-Auth (see regauth.h). */
#include "agent/regauth.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/base64.h"
#include "common/err.h"

void dl_regauth_config_path(char *out, size_t outlen)
{
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");

	if (dc && *dc)
		snprintf(out, outlen, "%s/config.json", dc);
	else
		snprintf(out, outlen, "%s/.docker/config.json",
			 home && *home ? home : "/root");
}

void dl_regauth_registry(const char *image, char *out, size_t outlen)
{
	const char *slash = strchr(image, '/');
	size_t n = slash ? (size_t)(slash - image) : 0;

	if (slash && (memchr(image, '.', n) || memchr(image, ':', n) ||
		      (n == 9 && !strncmp(image, "localhost", 9))))
		snprintf(out, outlen, "%.*s", (int)n, image);
	else
		snprintf(out, outlen, "docker.io");
}

/* The host of an auths key: "https://reg:5000/v1/" -> "reg:5000";
 * Docker Hub's several spellings -> "docker.io". */
static void key_host(const char *key, char *out, size_t outlen)
{
	const char *p = strstr(key, "://");
	size_t n;

	p = p ? p + 3 : key;
	n = strcspn(p, "/");
	snprintf(out, outlen, "%.*s", (int)n, p);
	if (!strcmp(out, "index.docker.io") ||
	    !strcmp(out, "registry-1.docker.io"))
		snprintf(out, outlen, "docker.io");
}

static void wipe(void *p, size_t n)
{
	volatile unsigned char *v = p;

	while (n--)
		*v++ = 0;
}

/* The file, at most DL_REGAUTH_FILE_MAX bytes. NULL when absent. */
static json_t *load(const char *path, int *rc)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	json_t *j;

	*rc = 0;
	if (!f)
		return NULL;
	buf = malloc(DL_REGAUTH_FILE_MAX + 1);
	n = buf ? fread(buf, 1, DL_REGAUTH_FILE_MAX + 1, f) : 0;
	fclose(f);
	if (!buf || n > DL_REGAUTH_FILE_MAX) {
		*rc = buf ? DL_ETOOBIG : DL_ENOMEM;
		free(buf);
		return NULL;
	}
	j = json_loadb(buf, n, 0, NULL);
	wipe(buf, n);
	free(buf);
	if (!j)
		*rc = DL_EINVAL;
	return j;
}

/* {"username","password"} from an entry's "auth" (base64 user:pass) or
 * its own fields; {"identitytoken"} when that is what it has. */
static json_t *entry_auth(const json_t *e, const char *registry)
{
	const char *auth = json_string_value(json_object_get(e, "auth"));
	const char *tok =
		json_string_value(json_object_get(e, "identitytoken"));
	uint8_t dec[2048];
	json_t *out = NULL;
	int n;

	if (auth && *auth) {
		n = dl_base64_decode(auth, strlen(auth), dec, sizeof(dec) - 1);
		if (n > 0) {
			char *colon;

			dec[n] = '\0';
			colon = strchr((char *)dec, ':');
			if (colon) {
				*colon = '\0';
				out = json_pack("{s:s,s:s,s:s}", "username",
						(char *)dec, "password",
						colon + 1, "serveraddress",
						registry);
			}
			wipe(dec, sizeof(dec));
		}
	} else if (tok && *tok) {
		out = json_pack("{s:s,s:s}", "identitytoken", tok,
				"serveraddress", registry);
	} else if (json_string_value(json_object_get(e, "username"))) {
		const char *pw =
			json_string_value(json_object_get(e, "password"));

		out = json_pack("{s:O,s:s,s:s}", "username",
				json_object_get(e, "username"), "password",
				pw ? pw : "", "serveraddress", registry);
	}
	return out;
}

int dl_regauth_header(const char *path, const char *image, char *out,
		      size_t outlen)
{
	char reg[256], host[256];
	json_t *cfg, *e, *auth = NULL;
	const char *key;
	char *text;
	int rc, n;

	out[0] = '\0';
	dl_regauth_registry(image, reg, sizeof(reg));
	if (!(cfg = load(path, &rc)))
		return rc;
	json_object_foreach(json_object_get(cfg, "auths"), key, e)
	{
		key_host(key, host, sizeof(host));
		if (!strcmp(host, reg) && (auth = entry_auth(e, reg)))
			break;
	}
	json_decref(cfg);
	if (!auth)
		return 0;
	text = json_dumps(auth, JSON_COMPACT);
	json_decref(auth);
	if (!text)
		return DL_ENOMEM;
	n = dl_base64_encode((const uint8_t *)text, strlen(text), true, out,
			     outlen < DL_REGAUTH_HDR_MAX ? outlen
							 : DL_REGAUTH_HDR_MAX);
	wipe(text, strlen(text));
	free(text);
	if (n < 0) {
		out[0] = '\0';
		return DL_ETOOBIG;
	}
	for (char *p = out; *p; p++) /* base64url, as Docker decodes it */
		*p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
	return 1;
}
