/* alerts_labels.c - the containers' labels the engine knows (from
 * INVENTORY and CONTAINER frames, and the store at start-up), for rules'
 * `label =` scopes and the messages' `labels`. A change of a host's
 * labels counts in its memory's labels_gen, so alerts_stats.c works out
 * the host's rule scopes again; it never touches alert state. */
#include <string.h>

#include "collector/alerts_int.h"
#include "common/utf8.h"

/* The host's label changes, counted on its memory (rule == nrules). */
static void labels_changed(dl_alerts_t *e, const char *host)
{
	inst_t *mem = dl_alerts__get(e, e->nrules, host, "", true);

	if (mem)
		mem->labels_gen++;
}

json_t *dl_alerts__labels_of(dl_alerts_t *e, const char *host, const char *ctr)
{
	json_t *l =
		ctr[0] ? json_object_get(json_object_get(e->labels, host), ctr)
		       : NULL;

	return l ? json_incref(l) : json_object();
}

static json_t *labels_json(const dl_labels_t *l)
{
	json_t *o = json_object();
	char k[DL_MAX_LABEL_KEY + 1], v[DL_MAX_LABEL_VALUE + 1];

	for (uint32_t i = 0; o && i < l->n; i++) {
		dl_str_copy(k, sizeof(k), l->v[i].key);
		dl_str_copy(v, sizeof(v), l->v[i].value);
		dl_utf8_fix(k);
		dl_utf8_fix(v);
		json_object_set_new(o, k, json_string(v));
	}
	return o;
}

static const char *ctr_name(const dl_container_t *c, char *out, size_t len)
{
	dl_str_copy(out, len, c->name);
	dl_utf8_fix(out);
	return out[0] == '/' ? out + 1 : out;
}

void dl_alerts_set_labels(dl_alerts_t *e, const char *host, const char *ctr,
			  json_t *labels)
{
	json_t *h = json_object_get(e->labels, host);

	if (!h) {
		h = json_object();
		if (!h || json_object_set_new(e->labels, host, h))
			return;
	}
	json_object_set(h, ctr, labels);
	labels_changed(e, host);
}

void dl_alerts_inventory(dl_alerts_t *e, const char *host,
			 const dl_container_t *v, uint32_t n)
{
	json_t *old = json_object_get(e->labels, host);
	json_t *h = json_object();
	char buf[CTR_MAX + 2];

	if (!h)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const char *name = ctr_name(&v[i], buf, sizeof(buf));
		json_t *l = v[i].labels.has
				    ? labels_json(&v[i].labels)
				    : json_incref(json_object_get(old, name));

		if (l && name[0])
			json_object_set_new(h, name, l);
		else
			json_decref(l);
	}
	json_object_set_new(e->labels, host, h);
	labels_changed(e, host);
}

void dl_alerts_container(dl_alerts_t *e, const char *host, bool removed,
			 const dl_container_t *c)
{
	json_t *h = json_object_get(e->labels, host);
	char buf[CTR_MAX + 2];
	const char *name = ctr_name(c, buf, sizeof(buf));
	json_t *l;

	if (removed) {
		json_object_del(h, name);
		labels_changed(e, host);
		return;
	}
	if (!c->labels.has || !name[0] || !(l = labels_json(&c->labels)))
		return;
	dl_alerts_set_labels(e, host, name, l);
	json_decref(l);
}

bool dl_alerts__rule_label(dl_alerts_t *e, const dl_alert_rule_t *r,
			   const char *host, const char *ctr,
			   const json_t *attrs)
{
	json_t *l;

	if (!r->has_label)
		return true;
	l = json_object_get(json_object_get(e->labels, host), ctr);
	if (!l)
		l = (json_t *)attrs;
	return dl_label_filter_match(
		&r->label, json_string_value(json_object_get(l, r->label.key)));
}
