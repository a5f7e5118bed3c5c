"""Payment dates: monthly from the first payment date, the same day of the month, clipped to
the month's end."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_months", "payment_dates"]


def add_months(d: dt.date, k: int) -> dt.date:
    """``d`` moved by ``k`` months, the day clipped to the month's end.

    >>> add_months(dt.date(2024, 1, 31), 1)
    datetime.date(2024, 2, 29)
    """
    y, m = divmod(d.month - 1 + k, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def payment_dates(first: dt.date | None, n: int) -> pd.DatetimeIndex:
    """Monthly payment dates from ``first`` (same day of month, clipped to the month's end).

    >>> payment_dates(dt.date(2024, 1, 31), 3).strftime("%Y-%m-%d").tolist()
    ['2024-01-31', '2024-02-29', '2024-03-31']
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas

    if first is None:
        return pd.DatetimeIndex([pd.NaT] * n)
    return pd.DatetimeIndex([add_months(first, k) for k in range(n)])
