/* fdio.h - blocking file-descriptor helpers for the places that are not
 * on a libuv loop (the spool's files, attach's and the relay's pipes,
 * the CLI's stdout). */
#ifndef DL_COMMON_FDIO_H
#define DL_COMMON_FDIO_H

#include <stddef.h>

/* Writes all n bytes of p to fd, retrying short writes and EINTR.
 * 0, or DL_EIO (errno says why) when write fails or writes nothing. */
int dl_write_all(int fd, const void *p, size_t n);

#endif
