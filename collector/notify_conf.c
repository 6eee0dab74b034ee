/* notify_conf.c - [notify NAME] channels and [hook NAME] hooks of
 * collector.conf into a notifier, every value checked with file:line
 * (kinds, URLs, secrets read from their files, hook patterns). Runs once
 * at start, before the worker exists; never sends anything. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector/metrics.h"
#include "collector/notify_state.h"
#include "common/config.h"
#include "common/err.h"
#include "common/fdio.h"
#include "common/log.h"

#define TAG "notify"

typedef struct {
	dl_notify_t *n;
	const dl_conf_t *c;
	const char *file;
	char *err;
	size_t errlen;
} load_t;

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > DL_NOTIFY_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') ||
		      (i && (s[i] == '-' || s[i] == '_' || s[i] == '.'))))
			return false;
	return true;
}

static int bad(load_t *l, const char *sect, const char *key, int line,
	       const char *fmt, const char *a)
{
	char what[512];
	int kl = key ? dl_conf_line(l->c, sect, key) : 0;

	snprintf(what, sizeof(what), fmt, a);
	snprintf(l->err, l->errlen, "%s:%d: [%s] %s", l->file, kl ? kl : line,
		 sect, what);
	return DL_ECONFIG;
}

/* The first line of a small file, trimmed. */
static int read_secret(load_t *l, const char *sect, const char *key, char **out)
{
	const char *path = dl_conf_str(l->c, sect, key, NULL);
	char buf[DL_NOTIFY_SECRET_MAX + 1];
	long n;

	if (!path)
		return 0;
	if ((n = dl_read_first_line(path, 0, buf, sizeof(buf))) < 0)
		return bad(l, sect, key, 0, "cannot read %s",
			   path); /* errno in the sentence below */
	if (!n) {
		explicit_bzero(buf, sizeof(buf));
		return bad(l, sect, key, 0, "%s is empty", path);
	}
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return *out ? 0 : DL_ENOMEM;
}

static int dup_str(char **dst, const char *v)
{
	return v && !(*dst = strdup(v)) ? DL_ENOMEM : 0;
}

static bool url_ok(const char *u, const char *const *schemes)
{
	for (; *schemes; schemes++)
		if (!strncmp(u, *schemes, strlen(*schemes)) &&
		    u[strlen(*schemes)] && !strpbrk(u, " \t\r\n"))
			return true;
	return false;
}

static const char *const chan_common[] = {"kind", "timeout", "retries", NULL};
static const char *const chan_keys[DL_NK__COUNT][16] = {
	[DL_NK_WEBHOOK] = {"url", "header1", "header2", "header3", "header4",
			   "header5", "header6", "header7", "header8",
			   "header9"},
	[DL_NK_SLACK] = {"url"},
	[DL_NK_DISCORD] = {"url"},
	[DL_NK_NTFY] = {"url", "token_file"},
	[DL_NK_GOTIFY] = {"url", "token_file"},
	[DL_NK_TEAMS] = {"url", "card"},
	[DL_NK_EMAIL] = {"smtp_url", "starttls", "from", "to", "username",
			 "password_file"},
	[DL_NK_EXEC] = {"command"},
};

static int check_chan_keys(load_t *l, const char *sect, int kind)
{
	const char *keys[24];
	int k = 0;

	for (int i = 0; chan_common[i]; i++)
		keys[k++] = chan_common[i];
	for (int i = 0; chan_keys[kind][i]; i++)
		keys[k++] = chan_keys[kind][i];
	keys[k] = NULL;
	return dl_conf_check_section(l->c, sect, keys, l->err, l->errlen);
}

static int load_headers(load_t *l, const char *sect, dl_notify_chan_t *ch)
{
	for (int i = 1; i <= DL_NOTIFY_HEADERS; i++) {
		char key[16];
		const char *v, *colon;

		snprintf(key, sizeof(key), "header%d", i);
		if (!(v = dl_conf_str(l->c, sect, key, NULL)))
			continue;
		colon = strchr(v, ':');
		if (!colon || colon == v ||
		    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			      "wxyz"
			      "0123456789-_") != (size_t)(colon - v))
			return bad(l, sect, key, 0,
				   "%s must be \"Name: value\"", key);
		if (dup_str(&ch->headers[ch->nheaders++], v))
			return DL_ENOMEM;
	}
	return 0;
}

static int load_email(load_t *l, const char *sect, dl_notify_chan_t *ch)
{
	static const char *const schemes[] = {"smtp://", "smtps://", NULL};
	const char *v = dl_conf_str(l->c, sect, "smtp_url", NULL);
	const char *st = dl_conf_str(l->c, sect, "starttls", "yes");
	char spec[320], buf[DL_CONF_MAX_VALUE + 1], *save = NULL;

	if (!v || !url_ok(v, schemes))
		return bad(l, sect, "smtp_url", ch->line,
			   "%s needs smtp_url = smtp://HOST:PORT (or smtps://)",
			   "email");
	if (strcmp(st, "yes") && strcmp(st, "no"))
		return bad(l, sect, "starttls", 0,
			   "starttls must be yes or no%s", "");
	ch->starttls = !strcmp(st, "yes");
	v = dl_conf_str(l->c, sect, "from", NULL);
	if (!v || dl_notify_addr_spec(v, spec, sizeof(spec)))
		return bad(l, sect, "from", ch->line,
			   "%s needs from = an address (Name <a@b> or a@b)",
			   "email");
	if (dup_str(&ch->smtp_url, dl_conf_str(l->c, sect, "smtp_url", NULL)) ||
	    dup_str(&ch->from, v) ||
	    dup_str(&ch->username, dl_conf_str(l->c, sect, "username", NULL)) ||
	    read_secret(l, sect, "password_file", &ch->password))
		return l->err[0] ? DL_ECONFIG : DL_ENOMEM;
	v = dl_conf_str(l->c, sect, "to", NULL);
	if (!v)
		return bad(l, sect, NULL, ch->line,
			   "%s needs to = address[, address...]", "email");
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *a = strtok_r(buf, ",", &save); a;
	     a = strtok_r(NULL, ",", &save)) {
		while (*a == ' ')
			a++;
		if (dl_notify_addr_spec(a, spec, sizeof(spec)))
			return bad(l, sect, "to", 0,
				   "to: \"%.128s\" is not an address", a);
		if (ch->nto == DL_NOTIFY_TO_MAX)
			return bad(l, sect, "to", 0,
				   "to: more than %s addresses", "16");
		if (dup_str(&ch->to[ch->nto++], a))
			return DL_ENOMEM;
	}
	if (!ch->nto)
		return bad(l, sect, "to", 0, "to names no address%s", "");
	return 0;
}

static int load_kind(load_t *l, const char *sect, dl_notify_chan_t *ch)
{
	static const char *const http[] = {"http://", "https://", NULL};
	const char *v;
	char err[256];

	switch (ch->kind) {
	case DL_NK_EMAIL: return load_email(l, sect, ch);
	case DL_NK_EXEC:
		v = dl_conf_str(l->c, sect, "command", NULL);
		if (!v)
			return bad(l, sect, NULL, ch->line,
				   "kind = exec needs command = /path args%s",
				   "");
		if (!(ch->argv = dl_notify_argv(v, err, sizeof(err))))
			return bad(l, sect, "command", 0, "%s", err);
		return 0;
	default: break;
	}
	v = dl_conf_str(l->c, sect, "url", NULL);
	if (!v || !url_ok(v, http))
		return bad(l, sect, "url", ch->line,
			   "kind = %s needs url = http(s)://...",
			   dl_notify_kind_name(ch->kind));
	if (dup_str(&ch->url, v))
		return DL_ENOMEM;
	if (ch->kind == DL_NK_WEBHOOK)
		return load_headers(l, sect, ch);
	if (ch->kind == DL_NK_TEAMS) {
		v = dl_conf_str(l->c, sect, "card", "adaptive");
		if (strcmp(v, "adaptive") && strcmp(v, "messagecard"))
			return bad(l, sect, "card", 0,
				   "card must be adaptive or messagecard%s",
				   "");
		ch->adaptive = !strcmp(v, "adaptive");
	}
	if (read_secret(l, sect, "token_file", &ch->token))
		return l->err[0] ? DL_ECONFIG : DL_ENOMEM;
	if (ch->kind == DL_NK_GOTIFY && !ch->token)
		return bad(l, sect, NULL, ch->line,
			   "kind = gotify needs token_file (the app token)%s",
			   "");
	return 0;
}

static int load_chan(void *ud, const char *sect, const char *name, int line)
{
	load_t *l = ud;
	dl_notify_t *n = l->n;
	dl_notify_chan_t *ch, *arr;
	const char *kind = dl_conf_str(l->c, sect, "kind", NULL);
	int64_t v;

	if (!name_ok(name))
		return bad(l, sect, NULL, line,
			   "\"%s\" is not a channel name "
			   "([A-Za-z0-9][A-Za-z0-9._-], at most 63)",
			   name);
	if (!kind)
		return bad(l, sect, NULL, line,
			   "needs kind = webhook, slack, discord, ntfy, "
			   "gotify, teams, email or exec%s",
			   "");
	if (dl_notify_kind_parse(kind) < 0)
		return bad(l, sect, "kind", line,
			   "kind \"%.32s\" is not webhook, slack, discord, "
			   "ntfy, gotify, teams, email or exec",
			   kind);
	if (!(arr = realloc(n->chans, (size_t)(n->nchans + 1) * sizeof(*arr))))
		return DL_ENOMEM;
	n->chans = arr;
	ch = &arr[n->nchans++];
	memset(ch, 0, sizeof(*ch));
	snprintf(ch->name, sizeof(ch->name), "%s", name);
	ch->line = line;
	ch->kind = (dl_notify_kind_t)dl_notify_kind_parse(kind);
	if (check_chan_keys(l, sect, ch->kind))
		return DL_ECONFIG;
	if (dl_conf_duration(l->c, sect, "timeout", 10, 1, 300, &v, l->err,
			     l->errlen))
		return DL_ECONFIG;
	ch->timeout_s = (int)v;
	if (dl_conf_int(l->c, sect, "retries", 5, 0, 10, &v, l->err, l->errlen))
		return DL_ECONFIG;
	ch->retries = (int)v;
	return load_kind(l, sect, ch);
}

int dl_notify__find_chan(const dl_notify_t *n, const char *name)
{
	for (int i = 0; n && name && i < n->nchans; i++)
		if (!strcmp(n->chans[i].name, name))
			return i;
	return -1;
}

static int parse_on(load_t *l, const char *sect, dl_notify_hook_t *h)
{
	const char *v = dl_conf_str(l->c, sect, "on", NULL);
	char buf[DL_CONF_MAX_VALUE + 1], *save = NULL;

	if (!v)
		return bad(l, sect, NULL, h->line,
			   "needs on = type:action[, ...] (e.g. "
			   "container:die, host:offline)%s",
			   "");
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *p = strtok_r(buf, ",", &save); p;
	     p = strtok_r(NULL, ",", &save)) {
		char *colon, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		colon = strchr(p, ':');
		if (!colon || colon == p || !colon[1] ||
		    (size_t)(colon - p) >= sizeof(h->on[0].type) ||
		    strlen(colon + 1) >= sizeof(h->on[0].action))
			return bad(l, sect, "on", 0,
				   "on: \"%.64s\" is not type:action (use * "
				   "for any action)",
				   p);
		if (h->non == DL_NOTIFY_ON_MAX)
			return bad(l, sect, "on", 0, "on: more than %s pairs",
				   "32");
		*colon = '\0';
		snprintf(h->on[h->non].type, sizeof(h->on[0].type), "%s", p);
		snprintf(h->on[h->non].action, sizeof(h->on[0].action), "%s",
			 colon + 1);
		h->non++;
	}
	return h->non ? 0
		      : bad(l, sect, "on", 0, "on names no type:action%s", "");
}

static int load_hook(void *ud, const char *sect, const char *name, int line)
{
	static const char *const keys[] = {"on",     "hosts",	"containers",
					   "notify", "command", "timeout",
					   NULL};
	load_t *l = ud;
	dl_notify_t *n = l->n;
	dl_notify_hook_t *h, *arr;
	const char *chan = dl_conf_str(l->c, sect, "notify", NULL);
	const char *cmd = dl_conf_str(l->c, sect, "command", NULL);
	char err[256];
	int64_t v;

	if (!name_ok(name))
		return bad(l, sect, NULL, line,
			   "\"%s\" is not a hook name "
			   "([A-Za-z0-9][A-Za-z0-9._-], at most 63)",
			   name);
	if (dl_conf_check_section(l->c, sect, keys, l->err, l->errlen))
		return DL_ECONFIG;
	if (!(arr = realloc(n->hooks, (size_t)(n->nhooks + 1) * sizeof(*arr))))
		return DL_ENOMEM;
	n->hooks = arr;
	h = &arr[n->nhooks++];
	memset(h, 0, sizeof(*h));
	snprintf(h->name, sizeof(h->name), "%s", name);
	h->line = line;
	h->chan = -1;
	if (parse_on(l, sect, h))
		return DL_ECONFIG;
	if (!chan == !cmd)
		return bad(l, sect, NULL, line,
			   "needs either notify = CHANNEL or command = /path "
			   "args%s",
			   "");
	if (chan && (h->chan = dl_notify__find_chan(n, chan)) < 0)
		return bad(l, sect, "notify", 0,
			   "notify = %.64s names no [notify ...] section",
			   chan);
	if (cmd && !(h->argv = dl_notify_argv(cmd, err, sizeof(err))))
		return bad(l, sect, "command", 0, "%s", err);
	if (dup_str(&h->hosts, dl_conf_str(l->c, sect, "hosts", NULL)) ||
	    dup_str(&h->containers,
		    dl_conf_str(l->c, sect, "containers", NULL)))
		return DL_ENOMEM;
	if (dl_conf_duration(l->c, sect, "timeout", 10, 1, 3600, &v, l->err,
			     l->errlen))
		return DL_ECONFIG;
	h->timeout_s = (int)v;
	return 0;
}

static dl_notify_t *notify_new(void)
{
	dl_notify_t *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	pthread_mutex_init(&n->mu, NULL);
	if (gethostname(n->hostname, sizeof(n->hostname) - 1) ||
	    !n->hostname[0])
		snprintf(n->hostname, sizeof(n->hostname), "localhost");
	n->uniq = dl_clock_wall_ns();
	return n;
}

dl_notify_t *dl_notify_load(const char *path, char *err, size_t errlen)
{
	dl_notify_t *n = notify_new();
	dl_conf_t *c;
	load_t l;
	int rc;

	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!path)
		return n;
	if (!(c = dl_conf_load(path, err, errlen))) {
		dl_notify_free(n);
		return NULL;
	}
	err[0] = '\0';
	l = (load_t){n, c, dl_conf_path(c), err, errlen};
	rc = dl_conf_sections(c, "notify", load_chan, &l);
	if (!rc)
		rc = dl_conf_sections(c, "hook", load_hook, &l);
	dl_conf_free(c);
	if (rc) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, dl_strerror(rc));
		dl_notify_free(n);
		return NULL;
	}
	return n;
}

bool dl_notify_has(const dl_notify_t *n, const char *channel)
{
	return dl_notify__find_chan(n, channel) >= 0;
}
