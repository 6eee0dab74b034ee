/* label.c - see label.h. */
#include "common/label.h"

#include <string.h>

#include "common/err.h"

int dl_label_filter_parse(const char *s, dl_label_filter_t *out)
{
	const char *eq;
	size_t klen, vlen;

	memset(out, 0, sizeof(*out));
	if (!s)
		return DL_EINVAL;
	eq = strchr(s, '=');
	klen = eq ? (size_t)(eq - s) : strlen(s);
	vlen = eq ? strlen(eq + 1) : 0;
	if (klen == 0 || klen > DL_MAX_LABEL_KEY || vlen > DL_MAX_LABEL_VALUE)
		return DL_EINVAL;
	for (size_t i = 0; i < klen; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return DL_EINVAL;
	memcpy(out->key, s, klen);
	out->key[klen] = '\0';
	if (eq) {
		memcpy(out->value, eq + 1, vlen);
		out->value[vlen] = '\0';
		out->has_value = true;
	}
	return 0;
}

bool dl_label_filter_match(const dl_label_filter_t *f, const char *value)
{
	return value && (!f->has_value || !strcmp(f->value, value));
}
