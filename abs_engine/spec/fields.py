"""Reusable constrained field types; each failure message says what was expected."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import BeforeValidator

__all__ = ["Coupon", "Amount", "Fraction", "Months", "PositiveMonths", "FractionOrVector", "NonNegOrVector"]


def _number(v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ValueError("a number")
    return float(v)


def _amount(v: object) -> float:
    x = _number(v)
    if not math.isfinite(x) or x < 0:
        raise ValueError("a finite amount >= 0")
    return x


def _fraction(v: object) -> float:
    x = _number(v)
    if not (0.0 <= x <= 1.0):  # also rejects NaN
        raise ValueError("a decimal in [0, 1]")
    return x


def _whole_months(v: object, least: int) -> int:
    ok = not isinstance(v, bool) and isinstance(v, int | float) and math.isfinite(v) and v == int(v)
    if not ok or v < least:
        raise ValueError(f"a whole number of months >= {least}")
    return int(v)


def _months(v: object) -> int:
    return _whole_months(v, 0)


def _positive_months(v: object) -> int:
    return _whole_months(v, 1)


def _ramp(v: dict) -> list[float]:
    """``{from: a, to: b, months: n}``: a straight line from a (month 1) to b (month n), then b."""
    if set(v) != {"from", "to", "months"}:
        raise ValueError("a number, a monthly vector, or a ramp {from, to, months}")
    months = _positive_months(v["months"])
    a, b = _number(v["from"]), _number(v["to"])
    if months == 1:
        return [b]
    return [a + (b - a) * k / (months - 1) for k in range(months)]


def _vector(check):
    def validate(v: object) -> float | tuple[float, ...]:
        if isinstance(v, dict):
            v = _ramp(v)
        if isinstance(v, list | tuple):
            if not v:
                raise ValueError("a non-empty monthly vector")
            out = []
            for k, x in enumerate(v):
                try:
                    out.append(check(x))
                except ValueError as exc:
                    raise ValueError(f"every element {exc} (element {k} is {x!r})") from None
            return tuple(out)
        return check(v)

    return validate


def _coupon(v: object) -> float:
    if isinstance(v, dict):
        raise ValueError("a number")  # a mapping is the floating-coupon member's to validate
    x = _number(v)
    if not (0.0 <= x <= 1.0):
        raise ValueError("a fixed coupon in [0, 1] (decimal), or {index, spread}")
    return x


Coupon = Annotated[float, BeforeValidator(_coupon)]
Amount = Annotated[float, BeforeValidator(_amount)]
Fraction = Annotated[float, BeforeValidator(_fraction)]
Months = Annotated[int, BeforeValidator(_months)]
PositiveMonths = Annotated[int, BeforeValidator(_positive_months)]
FractionOrVector = Annotated[float | tuple[float, ...], BeforeValidator(_vector(_fraction))]
"""A decimal in [0, 1], or a monthly vector of them (month 1 first; the last value carries forward)."""
NonNegOrVector = Annotated[float | tuple[float, ...], BeforeValidator(_vector(_amount))]
"""A finite number >= 0, or a monthly vector of them."""


