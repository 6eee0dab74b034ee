#include "common/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/err.h"

typedef struct {
	char *sect;
	char *key;
	char *val;
	int line;
} entry_t;

struct dl_conf {
	char *path;
	entry_t *e;
	size_t n;
	/* load-time state */
	FILE *fp;
	int line;
	size_t bytes;
	int fail; /* first semantic error while loading */
	char *err;
	size_t errlen;
};

/* libinih on Debian is built without INI_HANDLER_LINENO, so line numbers
 * are counted here, one reader call per line. */
static char *reader(char *str, int num, void *stream)
{
	dl_conf_t *c = stream;
	char *r = fgets(str, num, c->fp);

	if (r) {
		size_t n = strlen(r);

		c->line++;
		c->bytes += n;
		if (c->bytes > DL_CONF_MAX_FILE)
			return NULL;
		/* inih would split a longer line and misreport the rest. */
		if (n > 0 && r[n - 1] != '\n' && !feof(c->fp) && !c->fail) {
			snprintf(c->err, c->errlen,
				 "%s:%d: line longer than %d characters",
				 c->path, c->line, num - 2);
			c->fail = 1;
			return NULL;
		}
	}
	return r;
}

static int handler(void *user, const char *sect, const char *key,
		   const char *val)
{
	dl_conf_t *c = user;
	entry_t *e;

	if (c->fail)
		return 0;
	if (!key) /* section header only */
		return 1;
	if (c->n >= DL_CONF_MAX_ENTRIES) {
		snprintf(c->err, c->errlen, "%s:%d: more than %d entries",
			 c->path, c->line, DL_CONF_MAX_ENTRIES);
		c->fail = 1;
		return 0;
	}
	if (strlen(val) > DL_CONF_MAX_VALUE) {
		snprintf(c->err, c->errlen, "%s:%d: value of %s is too long",
			 c->path, c->line, key);
		c->fail = 1;
		return 0;
	}
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->e[i].sect, sect) && !strcmp(c->e[i].key, key)) {
			snprintf(c->err, c->errlen,
				 "%s:%d: %s.%s set twice (first on line %d)",
				 c->path, c->line, sect, key, c->e[i].line);
			c->fail = 1;
			return 0;
		}
	}
	e = realloc(c->e, (c->n + 1) * sizeof(*e));
	if (!e)
		return 0;
	c->e = e;
	e = &c->e[c->n];
	e->sect = strdup(sect);
	e->key = strdup(key);
	e->val = strdup(val);
	e->line = c->line;
	if (!e->sect || !e->key || !e->val) {
		free(e->sect);
		free(e->key);
		free(e->val);
		return 0;
	}
	c->n++;
	return 1;
}

dl_conf_t *dl_conf_load(const char *path, char *err, size_t errlen)
{
	dl_conf_t *c = calloc(1, sizeof(*c));
	int rc;

	if (!c || !(c->path = strdup(path))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	c->fp = fopen(path, "r");
	if (!c->fp) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	c->err = err;
	c->errlen = errlen;
	err[0] = '\0';
	rc = ini_parse_stream(reader, c, handler, c);
	fclose(c->fp);
	c->fp = NULL;
	if (c->bytes > DL_CONF_MAX_FILE) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
			 DL_CONF_MAX_FILE);
		goto fail;
	}
	if (c->fail)
		goto fail;
	if (rc > 0) {
		snprintf(err, errlen, "%s:%d: syntax error", path, rc);
		goto fail;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: cannot parse (%d)", path, rc);
		goto fail;
	}
	return c;
fail:
	dl_conf_free(c);
	return NULL;
}

void dl_conf_free(dl_conf_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].sect);
		free(c->e[i].key);
		free(c->e[i].val);
	}
	free(c->e);
	free(c->path);
	free(c);
}

const char *dl_conf_path(const dl_conf_t *c)
{
	return c->path;
}

static const entry_t *find(const dl_conf_t *c, const char *sect,
			   const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].sect, sect) && !strcmp(c->e[i].key, key))
			return &c->e[i];
	return NULL;
}

/* pattern "notify *" and sect "notify web": a named section of that
 * family (a name is required: "notify" alone is not one). */
static int in_family(const char *pattern, const char *sect)
{
	size_t n = strlen(pattern);

	if (n < 3 || strcmp(pattern + n - 2, " *"))
		return 0;
	n--; /* "notify " */
	return !strncmp(pattern, sect, n) && sect[n] && sect[n] != ' ';
}

int dl_conf_sections(const dl_conf_t *c, const char *prefix,
		     dl_conf_section_cb cb, void *ud)
{
	size_t plen = strlen(prefix);

	for (size_t i = 0; i < c->n; i++) {
		const char *s = c->e[i].sect;
		int seen = 0, rc;

		if (strncmp(s, prefix, plen) || s[plen] != ' ' ||
		    !s[plen + 1] || s[plen + 1] == ' ')
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(c->e[j].sect, s);
		if (!seen && (rc = cb(ud, s, s + plen + 1, c->e[i].line)))
			return rc;
	}
	return 0;
}

int dl_conf_check_section(const dl_conf_t *c, const char *sect,
			  const char *const *keys, char *err, size_t errlen)
{
	for (size_t i = 0; i < c->n; i++) {
		const char *const *k;

		if (strcmp(c->e[i].sect, sect))
			continue;
		for (k = keys; *k && strcmp(*k, c->e[i].key); k++)
			;
		if (!*k) {
			snprintf(err, errlen, "%s:%d: unknown setting [%s] %s",
				 c->path, c->e[i].line, sect, c->e[i].key);
			return DL_ECONFIG;
		}
	}
	return 0;
}

int dl_conf_line(const dl_conf_t *c, const char *sect, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].sect, sect) &&
		    (!key || !strcmp(c->e[i].key, key)))
			return c->e[i].line;
	return 0;
}

/* Whether entry e is named by k: "sect.key", or "PREFIX *.key" for any
 * section "PREFIX NAME" (NAME not empty, no space). */
static int known_match(const char *k, const entry_t *e)
{
	const char *star = strstr(k, " *.");
	size_t pl;

	if (!star) {
		size_t sl = strlen(e->sect);

		return !strncmp(k, e->sect, sl) && k[sl] == '.' &&
		       !strcmp(k + sl + 1, e->key);
	}
	pl = (size_t)(star - k) + 1; /* "PREFIX " */
	return !strncmp(e->sect, k, pl) && e->sect[pl] &&
	       !strchr(e->sect + pl, ' ') && !strcmp(star + 3, e->key);
}

int dl_conf_check_known(const dl_conf_t *c, const char *const *known, char *err,
			size_t errlen)
{
	char name[256];

	for (size_t i = 0; i < c->n; i++) {
		int ok = 0;

		snprintf(name, sizeof(name), "%s.%s", c->e[i].sect,
			 c->e[i].key);
		for (const char *const *k = known; *k; k++)
			if (known_match(*k, &c->e[i]) ||
			    in_family(*k, c->e[i].sect))
				ok = 1;
		if (!ok) {
			snprintf(err, errlen, "%s:%d: unknown setting %s",
				 c->path, c->e[i].line, name);
			return DL_ECONFIG;
		}
	}
	return 0;
}

const char *dl_conf_str(const dl_conf_t *c, const char *sect, const char *key,
			const char *def)
{
	const entry_t *e = find(c, sect, key);

	return e ? e->val : def;
}

int dl_conf_abspath(const char *path, char *out, size_t outlen, char *err,
		    size_t errlen)
{
	/* realpath(p, buf) may write PATH_MAX bytes: let it allocate. */
	char *abs = realpath(path, NULL);

	if (!abs) {
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		return DL_ECONFIG;
	}
	if (strlen(abs) >= outlen) {
		snprintf(err, errlen, "%s: path longer than %zu bytes", path,
			 outlen - 1);
		free(abs);
		return DL_ECONFIG;
	}
	memcpy(out, abs, strlen(abs) + 1);
	free(abs);
	return 0;
}

int dl_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return DL_EINVAL;
	if (*s != '-' && (*s < '0' || *s > '9'))
		return DL_EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return DL_EINVAL;
	*out = v;
	return 0;
}

int dl_conf_int(const dl_conf_t *c, const char *sect, const char *key,
		int64_t def, int64_t min, int64_t max, int64_t *out, char *err,
		size_t errlen)
{
	const entry_t *e = find(c, sect, key);

	if (!e) {
		*out = def;
		return 0;
	}
	if (dl_parse_int(e->val, min, max, out) != 0) {
		snprintf(err, errlen,
			 "%s:%d: %s must be an integer between %lld and %lld "
			 "(got \"%s\")",
			 c->path, e->line, key, (long long)min, (long long)max,
			 e->val);
		return DL_ECONFIG;
	}
	return 0;
}

int dl_conf_duration(const dl_conf_t *c, const char *sect, const char *key,
		     int64_t def, int64_t min, int64_t max, int64_t *out,
		     char *err, size_t errlen)
{
	const entry_t *e = find(c, sect, key);

	if (!e) {
		*out = def;
		return 0;
	}
	if (dl_duration_parse(e->val, out) != 0 || *out < min || *out > max) {
		snprintf(err, errlen,
			 "%s:%d: %s must be a duration between %llds and %llds "
			 "such as 10s, 5m or 2h (got \"%s\")",
			 c->path, e->line, key, (long long)min, (long long)max,
			 e->val);
		return DL_ECONFIG;
	}
	return 0;
}
