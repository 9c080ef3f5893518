// ledger: the ledger explorer (entries by index, by account, by lease),
// each entry's inclusion proof, its envelope's signature and the published
// checkpoint's signature and cosignatures verified here in the browser
// (verify.js); the last verified checkpoint is remembered in localStorage
// and the next one must be consistent with it (RFC 9162 consistency proof).

import { api } from "./api.js";
import { S, errorBox, keyLink, route } from "./app.js";
import { b64decode, b64urlDecode, canonical, el, fmtTime, fromUtf8, shortKey } from "./util.js";
import { verifyInclusion } from "./verify.js";

function verdict(id, ok, title, text) {
	return el("div", { id, class: `verdict ${ok === null ? "pending" : ok ? "ok" : "fail"}`, "data-verdict": ok === null ? "pending" : ok ? "ok" : "fail", role: "status" },
		el("strong", {}, ok === null ? "… " : ok ? "✓ " : "✗ ", title), " ", text);
}

function checkpointPanel() {
	return el("div", { id: "cp-panel" }, checkpointInner());
}

// the panel follows each new checkpoint in place
window.addEventListener("lodge:checkpoint", () => {
	const p = document.getElementById("cp-panel");
	if (p) p.replaceChildren(checkpointInner());
});

let waitingFor = -1; // an entry page waiting for a checkpoint that holds it

function checkpointInner() {
	if (!S.cp) return verdict("v-checkpoint", S.cpError ? false : null, "checkpoint", S.cpError || "waiting for the market's published checkpoint");
	const cp = S.cp;
	return el("div", { class: "panel" },
		verdict("v-checkpoint", cp.ok, `checkpoint of size ${cp.checkpoint.size}`,
			cp.log.ok ? `signed by ${cp.log.name} (Ed25519 verified here)` : `the market's signature (${cp.log.name}) does not verify`),
		cp.pinWarning ? el("p", { class: "error" }, cp.pinWarning) : null,
		cp.witnesses.length ? el("ul", { class: "witnesses" }, cp.witnesses.map((w) =>
			el("li", { class: w.ok ? "ok" : "bad" }, `${w.ok ? "✓" : "✗"} ${w.name}`, w.ok ? ` cosigned at ${fmtTime(w.time * 1000)}` : ` ${w.why}`))) :
			el("p", { class: "muted" }, "No witnesses: checkpoints are signed by the market alone."),
		cp.quorum ? el("p", {}, `quorum: ${cp.witnesses.filter((w) => w.ok).length} of ${cp.quorum} needed`) : null,
		S.consistency ? verdict("v-consistency", S.consistency.ok, "consistency", S.consistency.text) : null,
		el("details", {}, el("summary", {}, "the signed note"), el("pre", { class: "note" }, cp.note)));
}

async function fetchEntries(start, end) {
	const out = [];
	while (start < end) {
		const r = await api(`/v1/ledger/entries?start=${start}&end=${end}`);
		if (!r.entries.length) break;
		for (const e of r.entries) out.push(decodeLeaf(e));
		start = r.entries[r.entries.length - 1].index + 1;
	}
	return out;
}

function decodeLeaf(e) {
	const bytes = b64decode(e.leaf);
	const leaf = JSON.parse(fromUtf8(bytes));
	return { index: e.index, time: e.time, bytes, leaf, entry: leaf.entry };
}

// what an entry says it is about: its body's ids and keys
function mentions(entry, needle) {
	if (entry.signer === needle) return true;
	return JSON.stringify(entry.body).includes(JSON.stringify(needle));
}

function entryRow(x) {
	const b = x.entry.body || {};
	const about = b.lease || b.order || b.account || b.to || b.provider || "";
	return el("tr", { "data-index": x.index },
		el("td", {}, el("a", { href: `#/ledger/${x.index}` }, `#${x.index}`)),
		el("td", {}, el("code", {}, x.entry.kind)),
		el("td", {}, keyLink(x.entry.signer, `#/ledger?account=${encodeURIComponent(x.entry.signer)}`)),
		el("td", {}, String(about).startsWith("ed25519:") ? shortKey(about) : String(about)),
		el("td", {}, fmtTime(x.time)));
}

const SCAN_MAX = 20000;

async function ledgerPage(query) {
	const q = new URLSearchParams(query || "");
	const account = q.get("account"), lease = q.get("lease");
	const size = S.size;
	let list, title;
	if (account || lease) {
		let needle = account, extra = null;
		if (lease) {
			const l = await api(`/v1/leases/${encodeURIComponent(lease)}`);
			needle = lease;
			extra = l.order;
		}
		const from = Math.max(0, size - SCAN_MAX);
		const all = await fetchEntries(from, size);
		list = all.filter((x) => mentions(x.entry, needle) || (extra && mentions(x.entry, extra)));
		title = account ? `Entries by or about ${shortKey(account)}` : `Entries of lease ${lease} (and its order)`;
		if (from > 0) title += ` in the latest ${SCAN_MAX}`;
	} else {
		const end = Math.min(size, Number(q.get("end")) || size);
		list = await fetchEntries(Math.max(0, end - 50), end);
		title = `Entries ${Math.max(0, end - 50)}–${end - 1} of ${size}`;
	}
	const jump = el("form", { class: "inline", onsubmit: (ev) => {
		ev.preventDefault();
		const v = new FormData(ev.target).get("q").trim();
		if (/^\d+$/.test(v)) location.hash = `#/ledger/${v}`;
		else if (/^ed25519:/.test(v)) location.hash = `#/ledger?account=${encodeURIComponent(v)}`;
		else if (/^l-\d+$/.test(v)) location.hash = `#/ledger?lease=${encodeURIComponent(v)}`;
	} },
		el("label", { for: "ledger-q" }, "Index, account key or lease id "),
		el("input", { id: "ledger-q", name: "q", placeholder: "42, ed25519:…, l-7", autocomplete: "off" }),
		el("button", { type: "submit" }, "Go"));
	const rows = list.slice().reverse().map(entryRow);
	return el("section", { "aria-labelledby": "h-ledger" },
		el("h1", { id: "h-ledger" }, "Ledger"),
		checkpointPanel(),
		jump,
		el("h2", {}, title),
		rows.length ? el("div", { class: "scroll" }, el("table", { class: "entries" },
			el("thead", {}, el("tr", {}, ["index", "kind", "signer", "about", "time"].map((h) => el("th", { scope: "col" }, h)))),
			el("tbody", {}, rows))) : el("p", { class: "empty" }, "No entry."));
}

// The envelope's own signature: Ed25519 by signer over the canonical JSON
// of the envelope without sig.
async function verifyEnvelope(entry) {
	const { sig, ...rest } = entry;
	const pub = b64urlDecode(entry.signer.replace(/^ed25519:/, ""));
	const key = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
	const msg = new TextEncoder().encode(canonical(rest));
	return crypto.subtle.verify({ name: "Ed25519" }, key, b64urlDecode(sig), msg);
}

async function entryPage(n) {
	const index = Number(n);
	waitingFor = -1;
	const [x] = await fetchEntries(index, index + 1);
	if (!x) return errorBox(`no entry ${index} yet (the ledger has ${S.size})`);
	const checks = [];
	checks.push(verdict("v-index", x.leaf.index === index, "index", x.leaf.index === index ? `the leaf says index ${index}` : `the leaf says index ${x.leaf.index}`));
	let sigOk = false;
	try {
		sigOk = await verifyEnvelope(x.entry);
	} catch (e) {
		sigOk = false;
	}
	checks.push(verdict("v-envelope", sigOk, "envelope signature", sigOk ? `signed by ${shortKey(x.entry.signer)} (Ed25519 over its canonical JSON)` : "the envelope's signature does not verify"));
	if (!S.cp || !S.cp.ok) {
		checks.push(verdict("v-inclusion", S.cp ? false : null, "inclusion", S.cp ? "no verified checkpoint to prove it against" : "waiting for a checkpoint"));
	} else if (index >= S.cp.checkpoint.size) {
		waitingFor = index;
		checks.push(verdict("v-inclusion", null, "inclusion", `not yet in the published checkpoint (size ${S.cp.checkpoint.size}); this page checks again when the next one arrives`));
	} else {
		const cp = S.cp.checkpoint;
		let r;
		try {
			const p = await api(`/v1/ledger/proof/inclusion?index=${index}&size=${cp.size}`);
			r = await verifyInclusion(x.bytes, index, cp, p);
		} catch (e) {
			r = { ok: false, why: e.message };
		}
		checks.push(verdict("v-inclusion", r.ok, `inclusion in checkpoint ${cp.size}`, r.why));
	}
	const b = x.entry.body || {};
	return el("section", { "aria-labelledby": "h-entry" },
		el("h1", { id: "h-entry" }, `Entry #${index} `, el("code", {}, x.entry.kind)),
		el("p", {}, el("a", { href: index > 0 ? `#/ledger/${index - 1}` : "#/ledger" }, "← previous"), " · ",
			el("a", { href: `#/ledger/${index + 1}` }, "next →"), " · ",
			el("a", { href: `#/ledger?account=${encodeURIComponent(x.entry.signer)}` }, "entries of its signer"),
			b.lease ? [" · ", el("a", { href: `#/lease/${b.lease}` }, `lease ${b.lease}`)] : null),
		el("div", { class: "checks" }, checks),
		checkpointPanel(),
		el("dl", {}, el("dt", {}, "sequenced"), el("dd", {}, fmtTime(x.time)),
			el("dt", {}, "signer"), el("dd", {}, el("code", {}, x.entry.signer)),
			el("dt", {}, "nonce"), el("dd", {}, el("code", {}, x.entry.nonce))),
		el("h2", {}, "Leaf"),
		el("pre", { class: "json" }, JSON.stringify(x.leaf, null, 2)));
}

route(/^\/ledger\/(\d+)$/, entryPage, (k) => k.has("checkpoint") && waitingFor >= 0 && S.cp && S.cp.checkpoint.size > waitingFor);
route(/^\/ledger(?:\?(.*))?$/, ledgerPage, () => false);
