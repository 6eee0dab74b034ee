/* token.c - API token secrets, hashes, roles, host scopes, and serve's
 * table of live tokens (see token.h). */
#include "collector/token.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sqlite3.h>

#include "common/base64.h"
#include "common/err.h"
#include "proto/control.h"

struct dl_tokens {
	dl_token_t *v;
	size_t n, cap;
};

static const char *const role_names[] = {
	[DL_ROLE_READ] = "read",
	[DL_ROLE_OPERATE] = "operate",
	[DL_ROLE_ADMIN] = "admin",
};

dl_role_t dl_token_role_parse(const char *s)
{
	for (int r = DL_ROLE_READ; s && r <= DL_ROLE_ADMIN; r++)
		if (!strcmp(s, role_names[r]))
			return (dl_role_t)r;
	return DL_ROLE_NONE;
}

const char *dl_token_role_name(dl_role_t role)
{
	return role >= DL_ROLE_READ && role <= DL_ROLE_ADMIN ? role_names[role]
							     : "none";
}

unsigned dl_token_role_classes(dl_role_t role)
{
	switch (role) {
	case DL_ROLE_READ: return DL_CLASS_READ;
	case DL_ROLE_OPERATE: return DL_CLASS_READ | DL_CLASS_LIFECYCLE;
	case DL_ROLE_ADMIN: return DL_CLASS_ALL;
	default: return 0;
	}
}

bool dl_token_name_valid(const char *name)
{
	size_t n = name ? strnlen(name, DL_TOKEN_NAME_MAX + 1) : 0;

	if (n == 0 || n > DL_TOKEN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return false;
	}
	return true;
}

bool dl_token_hosts_valid(const char *glob)
{
	size_t n = glob ? strnlen(glob, DL_TOKEN_HOSTS_MAX + 1) : 0;

	if (n == 0 || n > DL_TOKEN_HOSTS_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (glob[i] <= ' ' || glob[i] > '~')
			return false;
	return true;
}

bool dl_token_host_ok(const char *glob, const char *host)
{
	return glob && host && fnmatch(glob, host, 0) == 0;
}

int dl_token_generate(char *out, size_t outlen)
{
	uint8_t raw[32];
	size_t got = 0;
	char b64[64];
	int n;

	if (outlen < DL_TOKEN_SECRET_LEN + 1)
		return DL_EINVAL;
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);

		if (r <= 0)
			return DL_EIO;
		got += (size_t)r;
	}
	n = dl_base64_encode(raw, sizeof(raw), false, b64, sizeof(b64));
	explicit_bzero(raw, sizeof(raw));
	if (n != DL_TOKEN_SECRET_LEN - 4)
		return DL_EIO;
	for (int i = 0; i < n; i++)
		b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
	snprintf(out, outlen, "%s%s", DL_TOKEN_PREFIX, b64);
	explicit_bzero(b64, sizeof(b64));
	return 0;
}

int dl_token_hash(const char *secret, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!secret || outlen < DL_TOKEN_HASH_LEN + 1)
		return DL_EINVAL;
	if (!EVP_Digest(secret, strlen(secret), md, &mdlen, EVP_sha256(),
			NULL) ||
	    mdlen * 2 != DL_TOKEN_HASH_LEN)
		return DL_EIO;
	for (unsigned int i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[DL_TOKEN_HASH_LEN] = '\0';
	return 0;
}

bool dl_token_hash_eq(const char *a, const char *b)
{
	if (strlen(a) != DL_TOKEN_HASH_LEN || strlen(b) != DL_TOKEN_HASH_LEN)
		return false;
	return CRYPTO_memcmp(a, b, DL_TOKEN_HASH_LEN) == 0;
}

/* ---- the table ---- */

dl_tokens_t *dl_tokens_new(void)
{
	return calloc(1, sizeof(dl_tokens_t));
}

void dl_tokens_free(dl_tokens_t *t)
{
	if (!t)
		return;
	free(t->v);
	free(t);
}

size_t dl_tokens_count(const dl_tokens_t *t)
{
	return t->n;
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);

	snprintf(dst, cap, "%s", s ? s : "");
}

int dl_tokens_load(dl_tokens_t *t, const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = DL_EDB;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "SELECT name, hash, role, hosts, created, "
			       "expires, last_used FROM tokens WHERE revoked "
			       "IS NULL",
			       -1, &st, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: reading tokens: %s", path,
			 db ? sqlite3_errmsg(db) : "out of memory");
		goto fail;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		dl_token_t k;
		char role[16];

		memset(&k, 0, sizeof(k));
		copy_col(k.name, sizeof(k.name), st, 0);
		copy_col(k.hash, sizeof(k.hash), st, 1);
		copy_col(role, sizeof(role), st, 2);
		copy_col(k.hosts, sizeof(k.hosts), st, 3);
		k.role = dl_token_role_parse(role);
		k.created = sqlite3_column_int64(st, 4);
		k.expires = sqlite3_column_int64(st, 5);
		k.last_used = k.last_written = sqlite3_column_int64(st, 6);
		/* A row this version cannot read grants nothing. */
		if (k.role == DL_ROLE_NONE || !dl_token_name_valid(k.name))
			continue;
		if ((rc = dl_tokens_add(t, &k)) != 0) {
			snprintf(err, errlen, "%s: too many tokens", path);
			goto fail;
		}
	}
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "%s: reading tokens: %s", path,
			 sqlite3_errmsg(db));
		rc = DL_EDB;
		goto fail;
	}
	rc = 0;
fail:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

dl_token_t *dl_tokens_check(dl_tokens_t *t, const char *secret, int64_t now,
			    dl_token_why_t *why)
{
	char hash[DL_TOKEN_HASH_LEN + 1];
	dl_token_t *hit = NULL;

	*why = DL_TOKEN_UNKNOWN;
	if (!secret ||
	    strnlen(secret, DL_TOKEN_SECRET_LEN + 1) != DL_TOKEN_SECRET_LEN ||
	    strncmp(secret, DL_TOKEN_PREFIX, 4) ||
	    dl_token_hash(secret, hash, sizeof(hash)))
		return NULL;
	/* Every entry is compared, so the time taken says nothing about
	 * which one matched. */
	for (size_t i = 0; i < t->n; i++)
		if (dl_token_hash_eq(hash, t->v[i].hash))
			hit = &t->v[i];
	if (!hit)
		return NULL;
	if (hit->expires && now >= hit->expires) {
		*why = DL_TOKEN_EXPIRED;
		return NULL;
	}
	*why = DL_TOKEN_OK;
	return hit;
}

dl_token_t *dl_tokens_get(dl_tokens_t *t, const char *name)
{
	for (size_t i = 0; name && i < t->n; i++)
		if (!strcmp(t->v[i].name, name))
			return &t->v[i];
	return NULL;
}

int dl_tokens_add(dl_tokens_t *t, const dl_token_t *tok)
{
	dl_token_t *old = dl_tokens_get(t, tok->name);

	if (old) {
		*old = *tok;
		return 0;
	}
	if (t->n == DL_TOKEN_MAX)
		return DL_EFULL;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		dl_token_t *v = realloc(t->v, cap * sizeof(*v));

		if (!v)
			return DL_ENOMEM;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n++] = *tok;
	return 0;
}

bool dl_tokens_remove(dl_tokens_t *t, const char *name)
{
	dl_token_t *k = dl_tokens_get(t, name);

	if (!k)
		return false;
	*k = t->v[--t->n];
	return true;
}

static json_t *time_or_null(int64_t s)
{
	return s > 0 ? json_integer(s) : json_null();
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const dl_token_t *)a)->name,
		      ((const dl_token_t *)b)->name);
}

json_t *dl_tokens_list(const dl_tokens_t *t)
{
	json_t *arr = json_array();
	dl_token_t *v = t->n ? malloc(t->n * sizeof(*v)) : NULL;

	if (!arr || (t->n && !v)) {
		json_decref(arr);
		free(v);
		return NULL;
	}
	if (t->n) {
		memcpy(v, t->v, t->n * sizeof(*v));
		qsort(v, t->n, sizeof(*v), by_name);
	}
	for (size_t i = 0; i < t->n; i++)
		json_array_append_new(
			arr, json_pack("{s:s,s:s,s:s,s:I,s:o,s:o}", "name",
				       v[i].name, "role",
				       dl_token_role_name(v[i].role), "hosts",
				       v[i].hosts, "created",
				       (json_int_t)v[i].created, "expires",
				       time_or_null(v[i].expires), "last_used",
				       time_or_null(v[i].last_used)));
	free(v);
	return arr;
}
