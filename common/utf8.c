#include "common/utf8.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t dl_utf8_seq(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len;
	uint32_t cp;

	if (c >= 0x01 && c <= 0x7f)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool dl_utf8_valid(const char *p, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if (!(k = dl_utf8_seq((const unsigned char *)p + i, n - i)))
			return false;
	return true;
}

char *dl_utf8_dup(const char *p, size_t n)
{
	char *out = malloc(3 * n + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0, k; i < n; i += k) {
		k = dl_utf8_seq((const unsigned char *)p + i, n - i);
		if (k) {
			memcpy(out + o, p + i, k);
			o += k;
		} else {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			k = 1;
		}
	}
	out[o] = '\0';
	return out;
}

void dl_utf8_fix(char *s)
{
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0, k; i < n; i += k) {
		k = dl_utf8_seq((const unsigned char *)s + i, n - i);
		if (!k) {
			s[i] = '?';
			k = 1;
		}
	}
}

size_t dl_utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}
