/* respond.c - serve's answers as HTTP (respond.h). */
#include <stdlib.h>
#include <string.h>

#include "collector/http/respond.h"
#include "common/err.h"

static const struct {
	const char *code;
	int status;
} codes[] = {
	{"invalid", 400},   {"unauthorized", 401}, {"forbidden", 403},
	{"refused", 403},   {"not_found", 404},	   {"offline", 503},
	{"busy", 503},	    {"timeout", 504},	   {"unknown", 504},
	{"cancelled", 502},
};

int dl_respond_status(const char *code, bool control)
{
	if (!code)
		return 500;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(codes[i].code, code))
			return codes[i].status;
	return control && !strcmp(code, "error") ? 502 : 500;
}

void dl_respond_error_of(const json_t *resp, const char **code,
			 const char **error)
{
	const char *c = json_string_value(json_object_get(resp, "code"));
	const char *st = json_string_value(json_object_get(resp, "status"));
	const char *e = json_string_value(json_object_get(resp, "error"));

	/* Until every serve answer carries a code, a control status says
	 * as much ("offline", "refused", "timeout", ...). */
	if (!c && st && strcmp(st, "ok"))
		c = st;
	*code = c ? c : "error";
	*error = e ? e : "the collector gave no reason";
}

int dl_respond_json(dl_buf_t *b, const json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	int rc;

	if (!s)
		return DL_ENOMEM;
	rc = dl_buf_append(b, s, strlen(s));
	free(s);
	return rc ? rc : dl_buf_append(b, "\n", 1);
}

int dl_respond_error_body(dl_buf_t *b, const char *code, const char *error)
{
	json_t *o = json_pack("{s:s,s:s}", "error", error, "code", code);
	int rc = o ? dl_respond_json(b, o) : DL_ENOMEM;

	json_decref(o);
	return rc;
}

/* Length of the valid UTF-8 sequence at p (1-4), 0 if invalid. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

int dl_respond_stream_line(dl_buf_t *b, const uint8_t *p, size_t n)
{
	dl_buf_t t;
	json_t *o = NULL;
	int rc = DL_ENOMEM;

	if (n < 1)
		return DL_EPROTO;
	dl_buf_init(&t, 3 * n + 16);
	for (size_t i = 1; i < n;) {
		size_t l = utf8_seq(p + i, n - i);

		if (l ? dl_buf_append(&t, p + i, l)
		      : dl_buf_append(&t, "\xef\xbf\xbd", 3))
			goto fail;
		i += l ? l : 1;
	}
	o = json_pack("{s:s,s:s%}", "stream", p[0] == 2 ? "stderr" : "stdout",
		      "data", t.data ? (const char *)dl_buf_head(&t) : "",
		      dl_buf_used(&t));
	if (o)
		rc = dl_respond_json(b, o);
fail:
	json_decref(o);
	dl_buf_free(&t);
	return rc;
}

int dl_respond_final_line(dl_buf_t *b, const json_t *resp)
{
	json_t *o;
	int rc;

	if (json_is_true(json_object_get(resp, "ok"))) {
		json_t *x = json_object_get(json_object_get(resp, "data"),
					    "exit_code");

		o = json_pack("{s:s,s:I}", "status", "ok", "exit_code",
			      json_integer_value(x));
	} else {
		const char *code, *error;
		const char *st =
			json_string_value(json_object_get(resp, "status"));

		dl_respond_error_of(resp, &code, &error);
		o = json_pack("{s:s,s:s,s:s}", "status", st ? st : "error",
			      "error", error, "code", code);
	}
	rc = o ? dl_respond_json(b, o) : DL_ENOMEM;
	json_decref(o);
	return rc;
}
