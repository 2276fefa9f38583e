"""The read-only pages' bodies: overview, providers, cache (HTML from the dashboard read model)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from application.dashboard import DAY
from entrypoints.http.ui.html import ACTIVE, card, csrf_field, data_block, esc, table

CHARTS = [("requests", "Requests / min"), ("errors", "Errors / min"), ("latency_p95_ms", "p95 latency (ms)"),
          ("overhead_p95_ms", "p95 overhead (ms)"), ("tokens", "Tokens / min"), ("cost_usd", "Cost / min ($)")]


def money(value: str | Decimal | None) -> str:
    if value is None:
        return "—"
    amount = Decimal(value)
    return f"${amount:.4f}" if abs(amount) < 100 else f"${amount:,.2f}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def shares(counts: dict[str, int], label: str, table_id: str) -> str:
    total = sum(counts.values())
    rows = [(name, count, f"{count / total:.0%}" if total else "—") for name, count in counts.items()]
    bars = "".join(
        f'<div class="bar-row"><span>{esc(name)}</span><svg viewBox="0 0 100 8" preserveAspectRatio="none" '
        f'class="bar" aria-hidden="true"><rect width="{100 * count / total:.1f}" height="8"></rect></svg></div>'
        for name, count in counts.items()) if total else '<p class="hint">No requests yet.</p>'
    return (f'<section class="share"><h2>{esc(label)}</h2><div id="bars-{esc(table_id)}">{bars}</div>'
            + table([label, "requests", "share"], rows, table_id) + "</section>")


def overview_body(traffic: dict[str, Any], minutes: int) -> str:
    t = traffic["totals"]
    window = "24h" if minutes == DAY else "1h"
    switch = "".join(f'<a href="/ui?window={w}"{ACTIVE if w == window else ""}>last {w}</a>' for w in ("1h", "24h"))
    saved_hint = f"{t['saved_share']:.0%} below the best candidate ({money(t['best_cost_usd'])})"
    cards = "".join([
        card("Requests", t["requests"], "stat-requests"),
        card("Error rate", f"{t['error_rate']:.1%}", "stat-error-rate"),
        card("Latency p50 / p95", f"{ms(t['latency_p50_ms'])} / {ms(t['latency_p95_ms'])}", "stat-latency"),
        card("Overhead p50 / p95", f"{ms(t['overhead_p50_ms'])} / {ms(t['overhead_p95_ms'])}", "stat-overhead"),
        card("Tokens in / out", f"{t['input_tokens']:,} / {t['output_tokens']:,}", "stat-tokens"),
        card("Cost", money(t["cost_usd"]), "stat-cost"),
        card("Saved by routing", money(t["saved_usd"]), "stat-saved", saved_hint, "stat-saved-hint"),
    ])
    charts = "".join(f'<figure class="chart"><figcaption>{esc(label)}</figcaption>'
                     f'<svg class="spark" data-metric="{esc(metric)}" viewBox="0 0 300 80" '
                     f'preserveAspectRatio="none" role="img" aria-label="{esc(label)}"></svg></figure>'
                     for metric, label in CHARTS)
    return (f'<nav class="window" data-window="{window}">{switch}</nav><div class="cards">{cards}</div>'
            f'<div class="charts">{charts}</div><div class="shares">'
            + shares(traffic["models"], "Model", "share-models")
            + shares(traffic["selection_sources"], "Selection source", "share-sources")
            + "</div>" + data_block("traffic-data", traffic))


def providers_body(data: dict[str, Any]) -> str:
    rows = []
    for p in data["providers"]:
        traffic = p["traffic_1h"] or {}
        state = "enabled" if p["enabled"] else f"disabled: {p['reason']}"
        breaker = p["breaker"]
        rows.append([
            f'<strong>{esc(p["name"])}</strong>', esc(p["kind"]),
            f'<span class="pill {"ok" if p["enabled"] else "off"}">{esc(state)}</span>',
            f'<span class="pill breaker-{esc(breaker)}" id="breaker-{esc(p["name"])}">{esc(breaker)}</span>'
            if p["enabled"] else "—",
            esc(traffic.get("requests", 0)), esc(f"{traffic.get('error_rate', 0):.1%}"),
            esc(f"{traffic.get('rate_limited_rate', 0):.1%}"), esc(ms(traffic.get("mean_latency_ms")))])
    breakers = [(b["key"], b["state"], b["failures"], _clock(b["changed_at"]))
                for p in data["providers"] for b in p["breakers"]]
    transitions = sorted(((t["at"], t["key"], t["from"], t["to"], t["failures"])
                          for p in data["providers"] for t in p.get("transitions", [])), reverse=True)
    history = [(_clock(at), key, f"{before} → {after}", failures) for at, key, before, after, failures in transitions]
    catalog = [(f"{p['name']}:{m['model']}", m["input_per_mtok"], m["output_per_mtok"],
                "—" if m["quality"] is None else m["quality"], f"{m['context_window']:,}",
                _capabilities(m))
               for p in data["providers"] for m in p["models"]]
    store = data["breaker_store"]
    return (table(["provider", "kind", "state", "breaker", "requests 1h", "errors", "429s", "mean latency"], rows,
                  "providers", raw=True)
            + f'<h2>Breakers</h2><p class="hint">breaker store: {esc(store.get("store", "—"))}{_degraded(store)}</p>'
            + (table(["breaker", "state", "failures", "changed at (UTC)"], breakers, "breakers")
               if breakers else '<p class="hint">Every breaker is closed (none has tripped yet).</p>')
            + "<h2>Recent breaker transitions</h2>"
            + (table(["at (UTC)", "breaker", "transition", "failures"], history, "transitions")
               if history else '<p class="hint">No breaker has changed state since this instance started.</p>')
            + "<h2>Routing catalog</h2>"
            + table(["model", "$ in / Mtok", "$ out / Mtok", "quality prior", "context", "capabilities"], catalog,
                    "catalog"))


def cache_body(data: dict[str, Any], csrf: str) -> str:
    rows = [(esc(c["name"]), "on" if c["enabled"] else "off", esc(c["entries"]), esc(c.get("store", "—")),
             "—" if c.get("hit_rate_1h") is None else f"{c['hit_rate_1h']:.0%}",
             f'<form method="post" action="/ui/cache/clear" class="inline">{csrf_field(csrf)}'
             f'<input type="hidden" name="cache" value="{esc(c["name"])}"><button type="submit" class="danger" '
             f'id="clear-{esc(c["name"])}" data-confirm="Clear the {esc(c["name"])} cache?">Clear</button></form>')
            for c in data["caches"]]
    tiers = [(tier, count, f"{data['hit_rates_1h'].get(tier, 0):.0%}" if tier != "none" else "—")
             for tier, count in data["tiers_1h"].items()]
    return (table(["cache", "enabled", "entries", "store", "hit rate 1h", ""], rows, "caches", raw=True)
            + "<h2>Cache outcomes, last hour</h2>"
            + (table(["tier", "requests", "share"], tiers, "cache-tiers") if tiers
               else '<p class="hint">No requests yet.</p>'))


def _capabilities(model: dict[str, Any]) -> str:
    found = [name for name in ("tools", "vision") if model[f"supports_{name}"]]
    return ", ".join(found) or "—"


def _clock(unix_s: float) -> str:
    return "—" if not unix_s else datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _degraded(store: dict[str, Any]) -> str:
    extra = {k: v for k, v in store.items() if k != "store"}
    return f" ({esc(', '.join(f'{k}: {v}' for k, v in extra.items()))})" if extra else ""
