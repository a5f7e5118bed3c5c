"""Plots of a run (matplotlib, the ``plot`` extra). Each function returns a Figure.

    pip install -e ".[plot]"
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..vocabulary import KERNEL_COLUMNS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .tables import RunResult

__all__ = ["pool_flows", "tranche_balances", "loss_distribution"]


def _figure(rows: int = 1, cols: int = 1, size=(9, 4.5)):
    try:
        from matplotlib.figure import Figure  # optional extra: plot
    except ImportError as exc:  # pragma: no cover - the message is the point
        raise ImportError('plots need matplotlib: pip install -e ".[plot]"') from exc
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, axes


def _one(table, scenario: str | None):
    if "scenario" in (table.index.names or []):
        names = table.index.get_level_values("scenario").unique()
        return table.xs(scenario if scenario is not None else names[0], level="scenario")
    return table


def pool_flows(res: RunResult, scenario: str | None = None) -> Figure:
    """Pool balance (line) and the month's cash flows by component (stacked bars)."""
    pool = _one(res.whole_pool, scenario)
    fig, ax = _figure(1, 2, (12, 4.5))
    period = pool.index.to_numpy()
    ax[0, 0].plot(period, pool["ending_balance"] / 1e6, color="black", label="pool balance")
    ax[0, 0].plot(period, pool["performing_balance"] / 1e6, color="tab:blue", lw=1, label="performing")
    ax[0, 0].fill_between(period, 0, pool["foreclosure_balance"] / 1e6, color="tab:red", alpha=0.4,
                          label="in foreclosure")
    ax[0, 0].set(title="Pool balance", xlabel="period", ylabel="millions")
    ax[0, 0].legend()
    bottom = np.zeros(len(pool))
    for col, color in (("scheduled_principal", "tab:blue"), ("prepayment", "tab:green"), ("recovery", "tab:olive"),
                       ("net_interest", "tab:orange"), ("loss", "tab:red")):
        values = pool[col].to_numpy() / 1e6
        ax[0, 1].bar(period, values, bottom=bottom, width=1.0, color=color, label=col.replace("_", " "))
        bottom += values
    ax[0, 1].set(title="Cash flows by component (loss shown on top)", xlabel="period", ylabel="millions")
    ax[0, 1].legend(fontsize=8)
    fig.suptitle(f"{res.deal.name}")
    return fig


def tranche_balances(res: RunResult, scenario: str | None = None) -> Figure:
    """Each note's ending balance over time, stacked in priority order."""
    tr = _one(res.tranches, scenario)
    bal = tr["ending_balance"].unstack("tranche")[[t.name for t in sorted(res.deal.notes, key=lambda t: t.priority)]]
    fig, ax = _figure()
    ax[0, 0].stackplot(bal.index.to_numpy(), (bal.to_numpy().T / 1e6), labels=list(bal.columns))
    ax[0, 0].set(title=f"{res.deal.name}: note balances", xlabel="period", ylabel="millions")
    ax[0, 0].legend(fontsize=8, ncols=2)
    return fig


def loss_distribution(res: RunResult, bins: int = 30) -> Figure:
    """Across the scenarios of a deck: the pool's cumulative loss, and each note's loss, as a share
    of original balance."""
    pool_loss = res.flows[..., 4].sum(axis=1) / res.program.original_balance  # LOSS column
    fig, ax = _figure(1, 2, (12, 4.5))
    ax[0, 0].hist(pool_loss * 100, bins=bins, color="tab:red", alpha=0.8)
    ax[0, 0].set(title=f"Pool cumulative loss, {len(pool_loss)} scenarios", xlabel="% of original balance",
                 ylabel="scenarios")
    if res.waterfall is not None:
        face = np.array([t.balance for t in res.deal.notes])
        wd = res.waterfall.tranches[..., KERNEL_COLUMNS["tranches"]["writedown"]].sum(axis=1) / face  # [scenario, note]
        order = np.argsort([t.priority for t in res.deal.notes])
        ax[0, 1].boxplot([wd[:, k] * 100 for k in order], tick_labels=[res.deal.notes[k].name for k in order])
        ax[0, 1].set(title="Note writedowns", ylabel="% of original face")
    return fig
