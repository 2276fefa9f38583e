// AdaptiveProxy dashboard: charts, live refresh and the routing playground. Plain JS, no
// dependencies; loaded from 'self' only (the pages' Content-Security-Policy forbids inline code).
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const byId = (id) => document.getElementById(id);

  function valueOf(point, metric) {
    if (metric === "tokens") return point.input_tokens + point.output_tokens;
    const v = point[metric];
    return v === null || v === undefined ? 0 : Number(v);
  }

  function drawSpark(svg, series, metric) {
    const values = series.map((p) => valueOf(p, metric));
    const max = Math.max(...values, 0);
    const w = 300, h = 80, n = Math.max(values.length - 1, 1);
    const pts = values.map((v, i) => [(i / n) * w, h - 4 - (max ? (v / max) * (h - 8) : 0)]);
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" "));
    const area = document.createElementNS(SVG, "polygon");
    area.setAttribute("points", "0," + h + " " + line.getAttribute("points") + " " + w + "," + h);
    svg.appendChild(area);
    svg.appendChild(line);
    const caption = svg.parentNode.querySelector("figcaption");
    if (caption) {
      let peak = caption.querySelector(".peak");
      if (!peak) { peak = document.createElement("span"); peak.className = "peak"; caption.appendChild(peak); }
      peak.textContent = "max " + (Number.isInteger(max) ? max : max.toFixed(4));
    }
  }

  const money = (v) => { const n = Number(v); return "$" + (Math.abs(n) < 100 ? n.toFixed(4) : n.toFixed(2)); };
  const ms = (v) => v === null ? "—" : (v >= 10 ? v.toFixed(0) : v.toFixed(1)) + " ms";

  function setText(id, text) { const el = byId(id); if (el) el.textContent = text; }

  function fillBars(box, counts, total) {
    while (box.firstChild) box.removeChild(box.firstChild);
    if (!total) {
      const p = document.createElement("p"); p.className = "hint"; p.textContent = "No requests yet."; box.appendChild(p);
      return;
    }
    for (const [name, count] of Object.entries(counts)) {
      const row = document.createElement("div"); row.className = "bar-row";
      const label = document.createElement("span"); label.textContent = name;
      const svg = document.createElementNS(SVG, "svg");
      svg.setAttribute("viewBox", "0 0 100 8"); svg.setAttribute("preserveAspectRatio", "none");
      svg.setAttribute("class", "bar"); svg.setAttribute("aria-hidden", "true");
      const rect = document.createElementNS(SVG, "rect");
      rect.setAttribute("width", ((100 * count) / total).toFixed(1)); rect.setAttribute("height", "8");
      svg.appendChild(rect); row.appendChild(label); row.appendChild(svg); box.appendChild(row);
    }
  }

  function fillShares(tableId, counts) {
    const table = byId(tableId);
    if (!table) return;
    const body = table.tBodies[0];
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    const bars = byId("bars-" + tableId);
    if (bars) fillBars(bars, counts, total);
    while (body.firstChild) body.removeChild(body.firstChild);
    for (const [name, count] of Object.entries(counts)) {
      const row = body.insertRow();
      [name, String(count), total ? Math.round((100 * count) / total) + "%" : "—"].forEach((t) => {
        row.insertCell().textContent = t;
      });
    }
  }

  function renderTraffic(data) {
    const t = data.totals;
    setText("stat-requests", String(t.requests));
    setText("stat-error-rate", (100 * t.error_rate).toFixed(1) + "%");
    setText("stat-latency", ms(t.latency_p50_ms) + " / " + ms(t.latency_p95_ms));
    setText("stat-overhead", ms(t.overhead_p50_ms) + " / " + ms(t.overhead_p95_ms));
    setText("stat-tokens", t.input_tokens.toLocaleString("en") + " / " + t.output_tokens.toLocaleString("en"));
    setText("stat-cost", money(t.cost_usd));
    setText("stat-saved", money(t.saved_usd));
    setText("stat-saved-hint", Math.round(100 * t.saved_share) + "% below the best candidate (" +
      money(t.best_cost_usd) + ")");
    document.querySelectorAll("svg.spark").forEach((svg) => drawSpark(svg, data.series, svg.dataset.metric));
    fillShares("share-models", data.models);
    fillShares("share-sources", data.selection_sources);
  }

  function overview() {
    const block = byId("traffic-data");
    if (!block) return;
    renderTraffic(JSON.parse(block.textContent));
    const win = document.querySelector(".window").dataset.window;
    setInterval(() => {
      fetch("/ui/data/traffic?window=" + encodeURIComponent(win), { credentials: "same-origin" })
        .then((r) => (r.ok ? r.json() : null)).then((d) => { if (d) renderTraffic(d); }).catch(() => {});
    }, 2000);
  }

  function playground() {
    const form = byId("playground");
    if (!form) return;
    const slider = byId("cost-bias"), prompt = byId("prompt"), error = byId("playground-error");
    let timer = null, seq = 0;
    function ask() {
      byId("bias-value").textContent = Number(slider.value).toFixed(2);
      const mine = ++seq;
      fetch("/ui/data/select-model", {
        method: "POST", credentials: "same-origin",
        headers: { "content-type": "application/json", "x-csrf-token": csrf() },
        body: JSON.stringify({ prompt: prompt.value, cost_bias: Number(slider.value) }),
      }).then((r) => r.json().then((body) => ({ ok: r.ok, body }))).then(({ ok, body }) => {
        if (mine !== seq) return;  // a newer question is on its way
        error.hidden = ok;
        if (!ok) { error.textContent = body.error ? body.error.message : "request failed"; return; }
        setText("choice", body.provider + ":" + body.model);
        setText("difficulty", body.difficulty === null ? "—" : body.difficulty.toFixed(3));
        setText("source", body.source);
        const list = byId("alternatives");
        while (list.firstChild) list.removeChild(list.firstChild);
        body.alternatives.forEach((a) => {
          const li = document.createElement("li"); li.textContent = a.provider + ":" + a.model; list.appendChild(li);
        });
        form.dataset.bias = slider.value;  // lets tests (and people) see which answer is shown
      }).catch(() => {});
    }
    const soon = () => { clearTimeout(timer); timer = setTimeout(ask, 120); };
    slider.addEventListener("input", soon);
    prompt.addEventListener("input", soon);
    form.addEventListener("submit", (e) => { e.preventDefault(); ask(); });
    ask();
  }

  function confirms() {
    document.querySelectorAll("button[data-confirm]").forEach((b) => {
      b.addEventListener("click", (e) => { if (!window.confirm(b.dataset.confirm)) e.preventDefault(); });
    });
  }

  document.addEventListener("DOMContentLoaded", () => { overview(); playground(); confirms(); });
})();
