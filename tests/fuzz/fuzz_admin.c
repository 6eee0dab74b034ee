/* fuzz_admin.c - libFuzzer target for the admin socket's request parser
 * (proto/admin.c dl_admin_parse): any bytes give a JSON object or an
 * error, never a crash or a leak; a parsed object frames again. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/admin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj = NULL;
	size_t len;
	char *f;

	if (size > 1 << 20)
		return 0;
	if (dl_admin_parse((const char *)data, size, &obj) == 0 && obj) {
		f = dl_admin_frame(obj, 1 << 20, &len);
		free(f);
	}
	json_decref(obj);
	return 0;
}
