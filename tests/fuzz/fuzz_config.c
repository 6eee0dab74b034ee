/* fuzz_config.c - libFuzzer target for the config file reader
 * (common/config.c) through a temp file, and the agent's and collector's
 * readers of it: any file gives a config or a one-line error, never a
 * crash or a leak (a config is written by hand, sometimes by a tool). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/conf.h"
#include "common/config.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[64];
	char err[256];
	dl_conf_t *c;
	const char *v;
	int64_t n;
	FILE *f;

	if (size > 1 << 16)
		return 0;
	dl_log_set_level((dl_log_level_t)-1);
	if (!path[0])
		snprintf(path, sizeof(path), "/tmp/dl-fuzz-config.%d",
			 (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	fclose(f);
	c = dl_conf_load(path, err, sizeof(err));
	if (c) {
		v = dl_conf_str(c, "agent", "state_dir", NULL);
		(void)v;
		(void)dl_conf_int(c, "agent", "ping_interval", 15, 1, 3600, &n,
				  err, sizeof(err));
		(void)dl_conf_duration(c, "agent", "spool_sync", 1, 1, 3600, &n,
				       err, sizeof(err));
		dl_conf_free(c);
	}
	{
		dl_aconf_t ac;

		(void)dl_aconf_load(&ac, path, err, sizeof(err));
	}
	return 0;
}
