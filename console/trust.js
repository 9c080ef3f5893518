// trust: what this browser believes of a market's ledger.  The market's
// verifier key and witnesses are pinned on first use (localStorage); each
// published checkpoint must verify against them, and be consistent with
// the last checkpoint this browser verified (RFC 9162 consistency proof,
// checked against the two checkpoints' own roots).

import { api } from "./api.js";
import { b64decode, b64encode, equal, fmtTime } from "./util.js";
import { verifyCheckpoint, verifyConsistency } from "./verify.js";

const pinKey = (origin) => `lodge.pin.${origin}`;
const cpKey = (origin) => `lodge.checkpoint.${origin}`;

// Verify a published note with the market's keys, pinned on first use:
// a market whose verifier key or witnesses change is not believed.
export async function verifyPublished(info, note) {
	const w = info.witnesses || { keys: [], quorum: 0 };
	const now = { vkey: info.vkey, witnesses: w.keys || [], quorum: w.quorum || 0 };
	const saved = JSON.parse(localStorage.getItem(pinKey(info.origin)) || "null");
	const pin = saved || now;
	const res = await verifyCheckpoint(note, pin.vkey, pin.witnesses, pin.quorum);
	res.note = note;
	if (saved && (saved.vkey !== now.vkey || JSON.stringify(saved.witnesses) !== JSON.stringify(now.witnesses))) {
		res.ok = false;
		res.pinWarning = "the market now names other keys than on this browser's first visit; the first ones are kept";
	}
	if (!saved && res.ok) localStorage.setItem(pinKey(info.origin), JSON.stringify(now));
	return res;
}

// Compare a verified checkpoint with the one remembered from an earlier
// visit; remember the new one when consistent.  {ok, text, old}
export async function checkRemembered(info, cp) {
	const key = cpKey(info.origin);
	const rem = JSON.parse(localStorage.getItem(key) || "null");
	const size = cp.checkpoint.size, root = cp.checkpoint.root;
	const keep = () => localStorage.setItem(key, JSON.stringify({ size, root: b64encode(root), note: cp.note, at: Date.now() }));
	if (!rem) {
		keep();
		return { ok: true, text: `first checkpoint this browser verified for ${info.origin}: size ${size}, remembered` };
	}
	const oldRoot = b64decode(rem.root);
	if (rem.size > size)
		return { ok: false, old: rem, text: `split view: this browser verified size ${rem.size} before, the market now shows ${size}` };
	let ok;
	if (rem.size === 0) {
		ok = true; // nothing to be consistent with
	} else if (rem.size === size) {
		ok = equal(oldRoot, root);
	} else {
		const p = await api(`/v1/ledger/proof/consistency?old=${rem.size}&new=${size}`);
		ok = await verifyConsistency(rem.size, size, oldRoot, root, p.proof.map(b64decode));
	}
	if (!ok)
		return { ok: false, old: rem, text: `split view: the checkpoint of size ${size} is not consistent with size ${rem.size} verified before` };
	const text = rem.size === size ? `same checkpoint as remembered (size ${size})` :
		`consistent with the checkpoint of size ${rem.size} remembered since ${fmtTime(rem.at)} (consistency proof verified)`;
	keep();
	return { ok: true, text };
}

