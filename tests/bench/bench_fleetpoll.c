/* bench_fleetpoll - the admin-side probes of tests/bench/fleet.sh.
 *
 *   bench_fleetpoll hosts SOCKET N TIMEOUT_S
 *     asks "hosts" every 100 ms (one request at a time, a new connection
 *     each, like the CLI) until N hosts are online or TIMEOUT_S passes;
 *     prints the time until all were online and the latency of every
 *     query meanwhile (p50, p99, max).
 *   bench_fleetpoll events SOCKET NAME COUNT TIMEOUT_S
 *     subscribes to events and times each pushed event of container NAME
 *     from dockerd's time_ns to its arrival here (the path: dockerd ->
 *     agent -> SSH -> attach -> serve -> COMMIT -> subscriber), until
 *     COUNT arrived; prints p50/p99/max, the distinct hosts, and
 *     duplicates (the same host, action and time_ns twice). Prints
 *     "ready" on stdout once subscribed. */
#include <stdbool.h>
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

static void print_lat(const char *what, uint64_t *v, size_t n)
{
	if (!n) {
		printf("%s: none\n", what);
		return;
	}
	qsort(v, n, sizeof(*v), cmp_u64);
	printf("%s: n=%zu p50 %.1f ms p99 %.1f ms max %.1f ms\n", what, n,
	       v[n / 2] / 1e6, v[n * 99 / 100] / 1e6, v[n - 1] / 1e6);
}

/* Occurrences of needle in p[0..n). */
static size_t count_of(const char *p, size_t n, const char *needle)
{
	size_t k = strlen(needle), c = 0;
	const char *q = p, *end = p + n;

	while ((q = memmem(q, (size_t)(end - q), needle, k))) {
		c++;
		q += k;
	}
	return c;
}

static int hosts(const char *sock, int64_t want, int64_t timeout_s)
{
	uint64_t t0 = dl_clock_mono_ns(), *lat, all = 0;
	uint64_t end = t0 + (uint64_t)timeout_s * 1000000000ull;
	size_t n = 0, cap = 1u << 16, fails = 0;
	json_t *req = json_pack("{s:s}", "op", "hosts");
	int64_t online = 0;

	lat = malloc(cap * sizeof(*lat));
	while (lat && dl_clock_mono_ns() < end) {
		uint64_t q0 = dl_clock_mono_ns();
		char *frame = NULL;
		size_t len = 0;
		int fd = dl_admin_connect(sock);

		/* Timed to the whole answer received, not parsed: the
		 * client's JSON parse is not serve's latency. */
		if (fd >= 0 && dl_admin_send(fd, req, DL_ADMIN_REQ_MAX) == 0 &&
		    dl_admin_recv_frame(fd, DL_ADMIN_RESP_MAX, 300000, &frame,
					&len) == 0 &&
		    len >= 10 && !memcmp(frame, "{\"ok\":true", 10)) {
			if (n < cap)
				lat[n++] = dl_clock_mono_ns() - q0;
			online = (int64_t)count_of(frame, len,
						   "\"online\":true");
		} else {
			fails++;
		}
		free(frame);
		if (fd >= 0)
			close(fd);
		if (online >= want) {
			all = dl_clock_mono_ns() - t0;
			break;
		}
		usleep(100000);
	}
	printf("online: %lld of %lld after %.2f s%s\n", (long long)online,
	       (long long)want,
	       (double)(all ? all : dl_clock_mono_ns() - t0) / 1e9,
	       all ? "" : " (timed out)");
	print_lat("hosts latency", lat, n);
	printf("hosts failures: %zu\n", fails);
	free(lat);
	json_decref(req);
	return all ? 0 : 1;
}

typedef struct {
	char host[256], action[64];
	json_int_t t;
} seen_t;

static int events(const char *sock, const char *name, int64_t count,
		  int64_t timeout_s)
{
	json_t *req =
		json_pack("{s:s,s:s}", "op", "subscribe", "what", "events");
	uint64_t *lat = calloc((size_t)count, sizeof(*lat));
	seen_t *seen = calloc((size_t)count, sizeof(*seen));
	size_t n = 0, dups = 0, hosts_n = 0;
	uint64_t end = dl_clock_mono_ns() + (uint64_t)timeout_s * 1000000000ull;
	int fd = dl_admin_connect(sock);
	json_t *resp = NULL;

	if (fd < 0 || !lat || !seen ||
	    dl_admin_send(fd, req, DL_ADMIN_REQ_MAX) ||
	    dl_admin_recv(fd, DL_ADMIN_RESP_MAX, 30000, &resp) ||
	    !json_is_true(json_object_get(resp, "ok"))) {
		fprintf(stderr, "bench_fleetpoll: cannot subscribe\n");
		return 1;
	}
	json_decref(resp);
	printf("ready\n");
	fflush(stdout);
	while (n < (size_t)count && dl_clock_mono_ns() < end) {
		json_t *e, *m = NULL;
		const char *h, *a, *nm;
		json_int_t t;
		bool dup = false, newhost = true;

		if (dl_admin_recv(fd, DL_ADMIN_RESP_MAX, 1000, &m) != 0)
			continue;
		e = json_object_get(m, "event");
		nm = json_string_value(json_object_get(e, "name"));
		h = json_string_value(json_object_get(e, "host"));
		a = json_string_value(json_object_get(e, "action"));
		t = json_integer_value(json_object_get(e, "time_ns"));
		if (!nm || !h || !a || strcmp(nm, name)) {
			json_decref(m);
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if (strcmp(seen[i].host, h))
				continue;
			newhost = false;
			if (!strcmp(seen[i].action, a) && seen[i].t == t)
				dup = true;
		}
		hosts_n += newhost;
		dups += dup;
		snprintf(seen[n].host, sizeof(seen[n].host), "%s", h);
		snprintf(seen[n].action, sizeof(seen[n].action), "%s", a);
		seen[n].t = t;
		lat[n++] = dl_clock_wall_ns() - (uint64_t)t;
		json_decref(m);
	}
	printf("events of %s: %zu from %zu hosts, %zu duplicates\n", name, n,
	       hosts_n, dups);
	print_lat("event fan-in latency (dockerd -> subscriber)", lat, n);
	close(fd);
	free(lat);
	free(seen);
	json_decref(req);
	return 0;
}

int main(int argc, char **argv)
{
	int64_t a, b;

	if (argc == 5 && !strcmp(argv[1], "hosts") &&
	    !dl_parse_int(argv[3], 1, 1000000, &a) &&
	    !dl_parse_int(argv[4], 1, 36000, &b))
		return hosts(argv[2], a, b);
	if (argc == 6 && !strcmp(argv[1], "events") &&
	    !dl_parse_int(argv[4], 1, 1000000, &a) &&
	    !dl_parse_int(argv[5], 1, 36000, &b))
		return events(argv[2], argv[3], a, b);
	fprintf(stderr,
		"usage: %s hosts SOCKET N TIMEOUT_S\n"
		"       %s events SOCKET NAME COUNT TIMEOUT_S\n",
		argv[0], argv[0]);
	return 2;
}
