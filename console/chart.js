// chart: a small SVG line chart (no library: two series and their axes
// are fewer lines than a vendored chart library's licence header, and
// it follows the page's colours through CSS variables).  The points are
// also written as a table for screen readers and for the tests.

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs) {
	const e = document.createElementNS(NS, tag);
	for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
	return e;
}

function nice(max) {
	if (max <= 0) return 1;
	const p = 10 ** Math.floor(Math.log10(max));
	for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
	return 10 * p;
}

// lineChart({title, x: [..], series: [{name, values, cls}], xLabel,
// yLabel, fmtX, fmtY}) -> a <figure> with the SVG and a data table.
export function lineChart(o) {
	const W = 640, H = 220, L = 64, R = 12, T = 12, B = 32;
	const fig = document.createElement("figure");
	fig.className = "chart";
	const n = o.x.length;
	const ymax = nice(Math.max(0, ...o.series.flatMap((s) => s.values)));
	const xmin = n ? o.x[0] : 0, xmax = n ? o.x[n - 1] : 1;
	const sx = (x) => L + (xmax === xmin ? 0.5 : (x - xmin) / (xmax - xmin)) * (W - L - R);
	const sy = (y) => T + (1 - y / ymax) * (H - T - B);
	const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": o.title });
	const compact = new Intl.NumberFormat("en", { notation: "compact", maximumFractionDigits: 2 });
	const fmtY = o.fmtY || ((v) => compact.format(v)), fmtX = o.fmtX || String;
	for (let i = 0; i <= 4; i++) {
		const y = (ymax * i) / 4;
		root.append(svg("line", { x1: L, x2: W - R, y1: sy(y), y2: sy(y), class: "grid" }));
		const t = svg("text", { x: L - 6, y: sy(y) + 4, "text-anchor": "end", class: "tick" });
		t.textContent = fmtY(y);
		root.append(t);
	}
	if (n) {
		for (const x of [xmin, xmax]) {
			const t = svg("text", { x: sx(x), y: H - 10, "text-anchor": x === xmin ? "start" : "end", class: "tick" });
			t.textContent = fmtX(x);
			root.append(t);
		}
	}
	if (o.xLabel) {
		const t = svg("text", { x: (L + W - R) / 2, y: H - 2, "text-anchor": "middle", class: "tick" });
		t.textContent = o.xLabel;
		root.append(t);
	}
	o.series.forEach((s, k) => {
		const pts = s.values.map((v, i) => `${sx(o.x[i]).toFixed(1)},${sy(v).toFixed(1)}`);
		if (pts.length === 1) pts.push(pts[0]);
		root.append(svg("polyline", { points: pts.join(" "), class: `line s${k}`, fill: "none" }));
		if (s.values.length <= 60) s.values.forEach((v, i) => root.append(svg("circle", { cx: sx(o.x[i]), cy: sy(v), r: 2.5, class: `dot s${k}` })));
	});
	fig.append(root);
	const cap = document.createElement("figcaption");
	cap.textContent = o.title + ":";
	o.series.forEach((s, k) => {
		const sw = document.createElement("span");
		sw.className = `swatch s${k}`;
		sw.setAttribute("aria-hidden", "true");
		cap.append(" ", sw, " " + s.name);
	});
	fig.append(cap);
	const det = document.createElement("details");
	const sum = document.createElement("summary");
	sum.textContent = "data points";
	det.append(sum);
	const tbl = document.createElement("table");
	tbl.className = "points";
	const hr = tbl.insertRow();
	for (const h of [o.xLabel || "x", ...o.series.map((s) => s.name)]) {
		const th = document.createElement("th");
		th.textContent = h;
		hr.append(th);
	}
	for (let i = 0; i < n; i++) {
		const r = tbl.insertRow();
		r.dataset.x = o.x[i];
		if (o.ids) r.dataset.id = o.ids[i];
		r.insertCell().textContent = fmtX(o.x[i]);
		o.series.forEach((s) => {
			const c = r.insertCell();
			c.textContent = s.values[i];
			c.dataset.v = s.values[i];
		});
	}
	det.append(tbl);
	fig.append(det);
	return fig;
}
