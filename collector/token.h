/* token.h - API tokens: secrets, their hashes, roles and host scopes,
 * and serve's in-memory table of live tokens.
 *
 * A secret is "dlt_" + base64url of 32 random bytes; only its SHA-256
 * (hex) is ever stored or kept in memory. This module never logs a
 * secret and never writes the database (store.c does, on its writer
 * thread). The table is used on the loop thread only. */
#ifndef DL_COLLECTOR_TOKEN_H
#define DL_COLLECTOR_TOKEN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DL_TOKEN_PREFIX	    "dlt_"
#define DL_TOKEN_SECRET_LEN 47 /* "dlt_" + 43 base64url chars */
#define DL_TOKEN_HASH_LEN   64 /* SHA-256 in hex */
#define DL_TOKEN_NAME_MAX   63
#define DL_TOKEN_HOSTS_MAX  255
#define DL_TOKEN_MAX	    4096 /* live tokens in one collector */
/* last_used reaches the database at most this often per token. */
#define DL_TOKEN_USED_PERIOD_S 60

typedef enum {
	DL_ROLE_NONE = 0,
	DL_ROLE_READ,
	DL_ROLE_OPERATE,
	DL_ROLE_ADMIN,
} dl_role_t;

typedef struct {
	char name[DL_TOKEN_NAME_MAX + 1];
	char hash[DL_TOKEN_HASH_LEN + 1];
	dl_role_t role;
	char hosts[DL_TOKEN_HOSTS_MAX + 1]; /* fnmatch glob, "*" = all */
	int64_t created;		    /* unix s */
	int64_t expires;		    /* unix s, 0 = never */
	int64_t last_used;		    /* unix s, 0 = never */
	int64_t last_written;		    /* last_used as last queued */
} dl_token_t;

/* "read", "operate", "admin"; DL_ROLE_NONE for anything else. */
dl_role_t dl_token_role_parse(const char *s);
const char *dl_token_role_name(dl_role_t role);
/* The control classes (DL_CLASS_* bits) a role may run. */
unsigned dl_token_role_classes(dl_role_t role);

/* [a-z0-9][a-z0-9._-]{0,62} */
bool dl_token_name_valid(const char *name);
/* A host glob: 1..DL_TOKEN_HOSTS_MAX printable ASCII bytes. */
bool dl_token_hosts_valid(const char *glob);
/* Whether host matches glob (fnmatch, no flags). */
bool dl_token_host_ok(const char *glob, const char *host);

/* A new secret into out (DL_TOKEN_SECRET_LEN + 1 bytes): 0, or DL_EIO
 * when the kernel gave no randomness. */
int dl_token_generate(char *out, size_t outlen);
/* SHA-256 of the whole secret string, lowercase hex, into out
 * (DL_TOKEN_HASH_LEN + 1 bytes). 0 or DL_EIO. */
int dl_token_hash(const char *secret, char *out, size_t outlen);
/* Equal hex hashes, compared without an early exit. */
bool dl_token_hash_eq(const char *a, const char *b);

/* ---- serve's table of live (not revoked) tokens ---- */

typedef struct dl_tokens dl_tokens_t;

dl_tokens_t *dl_tokens_new(void);
void dl_tokens_free(dl_tokens_t *t);
/* Fills t from the tokens table of the database at path (read-only
 * connection; a database without the table holds no tokens). 0, or
 * DL_EDB / DL_ENOMEM with a sentence in err. */
int dl_tokens_load(dl_tokens_t *t, const char *path, char *err, size_t errlen);

size_t dl_tokens_count(const dl_tokens_t *t);

/* Why dl_tokens_check refused a secret. */
typedef enum {
	DL_TOKEN_OK,
	DL_TOKEN_UNKNOWN, /* malformed, wrong or revoked */
	DL_TOKEN_EXPIRED,
} dl_token_why_t;

/* The live token whose hash matches secret's, unexpired at now (unix
 * s), or NULL with *why. The pointer is valid until the next add or
 * remove. */
dl_token_t *dl_tokens_check(dl_tokens_t *t, const char *secret, int64_t now,
			    dl_token_why_t *why);
/* The token called name, or NULL. */
dl_token_t *dl_tokens_get(dl_tokens_t *t, const char *name);
/* Adds a copy of tok (replacing one of the same name). 0, DL_ENOMEM or
 * DL_EFULL (DL_TOKEN_MAX). */
int dl_tokens_add(dl_tokens_t *t, const dl_token_t *tok);
/* Removes name; whether it was there. */
bool dl_tokens_remove(dl_tokens_t *t, const char *name);
/* [{name, role, hosts, created, expires, last_used}] sorted by name,
 * times unix s or null; never a hash. Caller owns; NULL on ENOMEM. */
json_t *dl_tokens_list(const dl_tokens_t *t);

#endif
