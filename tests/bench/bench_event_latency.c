/* bench_event_latency - how long from a Docker event (dockerd's timeNano)
 * until it is visible through the collector's admin socket, the path
 * `dockline events` uses: dockerd -> agent -> SSH -> attach -> serve ->
 * writer COMMIT -> read-only query.
 *
 * usage: bench_event_latency ADMIN_SOCKET HOST NAME_PREFIX COUNT TIMEOUT_S
 * Polls every 2 ms for events of containers whose name starts with
 * NAME_PREFIX and prints p50/p90/p99/max over the first COUNT of them.
 * The 2 ms poll adds at most 2 ms (1 ms on average) to each figure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "proto/admin.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static json_t *query(const char *sock, const char *host, json_int_t after,
		     uint64_t since_ns)
{
	json_t *req = json_pack("{s:s,s:s,s:I,s:I,s:i}", "op", "events", "host",
				host, "after", after, "since_ns",
				(json_int_t)since_ns, "limit", 100000);
	json_t *resp = NULL;
	int fd = dl_admin_connect(sock);

	if (fd < 0) {
		json_decref(req);
		return NULL;
	}
	if (dl_admin_send(fd, req, DL_ADMIN_REQ_MAX) == 0)
		dl_admin_recv(fd, DL_ADMIN_RESP_MAX, 10000, &resp);
	close(fd);
	json_decref(req);
	return resp;
}

int main(int argc, char **argv)
{
	int64_t count, timeout_s;
	uint64_t *lat, start = dl_clock_wall_ns(), deadline;
	json_int_t after = 0;
	size_t n = 0;

	if (argc != 6 || dl_parse_int(argv[4], 1, 1000000, &count) ||
	    dl_parse_int(argv[5], 1, 3600, &timeout_s)) {
		fprintf(stderr,
			"usage: %s ADMIN_SOCKET HOST NAME_PREFIX COUNT "
			"TIMEOUT_S\n",
			argv[0]);
		return 2;
	}
	lat = calloc((size_t)count, sizeof(*lat));
	deadline = dl_clock_mono_ns() + (uint64_t)timeout_s * 1000000000ull;
	while (n < (size_t)count && dl_clock_mono_ns() < deadline) {
		json_t *resp = query(argv[1], argv[2], after, start);
		json_t *data = json_object_get(resp, "data"), *e;
		uint64_t now = dl_clock_wall_ns();
		size_t i;

		json_array_foreach(data, i, e)
		{
			const char *name =
				json_string_value(json_object_get(e, "name"));
			json_int_t t = json_integer_value(
				json_object_get(e, "time_ns"));
			json_int_t seq =
				json_integer_value(json_object_get(e, "seq"));

			if (seq > after)
				after = seq;
			if (!name || strncmp(name, argv[3], strlen(argv[3])) ||
			    n == (size_t)count)
				continue;
			lat[n++] = now > (uint64_t)t ? now - (uint64_t)t : 0;
		}
		json_decref(resp);
		usleep(2000);
	}
	if (n == 0) {
		fprintf(stderr, "no events seen\n");
		return 1;
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("%-34s %8s %8s %8s %8s %8s\n", "event -> visible (ms)", "n",
	       "p50", "p90", "p99", "max");
	printf("%-34s %8zu %8.1f %8.1f %8.1f %8.1f\n",
	       "docker event -> admin query", n, lat[n / 2] / 1e6,
	       lat[n * 9 / 10] / 1e6, lat[n * 99 / 100] / 1e6,
	       lat[n - 1] / 1e6);
	free(lat);
	return n == (size_t)count ? 0 : 1;
}
