/* tunnel_ssh.c - the SSH session up to an open exec channel: session
 * options (compression, host key types), the handshake, host key pinning
 * against known_hosts (strict: an unknown or changed key is refused with
 * the presented fingerprint in the reason), public key authentication,
 * the session channel and the exec request. Every step is non-blocking:
 * DL_EAGAIN means call again when the socket is ready. */
#include <errno.h>
#include <libssh2.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "agent/tunnel.h"
#include "agent/tunnel_int.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/log.h"

#define TAG "tunnel"

#define KEEPALIVE_S  30	    /* NAT keep-state only, see tunnel_chan.c */
#define KH_LINE_MAX  8192   /* longer known_hosts lines are ignored */
#define KH_LINES_MAX 100000 /* bound on the file, not on real use */

const char *dl_tunnel__ssh_msg(dl_tunnel_t *t)
{
	char *msg = NULL;

	if (!t->session)
		return "no session";
	libssh2_session_last_error(t->session, &msg, NULL, 0);
	return msg && *msg ? msg : "unknown libssh2 error";
}

/* ---- host key pinning --------------------------------------------------- */

static const char *kh_type_name(int typemask)
{
	switch (typemask & LIBSSH2_KNOWNHOST_KEY_MASK) {
	case LIBSSH2_KNOWNHOST_KEY_ED25519: return "ssh-ed25519";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_256: return "ecdsa-sha2-nistp256";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_384: return "ecdsa-sha2-nistp384";
	case LIBSSH2_KNOWNHOST_KEY_ECDSA_521: return "ecdsa-sha2-nistp521";
	case LIBSSH2_KNOWNHOST_KEY_SSHRSA: return "ssh-rsa";
	case LIBSSH2_KNOWNHOST_KEY_SSHDSS: return "ssh-dss";
	default: return NULL;
	}
}

static int hostkey_to_kh(int type, const char **name)
{
	switch (type) {
	case LIBSSH2_HOSTKEY_TYPE_ED25519:
		*name = "ssh-ed25519";
		return LIBSSH2_KNOWNHOST_KEY_ED25519;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
		*name = "ecdsa-sha2-nistp256";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
		*name = "ecdsa-sha2-nistp384";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
	case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
		*name = "ecdsa-sha2-nistp521";
		return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
	case LIBSSH2_HOSTKEY_TYPE_RSA:
		*name = "ssh-rsa";
		return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
	case LIBSSH2_HOSTKEY_TYPE_DSS:
		*name = "ssh-dss";
		return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
	default: *name = "unknown"; return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
	}
}

/* Loads the pinned file line by line (rather than readfile, which stops
 * at the first line it cannot parse) so one odd line costs only itself. */
static void load_known_hosts(dl_tunnel_t *t)
{
	char line[KH_LINE_MAX];
	FILE *fp;
	int lineno = 0;

	t->kh_entries = 0;
	t->kh_problem[0] = '\0';
	fp = fopen(t->known_hosts, "re");
	if (!fp) {
		snprintf(t->kh_problem, sizeof(t->kh_problem),
			 "cannot open %s: %s", t->known_hosts, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp) && lineno < KH_LINES_MAX) {
		size_t n = strlen(line);
		const char *p = line;

		lineno++;
		if (n == sizeof(line) - 1 && line[n - 1] != '\n') {
			int c;

			while ((c = fgetc(fp)) != EOF && c != '\n')
				;
			DL_LOG_WARN(TAG, "%s line %d is too long, ignored",
				    t->known_hosts, lineno);
			continue;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (libssh2_knownhost_readline(
			    t->kh, p, strlen(p),
			    LIBSSH2_KNOWNHOST_FILE_OPENSSH)) {
			DL_LOG_WARN(TAG,
				    "%s line %d is not a known_hosts line "
				    "libssh2 can use, ignored",
				    t->known_hosts, lineno);
			continue;
		}
		t->kh_entries++;
	}
	fclose(fp);
	if (!t->kh_entries)
		snprintf(t->kh_problem, sizeof(t->kh_problem),
			 "%s holds no usable host key", t->known_hosts);
}

static void add_method(char *list, size_t cap, const char *name)
{
	size_t n = strlen(list), k = strlen(name);
	const char *p = list;

	while ((p = strstr(p, name))) { /* already listed? */
		if ((p == list || p[-1] == ',') &&
		    (p[k] == ',' || p[k] == '\0'))
			return;
		p += k;
	}
	if (n + k + 2 > cap)
		return;
	if (n)
		list[n++] = ',';
	memcpy(list + n, name, k + 1);
}

/* libssh2 1.10 prefers ECDSA; without this a server with both keys would
 * present one that is not pinned and be refused. Entries naming this host
 * come first; hashed entries (name unknown) follow. */
static void prefer_pinned_types(dl_tunnel_t *t)
{
	struct libssh2_knownhost *k = NULL;
	char named[256] = "", hashed[256] = "";

	while (libssh2_knownhost_get(t->kh, &k, k) == 0) {
		const char *type = kh_type_name(k->typemask);

		if (!type)
			continue;
		if (k->name && strcmp(k->name, t->kh_name) == 0)
			add_method(named, sizeof(named), type);
		else if (!k->name)
			add_method(hashed, sizeof(hashed), type);
	}
	if (!named[0] && !hashed[0])
		return; /* nothing pinned: the check refuses after the handshake */
	if (hashed[0]) {
		char *p = hashed;
		char *comma;

		for (;;) { /* merge, keeping named types first */
			comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			add_method(named, sizeof(named), p);
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	if (libssh2_session_method_pref(t->session, LIBSSH2_METHOD_HOSTKEY,
					named))
		DL_LOG_WARN(TAG, "cannot prefer host key types %s: %s", named,
			    dl_tunnel__ssh_msg(t));
	else
		DL_LOG_DEBUG(TAG, "host key preference %s", named);
}

static int check_hostkey(dl_tunnel_t *t)
{
	const char *key, *tname, *hash;
	char fp[64] = "SHA256:";
	size_t len;
	int type, khtype, rc;
	struct libssh2_knownhost *match = NULL;

	key = libssh2_session_hostkey(t->session, &len, &type);
	if (!key) {
		dl_tunnel__set_why(t, "collector %s presented no host key",
				   t->kh_name);
		return DL_EHOSTKEY;
	}
	khtype = hostkey_to_kh(type, &tname);
	hash = (const char *)libssh2_hostkey_hash(t->session,
						  LIBSSH2_HOSTKEY_HASH_SHA256);
	if (hash)
		dl_base64_encode((const uint8_t *)hash, 32, false, fp + 7,
				 sizeof(fp) - 7);
	else
		snprintf(fp, sizeof(fp), "(no SHA256 fingerprint)");
	if (t->kh_problem[0]) {
		dl_tunnel__set_why(
			t,
			"collector host key for %s cannot be verified: %s "
			"(presented %s %s)",
			t->kh_name, t->kh_problem, tname, fp);
		return DL_EHOSTKEY;
	}
	/* Port -1: kh_name already has OpenSSH's "[host]:port" form, and a
	 * plain-host entry must not vouch for another port. */
	rc = libssh2_knownhost_checkp(t->kh, t->kh_name, -1, key, len,
				      LIBSSH2_KNOWNHOST_TYPE_PLAIN |
					      LIBSSH2_KNOWNHOST_KEYENC_RAW |
					      khtype,
				      &match);
	switch (rc) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		DL_LOG_DEBUG(TAG, "host key %s %s for %s matches %s", tname, fp,
			     t->kh_name, t->known_hosts);
		return 0;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		dl_tunnel__set_why(
			t,
			"collector host key for %s does not match the one "
			"pinned in %s (presented %s %s)",
			t->kh_name, t->known_hosts, tname, fp);
		return DL_EHOSTKEY;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		dl_tunnel__set_why(
			t,
			"collector host key for %s is not pinned in %s "
			"(presented %s %s; add it there if it is right)",
			t->kh_name, t->known_hosts, tname, fp);
		return DL_EHOSTKEY;
	default:
		dl_tunnel__set_why(
			t,
			"cannot check the collector host key for %s against "
			"%s: %s (presented %s %s)",
			t->kh_name, t->known_hosts, dl_tunnel__ssh_msg(t),
			tname, fp);
		return DL_EHOSTKEY;
	}
}

/* ---- SSH steps ------------------------------------------------------------ */

int dl_tunnel__start_session(dl_tunnel_t *t)
{
	t->session = libssh2_session_init_ex(NULL, NULL, NULL, t);
	if (!t->session) {
		dl_tunnel__set_why(
			t, "cannot create an SSH session for collector %s",
			t->peer);
		return DL_ENOMEM;
	}
	libssh2_session_set_blocking(t->session, 0);
	t->kh = libssh2_knownhost_init(t->session);
	if (!t->kh) {
		dl_tunnel__set_why(t, "cannot allocate the known_hosts table");
		return DL_ENOMEM;
	}
	/* Re-read on every attempt so a fixed file takes effect without a
	 * restart. */
	load_known_hosts(t);
	prefer_pinned_types(t);
	/* Stats frames are mostly counters whose high bytes repeat from
	 * frame to frame: SSH's zlib stream cuts them from ~48 to ~18 bytes
	 * per container-sample (tests/bench/bench_wire.c). OpenSSH only
	 * offers the delayed zlib@openssh.com; none stays acceptable. */
	libssh2_session_flag(t->session, LIBSSH2_FLAG_COMPRESS, 1);
	if (libssh2_session_method_pref(t->session, LIBSSH2_METHOD_COMP_CS,
					"zlib@openssh.com,zlib,none") ||
	    libssh2_session_method_pref(t->session, LIBSSH2_METHOD_COMP_SC,
					"zlib@openssh.com,zlib,none"))
		DL_LOG_DEBUG(TAG, "SSH compression not available: %s",
			     dl_tunnel__ssh_msg(t));
	t->state = ST_HANDSHAKE;
	return 0;
}

int dl_tunnel__handshake(dl_tunnel_t *t)
{
	int rc = libssh2_session_handshake(t->session, t->fd);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	if (rc) {
		dl_tunnel__set_why(t,
				   "SSH handshake with collector %s failed: %s",
				   t->peer, dl_tunnel__ssh_msg(t));
		return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ? DL_ECLOSED
							     : DL_ESSH;
	}
	rc = check_hostkey(t);
	if (rc)
		return rc;
	t->state = ST_AUTH;
	return 0;
}

int dl_tunnel__auth(dl_tunnel_t *t)
{
	/* NULL public key: libssh2 (OpenSSL backend) derives it from the
	 * private key, OpenSSH-format ed25519 included. */
	int rc = libssh2_userauth_publickey_fromfile_ex(
		t->session, t->user, (unsigned)strlen(t->user), NULL,
		t->identity, NULL);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	switch (rc) {
	case 0: t->state = ST_OPEN; return 0;
	case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
	case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
		dl_tunnel__set_why(
			t,
			"collector rejected key %s for user %s (is it "
			"enrolled?)",
			t->identity, t->user);
		return DL_EAUTH;
	case LIBSSH2_ERROR_FILE:
		dl_tunnel__set_why(t, "cannot load the private key %s: %s",
				   t->identity, dl_tunnel__ssh_msg(t));
		return DL_ECONFIG;
	default:
		dl_tunnel__set_why(
			t, "authentication as %s at collector %s failed: %s",
			t->user, t->peer, dl_tunnel__ssh_msg(t));
		return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT ? DL_ECLOSED
							     : DL_EAUTH;
	}
}

int dl_tunnel__open(dl_tunnel_t *t)
{
	int rc;

	t->channel = libssh2_channel_open_session(t->session);
	if (t->channel) {
		t->state = ST_EXEC;
		return 0;
	}
	rc = libssh2_session_last_errno(t->session);
	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	dl_tunnel__set_why(t,
			   "collector %s refused to open a session channel: %s",
			   t->peer, dl_tunnel__ssh_msg(t));
	return DL_ESSH;
}

int dl_tunnel__exec(dl_tunnel_t *t)
{
	int rc = libssh2_channel_exec(t->channel, t->command);

	if (rc == LIBSSH2_ERROR_EAGAIN)
		return DL_EAGAIN;
	if (rc) {
		dl_tunnel__set_why(t, "collector %s refused to run \"%s\": %s",
				   t->peer, t->command, dl_tunnel__ssh_msg(t));
		return DL_ESSH;
	}
	t->state = ST_UP;
	t->up_ms = uv_now(t->loop);
	uv_timer_stop(&t->deadline);
	/* want_reply 0: libssh2 1.10 ignores the replies and leaks each one
	 * until the session ends; the application's PING/PONG supplies the
	 * return traffic and the dead-peer detection. */
	libssh2_keepalive_config(t->session, 0, KEEPALIVE_S);
	uv_timer_start(&t->keepalive, dl_tunnel__keepalive_cb,
		       KEEPALIVE_S * 1000u, KEEPALIVE_S * 1000u);
	DL_LOG_INFO(TAG, "connected to collector %s as %s", t->peer, t->user);
	if (t->cbs.on_up)
		t->cbs.on_up(t->ud);
	return 0;
}
