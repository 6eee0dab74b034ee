/* enroll.c - `dockline enroll NAME --key FILE.pub|'ssh-ed25519 ...'`:
 * prints the restricted authorized_keys line that binds an agent's key to
 * one host name on the collector host. The key can do nothing but run
 * `dockline-collector attach --host=NAME`. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector/cli/cli.h"
#include "collector/conf.h"
#include "common/err.h"

#define KEY_FILE_MAX 16384

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes standard base64 (with padding) into out; returns length or -1. */
static int b64decode(const char *s, size_t n, uint8_t *out, size_t outlen)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int v;

		if (s[i] == '=') {
			if (i < n - 2)
				return -1;
			break;
		}
		v = b64val((unsigned char)s[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outlen)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return (int)o;
}

int dl_cli_parse_ed25519(const char *line, char *out, size_t outlen,
			 char *err, size_t errlen)
{
	/* Blob: string "ssh-ed25519" + string(32-byte key), each u32-BE
	 * length prefixed: 4 + 11 + 4 + 32 = 51 bytes. */
	static const uint8_t prefix[] = {0, 0, 0, 11, 's', 's', 'h', '-',
					 'e', 'd', '2', '5', '5', '1', '9',
					 0, 0, 0, 32};
	uint8_t blob[128];
	const char *b, *e;
	int n;

	while (*line == ' ' || *line == '\t')
		line++;
	if (strncmp(line, "ssh-ed25519 ", 12) != 0) {
		const char *sp = strchr(line, ' ');

		snprintf(err, errlen,
			 "the key must be ssh-ed25519 (got %.*s); libssh2 on "
			 "the agent cannot use RSA keys",
			 sp ? (int)(sp - line) > 40 ? 40 : (int)(sp - line)
			    : 20,
			 line);
		return DL_EINVAL;
	}
	b = line + 12;
	e = b;
	while (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r')
		e++;
	n = b64decode(b, (size_t)(e - b), blob, sizeof(blob));
	if (n != 51 || memcmp(blob, prefix, sizeof(prefix)) != 0) {
		snprintf(err, errlen, "the ssh-ed25519 key data is not valid");
		return DL_EINVAL;
	}
	if ((size_t)(e - line) >= outlen) {
		snprintf(err, errlen, "key too long");
		return DL_ETOOBIG;
	}
	memcpy(out, line, (size_t)(e - line));
	out[e - line] = '\0';
	return 0;
}

static int read_key(const char *arg, char *line, size_t linelen, char *err,
		    size_t errlen)
{
	FILE *f;
	size_t n;

	if (!strncmp(arg, "ssh-", 4)) { /* given inline */
		snprintf(line, linelen, "%s", arg);
		return 0;
	}
	f = fopen(arg, "r");
	if (!f) {
		snprintf(err, errlen, "cannot read key file %s: %s", arg,
			 strerror(errno));
		return DL_EIO;
	}
	n = fread(line, 1, linelen - 1, f);
	fclose(f);
	if (n == linelen - 1) {
		snprintf(err, errlen, "%s is too large to be a public key",
			 arg);
		return DL_ETOOBIG;
	}
	line[n] = '\0';
	return 0;
}

static int self_dir(char *out, size_t outlen)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return DL_EIO;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return DL_EIO;
	*slash = '\0';
	snprintf(out, outlen, "%s", exe);
	return 0;
}

int dl_cli_enroll(const dl_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"config", required_argument, NULL, 'c'},
		{NULL, 0, NULL, 0},
	};
	const char *key = NULL, *conf = cli->conf_path, *name;
	char line[KEY_FILE_MAX], pub[256], err[512], dir[PATH_MAX];
	char confabs[PATH_MAX], confarg[PATH_MAX + 8] = "";
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': key = optarg; break;
		case 'c': conf = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !key) {
		fprintf(stderr, "usage: dockline enroll NAME --key FILE.pub|"
				"'ssh-ed25519 AAAA...' [-c collector.conf]\n");
		return 2;
	}
	name = argv[optind];
	if (!dl_host_name_valid(name)) {
		fprintf(stderr,
			"dockline: invalid host name \"%s\": use 1-63 of "
			"a-z 0-9 . - starting with a letter or digit\n",
			name);
		return 2;
	}
	if (read_key(key, line, sizeof(line), err, sizeof(err)) ||
	    dl_cli_parse_ed25519(line, pub, sizeof(pub), err, sizeof(err))) {
		fprintf(stderr, "dockline: %s\n", err);
		return 1;
	}
	if (!conf && access(DL_COLLECTOR_CONF_DEFAULT, R_OK) == 0)
		conf = DL_COLLECTOR_CONF_DEFAULT;
	if (conf) {
		if (!realpath(conf, confabs)) {
			fprintf(stderr, "dockline: cannot find %s: %s\n", conf,
				strerror(errno));
			return 1;
		}
		if (strpbrk(confabs, "\" \\")) {
			fprintf(stderr, "dockline: config path %s must not "
					"contain spaces, quotes or backslashes\n",
				confabs);
			return 1;
		}
		snprintf(confarg, sizeof(confarg), " -c %s", confabs);
	}
	if (self_dir(dir, sizeof(dir))) {
		fprintf(stderr, "dockline: cannot find my own directory\n");
		return 1;
	}
	printf("restrict,command=\"%s/dockline-collector attach --host=%s%s\" "
	       "%s dockline:%s\n",
	       dir, name, confarg, pub, name);
	return 0;
}
