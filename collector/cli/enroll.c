/* enroll.c - `dockline enroll NAME --key FILE.pub|'ssh-ed25519 ...'`:
 * prints the restricted authorized_keys line that binds an agent's key to
 * one host name on the collector host. The key can do nothing but run
 * `dockline-collector attach --host=NAME`. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "collector/cli/cli.h"
#include "collector/conf.h"
#include "common/base64.h"
#include "common/err.h"

#define KEY_FILE_MAX 16384

int dl_cli_parse_ed25519(const char *line, char *out, size_t outlen, char *err,
			 size_t errlen)
{
	/* Blob: string "ssh-ed25519" + string(32-byte key), each u32-BE
	 * length prefixed: 4 + 11 + 4 + 32 = 51 bytes. */
	static const uint8_t prefix[] = {0,   0,   0,	11,  's', 's', 'h',
					 '-', 'e', 'd', '2', '5', '5', '1',
					 '9', 0,   0,	0,   32};
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
	n = dl_base64_decode(b, (size_t)(e - b), blob, sizeof(blob));
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

/* The "dockline:NAME" marker ends every line enroll writes. */
static bool line_is_host(const char *line, const char *name)
{
	char tag[80];
	size_t n = strlen(line), t;

	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
		     line[n - 1] == ' '))
		n--;
	t = (size_t)snprintf(tag, sizeof(tag), " dockline:%s", name);
	return n >= t && !memcmp(line + n - t, tag, t);
}

/* Name bound to the key blob in line, or NULL. */
static const char *line_name(const char *line, char *out, size_t outlen)
{
	const char *m = strstr(line, " dockline:");
	size_t n;

	if (!m)
		return NULL;
	m += 10;
	n = strcspn(m, " \r\n");
	if (n == 0 || n >= outlen)
		return NULL;
	memcpy(out, m, n);
	out[n] = '\0';
	return out;
}

typedef struct {
	char *text; /* whole file, NUL-terminated */
	size_t len;
	struct stat st;
	int fd;	    /* the file as read */
	int lockfd; /* PATH.lock, held for the whole read-modify-write */
} keyfile_t;

/* How long enroll/forget wait for another one's lock: long enough for a
 * queue of hundreds (each holds it for one read, write and fsync), short
 * enough that a stuck holder (stopped, or hung on a dead disk) fails a
 * script instead of hanging it. A holder that dies frees the lock at
 * once: the kernel drops a flock with the last open file. */
#define LOCK_NOTE_S 2
#define LOCK_WAIT_S 60

static void on_alarm(int sig)
{
	(void)sig;
}

/* Who holds lock: the pid its holder wrote into it, or 0. */
static long lock_holder(int lockfd)
{
	char buf[24];
	ssize_t n = pread(lockfd, buf, sizeof(buf) - 1, 0);
	long pid;
	char *end;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && (*end == '\n' || !*end) && pid > 0 ? pid : 0;
}

/* " (pid N)" when the lock file names its holder, else "". */
static const char *holder_pid(int lockfd, char *buf, size_t len)
{
	long pid = lock_holder(lockfd);

	if (!pid)
		return "";
	snprintf(buf, len, " (pid %ld)", pid);
	return buf;
}

/* flock(LOCK_EX) bounded by LOCK_WAIT_S, saying after LOCK_NOTE_S whom it
 * waits for. SIGALRM without SA_RESTART makes a blocked flock return
 * EINTR: no polling, and the kernel still hands the lock over in order.
 * 0, or DL_ETIMEDOUT / DL_EIO with the reason printed. */
static int lock_wait(int lockfd, const char *lock)
{
	struct sigaction sa = {.sa_handler = on_alarm}, old;
	char by[40];
	int rc, waited = 0;

	if (flock(lockfd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK)
		goto fail;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	for (;;) {
		int step = waited ? LOCK_WAIT_S - LOCK_NOTE_S : LOCK_NOTE_S;

		alarm((unsigned)step);
		rc = flock(lockfd, LOCK_EX);
		alarm(0);
		if (rc == 0 || errno != EINTR)
			break;
		waited += step;
		if (waited >= LOCK_WAIT_S)
			break;
		fprintf(stderr,
			"dockline: waiting for %s, held by another dockline "
			"enroll or forget%s\n",
			lock, holder_pid(lockfd, by, sizeof(by)));
	}
	sigaction(SIGALRM, &old, NULL);
	if (rc == 0)
		return 0;
	if (waited >= LOCK_WAIT_S) {
		fprintf(stderr,
			"dockline: %s is still held after %d s%s; is that "
			"dockline stopped or stuck? Nothing was changed\n",
			lock, LOCK_WAIT_S, holder_pid(lockfd, by, sizeof(by)));
		return DL_ETIMEDOUT;
	}
fail:
	fprintf(stderr, "dockline: cannot lock %s: %s\n", lock,
		strerror(errno));
	return DL_EIO;
}

/* Our pid in the lock file, for the next one's "waiting for" line; only a
 * hint, so failing to write it is not an error. */
static void lock_note_holder(int lockfd)
{
	char pid[24];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	ssize_t w = -1;

	if (ftruncate(lockfd, 0) == 0)
		w = pwrite(lockfd, pid, (size_t)n, 0);
	(void)w;
}

/* Under the lock no one else is writing, so a PATH.dockline-XXXXXX is
 * what a writer killed between mkostemp and rename left behind. */
static void remove_stale_temps(const char *path)
{
	char dir[PATH_MAX], prefix[NAME_MAX + 1];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	struct dirent *e;
	size_t plen;
	DIR *d;

	snprintf(dir, sizeof(dir), "%.*s",
		 slash ? (int)(slash - path) + (slash == path) : 1,
		 slash ? path : ".");
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s.dockline-", base);
	if (plen >= sizeof(prefix) || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != plen + 6 ||
		    strncmp(e->d_name, prefix, plen))
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0)
			fprintf(stderr,
				"dockline: removed %s/%s, left by an enroll or "
				"forget killed while writing\n",
				dir, e->d_name);
	}
	closedir(d);
}

/* The lock is a file of its own: keyfile_write renames a new file over
 * PATH, so a lock on PATH itself would be on an inode that is gone by
 * the time a waiting enroll gets it, and that enroll would write from
 * stale content (30 concurrent enrolls left one line). */
static int keyfile_open(keyfile_t *k, const char *path)
{
	char lock[PATH_MAX];
	ssize_t n;
	int rc;

	memset(k, 0, sizeof(*k));
	k->fd = -1;
	snprintf(lock, sizeof(lock), "%s.lock", path);
	k->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (k->lockfd < 0) {
		fprintf(stderr, "dockline: cannot open %s: %s\n", lock,
			strerror(errno));
		return DL_EIO;
	}
	if ((rc = lock_wait(k->lockfd, lock)))
		return rc;
	lock_note_holder(k->lockfd);
	remove_stale_temps(path);
	k->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (k->fd < 0 || fstat(k->fd, &k->st)) {
		fprintf(stderr, "dockline: cannot open %s: %s\n", path,
			strerror(errno));
		return DL_EIO;
	}
	if (k->st.st_size > 4 * 1024 * 1024) {
		fprintf(stderr, "dockline: %s is larger than 4 MiB\n", path);
		return DL_ETOOBIG;
	}
	k->text = calloc(1, (size_t)k->st.st_size + 1);
	if (!k->text)
		return DL_ENOMEM;
	n = pread(k->fd, k->text, (size_t)k->st.st_size, 0);
	if (n < 0) {
		fprintf(stderr, "dockline: cannot read %s: %s\n", path,
			strerror(errno));
		return DL_EIO;
	}
	k->len = (size_t)n;
	k->text[k->len] = '\0';
	return 0;
}

static void keyfile_close(keyfile_t *k)
{
	if (k->fd >= 0)
		close(k->fd);
	if (k->lockfd >= 0)
		close(k->lockfd); /* releases the lock */
	free(k->text);
}

/* Replaces path's content atomically (temp file + rename), keeping the
 * owner and mode sshd checks. */
static int keyfile_write(keyfile_t *k, const char *path, const char *text,
			 size_t len)
{
	char tmp[PATH_MAX];
	int fd;

	/* A name of its own: an enroll that died mid-write leaves a stray
	 * file, never one that the next enroll renames half-written. */
	snprintf(tmp, sizeof(tmp), "%s.dockline-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if ((len && write(fd, text, len) != (ssize_t)len) || fsync(fd) ||
	    fchown(fd, k->st.st_uid, k->st.st_gid) ||
	    fchmod(fd, k->st.st_mode & 07777) || close(fd)) {
		unlink(tmp);
		goto fail;
	}
	if (rename(tmp, path) == 0)
		return 0;
	unlink(tmp);
fail:
	fprintf(stderr, "dockline: cannot write %s: %s\n", path,
		strerror(errno));
	return DL_EIO;
}

static void print_host_key(const dl_cconf_t *conf, const char *name)
{
	char line[4096], pub[256], err[256];
	FILE *f = fopen(conf->host_key, "r");

	if (!f || !fgets(line, sizeof(line), f) ||
	    dl_cli_parse_ed25519(line, pub, sizeof(pub), err, sizeof(err))) {
		printf("(could not read this collector's ed25519 host key from "
		       "%s; pin it on the agent by hand)\n",
		       conf->host_key);
		if (f)
			fclose(f);
		return;
	}
	fclose(f);
	printf("\nOn %s, pin this collector and start the agent:\n"
	       "  dockline-agent enroll --collector ssh://%s --name %s "
	       "--host-key '%s'\n"
	       "  systemctl restart dockline-agent\n",
	       name,
	       conf->public_address[0] ? conf->public_address
				       : "THIS-COLLECTOR:22",
	       name, pub);
}

/* Appends line for name to the authorized_keys file, idempotently. */
static int append_key(const dl_cconf_t *conf, const char *path,
		      const char *name, const char *pub, const char *line)
{
	keyfile_t k;
	char *text = NULL, other[80];
	int rc;

	if ((rc = keyfile_open(&k, path)))
		goto out;
	for (char *l = k.text; *l;
	     l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		size_t n = strcspn(l, "\n");
		char one[8192];

		snprintf(one, sizeof(one), "%.*s", (int)n, l);
		if (strstr(one, pub + 12) &&
		    line_name(one, other, sizeof(other))) {
			if (!strcmp(other, name)) {
				printf("%s is already enrolled with this key "
				       "in "
				       "%s\n",
				       name, path);
				print_host_key(conf, name);
				goto out;
			}
			fprintf(stderr,
				"dockline: this key is already enrolled as %s; "
				"run `dockline forget %s` first\n",
				other, other);
			rc = 1;
			goto out;
		}
		if (line_is_host(one, name)) {
			fprintf(stderr,
				"dockline: %s is already enrolled with another "
				"key; run `dockline forget %s` first to "
				"replace it\n",
				name, name);
			rc = 1;
			goto out;
		}
	}
	text = malloc(k.len + strlen(line) + 2);
	if (!text) {
		rc = DL_ENOMEM;
		goto out;
	}
	memcpy(text, k.text, k.len);
	if (k.len && k.text[k.len - 1] != '\n')
		text[k.len++] = '\n';
	memcpy(text + k.len, line, strlen(line));
	rc = keyfile_write(&k, path, text, k.len + strlen(line));
	if (rc == 0) {
		printf("enrolled %s: its key may now run only "
		       "`dockline-collector "
		       "attach --host=%s` (%s)\n",
		       name, name, path);
		print_host_key(conf, name);
	}
out:
	free(text);
	keyfile_close(&k);
	return rc ? 1 : 0;
}

int dl_cli_enroll(const dl_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},
		{"config", required_argument, NULL, 'c'},
		{"authorized-keys", required_argument, NULL, 'A'},
		{"print", no_argument, NULL, 'P'},
		{NULL, 0, NULL, 0},
	};
	const char *key = NULL, *conf_path = cli->conf_path, *name;
	const char *akeys = NULL;
	char line[KEY_FILE_MAX], pub[256], err[1024], dir[PATH_MAX];
	char confarg[PATH_MAX + 8] = "", out[PATH_MAX * 2 + 512];
	bool print_only = false;
	dl_cconf_t conf;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "k:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': key = optarg; break;
		case 'c': conf_path = optarg; break;
		case 'A': akeys = optarg; break;
		case 'P': print_only = true; break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !key) {
		fprintf(stderr,
			"usage: dockline enroll NAME --key FILE.pub|"
			"'ssh-ed25519 AAAA...' [-c collector.conf]\n"
			"                       [--authorized-keys FILE] "
			"[--print]\n");
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
	if (!conf_path && access(DL_COLLECTOR_CONF_DEFAULT, R_OK) == 0)
		conf_path = DL_COLLECTOR_CONF_DEFAULT;
	if (dl_cconf_load(&conf, conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "dockline: %s\n", err);
		return 1;
	}
	if (conf.path[0]) {
		if (strpbrk(conf.path, "\" \\")) {
			fprintf(stderr,
				"dockline: config path %s must not "
				"contain spaces, quotes or backslashes\n",
				conf.path);
			return 1;
		}
		snprintf(confarg, sizeof(confarg), " -c %s", conf.path);
	}
	if (self_dir(dir, sizeof(dir))) {
		fprintf(stderr, "dockline: cannot find my own directory\n");
		return 1;
	}
	snprintf(out, sizeof(out),
		 /* exec: the shell sshd starts for the forced command is
		 * replaced by attach instead of waiting around it (one
		 * shell per agent, ~1.6 MiB each) */
		 "restrict,command=\"exec %s/dockline-collector attach "
		 "--host=%s%s\" "
		 "%s dockline:%s\n",
		 dir, name, confarg, pub, name);
	if (!akeys && conf.authorized_keys[0])
		akeys = conf.authorized_keys;
	if (print_only || !akeys) {
		fputs(out, stdout);
		return 0;
	}
	return append_key(&conf, akeys, name, pub, out);
}

int dl_cli_forget(const dl_cli_t *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"authorized-keys", required_argument, NULL, 'A'},
		{"purge", no_argument, NULL, 'p'},
		{NULL, 0, NULL, 0},
	};
	const char *conf_path = cli->conf_path, *akeys = NULL, *name;
	char err[1024];
	bool purge = false;
	dl_cconf_t conf;
	keyfile_t k;
	size_t removed = 0, olen = 0;
	char *text = NULL;
	int ch, rc = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 'A': akeys = optarg; break;
		case 'p': purge = true; break;
		default: return 2;
		}
	}
	if (optind != argc - 1 || !dl_host_name_valid(argv[optind])) {
		fprintf(stderr, "usage: dockline forget NAME [--purge] "
				"[--authorized-keys FILE]\n");
		return 2;
	}
	name = argv[optind];
	if (!conf_path && access(DL_COLLECTOR_CONF_DEFAULT, R_OK) == 0)
		conf_path = DL_COLLECTOR_CONF_DEFAULT;
	if (dl_cconf_load(&conf, conf_path, err, sizeof(err)) != 0) {
		fprintf(stderr, "dockline: %s\n", err);
		return 1;
	}
	if (!akeys && conf.authorized_keys[0])
		akeys = conf.authorized_keys;
	if (akeys) {
		if (keyfile_open(&k, akeys)) {
			keyfile_close(&k);
			return 1;
		}
		text = malloc(k.len + 1);
		for (char *l = k.text; text && *l;) {
			size_t n = strcspn(l, "\n");
			char one[8192];

			n += l[n] == '\n';
			snprintf(one, sizeof(one), "%.*s", (int)n, l);
			if (line_is_host(one, name))
				removed++;
			else {
				memcpy(text + olen, l, n);
				olen += n;
			}
			l += n;
		}
		if (!text)
			rc = 1;
		else if (removed)
			rc = keyfile_write(&k, akeys, text, olen) ? 1 : 0;
		keyfile_close(&k);
		free(text);
		if (rc)
			return rc;
		if (removed)
			printf("removed %zu key line%s of %s from %s\n",
			       removed, removed == 1 ? "" : "s", name, akeys);
		else
			printf("no key of %s in %s\n", name, akeys);
	}
	if (!purge) {
		if (!akeys) {
			fprintf(stderr,
				"dockline: no authorized_keys file configured "
				"(set authorized_keys in collector.conf or use "
				"--authorized-keys)\n");
			return 1;
		}
		return 0;
	}
	{
		json_t *data =
			dl_cli_call(cli, json_pack("{s:s,s:s}", "op", "forget",
						   "host", name));

		if (!data)
			return 1;
		printf("purged the history of %s%s\n", name,
		       json_is_true(json_object_get(data, "was_online"))
			       ? " (its live session was closed)"
			       : "");
		json_decref(data);
	}
	return 0;
}
