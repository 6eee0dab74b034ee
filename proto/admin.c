#include "proto/admin.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/err.h"
#include "proto/frame.h"

int dl_admin_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return DL_EINVAL;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return DL_EIO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;

		close(fd);
		if (e == ENOENT)
			return DL_ENOENT;
		if (e == ECONNREFUSED)
			return DL_ECONNREFUSED;
		if (e == EACCES)
			return DL_EAUTH;
		return DL_EIO;
	}
	return fd;
}

char *dl_admin_frame(const json_t *obj, size_t max, size_t *len)
{
	char *txt = json_dumps(obj, JSON_COMPACT);
	char *out;
	size_t n;

	if (!txt)
		return NULL;
	n = strlen(txt);
	if (n == 0 || n > max) {
		free(txt);
		return NULL;
	}
	out = malloc(n + DL_FRAME_HDR);
	if (out) {
		dl_frame_put_header((uint8_t *)out, (uint32_t)n);
		memcpy(out + DL_FRAME_HDR, txt, n);
		*len = n + DL_FRAME_HDR;
	}
	free(txt);
	return out;
}

int dl_admin_send(int fd, const json_t *obj, size_t max)
{
	size_t len, off = 0;
	char *frame = dl_admin_frame(obj, max, &len);

	if (!frame)
		return DL_ETOOBIG;
	while (off < len) {
		ssize_t w = send(fd, frame + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			free(frame);
			return DL_ECLOSED;
		}
		off += (size_t)w;
	}
	free(frame);
	return 0;
}

static int read_full(int fd, void *p, size_t n, int timeout_ms)
{
	size_t off = 0;

	while (off < n) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, timeout_ms > 0 ? timeout_ms : -1);
		ssize_t r;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return DL_ETIMEDOUT;
		if (pr < 0)
			return DL_EIO;
		r = read(fd, (char *)p + off, n - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return DL_ECLOSED;
		off += (size_t)r;
	}
	return 0;
}

int dl_admin_recv_frame(int fd, size_t max, int timeout_ms, char **out,
			size_t *len)
{
	uint8_t hdr[DL_FRAME_HDR];
	uint32_t n;
	char *body;
	int rc;

	rc = read_full(fd, hdr, sizeof(hdr), timeout_ms);
	if (rc)
		return rc;
	n = dl_frame_get_len(hdr);
	if (n == 0 || n > max)
		return DL_ETOOBIG;
	body = malloc(n);
	if (!body)
		return DL_ENOMEM;
	rc = read_full(fd, body, n, timeout_ms);
	if (rc) {
		free(body);
		return rc;
	}
	*out = body;
	*len = n;
	return 0;
}

int dl_admin_parse(const char *p, size_t n, json_t **out)
{
	json_error_t jerr;

	*out = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!*out || !json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return DL_EPROTO;
	}
	return 0;
}

int dl_admin_recv(int fd, size_t max, int timeout_ms, json_t **out)
{
	char *body;
	size_t n;
	int rc = dl_admin_recv_frame(fd, max, timeout_ms, &body, &n);

	if (rc)
		return rc;
	rc = dl_admin_parse(body, n, out);
	free(body);
	return rc;
}
