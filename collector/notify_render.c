/* notify_render.c - a notification message in each channel's own body
 * shape, a command's environment and words, the retry schedule. Pure:
 * no I/O, no clock (the caller passes the time), so tests pin every
 * byte. Shapes are documented in docs/ALERTS.md ("Channels"). */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/notify_int.h"
#include "common/base64.h"
#include "common/err.h"
#include "common/utf8.h"

#define VALUE_MAX   1024 /* one value in text, facts and env */
#define LINES_MAX   64	 /* key: value lines of a text body */
#define DISCORD_MAX 2000 /* Discord's content limit */
#define SLACK_MAX   2900 /* a section block takes 3000 */
#define HEADER_MAX  150	 /* a Slack header block's text */

static const char *const kind_names[DL_NK__COUNT] = {
	"webhook", "slack", "discord", "ntfy",
	"gotify",  "teams", "email",   "exec",
};

const char *dl_notify_kind_name(dl_notify_kind_t k)
{
	return k < DL_NK__COUNT ? kind_names[k] : "?";
}

int dl_notify_kind_parse(const char *s)
{
	for (int i = 0; s && i < DL_NK__COUNT; i++)
		if (!strcmp(s, kind_names[i]))
			return i;
	return -1;
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* ---- one line, and key: value pairs ---- */

void dl_notify_title(const json_t *msg, char *out, size_t outlen)
{
	const char *kind = str(msg, "kind");
	const char *host = str(msg, "host");
	char where[256];

	if (*str(msg, "container"))
		snprintf(where, sizeof(where), "%s/%s", host,
			 str(msg, "container"));
	else if (!strcmp(str(msg, "type"), "container") && *str(msg, "name"))
		snprintf(where, sizeof(where), "%s/%s", host, str(msg, "name"));
	else
		snprintf(where, sizeof(where), "%s", host);
	if (!strcmp(kind, "alert")) {
		char st[16];
		size_t i;

		snprintf(st, sizeof(st), "%s", str(msg, "status"));
		for (i = 0; st[i]; i++)
			st[i] = (char)toupper((unsigned char)st[i]);
		snprintf(out, outlen, "[%s] %s on %s", st[0] ? st : "ALERT",
			 str(msg, "rule"), where);
	} else if (!strcmp(kind, "test")) {
		snprintf(out, outlen, "dockline test message");
	} else if (!strcmp(kind, "event") || *str(msg, "action")) {
		snprintf(out, outlen, "[EVENT] %s %s on %s", str(msg, "type"),
			 str(msg, "action"), where);
	} else {
		snprintf(out, outlen, "%s",
			 *str(msg, "summary") ? str(msg, "summary")
					      : "dockline notification");
	}
}

/* A scalar as text into out; false for objects and arrays. */
static bool scalar(const json_t *v, char *out, size_t outlen)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(out, outlen, "%s", json_string_value(v));
		return true;
	case JSON_INTEGER:
		snprintf(out, outlen, "%lld", (long long)json_integer_value(v));
		return true;
	case JSON_REAL:
		snprintf(out, outlen, "%g", json_real_value(v));
		return true;
	case JSON_TRUE: snprintf(out, outlen, "true"); return true;
	case JSON_FALSE: snprintf(out, outlen, "false"); return true;
	case JSON_NULL: snprintf(out, outlen, "null"); return true;
	default: return false;
	}
}

typedef int (*pair_cb)(void *ud, const char *parent, const char *key,
		       const char *val);

/* Every field but kind and summary, one level of nesting flattened
 * (labels, attributes), in the message's own key order. */
static int pairs(const json_t *msg, pair_cb cb, void *ud)
{
	const char *k, *k2;
	json_t *v, *v2;
	char val[VALUE_MAX];
	int rc;

	json_object_foreach((json_t *)msg, k, v)
	{
		if (!strcmp(k, "kind") || !strcmp(k, "summary"))
			continue;
		if (scalar(v, val, sizeof(val))) {
			if ((rc = cb(ud, NULL, k, val)))
				return rc;
			continue;
		}
		if (!json_is_object(v))
			continue;
		json_object_foreach(v, k2, v2)
		{
			if (scalar(v2, val, sizeof(val)) &&
			    (rc = cb(ud, k, k2, val)))
				return rc;
		}
	}
	return 0;
}

static void summary_of(const json_t *msg, char *out, size_t outlen)
{
	if (*str(msg, "summary"))
		snprintf(out, outlen, "%s", str(msg, "summary"));
	else
		dl_notify_title(msg, out, outlen);
}

typedef struct {
	dl_buf_t *b;
	int lines;
	int rc;
} text_t;

static int text_pair(void *ud, const char *parent, const char *key,
		     const char *val)
{
	text_t *t = ud;
	char line[VALUE_MAX + 256];

	if (t->lines++ == LINES_MAX)
		return 1;
	snprintf(line, sizeof(line), "%s%s%s: %s\n", parent ? parent : "",
		 parent ? "." : "", key, val);
	return (t->rc = dl_buf_append(t->b, line, strlen(line)));
}

int dl_notify_text(const json_t *msg, dl_buf_t *out)
{
	char sum[VALUE_MAX];
	text_t t = {out, 0, 0};

	summary_of(msg, sum, sizeof(sum));
	if (dl_buf_append(out, sum, strlen(sum)) || dl_buf_append(out, "\n", 1))
		return DL_ETOOBIG;
	if (json_object_size(msg) > 2 && dl_buf_append(out, "\n", 1))
		return DL_ETOOBIG;
	pairs(msg, text_pair, &t);
	return t.rc ? t.rc : 0;
}

/* ---- helpers for the bodies ---- */

/* Cuts s to at most max bytes on a UTF-8 character boundary. */
static void utf8_cut(char *s, size_t max)
{
	s[dl_utf8_cut(s, strlen(s), max)] = '\0';
}

/* The text body as a NUL-terminated string of at most max bytes. */
static char *text_str(const json_t *msg, size_t max)
{
	dl_buf_t b;
	char *s;

	dl_buf_init(&b, DL_NOTIFY_MSG_MAX);
	dl_notify_text(msg, &b); /* a cut text is still worth sending */
	if (dl_buf_append(&b, "", 1) ||
	    !(s = strdup((const char *)dl_buf_head(&b)))) {
		dl_buf_free(&b);
		return NULL;
	}
	dl_buf_free(&b);
	utf8_cut(s, max);
	return s;
}

static int take_json(json_t *j, dl_notify_body_t *out)
{
	if (!j)
		return DL_ENOMEM;
	out->body = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!out->body)
		return DL_ENOMEM;
	out->len = strlen(out->body);
	out->content_type = "application/json";
	return out->len > DL_NOTIFY_MSG_MAX * 2 ? DL_ETOOBIG : 0;
}

/* "firing" / "resolved" / "" and the severity decide how loud. */
static int loudness(const json_t *msg)
{
	const char *sev = str(msg, "severity");

	if (strcmp(str(msg, "kind"), "alert") ||
	    strcmp(str(msg, "status"), "firing"))
		return 0;
	if (!strcmp(sev, "critical"))
		return 3;
	if (!strcmp(sev, "info"))
		return 1;
	return 2; /* warning, or anything else that fires */
}

/* Slack's mrkdwn takes &, < and > only as entities. */
static char *slack_escape(const char *s)
{
	size_t n = strlen(s), o = 0;
	char *r = malloc(n * 5 + 1);

	if (!r)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *e = s[i] == '&'   ? "&amp;"
				: s[i] == '<' ? "&lt;"
				: s[i] == '>' ? "&gt;"
					      : NULL;

		if (e) {
			memcpy(r + o, e, strlen(e));
			o += strlen(e);
		} else {
			r[o++] = s[i];
		}
	}
	r[o] = '\0';
	return r;
}

static int render_slack(const json_t *msg, dl_notify_body_t *out)
{
	char title[HEADER_MAX + 1], *text = text_str(msg, SLACK_MAX), *esc;
	json_t *j;

	dl_notify_title(msg, title, sizeof(title));
	utf8_cut(title, HEADER_MAX);
	if (!text || !(esc = slack_escape(text))) {
		free(text);
		return DL_ENOMEM;
	}
	utf8_cut(esc, SLACK_MAX);
	j = json_pack("{s:s++,s:[{s:s,s:{s:s,s:s}},{s:s,s:{s:s,s:s}}]}", "text",
		      title, "\n", text, "blocks", "type", "header", "text",
		      "type", "plain_text", "text", title, "type", "section",
		      "text", "type", "mrkdwn", "text", esc);
	free(text);
	free(esc);
	return take_json(j, out);
}

static int render_discord(const json_t *msg, dl_notify_body_t *out)
{
	char title[256], *text = text_str(msg, DISCORD_MAX), *all;
	size_t n;
	int rc;

	dl_notify_title(msg, title, sizeof(title));
	if (!text)
		return DL_ENOMEM;
	n = strlen(title) + strlen(text) + 8;
	if (!(all = malloc(n))) {
		free(text);
		return DL_ENOMEM;
	}
	snprintf(all, n, "**%s**\n%s", title, text);
	utf8_cut(all, DISCORD_MAX);
	rc = take_json(json_pack("{s:s}", "content", all), out);
	free(text);
	free(all);
	return rc;
}

/* A header value: printable ASCII as is, else one RFC 2047 encoded word
 * per chunk of at most 45 bytes (ntfy and mail readers decode them). */
static int header_value(const char *s, char *out, size_t outlen)
{
	bool ascii = true;
	size_t n = strlen(s), o = 0;

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			ascii = false;
	if (ascii) {
		snprintf(out, outlen, "%s", s);
		return 0;
	}
	out[0] = '\0';
	for (size_t i = 0; i < n;) {
		size_t k = n - i > 45 ? 45 : n - i;
		char enc[64];
		int w;

		while (i + k < n && k > 1 &&
		       ((unsigned char)s[i + k] & 0xC0) == 0x80)
			k--;
		if (dl_base64_encode((const uint8_t *)s + i, k, true, enc,
				     sizeof(enc)) < 0)
			return DL_EINVAL;
		w = snprintf(out + o, outlen - o,
			     "%s=?UTF-8?B?%s?=", o ? "\r\n " : "", enc);
		if (w < 0 || (size_t)w >= outlen - o)
			return DL_ETOOBIG;
		o += (size_t)w;
		i += k;
	}
	return 0;
}

static int add_header(dl_notify_body_t *out, const char *name, const char *val)
{
	size_t n = strlen(name) + strlen(val) + 3;

	if (out->nheaders == 4 || !(out->headers[out->nheaders] = malloc(n)))
		return DL_ENOMEM;
	snprintf(out->headers[out->nheaders++], n, "%s: %s", name, val);
	return 0;
}

static int render_ntfy(const json_t *msg, dl_notify_body_t *out)
{
	static const char *const prio[] = {"3", "3", "4", "5"};
	static const char *const tags[] = {"information_source", "warning",
					   "warning", "rotating_light"};
	char title[256], val[1024];
	int loud = loudness(msg);
	const char *tag = tags[loud];

	if (!strcmp(str(msg, "kind"), "alert") &&
	    !strcmp(str(msg, "status"), "resolved"))
		tag = "white_check_mark";
	else if (!strcmp(str(msg, "kind"), "test"))
		tag = "test_tube";
	else if (strcmp(str(msg, "kind"), "alert"))
		tag = "whale";
	dl_notify_title(msg, title, sizeof(title));
	if (!(out->body = text_str(msg, DL_NOTIFY_MSG_MAX)))
		return DL_ENOMEM;
	out->len = strlen(out->body);
	out->content_type = "text/plain; charset=utf-8";
	if (header_value(title, val, sizeof(val)) ||
	    add_header(out, "Title", val) ||
	    add_header(out, "Priority", prio[loud]) ||
	    add_header(out, "Tags", tag))
		return DL_ENOMEM;
	return 0;
}

static int render_gotify(const json_t *msg, dl_notify_body_t *out)
{
	static const int prio[] = {2, 4, 5, 8};
	char title[256], *text = text_str(msg, DL_NOTIFY_MSG_MAX);
	int rc;

	if (!text)
		return DL_ENOMEM;
	dl_notify_title(msg, title, sizeof(title));
	rc = take_json(json_pack("{s:s,s:s,s:i}", "title", title, "message",
				 text, "priority", prio[loudness(msg)]),
		       out);
	free(text);
	return rc;
}

static int fact_pair(void *ud, const char *parent, const char *key,
		     const char *val)
{
	json_t *facts = json_array_get(ud, 0);
	const char *nk = json_string_value(json_array_get(ud, 1));
	const char *vk = json_string_value(json_array_get(ud, 2));
	char name[256];

	if (json_array_size(facts) == LINES_MAX)
		return 1;
	snprintf(name, sizeof(name), "%s%s%s", parent ? parent : "",
		 parent ? "." : "", key);
	return json_array_append_new(facts,
				     json_pack("{s:s,s:s}", nk, name, vk, val));
}

/* [{nk: key, vk: value}, ...] of the message's fields. */
static json_t *facts(const json_t *msg, const char *nk, const char *vk)
{
	json_t *ctx = json_pack("[[],s,s]", nk, vk), *f;

	if (!ctx)
		return NULL;
	pairs(msg, fact_pair, ctx);
	f = json_incref(json_array_get(ctx, 0));
	json_decref(ctx);
	return f;
}

static int render_teams(const dl_notify_chan_t *ch, const json_t *msg,
			dl_notify_body_t *out)
{
	static const char *const color[] = {"2E7D32", "1565C0", "EF6C00",
					    "D70000"};
	static const char *const acolor[] = {"Good", "Accent", "Warning",
					     "Attention"};
	char title[256], sum[VALUE_MAX];
	int loud = loudness(msg);
	json_t *j;

	dl_notify_title(msg, title, sizeof(title));
	summary_of(msg, sum, sizeof(sum));
	if (!ch->adaptive) {
		j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:[{s:o*}]}", "@type",
			      "MessageCard", "@context",
			      "https://schema.org/extensions", "summary", title,
			      "themeColor", color[loud], "title", title, "text",
			      sum, "sections", "facts",
			      facts(msg, "name", "value"));
		return take_json(j, out);
	}
	j = json_pack(
		"{s:s,s:[{s:s,s:n,s:{s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:s,s:b},"
		"{s:s,s:s,s:b},{s:s,s:o*}]}}]}",
		"type", "message", "attachments", "contentType",
		"application/vnd.microsoft.card.adaptive", "contentUrl",
		"content", "$schema",
		"http://adaptivecards.io/schemas/adaptive-card.json", "type",
		"AdaptiveCard", "version", "1.4", "body", "type", "TextBlock",
		"size", "Large", "weight", "Bolder", "color", acolor[loud],
		"text", title, "wrap", 1, "type", "TextBlock", "text", sum,
		"wrap", 1, "type", "FactSet", "facts",
		facts(msg, "title", "value"));
	return take_json(j, out);
}

/* ---- email (RFC 5322, MIME text/plain UTF-8) ---- */

static int put(dl_buf_t *b, const char *s)
{
	return dl_buf_append(b, s, strlen(s));
}

static int putf2(dl_buf_t *b, const char *name, const char *val)
{
	return put(b, name) || put(b, ": ") || put(b, val) || put(b, "\r\n");
}

static void rfc5322_date(time_t t, char *out, size_t outlen)
{
	static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
					   "Thu", "Fri", "Sat"};
	static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr",
					   "May", "Jun", "Jul", "Aug",
					   "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d +0000",
		 days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The body in CRLF lines: 7bit when it is short-lined ASCII, else
 * base64 in lines of 76. */
static int email_body(dl_buf_t *b, const char *text)
{
	size_t n = strlen(text), line = 0, longest = 0;
	bool ascii = true;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)text[i] > 0x7e ||
		    ((unsigned char)text[i] < 0x20 && text[i] != '\n' &&
		     text[i] != '\t'))
			ascii = false;
		line = text[i] == '\n' ? 0 : line + 1;
		longest = line > longest ? line : longest;
	}
	if (ascii && longest <= 900) {
		if (put(b, "Content-Transfer-Encoding: 7bit\r\n\r\n"))
			return DL_ETOOBIG;
		for (const char *p = text; *p; p++)
			if ((*p == '\n' ? put(b, "\r\n")
					: dl_buf_append(b, p, 1)))
				return DL_ETOOBIG;
		return 0;
	}
	if (put(b, "Content-Transfer-Encoding: base64\r\n\r\n"))
		return DL_ETOOBIG;
	for (size_t i = 0; i < n; i += 57) {
		char enc[80];

		if (dl_base64_encode((const uint8_t *)text + i,
				     n - i < 57 ? n - i : 57, true, enc,
				     sizeof(enc)) < 0 ||
		    put(b, enc) || put(b, "\r\n"))
			return DL_ETOOBIG;
	}
	return 0;
}

static int render_email(const dl_notify_chan_t *ch, const json_t *msg,
			const dl_notify_ctx_t *ctx, dl_notify_body_t *out)
{
	char title[256], subj[1024], date[64], id[320];
	char *text = text_str(msg, DL_NOTIFY_MSG_MAX);
	dl_buf_t b;
	int rc = DL_ETOOBIG;

	if (!text)
		return DL_ENOMEM;
	dl_buf_init(&b, 4 * DL_NOTIFY_MSG_MAX);
	dl_notify_title(msg, title, sizeof(title));
	rfc5322_date(ctx->now, date, sizeof(date));
	snprintf(id, sizeof(id), "<dockline.%lld.%llu@%s>", (long long)ctx->now,
		 (unsigned long long)ctx->uniq, ctx->hostname);
	if (header_value(title, subj, sizeof(subj)) ||
	    putf2(&b, "Date", date) || putf2(&b, "From", ch->from) ||
	    put(&b, "To: "))
		goto out;
	for (int i = 0; i < ch->nto; i++)
		if (put(&b, i ? ", " : "") || put(&b, ch->to[i]))
			goto out;
	if (put(&b, "\r\n") || putf2(&b, "Subject", subj) ||
	    putf2(&b, "Message-ID", id) || putf2(&b, "MIME-Version", "1.0") ||
	    putf2(&b, "Content-Type", "text/plain; charset=UTF-8") ||
	    putf2(&b, "Auto-Submitted", "auto-generated") ||
	    email_body(&b, text))
		goto out;
	rc = DL_ENOMEM;
	if (!(out->body = malloc(dl_buf_used(&b) + 1)))
		goto out;
	memcpy(out->body, dl_buf_head(&b), dl_buf_used(&b));
	out->len = dl_buf_used(&b);
	out->body[out->len] = '\0';
	rc = 0;
out:
	free(text);
	dl_buf_free(&b);
	return rc;
}

int dl_notify_render(const dl_notify_chan_t *ch, const json_t *msg,
		     const dl_notify_ctx_t *ctx, dl_notify_body_t *out)
{
	memset(out, 0, sizeof(*out));
	switch (ch->kind) {
	case DL_NK_WEBHOOK:
	case DL_NK_EXEC: /* the JSON on the command's stdin */
		return take_json(json_deep_copy(msg), out);
	case DL_NK_SLACK: return render_slack(msg, out);
	case DL_NK_DISCORD: return render_discord(msg, out);
	case DL_NK_NTFY: return render_ntfy(msg, out);
	case DL_NK_GOTIFY: return render_gotify(msg, out);
	case DL_NK_TEAMS: return render_teams(ch, msg, out);
	case DL_NK_EMAIL: return render_email(ch, msg, ctx, out);
	default: return DL_EINVAL;
	}
}

void dl_notify_body_free(dl_notify_body_t *b)
{
	free(b->body);
	for (int i = 0; i < b->nheaders; i++)
		free(b->headers[i]);
	memset(b, 0, sizeof(*b));
}

/* ---- a command's environment ---- */

typedef struct {
	char **out;
	size_t n, max;
	const char *prefix; /* "DL_ALERT_" or "DL_EVENT_" */
	int rc;
} env_t;

static int env_add(env_t *e, const char *name, const char *val)
{
	size_t n = strlen(name) + strlen(val) + 2;
	char *s;

	if (e->n + 1 >= e->max)
		return 1; /* bounded: the rest is left out */
	if (!(s = malloc(n)))
		return (e->rc = DL_ENOMEM);
	snprintf(s, n, "%s=%s", name, val);
	e->out[e->n++] = s;
	e->out[e->n] = NULL;
	return 0;
}

/* [A-Za-z0-9] upper-cased, everything else '_'. */
static void env_name(char *out, size_t outlen, const char *a, const char *b,
		     const char *c)
{
	size_t o = 0;
	const char *parts[] = {a, b, c};

	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i]; p && *p && o + 1 < outlen; p++)
			out[o++] = isalnum((unsigned char)*p)
					   ? (char)toupper((unsigned char)*p)
					   : '_';
	out[o] = '\0';
}

static int env_pair(void *ud, const char *parent, const char *key,
		    const char *val)
{
	env_t *e = ud;
	char name[160], mid[80];

	if (!parent) {
		env_name(name, sizeof(name), e->prefix, key, NULL);
	} else {
		snprintf(mid, sizeof(mid), "%s_",
			 !strcmp(parent, "labels")	 ? "LABEL"
			 : !strcmp(parent, "attributes") ? "ATTR"
							 : parent);
		env_name(name, sizeof(name), e->prefix, mid, key);
	}
	return env_add(e, name, val);
}

int dl_notify_env(const json_t *msg, const char *who, char **out, size_t max)
{
	const char *kind = str(msg, "kind");
	bool event = !strcmp(kind, "event") || (!*kind && *str(msg, "action"));
	env_t e = {out, 0, max, event ? "DL_EVENT_" : "DL_ALERT_", 0};
	char sum[VALUE_MAX], wn[80];
	const char *eq = strchr(who, '=');

	out[0] = NULL;
	if (!eq || (size_t)(eq - who) >= sizeof(wn))
		return DL_EINVAL;
	memcpy(wn, who, (size_t)(eq - who));
	wn[eq - who] = '\0';
	summary_of(msg, sum, sizeof(sum));
	env_add(&e, "PATH",
		"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env_add(&e, wn, eq + 1);
	env_add(&e, "DL_KIND", *kind ? kind : "event");
	env_add(&e, event ? "DL_EVENT_SUMMARY" : "DL_ALERT_SUMMARY", sum);
	if (!e.rc)
		pairs(msg, env_pair, &e);
	if (e.rc) {
		dl_notify_env_free(out);
		return e.rc;
	}
	return 0;
}

void dl_notify_env_free(char **env)
{
	for (size_t i = 0; env && env[i]; i++) {
		free(env[i]);
		env[i] = NULL;
	}
}

/* ---- command words ---- */

void dl_notify_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

char **dl_notify_argv(const char *cmd, char *err, size_t errlen)
{
	char **argv = calloc(DL_NOTIFY_ARGS + 1, sizeof(*argv));
	size_t n = strlen(cmd), argc = 0;
	char *w = malloc(n + 1);
	const char *p = cmd;

	if (!argv || !w) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (;;) {
		size_t o = 0;
		bool any = false;

		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		while (*p && *p != ' ' && *p != '\t') {
			any = true;
			if (*p == '\'') {
				const char *e = strchr(p + 1, '\'');

				if (!e) {
					snprintf(err, errlen,
						 "unterminated ' in command");
					goto fail;
				}
				memcpy(w + o, p + 1, (size_t)(e - p - 1));
				o += (size_t)(e - p - 1);
				p = e + 1;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' &&
					    (p[1] == '"' || p[1] == '\\'))
						p++;
					w[o++] = *p;
				}
				if (*p != '"') {
					snprintf(err, errlen,
						 "unterminated \" in command");
					goto fail;
				}
				p++;
			} else if (*p == '\\' && p[1]) {
				w[o++] = p[1];
				p += 2;
			} else {
				w[o++] = *p++;
			}
		}
		if (!any)
			break;
		if (argc == DL_NOTIFY_ARGS) {
			snprintf(err, errlen, "command has more than %d words",
				 DL_NOTIFY_ARGS);
			goto fail;
		}
		w[o] = '\0';
		if (!(argv[argc++] = strdup(w))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (argc == 0 || argv[0][0] != '/') {
		snprintf(err, errlen,
			 "command must start with an absolute path (no shell "
			 "is used; write sh -c '...' for one)");
		goto fail;
	}
	free(w);
	return argv;
fail:
	free(w);
	dl_notify_argv_free(argv);
	return NULL;
}

/* ---- retries, logs, addresses, hooks ---- */

uint64_t dl_notify_backoff_ms(int attempt)
{
	uint64_t ms = DL_NOTIFY_BACKOFF_MIN_MS;

	for (int i = 1; i < attempt && ms < DL_NOTIFY_BACKOFF_MAX_MS; i++)
		ms *= 2;
	return ms < DL_NOTIFY_BACKOFF_MAX_MS ? ms : DL_NOTIFY_BACKOFF_MAX_MS;
}

void dl_notify_url_redact(const char *url, char *out, size_t outlen)
{
	const char *s = strstr(url, "://"), *a, *end, *at;

	if (!s) {
		snprintf(out, outlen, "(not a URL)");
		return;
	}
	a = s + 3;
	end = a + strcspn(a, "/?#");
	at = NULL;
	for (const char *p = a; p < end; p++)
		if (*p == '@')
			at = p;
	if (at)
		a = at + 1;
	snprintf(out, outlen, "%.*s://%.*s", (int)(s - url), url,
		 (int)(end - a), a);
}

int dl_notify_addr_spec(const char *addr, char *out, size_t outlen)
{
	const char *lt = strchr(addr, '<'), *gt, *b = addr, *e;

	if (lt) {
		if (!(gt = strchr(lt, '>')) || gt[1])
			return DL_EINVAL;
		b = lt + 1;
		e = gt;
	} else {
		while (*b == ' ')
			b++;
		e = b + strlen(b);
		while (e > b && e[-1] == ' ')
			e--;
	}
	if (e == b || (size_t)(e - b) + 3 > outlen || !memchr(b, '@', e - b))
		return DL_EINVAL;
	for (const char *p = b; p < e; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' ||
		    *p == ',' || *p == 0x7f)
			return DL_EINVAL;
	snprintf(out, outlen, "<%.*s>", (int)(e - b), b);
	return 0;
}

/* "exec_start: sh -c x" is an exec_start; "health_status: healthy" a
 * health_status. */
static bool action_match(const char *pat, const char *action)
{
	size_t n = strlen(pat);

	return !strcmp(pat, "*") || !strcmp(pat, action) ||
	       (!strncmp(pat, action, n) && action[n] == ':');
}

bool dl_notify_hook_match(const dl_notify_hook_t *h, const json_t *event)
{
	const char *type = str(event, "type"), *action = str(event, "action");
	bool on = false;

	for (int i = 0; i < h->non && !on; i++)
		on = (!strcmp(h->on[i].type, "*") ||
		      !strcmp(h->on[i].type, type)) &&
		     action_match(h->on[i].action, action);
	if (!on)
		return false;
	if (h->hosts && fnmatch(h->hosts, str(event, "host"), 0))
		return false;
	if (h->containers && (strcmp(type, "container") ||
			      fnmatch(h->containers, str(event, "name"), 0)))
		return false;
	return true;
}
