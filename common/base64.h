/* base64.h - standard base64 (RFC 4648), for SSH key blobs and OpenSSH
 * style SHA256 fingerprints. Both directions are bounded by the caller's
 * buffer and never write past it. */
#ifndef DL_COMMON_BASE64_H
#define DL_COMMON_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Encodes n bytes into out (NUL-terminated). pad=false drops the '='
 * padding, as OpenSSH does in fingerprints. Returns the length written,
 * or -1 if out is too small (out is then an empty string). */
int dl_base64_encode(const uint8_t *in, size_t n, bool pad, char *out,
		     size_t cap);
/* Decodes s[0..n) (padding required, no whitespace). Returns the number
 * of bytes written to out, or -1 for bad input or a short out. */
int dl_base64_decode(const char *s, size_t n, uint8_t *out, size_t cap);

#endif
