/*
 * accept: host names of SDL `accept` lists, checked, claimed by one live
 * lease at a time and routed through the gateway (provider/accept.h).
 */
#include <ctype.h>
#include <strings.h>
#include <stdio.h>
#include <string.h>

#include "common/err.h"
#include "provider/accept.h"

int
accept_check_name(const char *name, const char *domain, const char *api_host)
{
	size_t n = strlen(name), label = 0, i, dl, last = 0;
	int digits_only = 1;

	if (n == 0 || n > ACCEPT_NAME_MAX)
		return err_set(ERR_REJECT,
		    "host name \"%.80s\": expected 1-%d characters", name,
		    ACCEPT_NAME_MAX);
	if (strchr(name, '*'))
		return err_set(ERR_REJECT,
		    "host name \"%.80s\": wildcards are not supported; name "
		    "each host",
		    name);
	for (i = 0; i < n; i++) {
		char ch = (char)tolower((unsigned char)name[i]);
		int alnum =
		    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (ch == '.') {
			if (label == 0 || name[i - 1] == '-')
				break;
			label = 0;
			last = i + 1;
			digits_only = 1;
			continue;
		}
		if (!alnum && ch != '-')
			break;
		if (label == 0 && ch == '-')
			break;
		if (!(ch >= '0' && ch <= '9'))
			digits_only = 0;
		if (++label > 63)
			break;
	}
	if (i < n || label == 0 || name[n - 1] == '-')
		return err_set(ERR_REJECT,
		    "host name \"%.80s\" is not valid (RFC 1123: labels of "
		    "1-63 letters, digits and hyphens, not starting or ending "
		    "with a hyphen, joined by dots)",
		    name);
	(void)last;
	if (digits_only)
		return err_set(ERR_REJECT,
		    "host name \"%.80s\" is an address, not a name", name);
	if (strcasecmp(name, "localhost") == 0)
		return err_set(ERR_REJECT,
		    "host name \"localhost\" is the provider's own");
	if (domain && *domain) {
		dl = strlen(domain);
		if (strcasecmp(name, domain) == 0 ||
		    (n > dl && name[n - dl - 1] == '.' &&
		        strcasecmp(name + n - dl, domain) == 0))
			return err_set(ERR_REJECT,
			    "host name \"%.80s\" is under the provider's "
			    "domain %s, whose names are its own "
			    "(<lease>-<service>.%s)",
			    name, domain, domain);
	}
	if (api_host && *api_host && strcasecmp(name, api_host) == 0)
		return err_set(ERR_REJECT,
		    "host name \"%.80s\" is the provider's API host", name);
	return 0;
}

int
accept_host_of(const char *host, char *out, size_t cap)
{
	size_t n, i;

	if (host == NULL || *host == '\0' || *host == '[')
		return 0;
	n = strcspn(host, ":");
	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 0 || n >= cap || n > ACCEPT_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)host[i]);
	out[n] = '\0';
	return 1;
}

int
accept_host_unclaimable(const char *name, const char *domain)
{
	const char *last = strrchr(name, '.');
	size_t n = strlen(name), dl;

	last = last ? last + 1 : name;
	if (*last && strspn(last, "0123456789") == strlen(last))
		return 1;
	if (domain && *domain) {
		dl = strlen(domain);
		if (strcmp(name, domain) == 0 ||
		    (n > dl && name[n - dl - 1] == '.' &&
		        strcasecmp(name + n - dl, domain) == 0))
			return 1;
	}
	return 0;
}

/* Is service svc one of l's replicas'? */
static int
has_service(const struct lease *l, const char *svc)
{
	for (size_t i = 0; i < l->nrep; i++)
		if (strcmp(l->rep[i].service, svc) == 0)
			return 1;
	return 0;
}

int
accept_claims(const struct lease *l, const char *domain, const char *api_host,
    json_t **out)
{
	const json_t *svcs = json_object_get(l->manifest, "services");
	const char *name;
	json_t *svc, *ex, *h, *arr = json_array();
	size_t i, k;
	int rc;

	*out = NULL;
	if (arr == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	json_object_foreach((json_t *)svcs, name, svc)
	{
		if (!has_service(l, name))
			continue;
		json_array_foreach(json_object_get(svc, "expose"), i, ex)
		{
			const json_t *acc = json_object_get(ex, "accept");
			json_int_t port =
			    json_integer_value(json_object_get(ex, "port"));
			json_array_foreach(acc, k, h)
			{
				const char *hn = json_string_value(h);
				char low[ACCEPT_NAME_MAX + 1];
				if (hn == NULL) {
					rc = err_set(ERR_REJECT,
					    "services.%s.expose[%zu].accept[%"
					    "zu]"
					    ": expected a host name",
					    name, i, k);
					goto fail;
				}
				if ((rc = accept_check_name(hn, domain,
				         api_host)) < 0) {
					err_prefix(rc,
					    "services.%s.expose[%zu].accept[%"
					    "zu]",
					    name, i, k);
					goto fail;
				}
				if (!json_is_true(
				        json_object_get(ex, "global"))) {
					rc = err_set(ERR_REJECT,
					    "services.%s.expose[%zu].accept[%"
					    "zu]"
					    ": %s is accepted on an expose "
					    "that is not global: only global "
					    "exposes are reachable through the "
					    "gateway",
					    name, i, k, hn);
					goto fail;
				}
				accept_host_of(hn, low, sizeof(low));
				if (json_array_append_new(arr,
				        json_pack("{s:s,s:s,s:I}", "host", low,
				            "service", name, "port", port)) <
				    0) {
					rc =
					    err_set(ERR_NOMEM, "out of memory");
					goto fail;
				}
			}
		}
	}
	*out = arr;
	return 0;
fail:
	json_decref(arr);
	return rc;
}

/* The claim of l on host, or NULL. */
static const json_t *
claim_of(const struct lease *l, const char *host)
{
	const json_t *svcs = json_object_get(l->manifest, "services");
	const char *name;
	json_t *svc, *ex, *h;
	size_t i, k;

	json_object_foreach((json_t *)svcs, name, svc)
	{
		json_array_foreach(json_object_get(svc, "expose"), i, ex)
		{
			json_array_foreach(json_object_get(ex, "accept"), k, h)
			{
				const char *hn = json_string_value(h);
				if (hn && strcasecmp(hn, host) == 0 &&
				    has_service(l, name))
					return ex;
			}
		}
	}
	return NULL;
}

int
accept_conflict(const struct lease *head, const struct lease *self,
    const json_t *claims)
{
	const struct lease *o;
	json_t *c;
	size_t i;

	json_array_foreach(claims, i, c)
	{
		const char *host =
		    json_string_value(json_object_get(c, "host"));
		for (o = head; o; o = o->next) {
			/* a lease holds its names while it runs; one being
			 * closed has let them go */
			if (o == self || o->status != LEASE_RUNNING ||
			    o->pending_close[0] || o->manifest == NULL ||
			    strcmp(o->id, self->id) == 0)
				continue;
			if (claim_of(o, host) != NULL)
				return err_set(ERR_REJECT,
				    "host name %s is taken by another lease "
				    "on this provider: choose another name "
				    "in accept",
				    host);
		}
	}
	return 0;
}

int
accept_route(const struct lease *head, const char *host, const char *path,
    struct gateway_route *rt)
{
	const struct lease *l;
	char low[ACCEPT_NAME_MAX + 1];

	if (!accept_host_of(host, low, sizeof(low)))
		return 0;
	for (l = head; l; l = l->next) {
		const json_t *svcs, *svc, *ex = NULL;
		const char *name;
		if (l->status != LEASE_RUNNING || l->pending_close[0] ||
		    l->manifest == NULL)
			continue;
		svcs = json_object_get(l->manifest, "services");
		json_object_foreach((json_t *)svcs, name, svc)
		{
			size_t i, k;
			json_t *e, *h;
			json_array_foreach(json_object_get(svc, "expose"), i, e)
			{
				json_array_foreach(json_object_get(e, "accept"),
				    k, h)
				{
					const char *hn = json_string_value(h);
					if (hn && strcasecmp(hn, low) == 0)
						ex = e;
				}
			}
			if (ex == NULL || !has_service(l, name)) {
				ex = NULL;
				continue;
			}
			if (path && strlen(path) > GATEWAY_MAX_TARGET)
				return err_set(ERR_LIMIT,
				    "gateway: request target longer than %u "
				    "bytes",
				    GATEWAY_MAX_TARGET);
			memset(rt, 0, sizeof(*rt));
			snprintf(rt->lease, sizeof(rt->lease), "%s", l->id);
			snprintf(rt->service, sizeof(rt->service), "%s", name);
			snprintf(rt->path, sizeof(rt->path), "%s",
			    path && *path ? path : "/");
			rt->port = (uint16_t)json_integer_value(
			    json_object_get(ex, "port"));
			rt->by_host = 1;
			return 1;
		}
	}
	return 0;
}
