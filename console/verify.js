// verify: the ledger's proofs checked in the browser with WebCrypto, from
// the specifications alone: RFC 9162 Merkle trees (leaf SHA-256(0x00||
// leaf), node SHA-256(0x01||l||r)), inclusion and consistency proofs
// (§2.1.3-2.1.4), C2SP signed notes (Ed25519, type 0x01), tlog-checkpoint
// bodies and tlog-cosignature/v1 (type 0x04).

import { b64decode, concat, equal, hex, utf8 } from "./util.js";

export async function sha256(bytes) {
	return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export const leafHash = (leaf) => sha256(concat(Uint8Array.of(0), leaf));
const node = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// sizes and indexes stay below 2^53: halving with Math.floor
const odd = (n) => n % 2 === 1;
const half = (n) => Math.floor(n / 2);

// RFC 9162 §2.1.3.2: the root that proof gives leaf hash lh at index
// in a tree of size; throws when the proof has the wrong shape.
export async function rootFromInclusion(index, size, lh, proof) {
	if (!(index < size)) throw new Error(`index ${index} is not below size ${size}`);
	let fn = index, sn = size - 1, r = lh;
	for (const p of proof) {
		if (sn === 0) throw new Error("inclusion proof too long");
		if (odd(fn) || fn === sn) {
			r = await node(p, r);
			if (!odd(fn)) while (!(odd(fn) || fn === 0)) {
				fn = half(fn);
				sn = half(sn);
			}
		} else {
			r = await node(r, p);
		}
		fn = half(fn);
		sn = half(sn);
	}
	if (sn !== 0) throw new Error("inclusion proof too short");
	return r;
}

// RFC 9162 §2.1.4.2: true when proof shows the tree of size first with
// root firstRoot is a prefix of the one of size second with secondRoot.
export async function verifyConsistency(first, second, firstRoot, secondRoot, proof) {
	// every tree extends the empty one: a proof from size 0 proves
	// nothing and is refused (as transparency-dev/merkle does); callers
	// treat a remembered size 0 as no checkpoint
	if (first === 0 || first > second) return false;
	if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
	if (proof.some((h) => h.length !== 32)) return false;
	if (proof.length === 0) return false;
	if (2 ** Math.round(Math.log2(first)) === first) proof = [firstRoot, ...proof];
	let fn = first - 1, sn = second - 1;
	while (odd(fn)) {
		fn = half(fn);
		sn = half(sn);
	}
	let fr = proof[0], sr = proof[0];
	for (const c of proof.slice(1)) {
		if (sn === 0) return false;
		if (odd(fn) || fn === sn) {
			fr = await node(c, fr);
			sr = await node(c, sr);
			if (!odd(fn)) while (!(odd(fn) || fn === 0)) {
				fn = half(fn);
				sn = half(sn);
			}
		} else {
			sr = await node(sr, c);
		}
		fn = half(fn);
		sn = half(sn);
	}
	return sn === 0 && equal(fr, firstRoot) && equal(sr, secondRoot);
}

// ---- signed notes -----------------------------------------------------

// A verifier key "<name>+<8 hex key ID>+<base64(type || 32-byte key)>".
export async function parseVkey(text) {
	const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(String(text).trim());
	if (!m) throw new Error(`verifier key ${JSON.stringify(text)}: expected name+id+key`);
	const raw = b64decode(m[3]);
	if (raw.length !== 33 || (raw[0] !== 1 && raw[0] !== 4))
		throw new Error(`verifier key ${m[1]}: expected type 0x01 or 0x04 and 32 bytes`);
	const id = (await sha256(concat(utf8(m[1] + "\n"), raw))).slice(0, 4);
	if (hex(id) !== m[2]) throw new Error(`verifier key ${m[1]}: key ID ${m[2]}, expected ${hex(id)}`);
	const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
	return { name: m[1], type: raw[0], id, key, text: String(text).trim() };
}

// Split a note into its body (the signed text) and signature lines.
export function parseNote(text) {
	const cut = text.lastIndexOf("\n\n");
	if (cut < 0 || !text.endsWith("\n")) throw new Error("not a signed note: no blank line before the signatures");
	const body = text.slice(0, cut + 1);
	const sigs = [];
	for (const line of text.slice(cut + 2, -1).split("\n")) {
		const m = /^\u2014 (\S+) (\S+)$/.exec(line);
		if (!m) throw new Error(`bad signature line ${JSON.stringify(line.slice(0, 60))}`);
		const raw = b64decode(m[2]);
		if (raw.length < 5) throw new Error(`signature line of ${m[1]} is too short`);
		sigs.push({ name: m[1], id: raw.slice(0, 4), sig: raw.slice(4) });
	}
	return { body, sigs };
}

// The checkpoint body: origin, size, root (and extension lines).
export function parseCheckpoint(body) {
	const lines = body.split("\n");
	if (lines.length < 4 || !/^[0-9]+$/.test(lines[1])) throw new Error("not a tlog-checkpoint body");
	const root = b64decode(lines[2]);
	if (root.length !== 32) throw new Error("checkpoint root is not 32 bytes");
	return { origin: lines[0], size: Number(lines[1]), root };
}

async function verifyOne(v, body, s) {
	let msg = utf8(body), sig = s.sig;
	let time = null;
	if (v.type === 4) {
		if (sig.length !== 72) throw new Error(`${v.name}: cosignature of ${sig.length} bytes`);
		const dv = new DataView(sig.buffer, sig.byteOffset, 8);
		const t = dv.getBigUint64(0);
		if (t >= 1n << 63n) throw new Error(`${v.name}: timestamp above 2^63-1`);
		time = Number(t);
		msg = concat(utf8(`cosignature/v1\ntime ${t}\n`), msg);
		sig = sig.slice(8);
	} else if (sig.length !== 64) {
		throw new Error(`${v.name}: signature of ${sig.length} bytes`);
	}
	const ok = await crypto.subtle.verify({ name: "Ed25519" }, v.key, sig, msg);
	return { ok, time };
}

// Verify note text against the log's key and the witnesses' keys:
// {checkpoint, log: {ok, name}, witnesses: [{name, ok, time}], quorum,
// ok}.  ok needs the log's signature and quorum valid cosignatures.
export async function verifyCheckpoint(text, logVkey, witnessVkeys = [], quorum = 0) {
	const { body, sigs } = parseNote(text);
	const cp = parseCheckpoint(body);
	const log = await parseVkey(logVkey);
	if (cp.origin !== log.name) throw new Error(`checkpoint origin ${cp.origin} is not the log's name ${log.name}`);
	const ws = await Promise.all(witnessVkeys.map(parseVkey));
	const res = { checkpoint: cp, body, log: { name: log.name, ok: false }, witnesses: [], quorum };
	for (const s of sigs) {
		if (s.name === log.name && equal(s.id, log.id)) {
			const r = await verifyOne(log, body, s);
			res.log.ok = res.log.ok || r.ok;
		}
	}
	for (const w of ws) {
		const s = sigs.find((x) => x.name === w.name && equal(x.id, w.id));
		if (!s) {
			res.witnesses.push({ name: w.name, ok: false, why: "no cosignature" });
			continue;
		}
		const r = await verifyOne(w, body, s);
		res.witnesses.push({ name: w.name, ok: r.ok, time: r.time, why: r.ok ? "" : "bad cosignature" });
	}
	const good = res.witnesses.filter((w) => w.ok).length;
	res.ok = res.log.ok && good >= quorum;
	return res;
}

// Verify that leaf (bytes) is entry index of the checkpoint cp
// ({size, root}) with the market's proof {index, size, leaf_hash, proof}.
export async function verifyInclusion(leaf, index, cp, answer) {
	const lh = await leafHash(leaf);
	if (answer.index !== index || answer.size !== cp.size) return { ok: false, why: "the proof is for another index or size" };
	if (!equal(lh, b64decode(answer.leaf_hash))) return { ok: false, why: "the leaf's hash is not the one the proof is for" };
	let root;
	try {
		root = await rootFromInclusion(index, cp.size, lh, answer.proof.map(b64decode));
	} catch (e) {
		return { ok: false, why: e.message };
	}
	if (!equal(root, cp.root)) return { ok: false, why: "the proof leads to another root than the checkpoint's" };
	return { ok: true, why: `leaf hash → root in ${answer.proof.length} steps matches the signed checkpoint` };
}
