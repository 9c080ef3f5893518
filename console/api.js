// api: the market's HTTP API from the page (same origin): JSON answers,
// errors thrown with the market's own {"error"} message.

export async function api(path, opts) {
	const r = await fetch(path, opts);
	const text = await r.text();
	let body;
	try {
		body = JSON.parse(text);
	} catch {
		body = text;
	}
	if (!r.ok) {
		const why = body && body.error ? body.error : `${r.status} ${r.statusText}`;
		const e = new Error(`${path}: ${why}`);
		e.status = r.status;
		e.body = body;
		throw e;
	}
	return body;
}
