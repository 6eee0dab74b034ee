/* err.h - dockline error codes.
 * Every function that can fail returns 0 or a negative DL_E* code; callers
 * turn a code into words with dl_strerror(). Never returns NULL. */
#ifndef DL_COMMON_ERR_H
#define DL_COMMON_ERR_H

enum {
	DL_OK = 0,
	DL_ENOMEM = -1,	       /* allocation failed */
	DL_EINVAL = -2,	       /* invalid argument or value */
	DL_EIO = -3,	       /* read/write/system call failed */
	DL_EPROTO = -4,	       /* malformed frame or message */
	DL_ETOOBIG = -5,       /* input larger than its hard maximum */
	DL_EAGAIN = -6,	       /* try again later (non-blocking) */
	DL_ENOENT = -7,	       /* no such thing */
	DL_ETIMEDOUT = -8,     /* deadline passed */
	DL_EVERSION = -9,      /* incompatible protocol version */
	DL_EAUTH = -10,	       /* authentication rejected */
	DL_EHOSTKEY = -11,     /* host key unknown or changed */
	DL_ECONNREFUSED = -12, /* connection refused */
	DL_EDNS = -13,	       /* name resolution failed */
	DL_ECLOSED = -14,      /* peer closed the connection */
	DL_EFULL = -15,	       /* queue or buffer at its cap */
	DL_EEXIST = -16,       /* already exists */
	DL_ECONFIG = -17,      /* configuration error */
	DL_EDB = -18,	       /* database error */
	DL_EDOCKER = -19,      /* Docker Engine API error */
	DL_ESSH = -20,	       /* SSH transport error */
	DL_EPERM = -21,	       /* not allowed by policy */
	DL_EBUSY = -22,	       /* too many requests in flight */
};

/* Static string describing err; unknown codes get a generic text. */
const char *dl_strerror(int err);

#endif
