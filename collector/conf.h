/* conf.h - collector.conf: where the database and sockets live and who
 * may attach. Shared by `dockline-collector serve|attach` and the CLI.
 * Everything is validated at load time with file:line errors. */
#ifndef DL_COLLECTOR_CONF_H
#define DL_COLLECTOR_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DL_COLLECTOR_CONF_DEFAULT "/etc/dockline/collector.conf"
#define DL_ADMIN_SOCKET_DEFAULT	  "/run/dockline/admin.sock"
#define DL_AGENT_SOCKET_DEFAULT	  "/run/dockline/agent.sock"
#define DL_DATABASE_DEFAULT	  "/var/lib/dockline/dockline.db"
#define DL_HOST_KEY_DEFAULT	  "/etc/ssh/ssh_host_ed25519_key.pub"
#define DL_MAX_ATTACH_USERS	  16
#define DL_PATH_MAX		  1024
#define DL_ATTACH_WAIT_DEFAULT	  60 /* seconds attach waits for serve */

/* The keys of an [alert NAME] section, for dl_conf_check_known: of
 * collector.conf here, of the files its `include` names in
 * alert_rules.c (which reads the values). */
#define DL_ALERT_CONF_KEYS                                                     \
	"alert *.condition", "alert *.enabled", "alert *.hosts",               \
		"alert *.containers", "alert *.label", "alert *.for",          \
		"alert *.severity", "alert *.notify", "alert *.repeat",        \
		"alert *.resolve", "alert *.threshold", "alert *.count",       \
		"alert *.window"

#define DL_HTTP_LISTEN_DEFAULT "127.0.0.1:9810"
#define DL_HTTP_USER_DEFAULT   "dockline-http"

/* [http]: the gateway (`dockline-collector http`). serve reads `user`
 * only: requests from that uid must carry a valid token. */
typedef struct {
	char listen_host[256]; /* "127.0.0.1", "::1", "0.0.0.0", a name */
	int listen_port;
	bool loopback;	       /* listen_host is a loopback address */
	int tls;	       /* DL_HTTP_TLS_* */
	bool tls_off_explicit; /* `tls = off` written, not just no cert */
	char tls_cert[DL_PATH_MAX];
	char tls_key[DL_PATH_MAX];
	char user[64];	   /* the gateway's system user */
	bool have_uid;	   /* user exists on this host */
	uid_t uid;	   /* its uid (requests need a token) */
	bool metrics_auth; /* /metrics needs a read token (default) */
	int max_connections;
	int64_t header_max;    /* bytes of request headers */
	int64_t body_max;      /* bytes of a request body */
	int idle_timeout;      /* seconds a connection may stay silent */
	int header_timeout;    /* seconds to send the request head */
	int64_t client_buffer; /* bytes queued for one slow client */
} dl_http_conf_t;

enum { DL_HTTP_TLS_AUTO, DL_HTTP_TLS_ON, DL_HTTP_TLS_OFF };

/* [remote_write]: committed samples pushed to a Prometheus remote-write
 * receiver (collector/remote_write.c). serve reads the token file, not
 * conf.c, so the CLI never needs to. */
#define DL_RW_URL_MAX	  1024
#define DL_RW_HEADERS	  4
#define DL_RW_HEADER_MAX  256
#define DL_RW_TIMEOUT_DEF 30
#define DL_RW_BATCH_DEF	  2000
#define DL_RW_BATCH_MAX	  100000
#define DL_RW_QUEUE_DEF	  200000
#define DL_RW_QUEUE_MAX	  10000000
#define DL_RW_CONN_DEF	  4
#define DL_RW_CONN_MAX	  32
typedef struct {
	bool enabled; /* the section has a url */
	char url[DL_RW_URL_MAX];
	char bearer_token_file[DL_PATH_MAX];	       /* "" = none */
	char ca_file[DL_PATH_MAX];		       /* "" = the system's */
	char headers[DL_RW_HEADERS][DL_RW_HEADER_MAX]; /* "Name: value" */
	int nheaders;
	int timeout_s;	 /* per request */
	int64_t batch;	 /* samples (series values) per request */
	int64_t queue;	 /* samples waiting at most; oldest dropped */
	int connections; /* requests out at once (series split by key) */
} dl_rw_conf_t;

typedef struct {
	char path[DL_PATH_MAX]; /* absolute path of the file loaded, or "" */
	char database[DL_PATH_MAX];
	char agent_socket[DL_PATH_MAX];
	char admin_socket[DL_PATH_MAX];
	/* `dockline enroll` appends here when set ("" = print the line). */
	char authorized_keys[DL_PATH_MAX];
	/* sshd's public host key, printed for the agent to pin. */
	char host_key[DL_PATH_MAX];
	/* Glob of files of [alert NAME] sections ("" = none). */
	char include[DL_PATH_MAX];
	/* How agents reach this host's sshd ("" = unknown). */
	char public_address[256];
	uid_t attach_uids[DL_MAX_ATTACH_USERS];
	size_t nattach;
	int log_level;
	int ping_interval; /* seconds; a session silent 3x this is dead */
	/* seconds `attach` keeps an agent's SSH channel while serve is gone
	 * (restart, crash), reconnecting; 0 = exit with serve */
	int attach_wait;
	/* [retention] raw, minute, hour: seconds each stats tier is kept */
	int64_t retention_raw, retention_minute, retention_hour;
	int64_t retention_audit; /* [retention] audit: control requests */
	dl_http_conf_t http;
	dl_rw_conf_t rw;
} dl_cconf_t;

/* Fills defaults, then reads path if not NULL. 0 or DL_ECONFIG + err. */
int dl_cconf_load(dl_cconf_t *c, const char *path, char *err, size_t errlen);

/* [a-z0-9][a-z0-9.-]{0,62} */
bool dl_host_name_valid(const char *name);

#endif
