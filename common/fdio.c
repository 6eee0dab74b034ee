/* fdio.c - see fdio.h. */
#include "common/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"

int dl_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return DL_EIO;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

long dl_read_first_line(const char *path, int flags, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	int fd;

	if (cap == 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	if (fd < 0)
		return -1;
	while (n < cap - 1 && ((r = read(fd, buf + n, cap - 1 - n)) > 0 ||
			       (r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	n = strlen(buf);
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
		buf[--n] = '\0';
	return (long)n;
}
