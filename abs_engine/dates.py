"""Payment dates and year fractions (CONVENTIONS R2.1): payment dates monthly from the first
payment date on its day of the month (or a given payment day), clipped to the month's end;
year fractions of an accrual period under 30/360 (BMA SF E.1), ACT/360, ACT/365F and ACT/ACT
ISDA."""

from __future__ import annotations

import calendar
import datetime as dt
from typing import TYPE_CHECKING

from .errors import SpecError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_months", "payment_date", "payment_dates", "schedule", "adjust", "check_calendar", "days_30_360",
           "year_fraction",
           "DAY_COUNTS", "ROLLS"]

DAY_COUNTS = ("30/360", "ACT/360", "ACT/365F", "ACT/ACT ISDA")
ROLLS = {"following": "following", "modified_following": "modifiedfollowing", "preceding": "preceding"}
"""Business-day conventions and numpy's names for them (``numpy.busday_offset``'s ``roll``)."""


def add_months(d: dt.date, k: int) -> dt.date:
    """``d`` moved by ``k`` months, the day clipped to the month's end.

    >>> add_months(dt.date(2024, 1, 31), 1)
    datetime.date(2024, 2, 29)
    """
    y, m = divmod(d.month - 1 + k, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def payment_date(first: dt.date, k: int, day: int | None = None) -> dt.date:
    """Payment date ``k + 1`` (``k`` months after ``first``; ``k`` may be negative): in that month,
    on day ``day`` (default: ``first``'s day), clipped to the month's end (CONVENTIONS R2.1.1).

    >>> payment_date(dt.date(2024, 2, 29), 3, day=31)
    datetime.date(2024, 5, 31)
    """
    y, m = divmod(first.month - 1 + k, 12)
    year, month = first.year + y, m + 1
    return dt.date(year, month, min(first.day if day is None or k == 0 else day,
                                    calendar.monthrange(year, month)[1]))


def payment_dates(first: dt.date | None, n: int, day: int | None = None) -> pd.DatetimeIndex:
    """Monthly payment dates from ``first`` (:func:`payment_date`).

    >>> payment_dates(dt.date(2024, 1, 31), 3).strftime("%Y-%m-%d").tolist()
    ['2024-01-31', '2024-02-29', '2024-03-31']
    """
    import pandas as pd  # deferred: a projection without tables never imports pandas

    if first is None:
        return pd.DatetimeIndex([pd.NaT] * n)
    return pd.DatetimeIndex([payment_date(first, k, day) for k in range(n)])


def adjust(dates: list[dt.date], convention: str, calendar: str) -> list[dt.date]:
    """``dates`` moved to business days by ``convention`` (``following``, ``modified_following``:
    the following one unless it is in the next month, then the preceding one; ``preceding``),
    weekends and the holidays of ``calendar`` being non-business days. ``calendar`` is a financial
    market of the ``holidays`` library (``NYSE``, ``ECB`` for TARGET2, ``LSE``...) or a country
    (``US``, ``GB``, ``DE``...).

    >>> adjust([dt.date(2026, 12, 26), dt.date(2027, 1, 31)], "modified_following", "ECB")
    [datetime.date(2026, 12, 28), datetime.date(2027, 1, 29)]
    """
    import holidays  # deferred: only a deal that adjusts its dates needs the calendars
    import numpy as np  # deferred: the shared date functions above import nothing heavy

    years = range(min(d.year for d in dates), max(d.year for d in dates) + 2)
    check_calendar(calendar)
    if calendar in holidays.list_supported_financial():
        days = holidays.financial_holidays(calendar, years=years)
    else:
        days = holidays.country_holidays(calendar, years=years)
    off = np.array(sorted(days), dtype="datetime64[D]")
    moved = np.busday_offset(np.array(dates, dtype="datetime64[D]"), 0, roll=ROLLS[convention], holidays=off)
    return [d.astype(dt.date) for d in moved]


def check_calendar(calendar: str) -> str:
    """``calendar`` if the ``holidays`` library knows it (a financial market or a country code),
    else one error naming the field and the value."""
    import holidays  # deferred: only a deal that adjusts its dates needs the calendars

    if calendar not in holidays.list_supported_financial() and calendar not in holidays.list_supported_countries():
        raise SpecError("business_days.calendar", calendar, "a calendar of the holidays library: a financial market "
                        "(NYSE, ECB for TARGET2, LSE, ...) or a country code (US, GB, DE, ...)")
    return calendar


def schedule(deal, ks) -> list[dt.date]:
    """The dates of pool months ``k + 1`` for ``k`` in ``ks`` of a dated ``deal`` (anything with a
    ``first_payment_date``, ``payment_day``, ``business_days`` and optionally ``payment_step``):
    :func:`payment_date`, then :func:`adjust` when the deal adjusts its dates to business days
    (CONVENTIONS R2.1.1). Monthly, month ``k + 1`` is payment date ``k + 1``; with payments every
    ``step`` months, month ``step x q`` falls on payment date ``q`` (the first payment date is
    month ``step``'s) and the months between on the same day of their own month (R2.2)."""
    shift = getattr(deal, "payment_step", 1) - 1
    dates = [payment_date(deal.first_payment_date, k - shift, deal.payment_day) for k in ks]
    rule = deal.business_days
    return dates if rule is None or not dates else adjust(dates, rule.convention, rule.calendar)


def days_30_360(d1: dt.date, d2: dt.date) -> int:
    """Days from ``d1`` to ``d2`` on the 30/360 calendar of BMA SF E.1: the last day of February
    as D1 counts as the 30th; D1 = 31 becomes 30; then D2 = 31 becomes 30 if D1 is 30;
    ``max(360 (Y2 - Y1) + 30 (M2 - M1) + (D2 - D1), 0)``.

    >>> days_30_360(dt.date(2024, 2, 29), dt.date(2024, 3, 31)), days_30_360(dt.date(2024, 1, 31), dt.date(2024, 2, 29))
    (30, 29)
    """
    dd1, dd2 = d1.day, d2.day
    if d1.month == 2 and dd1 == calendar.monthrange(d1.year, 2)[1]:
        dd1 = 30
    if dd1 == 31:
        dd1 = 30
    if dd1 == 30 and dd2 == 31:
        dd2 = 30
    return max(360 * (d2.year - d1.year) + 30 * (d2.month - d1.month) + dd2 - dd1, 0)


def year_fraction(d1: dt.date, d2: dt.date, basis: str) -> float:
    """The year fraction of the accrual period from ``d1`` (included) to ``d2`` (excluded), by
    day count (CONVENTIONS R2.1.3): ``30/360`` (:func:`days_30_360` / 360), ``ACT/360``,
    ``ACT/365F``, ``ACT/ACT ISDA`` (each day over the length of its own year, ISDA 2006 4.16(b)).

    >>> year_fraction(dt.date(2023, 12, 15), dt.date(2024, 1, 15), "ACT/ACT ISDA") == 17 / 365 + 14 / 366
    True
    """
    if basis == "30/360":
        return days_30_360(d1, d2) / 360.0
    days = (d2 - d1).days
    if basis == "ACT/360":
        return days / 360.0
    if basis == "ACT/365F":
        return days / 365.0
    if basis != "ACT/ACT ISDA":
        raise ValueError(f"unknown day count {basis!r} (one of {DAY_COUNTS})")
    total, start = 0.0, d1
    while start < d2:  # the days in each calendar year, over that year's length
        end = min(d2, dt.date(start.year + 1, 1, 1))
        total += (end - start).days / (366.0 if calendar.isleap(start.year) else 365.0)
        start = end
    return total
