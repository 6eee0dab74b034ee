/* utf8.h - UTF-8 checks for text that crosses a trust boundary (Docker's
 * messages, agent strings) on its way into SQLite or JSON, both of which
 * want valid UTF-8 (jansson refuses to pack anything else). NUL counts as
 * invalid everywhere: the text must stay usable as a C string. */
#ifndef DL_COMMON_UTF8_H
#define DL_COMMON_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (1-4, within n), or 0. */
size_t dl_utf8_seq(const unsigned char *p, size_t n);
bool dl_utf8_valid(const char *p, size_t n);
/* NUL-terminated copy of p[0..n) with every invalid byte replaced by
 * U+FFFD. Caller frees; NULL on ENOMEM. */
char *dl_utf8_dup(const char *p, size_t n);
/* In place: every byte of s not part of valid UTF-8 becomes '?' (a cut
 * at a fixed byte count may split a character). */
void dl_utf8_fix(char *s);
/* n (the length of s) cut to at most max bytes without splitting a
 * UTF-8 character. */
size_t dl_utf8_cut(const char *s, size_t n, size_t max);

#endif
