/* spec.c - deploy specs: run's args and old containers -> create bodies. */
#include "agent/spec.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "proto/control.h"

/* "8080:80/udp" -> key "80/udp", host "8080". */
static int port_parts(const char *s, char *key, size_t keylen, char *host,
		      size_t hostlen)
{
	const char *colon = strchr(s, ':');
	const char *slash = strchr(s, '/');

	if (!colon)
		return DL_EINVAL;
	snprintf(host, hostlen, "%.*s", (int)(colon - s), s);
	snprintf(key, keylen, "%.*s/%s",
		 (int)(slash ? slash - colon - 1 : (long)strlen(colon + 1)),
		 colon + 1, slash ? slash + 1 : "tcp");
	return 0;
}

static int add_ports(json_t *cfg, json_t *hc, const json_t *ports)
{
	json_t *exposed = json_object(), *bind = json_object(), *e;
	size_t i;

	if (!exposed || !bind)
		goto fail;
	json_array_foreach(ports, i, e)
	{
		char key[32], host[16];
		json_t *list;

		if (port_parts(json_string_value(e), key, sizeof(key), host,
			       sizeof(host)))
			goto fail;
		json_object_set_new(exposed, key, json_object());
		if (!(list = json_object_get(bind, key))) {
			list = json_array();
			json_object_set_new(bind, key, list);
		}
		json_array_append_new(list,
				      json_pack("{s:s}", "HostPort", host));
	}
	json_object_set_new(cfg, "ExposedPorts", exposed);
	json_object_set_new(hc, "PortBindings", bind);
	return 0;
fail:
	json_decref(exposed);
	json_decref(bind);
	return DL_ENOMEM;
}

static json_t *labels_object(const json_t *labels)
{
	json_t *o = json_object(), *e;
	size_t i;

	json_array_foreach(labels, i, e)
	{
		const char *s = json_string_value(e), *eq = strchr(s, '=');
		char key[DL_CTL_LABEL_KEY_MAX + 1];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
		json_object_set_new(o, key, json_string(eq + 1));
	}
	return o;
}

json_t *dl_spec_restart(const char *s)
{
	char name[32];
	int n = 0;

	if (!dl_control_restart_ok(s, name, sizeof(name), &n))
		return NULL;
	return json_pack("{s:s,s:i}", "Name", name, "MaximumRetryCount", n);
}

json_t *dl_spec_from_args(const json_t *args)
{
	json_t *b = json_pack("{s:O}", "Image", json_object_get(args, "image"));
	json_t *hc = json_object(), *v;

	if (!b || !hc)
		goto fail;
	json_object_set(b, "HostConfig", hc);
	if ((v = json_object_get(args, "env")))
		json_object_set(b, "Env", v);
	if ((v = json_object_get(args, "cmd")))
		json_object_set(b, "Cmd", v);
	if ((v = json_object_get(args, "labels")))
		json_object_set_new(b, "Labels", labels_object(v));
	if ((v = json_object_get(args, "ports")) && add_ports(b, hc, v))
		goto fail;
	if ((v = json_object_get(args, "volumes")))
		json_object_set(hc, "Binds", v);
	if ((v = json_object_get(args, "restart")))
		json_object_set_new(hc, "RestartPolicy",
				    dl_spec_restart(json_string_value(v)));
	if ((v = json_object_get(args, "network")))
		json_object_set(hc, "NetworkMode", v);
	if ((v = json_object_get(args, "memory")))
		json_object_set(hc, "Memory", v);
	if ((v = json_object_get(args, "cpus")))
		json_object_set_new(
			hc, "NanoCpus",
			json_integer((json_int_t)(json_number_value(v) * 1e9 +
						  0.5)));
	if ((v = json_object_get(args, "health_cmd"))) {
		json_int_t iv = json_integer_value(
			json_object_get(args, "health_interval"));

		json_object_set_new(
			b, "Healthcheck",
			json_pack("{s:[s,O]}", "Test", "CMD-SHELL", v));
		if (iv)
			json_object_set_new(json_object_get(b, "Healthcheck"),
					    "Interval",
					    json_integer(iv * 1000000000));
	}
	json_decref(hc);
	return b;
fail:
	json_decref(hc);
	json_decref(b);
	return NULL;
}

/* ---- from an old container ----------------------------------------- */

/* Drops cfg's key when it equals the old image's value. */
static void drop_same(json_t *cfg, const json_t *icfg, const char *key)
{
	json_t *v = json_object_get(cfg, key);

	if (v && json_equal(v, json_object_get(icfg, key)))
		json_object_del(cfg, key);
}

/* Env entries the image set, unchanged. */
static void drop_image_env(json_t *cfg, const json_t *icfg)
{
	json_t *env = json_object_get(cfg, "Env"), *ienv, *e, *out;
	size_t i, j;

	ienv = json_object_get(icfg, "Env");
	if (!json_is_array(env) || !json_is_array(ienv))
		return;
	if (!(out = json_array()))
		return;
	json_array_foreach(env, i, e)
	{
		json_t *ie;
		bool same = false;

		json_array_foreach(ienv, j, ie) same =
			same || json_equal(e, ie);
		if (!same)
			json_array_append(out, e);
	}
	json_object_set_new(cfg, "Env", out);
}

static void drop_image_labels(json_t *cfg, const json_t *icfg)
{
	json_t *labels = json_object_get(cfg, "Labels"), *v;
	json_t *il = json_object_get(icfg, "Labels");
	const char *k;
	void *tmp;

	if (!json_is_object(labels) || !json_is_object(il))
		return;
	json_object_foreach_safe(labels, tmp, k, v)
	{
		if (json_equal(v, json_object_get(il, k)))
			json_object_del(labels, k);
	}
}

/* Only the primary network (HostConfig.NetworkMode) can be given at
 * create; its aliases and fixed addresses go along. Docker's own alias
 * (the old short id) stays behind. */
static json_t *endpoints(const json_t *ctr)
{
	const char *mode = json_string_value(json_object_get(
		json_object_get(ctr, "HostConfig"), "NetworkMode"));
	const char *id = json_string_value(json_object_get(ctr, "Id"));
	json_t *ep = json_object_get(
		json_object_get(json_object_get(ctr, "NetworkSettings"),
				"Networks"),
		mode ? mode : "");
	json_t *out, *aliases, *a;
	size_t i;

	if (!mode || !ep || !strcmp(mode, "default") ||
	    !strcmp(mode, "bridge") || !strcmp(mode, "host") ||
	    !strcmp(mode, "none"))
		return NULL;
	out = json_object();
	aliases = json_array();
	json_array_foreach(json_object_get(ep, "Aliases"), i, a)
	{
		const char *s = json_string_value(a);

		if (s && !(id && strlen(s) == 12 && !strncmp(id, s, 12)))
			json_array_append(aliases, a);
	}
	json_object_set_new(out, "Aliases", aliases);
	if (json_object_get(ep, "IPAMConfig") &&
	    !json_is_null(json_object_get(ep, "IPAMConfig")))
		json_object_set(out, "IPAMConfig",
				json_object_get(ep, "IPAMConfig"));
	return json_pack("{s:{s:o}}", "EndpointsConfig", mode, out);
}

json_t *dl_spec_from_inspect(const json_t *ctr, const json_t *img,
			     const char *image)
{
	static const char *const same[] = {"Cmd",  "Entrypoint",  "WorkingDir",
					   "User", "Healthcheck", "Volumes"};
	json_t *cfg = json_deep_copy(json_object_get(ctr, "Config"));
	json_t *hc = json_object_get(ctr, "HostConfig"), *icfg, *net, *b;
	const char *id = json_string_value(json_object_get(ctr, "Id"));
	const char *hn;

	if (!json_is_object(cfg) || !json_is_object(hc)) {
		json_decref(cfg);
		return NULL;
	}
	icfg = json_object_get(img, "Config");
	if (json_is_object(icfg)) {
		drop_image_env(cfg, icfg);
		drop_image_labels(cfg, icfg);
		for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
			drop_same(cfg, icfg, same[i]);
	}
	hn = json_string_value(json_object_get(cfg, "Hostname"));
	if (hn && id && strlen(hn) == 12 && !strncmp(id, hn, 12))
		json_object_del(cfg, "Hostname");
	json_object_set_new(cfg, "Image", json_string(image));
	json_object_set(cfg, "HostConfig", hc);
	if ((net = endpoints(ctr)))
		json_object_set_new(cfg, "NetworkingConfig", net);
	b = cfg;
	return b;
}

int dl_spec_split_image(const char *image, char *from, size_t fromlen,
			char *tag, size_t taglen)
{
	const char *slash = strrchr(image, '/');
	const char *colon = strrchr(slash ? slash : image, ':');
	int w;

	if (strchr(image, '@')) {
		w = snprintf(from, fromlen, "%s", image);
		tag[0] = '\0';
		return w < 0 || (size_t)w >= fromlen ? DL_EINVAL : 0;
	}
	w = snprintf(from, fromlen, "%.*s",
		     (int)(colon ? (size_t)(colon - image) : strlen(image)),
		     image);
	if (w < 0 || (size_t)w >= fromlen)
		return DL_EINVAL;
	w = snprintf(tag, taglen, "%s", colon ? colon + 1 : "latest");
	return w < 0 || (size_t)w >= taglen ? DL_EINVAL : 0;
}
