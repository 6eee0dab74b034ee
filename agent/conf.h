/* conf.h - agent.conf: where the collector is, how to prove who we are,
 * where Docker is. Validated whole at start with file:line errors. */
#ifndef DL_AGENT_CONF_H
#define DL_AGENT_CONF_H

#include <stddef.h>
#include <stdint.h>

#define DL_AGENT_CONF_DEFAULT "/etc/dockline/agent.conf"
#define DL_APATH_MAX	      1024

/* [agent] stats_source: where container samples come from. auto reads
 * cgroup files and falls back to the Docker stats API per container. */
enum { DL_STATS_SRC_AUTO, DL_STATS_SRC_CGROUP, DL_STATS_SRC_API };

typedef struct {
	char path[DL_APATH_MAX];
	char host[256]; /* collector host (name, IPv4, or IPv6 without []) */
	uint16_t port;
	char user[64];
	char identity[DL_APATH_MAX];
	char known_hosts[DL_APATH_MAX];
	char command[256];
	char docker_socket[DL_APATH_MAX];
	char docker_label[256]; /* "" or KEY[=VALUE]: watch only those */
	char state_dir[DL_APATH_MAX];
	int stats_interval; /* seconds, 1..3600 (used by stats sampling) */
	int stats_source;   /* DL_STATS_SRC_*, default auto */
	int ping_interval;  /* seconds; collector silent 3x this = dead */
	size_t outbox_max;  /* bytes */
	size_t spool_max;   /* bytes on disk under state_dir/spool */
	int spool_sync;	    /* DL_SPOOL_SYNC_* (agent/spool.h) */
	int spool_sync_s;   /* INTERVAL: seconds between fdatasyncs */
	int log_level;
	unsigned control_allow; /* DL_CLASS_* bits: what the collector may do */
} dl_aconf_t;

int dl_aconf_load(dl_aconf_t *c, const char *path, char *err, size_t errlen);

/* "host", "host:port", "[v6]:port" -> host + port (default 22). */
int dl_aconf_parse_address(const char *s, char *host, size_t hostlen,
			   uint16_t *port);

#endif
