/* config.h - INI configuration (libinih) with file:line errors.
 * A config is loaded whole, then read with typed getters that validate
 * ranges. Every error message names the file and line, e.g.
 * "agent.conf:7: stats_interval must be between 1 and 3600". Unknown
 * sections/keys are errors, so a typo never silently uses a default. */
#ifndef DL_COMMON_CONFIG_H
#define DL_COMMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define DL_CONF_MAX_FILE (256 * 1024)
/* 1,024 alert rules of a few keys each fit one file (256 KiB) */
#define DL_CONF_MAX_ENTRIES 8192
/* libinih (Debian) reads lines of at most 198 characters. */
#define DL_CONF_MAX_VALUE 1024

typedef struct dl_conf dl_conf_t;

/* Loads path. On failure returns NULL and writes a sentence to err. */
dl_conf_t *dl_conf_load(const char *path, char *err, size_t errlen);
void dl_conf_free(dl_conf_t *c);

/* "section.key" names allowed, NULL-terminated. Returns 0 or DL_ECONFIG
 * with the first unknown entry described in err. "PREFIX *.key" allows
 * key in every section named "PREFIX NAME" ("alert *.severity" for
 * [alert disk]); "PREFIX *" allows every key of such sections: their
 * owner checks them with dl_conf_sections + dl_conf_check_section. */
int dl_conf_check_known(const dl_conf_t *c, const char *const *known, char *err,
			size_t errlen);

/* Sections named "PREFIX NAME" ([notify web], [hook die]): cb runs once
 * per distinct such section, in file order, with NAME and the line of
 * its first entry; a nonzero return stops the walk and is returned.
 * Sections without entries are invisible (inih reports none). */
typedef int (*dl_conf_section_cb)(void *ud, const char *sect, const char *name,
				  int line);
int dl_conf_sections(const dl_conf_t *c, const char *prefix,
		     dl_conf_section_cb cb, void *ud);
/* Every key of section sect must be in keys (NULL-terminated). 0 or
 * DL_ECONFIG with "file:line: unknown setting [sect] key". */
int dl_conf_check_section(const dl_conf_t *c, const char *sect,
			  const char *const *keys, char *err, size_t errlen);
/* Line of sect.key (key NULL: of the section's first entry); 0 when
 * absent (for the owner's own errors). */
int dl_conf_line(const dl_conf_t *c, const char *sect, const char *key);

/* Value or def when absent. The pointer is owned by c. */
const char *dl_conf_str(const dl_conf_t *c, const char *sect, const char *key,
			const char *def);
/* Integer in [min, max]; def when absent. Returns 0 or DL_ECONFIG. */
int dl_conf_int(const dl_conf_t *c, const char *sect, const char *key,
		int64_t def, int64_t min, int64_t max, int64_t *out, char *err,
		size_t errlen);
/* Duration ("10", "10s", "5m", "48h", "30d") in seconds, in [min, max]. */
int dl_conf_duration(const dl_conf_t *c, const char *sect, const char *key,
		     int64_t def, int64_t min, int64_t max, int64_t *out,
		     char *err, size_t errlen);
/* Path of the file loaded; owned by c. */
const char *dl_conf_path(const dl_conf_t *c);

/* Canonical absolute path of an existing file into out (outlen bytes).
 * 0, or DL_ECONFIG with a sentence ("cannot open X: ..."). */
int dl_conf_abspath(const char *path, char *out, size_t outlen, char *err,
		    size_t errlen);

/* Parses a strictly decimal integer in [min, max]. 0 or DL_EINVAL. */
int dl_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
