/* metrics: serve's own families. dockline_reconnects_total counts each
 * host's session starts through the keyed index (2,000 hosts, starts
 * interleaved), and the text has one line per host with its count. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/metrics.h"
#include "test.h"

#define HOSTS 2000

static unsigned starts_of(int i)
{
	return (unsigned)(i % 3) + 1;
}

int main(void)
{
	dl_metrics_t *m = dl_metrics_new();
	dl_buf_t *b;
	char name[32], want[96], *text;
	size_t lines = 0;

	ASSERT(m != NULL);
	/* Round r starts every host that has more than r starts. */
	for (unsigned r = 0; r < 3; r++)
		for (int i = 0; i < HOSTS; i++)
			if (starts_of(i) > r) {
				snprintf(name, sizeof(name), "host-%04d", i);
				dl_metrics_session_start(m, name);
			}
	b = dl_metrics_serve_text(m, 7, 0, NULL);
	ASSERT(b != NULL);
	text = strndup((const char *)b->data + b->off, b->len - b->off);
	ASSERT(text != NULL);
	ASSERT(strstr(text, "dockline_agents_connected 7\n") != NULL);
	ASSERT(strstr(text, "\ndockline_inventory_parts_reserved_bytes 0\n"));
	ASSERT(strstr(text, "\ndockline_inventory_parts_waits_total 0\n"));
	for (int i = 0; i < HOSTS; i++) {
		snprintf(want, sizeof(want),
			 "\ndockline_reconnects_total{host=\"host-%04d\"} %u\n",
			 i, starts_of(i));
		ASSERT(strstr(text, want) != NULL);
	}
	for (const char *p = text;
	     (p = strstr(p, "\ndockline_reconnects_total{")); p++)
		lines++;
	ASSERT_EQ(lines, HOSTS);
	free(text);
	dl_metrics_buf_free(b);
	dl_metrics_free(m);
	printf("ok\n");
	return 0;
}
