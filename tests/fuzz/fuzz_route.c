/* fuzz_route.c - libFuzzer target for the gateway's request translation
 * (collector/http/route.c): any method, path, query and body must give
 * either an admin request or an HTTP error, never a crash or a leak.
 * Input: byte 0 = method and upgrade flag, then path \0 query \0 body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/http/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf, *path, *query, *body, *save = NULL, *kvp;
	dl_route_kv_t kv[DL_ROUTE_QUERY_MAX + 4];
	size_t nq = 0, rest;
	dl_route_t r;

	if (size < 1 || size > 8192)
		return 0;
	buf = malloc(size + 2);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	buf[size] = '\0';
	path = buf;
	query = path + strlen(path) + 1;
	if (query > buf + size - 1)
		query = buf + size - 1;
	body = query + strlen(query) + 1;
	if (body > buf + size)
		body = buf + size;
	rest = (size_t)(buf + size - 1 - body);
	if (body > buf + size - 1)
		rest = 0;
	for (kvp = strtok_r(query, "&", &save);
	     kvp && nq < sizeof(kv) / sizeof(kv[0]);
	     kvp = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kvp, '=');

		if (eq)
			*eq++ = '\0';
		kv[nq].key = kvp;
		kv[nq].val = eq ? eq : "";
		nq++;
	}
	dl_route_request((dl_route_method_t)(data[0] & 3), path, kv, nq,
			 (data[0] & 8) ? NULL : body, rest, data[0] & 4,
			 1700000000, &r);
	if (r.status == 0 && r.req == NULL && !r.body)
		abort(); /* routed must mean a request */
	dl_route_clear(&r);
	free(buf);
	return 0;
}
