/* fuzz_cgroup_proc.c - libFuzzer target for the agent's parsers of cgroup
 * (v1 and v2) and /proc files: a kernel we have not met, or a container
 * runtime that bind-mounts something odd, must give "not parsed", never a
 * crash or an out-of-bounds read (the parsers take explicit lengths, so
 * the input is not NUL-terminated on purpose). Byte 0 picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cgroup.h"
#include "agent/hostmetrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p;
	size_t n;
	uint64_t a = 0, b = 0;
	dl_cgroup_net_t net;
	dl_hostmetrics_sample_t hs;
	char *copy;

	if (size < 1 || size > 1 << 16)
		return 0;
	n = size - 1;
	/* A heap copy of exactly n bytes: ASan sees any read past the end. */
	copy = malloc(n ? n : 1);
	if (!copy)
		return 0;
	memcpy(copy, data + 1, n);
	p = copy;
	memset(&hs, 0, sizeof(hs));
	switch (data[0] % 12) {
	case 0: (void)dl_cgroup_parse_u64(p, n, &a); break;
	case 1: (void)dl_cgroup_parse_limit(p, n, &a); break;
	case 2: (void)dl_cgroup_parse_keyed(p, n, "usage_usec", &a); break;
	case 3: (void)dl_cgroup_parse_memory_stat(p, n, &a); break;
	case 4: (void)dl_cgroup_parse_cpustat(p, n, &a); break;
	case 5: (void)dl_cgroup_parse_blkio(p, n, &a, &b); break;
	case 6: (void)dl_cgroup_parse_iostat(p, n, &a, &b); break;
	case 7: (void)dl_cgroup_parse_netdev(p, n, &net); break;
	case 8: (void)dl_cgroup_parse_dec(p, n, &a); break;
	case 9: (void)dl_hostmetrics_parse_stat(p, n, 100, &hs); break;
	case 10: (void)dl_hostmetrics_parse_meminfo(p, n, &hs); break;
	default: (void)dl_hostmetrics_parse_loadavg(p, n, &hs); break;
	}
	free(copy);
	return 0;
}
