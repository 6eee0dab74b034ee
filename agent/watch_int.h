/* watch_int.h - what watch.c and watch_parse.c share: the string helpers
 * (dl_watch__*). Private to agent/watch*.c. */
#ifndef DL_AGENT_WATCH_INT_H
#define DL_AGENT_WATCH_INT_H

#include <jansson.h>
#include <stddef.h>

#include "proto/msg.h"

/* *out = a malloc'ed copy of s[0..n) cut to max bytes on a UTF-8
 * boundary. 0 or DL_ENOMEM. */
int dl_watch__set_str(dl_str_t *out, const char *s, size_t n, size_t max);
/* Frees what dl_watch__set_str made; *s becomes empty. */
void dl_watch__free_str(dl_str_t *s);
/* dst = v's string cut to dstlen - 1 bytes, "" if v is not a string. */
void dl_watch__copy_fixed(char *dst, size_t dstlen, json_t *v);
/* Frees a container's strings and labels (not c itself). */
void dl_watch__free_container(dl_container_t *c);

#endif
