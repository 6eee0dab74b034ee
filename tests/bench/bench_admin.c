/* bench_admin.c - the baseline for the gateway benchmarks (bench_http.sh):
 * the same query sent straight to serve's admin socket by THREADS
 * threads for SECONDS, each thread one request at a time, like wrk's
 * connections. Mode "connect" opens a connection per request (what the
 * gateway does for each HTTP request), "keep" reuses one per thread
 * (serve's ceiling). Prints one line: requests/s, p50, p99, max (ms) and
 * the answer size. Errors (an "ok":false answer) are counted, not timed;
 * like wrk, answers arriving after SECONDS are not counted.
 *
 *   bench_admin SOCKET TOKEN OP THREADS SECONDS connect|keep [all] */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "proto/admin.h"

#define LAT_MAX (1u << 20) /* per thread */

typedef struct {
	pthread_t th;
	uint64_t *lat;
	size_t n;
	size_t errors;
	size_t bytes;
} worker_t;

static const char *sock_path;
static json_t *req;
static bool keep;
static uint64_t deadline;

/* One request on fd: 0, or -1 when the connection is unusable. */
static int one(int fd, worker_t *w)
{
	char *p = NULL;
	size_t len = 0;
	json_t *resp = NULL;

	if (dl_admin_send(fd, req, DL_ADMIN_REQ_MAX) != 0 ||
	    dl_admin_recv_frame(fd, DL_ADMIN_RESP_MAX, 60000, &p, &len) != 0)
		return -1;
	/* Parse like a client would (the gateway forwards the bytes). */
	if (dl_admin_parse(p, len, &resp) != 0 ||
	    !json_is_true(json_object_get(resp, "ok")))
		w->errors++;
	w->bytes = len;
	json_decref(resp);
	free(p);
	return 0;
}

static void *run(void *arg)
{
	worker_t *w = arg;
	int fd = -1;

	while (dl_clock_mono_ns() < deadline && w->n < LAT_MAX) {
		uint64_t t0 = dl_clock_mono_ns();

		if (fd < 0 && (fd = dl_admin_connect(sock_path)) < 0) {
			w->errors++;
			usleep(1000);
			continue;
		}
		if (one(fd, w) != 0) {
			w->errors++;
			close(fd);
			fd = -1;
			continue;
		}
		/* Like wrk: an answer after the deadline is not counted. */
		if (dl_clock_mono_ns() > deadline)
			break;
		w->lat[w->n++] = dl_clock_mono_ns() - t0;
		if (!keep) {
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int64_t nth, secs;
	worker_t *w;
	uint64_t *all, t0, took;
	size_t n = 0, errors = 0, bytes = 0;

	if (argc < 7 || dl_parse_int(argv[4], 1, 1024, &nth) ||
	    dl_parse_int(argv[5], 1, 3600, &secs) ||
	    (strcmp(argv[6], "connect") && strcmp(argv[6], "keep"))) {
		fprintf(stderr,
			"usage: %s SOCKET TOKEN OP THREADS SECONDS "
			"connect|keep [all]\n",
			argv[0]);
		return 2;
	}
	sock_path = argv[1];
	keep = !strcmp(argv[6], "keep");
	req = json_pack("{s:s,s:s}", "op", argv[3], "token", argv[2]);
	if (argc > 7 && !strcmp(argv[7], "all"))
		json_object_set_new(req, "all", json_true());
	w = calloc((size_t)nth, sizeof(*w));
	if (!req || !w)
		return 1;
	t0 = dl_clock_mono_ns();
	deadline = t0 + (uint64_t)secs * 1000000000ull;
	for (int i = 0; i < nth; i++) {
		if (!(w[i].lat = malloc(LAT_MAX * sizeof(uint64_t))))
			return 1;
		pthread_create(&w[i].th, NULL, run, &w[i]);
	}
	for (int i = 0; i < nth; i++) {
		pthread_join(w[i].th, NULL);
		n += w[i].n;
		errors += w[i].errors;
		if (w[i].bytes)
			bytes = w[i].bytes;
	}
	took = dl_clock_mono_ns() - t0;
	if (!(all = malloc((n ? n : 1) * sizeof(uint64_t))))
		return 1;
	n = 0;
	for (int i = 0; i < nth; i++) {
		memcpy(all + n, w[i].lat, w[i].n * sizeof(uint64_t));
		n += w[i].n;
		free(w[i].lat);
	}
	if (n == 0) {
		fprintf(stderr, "bench_admin: no answer (%zu errors)\n",
			errors);
		return 1;
	}
	qsort(all, n, sizeof(uint64_t), cmp_u64);
	/* machine-readable: rps p50_ms p99_ms max_ms bytes errors */
	printf("%.1f %.2f %.2f %.2f %zu %zu\n", (double)n * 1e9 / (double)took,
	       all[n / 2] / 1e6, all[n * 99 / 100] / 1e6, all[n - 1] / 1e6,
	       bytes, errors);
	free(all);
	free(w);
	json_decref(req);
	return 0;
}
