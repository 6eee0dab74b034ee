#include "common/err.h"

const char *dl_strerror(int err)
{
	switch (err) {
	case DL_OK: return "success";
	case DL_ENOMEM: return "out of memory";
	case DL_EINVAL: return "invalid argument";
	case DL_EIO: return "input/output error";
	case DL_EPROTO: return "protocol error (malformed message)";
	case DL_ETOOBIG: return "input exceeds its maximum size";
	case DL_EAGAIN: return "resource temporarily unavailable";
	case DL_ENOENT: return "not found";
	case DL_ETIMEDOUT: return "timed out";
	case DL_EVERSION: return "incompatible protocol version";
	case DL_EAUTH: return "authentication rejected";
	case DL_EHOSTKEY: return "host key not trusted";
	case DL_ECONNREFUSED: return "connection refused";
	case DL_EDNS: return "name resolution failed";
	case DL_ECLOSED: return "connection closed by peer";
	case DL_EFULL: return "queue full";
	case DL_EEXIST: return "already exists";
	case DL_ECONFIG: return "configuration error";
	case DL_EDB: return "database error";
	case DL_EDOCKER: return "Docker Engine error";
	case DL_ESSH: return "SSH error";
	case DL_EPERM: return "not allowed by policy";
	case DL_EBUSY: return "too many requests in flight";
	}
	return "unknown error";
}
