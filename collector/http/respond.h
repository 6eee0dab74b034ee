/* respond.h - serve's answers as HTTP: status codes, error bodies, the
 * NDJSON lines of logs/exec. Pure (no lws), shared with the unit test.
 * Never puts a token in anything it builds. */
#ifndef DL_HTTP_RESPOND_H
#define DL_HTTP_RESPOND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* The HTTP status for an error code of the contract table (control:
 * "error" is Docker's, 502; else 500). Unknown words are 500. */
int dl_respond_status(const char *code, bool control);

/* An {"ok":false} answer: its code ("code", or derived from the control
 * "status" when serve sent none; "error" when neither) and sentence. */
void dl_respond_error_of(const json_t *resp, const char **code,
			 const char **error);

/* {"error": error, "code": code} + "\n", appended to b. 0 or DL_E*. */
int dl_respond_error_body(dl_buf_t *b, const char *code, const char *error);

/* One NDJSON line for a stream frame ([fd][bytes]):
 * {"stream":"stdout"|"stderr","data":"<utf-8>"}\n. Invalid UTF-8 becomes
 * U+FFFD. 0 or DL_E*. */
int dl_respond_stream_line(dl_buf_t *b, const uint8_t *p, size_t n);

/* The last NDJSON line for the final answer of logs/exec:
 * {"status":"ok","exit_code":N} or {"status","error","code"}. */
int dl_respond_final_line(dl_buf_t *b, const json_t *resp);

/* Appends obj as compact JSON + "\n". 0 or DL_E*. */
int dl_respond_json(dl_buf_t *b, const json_t *obj);

#endif
