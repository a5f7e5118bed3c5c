"""The monthly investor report (issue 18, item 5): what a trustee publishes for a period, from the
ledger alone, as data (:func:`investor_report`) and as one self-contained HTML page
(:func:`render_html`: inline CSS and SVG charts, no script, no network), whose keccak-256 an
EIP-712 attestation binds (:func:`report_attestation`).

Sections: the period's collections and pool roll-forward; delinquency and loss history; the
waterfall's payments per class with factors; fees; triggers with values and thresholds; account
balances; realised speeds over 1, 3, 6, 12 months and life; the variance against the servicer's
base-scenario projection; the ledger's head hash and the period report's hash. Charts: the pool
balance and cumulative losses, the classes' balances, and CPR/CDR over the periods.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import SpecError
from .attestation import _domain
from .ledger import keccak_hex
from .reports import PeriodReport

if TYPE_CHECKING:
    from .servicer import Servicer

__all__ = ["investor_report", "render_html", "report_attestation", "REPORT_DOMAIN_NAME"]

REPORT_DOMAIN_NAME = "abs_engine investor report"
REPORT_TYPES = {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}],
    "InvestorReport": [{"name": "dealId", "type": "bytes32"}, {"name": "period", "type": "uint256"},
                       {"name": "reportHash", "type": "bytes32"}, {"name": "ledgerHead", "type": "bytes32"},
                       {"name": "documentHash", "type": "bytes32"}],
}


def _finite(x: Any) -> Any:
    """A JSON-safe number (NaN and infinities as None)."""
    if isinstance(x, float | np.floating) and not math.isfinite(float(x)):
        return None
    return float(x) if isinstance(x, np.floating) else x


def investor_report(servicer: Servicer, period: int | None = None) -> dict:
    """The report's content for a recorded ``period`` (default the latest): JSON-able, numbers as
    recorded (currency units; rates as decimals)."""
    current = servicer.ledger.current()
    if not current:
        raise SpecError("ledger", "empty", "a ledger with at least one recorded period")
    period = max(current) if period is None else int(period)
    if period not in current:
        raise SpecError("period", period, f"a recorded period (1..{max(current)})")
    reports = {p: PeriodReport.from_json(current[p].report) for p in sorted(current) if p <= period}
    rep = reports[period]
    d = rep.data
    history = []
    for p, r in reports.items():
        pool, realised = r.data["pool"], r.data["realised"]
        history.append({"period": p, "payment_date": r.data.get("payment_date"),
                        "beginning_balance": pool["beginning_balance"], "ending_balance": pool["ending_balance"],
                        "default": pool["default"], "loss": pool["loss"], "cumulative_loss": pool["cumulative_loss"],
                        "delinquency_60": _finite(pool.get("delinquency_60")), "cpr": realised["cpr"],
                        "cdr": realised["cdr"], "severity": _finite(realised["severity"]),
                        "balances": {t["name"]: t["ending_balance"] for t in r.data["tranches"]
                                     if "ending_balance" in t}})
    speeds = servicer.speeds().xs(period, level="period")
    variance = servicer.variance(period)
    tranches = []
    for t in d["tranches"]:
        row = {k: _finite(v) for k, v in t.items()}
        if "original_balance" in t and t.get("original_balance"):
            row["factor"] = t["ending_balance"] / t["original_balance"]
        tranches.append(row)
    return {
        "deal": d["deal"], "deal_id": d["deal_id"], "period": period, "period_start": d.get("period_start"),
        "period_end": d.get("period_end"), "payment_date": d.get("payment_date"),
        "report_hash": rep.hash, "ledger_head": servicer.ledger.head()["hash"],
        "collections": {k: _finite(v) for k, v in d["pool"].items()},
        "cash": {k: _finite(v) for k, v in d["cash"].items()},
        "tranches": tranches,
        "fees": [{k: _finite(v) for k, v in f.items()} for f in d["fees"]],
        "triggers": [{k: _finite(v) for k, v in t.items()} for t in d["triggers"]],
        "accounts": [{k: _finite(v) for k, v in a.items()} for a in d["accounts"]],
        "speeds": [{"window": w, **{c: _finite(v) for c, v in row.items()}}
                   for w, row in speeds.to_dict(orient="index").items()],
        "variance": [{"item": i, "column": c, **{k: _finite(v) for k, v in row.items()}}
                     for (i, c), row in variance.to_dict(orient="index").items()],
        "history": history,
        "check": {k: _finite(v) for k, v in d["check"].items()},
    }


# ---------------------------------------------------------------- HTML


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem;color:#1b1f24;max-width:1100px}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #d0d7de}
.meta{color:#57606a;font-size:.9rem}table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{padding:.25rem .6rem;border-bottom:1px solid #eaeef2;text-align:right}th{background:#f6f8fa}
td:first-child,th:first-child{text-align:left}.breached{color:#cf222e;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:1rem}figure{margin:0}figcaption{font-size:.85rem;color:#57606a}
code{font-size:.8rem;word-break:break-all}
"""
_COLORS = ("#0969da", "#cf222e", "#1a7f37", "#8250df", "#bf8700", "#57606a", "#e16f24", "#116329")


def _fmt(x: Any, kind: str = "amount") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, str):
        return html.escape(x)
    if kind == "rate":
        return f"{100 * float(x):.4f}%"
    if kind == "factor":
        return f"{float(x):.8f}"
    if kind == "plain":
        return f"{x:g}" if isinstance(x, float) else str(x)
    return f"{float(x):,.2f}"


def _table(rows: list[dict], columns: list[tuple[str, str, str]], table_id: str) -> str:
    """An HTML table: ``columns`` (key, header, kind)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in columns)
    body = []
    for r in rows:
        cells = []
        for key, _, kind in columns:
            v = r.get(key)
            cls = ' class="breached"' if key == "breached" and v else ""
            text = ("yes" if v else "no") if kind == "flag" else _fmt(v, kind)
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _chart(series: dict[str, list[float]], x: list[int], title: str, chart_id: str, percent: bool = False) -> str:
    """An inline SVG line chart of ``series`` over ``x``, with axes, ticks and a legend."""
    w, h, left, right, top, bottom = 520, 260, 70, 130, 20, 30
    values = [v for s in series.values() for v in s if v is not None and math.isfinite(v)]
    hi = max(values) if values else 1.0
    hi = hi if hi > 0 else 1.0
    x0, x1 = min(x), max(x) if max(x) > min(x) else min(x) + 1

    def px(xv):
        return left + (xv - x0) / (x1 - x0) * (w - left - right)

    def py(yv):
        return top + (1 - yv / hi) * (h - top - bottom)

    parts = [f'<svg id="{chart_id}" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" '
             f'aria-label="{html.escape(title)}">',
             f'<line x1="{left}" y1="{h - bottom}" x2="{w - right}" y2="{h - bottom}" stroke="#8c959f"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{h - bottom}" stroke="#8c959f"/>']
    for k in range(5):
        yv = hi * k / 4
        label = f"{100 * yv:.2f}%" if percent else (f"{yv / 1e6:,.1f}m" if hi >= 1e6 else f"{yv:,.0f}")
        parts.append(f'<text x="{left - 6}" y="{py(yv) + 4:.1f}" font-size="10" text-anchor="end">{label}</text>')
    for xv in sorted({x0, x1, (x0 + x1) // 2}):
        parts.append(f'<text x="{px(xv):.1f}" y="{h - bottom + 14}" font-size="10" text-anchor="middle">{xv}</text>')
    for j, (name, ys) in enumerate(series.items()):
        color = _COLORS[j % len(_COLORS)]
        pts = " ".join(f"{px(xv):.1f},{py(yv):.1f}" for xv, yv in zip(x, ys, strict=True)
                       if yv is not None and math.isfinite(yv))
        parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        for xv, yv in zip(x, ys, strict=True):
            if yv is not None and math.isfinite(yv):
                parts.append(f'<circle cx="{px(xv):.1f}" cy="{py(yv):.1f}" r="2.5" fill="{color}"/>')
        parts.append(f'<text x="{w - right + 8}" y="{top + 14 * j + 10}" font-size="11" fill="{color}">'
                     f'{html.escape(name)}</text>')
    parts.append("</svg>")
    return f"<figure>{''.join(parts)}<figcaption>{html.escape(title)}</figcaption></figure>"


def render_html(content: dict) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG, no script, no external
    resource). The same content gives the same bytes."""
    c = content
    x = [r["period"] for r in c["history"]]
    pool_chart = _chart({"pool balance": [r["ending_balance"] for r in c["history"]],
                         "cumulative loss": [r["cumulative_loss"] for r in c["history"]]}, x,
                        "Pool balance and cumulative losses", "chart-pool")
    names = [t["name"] for t in c["tranches"] if "ending_balance" in t]
    class_chart = _chart({n: [r["balances"].get(n) for r in c["history"]] for n in names}, x,
                         "Class balances", "chart-classes")
    speed_chart = _chart({"CPR": [r["cpr"] for r in c["history"]], "CDR": [r["cdr"] for r in c["history"]],
                          "60+ delinquent": [r["delinquency_60"] for r in c["history"]]}, x,
                         "Realised speeds and delinquency", "chart-speeds", percent=True)
    coll = c["collections"]
    roll = [{"item": k.replace("_", " "), "value": coll.get(k)} for k in (
        "beginning_balance", "scheduled_principal", "prepayment", "default", "recovery", "loss", "ending_balance",
        "gross_interest", "servicing_fee", "net_interest", "cumulative_loss")]
    sections = [
        ("Collections and pool roll-forward", _table(roll, [("item", "", "plain"), ("value", "amount", "amount")],
                                                     "collections")),
        ("Payments to the classes", _table(c["tranches"], [
            ("name", "class", "plain"), ("beginning_balance", "beginning", "amount"), ("coupon", "coupon", "rate"),
            ("interest_due", "interest due", "amount"), ("interest_paid", "interest paid", "amount"),
            ("interest_shortfall", "shortfall", "amount"), ("principal_paid", "principal", "amount"),
            ("writedown", "writedown", "amount"), ("ending_balance", "ending", "amount"),
            ("factor", "factor", "factor"), ("residual_paid", "residual", "amount")], "tranches")),
        ("Fees", _table(c["fees"], [("name", "fee", "plain"), ("due", "due", "amount"), ("paid", "paid", "amount"),
                                    ("shortfall", "shortfall", "amount")], "fees")),
        ("Triggers", _table(c["triggers"], [("name", "trigger", "plain"), ("value", "value", "rate"),
                                            ("threshold", "threshold", "rate"), ("breached", "breached", "flag")],
                            "triggers")),
        ("Accounts", _table(c["accounts"], [("name", "account", "plain"), ("beginning_balance", "beginning", "amount"),
                                            ("deposit", "deposit", "amount"), ("draw", "draw", "amount"),
                                            ("release", "release", "amount"), ("ending_balance", "ending", "amount"),
                                            ("target", "target", "amount")], "accounts")),
        ("Delinquency and loss history", _table(c["history"], [
            ("period", "period", "plain"), ("payment_date", "paid", "plain"), ("ending_balance", "pool", "amount"),
            ("default", "charged off", "amount"), ("loss", "loss", "amount"),
            ("cumulative_loss", "cumulative loss", "amount"), ("delinquency_60", "60+", "rate"),
            ("cpr", "CPR", "rate"), ("cdr", "CDR", "rate"), ("severity", "severity", "rate")], "history")),
        ("Realised speeds", _table(c["speeds"], [
            ("window", "window", "plain"), ("months", "periods", "plain"), ("cpr", "CPR", "rate"),
            ("cdr", "CDR", "rate"), ("severity", "severity", "rate"), ("delinquency_60", "60+", "rate"),
            ("psa", "PSA %", "factor"), ("abs", "ABS %", "factor")], "speeds")),
        ("Variance against the projection", _table(c["variance"], [
            ("item", "item", "plain"), ("column", "", "plain"), ("actual", "actual", "amount"),
            ("projected", "projected", "amount"), ("difference", "difference", "amount")], "variance")),
    ]
    body = "".join(f"<h2>{html.escape(t)}</h2>{s}" for t, s in sections)
    meta = (f'<p class="meta">Period {c["period"]} ({_fmt(c["period_start"])} to {_fmt(c["period_end"])}), paid '
            f'{_fmt(c["payment_date"])}. Deal id <code>{c["deal_id"]}</code></p>')
    proof = (f'<h2>Ledger</h2><p class="meta">Period report hash <code id="report-hash">{c["report_hash"]}</code><br>'
             f'Ledger head <code id="ledger-head">{c["ledger_head"]}</code><br>Reconciliation residuals: '
             + ", ".join(f"{k} {float(v):.2e}" for k, v in c["check"].items() if v is not None) + "</p>")
    title = f"{c['deal']}: investor report, period {c['period']}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{html.escape(c['deal'])}</h1>{meta}<h2>Charts</h2><div class=\"charts\">{pool_chart}{class_chart}"
            f"{speed_chart}</div>{body}{proof}</body></html>\n")


def report_attestation(content: dict, document: str | bytes, *, chain_id: int) -> dict:
    """The EIP-712 typed data binding the deal id, the period, the period report's hash, the
    ledger head and the keccak-256 of the report's document (its HTML bytes)."""
    types = {k: list(v) for k, v in REPORT_TYPES.items()}
    domain = _domain(types, REPORT_DOMAIN_NAME, chain_id, None)
    data = document.encode("utf-8") if isinstance(document, str) else document
    message = {"dealId": content["deal_id"], "period": str(int(content["period"])),
               "reportHash": content["report_hash"], "ledgerHead": content["ledger_head"],
               "documentHash": keccak_hex(data)}
    return {"types": types, "primaryType": "InvestorReport", "domain": domain, "message": message}
