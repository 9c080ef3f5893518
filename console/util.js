// util: encodings (base64, base64url, hex, UTF-8), Lodge's canonical JSON
// (common/cjson.h: keys sorted bytewise, no whitespace, integers only,
// escapes as jansson writes them) and formatting helpers.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

export const utf8 = (s) => enc.encode(s);
export const fromUtf8 = (b) => dec.decode(b);

export function b64decode(s) {
	if (typeof s !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0)
		throw new Error(`bad base64 ${JSON.stringify(String(s).slice(0, 40))}`);
	const bin = atob(s);
	const out = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
	return out;
}

export function b64encode(bytes) {
	let bin = "";
	for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
	return btoa(bin);
}

export const b64url = (bytes) =>
	b64encode(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

export function b64urlDecode(s) {
	if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error("bad base64url");
	s = s.replace(/-/g, "+").replace(/_/g, "/");
	while (s.length % 4) s += "=";
	return b64decode(s);
}

export const hex = (bytes) =>
	Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

export function fromHex(s) {
	if (!/^([0-9a-f]{2})*$/i.test(s)) throw new Error("bad hex");
	const out = new Uint8Array(s.length / 2);
	for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(2 * i, 2), 16);
	return out;
}

export function concat(...parts) {
	const n = parts.reduce((a, p) => a + p.length, 0);
	const out = new Uint8Array(n);
	let o = 0;
	for (const p of parts) {
		out.set(p, o);
		o += p.length;
	}
	return out;
}

export function equal(a, b) {
	if (a.length !== b.length) return false;
	let d = 0;
	for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
	return d === 0;
}

// bytewise (UTF-8) order of object keys, as jansson's JSON_SORT_KEYS
function cmpUtf8(a, b) {
	const x = utf8(a), y = utf8(b);
	for (let i = 0; i < x.length && i < y.length; i++)
		if (x[i] !== y[i]) return x[i] - y[i];
	return x.length - y.length;
}

function quote(s) {
	let out = '"';
	for (const ch of s) {
		const c = ch.codePointAt(0);
		if (ch === '"') out += '\\"';
		else if (ch === "\\") out += "\\\\";
		else if (ch === "\b") out += "\\b";
		else if (ch === "\f") out += "\\f";
		else if (ch === "\n") out += "\\n";
		else if (ch === "\r") out += "\\r";
		else if (ch === "\t") out += "\\t";
		else if (c < 0x20) out += "\\u" + c.toString(16).toUpperCase().padStart(4, "0");
		else if (c >= 0xd800 && c <= 0xdfff) throw new Error("canonical JSON: lone surrogate");
		else out += ch;
	}
	return out + '"';
}

// The canonical text of v (what Lodge signs).  Numbers must be safe
// integers: the ledger refuses floats.
export function canonical(v) {
	if (v === null) return "null";
	if (v === true) return "true";
	if (v === false) return "false";
	if (typeof v === "number") {
		if (!Number.isSafeInteger(v)) throw new Error(`canonical JSON: ${v} is not a safe integer`);
		return String(v);
	}
	if (typeof v === "string") return quote(v);
	if (Array.isArray(v)) return "[" + v.map(canonical).join(",") + "]";
	if (typeof v === "object") {
		const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort(cmpUtf8);
		return "{" + keys.map((k) => quote(k) + ":" + canonical(v[k])).join(",") + "}";
	}
	throw new Error(`canonical JSON: cannot encode ${typeof v}`);
}

// ---- formatting ----------------------------------------------------

export const shortKey = (k) => (k && k.startsWith("ed25519:") ? k.slice(8, 16) + "…" : String(k ?? ""));

export function fmtAmount(micro, denom) {
	if (micro === null || micro === undefined) return "—";
	const d = denom && denom.startsWith("u") ? denom.slice(1).toUpperCase() : denom || "";
	const whole = micro / 1e6;
	return `${whole.toLocaleString("en", { maximumFractionDigits: 6 })} ${d}`.trim();
}

export function fmtBytes(n) {
	if (!n) return "0 B";
	const u = ["B", "KiB", "MiB", "GiB", "TiB"];
	let i = 0;
	while (n >= 1024 && i < u.length - 1) {
		n /= 1024;
		i++;
	}
	return `${n.toFixed(n < 10 && i ? 1 : 0)} ${u[i]}`;
}

export const fmtCpu = (m) => `${(m / 1000).toLocaleString("en", { maximumFractionDigits: 3 })} CPU`;

export function fmtTime(ms) {
	if (!ms) return "—";
	return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// el("tag", {attrs}, children...): DOM without innerHTML (no injection)
export function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === "class") e.className = v;
		else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
		else e.setAttribute(k, v === true ? "" : v);
	}
	for (const k of kids.flat(Infinity)) {
		if (k === null || k === undefined || k === false) continue;
		e.append(k instanceof Node ? k : document.createTextNode(String(k)));
	}
	return e;
}
