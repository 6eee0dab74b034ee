/* fuzz_docker_json.c - libFuzzer target for the agent's parsers of Docker
 * Engine answers: an /events line, the /containers/json list, an inspect
 * body, the stats API fallback and its inspect (State.Pid). Byte 0 picks
 * the parser; the rest is the body. dockerd is trusted-ish, but a proxy,
 * a bug or a future API version must never crash the agent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/inspect.h"
#include "agent/stats.h"
#include "agent/watch.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data + 1;
	size_t n = size - 1;

	if (size < 1 || size > 1 << 20)
		return 0;
	dl_log_set_level((dl_log_level_t)-1);
	switch (data[0] % 5) {
	case 0: {
		dl_event_t ev;
		uint64_t t;

		if (dl_watch_parse_event(p, n, &ev, &t) == 0)
			dl_watch_free_event(&ev);
		break;
	}
	case 1: {
		dl_container_t *v = NULL;
		uint32_t k = 0;

		if (dl_watch_parse_containers(p, n, &v, &k) == 0)
			dl_watch_free_containers(v, k);
		break;
	}
	case 2: {
		dl_inspect_t in;

		memset(&in, 0, sizeof(in));
		(void)dl_inspect_parse(p, n, &in);
		break;
	}
	case 3: {
		dl_sample_t s;
		uint64_t sys = 0;

		memset(&s, 0, sizeof(s));
		(void)dl_stats_parse_api(p, n, &s, &sys);
		break;
	}
	default: {
		int pid = 0;

		(void)dl_stats_parse_inspect(p, n, &pid);
		break;
	}
	}
	return 0;
}
