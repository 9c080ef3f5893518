// record: the words for a provider's record (GET /v1/providers/KEY/record,
// the pure function of the ledger docs/state.md "Reputation" defines and
// `ledger audit --provider` recomputes) and for a lease's standing top-up
// (the lease view's "auto_topup", set by `tenant topup --auto`).  Plain
// strings, no DOM: lease.js lays them out, tests/js checks them in node.

import { fmtAmount } from "./util.js";

// ppm as a percentage with up to 4 decimals; "not defined yet" for null.
export function fmtPpm(ppm) {
	if (ppm === null || ppm === undefined) return "not defined yet";
	return `${(ppm / 1e4).toLocaleString("en", { maximumFractionDigits: 4 })}%`;
}

// ms as "3 d 4 h", "4 h 12 min", "12 min 5 s", "45 s" (tenant's runway).
export function fmtSpan(ms) {
	const s = Math.floor((ms || 0) / 1000);
	if (s >= 86400) return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
	if (s >= 3600) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
	if (s >= 60) return `${Math.floor(s / 60)} min ${s % 60} s`;
	return `${s} s`;
}

// A record as [label, text] rows, in the order of docs/state.md's table.
export function recordRows(r, denom) {
	const L = r.leases || {}, ended = L.ended || {}, b = r.bond || {};
	const endedText = Object.entries(ended).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
	return [
		["as of", `ledger index ${r.index}`],
		["first ask", `ledger index ${r.first_ask ? r.first_ask.index : "—"}; key age ${fmtSpan(r.key_age_ms)}`],
		["leases", `won ${L.won ?? 0}, started ${L.started ?? 0}, live ${L.live ?? 0}`],
		["ended", endedText],
		["completion rate", fmtPpm(r.completion_rate_ppm)],
		["uptime", `${fmtPpm(r.uptime_7d_ppm)} over 7 days, ${fmtPpm(r.uptime_30d_ppm)} over 30 days`],
		["online", `${r.online ? "yes" : "no"}; ${fmtSpan(r.online_ms)} online, ${fmtSpan(r.offline_ms)} offline, ${r.offline_marks ?? 0} offline mark(s)`],
		["manifests refused", String(r.manifests_refused ?? 0)],
		["reports", `${r.usage_reports ?? 0} usage report(s), ${r.heartbeats ?? 0} heartbeat(s)`],
		["bond", `${fmtAmount(b.now, denom)} now, ${fmtAmount(b.max, denom)} at most, ${b.changes ?? 0} change(s)`],
		["attestations", (r.attestations || []).map((a) => `${a.auditor} (#${a.index})`).join(", ") || "none"],
	];
}

// A lease's standing top-up in a sentence, or null when it never had one.
export function autoTopupText(a, denom) {
	if (!a) return null;
	const did = `${a.applied} made (${fmtAmount(a.moved, denom)} in all), ${a.shortfalls} short`;
	if (!a.on) return `off (cancelled at ledger index ${a.index}); ${did}`;
	return `${fmtAmount(a.amount, denom)} from the tenant's balance at each billing that leaves the escrow paying fewer than ` +
		`${a.below_epochs} epoch${a.below_epochs === 1 ? "" : "s"} (set at ledger index ${a.index}); ${did}`;
}
