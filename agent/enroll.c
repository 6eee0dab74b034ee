#include "agent/enroll.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libssh2.h>
#include <netdb.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/conf.h"
#include "common/config.h"
#include "proto/control.h"
#include "common/base64.h"
#include "common/err.h"

#define HOSTKEY_MAX 1024 /* base64 of a host key blob */
#define AGENT_USER  "dockline-agent"

typedef struct {
	char user[64];
	char host[256];
	uint16_t port;
	char type[64];	       /* host key type */
	char key[HOSTKEY_MAX]; /* host key, base64 */
	char fp[64];	       /* SHA256:... */
} target_t;

/* ssh://[user@]host[:port] */
static int parse_url(const char *url, target_t *t)
{
	const char *p = url, *at;
	char hostport[300];

	if (strncmp(p, "ssh://", 6) != 0)
		return DL_EINVAL;
	p += 6;
	at = strchr(p, '@');
	snprintf(t->user, sizeof(t->user), "dockline");
	if (at) {
		if (at == p || (size_t)(at - p) >= sizeof(t->user))
			return DL_EINVAL;
		memcpy(t->user, p, (size_t)(at - p));
		t->user[at - p] = '\0';
		p = at + 1;
	}
	if (strlen(p) >= sizeof(hostport) || strchr(p, '/'))
		return DL_EINVAL;
	snprintf(hostport, sizeof(hostport), "%s", p);
	return dl_aconf_parse_address(hostport, t->host, sizeof(t->host),
				      &t->port);
}

static bool key_type_ok(const char *type)
{
	return !strcmp(type, "ssh-ed25519") ||
	       !strncmp(type, "ecdsa-sha2-nistp", 16);
}

/* "TYPE BASE64 [comment]" given on the command line. */
static int parse_host_key(const char *s, target_t *t)
{
	uint8_t blob[HOSTKEY_MAX];
	const char *sp = strchr(s, ' ');
	size_t kl;

	if (!sp || (size_t)(sp - s) >= sizeof(t->type))
		return DL_EINVAL;
	memcpy(t->type, s, (size_t)(sp - s));
	t->type[sp - s] = '\0';
	kl = strcspn(sp + 1, " \n");
	if (!key_type_ok(t->type) || kl == 0 || kl >= sizeof(t->key))
		return DL_EINVAL;
	memcpy(t->key, sp + 1, kl);
	t->key[kl] = '\0';
	if (dl_base64_decode(t->key, kl, blob, sizeof(blob)) < 20)
		return DL_EINVAL;
	return 0;
}

static int tcp_connect(const char *host, uint16_t port, char *err,
		       size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	char ps[8];
	int fd = -1, rc;

	snprintf(ps, sizeof(ps), "%u", port);
	rc = getaddrinfo(host, ps, &hints, &res);
	if (rc) {
		snprintf(err, errlen, "cannot resolve %s: %s", host,
			 gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		snprintf(err, errlen, "cannot connect to %s:%u: %s", host, port,
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Asks the collector's sshd for its host key (ed25519 preferred). */
static int fetch_host_key(target_t *t, char *err, size_t errlen)
{
	LIBSSH2_SESSION *s = NULL;
	const char *key, *hash;
	size_t len;
	int type, fd, rc = DL_ESSH;

	fd = tcp_connect(t->host, t->port, err, errlen);
	if (fd < 0)
		return DL_ECONNREFUSED;
	s = libssh2_session_init();
	if (!s)
		goto out;
	libssh2_session_set_timeout(s, 20000);
	libssh2_session_method_pref(s, LIBSSH2_METHOD_HOSTKEY,
				    "ssh-ed25519,ecdsa-sha2-nistp256,"
				    "ecdsa-sha2-nistp384,ecdsa-sha2-nistp521");
	if (libssh2_session_handshake(s, fd) != 0) {
		snprintf(err, errlen, "SSH handshake with %s:%u failed",
			 t->host, t->port);
		goto out;
	}
	key = libssh2_session_hostkey(s, &len, &type);
	hash = (const char *)libssh2_hostkey_hash(s,
						  LIBSSH2_HOSTKEY_HASH_SHA256);
	if (!key || !hash ||
	    dl_base64_encode((const uint8_t *)key, len, true, t->key,
			     sizeof(t->key)) < 0) {
		snprintf(err, errlen, "%s:%u presented no usable host key",
			 t->host, t->port);
		goto out;
	}
	snprintf(
		t->type, sizeof(t->type), "%s",
		type == LIBSSH2_HOSTKEY_TYPE_ED25519	 ? "ssh-ed25519"
		: type == LIBSSH2_HOSTKEY_TYPE_ECDSA_256 ? "ecdsa-sha2-nistp256"
		: type == LIBSSH2_HOSTKEY_TYPE_ECDSA_384 ? "ecdsa-sha2-nistp384"
		: type == LIBSSH2_HOSTKEY_TYPE_ECDSA_521 ? "ecdsa-sha2-nistp521"
							 : "unsupported");
	if (!key_type_ok(t->type)) {
		snprintf(err, errlen,
			 "%s:%u offers no ed25519 or ECDSA host key", t->host,
			 t->port);
		goto out;
	}
	memcpy(t->fp, "SHA256:", 7);
	dl_base64_encode((const uint8_t *)hash, 32, false, t->fp + 7,
			 sizeof(t->fp) - 7);
	rc = 0;
out:
	if (s) {
		libssh2_session_disconnect(s, "enroll");
		libssh2_session_free(s);
	}
	close(fd);
	return rc;
}

/* A person, or a fingerprint given on the command line, vouches. */
static int confirm(const target_t *t, const char *trust)
{
	char answer[16];
	FILE *tty;

	printf("The collector %s:%u presented this host key:\n  %s %s\n",
	       t->host, t->port, t->type, t->fp);
	if (trust) {
		if (strcmp(trust, t->fp) == 0)
			return 0;
		fprintf(stderr,
			"dockline-agent: the key's fingerprint is %s, not the "
			"%s you gave: refusing to pin it\n",
			t->fp, trust);
		return DL_EHOSTKEY;
	}
	tty = fopen("/dev/tty", "r+");
	if (!tty) {
		fprintf(stderr,
			"dockline-agent: no terminal to confirm it. Compare it "
			"with `ssh-keygen -lf "
			"/etc/ssh/ssh_host_ed25519_key.pub` "
			"on the collector host, then rerun with --trust %s "
			"(or pass --host-key as printed by `dockline "
			"enroll`)\n",
			t->fp);
		return DL_EHOSTKEY;
	}
	fprintf(tty, "Compare it with `ssh-keygen -lf "
		     "/etc/ssh/ssh_host_ed25519_key.pub` on the collector "
		     "host.\nPin this key? [y/N] ");
	fflush(tty);
	if (!fgets(answer, sizeof(answer), tty) ||
	    (answer[0] != 'y' && answer[0] != 'Y')) {
		fclose(tty);
		fprintf(stderr, "dockline-agent: not pinned\n");
		return DL_EHOSTKEY;
	}
	fclose(tty);
	return 0;
}

/* The [control] allow of the agent.conf being replaced, so re-enrolling
 * never widens or narrows what the host owner chose; the default when
 * there is none. One that does not parse stops the enrollment: guessing
 * could widen it. 0 or -1 after a sentence on stderr. */
static int kept_policy(const char *conf, char *out, size_t outlen)
{
	char err[256];
	unsigned mask = DL_CLASS_DEFAULT;
	dl_conf_t *old = access(conf, F_OK) == 0
				 ? dl_conf_load(conf, err, sizeof(err))
				 : NULL;

	if (old && dl_control_policy_parse(dl_conf_str(old, "control", "allow",
						       "read, lifecycle"),
					   &mask, err, sizeof(err)) != 0) {
		fprintf(stderr,
			"dockline-agent: %s: [control] allow: %s; fix it "
			"first (enrollment keeps it)\n",
			conf, err);
		dl_conf_free(old);
		return -1;
	}
	dl_conf_free(old);
	dl_control_policy_str(mask, out, outlen);
	return 0;
}

static int write_file(const char *path, const char *text, mode_t mode,
		      bool backup)
{
	char tmp[DL_APATH_MAX + 16], bak[DL_APATH_MAX + 16];
	size_t len = strlen(text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    fchmod(fd, mode) || fsync(fd) || close(fd)) {
		fprintf(stderr, "dockline-agent: cannot write %s: %s\n", path,
			strerror(errno));
		if (fd >= 0)
			unlink(tmp);
		return DL_EIO;
	}
	if (backup && access(path, F_OK) == 0) {
		snprintf(bak, sizeof(bak), "%s.bak", path);
		if (rename(path, bak) == 0)
			printf("kept the previous %s as %s\n", path, bak);
	}
	if (rename(tmp, path) != 0) {
		fprintf(stderr, "dockline-agent: cannot write %s: %s\n", path,
			strerror(errno));
		unlink(tmp);
		return DL_EIO;
	}
	return 0;
}

/* The packaged service runs as dockline-agent: it must own its state. */
static void give_to_agent_user(const char *path, mode_t mode, bool owner)
{
	struct passwd *pw = getuid() == 0 ? getpwnam(AGENT_USER) : NULL;

	if (pw && chown(path, owner ? pw->pw_uid : 0, pw->pw_gid) == 0)
		chmod(path, mode);
}

static int make_identity(const char *path, const char *name)
{
	char comment[128];
	pid_t pid;
	int status;

	if (access(path, R_OK) == 0)
		return 0;
	snprintf(comment, sizeof(comment), "dockline-agent@%s", name);
	pid = fork();
	if (pid == 0) {
		execlp("ssh-keygen", "ssh-keygen", "-q", "-t", "ed25519", "-N",
		       "", "-C", comment, "-f", path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr,
			"dockline-agent: cannot create %s with ssh-keygen "
			"(install openssh-client)\n",
			path);
		return DL_EIO;
	}
	printf("created this host's key %s\n", path);
	return 0;
}

static int read_pub(const char *identity, char *out, size_t outlen)
{
	char path[DL_APATH_MAX + 8];
	FILE *f;

	snprintf(path, sizeof(path), "%s.pub", identity);
	f = fopen(path, "r");
	if (!f || !fgets(out, (int)outlen, f)) {
		fprintf(stderr, "dockline-agent: cannot read %s\n", path);
		if (f)
			fclose(f);
		return DL_EIO;
	}
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
	/* Drop the comment: the collector adds dockline:NAME. */
	{
		char *sp = strchr(out, ' ');

		if (sp && (sp = strchr(sp + 1, ' ')))
			*sp = '\0';
	}
	return 0;
}

static void default_name(char *out, size_t outlen)
{
	char h[256] = "";
	size_t o = 0;

	gethostname(h, sizeof(h) - 1);
	for (char *p = h; *p && *p != '.' && o + 1 < outlen && o < 63; p++) {
		char ch = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    (o > 0 && ch == '-'))
			out[o++] = ch;
	}
	out[o] = '\0';
	if (o == 0)
		snprintf(out, outlen, "docker-host");
}

static void usage_enroll(FILE *f)
{
	fprintf(f,
		"usage: dockline-agent enroll --collector "
		"ssh://[USER@]HOST[:PORT]\n"
		"         [--name NAME] [--host-key 'ssh-ed25519 AAAA...' | "
		"--trust SHA256:...]\n"
		"         [-c FILE] [--state-dir DIR] [--docker-socket PATH]\n"
		"Writes agent.conf (default %s), pins the collector's host "
		"key\n"
		"and prints the command to run on the collector host.\n",
		DL_AGENT_CONF_DEFAULT);
}

int dl_enroll_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"collector", required_argument, NULL, 'C'},
		{"name", required_argument, NULL, 'n'},
		{"host-key", required_argument, NULL, 'K'},
		{"trust", required_argument, NULL, 'T'},
		{"config", required_argument, NULL, 'c'},
		{"state-dir", required_argument, NULL, 'S'},
		{"docker-socket", required_argument, NULL, 'D'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *url = NULL, *hostkey = NULL, *trust = NULL;
	const char *conf = DL_AGENT_CONF_DEFAULT;
	const char *state = "/var/lib/dockline-agent";
	const char *sock = "/var/run/docker.sock";
	char name[64] = "", err[512], identity[DL_APATH_MAX + 16];
	char kh[DL_APATH_MAX + 16], pub[512], text[4096], khline[2048];
	char addr[300], allow[64];
	target_t t = {0};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'C': url = optarg; break;
		case 'n': snprintf(name, sizeof(name), "%s", optarg); break;
		case 'K': hostkey = optarg; break;
		case 'T': trust = optarg; break;
		case 'c': conf = optarg; break;
		case 'S': state = optarg; break;
		case 'D': sock = optarg; break;
		case 'h': usage_enroll(stdout); return 0;
		default: usage_enroll(stderr); return 2;
		}
	}
	if (!url || optind != argc || state[0] != '/' || sock[0] != '/' ||
	    strlen(state) > 512 || strlen(sock) > 512 || strpbrk(state, "\n") ||
	    strpbrk(sock, "\n")) {
		usage_enroll(stderr);
		return 2;
	}
	if (parse_url(url, &t) != 0) {
		fprintf(stderr,
			"dockline-agent: --collector wants "
			"ssh://[USER@]HOST[:PORT], got \"%s\"\n",
			url);
		return 2;
	}
	if (!name[0])
		default_name(name, sizeof(name));
	if (hostkey) {
		if (parse_host_key(hostkey, &t) != 0) {
			fprintf(stderr,
				"dockline-agent: --host-key wants "
				"\"ssh-ed25519 "
				"AAAA...\" (or an ecdsa-sha2-nistp* key)\n");
			return 2;
		}
	} else {
		if (libssh2_init(0) != 0 ||
		    fetch_host_key(&t, err, sizeof(err)) != 0) {
			fprintf(stderr, "dockline-agent: %s\n", err);
			return 1;
		}
		if (confirm(&t, trust) != 0)
			return 1;
	}
	if (mkdir(state, 0750) != 0 && errno != EEXIST) {
		fprintf(stderr, "dockline-agent: cannot create %s: %s\n", state,
			strerror(errno));
		return 1;
	}
	snprintf(identity, sizeof(identity), "%s/id_ed25519", state);
	snprintf(kh, sizeof(kh), "%s/known_hosts", state);
	if (make_identity(identity, name) ||
	    read_pub(identity, pub, sizeof(pub)))
		return 1;
	give_to_agent_user(identity, 0600, true);
	give_to_agent_user(state, 0750, true);
	if (t.port == 22)
		snprintf(khline, sizeof(khline), "%s %s %s\n", t.host, t.type,
			 t.key);
	else
		snprintf(khline, sizeof(khline), "[%s]:%u %s %s\n", t.host,
			 t.port, t.type, t.key);
	if (write_file(kh, khline, 0644, false))
		return 1;
	if (strchr(t.host, ':'))
		snprintf(addr, sizeof(addr), "[%s]:%u", t.host, t.port);
	else
		snprintf(addr, sizeof(addr), "%s:%u", t.host, t.port);
	if (kept_policy(conf, allow, sizeof(allow)))
		return 1;
	snprintf(text, sizeof(text),
		 "# Written by `dockline-agent enroll` for host %s.\n"
		 "[collector]\n"
		 "address = %s\n"
		 "user = %s\n"
		 "identity = %s\n"
		 "known_hosts = %s\n"
		 "\n[docker]\n"
		 "socket = %s\n"
		 "\n[agent]\n"
		 "state_dir = %s\n"
		 "stats_interval = 10\n"
		 "\n[control]\n"
		 "# What the collector may do on this host: read, lifecycle,\n"
		 "# exec, destructive (or all, none). See dockline-agent(8).\n"
		 "allow = %s\n",
		 name, addr, t.user, identity, kh, sock, state, allow);
	if (write_file(conf, text, 0640, true))
		return 1;
	give_to_agent_user(conf, 0640, false);
	printf("wrote %s and pinned %s %s in %s\n\n"
	       "This host's key:\n  %s\n\n"
	       "On the collector host, as root:\n"
	       "  dockline enroll %s --key '%s'\n\n"
	       "Then here:\n"
	       "  systemctl restart dockline-agent && dockline-agent check\n",
	       conf, t.type, t.fp[0] ? t.fp : "(given key)", kh, pub, name,
	       pub);
	return 0;
}
