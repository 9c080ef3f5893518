// The console's verification code (console/verify.js, console/util.js)
// under node's test runner, against public vectors nobody in this
// project wrote (../shared/corpus: RFC 6962 reference tree and
// transparency-dev proof probes, Go/C2SP signed notes and a cosignature)
// and against envelopes `ledger envelope` (the C) signs: the browser's
// canonical JSON must be byte for byte the C's.
//   LODGE_SHARED=../shared LODGE_BIN=bin node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync, statSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { webcrypto } from "node:crypto";

if (!globalThis.crypto) globalThis.crypto = webcrypto;

const { b64decode, b64urlDecode, canonical, fromHex, hex, utf8 } = await import("../../console/util.js");
const V = await import("../../console/verify.js");

const SHARED = process.env.LODGE_SHARED || "../shared";
const CORPUS = join(SHARED, "corpus");
const BIN = process.env.LODGE_BIN || "bin";
const json = (p) => JSON.parse(readFileSync(p, "utf8"));

test("RFC 6962 reference tree: every inclusion proof leads to its root", async () => {
	const t = json(join(CORPUS, "merkle/rfc6962_reference_tree.json"));
	for (let i = 0; i < t.leaf_inputs_hex.length; i++)
		assert.equal(hex(await V.leafHash(fromHex(t.leaf_inputs_hex[i]))), t.leaf_hashes_hex[i]);
	for (const c of t.inclusion) {
		const r = await V.rootFromInclusion(c.leaf_index, c.tree_size, fromHex(c.leaf_hash), c.proof.map(fromHex));
		assert.equal(hex(r), c.root, `leaf ${c.leaf_index} of ${c.tree_size}`);
	}
	assert.ok(t.inclusion.length >= 30);
});

test("RFC 6962 reference tree: every consistency proof verifies, and a changed one does not", async () => {
	const t = json(join(CORPUS, "merkle/rfc6962_reference_tree.json"));
	for (const c of t.consistency) {
		const p = c.proof.map(fromHex);
		assert.ok(await V.verifyConsistency(c.size1, c.size2, fromHex(c.root1), fromHex(c.root2), p), `${c.size1} -> ${c.size2}`);
		if (p.length) {
			const bad = p.map((h) => h.slice());
			bad[0][0] ^= 1;
			assert.ok(!(await V.verifyConsistency(c.size1, c.size2, fromHex(c.root1), fromHex(c.root2), bad)));
		}
	}
});

function probes(dir) {
	const out = [];
	for (const d of readdirSync(dir)) {
		const p = join(dir, d);
		if (statSync(p).isDirectory()) out.push(...probes(p));
		else if (p.endsWith(".json")) out.push([p, json(p)]);
	}
	return out;
}

const b64 = (s) => (s ? b64decode(s) : new Uint8Array());

test("transparency-dev inclusion probes: happy paths verify, mutations fail", async () => {
	const all = probes(join(CORPUS, "merkle/inclusion"));
	assert.ok(all.length > 20);
	for (const [name, c] of all) {
		let good;
		try {
			const r = await V.rootFromInclusion(c.leafIdx, c.treeSize, b64(c.leafHash), (c.proof || []).map(b64));
			good = c.leafIdx >= 0 && b64(c.root).length === 32 && hex(r) === hex(b64(c.root));
		} catch {
			good = false;
		}
		assert.equal(good, !c.wantErr, name);
	}
});

test("transparency-dev consistency probes: happy paths verify, mutations fail", async () => {
	const all = probes(join(CORPUS, "merkle/consistency"));
	assert.ok(all.length > 10);
	for (const [name, c] of all) {
		let good;
		try {
			good = c.size1 >= 0 && c.size2 >= 0 &&
				await V.verifyConsistency(c.size1, c.size2, b64(c.root1), b64(c.root2), (c.proof || []).map(b64));
		} catch {
			good = false;
		}
		assert.equal(good, !c.wantErr, name);
	}
});

test("signed notes from Go and C2SP verify; a changed byte does not", async () => {
	const v = json(join(CORPUS, "signed-note/vectors.json"));
	for (const n of v.upstream) {
		const k = await V.parseVkey(n.vkey);
		const { body, sigs } = V.parseNote(n.signed_note);
		const s = sigs.find((x) => x.name === k.name);
		assert.ok(await crypto.subtle.verify({ name: "Ed25519" }, k.key, s.sig, utf8(body)), n.source);
		assert.ok(!(await crypto.subtle.verify({ name: "Ed25519" }, k.key, s.sig, utf8(body.replace(/.$/s, "!")))));
	}
});

test("a checkpoint and its cosignature/v1 verify with the quorum; tampered ones do not", async () => {
	const v = json(join(CORPUS, "signed-note/vectors.json"));
	const [cp, cos] = v.generated;
	const note = cp.signed_checkpoint + cos.signature_line + "\n";
	const r = await V.verifyCheckpoint(note, cp.vkey, [cos.vkey], 1);
	assert.ok(r.ok && r.log.ok && r.witnesses[0].ok);
	assert.equal(r.checkpoint.size, 8);
	assert.equal(r.witnesses[0].time, 1700000000);
	// the root changed: neither signature holds
	const bad = note.replace("XcnaeacG", "XcnaeacH");
	const rb = await V.verifyCheckpoint(bad, cp.vkey, [cos.vkey], 1);
	assert.ok(!rb.ok && !rb.log.ok && !rb.witnesses[0].ok);
	// the cosignature missing: short of the quorum
	const rc = await V.verifyCheckpoint(cp.signed_checkpoint, cp.vkey, [cos.vkey], 1);
	assert.ok(!rc.ok && rc.log.ok);
	// a verifier key whose ID does not match is refused
	await assert.rejects(V.parseVkey(cp.vkey.replace("+13389fb3+", "+13389fb4+")));
});

test("canonical JSON signs what the C signs (ledger envelope)", async (t) => {
	let ledger = join(BIN, "ledger");
	try {
		statSync(ledger);
	} catch {
		t.skip(`${ledger} is not built`);
		return;
	}
	const dir = mkdtempSync(join(tmpdir(), "lodge-js-"));
	try {
		const key = join(dir, "k.key");
		execFileSync(ledger, ["keygen", key]);
		const bodies = [
			{ a: 1, B: "x", "é": [1, 2, { z: null, y: true }], "\u0001ctl": "tab\there \"q\" \\ nl\n cr\r bs\b ff\f \u001f" },
			{ text: "日本語 — emoji 😀", nested: { "b": { "a": -5 }, "a": [] }, big: 9007199254740991 },
			{ "ä": 1, "a": 2, "z": 3, "Z": 4, "aa": 5, "": 6 },
		];
		for (const body of bodies) {
			const out = execFileSync(ledger, ["envelope", "--key", key, "--kind", "note.add", "--body", JSON.stringify(body)], { encoding: "utf8" });
			const env = JSON.parse(out);
			const { sig, ...rest } = env;
			const pub = b64urlDecode(env.signer.replace(/^ed25519:/, ""));
			const k = await crypto.subtle.importKey("raw", pub, { name: "Ed25519" }, false, ["verify"]);
			assert.ok(await crypto.subtle.verify({ name: "Ed25519" }, k, b64urlDecode(sig), utf8(canonical(rest))), JSON.stringify(body));
			// the C prints the canonical text itself: the same bytes
			assert.equal(canonical(env), out.trim());
		}
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});

test("canonical JSON refuses what the ledger refuses", () => {
	assert.throws(() => canonical({ x: 1.5 }));
	assert.throws(() => canonical({ x: 2 ** 60 }));
	assert.throws(() => canonical({ x: "\ud800" }));
});
