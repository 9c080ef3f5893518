// app: the Lodge Console's shell: the market's state kept live from its
// event stream (GET /v1/events, Server-Sent Events; no polling), the
// published checkpoint verified on arrival, a hash router, and the market
// overview.  The other pages are ledger.js, lease.js and deploy.js.

import { el, fmtAmount, fmtBytes, fmtCpu, fmtTime, shortKey } from "./util.js";
import { api } from "./api.js";
import { checkRemembered, verifyPublished } from "./trust.js";
export { api };

export const S = {
	info: null,
	providers: [],
	orders: [], // the open ones
	leases: [],
	size: 0, // leaves seen (durable) so far
	cp: null, // the published checkpoint's verification
	cpError: "",
	consistency: null, // {ok, text} against the remembered checkpoint
	recent: [], // the latest leaves from the event stream
	events: 0,
	live: "connecting",
	loadedAt: 0,
};


// ---- the router --------------------------------------------------------

const routes = [];
export function route(re, fn, deps) {
	routes.push({ re, fn, deps });
}

let current = null;
export function render() {
	const h = location.hash.replace(/^#/, "") || "/";
	const main = document.getElementById("main");
	for (const r of routes) {
		const m = r.re.exec(h);
		if (!m) continue;
		current = r;
		const node = r.fn(...m.slice(1).map(decodeURIComponent));
		Promise.resolve(node).then((n) => {
			if (current !== r) return;
			// keep the keyboard focus across a live re-render
			const a = document.activeElement;
			const sel = a && main.contains(a) ? (a.id ? `#${CSS.escape(a.id)}` : a.getAttribute("href") ? `[href="${CSS.escape(a.getAttribute("href"))}"]` : null) : null;
			main.replaceChildren(n);
			if (sel) {
				const b = main.querySelector(sel);
				if (b) b.focus();
			}
			main.dataset.page = r.fn.name;
			main.dataset.ready = String(Date.now());
		}, (e) => main.replaceChildren(errorBox(e)));
		break;
	}
	for (const a of document.querySelectorAll("nav a")) {
		const target = a.getAttribute("href").replace(/^#/, "");
		a.toggleAttribute("aria-current", target === "/" ? h === "/" : h.startsWith(target));
	}
	header();
}

export const errorBox = (e) => el("p", { class: "error", role: "alert" }, String(e && e.message ? e.message : e));

// re-render the page when the state it shows changed (deps(leaf) says)
function refreshView(kinds) {
	if (current && current.deps && current.deps(kinds)) render();
	else header();
}

// ---- live state ----------------------------------------------------------

async function loadState() {
	const [providers, orders, leases] = await Promise.all([
		api("/v1/providers"),
		api("/v1/orders?state=open"), // the deploy page asks for its own
		api("/v1/leases"),
	]);
	Object.assign(S, { providers, orders, leases, loadedAt: Date.now() });
}

let pending = null, pendingKinds = new Set();
function stateChanged(kind) {
	pendingKinds.add(kind);
	if (pending) return;
	pending = setTimeout(async () => {
		const kinds = pendingKinds;
		pending = null;
		pendingKinds = new Set();
		try {
			await loadState();
			window.dispatchEvent(new Event("lodge:state"));
		} catch (e) {
			S.live = "error: " + e.message;
		}
		refreshView(kinds);
	}, 250);
}

function connect() {
	const es = new EventSource(`/v1/events?since=${S.size}`);
	es.addEventListener("open", () => {
		S.live = "live";
		header();
	});
	es.addEventListener("error", () => {
		S.live = es.readyState === EventSource.CLOSED ? "disconnected" : "reconnecting";
		header();
	});
	es.addEventListener("leaf", (ev) => {
		let leaf;
		try {
			leaf = JSON.parse(ev.data);
		} catch {
			return;
		}
		S.events++;
		S.size = Math.max(S.size, leaf.index + 1);
		S.recent.unshift(leaf);
		if (S.recent.length > 50) S.recent.length = 50;
		stateChanged(leaf.entry && leaf.entry.kind);
	});
	es.addEventListener("checkpoint", async (ev) => {
		try {
			const { note } = JSON.parse(ev.data);
			await onCheckpoint(note);
		} catch (e) {
			S.cpError = e.message;
		}
		window.dispatchEvent(new Event("lodge:checkpoint"));
		refreshView(new Set(["checkpoint"]));
	});
}

async function onCheckpoint(note) {
	S.cp = await verifyPublished(S.info, note);
	S.cpError = S.cp.ok ? "" : "the checkpoint does not verify";
	if (S.cp.ok) S.consistency = await checkRemembered(S.info, S.cp);
}

// ---- the header ------------------------------------------------------------

function header() {
	const live = document.getElementById("live");
	if (!live) return;
	live.textContent = S.live === "live" ? `● live · ${S.events} events` : `○ ${S.live}`;
	live.dataset.state = S.live;
	const cp = document.getElementById("cp-badge");
	if (!S.cp) {
		cp.textContent = S.cpError ? "checkpoint: " + S.cpError : "checkpoint: …";
		cp.dataset.verdict = S.cpError ? "fail" : "pending";
	} else {
		const w = S.cp.witnesses.filter((x) => x.ok).length;
		const cons = S.consistency && !S.consistency.ok ? " · SPLIT VIEW" : "";
		cp.textContent = `checkpoint ${S.cp.checkpoint.size} ${S.cp.ok ? "✓ verified" : "✗ invalid"}` +
			(S.cp.quorum ? ` · ${w}/${S.cp.quorum} cosigned` : "") + cons;
		cp.dataset.verdict = S.cp.ok && !cons ? "ok" : "fail";
		cp.title = S.consistency ? S.consistency.text : "";
	}
}

// ---- the market page ---------------------------------------------------------

function price(p) {
	if (!p) return "—";
	const d = p.denom || "";
	const per = (v, mult) => fmtAmount((v || 0) * mult, d);
	return [
		`${per(p.cpu_ms, 3.6)}/CPU·h`,
		`${per(p.mem_mb_s, 3.6)}/GB·h mem`,
		`${per(p.storage_mb_s, 3.6)}/GB·h disk`,
		p.request ? `${per(p.request, 1)}/M req` : null,
		p.egress_byte ? `${per(p.egress_byte, 1000)}/GB out` : null,
	].filter(Boolean).join(" · ");
}

function bar(used, total, fmt) {
	const pct = total ? Math.min(100, Math.round((100 * used) / total)) : 0;
	return el("div", { class: "cap" },
		el("progress", { max: 100, value: pct, "aria-label": `${pct}% used` }),
		el("span", {}, `${fmt(used)} / ${fmt(total)} (${fmt(Math.max(0, total - used))} free)`));
}

export const keyLink = (k, href) => el("a", { href, title: k, class: "key" }, shortKey(k));

function table(cls, heads, rows, empty) {
	if (!rows.length) return el("p", { class: "empty" }, empty);
	return el("div", { class: "scroll" },
		el("table", { class: cls },
			el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col" }, h)))),
			el("tbody", {}, rows)));
}

function providersTable() {
	const rows = S.providers.map((p) => {
		const c = p.capacity || {}, u = p.used || {};
		const attrs = Object.entries((p.ask && p.ask.attributes) || {}).map(([k, v]) => `${k}=${v}`).join(", ");
		return el("tr", { "data-key": p.key },
			el("td", {}, keyLink(p.key, `#/provider/${encodeURIComponent(p.key)}`)),
			el("td", {}, el("span", { class: p.online ? "ok" : "bad" }, p.online ? "online" : "offline"),
				p.withdrawn ? " (withdrawn)" : ""),
			el("td", {}, attrs || "—"),
			el("td", {}, bar(u.cpu_millis || 0, c.cpu_millis || 0, fmtCpu), bar(u.memory_bytes || 0, c.memory_bytes || 0, fmtBytes)),
			el("td", { class: "price" }, price(p.ask && p.ask.price)),
			el("td", {}, fmtAmount(p.bond, p.bond_denom)),
			el("td", {}, String(p.leases ?? 0)),
			el("td", {}, (p.attested_by || []).length ? p.attested_by.map((a) => shortKey(a)).join(", ") : "—"));
	});
	return table("providers", ["provider", "status", "attributes", "capacity used", "price", "bond", "leases", "attested by"], rows, "No provider has advertised yet.");
}

function ordersTable(orders) {
	const rows = orders.map((o) => el("tr", { "data-id": o.id },
		el("td", {}, o.id),
		el("td", {}, el("span", { class: `st-${o.status}` }, o.status)),
		el("td", {}, keyLink(o.tenant, `#/ledger?account=${encodeURIComponent(o.tenant)}`)),
		el("td", {}, fmtAmount(o.max_price, o.denom) + "/epoch"),
		el("td", {}, fmtAmount(o.escrow, o.denom)),
		el("td", {}, o.lease ? el("a", { href: `#/lease/${o.lease}` }, o.lease) : "—"),
		el("td", {}, fmtTime(o.created))));
	return table("orders", ["order", "status", "tenant", "bid", "escrow", "lease", "created"], rows, "No order.");
}

export function leasesTable(leases) {
	const denom = (S.info && S.info.denoms && S.info.denoms[0]) || "uakt";
	const rows = leases.map((l) => {
		return el("tr", { "data-id": l.id },
			el("td", {}, el("a", { href: `#/lease/${l.id}` }, l.id)),
			el("td", {}, el("span", { class: `st-${l.status}` }, l.status), l.reason ? ` (${l.reason})` : ""),
			el("td", {}, keyLink(l.provider, `#/provider/${encodeURIComponent(l.provider)}`)),
			el("td", {}, keyLink(l.tenant, `#/ledger?account=${encodeURIComponent(l.tenant)}`)),
			el("td", {}, fmtAmount(l.price, denom) + "/epoch"),
			el("td", {}, fmtAmount(l.charged, denom)),
			el("td", {}, String(l.billed_epochs ?? 0)));
	});
	return table("leases", ["lease", "status", "provider", "tenant", "price", "charged", "epochs"], rows, "No lease.");
}

function card(label, value, extra) {
	return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value" }, value), extra ? el("div", { class: "extra" }, extra) : null);
}

function marketPage() {
	const i = S.info || {};
	const online = S.providers.filter((p) => p.online).length;
	const open = S.orders;
	const active = S.leases.filter((l) => l.status === "active");
	const w = i.witnesses || {};
	const showAll = location.hash.includes("all=1");
	const leases = showAll ? S.leases : S.leases.slice(-200);
	return el("section", { "aria-labelledby": "h-market" },
		el("h1", { id: "h-market" }, "Market ", el("small", {}, i.origin || "")),
		el("div", { class: "cards" },
			card("providers online", `${online} / ${S.providers.length}`),
			card("open orders", String(open.length)),
			card("active leases", `${active.length} / ${S.leases.length}`),
			card("ledger entries", String(S.size), el("a", { href: "#/ledger" }, "explore")),
			card("checkpoint", S.cp ? String(S.cp.checkpoint.size) : "…",
				S.cp ? (S.cp.ok ? "signature verified" : "INVALID") + (w.quorum ? `, ${S.cp.witnesses.filter((x) => x.ok).length}/${w.quorum} witnesses` : ", no witnesses") : ""),
			card("epoch", `${(i.epoch_ms || 0) / 1000} s`, `take rate ${(i.take_rate_ppm || 0) / 1e4}%`)),
		el("h2", {}, "Providers"), providersTable(),
		el("h2", {}, "Open orders"), ordersTable(open),
		el("h2", {}, "Leases ", el("small", {}, S.leases.length > leases.length ? `(latest ${leases.length} of ${S.leases.length}, ` : "",
			S.leases.length > leases.length ? el("a", { href: "#/?all=1" }, "show all") : "", S.leases.length > leases.length ? ")" : "")),
		leasesTable(leases.slice().reverse()),
		el("h2", {}, "Latest entries"),
		recentList());
}

export function recentList() {
	if (!S.recent.length) return el("p", { class: "empty" }, "No entry since this page opened; new ones appear here as they are sequenced.");
	return el("ol", { class: "recent", reversed: true },
		S.recent.slice(0, 15).map((l) => el("li", { "data-index": l.index },
			el("a", { href: `#/ledger/${l.index}` }, `#${l.index}`), " ",
			el("code", {}, l.entry.kind), " by ", shortKey(l.entry.signer), " · ", fmtTime(l.time))));
}

route(/^\/(?:\?.*)?$/, marketPage, () => true);

// ---- start -----------------------------------------------------------------

function theme() {
	const saved = localStorage.getItem("lodge.theme");
	if (saved) document.documentElement.dataset.theme = saved;
	document.getElementById("theme").addEventListener("click", () => {
		const cur = document.documentElement.dataset.theme ||
			(matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
		const next = cur === "dark" ? "light" : "dark";
		document.documentElement.dataset.theme = next;
		localStorage.setItem("lodge.theme", next);
	});
}

export async function start() {
	theme();
	window.addEventListener("hashchange", render);
	try {
		S.info = await api("/v1/info");
		const first = await api("/v1/ledger/entries?start=0&end=0");
		S.size = first.size;
		await loadState();
	} catch (e) {
		document.getElementById("main").replaceChildren(errorBox(e));
		return;
	}
	// the published checkpoint now, before the event stream repeats it
	try {
		const r = await fetch("/v1/ledger/checkpoint");
		if (r.ok) await onCheckpoint(await r.text());
	} catch (e) {
		S.cpError = e.message;
	}
	render();
	connect();
}
