"""What a result shows of itself: a compact header (deal, scenarios, periods, checks) and its
summary, as text (``repr``, the CLI) and HTML (a notebook's ``_repr_html_``). Formats are
:mod:`abs_engine.io.display`'s; the tables themselves keep their dtypes."""

from __future__ import annotations

import numpy as np

from ..io.display import checks_text

__all__ = ["describe_scenario", "pool_totals", "run_header", "card_header", "run_display", "summary_display",
           "card_display", "scenarios_text"]


def _value(v) -> str:
    if isinstance(v, tuple):
        return f"vector of {len(v)} ({v[0]:g} .. {v[-1]:g})" if v else "vector of 0"
    return f"{v:g}" if isinstance(v, float | int) else str(v)


def describe_scenario(scen) -> str:
    """One line of a scenario's assumptions: ``base: prepay psa 150, default sda 100, ...``."""
    name = scen.name or "-"
    if scen.payment_rate is not None:  # a card trust's scenario (CONVENTIONS R2.9)
        parts = [f"payment rate {_value(scen.payment_rate)}", f"portfolio yield {_value(scen.portfolio_yield)}",
                 f"charge-offs {_value(scen.charge_off_rate)}", f"purchase rate {_value(scen.purchase_rate or 1.0)}"]
    else:
        parts = [f"prepay {scen.prepay.kind} {_value(scen.prepay.value)}"]
        if scen.roll_rates is not None:
            parts.append("roll rates")
        else:
            parts.append(f"default {scen.default.kind} {_value(scen.default.value)}")
        parts += [f"severity {_value(scen.severity)}", f"lag {scen.recovery_lag}"]
        if scen.advancing is not None:
            parts.append("advancing" if scen.advancing else "no advancing")
    return f"{name}: {', '.join(parts)}"


def scenarios_text(scenarios) -> str:
    """One scenario's assumptions, or how many scenarios and the first and last names."""
    if len(scenarios) == 1:
        return describe_scenario(scenarios[0])
    first, last = scenarios[0].name or "0", scenarios[-1].name or str(len(scenarios) - 1)
    return f"{len(scenarios):,} scenarios ({first} .. {last})"


def _periods_text(res) -> str:
    first = getattr(res, "first_period", 1)
    n = res.n_periods
    span = f"{n} (periods {first} to {first + n - 1})" if first != 1 else str(n)
    dates = res.dates
    if len(dates) and not dates.isna().all():
        span += f", {dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}"
    return span


def pool_totals(res) -> dict[str, float]:
    """The whole pool's totals over a one-scenario run: ``principal``, ``net_interest``,
    ``loss``, ``loss_share`` (of the original balance) and the pool's ``wal`` in years."""
    pool = res.whole_pool
    if res.scenario_level:
        pool = pool.xs(pool.index.get_level_values("scenario")[0], level="scenario")
    principal = pool["scheduled_principal"] + pool["prepayment"] + pool["recovery"]
    total = float(principal.sum())
    original = res.program.original_balance
    periods = np.arange(1, len(principal) + 1)
    return {"principal": total, "net_interest": float(pool["net_interest"].sum()), "loss": float(pool["loss"].sum()),
            "loss_share": float(pool["loss"].sum()) / original if original else 0.0,
            "wal": float((principal.to_numpy() * periods).sum() / total / 12.0) if total else 0.0}


def _checks(frame, scale: float) -> str:
    residual = float(np.nanmax(np.abs(frame.to_numpy()))) if frame.size else 0.0
    return checks_text(residual, scale)[0]


def run_header(res) -> list[tuple[str, str]]:
    """The header of a :class:`~abs_engine.results.tables.RunResult`: ``(name, value text)`` rows."""
    program = res.program
    loans = program.loans
    pool = f"original balance {program.original_balance:,.2f}"
    if loans is not None:
        pool = f"{len(loans):,} loan{'s' if len(loans) != 1 else ''}, {pool}"
    if program.groups:
        pool += f", {len(program.groups)} collateral groups"
    scenario = scenarios_text(res.scenarios)
    if len(res.scenarios) == 1 and res.scenarios[0].advancing is None and res.scenarios[0].roll_rates is None:
        scenario += ", advancing" if bool(program.scenarios.advancing[0]) else ", no advancing"  # the pool's default
    items = [("deal", res.deal.name), ("scenario" if len(res.scenarios) == 1 else "scenarios", scenario),
             ("periods", _periods_text(res)), ("pool", pool)]
    if len(res.scenarios) == 1:
        t = pool_totals(res)
        items.append(("pool flows", f"WAL {t['wal']:.4f} years, principal {t['principal']:,.2f}, net interest "
                                    f"{t['net_interest']:,.2f}, loss {t['loss']:,.2f} ({t['loss_share']:.4%})"))
    items.append(("checks", _checks(res.check(), program.original_balance)))
    return items


def run_display(res) -> tuple[str, list[tuple[str, str]], list[tuple[str, object]]]:
    """``(title, header items, tables)`` of a :class:`~abs_engine.results.tables.RunResult`."""
    items = run_header(res)
    if res.waterfall is None:
        return "RunResult", items, [("pool", res.pool)]
    if len(res.scenarios) == 1:
        return "RunResult", items, [("summary (yields at par)", res.summary())]
    return "RunResult", items, [("across scenarios (yields at par)", res.distribution())]


def summary_display(res) -> tuple[str, list[tuple[str, str]], list[tuple[str, object]]]:
    """The same for a summary-only run (:class:`~abs_engine.results.tables.SummaryResult`)."""
    items = [("deal", res.deal.name), ("scenarios", scenarios_text(res.scenarios)),
             ("kept", "per-scenario summaries (run without summary_only for per-period tables)")]
    return "SummaryResult", items, [("across scenarios (yields at par)", res.distribution())]


def card_header(res) -> list[tuple[str, str]]:
    """The header of a card trust series' result (:class:`~abs_engine.results.card.CardResult`)."""
    series = res.deal.series
    items = [("deal", res.deal.name), ("scenario" if len(res.scenarios) == 1 else "scenarios",
                                       scenarios_text(res.scenarios)),
             ("series", f"{series.name}: invested {series.invested_amount:,.2f} of receivables "
                        f"{res.deal.collateral.receivables:,.2f}, coupon {series.coupon:.4%}, servicing "
                        f"{series.servicing_fee:.4%}, revolving {series.revolving_months} + accumulation "
                        f"{series.accumulation_months} months"),
             ("periods", str(res.n_periods))]
    if res.table is not None:
        items.append(("checks", _checks(res.check(), series.invested_amount)))
    return items


def card_display(res) -> tuple[str, list[tuple[str, str]], list[tuple[str, object]]]:
    """The same for a card trust series (:class:`~abs_engine.results.card.CardResult`)."""
    items = card_header(res)
    if len(res.scenarios) == 1:
        return "CardResult", items, [("certificates (yield at par)", res.summary())]
    return "CardResult", items, [("across scenarios (yields at par)", res.distribution())]

