"""The collections a projection expects: what a servicer's report of a period would say if the
projection came true (for tests, dry runs and variance against actuals)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from ..dates import add_months, schedule

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["projected_collections"]


def projected_collections(result, period: int, *, loan_level: bool = True) -> tuple[dict, pd.DataFrame | None]:
    """A servicer report that says exactly what a one-scenario projection (run with
    ``loan_level=True`` for a tape) has the borrowers pay in ``period``: ``(report header,
    tape)``, the tape ``None`` with ``loan_level=False`` (pool totals in the header). The
    charge-off (``default``) of a period is the balance liquidated, recovery plus loss. Useful to
    test a servicing pipeline, and a feed a bot can be rehearsed on.
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas


    if result.deal.first_payment_date is None:
        pay = add_months(dt.date(2000, 1, 1), period - 1)
    else:
        pay = schedule(result.deal, [period - 1])[0]
    end = add_months(dt.date(pay.year, pay.month, 1), 0) - dt.timedelta(days=1)
    head: dict[str, Any] = {"deal": result.deal.name, "period": period, "period_end": str(end),
                            "payment_date": str(pay), "exercise_call": False,
                            "advancing": bool(result.program.scenarios.advancing[0])}
    scen = result.scenarios[0]
    head["rates"] = {k: float(np.asarray(v).ravel()[min(period - 1, np.asarray(v).size - 1)])
                     for k, v in scen.rates.items()}
    if not loan_level:
        p = result.pool.loc[period]
        head["pool"] = {"scheduled_principal": float(p["scheduled_principal"]),
                        "prepayment": float(p["prepayment"]), "interest_collected": float(p["gross_interest"]),
                        "servicing_fee": float(p["servicing_fee"]), "default": float(p["recovery"] + p["loss"]),
                        "recovery": float(p["recovery"]), "ending_balance": float(p["ending_balance"]),
                        "delinquent_60": float(p["foreclosure_balance"])}
        return head, None
    loans = result.loans.xs(period, level="period")
    tape = pd.DataFrame({
        "loan_id": loans.index.astype(str),
        "scheduled_principal": loans["scheduled_principal"].to_numpy(),
        "prepayment": loans["prepayment"].to_numpy(),
        "interest_collected": loans["gross_interest"].to_numpy(),
        "servicing_fee": loans["servicing_fee"].to_numpy(),
        "default": (loans["recovery"] + loans["loss"]).to_numpy(),
        "recovery": loans["recovery"].to_numpy(),
        # a loan is in foreclosure when all of it is (a rep line partly in foreclosure stays current)
        "delinquency_status": np.where((loans["foreclosure_balance"].to_numpy() > 0)
                                       & (loans["performing_balance"].to_numpy() <= 0), "foreclosure", "current"),
        "ending_balance": loans["ending_balance"].to_numpy(),
        "foreclosure_balance": loans["foreclosure_balance"].to_numpy(),
    })
    active = (loans["beginning_balance"].to_numpy() > 0) | (tape["recovery"].to_numpy() > 0)
    amounts = tape.columns.drop(["loan_id", "delinquency_status"])
    tape[amounts] = tape[amounts].clip(lower=0.0)   # a projection's -1e-11 of rounding is no negative amount
    return head, tape[active].reset_index(drop=True)


# ---------------------------------------------------------------- servicer state
