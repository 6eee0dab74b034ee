#include "collector/sshurl.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"

static bool user_char(char c, bool first)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
		return true;
	return !first && ((c >= '0' && c <= '9') || c == '.' || c == '-');
}

/* A DNS name or an IPv4 address: letters, digits, '.', '-', not
 * starting with '-' or '.'. */
static bool host_name_ok(const char *h, size_t n)
{
	if (n == 0 || h[0] == '-' || h[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static bool ipv6_ok(const char *h, size_t n)
{
	if (n < 2)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	return true;
}

static int bad(char *err, size_t errlen, const char *why, const char *s)
{
	snprintf(err, errlen,
		 "-H wants ssh://USER@HOST[:PORT]: %s (got \"%.300s\")", why,
		 s);
	return DL_EINVAL;
}

static int parse_port(const char *p, unsigned *port)
{
	unsigned long v = 0;

	if (!*p)
		return DL_EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return DL_EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return DL_EINVAL;
	}
	if (v == 0)
		return DL_EINVAL;
	*port = (unsigned)v;
	return 0;
}

static int parse_user(const char *s, const char *at, dl_ssh_url_t *u, char *err,
		      size_t errlen, const char *url)
{
	size_t n = (size_t)(at - s);

	if (memchr(s, ':', n))
		return bad(err, errlen,
			   "no password in the URL (ssh asks, or use a key)",
			   url);
	if (n == 0 || n > DL_SSH_USER_MAX)
		return bad(err, errlen, "the user name is empty or too long",
			   url);
	for (size_t i = 0; i < n; i++)
		if (!user_char(s[i], i == 0))
			return bad(err, errlen,
				   "the user name may hold letters, digits, "
				   "'_', '.' and '-' (not first)",
				   url);
	memcpy(u->user, s, n);
	u->user[n] = '\0';
	return 0;
}

int dl_ssh_url_parse(const char *s, dl_ssh_url_t *u, char *err, size_t errlen)
{
	const char *p, *at, *h, *he, *port = NULL;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "ssh://", 6) != 0)
		return bad(err, errlen, "only ssh:// is supported", s);
	if (strlen(s) > 6 + DL_SSH_USER_MAX + 1 + DL_SSH_HOST_MAX + 8)
		return bad(err, errlen, "too long", s);
	p = s + 6;
	if (strpbrk(p, "/?#"))
		return bad(err, errlen, "nothing may follow HOST[:PORT]", s);
	at = strchr(p, '@');
	if (at && strchr(at + 1, '@'))
		return bad(err, errlen, "more than one '@'", s);
	if (at && parse_user(p, at, u, err, errlen, s))
		return DL_EINVAL;
	h = at ? at + 1 : p;
	if (*h == '[') {
		he = strchr(h, ']');
		if (!he || (size_t)(he - h - 1) > DL_SSH_HOST_MAX ||
		    !ipv6_ok(h + 1, (size_t)(he - h - 1)))
			return bad(err, errlen, "invalid [IPv6] address", s);
		n = (size_t)(he - h - 1);
		memcpy(u->host, h + 1, n);
		if (he[1] == ':')
			port = he + 2;
		else if (he[1])
			return bad(err, errlen, "junk after ]", s);
	} else {
		he = strchr(h, ':');
		n = he ? (size_t)(he - h) : strlen(h);
		if (n > DL_SSH_HOST_MAX || !host_name_ok(h, n))
			return bad(err, errlen,
				   "the host is a name or an address "
				   "(letters, digits, '.', '-')",
				   s);
		memcpy(u->host, h, n);
		if (he)
			port = he + 1;
	}
	u->host[n] = '\0';
	if (port && parse_port(port, &u->port))
		return bad(err, errlen, "the port is a number from 1 to 65535",
			   s);
	return 0;
}

int dl_ssh_split_command(const char *cmd, char *buf, size_t buflen,
			 char **words, int max, char *err, size_t errlen)
{
	size_t len = strlen(cmd), o = 0; /* o + words' NULs <= len + 1 */
	int nw = 0;
	const char *p = cmd;

	if (len >= buflen || len > DL_SSH_CMD_MAX) {
		snprintf(err, errlen, "DOCKLINE_SSH_COMMAND is too long");
		return DL_EINVAL;
	}
	for (;;) {
		char q = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		if (nw == max) {
			snprintf(err, errlen,
				 "DOCKLINE_SSH_COMMAND has more than %d words",
				 max);
			return DL_EINVAL;
		}
		words[nw++] = buf + o;
		for (; *p; p++) {
			if (q) {
				if (*p == q)
					q = 0;
				else
					buf[o++] = *p;
			} else if (*p == '\'' || *p == '"') {
				q = *p;
			} else if (*p == ' ' || *p == '\t' || *p == '\n') {
				break;
			} else {
				buf[o++] = *p;
			}
		}
		if (q) {
			snprintf(err, errlen,
				 "DOCKLINE_SSH_COMMAND has an unbalanced %c",
				 q);
			return DL_EINVAL;
		}
		buf[o++] = '\0';
	}
	if (nw == 0 || !words[0][0]) {
		snprintf(err, errlen, "DOCKLINE_SSH_COMMAND names no program");
		return DL_EINVAL;
	}
	return nw;
}

int dl_ssh_remote_path_ok(const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || n > 255 || path[0] != '/')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = path[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '/' || c == '.' ||
		      c == '_' || c == '+' || c == '-'))
			return 0;
	}
	return 1;
}
