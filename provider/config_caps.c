/*
 * config_caps: the capabilities a provider advertises beyond its runtimes
 * (issue 15): the storage classes its volumes can honour.  Each row of
 * cap_rows adds what one feature offers; a provider never advertises
 * what it cannot provide, so an order needing it does not match.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "provider/config.h"
#include "sandbox/tool.h"
#include "sandbox/volume.h"

int
config_disk_volumes_available(char *why, size_t cap)
{
	char path[64];

	if (why && cap)
		why[0] = 0;
	if (geteuid() != 0) {
		if (why)
			snprintf(why, cap,
			    "disk volumes need root (loop devices, mount)");
		return 0;
	}
	if (access("/dev/loop-control", R_OK | W_OK) != 0) {
		if (why)
			snprintf(why, cap,
			    "no /dev/loop-control (the loop module is not "
			    "loaded)");
		return 0;
	}
	if (tool_find("mkfs.ext4", "e2fsprogs", path, sizeof(path)) != 0) {
		if (why)
			snprintf(why, cap, "%s", err_msg());
		err_clear();
		return 0;
	}
	return 1;
}

const char *
config_storage_classes(const struct provider_config *c)
{
	return c->storage_classes[0] ? c->storage_classes :
	                               volume_default_classes();
}

int
config_parse_storage_classes(struct provider_config *c, const char *s)
{
	char buf[sizeof(c->storage_classes)], *tok, *save = NULL;
	enum volume_kind kind;
	size_t n = 0;

	if (strlen(s) >= sizeof(buf))
		return err_set(ERR_INVAL, "--storage-classes: too long");
	snprintf(buf, sizeof(buf), "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (strcmp(tok, "ram") == 0 ||
		    (strcmp(tok, "none") == 0 && n == 0 && save && !*save))
			continue; /* ram: always offered; none: alone */
		if (volume_kind_of(tok, 0, "--storage-classes", &kind) != 0)
			return ERR_INVAL;
		n++;
	}
	snprintf(c->storage_classes, sizeof(c->storage_classes), "%s",
	    s[0] ? s : "none");
	return 0;
}

/* "storage/CLASS" for each disk class offered, when disk volumes can be
 * made here; "storage/ram" (a tmpfs) always. */
static int
caps_storage(const struct provider_config *c, json_t *out)
{
	char buf[sizeof(c->storage_classes)], name[80], *tok, *save = NULL;

	if (json_array_append_new(out, json_string("storage/ram")))
		return ERR_NOMEM;
	if (!config_disk_volumes_available(NULL, 0))
		return 0;
	snprintf(buf, sizeof(buf), "%s", config_storage_classes(c));
	for (tok = strtok_r(buf, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		enum volume_kind kind;
		if (strcmp(tok, "ram") == 0 ||
		    volume_kind_of(tok, 0, "storage class", &kind) != 0) {
			err_clear(); /* "none", or a class of a later Lodge */
			continue;
		}
		snprintf(name, sizeof(name), "storage/%s", tok);
		if (json_array_append_new(out, json_string(name)))
			return ERR_NOMEM;
	}
	return 0;
}

/* One row per feature.  Not here, because Lodge cannot honour them yet:
 * "ip" (no IP leases: a provider has no pool of public addresses to
 * give a lease) and "gpu" (no device is passed into a sandbox). */
static int (*const cap_rows[])(const struct provider_config *, json_t *) = {
	caps_storage,
	config_net_capabilities,
};

json_t *
config_capabilities_json(const struct provider_config *c)
{
	json_t *out = json_array();

	for (size_t i = 0; out && i < sizeof(cap_rows) / sizeof(cap_rows[0]);
	     i++)
		if (cap_rows[i](c, out) != 0) {
			json_decref(out);
			return NULL;
		}
	return out;
}

int
config_offers(const struct provider_config *c, const char *capability)
{
	json_t *caps = config_capabilities_json(c), *v;
	size_t i;
	int found = 0;

	json_array_foreach(caps, i, v)
	{
		if (strcmp(json_string_value(v), capability) == 0)
			found = 1;
	}
	json_decref(caps);
	return found;
}
