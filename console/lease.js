// lease: a lease's story (the order, the asks that fitted and why the
// winner won, the start, usage and charges per epoch, the close and the
// refund: what `ledger audit --lease` tells, from /v1/leases/ID/story)
// with its standing top-up, and a provider's page (its record from the
// ledger, its leases, earnings over time, uptime from its heartbeats and
// the market's offline/online entries).

import { api } from "./api.js";
import { S, errorBox, keyLink, leasesTable, route } from "./app.js";
import { lineChart } from "./chart.js";
import { autoTopupText, recordRows } from "./record.js";
import { b64decode, el, fmtAmount, fmtBytes, fmtCpu, fmtTime, fromUtf8, shortKey } from "./util.js";

const dl = (pairs) => el("dl", {}, pairs.filter(Boolean).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
const entryLink = (i) => (i || i === 0 ? el("a", { href: `#/ledger/${i}` }, `#${i}`) : "—");

// The chart's points: one per usage report, at its epoch since the start,
// with the cumulative charge and the escrow left after it.
export function storyPoints(story) {
	let total = 0;
	return (story.usage || []).map((u) => {
		total += u.charge;
		return { index: u.index, epochs: u.epochs, charged: total, escrow: u.escrow_after, charge: u.charge, usage: u.usage || {} };
	});
}

async function leasePage(id) {
	const st = await api(`/v1/leases/${encodeURIComponent(id)}/story`);
	const l = st.lease, o = st.order || {}, m = st.match || {};
	const denom = o.denom || "uakt";
	const amt = (v) => fmtAmount(v, denom);
	const body = o.body || {};
	const res = (body.resources || []).map((r) => el("li", {},
		`${r.count}× ${r.service || r.profile || "?"}: ${fmtCpu(r.cpu_millis)}, ${fmtBytes(r.memory_bytes)} memory, ${fmtBytes(r.storage_bytes)} disk` +
		(r.gpu_units ? `, ${r.gpu_units} GPU` : "")));
	const best = (m.best || []).map((b, k) => el("tr", { class: b.provider === m.winner ? "winner" : "" },
		el("td", {}, String(k + 1)),
		el("td", {}, keyLink(b.provider, `#/provider/${encodeURIComponent(b.provider)}`), b.provider === m.winner ? " (winner)" : ""),
		el("td", {}, amt(b.price) + "/epoch"),
		el("td", {}, fmtTime(b.ask_time)),
		el("td", {}, entryLink(b.ask_index))));
	const pts = storyPoints(st);
	const charts = pts.length ? [
		lineChart({ title: "Charges per epoch (cumulative)", x: pts.map((p) => p.epochs), ids: pts.map((p) => p.index), xLabel: "epochs since start",
			series: [{ name: `charged (${denom})`, values: pts.map((p) => p.charged) }] }),
		lineChart({ title: "Usage reported (cumulative)", x: pts.map((p) => p.epochs), ids: pts.map((p) => p.index), xLabel: "epochs since start",
			series: [{ name: "CPU (cpu_ms)", values: pts.map((p) => p.usage.cpu_ms || 0) }, { name: "requests", values: pts.map((p) => p.usage.requests || 0) }] }),
		lineChart({ title: "Escrow left", x: pts.map((p) => p.epochs), ids: pts.map((p) => p.index), xLabel: "epochs since start",
			series: [{ name: `escrow (${denom})`, values: pts.map((p) => p.escrow) }] }),
	] : [el("p", { class: "empty" }, "No usage reported yet.")];
	const c = st.close;
	return el("section", { "aria-labelledby": "h-lease" },
		el("h1", { id: "h-lease" }, `Lease ${l.id} `, el("small", { class: `st-${l.status}` }, l.status + (l.reason ? ` (${l.reason})` : ""))),
		el("p", {}, el("a", { href: `#/ledger?lease=${encodeURIComponent(l.id)}` }, "its ledger entries"), " · ",
			el("a", { href: `#/provider/${encodeURIComponent(l.provider)}` }, "its provider")),
		el("h2", {}, "1. The order"),
		dl([["order", [o.id, " ", entryLink(o.index)]], ["tenant", keyLink(o.tenant, `#/ledger?account=${encodeURIComponent(o.tenant)}`)],
			["bid", amt(o.max_price) + " per epoch at most"], ["deposit", amt(o.deposit)],
			["attributes", Object.entries(body.attributes || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "any"],
			["runtimes", (body.runtimes || []).join(", ") || "—"], ["manifest hash", el("code", {}, body.manifest_hash || "—")],
			["created", fmtTime(o.created)]]),
		el("ul", {}, res),
		el("h2", {}, "2. The match"),
		el("p", { id: "match-why" }, `${m.fitting ?? "?"} fitting ask${m.fitting === 1 ? "" : "s"}; the winner, ${shortKey(m.winner)}, at ${amt(m.price)} per epoch: ${m.rule || ""}.`),
		best.length ? el("div", { class: "scroll" }, el("table", { class: "asks" },
			el("thead", {}, el("tr", {}, ["rank", "provider", "price for this order", "ask time", "ask entry"].map((h) => el("th", { scope: "col" }, h)))),
			el("tbody", {}, best))) : null,
		el("h2", {}, "3. The start"),
		st.started ? dl([["started", [fmtTime(st.started.time), " ", entryLink(st.started.index)]], ["why", st.started.rule]]) :
			el("p", {}, `Not started: the provider must prove the manifest's delivery by ${fmtTime(l.manifest_deadline)}.`),
		el("h2", {}, "4. Usage and charges"),
		dl([["price", amt(l.price) + " per epoch"], ["billed epochs", String(l.billed_epochs)], ["charged", amt(l.charged)],
			["escrow left", amt(l.escrow)], ["fees", amt(l.fees)],
			l.auto_topup ? ["standing top-up", el("span", { id: "auto-topup" }, autoTopupText(l.auto_topup, denom))] : null]),
		el("div", { id: "lease-charts" }, charts),
		l.status === "paused" ? el("p", { id: "lease-paused", class: "st-paused" },
			`Paused since ${fmtTime(l.paused_at)}: its escrow ran dry; the workload is stopped, its volumes kept. ` +
			`A top-up that pays an epoch resumes it; otherwise it closes insufficient_funds at ${fmtTime(l.grace_until)}.`) : null,
		el("h2", {}, "5. The close"),
		c ? dl(Object.entries(c).map(([k, v]) => [k, k === "index" ? entryLink(v) : k.includes("time") ? fmtTime(v) :
			typeof v === "number" && /refund|charge|amount|escrow/.test(k) ? amt(v) : typeof v === "object" ? JSON.stringify(v) : String(v)])) :
			el("p", {}, "Still open."));
}

// ---- a provider ------------------------------------------------------------------

async function scanLedger(max) {
	const out = [];
	let start = Math.max(0, S.size - max);
	while (start < S.size) {
		const r = await api(`/v1/ledger/entries?start=${start}&end=${S.size}`);
		if (!r.entries.length) break;
		for (const e of r.entries) out.push(JSON.parse(fromUtf8(b64decode(e.leaf))));
		start = r.entries[r.entries.length - 1].index + 1;
	}
	return out;
}

async function providerPage(key) {
	const p = S.providers.find((x) => x.key === key);
	if (!p) return errorBox(`no provider ${key} on this market`);
	const leases = await api(`/v1/leases?provider=${encodeURIComponent(key)}`);
	const take = (S.info && S.info.take_rate_ppm) || 0;
	// earnings: each usage's charge less the market's take
	const stories = await Promise.all(leases.slice(-30).map((l) => api(`/v1/leases/${l.id}/story`)));
	const earn = stories.flatMap((st) => (st.usage || []).map((u) => ({ time: u.time, v: u.charge - Math.floor((u.charge * take) / 1e6) })))
		.sort((a, b) => a.time - b.time);
	let total = 0;
	const ex = [], ey = [];
	for (const e of earn) {
		total += e.v;
		ex.push(e.time);
		ey.push(total);
	}
	// uptime: heartbeats per minute and the market's offline/online entries
	const leaves = await scanLedger(5000);
	const beats = leaves.filter((x) => x.entry.kind === "provider.heartbeat" && x.entry.signer === key);
	const turns = leaves.filter((x) => (x.entry.kind === "provider.offline" || x.entry.kind === "provider.online") &&
		JSON.stringify(x.entry.body).includes(key));
	const perMin = new Map();
	for (const b of beats) {
		const m = Math.floor(b.time / 60000) * 60000;
		perMin.set(m, (perMin.get(m) || 0) + 1);
	}
	const mins = [...perMin.keys()].sort((a, b) => a - b);
	const denom = (p.ask && p.ask.price && p.ask.price.denom) || "uakt";
	// its record, recomputable by anyone (`ledger audit --provider KEY`)
	let record;
	try {
		const r = await api(`/v1/providers/${encodeURIComponent(key)}/record`);
		record = el("dl", { id: "record" }, recordRows(r, p.bond_denom || denom).map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
	} catch (e) {
		record = el("p", { class: "bad" }, `Its record could not be read: ${e.message}`);
	}
	const fmtT = (t) => new Date(t).toISOString().slice(11, 19);
	return el("section", { "aria-labelledby": "h-provider" },
		el("h1", { id: "h-provider" }, "Provider ", el("small", { class: "key" }, key)),
		dl([["status", el("span", { class: p.online ? "ok" : "bad" }, p.online ? "online" : "offline")], ["last seen", fmtTime(p.last_seen)],
			["API", p.ask ? p.ask.api_url : "—"], ["attributes", Object.entries((p.ask && p.ask.attributes) || {}).map(([k, v]) => `${k}=${v}`).join(", ") || "—"],
			["runtimes", ((p.ask && p.ask.runtimes) || []).join(", ")], ["capacity", `${fmtCpu(p.capacity.cpu_millis)}, ${fmtBytes(p.capacity.memory_bytes)} memory, ${fmtBytes(p.capacity.storage_bytes)} disk`],
			["used", `${fmtCpu(p.used.cpu_millis)}, ${fmtBytes(p.used.memory_bytes)} memory`], ["bond", fmtAmount(p.bond, p.bond_denom)],
			["attested by", (p.attested_by || []).join(", ") || "nobody"], ["ask", entryLink(p.ask_index)]]),
		el("h2", {}, "Record"),
		el("p", {}, "From the ledger alone: anyone recomputes it with ", el("code", {}, `ledger audit --provider ${key}`), "."),
		record,
		el("h2", {}, "Earnings"),
		ex.length ? lineChart({ title: `Earnings after the market's take (${take / 1e4}%)`, x: ex, xLabel: "time (UTC)", fmtX: fmtT,
			series: [{ name: `earned (${denom})`, values: ey }] }) : el("p", { class: "empty" }, "Nothing earned yet."),
		el("p", {}, `Total over its latest ${stories.length} lease(s): ${fmtAmount(total, denom)}.`),
		el("h2", {}, "Uptime"),
		el("p", { id: "uptime" }, `${beats.length} heartbeat(s) in the latest ${leaves.length} ledger entries` +
			(beats.length ? `, the last at ${fmtTime(beats[beats.length - 1].time)}` : "") + `; ${turns.length} offline/online change(s).`),
		mins.length > 1 ? lineChart({ title: "Heartbeats per minute", x: mins, xLabel: "minute (UTC)", fmtX: fmtT, series: [{ name: "heartbeats", values: mins.map((m) => perMin.get(m)) }] }) : null,
		turns.length ? el("ul", {}, turns.map((t) => el("li", {}, `${t.entry.kind} at ${fmtTime(t.time)} `, entryLink(t.index)))) : null,
		el("h2", {}, "Leases"),
		leasesTable(leases.slice().reverse()));
}

const leaseKinds = (k) => k.has("lease.usage") || k.has("lease.close") || k.has("lease.started") || k.has("order.close") || k.has("deployment.deposit") ||
	k.has("lease.autotopup") || k.has("lease.pause") || k.has("lease.resume") || k.has("lease.topup");
route(/^\/lease\/([^/?]+)$/, leasePage, leaseKinds);
route(/^\/provider\/([^/?]+)$/, providerPage, (k) => k.has("lease.create") || k.has("lease.close") || k.has("provider.offline") || k.has("provider.online"));
