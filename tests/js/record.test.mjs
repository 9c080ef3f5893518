// The console's words for a provider's record and a lease's standing
// top-up (console/record.js) under node's test runner: every figure of
// the record (docs/state.md, "Reputation") is shown, undefined figures
// say so, and the top-up sentence gives the amount, the threshold and
// what it did, on and off.
//   node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";

const R = await import("../../console/record.js");

// a record as state_provider_record gives it
const rec = {
	provider: "ed25519:AAAA", index: 120, time: 1700000900000,
	first_ask: { index: 3, time: 1700000000000 }, key_age_ms: 900000,
	leases: { won: 7, started: 6, live: 2, ended: { tenant_closed: 3, provider_offline: 1, manifest_refused: 0 } },
	manifests_refused: 0, usage_reports: 41, heartbeats: 90, last_seen: 1700000899000, online: true,
	offline_marks: 1, online_ms: 840000, offline_ms: 60000,
	uptime_7d_ppm: 933333, uptime_30d_ppm: 933333, completion_rate_ppm: 750000,
	bond: { now: 11000000, max: 12000000, changes: 3 },
	attestations: [{ auditor: "ed25519:BBBB", index: 9 }],
};

test("a record: every figure, in people's units", () => {
	const rows = Object.fromEntries(R.recordRows(rec, "uakt"));
	assert.equal(rows["as of"], "ledger index 120");
	assert.equal(rows["first ask"], "ledger index 3; key age 15 min 0 s");
	assert.equal(rows.leases, "won 7, started 6, live 2");
	assert.equal(rows.ended, "tenant_closed 3, provider_offline 1");
	assert.equal(rows["completion rate"], "75%");
	assert.equal(rows.uptime, "93.3333% over 7 days, 93.3333% over 30 days");
	assert.equal(rows.online, "yes; 14 min 0 s online, 1 min 0 s offline, 1 offline mark(s)");
	assert.equal(rows["manifests refused"], "0");
	assert.equal(rows.reports, "41 usage report(s), 90 heartbeat(s)");
	assert.equal(rows.bond, "11 AKT now, 12 AKT at most, 3 change(s)");
	assert.equal(rows.attestations, "ed25519:BBBB (#9)");
});

test("a new provider's record: undefined figures say so", () => {
	const r = { ...rec, leases: { won: 0, started: 0, live: 0, ended: {} }, completion_rate_ppm: null,
		uptime_7d_ppm: null, uptime_30d_ppm: null, attestations: [], key_age_ms: 0 };
	const rows = Object.fromEntries(R.recordRows(r, "uakt"));
	assert.equal(rows["completion rate"], "not defined yet");
	assert.equal(rows.uptime, "not defined yet over 7 days, not defined yet over 30 days");
	assert.equal(rows.ended, "none");
	assert.equal(rows.attestations, "none");
});

test("a standing top-up: on, off, none", () => {
	const a = { on: true, amount: 3200, below_epochs: 8, index: 42, time: 1, instructions: 5, applied: 3, moved: 9600, shortfalls: 1 };
	assert.equal(R.autoTopupText(a, "uakt"),
		"0.0032 AKT from the tenant's balance at each billing that leaves the escrow paying fewer than 8 epochs " +
		"(set at ledger index 42); 3 made (0.0096 AKT in all), 1 short");
	assert.match(R.autoTopupText({ ...a, below_epochs: 1 }, "uakt"), /fewer than 1 epoch \(/);
	assert.equal(R.autoTopupText({ ...a, on: false, amount: 0, below_epochs: 0, index: 50 }, "uakt"),
		"off (cancelled at ledger index 50); 3 made (0.0096 AKT in all), 1 short");
	assert.equal(R.autoTopupText(undefined, "uakt"), null);
});
