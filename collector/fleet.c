/* fleet.c - per-host results of fleet-wide commands (see fleet.h). */
#include "collector/fleet.h"

#include <stdlib.h>
#include <string.h>

/* The last non-empty line of text, without a "dockline: " lead. */
static void last_line(const char *text, char *out, size_t outlen)
{
	const char *end = text + strlen(text), *start;

	out[0] = '\0';
	while (end > text && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	if (!strncmp(start, "dockline: ", 10) && end - start >= 10)
		start += 10;
	snprintf(out, outlen, "%.*s", (int)(end - start), start);
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

void dl_fleet_classify(dl_fleet_result_t *res, int exit_code, bool cmd,
		       const char *out, const char *err)
{
	res->exit_code = exit_code;
	res->result = exit_code == 0	       ? "ok"
		      : !cmd && exit_code == 3 ? "offline"
		      : !cmd && exit_code == 5 ? "refused"
					       : "failed";
	last_line(err ? err : "", res->message, sizeof(res->message));
	if (!res->message[0])
		last_line(out ? out : "", res->message, sizeof(res->message));
	if (cmd && exit_code && !res->message[0])
		snprintf(res->message, sizeof(res->message), "exit code %d",
			 exit_code);
}

void dl_fleet_print(FILE *f, const dl_fleet_result_t *res, size_t n, bool json)
{
	size_t w = 4;
	json_t *a;
	char *text;

	if (json) {
		a = json_array();
		for (size_t i = 0; a && i < n; i++)
			json_array_append_new(
				a,
				json_pack("{s:s,s:s,s:i,s:s}", "host",
					  res[i].host, "result", res[i].result,
					  "exit_code", res[i].exit_code,
					  "message", res[i].message));
		text = a ? json_dumps(a, JSON_INDENT(2)) : NULL;
		if (text)
			fprintf(f, "%s\n", text);
		free(text);
		json_decref(a);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (strlen(res[i].host) > w)
			w = strlen(res[i].host);
	fprintf(f, "%-*s %-8s %s\n", (int)w, "HOST", "RESULT", "MESSAGE");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%-*s %-8s %s\n", (int)w, res[i].host, res[i].result,
			res[i].message);
}

int dl_fleet_exit(const dl_fleet_result_t *res, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(res[i].result, "ok"))
			return 1;
	return 0;
}
