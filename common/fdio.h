/* fdio.h - blocking file-descriptor helpers for the places that are not
 * on a libuv loop (the spool's files, attach's and the relay's pipes,
 * the CLI's stdout). */
#ifndef DL_COMMON_FDIO_H
#define DL_COMMON_FDIO_H

#include <stddef.h>

/* Writes all n bytes of p to fd, retrying short writes and EINTR.
 * 0, or DL_EIO (errno says why) when write fails or writes nothing. */
int dl_write_all(int fd, const void *p, size_t n);

/* The first line of the small file at path (a secret: a token or a
 * password file) into buf (cap bytes, at most cap - 1 of the file read),
 * without its line end and trailing blanks; NUL-terminated. Returns its
 * length (0: empty), or -1 with errno when the file cannot be opened
 * (flags are added to O_RDONLY | O_CLOEXEC, e.g. O_NOFOLLOW). The caller
 * wipes buf (explicit_bzero) when done. */
long dl_read_first_line(const char *path, int flags, char *buf, size_t cap);

#endif
