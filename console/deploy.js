// deploy: deploy from the browser.  The tenant key lives in this browser
// (IndexedDB; WebCrypto Ed25519, generated or imported as not
// extractable); the SDL is validated by the market's C validator (POST
// /v1/sdl/check, the messages of `sdl check`); entries are signed here
// exactly as the CLI signs them (common/envelope.c: Ed25519 over the
// canonical JSON of the envelope without sig) and requests to the
// provider carry X-Lodge-Signature (common/reqsig.c).  Progress follows
// the market's event stream; the provider's status is asked each second.

import { api } from "./api.js";
import { S, errorBox, route } from "./app.js";
import { b64decode, b64url, b64urlDecode, canonical, el, fmtAmount, fmtTime, hex, utf8 } from "./util.js";
import { sha256 } from "./verify.js";

const DEFAULT_DEPOSIT_EPOCHS = 600; // tenant/deploy.h
const DEFAULT_TTL_MS = 60000;

// ---- the key, in IndexedDB --------------------------------------------

function db() {
	return new Promise((ok, fail) => {
		const r = indexedDB.open("lodge-console", 1);
		r.onupgradeneeded = () => r.result.createObjectStore("keys");
		r.onsuccess = () => ok(r.result);
		r.onerror = () => fail(r.error);
	});
}

async function idb(mode, fn) {
	const d = await db();
	return new Promise((ok, fail) => {
		const tx = d.transaction("keys", mode);
		const req = fn(tx.objectStore("keys"));
		tx.oncomplete = () => ok(req && req.result);
		tx.onerror = () => fail(tx.error);
	});
}

let K = null; // {priv: CryptoKey (not extractable), pub: "ed25519:..."}

async function loadKey() {
	K = (await idb("readonly", (s) => s.get("tenant"))) || null;
	if (K) window.__lodgeKeyExtractable = K.priv.extractable;
	return K;
}

async function saveKey(priv, pubRaw) {
	K = { priv, pub: "ed25519:" + b64url(pubRaw) };
	await idb("readwrite", (s) => s.put(K, "tenant"));
	window.__lodgeKeyExtractable = priv.extractable;
}

async function generateKey() {
	const kp = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
	const raw = new Uint8Array(await crypto.subtle.exportKey("raw", kp.publicKey));
	await saveKey(kp.privateKey, raw);
}

// A PKCS#8 PEM file, as `tenant keygen` writes: imported once as
// extractable to learn its public key, then kept not extractable.
async function importPem(text) {
	const m = /-----BEGIN PRIVATE KEY-----([\s\S]+?)-----END PRIVATE KEY-----/.exec(text);
	if (!m) throw new Error("not a PKCS#8 PEM private key (-----BEGIN PRIVATE KEY-----)");
	const der = b64decode(m[1].replace(/\s+/g, ""));
	const tmp = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, ["sign"]);
	const jwk = await crypto.subtle.exportKey("jwk", tmp);
	const priv = await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, ["sign"]);
	await saveKey(priv, b64urlDecode(jwk.x));
}

// ---- signing ---------------------------------------------------------------

export async function envelope(kind, body) {
	const env = { body, kind, nonce: hex(crypto.getRandomValues(new Uint8Array(16))), signer: K.pub, time: Date.now() };
	const sig = await crypto.subtle.sign({ name: "Ed25519" }, K.priv, utf8(canonical(env)));
	env.sig = b64url(new Uint8Array(sig));
	return env;
}

async function submit(kind, body) {
	const env = await envelope(kind, body);
	return api("/v1/entries", { method: "POST", headers: { "Content-Type": "application/json" }, body: canonical(env) });
}

// A signed request to a provider: X-Lodge-Signature is the base64url of
// the canonical JSON of an "http.request" envelope over method, host,
// path (with query) and the body's SHA-256.
async function providerRequest(base, method, path, body, signal) {
	const u = new URL(path, base);
	const bytes = body === undefined ? new Uint8Array() : utf8(body);
	const env = await envelope("http.request", {
		body_sha256: hex(await sha256(bytes)), host: u.host, method, path: u.pathname + u.search,
	});
	const headers = { "X-Lodge-Signature": b64url(utf8(canonical(env))) };
	if (body !== undefined) headers["Content-Type"] = "application/json";
	return fetch(u, { method, headers, body: body === undefined ? undefined : bytes, signal });
}

async function providerFetch(base, method, path, body) {
	const u = new URL(path, base);
	const r = await providerRequest(base, method, path, body);
	const text = await r.text();
	if (!r.ok) {
		let why = text;
		try {
			why = JSON.parse(text).error || text;
		} catch {}
		throw new Error(`${method} ${u.pathname}: ${r.status} ${why}`);
	}
	return text;
}

// ---- the deployments this browser made ----------------------------------------

const DEPLOYS = "lodge.deployments";
const deployments = () => JSON.parse(localStorage.getItem(DEPLOYS) || "[]");
const saveDeployments = (d) => localStorage.setItem(DEPLOYS, JSON.stringify(d));

let checked = null; // the last sdl/check answer that was ok
const log = []; // progress lines: [step, text, ok]
const said = new Map(); // the buttons' messages and logs, by element id
let watching = null; // {orders: [{order, lease, api, manifest_text, sent, running}]}

function say(step, text, ok = true) {
	log.push([step, text, ok]);
	const ol = document.getElementById("deploy-steps");
	if (ol) ol.append(stepLine(log[log.length - 1]));
}
const stepLine = ([step, text, ok]) => el("li", { "data-step": step, class: ok ? "" : "bad" }, el("strong", {}, step), " ", text);

async function check(text) {
	const r = await api("/v1/sdl/check?name=deploy.yaml", { method: "POST", body: text });
	return r;
}

function resultBox(r) {
	const box = el("div", { id: "sdl-result", "data-ok": String(r.ok), role: "status", class: `verdict ${r.ok ? "ok" : "fail"}` },
		el("strong", {}, r.ok ? "✓ valid" : "✗ refused"),
		r.ok ? ` — ${r.orders.length} placement group(s), manifest sha256 ${r.manifest_hash.slice(0, 12)}…` : "");
	const msgs = [...(r.warnings || []).map((w) => ["warning", w]), ...(r.errors || []).map((e) => ["error", e])];
	if (msgs.length) box.append(el("ul", {}, msgs.map(([k, m]) => el("li", { class: k === "error" ? "bad" : "" }, m))));
	return box;
}

async function deploy(depositText) {
	const r = checked;
	// the bytes delivered must hash to the manifest_hash the order names
	if (hex(await sha256(utf8(r.manifest_text))) !== r.manifest_hash) throw new Error("the market's manifest text does not hash to its manifest_hash");
	say("validated", `${r.orders.length} placement group(s)`);
	const d = { created: Date.now(), orders: [], manifest_text: r.manifest_text };
	for (const g of r.orders) {
		const body = { ...g, deposit: depositText ? Number(depositText) : g.max_price * DEFAULT_DEPOSIT_EPOCHS, ttl_ms: DEFAULT_TTL_MS };
		const res = await submit("order.create", body);
		d.orders.push({ order: res.id, placement: g.placement || "", denom: g.denom });
		say("posted", `order ${res.id}: bid up to ${fmtAmount(g.max_price, g.denom)}/epoch, escrow ${fmtAmount(body.deposit, g.denom)}`);
	}
	d.id = d.orders[0].order;
	saveDeployments([d, ...deployments().filter((x) => x.id !== d.id)]);
	location.hash = `#/deploy/${d.id}`;
}

// Called on each state change: move the deployment on.
async function progress() {
	if (!watching) return;
	for (const o of watching.orders) {
		const order = await api(`/v1/orders/${o.order}`).catch(() => null);
		if (!order) continue;
		if (!o.lease && order.lease) {
			o.lease = order.lease;
			const l = await api(`/v1/leases/${o.lease}`).catch(() => null);
			say("matched", `order ${o.order} → lease ${o.lease} with ${l ? l.provider.slice(8, 16) : "?"}… at ${fmtAmount(l && l.price, order.denom)}/epoch`);
		}
		if (!o.lease && order.status !== "open" && !o.failed) {
			o.failed = true;
			say("match", `order ${o.order} ${order.status}${order.reason ? ` (${order.reason})` : ""}`, false);
		}
		if (o.lease && !o.sent && !o.sending) {
			o.sending = true;
			try {
				const l = await api(`/v1/leases/${o.lease}`);
				const p = S.providers.find((x) => x.key === l.provider);
				if (!p || !p.ask) throw new Error(`provider ${l.provider} has no ask on this market`);
				o.api = p.ask.api_url;
				await providerFetch(o.api, "POST", `/v1/leases/${o.lease}/manifest`, watching.manifest_text);
				o.sent = true;
				say("manifest", `sent to ${o.api} (signed in this browser)`);
				pollStatus(o);
			} catch (e) {
				say("manifest", e.message, false);
			}
		}
	}
}

async function pollStatus(o) {
	for (let i = 0; i < 120 && watching && watching.orders.includes(o); i++) {
		try {
			const st = JSON.parse(await providerFetch(o.api, "GET", `/v1/leases/${o.lease}/status`));
			o.status = st;
			const box = document.getElementById(`status-${o.lease}`);
			if (box) box.replaceChildren(statusView(o));
			if (st.status === "running" && !o.running) {
				o.running = true;
				say("running", `${o.lease}: every replica running`);
				// each service exposed globally answers through the gateway
				const svcs = new Set((st.replicas || []).filter((r) => (r.expose || []).some((x) => x.global)).map((r) => r.service));
				for (const svc of svcs) say("url", `${svc}: ${o.api}/l/${o.lease}/${svc}/`);
			}
			if (["failed", "closed", "stopped"].includes(st.status)) return;
		} catch (e) {
			o.statusError = e.message;
		}
		await new Promise((r) => setTimeout(r, 1000));
	}
}

// Follow a lease's logs (the provider's ?follow=1 stream) into its
// <pre> until Stop, the lease's end or the page's.
const following = new Map(); // order -> AbortController

async function followLogs(o) {
	const id = `logs-${o.order}`;
	if (following.has(o.order)) {
		following.get(o.order).abort();
		following.delete(o.order);
		const b = document.getElementById(`follow-btn-${o.order}`);
		if (b) b.textContent = "Follow logs";
		return "stopped following";
	}
	const ctl = new AbortController();
	following.set(o.order, ctl);
	const b = document.getElementById(`follow-btn-${o.order}`);
	if (b) b.textContent = "Stop following";
	const r = await providerRequest(o.api, "GET", `/v1/leases/${o.lease}/logs?follow=1`, undefined, ctl.signal);
	if (!r.ok) {
		following.delete(o.order);
		throw new Error(`logs: ${r.status} ${await r.text()}`);
	}
	(async () => {
		const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
		try {
			for (;;) {
				const { value, done } = await reader.read();
				if (done) break;
				said.set(id, (said.get(id) || "") + value);
				const pre = document.getElementById(id);
				if (pre) {
					pre.textContent = said.get(id);
					pre.hidden = false;
					pre.scrollTop = pre.scrollHeight;
				}
			}
		} catch {
			// aborted, or the provider went
		}
		following.delete(o.order);
	})();
	return "following the logs";
}

function statusView(o) {
	if (!o.status) return el("p", { class: "muted" }, o.statusError || "no status yet");
	return el("pre", { class: "json", "data-status": o.status.status }, JSON.stringify(o.status, null, 2));
}

window.addEventListener("lodge:state", () => progress().catch(() => {}));

// ---- pages -----------------------------------------------------------------------

function keySection() {
	const box = el("section", { "aria-labelledby": "h-key" }, el("h2", { id: "h-key" }, "1. Your tenant key"));
	if (K) {
		const acct = el("span", { id: "balance" }, "…");
		api(`/v1/accounts/${encodeURIComponent(K.pub)}`).then((a) => {
			acct.textContent = Object.entries(a.balances || {}).map(([d, v]) => fmtAmount(v, d)).join(", ") || "0";
		}, () => (acct.textContent = "0 (no account yet: ask the market's operator for a deposit)"));
		box.append(el("p", {}, "Kept in this browser (WebCrypto, not extractable): ", el("code", { id: "tenant-key" }, K.pub)),
			el("p", {}, "Balance: ", acct),
			el("button", { type: "button", id: "key-forget", onclick: async () => {
				if (!confirm("Forget this key? Without a copy elsewhere, its funds are lost.")) return;
				await idb("readwrite", (s) => s.delete("tenant"));
				K = null;
				location.reload();
			} }, "Forget this key"));
	} else {
		const file = el("input", { type: "file", id: "key-import", accept: ".key,.pem,text/plain", onchange: async (ev) => {
			try {
				await importPem(await ev.target.files[0].text());
				location.reload();
			} catch (e) {
				box.append(errorBox(e));
			}
		} });
		box.append(el("p", {}, "No key yet. Generate one here (it never leaves this browser) or import a PKCS#8 PEM key file (`tenant keygen`)."),
			el("button", { type: "button", id: "key-generate", class: "primary", onclick: async () => {
				await generateKey();
				location.reload();
			} }, "Generate a key"), " ",
			el("label", { for: "key-import" }, "or import a key file: "), file);
	}
	return box;
}

function deployPage() {
	return loadKey().then(() => {
		const ta = el("textarea", { id: "sdl", spellcheck: "false", "aria-label": "SDL (YAML)", placeholder: "version: \"2.0\"\nservices: …" });
		const result = el("div", { id: "sdl-slot" });
		const dep = el("input", { id: "deposit", inputmode: "numeric", placeholder: `default: ${DEFAULT_DEPOSIT_EPOCHS} epochs of the bid` });
		const go = el("button", { type: "button", id: "deploy-go", class: "primary", disabled: true, onclick: async () => {
			go.disabled = true;
			try {
				await deploy(dep.value.trim());
			} catch (e) {
				say("posted", e.message, false);
				go.disabled = false;
			}
		} }, "Deploy");
		const doCheck = async () => {
			try {
				const r = await check(ta.value);
				checked = r.ok ? r : null;
				result.replaceChildren(resultBox(r));
				go.disabled = !(r.ok && K);
			} catch (e) {
				result.replaceChildren(errorBox(e));
			}
		};
		const upload = el("input", { type: "file", id: "sdl-file", accept: ".yaml,.yml,text/yaml", onchange: async (ev) => {
			ta.value = await ev.target.files[0].text();
			doCheck();
		} });
		const mine = deployments();
		log.length = 0;
		return el("section", { "aria-labelledby": "h-deploy" },
			el("h1", { id: "h-deploy" }, "Deploy"),
			keySection(),
			el("section", { "aria-labelledby": "h-sdl" }, el("h2", { id: "h-sdl" }, "2. The SDL"),
				el("p", {}, el("label", { for: "sdl-file" }, "Upload a file "), upload, " or paste it:"), ta,
				el("p", {}, el("button", { type: "button", id: "sdl-check", onclick: doCheck }, "Check"),
					" (the market's validator: the messages of ", el("code", {}, "sdl check"), "; files the SDL names locally cannot be sent from here)"),
				result),
			el("section", { "aria-labelledby": "h-go" }, el("h2", { id: "h-go" }, "3. Post the order"),
				el("p", {}, el("label", { for: "deposit" }, "Escrow per order (micro-units) "), dep, " ", go),
				el("ol", { id: "deploy-steps", class: "steps" }, log.map(stepLine))),
			mine.length ? el("section", {}, el("h2", {}, "Deployments from this browser"),
				el("ul", {}, mine.map((d) => el("li", {}, el("a", { href: `#/deploy/${d.id}` }, d.id), ` — ${d.orders.length} order(s), ${fmtTime(d.created)}`)))) : null);
	});
}

async function deploymentPage(id) {
	await loadKey();
	const d = deployments().find((x) => x.id === id);
	if (!d) return errorBox(`no deployment ${id} was made from this browser`);
	if (!watching || watching.id !== id) {
		watching = { id, manifest_text: d.manifest_text, orders: d.orders.map((o) => ({ ...o })) };
		// a visit after the manifest went: just watch
		for (const o of watching.orders) {
			const order = await api(`/v1/orders/${o.order}`).catch(() => null);
			const l = order && order.lease && (await api(`/v1/leases/${order.lease}`).catch(() => null));
			if (l && l.started) {
				o.lease = l.id;
				o.sent = true;
				o.api = (S.providers.find((p) => p.key === l.provider) || { ask: {} }).ask.api_url;
				pollStatus(o);
			}
		}
		progress();
	}
	const orders = await Promise.all(watching.orders.map((o) => api(`/v1/orders/${o.order}`).catch(() => ({}))));
	const leases = await Promise.all(watching.orders.map((o) => (o.lease ? api(`/v1/leases/${o.lease}`).catch(() => null) : null)));
	const rows = watching.orders.map((o, i) => {
		const order = orders[i];
		const l = leases[i];
		const amount = el("input", { id: `topup-${o.order}`, inputmode: "numeric", "aria-label": `top-up amount for ${o.order}`, size: 10 });
		// what the buttons said survives the live re-renders
		const logs = el("pre", { id: `logs-${o.order}`, class: "log", hidden: !said.has(`logs-${o.order}`) }, said.get(`logs-${o.order}`) || "");
		const msg = el("span", { id: `msg-${o.order}`, role: "status" }, said.get(`msg-${o.order}`) || "");
		const act = (fn) => async () => {
			let text;
			try {
				text = await fn();
			} catch (e) {
				text = e.message;
			}
			said.set(`msg-${o.order}`, text);
			const m = document.getElementById(`msg-${o.order}`);
			if (m) m.textContent = text;
		};
		return el("article", { class: "panel", "data-order": o.order },
			el("h2", {}, `Order ${o.order} `, el("small", { class: `st-${order.status}`, id: `order-status-${o.order}` }, order.status || "?"),
				l ? [" · lease ", el("a", { href: `#/lease/${l.id}` }, l.id), " ", el("small", { class: `st-${l.status}`, id: `lease-status-${o.order}` }, l.status)] : ""),
			el("p", {}, `escrow ${fmtAmount(order.escrow, order.denom)}`, l ? `, charged ${fmtAmount(l.charged, order.denom)} over ${l.billed_epochs} epochs` : "",
				order.refund ? `, refunded ${fmtAmount(order.refund, order.denom)}` : ""),
			el("div", { id: `status-${o.lease || o.order}` }, statusView(o)),
			el("p", {},
				el("button", { type: "button", id: `logs-btn-${o.order}`, disabled: !o.lease || !o.api, onclick: act(async () => {
					const text = await providerFetch(o.api, "GET", `/v1/leases/${o.lease}/logs`);
					said.set(`logs-${o.order}`, text);
					const pre = document.getElementById(`logs-${o.order}`);
					if (pre) {
						pre.textContent = text;
						pre.hidden = false;
					}
					return `logs read ${new Date().toISOString().slice(11, 19)}`;
				}) }, "Logs"), " ",
				el("button", { type: "button", id: `follow-btn-${o.order}`, disabled: !o.lease || !o.api, onclick: act(() => followLogs(o)) },
					following.has(o.order) ? "Stop following" : "Follow logs"), " ",
				amount, " ",
				el("button", { type: "button", id: `topup-btn-${o.order}`, onclick: act(async () => {
					const n = Number(amount.value);
					if (!Number.isSafeInteger(n) || n <= 0) throw new Error("top-up: expected a positive number of micro-units");
					const r = await submit("deployment.deposit", { order: o.order, amount: n });
					return `topped up by ${fmtAmount(n, order.denom)} (entry #${r.index})`;
				}) }, "Top up"), " ",
				el("button", { type: "button", id: `close-btn-${o.order}`, disabled: order.status === "closed" || order.status === "expired", onclick: act(async () => {
					const r = await submit("order.close", { order: o.order });
					return `closed (entry #${r.index}); the escrow left comes back to your balance`;
				}) }, "Close")),
			msg, logs);
	});
	return el("section", { "aria-labelledby": "h-dep" },
		el("h1", { id: "h-dep" }, `Deployment ${id}`),
		el("p", {}, K ? ["as ", el("code", {}, K.pub)] : el("span", { class: "error" }, "this browser has no key any more")),
		el("ol", { id: "deploy-steps", class: "steps" }, log.map(stepLine)),
		rows);
}

route(/^\/deploy$/, deployPage, () => false);
route(/^\/deploy\/([^/?]+)$/, deploymentPage, (k) => k.has("lease.create") || k.has("lease.started") || k.has("lease.close") || k.has("order.close") || k.has("order.expire") || k.has("deployment.deposit") || k.has("lease.pause") || k.has("lease.resume") || k.has("lease.topup"));
