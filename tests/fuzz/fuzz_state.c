/*
 * fuzz_state: arbitrary entries into the market's state machine.  The
 * input is lines "<kind byte><signer byte><time byte><JSON body>\n"; each
 * becomes an (unsigned: state_apply trusts its caller to verify) envelope
 * applied on top of a small market with the default money rules (fees,
 * bonds, minimum lease, usage bounds) and a running lease, followed by the
 * derived and due entries the market would append (odd-sized inputs
 * under a pause grace: pauses, resumes and grace closes among them).  One kind byte past
 * the real kinds means "lease.started carrying a valid manifest-delivery
 * proof": the harness signs the tenant's request for body.lease (the
 * proof inside a lease.started is a real Ed25519 signature, so the keys
 * are real ones).  After every line the invariants must hold;
 * ASan/UBSan/LSan catch the rest.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cjson.h"
#include "common/envelope.h"
#include "common/err.h"
#include "ledger/state.h"

static const char *const kinds[] = {
	"account.deposit",
	"account.transfer",
	"provider.advertise",
	"provider.withdraw",
	"provider.heartbeat",
	"provider.attest",
	"provider.offline",
	"provider.online",
	"order.create",
	"order.close",
	"order.expire",
	"deployment.deposit",
	"lease.create",
	"lease.started",
	"lease.usage",
	"lease.close",
	"lease.update",
	"lease.autotopup",
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))
#define NKEYS 6 /* treasury, market, tenant, p1, p2, auditor */
#define K_TENANT 2

static uint64_t idx, nonce;
static int64_t now;
static struct key *keys[NKEYS];

static void
keyb(int n, uint8_t k[KEY_PUB_LEN])
{
	if (keys[n] == NULL) {
		uint8_t seed[KEY_SEED_LEN];
		memset(seed, 0x60 + n, sizeof(seed));
		if (key_from_seed(seed, &keys[n]) != 0)
			abort();
	}
	key_public(keys[n], k);
}

static struct envelope *
env(int who, const char *kind, json_t *body)
{
	struct envelope *e = calloc(1, sizeof(*e));
	uint8_t k[KEY_PUB_LEN];
	char t[KEY_TEXT_SIZE], nb[32];

	keyb(who, k);
	key_pub_to_text(k, t);
	snprintf(nb, sizeof(nb), "f%llu", (unsigned long long)nonce++);
	if (e == NULL ||
	    (e->json = json_pack("{s:s,s:o,s:s,s:s,s:I,s:s}", "kind", kind,
	         "body", body, "signer", t, "nonce", nb, "time",
	         (json_int_t)now, "sig", "")) == NULL)
		abort();
	e->kind = json_string_value(json_object_get(e->json, "kind"));
	e->body = json_object_get(e->json, "body");
	e->signer_text = json_string_value(json_object_get(e->json, "signer"));
	e->nonce = json_string_value(json_object_get(e->json, "nonce"));
	memcpy(e->signer, k, KEY_PUB_LEN);
	e->time_ms = now;
	return e;
}

static void
check(struct state *s)
{
	if (state_check_invariants(s) != 0) {
		fprintf(stderr, "invariant broken: %s\n", err_msg());
		abort();
	}
}

static int
apply(struct state *s, int who, const char *kind, json_t *body)
{
	struct envelope *e = env(who, kind, body);
	int rc = state_apply(s, e, idx, now, NULL);

	if (rc == 0)
		idx++;
	else if (rc == ERR_CORRUPT || rc == ERR_NOMEM)
		abort();
	envelope_free(e);
	return rc;
}

static void
drain(struct state *s, json_t *list)
{
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *d = json_array_get(list, i);
		apply(s, 1, json_string_value(json_object_get(d, "kind")),
		    json_incref(json_object_get(d, "body")));
	}
}

static void
settle(struct state *s)
{
	json_t *l;
	int guard = 0;

	while (state_pending_count(s) > 0 && guard++ < 1000) {
		if (state_pending(s, &l) != 0)
			abort();
		/* the head must always be accepted */
		json_t *d = json_array_get(l, 0);
		if (apply(s, 1, json_string_value(json_object_get(d, "kind")),
		        json_incref(json_object_get(d, "body"))) != 0) {
			fprintf(stderr, "derived entry refused: %s\n",
			    err_msg());
			abort();
		}
		json_decref(l);
		check(s);
	}
}

static char ktext[NKEYS][KEY_TEXT_SIZE];

/* body {"lease":ID,...} plus the tenant-signed manifest request for ID
 * (when the lease and its order exist; else the body as it is). */
static json_t *
with_proof(struct state *s, json_t *body)
{
	const char *lid = json_string_value(json_object_get(body, "lease"));
	json_t *l = NULL, *o = NULL, *b;
	struct envelope *e;
	char path[96];

	if (lid == NULL || state_lease_json(s, lid, &l) != 0)
		return body;
	if (state_order_json(s, json_string_value(json_object_get(l, "order")),
	        &o) != 0)
		abort();
	snprintf(path, sizeof(path), "/v1/leases/%s/manifest", lid);
	b = json_pack("{s:s,s:s,s:s}", "body_sha256",
	    json_string_value(
	        json_object_get(json_object_get(o, "body"), "manifest_hash")),
	    "method", "POST", "path", path);
	/* the tenant of the harness signs; other tenants' proofs fail */
	if (b == NULL ||
	    envelope_sign(keys[K_TENANT], "http.request", b, NULL, now, &e) !=
	        0)
		abort();
	json_object_set(body, "manifest_request", e->json);
	envelope_free(e);
	json_decref(b);
	json_decref(l);
	json_decref(o);
	return body;
}

static json_t *
parse(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if ((j = json_loads(buf, 0, NULL)) == NULL)
		abort();
	return j;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state_config c;
	struct state *s;
	json_t *body, *due;
	size_t off = 0;

	state_config_default(&c);
	c.check_invariants = 1;
	/* odd-sized inputs run under a pause grace (docs/state.md "Pause"):
	 * unfunded leases are paused, resumed by deposits, closed at the
	 * grace's end */
	c.pause_grace_ms = size % 2 ? 60000 : 0;
	keyb(0, c.treasury_key);
	keyb(1, c.market_key);
	for (int i = 0; i < NKEYS; i++) {
		uint8_t k[KEY_PUB_LEN];
		keyb(i, k);
		key_pub_to_text(k, ktext[i]);
	}
	if (state_new(&c, &s) != 0)
		abort();
	idx = 1;
	nonce = 0;
	now = 1700000000000;
	/* a small market: funds (the providers' cover their bonds), one
	 * ask, one order with a lease started with its proof */
	for (int i = 2; i < NKEYS; i++)
		apply(s, 0, "account.deposit",
		    parse("{\"to\":\"%s\",\"denom\":"
		          "\"uakt\",\"amount\":%d}",
		        ktext[i], i == 2 ? 1000000 : 50000000));
	apply(s, 3, "provider.advertise",
	    parse("{\"api_url\":\"u\","
	          "\"attributes\":{\"region\":\"eu\"},\"capacity\":{\"cpu_"
	          "millis\":"
	          "4000,\"memory_bytes\":4000000000,\"storage_bytes\":0},"
	          "\"runtimes\":[\"wasm\"],\"price\":{\"denom\":\"uakt\","
	          "\"cpu_ms\":100000,\"request\":7}}"));
	apply(s, 2, "order.create",
	    parse(
	        "{\"resources\":[{\"count\":1,"
	        "\"cpu_millis\":1000,\"memory_bytes\":1000000,\"storage_"
	        "bytes\":0}],"
	        "\"denom\":\"uakt\",\"max_price\":5000,\"manifest_hash\":\"h\","
	        "\"deposit\":20000,\"ttl_ms\":60000}"));
	settle(s);
	if (apply(s, 3, "lease.started",
	        with_proof(s, parse("{\"lease\":\"l-7\"}"))) != 0) {
		fprintf(stderr, "setup: %s\n", err_msg());
		abort();
	}
	check(s);
	while (off + 3 <= size) {
		const uint8_t *line = data + off;
		const uint8_t *nl = memchr(line + 3, '\n', size - off - 3);
		size_t len = nl ? (size_t)(nl - line) : size - off;
		off += len + 1;
		now += (int64_t)line[2] * 500;
		if (cjson_parse((const char *)line + 3, len - 3, &body) != 0)
			continue;
		if (!json_is_object(body)) {
			json_decref(body);
			continue;
		}
		if (line[0] % (NKINDS + 1) == NKINDS)
			apply(s, line[1] % NKEYS, "lease.started",
			    with_proof(s, body));
		else
			apply(s, line[1] % NKEYS, kinds[line[0] % (NKINDS + 1)],
			    body);
		check(s);
		settle(s);
		if (state_due(s, now, &due) != 0)
			abort();
		drain(s, due);
		json_decref(due);
		settle(s);
		check(s);
	}
	if (state_dump(s, &body) != 0)
		abort();
	json_decref(body);
	state_free(s);
	return 0;
}
